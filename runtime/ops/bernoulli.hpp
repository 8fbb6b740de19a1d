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

}  // namespace vaec::rt
