// Interval arithmetic for the checker's range analysis (see lang/range.hpp).
#include "lang/range.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace vaec {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// 0·∞ counts as 0: bounds describe finite values.
double mul_bound(double a, double b) {
  if (a == 0 || b == 0) return 0;
  return a * b;
}

double softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double elu(double x) { return x > 0 ? x : std::expm1(x); }

}  // namespace

interval exact(double v) { return {v, v, false}; }

interval add(const interval& a, const interval& b) {
  return {a.lo + b.lo, a.hi + b.hi, std::isfinite(a.lo + b.lo) && (a.lo_strict || b.lo_strict)};
}

interval sub(const interval& a, const interval& b) { return {a.lo - b.hi, a.hi - b.lo, false}; }

interval mul(const interval& a, const interval& b) {
  double c[] = {mul_bound(a.lo, b.lo), mul_bound(a.lo, b.hi), mul_bound(a.hi, b.lo), mul_bound(a.hi, b.hi)};
  interval r{*std::min_element(std::begin(c), std::end(c)), *std::max_element(std::begin(c), std::end(c)), false};
  if (a.positive() && b.positive()) r.lo_strict = r.lo == 0 || a.lo_strict || b.lo_strict;
  return r;
}

interval div(const interval& a, const interval& b) {
  if (!(b.lo > 0 || b.positive() || b.hi < 0)) return {};
  // 1/b over an interval that excludes zero
  interval inv;
  if (b.lo >= 0) inv = {b.hi == inf ? 0.0 : 1 / b.hi, b.lo == 0 ? inf : 1 / b.lo, b.hi == inf};
  else inv = {b.hi == 0 ? -inf : 1 / b.hi, b.lo == -inf ? 0.0 : 1 / b.lo, false};
  return mul(a, inv);
}

interval negate_interval(const interval& a) { return {-a.hi, -a.lo, false}; }

interval hull(const interval& a, const interval& b) {
  return {std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.lo_strict && b.lo_strict};
}

double apply(function_id f, double x, double slope) {
  switch (f) {
    case function_id::relu: return x > 0 ? x : 0;
    case function_id::elu: return elu(x);
    case function_id::tanh: return std::tanh(x);
    case function_id::sigmoid: return sigmoid(x);
    case function_id::softplus: return softplus(x);
    case function_id::exp: return std::exp(x);
    case function_id::log: return std::log(x);
    case function_id::sqrt: return std::sqrt(x);
    case function_id::square: return x * x;
    case function_id::abs: return std::fabs(x);
    case function_id::leaky_relu: return x > 0 ? x : slope * x;
    default: return x;
  }
}

// The range of an elementwise function over an input range.
interval apply(function_id f, const interval& a, double slope) {
  switch (f) {
    case function_id::relu:
      if (a.positive()) return a;
      return {std::max(a.lo, 0.0), std::max(a.hi, 0.0), false};
    // For an increasing f, f(lo) is attained when lo is; the limit at −∞ never is.
    case function_id::elu: return {a.lo == -inf ? -1 : elu(a.lo), a.hi, a.lo == -inf || a.lo_strict};
    case function_id::tanh: return {a.lo == -inf ? -1 : std::tanh(a.lo), a.hi == inf ? 1 : std::tanh(a.hi), a.lo == -inf || a.lo_strict};
    case function_id::sigmoid: return {a.lo == -inf ? 0 : sigmoid(a.lo), a.hi == inf ? 1 : sigmoid(a.hi), a.lo == -inf || a.lo_strict};
    case function_id::softplus: return {a.lo == -inf ? 0 : softplus(a.lo), a.hi == inf ? inf : softplus(a.hi), a.lo == -inf || a.lo_strict};
    case function_id::exp: return {a.lo == -inf ? 0 : std::exp(a.lo), a.hi == inf ? inf : std::exp(a.hi), a.lo == -inf || a.lo_strict};
    case function_id::log:
      if (a.lo > 0) return {std::log(a.lo), a.hi == inf ? inf : std::log(a.hi), a.lo_strict};
      return {-inf, a.hi == inf ? inf : (a.hi > 0 ? std::log(a.hi) : -inf), false};
    case function_id::sqrt: return {std::sqrt(std::max(a.lo, 0.0)), a.hi == inf ? inf : std::sqrt(std::max(a.hi, 0.0)), a.lo >= 0 && a.lo_strict};
    case function_id::square:
    case function_id::abs: {
      double m = std::max(std::fabs(a.lo), std::fabs(a.hi));
      double hi = f == function_id::square ? m * m : m;
      if (a.lo >= 0) return {apply(f, a.lo, 0), hi, a.lo_strict};
      if (a.hi <= 0) return {apply(f, a.hi, 0), hi, false};
      return {0, hi, false};
    }
    case function_id::leaky_relu:
      if (slope >= 0) return {a.lo == -inf ? (slope == 0 ? 0 : -inf) : apply(f, a.lo, slope), a.hi == inf ? inf : apply(f, a.hi, slope), a.lo_strict};
      return {};
    default: return {};
  }
}

std::string describe(const interval& r) {
  if (r.lo == -inf && r.hi == inf) return "can be any real number";
  if (r.lo == r.hi) return fmt::format("is {}", r.lo);
  if (r.lo == -inf) return fmt::format("can be as low as -infinity");
  if (r.lo == 0 && !r.lo_strict) return "can be zero";
  return fmt::format("can be as low as {}", r.lo);
}

}  // namespace vaec
