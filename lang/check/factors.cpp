// A factor's block: its statements in order (bindings, then exactly one final sample of
// the factor's own variable; a joint block `q(s, g | x) { … }` samples each variable of
// its header once, in the header's order, and a statement may use the variables sampled
// before it), evaluated into nodes (expressions.cpp) and each sample checked
// (distributions.cpp); the result is one checked_factor per variable and one
// checked_block. Runs after the structure pass (structure.cpp), which decides the order,
// so a block's nodes come after those of the factors it conditions on.
#include "lang/check/checker.hpp"

#include <algorithm>
#include <typeinfo>

#include <fmt/format.h>

namespace vaec::check_impl {

void checker::check_factor(const ast::factor& f) {
  if (stopped_) return;
  scope s;
  s.side = f.side;
  for (const auto& id : f.variables) {
    auto vit = variable_index_.find(id.name);
    if (vit == variable_index_.end()) return;
    s.samples.push_back(vit->second);
  }
  if (s.samples.empty()) return;
  s.header_text = header_text(f);
  const bool joint = s.samples.size() > 1;
  checked_block block;
  block.side = f.side;
  block.header = f.header;
  block.first_node = static_cast<int>(model_.nodes.size());
  for (const auto& g : f.given) {
    auto it = variable_index_.find(g.name);
    if (it == variable_index_.end()) {
      s.given_unknown.insert(g.name);
      s.header_incomplete = true;
    }
    else if (std::find(s.samples.begin(), s.samples.end(), it->second) == s.samples.end()) {
      if (!s.given.count(it->second)) block.given.push_back(it->second);
      s.given.insert(it->second);
    } else {
      s.header_incomplete = true;
    }
  }
  const int block_index = static_cast<int>(model_.blocks.size());
  // The factor of the next variable to sample; its nodes start where the previous ended.
  auto next_factor = [&] {
    checked_factor cf;
    cf.side = f.side;
    cf.variable = s.samples[s.sampled];
    cf.given = block.given;
    cf.header = f.header;
    cf.block = block_index;
    cf.first_node = static_cast<int>(model_.nodes.size());
    return cf;
  };
  checked_factor cf = next_factor();
  std::vector<const ast::statement*> sample_at(s.samples.size(), nullptr);  // each variable's `~`
  bool ok = true;
  for (std::size_t i = 0; i < f.body.size(); ++i) {
    const ast::statement& st = f.body[i];
    if (s.sampled == s.samples.size()) {
      const std::string& last = model_.variables[static_cast<std::size_t>(s.samples.back())].name;
      error(diagnostic_kind::sample_not_last, st.where,
            joint ? fmt::format("nothing may follow '{} ~ ...': {} ends with the sample of its last variable",
                                last, s.header_text)
                  : fmt::format("nothing may follow '{} ~ ...': the sample is the block's last statement", last));
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
    // st.op == '~': the block's next variable, in the header's order.
    const variable& var = model_.variables[static_cast<std::size_t>(s.samples[s.sampled])];
    if (target != var.name) {
      std::size_t k = 0;
      while (k < f.variables.size() && f.variables[k].name != target) ++k;
      if (!joint) {
        error(diagnostic_kind::sample_wrong_variable, st.target.where,
              fmt::format("{} defines '{}', so its sample must be '{} ~ ...', not '{} ~ ...'", s.header_text, var.name,
                          var.name, target));
      } else if (k == f.variables.size()) {
        const auto other = variable_index_.find(target);
        const ast::factor* own = other == variable_index_.end() ? nullptr
                                 : (f.side == 'p' ? p_of_ : q_of_)[static_cast<std::size_t>(other->second)];
        std::string fixed = s.header_text;
        fixed.insert(fixed.find_first_of("|)") - (fixed.find('|') == std::string::npos ? 0 : 1), ", " + target);
        const bool data_in_q = f.side == 'q' && other != variable_index_.end() && other->second == model_.data;
        auto* d = error(diagnostic_kind::sample_wrong_variable, st.target.where,
                        data_in_q ? fmt::format("'{}' is the data: it is observed, so no q block samples it", target)
                        : own     ? fmt::format("{} does not sample '{}', which has a {} factor of its own; a block "
                                                "samples only the variables its header lists",
                                                s.header_text, target, f.side)
                                  : fmt::format("{} does not sample '{}'; list it in the header to sample it here: {}",
                                                s.header_text, target, fixed));
        if (own) add_note(d, own->header, fmt::format("the {} factor of '{}'", f.side, target));
      } else if (k < s.sampled) {
        add_note(error(diagnostic_kind::duplicate_sample, st.target.where,
                       fmt::format("'{}' is sampled twice; {} samples each of its variables once", target,
                                   s.header_text)),
                 sample_at[k]->target.where, "first sampled here");
      } else {
        error(diagnostic_kind::sample_order, st.target.where,
              fmt::format("'{}' is sampled before '{}', but {} lists '{}' first; a joint block samples its "
                          "variables in the order its header lists them, so swap the samples or the names",
                          target, var.name, s.header_text, var.name));
      }
      ok = false;
      break;
    }
    sample_at[s.sampled] = &st;
    value d = expr(st.value, s, true);
    if (d.is_error()) {
      ok = false;
    } else if (d.k != value::kind::distribution) {
      error(diagnostic_kind::not_a_distribution, span_of(st.value),
            fmt::format("the right side of '~' must be a distribution, such as {}",
                        var.type.kind == type_kind::sphere ? "VonMisesFisher(...)"
                        : var.is_data                      ? "Bernoulli(logits = ...)"
                                                           : "Normal(...)"));
      ok = false;
    } else {
      if (var.type.size > 0) check_sample(d.dist, d.param_spans, var, span_of(st.value), f.side);
      cf.dist = d.dist;
    }
    cf.end_node = static_cast<int>(model_.nodes.size());
    // The block's earlier variables this sample's parameters depend on join its '|' list:
    // a joint block q(s, g | x) is q(s | x) q(g | x, s) when g's distribution uses s.
    // Found by walking back from the parameters through the block's nodes (each at most
    // once), so a block of many variables costs its nodes per sample, not their product.
    if (s.sampled > 0) {
      std::vector<char> seen(static_cast<std::size_t>(cf.end_node - block.first_node), 0);
      std::vector<char> used(s.sampled, 0);
      std::vector<int> todo;
      for (int p : cf.dist.params)
        if (p >= block.first_node) todo.push_back(p);
      while (!todo.empty()) {
        const int i = todo.back();
        todo.pop_back();
        if (seen[static_cast<std::size_t>(i - block.first_node)]) continue;
        seen[static_cast<std::size_t>(i - block.first_node)] = 1;
        const node& nd = model_.nodes[static_cast<std::size_t>(i)];
        if (nd.kind == node_kind::variable) {
          const auto k = static_cast<std::size_t>(
              std::find(s.samples.begin(), s.samples.begin() + static_cast<std::ptrdiff_t>(s.sampled), nd.variable) -
              s.samples.begin());
          if (k < s.sampled) used[k] = 1;
        }
        for (int in : nd.inputs)
          if (in >= block.first_node) todo.push_back(in);
      }
      for (std::size_t k = 0; k < s.sampled; ++k)
        if (used[k]) cf.given.push_back(s.samples[k]);
    }
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
    block.factors.push_back(static_cast<int>(model_.factors.size()));
    block.parameter_count += cf.parameter_count;
    model_.factors.push_back(std::move(cf));
    ++s.sampled;
    if (s.sampled < s.samples.size()) cf = next_factor();
  }
  if (s.sampled < s.samples.size() && ok) {
    const variable& var = model_.variables[static_cast<std::size_t>(s.samples[s.sampled])];
    if (!joint) {
      error(diagnostic_kind::missing_sample, f.header,
            fmt::format("the block of {} must end with '{} ~ DISTRIBUTION'", s.header_text, var.name));
    } else {
      std::string missing;
      for (std::size_t k = s.sampled; k < s.samples.size(); ++k)
        missing += fmt::format("{}'{}'", k == s.sampled ? "" : k + 1 == s.samples.size() ? " or " : ", ",
                               f.variables[k].name);
      error(diagnostic_kind::missing_sample, f.variables[s.sampled].where,
            fmt::format("the block of {} never samples {}; add '{} ~ DISTRIBUTION' (a joint block samples each "
                        "variable of its header, in the header's order)",
                        s.header_text, missing, var.name));
    }
  }
  block.end_node = static_cast<int>(model_.nodes.size());
  // The nodes of a statement after a failed sample belong to no factor; they are on the
  // block's side all the same.
  for (int i = block.first_node; i < block.end_node; ++i) model_.nodes[static_cast<std::size_t>(i)].side = f.side;
  model_.blocks.push_back(std::move(block));
}

}  // namespace vaec::check_impl
