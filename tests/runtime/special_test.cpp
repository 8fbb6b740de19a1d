// vMF special functions (runtime/special.hpp) against mpmath reference values computed at
// 50 digits by tests/runtime/reference/make_special_reference.py (committed CSV), against
// closed forms (n = 3) and Boost.Math's cyl_bessel_i (n = 2), and for finiteness,
// monotonicity and derivative consistency over the whole range n ∈ [2, 1000], κ ∈ [1e-6, 1e5].
#include <boost/test/unit_test.hpp>

#include <boost/math/special_functions/bessel.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/special.hpp"

namespace rt = vaec::rt;

namespace {

struct ref_row {
  double n, kappa, a, log_c, kl, da;
};

std::vector<ref_row> read_reference() {
  std::ifstream in(std::string(VAEC_SOURCE_DIR) + "/tests/runtime/reference/special_reference.csv");
  std::vector<ref_row> rows;
  std::string line;
  if (!std::getline(in, line)) return rows;  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::vector<double> v;
    while (std::getline(ss, cell, ',')) v.push_back(std::stod(cell));
    if (v.size() == 6) rows.push_back({v[0], v[1], v[2], v[3], v[4], v[5]});
  }
  return rows;
}

double rel(double got, double want) { return std::fabs(got - want) / std::fabs(want); }

// log sinh κ without overflow.
long double log_sinh(long double k) {
  return k > 1 ? k - std::log(2.0L) + std::log1p(-std::exp(-2 * k)) : std::log(std::sinh(k));
}

// A_3(κ) = coth κ − 1/κ (its Laurent series below 0.1, where the difference cancels).
double a3(double kd) {
  long double k = kd, k2 = k * k;
  if (k < 0.1L)
    return static_cast<double>(
        k * (1.0L / 3 + k2 * (-1.0L / 45 + k2 * (2.0L / 945 + k2 * (-1.0L / 4725 + k2 * 2.0L / 93555)))));
  return static_cast<double>(1 / std::tanh(k) - 1 / k);
}

// A_3′(κ) = 1/κ² − 1/sinh²κ (series below 0.05).
double da3(double kd) {
  long double k = kd, k2 = k * k;
  if (k < 0.05L) return static_cast<double>(1.0L / 3 - k2 / 15 + 2 * k2 * k2 / 189 - k2 * k2 * k2 / 675);
  if (k > 40) return static_cast<double>(1 / k2 - 4 * std::exp(-2 * k));
  long double s = std::sinh(k);
  return static_cast<double>(1 / k2 - 1 / (s * s));
}

std::vector<double> kappa_grid(int per_decade) {
  std::vector<double> ks;
  for (int i = 0; i <= 11 * per_decade; ++i) ks.push_back(std::pow(10.0, -6.0 + double(i) / per_decade));
  return ks;
}

std::vector<double> n_grid() {
  std::vector<double> ns;
  for (int n = 2; n <= 20; ++n) ns.push_back(n);
  for (double n : {2.5, 3.5, 25.0, 31.0, 32.0, 50.0, 63.0, 64.0, 100.0, 127.0, 128.0, 200.0,
                   256.0, 300.0, 400.0, 511.0, 512.0, 700.0, 999.0, 1000.0})
    ns.push_back(n);
  std::sort(ns.begin(), ns.end());
  return ns;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(special)

BOOST_AUTO_TEST_CASE(against_mpmath_reference) {
  const auto rows = read_reference();
  BOOST_REQUIRE_EQUAL(rows.size(), 9u * 12u);
  double max_a = 0, max_da = 0, max_logc = 0, max_kl_abs = 0, max_kl_rel = 0;
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("n = " << r.n << ", kappa = " << r.kappa) {
      const double a = rt::bessel_ratio(r.n, r.kappa);
      const double da = rt::bessel_ratio_derivative(r.n, r.kappa);
      const double logc = rt::log_vmf_normalizer(r.n, r.kappa);
      const double kl = rt::kl_vmf_uniform(r.n, r.kappa);
      const double ea = rel(a, r.a), eda = rel(da, r.da);
      const double elogc = std::fabs(logc - r.log_c) / std::max(1.0, std::fabs(r.log_c));
      BOOST_TEST(ea <= 1e-6);
      BOOST_TEST(eda <= 1e-6);
      BOOST_TEST(elogc <= 1e-6);
      if (r.kl < 1) {
        const double e = std::fabs(kl - r.kl);
        BOOST_TEST(e <= 1e-9);
        max_kl_abs = std::max(max_kl_abs, e);
      } else {
        const double e = rel(kl, r.kl);
        BOOST_TEST(e <= 1e-6);
        max_kl_rel = std::max(max_kl_rel, e);
      }
      max_a = std::max(max_a, ea);
      max_da = std::max(max_da, eda);
      max_logc = std::max(max_logc, elogc);
    }
  }
  BOOST_TEST_MESSAGE("special vs mpmath (" << rows.size() << " rows): max rel err A " << max_a
                     << ", A' " << max_da << ", log C (rel. to max(1,|log C|)) " << max_logc
                     << ", KL abs (KL < 1) " << max_kl_abs << ", KL rel (KL >= 1) " << max_kl_rel);
}

BOOST_AUTO_TEST_CASE(known_derivative_value) {
  // Issue 4: A_5'(2) = 0.147389 (the gradient-bias test's exact value).
  bool found = false;
  for (const auto& r : read_reference())
    if (r.n == 5 && r.kappa == 2) {
      found = true;
      BOOST_TEST(std::fabs(r.da - 0.147389) < 5e-7);
    }
  BOOST_TEST(found);
  BOOST_TEST(std::fabs(rt::bessel_ratio_derivative(5, 2) - 0.147389) < 5e-7);
}

BOOST_AUTO_TEST_CASE(closed_forms_n3) {
  double max_a = 0, max_da = 0, max_logc = 0;
  for (double k : kappa_grid(20)) {
    BOOST_TEST_CONTEXT("kappa = " << k) {
      const double ea = rel(rt::bessel_ratio(3, k), a3(k));
      const double eda = rel(rt::bessel_ratio_derivative(3, k), da3(k));
      const double want_logc =
          static_cast<double>(std::log(static_cast<long double>(k)) -
                              std::log(4 * 3.141592653589793238462643383279502884L) - log_sinh(k));
      const double elogc =
          std::fabs(rt::log_vmf_normalizer(3, k) - want_logc) / std::max(1.0, std::fabs(want_logc));
      BOOST_TEST(ea <= 1e-10);
      BOOST_TEST(eda <= 1e-10);
      BOOST_TEST(elogc <= 1e-12);
      max_a = std::max(max_a, ea);
      max_da = std::max(max_da, eda);
      max_logc = std::max(max_logc, elogc);
    }
  }
  BOOST_TEST_MESSAGE("special n = 3 closed forms: max rel err A " << max_a << ", A' " << max_da
                     << ", log C " << max_logc);
}

BOOST_AUTO_TEST_CASE(boost_bessel_n2) {
  // A_2 = I_1/I_0 and log C_2 = −log 2π − log I_0, with Boost.Math where I_0 fits a double.
  double max_a = 0, max_logc = 0;
  for (double k : kappa_grid(10)) {
    if (k > 500) break;
    BOOST_TEST_CONTEXT("kappa = " << k) {
      const double i0 = boost::math::cyl_bessel_i(0, k), i1 = boost::math::cyl_bessel_i(1, k);
      const double ea = rel(rt::bessel_ratio(2, k), i1 / i0);
      const double want_logc = -std::log(2 * M_PI) - std::log(i0);
      const double elogc = std::fabs(rt::log_vmf_normalizer(2, k) - want_logc) / std::max(1.0, std::fabs(want_logc));
      BOOST_TEST(ea <= 1e-12);
      BOOST_TEST(elogc <= 1e-12);
      max_a = std::max(max_a, ea);
      max_logc = std::max(max_logc, elogc);
    }
  }
  BOOST_TEST_MESSAGE("special n = 2 vs Boost cyl_bessel_i: max rel err A " << max_a << ", log C "
                     << max_logc);
}

BOOST_AUTO_TEST_CASE(small_kappa_kl_series) {
  // KL = κ²/(2n) − 3κ⁴/(4n²(n+2)) + O(κ⁶/n³), and A′(0) = 1/n.
  for (double n : n_grid())
    for (double k : {1e-6, 1e-5, 1e-4, 1e-3}) {
      BOOST_TEST_CONTEXT("n = " << n << ", kappa = " << k) {
        const double series = k * k / (2 * n) - 3 * std::pow(k, 4) / (4 * n * n * (n + 2));
        BOOST_TEST(rel(rt::kl_vmf_uniform(n, k), series) <= 1e-11);
      }
    }
  for (double n : {2.0, 3.0, 64.0, 1000.0}) {
    BOOST_TEST(rel(rt::bessel_ratio_derivative(n, 0), 1 / n) <= 1e-15);
    BOOST_TEST(rt::bessel_ratio(n, 0) == 0);
    BOOST_TEST(rt::kl_vmf_uniform(n, 0) == 0);
  }
}

BOOST_AUTO_TEST_CASE(finite_and_monotone) {
  const auto ns = n_grid();
  const auto ks = kappa_grid(12);
  std::vector<double> prev_a_n(ks.size(), 2.0);  // A at the previous n, per κ
  int bad = 0;
  for (double n : ns) {
    double prev_a = -1, prev_logc = INFINITY, prev_kl = -1;
    for (std::size_t i = 0; i < ks.size(); ++i) {
      const double k = ks[i];
      const double a = rt::bessel_ratio(n, k), da = rt::bessel_ratio_derivative(n, k);
      const double logc = rt::log_vmf_normalizer(n, k), kl = rt::kl_vmf_uniform(n, k);
      const bool ok = std::isfinite(a) && std::isfinite(da) && std::isfinite(logc) &&
                      std::isfinite(kl) && a > 0 && a < 1 && da > 0 && kl > 0 &&
                      a > prev_a && logc <= prev_logc && kl > prev_kl && a < prev_a_n[i];
      if (!ok) {
        ++bad;
        BOOST_TEST_MESSAGE("n = " << n << ", kappa = " << k << ": A " << a << ", A' " << da
                                  << ", log C " << logc << ", KL " << kl);
      }
      prev_a = a;
      prev_logc = logc;
      prev_kl = kl;
      prev_a_n[i] = a;
    }
  }
  BOOST_TEST(bad == 0);
}

BOOST_AUTO_TEST_CASE(derivatives_match_finite_differences) {
  // d log C/dκ = −A and dA/dκ = A′, by central differences, including points next to the
  // switches between evaluation methods (κ = 25, 50, 2000, n²/16).
  double max_e = 0;
  for (double n : {2.0, 3.0, 5.0, 10.0, 64.0, 128.0, 512.0, 1000.0})
    for (double k : {0.5, 3.0, 24.9, 25.1, 49.9, 50.1, 1999.0, 2001.0, n * n / 16 * 0.99,
                     n * n / 16 * 1.01, 3e4}) {
      BOOST_TEST_CONTEXT("n = " << n << ", kappa = " << k) {
        const double h = 1e-4 * k;
        const double dlogc = (rt::log_vmf_normalizer(n, k + h) - rt::log_vmf_normalizer(n, k - h)) / (2 * h);
        const double da = (rt::bessel_ratio(n, k + h) - rt::bessel_ratio(n, k - h)) / (2 * h);
        const double e1 = std::fabs(dlogc + rt::bessel_ratio(n, k)) / rt::bessel_ratio(n, k);
        const double e2 = rel(da, rt::bessel_ratio_derivative(n, k));
        // log C is O(n log n) while its change over 2h is 2hA: allow for its rounding.
        const double round = 8e-16 * std::max(1.0, std::fabs(rt::log_vmf_normalizer(n, k))) /
                             (2 * h * rt::bessel_ratio(n, k));
        BOOST_TEST(e1 <= 1e-7 + round);
        BOOST_TEST(e2 <= 1e-7);
        max_e = std::max({max_e, e1 - round, e2});
      }
    }
  BOOST_TEST_MESSAGE("special finite differences: max rel err (beyond log C rounding) " << max_e);
}

BOOST_AUTO_TEST_CASE(outside_domain_is_nan) {
  BOOST_TEST(std::isnan(rt::bessel_ratio(1.5, 1)));
  BOOST_TEST(std::isnan(rt::log_vmf_normalizer(3, -1)));
  BOOST_TEST(std::isnan(rt::kl_vmf_uniform(3, NAN)));
  BOOST_TEST(std::isnan(rt::bessel_ratio_derivative(NAN, 1)));
}

BOOST_AUTO_TEST_SUITE_END()
