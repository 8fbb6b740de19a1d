// Families on the sphere S^{n−1} ⊂ R^n: von Mises–Fisher, Power Spherical and the uniform
// distribution. Samplers draw w = μᵀz (the only coordinate that depends on the
// concentration) and a uniform tangent direction v, form z′ = (w, √(1−w²)·v), and map e₁
// to μ by an orthogonal reflection. Everything per column runs in double.
//
// The reflection: with σ = +1 when μ₀ ≥ 0 and −1 otherwise, u = e₁ + σμ and
// Q = −σ(I − 2uuᵀ/uᵀu), so Q e₁ = μ. Choosing the sign keeps uᵀu = 2 + 2|μ₀| ≥ 2 for a
// unit μ: the usual u = e₁ − μ cancels when μ is near e₁. Any orthogonal Q with Q e₁ = μ
// gives the same distribution, the tangent direction being uniform.
#pragma once

#include <boost/random/beta_distribution.hpp>
#include <boost/random/normal_distribution.hpp>

#include <cmath>

#include "runtime/ops/exec.hpp"
#include "runtime/special.hpp"
#include "runtime/special_families.hpp"

namespace vaec::rt {

namespace sphere {

inline std::size_t idx(int i, int j, int rows) {
  return static_cast<std::size_t>(j) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(i);
}

// Draws the tangent direction, writes z′ = (w, r·v) into zp and z = Q z′ into z (n each).
template <class T>
void place(rng& noise, double w, double r, const T* mu, int n, T* zp, T* z) {
  boost::random::normal_distribution<double> normal;
  double norm2 = 0;
  while (n > 1 && !(norm2 > 0)) {
    norm2 = 0;
    for (int i = 1; i < n; ++i) {
      const double e = normal(noise);
      zp[i] = static_cast<T>(e);
      norm2 += e * e;
    }
  }
  const double f = n > 1 ? r / std::sqrt(norm2) : 0.0;
  zp[0] = static_cast<T>(w);
  for (int i = 1; i < n; ++i) zp[i] = static_cast<T>(static_cast<double>(zp[i]) * f);
  const double sigma = mu[0] >= T(0) ? 1.0 : -1.0;
  double q = 0, s = 0;
  for (int i = 0; i < n; ++i) {
    const double u = (i == 0 ? 1.0 : 0.0) + sigma * static_cast<double>(mu[i]);
    q += u * u;
    s += u * static_cast<double>(zp[i]);
  }
  const double c = 2 * s / q;
  for (int i = 0; i < n; ++i) {
    const double u = (i == 0 ? 1.0 : 0.0) + sigma * static_cast<double>(mu[i]);
    z[i] = static_cast<T>(-sigma * (static_cast<double>(zp[i]) - c * u));
  }
}

// The backward pass shared by the samplers. aux per column: [z′ (n) ; dw/dκ ; score ; r ; dκ].
// dμ = 2[(Gᵀu/q) z′ + (s/q) G − 2 s (Gᵀu)/q² u],  dz′ = −σ(G − 2u (uᵀG)/q),
// dw = dz′₀ − (w/r) Σ_{i≥1} dz′_i z′_i / r,  dκ = dw·dw/dκ + ℓ·score (the rejection
// correction, ℓ the column's loss less a baseline).
template <class T>
void backward(exec<T>& ex, int self) {
  const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
  const tensor<T>& aux = ex.aux[static_cast<std::size_t>(self)];
  const tensor<T>& mean = ex.in(self, 0);
  const int n = G.rows, C = G.cols;
  const bool want_mu = ex.wants(self, 0), want_kappa = ex.wants(self, 1);
  const bool correct = want_kappa && ex.settings.rejection_correction && !ex.column_loss.empty();
  tensor<T> dmu = want_mu ? scratch_of(ex, self, n, C) : tensor<T>{};
  for (int j = 0; j < C; ++j) {
    const T* g = G.data + idx(0, j, n);
    T* zp = aux.data + idx(0, j, n + 4);
    const T* mu = mean.data + idx(0, j % mean.cols, n);
    const double sigma = mu[0] >= T(0) ? 1.0 : -1.0;
    auto u = [&](int i) { return (i == 0 ? 1.0 : 0.0) + sigma * static_cast<double>(mu[i]); };
    double q = 0, s = 0, gu = 0;
    for (int i = 0; i < n; ++i) {
      q += u(i) * u(i);
      s += u(i) * static_cast<double>(zp[i]);
      gu += u(i) * static_cast<double>(g[i]);
    }
    if (want_mu)
      for (int i = 0; i < n; ++i)
        dmu.data[idx(i, j, n)] = static_cast<T>(
            2 * (gu / q * static_cast<double>(zp[i]) + s / q * static_cast<double>(g[i]) - 2 * s * gu / (q * q) * u(i)));
    if (!want_kappa) continue;
    // dz′ = −σ(G − 2u·(uᵀG)/q), and z′ depends on κ through w only.
    const double w = static_cast<double>(zp[0]), r = static_cast<double>(zp[n + 2]);
    double dw = -sigma * (static_cast<double>(g[0]) - 2 * u(0) * gu / q);
    if (r > 0) {
      double t = 0;
      for (int i = 1; i < n; ++i) t += -sigma * (static_cast<double>(g[i]) - 2 * u(i) * gu / q) * static_cast<double>(zp[i]);
      dw -= w / (r * r) * t;
    }
    double dk = dw * static_cast<double>(zp[n]);
    if (correct) dk += ex.column_loss[static_cast<std::size_t>(j)] * static_cast<double>(zp[n + 1]);
    zp[n + 3] = static_cast<T>(dk);
  }
  if (want_mu) give(ex, self, 0, dmu.a());
  if (want_kappa) {
    tensor<T> d = scratch_of(ex, self, 1, C);
    for (int j = 0; j < C; ++j) d.data[j] = aux.data[idx(n + 3, j, n + 4)];
    give(ex, self, 1, d.a());
  }
}

// A column that cannot be sampled (a concentration that is not a positive finite number):
// NaN, which the objective reports as a non-finite term.
template <class T>
void poison(T* zp, T* z, int n) {
  for (int i = 0; i < n + 4; ++i) zp[i] = static_cast<T>(i < n ? NAN : 0.0);
  for (int i = 0; i < n; ++i) z[i] = static_cast<T>(NAN);
}

// What a sampler draws for one column: w = μᵀz, r = √(1 − w²), dw/dκ, and the score of a
// rejection step (0 without one).
struct draw {
  double w, r, wprime, score;
};

// The column loop both samplers share: reads κ and μ per column, draws w by `draw_w(κ)`,
// then the tangent direction and the reflection, and keeps what backward() needs in aux.
// A concentration for which `valid(κ)` fails gives a NaN column.
template <class T, class Valid, class Draw>
void sample_columns(exec<T>& ex, int self, Valid valid, Draw draw_w) {
  const tensor<T>& z = ex.val[static_cast<std::size_t>(self)];
  const tensor<T>& aux = ex.aux[static_cast<std::size_t>(self)];
  const tensor<T>&mean = ex.in(self, 0), &conc = ex.in(self, 1);
  const int n = z.rows;
  for (int j = 0; j < z.cols; ++j) {
    T* zp = aux.data + idx(0, j, n + 4);
    T* zj = z.data + idx(0, j, n);
    const T* mu = mean.data + idx(0, j % mean.cols, n);
    const double kappa = static_cast<double>(at(conc, 0, j));
    if (!valid(kappa) || !std::isfinite(kappa)) {
      poison(zp, zj, n);
      continue;
    }
    rng& noise = ex.column_noise(self, j);
    const draw d = draw_w(kappa, noise);
    place(noise, d.w, d.r, mu, n, zp, zj);
    zp[n] = static_cast<T>(d.wprime);
    zp[n + 1] = static_cast<T>(d.score);
    zp[n + 2] = static_cast<T>(d.r);
  }
}

}  // namespace sphere

// z ~ vMF(μ, κ). n = 3: the exact inverse CDF, w = 1 + log(1 + (1−u)(e^{−2κ} − 1))/κ.
// Otherwise Wood's (1994) rejection sampler: ε ~ Beta((n−1)/2, (n−1)/2),
// w = (1 − (1+b)ε)/(1 − (1−b)ε), accepted when (n−1) log t − t + d ≥ log U,
// b = (n−1)/(2κ + √(4κ² + (n−1)²)), a = (n−1 + 2κ + √(4κ² + (n−1)²))/4, t = 2ab/(1 − (1−b)ε),
// d = 4ab/(1+b) − (n−1) log(n−1).
// The gradient in κ is pathwise through w = h(ε, κ) plus the correction for the rejection
// step (Naesseth et al. 2017; Davidson et al. 2018, appendix): the score of the accepted ε,
// d/dκ log[g(h(ε,κ)|κ) |∂h/∂ε|] = −A_n(κ) + w + (κ − (n−3)w/(1−w²))·dw/dκ + b′(1/b − 2ε/D),
// g the density of w, D = 1 − (1−b)ε, dw/dκ = −2ε(1−ε)/D² · b′, b′ = −2b/√(4κ² + (n−1)²).
struct op_sample_vmf {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const int n = ex.val[static_cast<std::size_t>(self)].rows;
    const double m = n - 1;
    boost::random::beta_distribution<double> beta(m / 2, m / 2);
    auto positive = [](double kappa) { return kappa > 0; };
    sphere::sample_columns(ex, self, positive, [&](double kappa, rng& noise) {
      sphere::draw d{0, 0, 0, 0};
      if (n == 3) {
        const double u = noise.uniform();
        if (kappa < 1e-5) {
          // w = 1 − 2a + 2a(1−a)κ + O(κ²), a = 1 − u
          const double a = 1 - u;
          d.w = 1 - 2 * a + 2 * a * (1 - a) * kappa;
          d.wprime = 2 * a * (1 - a) + 2 * (-4 * a / 3 + 4 * a * a - 8 * a * a * a / 3) * kappa;
        } else {
          const double e = std::expm1(-2 * kappa);  // e^{−2κ} − 1
          const double L = std::log1p((1 - u) * e);
          d.w = 1 + L / kappa;
          d.wprime = -L / (kappa * kappa) + (-2 * (1 - u) * std::exp(-2 * kappa)) / (kappa * (1 + (1 - u) * e));
        }
        d.w = std::clamp(d.w, -1.0, 1.0);
        d.r = std::sqrt(std::max(0.0, (1 - d.w) * (1 + d.w)));
        return d;
      }
      const double root = std::sqrt(4 * kappa * kappa + m * m);
      const double b = m / (2 * kappa + root);
      const double bprime = -2 * b / root;
      const double a = (m + 2 * kappa + root) / 4;
      const double dd = 4 * a * b / (1 + b) - m * std::log(m);
      double eps = 0.5, D = 1;
      for (int tries = 0;; ++tries) {
        eps = beta(noise);
        D = 1 - (1 - b) * eps;
        const double t = 2 * a * b / D;
        const double u = noise.uniform();
        if (m * std::log(t) - t + dd >= std::log(u) || tries >= 1000) break;
      }
      d.w = (1 - (1 + b) * eps) / D;
      const double one_minus_w2 = 4 * b * eps * (1 - eps) / (D * D);  // (1−w)(1+w) without cancelling
      d.r = std::sqrt(one_minus_w2);
      d.wprime = -2 * eps * (1 - eps) / (D * D) * bprime;
      d.score = -bessel_ratio(n, kappa) + d.w + (kappa - (n - 3) * d.w / one_minus_w2) * d.wprime +
                bprime * (1 / b - 2 * eps / D);
      if (!std::isfinite(d.score)) d.score = 0;  // ε at 0 or 1 exactly: a set of measure zero
      return d;
    });
  }
  template <class T>
  static void backward(exec<T>& ex, int self) { sphere::backward(ex, self); }
};

// z ~ PowerSpherical(μ, κ) (De Cao & Aziz 2020): t ~ Beta(α, β), α = (n−1)/2 + κ,
// β = (n−1)/2, drawn as G₁/(G₁ + G₂) with G₁ ~ Gamma(α), G₂ ~ Gamma(β); w = 2t − 1.
// dw/dκ = 2·G₂/(G₁+G₂)² · dG₁/dα (implicit reparameterization of G₁); no rejection.
struct op_sample_power_spherical {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const double beta = 0.5 * (ex.val[static_cast<std::size_t>(self)].rows - 1);
    const bool learn = ex.wants(self, 1);
    auto non_negative = [](double kappa) { return kappa >= 0; };
    sphere::sample_columns(ex, self, non_negative, [&](double kappa, rng& noise) {
      const double alpha = beta + kappa;
      const double g1 = gamma_draw(alpha, noise), g2 = gamma_draw(beta, noise);
      const double sum = g1 + g2;
      const double wprime = learn ? 2 * g2 / (sum * sum) * gamma_draw_dalpha(alpha, g1) : 0.0;
      return sphere::draw{(g1 - g2) / sum, 2 * std::sqrt(g1 * g2) / sum, wprime, 0.0};
    });
  }
  template <class T>
  static void backward(exec<T>& ex, int self) { sphere::backward(ex, self); }
};

// z = ε/‖ε‖, ε ~ N(0, I): uniform on the sphere. No inputs, no gradient.
struct op_sample_sphere_uniform {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& z = ex.val[static_cast<std::size_t>(self)];
    boost::random::normal_distribution<double> normal;
    for (int j = 0; j < z.cols; ++j) {
      T* c = z.data + sphere::idx(0, j, z.rows);
      rng& noise = ex.column_noise(self, j);
      double norm2 = 0;
      while (!(norm2 > 0)) {
        norm2 = 0;
        for (int i = 0; i < z.rows; ++i) {
          const double e = normal(noise);
          c[i] = static_cast<T>(e);
          norm2 += e * e;
        }
      }
      const double f = 1 / std::sqrt(norm2);
      for (int i = 0; i < z.rows; ++i) c[i] = static_cast<T>(static_cast<double>(c[i]) * f);
    }
  }
  template <class T>
  static void backward(exec<T>&, int) {}
};

// A density of the form f(κ) + k(κ)·φ(μᵀz) per column, for vMF (φ(s) = s, f = log C_n)
// and Power Spherical (φ(s) = log(1 + s), f = log C). Inputs {z, μ, κ}.
// dz = G·k·φ′(s)·μ,  dμ = G·k·φ′(s)·z,  dκ = G·(f′(κ) + φ(s)).
template <bool power>
struct sphere_logpdf {
  static double f(double n, double kappa) {
    return power ? power_spherical_log_norm(n, kappa) : log_vmf_normalizer(n, kappa);
  }
  static double fprime(double n, double kappa) {
    return power ? power_spherical_log_norm_dkappa(n, kappa) : -bessel_ratio(n, kappa);
  }
  static double phi(double s) { return power ? std::log1p(s) : s; }
  static double dphi(double s) { return power ? 1 / (1 + s) : 1.0; }

  template <class T>
  static double dot(const tensor<T>& z, const tensor<T>& mu, int j, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += static_cast<double>(at(z, i, j)) * static_cast<double>(at(mu, i, j));
    return s;
  }
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&z = ex.in(self, 0), &mu = ex.in(self, 1), &conc = ex.in(self, 2);
    const double f1 = conc.size() == 1 ? f(n, static_cast<double>(conc.data[0])) : 0.0;
    for (int j = 0; j < out.cols; ++j) {
      const double kappa = static_cast<double>(at(conc, 0, j));
      out.data[j] = static_cast<T>((conc.size() == 1 ? f1 : f(n, kappa)) + kappa * phi(dot(z, mu, j, n)));
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>&z = ex.in(self, 0), &mu = ex.in(self, 1), &conc = ex.in(self, 2);
    for (int slot = 0; slot < 2; ++slot) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, n, C);
      const tensor<T>& other = slot == 0 ? mu : z;
      for (int j = 0; j < C; ++j) {
        const double kappa = static_cast<double>(at(conc, 0, j));
        const double c = static_cast<double>(G.data[j]) * kappa * dphi(dot(z, mu, j, n));
        for (int i = 0; i < n; ++i) d.data[sphere::idx(i, j, n)] = static_cast<T>(c * static_cast<double>(at(other, i, j)));
      }
      give(ex, self, slot, d.a());
    }
    if (ex.wants(self, 2)) {
      tensor<T> d = scratch_of(ex, self, 1, C);
      for (int j = 0; j < C; ++j) {
        const double kappa = static_cast<double>(at(conc, 0, j));
        d.data[j] = static_cast<T>(static_cast<double>(G.data[j]) * (fprime(n, kappa) + phi(dot(z, mu, j, n))));
      }
      give(ex, self, 2, d.a());
    }
  }
};
struct op_vmf_logpdf : sphere_logpdf<false> {};
struct op_power_spherical_logpdf : sphere_logpdf<true> {};

// A per-column function of the concentration alone: out = F::f(n, κ), dκ = G·F::df(n, κ).
template <class F>
struct kappa_function {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const double n = ex.n(self).attr;
    const tensor<T>& conc = ex.in(self, 0);
    for (int j = 0; j < out.cols; ++j) out.data[j] = static_cast<T>(F::f(n, static_cast<double>(at(conc, 0, j))));
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const double n = ex.n(self).attr;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>& conc = ex.in(self, 0);
    tensor<T> d = scratch_of(ex, self, 1, out.cols);
    for (int j = 0; j < out.cols; ++j)
      d.data[j] = static_cast<T>(static_cast<double>(G.data[j]) * F::df(n, static_cast<double>(at(conc, 0, j))));
    give(ex, self, 0, d.a());
  }
};

// H[vMF] = −log C_n(κ) − κ A_n(κ) = log|S^{n−1}| − KL(vMF ‖ uniform);  dH/dκ = −κ A_n′(κ).
// Through the KL: −log C_n(κ) ≈ κ and κA_n(κ) ≈ κ cancel to O(n log κ), losing log10 κ
// digits at large κ (4.7e-11 absolute at n = 3, κ = 1e6), which kl_vmf_uniform does not.
struct vmf_entropy_fn {
  static double f(double n, double k) { return log_sphere_area(n) - kl_vmf_uniform(n, k); }
  static double df(double n, double k) { return -k * bessel_ratio_derivative(n, k); }
};
// KL(vMF ‖ uniform) = κ A_n(κ) + log C_n(κ) − log C_n(0);  d/dκ = κ A_n′(κ).
struct kl_vmf_uniform_fn {
  static double f(double n, double k) { return kl_vmf_uniform(n, k); }
  static double df(double n, double k) { return k * bessel_ratio_derivative(n, k); }
};
struct power_spherical_entropy_fn {
  static double f(double n, double k) { return power_spherical_entropy(n, k); }
  static double df(double n, double k) { return power_spherical_entropy_dkappa(n, k); }
};
// KL(PS ‖ uniform) = log|S^{n−1}| − H;  d/dκ = −dH/dκ.
struct kl_power_spherical_uniform_fn {
  static double f(double n, double k) { return kl_power_spherical_uniform(n, k); }
  static double df(double n, double k) { return -power_spherical_entropy_dkappa(n, k); }
};
struct op_vmf_entropy : kappa_function<vmf_entropy_fn> {};
struct op_kl_vmf_uniform : kappa_function<kl_vmf_uniform_fn> {};
struct op_power_spherical_entropy : kappa_function<power_spherical_entropy_fn> {};
struct op_kl_power_spherical_uniform : kappa_function<kl_power_spherical_uniform_fn> {};

// KL(vMF(μq, κq) ‖ vMF(μp, κp)) = κq A(κq) + log C(κq) − log C(κp) − κp A(κq) μpᵀμq
// (E_q[z] = A(κq) μq).  dκq = A′(κq)(κq − κp μpᵀμq),  dκp = A(κp) − A(κq) μpᵀμq,
// dμq = −κp A(κq) μp,  dμp = −κp A(κq) μq.
struct op_kl_vmf_vmf {
  template <class T>
  static double dot(const tensor<T>& a, const tensor<T>& b, int j, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += static_cast<double>(at(a, i, j)) * static_cast<double>(at(b, i, j));
    return s;
  }
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&mq = ex.in(self, 0), &kq = ex.in(self, 1), &mp = ex.in(self, 2), &kp = ex.in(self, 3);
    for (int j = 0; j < out.cols; ++j) {
      const double a = static_cast<double>(at(kq, 0, j)), b = static_cast<double>(at(kp, 0, j));
      const double A = bessel_ratio(n, a);
      out.data[j] = static_cast<T>(a * A + log_vmf_normalizer(n, a) - log_vmf_normalizer(n, b) - b * A * dot(mq, mp, j, n));
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>&mq = ex.in(self, 0), &kq = ex.in(self, 1), &mp = ex.in(self, 2), &kp = ex.in(self, 3);
    for (int slot : {0, 2}) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, n, C);
      const tensor<T>& other = slot == 0 ? mp : mq;
      for (int j = 0; j < C; ++j) {
        const double c = -static_cast<double>(G.data[j]) * static_cast<double>(at(kp, 0, j)) *
                         bessel_ratio(n, static_cast<double>(at(kq, 0, j)));
        for (int i = 0; i < n; ++i) d.data[sphere::idx(i, j, n)] = static_cast<T>(c * static_cast<double>(at(other, i, j)));
      }
      give(ex, self, slot, d.a());
    }
    for (int slot : {1, 3}) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, 1, C);
      for (int j = 0; j < C; ++j) {
        const double a = static_cast<double>(at(kq, 0, j)), b = static_cast<double>(at(kp, 0, j));
        const double s = dot(mq, mp, j, n);
        const double r = slot == 1 ? bessel_ratio_derivative(n, a) * (a - b * s) : bessel_ratio(n, b) - bessel_ratio(n, a) * s;
        d.data[j] = static_cast<T>(static_cast<double>(G.data[j]) * r);
      }
      give(ex, self, slot, d.a());
    }
  }
};

// log of the uniform density on S^{n−1}: −log|S^{n−1}|, whatever z. dz = 0.
struct op_sphere_uniform_logpdf {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    ex.val[static_cast<std::size_t>(self)].a().setConstant(static_cast<T>(-log_sphere_area(ex.n(self).attr)));
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& z = ex.in(self, 0);
    give(ex, self, 0, Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>::Zero(z.rows, ex.val[static_cast<std::size_t>(self)].cols));
  }
};

// H[uniform on S^{n−1}] = log|S^{n−1}|.
struct op_sphere_uniform_entropy {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    ex.val[static_cast<std::size_t>(self)].a().setConstant(static_cast<T>(log_sphere_area(ex.n(self).attr)));
  }
  template <class T>
  static void backward(exec<T>&, int) {}
};

}  // namespace vaec::rt
