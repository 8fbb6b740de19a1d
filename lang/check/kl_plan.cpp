// The objective: for each latent, how its KL term is computed (closed form, closed-form
// entropy plus Monte Carlo cross-entropy, or Monte Carlo, and why) and how its gradient
// flows; an infinite KL(StudentT ‖ Normal) is an error. Also warns of a likelihood that
// uses no latent. Runs last, only when every earlier pass succeeded: it reads every
// factor's distribution, the ranges of their parameters and the train settings.
#include "lang/check/checker.hpp"

#include <deque>

#include <fmt/format.h>

#include "lang/report.hpp"

namespace vaec::check_impl {

// A VampPrior p(z) = (1/K) Σ_k q(z | u_k) evaluates q's network at pseudo-inputs u_k in
// place of the data, so q(z | ·) must take the data alone and have parameters to take.
bool checker::vamp_prior_fits(const checked_factor& pf, const checked_factor& qf) {
  const variable& z = model_.variables[static_cast<std::size_t>(pf.variable)];
  const std::string& x = model_.variables[static_cast<std::size_t>(model_.data)].name;
  const std::string q_text = factor_text(model_, qf);
  std::string others;
  for (int g : qf.given)
    if (g != model_.data) others += (others.empty() ? "'" : ", '") + model_.variables[static_cast<std::size_t>(g)].name + "'";
  if (!others.empty()) {
    error(diagnostic_kind::vamp_q_not_of_data, pf.dist.where,
          fmt::format("VampPrior for '{}' passes its pseudo-inputs through {}'s network in place of the data '{}', so q "
                      "must depend on '{}' alone, but {} also depends on {}; write q({} | {}), or give '{}' another "
                      "prior (e.g. {})",
                      z.name, q_text, x, x, q_text, others, z.name, x, z.name,
                      z.type.kind == type_kind::sphere ? "HypersphericalUniform()" : "Normal(0, 1)"));
    return false;
  }
  if (qf.dist.family == family_id::hyperspherical_uniform) {
    error(diagnostic_kind::vamp_q_not_of_data, pf.dist.where,
          fmt::format("VampPrior for '{}' is a mixture of q at pseudo-inputs, but {} is HypersphericalUniform(), which "
                      "has no parameters to compute; use p({}) = HypersphericalUniform()",
                      z.name, q_text, z.name));
    return false;
  }
  return true;
}

void checker::plan() {
  auto index_of = [&](char side, int v) {
    for (std::size_t i = 0; i < model_.factors.size(); ++i)
      if (model_.factors[i].side == side && model_.factors[i].variable == v) return static_cast<int>(i);
    return -1;
  };
  // check_factor ran in exactly that order already; factors are in place.
  const std::size_t n = model_.variables.size();
  // q-descendants: latents sampled (in q) after, and depending on, each latent.
  std::vector<std::vector<int>> q_out(n);
  for (const auto& f : model_.factors)
    if (f.side == 'q')
      for (int g : f.given) q_out[static_cast<std::size_t>(g)].push_back(f.variable);

  for (std::size_t v = 1; v < n; ++v) {
    latent_plan lp;
    lp.variable = static_cast<int>(v);
    lp.p_factor = index_of('p', static_cast<int>(v));
    lp.q_factor = index_of('q', static_cast<int>(v));
    const checked_factor& pf = model_.factors[static_cast<std::size_t>(lp.p_factor)];
    const checked_factor& qf = model_.factors[static_cast<std::size_t>(lp.q_factor)];
    const family_info& qi = info(qf.dist.family);
    const family_info& pi = info(pf.dist.family);

    std::vector<bool> desc(n, false);
    std::deque<int> todo{static_cast<int>(v)};
    while (!todo.empty()) {
      int u = todo.front();
      todo.pop_front();
      for (int w : q_out[static_cast<std::size_t>(u)])
        if (!desc[static_cast<std::size_t>(w)]) {
          desc[static_cast<std::size_t>(w)] = true;
          todo.push_back(w);
        }
    }
    std::string late_parent;
    for (int g : pf.given)
      if (desc[static_cast<std::size_t>(g)]) late_parent = model_.variables[static_cast<std::size_t>(g)].name;
    lp.kl_is_analytic = late_parent.empty();
    if (pf.dist.family == family_id::vamp_prior && !vamp_prior_fits(pf, qf)) continue;

    const auto* pair = find_closed_form_kl(qf.dist.family, pf.dist.family);
    bool pair_ok = pair != nullptr;
    if (pair && pair->condition == kl_condition::df_above_2) {
      int df = qf.dist.params[0];
      pair_ok = df >= 0 && model_.nodes[static_cast<std::size_t>(df)].range.above(2);
    }
    const std::string& name = model_.variables[v].name;
    if (model_.settings.objective == objective_kind::iwae) {
      lp.method = kl_method::not_used;
      lp.method_reason = "the IWAE objective weighs log p(x, z) − log q(z | x) per sample";
    } else if (model_.settings.kl == kl_choice::mc) {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = "forced by kl = mc";
    } else if (!lp.kl_is_analytic) {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = fmt::format("its prior depends on '{}', which q samples after '{}'", late_parent, name);
    } else if (pair_ok) {
      lp.method = kl_method::closed_form;
    } else if (qi.closed_form_entropy &&
               (pf.dist.family == family_id::vamp_prior || pf.dist.family == family_id::aggregate_posterior)) {
      // A mixture of K components of a q family: q's at pseudo-inputs, or the source run's q*
      // at M of its examples.
      const bool vamp = pf.dist.family == family_id::vamp_prior;
      const auto count = static_cast<std::int64_t>(model_.nodes[static_cast<std::size_t>(pf.dist.params[vamp ? 0 : 1])].value);
      lp.method = kl_method::entropy_plus_mc;
      lp.method_reason = fmt::format(
          "no closed form for a mixture; log p({}) = log (1/{}) Σ_{} q{}({} | {}) by a stable log-sum-exp over the {} = {} "
          "components",
          name, vamp ? "K" : "M", vamp ? "k" : "m", vamp ? "" : "*", name, vamp ? "u_k" : "x_m", vamp ? "K" : "M",
          group_thousands(count));
    } else if (qi.closed_form_entropy) {
      lp.method = kl_method::entropy_plus_mc;
      lp.method_reason = pair ? "df is not provably above 2, so the closed form may not exist (it is +infinity "
                                "where df ≤ 2)"
                              : fmt::format("no closed form for {} ‖ {}", qi.name, pi.name);
    } else {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = fmt::format("no closed form for {} ‖ {}, nor for the entropy of {}", qi.name, pi.name, qi.name);
    }

    switch (qf.dist.family) {
      case family_id::normal: lp.gradient = "reparameterized: loc + scale·ε, ε ~ N(0, I)"; break;
      case family_id::student_t: {
        int df = qf.dist.params[0];
        bool learnable = df >= 0 && model_.nodes[static_cast<std::size_t>(df)].learnable;
        lp.gradient = learnable ? "reparameterized: loc + scale·ε / √(g / df), g ~ χ²(df), with the implicit "
                                  "reparameterization gradient of the χ² draw for df"
                                : "reparameterized: loc + scale·ε / √(g / df), g ~ χ²(df), df fixed";
        break;
      }
      case family_id::von_mises_fisher:
        lp.gradient = model_.variables[v].type.size == 3
                          ? "pathwise gradient through the exact inverse-CDF sampler (n = 3) and a Householder reflection"
                          : "pathwise gradient through Wood's rejection sampler, with the rejection correction";
        break;
      case family_id::power_spherical:
        lp.gradient = "pathwise gradient through the exact Beta sampler, with implicit reparameterization of the Beta draw";
        break;
      case family_id::hyperspherical_uniform: lp.gradient = "no variational parameters"; break;
      default: lp.gradient = "not reparameterizable"; break;
    }
    // KL(StudentT(ν) ‖ Normal) = +∞ for ν ≤ 2: q's second moment is infinite and −log p
    // grows as z². The ELBO is then −∞ whatever the estimator (Monte Carlo only hides it).
    // The IWAE bound with K samples stays finite, so only the ELBO is concerned.
    if (qf.dist.family == family_id::student_t && pf.dist.family == family_id::normal &&
        model_.settings.objective == objective_kind::elbo && qf.dist.params[0] >= 0) {
      const node& df = model_.nodes[static_cast<std::size_t>(qf.dist.params[0])];
      if (df.range.hi <= 2) {
        error(diagnostic_kind::infinite_kl, df.where,
              fmt::format("KL(StudentT ‖ Normal) of '{}' is +infinity: df {}, and a Student-t with df ≤ 2 has an "
                          "infinite second moment that a Normal prior's log-density (−z²/2) turns into an "
                          "infinite KL, so the ELBO is −infinity for every q; use df = 2 + softplus(...), or a "
                          "StudentT prior",
                          name, df.range.lo == df.range.hi ? fmt::format("is {}", df.range.lo)
                                                           : fmt::format("is at most {}", df.range.hi)));
      } else if (!df.range.above(2)) {
        diags_.warning(diagnostic_kind::kl_may_be_infinite, df.where,
                       fmt::format("KL(StudentT ‖ Normal) of '{}' is +infinity wherever df ≤ 2, and this df {}: "
                                   "training stops the first time it gets there; to rule it out use "
                                   "df = 2 + softplus(...), or a StudentT prior",
                                   name, describe(df.range)));
      }
    }
    model_.latents.push_back(std::move(lp));
  }

  // A likelihood whose parameters use no latent: every sample of z gives the same
  // log p(x | ·), so the latents cannot explain anything and their KL terms will only
  // shrink to 0 (the objectives are still right; the model is probably not what was meant).
  for (const auto& f : model_.factors) {
    if (f.side != 'p' || f.variable != model_.data) continue;
    std::vector<char> uses(model_.nodes.size(), 0);
    bool any = false;
    // From the start of its block: in a joint block p(z2, x | z1), the trunk is computed
    // before the first sample.
    for (int i = model_.blocks[static_cast<std::size_t>(f.block)].first_node; i < f.end_node; ++i) {
      const node& nd = model_.nodes[static_cast<std::size_t>(i)];
      char u = nd.kind == node_kind::variable && nd.variable != model_.data;
      for (int in : nd.inputs) u = u || uses[static_cast<std::size_t>(in)];
      uses[static_cast<std::size_t>(i)] = u;
    }
    for (int p : f.dist.params)
      if (p >= 0 && uses[static_cast<std::size_t>(p)]) any = true;
    if (any) continue;
    std::string header = "p(" + model_.variables[static_cast<std::size_t>(f.variable)].name, latents;
    for (std::size_t k = 0; k < f.given.size(); ++k)
      header += (k == 0 ? " | " : ", ") + model_.variables[static_cast<std::size_t>(f.given[k])].name;
    header += ")";
    for (std::size_t v = 0; v < model_.variables.size(); ++v)
      if (!model_.variables[v].is_data) latents += (latents.empty() ? "'" : ", '") + model_.variables[v].name + "'";
    diags_.warning(diagnostic_kind::likelihood_ignores_latents, f.dist.where,
                   fmt::format("the likelihood {} depends on no latent: its parameters are the same whatever {} "
                               "{}, so the latents cannot explain the data",
                               header, latents, latents.find(',') == std::string::npos ? "is" : "are"));
  }
}

}  // namespace vaec::check_impl
