// The learned Gaussian-mixture prior, p(z) = Σ_k w_k N(z; μ_k, diag σ_k²) over R^n with K
// components: its log-density (with exact gradients in z, the means, the scales and the
// weight logits) and ancestral draws for pictures. The mixture's parameters are three
// shared (one-column) inputs: means [n·K] and scales [n·K], component k in rows
// k·n … k·n + n − 1, and logits [K], with w = softmax(logits). Scales arrive positive
// (the lowering passes softplus of a parameter).
#pragma once

#include <boost/random/normal_distribution.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "runtime/ops/exec.hpp"
#include "runtime/ops/logsumexp.hpp"

namespace vaec::rt {

namespace mixture_detail {

// log Σ_k exp(logits_k) in double, the largest subtracted first.
template <class T>
inline double log_sum_exp(const T* logits, int K) {
  double top = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < K; ++k) top = std::max(top, static_cast<double>(logits[k]));
  if (!std::isfinite(top)) return top;
  double s = 0;
  for (int k = 0; k < K; ++k) s += std::exp(static_cast<double>(logits[k]) - top);
  return top + std::log(s);
}

}  // namespace mixture_detail

// Per column c of z [n × C]:
//   ℓ_kc   = log w_k − Σ_i log σ_ki − (n/2) log 2π − ½ Σ_i ((z_ic − μ_ki)/σ_ki)²
//   out_c  = logsumexp_k ℓ_kc = m_c + log Σ_k exp(ℓ_kc − m_c),  m_c = max_k ℓ_kc
//   r_kc   = exp(ℓ_kc − out_c)   (the responsibilities, kept in aux [K × C])
// so components thousands of nats apart cost nothing: the far ones give exp(−huge) = 0.
// With G_c the upstream gradient and a_k = Σ_c G_c r_kc:
//   dz_ic     = G_c Σ_k r_kc (μ_ki − z_ic)/σ_ki²
//   dμ_ki     = Σ_c G_c r_kc (z_ic − μ_ki)/σ_ki²
//   dσ_ki     = Σ_c G_c r_kc ((z_ic − μ_ki)²/σ_ki³ − 1/σ_ki)
//   dlogit_k  = a_k − w_k Σ_c G_c          (softmax: responsibilities less the weights)
// Computed as loops in the difference form (z − μ)/σ with every sum accumulated in double,
// not as the GEMM form Σ_i z²/σ² − 2zμ/σ² + μ²/σ²: that form cancels (its terms grow as
// (|z|² + |μ|²)/σ², so in float training a mean at 1e2 already loses the quadratic form to
// rounding), and the plan's arena holds buffers of T only, with no room for double GEMM
// operands in a step that allocates nothing. Cost n·K·C per pass, as the GEMM's.
struct op_mixture_logpdf {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& resp = ex.aux[static_cast<std::size_t>(self)];
    const tensor<T>& z = ex.in(self, 0);
    const T* mu = ex.in(self, 1).data;
    const T* sg = ex.in(self, 2).data;
    const T* lg = ex.in(self, 3).data;
    const int n = static_cast<int>(ex.n(self).attr), K = ex.in(self, 3).rows, C = out.cols;
    const double log_norm = mixture_detail::log_sum_exp(lg, K);
    constexpr double half_log_2pi = 0.91893853320467274178032973640562;
    for (int k = 0; k < K; ++k) {
      const T* m = mu + static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
      const T* s = sg + static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
      double base = static_cast<double>(lg[k]) - log_norm - n * half_log_2pi;
      for (int i = 0; i < n; ++i) base -= std::log(static_cast<double>(s[i]));
      for (int c = 0; c < C; ++c) {
        double q = 0;
        for (int i = 0; i < n; ++i) {
          const double u = (static_cast<double>(at(z, i, c)) - static_cast<double>(m[i])) / static_cast<double>(s[i]);
          q += u * u;
        }
        resp.data[k + static_cast<std::size_t>(c) * static_cast<std::size_t>(K)] = static_cast<T>(base - 0.5 * q);
      }
    }
    for (int c = 0; c < C; ++c) {
      // Every component −∞ (or a NaN): the value stays so, and the objective reports it.
      out.data[c] = static_cast<T>(
          logsumexp_responsibilities(resp.data + static_cast<std::size_t>(c) * static_cast<std::size_t>(K), K));
    }
  }

  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const T* r = ex.aux[static_cast<std::size_t>(self)].data;
    const T* G = ex.grad[static_cast<std::size_t>(self)].data;
    const tensor<T>& z = ex.in(self, 0);
    const T* mu = ex.in(self, 1).data;
    const T* sg = ex.in(self, 2).data;
    const T* lg = ex.in(self, 3).data;
    const int n = static_cast<int>(ex.n(self).attr), K = ex.in(self, 3).rows, C = out.cols;
    const auto K_ = static_cast<std::size_t>(K), n_ = static_cast<std::size_t>(n);
    auto resp = [&](int k, int c) { return static_cast<double>(r[static_cast<std::size_t>(k) + static_cast<std::size_t>(c) * K_]); };
    if (ex.wants(self, 0)) {
      tensor<T> dz = scratch_of(ex, self, n, C);
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < n; ++i) {
          const double zi = static_cast<double>(at(z, i, c));
          double acc = 0;
          for (int k = 0; k < K; ++k) {
            const std::size_t ki = static_cast<std::size_t>(k) * n_ + static_cast<std::size_t>(i);
            const double s = static_cast<double>(sg[ki]);
            acc += resp(k, c) * (static_cast<double>(mu[ki]) - zi) / (s * s);
          }
          dz.data[static_cast<std::size_t>(i) + static_cast<std::size_t>(c) * n_] = static_cast<T>(static_cast<double>(G[c]) * acc);
        }
      give(ex, self, 0, dz.a());
    }
    const bool want_mu = ex.wants(self, 1), want_sigma = ex.wants(self, 2);
    if (want_mu || want_sigma) {
      tensor<T> dmu = scratch_of(ex, self, n * K, 1);
      tensor<T> dsigma = {ex.scratch[static_cast<std::size_t>(self)].data + n_ * K_, n * K, 1};
      for (int k = 0; k < K; ++k)
        for (int i = 0; i < n; ++i) {
          const std::size_t ki = static_cast<std::size_t>(k) * n_ + static_cast<std::size_t>(i);
          const double m = static_cast<double>(mu[ki]), s = static_cast<double>(sg[ki]);
          double first = 0, second = 0, weight = 0;  // Σ G r (z − μ), Σ G r (z − μ)², Σ G r
          for (int c = 0; c < C; ++c) {
            const double gr = static_cast<double>(G[c]) * resp(k, c);
            const double d = static_cast<double>(at(z, i, c)) - m;
            first += gr * d;
            second += gr * d * d;
            weight += gr;
          }
          dmu.data[ki] = static_cast<T>(first / (s * s));
          dsigma.data[ki] = static_cast<T>(second / (s * s * s) - weight / s);
        }
      if (want_mu) give(ex, self, 1, dmu.a());
      if (want_sigma) give(ex, self, 2, dsigma.a());
    }
    if (ex.wants(self, 3)) {
      tensor<T> dlogits = scratch_of(ex, self, K, 1);
      const double log_norm = mixture_detail::log_sum_exp(lg, K);
      double total = 0;
      for (int c = 0; c < C; ++c) total += static_cast<double>(G[c]);
      for (int k = 0; k < K; ++k) {
        double a = 0;
        for (int c = 0; c < C; ++c) a += static_cast<double>(G[c]) * resp(k, c);
        dlogits.data[k] = static_cast<T>(a - std::exp(static_cast<double>(lg[k]) - log_norm) * total);
      }
      give(ex, self, 3, dlogits.a());
    }
  }
};

// z ~ p(z), ancestrally: per column, a component k with probability w_k (one uniform draw
// against the cumulative weights, in double), then z = μ_k + σ_k·ε, ε ~ N(0, I). For prior
// draws (pictures, `vaec sample`): the choice of k is discrete, so there is no pathwise
// gradient, and a graph that asks for one is refused (std::logic_error).
struct op_sample_mixture {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& z = ex.val[static_cast<std::size_t>(self)];
    const T* mu = ex.in(self, 0).data;
    const T* sg = ex.in(self, 1).data;
    const T* lg = ex.in(self, 2).data;
    const int n = z.rows, K = ex.in(self, 2).rows;
    const double log_norm = mixture_detail::log_sum_exp(lg, K);
    boost::random::normal_distribution<double> normal;
    for (int c = 0; c < z.cols; ++c) {
      rng& noise = ex.column_noise(self, c);
      const double u = noise.uniform();
      double cumulative = 0;
      int k = K - 1;  // where rounding leaves the weights' sum just below u
      for (int j = 0; j < K; ++j) {
        cumulative += std::exp(static_cast<double>(lg[j]) - log_norm);
        if (u < cumulative) {
          k = j;
          break;
        }
      }
      const std::size_t base = static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
      for (int i = 0; i < n; ++i)
        z.data[static_cast<std::size_t>(i) + static_cast<std::size_t>(c) * static_cast<std::size_t>(n)] =
            static_cast<T>(static_cast<double>(mu[base + static_cast<std::size_t>(i)]) +
                           static_cast<double>(sg[base + static_cast<std::size_t>(i)]) * normal(noise));
    }
  }
  template <class T>
  static void backward(exec<T>&, int) {
    throw std::logic_error("sample_mixture: a draw from a Gaussian mixture has no pathwise gradient");
  }
};

}  // namespace vaec::rt
