// Expressions, evaluated into the checked graph (model_.nodes) as a factor's block is
// checked (factors.cpp): names resolved against the block's locals and its conditioning
// variables, arithmetic with sizes that broadcast, and each node's range (lang/range.hpp).
// Constants fold without nodes. Calls are in calls.cpp.
#include "lang/check/checker.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vaec::check_impl {

int checker::add_node(node n, scope* s) {
  if (s) n.side = s->side;
  model_.nodes.push_back(std::move(n));
  return static_cast<int>(model_.nodes.size() - 1);
}

value checker::make_value(int index, span where) {
  value v;
  v.node = index;
  v.k = model_.nodes[static_cast<std::size_t>(index)].size == 0 ? value::kind::number : value::kind::vector;
  v.where = where;
  return v;
}

value checker::constant(double x, span where, scope*) {
  value v;
  v.k = value::kind::number;
  v.number = x;
  v.where = where;
  return v;
}

checker::facts checker::facts_of(const value& v) const {
  if (v.node < 0) return {node_kind::constant, 0, v.number, exact(v.number), false, false};
  const node& n = model_.nodes[static_cast<std::size_t>(v.node)];
  return {n.kind, n.size, n.value, n.range, n.learnable, n.unit};
}

int checker::materialize(value& v, scope* s) {
  if (v.node >= 0) return v.node;
  node n;
  n.kind = node_kind::constant;
  n.value = v.number;
  n.range = exact(v.number);
  n.where = v.where;
  v.node = add_node(std::move(n), s);
  return v.node;
}

std::vector<std::string> checker::visible_names(const scope& s) const {
  std::vector<std::string> names;
  for (const auto& [k, v] : s.locals) names.push_back(k);
  for (const auto& k : model_.constants) names.push_back(k.name);
  for (const auto& v : model_.variables)
    if (!v.name.empty()) names.push_back(v.name);
  for (const auto& f : functions()) names.emplace_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

value checker::expr(const ast::expr& e, scope& s, bool allow_distribution) {
  struct visitor {
    checker& c;
    scope& s;
    bool allow;
    using result_type = value;
    value operator()(const ast::number& n) const { return c.number(n); }
    value operator()(const ast::identifier& id) const { return c.name(id, s); }
    value operator()(const ast::string_literal& t) const {
      value v;
      v.k = value::kind::text;
      v.text = t.value;
      v.where = t.where;
      return v;
    }
    value operator()(const x3::forward_ast<ast::call>& x) const { return c.call(x.get(), s, allow); }
    value operator()(const x3::forward_ast<ast::list>& x) const { return c.list(x.get(), s); }
    value operator()(const x3::forward_ast<ast::negate>& x) const { return c.negate(x.get(), s); }
    value operator()(const x3::forward_ast<ast::chain>& x) const { return c.chain(x.get(), s); }
  };
  return boost::apply_visitor(visitor{*this, s, allow_distribution}, e);
}

value checker::number(const ast::number& n) {
  auto v = number_value(n);
  if (!v) return error_value(n.where);
  return constant(*v, n.where, nullptr);
}

value checker::name(const ast::identifier& id, scope& s) {
  if (auto it = s.locals.find(id.name); it != s.locals.end()) {
    value v = it->second;
    v.where = id.where;
    return v;
  }
  if (s.given_unknown.count(id.name)) return error_value(id.where);
  if (bad_constants_.count(id.name) && !variable_index_.count(id.name)) return error_value(id.where);
  if (auto it = constant_index_.find(id.name); it != constant_index_.end() && !variable_index_.count(id.name))
  {
    value v = constant(model_.constants[static_cast<std::size_t>(it->second)].value, id.where, &s);
    v.constants = {it->second};
    return v;
  }
  if (auto it = variable_index_.find(id.name); it != variable_index_.end()) {
    int vi = it->second;
    const variable& var = model_.variables[static_cast<std::size_t>(vi)];
    const auto member = static_cast<std::size_t>(std::find(s.samples.begin(), s.samples.end(), vi) - s.samples.begin());
    if (member < s.samples.size() && member >= s.sampled) {
      if (s.samples.size() == 1) {
        error(diagnostic_kind::not_in_conditioning, id.where,
              fmt::format("'{}' is the variable that {} defines; it cannot be used on the right side", id.name,
                          s.header_text));
      } else {
        error(diagnostic_kind::not_in_conditioning, id.where,
              fmt::format("'{}' is not sampled yet: {} samples its variables in order, and a statement may use "
                          "only those sampled before it",
                          id.name, s.header_text));
      }
      return error_value(id.where);
    }
    if (member >= s.samples.size() && !s.given.count(vi)) {
      if (s.header_incomplete) return error_value(id.where);  // the '|' list was already reported
      std::string fixed = s.header_text;
      fixed.insert(fixed.size() - 1, (fixed.find('|') == std::string::npos ? " | " : ", ") + id.name);
      error(diagnostic_kind::not_in_conditioning, id.where,
            fmt::format("'{}' is not a conditioning variable of {}; add it: {}", id.name, s.header_text, fixed));
      return error_value(id.where);
    }
    if (var.type.size == 0) return error_value(id.where);
    if (auto cached = s.variable_nodes.find(vi); cached != s.variable_nodes.end()) return make_value(cached->second, id.where);
    node n;
    n.kind = node_kind::variable;
    n.variable = vi;
    n.size = var.type.size;
    n.unit = var.type.kind == type_kind::sphere;
    if (var.type.kind == type_kind::sphere) n.range = {-1, 1, false};
    if (var.type.kind == type_kind::binary) n.range = {0, 1, false};
    n.learnable = true;  // a sample depends on parameters
    n.where = id.where;
    int index = add_node(std::move(n), &s);
    s.variable_nodes[vi] = index;
    return make_value(index, id.where);
  }
  if (const auto* f = find_function(id.name)) {
    error(diagnostic_kind::misplaced_function, id.where,
          fmt::format("'{}' is a function; call it: {}", id.name, f->signature));
    return error_value(id.where);
  }
  if (const auto* f = find_family(id.name)) {
    error(diagnostic_kind::misplaced_distribution, id.where,
          fmt::format("'{}' is a distribution; it belongs on the right of '~': {}", id.name, f->signature));
    return error_value(id.where);
  }
  error(diagnostic_kind::unknown_name, id.where,
        with_suggestion(fmt::format("unknown name '{}'", id.name), suggest_capped(id.name, visible_names(s))));
  return error_value(id.where);
}

value checker::list(const ast::list& l, scope& s) {
  value v;
  v.k = value::kind::list;
  v.where = l.where;
  for (const auto& item : l.items) {
    value x = expr(item, s);
    if (x.is_error()) return error_value(l.where);
    v.items.push_back(std::move(x));
  }
  return v;
}

bool checker::expect_numeric(const value& v, std::string_view what) {
  if (v.numeric()) return true;
  if (v.is_error()) return false;
  if (v.k == value::kind::list)
    error(diagnostic_kind::wrong_argument_kind, v.where,
          fmt::format("{} must be a number or a vector, not a list; lists are only for mlp's layer sizes", what));
  else if (v.k == value::kind::function)
    error(diagnostic_kind::misplaced_function, v.where, fmt::format("{} must be a number or a vector, not a function", what));
  else if (v.k == value::kind::text)
    error(diagnostic_kind::wrong_argument_kind, v.where,
          fmt::format("{} must be a number or a vector, not a string; a string names a path, where a builtin takes one "
                      "(AggregatePosterior(run = \"runs/base\"))",
                      what));
  else
    error(diagnostic_kind::misplaced_distribution, v.where,
          fmt::format("{} must be a number or a vector, not a distribution", what));
  return false;
}

value checker::negate(const ast::negate& n, scope& s) {
  value x = expr(n.operand, s);
  if (!expect_numeric(x, "the operand of '-'")) return error_value(n.where);
  if (n.count % 2 == 0) {
    x.where = n.where;
    return x;
  }
  facts in = facts_of(x);
  if (in.kind == node_kind::constant) {
    value folded = constant(-in.value, n.where, &s);
    folded.constants = x.constants;
    return folded;
  }
  node out;
  out.kind = node_kind::negate;
  out.size = in.size;
  out.inputs = {materialize(x, &s)};
  out.learnable = in.learnable;
  out.range = negate_interval(in.range);
  out.where = n.where;
  return make_value(add_node(std::move(out), &s), n.where);
}

namespace {

std::optional<int> broadcast(int a, int b) {
  if (a == 0) return b;
  if (b == 0) return a;
  if (a == b) return a;
  if (a == 1) return b;
  if (b == 1) return a;
  return std::nullopt;
}

}  // namespace

std::string describe_size(int size) { return size == 0 ? "a number" : fmt::format("size [{}]", size); }

value checker::arithmetic(char op, value lhs, value rhs, span op_span) {
  span whole{lhs.where.begin, rhs.where.end};
  if (lhs.is_error() || rhs.is_error()) return error_value(whole);
  if (!lhs.numeric() || !rhs.numeric()) {  // the message is built only when needed: this is a hot path
    std::string what = fmt::format("the operands of '{}'", op);
    expect_numeric(lhs.numeric() ? rhs : lhs, what);
    return error_value(whole);
  }
  facts a = facts_of(lhs);
  facts b = facts_of(rhs);
  auto size = broadcast(a.size, b.size);
  if (!size) {
    auto* d = error(diagnostic_kind::size_mismatch, op_span,
                    fmt::format("sizes do not match: [{}] {} [{}]; they must be equal, or one of them [1] or a number",
                                a.size, op, b.size));
    add_note(d, lhs.where, fmt::format("the left side has size [{}]", a.size));
    add_note(d, rhs.where, fmt::format("the right side has size [{}]", b.size));
    return error_value(whole);
  }
  if (a.kind == node_kind::constant && b.kind == node_kind::constant) {
    double x = op == '+' ? a.value + b.value : op == '-' ? a.value - b.value : op == '*' ? a.value * b.value : a.value / b.value;
    value folded = constant(x, whole, nullptr);
    folded.constants = std::move(lhs.constants);
    folded.constants.insert(folded.constants.end(), rhs.constants.begin(), rhs.constants.end());
    return folded;
  }
  node n;
  n.kind = op == '+' ? node_kind::add : op == '-' ? node_kind::sub : op == '*' ? node_kind::mul : node_kind::div;
  n.size = *size;
  n.inputs = {materialize(lhs, nullptr), materialize(rhs, nullptr)};
  n.learnable = a.learnable || b.learnable;
  n.range = op == '+' ? add(a.range, b.range) : op == '-' ? sub(a.range, b.range) : op == '*' ? mul(a.range, b.range) : div(a.range, b.range);
  // A unit vector times a positive [1] is not a unit vector; nothing keeps `unit`.
  n.where = whole;
  return make_value(add_node(std::move(n), nullptr), whole);
}

value checker::chain(const ast::chain& c, scope& s) {
  value acc = expr(c.first, s);
  for (const auto& op : c.rest) {
    value rhs = expr(op.operand, s);
    acc = arithmetic(op.op.op, std::move(acc), std::move(rhs), op.op.where);
    // Tag the node with the factor's side (arithmetic is side-agnostic).
    if (acc.node >= 0) model_.nodes[static_cast<std::size_t>(acc.node)].side = s.side;
  }
  acc.where = c.where;
  return acc;
}

}  // namespace vaec::check_impl
