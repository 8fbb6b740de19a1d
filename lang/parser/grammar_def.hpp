// The .vae grammar (DESIGN.md §2). Included only by grammar.cpp.
//
// Notes for whoever edits this:
// - Character classes are explicit ranges, never x3::alpha/alnum/space: those assert
//   on bytes >= 0x80, and model files may hold any byte.
// - `>` (expectation) comes right after the token that commits to a rule, so an error
//   names what was missing at the right column; the expectation_failure is caught in
//   grammar.cpp.
// - Boost 1.74's annotate_on_success skips nodes held inside an x3::variant, so spans
//   are set by this file's own success handler annotate_span (which sees the rule's
//   match) and by raw[] in semantic actions, never by annotate_on_success.
// - Chains of binary operators and runs of unary minus are built flat (ast::chain,
//   ast::negate), so input length never becomes recursion depth; only brackets nest,
//   and parse.cpp bounds their depth before the grammar runs.
#pragma once

#include <algorithm>

#include <boost/spirit/home/x3.hpp>

#include "lang/ast.hpp"
#include "lang/parser/config.hpp"

namespace vaec::parser {

namespace x3 = boost::spirit::x3;
using x3::char_;
using x3::lexeme;
using x3::lit;
using x3::raw;

// ---- spans -------------------------------------------------------------------------

template <typename Context>
vaec::span make_span(const Context& ctx, iterator_type first, iterator_type last) {
  iterator_type base = x3::get<base_tag>(ctx);
  return {static_cast<std::uint32_t>(first - base), static_cast<std::uint32_t>(last - base)};
}

// Success handler: stores the matched span in any node that derives from ast::located.
struct annotate_span {
  template <typename Iterator, typename Context, typename Node>
  void on_success(const Iterator& first, const Iterator& last, Node& node, const Context& ctx) {
    if constexpr (std::is_base_of_v<ast::located, Node>) node.where = make_span(ctx, first, last);
  }
};

// Never take a span from x3::_where() in an action: in Boost 1.74 it is the range
// from the end of the match to the end of the input, not the match. Spans come from
// annotate_span (the rule's own match, blanks skipped) or from raw[]. And in 1.74 a
// rule whose right side has an action calls on_success with `unused`, not its node:
// such rules are wrapped (`list = list_built`), the outer rule annotating the node.

// ---- lexical -----------------------------------------------------------------------

const auto letter = char_('a', 'z') | char_('A', 'Z') | char_('_');
const auto digit = char_('0', '9');
const auto word_char = letter | digit;

const auto comment = lit('#') >> *(char_ - '\n');
const auto skipper = lit(' ') | '\t' | '\r' | '\n' | '\f' | '\v' | comment;

inline auto keyword(const char* word) { return lexeme[lit(word) >> !word_char]; }

const auto reserved = keyword("model") | keyword("const") | keyword("data") | keyword("latent") | keyword("p") |
                      keyword("q") | keyword("train") | keyword("real") | keyword("binary") |
                      keyword("sphere");

// ---- rules -------------------------------------------------------------------------

struct identifier_class;
struct word_class;
struct number_class;
struct string_class;
struct expr_class;
struct add_chain_class;
struct mul_chain_class;
struct unary_class;
struct open_paren_class;
struct close_paren_class;
struct minus_run_class;
struct primary_class;
struct paren_class;
struct call_class : annotate_span {};
struct argument_class;
struct argument_list_class;
struct list_class : annotate_span {};
struct list_items_class;
struct list_built_class;
struct model_decl_built_class;
struct header_built_class;
struct factor_built_class;
struct train_block_built_class;
struct add_op_class;
struct mul_op_class;
struct operation_add_class;
struct operation_mul_class;
struct type_class : annotate_span {};
struct model_decl_class : annotate_span {};
struct const_decl_class : annotate_span {};
struct variable_decl_class : annotate_span {};
struct decl_keyword_class;
struct assign_op_class;
struct statement_class : annotate_span {};
struct sampled_class;
struct given_class;
struct header_class : annotate_span {};
struct factor_body_class;
struct factor_class : annotate_span {};
struct train_entry_class : annotate_span {};
struct train_block_class : annotate_span {};
struct declaration_class;

// A factor's header and body while the factor is being built.
struct factor_header : ast::located {
  char side = 'p';
  std::vector<ast::identifier> variables;
  std::vector<ast::identifier> given;
};
struct factor_body {
  bool block = false;
  std::vector<ast::statement> body;
};

const x3::rule<identifier_class, ast::identifier> identifier = "name";
const x3::rule<word_class, ast::identifier> word = "type name";
const x3::rule<number_class, ast::number> number = "number";
const x3::rule<string_class, ast::string_literal> string_literal = "string";
const x3::rule<expr_class, ast::expr> expr = "expression";
const x3::rule<add_chain_class, ast::expr> add_chain = "expression";
const x3::rule<mul_chain_class, ast::expr> mul_chain = "expression";
const x3::rule<unary_class, ast::expr> unary = "expression";
// The run of '-' before an operand, as a range (raw[] inside a sequence has no range
// attribute in Boost 1.74; a rule of this type gives it one).
const x3::rule<minus_run_class, boost::iterator_range<iterator_type>> minus_run = "'-'";
const x3::rule<primary_class, ast::expr> primary = "expression";
const x3::rule<paren_class, ast::expr> paren = "expression";
const x3::rule<open_paren_class, boost::iterator_range<iterator_type>> open_paren = "'('";
const x3::rule<close_paren_class, boost::iterator_range<iterator_type>> close_paren = "')'";
const x3::rule<call_class, ast::call> call = "call";
const x3::rule<argument_class, ast::argument> argument = "argument";
const x3::rule<argument_list_class, std::vector<ast::argument>> argument_list = "arguments";
const x3::rule<list_class, ast::list> list = "list";
const x3::rule<list_built_class, ast::list> list_built = "list";
const x3::rule<list_items_class, std::vector<ast::expr>> list_items = "list items";
const x3::rule<add_op_class, ast::op_token> add_op = "'+' or '-'";
const x3::rule<mul_op_class, ast::op_token> mul_op = "'*' or '/'";
const x3::rule<operation_add_class, ast::operation> add_operation = "expression";
const x3::rule<operation_mul_class, ast::operation> mul_operation = "expression";
const x3::rule<type_class, ast::type_ref> type = "type such as 'real[20]'";
const x3::rule<model_decl_class, ast::model_decl> model_decl = "model declaration";
const x3::rule<model_decl_built_class, ast::model_decl> model_decl_built = "model declaration";
const x3::rule<const_decl_class, ast::const_decl> const_decl = "constant declaration";
const x3::rule<decl_keyword_class, std::string> decl_keyword = "'data' or 'latent'";
const x3::rule<variable_decl_class, ast::variable_decl> variable_decl = "variable declaration";
const x3::rule<assign_op_class, char> assign_op = "'=' or '~'";
const x3::rule<statement_class, ast::statement> statement = "statement";
const x3::rule<sampled_class, std::vector<ast::identifier>> sampled = "name";
const x3::rule<given_class, std::vector<ast::identifier>> given = "conditioning variables";
const x3::rule<header_class, factor_header> header = "factor";
const x3::rule<header_built_class, factor_header> header_built = "factor";
const x3::rule<factor_body_class, factor_body> body = "'=' or '{'";
const x3::rule<factor_class, ast::factor> factor = "factor";
const x3::rule<factor_built_class, ast::factor> factor_built = "factor";
const x3::rule<train_entry_class, ast::train_entry> train_entry = "setting";
const x3::rule<train_block_class, ast::train_block> train_block = "train block";
const x3::rule<train_block_built_class, ast::train_block> train_block_built = "train block";
const x3::rule<declaration_class, ast::declaration> declaration =
    "declaration ('model', 'data', 'latent', 'p', 'q' or 'train')";

// ---- actions -----------------------------------------------------------------------

const auto set_word = [](auto& ctx) {
  auto range = x3::_attr(ctx);
  x3::_val(ctx).name.assign(range.begin(), range.end());
  x3::_val(ctx).where = make_span(ctx, range.begin(), range.end());
};

const auto set_number = [](auto& ctx) {
  auto range = x3::_attr(ctx);
  x3::_val(ctx).text.assign(range.begin(), range.end());
  x3::_val(ctx).where = make_span(ctx, range.begin(), range.end());
};

// `"…"` → its text, \" and \\ resolved (parse.cpp has rejected any other escape and an
// unterminated string before the grammar runs).
const auto set_string = [](auto& ctx) {
  auto range = x3::_attr(ctx);
  std::string& out = x3::_val(ctx).value;
  out.clear();
  for (auto it = range.begin() + 1; it + 1 < range.end(); ++it) {
    if (*it == '\\') ++it;  // the grammar matched one of \" and \\ here
    out += *it;
  }
  x3::_val(ctx).where = make_span(ctx, range.begin(), range.end());
};

const auto set_op = [](auto& ctx) {
  auto range = x3::_attr(ctx);
  x3::_val(ctx).op = *range.begin();
  x3::_val(ctx).where = make_span(ctx, range.begin(), range.end());
};

// first (op operand)* → first itself when there is no operator, else a flat chain.
const auto build_chain = [](auto& ctx) {
  auto& first = boost::fusion::at_c<0>(x3::_attr(ctx));
  auto& rest = boost::fusion::at_c<1>(x3::_attr(ctx));
  if (rest.empty()) {
    x3::_val(ctx) = std::move(first);
    return;
  }
  ast::chain c;
  c.where = {ast::span_of(first).begin, ast::span_of(rest.back().operand).end};
  c.first = std::move(first);
  c.rest = std::move(rest);
  x3::_val(ctx) = std::move(c);
};

const auto build_negate = [](auto& ctx) {
  auto signs = boost::fusion::at_c<0>(x3::_attr(ctx));  // raw range of the '-' run
  auto& operand = boost::fusion::at_c<1>(x3::_attr(ctx));
  if (signs.empty()) {
    x3::_val(ctx) = std::move(operand);
    return;
  }
  ast::negate n;
  n.where = {make_span(ctx, signs.begin(), signs.end()).begin, ast::span_of(operand).end};
  n.count = static_cast<int>(std::count(signs.begin(), signs.end(), '-'));
  n.operand = std::move(operand);
  x3::_val(ctx) = std::move(n);
};

const auto build_named_argument = [](auto& ctx) {
  auto& attr = x3::_attr(ctx);
  ast::argument& a = x3::_val(ctx);
  a.name = std::move(boost::fusion::at_c<0>(attr));
  a.value = std::move(boost::fusion::at_c<1>(attr));
  a.where = {a.name->where.begin, ast::span_of(a.value).end};
};

const auto build_positional_argument = [](auto& ctx) {
  ast::argument& a = x3::_val(ctx);
  a.name.reset();
  a.value = std::move(x3::_attr(ctx));
  a.where = ast::span_of(a.value);
};

// `(e)` is e itself, its span widened to the parentheses.
const auto build_paren = [](auto& ctx) {
  auto& attr = x3::_attr(ctx);
  auto open = boost::fusion::at_c<0>(attr);
  auto close = boost::fusion::at_c<2>(attr);
  ast::expr& e = boost::fusion::at_c<1>(attr);
  ast::set_span(e, {make_span(ctx, open.begin(), open.end()).begin, make_span(ctx, close.begin(), close.end()).end});
  x3::_val(ctx) = std::move(e);
};

const auto build_list = [](auto& ctx) {
  x3::_val(ctx).items = std::move(x3::_attr(ctx));
};

const auto build_model_decl = [](auto& ctx) {
  x3::_val(ctx).name = std::move(x3::_attr(ctx));
};

const auto build_header = [](auto& ctx) {
  auto& attr = x3::_attr(ctx);
  x3::_val(ctx).side = boost::fusion::at_c<0>(attr);
  x3::_val(ctx).variables = std::move(boost::fusion::at_c<1>(attr));
  x3::_val(ctx).given = std::move(boost::fusion::at_c<2>(attr));
};

const auto build_one_line = [](auto& ctx) {
  x3::_val(ctx).block = false;
  ast::statement s;
  s.op = '~';
  s.value = std::move(x3::_attr(ctx));
  s.where = ast::span_of(s.value);
  x3::_val(ctx).body.clear();
  x3::_val(ctx).body.push_back(std::move(s));
};

const auto build_block = [](auto& ctx) {
  x3::_val(ctx).block = true;
  x3::_val(ctx).body = std::move(x3::_attr(ctx));
};

const auto build_factor = [](auto& ctx) {
  auto& h = boost::fusion::at_c<0>(x3::_attr(ctx));
  auto& b = boost::fusion::at_c<1>(x3::_attr(ctx));
  ast::factor& f = x3::_val(ctx);
  f.side = h.side;
  f.variables = std::move(h.variables);
  f.given = std::move(h.given);
  f.header = h.where;
  f.block = b.block;
  f.body = std::move(b.body);
  // A one-line factor `p(z) = DIST` samples its (first) variable; the checker rejects a
  // one-line factor that names more than one.
  if (!f.block && !f.body.empty() && !f.variables.empty()) f.body.front().target = f.variables.front();
};

const auto build_train = [](auto& ctx) {
  x3::_val(ctx).entries = std::move(x3::_attr(ctx));
};

// ---- definitions -------------------------------------------------------------------

const auto identifier_def = !reserved >> raw[lexeme[letter >> *word_char]][set_word];
const auto word_def = raw[lexeme[letter >> *word_char]][set_word];
const auto number_def =
    raw[lexeme[(+digit >> -(lit('.') >> *digit) | lit('.') >> +digit) >>
               -(char_("eE") >> -char_("+-") >> +digit)]][set_number];

const auto string_literal_def =
    raw[lexeme[lit('"') >> *((lit('\\') >> char_("\"\\")) | (char_ - char_("\"\\\n"))) >> lit('"')]][set_string];

const auto expr_def = add_chain;
const auto add_op_def = raw[char_("+-")][set_op];
const auto mul_op_def = raw[char_("*/")][set_op];
const auto add_operation_def = add_op > mul_chain;
const auto mul_operation_def = mul_op > unary;
const auto add_chain_def = (mul_chain >> *add_operation)[build_chain];
const auto mul_chain_def = (unary >> *mul_operation)[build_chain];
const auto minus_run_def = raw[*lit('-')];
const auto unary_def = (minus_run >> primary)[build_negate];
const auto primary_def = number | string_literal | call | identifier | list | paren;
const auto open_paren_def = raw[lit('(')];
const auto close_paren_def = raw[lit(')')];
const auto paren_def = (open_paren > expr > close_paren)[build_paren];
// Two alternatives built by actions: an optional `name =` prefix would keep the name
// X3 parsed before backtracking (`f(h, ...)` would read as `f(h = ...)`).
const auto named_argument = (identifier >> lit('=') >> expr)[build_named_argument];
const auto positional_argument = expr[build_positional_argument];
const auto argument_def = named_argument | positional_argument;
const auto argument_list_def = -(argument >> *(lit(',') > argument));
const auto call_def = (identifier >> lit('(')) > argument_list > lit(')');
const auto list_items_def = -(expr >> *(lit(',') > expr));
const auto list_built_def = (lit('[') > list_items > lit(']'))[build_list];
const auto list_def = list_built;

// A size or a shape, `[784]` or `[3, 32, 32]`: any expressions, even none; the checker
// says what a size may be.
const auto type_def = word > lit('[') > list_items > lit(']');
const auto model_decl_built_def = (keyword("model") > identifier)[build_model_decl];
const auto model_decl_def = model_decl_built;
const auto const_decl_def = keyword("const") > identifier > lit('=') > expr;
const auto decl_keyword_def = lexeme[(x3::string("data") | x3::string("latent")) >> !word_char];
const auto variable_decl_def = decl_keyword > identifier > lit(':') > type;
const auto assign_op_def = char_("=~");
// The optional ';' stays outside annotated rules: a failed -lit(';') has already skipped
// the blanks after the statement, which would end up in its span.
const auto statement_def = identifier > assign_op > expr;
// `s` or, for a joint block, `s, g`.
const auto sampled_def = identifier >> *(lit(',') > identifier);
const auto given_def = -(lit('|') > identifier >> *(lit(',') > identifier));
const auto header_built_def =
    (lexeme[char_("pq") >> !word_char] > lit('(') > sampled > given > lit(')'))[build_header];
const auto header_def = header_built;
const auto body_def = (lit('=') > expr)[build_one_line] | (lit('{') > *(statement >> -lit(';')) > lit('}'))[build_block];
const auto factor_built_def = (header > body)[build_factor];
const auto factor_def = factor_built;
const auto train_entry_def = identifier > lit('=') > expr;
const auto train_block_built_def = (keyword("train") > lit('{') > *(train_entry >> -lit(';')) > lit('}'))[build_train];
const auto train_block_def = train_block_built;
const auto declaration_def = (model_decl | const_decl | variable_decl | factor | train_block) >> -lit(';');

BOOST_SPIRIT_DEFINE(identifier, word, number, string_literal, expr, add_chain, mul_chain, unary, minus_run, primary, paren, open_paren,
                    close_paren, call, argument,
                    argument_list, list, list_built, list_items, add_op, mul_op, add_operation, mul_operation, type,
                    model_decl, model_decl_built, const_decl, decl_keyword, variable_decl, assign_op, statement, sampled, given, header,
                    header_built, body, factor, factor_built, train_entry, train_block, train_block_built, declaration)

}  // namespace vaec::parser

BOOST_FUSION_ADAPT_STRUCT(vaec::parser::factor_body, block, body)
