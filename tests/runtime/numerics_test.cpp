// Reference values for the Normal and Bernoulli densities and KL: closed forms worked by
// hand, or long-double evaluations of the defining formulas — never the code under test.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "runtime/graph.hpp"
#include "runtime/plan.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

// Runs a one-node graph: inputs given as [rows × 1] data columns (B = 1), returns the
// node's value. `build` gets the input nodes.
template <class T>
std::vector<T> run_op(const std::vector<std::vector<double>>& inputs,
                      const std::function<int(rt::graph&, const std::vector<int>&)>& build) {
  rt::graph g;
  std::vector<int> in;
  for (const auto& v : inputs) in.push_back(g.input(static_cast<int>(v.size())));
  int out = build(g, in);
  rt::objective_spec spec;
  spec.loglik = g.sum(out);
  g.objective(spec);
  rt::parameters<T> params(g);
  rt::plan<T> p(g, params, 1, 1);
  for (std::size_t k = 0; k < inputs.size(); ++k)
    for (std::size_t i = 0; i < inputs[k].size(); ++i) p.input(in[k]).data[i] = static_cast<T>(inputs[k][i]);
  rt::rng noise(1, rt::stream::noise, 0);
  p.forward(noise);
  auto v = p.value(out);
  return std::vector<T>(v.data, v.data + v.size());
}

// log Bernoulli(x | logit l) = x·l − log(1 + e^l) in long double, arranged so nothing
// cancels: (x − 1)·l − log1p(e^−l) for l > 0, x·l − log1p(e^l) otherwise.
long double bernoulli_ref(long double x, long double l) {
  return l > 0 ? (x - 1) * l - std::log1p(std::exp(-l)) : x * l - std::log1p(std::exp(l));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(numerics)

BOOST_AUTO_TEST_CASE(bernoulli_logits_finite_and_exact_for_extreme_logits) {
  const std::vector<double> logits = {0, 1e-8, -1e-8, 3.5, -3.5, 17, -17, 40, -40, 88, -88, 104, -104, 1e3, -1e3, 1e30, -1e30};
  for (double x : {0.0, 1.0, 0.25}) {
    for (double l : logits) {
      auto f = run_op<float>({{x}, {l}}, [](rt::graph& g, const std::vector<int>& in) { return g.bernoulli_logits(in[0], in[1]); });
      auto d = run_op<double>({{x}, {l}}, [](rt::graph& g, const std::vector<int>& in) { return g.bernoulli_logits(in[0], in[1]); });
      const long double ref = bernoulli_ref(x, l);
      BOOST_TEST_CONTEXT("x = " << x << ", logit = " << l << ", reference " << static_cast<double>(ref)) {
        BOOST_TEST(std::isfinite(f[0]));
        BOOST_TEST(std::isfinite(d[0]));
        // double: relative 1e-10 — Eigen's vectorized log is accurate to about 1e-18 absolute
        // near 1, which the log(u)·t/(u − 1) form turns into ~1e-11 relative for t ~ 1e-8;
        // float: relative 1e-6 or absolute 2e-7.
        BOOST_TEST(std::fabs(d[0] - static_cast<double>(ref)) <= 1e-10 * std::fabs(static_cast<double>(ref)) + 1e-300);
        BOOST_TEST(std::fabs(f[0] - static_cast<double>(ref)) <= 1e-6 * std::fabs(static_cast<double>(ref)) + 2e-7);
      }
    }
  }
  // Hand values: log σ(0) = −log 2; x = 1, l = −1000 → −1000 (to within e^−1000).
  auto half = run_op<double>({{1.0}, {0.0}}, [](rt::graph& g, const std::vector<int>& in) { return g.bernoulli_logits(in[0], in[1]); });
  BOOST_TEST(half[0] == -0.69314718055994530942, boost::test_tools::tolerance(1e-15));
  auto far = run_op<float>({{1.0}, {-1000.0}}, [](rt::graph& g, const std::vector<int>& in) { return g.bernoulli_logits(in[0], in[1]); });
  BOOST_TEST(far[0] == -1000.0f);
}

BOOST_AUTO_TEST_CASE(softplus_is_accurate_where_it_is_tiny) {
  // softplus(x) = log(1 + e^x); for x = −20 it is 2.0611536181902037e-9 (long double below).
  // (float's normal range ends near e^−87, so x ≥ −80 here)
  for (double x : {-80.0, -40.0, -20.0, -5.0, -1e-6, 0.0, 1e-6, 5.0, 20.0, 40.0}) {
    const long double ref = x > 0 ? x + std::log1p(std::exp(static_cast<long double>(-x)))
                                   : std::log1p(std::exp(static_cast<long double>(x)));
    auto f = run_op<float>({{x}}, [](rt::graph& g, const std::vector<int>& in) { return g.unary(op_kind::softplus, in[0]); });
    auto d = run_op<double>({{x}}, [](rt::graph& g, const std::vector<int>& in) { return g.unary(op_kind::softplus, in[0]); });
    BOOST_TEST_CONTEXT("x = " << x) {
      BOOST_TEST(std::fabs(f[0] - static_cast<double>(ref)) <= 3e-7 * static_cast<double>(ref));
      BOOST_TEST(std::fabs(d[0] - static_cast<double>(ref)) <= 1e-10 * static_cast<double>(ref));
    }
  }
}

BOOST_AUTO_TEST_CASE(normal_kl_and_density_closed_forms) {
  // KL(N(1, 2²) ‖ N(0, 1)) = log(1/2) + (4 + 1)/2 − 1/2 = 2 − log 2 = 1.3068528194400546
  auto kl = run_op<double>({{1.0}, {2.0}, {0.0}, {1.0}}, [](rt::graph& g, const std::vector<int>& in) {
    return g.kl_normal_normal(in[0], in[1], in[2], in[3], 1);
  });
  BOOST_TEST(kl[0] == 1.3068528194400546, boost::test_tools::tolerance(1e-14));
  // KL(N(0, 1) ‖ N(3, 0.5²)) = log 0.5 + (1 + 9)/(2·0.25) − 1/2 = 19.5 − log 2 = 18.806852819440056
  auto kl2 = run_op<double>({{0.0}, {1.0}, {3.0}, {0.5}}, [](rt::graph& g, const std::vector<int>& in) {
    return g.kl_normal_normal(in[0], in[1], in[2], in[3], 1);
  });
  BOOST_TEST(kl2[0] == 18.806852819440056, boost::test_tools::tolerance(1e-14));
  // Two dimensions sum: KL of identical Normals is 0.
  auto kl0 = run_op<double>({{0.3, -2}, {0.7, 1.5}, {0.3, -2}, {0.7, 1.5}}, [](rt::graph& g, const std::vector<int>& in) {
    return g.kl_normal_normal(in[0], in[1], in[2], in[3], 2);
  });
  BOOST_TEST(std::fabs(kl0[0]) < 1e-15);
  // log N(1 | 0, 2²) = −1/8 − log 2 − ½ log 2π = −1.737085713764618
  auto lp = run_op<double>({{1.0}, {0.0}, {2.0}}, [](rt::graph& g, const std::vector<int>& in) {
    return g.normal_logpdf(in[0], in[1], in[2], 1);
  });
  BOOST_TEST(lp[0] == -1.737085713764618, boost::test_tools::tolerance(1e-14));
  // H[N(μ, 2²)] = log 2 + ½ (1 + log 2π) = 2.112085713764618
  auto h = run_op<double>({{2.0}}, [](rt::graph& g, const std::vector<int>& in) { return g.normal_entropy(in[0], 1); });
  BOOST_TEST(h[0] == 2.112085713764618, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_SUITE_END()
