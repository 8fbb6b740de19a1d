// Calls: arguments bound to parameters (positional, then named), builtin functions with
// their sizes (linear, mlp, param, concat, ...) and ranges (lang/range.hpp), and
// distributions with their parameters as nodes. Part of expression checking
// (expressions.cpp); also used by the train pass for adam(...).
#include "lang/check/checker.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vaec::check_impl {

checker::bound_args checker::bind(std::string_view callee, std::span<const param_spec> params, bool variadic,
                                  const ast::call& c) {
  bound_args b;
  b.slot.assign(params.size(), nullptr);
  bool named_seen = false;
  std::size_t position = 0;
  for (const auto& arg : c.args) {
    if (!arg.name) {
      if (named_seen) {
        error(diagnostic_kind::positional_after_named, arg.where,
              fmt::format("a positional argument cannot follow a named one in {}(...)", callee));
        b.ok = false;
        continue;
      }
      if (variadic) {
        b.extra.push_back(&arg);
        continue;
      }
      if (position >= params.size()) {
        error(diagnostic_kind::too_many_arguments, arg.where,
              params.empty() ? fmt::format("{} takes no arguments", callee)
                             : fmt::format("{} takes at most {} argument{}; this is argument {}", callee, params.size(),
                                           params.size() == 1 ? "" : "s", position + 1));
        b.ok = false;
        ++position;
        continue;
      }
      if (params[position].keyword_only) {
        std::string names;
        for (const auto& p : params) names += (names.empty() ? "" : " or ") + fmt::format("'{} = ...'", p.name);
        error(diagnostic_kind::missing_argument, arg.where,
              fmt::format("{} takes its parameter by name: {}", callee, names));
        b.ok = false;
        ++position;
        continue;
      }
      b.slot[position++] = &arg;
      continue;
    }
    named_seen = true;
    const std::string& nm = arg.name->name;
    auto it = std::find_if(params.begin(), params.end(), [&](const param_spec& p) { return p.name == nm; });
    if (it == params.end()) {
      std::vector<std::string> names;
      for (const auto& p : params) names.emplace_back(p.name);
      std::string list;
      for (const auto& p : params) list += (list.empty() ? "" : ", ") + std::string(p.name);
      error(diagnostic_kind::unknown_argument, arg.name->where,
            with_suggestion(params.empty() ? fmt::format("{} takes no arguments", callee)
                                           : fmt::format("{} has no argument '{}'; its arguments are {}", callee, nm, list),
                            suggest(nm, names)));
      b.ok = false;
      continue;
    }
    auto i = static_cast<std::size_t>(it - params.begin());
    if (b.slot[i]) {
      add_note(error(diagnostic_kind::duplicate_argument, arg.where,
                     fmt::format("argument '{}' of {} is given twice", nm, callee)),
               b.slot[i]->where, "first given here");
      b.ok = false;
      continue;
    }
    b.slot[i] = &arg;
  }
  return b;
}

std::optional<int> checker::size_argument(const value& v, std::string_view what, std::int64_t max,
                                          std::string_view fix) {
  if (v.is_error()) return std::nullopt;
  std::optional<facts> n;
  if (v.k == value::kind::number) n = facts_of(v);
  if (!n || n->kind != node_kind::constant || !is_integer_text(n->value) || n->value < 1 ||
      n->value > static_cast<double>(max)) {
    error(diagnostic_kind::bad_size, v.where,
          (n ? fmt::format("{} must be a whole number from 1 to {}, not {}", what, max,
                           is_integer_text(n->value) ? fmt::format("{:.0f}", n->value) : fmt::format("{:g}", n->value))
             : fmt::format("{} must be a whole number from 1 to {}", what, max)) +
              (v.constants.empty() ? std::string() : " (" + constants_text(v.constants) + ")") +
              (fix.empty() ? std::string() : fmt::format("; {}", fix)));
    return std::nullopt;
  }
  return static_cast<int>(n->value);
}

value checker::call(const ast::call& c, scope& s, bool allow_distribution) {
  const std::string& nm = c.callee.name;
  if (const auto* f = find_function(nm)) return function_call(*f, c, s);
  if (const auto* f = find_family(nm)) {
    if (!allow_distribution) {
      error(diagnostic_kind::misplaced_distribution, c.where,
            fmt::format("a distribution can only be the right side of '~', as in 'v ~ {}(...)'", nm));
      return error_value(c.where);
    }
    return distribution_call(*f, c, s);
  }
  if (s.locals.count(nm) || variable_index_.count(nm)) {
    error(diagnostic_kind::unknown_function, c.callee.where, fmt::format("'{}' is a value, not a function", nm));
    return error_value(c.where);
  }
  std::vector<std::string> fnames, dnames;
  for (const auto& f : functions()) fnames.emplace_back(f.name);
  for (const auto& f : families()) dnames.emplace_back(f.name);
  auto fs = suggest(nm, fnames);
  auto ds = suggest(nm, dnames);
  bool as_distribution;
  if (fs && ds) as_distribution = edit_distance(nm, *ds) < edit_distance(nm, *fs) || allow_distribution;
  else if (fs || ds) as_distribution = ds.has_value();
  else as_distribution = allow_distribution || (!nm.empty() && nm[0] >= 'A' && nm[0] <= 'Z');
  if (as_distribution)
    error(diagnostic_kind::unknown_distribution, c.callee.where,
          with_suggestion(fmt::format("unknown distribution '{}'", nm), ds));
  else
    error(diagnostic_kind::unknown_function, c.callee.where, with_suggestion(fmt::format("unknown function '{}'", nm), fs));
  return error_value(c.where);
}

value checker::function_call(const function_info& f, const ast::call& c, scope& s) {
  bound_args b = bind(f.name, f.params, f.variadic, c);
  if (!b.ok) return error_value(c.where);
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    if (f.params[i].required && !b.slot[i] && !(f.variadic && !b.extra.empty())) {
      error(diagnostic_kind::missing_argument, c.callee.where,
            fmt::format("{} is missing its argument '{}': {}", f.name, f.params[i].name, f.signature));
      return error_value(c.where);
    }
  }
  // Evaluate the arguments by kind.
  std::vector<value> args(f.params.size());
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    const param_spec& p = f.params[i];
    const ast::argument* a = b.slot[i];
    if (!a) continue;
    if (p.kind == arg_kind::function) {
      const auto* id = boost::get<ast::identifier>(&a->value);
      std::vector<std::string> acts;
      for (const auto& g : functions())
        if (g.activation) acts.emplace_back(g.name);
      std::string list;
      for (const auto& n : acts) list += (list.empty() ? "" : ", ") + n;
      if (!id) {
        error(diagnostic_kind::wrong_argument_kind, span_of(a->value),
              fmt::format("{} of {} must name a function: one of {}", p.name, f.name, list));
        return error_value(c.where);
      }
      const auto* g = find_function(id->name);
      if (!g) {
        error(diagnostic_kind::unknown_function, id->where,
              with_suggestion(fmt::format("unknown function '{}'", id->name), suggest(id->name, acts)));
        return error_value(c.where);
      }
      if (!g->activation) {
        error(diagnostic_kind::wrong_argument_kind, id->where,
              fmt::format("'{}' cannot be an activation; use one of {}", id->name, list));
        return error_value(c.where);
      }
      args[i].k = value::kind::function;
      args[i].function = g->id;
      args[i].where = id->where;
      continue;
    }
    args[i] = expr(a->value, s);
    if (args[i].is_error()) return error_value(c.where);
  }
  std::vector<value> extra;
  for (const auto* a : b.extra) {
    extra.push_back(expr(a->value, s));
    if (extra.back().is_error()) return error_value(c.where);
  }

  node n;
  n.kind = node_kind::call;
  n.function = f.id;
  n.where = c.where;
  n.side = s.side;

  auto vector_input = [&](const value& v, std::string_view what) -> std::optional<facts> {
    if (!expect_numeric(v, what)) return std::nullopt;
    facts in = facts_of(v);
    if (in.size == 0) {
      error(diagnostic_kind::wrong_argument_kind, v.where,
            fmt::format("{} must be a vector, not a number", what));
      return std::nullopt;
    }
    return in;
  };

  switch (f.id) {
    case function_id::linear: {
      auto in = vector_input(args[0], "the input of linear");
      auto out = size_argument(args[1], "the output size of linear");
      if (!in || !out) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = *out;
      n.out_size = *out;
      n.parameter_count = static_cast<std::int64_t>(in->size) * *out + *out;
      n.learnable = true;
      break;
    }
    case function_id::mlp: {
      auto in = vector_input(args[0], "the input of mlp");
      if (!in) return error_value(c.where);
      const value& sizes = args[1];
      if (sizes.k != value::kind::list) {
        error(diagnostic_kind::wrong_argument_kind, sizes.where,
              "the layer sizes of mlp must be a list such as [512, 256]");
        return error_value(c.where);
      }
      if (sizes.items.empty()) {
        error(diagnostic_kind::wrong_argument_kind, sizes.where, "mlp needs at least one layer size, such as [256]");
        return error_value(c.where);
      }
      std::int64_t width = in->size;
      for (const auto& item : sizes.items) {
        auto sz = size_argument(item, "a layer size of mlp");
        if (!sz) return error_value(c.where);
        n.layer_sizes.push_back(*sz);
        n.parameter_count += width * *sz + *sz;
        width = *sz;
      }
      n.activation = b.slot[2] ? args[2].function : function_id::relu;
      n.inputs = {materialize(args[0], &s)};
      n.size = n.layer_sizes.back();
      n.learnable = true;
      n.range = apply(n.activation, interval{}, info(n.activation).params.size() > 1 ? 0.01 : 0.0);
      break;
    }
    case function_id::param: {
      auto sz = size_argument(args[0], "the size of param");
      if (!sz) return error_value(c.where);
      double init = 0;
      if (b.slot[1]) {
        facts in = facts_of(args[1]);
        if (!args[1].numeric() || in.kind != node_kind::constant) {
          error(diagnostic_kind::wrong_argument_kind, args[1].where, "init of param must be a number");
          return error_value(c.where);
        }
        init = in.value;
      }
      n.size = *sz;
      n.out_size = *sz;
      n.value = init;
      n.parameter_count = *sz;
      n.learnable = true;
      break;
    }
    case function_id::normalize: {
      auto in = vector_input(args[0], "the input of normalize");
      if (!in) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = in->size;
      n.unit = true;
      n.learnable = in->learnable;
      n.range = {-1, 1, false};
      break;
    }
    case function_id::concat: {
      if (extra.empty()) {
        error(diagnostic_kind::missing_argument, c.callee.where, "concat needs at least one vector");
        return error_value(c.where);
      }
      std::int64_t total = 0;
      bool first = true;
      for (auto& v : extra) {
        auto in = vector_input(v, "an input of concat");
        if (!in) return error_value(c.where);
        n.inputs.push_back(materialize(v, &s));
        total += in->size;
        n.learnable = n.learnable || in->learnable;
        n.range = first ? in->range : hull(n.range, in->range);
        first = false;
      }
      if (total > max_vector_size) {
        error(diagnostic_kind::bad_size, c.where, fmt::format("concat makes a vector of size {}, more than {}", total, max_vector_size));
        return error_value(c.where);
      }
      n.size = static_cast<int>(total);
      break;
    }
    case function_id::sum:
    case function_id::norm: {
      auto in = vector_input(args[0], fmt::format("the input of {}", f.name));
      if (!in) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = 1;
      n.learnable = in->learnable;
      if (f.id == function_id::norm) n.range = in->unit ? exact(1) : interval{0, inf, false};
      else if (std::isfinite(in->range.lo)) n.range = {in->range.lo * in->size, in->range.hi * in->size, in->range.lo_strict};
      break;
    }
    default: {  // elementwise
      if (!expect_numeric(args[0], fmt::format("the input of {}", f.name))) return error_value(c.where);
      facts in = facts_of(args[0]);
      double slope = 0.01;
      if (f.id == function_id::leaky_relu && b.slot[1]) {
        facts sn = facts_of(args[1]);
        if (!args[1].numeric() || sn.kind != node_kind::constant) {
          error(diagnostic_kind::wrong_argument_kind, args[1].where, "slope of leaky_relu must be a number");
          return error_value(c.where);
        }
        slope = sn.value;
      }
      if (in.kind == node_kind::constant) {
        double x = apply(f.id, in.value, slope);
        if (!std::isfinite(x)) {
          error(diagnostic_kind::constraint_violation, c.where,
                fmt::format("{}({}) is not a finite number", f.name, in.value));
          return error_value(c.where);
        }
        return constant(x, c.where, &s);
      }
      n.inputs = {materialize(args[0], &s)};
      n.size = in.size;
      n.value = slope;
      n.learnable = in.learnable;
      n.range = apply(f.id, in.range, slope);
      break;
    }
  }
  return make_value(add_node(std::move(n), &s), c.where);
}

value checker::distribution_call(const family_info& f, const ast::call& c, scope& s) {
  bound_args b = bind(f.name, f.params, false, c);
  if (!b.ok) return error_value(c.where);
  value out;
  out.k = value::kind::distribution;
  out.where = c.where;
  out.dist.family = f.id;
  out.dist.where = c.where;
  out.dist.params.assign(f.params.size(), -1);
  out.param_spans.assign(f.params.size(), c.callee.where);
  if (f.exactly_one_param) {
    int given = 0;
    for (const auto* a : b.slot) given += a != nullptr;
    if (given != 1) {
      error(given == 0 ? diagnostic_kind::missing_argument : diagnostic_kind::duplicate_argument,
            given == 0 ? c.callee.where : c.where,
            fmt::format("{} takes exactly one of 'logits = ...' and 'probs = ...'", f.name));
      return error_value(c.where);
    }
  }
  bool ok = true;
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    const param_spec& p = f.params[i];
    const ast::argument* a = b.slot[i];
    if (!a) {
      if (p.required) {
        error(diagnostic_kind::missing_argument, c.callee.where,
              fmt::format("{} is missing its parameter '{}': {}", f.name, p.name, f.signature));
        return error_value(c.where);
      }
      if (p.kind == arg_kind::size && f.fixed) out.dist.examples_where = c.callee.where;
      if (!f.exactly_one_param) {
        value d = constant(p.default_value, c.callee.where, &s);
        out.dist.params[i] = materialize(d, &s);
      }
      continue;
    }
    value v = expr(a->value, s);
    if (p.kind == arg_kind::path) {
      // A path, kept as written: the source run is resolved after checking (AggregatePosterior:
      // figures/aggregate_prior.hpp), relative to the working directory.
      if (v.is_error()) {
        ok = false;
        continue;
      }
      if (v.k != value::kind::text || v.text.empty()) {
        error(diagnostic_kind::wrong_argument_kind, span_of(a->value),
              fmt::format("{} of {} must be {}naming a run folder, in double quotes: e.g. {} = \"runs/base\", a run "
                          "that `vaec MODEL.vae --data PATH --out runs/base` trained",
                          p.name, f.name, v.k == value::kind::text ? "a string that is not empty, " : "a string ",
                          p.name));
        ok = false;
        continue;
      }
      out.dist.path = v.text;
      out.dist.path_where = span_of(a->value);
      out.param_spans[i] = span_of(a->value);
      continue;
    }
    if (p.kind == arg_kind::size && v.k == value::kind::text) {
      error(diagnostic_kind::wrong_argument_kind, v.where,
            fmt::format("{} of {} must be a whole number, not a string: write it without quotes, e.g. {} = 10", p.name,
                        f.name, p.name));
      ok = false;
      continue;
    }
    if (p.kind == arg_kind::size) {
      // A count known when checking (GaussianMixture's components), kept as a constant node.
      auto k = size_argument(v, fmt::format("{} of {}", p.name, f.name), max_mixture_components,
                             fmt::format("e.g. {} = 10", p.name));
      if (!k) {
        ok = false;
        continue;
      }
      value kv = constant(*k, v.where, &s);
      out.dist.params[i] = materialize(kv, &s);
      out.param_spans[i] = span_of(a->value);
      if (f.fixed) out.dist.examples_where = span_of(a->value);
      continue;
    }
    if (v.is_error() || !expect_numeric(v, fmt::format("{} of {}", p.name, f.name))) {
      ok = false;
      continue;
    }
    out.dist.params[i] = materialize(v, &s);
    out.param_spans[i] = span_of(a->value);
  }
  if (!ok) return error_value(c.where);
  return out;
}

}  // namespace vaec::check_impl
