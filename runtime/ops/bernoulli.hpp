// Bernoulli likelihoods of data x ∈ [0, 1] (binary or grey levels), summed over rows.
#pragma once

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// Σ x·l − softplus(l), with softplus(l) = max(l, 0) + log(1 + t), t = e^−|l| (kept in aux):
// finite for every finite logit, never exp of a large positive number.
// dl = x − sigmoid(l), sigmoid(l) = 1/(1 + t) for l ≥ 0, t/(1 + t) for l < 0
struct op_bernoulli_logits {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto L = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    t = (-L.abs()).exp();
    out.a() = (X * L - L.max(T(0)) - log1p_of(t)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& x = ex.in(self, 0);
    auto L = bcast(ex.in(self, 1), x.rows, out.cols);
    auto X = bcast(x, x.rows, out.cols);
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    auto G = down(ex.grad[static_cast<std::size_t>(self)], x.rows);
    give(ex, self, 1, G * (X - (L >= T(0)).select(T(1), t) / (T(1) + t)));
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
