// parse(source, diagnostics) → the AST of a .vae file. Hides Boost.Spirit from callers.
#pragma once

#include <optional>

#include "lang/ast.hpp"
#include "lang/diagnostic.hpp"
#include "lang/source.hpp"

namespace vaec {

// Brackets — '(', '[', '{' — may nest this deep. Deeper input is rejected before the
// recursive-descent grammar runs, so no input can overflow the stack.
inline constexpr int max_nesting_depth = 64;

// Parsing stops after this many syntax errors.
inline constexpr int max_parse_errors = 20;

// Parses the whole file. Reports every syntax error it finds (one per declaration,
// resynchronising at the next line that starts with a top-level keyword) and returns
// nullopt if there was any. Never throws for any input.
std::optional<ast::model> parse(const source& src, diagnostics& diags);

}  // namespace vaec
