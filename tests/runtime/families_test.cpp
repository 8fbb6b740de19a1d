// The families beyond the Normal, measured: samplers against their distributions
// (moments with tolerances from the standard error, Kolmogorov–Smirnov against exact
// distribution functions), closed-form KL terms and entropies against Monte Carlo
// estimates from the same ops, and — the part most implementations get wrong — the
// gradients of expectations with respect to the concentration or df against their exact
// values:
//   vMF:             d/dκ E[μᵀz] = A_n′(κ)                  (rejection correction included)
//   Power Spherical: d/dκ E[μᵀz] = (n−1)/(κ+n−1)²
//   Student-t:       d/dν E[log(1 + z²/ν)] = ½ψ′((ν+1)/2) − ½ψ′(ν/2)
// Each estimate runs with a fixed seed and enough draws that 3 standard errors are below
// 1% of the exact value; the test asserts both that and agreement within 4 standard errors.
#include <boost/test/unit_test.hpp>

#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "runtime/graph.hpp"
#include "runtime/plan.hpp"
#include "runtime/special.hpp"
#include "runtime/special_families.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

struct estimate {
  double mean = 0, se = 0;
};

// d/dθ E[f] for a single shared parameter θ (initialized to `init`): `body(g, θ)` builds
// f per column [1 × B], the objective is its mean, and the loss gradient is −d/dθ E[f].
// `steps` independent batches of B columns give the mean and its standard error.
estimate gradient_of_expectation(const std::function<int(rt::graph&, int)>& body, double init, int B, int steps,
                                 bool correction = true, std::uint64_t seed = 1) {
  rt::graph g;
  int theta = g.param(1, init, rt::param_group::phi, "theta");
  rt::objective_spec spec;
  spec.loglik = body(g, theta);
  g.objective(spec);
  rt::parameters<double> params(g);
  params.initialize(1);
  rt::plan<double> p(g, params, B, 1);
  p.settings().rejection_correction = correction;
  std::vector<double> per_step;
  for (int s = 0; s < steps; ++s) {
    rt::rng noise(seed, rt::stream::noise, static_cast<std::uint64_t>(s));
    p.forward(noise);
    p.backward();
    per_step.push_back(-params.grads[g.params()[0].offset]);
  }
  estimate e;
  for (double v : per_step) e.mean += v;
  e.mean /= steps;
  double ss = 0;
  for (double v : per_step) ss += (v - e.mean) * (v - e.mean);
  e.se = std::sqrt(ss / (steps - 1) / steps);
  return e;
}

void check_estimate(const estimate& e, double exact, const char* what) {
  BOOST_TEST_MESSAGE(what << ": estimate " << e.mean << " ± " << e.se << " (exact " << exact << ")");
  BOOST_TEST(3 * e.se < 0.01 * std::fabs(exact), what << ": 3 standard errors " << 3 * e.se << " are not below 1% of " << exact);
  BOOST_TEST(std::fabs(e.mean - exact) < 4 * e.se, what << ": estimate " << e.mean << " ± " << e.se << ", exact " << exact);
}

// Draws `cols` columns of a sampler built by `make(g)` and returns them [rows × cols].
std::vector<double> draws(const std::function<int(rt::graph&)>& make, int cols, int& rows, std::uint64_t seed = 5) {
  rt::graph g;
  int z = make(g);
  rows = g.nodes()[static_cast<std::size_t>(z)].rows;
  rt::parameters<double> params(g);
  params.initialize(1);
  rt::plan<double> p(g, params, cols, 1, false);
  rt::rng noise(seed, rt::stream::noise, 0);
  p.forward(noise);
  auto v = p.value(z);
  return std::vector<double>(v.data, v.data + v.size());
}

// The Kolmogorov–Smirnov statistic √N·D of the sample against the distribution function F.
double ks(std::vector<double> x, const std::function<double(double)>& F) {
  std::sort(x.begin(), x.end());
  const double N = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = F(x[i]);
    d = std::max({d, std::fabs(f - static_cast<double>(i) / N), std::fabs(static_cast<double>(i + 1) / N - f)});
  }
  return std::sqrt(N) * d;
}
constexpr double ks_limit = 1.95;  // the 0.1% point of the Kolmogorov distribution

int unit_mean(rt::graph& g, int n) { return g.normalize(g.constant(1.0, n)); }

// Mean and standard error of the first row's dot product with (1, …, 1)/√n (= μᵀz).
estimate mean_w(const std::vector<double>& z, int n) {
  const std::size_t N = z.size() / static_cast<std::size_t>(n);
  std::vector<double> w(N);
  for (std::size_t j = 0; j < N; ++j) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += z[j * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)];
    w[j] = s / std::sqrt(static_cast<double>(n));
  }
  estimate e;
  for (double v : w) e.mean += v;
  e.mean /= static_cast<double>(N);
  double ss = 0;
  for (double v : w) ss += (v - e.mean) * (v - e.mean);
  e.se = std::sqrt(ss / static_cast<double>(N - 1) / static_cast<double>(N));
  return e;
}

std::vector<double> w_values(const std::vector<double>& z, int n) {
  std::vector<double> w(z.size() / static_cast<std::size_t>(n));
  for (std::size_t j = 0; j < w.size(); ++j) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += z[j * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)];
    w[j] = s / std::sqrt(static_cast<double>(n));
  }
  return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(families)

// ---- gradients of expectations -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(vmf_concentration_gradient_is_unbiased) {
  auto body = [](int n) {
    return [n](rt::graph& g, int kappa) {
      int mu = unit_mean(g, n);
      int z = g.sample_vmf(mu, kappa, n);
      return g.sum(g.binary(op_kind::mul, z, mu));  // μᵀz per column
    };
  };
  // The reference point: n = 5, κ = 2.
  const double exact = rt::bessel_ratio_derivative(5, 2);
  BOOST_TEST(std::fabs(exact - 0.147389) < 1e-6);
  check_estimate(gradient_of_expectation(body(5), 2.0, 20000, 60), exact, "vMF n=5 κ=2");
  // Without the correction term the estimate is biased (about 0.128): the test can fail.
  estimate biased = gradient_of_expectation(body(5), 2.0, 20000, 20, false);
  BOOST_TEST_MESSAGE("vMF n=5 κ=2 without the rejection correction: " << biased.mean << " ± " << biased.se);
  BOOST_TEST(exact - biased.mean > 10 * biased.se);
  struct point {
    int n;
    double kappa;
    int steps;
  };
  for (point c : {point{3, 0.5, 20}, point{3, 5, 20}, point{3, 50, 20}, point{10, 1, 40}, point{10, 10, 40},
                  point{10, 100, 40}, point{64, 5, 40}, point{64, 50, 40}, point{64, 500, 40}}) {
    BOOST_TEST_CONTEXT("n = " << c.n << ", κ = " << c.kappa) {
      check_estimate(gradient_of_expectation(body(c.n), c.kappa, 20000, c.steps),
                     rt::bessel_ratio_derivative(c.n, c.kappa), "vMF");
    }
  }
}

BOOST_AUTO_TEST_CASE(power_spherical_concentration_gradient) {
  for (int n : {3, 10, 64})
    for (double kappa : {1.0, 10.0, 100.0}) {
      BOOST_TEST_CONTEXT("n = " << n << ", κ = " << kappa) {
        auto e = gradient_of_expectation(
            [n](rt::graph& g, int k) {
              int mu = unit_mean(g, n);
              return g.sum(g.binary(op_kind::mul, g.sample_power_spherical(mu, k, n), mu));
            },
            kappa, 20000, 20);
        check_estimate(e, (n - 1) / ((kappa + n - 1) * (kappa + n - 1)), "Power Spherical");
      }
    }
}

BOOST_AUTO_TEST_CASE(studentt_df_gradient) {
  for (double nu : {0.8, 3.0, 12.0}) {
    BOOST_TEST_CONTEXT("ν = " << nu) {
      auto e = gradient_of_expectation(
          [](rt::graph& g, int df) {
            int z = g.sample_studentt(df, g.constant(0), g.constant(1), 1);
            return g.unary(op_kind::log, g.binary(op_kind::add, g.binary(op_kind::div, g.unary(op_kind::square, z), df),
                                                  g.constant(1)));
          },
          nu, 20000, 40);
      // E[log(1 + z²/ν)] = ψ((ν+1)/2) − ψ(ν/2): its derivative, and central differences of it.
      const double exact = 0.5 * boost::math::trigamma((nu + 1) / 2) - 0.5 * boost::math::trigamma(nu / 2);
      auto E = [](double v) { return boost::math::digamma((v + 1) / 2) - boost::math::digamma(v / 2); };
      const double h = 1e-5 * nu;
      BOOST_TEST(std::fabs((E(nu + h) - E(nu - h)) / (2 * h) - exact) < 1e-7 * std::fabs(exact));
      check_estimate(e, exact, "Student-t df");
    }
  }
}

// ---- samplers --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(vmf_sampler) {
  struct point {
    int n;
    double kappa;
  };
  for (point c : {point{2, 1}, point{3, 0.1}, point{3, 30}, point{5, 2}, point{11, 1e-3}, point{64, 10},
                  point{512, 1}, point{512, 1e4}}) {
    BOOST_TEST_CONTEXT("n = " << c.n << ", κ = " << c.kappa) {
      int rows = 0;
      auto z = draws([&](rt::graph& g) { return g.sample_vmf(unit_mean(g, c.n), g.constant(c.kappa), c.n); }, 20000, rows);
      double worst = 0;
      for (std::size_t j = 0; j < z.size() / static_cast<std::size_t>(rows); ++j) {
        double s = 0;
        for (int i = 0; i < rows; ++i) s += z[j * static_cast<std::size_t>(rows) + static_cast<std::size_t>(i)] *
                                            z[j * static_cast<std::size_t>(rows) + static_cast<std::size_t>(i)];
        worst = std::max(worst, std::fabs(s - 1));
      }
      BOOST_TEST(worst < 1e-12);
      // E[μᵀz] = A_n(κ), Var[μᵀz] = A_n′(κ).
      estimate w = mean_w(z, c.n);
      const double A = rt::bessel_ratio(c.n, c.kappa);
      const double se = std::sqrt(rt::bessel_ratio_derivative(c.n, c.kappa) / 20000.0);
      BOOST_TEST(std::fabs(w.mean - A) < 4 * se, "mean " << w.mean << ", A_n(κ) " << A << ", se " << se);
      BOOST_TEST(std::fabs(w.se / se - 1) < 0.05, "standard deviation of μᵀz against √A_n′(κ)");
    }
  }
  // Distribution functions of w = μᵀz: n = 3 (the inverse-CDF sampler),
  // F(w) = (e^{κ(w+1)} − 1)/(e^{2κ} − 1); n = 5 (Wood's sampler), density ∝ e^{κw}(1 − w²).
  for (double kappa : {0.3, 4.0, 40.0}) {
    int rows = 0;
    auto z = draws([&](rt::graph& g) { return g.sample_vmf(unit_mean(g, 3), g.constant(kappa), 3); }, 20000, rows);
    double s = ks(w_values(z, 3), [kappa](double w) {
      return std::exp(std::log(-std::expm1(-kappa * (w + 1))) + kappa * (w + 1) - 2 * kappa) / -std::expm1(-2 * kappa);
    });
    BOOST_TEST(s < ks_limit, "n = 3, κ = " << kappa << ": KS " << s);
  }
  for (double kappa : {0.5, 2.0, 20.0}) {
    int rows = 0;
    auto z = draws([&](rt::graph& g) { return g.sample_vmf(unit_mean(g, 5), g.constant(kappa), 5); }, 20000, rows);
    // ∫ e^{κw}(1 − w²) dw = e^{κw}((1 − w²)/κ + 2w/κ² − 2/κ³), normalized on [−1, 1].
    auto G = [kappa](double w) {
      return std::exp(kappa * (w - 1)) * ((1 - w * w) / kappa + 2 * w / (kappa * kappa) - 2 / (kappa * kappa * kappa));
    };
    const double lo = G(-1), hi = G(1);
    double s = ks(w_values(z, 5), [&](double w) { return (G(w) - lo) / (hi - lo); });
    BOOST_TEST(s < ks_limit, "n = 5, κ = " << kappa << ": KS " << s);
  }
}

BOOST_AUTO_TEST_CASE(power_spherical_sampler) {
  for (int n : {2, 5, 64})
    for (double kappa : {0.0, 3.0, 100.0}) {
      BOOST_TEST_CONTEXT("n = " << n << ", κ = " << kappa) {
        int rows = 0;
        auto z = draws([&](rt::graph& g) { return g.sample_power_spherical(unit_mean(g, n), g.constant(kappa), n); }, 20000, rows);
        const double a = (n - 1) / 2.0 + kappa, b = (n - 1) / 2.0;
        estimate w = mean_w(z, n);
        const double var = 4 * a * b / ((a + b) * (a + b) * (a + b + 1));
        BOOST_TEST(std::fabs(w.mean - kappa / (kappa + n - 1)) < 4 * std::sqrt(var / 20000));
        boost::math::beta_distribution<double> t(a, b);
        double s = ks(w_values(z, n), [&](double x) { return boost::math::cdf(t, std::clamp((x + 1) / 2, 0.0, 1.0)); });
        BOOST_TEST(s < ks_limit, "KS " << s);
      }
    }
}

BOOST_AUTO_TEST_CASE(uniform_sphere_sampler) {
  int rows = 0;
  auto z = draws([](rt::graph& g) { return g.sample_sphere_uniform(3); }, 20000, rows);
  // Archimedes: each coordinate of a uniform point on S² is uniform on [−1, 1].
  std::vector<double> first;
  for (std::size_t j = 0; j < z.size() / 3; ++j) first.push_back(z[3 * j]);
  BOOST_TEST(ks(first, [](double x) { return (x + 1) / 2; }) < ks_limit);
}

BOOST_AUTO_TEST_CASE(studentt_sampler) {
  for (double nu : {0.7, 3.0, 30.0}) {
    int rows = 0;
    auto z = draws([&](rt::graph& g) { return g.sample_studentt(g.constant(nu), g.constant(1.5), g.constant(0.5), 1); },
                   20000, rows);
    boost::math::students_t_distribution<double> t(nu);
    double s = ks(z, [&](double x) { return boost::math::cdf(t, (x - 1.5) / 0.5); });
    BOOST_TEST(s < ks_limit, "ν = " << nu << ": KS " << s);
  }
}

// ---- closed forms against Monte Carlo over the same ops --------------------------------------

BOOST_AUTO_TEST_CASE(closed_forms_match_monte_carlo) {
  // Each case builds: a closed form (KL, or an entropy), and per sample column the Monte
  // Carlo integrand whose mean estimates it (log q − log p, or −log q).
  struct mc_case {
    const char* name;
    std::function<std::pair<int, int>(rt::graph&)> make;
  };
  constexpr int n = 6;
  auto diff = [](rt::graph& g, int a, int b) { return g.binary(op_kind::sub, a, b); };
  std::vector<mc_case> cases = {
      {"KL(vMF ‖ uniform)",
       [&](rt::graph& g) {
         int mu = unit_mean(g, n), k = g.constant(3.5);
         int z = g.sample_vmf(mu, k, n);
         return std::pair{g.kl_vmf_uniform(k, n), diff(g, g.vmf_logpdf(z, mu, k, n), g.sphere_uniform_logpdf(z, n))};
       }},
      {"KL(vMF ‖ vMF)",
       [&](rt::graph& g) {
         int mq = unit_mean(g, n), kq = g.constant(5.0);
         int mp = g.normalize(g.concat({g.constant(1.0, 2), g.constant(-0.5, n - 2)})), kp = g.constant(2.0);
         int z = g.sample_vmf(mq, kq, n);
         return std::pair{g.kl_vmf_vmf(mq, kq, mp, kp, n), diff(g, g.vmf_logpdf(z, mq, kq, n), g.vmf_logpdf(z, mp, kp, n))};
       }},
      {"KL(PowerSpherical ‖ uniform)",
       [&](rt::graph& g) {
         int mu = unit_mean(g, n), k = g.constant(7.0);
         int z = g.sample_power_spherical(mu, k, n);
         return std::pair{g.kl_power_spherical_uniform(k, n),
                          diff(g, g.power_spherical_logpdf(z, mu, k, n), g.sphere_uniform_logpdf(z, n))};
       }},
      {"KL(StudentT ‖ Normal)",
       [&](rt::graph& g) {
         int df = g.constant(6.0), mq = g.constant(0.3), sq = g.constant(0.8), mp = g.constant(-0.2), sp = g.constant(1.3);
         int z = g.sample_studentt(df, mq, sq, n);
         return std::pair{g.kl_studentt_normal(df, mq, sq, mp, sp, n),
                          diff(g, g.studentt_logpdf(z, df, mq, sq, n), g.normal_logpdf(z, mp, sp, n))};
       }},
      {"entropy of StudentT(2.5, 0, 2)",
       [&](rt::graph& g) {
         int df = g.constant(2.5), m = g.constant(0.0), sc = g.constant(2.0);
         int z = g.sample_studentt(df, m, sc, n);
         return std::pair{g.studentt_entropy(df, sc, n), g.unary(op_kind::negate, g.studentt_logpdf(z, df, m, sc, n))};
       }},
      {"entropy of vMF",
       [&](rt::graph& g) {
         int mu = unit_mean(g, n), k = g.constant(12.0);
         int z = g.sample_vmf(mu, k, n);
         return std::pair{g.vmf_entropy(k, n), g.unary(op_kind::negate, g.vmf_logpdf(z, mu, k, n))};
       }},
      {"entropy of PowerSpherical",
       [&](rt::graph& g) {
         int mu = unit_mean(g, n), k = g.constant(0.7);
         int z = g.sample_power_spherical(mu, k, n);
         return std::pair{g.power_spherical_entropy(k, n), g.unary(op_kind::negate, g.power_spherical_logpdf(z, mu, k, n))};
       }},
      {"entropy of the uniform",
       [&](rt::graph& g) {
         int z = g.sample_sphere_uniform(n);
         return std::pair{g.sphere_uniform_entropy(n), g.unary(op_kind::negate, g.sphere_uniform_logpdf(z, n))};
       }},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      rt::graph g;
      auto [closed, integrand] = c.make(g);
      rt::parameters<double> params(g);
      const int N = 100000;
      rt::plan<double> p(g, params, N, 1, false);
      rt::rng noise(17, rt::stream::noise, 0);
      p.forward(noise);
      const double exact = p.value(closed).data[0];
      auto v = p.value(integrand);
      double mean = 0, ss = 0;
      for (std::size_t i = 0; i < v.size(); ++i) mean += v.data[i];
      mean /= static_cast<double>(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) ss += (v.data[i] - mean) * (v.data[i] - mean);
      const double se = std::sqrt(ss / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
      BOOST_TEST_MESSAGE(c.name << ": closed form " << exact << ", Monte Carlo " << mean << " ± " << se);
      BOOST_TEST(std::fabs(mean - exact) < 4 * se + 1e-12, "closed form " << exact << ", Monte Carlo " << mean << " ± " << se);
    }
  }
}

// The continuous Bernoulli density integrates to 1 over [0, 1] (Simpson's rule on 2,001
// points), for logits at 0, near 0 (where the normalizer is 0/0 in closed form), on both
// sides of the series branch at |η| = ½ and far out; in double, and in float to 1e-5.
template <class T>
double cb_integral(double eta, bool probs) {
  const int N = 2001;
  rt::graph g;
  int x = g.input(1, "x");
  int out = probs ? g.cbernoulli_probs(x, g.constant(1 / (1 + std::exp(-eta))))
                  : g.cbernoulli_logits(x, g.constant(eta));
  rt::parameters<T> params(g);
  rt::plan<T> p(g, params, N, 1, false);
  auto in = p.input(x);
  for (int j = 0; j < N; ++j) in.data[j] = static_cast<T>(static_cast<double>(j) / (N - 1));
  rt::rng noise(1, rt::stream::noise, 0);
  p.forward(noise);
  auto v = p.value(out);
  double s = 0;
  for (int j = 0; j < N; ++j) {
    const double w = (j == 0 || j == N - 1) ? 1 : (j % 2 ? 4 : 2);
    s += w * std::exp(static_cast<double>(v.data[j]));
  }
  return s / (3.0 * (N - 1));
}

BOOST_AUTO_TEST_CASE(continuous_bernoulli_normalizes) {
  for (double eta : {0.0, 1e-9, -1e-4, 0.3, -0.4999, 0.5, 0.5001, 2.0, -7.0, 15.0}) {
    BOOST_TEST_CONTEXT("η = " << eta) {
      BOOST_TEST(std::fabs(cb_integral<double>(eta, false) - 1) < 1e-9);
      BOOST_TEST(std::fabs(cb_integral<double>(eta, true) - 1) < 1e-9);
      BOOST_TEST(std::fabs(cb_integral<float>(eta, false) - 1) < 1e-5);
    }
  }
}

// A sphere[512] latent across concentrations 1 … 1e4, in float as training runs it: every
// sample, log-density, KL and gradient is finite.
BOOST_AUTO_TEST_CASE(vmf_high_dimension_is_finite) {
  const int n = 512;
  for (double kappa : {1.0, 10.0, 100.0, 1e3, 1e4}) {
    BOOST_TEST_CONTEXT("κ = " << kappa) {
      rt::graph g;
      int x = g.input(8, "x");
      int mu = g.normalize(g.linear(x, n, rt::param_group::phi, "mean"));
      int k = g.binary(op_kind::mul, g.param(1, 1.0, rt::param_group::phi, "k"), g.constant(kappa));
      int z = g.sample_vmf(mu, k, n);
      rt::objective_spec spec;
      spec.loglik = g.sum(g.linear(z, 3, rt::param_group::theta, "dec"));
      rt::latent_term t;
      t.name = "z";
      t.method = rt::latent_term::kind::closed_form;
      t.kl = g.kl_vmf_uniform(k, n);
      spec.latents.push_back(t);
      g.objective(spec);
      rt::parameters<float> params(g);
      params.initialize(3);
      rt::plan<float> p(g, params, 64, 1);
      auto in = p.input(x);
      rt::rng r(2, rt::stream::init, 0);
      for (std::size_t i = 0; i < in.size(); ++i) in.data[i] = static_cast<float>(r.uniform());
      rt::rng noise(2, rt::stream::noise, 0);
      p.forward(noise);
      p.backward();
      BOOST_TEST(p.result().finite);
      bool finite = true;
      for (float v : params.grads) finite = finite && std::isfinite(v);
      BOOST_TEST(finite);
      auto zv = p.value(z);
      for (std::size_t i = 0; i < zv.size(); ++i) finite = finite && std::isfinite(zv.data[i]);
      BOOST_TEST(finite);
    }
  }
}

// The Student-t ops at df up to 1e15 and 1e300 (in double): the log-density tends to the
// Normal's and the entropy to ½ log(2πe) + log σ, with nothing lost to the cancelling
// lgamma and digamma differences; at df = 0.5 the log-density matches Boost.Math's pdf.
BOOST_AUTO_TEST_CASE(studentt_ops_at_extreme_df) {
  const int n = 3, N = 4;
  for (double nu : {0.5, 1e6, 1e15, 1e300}) {
    BOOST_TEST_CONTEXT("df = " << nu) {
      rt::graph g;
      int v = g.input(n, "v");
      int df = g.constant(nu), loc = g.constant(0.25), scale = g.constant(1.75);
      int lt = g.studentt_logpdf(v, df, loc, scale, n), ln = g.normal_logpdf(v, loc, scale, n);
      int ht = g.studentt_entropy(df, scale, n), hn = g.normal_entropy(scale, n);
      rt::parameters<double> params(g);
      rt::plan<double> p(g, params, N, 1, false);
      auto in = p.input(v);
      for (std::size_t i = 0; i < in.size(); ++i) in.data[i] = -3.0 + 0.5 * static_cast<double>(i);
      rt::rng noise(1, rt::stream::noise, 0);
      p.forward(noise);
      for (int j = 0; j < N; ++j) {
        double exact = 0;  // Boost.Math's Student-t density, summed over the rows
        for (int i = 0; i < n; ++i) {
          const double x = (in.data[j * n + i] - 0.25) / 1.75;
          exact += nu > 1e10 ? -0.5 * x * x - 0.5 * std::log(2 * M_PI) - std::log(1.75)
                             : std::log(boost::math::pdf(boost::math::students_t_distribution<double>(nu), x)) - std::log(1.75);
        }
        const double tol = nu > 1e10 ? 1e-12 : (nu > 1e5 ? 1e-5 : 1e-12);  // at 1e6 the Normal is not yet the limit
        BOOST_TEST(std::fabs(p.value(lt).data[j] - exact) < tol * std::max(1.0, std::fabs(exact)),
                   "log-density " << p.value(lt).data[j] << ", exact " << exact);
      }
      if (nu > 1e10) {
        for (int j = 0; j < N; ++j) {
          const double normal = p.value(ln).data[j];
          BOOST_TEST(std::fabs(p.value(lt).data[j] - normal) < 1e-12 * std::max(1.0, std::fabs(normal)),
                     "log-density " << p.value(lt).data[j] << ", Normal's " << normal);
        }
        BOOST_TEST(std::fabs(p.value(ht).data[0] - p.value(hn).data[0]) < 1e-12);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
