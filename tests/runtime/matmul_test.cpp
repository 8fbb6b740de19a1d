// The plan's matrix products (runtime/matmul.*) against a reference computed here in long
// double by the definition C_ij = Σ_l op(A)_il·op(B)_lj, on awkward shapes, in each form
// the linear layer uses (y = W·x, dW = dy·xᵀ, dx = Wᵀ·dy) and the fourth, with β = 0 and 1,
// at 1 and 2 threads. The bounds are the classical ones for a dot product of length k
// (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1):
// |fl(C) − C| ≤ γ_k·(|op(A)|·|op(B)|), γ_k = k·u/(1 − k·u), whatever the order of summation;
// bf16 inputs add their rounding, |δ| ≤ 2^−8 on each factor.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/matmul.hpp"
#include "runtime/rng.hpp"

namespace rt = vaec::rt;

namespace vaec::rt {
std::ostream& operator<<(std::ostream& o, product_path p) { return o << to_string(p); }
}  // namespace vaec::rt

namespace {

struct shape {
  int m, n, k;
};

// The shapes: degenerate (1×1, a row, a column, k = 1), odd, the Fashion-MNIST model's
// (784-512-256-20, batch 128) and evaluation's (500 examples a batch).
const std::vector<shape> shapes = {{1, 1, 1},     {1, 1, 784},    {1, 784, 1},    {784, 1, 1},   {7, 5, 13},
                                   {13, 7, 5},    {1, 128, 784},  {512, 128, 784}, {784, 128, 512}, {20, 128, 256},
                                   {256, 128, 20}, {512, 500, 784}, {784, 500, 512}, {33, 65, 129}};

struct result {
  double worst_ratio = 0;  // max over elements of |C − ref| / bound
  double relative = 0;     // ‖C − ref‖_F / ‖ref‖_F
};

// Runs C = op(A)·op(B) (+ C0) through a product made for `options` and compares it with the
// long-double reference. `u` is the accumulation's unit roundoff, `input_rounding` the
// relative rounding of each factor (0 for fp32 inputs).
//
// With `pad` > 0 every matrix is stored with `pad` more elements per column than its rows
// (a padded column stride, as a hidden layer's weight and activations: graph.hpp,
// padded_lead). The padding of A and B holds NaN, so a product that reads it shows NaN;
// C's holds a sentinel that must survive (`pad_intact`).
result check(const shape& s, bool ta, bool tb, bool accumulate, bool with_bias, rt::product_options options,
             double input_rounding, std::uint64_t seed, int pad = 0, bool* pad_intact = nullptr) {
  const int m = s.m, n = s.n, k = s.k;
  const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int lda = a_rows + pad, ldb = b_rows + pad, ldc = m + pad;
  rt::aligned_vector<float> a(static_cast<std::size_t>(lda) * a_cols), b(static_cast<std::size_t>(ldb) * b_cols),
      c(static_cast<std::size_t>(ldc) * n);
  rt::rng r(seed, rt::stream::init, static_cast<std::uint64_t>(m * 131 + n * 17 + k));
  constexpr float sentinel = 12345.0f;
  auto fill = [&](rt::aligned_vector<float>& x, int rows, int ld, float padding) {
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<int>(i % static_cast<std::size_t>(ld)) < rows ? static_cast<float>(2 * r.uniform() - 1) : padding;
  };
  fill(a, a_rows, lda, std::numeric_limits<float>::quiet_NaN());
  fill(b, b_rows, ldb, std::numeric_limits<float>::quiet_NaN());
  fill(c, m, ldc, sentinel);
  rt::aligned_vector<float> bias(static_cast<std::size_t>(m));
  for (auto& v : bias) v = static_cast<float>(4 * r.uniform() - 2);
  const std::vector<float> c0(c.begin(), c.end());
  auto A = [&](int i, int l) { return ta ? a[static_cast<std::size_t>(l) + static_cast<std::size_t>(i) * lda]
                                         : a[static_cast<std::size_t>(i) + static_cast<std::size_t>(l) * lda]; };
  auto B = [&](int l, int j) { return tb ? b[static_cast<std::size_t>(j) + static_cast<std::size_t>(l) * ldb]
                                         : b[static_cast<std::size_t>(l) + static_cast<std::size_t>(j) * ldb]; };

  rt::product_set<float> set(options);
  rt::product<float> p = set.make(ta, tb, m, n, k, accumulate, with_bias, {lda, ldb, ldc});
  p.run({a.data(), a_rows, a_cols, lda}, {b.data(), b_rows, b_cols, ldb}, {c.data(), m, n, ldc},
        with_bias ? bias.data() : nullptr);
  if (pad_intact) {
    *pad_intact = true;
    for (std::size_t i = 0; i < c.size(); ++i)
      if (static_cast<int>(i % static_cast<std::size_t>(ldc)) >= m && c[i] != sentinel) *pad_intact = false;
  }

  const double u = std::ldexp(1.0, -24);
  const double gamma = k * u / (1 - k * u);
  // bf16 inputs: each factor's relative error δ ≤ 2^−8, so a product's is ≤ 2δ + δ².
  const double in = 2 * input_rounding + input_rounding * input_rounding;
  result out;
  long double err2 = 0, ref2 = 0;
  // Large products are checked on about 4,000 elements of C spread over it: every
  // `every`-th row, and in it every `every`-th column from an offset that shifts by one
  // from one checked row to the next (each element still reads a whole row of op(A) and
  // column of op(B)).
  const int every = std::max(1, static_cast<int>(std::sqrt(static_cast<double>(m) * n / 4096.0)));
  for (int i = 0; i < m; i += every)
    for (int j = (i / every) % every; j < n; j += every) {
      long double ref = 0, mag = 0;
      for (int l = 0; l < k; ++l) {
        ref += static_cast<long double>(A(i, l)) * B(l, j);
        mag += std::fabs(static_cast<long double>(A(i, l)) * B(l, j));
      }
      const std::size_t at = static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * ldc;
      if (accumulate) {
        ref += c0[at];
        mag += std::fabs(c0[at]);
      }
      if (with_bias) {
        ref += bias[static_cast<std::size_t>(i)];
        mag += std::fabs(bias[static_cast<std::size_t>(i)]);
      }
      // The sum's own rounding (γ_{k+2} with the added C and bias), plus the inputs' rounding.
      const double bound = static_cast<double>((gamma + 2 * u + in * (1 + gamma)) * mag) + 1e-300;
      const double e = std::fabs(static_cast<double>(c[at] - ref));
      out.worst_ratio = std::max(out.worst_ratio, e / bound);
      err2 += static_cast<long double>(e) * e;
      ref2 += ref * ref;
    }
  out.relative = ref2 > 0 ? static_cast<double>(std::sqrt(err2 / ref2)) : 0.0;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(products)

BOOST_AUTO_TEST_CASE(fp32_products_are_within_the_dot_product_bound) {
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (auto path : {rt::kernels::automatic, rt::kernels::onednn, rt::kernels::blas})
      for (const shape& s : shapes)
        for (int form = 0; form < 4; ++form)
          for (int variant = 0; variant < 3; ++variant) {
            // β = 0, β = 1, and β = 0 with a bias (the linear layer's forward product)
            const bool ta = form & 1, tb = form & 2, accumulate = variant == 1, bias = variant == 2;
            BOOST_TEST_CONTEXT(threads << " threads, path " << static_cast<int>(path) << ", [" << s.m << " × " << s.k
                                       << "]·[" << s.k << " × " << s.n << "], " << (ta ? "Aᵀ" : "A") << "·"
                                       << (tb ? "Bᵀ" : "B") << (accumulate ? " + C" : "") << (bias ? " + b" : "")) {
              result r = check(s, ta, tb, accumulate, bias, {rt::precision::fp32, path}, 0, 1);
              BOOST_TEST(r.worst_ratio <= 1.0);
            }
          }
  }
}

// Padded column strides (a hidden layer's weight and activations): the same bound, NaN in
// A's and B's padding never reaches C (it would make worst_ratio NaN, which fails), and C's
// padding is left as it was. Strides of 16 more (padded_lead's) and of 3 more (unaligned).
BOOST_AUTO_TEST_CASE(padded_columns_are_neither_read_nor_written) {
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (auto path : {rt::kernels::automatic, rt::kernels::onednn, rt::kernels::blas})
      for (int pad : {16, 3})
        for (const shape& s : shapes)
          for (int form = 0; form < 4; ++form)
            for (int variant = 0; variant < 3; ++variant) {
              const bool ta = form & 1, tb = form & 2, accumulate = variant == 1, bias = variant == 2;
              BOOST_TEST_CONTEXT(threads << " threads, path " << static_cast<int>(path) << ", pad " << pad << ", ["
                                         << s.m << " × " << s.k << "]·[" << s.k << " × " << s.n << "], "
                                         << (ta ? "Aᵀ" : "A") << "·" << (tb ? "Bᵀ" : "B") << (accumulate ? " + C" : "")
                                         << (bias ? " + b" : "")) {
                bool intact = false;
                result r = check(s, ta, tb, accumulate, bias, {rt::precision::fp32, path}, 0, 3, pad, &intact);
                BOOST_TEST(r.worst_ratio <= 1.0);
                BOOST_TEST(intact);
              }
            }
  }
}

// A product runs only on buffers with the strides it was made for, and refuses strides
// below a matrix's rows.
BOOST_AUTO_TEST_CASE(products_check_their_strides) {
  rt::product_set<float> set;
  BOOST_CHECK_THROW(set.make(false, false, 8, 4, 6, false, false, {7, 0, 0}), std::invalid_argument);
  BOOST_CHECK_THROW(set.make(false, false, 8, 4, 6, false, false, {0, 5, 0}), std::invalid_argument);
  BOOST_CHECK_THROW(set.make(false, false, 8, 4, 6, false, false, {0, 0, 7}), std::invalid_argument);
  rt::product<float> p = set.make(false, false, 8, 4, 6, false, false, {24, 0, 0});
  BOOST_TEST(p.leads().a == 24);
  BOOST_TEST(p.leads().b == 6);
  BOOST_TEST(p.leads().c == 8);
  rt::aligned_vector<float> a(24 * 6, 1.0f), b(6 * 4, 1.0f), c(8 * 4, 0.0f);
  BOOST_CHECK_THROW(p.run({a.data(), 8, 6}, {b.data(), 6, 4}, {c.data(), 8, 4}), std::invalid_argument);
  p.run({a.data(), 8, 6, 24}, {b.data(), 6, 4}, {c.data(), 8, 4});
  BOOST_TEST(c[0] == 6.0f);
}

BOOST_AUTO_TEST_CASE(paths_follow_the_fixed_rule) {
  if (!rt::onednn_built()) return;
  // Tiny products stay with OpenBLAS, the rest go to oneDNN (runtime/matmul.hpp).
  BOOST_TEST(rt::choose_path(1, 1, 1, rt::precision::fp32, rt::kernels::automatic) == rt::product_path::blas);
  BOOST_TEST(rt::choose_path(20, 128, 4, rt::precision::fp32, rt::kernels::automatic) == rt::product_path::blas);
  BOOST_TEST(rt::choose_path(20, 128, 256, rt::precision::fp32, rt::kernels::automatic) == rt::product_path::onednn);
  BOOST_TEST(rt::choose_path(1, 1, 1, rt::precision::bf16, rt::kernels::automatic) == rt::product_path::onednn);
  BOOST_TEST(rt::choose_path(512, 128, 784, rt::precision::fp32, rt::kernels::blas) == rt::product_path::blas);
  rt::product_set<float> set;
  BOOST_TEST((set.make(false, false, 512, 128, 784, false).path() == rt::product_path::onednn));
  rt::product_set<double> dset;
  BOOST_TEST((dset.make(false, false, 512, 128, 784, false).path() == rt::product_path::blas));
}

BOOST_AUTO_TEST_CASE(bf16_products_round_only_their_inputs) {
  if (!rt::bf16_supported()) {
    BOOST_TEST_MESSAGE("this CPU has no native bf16 products: skipped");
    return;
  }
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (const shape& s : shapes)
      for (int form = 0; form < 4; ++form)
        for (int variant = 0; variant < 3; ++variant) {
          const bool ta = form & 1, tb = form & 2, accumulate = variant == 1, bias = variant == 2;
          BOOST_TEST_CONTEXT(threads << " threads, [" << s.m << " × " << s.k << "]·[" << s.k << " × " << s.n << "], "
                                     << (ta ? "Aᵀ" : "A") << "·" << (tb ? "Bᵀ" : "B") << (accumulate ? " + C" : "")
                                     << (bias ? " + b" : "")) {
            result r = check(s, ta, tb, accumulate, bias, {rt::precision::bf16, rt::kernels::automatic},
                             std::ldexp(1.0, -8), 2);
            BOOST_TEST(r.worst_ratio <= 1.0);
            // About 2e-3 relative per product (issue 14's measurement); and above fp32's
            // 1e-6, which shows the inputs really were rounded to bf16.
            if (s.k >= 13 && variant == 0) {
              BOOST_TEST(r.relative <= 4e-3);
              BOOST_TEST(r.relative >= 1e-4);
            }
          }
        }
  }
}

// bf16 rounding (runtime/matmul.hpp's to_bf16) against its definition, checked in double:
// a finite normal x goes to the nearer of the two bf16 numbers around it, ties to the one
// with an even last bit, and to ±∞ only from at least halfway between the largest bf16
// (2 − 2^−7)·2^127 and 2^128; NaN stays NaN (quiet); subnormals and ±0 go to ±0. And the
// array form (AVX512-BF16's instruction where the CPU has it, threads from 32,768 values)
// gives the scalar form's bits at every length and alignment.
BOOST_AUTO_TEST_CASE(bf16_rounding_is_to_nearest_even) {
  auto as_double = [](std::uint16_t h) {
    return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16));
  };
  rt::rng r(7, rt::stream::init, 0);
  std::vector<float> xs;
  for (int i = 0; i < 200000; ++i) xs.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(r())));
  // Exact ties and their neighbours, at several exponents and both parities; the overflow edge.
  for (std::uint32_t hi : {0x3F80u, 0x3F81u, 0x0080u, 0x7F7Eu, 0x7F7Fu, 0xBF80u, 0xBF81u})
    for (std::uint32_t lo : {0x7FFFu, 0x8000u, 0x8001u, 0x0000u, 0xFFFFu}) xs.push_back(std::bit_cast<float>(hi << 16 | lo));
  for (float v : {0.0f, -0.0f, 1e-40f, -1e-40f, INFINITY, -INFINITY, NAN, std::numeric_limits<float>::max()}) xs.push_back(v);
  const double overflow_from = std::ldexp(2.0 - std::ldexp(1.0, -8), 127);  // halfway to 2^128
  int bad = 0;
  for (float x : xs) {
    const std::uint16_t h = rt::to_bf16(x);
    const auto u = std::bit_cast<std::uint32_t>(x);
    bool ok;
    if (std::isnan(x)) ok = (h & 0x7F80u) == 0x7F80u && (h & 0x0040u) != 0;
    else if ((u & 0x7F800000u) == 0) ok = h == ((u >> 16) & 0x8000u);
    else if (std::isinf(x)) ok = h == (u >> 16);
    else {
      const double xd = x, a = std::fabs(xd);
      const double y = as_double(h);
      if (std::isinf(y)) ok = a >= overflow_from && std::signbit(y) == std::signbit(xd);
      else {
        const std::uint16_t mag = h & 0x7FFFu;
        const double up = std::fabs(as_double(static_cast<std::uint16_t>(mag + 1))),
                     down = mag > 0 ? std::fabs(as_double(static_cast<std::uint16_t>(mag - 1))) : 0.0;
        const double e = std::fabs(a - std::fabs(y)), e_up = std::fabs(up - a), e_down = std::fabs(a - down);
        ok = std::signbit(y) == std::signbit(xd) && e <= e_up && e <= e_down && a < overflow_from;
        if (ok && (e == e_up || e == e_down)) ok = (h & 1u) == 0;  // a tie: the even neighbour
      }
    }
    if (!ok && ++bad <= 5) BOOST_ERROR("to_bf16(" << x << ", bits 0x" << std::hex << u << ") = 0x" << h << std::dec);
  }
  BOOST_TEST(bad == 0);
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{31},
                          std::size_t{32}, std::size_t{33}, std::size_t{100}, std::size_t{32768 + 45}, xs.size() - 3}) {
      for (std::size_t offset : {std::size_t{0}, std::size_t{3}}) {
        std::vector<std::uint16_t> y(n + 2, 0xABCDu);
        rt::to_bf16(xs.data() + offset, y.data() + 1, n);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < n; ++i) differ += y[i + 1] != rt::to_bf16(xs[offset + i]);
        BOOST_TEST_CONTEXT(threads << " threads, " << n << " values from " << offset) {
          BOOST_TEST(differ == 0u);
          BOOST_TEST(y.front() == 0xABCDu);  // nothing written outside [0, n)
          BOOST_TEST(y.back() == 0xABCDu);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
