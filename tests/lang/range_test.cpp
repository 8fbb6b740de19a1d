// Tests of lang/range: interval arithmetic and how the builtin functions map intervals,
// against bounds computed by hand (the transcendental ones to 16 digits: e = 2.718281828459045,
// log 2 = 0.6931471805599453, tanh 1 = 0.7615941559557649, sigmoid 2 = 0.8807970779778823,
// log(1 + e) = 1.3132616875182228).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lang/range.hpp"

namespace {

using vaec::function_id;
using vaec::interval;

constexpr double inf = std::numeric_limits<double>::infinity();

interval iv(double lo, double hi, bool lo_strict = false) { return {lo, hi, lo_strict}; }

// Checks every field of `got`; finite bounds to a relative 1e-14 (exact ones compare equal).
// `line` is the caller's, for the message.
void expect_range(int line, const interval& got, double lo, double hi, bool lo_strict) {
  auto same = [](double a, double b) {
    if (a == b) return true;
    if (!std::isfinite(a) || !std::isfinite(b)) return false;
    return std::fabs(a - b) <= 1e-14 * std::max(std::fabs(a), std::fabs(b));
  };
  BOOST_TEST(same(got.lo, lo), "line " << line << ": lo is " << got.lo << ", expected " << lo);
  BOOST_TEST(same(got.hi, hi), "line " << line << ": hi is " << got.hi << ", expected " << hi);
  BOOST_TEST(got.lo_strict == lo_strict,
             "line " << line << ": lo_strict is " << got.lo_strict << ", expected " << lo_strict);
}
#define EXPECT_RANGE(...) expect_range(__LINE__, __VA_ARGS__)
// The whole line: what the analysis says when it knows nothing.
#define EXPECT_UNKNOWN(got) expect_range(__LINE__, got, -inf, inf, false)

interval f(function_id id, const interval& a, double slope = 0.01) { return vaec::apply(id, a, slope); }

}  // namespace

BOOST_AUTO_TEST_SUITE(range)

BOOST_AUTO_TEST_CASE(predicates) {
  BOOST_TEST(iv(0, 1, true).positive());
  BOOST_TEST(!iv(0, 1).positive());
  BOOST_TEST(iv(0, 1).nonnegative());
  BOOST_TEST(!iv(-1e-300, 1).nonnegative());
  BOOST_TEST(iv(0.5, 1).positive());
  BOOST_TEST(iv(2, 3, true).above(2));
  BOOST_TEST(!iv(2, 3).above(2));
  BOOST_TEST(iv(2.5, 3).above(2));
  BOOST_TEST(!interval{}.positive());
  EXPECT_RANGE(vaec::exact(2), 2, 2, false);
}

BOOST_AUTO_TEST_CASE(add_and_sub) {
  EXPECT_RANGE(vaec::add(iv(1, 2), iv(3, 5)), 4, 7, false);
  EXPECT_RANGE(vaec::add(iv(-1, 2), iv(-3, inf)), -4, inf, false);
  // A strict lower bound stays strict: (0, 1] + [0, 1] = (0, 2].
  EXPECT_RANGE(vaec::add(iv(0, 1, true), iv(0, 1)), 0, 2, true);
  // ... but not one at −∞.
  EXPECT_RANGE(vaec::add(iv(-inf, 1, true), iv(0, 1)), -inf, 2, false);
  EXPECT_RANGE(vaec::sub(iv(1, 2), iv(3, 5)), -4, -1, false);
  EXPECT_RANGE(vaec::sub(iv(0, inf), iv(-inf, 0)), 0, inf, false);
  // sub keeps no strict bound (safe, not tight): (0, 1] − [0, 0] is reported as [0, 1].
  EXPECT_RANGE(vaec::sub(iv(0, 1, true), vaec::exact(0)), 0, 1, false);
  EXPECT_RANGE(vaec::negate_interval(iv(-2, 3)), -3, 2, false);
  EXPECT_RANGE(vaec::negate_interval(iv(0, 1, true)), -1, 0, false);
}

BOOST_AUTO_TEST_CASE(mul_by_signs) {
  EXPECT_RANGE(vaec::mul(iv(2, 3), iv(4, 5)), 8, 15, false);     // + · +
  EXPECT_RANGE(vaec::mul(iv(-2, 3), iv(4, 5)), -10, 15, false);  // ± · +
  EXPECT_RANGE(vaec::mul(iv(-3, -2), iv(4, 5)), -15, -8, false); // − · +
  EXPECT_RANGE(vaec::mul(iv(-3, -2), iv(-5, -4)), 8, 15, false); // − · −
  EXPECT_RANGE(vaec::mul(iv(-2, 3), iv(-5, 4)), -15, 12, false); // ± · ±: min of −2·4, 3·−5; max of 3·4, −2·−5 = 10
  // 0 · ∞ counts as 0: bounds describe finite values.
  EXPECT_RANGE(vaec::mul(iv(0, inf), iv(0, inf)), 0, inf, false);
  EXPECT_RANGE(vaec::mul(interval{}, vaec::exact(0)), 0, 0, false);
  EXPECT_RANGE(vaec::mul(iv(-inf, 1), iv(2, 3)), -inf, 3, false);
  // Two positive intervals have a positive product: (0, 1] · (0, ∞] = (0, ∞].
  EXPECT_RANGE(vaec::mul(iv(0, 1, true), iv(0, inf, true)), 0, inf, true);
  EXPECT_RANGE(vaec::mul(iv(0.5, 1), iv(2, 4)), 1, 4, false);
  EXPECT_RANGE(vaec::mul(iv(0.5, 1, true), iv(2, 4)), 1, 4, true);
  // [0, 1] is not positive: the product can be 0.
  EXPECT_RANGE(vaec::mul(iv(0, 1), iv(1, 2, true)), 0, 2, false);
}

BOOST_AUTO_TEST_CASE(div_by_intervals) {
  EXPECT_RANGE(vaec::div(iv(1, 2), iv(4, 8)), 0.125, 0.5, false);
  EXPECT_RANGE(vaec::div(iv(-1, 2), iv(4, 8)), -0.25, 0.5, false);
  EXPECT_RANGE(vaec::div(iv(1, 2), iv(-4, -2)), -1, -0.25, false);
  EXPECT_RANGE(vaec::div(iv(-2, -1), iv(-4, -2)), 0.25, 1, false);
  // A divisor interval that contains 0, or may be 0, gives the whole line.
  EXPECT_UNKNOWN(vaec::div(iv(1, 2), iv(-1, 1)));
  EXPECT_UNKNOWN(vaec::div(iv(1, 2), iv(0, 1)));
  EXPECT_UNKNOWN(vaec::div(iv(1, 2), iv(-1, 0)));
  EXPECT_UNKNOWN(vaec::div(iv(1, 2), vaec::exact(0)));
  EXPECT_UNKNOWN(vaec::div(iv(1, 2), interval{}));
  // 0 excluded: 1/(0, 1] = [1, ∞], 1/(0, ∞] = (0, ∞].
  EXPECT_RANGE(vaec::div(vaec::exact(1), iv(0, 1, true)), 1, inf, false);
  EXPECT_RANGE(vaec::div(iv(1, 2), iv(0, inf, true)), 0, inf, true);
  EXPECT_RANGE(vaec::div(iv(1, 2), iv(2, inf)), 0, 1, true);
  EXPECT_RANGE(vaec::div(vaec::exact(1), iv(-inf, -1)), -1, 0, false);
}

BOOST_AUTO_TEST_CASE(exp_log_softplus_sigmoid) {
  EXPECT_RANGE(f(function_id::exp, iv(0, 1)), 1, 2.718281828459045, false);
  EXPECT_RANGE(f(function_id::exp, interval{}), 0, inf, true);  // e^x > 0; the limit at −∞ is not attained
  EXPECT_RANGE(f(function_id::exp, iv(0, 1, true)), 1, 2.718281828459045, true);
  EXPECT_RANGE(f(function_id::log, iv(1, 2.718281828459045)), 0, 1, false);
  EXPECT_RANGE(f(function_id::log, iv(2.718281828459045, inf)), 1, inf, false);
  EXPECT_RANGE(f(function_id::log, iv(-1, 1)), -inf, 0, false);
  EXPECT_RANGE(f(function_id::log, iv(0, inf, true)), -inf, inf, false);
  EXPECT_RANGE(f(function_id::softplus, interval{}), 0, inf, true);
  EXPECT_RANGE(f(function_id::softplus, iv(0, 1)), 0.6931471805599453, 1.3132616875182228, false);
  EXPECT_RANGE(f(function_id::softplus, iv(100, 200)), 100, 200, false);  // softplus(x) = x beyond 30, to double precision
  EXPECT_RANGE(f(function_id::sigmoid, interval{}), 0, 1, true);
  EXPECT_RANGE(f(function_id::sigmoid, iv(0, 2)), 0.5, 0.8807970779778823, false);
  EXPECT_RANGE(f(function_id::sigmoid, iv(-2, 0, true)), 1 - 0.8807970779778823, 0.5, true);
}

BOOST_AUTO_TEST_CASE(sqrt_square_abs) {
  EXPECT_RANGE(f(function_id::sqrt, iv(4, 9)), 2, 3, false);
  EXPECT_RANGE(f(function_id::sqrt, iv(-1, 4)), 0, 2, false);
  EXPECT_RANGE(f(function_id::sqrt, iv(0, 4, true)), 0, 2, true);
  EXPECT_RANGE(f(function_id::sqrt, iv(0, inf)), 0, inf, false);
  EXPECT_RANGE(f(function_id::square, iv(-3, 2)), 0, 9, false);
  EXPECT_RANGE(f(function_id::square, iv(1, 2)), 1, 4, false);
  EXPECT_RANGE(f(function_id::square, iv(-3, -2)), 4, 9, false);
  EXPECT_RANGE(f(function_id::square, iv(0, 2, true)), 0, 4, true);
  EXPECT_RANGE(f(function_id::square, interval{}), 0, inf, false);
  EXPECT_RANGE(f(function_id::abs, iv(-3, 2)), 0, 3, false);
  EXPECT_RANGE(f(function_id::abs, iv(-3, -2)), 2, 3, false);
  EXPECT_RANGE(f(function_id::abs, iv(-inf, -1)), 1, inf, false);
}

BOOST_AUTO_TEST_CASE(relu_leaky_relu_elu_tanh) {
  EXPECT_RANGE(f(function_id::relu, iv(-1, 2)), 0, 2, false);
  EXPECT_RANGE(f(function_id::relu, iv(-3, -1)), 0, 0, false);
  EXPECT_RANGE(f(function_id::relu, iv(0, 1, true)), 0, 1, true);  // positive: unchanged
  EXPECT_RANGE(f(function_id::relu, interval{}), 0, inf, false);
  EXPECT_RANGE(f(function_id::leaky_relu, iv(-10, 5), 0.1), -1, 5, false);
  EXPECT_RANGE(f(function_id::leaky_relu, interval{}, 0.1), -inf, inf, false);
  EXPECT_RANGE(f(function_id::leaky_relu, interval{}, 0), 0, inf, false);
  EXPECT_UNKNOWN(f(function_id::leaky_relu, iv(1, 2), -0.5));  // a negative slope: not monotone
  EXPECT_RANGE(f(function_id::elu, interval{}), -1, inf, true);
  EXPECT_RANGE(f(function_id::elu, iv(0, 2)), 0, 2, false);
  EXPECT_RANGE(f(function_id::elu, iv(-1, 0)), 1 / 2.718281828459045 - 1, 0, false);
  EXPECT_RANGE(f(function_id::tanh, interval{}), -1, 1, true);
  EXPECT_RANGE(f(function_id::tanh, iv(-1, 1)), -0.7615941559557649, 0.7615941559557649, false);
  EXPECT_RANGE(f(function_id::tanh, vaec::exact(0)), 0, 0, false);
}

BOOST_AUTO_TEST_CASE(functions_that_are_not_elementwise) {
  for (auto id : {function_id::linear, function_id::mlp, function_id::param, function_id::normalize,
                  function_id::concat, function_id::sum, function_id::norm})
    EXPECT_UNKNOWN(f(id, iv(0, 1)));
}

BOOST_AUTO_TEST_CASE(values_at_a_point) {
  BOOST_TEST(vaec::apply(function_id::relu, -1.0, 0) == 0);
  BOOST_TEST(vaec::apply(function_id::leaky_relu, -2.0, 0.1) == -0.2, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(vaec::apply(function_id::leaky_relu, 3.0, 0.1) == 3);
  BOOST_TEST(vaec::apply(function_id::softplus, 0.0, 0) == 0.6931471805599453, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(vaec::apply(function_id::softplus, 100.0, 0) == 100);
  BOOST_TEST(vaec::apply(function_id::sigmoid, 0.0, 0) == 0.5);
  BOOST_TEST(vaec::apply(function_id::log, 0.0, 0) == -inf);
  BOOST_TEST(std::isnan(vaec::apply(function_id::sqrt, -1.0, 0)));
  BOOST_TEST(vaec::apply(function_id::square, -3.0, 0) == 9);
  BOOST_TEST(vaec::apply(function_id::abs, -3.0, 0) == 3);
  BOOST_TEST(vaec::apply(function_id::elu, -1.0, 0) == 1 / 2.718281828459045 - 1, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(vaec::apply(function_id::linear, 7.0, 0) == 7);  // not elementwise: the identity
}

BOOST_AUTO_TEST_CASE(hull_of_two_intervals) {
  EXPECT_RANGE(vaec::hull(iv(0, 1), iv(2, 3)), 0, 3, false);  // the gap (1, 2) is covered: a hull, not a union
  EXPECT_RANGE(vaec::hull(iv(-1, 5), iv(0, 1)), -1, 5, false);
  EXPECT_RANGE(vaec::hull(iv(0, 1, true), iv(0, 5, true)), 0, 5, true);
  EXPECT_RANGE(vaec::hull(iv(0, 1, true), iv(0, 1)), 0, 1, false);
  // Safe, not tight: the lower bound is strict only when both are, though here 0 is
  // excluded from both (0, 1] and [1, 2].
  EXPECT_RANGE(vaec::hull(iv(0, 1, true), iv(1, 2)), 0, 2, false);
  EXPECT_RANGE(vaec::hull(interval{}, iv(0, 1)), -inf, inf, false);
}

BOOST_AUTO_TEST_CASE(description_in_diagnostics) {
  BOOST_TEST(vaec::describe(interval{}) == "can be any real number");
  BOOST_TEST(vaec::describe(vaec::exact(2)) == "is 2");
  BOOST_TEST(vaec::describe(iv(-inf, 0)) == "can be as low as -infinity");
  BOOST_TEST(vaec::describe(iv(0, 1)) == "can be zero");
  BOOST_TEST(vaec::describe(iv(0, 1, true)) == "can be as low as 0");
  BOOST_TEST(vaec::describe(iv(0.5, 1)) == "can be as low as 0.5");
}

BOOST_AUTO_TEST_SUITE_END()
