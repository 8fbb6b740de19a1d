#include "lang/report.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vaec {

std::string group_thousands(std::int64_t n) {
  // The magnitude as unsigned: −INT64_MIN does not fit in an int64.
  const std::uint64_t magnitude = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  std::string digits = std::to_string(magnitude);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count > 0 && count % 3 == 0) out += ',';
    out += *it;
    ++count;
  }
  if (n < 0) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

std::string factor_text(const checked_model& m, const checked_factor& f) {
  std::string s = fmt::format("{}({}", f.side, m.variables[static_cast<std::size_t>(f.variable)].name);
  for (std::size_t i = 0; i < f.given.size(); ++i)
    s += (i == 0 ? " | " : ", ") + m.variables[static_cast<std::size_t>(f.given[i])].name;
  return s + ")";
}

std::string block_text(const checked_model& m, const checked_block& b) {
  std::string s = fmt::format("{}(", b.side);
  for (std::size_t i = 0; i < b.factors.size(); ++i) {
    const auto& f = m.factors[static_cast<std::size_t>(b.factors[i])];
    s += (i == 0 ? "" : ", ") + m.variables[static_cast<std::size_t>(f.variable)].name;
  }
  for (std::size_t i = 0; i < b.given.size(); ++i)
    s += (i == 0 ? " | " : ", ") + m.variables[static_cast<std::size_t>(b.given[i])].name;
  return s + ")";
}

namespace {

// "(784 values in [0, 1])"; for the data, how pictures will draw it as well.
std::string type_note(const var_type& t, bool is_data) {
  std::string what;
  switch (t.kind) {
    case type_kind::real: what = fmt::format("vectors in R^{}", t.size); break;
    case type_kind::binary: what = fmt::format("{} values in [0, 1]", t.size); break;
    case type_kind::sphere: what = fmt::format("unit vectors in R^{}, the sphere S^{}", t.size, t.size - 1); break;
  }
  if (is_data) what += fmt::format("; pictures: {}", picture_of(t).why);
  return fmt::format("({})", what);
}

std::string format_number(double x) { return fmt::format("{:g}", x); }

// Number of UTF-8 code points, for alignment.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, std::size_t w) { return s + std::string(w > width(s) ? w - width(s) : 0, ' '); }

}  // namespace

std::string aggregate_text(const checked_model& m, const checked_factor& f) {
  const auto count = f.dist.params.size() > 1 && f.dist.params[1] >= 0
                         ? static_cast<std::int64_t>(m.nodes[static_cast<std::size_t>(f.dist.params[1])].value)
                         : 0;
  const auto& fx = f.dist.fixed;
  if (!fx)
    return fmt::format("AggregatePosterior: fixed (neither θ nor φ), {} components from run \"{}\", not read yet",
                       group_thousands(count), f.dist.path);
  return fmt::format("AggregatePosterior: fixed (neither θ nor φ), {} components from run {}, checkpoint sha256 {}…, "
                     "{} = {}",
                     group_thousands(fx->count), fx->run, fx->checkpoint_sha256.substr(0, 12),
                     std::string("q*") + fx->q_text.substr(1), info(fx->family).name);
}

std::string describe(const checked_model& m) {
  std::string out = fmt::format("model {}\n", m.name);
  std::size_t const_width = 0;
  for (const auto& k : m.constants) const_width = std::max(const_width, width(k.name));
  for (const auto& k : m.constants)
    out += fmt::format("  const  {} = {:<8}  ({})\n", pad(k.name, const_width), fmt::format("{}", k.value), k.origin);
  std::size_t name_width = 0;
  for (const auto& v : m.variables) name_width = std::max(name_width, width(v.name));
  for (const auto& v : m.variables) {
    std::string decl = fmt::format("  {:<6} {} : {}", v.is_data ? "data" : "latent", pad(v.name, name_width), to_string(v.type));
    out += fmt::format("{}   {}\n", decl, type_note(v.type, v.is_data));
  }

  const std::string theta_label = "θ (generative model p):   ";
  const std::string phi_label = "φ (variational family q): ";
  for (char side : {'p', 'q'}) {
    std::vector<const checked_block*> bs;
    for (const auto& b : m.blocks)
      if (b.side == side) bs.push_back(&b);
    std::size_t text_width = 0, count_width = 0;
    std::int64_t total = 0;
    for (const auto* b : bs) {
      text_width = std::max(text_width, width(block_text(m, *b)));
      count_width = std::max(count_width, group_thousands(b->parameter_count).size());
      total += b->parameter_count;
    }
    count_width = std::max(count_width, group_thousands(total).size());
    const std::string& label = side == 'p' ? theta_label : phi_label;
    std::string indent(width(label), ' ');
    for (std::size_t i = 0; i < bs.size(); ++i) {
      const checked_block& b = *bs[i];
      std::string what;
      // A joint block: the factors it stands for.
      if (b.factors.size() > 1) {
        what += " (a joint block:";
        for (int fi : b.factors) what += " " + factor_text(m, m.factors[static_cast<std::size_t>(fi)]);
        what += ")";
      }
      // A mixture prior's parameters are created for it: say what they are.
      for (int fi : b.factors) {
        const checked_factor& f = m.factors[static_cast<std::size_t>(fi)];
        if (f.dist.family == family_id::gaussian_mixture && !f.dist.params.empty() && f.dist.params[0] >= 0) {
          const auto k = static_cast<std::int64_t>(m.nodes[static_cast<std::size_t>(f.dist.params[0])].value);
          const int n = m.variables[static_cast<std::size_t>(f.variable)].type.size;
          what += fmt::format(" ({}{} components: {} means, {} scales, {} weights)",
                              b.factors.size() > 1 ? factor_text(m, f) + ": " : "", k, group_thousands(k * n),
                              group_thousands(k * n), group_thousands(k));
        }
        // A VampPrior's only parameters are its pseudo-inputs; the network is q's, counted in φ.
        if (f.dist.family == family_id::vamp_prior && !f.dist.params.empty() && f.dist.params[0] >= 0) {
          const auto k = static_cast<std::int64_t>(m.nodes[static_cast<std::size_t>(f.dist.params[0])].value);
          std::string q = "q";
          for (const auto& g : m.factors)
            if (g.side == 'q' && g.variable == f.variable) q = factor_text(m, g);
          what += fmt::format(" ({}VampPrior: {} pseudo-inputs (θ, {} parameters) passed through {}'s network (φ, "
                              "shared, counted with q))",
                              b.factors.size() > 1 ? factor_text(m, f) + ": " : "", group_thousands(k),
                              group_thousands(f.parameter_count), q);
        }
        // An aggregate posterior has no parameters: its components are constants of the model.
        if (f.dist.family == family_id::aggregate_posterior) what += " (" + aggregate_text(m, f) + ")";
      }
      out += fmt::format("{}{}  {:>{}} parameters{}\n", i == 0 ? label : indent, pad(block_text(m, b), text_width),
                         group_thousands(b.parameter_count), count_width, what);
    }
    if (bs.size() > 1)
      out += fmt::format("{}{}  {:>{}} parameters\n", indent, pad("total", text_width), group_thousands(total), count_width);
  }

  // The objective.
  const auto& s = m.settings;
  const variable& data = m.variables[static_cast<std::size_t>(m.data)];
  const checked_factor* likelihood = nullptr;
  for (const auto& f : m.factors)
    if (f.side == 'p' && f.variable == m.data) likelihood = &f;
  if (s.objective == objective_kind::iwae) {
    out += fmt::format("objective: IWAE_K({0}) = E[log (1/K) Σ_k p({0}, z_k) / q(z_k | {0})], K = samples = {1}\n",
                       data.name, s.samples);
  } else {
    std::string line = fmt::format("objective: ELBO({}) = E_q[log {}]", data.name, factor_text(m, *likelihood));
    std::string beta = s.beta == 1 ? "" : "β·";
    for (const auto& lp : m.latents) {
      const auto& qf = m.factors[static_cast<std::size_t>(lp.q_factor)];
      const auto& pf = m.factors[static_cast<std::size_t>(lp.p_factor)];
      bool random = false;  // does the term depend on other latents' samples?
      for (int g : qf.given) random = random || g != m.data;
      random = random || !pf.given.empty();
      std::string term = lp.kl_is_analytic
                             ? fmt::format("KL({} ‖ {})", factor_text(m, qf), factor_text(m, pf))
                             : fmt::format("(log {} − log {})", factor_text(m, qf), factor_text(m, pf));
      if (random || !lp.kl_is_analytic) term = fmt::format("E_q[{}]", term);
      line += fmt::format(" − {}{}", beta, term);
    }
    out += line + "\n";
    if (s.beta != 1) out += fmt::format("  β = {}\n", format_number(s.beta));
  }
  for (const auto& lp : m.latents) {
    const auto& v = m.variables[static_cast<std::size_t>(lp.variable)];
    const auto& qf = m.factors[static_cast<std::size_t>(lp.q_factor)];
    const auto& pf = m.factors[static_cast<std::size_t>(lp.p_factor)];
    std::string pair = fmt::format("KL({} ‖ {})", info(qf.dist.family).name, info(pf.dist.family).name);
    std::string how(to_string(lp.method));
    if (!lp.method_reason.empty()) how += fmt::format(" ({})", lp.method_reason);
    out += fmt::format("  {}: {}: {}\n", v.name, pair, how);
    out += fmt::format("  {}: {}\n", v.name, lp.gradient);
    for (const auto* f : {&qf, &pf}) {
      const checked_block& b = m.blocks[static_cast<std::size_t>(f->block)];
      if (b.factors.size() > 1)
        out += fmt::format("  {}: {} is a factor of the joint block {}\n", v.name, factor_text(m, *f), block_text(m, b));
    }
    if (pf.dist.family == family_id::aggregate_posterior)
      out += fmt::format("  {}: p({}) = (1/M) Σ_m q*({} | x_m): q* the source run's encoder at its final checkpoint, x_m "
                         "M of its training examples chosen with this run's seed; computed once, constants (no "
                         "gradient, not in Adam)\n",
                         v.name, v.name, v.name);
    if (pf.dist.family == family_id::vamp_prior) {
      const variable& x = m.variables[static_cast<std::size_t>(m.data)];
      std::string support;
      switch (x.type.kind) {
        case type_kind::binary:
          support = "u_k = sigmoid(a_k), in [0, 1] as the data, a_k starting at the logits of 0.02 + 0.96·x";
          break;
        case type_kind::sphere: support = "u_k = normalize(a_k), unit vectors as the data, a_k starting at x"; break;
        case type_kind::real: support = "u_k = a_k, starting at x"; break;
      }
      out += fmt::format("  {}: pseudo-inputs: {} for K training examples x chosen with the seed; the gradient of "
                         "log p({}) reaches both them (θ) and {}'s network (φ)\n",
                         v.name, support, v.name, factor_text(m, qf));
    }
  }

  std::string extras;
  if (s.kl_warmup > 0) extras += fmt::format(", kl_warmup {}", format_number(s.kl_warmup));
  if (s.kl_cycle > 0) extras += fmt::format(", kl_cycle {}", s.kl_cycle);
  if (s.free_bits > 0) extras += fmt::format(", free_bits {}", format_number(s.free_bits));
  if (s.binarize != binarize_mode::none)
    extras += fmt::format(", binarize {}", s.binarize == binarize_mode::dynamic ? "dynamic" : "static");
  if (s.early_stopping > 0) extras += fmt::format(", early_stopping {}", s.early_stopping);
  if (s.precision == product_precision::bf16) extras += ", precision bf16";
  out += fmt::format(
      "train: epochs {}, batch {}, adam(lr = {}, beta1 = {}, beta2 = {}, eps = {}), samples {}, kl {}, "
      "eval_samples {}, seed {}{}\n",
      s.epochs, s.batch, format_number(s.lr), format_number(s.beta1), format_number(s.beta2), format_number(s.eps),
      s.samples, s.kl == kl_choice::best ? "best" : "mc", s.eval_samples, s.seed, extras);
  return out;
}

}  // namespace vaec
