// Tests of lang/parse: the AST shape and the byte spans of every construct of the
// grammar (DESIGN §2), and the parser's behaviour on bad, deep and long input.
//
// Expected spans are computed from the input text (text.find), never copied from
// what the parser produced.
//
// A parenthesized expression has no node of its own; its node's span covers the
// parentheses, so that `(a + b) * c` underlines all of itself.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "lang/ast.hpp"
#include "lang/diagnostic.hpp"
#include "lang/parse.hpp"
#include "lang/source.hpp"
#include "tests/lang/test_util.hpp"

namespace {

namespace ast = vaec::ast;
namespace x3 = boost::spirit::x3;

// ---- helpers ---------------------------------------------------------------------------

// The result of parsing (only) a text.
struct parsed {
  std::unique_ptr<vaec::source> src;
  std::unique_ptr<vaec::diagnostics> diags;
  std::optional<ast::model> ast;

  const std::string& text() const { return src->text(); }

  // Every diagnostic as "kind LINE:COL".
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (const auto& d : diags->all()) {
      vaec::position p = src->position_of(d.where.begin);
      out.push_back(fmt::format("{} {}:{}", vaec::to_string(d.kind), p.line, p.column));
    }
    return out;
  }
};

parsed parse_text(std::string text) {
  parsed p;
  p.src = std::make_unique<vaec::source>("test.vae", std::move(text));
  p.diags = std::make_unique<vaec::diagnostics>(*p.src);
  p.ast = vaec::parse(*p.src, *p.diags);
  return p;
}

// LINE:COL of a byte offset in an ASCII text, computed independently of lang/source.
std::string line_col(std::string_view text, std::size_t offset) {
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return fmt::format("{}:{}", line, offset - line_start + 1);
}

std::string diag(std::string_view kind, std::string_view text, std::size_t offset) {
  return fmt::format("{} {}", kind, line_col(text, offset));
}

// A span shown with the text it covers, so a failing comparison says what is wrong.
std::string spanned(const std::string& text, vaec::span s) {
  if (s.begin > s.end || s.end > text.size()) return fmt::format("[{}, {}) out of range", s.begin, s.end);
  return fmt::format("[{}, {}) '{}'", s.begin, s.end, text.substr(s.begin, s.end - s.begin));
}

// The span of the first occurrence of `needle` at or after `from`.
std::string expected(const std::string& text, std::string_view needle, std::size_t from = 0) {
  std::size_t at = text.find(needle, from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "test bug: '" << needle << "' is not in the text");
  return spanned(text, {static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(at + needle.size())});
}

template <typename T>
const T& as(const ast::expr& e) {
  if constexpr (std::is_same_v<T, ast::number> || std::is_same_v<T, ast::identifier>) {
    const T* p = boost::get<T>(&e);
    BOOST_REQUIRE_MESSAGE(p, "the expression is not of the expected kind");
    return *p;
  } else {
    const auto* p = boost::get<x3::forward_ast<T>>(&e);
    BOOST_REQUIRE_MESSAGE(p, "the expression is not of the expected kind");
    return p->get();
  }
}

template <typename T>
const T& decl(const ast::model& m, std::size_t i) {
  BOOST_REQUIRE_LT(i, m.declarations.size());
  const T* p = boost::get<T>(&m.declarations[i]);
  BOOST_REQUIRE_MESSAGE(p, "declaration " << i << " is not of the expected kind");
  return *p;
}

// An expression as an s-expression: chains and negations in parentheses, so that the
// tree's shape is visible. `a + b * c` → "(a + (b * c))", `--x` → "(neg2 x)".
std::string show(const ast::expr& e);

struct show_visitor {
  using result_type = std::string;
  std::string operator()(const ast::number& n) const { return n.text; }
  std::string operator()(const ast::string_literal& t) const { return "\"" + t.value + "\""; }
  std::string operator()(const ast::identifier& id) const { return id.name; }
  std::string operator()(const x3::forward_ast<ast::call>& c) const {
    std::string s = c.get().callee.name + "(";
    for (std::size_t i = 0; i < c.get().args.size(); ++i) {
      const auto& a = c.get().args[i];
      if (i > 0) s += ", ";
      if (a.name) s += a.name->name + " = ";
      s += show(a.value);
    }
    return s + ")";
  }
  std::string operator()(const x3::forward_ast<ast::list>& l) const {
    std::string s = "[";
    for (std::size_t i = 0; i < l.get().items.size(); ++i) s += (i > 0 ? ", " : "") + show(l.get().items[i]);
    return s + "]";
  }
  std::string operator()(const x3::forward_ast<ast::negate>& n) const {
    return fmt::format("(neg{} {})", n.get().count, show(n.get().operand));
  }
  std::string operator()(const x3::forward_ast<ast::chain>& c) const {
    std::string s = "(" + show(c.get().first);
    for (const auto& op : c.get().rest) s += fmt::format(" {} {}", op.op.op, show(op.operand));
    return s + ")";
  }
};

std::string show(const ast::expr& e) { return boost::apply_visitor(show_visitor{}, e); }

// The whole model without spans: two parses with the same shape read the same.
std::string shape(const ast::model& m) {
  std::string out;
  for (const auto& d : m.declarations) {
    if (const auto* md = boost::get<ast::model_decl>(&d)) {
      out += "model " + md->name.name + "\n";
    } else if (const auto* vd = boost::get<ast::variable_decl>(&d)) {
      std::string dims;
      for (std::size_t i = 0; i < vd->type.dims.size(); ++i) dims += (i > 0 ? ", " : "") + show(vd->type.dims[i]);
      out += fmt::format("{} {} : {}[{}]\n", vd->keyword, vd->name.name, vd->type.name.name, dims);
    } else if (const auto* f = boost::get<ast::factor>(&d)) {
      out += fmt::format("{}(", f->side);
      for (std::size_t i = 0; i < f->variables.size(); ++i) out += (i == 0 ? "" : ", ") + f->variables[i].name;
      for (std::size_t i = 0; i < f->given.size(); ++i) out += (i == 0 ? " | " : ", ") + f->given[i].name;
      out += f->block ? ") {\n" : ") =\n";
      for (const auto& s : f->body) out += fmt::format("  {} {} {}\n", s.target.name, s.op, show(s.value));
      if (f->block) out += "}\n";
    } else if (const auto* t = boost::get<ast::train_block>(&d)) {
      out += "train {\n";
      for (const auto& e : t->entries) out += fmt::format("  {} = {}\n", e.key.name, show(e.value));
      out += "}\n";
    }
  }
  return out;
}

// `p(z) = EXPR`: the expression is the factor's one statement's value.
constexpr std::string_view expr_prefix = "p(z) = ";

struct one_expr {
  parsed p;
  const std::string& text() const { return p.text(); }
  const ast::expr& value() const {
    const auto& f = decl<ast::factor>(*p.ast, 0);
    BOOST_REQUIRE_EQUAL(f.body.size(), 1u);
    return f.body[0].value;
  }
};

one_expr parse_expr(std::string_view e) {
  one_expr r{parse_text(std::string(expr_prefix) + std::string(e))};
  BOOST_REQUIRE_MESSAGE(r.p.ast, "'" << e << "' does not parse:\n" << r.p.diags->render());
  BOOST_REQUIRE_EQUAL(r.p.ast->declarations.size(), 1u);
  return r;
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

const std::string one_line_model = [] {
  std::string t(vaec::test::gaussian_model);
  for (char& c : t)
    if (c == '\n') c = ' ';
  return t;
}();

}  // namespace

BOOST_AUTO_TEST_SUITE(parse)

// ---- declarations ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(model_declaration) {
  std::string t = "model fashion_gaussian\n";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  BOOST_REQUIRE_EQUAL(p.ast->declarations.size(), 1u);
  const auto& m = decl<ast::model_decl>(*p.ast, 0);
  BOOST_TEST(m.name.name == "fashion_gaussian");
  BOOST_TEST(spanned(t, m.name.where) == expected(t, "fashion_gaussian"));
  BOOST_TEST(spanned(t, m.where) == expected(t, "model fashion_gaussian"));
  BOOST_TEST(spanned(t, ast::span_of(p.ast->declarations[0])) == expected(t, "model fashion_gaussian"));

  // A name may start with a reserved word; it may not be one.
  auto q = parse_text("model data_model");
  BOOST_REQUIRE(q.ast);
  BOOST_TEST(decl<ast::model_decl>(*q.ast, 0).name.name == "data_model");
  auto r = parse_text("model p");
  BOOST_TEST(!r.ast);
  BOOST_TEST(r.errors() == std::vector<std::string>{"syntax_error 1:7"});
}

BOOST_AUTO_TEST_CASE(variable_declarations) {
  std::string t =
      "data   x : binary[784]\n"
      "latent z : real[20]\n"
      "latent s:sphere[11]\n";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  BOOST_REQUIRE_EQUAL(p.ast->declarations.size(), 3u);

  const auto& x = decl<ast::variable_decl>(*p.ast, 0);
  BOOST_TEST(x.keyword == "data");
  BOOST_TEST(x.name.name == "x");
  BOOST_TEST(x.type.name.name == "binary");
  BOOST_REQUIRE_EQUAL(x.type.dims.size(), 1u);
  BOOST_TEST(show(x.type.dims[0]) == "784");
  BOOST_TEST(spanned(t, x.where) == expected(t, "data   x : binary[784]"));
  BOOST_TEST(spanned(t, x.name.where) == expected(t, "x"));
  BOOST_TEST(spanned(t, x.type.where) == expected(t, "binary[784]"));
  BOOST_TEST(spanned(t, x.type.name.where) == expected(t, "binary"));
  BOOST_TEST(spanned(t, ast::span_of(x.type.dims[0])) == expected(t, "784"));

  const auto& z = decl<ast::variable_decl>(*p.ast, 1);
  std::size_t line2 = t.find("latent z");
  BOOST_TEST(z.keyword == "latent");
  BOOST_TEST(z.name.name == "z");
  BOOST_TEST(z.type.name.name == "real");
  BOOST_REQUIRE_EQUAL(z.type.dims.size(), 1u);
  BOOST_TEST(show(z.type.dims[0]) == "20");
  BOOST_TEST(spanned(t, z.where) == expected(t, "latent z : real[20]"));
  BOOST_TEST(spanned(t, z.name.where) == expected(t, "z", line2));
  BOOST_TEST(spanned(t, z.type.where) == expected(t, "real[20]"));
  BOOST_TEST(spanned(t, ast::span_of(z.type.dims[0])) == expected(t, "20", line2));

  const auto& s = decl<ast::variable_decl>(*p.ast, 2);
  std::size_t line3 = t.find("latent s");
  BOOST_TEST(s.keyword == "latent");
  BOOST_TEST(s.name.name == "s");
  BOOST_TEST(s.type.name.name == "sphere");
  BOOST_REQUIRE_EQUAL(s.type.dims.size(), 1u);
  BOOST_TEST(show(s.type.dims[0]) == "11");
  BOOST_TEST(spanned(t, s.where) == expected(t, "latent s:sphere[11]"));
  BOOST_TEST(spanned(t, s.name.where) == expected(t, "s", line3 + 6));
  BOOST_TEST(spanned(t, s.type.where) == expected(t, "sphere[11]"));

  // Type names are resolved by the checker: a misspelt one still parses.
  auto q = parse_text("latent z : reel[20]");
  BOOST_REQUIRE(q.ast);
  BOOST_TEST(decl<ast::variable_decl>(*q.ast, 0).type.name.name == "reel");
}

// A type's brackets hold a size or a shape: one or more expressions separated by commas,
// or none. What a size may be is the checker's business (check_test: shapes), so that
// `real[-3]`, `real[2.5]` and `real[]` get their own messages, not a syntax error.
BOOST_AUTO_TEST_CASE(type_shapes) {
  std::string t =
      "data   x : binary[28, 28]\n"
      "data   y : real[ 3 ,32,  32 ]\n"
      "latent z : real[]\n"
      "latent w : real[-3]\n"
      "latent v : real[2.5, 0, 1, 7]\n"
      "latent u : real[n + 1]\n";
  auto p = parse_text(t);
  BOOST_REQUIRE_MESSAGE(p.ast, p.diags->render());
  BOOST_TEST(p.errors().empty());
  BOOST_REQUIRE_EQUAL(p.ast->declarations.size(), 6u);
  BOOST_TEST(shape(*p.ast) ==
             "data x : binary[28, 28]\n"
             "data y : real[3, 32, 32]\n"
             "latent z : real[]\n"
             "latent w : real[(neg1 3)]\n"
             "latent v : real[2.5, 0, 1, 7]\n"
             "latent u : real[(n + 1)]\n");

  const auto& x = decl<ast::variable_decl>(*p.ast, 0);
  BOOST_REQUIRE_EQUAL(x.type.dims.size(), 2u);
  BOOST_TEST(spanned(t, x.type.where) == expected(t, "binary[28, 28]"));
  BOOST_TEST(spanned(t, ast::span_of(x.type.dims[0])) == expected(t, "28"));
  BOOST_TEST(spanned(t, ast::span_of(x.type.dims[1])) == expected(t, "28", t.find("28") + 2));
  BOOST_TEST(spanned(t, x.where) == expected(t, "data   x : binary[28, 28]"));

  const auto& y = decl<ast::variable_decl>(*p.ast, 1);
  BOOST_REQUIRE_EQUAL(y.type.dims.size(), 3u);
  BOOST_TEST(spanned(t, y.type.where) == expected(t, "real[ 3 ,32,  32 ]"));
  BOOST_TEST(spanned(t, ast::span_of(y.type.dims[2])) == expected(t, "32", t.find("32") + 2));

  const auto& z = decl<ast::variable_decl>(*p.ast, 2);
  BOOST_TEST(z.type.dims.empty());
  BOOST_TEST(spanned(t, z.type.where) == expected(t, "real[]"));

  const auto& w = decl<ast::variable_decl>(*p.ast, 3);
  BOOST_REQUIRE_EQUAL(w.type.dims.size(), 1u);
  BOOST_TEST(spanned(t, ast::span_of(w.type.dims[0])) == expected(t, "-3"));

  // Malformed brackets stay syntax errors, at the column of what is missing.
  for (auto [text, where] : std::vector<std::pair<std::string, std::string>>{
           {"data x : binary[28, 28", "syntax_error 1:23"},
           {"data x : binary[28,, 28]", "syntax_error 1:20"},
           {"data x : binary[28, ]", "syntax_error 1:21"},
           {"data x : binary[28 28]", "syntax_error 1:20"},
           {"data x : binary 28, 28]", "syntax_error 1:17"},
       }) {
    BOOST_TEST_CONTEXT(text) {
      auto b = parse_text(text);
      BOOST_TEST(!b.ast);
      BOOST_TEST(b.errors() == std::vector<std::string>{where});
    }
  }
}

BOOST_AUTO_TEST_CASE(one_line_factor) {
  std::string t = "p(z) = Normal(0, 1)";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 0);
  BOOST_TEST(f.side == 'p');
  BOOST_TEST(f.variables.at(0).name == "z");
  BOOST_TEST(f.given.empty());
  BOOST_TEST(!f.block);
  BOOST_REQUIRE_EQUAL(f.body.size(), 1u);
  const auto& s = f.body[0];
  BOOST_TEST(s.op == '~');
  BOOST_TEST(s.target.name == "z");
  BOOST_TEST(spanned(t, s.target.where) == spanned(t, f.variables.at(0).where));
  BOOST_TEST(show(s.value) == "Normal(0, 1)");
  BOOST_TEST(spanned(t, s.where) == expected(t, "Normal(0, 1)"));
  BOOST_TEST(spanned(t, ast::span_of(s.value)) == expected(t, "Normal(0, 1)"));
  BOOST_TEST(spanned(t, f.variables.at(0).where) == expected(t, "z"));
  BOOST_TEST(spanned(t, f.header) == expected(t, "p(z)"));
  BOOST_TEST(spanned(t, f.where) == expected(t, "p(z) = Normal(0, 1)"));

  std::string u = "q(z | x) = Normal(loc = 0, scale = 1)\n";
  auto q = parse_text(u);
  BOOST_REQUIRE(q.ast);
  const auto& g = decl<ast::factor>(*q.ast, 0);
  BOOST_TEST(g.side == 'q');
  BOOST_TEST(g.variables.at(0).name == "z");
  BOOST_REQUIRE_EQUAL(g.given.size(), 1u);
  BOOST_TEST(g.given[0].name == "x");
  BOOST_TEST(!g.block);
  BOOST_REQUIRE_EQUAL(g.body.size(), 1u);
  BOOST_TEST(g.body[0].op == '~');
  BOOST_TEST(g.body[0].target.name == "z");
  BOOST_TEST(spanned(u, g.header) == expected(u, "q(z | x)"));
  BOOST_TEST(spanned(u, g.where) == expected(u, "q(z | x) = Normal(loc = 0, scale = 1)"));
}

// Strings (DESIGN §2): double quotes, the escapes \" and \\, any other byte as itself
// (a '#', brackets, UTF-8); the span covers the quotes. An unterminated string and any
// other escape are reported where they are, before the grammar runs.
BOOST_AUTO_TEST_CASE(string_literals) {
  const std::string t = R"(p(z) = AggregatePosterior(run = "runs/a \"b\" \\ #(é", examples = 3))";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 0);
  const auto& c = boost::get<x3::forward_ast<ast::call>>(f.body[0].value).get();
  const auto& s = boost::get<ast::string_literal>(c.args[0].value);
  BOOST_TEST(s.value == "runs/a \"b\" \\ #(é");
  BOOST_TEST(spanned(t, s.where) == expected(t, R"("runs/a \"b\" \\ #(é")"));
  BOOST_TEST(show(c.args[0].value) == "\"runs/a \"b\" \\ #(é\"");
  const std::string empty = R"(p(z) = AggregatePosterior(run = ""))";
  auto e = parse_text(empty);
  BOOST_REQUIRE(e.ast);
  BOOST_TEST(boost::get<ast::string_literal>(boost::get<x3::forward_ast<ast::call>>(decl<ast::factor>(*e.ast, 0).body[0].value).get().args[0].value).value.empty());
  // Faults: where and which.
  for (const auto& [text, kind, at] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"p(z) = A(run = \"runs/base)\nq(z | x) = B()", "unterminated_string", "\"runs/base)"},
           {"p(z) = A(run = \"runs/base\\\")", "unterminated_string", "\"runs/base"},
           {"p(z) = A(run = \"runs\\nbase\")", "bad_escape", "\\n"},
           {"p(z) = A(run = \"runs\\", "bad_escape", "\\"},
       }) {
    BOOST_TEST_CONTEXT(text) {
      auto r = parse_text(text);
      BOOST_TEST(!r.ast);
      BOOST_REQUIRE(!r.errors().empty());
      BOOST_TEST(r.errors()[0].find(kind) == 0u, r.errors()[0]);
      BOOST_TEST(r.diags->all()[0].where.begin == text.find(at));
    }
  }
}

BOOST_AUTO_TEST_CASE(block_factor_with_rebinding) {
  std::string t =
      "p(x | z) {\n"
      "  h = mlp(z, [256, 512], activation = relu)\n"
      "  h = tanh(h)\n"
      "  x ~ Bernoulli(logits = linear(h, 784))\n"
      "}\n";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 0);
  BOOST_TEST(f.side == 'p');
  BOOST_TEST(f.variables.at(0).name == "x");
  BOOST_REQUIRE_EQUAL(f.given.size(), 1u);
  BOOST_TEST(f.given[0].name == "z");
  BOOST_TEST(f.block);
  BOOST_REQUIRE_EQUAL(f.body.size(), 3u);

  BOOST_TEST(f.body[0].target.name == "h");
  BOOST_TEST(f.body[0].op == '=');
  BOOST_TEST(show(f.body[0].value) == "mlp(z, [256, 512], activation = relu)");
  BOOST_TEST(f.body[1].target.name == "h");
  BOOST_TEST(f.body[1].op == '=');
  BOOST_TEST(show(f.body[1].value) == "tanh(h)");
  BOOST_TEST(f.body[2].target.name == "x");
  BOOST_TEST(f.body[2].op == '~');
  BOOST_TEST(show(f.body[2].value) == "Bernoulli(logits = linear(h, 784))");

  // The two bindings of h are two statements with their own spans.
  BOOST_TEST(spanned(t, f.body[0].target.where) == expected(t, "h", t.find("h = mlp")));
  BOOST_TEST(spanned(t, f.body[1].target.where) == expected(t, "h", t.find("h = tanh")));
  BOOST_TEST(spanned(t, f.body[2].target.where) == expected(t, "x", t.find("x ~")));
  BOOST_TEST(spanned(t, ast::span_of(f.body[0].value)) == expected(t, "mlp(z, [256, 512], activation = relu)"));
  BOOST_TEST(spanned(t, ast::span_of(f.body[1].value)) == expected(t, "tanh(h)"));
  BOOST_TEST(spanned(t, ast::span_of(f.body[2].value)) == expected(t, "Bernoulli(logits = linear(h, 784))"));

  BOOST_TEST(spanned(t, f.header) == expected(t, "p(x | z)"));
  BOOST_TEST(spanned(t, f.where) == spanned(t, {0, static_cast<std::uint32_t>(t.rfind('}') + 1)}));
}

BOOST_AUTO_TEST_CASE(statement_spans_begin_at_the_target) {
  // Statement spans begin at the target; diagnostics about a statement point there.
  std::string t = "p(x | z) {\n  h = tanh(z)\n  x ~ Bernoulli(logits = h)\n}";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  const auto& f = decl<ast::factor>(*p.ast, 0);
  BOOST_REQUIRE_EQUAL(f.body.size(), 2u);
  BOOST_TEST(f.body[0].where.begin == t.find("h = tanh"));
  BOOST_TEST(f.body[1].where.begin == t.find("x ~"));
  BOOST_TEST(f.body[0].where.end >= t.find("tanh(z)") + 7);
  BOOST_TEST(f.body[1].where.end >= t.find("(logits = h)") + 12);
}

BOOST_AUTO_TEST_CASE(conditioning_variables) {
  std::string t = "p(x | a, b, c) = Normal(0, 1)";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 0);
  BOOST_TEST(f.variables.at(0).name == "x");
  BOOST_REQUIRE_EQUAL(f.given.size(), 3u);
  BOOST_TEST(f.given[0].name == "a");
  BOOST_TEST(f.given[1].name == "b");
  BOOST_TEST(f.given[2].name == "c");
  BOOST_TEST(spanned(t, f.given[0].where) == expected(t, "a"));
  BOOST_TEST(spanned(t, f.given[1].where) == expected(t, "b"));
  BOOST_TEST(spanned(t, f.given[2].where) == expected(t, "c"));
  BOOST_TEST(spanned(t, f.header) == expected(t, "p(x | a, b, c)"));

  // No white space at all, and a q factor with two.
  auto q = parse_text("p(x|a,b,c)=Normal(0,1)\nq(z2 | x, z1) = Normal(0, 1)");
  BOOST_REQUIRE(q.ast);
  BOOST_TEST(shape(*q.ast) == "p(x | a, b, c) =\n  x ~ Normal(0, 1)\nq(z2 | x, z1) =\n  z2 ~ Normal(0, 1)\n");

  // Ten conditioning variables.
  std::string many = "p(x | v0, v1, v2, v3, v4, v5, v6, v7, v8, v9) = Normal(0, 1)";
  auto m = parse_text(many);
  BOOST_REQUIRE(m.ast);
  const auto& g = decl<ast::factor>(*m.ast, 0);
  BOOST_REQUIRE_EQUAL(g.given.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    std::string name = fmt::format("v{}", i);
    BOOST_TEST(g.given[i].name == name);
    BOOST_TEST(spanned(many, g.given[i].where) == expected(many, name));
  }
}

BOOST_AUTO_TEST_CASE(joint_block) {
  // One block, several variables: the header lists them before the '|', the body samples
  // them; a later statement may use an earlier sample (the checker decides what is legal).
  std::string t =
      "q(s, g | x) {\n"
      "  h = mlp(x, [512, 256])\n"
      "  s ~ VonMisesFisher(mean = normalize(linear(h, 5)), concentration = softplus(linear(h, 1)) + 1)\n"
      "  g ~ Normal(loc = linear(concat(h, s), 8), scale = softplus(linear(h, 8)))\n"
      "}\n";
  auto p = parse_text(t);
  BOOST_REQUIRE(p.ast);
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 0);
  BOOST_TEST(f.side == 'q');
  BOOST_REQUIRE_EQUAL(f.variables.size(), 2u);
  BOOST_TEST(f.variables[0].name == "s");
  BOOST_TEST(f.variables[1].name == "g");
  BOOST_TEST(spanned(t, f.variables[0].where) == expected(t, "s"));
  BOOST_TEST(spanned(t, f.variables[1].where) == expected(t, "g"));
  BOOST_REQUIRE_EQUAL(f.given.size(), 1u);
  BOOST_TEST(f.given[0].name == "x");
  BOOST_TEST(spanned(t, f.given[0].where) == expected(t, "x", t.find("| x") + 2));
  BOOST_TEST(spanned(t, f.header) == expected(t, "q(s, g | x)"));
  BOOST_TEST(f.block);
  BOOST_REQUIRE_EQUAL(f.body.size(), 3u);
  BOOST_TEST(f.body[1].target.name == "s");
  BOOST_TEST(f.body[1].op == '~');
  BOOST_TEST(f.body[2].target.name == "g");
  BOOST_TEST(f.body[2].op == '~');
  BOOST_TEST(show(f.body[2].value) == "Normal(loc = linear(concat(h, s), 8), scale = softplus(linear(h, 8)))");
  BOOST_TEST(spanned(t, f.body[2].target.where) == expected(t, "g", t.find("g ~")));

  // A p block of three latents without a '|' list, blanks anywhere, and the shape printer.
  auto q = parse_text("p(a,b , c){a~Normal(0,1);b~Normal(a,1);c~Normal(b,1)}");
  BOOST_REQUIRE(q.ast);
  BOOST_TEST(q.errors().empty());
  BOOST_TEST(shape(*q.ast) == "p(a, b, c) {\n  a ~ Normal(0, 1)\n  b ~ Normal(a, 1)\n  c ~ Normal(b, 1)\n}\n");

  // A one-line factor may name several variables as far as the grammar goes (the checker
  // rejects it); its one statement samples the first.
  auto r = parse_text("p(a, b) = Normal(0, 1)");
  BOOST_REQUIRE(r.ast);
  const auto& one = decl<ast::factor>(*r.ast, 0);
  BOOST_REQUIRE_EQUAL(one.variables.size(), 2u);
  BOOST_TEST(one.body.at(0).target.name == "a");

  // Malformed lists of variables are syntax errors at the right place.
  for (const auto& [text, where] : std::vector<std::pair<std::string, std::string>>{
           {"q(s, | x) = Normal(0, 1)", "syntax_error 1:6"},
           {"q(s,, g | x) = Normal(0, 1)", "syntax_error 1:5"},
           {"q(, g | x) = Normal(0, 1)", "syntax_error 1:3"},
           {"q(s g | x) = Normal(0, 1)", "syntax_error 1:5"},
           {"p(a, b | ) { a ~ Normal(0, 1) }", "syntax_error 1:10"},
       }) {
    BOOST_TEST_CONTEXT(text) {
      auto b = parse_text(text);
      BOOST_TEST(!b.ast);
      BOOST_TEST(b.errors() == std::vector<std::string>{where});
    }
  }
  auto named = parse_text("q(s, ) = Normal(0, 1)");
  BOOST_REQUIRE_EQUAL(named.diags->all().size(), 1u);
  BOOST_TEST(named.diags->all()[0].message.find("expected name") != std::string::npos, named.diags->all()[0].message);
}

// ---- expressions -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(precedence_multiplication_binds_tighter) {
  auto e = parse_expr("a + b * c");
  const std::string& t = e.text();
  BOOST_TEST(show(e.value()) == "(a + (b * c))");
  const auto& outer = as<ast::chain>(e.value());
  BOOST_TEST(as<ast::identifier>(outer.first).name == "a");
  BOOST_REQUIRE_EQUAL(outer.rest.size(), 1u);
  BOOST_TEST(outer.rest[0].op.op == '+');
  const auto& inner = as<ast::chain>(outer.rest[0].operand);
  BOOST_TEST(as<ast::identifier>(inner.first).name == "b");
  BOOST_REQUIRE_EQUAL(inner.rest.size(), 1u);
  BOOST_TEST(inner.rest[0].op.op == '*');
  BOOST_TEST(as<ast::identifier>(inner.rest[0].operand).name == "c");

  BOOST_TEST(spanned(t, outer.where) == expected(t, "a + b * c"));
  BOOST_TEST(spanned(t, inner.where) == expected(t, "b * c"));
  BOOST_TEST(spanned(t, outer.rest[0].op.where) == expected(t, "+"));
  BOOST_TEST(spanned(t, inner.rest[0].op.where) == expected(t, "*"));
  BOOST_TEST(spanned(t, as<ast::identifier>(outer.first).where) == expected(t, "a", expr_prefix.size()));

  BOOST_TEST(show(parse_expr("a * b + c * d").value()) == "((a * b) + (c * d))");
  BOOST_TEST(show(parse_expr("a + b - c * d / e").value()) == "(a + b - (c * d / e))");
}

BOOST_AUTO_TEST_CASE(chains_are_flat_and_left_to_right) {
  auto e = parse_expr("a - b - c");
  const std::string& t = e.text();
  BOOST_TEST(show(e.value()) == "(a - b - c)");
  const auto& c = as<ast::chain>(e.value());
  BOOST_TEST(as<ast::identifier>(c.first).name == "a");
  BOOST_REQUIRE_EQUAL(c.rest.size(), 2u);
  BOOST_TEST(c.rest[0].op.op == '-');
  BOOST_TEST(as<ast::identifier>(c.rest[0].operand).name == "b");
  BOOST_TEST(c.rest[1].op.op == '-');
  BOOST_TEST(as<ast::identifier>(c.rest[1].operand).name == "c");
  BOOST_TEST(spanned(t, c.where) == expected(t, "a - b - c"));
  BOOST_TEST(spanned(t, c.rest[0].op.where) == expected(t, "-"));
  BOOST_TEST(spanned(t, c.rest[1].op.where) == expected(t, "-", t.find("b - c")));

  auto m = parse_expr("a * b / c * d");
  const auto& mc = as<ast::chain>(m.value());
  BOOST_REQUIRE_EQUAL(mc.rest.size(), 3u);
  BOOST_TEST(mc.rest[0].op.op == '*');
  BOOST_TEST(mc.rest[1].op.op == '/');
  BOOST_TEST(mc.rest[2].op.op == '*');

  // Without white space.
  BOOST_TEST(show(parse_expr("a-b+c").value()) == "(a - b + c)");
}

BOOST_AUTO_TEST_CASE(parentheses_group) {
  auto e = parse_expr("(a + b) * c");
  BOOST_TEST(show(e.value()) == "((a + b) * c)");
  const auto& outer = as<ast::chain>(e.value());
  BOOST_REQUIRE_EQUAL(outer.rest.size(), 1u);
  BOOST_TEST(outer.rest[0].op.op == '*');
  BOOST_TEST(as<ast::identifier>(outer.rest[0].operand).name == "c");
  const auto& inner = as<ast::chain>(outer.first);
  BOOST_REQUIRE_EQUAL(inner.rest.size(), 1u);
  BOOST_TEST(inner.rest[0].op.op == '+');
  BOOST_TEST(spanned(e.text(), inner.where) == expected(e.text(), "(a + b)"));
  BOOST_TEST(spanned(e.text(), outer.where) == expected(e.text(), "(a + b) * c"));
  auto right = parse_expr("a * (b + c)");
  BOOST_TEST(spanned(right.text(), as<ast::chain>(right.value()).where) == expected(right.text(), "a * (b + c)"));
  auto neg = parse_expr("-(a + b)");
  BOOST_TEST(spanned(neg.text(), as<ast::negate>(neg.value()).where) == expected(neg.text(), "-(a + b)"));

  BOOST_TEST(show(parse_expr("a * (b + c)").value()) == "(a * (b + c))");
  BOOST_TEST(show(parse_expr("a - (b - c)").value()) == "(a - (b - c))");
  // Parentheses around a single operand leave no node of their own.
  auto p = parse_expr("((a))");
  BOOST_TEST(as<ast::identifier>(p.value()).name == "a");
  BOOST_TEST(spanned(p.text(), as<ast::identifier>(p.value()).where) == expected(p.text(), "((a))"));
}

BOOST_AUTO_TEST_CASE(unary_minus) {
  auto one = parse_expr("-x");
  const auto& n1 = as<ast::negate>(one.value());
  BOOST_TEST(n1.count == 1);
  BOOST_TEST(as<ast::identifier>(n1.operand).name == "x");
  BOOST_TEST(spanned(one.text(), n1.where) == expected(one.text(), "-x"));

  auto two = parse_expr("--x");
  const auto& n2 = as<ast::negate>(two.value());
  BOOST_TEST(n2.count == 2);
  BOOST_TEST(as<ast::identifier>(n2.operand).name == "x");
  BOOST_TEST(spanned(two.text(), n2.where) == expected(two.text(), "--x"));

  auto three = parse_expr("- - -x");
  const auto& n3 = as<ast::negate>(three.value());
  BOOST_TEST(n3.count == 3);
  BOOST_TEST(as<ast::identifier>(n3.operand).name == "x");
  BOOST_TEST(spanned(three.text(), n3.where) == expected(three.text(), "- - -x"));

  auto lit = parse_expr("-2");
  BOOST_TEST(as<ast::number>(as<ast::negate>(lit.value()).operand).text == "2");

  auto grouped = parse_expr("-(a + b)");
  BOOST_TEST(show(grouped.value()) == "(neg1 (a + b))");

  // Unary minus binds tighter than '*'; a '-' after an operator is unary.
  BOOST_TEST(show(parse_expr("-x * y").value()) == "((neg1 x) * y)");
  BOOST_TEST(show(parse_expr("a - -b").value()) == "(a - (neg1 b))");
  BOOST_TEST(show(parse_expr("a--b").value()) == "(a - (neg1 b))");
  BOOST_TEST(show(parse_expr("a * -b").value()) == "(a * (neg1 b))");
}

BOOST_AUTO_TEST_CASE(calls_with_positional_and_named_arguments) {
  auto e = parse_expr("f(a, k = b)");
  const std::string& t = e.text();
  const auto& c = as<ast::call>(e.value());
  BOOST_TEST(c.callee.name == "f");
  BOOST_REQUIRE_EQUAL(c.args.size(), 2u);
  BOOST_TEST(!c.args[0].name.has_value());
  BOOST_TEST(as<ast::identifier>(c.args[0].value).name == "a");
  BOOST_REQUIRE(c.args[1].name.has_value());
  BOOST_TEST(c.args[1].name->name == "k");
  BOOST_TEST(as<ast::identifier>(c.args[1].value).name == "b");
  BOOST_TEST(spanned(t, c.where) == expected(t, "f(a, k = b)"));
  BOOST_TEST(spanned(t, c.callee.where) == expected(t, "f"));
  BOOST_TEST(spanned(t, c.args[0].where) == expected(t, "a"));
  BOOST_TEST(spanned(t, c.args[1].where) == expected(t, "k = b"));
  BOOST_TEST(spanned(t, c.args[1].name->where) == expected(t, "k"));
  BOOST_TEST(spanned(t, ast::span_of(c.args[1].value)) == expected(t, "b"));

  // Positional only; named only; none.
  auto pos = parse_expr("linear(h, 20)");
  const auto& pc = as<ast::call>(pos.value());
  BOOST_REQUIRE_EQUAL(pc.args.size(), 2u);
  BOOST_TEST(!pc.args[0].name.has_value());
  BOOST_TEST(!pc.args[1].name.has_value());
  BOOST_TEST(as<ast::number>(pc.args[1].value).text == "20");

  auto named = parse_expr("Normal(loc = m, scale = s)");
  const auto& nc = as<ast::call>(named.value());
  BOOST_REQUIRE_EQUAL(nc.args.size(), 2u);
  BOOST_REQUIRE(nc.args[0].name && nc.args[1].name);
  BOOST_TEST(nc.args[0].name->name == "loc");
  BOOST_TEST(nc.args[1].name->name == "scale");
  BOOST_TEST(spanned(named.text(), nc.args[1].where) == expected(named.text(), "scale = s"));

  auto none = parse_expr("HypersphericalUniform()");
  const auto& hc = as<ast::call>(none.value());
  BOOST_TEST(hc.callee.name == "HypersphericalUniform");
  BOOST_TEST(hc.args.empty());
  BOOST_TEST(spanned(none.text(), hc.where) == expected(none.text(), "HypersphericalUniform()"));

  // Expressions as arguments; a name followed by ',' is positional, not named.
  BOOST_TEST(show(parse_expr("Normal(loc = a + b, scale = exp(c) * 2)").value()) ==
             "Normal(loc = (a + b), scale = (exp(c) * 2))");
  BOOST_TEST(show(parse_expr("mlp(h, [256], activation = relu)").value()) == "mlp(h, [256], activation = relu)");
}

BOOST_AUTO_TEST_CASE(nested_calls) {
  auto e = parse_expr("softplus(linear(h, 20))");
  const std::string& t = e.text();
  BOOST_TEST(show(e.value()) == "softplus(linear(h, 20))");
  const auto& outer = as<ast::call>(e.value());
  BOOST_REQUIRE_EQUAL(outer.args.size(), 1u);
  const auto& inner = as<ast::call>(outer.args[0].value);
  BOOST_TEST(inner.callee.name == "linear");
  BOOST_TEST(spanned(t, outer.where) == expected(t, "softplus(linear(h, 20))"));
  BOOST_TEST(spanned(t, inner.where) == expected(t, "linear(h, 20)"));
  BOOST_TEST(spanned(t, inner.callee.where) == expected(t, "linear"));

  BOOST_TEST(show(parse_expr("f(g(h(x)), y = k(1, z = 2))").value()) == "f(g(h(x)), y = k(1, z = 2))");
  BOOST_TEST(show(parse_expr("softplus(linear(h, 20)) + 1e-4").value()) == "(softplus(linear(h, 20)) + 1e-4)");
}

BOOST_AUTO_TEST_CASE(list_literals) {
  auto e = parse_expr("[512, 256]");
  const std::string& t = e.text();
  const auto& l = as<ast::list>(e.value());
  BOOST_REQUIRE_EQUAL(l.items.size(), 2u);
  BOOST_TEST(as<ast::number>(l.items[0]).text == "512");
  BOOST_TEST(as<ast::number>(l.items[1]).text == "256");
  BOOST_TEST(spanned(t, l.where) == expected(t, "[512, 256]"));
  BOOST_TEST(spanned(t, ast::span_of(l.items[1])) == expected(t, "256"));

  auto empty = parse_expr("[]");
  BOOST_TEST(as<ast::list>(empty.value()).items.empty());
  BOOST_TEST(spanned(empty.text(), as<ast::list>(empty.value()).where) == expected(empty.text(), "[]"));
  auto blank = parse_expr("[ ]");
  BOOST_TEST(as<ast::list>(blank.value()).items.empty());
  BOOST_TEST(spanned(blank.text(), as<ast::list>(blank.value()).where) == expected(blank.text(), "[ ]"));

  // Items are expressions; lists nest (the checker decides what is allowed).
  BOOST_TEST(show(parse_expr("[a + 1, -b, [1]]").value()) == "[(a + 1), (neg1 b), [1]]");
  auto arg = parse_expr("mlp(z, [256, 512])");
  const auto& mc = as<ast::call>(arg.value());
  BOOST_REQUIRE_EQUAL(mc.args.size(), 2u);
  BOOST_TEST(spanned(arg.text(), as<ast::list>(mc.args[1].value).where) == expected(arg.text(), "[256, 512]"));
}

BOOST_AUTO_TEST_CASE(numbers_in_every_form) {
  for (std::string_view form : {"12", "1.5", "1e-4", ".5", "1E+3", "2.", "0", "1.5e10", "3e5", "007"}) {
    BOOST_TEST_CONTEXT("number " << form) {
      auto e = parse_expr(form);
      const auto& n = as<ast::number>(e.value());
      BOOST_TEST(n.text == form);
      BOOST_TEST(spanned(e.text(), n.where) == expected(e.text(), form, expr_prefix.size()));
    }
  }
  auto l = parse_expr("[12, 1.5, 1e-4, .5, 1E+3, 2.]");
  const auto& items = as<ast::list>(l.value()).items;
  std::vector<std::string> texts;
  for (const auto& i : items) texts.push_back(as<ast::number>(i).text);
  BOOST_TEST(texts == (std::vector<std::string>{"12", "1.5", "1e-4", ".5", "1E+3", "2."}));
  // `1e-4` is one number, not `1e` minus 4.
  BOOST_TEST(show(parse_expr("1e-4 - 1").value()) == "(1e-4 - 1)");
}

// ---- lexical freedom -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(comments_everywhere) {
  std::string plain =
      "model m\n"
      "data x : binary[784]\n"
      "latent z : real[20]\n"
      "p(z) = Normal(0, 1)\n"
      "p(x | z) {\n"
      "  h = mlp(z, [256, 512], activation = relu)\n"
      "  x ~ Bernoulli(logits = linear(h, 784))\n"
      "}\n"
      "q(z | x) {\n"
      "  z ~ Normal(linear(x, 20), exp(linear(x, 20)))\n"
      "}\n"
      "train { epochs = 3 }\n";
  std::string commented =
      "# a model with comments everywhere: (((( [[[[ {{{{ and UTF-8 θ φ — ‖\n"
      "model m   # its name\n"
      "# a whole line\n"
      "data x : binary[784]# no space before the comment\n"
      "latent z : real[20]\n"
      "p(z) = Normal(0, # inside a call\n"
      "              1) # after a factor\n"
      "p(x | # inside a header\n"
      "  z) {\n"
      "  # inside a block, before a statement\n"
      "  h = mlp(z, [256, # inside a list\n"
      "              512], activation = relu)  # after a statement\n"
      "  # between statements\n"
      "  x ~ Bernoulli(logits = linear(h, 784))  # after the sample\n"
      "  # before the closing brace\n"
      "}\n"
      "q(z | x) {\n"
      "  z ~ Normal(linear(x, 20), exp(linear(x, 20)))\n"
      "}\n"
      "train { epochs = 3 # inside train\n"
      "} # after the last token, and no newline";
  auto a = parse_text(plain);
  auto b = parse_text(commented);
  BOOST_REQUIRE_MESSAGE(b.ast, b.diags->render());
  BOOST_REQUIRE(a.ast);
  BOOST_TEST(b.errors().empty());
  BOOST_TEST(shape(*b.ast) == shape(*a.ast));

  // Comments are not part of any span.
  const std::string& t = b.text();
  BOOST_TEST(spanned(t, decl<ast::variable_decl>(*b.ast, 1).where) == expected(t, "data x : binary[784]"));
  BOOST_TEST(spanned(t, decl<ast::model_decl>(*b.ast, 0).where) == expected(t, "model m"));
  const auto& pz = decl<ast::factor>(*b.ast, 3);
  BOOST_TEST(spanned(t, pz.where) == expected(t, "p(z) = Normal(0, # inside a call\n              1)"));
  BOOST_TEST(spanned(t, ast::span_of(pz.body[0].value)) == expected(t, "Normal(0, # inside a call\n              1)"));
  const auto& px = decl<ast::factor>(*b.ast, 4);
  BOOST_TEST(spanned(t, px.given[0].where) == expected(t, "z", t.find("p(x | #")));
  BOOST_TEST(spanned(t, ast::span_of(px.body[1].value)) == expected(t, "Bernoulli(logits = linear(h, 784))"));

  // The commented model is also a valid model.
  auto r = vaec::test::run(commented);
  BOOST_TEST(r.errors().empty());
  BOOST_TEST(r.model.has_value());

  // A file whose last line is a comment without a newline; a file of a comment only.
  auto c = parse_text("model m # end");
  BOOST_REQUIRE(c.ast);
  BOOST_TEST(decl<ast::model_decl>(*c.ast, 0).name.name == "m");
  auto only = parse_text("# nothing here\n   # nor here");
  BOOST_TEST(!only.ast);
  BOOST_TEST(only.errors() == std::vector<std::string>{"empty_model 1:1"});
}

BOOST_AUTO_TEST_CASE(optional_semicolons) {
  std::string without =
      "model m\n"
      "data x : binary[784]\n"
      "latent z : real[20]\n"
      "p(z) = Normal(0, 1)\n"
      "p(x | z) { h = mlp(z, [256])\n x ~ Bernoulli(logits = linear(h, 784)) }\n"
      "q(z | x) { z ~ Normal(linear(x, 20), exp(linear(x, 20))) }\n"
      "train { epochs = 3\n batch = 2 }\n";
  std::string with =
      "model m;\n"
      "data x : binary[784];\n"
      "latent z : real[20];\n"
      "p(z) = Normal(0, 1);\n"
      "p(x | z) { h = mlp(z, [256]); x ~ Bernoulli(logits = linear(h, 784)); };\n"
      "q(z | x) { z ~ Normal(linear(x, 20), exp(linear(x, 20))); }\n"
      "train { epochs = 3; batch = 2; };\n";
  auto a = parse_text(without);
  auto b = parse_text(with);
  BOOST_REQUIRE(a.ast);
  BOOST_REQUIRE_MESSAGE(b.ast, b.diags->render());
  BOOST_TEST(shape(*b.ast) == shape(*a.ast));
  // ';' is not part of the expression before it.
  const auto& pz = decl<ast::factor>(*b.ast, 3);
  BOOST_TEST(spanned(with, ast::span_of(pz.body[0].value)) == expected(with, "Normal(0, 1)"));
  BOOST_TEST(spanned(with, decl<ast::variable_decl>(*b.ast, 2).where) == expected(with, "latent z : real[20]"));
}

BOOST_AUTO_TEST_CASE(whole_model_on_one_line) {
  auto multi = parse_text(std::string(vaec::test::gaussian_model));
  auto one = parse_text(one_line_model);
  BOOST_REQUIRE(multi.ast);
  BOOST_REQUIRE_MESSAGE(one.ast, one.diags->render());
  BOOST_TEST(one.errors().empty());
  BOOST_TEST(shape(*one.ast) == shape(*multi.ast));
  BOOST_TEST(one.ast->declarations.size() == 6u);

  // Every token on a line of its own.
  std::string tall(vaec::test::gaussian_model);
  for (char& c : tall)
    if (c == ' ') c = '\n';
  auto t = parse_text(tall);
  BOOST_REQUIRE_MESSAGE(t.ast, t.diags->render());
  BOOST_TEST(shape(*t.ast) == shape(*multi.ast));
  const auto& px = decl<ast::factor>(*t.ast, 4);
  BOOST_REQUIRE_EQUAL(px.given.size(), 1u);
  BOOST_TEST(spanned(tall, px.header) == expected(tall, "p(x\n|\nz)"));
  BOOST_TEST(spanned(tall, px.given[0].where) == expected(tall, "z", tall.find("p(x\n|\nz)") + 6));

  // Tabs, form feeds and CRLF line ends are white space too.
  std::string crlf;
  for (char c : std::string(vaec::test::gaussian_model)) {
    if (c == '\n') crlf += "\r\n";
    else if (c == ' ') crlf += "\t";
    else crlf += c;
  }
  auto w = parse_text("\f" + crlf + "\v");
  BOOST_REQUIRE_MESSAGE(w.ast, w.diags->render());
  BOOST_TEST(shape(*w.ast) == shape(*multi.ast));
}

// ---- train -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(train_block_with_every_key) {
  std::string t =
      "train {\n"
      "  epochs = 50\n"
      "  batch = 64\n"
      "  optimizer = adam(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)\n"
      "  samples = 4\n"
      "  objective = iwae\n"
      "  kl = mc\n"
      "  beta = 0.5\n"
      "  kl_warmup = 10\n"
      "  free_bits = 0.25\n"
      "  binarize = static\n"
      "  eval_samples = 1000\n"
      "  seed = 42\n"
      "  early_stopping = 5\n"
      "}\n";
  auto p = parse_text(t);
  BOOST_REQUIRE_MESSAGE(p.ast, p.diags->render());
  BOOST_REQUIRE_EQUAL(p.ast->declarations.size(), 1u);
  const auto& tb = decl<ast::train_block>(*p.ast, 0);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"epochs", "50"},
      {"batch", "64"},
      {"optimizer", "adam(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)"},
      {"samples", "4"},
      {"objective", "iwae"},
      {"kl", "mc"},
      {"beta", "0.5"},
      {"kl_warmup", "10"},
      {"free_bits", "0.25"},
      {"binarize", "static"},
      {"eval_samples", "1000"},
      {"seed", "42"},
      {"early_stopping", "5"},
  };
  BOOST_REQUIRE_EQUAL(tb.entries.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST_CONTEXT("entry " << want[i].first) {
      const auto& e = tb.entries[i];
      BOOST_TEST(e.key.name == want[i].first);
      BOOST_TEST(show(e.value) == want[i].second);
      std::size_t line = t.find("  " + want[i].first + " =") + 2;
      BOOST_TEST(spanned(t, e.key.where) == expected(t, want[i].first, line));
      BOOST_TEST(e.where.begin == line);
    }
  }
  BOOST_TEST(spanned(t, tb.where) == spanned(t, {0, static_cast<std::uint32_t>(t.rfind('}') + 1)}));
  BOOST_TEST(boost::get<x3::forward_ast<ast::call>>(&tb.entries[2].value) != nullptr);
  BOOST_TEST(boost::get<ast::identifier>(&tb.entries[4].value) != nullptr);

  auto empty = parse_text("train {}");
  BOOST_REQUIRE(empty.ast);
  BOOST_TEST(decl<ast::train_block>(*empty.ast, 0).entries.empty());
  auto one_line = parse_text("train { epochs = 3 batch = 4; seed = 7 }");
  BOOST_REQUIRE(one_line.ast);
  BOOST_TEST(shape(*one_line.ast) == "train {\n  epochs = 3\n  batch = 4\n  seed = 7\n}\n");
}

// ---- errors ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(syntax_errors_are_reported_not_thrown) {
  struct bad {
    std::string text;
    std::size_t offset;  // where the error must point
    std::string_view expected_token;
  };
  const std::vector<bad> cases = {
      {"p(z = Normal(0,1)", 4, "')'"},         // the header's ')' is missing
      {"latent z real[2]", 9, "':'"},          // the ':' is missing
      {"data x : binary[784", 19, "']'"},      // the ']' is missing at the end of the file
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("input: " << c.text) {
      std::optional<ast::model> m;
      vaec::source src("t.vae", c.text);
      vaec::diagnostics diags(src);
      BOOST_CHECK_NO_THROW(m = vaec::parse(src, diags));
      BOOST_TEST(!m.has_value());
      BOOST_REQUIRE_EQUAL(diags.all().size(), 1u);
      const auto& d = diags.all()[0];
      BOOST_TEST(vaec::to_string(d.kind) == "syntax_error");
      BOOST_TEST(d.where.begin == c.offset);
      BOOST_TEST(d.message.find(fmt::format("expected {}", c.expected_token)) != std::string::npos, d.message);
    }
  }
  auto eof = parse_text("data x : binary[784");
  BOOST_TEST(eof.errors() == std::vector<std::string>{"syntax_error 1:20"});
  BOOST_TEST(eof.diags->all()[0].message.find("end of file") != std::string::npos);

  // Anything else broken is also a diagnostic, never an exception.
  for (std::string_view text : {"p(x | z) {", "p(x | z) { x ~ }", "}", "p", "model", "latent z : real[",
                                "p(z) = Normal(0, 1", "p(z) = [1, 2", "p(z) = f(k = )", "train { epochs }",
                                "p(z) = 1 +", "p(z) = (", "q(z | ) = Normal(0, 1)", "data x : binary[784]]"}) {
    BOOST_TEST_CONTEXT("input: " << text) {
      vaec::source src("t.vae", std::string(text));
      vaec::diagnostics diags(src);
      std::optional<ast::model> m;
      BOOST_CHECK_NO_THROW(m = vaec::parse(src, diags));
      BOOST_TEST(!m.has_value());
      BOOST_TEST(diags.has_errors());
      BOOST_CHECK_NO_THROW(diags.render());
    }
  }
}

BOOST_AUTO_TEST_CASE(one_error_per_declaration_then_resynchronise) {
  std::string t =
      "model m\n"
      "latent z real[2]\n"
      "data x : binary[784]\n"
      "p(z = Normal(0, 1)\n"
      "p(x | z) = Bernoulli(logits = linear(z, 784))\n";
  auto p = parse_text(t);
  BOOST_TEST(!p.ast);
  BOOST_TEST(p.errors() == (std::vector<std::string>{diag("syntax_error", t, t.find("real[2]")),
                                                     diag("syntax_error", t, t.find("= Normal"))}));

  // A block missing its '}' before the next factor: the error is at the next factor,
  // which is then parsed normally.
  std::string u =
      "p(x | z) {\n"
      "  x ~ Bernoulli(logits = linear(z, 784))\n"
      "q(z | x) = Normal(0, 1)\n"
      "latent z real[2]\n";
  auto q = parse_text(u);
  BOOST_TEST(q.errors() == (std::vector<std::string>{diag("syntax_error", u, u.find("q(z")),
                                                     diag("syntax_error", u, u.find("real[2]"))}));

  // A statement outside a block gets a hint.
  auto s = parse_text("model m\nh = linear(x, 3)\n");
  BOOST_TEST(s.errors() == std::vector<std::string>{"syntax_error 2:1"});
  BOOST_REQUIRE(!s.diags->all().empty());
  BOOST_TEST(s.diags->all()[0].message.find("statements belong inside a 'p' or 'q' block") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(characters_outside_the_language) {
  // A non-ASCII letter in a name: one diagnostic covering the whole code point.
  std::string t = "latent \xCE\xB8 : real[2]\n";  // θ
  auto p = parse_text(t);
  BOOST_TEST(!p.ast);
  BOOST_TEST(p.errors() == std::vector<std::string>{"unexpected_character 1:8"});
  BOOST_REQUIRE_EQUAL(p.diags->all().size(), 1u);
  BOOST_TEST(p.diags->all()[0].where.begin == 7u);
  BOOST_TEST(p.diags->all()[0].where.end == 9u);

  auto ctl = parse_text("model m\n\x01");
  BOOST_TEST(ctl.errors() == std::vector<std::string>{"unexpected_character 2:1"});

  // Bytes that are not UTF-8 at all.
  auto bin = parse_text("model m\n\xFF\n");
  BOOST_TEST(bin.errors() == std::vector<std::string>{"invalid_utf8 2:1"});
  BOOST_TEST(!bin.ast);

  // Reserved words cannot name variables.
  auto r = parse_text("latent data : real[2]");
  BOOST_TEST(r.errors() == std::vector<std::string>{"syntax_error 1:8"});
  // ... but may start one.
  auto ok = parse_text("latent qz : real[2]\nlatent data2 : real[2]\nlatent p_ : real[2]");
  BOOST_REQUIRE(ok.ast);
  BOOST_TEST(decl<ast::variable_decl>(*ok.ast, 0).name.name == "qz");
  BOOST_TEST(decl<ast::variable_decl>(*ok.ast, 1).name.name == "data2");
  BOOST_TEST(decl<ast::variable_decl>(*ok.ast, 2).name.name == "p_");
}

// ---- limits ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(deep_nesting_is_rejected_before_parsing) {
  constexpr std::size_t deep = 20'000;
  const std::string prefix = "p(z) = Normal(";
  std::string t = prefix + std::string(deep, '(') + "0" + std::string(deep, ')') + ", 1)";
  auto start = std::chrono::steady_clock::now();
  std::optional<parsed> p;
  BOOST_CHECK_NO_THROW(p = parse_text(t));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_REQUIRE(p);
  BOOST_TEST(!p->ast);
  // Normal's '(' is at depth 1, the k-th '(' of the run at depth 1 + k: the first too
  // deep is the run's (max_nesting_depth)-th.
  std::size_t first_too_deep = prefix.size() + static_cast<std::size_t>(vaec::max_nesting_depth) - 1;
  BOOST_TEST(p->errors() == std::vector<std::string>{diag("nesting_too_deep", t, first_too_deep)});
  BOOST_TEST(seconds < 1.0);
}

BOOST_AUTO_TEST_CASE(nesting_up_to_the_limit_parses) {
  const auto depth = static_cast<std::size_t>(vaec::max_nesting_depth);
  // Parentheses: Normal's '(' is depth 1, so k parentheses inside reach depth k + 1.
  const std::string prefix = "p(z) = Normal(";
  auto parens = [&](std::size_t k) { return prefix + std::string(k, '(') + "0" + std::string(k, ')') + ", 1)"; };
  auto ok = parse_text(parens(depth - 1));
  BOOST_REQUIRE_MESSAGE(ok.ast, ok.diags->render());
  BOOST_TEST(ok.errors().empty());
  BOOST_TEST(show(decl<ast::factor>(*ok.ast, 0).body[0].value) == "Normal(0, 1)");
  auto too_deep = parse_text(parens(depth));
  BOOST_TEST(!too_deep.ast);
  BOOST_TEST(too_deep.errors() ==
             std::vector<std::string>{diag("nesting_too_deep", too_deep.text(), prefix.size() + depth - 1)});

  // Braces and brackets count too: '{' is depth 1, Bernoulli's '(' depth 2, then lists.
  const std::string block = "p(x | z) {\n  x ~ Bernoulli(logits = f(";
  auto lists = [&](std::size_t k) { return block + std::string(k, '[') + "1" + std::string(k, ']') + "))\n}\n"; };
  // f's '(' is depth 3, so k brackets reach depth k + 3.
  auto ok2 = parse_text(lists(depth - 3));
  BOOST_REQUIRE_MESSAGE(ok2.ast, ok2.diags->render());
  auto deep2 = parse_text(lists(depth - 2));
  BOOST_TEST(deep2.errors() ==
             std::vector<std::string>{diag("nesting_too_deep", deep2.text(), block.size() + depth - 3)});

  // Brackets in comments are not counted.
  auto comment = parse_text("# " + std::string(1000, '(') + "\n" + parens(depth - 1));
  BOOST_TEST(comment.errors().empty());
}

BOOST_AUTO_TEST_CASE(million_term_sum_parses_flat) {
  constexpr std::size_t terms = 1'000'000;
  std::string sum = "1" + repeat(" + 1", terms - 1);
  std::string model(vaec::test::gaussian_model);
  const std::string prior = "p(z) = Normal(0, 1)";
  std::size_t at = model.find(prior);
  BOOST_REQUIRE(at != std::string::npos);
  model.replace(at, prior.size(), "p(z) = Normal(" + sum + ", 1)");
  std::size_t sum_at = at + std::string_view("p(z) = Normal(").size();

  auto p = parse_text(model);
  BOOST_REQUIRE_MESSAGE(p.ast, p.diags->render().substr(0, 2000));
  BOOST_TEST(p.errors().empty());
  const auto& f = decl<ast::factor>(*p.ast, 3);
  const auto& c = as<ast::call>(f.body[0].value);
  BOOST_REQUIRE_EQUAL(c.args.size(), 2u);
  const auto& ch = as<ast::chain>(c.args[0].value);
  BOOST_TEST(ch.rest.size() == terms - 1);
  BOOST_TEST(as<ast::number>(ch.first).text == "1");
  BOOST_TEST(ch.rest.back().op.op == '+');
  BOOST_TEST(ch.where.begin == sum_at);
  BOOST_TEST(ch.where.end == sum_at + sum.size());
}

BOOST_AUTO_TEST_CASE(long_run_of_unary_minus_parses_flat) {
  constexpr std::size_t signs = 200'000;
  auto e = parse_expr(std::string(signs, '-') + "x");
  const auto& n = as<ast::negate>(e.value());
  BOOST_TEST(n.count == static_cast<int>(signs));
  BOOST_TEST(as<ast::identifier>(n.operand).name == "x");
}

BOOST_AUTO_TEST_CASE(parsing_stops_after_max_parse_errors) {
  constexpr int lines = 50;
  std::string t;
  for (int i = 0; i < lines; ++i) t += "latent z real[2]\n";
  auto p = parse_text(t);
  BOOST_TEST(!p.ast);
  std::vector<std::string> want;
  for (int i = 1; i <= vaec::max_parse_errors; ++i) want.push_back(fmt::format("syntax_error {}:10", i));
  want.push_back(fmt::format("too_many_errors {}:10", vaec::max_parse_errors));
  BOOST_TEST(p.errors() == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(statement_and_setting_spans_end_at_their_last_token) {
  const std::string t =
      "data x : binary[2]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
      "p(x | z) {\n  h = tanh(z)   # note\n  x ~ Bernoulli(logits = linear(h, 2));\n}\n"
      "q(z | x) {\n  z ~ Normal(loc = linear(x, 1), scale = exp(linear(x, 1)))\n}\n"
      "train {\n  batch = 3 # c\n  epochs = 2;\n}\n";
  auto r = vaec::test::run(t);
  BOOST_REQUIRE(r.ast.has_value());
  const auto& f = boost::get<ast::factor>(r.ast->declarations[3]);
  BOOST_TEST(spanned(t, f.body[0].where) == expected(t, "h = tanh(z)"));
  BOOST_TEST(spanned(t, f.body[1].where) == expected(t, "x ~ Bernoulli(logits = linear(h, 2))"));
  const auto& tb = boost::get<ast::train_block>(r.ast->declarations[5]);
  BOOST_TEST(spanned(t, tb.entries[0].where) == expected(t, "batch = 3"));
  BOOST_TEST(spanned(t, tb.entries[1].where) == expected(t, "epochs = 2"));
  // A named argument whose value is parenthesized ends at the ')'.
  auto call = parse_expr("f(k = (a))");
  const auto& c = as<ast::call>(call.value());
  BOOST_TEST(spanned(call.text(), c.args[0].where) == expected(call.text(), "k = (a)"));
}

BOOST_AUTO_TEST_SUITE_END()
