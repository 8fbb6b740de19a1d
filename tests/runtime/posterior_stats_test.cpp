// vaec eval's posterior figures: active units (Burda et al. 2016) against covariances
// worked out by hand, and the concentration / df summaries of a hand-built graph.
#include <cmath>
#include <stdexcept>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "runtime/graph.hpp"
#include "runtime/plan.hpp"
#include "runtime/posterior_stats.hpp"
#include "runtime/train.hpp"

namespace rt = vaec::rt;

BOOST_AUTO_TEST_SUITE(posterior_stats)

// Four coordinates × four examples, column-major (column j = example j). By hand, with
// the divisor N − 1 = 3:
//   u0: 0, 0, 0, 0            mean 0        Σd² = 0                          A = 0
//   u1: 1, −1, 1, −1          mean 0        Σd² = 4                          A = 4/3
//   u2: 0, 0, 0, 1/4          mean 1/16     Σd² = 3·(1/16)² + (3/16)² = 3/64   A = 1/64 = 0.015625
//   u3: 1/8, 0, 0, 0          mean 1/32     Σd² = (3/32)² + 3·(1/32)² = 3/256  A = 1/256 = 0.00390625
// Active (A > 0.01): u1 and u2.
BOOST_AUTO_TEST_CASE(active_units_against_a_hand_computed_covariance) {
  const std::vector<float> z = {0, 1, 0, 0.125f,  //
                                0, -1, 0, 0,      //
                                0, 1, 0, 0,       //
                                0, -1, 0.25f, 0};
  const rt::unit_activity a = rt::active_units(z, 4, 4);
  BOOST_TEST_REQUIRE(a.variance.size() == 4u);
  BOOST_TEST(a.variance[0] == 0.0);
  BOOST_TEST(a.variance[1] == 4.0 / 3.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(a.variance[2] == 0.015625);  // exact in binary
  BOOST_TEST(a.variance[3] == 0.00390625);
  BOOST_TEST(a.active == 2);
  // Strictly above the threshold: A = threshold is not active.
  BOOST_TEST(rt::active_units(z, 4, 4, 0.015625).active == 1);
  BOOST_TEST(rt::active_units(z, 4, 4, 0.0).active == 3);
  // One example: no spread, nothing active.
  const rt::unit_activity one = rt::active_units(std::vector<float>{5, -5}, 2, 1);
  BOOST_TEST(one.variance == std::vector<double>({0.0, 0.0}), boost::test_tools::per_element());
  BOOST_TEST(one.active == 0);
  BOOST_CHECK_THROW(rt::active_units(z, 4, 3), std::invalid_argument);
}

// A graph whose "posterior" is the data itself: latent a's location is x [3], latent b's
// a [1 × B] value s = Σ x broadcast over 2 coordinates, its concentration s, and a learned
// df a shared parameter (4.5).
BOOST_AUTO_TEST_CASE(figures_of_a_hand_built_graph) {
  rt::graph g;
  const int x = g.input(3);
  const int s = g.sum(x);
  const int df = g.param(1, 4.5, rt::param_group::phi, "df");
  rt::parameters<float> params(g);
  params.initialize(1);
  const std::vector<rt::posterior_nodes> nodes = {
      {3, x, -1, -1},   // a: location x
      {2, s, s, df},    // b: location s (broadcast), concentration s, df
      {2, -1, -1, -1},  // c: no location (the uniform sphere)
  };
  // Three examples: sums 6, 1/2, 3.
  rt::dataset d;
  d.width = 3;
  d.count = 3;
  d.values = {1, 2, 3, 0, 0, 0.5f, -1, 4, 0};
  const auto f = rt::posterior_statistics(g, params.values, x, nodes, d, 1);
  BOOST_TEST_REQUIRE(f.size() == 3u);
  // a: u0 = 1, 0, −1 → A = 2/2 = 1; u1 = 2, 0, 4 → mean 2, Σd² = 8, A = 4;
  //    u2 = 3, 1/2, 0 → mean 7/6, Σd² = (121 + 16 + 49)/36, A = 93/36.
  BOOST_TEST(f[0].activity.variance[0] == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[0].activity.variance[1] == 4.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[0].activity.variance[2] == 93.0 / 36.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[0].activity.active == 3);
  BOOST_TEST(!f[0].concentration);
  BOOST_TEST(!f[0].df);
  // b: s = 6, 1/2, 3 → mean 19/6, Σd² = (289 + 256 + 1)/36, A = 273/36 on both coordinates.
  BOOST_TEST(f[1].activity.variance[0] == 273.0 / 36.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[1].activity.variance[1] == 273.0 / 36.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[1].activity.active == 2);
  BOOST_TEST_REQUIRE(f[1].concentration.has_value());
  BOOST_TEST(f[1].concentration->mean == 19.0 / 6.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(f[1].concentration->min == 0.5);
  BOOST_TEST(f[1].concentration->max == 6.0);
  BOOST_TEST_REQUIRE(f[1].df.has_value());
  BOOST_TEST(*f[1].df == 4.5);
  // c: E_q[z] = 0 for every x.
  BOOST_TEST(f[2].activity.variance == std::vector<double>({0.0, 0.0}), boost::test_tools::per_element());
  BOOST_TEST(f[2].activity.active == 0);
}

// More examples than a batch (500): the figures are those of all of them, in order. The
// expected values are computed here directly from the data, in double.
BOOST_AUTO_TEST_CASE(figures_span_batches) {
  rt::graph g;
  const int x = g.input(2);
  const int s = g.sum(x);
  rt::parameters<float> params(g);
  const std::size_t n = 1203;
  rt::dataset d;
  d.width = 2;
  d.count = n;
  for (std::size_t j = 0; j < n; ++j) {
    d.values.push_back(static_cast<float>(std::sin(0.1 * static_cast<double>(j))));
    d.values.push_back(static_cast<float>(j % 7) * 0.01f);
  }
  const auto f = rt::posterior_statistics(g, params.values, x, {{2, x, s, -1}}, d, 1);
  double mean[2] = {0, 0}, lo = INFINITY, hi = -INFINITY, ksum = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double a = d.values[2 * j], b = d.values[2 * j + 1];
    mean[0] += a / static_cast<double>(n);
    mean[1] += b / static_cast<double>(n);
    const double k = static_cast<double>(static_cast<float>(a + b));  // s is computed in float
    lo = std::min(lo, k);
    hi = std::max(hi, k);
    ksum += k;
  }
  double var[2] = {0, 0};
  for (std::size_t j = 0; j < n; ++j)
    for (int u = 0; u < 2; ++u) var[u] += std::pow(d.values[2 * j + static_cast<std::size_t>(u)] - mean[u], 2) / static_cast<double>(n - 1);
  BOOST_TEST(f[0].activity.variance[0] == var[0], boost::test_tools::tolerance(1e-9));
  BOOST_TEST(f[0].activity.variance[1] == var[1], boost::test_tools::tolerance(1e-9));
  // sin: A ≈ 1/2, active; (j mod 7)/100: A ≈ 4·10⁻⁴, not.
  BOOST_TEST(f[0].activity.active == 1);
  BOOST_TEST(f[0].concentration->mean == ksum / static_cast<double>(n), boost::test_tools::tolerance(1e-9));
  BOOST_TEST(f[0].concentration->min == lo);
  BOOST_TEST(f[0].concentration->max == hi);
}

// The mean and standard error of vaec eval's log-likelihood: 1, 2, 3, 4 have mean 5/2,
// Σd² = 5, sd = √(5/3) (divisor N − 1), standard error sd/√4.
BOOST_AUTO_TEST_CASE(mean_and_standard_error_by_hand) {
  const std::vector<double> v = {1, 2, 3, 4};
  const rt::mean_and_error m = rt::mean_and_standard_error(v);
  BOOST_TEST(m.mean == 2.5);
  BOOST_TEST(m.sd == std::sqrt(5.0 / 3.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(m.standard_error == std::sqrt(5.0 / 3.0) / 2, boost::test_tools::tolerance(1e-15));
  // Large values with a small spread: the two-pass form keeps the spread (a one-pass
  // Σv² − N·mean² would lose it to cancellation).
  const std::vector<double> big = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4};
  BOOST_TEST(rt::mean_and_standard_error(big).sd == std::sqrt(5.0 / 3.0), boost::test_tools::tolerance(1e-9));
  const rt::mean_and_error one = rt::mean_and_standard_error(std::vector<double>{-7});
  BOOST_TEST(one.mean == -7.0);
  BOOST_TEST(one.standard_error == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
