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

// z = loc + scale·t,  t = ε/√(g/ν),  ε ~ N(0, 1),  g = 2G,  G ~ Gamma(ν/2, 1), in double.
// dloc = dz,  dscale = dz·t,  dν = dz·scale·dt/dν with
// dt/dν = t·(1/(2ν) − (dG/dα)/(4G)), dG/dα the implicit reparameterization gradient
// (Figurnov et al. 2018). aux: [t ; dt/dν] (2n rows; the second half only when ν learns).
// g/ν is kept ≥ 1e-30 so that t stays finite (|t| ≤ 1e15·|ε|).
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
    for (int j = 0; j < z.cols; ++j)
      for (int i = 0; i < n; ++i) {
        const double nu = static_cast<double>(at(df, i, j));
        const double G = gamma_draw(0.5 * nu, *ex.noise);
        const double eps = normal(*ex.noise);
        const double ratio = 2 * G / nu;
        const bool clamped = !(ratio >= 1e-30);
        const double t = eps / std::sqrt(clamped ? 1e-30 : ratio);
        T* a = aux.data + static_cast<std::size_t>(j) * static_cast<std::size_t>(2 * n);
        a[i] = static_cast<T>(t);
        if (learn_df) a[n + i] = static_cast<T>(clamped ? 0.0 : t * (0.5 / nu - 0.25 * gamma_draw_dalpha(0.5 * nu, G) / G));
        z.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] =
            at(loc, i, j) + at(scale, i, j) * static_cast<T>(t);
      }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    const int n = g.rows;
    auto aux = ex.aux[static_cast<std::size_t>(self)].a();
    give(ex, self, 1, g.a());
    if (ex.wants(self, 2)) give(ex, self, 2, g.a() * aux.topRows(n));
    if (ex.wants(self, 0)) give(ex, self, 0, g.a() * bcast(ex.in(self, 2), n, g.cols) * aux.bottomRows(n));
  }
};

// Σ_rows log StudentT(v | ν, μ, σ) = Σ c(ν) − log σ − (ν+1)/2 · log(1 + u²/ν),  u = (v − μ)/σ,
// c(ν) = lgamma((ν+1)/2) − lgamma(ν/2) − ½ log(νπ). Computed in double per element.
// dv = −(ν+1)u/((ν + u²)σ),  dμ = −dv,  dσ = (−1 + (ν+1)u²/(ν + u²))/σ,
// dν = c′(ν) − ½ log(1 + u²/ν) + (ν+1)u²/(2ν(ν + u²)).
struct op_studentt_logpdf {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&v = ex.in(self, 0), &df = ex.in(self, 1), &loc = ex.in(self, 2), &scale = ex.in(self, 3);
    memo<studentt_log_norm> c;
    for (int j = 0; j < out.cols; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) {
        const double nu = static_cast<double>(at(df, i, j)), sigma = static_cast<double>(at(scale, i, j));
        const double u = (static_cast<double>(at(v, i, j)) - static_cast<double>(at(loc, i, j))) / sigma;
        s += c(nu) - std::log(sigma) - 0.5 * (nu + 1) * std::log1p(u * u / nu);
      }
      out.data[j] = static_cast<T>(s);
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    const tensor<T>& G = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>&v = ex.in(self, 0), &df = ex.in(self, 1), &loc = ex.in(self, 2), &scale = ex.in(self, 3);
    for (int slot = 0; slot < 4; ++slot) {
      if (!ex.wants(self, slot)) continue;
      tensor<T> d = scratch_of(ex, self, n, C);
      memo<studentt_log_norm_ddf> dc;
      for (int j = 0; j < C; ++j)
        for (int i = 0; i < n; ++i) {
          const double nu = static_cast<double>(at(df, i, j)), sigma = static_cast<double>(at(scale, i, j));
          const double u = (static_cast<double>(at(v, i, j)) - static_cast<double>(at(loc, i, j))) / sigma;
          const double g = static_cast<double>(G.data[j]);
          double r = 0;
          switch (slot) {
            case 0: r = -(nu + 1) * u / ((nu + u * u) * sigma); break;
            case 2: r = (nu + 1) * u / ((nu + u * u) * sigma); break;
            case 3: r = (-1 + (nu + 1) * u * u / (nu + u * u)) / sigma; break;
            case 1:
              r = dc(nu) - 0.5 * std::log1p(u * u / nu) +
                  (nu + 1) * u * u / (2 * nu * (nu + u * u));
              break;
          }
          d.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = static_cast<T>(g * r);
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
//     + (σq²·ν/(ν−2) + (μq − μp)²)/(2σp²),  ν > 2 (the second moment).
// dν = −h′(ν) − σq²/((ν−2)²σp²),  dμq = d/σp² = −dμp,  dσq = −1/σq + σq ν/((ν−2)σp²),
// dσp = 1/σp − (σq²ν/(ν−2) + d²)/σp³,  d = μq − μp.
struct op_kl_studentt_normal {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>&df = ex.in(self, 0), &mq = ex.in(self, 1), &sq = ex.in(self, 2), &mp = ex.in(self, 3),
                    &sp = ex.in(self, 4);
    const bool ok = nu_ok(ex, self);
    memo<studentt_entropy> h;
    for (int j = 0; j < out.cols; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) {
        const double nu = static_cast<double>(at(df, i, j)), q = static_cast<double>(at(sq, i, j)),
                     p = static_cast<double>(at(sp, i, j));
        const double d = static_cast<double>(at(mq, i, j)) - static_cast<double>(at(mp, i, j));
        s += -h(nu) - std::log(q) + std::log(p) + 0.5 * log_2pi<double>() +
             (q * q * nu / (nu - 2) + d * d) / (2 * p * p);
      }
      out.data[j] = static_cast<T>(ok ? s : NAN);
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
          const double nu = static_cast<double>(at(df, i, j)), q = static_cast<double>(at(sq, i, j)),
                       p = static_cast<double>(at(sp, i, j));
          const double d = static_cast<double>(at(mq, i, j)) - static_cast<double>(at(mp, i, j));
          double r = 0;
          switch (slot) {
            case 0: r = -dh(nu) - q * q / ((nu - 2) * (nu - 2) * p * p); break;
            case 1: r = d / (p * p); break;
            case 2: r = -1 / q + q * nu / ((nu - 2) * p * p); break;
            case 3: r = -d / (p * p); break;
            case 4: r = 1 / p - (q * q * nu / (nu - 2) + d * d) / (p * p * p); break;
          }
          dt.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] =
              static_cast<T>(static_cast<double>(G.data[j]) * r);
        }
      give(ex, self, slot, dt.a());
    }
  }
  // The closed form needs ν > 2 everywhere; otherwise the KL is reported non-finite.
  template <class T>
  static bool nu_ok(exec<T>& ex, int self) {
    const tensor<T>& df = ex.in(self, 0);
    for (std::size_t k = 0; k < df.size(); ++k)
      if (!(df.data[k] > T(2))) return false;
    return true;
  }
};

}  // namespace vaec::rt
