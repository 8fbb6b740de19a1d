#include "lang/lower.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "lang/report.hpp"

namespace vaec {

namespace {

using rt::op_kind;

op_kind unary_op(function_id f) {
  switch (f) {
    case function_id::relu: return op_kind::relu;
    case function_id::elu: return op_kind::elu;
    case function_id::tanh: return op_kind::tanh;
    case function_id::sigmoid: return op_kind::sigmoid;
    case function_id::softplus: return op_kind::softplus;
    case function_id::exp: return op_kind::exp;
    case function_id::log: return op_kind::log;
    case function_id::sqrt: return op_kind::sqrt;
    case function_id::square: return op_kind::square;
    case function_id::abs: return op_kind::abs;
    case function_id::leaky_relu: return op_kind::leaky_relu;
    default: throw lowering_error(fmt::format("'{}' is not elementwise", info(f).name));
  }
}

class lowerer {
 public:
  lowerer(const checked_model& m, const lower_options& o) : m_(m), o_(o), rt_(m.nodes.size(), -1) {}

  lowered_model run() {
    out_.data = out_.graph.input(m_.variables[static_cast<std::size_t>(m_.data)].type.size,
                                 m_.variables[static_cast<std::size_t>(m_.data)].name);
    sample_.assign(m_.variables.size(), -1);
    drawn_.assign(m_.variables.size(), false);
    dist_params_.assign(m_.factors.size(), {});
    components_.assign(m_.variables.size(), 0);
    component_family_.assign(m_.variables.size(), family_id::normal);
    const bool with_q = o_.latents == latent_source::posterior_draws || o_.latents == latent_source::posterior_location;
    if (o_.latents == latent_source::inputs)
      for (const auto& lp : m_.latents) {
        const variable& v = m_.variables[static_cast<std::size_t>(lp.variable)];
        sample_[static_cast<std::size_t>(lp.variable)] = out_.graph.input(v.type.size, v.name);
        out_.latent_inputs.push_back(sample_[static_cast<std::size_t>(lp.variable)]);
      }
    // q factors (they sample the latents), then p factors.
    for (char side : {'q', 'p'}) {
      if (side == 'q' && !with_q) continue;
      for (std::size_t f = 0; f < m_.factors.size(); ++f)
        if (m_.factors[f].side == side) lower_factor(static_cast<int>(f));
    }
    if (o_.latents == latent_source::posterior_draws) objective();
    for (const auto& lp : m_.latents) {
      out_.latent_nodes.push_back(sample_[static_cast<std::size_t>(lp.variable)]);
      out_.latent_names.push_back(m_.variables[static_cast<std::size_t>(lp.variable)].name);
      out_.latent_drawn.push_back(drawn_[static_cast<std::size_t>(lp.variable)]);
      lowered_model::latent_dists d;
      d.q = m_.factors[static_cast<std::size_t>(lp.q_factor)].dist.family;
      d.p = m_.factors[static_cast<std::size_t>(lp.p_factor)].dist.family;
      d.q_params = dist_params_[static_cast<std::size_t>(lp.q_factor)];
      d.p_params = dist_params_[static_cast<std::size_t>(lp.p_factor)];
      out_.dists.push_back(std::move(d));
    }
    return std::move(out_);
  }

 private:
  const checked_model& m_;
  lower_options o_;
  lowered_model out_;
  std::vector<int> rt_;                    // checked node → runtime node
  std::vector<int> sample_;                // variable → its sample node (q) or the data input
  std::vector<bool> drawn_;                // variable → its location was a draw (posterior_location)
  std::vector<std::vector<int>> dist_params_;  // factor → runtime nodes of its distribution's parameters
  int loglik_ = -1;
  int layer_ = 0;
  // While a q factor's nodes are lowered again at a VampPrior's pseudo-inputs: the node
  // that stands for the data, and the layers and parameters already made, by name, whose
  // parameters the second pass shares (graph::linear_shared).
  int data_override_ = -1;
  std::map<std::string, int> linear_by_name_, param_by_name_;
  std::vector<int> components_;  // variable → K of its VampPrior or M of its AggregatePosterior (0: none)
  std::vector<family_id> component_family_;  // variable → its mixture prior's component family

  rt::param_group group(char side) const { return side == 'p' ? rt::param_group::theta : rt::param_group::phi; }

  int lower_node(int i, const checked_factor& f, const std::string& where) {
    const node& n = m_.nodes[static_cast<std::size_t>(i)];
    rt::graph& g = out_.graph;
    auto in = [&](std::size_t k) { return rt_[static_cast<std::size_t>(n.inputs[k])]; };
    switch (n.kind) {
      case node_kind::constant: return g.constant(n.value);
      case node_kind::variable: {
        int v = n.variable == m_.data ? (data_override_ >= 0 ? data_override_ : out_.data)
                                      : sample_[static_cast<std::size_t>(n.variable)];
        if (v < 0) throw lowering_error(fmt::format("{}: '{}' is used before it is sampled", where, m_.variables[static_cast<std::size_t>(n.variable)].name));
        return v;
      }
      case node_kind::add: return g.binary(op_kind::add, in(0), in(1));
      case node_kind::sub: return g.binary(op_kind::sub, in(0), in(1));
      case node_kind::mul: return g.binary(op_kind::mul, in(0), in(1));
      case node_kind::div: return g.binary(op_kind::div, in(0), in(1));
      case node_kind::negate: return g.unary(op_kind::negate, in(0));
      case node_kind::call: break;
    }
    const rt::param_group grp = group(f.side);
    // A layer or parameter of this name made before (the same factor lowered again at
    // pseudo-inputs) is shared, not made anew.
    auto linear = [&](int x, int size) {
      const std::string name = fmt::format("{}.linear{}", where, ++layer_);
      if (auto it = linear_by_name_.find(name); it != linear_by_name_.end()) return g.linear_shared(x, it->second);
      return linear_by_name_[name] = g.linear(x, size, grp, name);
    };
    switch (n.function) {
      case function_id::linear: return linear(in(0), n.out_size);
      case function_id::mlp: {
        int h = in(0);
        for (int size : n.layer_sizes) {
          h = linear(h, size);
          h = g.unary(unary_op(n.activation), h, n.activation == function_id::leaky_relu ? 0.01 : 0.0);
        }
        return h;
      }
      case function_id::param: {
        const std::string name = fmt::format("{}.param{}", where, ++layer_);
        if (auto it = param_by_name_.find(name); it != param_by_name_.end()) return it->second;
        return param_by_name_[name] = g.param(n.out_size, n.value, grp, name);
      }
      case function_id::normalize: return g.normalize(in(0));
      case function_id::concat: {
        std::vector<int> xs;
        for (std::size_t k = 0; k < n.inputs.size(); ++k) xs.push_back(in(k));
        return g.concat(xs);
      }
      case function_id::sum: return g.sum(in(0));
      case function_id::norm: return g.norm(in(0));
      // Only leaky_relu has an attribute (its slope); other calls' node value is not theirs.
      default:
        return g.unary(unary_op(n.function), in(0), n.function == function_id::leaky_relu ? n.value : 0.0);
    }
  }

  // When checked node `c` is sigmoid(h) (or 1 − sigmoid(h)), the runtime node of the logit
  // (h, or −h, added to the graph); otherwise −1.
  int sigmoid_argument(int c) {
    if (c < 0) return -1;
    const node& n = m_.nodes[static_cast<std::size_t>(c)];
    if (n.kind == node_kind::call && n.function == function_id::sigmoid)
      return rt_[static_cast<std::size_t>(n.inputs[0])];
    if (n.kind == node_kind::sub) {
      const node& one = m_.nodes[static_cast<std::size_t>(n.inputs[0])];
      const node& sg = m_.nodes[static_cast<std::size_t>(n.inputs[1])];
      if (one.kind == node_kind::constant && one.value == 1 && sg.kind == node_kind::call &&
          sg.function == function_id::sigmoid)
        return out_.graph.unary(op_kind::negate, rt_[static_cast<std::size_t>(sg.inputs[0])]);
    }
    return -1;
  }

  int param_node(const checked_factor& f, std::size_t k) {
    int c = f.dist.params[k];
    return c < 0 ? -1 : rt_[static_cast<std::size_t>(c)];
  }

  // A distribution argument's node: the given expression, or the family's default as a
  // constant (StudentT's loc = 0, scale = 1).
  int arg(family_id fam, const std::vector<int>& ps, std::size_t k) {
    if (ps[k] >= 0) return ps[k];
    return out_.graph.constant(info(fam).params[k].default_value);
  }

  // The location of q (its mean, or mean direction) as a node of the latent's size, or −1
  // when the family has none (the uniform sphere) or it does not have the latent's rows.
  int location(family_id fam, const std::vector<int>& ps, int n) {
    int loc = -1;
    switch (fam) {
      case family_id::normal: case family_id::von_mises_fisher: case family_id::power_spherical: loc = ps[0]; break;
      case family_id::student_t: loc = ps[1]; break;
      default: return -1;
    }
    if (loc < 0 || out_.graph.nodes()[static_cast<std::size_t>(loc)].rows != n) return -1;
    return loc;
  }

  rt::likelihood_nodes likelihood(const checked_factor& f, const std::vector<int>& ps, int n) {
    using L = rt::likelihood_family;
    rt::likelihood_nodes l;
    l.params = ps;
    l.rows = n;
    switch (f.dist.family) {
      case family_id::bernoulli: l.family = ps[0] >= 0 ? L::bernoulli_logits : L::bernoulli_probs; break;
      case family_id::continuous_bernoulli: l.family = ps[0] >= 0 ? L::cbernoulli_logits : L::cbernoulli_probs; break;
      case family_id::normal: l.family = L::normal; break;
      case family_id::student_t: l.family = L::student_t; break;
      case family_id::von_mises_fisher: l.family = L::von_mises_fisher; break;
      case family_id::power_spherical: l.family = L::power_spherical; break;
      case family_id::hyperspherical_uniform: l.family = L::hyperspherical_uniform; break;
      case family_id::gaussian_mixture:
      case family_id::vamp_prior:
      case family_id::aggregate_posterior:
        throw lowering_error(fmt::format("{} is a prior, not a likelihood", info(f.dist.family).name));
    }
    return l;
  }

  // Reparameterized draws of a latent from its q factor.
  int sample(family_id fam, const std::vector<int>& ps, int n) {
    rt::graph& g = out_.graph;
    switch (fam) {
      case family_id::normal: return g.sample_normal(ps[0], ps[1], n);
      case family_id::student_t: return g.sample_studentt(ps[0], arg(fam, ps, 1), arg(fam, ps, 2), n);
      case family_id::von_mises_fisher: return g.sample_vmf(ps[0], ps[1], n);
      case family_id::power_spherical: return g.sample_power_spherical(ps[0], ps[1], n);
      case family_id::hyperspherical_uniform: return g.sample_sphere_uniform(n);
      // Prior draws only (latent_source::prior_draws): the checker keeps it out of q.
      case family_id::gaussian_mixture: return g.sample_mixture(ps[0], ps[1], ps[2], n);
      default: throw lowering_error(fmt::format("{} is a likelihood, not a posterior", info(fam).name));
    }
  }

  // Σ log p(value | ·) per column.
  int logpdf(family_id fam, int value, const std::vector<int>& ps, int n) {
    rt::graph& g = out_.graph;
    switch (fam) {
      case family_id::normal: return g.normal_logpdf(value, ps[0], ps[1], n);
      case family_id::student_t: return g.studentt_logpdf(value, ps[0], arg(fam, ps, 1), arg(fam, ps, 2), n);
      case family_id::von_mises_fisher: return g.vmf_logpdf(value, ps[0], ps[1], n);
      case family_id::power_spherical: return g.power_spherical_logpdf(value, ps[0], ps[1], n);
      case family_id::hyperspherical_uniform: return g.sphere_uniform_logpdf(value, n);
      case family_id::bernoulli: return ps[0] >= 0 ? g.bernoulli_logits(value, ps[0]) : g.bernoulli_probs(value, ps[1]);
      case family_id::continuous_bernoulli:
        return ps[0] >= 0 ? g.cbernoulli_logits(value, ps[0]) : g.cbernoulli_probs(value, ps[1]);
      case family_id::gaussian_mixture: return g.mixture_logpdf(value, ps[0], ps[1], ps[2], n);
      case family_id::vamp_prior:
      case family_id::aggregate_posterior: break;  // vamp_logpdf: it needs the components' family
    }
    throw lowering_error(fmt::format("{} has no log-density of its own", info(fam).name));
  }

  // The closed-form entropy, Σ over rows.
  int entropy(family_id fam, const std::vector<int>& ps, int n) {
    rt::graph& g = out_.graph;
    switch (fam) {
      case family_id::normal: return g.normal_entropy(ps[1], n);
      case family_id::student_t: return g.studentt_entropy(ps[0], arg(fam, ps, 2), n);
      case family_id::von_mises_fisher: return g.vmf_entropy(ps[1], n);
      case family_id::power_spherical: return g.power_spherical_entropy(ps[1], n);
      case family_id::hyperspherical_uniform: return g.sphere_uniform_entropy(n);
      default: throw lowering_error(fmt::format("{} has no closed-form entropy", info(fam).name));
    }
  }

  // The closed-form KL(q ‖ p) of a registered pair (lang/builtins: closed_form_kl_pairs).
  int kl(family_id qf, const std::vector<int>& q, family_id pf, const std::vector<int>& p, int n) {
    rt::graph& g = out_.graph;
    using F = family_id;
    if (qf == F::normal && pf == F::normal) return g.kl_normal_normal(q[0], q[1], p[0], p[1], n);
    if (qf == F::student_t && pf == F::normal)
      return g.kl_studentt_normal(q[0], arg(qf, q, 1), arg(qf, q, 2), p[0], p[1], n);
    if (qf == F::von_mises_fisher && pf == F::hyperspherical_uniform) return g.kl_vmf_uniform(q[1], n);
    if (qf == F::von_mises_fisher && pf == F::von_mises_fisher) return g.kl_vmf_vmf(q[0], q[1], p[0], p[1], n);
    if (qf == F::power_spherical && pf == F::hyperspherical_uniform) return g.kl_power_spherical_uniform(q[1], n);
    throw lowering_error(fmt::format("no closed-form KL({} ‖ {})", info(qf).name, info(pf).name));
  }

  // A GaussianMixture prior's parameters (θ), K components over R^n: means [n·K], N(0, 1)
  // draws from the seed so the components start spread out; scales softplus(s) [n·K] with
  // s = log(e − 1), so each starts at 1; weight logits [K] at 0, equal weights. Returns
  // the nodes {means, scales, logits} that the mixture ops take (runtime/ops/mixture.hpp).
  std::vector<int> mixture_params(const std::string& where, int n, int K) {
    rt::graph& g = out_.graph;
    const double softplus_inverse_of_1 = std::log(std::expm1(1.0));
    const int means = g.param_standard_normal(n * K, rt::param_group::theta, where + ".mixture.means");
    const int raw = g.param(n * K, softplus_inverse_of_1, rt::param_group::theta, where + ".mixture.scales");
    const int scales = g.unary(op_kind::softplus, raw);
    const int logits = g.param(K, 0, rt::param_group::theta, where + ".mixture.logits");
    g.set_label(scales, where + ".mixture.scales");
    return {means, scales, logits};
  }

  // A VampPrior's components (Tomczak & Welling 2018): K pseudo-inputs u_k, learned points
  // of the data space (θ, [D × K]), through q(z | x)'s own network — the same layers, the
  // same φ — in place of the data, once per step for all K. Returns the nodes of q's
  // distribution parameters at u, [· × K] each (or shared where they do not depend on x),
  // in q's family order with defaults filled (StudentT: df, loc, scale).
  std::vector<int> vamp_components(const checked_factor& pf, int K) {
    rt::graph& g = out_.graph;
    const checked_factor* qf = nullptr;
    for (const auto& f : m_.factors)
      if (f.side == 'q' && f.variable == pf.variable) qf = &f;
    if (!qf) throw lowering_error("a VampPrior without q");
    const variable& x = m_.variables[static_cast<std::size_t>(m_.data)];
    using init = rt::param_info::init_kind;
    const bool binary = x.type.kind == type_kind::binary;
    const int a = g.param_columns(x.type.size, K, binary ? init::training_examples_logit : init::training_examples,
                                  rt::param_group::theta, factor_text(m_, pf) + ".pseudo_inputs");
    int u = a;
    if (binary) u = g.unary(op_kind::sigmoid, a);
    if (x.type.kind == type_kind::sphere) u = g.normalize(a);
    g.set_label(u, fmt::format("pseudo-inputs of {}", factor_text(m_, pf)));
    const std::vector<int> saved = rt_;
    const int saved_layer = layer_;
    data_override_ = u;
    layer_ = 0;
    // q's layers are named after its block and numbered across the block's factors (as
    // lower_factor does), so the pass starts at the block's first node: in a joint block
    // q(s, g | x) that is the shared trunk, then the heads up to q(z | ·)'s own, whose
    // names then find the layers of the data pass. (The checker has refused a q that reads
    // an earlier sample of its block, so no sample is read here.)
    const checked_block& qb = m_.blocks[static_cast<std::size_t>(qf->block)];
    const std::string where = block_text(m_, qb);
    const auto first = static_cast<int>(g.nodes().size());
    for (int i = qb.first_node; i < qf->end_node; ++i) {
      const int r = rt_[static_cast<std::size_t>(i)] = lower_node(i, *qf, where);
      if (r >= first && g.nodes()[static_cast<std::size_t>(r)].label.empty()) g.set_label(r, where + " at the pseudo-inputs");
    }
    std::vector<int> ps;
    for (std::size_t k = 0; k < qf->dist.params.size(); ++k) ps.push_back(param_node(*qf, k));
    if (qf->dist.family == family_id::student_t) ps = {ps[0], arg(qf->dist.family, ps, 1), arg(qf->dist.family, ps, 2)};
    rt_ = saved;
    layer_ = saved_layer;
    data_override_ = -1;
    return ps;
  }

  static op_kind vamp_op(family_id q) {
    switch (q) {
      case family_id::normal: return op_kind::vamp_normal;
      case family_id::student_t: return op_kind::vamp_studentt;
      case family_id::von_mises_fisher: return op_kind::vamp_vmf;
      case family_id::power_spherical: return op_kind::vamp_power_spherical;
      default: throw lowering_error(fmt::format("a VampPrior of {} components", info(q).name));
    }
  }

  family_id q_family(int variable) const {
    for (const auto& f : m_.factors)
      if (f.side == 'q' && f.variable == variable) return f.dist.family;
    throw lowering_error("a latent without q");
  }

  void lower_factor(int fi) {
    const checked_factor& f = m_.factors[static_cast<std::size_t>(fi)];
    // Parameters are named after the block as written ("q(s, g | x).linear1"); the layers
    // of a joint block are numbered across its factors.
    const checked_block& b = m_.blocks[static_cast<std::size_t>(f.block)];
    const std::string where = block_text(m_, b);
    if (b.factors.front() == fi) layer_ = 0;
    for (int i = f.first_node; i < f.end_node; ++i) {
      rt_[static_cast<std::size_t>(i)] = lower_node(i, f, where);
      if (!out_.graph.nodes().empty()) {
        int r = rt_[static_cast<std::size_t>(i)];
        if (out_.graph.nodes()[static_cast<std::size_t>(r)].label.empty()) out_.graph.set_label(r, where);
      }
    }
    std::vector<int>& ps = dist_params_[static_cast<std::size_t>(fi)];
    for (std::size_t k = 0; k < f.dist.params.size(); ++k) ps.push_back(param_node(f, k));
    const variable& v = m_.variables[static_cast<std::size_t>(f.variable)];
    rt::graph& g = out_.graph;
    const int n = v.type.size;
    if (f.dist.family == family_id::gaussian_mixture) {
      if (f.side != 'p' || v.is_data) throw lowering_error(fmt::format("{}: GaussianMixture is a prior only", where));
      // In a joint block, each mixture prior's parameters carry its variable's name:
      // "p(a, b).a.mixture.means".
      ps = mixture_params(b.factors.size() > 1 ? fmt::format("{}.{}", where, v.name) : where, n,
                          static_cast<int>(m_.nodes[static_cast<std::size_t>(f.dist.params[0])].value));
    }
    if (f.dist.family == family_id::aggregate_posterior) {
      if (f.side != 'p' || v.is_data) throw lowering_error(fmt::format("{}: AggregatePosterior is a prior only", where));
      // Needed where the objective or prior draws are: not for the decoder alone, nor for q's locations.
      if (o_.latents == latent_source::inputs || o_.latents == latent_source::posterior_location) return;
      // The source run's components (figures/aggregate_prior.hpp): constants of the graph,
      // [rows × M] each, written once when a plan is built; no gradient reaches them.
      const fixed_mixture* fx = f.dist.fixed.get();
      if (!fx)
        throw lowering_error(fmt::format("{}: the AggregatePosterior's source run \"{}\" was not read", where, f.dist.path));
      components_[static_cast<std::size_t>(f.variable)] = fx->count;
      component_family_[static_cast<std::size_t>(f.variable)] = fx->family;
      ps.clear();
      for (std::size_t k = 0; k < fx->values.size(); ++k) {
        ps.push_back(g.constant_matrix(fx->values[k], fx->rows[k], fx->count));
        g.set_label(ps.back(), fmt::format("{}: {} components of {}", where, fx->count, fx->run));
      }
      if (o_.latents == latent_source::prior_draws) draw_from_components(f.variable, fx->family, ps, fx->count);
      return;
    }
    if (f.dist.family == family_id::vamp_prior) {
      if (f.side != 'p' || v.is_data) throw lowering_error(fmt::format("{}: VampPrior is a prior only", where));
      // Wherever q is lowered (so that every graph over q's parameters has the same layout,
      // as the trainer and vaec eval need) or p(z) is drawn from; not for the decoder alone.
      if (o_.latents == latent_source::inputs) return;
      const int K = static_cast<int>(m_.nodes[static_cast<std::size_t>(f.dist.params[0])].value);
      components_[static_cast<std::size_t>(f.variable)] = K;
      component_family_[static_cast<std::size_t>(f.variable)] = q_family(f.variable);
      ps = vamp_components(f, K);
      if (o_.latents == latent_source::prior_draws) draw_from_components(f.variable, q_family(f.variable), ps, K);
      return;
    }
    if (f.side == 'q') {
      const int loc = o_.latents == latent_source::posterior_location ? location(f.dist.family, ps, n) : -1;
      drawn_[static_cast<std::size_t>(f.variable)] = o_.latents == latent_source::posterior_location && loc < 0;
      sample_[static_cast<std::size_t>(f.variable)] = loc >= 0 ? loc : sample(f.dist.family, ps, n);
      g.set_label(sample_[static_cast<std::size_t>(f.variable)], fmt::format("{} {}", v.name, loc >= 0 ? "location" : "sample"));
      return;
    }
    if (!v.is_data) {
      // A prior: used by the KL pieces; or, generating, the source of the latent's draws.
      if (o_.latents == latent_source::prior_draws) {
        sample_[static_cast<std::size_t>(f.variable)] = sample(f.dist.family, ps, n);
        g.set_label(sample_[static_cast<std::size_t>(f.variable)], fmt::format("{} ~ p", v.name));
      }
      return;
    }
    if (f.dist.family == family_id::bernoulli || f.dist.family == family_id::continuous_bernoulli) {
      // probs = sigmoid(h) is exactly logits = h: the logits ops are exact at every finite
      // h, where σ(h) rounds to 0 or 1 beyond |h| ≈ 17 (float) or 37 (double).
      const int logits = sigmoid_argument(f.dist.params[1]);
      if (f.dist.params[0] < 0 && logits >= 0) {
        ps[0] = logits;
        ps[1] = -1;
      }
    }
    out_.likelihood = likelihood(f, ps, n);
    if (o_.latents != latent_source::posterior_draws) return;  // no objective: only the likelihood's parameters
    loglik_ = logpdf(f.dist.family, out_.data, ps, n);
    g.set_label(loglik_, fmt::format("log {}", where));
  }

  // z ~ p for an equal mixture of K members of `family` with parameters `ps` ([· × K] or
  // shared): a component k uniformly per draw, then z ~ that component.
  void draw_from_components(int var, family_id family, const std::vector<int>& ps, int K) {
    rt::graph& g = out_.graph;
    const int pick = g.pick_component(K);
    std::vector<int> picked;
    for (int p : ps)
      picked.push_back(g.nodes()[static_cast<std::size_t>(p)].ext == rt::extent::fixed ? g.gather_component(p, pick) : p);
    const variable& v = m_.variables[static_cast<std::size_t>(var)];
    sample_[static_cast<std::size_t>(var)] = sample(family, picked, v.type.size);
    g.set_label(sample_[static_cast<std::size_t>(var)], fmt::format("{} ~ p", v.name));
  }

  // log p(z) per column; a VampPrior's or an AggregatePosterior's is the log-sum-exp over its
  // components (q's family, or the source q*'s).
  int prior_logpdf(family_id pf, const variable& v, int z, const std::vector<int>& p) {
    const int n = v.type.size;
    if (pf != family_id::vamp_prior && pf != family_id::aggregate_posterior) return logpdf(pf, z, p, n);
    const auto var = static_cast<std::size_t>(&v - m_.variables.data());
    return out_.graph.vamp_logpdf(vamp_op(component_family_[var]), z, p, components_[var], n);
  }

  void objective() {
    rt::graph& g = out_.graph;
    rt::objective_spec spec;
    spec.loglik = loglik_;
    spec.iwae = o_.iwae || m_.settings.objective == objective_kind::iwae;
    for (const auto& lp : m_.latents) {
      const variable& v = m_.variables[static_cast<std::size_t>(lp.variable)];
      const checked_factor& qf = m_.factors[static_cast<std::size_t>(lp.q_factor)];
      const checked_factor& pf = m_.factors[static_cast<std::size_t>(lp.p_factor)];
      const auto& q = dist_params_[static_cast<std::size_t>(lp.q_factor)];
      const auto& p = dist_params_[static_cast<std::size_t>(lp.p_factor)];
      const int z = sample_[static_cast<std::size_t>(lp.variable)];
      const int n = v.type.size;
      rt::latent_term t;
      t.name = v.name;
      t.sample = z;
      kl_method method = spec.iwae ? kl_method::monte_carlo : lp.method;
      switch (method) {
        case kl_method::closed_form:
          t.method = rt::latent_term::kind::closed_form;
          t.kl = kl(qf.dist.family, q, pf.dist.family, p, n);
          g.set_label(t.kl, fmt::format("KL of {}", v.name));
          break;
        case kl_method::entropy_plus_mc:
          t.method = rt::latent_term::kind::entropy_plus_mc;
          t.entropy = entropy(qf.dist.family, q, n);
          t.logp = prior_logpdf(pf.dist.family, v, z, p);
          g.set_label(t.entropy, fmt::format("H[q({})]", v.name));
          g.set_label(t.logp, fmt::format("log p({})", v.name));
          break;
        case kl_method::monte_carlo:
        case kl_method::not_used:
          t.method = rt::latent_term::kind::monte_carlo;
          t.logq = logpdf(qf.dist.family, z, q, n);
          t.logp = prior_logpdf(pf.dist.family, v, z, p);
          g.set_label(t.logq, fmt::format("log q({})", v.name));
          g.set_label(t.logp, fmt::format("log p({})", v.name));
          break;
      }
      // KL(StudentT ‖ Normal) is +∞ where df ≤ 2 (the checker rejects a df that is always
      // ≤ 2 and warns when its range allows it): the objective watches df at run time.
      if (!spec.iwae && qf.dist.family == family_id::student_t && pf.dist.family == family_id::normal)
        t.heavy_tail_df = q[0];
      spec.latents.push_back(t);
    }
    g.objective(std::move(spec));
  }
};

}  // namespace

lowered_model lower(const checked_model& m, const lower_options& options) { return lowerer(m, options).run(); }

rt::model_binding bind(const lowered_model& low, const checked_model& m) {
  rt::model_binding b;
  b.g = &low.graph;
  b.data = low.data;
  b.latent_names = low.latent_names;
  const variable& x = m.variables[static_cast<std::size_t>(m.data)];
  b.data_width = x.type.size;
  b.data_binary = x.type.kind == type_kind::binary;
  for (const auto& f : m.factors)
    if (f.side == 'p' && f.variable == m.data) b.bernoulli_likelihood = f.dist.family == family_id::bernoulli;
  return b;
}

}  // namespace vaec
