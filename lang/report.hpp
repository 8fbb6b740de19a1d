// What `vaec check` prints: the model as the compiler understood it — variables, θ and
// φ with their sizes, the objective, and how each KL term and gradient is computed.
#pragma once

#include <cstdint>
#include <string>

#include "lang/check.hpp"

namespace vaec {

std::string describe(const checked_model& m);

// 1234567 → "1,234,567"
std::string group_thousands(std::int64_t n);

// "p(x | z)"
std::string factor_text(const checked_model& m, const checked_factor& f);

}  // namespace vaec
