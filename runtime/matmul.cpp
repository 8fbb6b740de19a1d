#include "runtime/matmul.hpp"

#include "runtime/call_arena.hpp"

#include <bit>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#ifdef VAEC_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);

namespace vaec::rt {

std::string to_string(precision p) { return p == precision::bf16 ? "bf16" : "fp32"; }
const char* to_string(product_path p) { return p == product_path::onednn ? "oneDNN" : "OpenBLAS"; }

namespace {

// A stored matrix's column stride is at least its rows.
template <class P>
void check_leads_of(const P& p) {
  const int a_rows = p.trans_a() ? p.k() : p.m(), b_rows = p.trans_b() ? p.n() : p.k();
  if (p.leads().a < a_rows || p.leads().b < b_rows || p.leads().c < p.m())
    throw std::invalid_argument(fmt::format("a product's column strides {}, {}, {} are below its matrices' rows {}, {}, {}",
                                            p.leads().a, p.leads().b, p.leads().c, a_rows, b_rows, p.m()));
}

// "OpenBLAS 0.3.21 (Haswell kernels)": the version from its build configuration and the
// core whose kernels it runs (OPENBLAS_CORETYPE chooses it where set).
std::string openblas_info() {
  std::string config = openblas_get_config();
  std::string version = "OpenBLAS";
  if (config.rfind("OpenBLAS ", 0) == 0) version = config.substr(0, config.find(' ', 9));
  return fmt::format("{} ({} kernels)", version, openblas_get_corename());
}

}  // namespace

std::string bf16_unsupported_message() {
  if (!onednn_built())
    return "precision = bf16 needs oneDNN, and this vaec was built without it (VAEC_ONEDNN=OFF); use precision = fp32";
  return fmt::format("precision = bf16 needs a CPU with native bf16 products (AVX512-BF16 or AMX), and this one has "
                     "none (oneDNN finds {}); use precision = fp32",
                     onednn_isa());
}

product_path choose_path(int m, int n, int k, precision p, kernels forced) {
  if (!onednn_built()) return product_path::blas;
  if (p == precision::bf16 || forced == kernels::onednn) return product_path::onednn;
  if (forced == kernels::blas) return product_path::blas;
  const double mnk = static_cast<double>(m) * n * k;
  return mnk < 16384.0 ? product_path::blas : product_path::onednn;
}

// ---- bf16 rounding ---------------------------------------------------------------------

namespace {

// [from, to) of x rounded by AVX512-BF16's VCVTNE2PS2BF16 / VCVTNEPS2BF16, 32 (then 16,
// masked) at a time.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_avx512(const float* x,
                                                                                   std::uint16_t* y,
                                                                                   std::ptrdiff_t from,
                                                                                   std::ptrdiff_t to) {
  std::ptrdiff_t i = from;
  for (; i + 32 <= to; i += 32) {
    const __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(y + i, reinterpret_cast<const __m512i&>(r));
  }
  for (; i < to; i += 16) {
    const auto k = static_cast<__mmask16>((1u << std::min<std::ptrdiff_t>(16, to - i)) - 1u);
    const __m256bh r = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, x + i));
    _mm256_mask_storeu_epi16(y + i, k, reinterpret_cast<const __m256i&>(r));
  }
}

bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}

}  // namespace

std::uint16_t to_bf16(float x) {
  const auto u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN: quiet
  if ((u & 0x7f800000u) == 0) return static_cast<std::uint16_t>((u >> 16) & 0x8000u);        // ±0, subnormal: ±0
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void to_bf16(const float* x, std::uint16_t* y, std::size_t n) {
  const auto count = static_cast<std::ptrdiff_t>(n);
  if (cpu_has_avx512_bf16()) {
    if (count < 32768) {
      to_bf16_avx512(x, y, 0, count);
      return;
    }
    // Each thread an equal run of whole 32-element blocks (the last takes the rest).
#pragma omp parallel
    {
      const std::ptrdiff_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const std::ptrdiff_t blocks = count / 32;
      const std::ptrdiff_t from = blocks * t / threads * 32;
      const std::ptrdiff_t to = t + 1 == threads ? count : blocks * (t + 1) / threads * 32;
      to_bf16_avx512(x, y, from, to);
    }
    return;
  }
  if (count < 32768) {
    for (std::ptrdiff_t i = 0; i < count; ++i) y[i] = to_bf16(x[i]);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) y[i] = to_bf16(x[i]);
}

#ifdef VAEC_HAVE_ONEDNN

bool onednn_built() { return true; }

std::string onednn_isa() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "no JIT kernels";
  }
}

bool bf16_supported() {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

std::string kernels_info() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format(
      "float products: oneDNN {}.{}.{} ({}) and, for fp32 under 16,384 multiply-adds, OpenBLAS; double products: {}",
      v->major, v->minor, v->patch, onednn_isa(), openblas_info());
}

// ---- products -------------------------------------------------------------------------

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

}  // namespace

namespace {

// oneDNN's GEMM (the gemm:jit matmul it runs where brgemm is not available: AVX2 CPUs)
// generates its kernels on first use and keeps them for the process. Made inside a
// product's call_arena_scope, they would hold arena blocks for good, the arena would never
// reset, and every later product's bookkeeping would come from the heap (100 allocations a
// step on an AVX2 machine: tests/runtime/alloc_test.cpp). So the first plan runs one small
// product of each transposition through oneDNN's GEMM outside any arena, and the kernels
// are made on the heap.
void make_onednn_gemm_kernels() {
  static const bool made = [] {
    constexpr dnnl_dim_t n = 64;
    std::vector<float> a(n * n, 1.0f), b(n * n, 1.0f), c(n * n, 0.0f);
    for (char ta : {'N', 'T'})
      for (char tb : {'N', 'T'}) dnnl_sgemm(ta, tb, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    return true;
  }();
  (void)made;
}

}  // namespace

struct product_shared {
  product_shared() { make_onednn_gemm_kernels(); }
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  struct primitive {
    std::tuple<bool, bool, int, int, int, bool, bool, bool, int, int, int> key;
    dnnl::matmul matmul;
    dnnl::memory::desc src, weights, dst, bias;
    std::size_t scratchpad_bytes = 0;
  };
  std::vector<primitive> primitives;
  aligned_vector<unsigned char> scratchpad;
  // Per product: its memories (src = op(B)ᵀ, weights = op(A)ᵀ, dst = Cᵀ, scratchpad) and
  // for bf16 its rounded copies of A and B.
  struct slot {
    dnnl::memory src, weights, dst, scratch, bias;
    aligned_vector<std::uint16_t> a16, b16;
    dnnl_exec_arg_t args[5];
    int nargs = 4;
  };
  std::vector<std::unique_ptr<slot>> slots;
};

namespace {

// oneDNN's matmul is row-major: C [m × n] column-major is Cᵀ [n × m] row-major, so
// Cᵀ = op(B)ᵀ·op(A)ᵀ with src = op(B)ᵀ [n × k] and weights = op(A)ᵀ [k × m], each
// described by the strides of the buffer it reads (transposes cost no copy).
// A dimension of extent 1 takes the stride that makes it outermost: oneDNN refuses strides
// that, sorted, do not nest (a [k × 1] view with strides {1, 1}).
dnnl::memory::desc strided(dnnl::memory::dim rows, dnnl::memory::dim cols, dt type, dnnl::memory::dim row_stride,
                           dnnl::memory::dim col_stride) {
  if (rows == 1 && cols == 1) row_stride = col_stride = 1;
  else if (cols == 1) col_stride = row_stride * rows;
  else if (rows == 1) row_stride = col_stride * cols;
  return {{rows, cols}, type, {row_stride, col_stride}};
}
dnnl::memory::desc src_desc(bool tb, int n, int k, dt type, int ldb) {
  return tb ? strided(n, k, type, 1, ldb) : strided(n, k, type, ldb, 1);
}
dnnl::memory::desc weights_desc(bool ta, int m, int k, dt type, int lda) {
  return ta ? strided(k, m, type, 1, lda) : strided(k, m, type, lda, 1);
}

}  // namespace

template <class T>
product<T> product_set<T>::make(bool ta, bool tb, int m, int n, int k, bool accumulate, bool bias,
                                 product_leads leads) {
  product<T> p(ta, tb, m, n, k, accumulate, bias, leads);
  check_leads_of(p);
  p.inputs_ = std::is_same_v<T, float> ? options_.inputs : precision::fp32;
  p.path_ = std::is_same_v<T, float> ? choose_path(m, n, k, p.inputs_, options_.path) : product_path::blas;
  p.shared_ = shared_.get();
  if (p.path_ == product_path::blas) return p;

  product_shared& s = *shared_;
  const bool bf16 = p.inputs_ == precision::bf16;
  const product_leads& ld = p.leads_;
  const auto key = std::make_tuple(ta, tb, m, n, k, accumulate, bf16, bias, ld.a, ld.b, ld.c);
  std::size_t index = 0;
  while (index < s.primitives.size() && s.primitives[index].key != key) ++index;
  if (index == s.primitives.size()) {
    product_shared::primitive prim;
    prim.key = key;
    const dt in = bf16 ? dt::bf16 : dt::f32;
    prim.src = src_desc(tb, n, k, in, ld.b);
    prim.weights = weights_desc(ta, m, k, in, ld.a);
    prim.dst = strided(n, m, dt::f32, ld.c, 1);
    // Cᵀ's rows are C's columns: the bias [m] is one row, broadcast down Cᵀ's n rows.
    if (bias) prim.bias = dnnl::memory::desc({1, m}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    try {
      dnnl::matmul::primitive_desc pd(bias ? dnnl::matmul::desc(prim.src, prim.weights, prim.bias, prim.dst)
                                           : dnnl::matmul::desc(prim.src, prim.weights, prim.dst),
                                      attr, s.engine);
      prim.scratchpad_bytes = pd.scratchpad_desc().get_size();
      prim.matmul = dnnl::matmul(pd);
    } catch (const dnnl::error& e) {
      throw std::runtime_error(fmt::format("oneDNN cannot make the product [{} × {}]·[{} × {}]: {}", m, k, k, n, e.what()));
    }
    if (prim.scratchpad_bytes > s.scratchpad.size()) {
      s.scratchpad.assign(prim.scratchpad_bytes, 0);
      for (auto& sl : s.slots)
        if (sl->scratch) sl->scratch.set_data_handle(s.scratchpad.data());
    }
    s.primitives.push_back(std::move(prim));
  }
  const product_shared::primitive& prim = s.primitives[index];
  auto sl = std::make_unique<product_shared::slot>();
  sl->src = dnnl::memory(prim.src, s.engine, DNNL_MEMORY_NONE);
  sl->weights = dnnl::memory(prim.weights, s.engine, DNNL_MEMORY_NONE);
  sl->dst = dnnl::memory(prim.dst, s.engine, DNNL_MEMORY_NONE);
  sl->scratch = dnnl::memory(dnnl::memory::desc({static_cast<dnnl::memory::dim>(std::max<std::size_t>(1, prim.scratchpad_bytes))},
                                                dt::u8, tag::a),
                             s.engine, s.scratchpad.empty() ? DNNL_MEMORY_NONE : s.scratchpad.data());
  if (bf16) {  // A and B as stored, padding included
    sl->a16.assign(static_cast<std::size_t>(ld.a) * static_cast<std::size_t>(ta ? m : k), 0);
    sl->b16.assign(static_cast<std::size_t>(ld.b) * static_cast<std::size_t>(tb ? k : n), 0);
    sl->src.set_data_handle(sl->b16.data());
    sl->weights.set_data_handle(sl->a16.data());
  }
  sl->args[0] = {DNNL_ARG_SRC, sl->src.get()};
  sl->args[1] = {DNNL_ARG_WEIGHTS, sl->weights.get()};
  sl->args[2] = {DNNL_ARG_DST, sl->dst.get()};
  sl->args[3] = {DNNL_ARG_SCRATCHPAD, sl->scratch.get()};
  if (bias) {
    sl->bias = dnnl::memory(prim.bias, s.engine, DNNL_MEMORY_NONE);
    sl->args[4] = {DNNL_ARG_BIAS, sl->bias.get()};
    sl->nargs = 5;
  }
  p.primitive_ = static_cast<int>(index);
  p.slot_ = static_cast<int>(s.slots.size());
  s.slots.push_back(std::move(sl));
  return p;
}

template <class T>
void product<T>::run(const tensor<T>& a, const tensor<T>& b, const tensor<T>& c, const T* bias) const {
  if ((bias != nullptr) != bias_)
    throw std::invalid_argument(bias_ ? "a product made with a bias was run without one"
                                      : "a product made without a bias was run with one");
  check_leads(a, b, c);
  if (path_ == product_path::blas) {
    gemm(ta_, tb_, T(1), a, b, accumulate_ ? T(1) : T(0), c);
    if (bias_) add_bias(c, bias);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    product_shared& s = *shared_;
    product_shared::slot& sl = *s.slots[static_cast<std::size_t>(slot_)];
    const product_shared::primitive& prim = s.primitives[static_cast<std::size_t>(primitive_)];
    call_arena_scope scope;  // oneDNN's bookkeeping: no heap (runtime/call_arena.hpp)
    if (inputs_ == precision::bf16) {
      to_bf16(a.data, sl.a16.data(), sl.a16.size());
      to_bf16(b.data, sl.b16.data(), sl.b16.size());
    } else {
      // Set only when the buffers differ from the last call's (a plan's never do).
      if (sl.src.get_data_handle() != b.data) sl.src.set_data_handle(b.data);
      if (sl.weights.get_data_handle() != a.data) sl.weights.set_data_handle(a.data);
    }
    if (sl.dst.get_data_handle() != c.data) sl.dst.set_data_handle(c.data);
    if (bias_ && sl.bias.get_data_handle() != bias) sl.bias.set_data_handle(const_cast<T*>(bias));
    const dnnl_status_t status = dnnl_primitive_execute(prim.matmul.get(), s.stream.get(), sl.nargs, sl.args);
    if (status != dnnl_success)
      throw std::runtime_error(fmt::format("oneDNN failed on the product [{} × {}]·[{} × {}] (status {})", m_, k_, k_,
                                           n_, static_cast<int>(status)));
  }
}

#else  // no oneDNN: every product is OpenBLAS's

struct product_shared {};

bool onednn_built() { return false; }
std::string onednn_isa() { return ""; }
bool bf16_supported() { return false; }
std::string kernels_info() {
  return fmt::format("float and double products: {} (built without oneDNN)", openblas_info());
}

template <class T>
product<T> product_set<T>::make(bool ta, bool tb, int m, int n, int k, bool accumulate, bool bias,
                                 product_leads leads) {
  if (options_.inputs == precision::bf16)
    throw std::runtime_error("precision = bf16 needs oneDNN, and this vaec was built without it (VAEC_ONEDNN=OFF)");
  product<T> p(ta, tb, m, n, k, accumulate, bias, leads);
  check_leads_of(p);
  return p;
}

template <class T>
void product<T>::run(const tensor<T>& a, const tensor<T>& b, const tensor<T>& c, const T* bias) const {
  if ((bias != nullptr) != bias_)
    throw std::invalid_argument(bias_ ? "a product made with a bias was run without one"
                                      : "a product made without a bias was run with one");
  check_leads(a, b, c);
  gemm(ta_, tb_, T(1), a, b, accumulate_ ? T(1) : T(0), c);
  if (bias_) add_bias(c, bias);
}

#endif

template <class T>
void product<T>::check_leads(const tensor<T>& a, const tensor<T>& b, const tensor<T>& c) const {
  if (a.lead() != leads_.a || b.lead() != leads_.b || c.lead() != leads_.c)
    throw std::invalid_argument(fmt::format("a product made for column strides {}, {}, {} was run on {}, {}, {}",
                                            leads_.a, leads_.b, leads_.c, a.lead(), b.lead(), c.lead()));
}

template <class T>
void product<T>::add_bias(const tensor<T>& c, const T* bias) const {
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>, 0, Eigen::OuterStride<>>(c.data, c.rows, c.cols,
                                                                                       Eigen::OuterStride<>(c.lead()))
      .colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias, c.rows);
}

// Both builds: product_shared is complete here (oneDNN's engine and stream, or nothing).
template <class T>
product_set<T>::product_set(product_options o) : options_(o), shared_(std::make_unique<product_shared>()) {}

template <class T>
product_set<T>::~product_set() = default;

template class product<float>;
template class product<double>;
template class product_set<float>;
template class product_set<double>;

}  // namespace vaec::rt
