#include "runtime/optim.hpp"

#include <cmath>
#include <cstring>

namespace vaec::rt {

template <class T>
typename adam<T>::status adam<T>::step(T* p, const T* g) {
  ++t;
  const double bc1 = 1 - std::pow(settings.beta1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(settings.beta2, static_cast<double>(t));
  const T b1 = static_cast<T>(settings.beta1), b2 = static_cast<T>(settings.beta2);
  const T a1 = T(1) - b1, a2 = T(1) - b2;
  const T step = static_cast<T>(settings.lr / bc1);
  const T inv_sqrt_bc2 = static_cast<T>(1 / std::sqrt(bc2));
  const T eps = static_cast<T>(settings.eps);
  T* __restrict m_ = m.data();
  T* __restrict v_ = v.data();
  const auto n = static_cast<std::ptrdiff_t>(m.size());
  // Backwards: the parameters at the front of the store (the first layers of the forward
  // pass) are updated last, so they are still in cache when the next step reads them.
  // (Counted upwards in j, so that every compiler can count the iterations and vectorize.)
  // not_finite: bit 0 once a gradient is NaN or ±∞, bit 1 once a value written is.
  unsigned not_finite = 0;
#pragma omp parallel for simd schedule(static) reduction(| : not_finite)
  for (std::ptrdiff_t j = 0; j < n; ++j) {
    const std::ptrdiff_t i = n - 1 - j;
    const T gi = g[i];
    const T mi = b1 * m_[i] + a1 * gi;
    const T vi = b2 * v_[i] + a2 * gi * gi;
    const T pi = p[i] - step * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    m_[i] = mi;
    v_[i] = vi;
    p[i] = pi;
    // x·0 is ±0 for a finite x and NaN for ±∞ or NaN: one comparison for the three values
    // written, and no branch in the vectorized loop.
    not_finite |= (gi * T(0) == T(0) ? 0u : 1u) | (mi * T(0) + vi * T(0) + pi * T(0) == T(0) ? 0u : 2u);
  }
  return (not_finite & 1u) ? status::gradient_not_finite
         : not_finite      ? status::update_not_finite
                           : status::ok;
}

bool all_finite(const float* x, std::size_t n) {
  // A float is not finite exactly when its 8 exponent bits are all ones; adding one unit of
  // the exponent to the masked bits then carries into the top bit. OR over all of them.
  const auto count = static_cast<std::ptrdiff_t>(n);
  std::uint32_t any = 0;
  // A team only from 2^15 values on: below that, starting one costs more than the pass.
#pragma omp parallel for simd schedule(static) reduction(| : any) if (count >= 32768)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    any |= (bits & 0x7f800000u) + 0x00800000u;
  }
  return (any & 0x80000000u) == 0;
}

template class adam<float>;
template class adam<double>;

}  // namespace vaec::rt
