// Bernoulli likelihoods of data x ∈ [0, 1] (binary or grey levels), summed over rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

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

// Σ x·log p + (1 − x)·log(1 − p) from the probability itself (lang/lower turns probs =
// sigmoid(h) into the logits op, which is exact at every logit). Exact wherever p is
// representable: log1p(−p) keeps 1 − p exact for small p. Only where p is exactly 0 or 1
// (the log is −∞) is the log clamped, at the log of the smallest positive T (−103.28 in
// float, −744.44 in double), so that a rounded probability costs a large finite penalty;
// `vaec check` states this (diagnostic probs_clamped).
// dp = x/p − (1 − x)/(1 − p), each denominator at least the smallest normal T.
struct op_bernoulli_probs {
  template <class T>
  static T floor_log() { return std::log(std::numeric_limits<T>::denorm_min()); }
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    const T lo = floor_log<T>();
    out.a() = (X * P.log().max(lo) + (T(1) - X) * P.unaryExpr([](T p) { return std::log1p(-p); }).max(lo)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    const T tiny = std::numeric_limits<T>::min();
    give(ex, self, 1, G * (X / P.max(tiny) - (T(1) - X) / (T(1) - P).max(tiny)));
  }
};

// ---- continuous Bernoulli (Loaiza-Ganem & Cunningham 2019) ------------------------------
// p(x | λ) = C(λ) λ^x (1 − λ)^{1−x} on x ∈ [0, 1]. With the logit η = log(λ/(1−λ)),
// C = η / tanh(η/2) (C = 2 at η = 0), an even function of η. With a = |η|:
//   log C = log a + log(1 + e^{−a}) − log(1 − e^{−a})                 for a > ½,
//   log C = log 2 + S(a²),  S(s) = s/12 − 7s²/1440 + …  (12 terms)    for a ≤ ½,
// S's coefficients are those of log(x coth x), x = η/2 (from the Bernoulli numbers; 30
// digits by tests/runtime/reference/make_cbernoulli_reference.py); its truncation at
// a = ½ is 6e-20 relative, so the branches meet to rounding, and nothing cancels near η = 0
// where the closed form is 0/0 (the λ form, 2 artanh(1 − 2λ)/(1 − 2λ), is what other
// libraries evaluate, with a Taylor patch on a window around λ = ½). d log C/dη =
// 1/η − 1/sinh η, odd, with its own series below ½. The branches are joined without a
// select (which Eigen does not vectorize) as a blend with m = [a > ½] ∈ {0, 1}:
// f(a) = (1 − m)·(log 2 + S(min(a, ½))) + m·D(max(a, ½)), both branches finite everywhere, so
// each side is its own formula exactly (log 2 itself at η = 0).
namespace cb {
template <class T>
constexpr T half = T(0.5);
// S(s) = log C − log 2 in s = a², for a number or an Eigen array expression of T.
template <class T, class A>
auto log_norm_series(const A& s) {
  return s * (T(0.083333333333333333333) + s * (T(-0.0048611111111111111111) + s * (T(0.00034171075837742504409) +
         s * (T(-2.6248346560846560847e-05) + s * (T(2.1336045641601197157e-06) + s * (T(-1.8027895356488830916e-07) +
         s * (T(1.5659479531834029189e-08) + s * (T(-1.3883706783700259100e-09) + s * (T(1.2504263775315481832e-10) +
         s * (T(-1.1402553853609105852e-11) + s * (T(1.0502918900453166989e-12) + s * T(-9.7548766787216444986e-14))))))))))));
}
// Series of (1/η − 1/sinh η)/η in s = η²: −Σ 2(1 − 2^{2n−1}) B_{2n} s^{n−1}/(2n)!.
template <class T, class A>
auto dlog_norm_series(const A& s) {
  return T(0.16666666666666666667) + s * (T(-0.019444444444444444444) + s * (T(0.0020502645502645502646) +
         s * (T(-0.00020998677248677248677) + s * (T(2.1336045641601197157e-05) + s * (T(-2.1633474427786597099e-06) +
         s * (T(2.1923271344567640864e-07) + s * (T(-2.2213930853920414560e-08) + s * (T(2.2507674795567867297e-09) +
         s * (T(-2.2805107707218211705e-10) + s * (T(2.3106421580996967376e-11) + s * T(-2.3411704028931946797e-12)))))))))));
}

// log C(η) elementwise; `t` must hold e^{−|η|}.
template <class E, class TT>
auto log_norm(const E& eta, const TT& t) {
  using T = typename E::Scalar;
  auto a = eta.abs();
  auto small = a.min(half<T>);
  auto big = a.max(half<T>);
  auto tb = t.min(T(0.60653065971263342360));  // e^{−max(a, ½)}
  auto above = (a > half<T>).template cast<T>();
  return (T(1) - above) * (T(0.69314718055994530942) + log_norm_series<T>(small.square())) +
         above * (big.log() + log1p_of(tb) - (T(1) - tb).log());
}
// d log C/dη elementwise; `t` must hold e^{−|η|}.
template <class E, class TT>
auto dlog_norm(const E& eta, const TT& t) {
  using T = typename E::Scalar;
  auto a = eta.abs();
  auto x = eta.min(half<T>).max(-half<T>);
  auto sign = eta / a.max(std::numeric_limits<T>::min());
  auto big = a.max(half<T>);
  auto tb = t.min(T(0.60653065971263342360));
  auto above = (a > half<T>).template cast<T>();
  return (T(1) - above) * x * dlog_norm_series<T>(x.square()) +
         above * sign * (T(1) / big - T(2) * tb / (T(1) - tb.square()));
}
}  // namespace cb

// Σ x·η − softplus(η) + log C(η);   dη = x − sigmoid(η) + d log C/dη.
// Column by column, each a contiguous vectorized expression; aux holds e^{−|η|}.
struct op_cbernoulli_logits {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& l = ex.in(self, 1);
    if (l.rows != x.rows) {
      // One logit for every row: the general, broadcasting path.
      auto t = ex.aux[static_cast<std::size_t>(self)].a();
      auto E = bcast(l, x.rows, out.cols);
      t = (-E.abs()).exp();
      out.a() = (bcast(x, x.rows, out.cols) * E - E.max(T(0)) - log1p_of(t) + cb::log_norm(E, t)).colwise().sum();
      return;
    }
    auto T_ = ex.aux[static_cast<std::size_t>(self)].m();
    for (int c = 0; c < out.cols; ++c) {
      auto xc = x.c().col(c % x.cols).array();
      auto ec = l.c().col(c % l.cols).array();
      auto tc = T_.col(c).array();
      tc = (-ec.abs()).exp();
      out.data[c] = (xc * ec - ec.max(T(0)) - log1p_of(tc) + cb::log_norm(ec, tc)).sum();
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& l = ex.in(self, 1);
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>& dl = ex.grad[static_cast<std::size_t>(ex.n(self).inputs[1])];
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    if (l.rows != x.rows || l.cols != out.cols || !dl.data) {
      auto E = bcast(l, x.rows, out.cols);
      auto sig = T(1) / (T(1) + (-E).exp());  // e^{−η} = ∞ gives 0, never NaN
      give(ex, self, 1, down(g, x.rows) * (bcast(x, x.rows, out.cols) - sig + cb::dlog_norm(E, t)));
      return;
    }
    const bool first = ex.first[static_cast<std::size_t>(self)][1];
    auto D = dl.m();
    for (int c = 0; c < out.cols; ++c) {
      auto xc = x.c().col(c % x.cols).array();
      auto ec = l.c().col(c).array();
      auto tc = t.col(c);
      auto dc = D.col(c).array();
      auto sig = T(1) / (T(1) + (-ec).exp());
      if (first) dc = g.data[c] * (xc - sig + cb::dlog_norm(ec, tc));
      else dc += g.data[c] * (xc - sig + cb::dlog_norm(ec, tc));
    }
  }
};

// The same with λ = probs: Σ x log λ + (1 − x) log(1 − λ) + log C(η), η = log λ − log(1 − λ),
// in log space: log(1 − λ) = log1p(−λ), exact for small λ (1 − λ itself is exact near 1), so
// the value is exact wherever λ is representable. Where λ is exactly 0 or 1 the density is
// degenerate (+∞ at the end λ sits on, −∞ elsewhere); there, as for Bernoulli(probs = ·),
// each log is clamped at the log of the smallest positive T (−103.28 in float, −744.44 in
// double), so η = ±(that) and the value is a large finite number, never NaN; `vaec check`
// states this (diagnostic probs_clamped). With x/λ − (1−x)/(1−λ) = (x − λ)/(λ(1 − λ)):
// dλ = (x − λ + d log C/dη) / (λ(1 − λ)), the numerator bounded (|·| ≤ 2), each factor of
// the denominator at least the smallest normal T.  aux: e^{−|η|}.
struct op_cbernoulli_probs {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    const T lo = op_bernoulli_probs::floor_log<T>();
    auto LP = P.log().max(lo);
    auto LQ = P.unaryExpr([](T p) { return std::log1p(-p); }).max(lo);
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    t = (-(LP - LQ).abs()).exp();
    out.a() = (X * LP + (T(1) - X) * LQ + cb::log_norm(LP - LQ, t)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    auto P = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    const T lo = op_bernoulli_probs::floor_log<T>(), tiny = std::numeric_limits<T>::min();
    auto E = P.log().max(lo) - P.unaryExpr([](T p) { return std::log1p(-p); }).max(lo);
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    give(ex, self, 1, G * (X - P + cb::dlog_norm(E, t)) / (P.max(tiny) * (T(1) - P).max(tiny)));
  }
};

}  // namespace vaec::rt
