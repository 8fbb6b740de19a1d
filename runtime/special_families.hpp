// Special functions of the Student-t, Gamma and Power Spherical families, in double:
// what the family ops (runtime/ops/*.hpp) need for log-densities, entropies, KL terms
// and implicit reparameterization gradients. Each is accurate to a relative 1e-10 or
// better over its stated domain, measured against mpmath (tests/runtime/reference/).
// Arguments outside the domain give NaN.
#pragma once

#include "runtime/rng.hpp"

namespace vaec::rt {

// ---- Student-t, standardized (loc 0, scale 1), df = ν ∈ [1e-3, +∞] ---------------------
// (+∞ is the Normal limit, reached exactly: the series in 1/ν vanish there.)

// log of the normalizer: lgamma((ν+1)/2) − lgamma(ν/2) − ½ log(νπ). Tends to −½ log 2π
// as ν → ∞ without cancellation (no difference of two large lgammas).
double studentt_log_norm(double df);
// d/dν of studentt_log_norm: ½ψ((ν+1)/2) − ½ψ(ν/2) − 1/(2ν) (→ +1/(4ν²), no cancellation).
double studentt_log_norm_ddf(double df);
// Entropy of StudentT(ν, 0, 1): (ν+1)/2 [ψ((ν+1)/2) − ψ(ν/2)] + ½ log ν + log B(ν/2, ½);
// tends to ½ log(2πe) as ν → ∞, accurate there to 1e-14 absolute.
double studentt_entropy(double df);
// d/dν of studentt_entropy: (ν+1)/4 [ψ′((ν+1)/2) − ψ′(ν/2)] + 1/(2ν) (→ −1/ν², as the
// entropy → ½ log(2πe) + 1/ν).
double studentt_entropy_ddf(double df);

// (ν+1)/2 · log(1 + u²/ν), the Student-t log-density's kernel, for any u (±∞ gives +∞) and
// ν ∈ (0, ∞]: no overflow of u² (log(1 + u²/ν) = 2 log(|u|/√ν) when that is above 1e100),
// no loss for tiny u²/ν, and ν beyond 1e300 (or +∞) gives the Normal limit u²/2.
double studentt_log_kernel(double u, double df);

// ---- Gamma(α, rate 1), α ∈ [1e-4, 1e8] (the log-ratio draw: α ∈ [1e-4, ∞]) ------------

// One draw of log(G/α), G ~ Gamma(α, 1), for α ∈ [1e-4, +∞] — what the Student-t sampler
// needs (t = ε·exp(−½ log(G/α)) with α = ν/2). Never floored or exponentiated: for small α
// it is log G′ + log U/α − log α (G = G′U^{1/α}, G′ ~ Gamma(α+1)), exact where G itself
// would underflow; for α above 1e8 Marsaglia & Tsang's method is written for log(G/α)
// directly, so its O(α^{−1/2}) spread is kept; α = +∞ gives 0. Draws for α ∈ [1, 1e8] are
// those of gamma_draw.
double gamma_log_ratio_draw(double alpha, rng& r);
// d/dα of log(G/α) at a fixed quantile level (the implicit reparameterization gradient of
// gamma_draw_dalpha, divided by G, less 1/α), from the draw's log(G/α). Below G = 1e-100 the
// small-g expansion of P(α, g); above α = 1e8 the leading Wilson–Hilferty term
// −log(G/α)/(2α) (relative error O(α^{−1/2}) of a derivative that is itself O(α^{−3/2})).
double gamma_log_ratio_dalpha(double alpha, double log_ratio);

// One draw, in double, never 0 or denormal (at least 1e-300 — for small α the draw is
// made in log space: G = G′·U^{1/α}, G′ ~ Gamma(α + 1)).
double gamma_draw(double alpha, rng& r);
// The implicit reparameterization gradient (Figurnov, Mohamed & Mnih 2018) of a draw g:
// dg/dα = −(∂P(α, g)/∂α) / p(g; α), P the regularized lower incomplete gamma function
// and p the Gamma density. Equals d/dα of the quantile P⁻¹(α, u) at the fixed u = P(α, g).
double gamma_draw_dalpha(double alpha, double g);

// ---- Power Spherical on S^{n−1} ⊂ R^n (De Cao & Aziz 2020), n ∈ [2, 1e4], κ ∈ [0, 1e8] --
// With α = (n−1)/2 + κ and β = (n−1)/2, the density is C·(1 + μᵀz)^κ with
// log C = −[(α+β) log 2 + β log π + lgamma(α) − lgamma(α+β)].

double power_spherical_log_norm(double n, double kappa);
// d/dκ log C = −log 2 − ψ(α) + ψ(α+β).
double power_spherical_log_norm_dkappa(double n, double kappa);
// Entropy: −log C − κ (log 2 + ψ(α) − ψ(α+β)).
double power_spherical_entropy(double n, double kappa);
// d/dκ of the entropy: −κ (ψ′(α) − ψ′(α+β)).
double power_spherical_entropy_dkappa(double n, double kappa);
// KL(PowerSpherical(μ, κ) ‖ uniform on S^{n−1}) = log|S^{n−1}| − entropy ≥ 0, accurate to
// 1e-12 absolute for small κ (where it is a difference of large terms).
double kl_power_spherical_uniform(double n, double kappa);

// log of the surface area of S^{n−1}: log 2 + (n/2) log π − lgamma(n/2); any finite n ≥ 1.
double log_sphere_area(double n);

}  // namespace vaec::rt
