// The abstract syntax tree of a .vae file: plain structs, each carrying the byte span
// of the text it came from. No behaviour beyond span lookup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/fusion/include/adapt_struct.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

#include "lang/source.hpp"

namespace vaec::ast {

namespace x3 = boost::spirit::x3;

// Every node an error can point at derives from located; the parser fills `where`.
struct located {
  vaec::span where;
};

struct identifier : located {
  std::string name;
};

// A numeric literal, kept as written; the checker converts it and reports range errors.
struct number : located {
  std::string text;
};

// A string literal, `"runs/base"`: `value` is its text with the escapes \" and \\ resolved.
// Only a builtin that takes a path accepts one (the checker says so elsewhere).
struct string_literal : located {
  std::string value;
};

struct call;
struct list;
struct negate;
struct chain;

struct expr : x3::variant<number, identifier, string_literal, x3::forward_ast<call>, x3::forward_ast<list>,
                          x3::forward_ast<negate>, x3::forward_ast<chain>> {
  using base_type::base_type;
  using base_type::operator=;
};

// `name = value` or a positional `value`.
struct argument : located {
  std::optional<identifier> name;
  expr value;
};

// `callee(args...)`: a builtin function or a distribution; the checker decides which.
struct call : located {
  identifier callee;
  std::vector<argument> args;
};

// `[a, b, ...]`
struct list : located {
  std::vector<expr> items;
};

// `-x`, `--x`: `count` negations, kept flat so that a long run of '-' does not nest.
struct negate : located {
  int count = 0;
  expr operand;
};

// An operator token: '+', '-', '*' or '/'.
struct op_token : located {
  char op = 0;
};

struct operation {
  op_token op;
  expr operand;
};

// `first op1 operand1 op2 operand2 ...`, all of one precedence level, left to right.
// Kept flat so that `1 + 1 + ... + 1` does not nest.
struct chain : located {
  expr first;
  std::vector<operation> rest;
};

// `real[20]`, `sphere[11]`, `binary[28, 28]`: the type name is resolved by the checker.
// Each dimension is parsed as an expression so that `real[-3]`, `real[2.5]` and `real[]`
// reach the checker and get a message of their own, not a bare syntax error.
struct type_ref : located {
  identifier name;
  std::vector<expr> dims;  // as written; empty for `real[]`
};

// `model NAME`
struct model_decl : located {
  identifier name;
};

// `data x : TYPE` or `latent z : TYPE`; `keyword` is "data" or "latent".
struct variable_decl : located {
  std::string keyword;
  identifier name;
  type_ref type;
};

// `target = value` or `target ~ value`; `op` is '=' or '~'.
struct statement : located {
  identifier target;
  char op = '=';
  expr value;
};

// `p(v | a, b) = DIST` or `p(v | a, b) { statements }`. A one-line factor is stored as
// a body of one `v ~ DIST` statement with `block` false. A joint block `q(s, g | x) { … }`
// names several variables, which its body samples in that order.
struct factor : located {
  char side = 'p';  // 'p' or 'q'
  std::vector<identifier> variables;  // as written: one, or several for a joint block
  std::vector<identifier> given;
  bool block = false;
  std::vector<statement> body;
  vaec::span header;  // `p(v | a, b)`
};

// `const NAME = VALUE`: a named number; `--set NAME=VALUE` overrides it. The value is
// parsed as an expression so that `const d = 2 * 5` gets a message, not a syntax error.
struct const_decl : located {
  identifier name;
  expr value;
};

// `key = value` inside `train { ... }`, and each `--set NAME=VALUE` of the command line
struct train_entry : located {
  identifier key;
  expr value;
};

struct train_block : located {
  std::vector<train_entry> entries;
};

struct declaration : x3::variant<model_decl, const_decl, variable_decl, factor, train_block> {
  using base_type::base_type;
  using base_type::operator=;
};

struct model {
  std::vector<declaration> declarations;
};

// The span of any expression node.
vaec::span span_of(const expr& e);
vaec::span span_of(const declaration& d);
// Adds `by` to every span in the expression (or setting): a `--set` parsed on its own is
// moved into the command line's span range (diagnostics::set_command_line).
void shift_spans(expr& e, std::uint32_t by);
void shift_spans(train_entry& e, std::uint32_t by);
// Sets the span of whichever node the expression holds.
void set_span(expr& e, vaec::span where);

}  // namespace vaec::ast

BOOST_FUSION_ADAPT_STRUCT(vaec::ast::argument, name, value)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::call, callee, args)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::list, items)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::operation, op, operand)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::type_ref, name, dims)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::model_decl, name)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::const_decl, name, value)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::variable_decl, keyword, name, type)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::statement, target, op, value)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::train_entry, key, value)
BOOST_FUSION_ADAPT_STRUCT(vaec::ast::train_block, entries)
