// The matrix products of a plan: each one C = op(A)·op(B) (+ C) of fixed shapes, made
// once when the plan is built, then run every step on the same buffers.
//
// Float products go through oneDNN's matmul (Debian's libdnnl 2.6), which picks its
// kernels for the CPU it runs on (AVX-512, AVX512-BF16); its threads are OpenMP's, the
// same libgomp pool as vaec's, so `--threads 2` keeps 2 threads busy. Double products
// (the gradient checks) and builds without oneDNN use OpenBLAS (runtime/tensor.*).
// Which path each product takes is a fixed rule of its shape (`choose_path`), never a
// timing, so the same build, seed and threads give the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/precision.hpp"
#include "runtime/tensor.hpp"

namespace vaec::rt {

// Which library computes the float products: by the fixed rule (`automatic`), or all of
// them through one library (bench/step_profile compares the two).
enum class kernels { automatic, onednn, blas };

struct product_options {
  precision inputs = precision::fp32;
  kernels path = kernels::automatic;
};

// The library that computes one product.
enum class product_path { blas, onednn };
const char* to_string(product_path p);  // "OpenBLAS", "oneDNN"

// Whether this build has oneDNN (CMake option VAEC_ONEDNN).
bool onednn_built();
// The instruction set oneDNN dispatches on this CPU, in its own terms ("avx512_core_bf16",
// "avx2", …; dnnl_get_effective_cpu_isa), or "" without oneDNN.
std::string onednn_isa();
// Whether the CPU computes bf16 products natively (AVX512-BF16 or AMX, as oneDNN detects
// it) and this build can use them. Without it, precision = bf16 is refused.
bool bf16_supported();
// x rounded to bfloat16 as AVX512-BF16's VCVTNEPS2BF16 rounds it: to nearest, ties to even;
// a NaN stays a NaN (made quiet); ±0 and subnormals become ±0 (the instruction treats
// subnormal inputs as zero). Returns the bf16's bits (the float's upper 16 bits after rounding).
std::uint16_t to_bf16(float x);
// y[i] = to_bf16(x[i]) for i < n, with that instruction where the CPU has it (threads of the
// current OpenMP team from 32,768 values on); the same bits either way.
void to_bf16(const float* x, std::uint16_t* y, std::size_t n);
// Why precision = bf16 is refused here: the CPU's instruction set as oneDNN sees it, or a
// build without oneDNN, and the fix.
std::string bf16_unsupported_message();
// One line for `vaec --version` and a run's summary: the float and double products'
// libraries, their versions and oneDNN's instruction set, e.g. "float products: oneDNN
// 2.6.3 (avx512_core_bf16) and OpenBLAS 0.3.21 by shape; double products: OpenBLAS".
std::string kernels_info();

// The fixed rule: oneDNN for a float product of M×K·K×N unless the build lacks it or the
// product is so small (M·N·K below 2^14 multiply-adds) that a library call's overhead,
// about 2 µs for oneDNN against 0.3 µs for OpenBLAS, outweighs the arithmetic. bf16
// products always go through oneDNN. `kernels` other than automatic force one library.
product_path choose_path(int m, int n, int k, precision p, kernels forced);

struct product_shared;  // oneDNN's engine and primitives of one plan (matmul.cpp)

// The column strides (leading dimensions, in elements) of a product's A, B and C as they
// are stored (before op()); 0 for the stored matrix's rows (dense).
struct product_leads {
  int a = 0, b = 0, c = 0;
};

// The products of one plan: primitives made once per distinct shape, one scratchpad.
template <class T>
class product_set;

// One product C = op(A)·op(B) + β·C (+ b) on column-major views, C [m × n], op(A) [m × k],
// op(B) [k × n], β = 0 (overwrite) or 1 (accumulate), and for a product made with a bias,
// b [m] added to every column (a linear layer's W·x + b: oneDNN adds it in the product's
// epilogue, the other paths after the product). Made by product_set::make, run with the
// buffers it was made for or others of the same shapes. For T = double, or a BLAS path,
// run() is runtime/tensor's gemm; for a oneDNN path it executes the plan-time primitive,
// allocating nothing (oneDNN's own per-call bookkeeping: runtime/call_arena.hpp).
template <class T>
class product {
 public:
  product() = default;
  // `bias` points at m values when the product was made with one (std::invalid_argument if
  // it is null then, or not null otherwise, or if a, b or c has another lead() than the
  // product was made for).
  void run(const tensor<T>& a, const tensor<T>& b, const tensor<T>& c, const T* bias = nullptr) const;
  bool has_bias() const { return bias_; }
  product_path path() const { return path_; }
  precision inputs() const { return inputs_; }
  bool defined() const { return m_ > 0; }
  int m() const { return m_; }
  int n() const { return n_; }
  int k() const { return k_; }
  bool trans_a() const { return ta_; }
  bool trans_b() const { return tb_; }
  const product_leads& leads() const { return leads_; }  // resolved: none is 0

 private:
  friend class product_set<T>;
  product(bool ta, bool tb, int m, int n, int k, bool accumulate, bool bias, product_leads ld)
      : ta_(ta), tb_(tb), accumulate_(accumulate), bias_(bias), m_(m), n_(n), k_(k),
        leads_{ld.a > 0 ? ld.a : (ta ? k : m), ld.b > 0 ? ld.b : (tb ? n : k), ld.c > 0 ? ld.c : m} {}
  void check_leads(const tensor<T>& a, const tensor<T>& b, const tensor<T>& c) const;
  void add_bias(const tensor<T>& c, const T* bias) const;  // c.col(j) += b for every j (non-oneDNN paths)
  bool ta_ = false, tb_ = false, accumulate_ = false, bias_ = false;
  int m_ = 0, n_ = 0, k_ = 0;
  product_leads leads_;
  product_path path_ = product_path::blas;
  precision inputs_ = precision::fp32;
  int primitive_ = -1;  // index into the set's primitives
  int slot_ = -1;       // index of this product's bf16 buffers in the set
  product_shared* shared_ = nullptr;
};

template <class T>
class product_set {
 public:
  explicit product_set(product_options o = {});
  ~product_set();
  product_set(const product_set&) = delete;
  product_set& operator=(const product_set&) = delete;
  // A product C [m × n] = op(A)·op(B) (+ C when `accumulate`) (+ a bias [m] on every
  // column when `bias`); k is op(A)'s columns; `leads` the column strides A, B and C are
  // stored with (0: dense). Throws std::runtime_error when oneDNN refuses the shape (it does
  // not for column-major views), std::invalid_argument when a stride is below its rows.
  product<T> make(bool trans_a, bool trans_b, int m, int n, int k, bool accumulate, bool bias = false,
                  product_leads leads = {});
  const product_options& options() const { return options_; }

 private:
  product_options options_;
  std::unique_ptr<product_shared> shared_;
};

extern template class product<float>;
extern template class product<double>;
extern template class product_set<float>;
extern template class product_set<double>;

}  // namespace vaec::rt
