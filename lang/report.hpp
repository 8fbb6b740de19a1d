// What `vaec check` prints: the model as the compiler understood it — variables, θ and
// φ with their sizes, the objective, and how each KL term and gradient is computed.
#pragma once

#include <cstdint>
#include <string>

#include "lang/check.hpp"

namespace vaec {

std::string describe(const checked_model& m);

// What `vaec check` says of an AggregatePosterior factor `f` of `m`: "AggregatePosterior: fixed
// (neither θ nor φ), 1,000 components from run /abs/runs/base, checkpoint sha256 1a2b…, q*(z | x) =
// Normal" once resolved (f.dist.fixed), or the run as written and "not read yet".
std::string aggregate_text(const checked_model& m, const checked_factor& f);

// 1234567 → "1,234,567"
std::string group_thousands(std::int64_t n);

// "p(x | z)"; for a factor of a joint block, its own conditional: "q(g | x, s)"
std::string factor_text(const checked_model& m, const checked_factor& f);

// The block's header as written: "q(s, g | x)" (for a block of one factor, its factor_text)
std::string block_text(const checked_model& m, const checked_block& b);

}  // namespace vaec
