// Interval arithmetic for the checker's static range analysis: what is known of a value's
// range without running the model, and how arithmetic and the builtin functions map it.
#pragma once

#include <limits>
#include <string>

#include "lang/builtins.hpp"

namespace vaec {

// What is known of a value's range without running the model: lo ≤ value ≤ hi
// elementwise, with lo excluded when lo_strict.
struct interval {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_strict = false;
  bool positive() const { return lo > 0 || (lo == 0 && lo_strict); }
  bool nonnegative() const { return lo >= 0; }
  bool above(double x) const { return lo > x || (lo == x && lo_strict); }
};

// The interval holding v alone.
interval exact(double v);

// The ranges of a + b, a − b, a · b and a / b for a in `a` and b in `b`. Bounds describe
// finite values: 0 · ∞ counts as 0. The results are safe, not always tight: sub never
// keeps a strict lower bound, mul keeps one only for two positive intervals, and div is
// the whole line unless `b` excludes 0 (positive throughout, or negative throughout).
interval add(const interval& a, const interval& b);
interval sub(const interval& a, const interval& b);
interval mul(const interval& a, const interval& b);
interval div(const interval& a, const interval& b);
// The range of −a (a strict lower bound is not kept).
interval negate_interval(const interval& a);

// The smallest interval holding both (their union, with any gap between them filled).
// The lower bound is strict only when both are: safe, not always tight.
interval hull(const interval& a, const interval& b);

// The value of the elementwise builtin `f` at x (`slope`: leaky_relu's); x itself for a
// builtin that is not elementwise. Follows IEEE: log(0) = −∞, sqrt(−1) is NaN.
double apply(function_id f, double x, double slope);
// The range of the elementwise builtin `f` over `a` (relu, elu, tanh, sigmoid, softplus,
// exp, log, sqrt, square, abs, leaky_relu); the whole line for any other builtin and for
// leaky_relu with a negative slope. A limit at −∞ is never attained, so the lower bound is
// then strict: sigmoid of the whole line is (0, 1] (upper bounds are always closed).
interval apply(function_id f, const interval& a, double slope);

// How a diagnostic says what a range allows, after "this ...": "can be any real number",
// "is 2", "can be as low as -infinity", "can be zero", "can be as low as 0.5".
std::string describe(const interval& r);

}  // namespace vaec
