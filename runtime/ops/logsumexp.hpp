// The log-sum-exp of one column of K component log-densities, in double, and the
// components' responsibilities in its place; shared by the mixture prior (mixture.hpp) and
// the VampPrior (vamp.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

namespace vaec::rt {

// Takes l[0..K) (log-densities, or log-weights plus log-densities; K ≥ 1) and returns
// v = m + log Σ_k exp(l_k − m), m = max_k l_k, exact however far apart the l_k are (the far
// ones contribute exp(−huge) = 0); overwrites l_k with the responsibility exp(l_k − v)
// (Σ_k = 1). When m is not finite (every component −∞, or a NaN) returns m and sets every
// l_k to 0, so that the caller's objective reports the non-finite value. Throws nothing.
template <class T>
double logsumexp_responsibilities(T* l, int K) {
  double top = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < K; ++k) top = std::max(top, static_cast<double>(l[k]));
  if (!std::isfinite(top)) {
    for (int k = 0; k < K; ++k) l[k] = T(0);
    return top;
  }
  double sum = 0;
  for (int k = 0; k < K; ++k) sum += std::exp(static_cast<double>(l[k]) - top);
  const double value = top + std::log(sum);
  for (int k = 0; k < K; ++k) l[k] = static_cast<T>(std::exp(static_cast<double>(l[k]) - value));
  return value;
}

}  // namespace vaec::rt
