// Special functions of the von Mises–Fisher distribution; see special.hpp.
//
// Notation: n ≥ 2 the ambient dimension, v = n/2, ν = v − 1 = n/2 − 1, x = 1/κ.
//   A_n(κ) = I_v(κ)/I_ν(κ),  log C_n(κ) = ν log κ − (n/2) log 2π − log I_ν(κ),
//   log C_n(0) = log Γ(n/2) − log 2 − (n/2) log π  (= −log |S^{n−1}|).
// Everything is evaluated in long double (64-bit mantissa on x86-64) and rounded once, so
// the few remaining cancellations (noted below) cost digits we do not need.
//
// Regimes
// * A_n and A_n′, κ ≥ 25 and κ ≥ n²/16: the large-κ asymptotic series of A_n in x = 1/κ,
//   A = Σ_m q_m x^m. Its coefficients follow from the Riccati equation that A satisfies,
//   A′ = 1 − A² − (n − 1) A/κ (from I_v′ = I_{v−1} − (v/κ) I_v and I_ν′ = I_v + (ν/κ) I_ν),
//   with d/dκ = −x² d/dx: comparing powers of x gives q_0 = 1, q_1 = −(n − 1)/2 and
//     2 q_m = (m − n) q_{m−1} − Σ_{i=1}^{m−1} q_i q_{m−i}   (m ≥ 2),
//   e.g. A = 1 − (n−1)/(2κ) + (n−1)(n−3)/(8κ²) + …, which agrees with the ratio of the
//   Hankel expansions (DLMF 10.40.1). Omitted terms are O(e^{−2κ}). Then
//   A′ = −Σ_{m≥1} m q_m x^{m+1} is summed directly: it is O((n−1)/(2κ²)) and the textbook
//   1 − A² − (n−1)A/κ would lose ~log10(κ) digits to cancellation there. The sum is used
//   only if its terms fall below 1e-21 of the total before they start growing.
// * A_n and A_n′ otherwise: the Gauss continued fraction (from the recurrence
//   I_{v−1} − I_{v+1} = (2v/κ) I_v, DLMF 10.29.1; the form TFP and Amos use)
//     A_v = κ/(2v + κ²/(2(v+1) + κ²/(2(v+2) + …))) = κ/(n + T),  T = κ A_{v+1},
//   with T evaluated by the modified Lentz method (all partial numerators and denominators
//   positive, so the convergents bracket the limit and |Δ − 1| < 4ε is a safe stop).
//   With ρ = A/κ = 1/(n + T), the derivative is A′ = 1 − A² − (n−1)ρ = (1 + T)ρ − A², exact
//   at κ = 0 (A′(0) = 1/n; for small κ this is the series 1/n − 3κ²/(n²(n+2)) + …).
// * log I_ν, κ ≥ 50: the Hankel expansion (DLMF 10.40.1)
//     I_ν(κ) = e^κ/√(2πκ) Σ_k (−1)^k a_k(ν)/κ^k,  a_k = Π_{j≤k}(4ν² − (2j−1)²)/(k! 8^k),
//   if its terms fall below 1e-21 of the sum before growing (i.e. κ large compared with ν²).
// * log I_ν, κ ≤ 2000 otherwise: the power series (DLMF 10.25.2)
//     I_ν(κ) = (κ/2)^ν/Γ(ν+1) · F,  F = ₀F₁(; n/2; κ²/4) = Σ_k (κ²/4)^k/(k! (n/2)_k),
//   a sum of positive terms (no cancellation; F < e^κ stays in long double range). Then
//   the Γ and powers of 2 cancel exactly: log C_n(κ) = log C_n(0) − log F, so
//   KL = κ A − log F = κA − log1p(F − 1), where κA ≈ κ²/n and log F ≈ κ²/(2n) differ by a
//   factor 2 only: no catastrophic cancellation as κ → 0 (KL = κ²/(2n) − 3κ⁴/(4n²(n+2))
//   + O(κ⁶), from A = κ/n − κ³/(n²(n+2)) + … and log F = κ²/(2n) − κ⁴/(4n²(n+2)) + …).
// * log I_ν, κ > 2000 with ν too large for Hankel (ν ≳ 20): Debye's uniform expansion
//   (DLMF 10.41.3, U_k from A&S 9.3.9 up to U_4), with z = κ/ν, s = √(1+z²), p = 1/s,
//     log I_ν(νz) = νη − ½ log(2πν) − ½ log s + log Σ_k U_k(p)/ν^k,  η = s + log(z/(1+s)).
//   Truncation error O(U_5(p)/ν⁵) with p ≤ ν/κ: far below 1e-12 there.
#include "runtime/special.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vaec::rt {
namespace {

using real = long double;
constexpr real kPi = 3.141592653589793238462643383279502884L;
constexpr real kEps = std::numeric_limits<real>::epsilon();
constexpr real kSeriesTol = 1e-21L;  // relative size of the last kept term of a series
constexpr real kSeriesMaxKappa = 2000;  // power series of I_ν up to here (F < e^2000)
constexpr real kHankelMinKappa = 50;

bool in_domain(double n, double kappa) {
  return n >= 2 && kappa >= 0 && std::isfinite(n) && std::isfinite(kappa);
}

real log_c0(real n) { return std::lgamma(n / 2) - std::log(2.0L) - (n / 2) * std::log(kPi); }

struct ratio_parts {
  real a;   // A_n(κ)
  real da;  // A_n′(κ)
};

// Large-κ asymptotic series of A_n (see top). False if it does not converge to 1e-21.
bool ratio_asymptotic(real n, real kappa, ratio_parts& out) {
  if (kappa < 25 || kappa < n * n / 16) return false;
  constexpr int kMax = 80;
  real q[kMax + 1];
  q[0] = 1;
  q[1] = -(n - 1) / 2;
  const real x = 1 / kappa;
  real xm = x;                 // x^m
  real delta = -q[1] * x;      // 1 − A = −Σ_{m≥1} q_m x^m
  real da = -q[1] * x * x;     // A′ = −Σ_{m≥1} m q_m x^{m+1}
  // |terms| m−1 and m−2: a single coefficient can vanish (n = 7: q_4 = 0), so convergence
  // needs three small terms in a row and divergence means growth past both previous ones.
  real prev = std::fabs(q[1] * x), prev2 = std::numeric_limits<real>::infinity();
  for (int m = 2; m <= kMax; ++m) {
    real s = 0;
    for (int i = 1; i < m; ++i) s += q[i] * q[m - i];
    q[m] = ((m - n) * q[m - 1] - s) / 2;
    xm *= x;
    const real t = q[m] * xm;
    delta -= t;
    da -= m * t * x;
    const real at = std::fabs(t);
    const real small = std::max({at, prev, prev2});
    if (small <= kSeriesTol * std::fabs(delta) && m * small * x <= kSeriesTol * std::fabs(da)) {
      out.a = 1 - delta;
      out.da = da;
      return true;
    }
    if (at > std::max(prev, prev2 == std::numeric_limits<real>::infinity() ? prev : prev2))
      return false;  // the asymptotic series turned before converging
    prev2 = prev;
    prev = at;
  }
  return false;
}

// T = κ A_{v+1}(κ) = κ²/(n + 2 + κ²/(n + 4 + …)) by the modified Lentz method.
real ratio_cf_tail(real n, real kappa) {
  const real k2 = kappa * kappa;
  constexpr real tiny = 1e-300L;
  real f = tiny, c = tiny, d = 0;
  for (long j = 1; j < 10'000'000; ++j) {
    const real b = n + 2 * static_cast<real>(j);
    d = b + k2 * d;
    c = b + k2 / c;
    d = 1 / d;
    const real delta = c * d;
    f *= delta;
    if (std::fabs(delta - 1) < 4 * kEps) break;
  }
  return f;
}

ratio_parts ratio(real n, real kappa) {
  if (kappa == 0) return {0, 1 / n};
  ratio_parts r;
  if (ratio_asymptotic(n, kappa, r)) return r;
  const real t = ratio_cf_tail(n, kappa);
  const real rho = 1 / (n + t);  // A/κ
  r.a = kappa * rho;
  r.da = (1 + t) * rho - r.a * r.a;
  return r;
}

// log F, F = ₀F₁(; n/2; κ²/4) (see top), via log1p of the sum of the k ≥ 1 terms.
real log_hyp0f1(real n, real kappa) {
  const real y = kappa * kappa / 4, b = n / 2;
  real t = 1, s = 0;
  for (long k = 0; k < 10'000'000; ++k) {
    const real denom = (k + 1) * (b + k);
    t *= y / denom;
    s += t;
    if (denom > y && t <= kSeriesTol * s) break;  // past the peak and negligible
  }
  return std::log1p(s);
}

// log I_ν(κ) by the Hankel expansion; false if it does not converge to 1e-21.
bool log_bessel_i_hankel(real nu, real kappa, real& out) {
  const real mu = 4 * nu * nu, x = 1 / (8 * kappa);
  real term = 1, sum = 1, prev = std::numeric_limits<real>::infinity();
  for (int k = 1; k <= 60; ++k) {
    const real odd = 2 * k - 1;
    term *= -(mu - odd * odd) * x / k;
    sum += term;
    const real at = std::fabs(term);
    if (at <= kSeriesTol * std::fabs(sum)) {
      out = kappa - std::log(2 * kPi * kappa) / 2 + std::log(sum);
      return true;
    }
    if (at > prev) return false;
    prev = at;
  }
  return false;
}

// log I_ν(κ) by Debye's uniform expansion (ν > 0; used for κ > 2000, ν ≳ 20).
real log_bessel_i_debye(real nu, real kappa) {
  const real z = kappa / nu, s = std::hypot(1.0L, z), p = 1 / s, p2 = p * p;
  const real eta = s + std::log(z / (1 + s));
  const real u1 = p * (3 - 5 * p2) / 24;
  const real u2 = p2 * (81 + p2 * (-462 + p2 * 385)) / 1152;
  const real u3 = p * p2 * (30375 + p2 * (-369603 + p2 * (765765 + p2 * -425425))) / 414720;
  const real u4 =
      p2 * p2 *
      (4465125 + p2 * (-94121676 + p2 * (349922430 + p2 * (-446185740 + p2 * 185910725)))) /
      39813120;
  const real sum = 1 + (u1 + (u2 + (u3 + u4 / nu) / nu) / nu) / nu;
  return nu * eta - std::log(2 * kPi * nu) / 2 - std::log(s) / 2 + std::log(sum);
}

// log C_n(κ) − log C_n(0) (≤ 0).
real log_c_minus_c0(real n, real kappa) {
  if (kappa == 0) return 0;
  const real nu = n / 2 - 1;
  real li;
  bool have = kappa >= kHankelMinKappa && log_bessel_i_hankel(nu, kappa, li);
  if (!have) {
    if (kappa <= kSeriesMaxKappa) return -log_hyp0f1(n, kappa);
    li = log_bessel_i_debye(nu, kappa);
  }
  return nu * std::log(kappa) - (n / 2) * std::log(2 * kPi) - li - log_c0(n);
}

}  // namespace

double bessel_ratio(double n, double kappa) {
  if (!in_domain(n, kappa)) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(ratio(n, kappa).a);
}

double bessel_ratio_derivative(double n, double kappa) {
  if (!in_domain(n, kappa)) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(ratio(n, kappa).da);
}

double log_vmf_normalizer(double n, double kappa) {
  if (!in_domain(n, kappa)) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(log_c0(n) + log_c_minus_c0(n, kappa));
}

double kl_vmf_uniform(double n, double kappa) {
  if (!in_domain(n, kappa)) return std::numeric_limits<double>::quiet_NaN();
  const real kl = kappa * ratio(n, kappa).a + log_c_minus_c0(n, kappa);
  return static_cast<double>(kl > 0 ? kl : 0);
}

}  // namespace vaec::rt
