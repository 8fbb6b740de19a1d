// Bernoulli likelihoods of data x ∈ [0, 1] (binary or grey levels), summed over rows.
#pragma once

#include <algorithm>
#include <cmath>

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// Σ x·l − softplus(l), with softplus(l) = max(l, 0) + log(1 + e^−|l|): finite for every
// finite logit, never exp of a large positive number.
// dl = x − sigmoid(l), sigmoid(l) = 1/(1 + e^−l)
// Column by column: the data column b serves the logits of every sample of example b, and
// each column is a contiguous, vectorized expression (Eigen 3.4 does not vectorize
// replicate() or select(); this op is the largest elementwise cost of a step).
struct op_bernoulli_logits {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& l = ex.in(self, 1);
    const auto X = x.c(), L = l.c();
    auto t = ex.aux[static_cast<std::size_t>(self)].m();
    // Columns are independent: split across threads, each column computed the same way
    // whatever the thread count.
#pragma omp parallel for schedule(static) if (out.cols >= 64 && x.rows >= 64)
    for (int c = 0; c < out.cols; ++c) {
      auto xc = X.col(c % x.cols).array();
      auto lc = L.col(l.cols == 1 ? 0 : c).array();
      if (l.rows == 1) {
        // Σ_i x_i·l − max(l, 0) − log1p(e^−|l|), arranged so that nothing cancels.
        const T lv = lc(0);
        const T n = static_cast<T>(x.rows);
        out.data[c] = (xc.sum() - (lv > 0 ? n : T(0))) * lv - n * std::log1p(std::exp(-std::abs(lv)));
          continue;
      }
      auto tc = t.col(c).array();
      tc = (-lc.abs()).exp();
      out.data[c] = (xc * lc - lc.max(T(0)) - log1p_of(tc)).sum();
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& l = ex.in(self, 1);
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    if (l.rows != x.rows || l.cols != out.cols) {
      // A broadcast logit ([1] rows or shared): the general path.
      auto Lb = bcast(l, x.rows, out.cols);
      give(ex, self, 1, down(g, x.rows) * (bcast(x, x.rows, out.cols) - T(1) / (T(1) + (-Lb).exp())));
      return;
    }
    const tensor<T>& dl = ex.grad[static_cast<std::size_t>(ex.n(self).inputs[1])];
    if (!dl.data) return;
    const bool first = ex.first[static_cast<std::size_t>(self)][1];
    const auto X = x.c(), L = l.c();
    auto D = dl.m();
#pragma omp parallel for schedule(static) if (out.cols >= 64 && x.rows >= 64)
    for (int c = 0; c < out.cols; ++c) {
      auto xc = X.col(c % x.cols).array();
      auto lc = L.col(c).array();
      auto dc = D.col(c).array();
      if (first) dc = g.data[c] * (xc - T(1) / (T(1) + (-lc).exp()));
      else dc += g.data[c] * (xc - T(1) / (T(1) + (-lc).exp()));
    }
  }
};

// Σ x·log p + (1 − x)·log(1 − p), each log clamped at −100 as torch's binary cross
// entropy does, so p = 0 or 1 gives a large finite penalty instead of −∞.
// dp = (x − p) / max(p (1 − p), 1e-12)
struct op_bernoulli_probs {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    out.a() = (X * P.log().max(T(-100)) + (T(1) - X) * (T(1) - P).log().max(T(-100))).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    give(ex, self, 1, G * (X - P) / (P * (T(1) - P)).max(T(1e-12)));
  }
};

// ---- continuous Bernoulli (Loaiza-Ganem & Cunningham 2019) ------------------------------
// p(x | λ) = C(λ) λ^x (1 − λ)^{1−x} on x ∈ [0, 1]. With the logit η = log(λ/(1−λ)),
// C = η / tanh(η/2) (C = 2 at η = 0), an even function of η:
//   log C = log|η| + log(1 + e^{−|η|}) − log(1 − e^{−|η|})     for |η| ≥ ½,
//   log C = log 2 + η²/12 − 7η⁴/1440 + …                        for |η| < ½ (7 terms,
// truncation below 1e-12), so nothing cancels near η = 0 where the closed form is 0/0.
// d log C/dη = 1/η − 1/sinh η (series η/6 − 7η³/360 + … below ½). Both branches are
// evaluated on clamped arguments and blended, so the expression stays vectorized.
namespace cb {
template <class A>
auto log_norm(const A& eta) {
  using T = typename A::Scalar;
  auto a = eta.abs();
  auto s = a.min(T(0.5)).square();
  auto series = T(0.69314718055994530942) +
                s * (T(1.0 / 12) + s * (T(-7.0 / 1440) + s * (T(62.0 / 181440) + s * (T(-2.6248346560846560847e-05) +
                     s * (T(2.1336045641601197157e-06) + s * T(-1.8027895356488830916e-07))))));
  auto d = a.max(T(0.5));
  auto e = (-d).exp();
  auto direct = d.log() + log1p_of(e) - (T(1) - e).log();
  auto small = (a < T(0.5)).template cast<T>();
  return small * series + (T(1) - small) * direct;
}
template <class A>
auto dlog_norm(const A& eta) {
  using T = typename A::Scalar;
  auto a = eta.abs();
  auto x = eta.min(T(0.5)).max(T(-0.5));
  auto s = x.square();
  auto series = x * (T(1.0 / 6) + s * (T(-0.019444444444444444444) + s * (T(0.0020502645502645502646) +
                s * (T(-0.00020998677248677248677) + s * (T(2.1336045641601197157e-05) + s * T(-2.1633474427786597099e-06))))));
  auto d = a.max(T(0.5));
  auto e = (-d).exp();
  auto direct = (T(1) / d - T(2) * e / (T(1) - e * e)) * eta.sign();
  auto small = (a < T(0.5)).template cast<T>();
  return small * series + (T(1) - small) * direct;
}
}  // namespace cb

// Σ x·η − softplus(η) + log C(η);   dη = x − sigmoid(η) + d log C/dη.  aux: η at the
// output's shape.
struct op_cbernoulli_logits {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto E = ex.aux[static_cast<std::size_t>(self)].a();
    E = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    out.a() = (X * E - E.max(T(0)) - log1p_of((-E.abs()).exp()) + cb::log_norm(E)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto E = ex.aux[static_cast<std::size_t>(self)].a();
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    give(ex, self, 1, G * (bcast(x, x.rows, out.cols) - T(1) / (T(1) + (-E).exp()) + cb::dlog_norm(E)));
  }
};

// The same with λ = probs: Σ x log λ + (1 − x) log(1 − λ) + log C(η), η = log λ − log(1 − λ);
// dλ = x/λ − (1 − x)/(1 − λ) + (d log C/dη)/(λ(1 − λ)).  aux: η.
struct op_cbernoulli_probs {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto E = ex.aux[static_cast<std::size_t>(self)].a();
    E = P.log() - (T(1) - P).log();
    out.a() = (X * P.log() + (T(1) - X) * (T(1) - P).log() + cb::log_norm(E)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto E = ex.aux[static_cast<std::size_t>(self)].a();
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    give(ex, self, 1, G * (X / P - (T(1) - X) / (T(1) - P) + cb::dlog_norm(E) / (P * (T(1) - P))));
  }
};

}  // namespace vaec::rt
