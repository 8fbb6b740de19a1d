// Special functions of the Student-t, Gamma and Power Spherical families; see
// special_families.hpp. Reference values: tests/runtime/reference/make_families_reference.py
// (mpmath); the coefficient tables below are printed, in exact rational arithmetic, by its
// --tables option.
//
// ---- Student-t (a = ν/2) --------------------------------------------------------------
// With L(a) = lgamma(a+½) − lgamma(a) − ½ log a and D(a) = ψ(a+½) − ψ(a) = 1/(2a) + L′(a):
//   log_norm     = −½ log 2π + L(a)
//   log_norm_ddf = ½ D − 1/(4a)                      = ½ L′(a)
//   entropy      = (a+½) D + ½ log 2π − L(a)          = ½ log(2πe) + F(a),
//                  F(a) = 1/(4a) + (a+½) L′(a) − L(a)
//   entropy_ddf  = (2a+1)/4 [ψ′(a+½) − ψ′(a)] + 1/(4a) = ½ F′(a).
// * a < 12 (ν < 24): the left-hand forms, in long double with Boost.Math (lgamma, digamma,
//   trigamma to ~1e-19); the worst cancellation there (entropy_ddf ≈ −1/ν² from terms
//   ~ψ′(a) ≈ 1/a) costs ~3 digits of the 19.
// * a ≥ 12: series in x = 1/a, with the cancelling leading terms removed algebraically.
//   Stirling's series at a+½ and at a (B_k(½) = (2^{1−k} − 1) B_k) gives
//     L(a) ~ Σ_{j≥1} ℓ_j a^{1−2j},  ℓ_j = (2^{1−2j} − 2) B_{2j} / (2j (2j−1))
//          = −1/(8a) + 1/(192a³) − 1/(640a⁵) + 17/(14336a⁷) − …,
//   and term-by-term differentiation the other three:
//     ½ L′ = −½ Σ (2j−1) ℓ_j a^{−2j}         = 1/(16a²) − 1/(128a⁴) + …   (= 1/(4ν²) + …)
//     F    = 1/(2a) + 1/(16a²) − 1/(48a³) − 1/(128a⁴) + …                  (= 1/ν + …)
//     ½ F′ = −1/(4a²) − 1/(16a³) + 1/(32a⁴) + …                             (= −1/ν² + …)
//   (tables kStL, kStDL, kStF, kStG: coefficient of x^p at index p). Kept to x^25..x^27,
//   the truncation error at a = 12 is below 1e-20 relative (checked against mpmath by the
//   --tables option); it falls as a^{−2} per term beyond.
//
// ---- Power Spherical (β = (n−1)/2, α = β + κ) -----------------------------------------
// Everything is written with three differences, evaluated without cancellation (long
// double): Δlgamma(y, d) = lgamma(y+d) − lgamma(y), Δψ(y, d) = ψ(y+d) − ψ(y) and
// Δψ′(y, d) = ψ′(y) − ψ′(y+d), for 0 < d ≤ y. For y < 20 directly (|terms|/result ≤ ~40);
// for y ≥ 20 from the Stirling series of lgamma, ψ and ψ′, term by term as
//   (y+d)^{−m} − y^{−m} = y^{−m} expm1(−m log1p(d/y)),
// with the leading terms in log1p(d/y) (omitted terms below 1e-21 relative). Then
//   log C    = −[2β log 2 + κ log 2 + β log π − Δlgamma(α, β)]
//   dlogC/dκ = −log 2 + Δψ(α, β)
//   H        = 2β log 2 + β log π − Δlgamma(α, β) + κ Δψ(α, β)   (the κ log 2 cancel)
//   dH/dκ    = −κ Δψ′(α, β)
//   KL       = log|S^{n−1}| − H.
// For κ ≤ β the last is a difference of nearly equal terms (KL ≈ ½[ψ′(β) − ψ′(2β)] κ² at
// small κ, ≈ κ²/(2n) for large n):
// there KL = g(2β, κ) − g(β, κ), g(x, κ) = lgamma(x+κ) − lgamma(x) − κψ(x+κ) =
// −∫₀^κ t ψ′(x+t) dt ≤ 0, with g evaluated as a sum of terms of one sign: shifted up
// to x ≥ 20 by g(x, κ) = g(x+1, κ) − [log1p(s) − s/(1+s)], s = κ/x, and for x ≥ 20 from
// Stirling's series, t = κ/x:
//   g = x log1pmx(t) − ½[log1pmx(t) + t²/(1+t)]
//       − Σ_k B_{2k}/(2k(2k−1)) x^{1−2k} [(1+t)^{2k} − 1 − 2kt]/(1+t)^{2k},
// the bracket summed as its binomial expansion Σ_{j≥2} C(2k, j) t^j. The two g differ by a
// factor ~2 at small κ, so KL keeps its relative accuracy down to κ → 0 (no series needed).
//
// ---- Gamma: implicit reparameterization gradient dg/dα = −∂_αP(α, g)/p(g; α) -----------
// Three methods, in double (measured against mpmath: within ~5e-15 relative over α ∈ [1e-3,
// 1e8] and quantiles 1e-10 … 1 − 1e-10; ~40–200 ns a call):
// * Temme's uniform expansion, for α ≥ 20 and |η| ≤ 1 (g/α ∈ [0.3017, 2.3577]; for α ≳ 50
//   that is every quantile in [1e-10, 1 − 1e-10]). DLMF 8.12: λ = g/α, ½η² = λ − 1 − log λ
//   (η of the sign of λ − 1),
//     Q = ½ erfc(η√(α/2)) + e^{−αη²/2}/√(2πα) S,  S = Σ_k c_k(η) α^{−k},
//   c₀ = 1/(λ−1) − 1/η, c_k = η^{−1} c′_{k−1} + (−1)^k g_k/(λ−1) (g_k: Γ's Stirling
//   coefficients). Differentiating in α at fixed g (∂_α η = −(λ−1)/(αη)) and dividing by
//   p = e^{−αη²/2}/(λ√(2πα) Γ*(α)), Γ*(α) = Γ(α)/(√(2π/α) α^α e^{−α}), everything
//   exponential cancels:
//     dg/dα = λ Γ*(α) [(λ−1)/η − η/2 + (log λ − 1/(2α)) S + ∂_α S − (λ−1)/(αη) ∂_η S],
//   ≈ 1 + (λ−1)/2 near the median. The c_k are Taylor polynomials in η (table kTemmeC, exact
//   rationals rounded; each truncated where its tail, derivative included, is below
//   1e-17 α^k at |η| = 1, α = 20); the expansion is truncated after c₁₀ (measured against
//   mpmath: below 2e-17 relative at α = 20, |η| ≤ 1, falling fast with α).
// * Series, elsewhere for g < α + 1 + 1.5 max(√α, 1). From P = g^α e^{−g}/Γ(α+1) Σ t_n,
//   t_n = g^n/((α+1)…(α+n)), differentiating in α and dividing by p = g^{α−1}e^{−g}/Γ(α):
//     dg/dα = (g/α) Σ_{n≥0} t_n [ψ(α+n+1) − log g],
//   terms all positive when log g < ψ(α+1), otherwise negative for the first ~g − α − ½
//   only (ψ(α+n+1) = ψ(α+1) + Σ_{k≤n} 1/(α+k) is carried along); up to the switch the
//   cancellation Σ|terms|/sum stays below ~20.
// * Continued fraction, beyond. Q = g^α e^{−g}/Γ(α) F with Legendre's fraction
//   F = 1/(g+1−α− 1(1−α)/(g+3−α− 2(2−α)/(g+5−α− …))); then
//     dg/dα = ∂_αQ/p = G (log g − ψ(α)) + ∂_αG,  G = gF,
//   with G in the equivalent form 1/(b₀ + a₁/(b₁ + …)), b_n = 1 + (2n+1−α)/g,
//   a_n = n(α−n)/g², and ∂_αG by differentiating the forward recurrences of the
//   convergents (∂_α b_n = −1/g, ∂_α a_n = n/g²), rescaled every other step.
//   In both, ψ(z) − log g is formed as −log1p((g − z)/z) − (log z − ψ(z)) for z ≥ 10 (the
//   latter from its asymptotic series): a plain difference would lose digits that the sums
//   then amplify (by up to ~α).
// Speed: the switch between series and fraction sits near where their costs cross (20–50
// terms either side); Temme's expansion costs the same at every α.
#include "runtime/special_families.hpp"

#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/log1p.hpp>
#include <boost/math/special_functions/trigamma.hpp>
#include <boost/random/gamma_distribution.hpp>
#include <boost/random/normal_distribution.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace vaec::rt {
namespace {

using real = long double;
namespace bm = boost::math;
// In double, no internal promotion to long double (the gamma code path is hot); errors
// give NaN instead of exceptions (inputs are checked first, so none are expected).
using fast_policy = bm::policies::policy<bm::policies::promote_double<false>,
                                         bm::policies::domain_error<bm::policies::ignore_error>,
                                         bm::policies::pole_error<bm::policies::ignore_error>,
                                         bm::policies::overflow_error<bm::policies::ignore_error>,
                                         bm::policies::evaluation_error<bm::policies::ignore_error>>;
using ld_policy = bm::policies::policy<bm::policies::domain_error<bm::policies::ignore_error>,
                                       bm::policies::pole_error<bm::policies::ignore_error>,
                                       bm::policies::overflow_error<bm::policies::ignore_error>,
                                       bm::policies::evaluation_error<bm::policies::ignore_error>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr real kPi = 3.141592653589793238462643383279502884L;
constexpr real kLog2 = 0.693147180559945309417232121458176568L;
constexpr real kLogPi = 1.144729885849400174143427351353058712L;
constexpr real kLog2Pi = 1.837877066409345483560659472811235279L;

real lgam(real x) { return bm::lgamma(x, ld_policy()); }
real psi(real x) { return bm::digamma(x, ld_policy()); }
real psi1(real x) { return bm::trigamma(x, ld_policy()); }
real log1pmx(real x) { return bm::log1pmx(x, ld_policy()); }

template <std::size_t N>
real horner(const real (&c)[N], real x) {
  real s = c[N - 1];
  for (std::size_t i = N - 1; i-- > 0;) s = s * x + c[i];
  return s;
}

// ---- Student-t tables (see top) --------------------------------------------------------
constexpr real kStL[] = {
    0, -1.0L / 8, 0, 1.0L / 192, 0, -1.0L / 640, 0, 17.0L / 14336, 0, -31.0L / 18432, 0,
    691.0L / 180224, 0, -5461.0L / 425984, 0, 929569.0L / 15728640, 0,
    -3202291.0L / 8912896, 0, 221930581.0L / 79691776, 0, -4722116521.0L / 176160768, 0,
    968383680827.0L / 3087007744, 0, -14717667114151.0L / 3355443200
};
constexpr real kStDL[] = {
    0, 0, 1.0L / 16, 0, -1.0L / 128, 0, 1.0L / 256, 0, -17.0L / 4096, 0, 31.0L / 4096, 0,
    -691.0L / 32768, 0, 5461.0L / 65536, 0, -929569.0L / 2097152, 0, 3202291.0L / 1048576,
    0, -221930581.0L / 8388608, 0, 4722116521.0L / 16777216, 0,
    -968383680827.0L / 268435456, 0, 14717667114151.0L / 268435456
};
constexpr real kStF[] = {
    0, 1.0L / 2, 1.0L / 16, -1.0L / 48, -1.0L / 128, 3.0L / 320, 1.0L / 256, -17.0L / 1792,
    -17.0L / 4096, 155.0L / 9216, 31.0L / 4096, -2073.0L / 45056, -691.0L / 32768,
    38227.0L / 212992, 5461.0L / 65536, -929569.0L / 983040, -929569.0L / 2097152,
    28820619.0L / 4456448, 3202291.0L / 1048576, -1109652905.0L / 19922944,
    -221930581.0L / 8388608, 51943281731.0L / 88080384, 4722116521.0L / 16777216,
    -2905151042481.0L / 385875968, -968383680827.0L / 268435456,
    191329672483963.0L / 1677721600, 14717667114151.0L / 268435456
};
constexpr real kStG[] = {
    0, 0, -1.0L / 4, -1.0L / 16, 1.0L / 32, 1.0L / 64, -3.0L / 128, -3.0L / 256,
    17.0L / 512, 17.0L / 1024, -155.0L / 2048, -155.0L / 4096, 2073.0L / 8192,
    2073.0L / 16384, -38227.0L / 32768, -38227.0L / 65536, 929569.0L / 131072,
    929569.0L / 262144, -28820619.0L / 524288, -28820619.0L / 1048576,
    1109652905.0L / 2097152, 1109652905.0L / 4194304, -51943281731.0L / 8388608,
    -51943281731.0L / 16777216, 2905151042481.0L / 33554432, 2905151042481.0L / 67108864,
    -191329672483963.0L / 134217728, -191329672483963.0L / 268435456
};

constexpr real kStudentSeriesMinA = 12;  // a = ν/2 from which the series are used

// Up to +∞: the series in 1/a reach the Normal limit exactly at a = ∞ (1/a = 0).
bool studentt_domain(double df) { return df >= 1e-3 && df <= std::numeric_limits<double>::infinity(); }

// ---- Power Spherical: differences of lgamma, ψ, ψ′ (see top) ---------------------------

constexpr real kAsymptoticMinY = 20;
// B_{2k}, k = 1..8 (the omitted term of each series is below 1e-21 relative at y = 20).
constexpr real kB2k[] = {1.0L / 6,   -1.0L / 30,   1.0L / 42,   -1.0L / 30,
                         5.0L / 66,  -691.0L / 2730, 7.0L / 6, -3617.0L / 510};
constexpr int kNB = sizeof(kB2k) / sizeof(kB2k[0]);

// lgamma(y+d) − lgamma(y), 0 < d ≤ y.
real delta_lgamma(real y, real d) {
  if (y < kAsymptoticMinY) return lgam(y + d) - lgam(y);
  const real lp = std::log1p(d / y);
  real s = (y - 0.5L) * lp + d * std::log(y + d) - d;
  const real y2 = 1 / (y * y);
  real ym = 1 / y;  // y^{1−2k}
  for (int k = 1; k <= kNB; ++k) {
    s += kB2k[k - 1] / (2 * k * (2 * k - 1)) * ym * std::expm1((1 - 2 * k) * lp);
    ym *= y2;
  }
  return s;
}

// ψ(y+d) − ψ(y), 0 < d ≤ y.
real delta_psi(real y, real d) {
  if (y < kAsymptoticMinY) return psi(y + d) - psi(y);
  const real lp = std::log1p(d / y);
  real s = lp + d / (2 * y * (y + d));
  const real y2 = 1 / (y * y);
  real ym = y2;  // y^{−2k}
  for (int k = 1; k <= kNB; ++k) {
    s -= kB2k[k - 1] / (2 * k) * ym * std::expm1(-2 * k * lp);
    ym *= y2;
  }
  return s;
}

// ψ′(y) − ψ′(y+d), 0 < d ≤ y.
real delta_psi1(real y, real d) {
  if (y < kAsymptoticMinY) return psi1(y) - psi1(y + d);
  const real lp = std::log1p(d / y), yd = y + d;
  real s = d / (y * yd) + d * (2 * y + d) / (2 * y * y * yd * yd);
  const real y2 = 1 / (y * y);
  real ym = y2 / y;  // y^{−2k−1}
  for (int k = 1; k <= kNB; ++k) {
    s -= kB2k[k - 1] * ym * std::expm1(-(2 * k + 1) * lp);
    ym *= y2;
  }
  return s;
}

// log1p(s) − s/(1+s) ≥ 0 without cancellation.
real log1p_minus_ratio(real s) {
  return s < 1 ? log1pmx(s) + s * s / (1 + s) : std::log1p(s) - s / (1 + s);
}

// g(x, κ) = lgamma(x+κ) − lgamma(x) − κψ(x+κ) ≤ 0, for 0 ≤ κ ≤ x (see top).
real kl_g(real x, real kappa) {
  real shift = 0;
  for (; x < kAsymptoticMinY; x += 1) shift += log1p_minus_ratio(kappa / x);
  const real t = kappa / x, l = log1pmx(t);
  real s = x * l - (l + t * t / (1 + t)) / 2;
  const real x2 = 1 / (x * x), inv1t = 1 / (1 + t);
  real xm = 1 / x;  // x^{1−2k}
  for (int k = 1; k <= kNB; ++k) {
    // [(1+t)^{2k} − 1 − 2kt]/(1+t)^{2k} = Σ_{j=2}^{2k} C(2k, j) t^j / (1+t)^{2k}
    real term = 2 * k * t, poly = 0, pw = 1;
    for (int j = 2; j <= 2 * k; ++j) {
      term *= t * (2 * k - j + 1) / j;
      poly += term;
    }
    for (int j = 0; j < 2 * k; ++j) pw *= inv1t;
    s -= kB2k[k - 1] / (2 * k * (2 * k - 1)) * xm * poly * pw;
    xm *= x2;
  }
  return s - shift;
}

bool ps_domain(double n, double kappa) {
  return n >= 2 && n <= 1e4 && kappa >= 0 && kappa <= 1e8;  // false for NaN
}

real log_area(real n) { return kLog2 + n / 2 * kLogPi - lgam(n / 2); }

// H = 2β log 2 + β log π − Δlgamma(α, β) + κ Δψ(α, β).
real ps_entropy_direct(real beta, real kappa) {
  const real alpha = beta + kappa;
  return 2 * beta * kLog2 + beta * kLogPi - delta_lgamma(alpha, beta) +
         kappa * delta_psi(alpha, beta);
}

real ps_kl(real n, real kappa) {
  const real beta = (n - 1) / 2;
  if (kappa == 0) return 0;
  if (kappa <= beta) return kl_g(2 * beta, kappa) - kl_g(beta, kappa);
  return log_area(n) - ps_entropy_direct(beta, kappa);
}

// ---- Gamma -----------------------------------------------------------------------------

bool gamma_domain(double alpha) { return alpha >= 1e-4 && alpha <= 1e8; }

constexpr double kTemmeMinAlpha = 20;

// Temme's c_k(η), k = 0..10: row k holds the Taylor coefficients of η^0, η^1, … (zero-padded).
constexpr int kTemmeTerms = 11, kTemmeDegree = 32;
constexpr double kTemmeC[kTemmeTerms][kTemmeDegree] = {
    {  // c_0
        -0.3333333333333333, 0.08333333333333333, -0.014814814814814815,
        0.0011574074074074073, 0.0003527336860670194, -0.0001787551440329218,
        3.919263178522438e-05, -2.185448510679992e-06, -1.85406221071516e-06,
        8.296711340953087e-07, -1.7665952736826078e-07, 6.707853543401498e-09,
        1.0261809784240309e-08, -4.382036018453353e-09, 9.14769958223679e-10,
        -2.5514193994946248e-11, -5.830772132550426e-11, 2.4361948020667415e-11,
        -5.0276692801141755e-12, 1.1004392031956135e-13, 3.371763262400985e-13,
        -1.392388722418162e-13, 2.8534893807047445e-14, -5.139111834242572e-16,
        -1.9752288294349442e-15, 8.099521156704561e-16, -1.6522531216398162e-16,
        2.5305430097478883e-18, 1.1686939738559576e-17, -4.770037049820485e-18,
        9.699126059056237e-19
    },
    {  // c_1
        -0.001851851851851852, -0.003472222222222222, 0.0026455026455026454,
        -0.0009902263374485596, 0.00020576131687242798, -4.018775720164609e-07,
        -1.8098550334489977e-05, 7.64916091608111e-06, -1.6120900894563446e-06,
        4.647127802807434e-09, 1.378633446915721e-07, -5.752545603517705e-08,
        1.1951628599778148e-08, -1.7543241719747647e-11, -1.0091543710600413e-09,
        4.162792991842583e-10, -8.56390702649298e-11, 6.067215101604758e-14,
        7.1624989648114856e-12, -2.933186643771437e-12, 5.996696365683689e-13,
        -2.1671786527323313e-16, -4.978339972369262e-14, 2.0291628823713425e-14,
        -4.13125571381061e-15, 8.286516239883097e-19, 3.4100308869333327e-16,
        -1.3854195302893971e-16, 2.812346653228875e-17
    },
    {  // c_2
        0.004133597883597883, -0.0026813271604938273, 0.0007716049382716049,
        2.0093878600823047e-06, -0.0001073665322636516, 5.2923448829120125e-05,
        -1.2760635188618728e-05, 3.423578734096138e-08, 1.3721957309062934e-06,
        -6.298992138380055e-07, 1.4280614206064242e-07, -2.0477098421990866e-10,
        -1.409252991086752e-08, 6.228974084922022e-09, -1.3670488396617114e-09,
        9.428356159014678e-13, 1.2872252400089318e-10, -5.5645956134363323e-11,
        1.197593554636698e-11, -4.1689782251838634e-15, -1.0940640427884595e-12,
        4.662239946390136e-13, -9.905105763906907e-14, 1.8931876768373515e-17,
        8.859221872591127e-15, -3.737820398046405e-15, 7.868833639035156e-16
    },
    {  // c_3
        0.0006494341563786008, 0.00022947209362139917, -0.0004691894943952557,
        0.00026772063206283885, -7.561801671883977e-05, -2.396505113867297e-07,
        1.1082654115347302e-05, -5.6749528269915965e-06, 1.4230900732435883e-06,
        -2.7861080291528143e-11, -1.6958404091930278e-07, 8.099464905388083e-08,
        -1.9111168485973655e-08, 2.3928620439808118e-12, 2.0620131815488797e-09,
        -9.460496661855133e-10, 2.1541049775774907e-10, -1.388823336813903e-14,
        -2.1894761681963938e-11, 9.790998951171684e-12, -2.178219188018096e-12,
        6.208819573407901e-17, 2.126978363279737e-13, -9.344688791517433e-14,
        2.045367122678285e-14, -2.58260790403495e-19, -1.9405297673344544e-15
    },
    {  // c_4
        -0.0008618882909167117, 0.0007840392217200666, -0.0002990724803031902,
        -1.4638452578843418e-06, 6.641498215465122e-05, -3.968365047179435e-05,
        1.1375726970678419e-05, 2.507497226237533e-10, -1.6954149536558305e-06,
        8.907507532205309e-07, -2.292934834000805e-07, 2.956794137544049e-11,
        2.8865829742708783e-08, -1.4189739437803219e-08, 3.4463580499464896e-09,
        -2.3024517174528067e-13, -3.9409233028046403e-10, 1.86023389685045e-10,
        -4.356323005056618e-11, 1.278600101629623e-15, 4.67927502665792e-12,
        -2.149246470613483e-12, 4.908815614809652e-13, -6.33859148489156e-18,
        -5.045332069080094e-14
    },
    {  // c_5
        -0.00033679855336635813, -6.972813758365857e-05, 0.0002772753244959392,
        -0.00019932570516188847, 6.797780477937208e-05, 1.419062920643967e-07,
        -1.3594048189768693e-05, 8.018470256334202e-06, -2.291481176508095e-06,
        -3.252473551298454e-10, 3.4652846491085265e-07, -1.8447187191171344e-07,
        4.8240967037894184e-08, -1.7989466721743514e-14, -6.306194500013523e-09,
        3.162417628774568e-09, -7.840924253697429e-10, 5.192679165254041e-15,
        9.358944242306784e-11, -4.513426216163278e-11, 1.0799129993116828e-11,
        -3.661886712685252e-17, -1.210902069055155e-12
    },
    {  // c_6
        0.0005313079364639922, -0.0005921664373536939, 0.0002708782096718045,
        7.902353232660328e-07, -8.153969367561969e-05, 5.61168275310625e-05,
        -1.8329116582843375e-05, -3.0796134506033047e-09, 3.465155368803609e-06,
        -2.0291327396058603e-06, 5.788792863149004e-07, 2.338630673826657e-13,
        -8.828600746330484e-08, 4.7435958880408125e-08, -1.2545415020710383e-08,
        8.649648858010293e-14, 1.6846058979264062e-09, -8.575492823577594e-10,
        2.1598224929232125e-10, -7.613230520476153e-16, -2.6639822008536144e-11
    },
    {  // c_7
        0.00034436760689237765, 5.171790908260592e-05, -0.00033493161081142234,
        0.0002812695154763237, -0.00010976582244684731, -1.2741009095484485e-07,
        2.7744451511563645e-05, -1.8263488805711332e-05, 5.7876949497350525e-06,
        4.93875893393627e-10, -1.0595367014026043e-06, 6.166714376110408e-07,
        -1.7562973359060463e-07, -1.297447328701544e-12, 2.695423606288966e-08,
        -1.4578352908731272e-08, 3.887645959386175e-09, -3.881002251019412e-17,
        -5.327994173877286e-10
    },
    {  // c_8
        -0.0006526239185953094, 0.0008394987206720873, -0.000438297098541721,
        -6.969091458420552e-07, 0.00016644846642067547, -0.00012783517679769218,
        4.629953263691304e-05, 4.557909867922708e-09, -1.0595271125805195e-05,
        6.783342904865167e-06, -2.1075476666258803e-06, -1.7213731432817144e-11,
        3.773587741611098e-07, -2.1867506700122867e-07, 6.220228804018927e-08,
        6.597703826733e-16, -9.590386497425686e-09
    },
    {  // c_9
        -0.0005967612901927463, -7.204895416020011e-05, 0.0006782308837667328,
        -0.0006401475260262758, 0.00027750107634328704, 1.819700838046515e-07,
        -8.479507117068503e-05, 6.105192082501531e-05, -2.1073920183404862e-05,
        -8.858589014125599e-10, 4.5284535953805374e-06, -2.8427815022504407e-06,
        8.708234177864641e-07
    },
    {  // c_10
        0.0013324454494800656, -0.0019144384985654776, 0.0011089369134596636,
        9.9324041226423e-07, -0.0005087450129309319, 0.00042735056665392886,
        -0.00016858853767910798, -8.1301893922785e-09, 4.5284402370562144e-05,
        -3.127053674781734e-05, 1.044986828530338e-05
    },
};

// σ − log1p(σ) (≥ 0, ≈ σ²/2) for σ ∈ (−0.7, 1.36). For |σ| < 0.3, with w = σ/(2+σ)
// (|w| < 0.18): log1p(σ) = 2 atanh w and σ − 2w = wσ, so
//   σ − log1p(σ) = wσ − 2w³ Σ_{k≥1} w^{2k−2}/(2k+1),
// a positive leading term minus one ~6 times smaller; 12 terms leave < 1e-18 relative.
// Elsewhere directly: σ and log1p(σ) differ by a factor ≥ 1.15 there.
double sigma_minus_log1p(double sigma) {
  if (std::fabs(sigma) >= 0.3) return sigma - std::log1p(sigma);
  const double w = sigma / (2 + sigma), w2 = w * w;
  double p = 1.0 / 25;
  for (int k = 11; k >= 1; --k) p = p * w2 + 1.0 / (2 * k + 1);
  return w * sigma - 2 * w * w2 * p;
}

// Temme's expansion (see top); false if |η| > 1.
bool dalpha_temme(double a, double x, double& out) {
  const double sigma = (x - a) / a;  // λ − 1
  if (sigma <= -0.7 || sigma >= 1.36) return false;  // |η| > 1 outside (λ(±1) = 0.3017, 2.3577)
  const double phi = sigma_minus_log1p(sigma);  // ½η²
  if (2 * phi > 1) return false;
  const double eta = std::copysign(std::sqrt(2 * phi), sigma);
  const double mu_over_eta = sigma == 0 ? 1.0 : sigma / eta;  // (λ−1)/η → 1 at η = 0
  // S = Σ_i e_i η^i and a ∂_a S = −Σ_i f_i η^i, with e_i = Σ_k c_{k,i} a^{−k} and
  // f_i = Σ_k k c_{k,i} a^{−k} (independent sums over the table's columns: they vectorize).
  const double ia = 1 / a;
  double e[kTemmeDegree] = {}, f[kTemmeDegree] = {}, w = 1;  // w = a^{−k}
  for (int k = 0; k < kTemmeTerms; ++k) {
    for (int i = 0; i < kTemmeDegree; ++i) {
      e[i] += w * kTemmeC[k][i];
      f[i] += k * w * kTemmeC[k][i];
    }
    w *= ia;
  }
  double s = e[kTemmeDegree - 1], s_eta = 0, s_a = f[kTemmeDegree - 1];
  for (int i = kTemmeDegree - 2; i >= 0; --i) {
    s_eta = s_eta * eta + s;
    s = s * eta + e[i];
    s_a = s_a * eta + f[i];
  }
  s_a *= -ia;
  // log Γ*(a) = 1/(12a) − 1/(360a³) + 1/(1260a⁵) − 1/(1680a⁷) + O(a⁻⁹)
  const double ia2 = ia * ia;
  const double log_gstar = ia * (1.0 / 12 + ia2 * (-1.0 / 360 + ia2 * (1.0 / 1260 - ia2 / 1680)));
  const double lambda = 1 + sigma;
  const double bracket = mu_over_eta - eta / 2 + (std::log1p(sigma) - ia / 2) * s + s_a -
                         mu_over_eta * ia * s_eta;
  out = lambda * std::exp(log_gstar) * bracket;
  return true;
}

// log z − ψ(z) (> 0, ≈ 1/(2z)) for z ≥ 10, from the asymptotic series of ψ (DLMF 5.11.2;
// the first omitted term is below 1e-17 of the sum at z = 10).
double log_minus_digamma(double z) {
  const double iz = 1 / z, iz2 = iz * iz;
  return iz / 2 +
         iz2 * (1.0 / 12 +
                iz2 * (-1.0 / 120 +
                       iz2 * (1.0 / 252 +
                              iz2 * (-1.0 / 240 +
                                     iz2 * (1.0 / 132 +
                                            iz2 * (-691.0 / 32760 +
                                                   iz2 * (1.0 / 12 + iz2 * -3617.0 / 8160)))))));
}

// ψ(z) − log x. Where both are large and close (z ≥ 10, x/z ∈ (½, 2)), as
// −log1p((x − z)/z) − (log z − ψ(z)), exact to rounding relative to |log(x/z)| + 1/(2z):
// every digit of this difference matters there, as the series and the fraction multiply it
// by sums up to ~α times larger than their results.
double digamma_minus_log(double z, double x) {
  if (z < 10) return bm::digamma(z, fast_policy()) - std::log(x);
  const double log_ratio = x > z / 2 && x < 2 * z ? std::log1p((x - z) / z) : std::log(x) - std::log(z);
  return -log_ratio - log_minus_digamma(z);
}

// The series (see top).
double dalpha_series(double a, double x) {
  double t = 1, d = digamma_minus_log(a + 1, x), s = d;
  for (int n = 1; n < 100000; ++n) {
    const double inv = 1 / (a + n);
    t *= x * inv;
    d += inv;
    const double term = t * d;
    s += term;
    if (term <= 1e-17 * s && d > 0 && x * inv < 1) {
      // Remainder past n: the ratio of successive t is x/(a+n+j) ≤ r = x/(a+n) and d grows
      // by at most 1/(a+n) a term, so Σ_{j≥1} t r^j (d + j/(a+n)) = t r/(1−r) [d + 1/((1−r)(a+n))].
      const double r = x * inv, q = 1 / (1 - r);
      if (t * r * q * (d + q * inv) <= 1e-17 * s) break;
    }
  }
  return x / a * s;
}

// The continued fraction (see top).
double dalpha_cf(double a, double x) {
  const double ix = 1 / x, ix2 = ix * ix;
  const double L = -digamma_minus_log(a, x);
  // Convergents A/B of b₀ + K(a_n/b_n) and their α-derivatives dA, dB, at n − 2 and n − 1.
  double a2 = 1, b2 = 0, da2 = 0, db2 = 0;                 // n = −1
  double a1 = 1 + (1 - a) * ix, b1 = 1, da1 = -ix, db1 = 0;  // n = 0
  double prev = std::numeric_limits<double>::infinity(), val = 0;
  for (int n = 1; n < 100000; ++n) {
    const double bn = 1 + (2 * n + 1 - a) * ix, an = n * (a - n) * ix2, dan = n * ix2;
    const double A = bn * a1 + an * a2, B = bn * b1 + an * b2;
    const double dA = bn * da1 + an * da2 + dan * a2 - ix * a1;
    const double dB = bn * db1 + an * db2 + dan * b2 - ix * b1;
    a2 = a1, b2 = b1, da2 = da1, db2 = db1;
    a1 = A, b1 = B, da1 = dA, db1 = dB;
    if (n % 2 == 0) {
      // G = B/A and ∂_αG = (dB − G dA)/A; then rescale everything by 1/A (G is a ratio).
      const double inv = 1 / a1, g = b1 * inv;
      val = g * L + (db1 - g * da1) * inv;
      if (std::fabs(val - prev) <= 2e-16 * std::fabs(val)) break;
      prev = val;
      a2 *= inv, b2 *= inv, da2 *= inv, db2 *= inv;
      a1 = 1, b1 = g, da1 *= inv, db1 *= inv;
    }
  }
  return val;
}

}  // namespace

// ---- Student-t ---------------------------------------------------------------------------

double studentt_log_norm(double df) {
  if (!studentt_domain(df)) return kNaN;
  const real a = static_cast<real>(df) / 2;
  if (a >= kStudentSeriesMinA) return static_cast<double>(-kLog2Pi / 2 + horner(kStL, 1 / a));
  return static_cast<double>(lgam(a + 0.5L) - lgam(a) - std::log(2 * a * kPi) / 2);
}

double studentt_log_norm_ddf(double df) {
  if (!studentt_domain(df)) return kNaN;
  const real a = static_cast<real>(df) / 2;
  if (a >= kStudentSeriesMinA) return static_cast<double>(horner(kStDL, 1 / a));
  return static_cast<double>((psi(a + 0.5L) - psi(a)) / 2 - 1 / (4 * a));
}

double studentt_entropy(double df) {
  if (!studentt_domain(df)) return kNaN;
  const real a = static_cast<real>(df) / 2;
  if (a >= kStudentSeriesMinA)
    return static_cast<double>((kLog2Pi + 1) / 2 + horner(kStF, 1 / a));
  const real l = lgam(a + 0.5L) - lgam(a) - std::log(a) / 2;
  return static_cast<double>((a + 0.5L) * (psi(a + 0.5L) - psi(a)) + kLog2Pi / 2 - l);
}

double studentt_entropy_ddf(double df) {
  if (!studentt_domain(df)) return kNaN;
  const real a = static_cast<real>(df) / 2;
  if (a >= kStudentSeriesMinA) return static_cast<double>(horner(kStG, 1 / a));
  return static_cast<double>((2 * a + 1) / 4 * (psi1(a + 0.5L) - psi1(a)) + 1 / (4 * a));
}

// ---- Gamma -------------------------------------------------------------------------------

double gamma_draw(double alpha, rng& r) {
  if (!gamma_domain(alpha)) return kNaN;
  if (alpha >= 1) return boost::random::gamma_distribution<double>(alpha, 1.0)(r);
  // G = G′ U^{1/α}, G′ ~ Gamma(α+1), U ~ U(0, 1], in log space: U^{1/α} underflows for
  // small α (for α = 1e-3 half of all draws are below 1e-300).
  const double g1 = boost::random::gamma_distribution<double>(alpha + 1, 1.0)(r);
  const double u = 1.0 - r.uniform();
  const double log_g = std::log(g1) + std::log(u) / alpha;
  return std::max(std::exp(log_g), 1e-300);
}

double gamma_log_ratio_draw(double alpha, rng& r) {
  if (!(alpha >= 1e-4)) return kNaN;
  if (alpha == std::numeric_limits<double>::infinity()) return 0;
  if (alpha < 1) {
    // G = G′ U^{1/α}, G′ ~ Gamma(α+1), U ~ U(0, 1]: log G = log G′ + log U / α, never
    // exponentiated (for α = 5e-4 half of all draws are below 1e-300).
    const double g1 = boost::random::gamma_distribution<double>(alpha + 1, 1.0)(r);
    const double u = 1.0 - r.uniform();
    return std::log(g1) + std::log(u) / alpha - std::log(alpha);
  }
  if (alpha <= 1e8) return std::log(boost::random::gamma_distribution<double>(alpha, 1.0)(r) / alpha);
  // Marsaglia & Tsang (2000), written for log(G/α) so that nothing cancels when α is huge:
  // G = d·v, d = α − 1/3, v = (1 + c x)³, c = 1/√(9d), x ~ N(0, 1), accepted when
  // log U < x²/2 + d − d v + d log v. With y = c x, d − d v + d log v + x²/2 =
  // d·[3 log1p(y) − 3y − 3y² − y³] + x²/2 = d·(−¾y⁴ + ⅗y⁵ − ½y⁶ + …), y = O(α^{−1/2}).
  const double d = alpha - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  boost::random::normal_distribution<double> normal;
  for (;;) {
    const double x = normal(r), y = c * x;
    if (y <= -1) continue;
    const double u = 1.0 - r.uniform();
    const double tail = std::fabs(y) < 1e-3
                            ? d * y * y * y * y * (-0.75 + y * (0.6 - 0.5 * y))
                            : d * (3 * std::log1p(y) - 3 * y - 3 * y * y - y * y * y) + 0.5 * x * x;
    if (std::log(u) < tail) return std::log1p(-1 / (3 * alpha)) + 3 * std::log1p(y);
  }
}

double gamma_log_ratio_dalpha(double alpha, double log_ratio) {
  if (!(alpha >= 1e-4) || std::isnan(log_ratio)) return kNaN;
  if (alpha == std::numeric_limits<double>::infinity()) return 0;
  if (alpha > 1e8) return -log_ratio / (2 * alpha);
  const double log_g = log_ratio + std::log(alpha);
  // For g below 1e-100, P(α, g) = g^α/Γ(α+1)·(1 − αg/(α+1) + …), so at a fixed level
  // log g = (log P + lgamma(α+1))/α and d log g/dα = (ψ(α+1) − log g)/α, to O(g).
  if (log_g < -230) return static_cast<double>((psi(static_cast<real>(alpha) + 1) - log_g) / alpha) - 1 / alpha;
  const double g = std::exp(log_g);
  return gamma_draw_dalpha(alpha, g) / g - 1 / alpha;
}

double studentt_log_kernel(double u, double df) {
  if (std::isnan(u) || !(df > 0)) return kNaN;
  const double nu = std::min(df, 1e300);  // beyond, the Normal limit to double precision
  const double log_r = std::log(std::fabs(u)) - 0.5 * std::log(nu);  // r = |u|/√ν may overflow
  if (log_r > 230) return (nu + 1) * log_r;  // r > 1e100: log(1 + r²) = 2 log r to 1e-200
  const double r = std::fabs(u) / std::sqrt(nu);
  const double x = r * r;
  if (x < 1e-8) return 0.5 * u * u * (1 + 1 / nu) * (1 - 0.5 * x);  // log1p(x)/x = 1 − x/2 + O(x²)
  return 0.5 * (nu + 1) * std::log1p(x);
}

double gamma_draw_dalpha(double alpha, double g) {
  if (!gamma_domain(alpha) || !(g >= 0) || !std::isfinite(g)) return kNaN;
  if (g == 0) return 0;
  double out;
  if (alpha >= kTemmeMinAlpha && dalpha_temme(alpha, g, out)) return out;
  // The series converges in fewer terms than the fraction up to about here, where its
  // cancellation (Σ|terms|/sum) is still below ~25.
  const double series_max = alpha + 1 + 1.5 * std::max(std::sqrt(alpha), 1.0);
  return g < series_max ? dalpha_series(alpha, g) : dalpha_cf(alpha, g);
}

// ---- Power Spherical ---------------------------------------------------------------------

double power_spherical_log_norm(double n, double kappa) {
  if (!ps_domain(n, kappa)) return kNaN;
  const real beta = (static_cast<real>(n) - 1) / 2, k = kappa;
  return static_cast<double>(-((2 * beta + k) * kLog2 + beta * kLogPi - delta_lgamma(beta + k, beta)));
}

double power_spherical_log_norm_dkappa(double n, double kappa) {
  if (!ps_domain(n, kappa)) return kNaN;
  const real beta = (static_cast<real>(n) - 1) / 2;
  return static_cast<double>(-kLog2 + delta_psi(beta + kappa, beta));
}

double power_spherical_entropy(double n, double kappa) {
  if (!ps_domain(n, kappa)) return kNaN;
  const real beta = (static_cast<real>(n) - 1) / 2;
  if (kappa <= beta) return static_cast<double>(log_area(n) - ps_kl(n, kappa));
  return static_cast<double>(ps_entropy_direct(beta, kappa));
}

double power_spherical_entropy_dkappa(double n, double kappa) {
  if (!ps_domain(n, kappa)) return kNaN;
  const real beta = (static_cast<real>(n) - 1) / 2;
  return static_cast<double>(-kappa * delta_psi1(beta + kappa, beta));
}

double kl_power_spherical_uniform(double n, double kappa) {
  if (!ps_domain(n, kappa)) return kNaN;
  const real kl = ps_kl(n, kappa);
  return static_cast<double>(kl > 0 ? kl : 0);
}

double log_sphere_area(double n) {
  if (!(n >= 1) || !std::isfinite(n)) return kNaN;
  return static_cast<double>(log_area(n));
}

}  // namespace vaec::rt
