// The VampPrior's component densities (runtime/ops/vamp.hpp) against values computed here
// from the definitions, never from the op:
//   log p(z) = log (1/K) Σ_k q(z | λ_k),  λ_k = the encoder at pseudo-input u_k.
// With K = 1 and a fixed pseudo-input u the prior is q(· | u) itself: its log-density
// matches the family's formula (Normal, vMF, Power Spherical, Student-t) to 1e-10, and
// the KL estimate −H[q(· | x)] − E_q[log p(z)] lies within 4 standard errors of the closed
// form KL(q(· | x) ‖ q(· | u)) for Normal and vMF q. Two components 1e4 apart give the near
// one's value exactly (the far one's exp(−5e7) is 0), in double and float. The encoder's
// pass over the pseudo-inputs shares the layers of its pass over the data. Gradients:
// grad_test.cpp (vamp_families, lowered_models).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "runtime/graph.hpp"
#include "runtime/plan.hpp"
#include "runtime/special.hpp"
#include "tests/runtime/kl_estimate.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

constexpr int D = 3;  // data rows

// The encoder of both passes: h = tanh(W·in + b) and two heads, shared by the pass over
// the data x [D × B] and the pass over one pseudo-input u [D × 1].
struct vamp_graph {
  rt::graph g;
  int x = -1, u = -1, z = -1, entropy = -1, logp = -1;
  int a_x = -1, b_x = -1, a_u = -1, b_u = -1;  // the family's two parameters at x and at u
  // family: vamp_normal (loc, scale) or vamp_vmf (mean, concentration); n: the latent's rows.
  vamp_graph(op_kind family, int n) {
    x = g.input(D, "x");
    u = g.param_columns(D, 1, rt::param_info::init_kind::training_examples, rt::param_group::theta, "u");
    const int l1 = g.linear(x, 4, rt::param_group::phi, "enc");
    const int hx = g.unary(op_kind::tanh, l1), hu = g.unary(op_kind::tanh, g.linear_shared(u, l1));
    const bool normal = family == op_kind::vamp_normal;
    const int ha = g.linear(hx, n, rt::param_group::phi, "a"), hb = g.linear(hx, normal ? n : 1, rt::param_group::phi, "b");
    auto first = [&](int h) { return normal ? h : g.normalize(h); };
    auto second = [&](int h) {
      return g.binary(op_kind::add, g.unary(op_kind::softplus, h), g.constant(normal ? 0.3 : 2.0));
    };
    a_x = first(ha);
    b_x = second(hb);
    a_u = first(g.linear_shared(hu, ha));
    b_u = second(g.linear_shared(hu, hb));
    z = normal ? g.sample_normal(a_x, b_x, n) : g.sample_vmf(a_x, b_x, n);
    entropy = normal ? g.normal_entropy(b_x, n) : g.vmf_entropy(b_x, n);
    logp = g.vamp_logpdf(family, z, {a_u, b_u}, 1, n);
  }
};

using vaec::test::estimate;
estimate kl_estimate(const rt::plan<double>& p, const vamp_graph& m, int b) { return vaec::test::kl_estimate(p, m.entropy, m.logp, b); }

void fill(rt::plan<double>& p, rt::parameters<double>& params, const vamp_graph& m) {
  params.initialize(3);
  auto u = params.value(m.g.nodes()[static_cast<std::size_t>(m.u)].params[0]);
  const double fixed_u[D] = {-4.0, 3.5, -2.0};
  for (int i = 0; i < D; ++i) u.data[i] = fixed_u[i];
  auto x = p.input(m.x);
  const double xs[] = {3.0, -2.5, 4.0, 1.2, -3.8, 2.5};
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = xs[i % 6];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vamp)

// K = 1, Normal q: log p(z) is log N(z; μ_u, σ_u) (to 1e-10), and the KL estimate matches
// Σ log(σ_u/σ_x) + (σ_x² + (μ_x − μ_u)²)/(2σ_u²) − ½ within 4 standard errors.
BOOST_AUTO_TEST_CASE(one_pseudo_input_normal_matches_closed_form_kl) {
  const int n = 2, B = 2, S = 20000;
  vamp_graph m(op_kind::vamp_normal, n);
  rt::parameters<double> params(m.g);
  rt::plan<double> p(m.g, params, B, S, false);
  fill(p, params, m);
  rt::rng noise(5, rt::stream::noise, 0);
  p.forward(noise);
  auto mu_x = p.value(m.a_x), s_x = p.value(m.b_x), mu_u = p.value(m.a_u), s_u = p.value(m.b_u), z = p.value(m.z);
  BOOST_REQUIRE(mu_u.cols == 1);
  for (int c = 0; c < B * S; c += 997) {
    double want = 0;
    for (int i = 0; i < n; ++i) {
      const double v = (z.data[c * n + i] - mu_u.data[i]) / s_u.data[i];
      want += -0.5 * std::log(2 * M_PI) - std::log(s_u.data[i]) - 0.5 * v * v;
    }
    BOOST_TEST(std::fabs(p.value(m.logp).data[c] - want) <= 1e-10 * std::max(1.0, std::fabs(want)));
  }
  for (int b = 0; b < B; ++b) {
    double closed = 0;
    for (int i = 0; i < n; ++i) {
      const double sx = s_x.data[b * n + i], su = s_u.data[i], d = mu_x.data[b * n + i] - mu_u.data[i];
      closed += std::log(su / sx) + (sx * sx + d * d) / (2 * su * su) - 0.5;
    }
    const estimate e = kl_estimate(p, m, b);
    BOOST_TEST(closed > 0.05);  // the example and the pseudo-input differ: a test that can fail
    BOOST_TEST(std::fabs(e.mean - closed) <= 4 * e.standard_error,
               "example " << b << ": estimate " << e.mean << " ± " << e.standard_error << ", closed form " << closed);
  }
}

// K = 1, von Mises–Fisher q on S^2: log p(z) = log C_3(κ_u) + κ_u μ_uᵀz (to 1e-10), and the
// KL estimate matches κ_x A(κ_x) + log C(κ_x) − log C(κ_u) − κ_u A(κ_x) μ_uᵀμ_x within 4 SE.
BOOST_AUTO_TEST_CASE(one_pseudo_input_vmf_matches_closed_form_kl) {
  const int n = 3, B = 2, S = 20000;
  vamp_graph m(op_kind::vamp_vmf, n);
  rt::parameters<double> params(m.g);
  rt::plan<double> p(m.g, params, B, S, false);
  fill(p, params, m);
  rt::rng noise(6, rt::stream::noise, 0);
  p.forward(noise);
  auto mu_x = p.value(m.a_x), k_x = p.value(m.b_x), mu_u = p.value(m.a_u), k_u = p.value(m.b_u), z = p.value(m.z);
  // log C_3(κ) = log κ − log(4π sinh κ), written out here (not rt::log_vmf_normalizer).
  auto log_c3 = [](double k) { return std::log(k) - std::log(4 * M_PI) - k - std::log1p(-std::exp(-2 * k)) + std::log(2.0); };
  for (int c = 0; c < B * S; c += 997) {
    double dot = 0;
    for (int i = 0; i < n; ++i) dot += mu_u.data[i] * z.data[c * n + i];
    const double want = log_c3(k_u.data[0]) + k_u.data[0] * dot;
    BOOST_TEST(std::fabs(p.value(m.logp).data[c] - want) <= 1e-10 * std::max(1.0, std::fabs(want)));
  }
  for (int b = 0; b < B; ++b) {
    const double kx = k_x.data[b], ku = k_u.data[0];
    const double A = 1 / std::tanh(kx) - 1 / kx;  // A_3(κ) = coth κ − 1/κ
    double dot = 0;
    for (int i = 0; i < n; ++i) dot += mu_u.data[i] * mu_x.data[b * n + i];
    const double closed = kx * A + log_c3(kx) - log_c3(ku) - ku * A * dot;
    const estimate e = kl_estimate(p, m, b);
    BOOST_TEST(closed > 0.05);
    BOOST_TEST(std::fabs(e.mean - closed) <= 4 * e.standard_error,
               "example " << b << ": estimate " << e.mean << " ± " << e.standard_error << ", closed form " << closed);
  }
}

// Power Spherical and Student-t components at given parameters, K = 1: the formulas.
//   Power Spherical: log N(κ) + κ log(1 + μᵀz), N(κ)⁻¹ = 2^{α+β} π^β Γ(α)/Γ(α+β),
//   α = (n−1)/2 + κ, β = (n−1)/2 (De Cao & Aziz 2020);
//   Student-t: Σ lgamma((ν+1)/2) − lgamma(ν/2) − ½ log(νπ) − log σ − (ν+1)/2 log(1 + u²/ν).
BOOST_AUTO_TEST_CASE(one_component_power_spherical_and_studentt) {
  const int n = 3;
  const std::vector<double> zs = {0.6, 0.0, 0.8, -1.0, 0.0, 0.0, 0.0, 0.28, 0.96};
  {
    rt::graph g;
    const int z = g.input(n, "z");
    const int mean = g.param_columns(n, 1, rt::param_info::init_kind::training_examples, rt::param_group::theta, "mean");
    const int kappa = g.param_columns(1, 1, rt::param_info::init_kind::training_examples, rt::param_group::theta, "kappa");
    const int out = g.vamp_logpdf(op_kind::vamp_power_spherical, z, {mean, kappa}, 1, n);
    rt::parameters<double> params(g);
    const double mu[] = {0.0, 0.6, 0.8}, k = 7.5;
    for (int i = 0; i < n; ++i) params.value(0).data[i] = mu[i];
    params.value(1).data[0] = k;
    rt::plan<double> p(g, params, 3, 1, false);
    for (std::size_t i = 0; i < zs.size(); ++i) p.input(z).data[i] = zs[i];
    rt::rng noise(1, rt::stream::noise, 0);
    p.forward(noise);
    const double alpha = (n - 1) / 2.0 + k, beta = (n - 1) / 2.0;
    const double log_norm = -((alpha + beta) * std::log(2.0) + beta * std::log(M_PI) + std::lgamma(alpha) - std::lgamma(alpha + beta));
    for (int c = 0; c < 3; ++c) {
      double dot = 0;
      for (int i = 0; i < n; ++i) dot += mu[i] * zs[static_cast<std::size_t>(c * n + i)];
      const double want = log_norm + k * std::log1p(dot);
      BOOST_TEST(std::fabs(p.value(out).data[c] - want) <= 1e-10 * std::max(1.0, std::fabs(want)), c);
    }
  }
  {
    rt::graph g;
    const int z = g.input(n, "z");
    auto col = [&](const char* name, int rows) {
      return g.param_columns(rows, 1, rt::param_info::init_kind::training_examples, rt::param_group::theta, name);
    };
    const int df = col("df", 1), loc = col("loc", n), scale = col("scale", n);
    const int out = g.vamp_logpdf(op_kind::vamp_studentt, z, {df, loc, scale}, 1, n);
    rt::parameters<double> params(g);
    const double nu = 3.5, m[] = {0.5, -1.0, 2.0}, s[] = {0.7, 1.5, 2.5};
    params.value(0).data[0] = nu;
    for (int i = 0; i < n; ++i) {
      params.value(1).data[i] = m[i];
      params.value(2).data[i] = s[i];
    }
    rt::plan<double> p(g, params, 3, 1, false);
    for (std::size_t i = 0; i < zs.size(); ++i) p.input(z).data[i] = 10 * zs[i];
    rt::rng noise(1, rt::stream::noise, 0);
    p.forward(noise);
    for (int c = 0; c < 3; ++c) {
      double want = 0;
      for (int i = 0; i < n; ++i) {
        const double u = (10 * zs[static_cast<std::size_t>(c * n + i)] - m[i]) / s[i];
        want += std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2) - 0.5 * std::log(nu * M_PI) - std::log(s[i]) -
                (nu + 1) / 2 * std::log1p(u * u / nu);
      }
      BOOST_TEST(std::fabs(p.value(out).data[c] - want) <= 1e-10 * std::max(1.0, std::fabs(want)), c);
    }
  }
}

// Two Normal components 1e4 apart in every coordinate (σ = 1): next to either one, log p is
// that component's log-density less log 2 — the other's exp(−5e7·n) is exactly 0 —
// in double to 1e-12 and in float to 1e-6 relative, never −∞ or NaN. Halfway, both are equal
// and log p = log N(z; μ_1, 1) (−3.75e7 at n = 3), finite.
template <class T>
void two_far_components(double tolerance) {
  const int n = 3, K = 2;
  rt::graph g;
  const int z = g.input(n, "z");
  const int loc = g.param_columns(n, K, rt::param_info::init_kind::training_examples, rt::param_group::theta, "loc");
  const int scale = g.param_columns(n, K, rt::param_info::init_kind::training_examples, rt::param_group::theta, "scale");
  const int out = g.vamp_logpdf(op_kind::vamp_normal, z, {loc, scale}, K, n);
  rt::parameters<T> params(g);
  for (int i = 0; i < n; ++i) {
    params.value(0).data[i] = T(0);
    params.value(0).data[n + i] = T(1e4);
    params.value(1).data[i] = params.value(1).data[n + i] = T(1);
  }
  const std::vector<double> zs = {0.5, -0.25, 1.0, 1e4 + 0.5, 1e4 - 0.25, 1e4 + 1.0, 5e3, 5e3, 5e3};
  rt::plan<T> p(g, params, 3, 1, false);
  for (std::size_t i = 0; i < zs.size(); ++i) p.input(z).data[i] = static_cast<T>(zs[i]);
  rt::rng noise(1, rt::stream::noise, 0);
  p.forward(noise);
  const double near = -1.5 * std::log(2 * M_PI) - 0.5 * (0.25 + 0.0625 + 1.0) - std::log(2.0);
  const double half = -1.5 * std::log(2 * M_PI) - 0.5 * 3 * 5e3 * 5e3;
  const double want[] = {near, near, half};
  for (int c = 0; c < 3; ++c) {
    const double got = static_cast<double>(p.value(out).data[c]);
    BOOST_TEST(std::isfinite(got), c);
    BOOST_TEST(std::fabs(got - want[c]) <= tolerance * std::fabs(want[c]), "column " << c << ": " << got << " vs " << want[c]);
  }
}

BOOST_AUTO_TEST_CASE(two_components_1e4_apart_double) { two_far_components<double>(1e-12); }
BOOST_AUTO_TEST_CASE(two_components_1e4_apart_float) { two_far_components<float>(1e-6); }

// The pass over the pseudo-inputs uses the very parameters of the pass over the data: a
// change to the encoder's weight moves both, and the graph counts them once.
BOOST_AUTO_TEST_CASE(pseudo_input_pass_shares_the_encoder) {
  vamp_graph m(op_kind::vamp_normal, 2);
  std::size_t phi = 0;
  for (const auto& info : m.g.params())
    if (info.group == rt::param_group::phi) phi += info.size();
  BOOST_TEST(phi == m.g.param_count(rt::param_group::phi));
  BOOST_TEST(m.g.param_count(rt::param_group::phi) == (D * 4 + 4) + (4 * 2 + 2) * 2u);  // enc, a, b once each
  BOOST_TEST(m.g.param_count(rt::param_group::theta) == std::size_t{D});               // u
  // A node with the data's columns cannot take the pseudo-inputs' columns outside a density.
  BOOST_CHECK_THROW(m.g.binary(op_kind::add, m.a_x, m.a_u), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
