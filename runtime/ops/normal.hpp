// The Normal family: reparameterized sampling, log-density, entropy, and the closed-form
// KL between two diagonal Normals. Densities sum over rows and give one value per column.
#pragma once

#include <boost/random/normal_distribution.hpp>

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// z = loc + scale·ε, ε ~ N(0, I) drawn each forward pass into aux.
// dloc = dz,  dscale = dz·ε
struct op_sample_normal {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& z = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& eps = ex.aux[static_cast<std::size_t>(self)];
    boost::random::normal_distribution<double> normal;
    T* e = eps.data;
    for (int j = 0; j < eps.cols; ++j) {  // column by column: each column's stream (exec::column_noise)
      rng& r = ex.column_noise(self, j);
      for (int i = 0; i < eps.rows; ++i, ++e) *e = static_cast<T>(normal(r));
    }
    z.a() = bcast(ex.in(self, 0), z.rows, z.cols) + bcast(ex.in(self, 1), z.rows, z.cols) * eps.a();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    auto g = ex.grad[static_cast<std::size_t>(self)].a();
    give(ex, self, 0, g);
    give(ex, self, 1, g * ex.aux[static_cast<std::size_t>(self)].a());
  }
};

// Σ_rows log N(v | μ, σ) = Σ −½ u² − log σ − ½ log 2π,  u = (v − μ)/σ (kept in aux).
// dv = −u/σ,  dμ = u/σ,  dσ = (u² − 1)/σ
struct op_normal_logpdf {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    const tensor<T>& u = ex.aux[static_cast<std::size_t>(self)];
    auto S = bcast(ex.in(self, 2), n, out.cols);
    u.a() = (bcast(ex.in(self, 0), n, out.cols) - bcast(ex.in(self, 1), n, out.cols)) / S;
    out.a() = (T(-0.5) * u.a().square() - S.log()).colwise().sum() - T(0.5) * T(n) * log_2pi<T>();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    auto u = ex.aux[static_cast<std::size_t>(self)].a();
    auto S = bcast(ex.in(self, 2), n, out.cols);
    auto G = down(ex.grad[static_cast<std::size_t>(self)], n);
    give(ex, self, 0, -G * u / S);
    give(ex, self, 1, G * u / S);
    give(ex, self, 2, G * (u.square() - T(1)) / S);
  }
};

// Σ_rows H[N(μ, σ)] = Σ log σ + ½ (1 + log 2π);   dσ = 1/σ
struct op_normal_entropy {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    out.a() = bcast(ex.in(self, 0), n, out.cols).log().colwise().sum() + T(0.5) * T(n) * (T(1) + log_2pi<T>());
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr);
    give(ex, self, 0, down(ex.grad[static_cast<std::size_t>(self)], n) / bcast(ex.in(self, 0), n, out.cols));
  }
};

// Σ_rows KL(N(μq, σq) ‖ N(μp, σp)) = Σ log σp − log σq + (σq² + (μq − μp)²) / (2σp²) − ½
// dμq = d/σp²,  dσq = −1/σq + σq/σp²,  dμp = −d/σp²,  dσp = 1/σp − (σq² + d²)/σp³,  d = μq − μp
struct op_kl_normal_normal {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    auto mq = bcast(ex.in(self, 0), n, C);
    auto sq = bcast(ex.in(self, 1), n, C);
    auto mp = bcast(ex.in(self, 2), n, C);
    auto sp = bcast(ex.in(self, 3), n, C);
    out.a() = (sp.log() - sq.log() + (sq.square() + (mq - mp).square()) / (T(2) * sp.square()) - T(0.5)).colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& out = ex.val[static_cast<std::size_t>(self)];
    const int n = static_cast<int>(ex.n(self).attr), C = out.cols;
    auto mq = bcast(ex.in(self, 0), n, C);
    auto sq = bcast(ex.in(self, 1), n, C);
    auto mp = bcast(ex.in(self, 2), n, C);
    auto sp = bcast(ex.in(self, 3), n, C);
    auto G = down(ex.grad[static_cast<std::size_t>(self)], n);
    give(ex, self, 0, G * (mq - mp) / sp.square());
    give(ex, self, 1, G * (sq / sp.square() - T(1) / sq));
    give(ex, self, 2, -G * (mq - mp) / sp.square());
    give(ex, self, 3, G * (T(1) / sp - (sq.square() + (mq - mp).square()) / sp.cube()));
  }
};

}  // namespace vaec::rt
