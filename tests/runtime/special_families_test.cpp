// Student-t, Gamma and Power Spherical special functions (runtime/special_families.hpp)
// against mpmath reference values computed at 50–80+ digits by
// tests/runtime/reference/make_families_reference.py (committed CSV), against their limits,
// against central differences of themselves (every *_ddf / *_dkappa) and of Boost.Math's
// gamma_p_inv (gamma_draw_dalpha), across the switches between evaluation methods, and the
// Gamma sampler against the moments and the CDF of the distribution.
#include <boost/test/unit_test.hpp>

#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/rng.hpp"
#include "runtime/special_families.hpp"

namespace rt = vaec::rt;

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

struct ref_row {
  std::string kind;
  double p1 = 0, p2 = 0;
  std::vector<double> v;  // the non-empty value cells, in order
};

// strtod, not stod: a few reference values (derivatives at df = 1e300) are below the double
// range and read as 0.
std::vector<ref_row> read_reference() {
  std::ifstream in(std::string(VAEC_SOURCE_DIR) + "/tests/runtime/reference/families_reference.csv");
  std::vector<ref_row> rows;
  std::string line;
  if (!std::getline(in, line)) return rows;  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::vector<std::string> cells;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (cells.size() < 4) continue;
    ref_row r;
    r.kind = cells[0];
    r.p1 = std::strtod(cells[1].c_str(), nullptr);
    r.p2 = cells[2].empty() ? 0 : std::strtod(cells[2].c_str(), nullptr);
    for (std::size_t i = 3; i < cells.size(); ++i)
      if (!cells[i].empty()) r.v.push_back(std::strtod(cells[i].c_str(), nullptr));
    rows.push_back(r);
  }
  return rows;
}

std::vector<ref_row> rows_of(const std::string& kind) {
  std::vector<ref_row> out;
  for (auto& r : read_reference())
    if (r.kind == kind) out.push_back(r);
  return out;
}

// Relative error; a reference of exactly 0 (or below the double range) wants 0 (or below
// 1e-300) back.
double rel(double got, double want) {
  if (std::fabs(want) < 1e-300) return std::fabs(got) < 1e-300 ? 0 : INFINITY;
  return std::fabs(got - want) / std::fabs(want);
}

// Central difference with one Richardson step: O(h⁴).
template <class F>
double derivative(F f, double x, double h) {
  const double d1 = (f(x + h) - f(x - h)) / (2 * h);
  const double d2 = (f(x + h / 2) - f(x - h / 2)) / h;
  return (4 * d2 - d1) / 3;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(special_families)

// ---- against mpmath ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(studentt_against_mpmath) {
  const auto rows = rows_of("studentt");
  BOOST_REQUIRE_EQUAL(rows.size(), 24u);
  double max_rel[4] = {}, max_abs[2] = {};
  for (const auto& r : rows) {
    BOOST_REQUIRE_EQUAL(r.v.size(), 4u);
    BOOST_TEST_CONTEXT("df = " << r.p1) {
      const double got[4] = {rt::studentt_log_norm(r.p1), rt::studentt_log_norm_ddf(r.p1),
                             rt::studentt_entropy(r.p1), rt::studentt_entropy_ddf(r.p1)};
      for (int i = 0; i < 4; ++i) {
        const double e = rel(got[i], r.v[i]);
        BOOST_TEST(e <= 1e-10, "column " << i << ": " << got[i] << " vs " << r.v[i]);
        max_rel[i] = std::max(max_rel[i], e);
      }
      // log_norm and entropy tend to constants: 1e-14 absolute as well.
      for (int i : {0, 2}) {
        const double e = std::fabs(got[i] - r.v[i]) / std::max(1.0, std::fabs(r.v[i]));
        BOOST_TEST(e <= 1e-14);
        max_abs[i / 2] = std::max(max_abs[i / 2], e);
      }
    }
  }
  BOOST_TEST_MESSAGE("Student-t vs mpmath (" << rows.size() << " df): max rel err log_norm "
                     << max_rel[0] << ", log_norm_ddf " << max_rel[1] << ", entropy " << max_rel[2]
                     << ", entropy_ddf " << max_rel[3] << "; abs (rel. to max(1,|v|)) log_norm "
                     << max_abs[0] << ", entropy " << max_abs[1]);
}

BOOST_AUTO_TEST_CASE(gamma_dalpha_against_mpmath) {
  const auto rows = rows_of("gamma");
  // 13 α × 9 quantiles, less the 6 whose quantile is below the smallest normal double
  // (α = 1e-3: u ≤ 0.3; α = 0.01: u ≤ 1e-4).
  BOOST_REQUIRE_EQUAL(rows.size(), 111u);
  double max_e = 0;
  for (const auto& r : rows) {
    BOOST_REQUIRE_EQUAL(r.v.size(), 2u);  // u, dg/dα
    BOOST_TEST_CONTEXT("alpha = " << r.p1 << ", g = " << r.p2 << " (u = " << r.v[0] << ")") {
      const double got = rt::gamma_draw_dalpha(r.p1, r.p2);
      const double e = rel(got, r.v[1]);
      BOOST_TEST(e <= 1e-8, got << " vs " << r.v[1]);
      max_e = std::max(max_e, e);
    }
  }
  BOOST_TEST_MESSAGE("gamma_draw_dalpha vs mpmath (" << rows.size() << " rows): max rel err " << max_e);
}

BOOST_AUTO_TEST_CASE(power_spherical_against_mpmath) {
  const auto rows = rows_of("power_spherical");
  BOOST_REQUIRE_EQUAL(rows.size(), 8u * 10u);
  double max_rel[5] = {}, max_kl_abs = 0;
  for (const auto& r : rows) {
    BOOST_REQUIRE_EQUAL(r.v.size(), 5u);
    BOOST_TEST_CONTEXT("n = " << r.p1 << ", kappa = " << r.p2) {
      const double n = r.p1, k = r.p2;
      const double got[5] = {rt::power_spherical_log_norm(n, k), rt::power_spherical_log_norm_dkappa(n, k),
                             rt::power_spherical_entropy(n, k), rt::power_spherical_entropy_dkappa(n, k),
                             rt::kl_power_spherical_uniform(n, k)};
      for (int i = 0; i < 5; ++i) {
        const double e = rel(got[i], r.v[i]);
        BOOST_TEST(e <= 1e-10, "column " << i << ": " << got[i] << " vs " << r.v[i]);
        max_rel[i] = std::max(max_rel[i], e);
      }
      const double e = std::fabs(got[4] - r.v[4]);
      if (r.v[4] < 1) BOOST_TEST(e <= 1e-12);
      if (r.v[4] < 1) max_kl_abs = std::max(max_kl_abs, e);
    }
  }
  BOOST_TEST_MESSAGE("Power Spherical vs mpmath (" << rows.size() << " rows): max rel err log_norm "
                     << max_rel[0] << ", log_norm_dkappa " << max_rel[1] << ", entropy " << max_rel[2]
                     << ", entropy_dkappa " << max_rel[3] << ", KL " << max_rel[4]
                     << "; KL abs (KL < 1) " << max_kl_abs);
}

BOOST_AUTO_TEST_CASE(sphere_area_against_mpmath) {
  const auto rows = rows_of("sphere");
  BOOST_REQUIRE_EQUAL(rows.size(), 12u);
  double max_e = 0;
  for (const auto& r : rows) {
    const double e = rel(rt::log_sphere_area(r.p1), r.v.at(0));
    BOOST_TEST(e <= 1e-10, "n = " << r.p1);
    max_e = std::max(max_e, e);
  }
  // log|S^1| = log 2π, log|S^2| = log 4π exactly.
  BOOST_TEST(rel(rt::log_sphere_area(2), std::log(2 * kPi)) <= 1e-15);
  BOOST_TEST(rel(rt::log_sphere_area(3), std::log(4 * kPi)) <= 1e-15);
  BOOST_TEST_MESSAGE("log_sphere_area vs mpmath: max rel err " << max_e);
}

// ---- Student-t limits ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(studentt_gaussian_limit) {
  const double h_gauss = 1.41893853320467274178032973640562;          // ½ log(2πe)
  const double log_norm_gauss = -0.918938533204672741780329736405618;  // −½ log 2π
  // The entropy decreases to ½ log(2πe), as ½ log(2πe) + 1/ν + 1/(4ν²) + O(ν⁻³).
  double prev = INFINITY;
  for (int i = 0; i <= 303 * 4; ++i) {
    const double df = std::pow(10.0, -3 + i / 4.0);
    const double h = rt::studentt_entropy(df);
    BOOST_TEST_CONTEXT("df = " << df) {
      BOOST_TEST(h <= prev);
      BOOST_TEST(h >= h_gauss);
      BOOST_TEST(rt::studentt_log_norm(df) <= log_norm_gauss + 1e-16);
      BOOST_TEST(rt::studentt_log_norm_ddf(df) >= 0);
      BOOST_TEST(rt::studentt_entropy_ddf(df) <= 0);
    }
    prev = h;
  }
  for (double df : {1e6, 1e8, 1e10, 1e15, 1e20, 1e100, 1e300}) {
    BOOST_TEST_CONTEXT("df = " << df) {
      BOOST_TEST(std::fabs(rt::studentt_entropy(df) - (h_gauss + 1 / df + 1 / (4 * df * df))) <= 4e-16);
      BOOST_TEST(std::fabs(rt::studentt_log_norm(df) - (log_norm_gauss - 1 / (4 * df))) <= 2e-16);
      if (df <= 1e150) {  // 1/ν² is representable
        BOOST_TEST(rel(rt::studentt_log_norm_ddf(df), 1 / (4 * df * df)) <= 1e-5);
        BOOST_TEST(rel(rt::studentt_entropy_ddf(df), -1 / (df * df)) <= 1e-5);
      }
    }
  }
  BOOST_TEST(rt::studentt_entropy(1e300) == h_gauss);
  BOOST_TEST(rt::studentt_log_norm(1e300) == log_norm_gauss);
  // ν = 1: the standard Cauchy, entropy log 4π and normalizer 1/π.
  BOOST_TEST(rel(rt::studentt_entropy(1), std::log(4 * kPi)) <= 1e-15);
  BOOST_TEST(rel(rt::studentt_log_norm(1), -std::log(kPi)) <= 1e-15);
}

// ---- derivatives against central differences ----------------------------------------------

BOOST_AUTO_TEST_CASE(derivatives_match_finite_differences) {
  // Each *_ddf / *_dkappa against a Richardson-extrapolated central difference of its function,
  // including across the switches between methods (ν = 24; y = β + κ = 20; κ = β). Allowed:
  // 1e-7 relative plus the difference's rounding, 1e-15 |f| / (h |f′|).
  double max_e = 0;
  auto check = [&](const char* what, double f_scale, double fd, double exact, double h) {
    const double round = 1e-15 * std::max(1.0, f_scale) / (h * std::fabs(exact));
    const double e = std::fabs(fd - exact) / std::fabs(exact);
    BOOST_TEST(e <= 1e-7 + round, what << ": " << fd << " vs " << exact);
    if (round < 1e-9) max_e = std::max(max_e, e);
  };
  for (double df : {0.003, 0.01, 0.3, 1.0, 2.5, 7.0, 23.99, 24.0, 24.01, 100.0, 1e3, 1e4}) {
    BOOST_TEST_CONTEXT("df = " << df) {
      const double h = 1e-3 * df;
      check("log_norm", std::fabs(rt::studentt_log_norm(df)),
            derivative(rt::studentt_log_norm, df, h), rt::studentt_log_norm_ddf(df), h);
      check("entropy", std::fabs(rt::studentt_entropy(df)),
            derivative(rt::studentt_entropy, df, h), rt::studentt_entropy_ddf(df), h);
    }
  }
  for (double n : {2.0, 3.0, 5.0, 11.0, 39.0, 64.0, 1000.0, 1e4}) {
    const double beta = (n - 1) / 2;
    for (double k : {1e-3, 0.1, 1.0, 10.0, 1e3, 1e6, beta, 20 - beta}) {
      if (k <= 0) continue;
      BOOST_TEST_CONTEXT("n = " << n << ", kappa = " << k) {
        const double h = 1e-3 * k;
        auto logc = [n](double kk) { return rt::power_spherical_log_norm(n, kk); };
        auto ent = [n](double kk) { return rt::power_spherical_entropy(n, kk); };
        auto kl = [n](double kk) { return rt::kl_power_spherical_uniform(n, kk); };
        const double dh = rt::power_spherical_entropy_dkappa(n, k);
        check("log_norm", std::fabs(logc(k)), derivative(logc, k, h),
              rt::power_spherical_log_norm_dkappa(n, k), h);
        check("entropy", std::fabs(ent(k)), derivative(ent, k, h), dh, h);
        check("kl", kl(k), derivative(kl, k, h), -dh, h);  // d KL/dκ = −dH/dκ
      }
    }
  }
  BOOST_TEST_MESSAGE("special_families finite differences: max rel err (where rounding allows 1e-9) "
                     << max_e);
}

// ---- Gamma: the reparameterization gradient --------------------------------------------------

BOOST_AUTO_TEST_CASE(gamma_dalpha_matches_quantile_difference) {
  // dg/dα = d/dα P⁻¹(α, u) at fixed u: against a central difference of Boost's gamma_p_inv.
  double max_e = 0;
  for (auto [a, u] : std::vector<std::pair<double, double>>{{0.05, 0.3}, {0.5, 0.3}, {1, 0.5},
                                                            {2.5, 0.9}, {10, 0.01}, {30, 0.5},
                                                            {100, 0.999}, {1e4, 0.99}, {1e6, 1e-4}}) {
    BOOST_TEST_CONTEXT("alpha = " << a << ", u = " << u) {
      const double h = 1e-5 * a;
      const double fd = (boost::math::gamma_p_inv(a + h, u) - boost::math::gamma_p_inv(a - h, u)) / (2 * h);
      const double got = rt::gamma_draw_dalpha(a, boost::math::gamma_p_inv(a, u));
      BOOST_TEST(rel(got, fd) <= 1e-6, got << " vs " << fd);
      max_e = std::max(max_e, rel(got, fd));
    }
  }
  BOOST_TEST_MESSAGE("gamma_draw_dalpha vs central differences of gamma_p_inv: max rel diff " << max_e);
}

BOOST_AUTO_TEST_CASE(gamma_dalpha_continuous_across_methods) {
  // The series, the continued fraction and Temme's expansion agree where one takes over from
  // another: adjacent doubles on either side of each switch give the same value to 1e-13.
  auto agree = [](double a0, double x0, double a1, double x1) {
    const double v0 = rt::gamma_draw_dalpha(a0, x0), v1 = rt::gamma_draw_dalpha(a1, x1);
    BOOST_TEST_CONTEXT("alpha " << a0 << " / " << a1 << ", g " << x0 << " / " << x1) {
      BOOST_TEST(std::isfinite(v0));
      BOOST_TEST(rel(v0, v1) <= 1e-13, v0 << " vs " << v1);
    }
  };
  const double below20 = std::nextafter(20.0, 0.0);
  for (double u : {1e-6, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-6}) {
    const double x = boost::math::gamma_p_inv(20.0, u);
    agree(below20, x, 20.0, x);  // Temme from α = 20
  }
  for (double a : {1e-3, 0.1, 0.9, 1.0, 3.0, 10.0, 19.0, 25.0, 1e3, 1e6}) {
    // series / fraction at g = α + 1 + 1.5 max(√α, 1); |η| = 1 at g = 0.3017096α and 2.3576767α
    for (double x : {a + 1 + 1.5 * std::max(std::sqrt(a), 1.0), 0.3017096 * a, 2.3576767 * a})
      for (double f : {0.99999, 1.0})  // (the two sides' own change is ~1e-5 relative here)
        agree(a, x * f * (1 - 1e-15), a, x * f * (1 + 1e-15));
  }
}

BOOST_AUTO_TEST_CASE(gamma_dalpha_finite_and_positive) {
  // Finite and positive over the whole domain, including g far outside the bulk.
  int bad = 0;
  for (int i = 0; i <= 110; ++i) {
    const double a = std::pow(10.0, -3 + i / 10.0);
    std::vector<double> gs = {5e-324, 1e-310, 1e-300, 1e-100, 1e-10, 1, 1e10, 1e300, 1.7e308};
    for (double u : {1e-10, 1e-4, 0.1, 0.5, 0.9, 1 - 1e-4}) gs.push_back(boost::math::gamma_p_inv(a, u));
    for (double q : {1e-10, 1e-100, 1e-300}) gs.push_back(boost::math::gamma_q_inv(a, q));
    for (double g : gs) {
      const double v = rt::gamma_draw_dalpha(a, g);
      if (!(std::isfinite(v) && v >= 0 && (g < 1e-200 || v > 0))) {
        ++bad;
        BOOST_TEST_MESSAGE("alpha = " << a << ", g = " << g << ": " << v);
      }
    }
  }
  BOOST_TEST(bad == 0);
  BOOST_TEST(rt::gamma_draw_dalpha(2.0, 0.0) == 0);
}

BOOST_AUTO_TEST_CASE(gamma_dalpha_speed) {
  // Not a check: the cost per call, over draws from the distribution itself.
  for (double a : {0.01, 0.3, 1.0, 3.0, 10.0, 100.0, 1e6}) {
    rt::rng r(7, rt::stream::noise, 0);
    std::vector<double> g(20000);
    for (auto& x : g) x = rt::gamma_draw(a, r);
    double sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int rep = 0; rep < 5; ++rep)
      for (double x : g) sink += rt::gamma_draw_dalpha(a, x);
    const auto t1 = std::chrono::steady_clock::now();
    BOOST_TEST(std::isfinite(sink));
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (5.0 * g.size());
    BOOST_TEST_MESSAGE("gamma_draw_dalpha, alpha = " << a << ": " << ns << " ns/call");
  }
}

// ---- Gamma: the sampler ---------------------------------------------------------------------

namespace {

std::vector<double> draws(double alpha, std::size_t n, std::uint64_t counter) {
  rt::rng r(12345, rt::stream::noise, counter);
  std::vector<double> out(n);
  for (auto& x : out) x = rt::gamma_draw(alpha, r);
  return out;
}

// Kolmogorov–Smirnov distance between the draws and P(α, ·), over x ≥ 1e-300 (below that the
// draws are clamped to 1e-300, which moves mass to 1e-300 without changing the CDF above it).
double ks_distance(double alpha, std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size();) {
    std::size_t j = i;
    while (j < x.size() && x[j] == x[i]) ++j;  // ties
    const double p = boost::math::gamma_p(alpha, x[i]);
    d = std::max(d, std::fabs(static_cast<double>(j) / n - p));  // ECDF at x[i]
    if (x[i] > 1e-300) d = std::max(d, std::fabs(static_cast<double>(i) / n - p));  // just below
    i = j;
  }
  return d;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gamma_draw_moments) {
  // Mean α and variance α within 4 standard errors from the known moments: Var(mean) = α/N,
  // Var(sample variance) ≈ (μ₄ − σ⁴)/N = (2α² + 6α)/N. For small α the variance estimate is
  // heavy-tailed: there the mean of log G instead, E log G = ψ(α) (Var ψ′(α)), corrected for the
  // clamp at 1e-300: E max(log G, c) = ψ(α) + ∫₀^{e^c} P(α, y)/y dy ≈ ψ(α) + P(α, e^c)/α.
  const std::size_t n = 200000;
  std::uint64_t counter = 0;
  for (double a : {1e-3, 0.01, 0.1, 0.5, 1.0, 2.5, 10.0, 1e3, 1e6, 1e8}) {
    const auto x = draws(a, n, counter++);
    double m = 0, mlog = 0;
    for (double v : x) m += v, mlog += std::log(v);
    m /= n, mlog /= n;
    double var = 0;
    for (double v : x) var += (v - m) * (v - m);
    var /= n - 1;
    BOOST_TEST_CONTEXT("alpha = " << a) {
      BOOST_TEST(std::fabs(m - a) <= 4 * std::sqrt(a / n), "mean " << m);
      if (a >= 0.5) {
        BOOST_TEST(std::fabs(var - a) <= 4 * std::sqrt((2 * a * a + 6 * a) / n), "variance " << var);
      } else {
        const double want = boost::math::digamma(a) + boost::math::gamma_p(a, 1e-300) / a;
        BOOST_TEST(std::fabs(mlog - want) <= 4 * std::sqrt(boost::math::trigamma(a) / n),
                   "mean log " << mlog << " vs " << want);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(gamma_draw_distribution) {
  // Kolmogorov–Smirnov against P(α, ·): √N D < 2.5 (P ≈ 4e-6 under the null; the seeds are fixed).
  const std::size_t n = 100000;
  std::uint64_t counter = 100;
  for (double a : {1e-3, 0.01, 0.1, 0.5, 1.0, 3.0, 50.0, 1e5}) {
    const double d = ks_distance(a, draws(a, n, counter++));
    BOOST_TEST(d * std::sqrt(double(n)) < 2.5, "alpha = " << a << ": sqrt(N) D = " << d * std::sqrt(double(n)));
  }
}

BOOST_AUTO_TEST_CASE(gamma_draw_small_alpha_never_zero) {
  // α = 1e-3: half the draws are below 1e-300, where they are clamped: none is 0 or denormal,
  // and the clamped fraction is P(α, 1e-300).
  const std::size_t n = 100000;
  const auto x = draws(1e-3, n, 999);
  std::size_t clamped = 0, bad = 0;
  for (double v : x) {
    if (!std::isnormal(v) || v < 1e-300) ++bad;
    if (v == 1e-300) ++clamped;
  }
  BOOST_TEST(bad == 0u);
  const double p = boost::math::gamma_p(1e-3, 1e-300), frac = double(clamped) / n;
  BOOST_TEST(std::fabs(frac - p) <= 4 * std::sqrt(p * (1 - p) / n), "clamped " << frac << " vs " << p);
}

BOOST_AUTO_TEST_CASE(gamma_draw_deterministic) {
  for (double a : {0.01, 0.7, 1.0, 4.0, 1e7}) {
    BOOST_TEST(draws(a, 1000, 5) == draws(a, 1000, 5));
    BOOST_TEST(draws(a, 1000, 5) != draws(a, 1000, 6));
  }
}

BOOST_AUTO_TEST_CASE(outside_domain_is_nan) {
  rt::rng r(1, rt::stream::noise, 0);
  BOOST_TEST(std::isnan(rt::studentt_log_norm(1e-4)));
  BOOST_TEST(std::isnan(rt::studentt_entropy(NAN)));
  BOOST_TEST(rt::studentt_entropy_ddf(INFINITY) == 0);  // the Normal limit (issue 9)
  BOOST_TEST(std::isnan(rt::studentt_entropy_ddf(-INFINITY)));
  BOOST_TEST(std::isnan(rt::studentt_log_norm_ddf(-1)));
  BOOST_TEST(std::isnan(rt::gamma_draw(5e-5, r)));
  BOOST_TEST(std::isnan(rt::gamma_draw(2e8, r)));
  BOOST_TEST(std::isnan(rt::gamma_draw_dalpha(1, -1)));
  BOOST_TEST(std::isnan(rt::gamma_draw_dalpha(1, INFINITY)));
  BOOST_TEST(std::isnan(rt::gamma_draw_dalpha(NAN, 1)));
  BOOST_TEST(std::isnan(rt::power_spherical_log_norm(1.5, 1)));
  BOOST_TEST(std::isnan(rt::power_spherical_entropy(3, -1)));
  BOOST_TEST(std::isnan(rt::power_spherical_entropy_dkappa(3, 2e8)));
  BOOST_TEST(std::isnan(rt::power_spherical_log_norm_dkappa(2e4, 1)));
  BOOST_TEST(std::isnan(rt::kl_power_spherical_uniform(3, NAN)));
  BOOST_TEST(std::isnan(rt::log_sphere_area(0.5)));
  BOOST_TEST(rt::kl_power_spherical_uniform(7, 0) == 0);
  BOOST_TEST(rt::power_spherical_entropy_dkappa(7, 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
