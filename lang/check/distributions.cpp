// A sample `v ~ D(...)`: the family's support against the variable's type, each
// parameter's size, and its range (positive scales, probabilities in [0, 1]) from the
// range analysis of the parameter's expression. Called by factors.cpp once the right side
// of '~' has been evaluated (expressions.cpp, calls.cpp), so every range is known.
#include "lang/check/checker.hpp"

#include <fmt/format.h>

namespace vaec::check_impl {

namespace {

// Whether the checked node is sigmoid(h) or 1 − sigmoid(h) (lowered as the logits ±h); the
// lowering (lang/lower.cpp, sigmoid_argument) recognises the same two forms.
bool is_sigmoid_form(const node& p, const std::vector<node>& nodes) {
  auto sigmoid = [](const node& n) { return n.kind == node_kind::call && n.function == function_id::sigmoid; };
  if (sigmoid(p)) return true;
  if (p.kind != node_kind::sub) return false;
  const node& one = nodes[static_cast<std::size_t>(p.inputs[0])];
  return one.kind == node_kind::constant && one.value == 1 && sigmoid(nodes[static_cast<std::size_t>(p.inputs[1])]);
}

std::string families_for(type_kind kind) {
  std::string out;
  for (const auto& f : families())
    if (f.support == kind) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

std::string_view support_text(type_kind kind) {
  switch (kind) {
    case type_kind::real: return "real vectors (real[n])";
    case type_kind::binary: return "values in [0, 1] (binary[n])";
    case type_kind::sphere: return "unit vectors (sphere[n])";
  }
  return "";
}

}  // namespace

void checker::check_sample(const distribution_use& d, const std::vector<span>& spans, const variable& v, span where) {
  const family_info& f = info(d.family);
  // Support: the family's values must be the variable's. Grey-level data in [0, 1]
  // may take a real-valued likelihood (binary ⊂ real).
  bool fits = f.support == v.type.kind || (v.is_data && v.type.kind == type_kind::binary && f.support == type_kind::real);
  if (!fits) {
    error(diagnostic_kind::support_mismatch, where,
          fmt::format("{} is a distribution over {}, but '{}' is {}; for {} use {}", f.name, support_text(f.support),
                      v.name, to_string(v.type), fmt::format("{}[n]", to_string(v.type.kind)), families_for(v.type.kind)));
    return;
  }
  if (f.likelihood_only && !v.is_data) {
    error(diagnostic_kind::support_mismatch, where, fmt::format("{} is a likelihood for the data, not a distribution for the latent '{}'", f.name, v.name));
    return;
  }
  const int n = v.type.size;
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    int index = d.params[i];
    if (index < 0) continue;
    const node& p = model_.nodes[static_cast<std::size_t>(index)];
    std::string_view pname = f.params[i].name;
    span at = spans[i];
    std::string what = fmt::format("{} of {}", pname, f.name);
    bool mean = pname == "mean";
    bool concentration = pname == "concentration";
    if (mean) {
      if (p.size != n) {
        error(diagnostic_kind::size_mismatch, at,
              fmt::format("{} has {}, but '{}' is {}: it must have size [{}]", what, describe_size(p.size), v.name,
                          to_string(v.type), n));
        continue;
      }
      if (!p.unit) {
        error(diagnostic_kind::not_unit_vector, at,
              fmt::format("{} must be a unit vector; wrap it: normalize(...)", what));
      }
      continue;
    }
    if (concentration) {
      if (p.size > 1) {
        error(diagnostic_kind::size_mismatch, at,
              fmt::format("{} must be a single number (size [1]), not size [{}]; e.g. softplus(linear(h, 1)) + 1",
                          what, p.size));
        continue;
      }
    } else if (p.size != 0 && p.size != 1 && p.size != n) {
      error(diagnostic_kind::size_mismatch, at,
            fmt::format("{} has size [{}], but '{}' is {}: it must have size [{}], or [1] to broadcast", what, p.size,
                        v.name, to_string(v.type), n));
      continue;
    }
    // Ranges.
    bool needs_positive = pname == "scale" || pname == "df" || concentration;
    if (needs_positive && !p.range.positive()) {
      if (p.kind == node_kind::constant)
        error(diagnostic_kind::constraint_violation, at, fmt::format("{} must be positive, not {}", what, p.value));
      else
        error(diagnostic_kind::constraint_violation, at,
              fmt::format("{} must be positive, but this {}; make it positive, e.g. softplus(...) + 1e-4", what,
                          describe(p.range)));
    }
    if (pname == "probs" && (p.range.lo < 0 || p.range.hi > 1)) {
      error(diagnostic_kind::constraint_violation, at,
            fmt::format("{} must lie in [0, 1]; use sigmoid(...), or give 'logits = ...' instead", what));
    } else if (pname == "probs" && (f.name == std::string_view("Bernoulli") || f.name == std::string_view("ContinuousBernoulli")) &&
               !is_sigmoid_form(p, model_.nodes)) {
      // sigmoid(h) and 1 − sigmoid(h) are lowered as logits ±h, exactly; anything else is
      // evaluated from the probability itself.
      const bool cb = f.name == std::string_view("ContinuousBernoulli");
      diags_.warning(diagnostic_kind::probs_clamped, at,
                     fmt::format("{} is evaluated as x·log(probs) + (1 − x)·log(1 − probs){}: exact where probs is "
                                 "representable, but where probs rounds to 0 or 1 its log is clamped (at −103.28, the log of "
                                 "the smallest positive float); "
                                 "give 'logits = ...' (or probs = sigmoid(...), read as its logits) for a "
                                 "likelihood exact at every logit",
                                 what, cb ? " + log C(probs)" : ""));
    }
  }
}

}  // namespace vaec::check_impl
