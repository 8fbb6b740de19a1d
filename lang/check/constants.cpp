// Constants and the command line's settings, the pass before the declarations: each
// `const NAME = NUMBER` (a name of its own: not a builtin, a train key or another
// constant), then each `--set NAME=VALUE`, which overrides a constant, a train key or one
// of adam's arguments (lr, beta1, beta2, eps; train_settings.cpp applies those) and is
// refused, with a suggestion, when it names none of them. Also the integer arithmetic of
// sizes (`sphere[d + 1]`), which types.cpp calls.
#include "lang/check/checker.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace vaec::check_impl {

const std::vector<std::string>& train_keys() {
  static const std::vector<std::string> keys = {"epochs", "batch", "optimizer", "samples", "objective",
                                                "kl", "beta", "kl_warmup", "kl_cycle", "free_bits", "binarize",
                                                "eval_samples", "seed", "early_stopping", "precision"};
  return keys;
}

const std::vector<std::string>& adam_argument_keys() {
  static const std::vector<std::string> keys = {"lr", "beta1", "beta2", "eps"};
  return keys;
}

std::string format_number(double v) { return fmt::format("{:.17g}", v); }

bool is_number_literal(const ast::expr& e) {
  if (boost::get<ast::number>(&e)) return true;
  const auto* neg = boost::get<x3::forward_ast<ast::negate>>(&e);
  return neg && boost::get<ast::number>(&neg->get().operand);
}

std::optional<double> checker::literal_number(const ast::expr& e) {
  if (const auto* n = boost::get<ast::number>(&e)) return number_value(*n);
  if (const auto* neg = boost::get<x3::forward_ast<ast::negate>>(&e)) {
    if (const auto* n = boost::get<ast::number>(&neg->get().operand)) {
      auto v = number_value(*n);
      if (v) return neg->get().count % 2 ? -*v : *v;
    }
  }
  return std::nullopt;
}

void checker::declare_constants(const ast::model& m, const std::vector<ast::train_entry>& settings) {
  const auto& keys = train_keys();
  for (const auto& d : m.declarations) {
    const auto* c = boost::get<ast::const_decl>(&d);
    if (!c) continue;
    const std::string& nm = c->name.name;
    if (is_builtin(nm)) {
      error(diagnostic_kind::rebind_builtin, c->name.where,
            fmt::format("'{}' is a builtin {} and cannot name a constant", nm,
                        find_function(nm) ? "function" : "distribution"));
      continue;
    }
    if (std::find(keys.begin(), keys.end(), nm) != keys.end()) {
      error(diagnostic_kind::bad_constant, c->name.where,
            fmt::format("'{}' is a training setting; set it in train {{ {} = ... }} or with --set {}=VALUE, or name "
                        "the constant otherwise",
                        nm, nm, nm));
      continue;
    }
    if (auto it = constant_index_.find(nm); it != constant_index_.end()) {
      add_note(error(diagnostic_kind::duplicate_constant, c->name.where, fmt::format("constant '{}' is declared twice", nm)),
               model_.constants[static_cast<std::size_t>(it->second)].where, "first declared here");
      continue;
    }
    auto v = literal_number(c->value);
    if (!v) {
      if (!is_number_literal(c->value))
        error(diagnostic_kind::bad_constant, span_of(c->value),
              fmt::format("the value of constant '{}' must be a number, such as 10 or -0.5 (write arithmetic where "
                          "the constant is used: real[2 * {}])",
                          nm, nm));
      bad_constants_.insert(nm);
      continue;
    }
    vaec::constant k;
    k.name = nm;
    k.value = *v;
    k.where = c->name.where;
    k.origin = fmt::format("line {}", diags_.src().position_of(c->where.begin).line);
    constant_index_[nm] = static_cast<int>(model_.constants.size());
    model_.constants.push_back(std::move(k));
  }

  std::unordered_map<std::string, const ast::train_entry*> seen;
  for (const auto& s : settings) {
    const std::string& nm = s.key.name;
    if (auto it = seen.find(nm); it != seen.end()) {
      add_note(error(diagnostic_kind::duplicate_setting, s.key.where, fmt::format("'{}' is set twice on the command line", nm)),
               it->second->key.where, "first set here");
      continue;
    }
    seen[nm] = &s;
    if (auto it = constant_index_.find(nm); it != constant_index_.end()) {
      vaec::constant& k = model_.constants[static_cast<std::size_t>(it->second)];
      auto v = literal_number(s.value);
      if (!v) {
        if (!is_number_literal(s.value))
          error(diagnostic_kind::bad_constant, span_of(s.value),
                fmt::format("constant '{}' takes a number, such as {}", nm, format_number(k.value)));
        continue;
      }
      k.value = *v;
      k.where = s.key.where;
      k.origin = "set on the command line";
      continue;
    }
    const auto& adam_keys = adam_argument_keys();
    if (std::find(keys.begin(), keys.end(), nm) != keys.end() ||
        std::find(adam_keys.begin(), adam_keys.end(), nm) != adam_keys.end()) {
      train_settings_.push_back(&s);
      continue;
    }
    std::vector<std::string> names = keys;
    names.insert(names.end(), adam_keys.begin(), adam_keys.end());
    std::string constant_list;
    for (const auto& k : model_.constants) {
      names.push_back(k.name);
      constant_list += (constant_list.empty() ? "" : ", ") + k.name;
    }
    error(diagnostic_kind::unknown_setting, s.key.where,
          with_suggestion(fmt::format("'{}' is neither a constant of the model ({}) nor a training setting (those of "
                                      "train {{ }}: epochs, batch, optimizer, …, or adam's lr, beta1, beta2, eps)",
                                      nm, constant_list.empty() ? "it has none" : "its constants: " + constant_list),
                          suggest(nm, names)));
  }
}

std::optional<checker::size_value> checker::size_expr(const ast::expr& e) {
  struct visitor {
    checker& c;
    using result_type = std::optional<size_value>;
    result_type operator()(const ast::number& n) const {
      auto v = c.number_value(n);
      if (!v) return std::nullopt;
      return size_value{*v, {}};
    }
    result_type operator()(const ast::identifier& id) const {
      if (auto it = c.constant_index_.find(id.name); it != c.constant_index_.end())
        return size_value{c.model_.constants[static_cast<std::size_t>(it->second)].value, {it->second}};
      if (c.bad_constants_.count(id.name)) return std::nullopt;  // its declaration was reported
      std::vector<std::string> names;
      for (const auto& k : c.model_.constants) names.push_back(k.name);
      c.error(diagnostic_kind::unknown_name, id.where,
              with_suggestion(fmt::format("'{}' is not a constant; a size is a whole number or an expression of "
                                          "numbers and constants (declare 'const {} = …')",
                                          id.name, id.name),
                              suggest(id.name, names)));
      return std::nullopt;
    }
    result_type operator()(const ast::string_literal& t) const { return not_size(t.where); }
    result_type operator()(const x3::forward_ast<ast::call>& x) const { return not_size(x.get().where); }
    result_type operator()(const x3::forward_ast<ast::list>& x) const { return not_size(x.get().where); }
    result_type operator()(const x3::forward_ast<ast::negate>& x) const {
      auto v = c.size_expr(x.get().operand);
      if (v && x.get().count % 2) v->value = -v->value;
      return v;
    }
    result_type operator()(const x3::forward_ast<ast::chain>& x) const {
      auto acc = c.size_expr(x.get().first);
      bool ok = acc.has_value();
      for (const auto& op : x.get().rest) {
        auto rhs = c.size_expr(op.operand);
        if (!rhs || !ok) {
          ok = false;
          continue;
        }
        acc->constants.insert(acc->constants.end(), rhs->constants.begin(), rhs->constants.end());
        switch (op.op.op) {
          case '+': acc->value += rhs->value; break;
          case '-': acc->value -= rhs->value; break;
          case '*': acc->value *= rhs->value; break;
          default:
            if (rhs->value == 0) {
              c.error(diagnostic_kind::bad_size, span_of(x.get()), "division by zero in a size");
              ok = false;
            } else {
              acc->value /= rhs->value;
            }
        }
      }
      if (!ok) return std::nullopt;
      return acc;
    }
    result_type not_size(span where) const {
      c.error(diagnostic_kind::bad_size, where,
              "a size is a whole number or integer arithmetic of numbers and constants, such as 784 or d + 1");
      return std::nullopt;
    }
    static span span_of(const ast::chain& ch) { return ch.where; }
  };
  return boost::apply_visitor(visitor{*this}, e);
}

std::string checker::constants_text(const std::vector<int>& used) const {
  std::vector<int> unique = used;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::string out;
  for (int i : unique) {
    const vaec::constant& k = model_.constants[static_cast<std::size_t>(i)];
    out += fmt::format("{}{} = {}, {}", out.empty() ? "" : "; ", k.name, format_number(k.value), k.origin);
  }
  return out;
}

}  // namespace vaec::check_impl
