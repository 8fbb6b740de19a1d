// The Student-t family: reparameterized sampling (with the implicit gradient of the χ²
// draw for a learnable df), log-density, entropy, and the closed-form KL to a Normal for
// df > 2. The df-dependent special functions run in double (runtime/special_families.hpp):
// their lgamma and digamma differences cancel at large df. Densities sum over rows.
#pragma once

#include <boost/random/normal_distribution.hpp>

#include <cmath>

#include "runtime/ops/exec.hpp"
#include "runtime/special_families.hpp"

namespace vaec::rt {

// A df-dependent special function, remembered for the last df: df is usually one shared
// number, so each op evaluates it once per pass instead of once per element.
template <double (*F)(double)>
struct memo {
  double arg = NAN, value = NAN;
  double operator()(double x) {
    if (!(x == arg)) {
      arg = x;
      value = F(x);
    }
    return value;
  }
};

// z = loc + scale·t,  t = ε·exp(−½ log(G/α)),  ε ~ N(0, 1),  G ~ Gamma(α, 1),  α = ν/2
// (so g = 2G ~ χ²(ν) and G/α = g/ν), in double. log(G/α) is drawn in log space and never
// floored (gamma_log_ratio_draw), so the draw is exact for ν from 1e-3 to +∞ (ν = ∞: t = ε,
// the Normal limit). For small ν, |t| can exceed the largest double (or float): z is then
// ±∞, and log|t| is kept so that a Student-t log-density of this sample stays exact.
// dloc = dz,  dscale = dz·t,  dν = dz·scale·dt/dν with dt/dν = −(t/4)·d log(G/α)/dα, the
// implicit reparameterization gradient (Figurnov et al. 2018) of the Gamma draw.
// aux: [t ; dt/dν ; log|t|] (3n rows; the second block only when ν learns).
struct op_sample_studentt {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& z = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& aux = ex.aux[static_cast<std::size_t>(self)];
    const tensor<T>& df = ex.in(self, 0);
    const tensor<T>& loc = ex.in(self, 1);
    const tensor<T>& scale = ex.in(self, 2);
    const bool learn_df = ex.wants(self, 0);
    const int n = z.rows;
    boost::random::normal_distribution<double> normal;
    for (int j = 0; j < z.cols; ++j) {
      rng& noise = ex.column_noise(self, j);
      for (int i = 0; i < n; ++i) {
        const double nu = static_cast<double>(at(df, i, j));
        const double log_ratio = gamma_log_ratio_draw(0.5 * nu, noise);
        const double eps = normal(noise);
        const double log_t = std::log(std::fabs(eps)) - 0.5 * log_ratio;
        const double t = std::copysign(std::exp(log_t), eps);
        T* a = aux.data + static_cast<std::size_t>(j) * static_cast<std::size_t>(3 * n);
        a[i] = static_cast<T>(t);
        a[2 * n + i] = static_cast<T>(log_t);
        if (learn_df) {
          const double dt = -0.25 * t * gamma_log_ratio_dalpha(0.5 * nu, log_ratio);
          a[n + i] = std::isfinite(dt) ? static_cast<T>(dt) : T(0);
        }
        const double zv = static_cast<double>(at(loc, i, j)) + static_cast<double>(at(scale, i, j)) * t;
        z.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = static_cast<T>(zv);
      }
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    const int n = g.rows;
    auto aux = ex.aux[static_cast<std::size_t>(self)].a();
    give(ex, self, 1, g.a());
    if (ex.wants(self, 2)) give(ex, self, 2, g.a() * aux.topRows(n));
    if (ex.wants(self, 0)) give(ex, self, 0, g.a() * bcast(ex.in(self, 2), n, g.cols) * aux.middleRows(n, n));
  }

  // log|u|, u = (z − loc_p)/scale_p, for a draw z of this sampler that is ±∞ in T (|t| beyond
  // T's range): there |scale_q·t| dwarfs every finite loc, so log|u| = log scale_q + log|t| −
  // log scale_p. `sampler` is the sample node, (i, j) the element.
  template <class T>
  static double log_abs_u(const exec<T>& ex, int sampler, int i, int j, double scale_p) {
    const tensor<T>& aux = ex.aux[static_cast<std::size_t>(sampler)];
    const tensor<T>& scale_q = ex.val[static_cast<std::size_t>(ex.n(sampler).inputs[2])];
    const int n = ex.n(sampler).rows;
    const double log_t = static_cast<double>(aux.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(3 * n) + static_cast<std::size_t>(2 * n + i)]);
    return std::log(static_cast<double>(at(scale_q, i, j))) + log_t - std::log(scale_p);
  }
};

// Σ_rows log StudentT(v | ν, μ, σ) = Σ c(ν) − log σ − (ν+1)/2 · log(1 + u²/ν),  u = (v − μ)/σ,
// c(ν) = lgamma((ν+1)/2) − lgamma(ν/2) − ½ log(νπ). Computed in double per element, in
// terms of r = |u|/√ν so that nothing overflows for ν up to +∞ (the Normal limit) or |u| up
// to the largest double (studentt_log_kernel); a value that is ±∞ because it is a draw of
// a Student-t sampler beyond T's range is read from the sampler's log|t| (op_sample_studentt).
// With h = r²/(1 + r²) and g = r/(1 + r²) (both bounded, computed without overflow):
// dv = −sign(u)(1 + 1/ν)√ν·g/σ,  dμ = −dv,  dσ = (−1 + (ν + 1)h)/σ,
// dν = c′(ν) − ½ log(1 + r²) + ½(1 + 1/ν)h.  ν beyond 1e300 counts as 1e300 (its limit).
struct op_studentt_logpdf {
  struct element {
    double value = 0;         // c(ν) − log σ − kernel
    double dv = 0, dsigma = 0, dnu_kernel = 0;  // the derivatives above, without c′(ν)
  };
  // One element; `log_u` is used instead of u when u is not finite (from the sampler).
  static element at_u(double u, double log_u, double nu_in, double sigma, double c, bool derivatives) {
    element e;
    const double nu = std::min(nu_in, 1e300);
    double kernel, log1p_r2, r;
    if (std::isfinite(u)) {
      kernel = studentt_log_kernel(u, nu);
      r = std::fabs(u) / std::sqrt(nu);  // +∞ beyond the largest double: h = 1, g = 0 below
      const double log_r = std::log(std::fabs(u)) - 0.5 * std::log(nu);
      log1p_r2 = log_r > 230 ? 2 * log_r : std::log1p(r * r);
    } else {
      const double L = 2 * log_u - std::log(nu);  // log r²
      log1p_r2 = L > 0 ? L + std::log1p(std::exp(-L)) : std::log1p(std::exp(L));
      kernel = 0.5 * (nu + 1) * log1p_r2;
      r = std::exp(0.5 * L);
    }
    e.value = c - std::log(sigma) - kernel;
    if (!derivatives) return e;
    const double h = r <= 1 ? r * r / (1 + r * r) : 1 / (1 + 1 / (r * r));
    const double g = r <= 1 ? r / (1 + r * r) : 1 / (r + 1 / r);
    const double k = 1 + 1 / nu;
    // (ν+1)h = (ν+1)u²/(ν+u²): from u² while that is at most ν (the Normal limit u² keeps
    // its precision), from h beyond.
    const double nu1h = r <= 1 ? k * u * u / (1 + r * r) : (nu + 1) * h;
    // A value at ±∞ has no finite derivative to pass on (its sampler's t is ±∞ too).
    e.dv = std::isfinite(u) ? -std::copysign(1.0, u) * k * std::sqrt(nu) * g / sigma : 0.0;
    e.dsigma = (-1 + nu1h) / sigma;
    e.dnu_kernel = -0.5 * log1p_r2 + 0.5 * k * h;
    return e;
  }

  template <class T>
  static element compute(exec<T>& ex, int self, int i, int j, double c, bool derivatives) {
    const tensor<T>&v = ex.in(self, 0), &df = ex.in(self, 1), &loc = ex.in(self, 2), &scale = ex.in(self, 3);
    const double nu = static_cast<double>(at(df, i, j)), sigma = static_cast<double>(at(scale, i, j));
    const double x = static_cast<double>(at(v, i, j));
    const double u = (x - static_cast<double>(at(loc, i, j))) / sigma;
    double log_u = NAN;
    const int value_node = ex.n(self).inputs[0];
    if (!std::isfinite(x) && !std::isnan(x) && ex.n(value_node).op == op_kind::sample_studentt)
      log_u = op_sample_studentt::log_abs_u(ex, value_node, i, j, sigma);
    if (!std::isfinite(u) && std::isnan(log_u)) log_u = std::isnan(u) ? NAN : INFINITY;
    return at_u(u, log_u, nu, sigma, c, derivatives);
  }

  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>& df = ex.in(self, 1);
    memo<studentt_log_norm> c;
    for (int j = 0; j < out.cols; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += compute(ex, self, i, j, c(static_cast<double>(at(df, i, j))), false).value;
      out.data[j] = static_cast<T>(s);
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>& df = ex.in(self, 1);
    for (int slot = 0; slot < 4; ++slot) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, n, C);
      memo<studentt_log_norm_ddf> dc;
      for (int j = 0; j < C; ++j)
        for (int i = 0; i < n; ++i) {
          const element e = compute(ex, self, i, j, 0.0, true);
          double r = 0;
          switch (slot) {
            case 0: r = e.dv; break;
            case 2: r = -e.dv; break;
            case 3: r = e.dsigma; break;
            case 1: r = dc(static_cast<double>(at(df, i, j))) + e.dnu_kernel; break;
          }
          d.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] =
              static_cast<T>(static_cast<double>(G.data[j]) * r);
        }
      give(ex, self, slot, d.a());
    }
  }
};

// Σ_rows H[StudentT(ν, ·, σ)] = Σ h(ν) + log σ;   dν = h′(ν),  dσ = 1/σ.
struct op_studentt_entropy {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&df = ex.in(self, 0), &scale = ex.in(self, 1);
    memo<studentt_entropy> h;
    for (int j = 0; j < out.cols; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += h(static_cast<double>(at(df, i, j))) + std::log(static_cast<double>(at(scale, i, j)));
      out.data[j] = static_cast<T>(s);
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>&df = ex.in(self, 0), &scale = ex.in(self, 1);
    memo<studentt_entropy_ddf> dh;
    for (int slot = 0; slot < 2; ++slot) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, n, C);
      for (int j = 0; j < C; ++j)
        for (int i = 0; i < n; ++i) {
          const double r = slot == 0 ? dh(static_cast<double>(at(df, i, j)))
                                     : 1.0 / static_cast<double>(at(scale, i, j));
          d.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] =
              static_cast<T>(static_cast<double>(G.data[j]) * r);
        }
      give(ex, self, slot, d.a());
    }
  }
};

// Σ_rows KL(StudentT(ν, μq, σq) ‖ N(μp, σp)) = Σ −h(ν) − log σq + log σp + ½ log 2π
//     + (σq²·m(ν) + (μq − μp)²)/(2σp²),  m(ν) = ν/(ν−2) the second moment, for ν > 2;
// +∞ for ν ≤ 2 (the second moment is infinite), never NaN. ν beyond 1e300 counts as 1e300,
// where every term has reached its Normal limit (m = 1, h = ½ log 2πe) in double.
// dν = −h′(ν) − 2σq²/((ν−2)²·2σp²),  dμq = d/σp² = −dμp,  dσq = −1/σq + σq m/σp²,
// dσp = 1/σp − (σq² m + d²)/σp³,  d = μq − μp;  0 where ν ≤ 2 (the loss is +∞ there and the
// objective stops the step before any gradient is used).
struct op_kl_studentt_normal {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&df = ex.in(self, 0), &mq = ex.in(self, 1), &sq = ex.in(self, 2), &mp = ex.in(self, 3),
                    &sp = ex.in(self, 4);
    memo<studentt_entropy> h;
    for (int j = 0; j < out.cols; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) {
        const double nu = std::min(static_cast<double>(at(df, i, j)), 1e300), q = static_cast<double>(at(sq, i, j)),
                     p = static_cast<double>(at(sp, i, j));
        if (nu <= 2) {
          s += INFINITY;
          continue;
        }
        const double d = static_cast<double>(at(mq, i, j)) - static_cast<double>(at(mp, i, j));
        s += -h(nu) - std::log(q) + std::log(p) + 0.5 * log_2pi<double>() +
             (q * q * (nu / (nu - 2)) + d * d) / (2 * p * p);
      }
      out.data[j] = static_cast<T>(s);
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>&df = ex.in(self, 0), &mq = ex.in(self, 1), &sq = ex.in(self, 2), &mp = ex.in(self, 3),
                    &sp = ex.in(self, 4);
    memo<studentt_entropy_ddf> dh;
    for (int slot = 0; slot < 5; ++slot) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> dt = scratch_of(ex, self, n, C);
      for (int j = 0; j < C; ++j)
        for (int i = 0; i < n; ++i) {
          const double nu = std::min(static_cast<double>(at(df, i, j)), 1e300), q = static_cast<double>(at(sq, i, j)),
                       p = static_cast<double>(at(sp, i, j));
          const double d = static_cast<double>(at(mq, i, j)) - static_cast<double>(at(mp, i, j));
          const double m = nu / (nu - 2);
          double r = 0;
          if (nu > 2) switch (slot) {
            case 0: r = -dh(nu) - (q / (nu - 2)) * (q / (nu - 2)) / (p * p); break;
            case 1: r = d / (p * p); break;
            case 2: r = -1 / q + q * m / (p * p); break;
            case 3: r = -d / (p * p); break;
            case 4: r = 1 / p - (q * q * m + d * d) / (p * p * p); break;
          }
          dt.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] =
              static_cast<T>(static_cast<double>(G.data[j]) * r);
        }
      give(ex, self, slot, dt.a());
    }
  }
};

}  // namespace vaec::rt
