// The entry point to the .vae grammar. No Boost.Spirit here: only grammar.cpp pays
// X3's compile time.
#pragma once

#include <string>

#include "lang/ast.hpp"
#include "lang/parser/config.hpp"

namespace vaec::parser {

// Where and why a declaration failed to parse.
struct parse_failure {
  iterator_type where = nullptr;  // the byte at which the grammar gave up
  std::string expected;           // what it expected there ("')'", "expression"), or empty
};

// Parses one top-level declaration starting at `it` (white space and comments first
// are skipped), followed by an optional ';'. On success advances `it` past it and
// returns true. On failure leaves `it` unchanged, fills `failure`, returns false.
// `base` is the first byte of the file: spans in the AST are offsets from it.
// Nesting depth must have been bounded by the caller (see parse.cpp).
bool parse_declaration(iterator_type& it, iterator_type end, iterator_type base, ast::declaration& out,
                       parse_failure& failure);

// Parses `NAME = VALUE` filling the whole of [it, end) (a `--set` of the command line;
// blanks around it are allowed). `base` as above. Same contract as parse_declaration.
bool parse_setting(iterator_type& it, iterator_type end, iterator_type base, ast::train_entry& out,
                   parse_failure& failure);

// Skips white space and comments.
iterator_type skip_blank(iterator_type it, iterator_type end);

}  // namespace vaec::parser
