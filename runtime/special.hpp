// Special functions of the von Mises–Fisher distribution on S^{n−1} ⊂ R^n (Bessel ratio, log normalizer, KL to uniform), in double.
#pragma once

namespace vaec::rt {

// All functions take the ambient dimension n (any real n ≥ 2; the sphere is S^{n−1}) and
// the concentration κ ≥ 0, and are accurate to a relative 1e-6 or better (measured: about
// 1e-13 against mpmath) for n ∈ [2, 1000], κ ∈ [1e-6, 1e5]. κ = 0 gives the uniform limit.
// Arguments outside the domain (n < 2, κ < 0, NaN) give NaN.

// A_n(κ) = I_{n/2}(κ) / I_{n/2−1}(κ): the mean resultant length E[μᵀz] of vMF(μ, κ).
double bessel_ratio(double n, double kappa);

// A_n′(κ) = dA_n/dκ = 1 − A_n(κ)² − (n − 1) A_n(κ)/κ  (= Var[μᵀz]); A_n′(0) = 1/n.
double bessel_ratio_derivative(double n, double kappa);

// log C_n(κ), C_n(κ) = κ^{n/2−1} / ((2π)^{n/2} I_{n/2−1}(κ)), the vMF density's normalizing
// constant w.r.t. the surface measure; d log C_n/dκ = −A_n(κ). log C_n(0) = −log |S^{n−1}|.
double log_vmf_normalizer(double n, double kappa);

// KL(vMF(μ, κ) ‖ uniform on S^{n−1}) = κ A_n(κ) + log C_n(κ) − log C_n(0) ≥ 0;
// ≈ κ²/(2n) − 3κ⁴/(4n²(n+2)) for small κ, accurate to 1e-9 absolute there.
double kl_vmf_uniform(double n, double kappa);

}  // namespace vaec::rt
