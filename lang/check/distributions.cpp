// A sample `v ~ D(...)`: the family's support against the variable's type, each
// parameter's size, and its range (positive scales, probabilities in [0, 1]) from the
// range analysis of the parameter's expression. Called by factors.cpp once the right side
// of '~' has been evaluated (expressions.cpp, calls.cpp), so every range is known.
#include "lang/check/checker.hpp"

#include <cmath>
#include <limits>

#include <boost/math/special_functions/beta.hpp>
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

// The families over `kind`; a learned prior (GaussianMixture) only where one may stand.
std::string families_for(type_kind kind, bool with_priors = true) {
  std::string out;
  for (const auto& f : families())
    if ((f.support == kind || f.any_support) && (with_priors || !f.prior_only)) out += (out.empty() ? "" : ", ") + std::string(f.name);
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

// A Student-t's tail falls only as s^−df: P(|t| > s) = I_{ν/(ν+s²)}(ν/2, ½) (the regularized
// incomplete beta, since 1 + t²/ν = 1/B with B ~ Beta(ν/2, ½)). Training runs in float: a draw
// beyond 3.4e38 is ±∞ there, and one beyond 1.8e19 = √3.4e38 already overflows when squared,
// so the decoder's arithmetic on such exact draws is not finite. Warns when more than 2 draws
// in 10^10 exceed 1.8e19 at the smallest df the range allows (scale 1): df below 0.5. For q
// that stops training (runtime/ops/objective.hpp, overflowed_draws, names the cause then);
// for a prior (side 'p') it spoils the prior's decoded draws (samples.png, vaec sample).
void checker::warn_overflowing_draws(const interval& df, const variable& v, span at, char side) {
  const double largest = static_cast<double>(std::numeric_limits<float>::max());
  const double nu = df.lo;
  auto tail = [nu](double s) { return nu <= 0 ? 1.0 : boost::math::ibeta(nu / 2, 0.5, nu / (nu + s * s)); };
  const double beyond_square = tail(std::sqrt(largest)), beyond_range = tail(largest);
  if (beyond_square <= 2e-10) return;  // df ≥ 0.5: 1.5e-10 at df 0.5, the advice below
  auto percent = [](double p) { return p >= 0.995 ? std::string("over 99%") : fmt::format("{:.2g}%", 100 * p); };
  const std::string which = df.lo == df.hi ? fmt::format("df {}", nu)
                            : nu <= 0       ? std::string("a df that can come as close to 0 as it likes")
                                            : fmt::format("a df as low as {}", nu);
  const std::string share =
      nu <= 0 ? std::string("as df nears 0, nearly all of its draws are")
              : fmt::format("{}{} of its draws (at scale 1) are beyond 1.8e19 and {}", df.lo == df.hi ? "" : "at that df, ",
                            percent(beyond_square), percent(beyond_range));
  const std::string consequence =
      side == 'q' ? "in float32 training an exact draw beyond 1.8e19 overflows when squared (beyond 3.4e38 it is "
                    "±infinity), so p's arithmetic on it can overflow, and training then stops"
                  : "in float32 an exact draw beyond 1.8e19 overflows when squared (beyond 3.4e38 it is ±infinity), so "
                    "decoding draws of the prior (samples.png, vaec sample) can give values that are not finite";
  diags_.warning(diagnostic_kind::draws_overflow, at,
                 fmt::format("'{}' is drawn from {}, a Student-t with {}: {} beyond the largest float (3.4e38); a "
                             "Student-t's tail falls only as |t|^-df, and {}; keep df at 0.5 or above (e.g. df = 0.5 + "
                             "softplus(...)), where fewer than 2 draws in 10^10 exceed 1.8e19",
                             v.name, side == 'q' ? "q" : "the prior p", which, share, consequence));
}

void checker::check_sample(const distribution_use& d, const std::vector<span>& spans, const variable& v, span where,
                           char side) {
  const family_info& f = info(d.family);
  // A learned prior (GaussianMixture) stands only as p(z) of a latent: its parameters are
  // θ created for it, and neither q nor the likelihood has a use for them.
  if (f.prior_only && (side == 'q' || v.is_data)) {
    if (v.is_data)
      error(diagnostic_kind::support_mismatch, where,
            fmt::format("{} is a prior only: it may define p(z) of a{} latent, not the likelihood of the data '{}'; "
                        "for the data use {}",
                        f.name, f.any_support ? "" : " real", v.name, families_for(v.type.kind, false)));
    else
      error(diagnostic_kind::support_mismatch, where,
            fmt::format("{} is a prior only: it may define p({}), not q({} | ...); for q use {}", f.name, v.name, v.name,
                        v.type.kind == type_kind::real ? "Normal or StudentT" : families_for(v.type.kind, false)));
    return;
  }
  // Support: the family's values must be the variable's. Grey-level data in [0, 1]
  // may take a real-valued likelihood (binary ⊂ real).
  bool fits = f.support == v.type.kind || f.any_support || (v.is_data && v.type.kind == type_kind::binary && f.support == type_kind::real);
  if (!fits) {
    error(diagnostic_kind::support_mismatch, where,
          fmt::format("{} is a distribution over {}, but '{}' is {}; for {} use {}", f.name, support_text(f.support),
                      v.name, to_string(v.type), fmt::format("{}[n]", to_string(v.type.kind)),
                      families_for(v.type.kind, side == 'p' && !v.is_data)));
    return;
  }
  if (f.likelihood_only && !v.is_data) {
    error(diagnostic_kind::support_mismatch, where, fmt::format("{} is a likelihood for the data, not a distribution for the latent '{}'", f.name, v.name));
    return;
  }
  // A learned prior's one argument, its number of components, was checked with the call.
  if (f.prior_only) return;
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
    if (pname == "df" && !v.is_data && p.range.positive()) warn_overflowing_draws(p.range, v, at, side);
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
