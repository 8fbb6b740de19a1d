// The objective: the negative ELBO (or IWAE bound) averaged over the batch, from the
// per-column log-likelihood and each latent's KL pieces. Its forward also fills the
// batch metrics; its backward seeds every piece's gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

struct op_objective {
  // A piece's value at sample column c ∈ [0, B·S) whatever its extent: a shared piece
  // ([1 × 1]) is the same in every column, a per-example one ([1 × B]) the same in every
  // sample block (column s·B + b reads column b), a per-sample one ([1 × B·S]) its own.
  template <class T>
  static double column(const tensor<T>& piece, int c) {
    return static_cast<double>(piece.data[c % piece.cols]);
  }

  // Mean over the S sample blocks of a piece of any extent, per example, added into
  // out[b]·sign (out has B entries, S = samples of the plan).
  template <class T>
  static void add_per_example(const tensor<T>& piece, int B, int S, double sign, std::vector<double>& out) {
    for (int b = 0; b < B; ++b) {
      double s = 0;
      for (int k = 0; k < S; ++k) s += column(piece, k * B + b);
      out[static_cast<std::size_t>(b)] += sign * s / S;
    }
  }

  template <class T>
  static double mean(const tensor<T>& piece) {
    double s = 0;
    for (std::size_t i = 0, n = piece.size(); i < n; ++i) s += piece.data[i];
    return s / static_cast<double>(piece.size());
  }

  // The node index of each piece's slot, in input order.
  static int slot_of(const node& nd, int input) {
    for (std::size_t i = 0; i < nd.inputs.size(); ++i)
      if (nd.inputs[i] == input) return static_cast<int>(i);
    return -1;
  }

  // ex.column_loss (when gradients are on): for each sample column, the part of the loss
  // that its draws affect — ELBO: its own terms with their weights in the loss; IWAE: its
  // example's share of −bound — less a leave-one-out baseline (the mean over the other
  // examples' columns, which do not depend on this column's draws, so the score-function
  // correction stays unbiased and its variance drops).
  template <class T>
  static void column_losses(exec<T>& ex, const objective_spec& spec) {
    auto& out = ex.column_loss;
    if (out.empty()) return;
    const int B = ex.batch, C = static_cast<int>(out.size());
    std::fill(out.begin(), out.end(), 0.0);
    if (spec.iwae) {
      for (int c = 0; c < C; ++c) out[static_cast<std::size_t>(c)] = -ex.per_example[static_cast<std::size_t>(c % B)] / B;
    } else {
      auto add = [&](int node, double coefficient) {
        if (node < 0) return;
        if (ex.n(node).ext != extent::sample) return;  // shared or per example: no column's draws affect it
        const tensor<T>& t = ex.val[static_cast<std::size_t>(node)];
        for (int c = 0; c < C; ++c) out[static_cast<std::size_t>(c)] += coefficient * static_cast<double>(t.data[c]) / C;
      };
      add(spec.loglik, -1.0);
      for (std::size_t j = 0; j < spec.latents.size(); ++j) {
        const latent_term& l = spec.latents[j];
        double k = ex.settings.beta;
        if (ex.settings.free_bits > 0 && ex.result.kl[j] < ex.settings.free_bits) k = 0;
        add(l.kl, k);
        add(l.entropy, -k);
        add(l.logp, -k);
        add(l.logq, k);
      }
    }
    // Leave-one-out baseline over the other examples (columns c with c mod B ≠ b).
    if (B < 2) return;
    double total = 0;
    for (double v : out) total += v;
    const int S = C / B;
    for (int b = 0; b < B; ++b) {
      double own = 0;
      for (int s = 0; s < S; ++s) own += out[static_cast<std::size_t>(s * B + b)];
      const double baseline = (total - own) / (C - S);
      for (int s = 0; s < S; ++s) out[static_cast<std::size_t>(s * B + b)] -= baseline;
    }
  }

  template <class T>
  static void forward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const objective_spec& spec = nd.objective;
    const int B = ex.batch;
    objective_result& r = ex.result;
    r.finite = true;
    r.nonfinite_term.clear();
    const tensor<T>& ll = ex.val[static_cast<std::size_t>(spec.loglik)];
    auto& per = ex.per_example;
    std::fill(per.begin(), per.end(), 0.0);

    if (spec.iwae) {
      // log w = log p(x|z) + Σ_j log p(z_j) − log q(z_j) per sample column; each piece is
      // read at the column's shape (a piece constant over samples, examples or both
      // enters every column it covers); bound_b = logsumexp_s log w − log S.
      tensor<T> logw = ex.aux[static_cast<std::size_t>(self)];
      const int C = logw.cols;
      for (int c = 0; c < C; ++c) logw.data[c] = static_cast<T>(column(ll, c));
      r.recon = mean(ll);
      for (std::size_t j = 0; j < spec.latents.size(); ++j) {
        const latent_term& l = spec.latents[j];
        const tensor<T>& lp = ex.val[static_cast<std::size_t>(l.logp)];
        const tensor<T>& lq = ex.val[static_cast<std::size_t>(l.logq)];
        for (int c = 0; c < C; ++c) logw.data[c] += static_cast<T>(column(lp, c) - column(lq, c));
        r.kl[j] = mean(lq) - mean(lp);
      }
      const int S = logw.cols / B;
      double total = 0;
      for (int b = 0; b < B; ++b) {
        double m = -INFINITY;
        for (int s = 0; s < S; ++s) m = std::max(m, static_cast<double>(logw.data[s * B + b]));
        double sum = 0;
        for (int s = 0; s < S; ++s) sum += std::exp(static_cast<double>(logw.data[s * B + b]) - m);
        per[static_cast<std::size_t>(b)] = m + std::log(sum) - std::log(static_cast<double>(S));
        total += per[static_cast<std::size_t>(b)];
      }
      r.iwae = total / B;
      r.loss = -r.iwae;
      r.elbo = mean(logw);
    } else {
      add_per_example(ll, B, ex.samples, 1.0, per);
      r.recon = mean(ll);
      r.loss = -r.recon;
      r.elbo = r.recon;
      for (std::size_t j = 0; j < spec.latents.size(); ++j) {
        const latent_term& l = spec.latents[j];
        double kl = 0;
        auto piece = [&](int node, double sign) {
          const tensor<T>& t = ex.val[static_cast<std::size_t>(node)];
          add_per_example(t, B, ex.samples, -sign, per);
          kl += sign * mean(t);
        };
        switch (l.method) {
          case latent_term::kind::closed_form: piece(l.kl, 1); break;
          case latent_term::kind::entropy_plus_mc: piece(l.entropy, -1); piece(l.logp, -1); break;
          case latent_term::kind::monte_carlo: piece(l.logq, 1); piece(l.logp, -1); break;
        }
        r.kl[j] = kl;
        r.elbo -= kl;
        r.loss += ex.settings.beta * (ex.settings.free_bits > 0 ? std::max(kl, ex.settings.free_bits) : kl);
      }
    }
    r.cause = objective_result::cause_kind::none;
    r.reason.clear();
    heavy_tails(ex, spec);
    column_losses(ex, spec);
    if (!std::isfinite(r.recon)) {
      r.finite = false;
      r.nonfinite_term = "log p(x | z)";
    }
    for (std::size_t j = 0; j < spec.latents.size() && r.finite; ++j)
      if (!std::isfinite(r.kl[j])) {
        r.finite = false;
        r.nonfinite_term = "the KL term of '" + spec.latents[j].name + "'";
      }
    if (r.finite && !std::isfinite(r.loss)) {
      r.finite = false;
      r.nonfinite_term = "the objective";
    }
    if (!r.finite && r.cause == objective_result::cause_kind::none) {
      std::string why = overflowed_draws(ex, spec);
      if (!why.empty()) {
        r.cause = objective_result::cause_kind::sample_overflow;
        r.reason = std::move(why);
      }
    }
    if (!r.finite && r.cause == objective_result::cause_kind::none) r.cause = objective_result::cause_kind::numerical;
  }

  // A term that is not finite because a latent's Student-t draws are too large for T: the
  // tail of a Student-t at small df falls only as |t|^−df, so exact draws beyond √max(T)
  // (1.8e19 in float) overflow when squared and those beyond max(T) are ±∞ — no learning
  // rate changes that. Sets cause sample_overflow and a reason naming the latent, how many
  // draws, the smallest df and the fix; returns that reason, or "" when no draw is that
  // large. Also asked by plan::overflowed_draws when a gradient is not finite.
  template <class T>
  static std::string overflowed_draws(const exec<T>& ex, const objective_spec& spec) {
    const double largest = static_cast<double>(std::numeric_limits<T>::max());
    const double root = std::sqrt(largest);
    for (const latent_term& l : spec.latents) {
      if (l.sample < 0 || ex.n(l.sample).op != op_kind::sample_studentt) continue;
      // The standardized draw t (z = loc + scale·t) decides, not z: a z made large by a
      // diverging scale is a numerical cause. aux holds log|t| in rows [2n, 3n) of each column.
      const tensor<T>& z = ex.val[static_cast<std::size_t>(l.sample)];
      const tensor<T>& aux = ex.aux[static_cast<std::size_t>(l.sample)];
      const int n = z.rows;
      const std::size_t total = static_cast<std::size_t>(n) * static_cast<std::size_t>(z.cols);
      std::size_t large = 0, infinite = 0;
      for (int j = 0; j < z.cols; ++j)
        for (int i = 0; i < n; ++i) {
          const double log_t = static_cast<double>(
              aux.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(3 * n) + static_cast<std::size_t>(2 * n + i)]);
          if (!(log_t > std::log(root))) continue;
          ++large;
          infinite += std::isinf(z.data[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)]) ? 1 : 0;
        }
      if (large == 0) continue;
      const tensor<T>& df = ex.in(l.sample, 0);
      double lowest = INFINITY;
      for (std::size_t i = 0; i < static_cast<std::size_t>(df.rows) * static_cast<std::size_t>(df.cols); ++i)
        lowest = std::min(lowest, static_cast<double>(df.data[i]));
      auto sci = [](double v) {  // 1.8e19, 3.4e38
        std::string t = fmt::format("{:.2g}", v);
        const auto e = t.find("e+");
        return e == std::string::npos ? t : t.replace(e, 2, "e");
      };
      const char* precision = sizeof(T) == 4 ? "float32" : "float64";
      return fmt::format(
          "{} of the {} draws of '{}' from q (a Student-t, df as low as {}) {} {} in magnitude, where {} "
          "overflows when squaring them{}: a Student-t's tail falls only as |t|^-df, so these are exact draws, and "
          "the arithmetic on them overflows; keep df at 0.5 or above (e.g. df = 0.5 + softplus(...)), where "
          "fewer than 2 draws in 10^10 exceed 1.8e19",
          large, total, l.name, fmt_number(lowest), large == 1 ? "exceeds" : "exceed", sci(root), precision,
          infinite == 0 ? std::string()
                        : fmt::format(", and {} {} its largest value ({}) and {} ±infinity", infinite,
                                      infinite == 1 ? "exceeds" : "exceed", sci(largest), infinite == 1 ? "is" : "are"));
    }
    return {};
  }

  // KL(StudentT(ν) ‖ p) with p Normal-tailed is +∞ where ν ≤ 2, whatever estimates it (its
  // Monte Carlo estimate is finite but meaningless): the latent's KL, the loss and the
  // ELBO of each example whose df is ≤ 2 become +∞ / −∞, and the cause says why.
  template <class T>
  static void heavy_tails(exec<T>& ex, const objective_spec& spec) {
    objective_result& r = ex.result;
    const int B = ex.batch;
    for (std::size_t j = 0; j < spec.latents.size(); ++j) {
      const latent_term& l = spec.latents[j];
      if (l.heavy_tail_df < 0) continue;
      const tensor<T>& df = ex.val[static_cast<std::size_t>(l.heavy_tail_df)];
      double lowest = INFINITY;
      for (int c = 0; c < df.cols; ++c) {
        bool infinite = false;
        for (int i = 0; i < df.rows; ++i) {
          const double nu = static_cast<double>(df.data[static_cast<std::size_t>(c) * static_cast<std::size_t>(df.rows) + static_cast<std::size_t>(i)]);
          if (nu <= 2) infinite = true;
          lowest = std::min(lowest, nu);
        }
        if (!infinite) continue;
        // The examples this column of df belongs to (all of them for a shared df).
        for (int b = 0; b < B; ++b)
          if (df.cols == 1 || b == c % B) ex.per_example[static_cast<std::size_t>(b)] = -INFINITY;
      }
      if (!(lowest <= 2)) continue;
      r.kl[j] = INFINITY;
      r.elbo = -INFINITY;
      if (!spec.iwae) r.loss = INFINITY;
      if (r.cause != objective_result::cause_kind::infinite_kl) {
        r.cause = objective_result::cause_kind::infinite_kl;
        r.reason = "KL(StudentT ‖ Normal) of '" + l.name + "' is +infinity: df reached " + fmt_number(lowest) +
                   ", and a Student-t with df ≤ 2 has no finite second moment; bound df above 2 "
                   "(df = 2 + softplus(...)), or use a StudentT prior";
      }
    }
  }

  static std::string fmt_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }

  template <class T>
  static void backward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const objective_spec& spec = nd.objective;
    const int B = ex.batch;
    // Each piece's value is averaged over its columns in the loss.
    auto seed = [&](int node, double coefficient) {
      if (node < 0) return;
      const tensor<T>& t = ex.val[static_cast<std::size_t>(node)];
      give(ex, self, slot_of(nd, node),
           Eigen::Array<T, 1, Eigen::Dynamic>::Constant(1, t.cols, static_cast<T>(coefficient / t.cols)));
    };
    if (spec.iwae) {
      // d(−bound_b)/d log w_{s,b} = −softmax_s(log w)_{s,b};  the loss averages over b.
      const tensor<T>& logw = ex.aux[static_cast<std::size_t>(self)];
      // The weights live in the scratch buffer's second row: give() reshapes a gradient in
      // its first row when an input has fewer columns (a piece constant over samples or
      // examples), which must not overwrite them.
      tensor<T> w = ex.scratch[static_cast<std::size_t>(self)];
      w.rows = 1;
      w.cols = logw.cols;
      w.data += w.cols;
      const int S = logw.cols / B;
      const double logS = std::log(static_cast<double>(S));
      for (int s = 0; s < S; ++s)
        for (int b = 0; b < B; ++b) {
          double lse = ex.per_example[static_cast<std::size_t>(b)] + logS;
          w.data[s * B + b] = static_cast<T>(-std::exp(static_cast<double>(logw.data[s * B + b]) - lse) / B);
        }
      give(ex, self, slot_of(nd, spec.loglik), w.a());
      for (const latent_term& l : spec.latents) {
        give(ex, self, slot_of(nd, l.logp), w.a());
        give(ex, self, slot_of(nd, l.logq), -w.a());
      }
      return;
    }
    seed(spec.loglik, -1.0);
    for (std::size_t j = 0; j < spec.latents.size(); ++j) {
      const latent_term& l = spec.latents[j];
      double c = ex.settings.beta;
      if (ex.settings.free_bits > 0 && ex.result.kl[j] < ex.settings.free_bits) c = 0;  // under the free nats
      switch (l.method) {
        case latent_term::kind::closed_form: seed(l.kl, c); break;
        case latent_term::kind::entropy_plus_mc: seed(l.entropy, -c); seed(l.logp, -c); break;
        case latent_term::kind::monte_carlo: seed(l.logq, c); seed(l.logp, -c); break;
      }
    }
  }
};

}  // namespace vaec::rt
