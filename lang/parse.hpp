// parse(source, diagnostics) → the AST of a .vae file. Hides Boost.Spirit from callers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// The command line's settings, `--set NAME=VALUE` each, as a source named "command
// line" holding one line "--set NAME=VALUE" per setting (so that a diagnostic shows the
// setting as typed, with a caret under the fault). A setting that already starts with
// "--grid " (a point of `vaec compare --grid NAME=v1,v2,…`: "--grid NAME=v1") keeps that
// option in its line, since that is what the user typed.
source command_line_source(const std::vector<std::string>& settings);

// Parses each line of `cl` (made by command_line_source) as `NAME = VALUE`, the value an
// expression as in a model file. Spans in the result are offsets into `cl` plus `base`;
// call diags.set_command_line(cl, base) so that they render as `command line:LINE:COL`.
// `base` must exceed the model file's size. Reports every faulty setting; returns nullopt
// if there was any. Never throws.
std::optional<std::vector<ast::train_entry>> parse_settings(const source& cl, std::uint32_t base, diagnostics& diags);

}  // namespace vaec
