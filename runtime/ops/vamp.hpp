// A prior that is an equally weighted mixture of K members of q's own family,
//   log p(z) = log (1/K) Σ_k q(z | λ_k),
// whose component parameters λ_k are the columns of [rows × K] inputs (extent::fixed):
// the VampPrior (Tomczak & Welling 2018, eq. 9), λ_k = the encoder at pseudo-input u_k.
// Inputs {z, λ…} in the family's order (Normal: loc, scale; VonMisesFisher and
// PowerSpherical: mean, concentration; StudentT: df, loc, scale); a component parameter
// may also be shared (one column, the same for every component). Output: log p(z) per
// column [1 × C] of z [n × C]; the node's `cols` is K and its `attr` n.
//
// The component log-densities L [K × C] are matrix products (one GEMM each instead of K·C
// dot products), reduced by a log-sum-exp in double per column:
//   out_c = m_c + log Σ_k exp(L_kc − m_c) − log K,  m_c = max_k L_kc,
// so components thousands of nats apart are exact (the far ones contribute exp(−huge) = 0).
// The responsibilities r_kc = exp(L_kc + log(1/K) − out_c) (Σ_k r_kc = 1) stay in aux; the
// backward pass works from W_kc = G_c r_kc (G the upstream gradient) and w_k = Σ_c W_kc:
//   Normal   P = 1/σ², M = μ/σ² [n × K]:
//            L = −Σ_i log σ_ki − (n/2) log 2π − ½ max(0, Pᵀz² − 2 Mᵀz + Σ_i μ_ki M_ki)
//            dz = M·W − z ⊙ (P·W),  dμ = P ⊙ (z·Wᵀ) − M ⊙ w,
//            dσ = (P ⊙ (z²·Wᵀ − 2 μ ⊙ (z·Wᵀ) + μ² ⊙ w) − w) / σ
//            (the quadratic form's terms grow as (|z|² + |μ|²)/σ², and in float its rounding
//            is about 6e-8 of that: 1e-4 nats at |z|, |μ| ≈ 3 and σ = 0.1. So it is clamped at
//            0, and each column's nearest component, which dominates the sum, is computed
//            again in the difference form (z − μ)/σ in double: exact wherever one component
//            dominates, e.g. next to a component 1e4 from the origin)
//   vMF      L = log C_n(κ_k) + κ_k μ_kᵀz:  dz = (κμ)·W,  dμ = κ ⊙ (z·Wᵀ),
//            dκ_k = Σ_i μ_ki (z·Wᵀ)_ki − A_n(κ_k) w_k
//   PowerSpherical  s = μᵀz [K × C], L = log N(κ_k) + κ_k log(1 + s):  with
//            V = W ⊙ κ/(1 + s): dz = μ·V,  dμ = z·Vᵀ,  dκ_k = Σ_c W_kc log(1 + s_kc) + w_k (log N)′(κ_k)
//   StudentT no matrix form (a log per coordinate): n·K·C log-densities per pass, each as
//            op_studentt_logpdf computes it, in double.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/ops/exec.hpp"
#include "runtime/ops/logsumexp.hpp"
#include "runtime/ops/studentt.hpp"
#include "runtime/special.hpp"
#include "runtime/special_families.hpp"

namespace vaec::rt {

enum class vamp_family { normal, von_mises_fisher, power_spherical, student_t };

namespace vamp_detail {

inline std::size_t aligned(std::size_t n) { return (n + 15) / 16 * 16; }

// op_vamp's buffers as offsets (in elements, each 64-byte aligned) into its aux (forward:
// the responsibilities, then per-family matrices and per-component numbers) and scratch
// (backward; its start is give()'s own buffer), for n rows, K components and C columns.
struct layout {
  std::size_t resp = 0, a = 0, b = 0, c = 0, d = 0, e = 0, aux = 0;
  std::size_t w = 0, dz = 0, tmp = 0, g1 = 0, g2 = 0, g3 = 0, scratch = 0;
  layout(int n_, int K_, int C_) {
    const auto n = static_cast<std::size_t>(n_), K = static_cast<std::size_t>(K_), C = static_cast<std::size_t>(C_);
    std::size_t at = 0;
    auto take = [&](std::size_t size) {
      const std::size_t here = at;
      at += aligned(size);
      return here;
    };
    resp = take(K * C);
    a = take(n * K);
    b = take(n * K);
    c = take(std::max(n, K) * C);
    d = take(K);
    e = take(K);
    aux = at;
    at = 0;
    take(std::max(n * C, n * K));  // give()'s buffer
    w = take(K * C);
    dz = take(n * C);
    tmp = take(n * C);
    g1 = take(n * K);
    g2 = take(n * K);
    g3 = take(n * K);
    scratch = at;
  }
};

}  // namespace vamp_detail

template <vamp_family F>
struct op_vamp {
  template <class T>
  static tensor<T> part(const tensor<T>& buffer, std::size_t offset, int rows, int cols) {
    return {buffer.data + offset, rows, cols};
  }
  static std::size_t ix(int i, int j, int rows) {
    return static_cast<std::size_t>(j) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(i);
  }
  // Input `slot` as a [out.rows × K] matrix (a shared input repeated for every component).
  template <class T>
  static void spread(exec<T>& ex, int self, int slot, const tensor<T>& out) {
    const tensor<T>& t = ex.in(self, slot);
    for (int k = 0; k < out.cols; ++k)
      for (int i = 0; i < out.rows; ++i) out.data[ix(i, k, out.rows)] = at(t, i, k);
  }

  // L [K × C] → out (log (1/K) Σ_k exp L_kc) and, in place, the responsibilities.
  template <class T>
  static void reduce(const tensor<T>& L, const tensor<T>& out) {
    const int K = L.rows, C = L.cols;
    const double log_K = std::log(static_cast<double>(K));
    for (int c = 0; c < C; ++c) {
      // Every component −∞ (or a NaN): the value stays so, and the objective reports it.
      const double value = logsumexp_responsibilities(L.data + ix(0, c, K), K);
      out.data[c] = static_cast<T>(std::isfinite(value) ? value - log_K : value);
    }
  }

  template <class T>
  static void forward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& aux = ex.aux[static_cast<std::size_t>(self)];
    const tensor<T>& z = ex.in(self, 0);
    const int n = static_cast<int>(nd.attr), K = nd.cols, C = out.cols;
    const vamp_detail::layout lay(n, K, C);
    const tensor<T> L = part(aux, lay.resp, K, C);
    const tensor<T> A = part(aux, lay.a, n, K), B = part(aux, lay.b, n, K);
    const tensor<T> D = part(aux, lay.d, K, 1), E = part(aux, lay.e, K, 1);
    if constexpr (F == vamp_family::normal) {
      // A = P = 1/σ², B = M = μ/σ², c = z², D = −Σ log σ − (n/2) log 2π, E = Σ μ²/σ².
      const tensor<T> Z2 = part(aux, lay.c, n, C);
      constexpr double half_log_2pi = 0.91893853320467274178032973640562;
      const tensor<T>&loc = ex.in(self, 1), &scale = ex.in(self, 2);
      for (int k = 0; k < K; ++k) {
        double log_sigma = 0, quad = 0;
        for (int i = 0; i < n; ++i) {
          const double s = static_cast<double>(at(scale, i, k)), m = static_cast<double>(at(loc, i, k));
          log_sigma += std::log(s);
          quad += (m / s) * (m / s);
          A.data[ix(i, k, n)] = static_cast<T>(1 / (s * s));
          B.data[ix(i, k, n)] = static_cast<T>(m / (s * s));
        }
        D.data[k] = static_cast<T>(-log_sigma - n * half_log_2pi);
        E.data[k] = static_cast<T>(quad);
      }
      Z2.a() = z.a().square();
      gemm(true, false, T(1), A, Z2, T(0), L);
      gemm(true, false, T(-2), B, z, T(1), L);
      for (int c = 0; c < C; ++c) {
        int top = 0;
        for (int k = 0; k < K; ++k) {
          T& l = L.data[ix(k, c, K)];
          l = D.data[k] - T(0.5) * std::max(T(0), l + E.data[k]);
          if (l > L.data[ix(top, c, K)]) top = k;
        }
        // The nearest component, which dominates the sum, once more in the difference form
        // in double: exact however far z and μ lie from 0.
        double q = 0;
        for (int i = 0; i < n; ++i) {
          const double u = (static_cast<double>(z.data[ix(i, c, n)]) - static_cast<double>(at(loc, i, top))) /
                           static_cast<double>(at(scale, i, top));
          q += u * u;
        }
        L.data[ix(top, c, K)] = static_cast<T>(static_cast<double>(D.data[top]) - 0.5 * q);
      }
    } else if constexpr (F == vamp_family::von_mises_fisher || F == vamp_family::power_spherical) {
      // A = μ, D = log normalizer, E = κ; vMF: B = κμ; Power Spherical: c = s = μᵀz.
      spread(ex, self, 1, A);
      const tensor<T>& conc = ex.in(self, 2);
      for (int k = 0; k < K; ++k) {
        const double kappa = static_cast<double>(at(conc, 0, k));
        E.data[k] = static_cast<T>(kappa);
        D.data[k] = static_cast<T>(F == vamp_family::power_spherical ? power_spherical_log_norm(n, kappa)
                                                                     : log_vmf_normalizer(n, kappa));
        if constexpr (F == vamp_family::von_mises_fisher)
          for (int i = 0; i < n; ++i) B.data[ix(i, k, n)] = static_cast<T>(kappa * static_cast<double>(A.data[ix(i, k, n)]));
      }
      if constexpr (F == vamp_family::von_mises_fisher) {
        gemm(true, false, T(1), B, z, T(0), L);
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < K; ++k) L.data[ix(k, c, K)] += D.data[k];
      } else {
        const tensor<T> S = part(aux, lay.c, K, C);
        gemm(true, false, T(1), A, z, T(0), S);
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < K; ++k)
            L.data[ix(k, c, K)] = static_cast<T>(static_cast<double>(D.data[k]) +
                                                 static_cast<double>(E.data[k]) * std::log1p(static_cast<double>(S.data[ix(k, c, K)])));
      }
    } else {
      const tensor<T>&df = ex.in(self, 1), &loc = ex.in(self, 2), &scale = ex.in(self, 3);
      memo<studentt_log_norm> cn;
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < K; ++k) {
          double s = 0;
          for (int i = 0; i < n; ++i) s += element(z, df, loc, scale, i, k, c, cn(static_cast<double>(at(df, i, k))), false).value;
          L.data[ix(k, c, K)] = static_cast<T>(s);
        }
    }
    reduce(L, out);
  }

  template <class T>
  static op_studentt_logpdf::element element(const tensor<T>& z, const tensor<T>& df, const tensor<T>& loc,
                                             const tensor<T>& scale, int i, int k, int c, double norm, bool derivatives) {
    const double sigma = static_cast<double>(at(scale, i, k));
    const double u = (static_cast<double>(at(z, i, c)) - static_cast<double>(at(loc, i, k))) / sigma;
    const double log_u = std::isfinite(u) || std::isnan(u) ? NAN : INFINITY;
    return op_studentt_logpdf::at_u(u, log_u, static_cast<double>(at(df, i, k)), sigma, norm, derivatives);
  }

  template <class T>
  static void backward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& aux = ex.aux[static_cast<std::size_t>(self)];
    const tensor<T>& sc = ex.scratch[static_cast<std::size_t>(self)];
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>& z = ex.in(self, 0);
    const int n = static_cast<int>(nd.attr), K = nd.cols, C = out.cols;
    const vamp_detail::layout lay(n, K, C);
    const tensor<T> R = part(aux, lay.resp, K, C);
    const tensor<T> A = part(aux, lay.a, n, K), B = part(aux, lay.b, n, K);
    const tensor<T> E = part(aux, lay.e, K, 1);
    const tensor<T> W = part(sc, lay.w, K, C), dz = part(sc, lay.dz, n, C), tmp = part(sc, lay.tmp, n, C);
    const tensor<T> g1 = part(sc, lay.g1, n, K), g2 = part(sc, lay.g2, n, K), g3 = part(sc, lay.g3, n, K);
    W.a() = R.a() * G.a().replicate(K, 1);
    // w_k = Σ_c W_kc, in double.
    auto w_of = [&](int k) {
      double s = 0;
      for (int c = 0; c < C; ++c) s += static_cast<double>(W.data[ix(k, c, K)]);
      return s;
    };
    if constexpr (F == vamp_family::normal) {
      const tensor<T> Z2 = part(aux, lay.c, n, C);
      const tensor<T>&loc = ex.in(self, 1), &scale = ex.in(self, 2);
      if (ex.wants(self, 0)) {
        gemm(false, false, T(1), B, W, T(0), dz);
        gemm(false, false, T(1), A, W, T(0), tmp);
        dz.a() -= z.a() * tmp.a();
        give(ex, self, 0, dz.a());
      }
      const bool want_mu = ex.wants(self, 1), want_sigma = ex.wants(self, 2);
      if (want_mu || want_sigma) {
        gemm(false, true, T(1), z, W, T(0), g1);                  // z·Wᵀ
        if (want_sigma) gemm(false, true, T(1), Z2, W, T(0), g2);  // z²·Wᵀ
        for (int k = 0; k < K; ++k) {
          const double w = w_of(k);
          for (int i = 0; i < n; ++i) {
            const std::size_t j = ix(i, k, n);
            const double p = static_cast<double>(A.data[j]), m = static_cast<double>(at(loc, i, k));
            const double s = static_cast<double>(at(scale, i, k)), zw = static_cast<double>(g1.data[j]);
            if (want_sigma) g2.data[j] = static_cast<T>((p * (static_cast<double>(g2.data[j]) - 2 * m * zw + m * m * w) - w) / s);
            g1.data[j] = static_cast<T>(p * zw - static_cast<double>(B.data[j]) * w);
          }
        }
        if (want_mu) give(ex, self, 1, g1.a());
        if (want_sigma) give(ex, self, 2, g2.a());
      }
    } else if constexpr (F == vamp_family::von_mises_fisher) {
      if (ex.wants(self, 0)) {
        gemm(false, false, T(1), B, W, T(0), dz);
        give(ex, self, 0, dz.a());
      }
      const bool want_mu = ex.wants(self, 1), want_kappa = ex.wants(self, 2);
      if (want_mu || want_kappa) {
        gemm(false, true, T(1), z, W, T(0), g1);  // z·Wᵀ
        const tensor<T> dk = part(sc, lay.g2, 1, K);
        for (int k = 0; k < K; ++k) {
          const double kappa = static_cast<double>(E.data[k]);
          double dot = 0;
          for (int i = 0; i < n; ++i) dot += static_cast<double>(A.data[ix(i, k, n)]) * static_cast<double>(g1.data[ix(i, k, n)]);
          dk.data[k] = static_cast<T>(dot - bessel_ratio(n, kappa) * w_of(k));
          for (int i = 0; i < n; ++i) g1.data[ix(i, k, n)] = static_cast<T>(kappa * static_cast<double>(g1.data[ix(i, k, n)]));
        }
        if (want_mu) give(ex, self, 1, g1.a());
        if (want_kappa) give(ex, self, 2, dk.a());
      }
    } else if constexpr (F == vamp_family::power_spherical) {
      const tensor<T> S = part(aux, lay.c, K, C);
      const tensor<T> dk = part(sc, lay.g2, 1, K);
      for (int k = 0; k < K; ++k) {
        const double kappa = static_cast<double>(E.data[k]);
        double sum = 0, w = 0;
        for (int c = 0; c < C; ++c) {
          const double wc = static_cast<double>(W.data[ix(k, c, K)]), s = static_cast<double>(S.data[ix(k, c, K)]);
          sum += wc * std::log1p(s);
          w += wc;
          W.data[ix(k, c, K)] = static_cast<T>(wc * kappa / (1 + s));  // V
        }
        dk.data[k] = static_cast<T>(sum + w * power_spherical_log_norm_dkappa(n, kappa));
      }
      if (ex.wants(self, 0)) {
        gemm(false, false, T(1), A, W, T(0), dz);
        give(ex, self, 0, dz.a());
      }
      if (ex.wants(self, 1)) {
        gemm(false, true, T(1), z, W, T(0), g1);
        give(ex, self, 1, g1.a());
      }
      if (ex.wants(self, 2)) give(ex, self, 2, dk.a());
    } else {
      const tensor<T>&df = ex.in(self, 1), &loc = ex.in(self, 2), &scale = ex.in(self, 3);
      // dz [n × C]; dμ = g1, dσ = g2, dν = g3 [n × K], in T, accumulated per component.
      dz.a().setZero();
      g1.a().setZero();
      g2.a().setZero();
      g3.a().setZero();
      memo<studentt_log_norm_ddf> dcn;
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < K; ++k) {
          const double wc = static_cast<double>(W.data[ix(k, c, K)]);
          if (wc == 0) continue;
          for (int i = 0; i < n; ++i) {
            const auto e = element(z, df, loc, scale, i, k, c, 0.0, true);
            dz.data[ix(i, c, n)] += static_cast<T>(wc * e.dv);
            g1.data[ix(i, k, n)] -= static_cast<T>(wc * e.dv);
            g2.data[ix(i, k, n)] += static_cast<T>(wc * e.dsigma);
            g3.data[ix(i, k, n)] += static_cast<T>(wc * (dcn(static_cast<double>(at(df, i, k))) + e.dnu_kernel));
          }
        }
      if (ex.wants(self, 0)) give(ex, self, 0, dz.a());
      if (ex.wants(self, 1)) give(ex, self, 1, g3.a());
      if (ex.wants(self, 2)) give(ex, self, 2, g1.a());
      if (ex.wants(self, 3)) give(ex, self, 3, g2.a());
    }
  }
};

// One component per column, uniformly: out [1 × C], values 0 … K−1 (as T), K = the node's
// `cols`. For prior draws (pictures, `vaec sample`): discrete, so no gradient.
struct op_pick_component {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int K = ex.n(self).cols;
    for (int c = 0; c < out.cols; ++c)
      out.data[c] = static_cast<T>(std::min(K - 1, static_cast<int>(ex.noise->uniform() * K)));
  }
  template <class T>
  static void backward(exec<T>&, int) {}
};

// out[:, c] = λ[:, pick_c]: the picked component's parameters, λ [rows × K] (or shared),
// pick [1 × C] from op_pick_component. Inputs {λ, pick}. No gradient (prior draws only).
struct op_gather_component {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>&lambda = ex.in(self, 0), &pick = ex.in(self, 1);
    for (int c = 0; c < out.cols; ++c) {
      const int k = static_cast<int>(at(pick, 0, c));
      for (int i = 0; i < out.rows; ++i)
        out.data[static_cast<std::size_t>(c) * static_cast<std::size_t>(out.rows) + static_cast<std::size_t>(i)] = at(lambda, i, k);
    }
  }
  template <class T>
  static void backward(exec<T>&, int) {}
};

}  // namespace vaec::rt
