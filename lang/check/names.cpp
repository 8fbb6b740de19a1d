// Declarations and factor headers, the first pass: the model's name, the data and the
// latents (duplicates, builtins shadowed, a missing data or latent), each variable's type
// (types.cpp), and the names in each factor header `p(x | z)` or joint-block header
// `q(s, g | x)`, which fill p_of_/q_of_ and the conditioning lists p_inputs_/q_inputs_
// that every later pass reads. declare() then runs the passes that follow, in order: the
// factor structure (structure.cpp), each factor's block, p factors in generative order and
// q factors in inference order (factors.cpp), and the train block (train_settings.cpp).
#include "lang/check/checker.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vaec::check_impl {

void checker::declare(const ast::model& m, const std::vector<ast::train_entry>& settings) {
  declare_constants(m, settings);
  const ast::model_decl* name_decl = nullptr;
  const ast::variable_decl* data_decl = nullptr;
  std::vector<const ast::variable_decl*> latents;
  std::vector<const ast::factor*> factors;
  std::vector<const ast::train_block*> trains;
  std::unordered_map<std::string, const ast::variable_decl*> first_decl;

  for (const auto& d : m.declarations) {
    if (const auto* md = boost::get<ast::model_decl>(&d)) {
      if (name_decl) {
        add_note(error(diagnostic_kind::duplicate_model_name, md->where, "the model is named twice"),
                 name_decl->where, "first named here");
      } else {
        name_decl = md;
        model_.name = md->name.name;
      }
    } else if (const auto* vd = boost::get<ast::variable_decl>(&d)) {
      const std::string& nm = vd->name.name;
      if (is_builtin(nm)) {
        // Reported, then declared all the same, so that its uses say nothing more.
        error(diagnostic_kind::rebind_builtin, vd->name.where,
              fmt::format("'{}' is a builtin {} and cannot name a variable", nm,
                          find_function(nm) ? "function" : "distribution"));
      }
      if (auto it = constant_index_.find(nm); it != constant_index_.end()) {
        add_note(error(diagnostic_kind::duplicate_variable, vd->name.where,
                       fmt::format("'{}' is a constant and cannot name a variable", nm)),
                 model_.constants[static_cast<std::size_t>(it->second)].where, "the constant is declared here");
      }
      if (auto it = first_decl.find(nm); it != first_decl.end()) {
        add_note(error(diagnostic_kind::duplicate_variable, vd->name.where, fmt::format("'{}' is declared twice", nm)),
                 it->second->name.where, fmt::format("'{}' first declared here", nm));
        continue;
      }
      first_decl[nm] = vd;
      if (vd->keyword == "data") {
        if (data_decl) {
          add_note(error(diagnostic_kind::duplicate_data, vd->where,
                         "a model has exactly one 'data' declaration; this is the second"),
                   data_decl->where, "the first is here");
          continue;
        }
        data_decl = vd;
      } else {
        latents.push_back(vd);
      }
    } else if (const auto* f = boost::get<ast::factor>(&d)) {
      factors.push_back(f);
    } else if (const auto* t = boost::get<ast::train_block>(&d)) {
      trains.push_back(t);
    }
  }

  span model_span = name_decl ? name_decl->where : span{0, 0};
  if (!data_decl) {
    error(diagnostic_kind::missing_data, model_span,
          "the model has no 'data' declaration; add one such as 'data x : binary[784]'");
  }
  if (latents.empty()) {
    error(diagnostic_kind::missing_latent, data_decl ? data_decl->where : model_span,
          "the model has no 'latent' declaration; add one such as 'latent z : real[20]'");
  }

  // Variables: the data first, then the latents.
  auto add_variable = [&](const ast::variable_decl* vd, bool is_data) {
    auto type = check_type(vd->type, !is_data, vd->name.name);
    variable v;
    v.name = vd->name.name;
    v.type = type.value_or(var_type{type_kind::real, 0, {}});  // size 0: unknown, checked no further
    v.is_data = is_data;
    v.where = vd->name.where;
    variable_index_[v.name] = static_cast<int>(model_.variables.size());
    model_.variables.push_back(std::move(v));
  };
  if (data_decl) add_variable(data_decl, true);
  else {
    // A placeholder keeps index 0 for the data; nothing refers to it by name.
    model_.variables.push_back(variable{"", {type_kind::real, 0, {}}, true, {}});
  }
  model_.data = 0;
  for (const auto* vd : latents) add_variable(vd, false);

  p_of_.assign(model_.variables.size(), nullptr);
  q_of_.assign(model_.variables.size(), nullptr);
  check_headers(factors);
  if (!data_decl || latents.empty()) {
    check_train(trains);
    return;
  }
  check_structure();
  // A joint block is checked once, where its first variable comes in the order: every
  // variable of the block conditions on all the block's '|' list (names.cpp, check_headers).
  std::unordered_set<const ast::factor*> checked;
  for (char side : {'p', 'q'})
    for (int v : order(side)) {
      const ast::factor* f = (side == 'p' ? p_of_ : q_of_)[static_cast<std::size_t>(v)];
      if (f && checked.insert(f).second) check_factor(*f);
    }
  // The blocks now say which of their earlier variables each sample uses: a latent of a
  // joint p block that no later sample uses generates nothing.
  if (joint_p_ && headers_ok_ && errors_ == 0) {
    std::vector<std::vector<int>> inputs(model_.variables.size());
    for (const auto& f : model_.factors)
      if (f.side == 'p') inputs[static_cast<std::size_t>(f.variable)] = f.given;
    check_generates_data(inputs);
  }
  check_train(trains);
}

std::string header_text(const ast::factor& f) {
  std::string s = fmt::format("{}(", f.side);
  for (std::size_t i = 0; i < f.variables.size(); ++i) s += (i == 0 ? "" : ", ") + f.variables[i].name;
  for (std::size_t i = 0; i < f.given.size(); ++i) s += (i == 0 ? " | " : ", ") + f.given[i].name;
  return s + ")";
}

namespace {

std::vector<std::string> keys_of(const std::unordered_map<std::string, int>& m) {
  std::vector<std::string> out;
  out.reserve(m.size());
  for (const auto& [k, v] : m)
    if (!k.empty()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void checker::check_headers(const std::vector<const ast::factor*>& factors) {
  std::vector<std::string> names = keys_of(variable_index_);
  p_inputs_.assign(model_.variables.size(), {});
  q_inputs_.assign(model_.variables.size(), {});
  std::size_t errors_before = errors_;
  for (const ast::factor* f : factors) {
    // The variables the block samples: each declared, not the data in q, sampled by no
    // other block of its side, named once. A block with any of these errors is left out.
    const bool joint = f->variables.size() > 1;
    std::vector<int> sampled;
    bool header_ok = true;
    for (const auto& id : f->variables) {
      auto it = variable_index_.find(id.name);
      if (it == variable_index_.end()) {
        error(diagnostic_kind::unknown_variable, id.where,
              with_suggestion(fmt::format("'{}' is not a declared variable; declare it with 'latent {} : real[n]'",
                                          id.name, id.name),
                              suggest_capped(id.name, names)));
        header_ok = false;
        continue;
      }
      int v = it->second;
      const variable& var = model_.variables[static_cast<std::size_t>(v)];
      if (f->side == 'q' && var.is_data) {
        error(diagnostic_kind::q_factor_for_data, joint ? id.where : f->header,
              fmt::format("'{}' is the data: it is observed, so it has a p factor and no q factor", var.name));
        header_ok = false;
        continue;
      }
      if (auto first = std::find(sampled.begin(), sampled.end(), v); first != sampled.end()) {
        add_note(error(diagnostic_kind::duplicate_sample, id.where,
                       fmt::format("'{}' is listed twice; a block samples each of its variables once", var.name)),
                 f->variables[static_cast<std::size_t>(first - sampled.begin())].where, "first listed here");
        header_ok = false;
        continue;
      }
      const auto* slot = f->side == 'p' ? p_of_[static_cast<std::size_t>(v)] : q_of_[static_cast<std::size_t>(v)];
      if (slot) {
        add_note(error(diagnostic_kind::duplicate_factor, joint ? id.where : f->header,
                       fmt::format("'{}' has two {} factors; each variable has exactly one", var.name, f->side)),
                 slot->header, fmt::format("the first {} factor of '{}' is here", f->side, var.name));
        header_ok = false;
        continue;
      }
      sampled.push_back(v);
    }
    if (!header_ok) continue;
    if (joint && f->side == 'p' && sampled.back() != model_.data &&
        std::find(sampled.begin(), sampled.end(), model_.data) != sampled.end()) {
      const auto& data = model_.variables[static_cast<std::size_t>(model_.data)];
      error(diagnostic_kind::p_conditions_on_data, f->header,
            fmt::format("the data '{}' must come last in {}: a joint block samples in its header's order, and no "
                        "latent may be generated from the data",
                        data.name, header_text(*f)));
      continue;
    }
    if (joint && !f->block) {
      error(diagnostic_kind::missing_sample, f->header,
            fmt::format("a one-line factor samples one variable; {} needs a block that samples each: {} {{ {} ~ ...; "
                        "{} ~ ... }}",
                        header_text(*f), header_text(*f), f->variables[0].name, f->variables[1].name));
      continue;
    }
    std::unordered_map<std::string, const ast::identifier*> seen;
    std::vector<int> given;
    for (const auto& g : f->given) {
      auto gi = variable_index_.find(g.name);
      if (gi == variable_index_.end()) {
        error(diagnostic_kind::unknown_variable, g.where,
              with_suggestion(fmt::format("'{}' is not a declared variable", g.name), suggest_capped(g.name, names)));
      } else if (std::find(sampled.begin(), sampled.end(), gi->second) != sampled.end()) {
        error(diagnostic_kind::self_condition, g.where,
              joint ? fmt::format("{} samples '{}', so it cannot also condition on it", header_text(*f), g.name)
                    : fmt::format("{}({} | ...) cannot condition '{}' on itself", f->side, g.name, g.name));
      } else if (seen.count(g.name)) {
        add_note(error(diagnostic_kind::duplicate_condition, g.where, fmt::format("'{}' is listed twice", g.name)),
                 seen[g.name]->where, "first listed here");
      } else if (f->side == 'p' && model_.variables[static_cast<std::size_t>(gi->second)].is_data) {
        error(diagnostic_kind::p_conditions_on_data, g.where,
              fmt::format("the generative model cannot condition on the data '{}': p factors generate it; "
                          "did you mean q({} | {})?",
                          g.name, f->variables[0].name, g.name));
      }
      else {
        given.push_back(gi->second);
      }
      seen.emplace(g.name, &g);
    }
    // Each variable of a joint block may depend on the conditioning variables and on the
    // block's variables sampled before it (structure.cpp; factors.cpp finds which it uses).
    auto& inputs = f->side == 'p' ? p_inputs_ : q_inputs_;
    for (std::size_t k = 0; k < sampled.size(); ++k) {
      auto& in = inputs[static_cast<std::size_t>(sampled[k])];
      in = given;
      in.insert(in.end(), sampled.begin(), sampled.begin() + static_cast<std::ptrdiff_t>(k));
      (f->side == 'p' ? p_of_ : q_of_)[static_cast<std::size_t>(sampled[k])] = f;
    }
    if (joint && f->side == 'p') joint_p_ = true;
  }
  headers_ok_ = errors_ == errors_before;
}

}  // namespace vaec::check_impl
