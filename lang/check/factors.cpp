// A factor's block: its statements in order (bindings, then exactly one final sample of
// the factor's own variable), evaluated into nodes (expressions.cpp) and the sample
// checked (distributions.cpp); the result is one checked_factor. Runs after the structure
// pass (structure.cpp), which decides the order, so a factor's nodes come after those of
// the factors it conditions on.
#include "lang/check/checker.hpp"

#include <typeinfo>

#include <fmt/format.h>

namespace vaec::check_impl {

void checker::check_factor(const ast::factor& f) {
  if (stopped_) return;
  auto vit = variable_index_.find(f.variable.name);
  if (vit == variable_index_.end()) return;
  scope s;
  s.side = f.side;
  s.variable = vit->second;
  s.header_text = header_text(f);
  checked_factor cf;
  cf.side = f.side;
  cf.variable = s.variable;
  cf.header = f.header;
  cf.first_node = static_cast<int>(model_.nodes.size());
  for (const auto& g : f.given) {
    auto it = variable_index_.find(g.name);
    if (it == variable_index_.end()) {
      s.given_unknown.insert(g.name);
      s.header_incomplete = true;
    }
    else if (it->second != s.variable) {
      if (!s.given.count(it->second)) cf.given.push_back(it->second);
      s.given.insert(it->second);
    } else {
      s.header_incomplete = true;
    }
  }
  const variable& var = model_.variables[static_cast<std::size_t>(s.variable)];
  bool sampled = false;
  bool ok = true;
  for (std::size_t i = 0; i < f.body.size(); ++i) {
    const ast::statement& st = f.body[i];
    if (sampled) {
      error(diagnostic_kind::sample_not_last, st.where,
            fmt::format("nothing may follow '{} ~ ...': the sample is the block's last statement", var.name));
      ok = false;
      break;
    }
    const std::string& target = st.target.name;
    if (st.op == '=') {
      if (variable_index_.count(target)) {
        error(diagnostic_kind::assign_to_variable, st.target.where,
              fmt::format("'{}' is a model variable; it cannot be assigned (pick another name)", target));
        ok = false;
        s.locals[target] = error_value(st.target.where);
        continue;
      }
      if (auto ci = constant_index_.find(target); ci != constant_index_.end()) {
        add_note(error(diagnostic_kind::rebind_constant, st.target.where,
                       fmt::format("'{}' is a constant of the model and cannot be rebound (pick another name)", target)),
                 model_.constants[static_cast<std::size_t>(ci->second)].where, "the constant is declared here");
        ok = false;
        s.locals[target] = error_value(st.target.where);
        continue;
      }
      if (is_builtin(target)) {
        error(diagnostic_kind::rebind_builtin, st.target.where,
              fmt::format("'{}' is a builtin {} and cannot be rebound", target,
                          find_function(target) ? "function" : "distribution"));
        ok = false;
        s.locals[target] = error_value(st.target.where);  // later uses say nothing more
        continue;
      }
      value v = expr(st.value, s);
      if (v.k == value::kind::function) {
        error(diagnostic_kind::misplaced_function, st.value.get().type() == typeid(ast::identifier) ? span_of(st.value) : v.where,
              "a function cannot be bound to a name");
        v = error_value(v.where);
      }
      if (v.is_error()) ok = false;
      s.locals[target] = std::move(v);
      continue;
    }
    // st.op == '~'
    if (target != var.name) {
      error(diagnostic_kind::sample_wrong_variable, st.target.where,
            fmt::format("{} defines '{}', so its sample must be '{} ~ ...', not '{} ~ ...'", s.header_text, var.name,
                        var.name, target));
      ok = false;
      break;
    }
    sampled = true;
    value d = expr(st.value, s, true);
    if (d.is_error()) {
      ok = false;
      continue;
    }
    if (d.k != value::kind::distribution) {
      error(diagnostic_kind::not_a_distribution, span_of(st.value),
            fmt::format("the right side of '~' must be a distribution, such as {}",
                        var.type.kind == type_kind::sphere ? "VonMisesFisher(...)"
                        : var.is_data                      ? "Bernoulli(logits = ...)"
                                                           : "Normal(...)"));
      ok = false;
      continue;
    }
    if (var.type.size > 0) check_sample(d.dist, d.param_spans, var, span_of(st.value), f.side);
    cf.dist = d.dist;
  }
  if (!sampled && ok) {
    error(diagnostic_kind::missing_sample, f.header,
          fmt::format("the block of {} must end with '{} ~ DISTRIBUTION'", s.header_text, var.name));
  }
  cf.end_node = static_cast<int>(model_.nodes.size());
  for (int i = cf.first_node; i < cf.end_node; ++i) {
    model_.nodes[static_cast<std::size_t>(i)].side = f.side;
    cf.parameter_count += model_.nodes[static_cast<std::size_t>(i)].parameter_count;
  }
  // A GaussianMixture prior over real[n] with K components learns K·n means, K·n scales
  // and K weight logits (θ); the lowering creates them (lang/lower.cpp, mixture_params).
  if (f.side == 'p' && !var.is_data && cf.dist.family == family_id::gaussian_mixture && !cf.dist.params.empty() &&
      cf.dist.params[0] >= 0) {
    const auto k = static_cast<std::int64_t>(model_.nodes[static_cast<std::size_t>(cf.dist.params[0])].value);
    cf.parameter_count += 2 * k * var.type.size + k;
  }
  // A VampPrior learns K pseudo-inputs of the data's size (θ); q's network that it passes
  // them through is φ, counted with q (lang/lower.cpp, vamp_components).
  if (f.side == 'p' && !var.is_data && cf.dist.family == family_id::vamp_prior && !cf.dist.params.empty() &&
      cf.dist.params[0] >= 0) {
    const auto k = static_cast<std::int64_t>(model_.nodes[static_cast<std::size_t>(cf.dist.params[0])].value);
    cf.parameter_count += k * model_.variables[static_cast<std::size_t>(model_.data)].type.size;
  }
  model_.factors.push_back(std::move(cf));
}

}  // namespace vaec::check_impl
