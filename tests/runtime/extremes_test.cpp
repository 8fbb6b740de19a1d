// Estimators and families at their extremes (issue 9), each against a value computed by
// hand or from closed forms with Boost.Math's digamma and trigamma:
//   - Bernoulli(probs = sigmoid(h)) is exact at every h (it is lowered as logits h):
//     log p(x | h) = x·h − softplus(h), d/dh = x − σ(h); at h = 17, x = 0: −17.0000000414;
//   - Student-t with a huge df (1e39 … 1e300, and +∞ as a float constant of 1e39 becomes)
//     is the Normal in every op, sampler and KL path, as prior, posterior and likelihood:
//     KL(N(0, 0.001²) ‖ N(0, 1)) = −log 0.001 + 0.001²/2 − ½ = 6.4077558;
//   - an infinite KL(StudentT(ν ≤ 2) ‖ Normal) is +∞ (never NaN) in the op, and the
//     objective stops on it with the cause;
//   - Student-t draws at small df: 1 + T²/ν = 1/B with B ~ Beta(ν/2, ½), so
//     E[log(1 + T²/ν)] = ψ((ν+1)/2) − ψ(ν/2) and Var = ψ′(ν/2) − ψ′((ν+1)/2); and
//     KL(q ‖ q) = 0 on the default path (closed-form entropy + Monte Carlo cross-entropy),
//     each within 4 standard errors, at df ∈ {1e-3, 0.01, 0.05, 0.2, 1}, in double and float;
//   - exact draws beyond what float holds (|t| > 1.8e19, whose square overflows) stop the
//     objective with a cause that names them, not the learning rate.
#include <boost/test/unit_test.hpp>

#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <vector>

#include "lang/lower.hpp"
#include "runtime/graph.hpp"
#include "runtime/ops/bernoulli.hpp"
#include "runtime/plan.hpp"
#include "tests/lang/test_util.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

// A model compiled through the language, run once on data rows that are all `value`.
template <class T>
struct model_run {
  std::unique_ptr<vaec::test::run_result> parsed;
  vaec::lowered_model low;
  std::unique_ptr<rt::parameters<T>> params;
  std::unique_ptr<rt::plan<T>> plan;
  rt::objective_result result;
};

template <class T>
model_run<T> run_model(const std::string& text, double value, int B = 64, int S = 1, bool backward = false) {
  model_run<T> m;
  m.parsed = std::make_unique<vaec::test::run_result>(vaec::test::run(text, "model.vae"));
  BOOST_REQUIRE_MESSAGE(m.parsed->model, m.parsed->rendered);
  m.low = vaec::lower(*m.parsed->model);
  m.params = std::make_unique<rt::parameters<T>>(m.low.graph);
  m.params->initialize(1);
  m.plan = std::make_unique<rt::plan<T>>(m.low.graph, *m.params, B, S, backward);
  auto in = m.plan->input(m.low.data);
  for (std::size_t i = 0; i < in.size(); ++i) in.data[i] = static_cast<T>(value);
  rt::rng noise(11, rt::stream::noise, 0);
  m.plan->forward(noise);
  if (backward) m.plan->backward();
  m.result = m.plan->result();
  return m;
}

double softplus(double h) { return std::max(h, 0.0) + std::log1p(std::exp(-std::fabs(h))); }
double sigmoid(double h) { return h >= 0 ? 1 / (1 + std::exp(-h)) : std::exp(h) / (1 + std::exp(h)); }

const double kl_normal_limit = -std::log(0.001) + 0.5e-6 - 0.5;  // 6.4077558

}  // namespace

BOOST_AUTO_TEST_SUITE(extremes)

// ---- Bernoulli(probs = ·) ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bernoulli_probs_sigmoid_is_exact) {
  BOOST_TEST(std::fabs(-softplus(17) - -17.0000000414) < 1e-10);  // the value, by hand
  for (double h : {-800.0, -17.0, 10.0, 17.0, 800.0})
    for (double x : {0.0, 1.0})
      for (int form = 0; form < 2; ++form) {
        // σ(h), and 1 − σ(−h) = σ(h) with the parameter at −h.
        const std::string probs = form == 0 ? fmt::format("sigmoid(param(1, init = {}))", h)
                                            : fmt::format("1 - sigmoid(param(1, init = {}))", -h);
        const std::string text = "data x : binary[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
                                 "p(x | z) { x ~ Bernoulli(probs = " + probs + ") }\n"
                                 "q(z | x) { z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }\n";
        BOOST_TEST_CONTEXT("h = " << h << ", x = " << x << ", probs = " << probs) {
          const double exact = x * h - softplus(h), dexact = x - sigmoid(h);
          // Training runs in float: the value to float precision, never clamped.
          auto f = run_model<float>(text, x, 8, 1, true);
          BOOST_TEST(f.parsed->rendered.find("probs of Bernoulli is evaluated") == std::string::npos, f.parsed->rendered);
          BOOST_TEST(std::fabs(f.result.recon - exact) <= 1e-6 * (1 + std::fabs(exact)), f.result.recon << " vs " << exact);
          auto d = run_model<double>(text, x, 8, 1, true);
          BOOST_TEST(std::fabs(d.result.recon - exact) <= 1e-13 * (1 + std::fabs(exact)), d.result.recon << " vs " << exact);
          // The loss is −recon (KL(q ‖ p) = 0 does not depend on h): d loss/d param = ∓(x − σ(h)).
          const auto& g = d.low.graph;
          std::size_t k = 0;
          for (; k < g.params().size(); ++k)
            if (g.params()[k].name.find("param") != std::string::npos) break;
          BOOST_REQUIRE(k < g.params().size());
          const double sign = form == 1 ? -1.0 : 1.0;  // 1 − σ(−h) = σ(h): d/d(−h)
          const double got = -d.params->grads[g.params()[k].offset] * sign;
          BOOST_TEST(std::fabs(got - dexact) <= 1e-14 + 1e-12 * std::fabs(dexact), "gradient " << got << " vs " << dexact);
        }
      }
}

BOOST_AUTO_TEST_CASE(bernoulli_probs_other_forms_are_exact_where_representable_and_stated) {
  // probs = exp(−softplus(a)): not a sigmoid, so evaluated from the probability itself —
  // exact down to e^−690 in double, where the old clamp at −100 cut it off; check says so.
  for (double a : {-23.0, 0.0, 50.0, 690.0})
    for (double x : {0.0, 1.0}) {
      const std::string text = fmt::format("data x : binary[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
                                           "p(x | z) {{ x ~ Bernoulli(probs = exp(-softplus(param(1, init = {})))) }}\n"
                                           "q(z | x) {{ z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }}\n",
                                           a);
      const double lp = -softplus(a);
      BOOST_TEST_CONTEXT("log p = " << lp << ", x = " << x) {
        auto d = run_model<double>(text, x, 4);
        BOOST_TEST(d.parsed->rendered.find("warning: probs of Bernoulli is evaluated") != std::string::npos,
                   d.parsed->rendered);
        const double exact = x == 1 ? lp : std::log1p(-std::exp(lp));
        // p itself is exact to half an ulp: log p to 1.2e-16 absolute near p = 1.
        BOOST_TEST(std::fabs(d.result.recon - exact) <= 2e-16 + 1e-13 * std::fabs(exact), d.result.recon << " vs " << exact);
      }
    }
}

// ---- Student-t at huge df: the Normal limit everywhere ---------------------------------------

BOOST_AUTO_TEST_CASE(studentt_huge_df_is_the_normal_limit) {
  BOOST_TEST(std::fabs(kl_normal_limit - 6.4077558) < 5e-8);
  for (const char* df : {"1e39", "1e100", "1e300"}) {
    BOOST_TEST_CONTEXT("df = " << df) {
      // As the prior, against a Normal posterior: entropy of q + Monte Carlo cross-entropy.
      const std::string prior = fmt::format(
          "data x : real[1]\nlatent z : real[1]\np(z) = StudentT(df = {}, loc = 0, scale = 1)\n"
          "p(x | z) {{ x ~ Normal(loc = linear(z, 1), scale = 1) }}\n"
          "q(z | x) {{ z ~ Normal(loc = 0 * linear(x, 1), scale = 0.001) }}\n", df);
      // As the posterior, against a Normal prior: the closed form, and Monte Carlo.
      const std::string post = fmt::format(
          "data x : real[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
          "p(x | z) {{ x ~ Normal(loc = linear(z, 1), scale = 1) }}\n"
          "q(z | x) {{ z ~ StudentT(df = {}, loc = 0 * linear(x, 1), scale = 0.001) }}\n", df);
      for (int pass = 0; pass < 2; ++pass) {
        auto check = [&](const rt::objective_result& r, double tol, const char* what) {
          BOOST_TEST(r.finite, what << ": " << r.nonfinite_term);
          BOOST_TEST(std::fabs(r.kl[0] - kl_normal_limit) < tol, what << ": KL " << r.kl[0]);
        };
        // The Monte Carlo part is E[z²]/2 with z ~ N(0, 0.001²): its error is ~1e-7.
        if (pass == 0) {
          check(run_model<float>(prior, 0.0, 256, 4, true).result, 1e-4, "prior, float");
          check(run_model<double>(prior, 0.0, 256, 4, true).result, 1e-6, "prior, double");
          check(run_model<float>(post, 0.0, 64, 1, true).result, 1e-5, "posterior closed form, float");
          check(run_model<double>(post, 0.0, 64, 1, true).result, 1e-12, "posterior closed form, double");
        } else {
          // log q − log p per draw: its standard error is √(½/1024) = 0.022.
          check(run_model<float>(post + "train { kl = mc }\n", 0.0, 256, 4, true).result, 0.1, "posterior MC, float");
          check(run_model<double>(post + "train { kl = mc }\n", 0.0, 256, 4, true).result, 0.1, "posterior MC, double");
        }
      }
      // As the likelihood: log N(0.5; 0, 1).
      const std::string lik = fmt::format(
          "data x : real[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
          "p(x | z) {{ x ~ StudentT(df = {}, loc = 0 * linear(z, 1), scale = 1) }}\n"
          "q(z | x) {{ z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }}\n", df);
      const double exact = -0.5 * std::log(2 * M_PI) - 0.125;
      auto lf = run_model<float>(lik, 0.5, 16, 1, true);
      BOOST_TEST(std::fabs(lf.result.recon - exact) < 1e-6, "likelihood, float: " << lf.result.recon);
      auto ld = run_model<double>(lik, 0.5, 16, 1, true);
      BOOST_TEST(std::fabs(ld.result.recon - exact) < 1e-13, "likelihood, double: " << ld.result.recon);
    }
  }
}

// The sampler at df = ∞ (and 1e300) draws standard Normals: mean 0, variance 1, kurtosis 3.
BOOST_AUTO_TEST_CASE(studentt_sampler_huge_df_draws_normals) {
  for (double df : {3e8, 1e39, 1e300, static_cast<double>(INFINITY)}) {
    rt::graph g;
    int z = g.sample_studentt(g.constant(df), g.constant(0), g.constant(1), 1);
    rt::parameters<double> params(g);
    rt::plan<double> p(g, params, 100000, 1, false);
    rt::rng noise(5, rt::stream::noise, 0);
    p.forward(noise);
    auto v = p.value(z);
    double m1 = 0, m2 = 0, m4 = 0;
    const double N = static_cast<double>(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      m1 += v.data[i] / N;
      m2 += v.data[i] * v.data[i] / N;
      m4 += std::pow(v.data[i], 4) / N;
    }
    BOOST_TEST_CONTEXT("df = " << df) {
      BOOST_TEST(std::fabs(m1) < 4 / std::sqrt(N));
      BOOST_TEST(std::fabs(m2 - 1) < 4 * std::sqrt(2 / N));
      BOOST_TEST(std::fabs(m4 - 3) < 4 * std::sqrt(96 / N));
    }
  }
}

// ---- infinite KL -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(kl_studentt_normal_is_infinite_for_df_at_most_2) {
  for (double df : {1e-3, 0.5, 1.0, 2.0, 2.0 + 1e-9, 3.0}) {
    rt::graph g;
    int kl = g.kl_studentt_normal(g.constant(df), g.constant(0.3), g.constant(1.5), g.constant(0), g.constant(1), 2);
    rt::parameters<double> params(g);
    rt::plan<double> p(g, params, 3, 1, false);
    rt::rng noise(5, rt::stream::noise, 0);
    p.forward(noise);
    const double v = p.value(kl).data[0];
    BOOST_TEST_CONTEXT("df = " << df) {
      BOOST_TEST(!std::isnan(v));
      if (df <= 2) BOOST_TEST(v == INFINITY);
      else BOOST_TEST(std::isfinite(v));
    }
  }
}

// df = softplus(param) + 1: the check cannot decide (it warns); at run time df = 1.31 ≤ 2
// and the objective stops with the cause and the fix, on every KL path.
BOOST_AUTO_TEST_CASE(infinite_kl_stops_at_run_time_with_its_cause) {
  const std::string text =
      "data x : real[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
      "p(x | z) { x ~ Normal(loc = linear(z, 1), scale = 1) }\n"
      "q(z | x) { z ~ StudentT(df = softplus(param(1, init = -1)) + 1, loc = linear(x, 1), scale = 1) }\n";
  for (const char* extra : {"", "train { kl = mc }\n"}) {
    BOOST_TEST_CONTEXT("extra: " << extra) {
      auto m = run_model<float>(text + extra, 0.0, 32);
      BOOST_TEST(m.parsed->rendered.find("warning: KL(StudentT ‖ Normal) of 'z' is +infinity wherever df ≤ 2") !=
                 std::string::npos, m.parsed->rendered);
      BOOST_TEST(!m.result.finite);
      BOOST_TEST(m.result.kl[0] == INFINITY);
      BOOST_TEST((m.result.cause == rt::objective_result::cause_kind::infinite_kl));
      BOOST_TEST(m.result.reason.find("df reached 1.31") != std::string::npos, m.result.reason);
      BOOST_TEST(m.result.reason.find("2 + softplus") != std::string::npos, m.result.reason);
    }
  }
  // With df above 2 at run time, the same model runs.
  auto ok = run_model<float>(
      "data x : real[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
      "p(x | z) { x ~ Normal(loc = linear(z, 1), scale = 1) }\n"
      "q(z | x) { z ~ StudentT(df = softplus(param(1, init = 3)) + 1, loc = linear(x, 1), scale = 1) }\n", 0.0, 32);
  BOOST_TEST(ok.result.finite);
  BOOST_TEST((ok.result.cause == rt::objective_result::cause_kind::none));
}

// A NaN from the arithmetic is a numerical cause (advice about learning rates fits it).
BOOST_AUTO_TEST_CASE(numerical_nonfinite_has_numerical_cause) {
  auto m = run_model<double>("data x : real[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
                             "p(x | z) { x ~ Normal(loc = log(0 * linear(z, 1)), scale = 1) }\n"
                             "q(z | x) { z ~ Normal(loc = linear(x, 1), scale = 1) }\n", 0.0, 4);
  BOOST_TEST(!m.result.finite);
  BOOST_TEST((m.result.cause == rt::objective_result::cause_kind::numerical));
}

// ---- Student-t draws at small df -------------------------------------------------------------

// The moments of log(1 + t²/ν) and KL(q ‖ q) from the draws, in T. In float about 1% of the
// draws at df 0.05 (and most at 1e-3) are ±∞ as values: their log-density is still exact,
// from the log|t| the sampler keeps, so these hold in float as in double.
template <class T>
void check_small_df_draws() {
  for (double nu : {1e-3, 0.01, 0.05, 0.2, 1.0}) {
    // The default KL path's pieces of KL(q ‖ q), q = StudentT(ν, 0, 1): −H[q] − log q(z).
    rt::graph g;
    int z = g.sample_studentt(g.constant(nu), g.constant(0), g.constant(1), 1);
    int lp = g.studentt_logpdf(z, g.constant(nu), g.constant(0), g.constant(1), 1);
    int h = g.studentt_entropy(g.constant(nu), g.constant(1), 1);
    rt::parameters<T> params(g);
    const int N = 200000;
    rt::plan<T> p(g, params, N, 1, false);
    rt::rng noise(17, rt::stream::noise, 0);
    p.forward(noise);
    const double H = static_cast<double>(p.value(h).data[0]);
    // log(1 + z²/ν) from the density: log q = c(ν) − (ν+1)/2·L, c(ν) = log q(0) (H aside).
    const double c = -0.5 * std::log(nu * M_PI) + std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, k1 = 0, k2 = 0;
    for (int j = 0; j < N; ++j) {
      const double l = static_cast<double>(p.value(lp).data[j]);
      const double L = 2 * (c - l) / (nu + 1);
      s1 += L, s2 += L * L, s3 += L * L * L, s4 += L * L * L * L;
      const double kl = -H - l;
      k1 += kl, k2 += kl * kl;
    }
    s1 /= N, s2 /= N, s3 /= N, s4 /= N, k1 /= N, k2 /= N;
    const double mean = boost::math::digamma((nu + 1) / 2) - boost::math::digamma(nu / 2);
    const double var = boost::math::trigamma(nu / 2) - boost::math::trigamma((nu + 1) / 2);
    const double second = var + mean * mean;
    const double se1 = std::sqrt((s2 - s1 * s1) / N), se2 = std::sqrt((s4 - s2 * s2) / N);
    const double sek = std::sqrt((k2 - k1 * k1) / N);
    BOOST_TEST_CONTEXT("df = " << nu << (sizeof(T) == 4 ? ", float" : ", double")) {
      BOOST_TEST_MESSAGE("df " << nu << ": E[L] " << s1 << " ± " << se1 << " (exact " << mean << "), E[L²] " << s2
                               << " ± " << se2 << " (exact " << second << "), KL(q‖q) " << k1 << " ± " << sek);
      BOOST_TEST(std::fabs(s1 - mean) < 4 * se1, "E[log(1 + z²/ν)] " << s1 << " ± " << se1 << ", exact " << mean);
      BOOST_TEST(std::fabs(s2 - second) < 4 * se2, "E[log(1 + z²/ν)²] " << s2 << " ± " << se2 << ", exact " << second);
      BOOST_TEST(std::fabs(k1) < 4 * sek, "KL(q ‖ q) " << k1 << " ± " << sek);
      // The estimates are informative: 4 standard errors below 5% of the exact value.
      BOOST_TEST(4 * se1 < 0.05 * mean);
      BOOST_TEST(4 * se2 < 0.05 * second);
    }
  }
}


BOOST_AUTO_TEST_CASE(studentt_small_df_draws_are_exact) { check_small_df_draws<double>(); }
BOOST_AUTO_TEST_CASE(studentt_small_df_draws_are_exact_in_float) { check_small_df_draws<float>(); }

// Exact draws too large for float (issue 9's model: df 0.05, p uses z²): about 10% of the
// draws exceed 1.8e19, whose square overflows float, so log p(x | z) is not finite; the cause
// names the draws and no learning rate. In double (beyond 1.3e154: 2e-8 of the draws) the
// same batch is finite. A z made large by the scale, not the draw, stays a numerical cause.
BOOST_AUTO_TEST_CASE(studentt_draws_beyond_float_name_their_cause) {
  const std::string text = "data x : real[1]\nlatent z : real[1]\np(z) = StudentT(df = 0.05, loc = 0, scale = 1)\n"
                           "p(x | z) { x ~ Normal(loc = log(1 + square(z) / 0.05), scale = 1) }\n"
                           "q(z | x) { z ~ StudentT(df = 0.05, loc = 0 * linear(x, 1), scale = 1) }\n";
  auto f = run_model<float>(text, 0.0, 128);
  BOOST_TEST(!f.result.finite);
  BOOST_TEST((f.result.cause == rt::objective_result::cause_kind::sample_overflow));
  BOOST_TEST(f.result.reason.find("draws of 'z' from q (a Student-t, df as low as 0.05) exceed 1.8e19") != std::string::npos,
             f.result.reason);
  BOOST_TEST(f.result.reason.find("keep df at 0.5 or above") != std::string::npos, f.result.reason);
  // The count it names is the count of draws beyond 1.8e19, read back from the sample.
  const auto& g = f.low.graph;
  const int z = g.nodes()[static_cast<std::size_t>(g.objective_node())].objective.latents[0].sample;
  const auto& zv = f.plan->value(z);
  int large = 0;
  for (int i = 0; i < zv.rows * zv.cols; ++i) large += std::fabs(static_cast<double>(zv.data[i])) > 1.8446742974197924e19;
  BOOST_TEST(large > 0);
  BOOST_TEST(f.result.reason.find(fmt::format("{} of the 128 draws", large)) == 0, f.result.reason);
  auto d = run_model<double>(text, 0.0, 128);
  BOOST_TEST(d.result.finite);
  for (const char* q : {"StudentT(df = 5, loc = 0 * linear(x, 1), scale = 1e30)",
                        "Normal(loc = 0 * linear(x, 1), scale = 1e30)"}) {
    BOOST_TEST_CONTEXT(q) {
      auto m = run_model<float>(std::string("data x : real[1]\nlatent z : real[1]\np(z) = StudentT(df = 5, loc = 0, scale = 1)\n"
                                            "p(x | z) { x ~ Normal(loc = square(z), scale = 1) }\nq(z | x) { z ~ ") + q + " }\n",
                                0.0, 128);
      BOOST_TEST(!m.result.finite);
      BOOST_TEST((m.result.cause == rt::objective_result::cause_kind::numerical));
    }
  }
}


// ---- continuous Bernoulli log-normalizer -----------------------------------------------------

// {η, log C(η), d log C/dη} from mpmath at 50 digits
// (tests/runtime/reference/make_cbernoulli_reference.py).
const double cb_reference[][3] = {
    {0, 0.69314718055994530942, 0.0},
    {1e-300, 0.69314718055994530942, 1.6666666666666666667e-301},
    {1e-8, 0.69314718055994531775, 1.6666666666666666472e-9},
    {-1e-8, 0.69314718055994531775, -1.6666666666666666472e-9},
    {1e-4, 0.69314718139327864226, 0.000016666666647222222243},
    {0.01, 0.69315551384466787335, 0.0016666472224272465774},
    {-0.1, 0.69398002812361601973, -0.016647242703890362053},
    {0.25, 0.69833660820498507748, 0.041364836697999639792},
    {0.4, 0.70635745211472563289, 0.065442878392715643553},
    {0.4999999, 0.71368192509082584035, 0.080965233394875889713},
    {0.5, 0.71368193318734994335, 0.080965248665056280508},
    {0.5000001, 0.71368194128387557337, 0.080965263935236136585},
    {-0.6, 0.72253269506621450397, -0.095953757731591324847},
    {1, 0.77193683290530472507, 0.14908187176067845487},
    {2, 0.96548864947177686283, 0.22427943522821679224},
    {10, 2.3026758928536330379, 0.099909200140287877837},
    {-37, 3.610917912644224615, -0.027027027027026856366},
    {100, 4.605170185988091368, 0.01},
    {1e4, 9.2103403719761827361, 0.0001},
    {1e30, 69.077552789821370521, 1.0e-30},
    {-1e30, 69.077552789821370521, -1.0e-30},
};

BOOST_AUTO_TEST_CASE(continuous_bernoulli_log_normalizer) {
  const int n = static_cast<int>(sizeof cb_reference / sizeof cb_reference[0]);
  Eigen::ArrayXd eta(n), t(n);
  for (int i = 0; i < n; ++i) eta(i) = cb_reference[i][0];
  t = (-eta.abs()).exp();
  const Eigen::ArrayXd logc = rt::cb::log_norm(eta, t), dlogc = rt::cb::dlog_norm(eta, t);
  for (int i = 0; i < n; ++i) {
    BOOST_TEST_CONTEXT("eta = " << eta(i)) {
      const double ref = cb_reference[i][1], dref = cb_reference[i][2];
      if (eta(i) == 0) BOOST_TEST(logc(i) == std::log(2.0));  // exactly log 2
      const double tol = std::fabs(eta(i)) < 0.5 ? 1e-15 : 2e-15;
      BOOST_TEST(std::fabs(logc(i) - ref) <= tol * std::fabs(ref), logc(i) << " vs " << ref << ": relative "
                                                                          << (logc(i) - ref) / ref);
      BOOST_TEST(std::fabs(dlogc(i) - dref) <= 1e-14 * std::fabs(dref), dlogc(i) << " vs " << dref);
    }
  }
}

// ---- ContinuousBernoulli(probs = λ), λ any expression in [0, 1] ------------------------------

// {is_float, λ, x, log p(x | λ), d/dλ} from mpmath at 700 digits, straight from the λ form
// C(λ) = 2 artanh(1 − 2λ)/(1 − 2λ) (tests/runtime/reference/make_cbernoulli_probs_reference.py);
// λ is the exact double (is_float = 0) or float (1) the op is fed.
const double cb_probs_reference[][5] = {
    {0, 1.0000000000000000251e-300, 0, 6.5378149199041568592, -1.4476482730108393893e+297},
    {0, 1.0000000000000000251e-300, 0.25, -166.15606705464926944, 2.4855235172698915435e+299},
    {0, 1.0000000000000000251e-300, 1, -684.23771297830954832, 9.9855235172698913555e+299},
    {0, 1.0000000000000000833e-30, 0, 4.235229826910111174, -1.4476482730108393066e+28},
    {0, 1.0000000000000000833e-30, 0.25, -13.034158370545231435, 2.355235172698915861e+29},
    {0, 1.0000000000000000833e-30, 1, -64.842322962911259263, 9.855235172698915236e+29},
    {0, 1.0000000000000000209e-8, 0, 2.9134739963849237717, -5428680.0810244863306},
    {0, 1.0000000000000000209e-8, 0.25, -1.6916961871031675786, 19571320.168975515646},
    {0, 1.0000000000000000209e-8, 1, -15.50720673756744163, 94571320.918975521577},
    {0, 0.0010000000000000000208, 0, 1.9335013885052205811, -143.92772139239432778},
    {0, 0.0010000000000000000208, 0.25, 0.20681269384308220664, 106.32252885785591726},
    {0, 0.0010000000000000000208, 1, -4.9732533901433329166, 857.0732796086066524},
    {0, 0.2999999999999999889, 0, 0.39391280694172639594, -2.0486785768753746324},
    {0, 0.2999999999999999889, 0.25, 0.18208834184492547929, -0.85820238639918413108},
    {0, 0.2999999999999999889, 1, -0.45338505344547727064, 2.713226185029387373},
    {0, 0.5, 0, 0.0, -2.0},
    {0, 0.5, 0.25, 0.0, -1.0},
    {0, 0.5, 1, 0.0, 2.0},
    {0, 0.50000000010000000827, 0, -2.0000001655474086759e-10, -2.0000000001333333444},
    {0, 0.50000000010000000827, 0.25, -1.0000000828070376768e-10, -1.0000000001333333444},
    {0, 0.50000000010000000827, 1, 2.0000001654140753205e-10, 1.9999999998666666557},
    {0, 0.69999999999999995559, 0, -0.45338505344547712003, -2.7132261850293869849},
    {0, 0.69999999999999995559, 0.25, -0.24156058834867626947, -1.5227499945531966094},
    {0, 0.69999999999999995559, 1, 0.39391280694172628221, 2.0486785768753745171},
    {0, 0.99999899999999997124, 0, -11.189716715842041447, -927619.5087049250424},
    {0, 0.99999899999999997124, 0.25, -7.7358393263582868442, -677619.25871186395828},
    {0, 0.99999899999999997124, 1, 2.6257928420929769637, 72381.491267319294083},
    {0, 0.99999999999900002212, 0, -24.312103342235155359, -963830143732.7784591},
    {0, 0.99999999999900002212, 0.25, -17.404342532762065711, -713824613180.15275132},
    {0, 0.99999999999900002212, 1, 3.3189398956572032343, 36191978477.724372028},
    {0, 0.99999999999999988898, 0, -33.133021576706643673, -8762017335927529.8931},
    {0, 0.99999999999999988898, 0.25, -23.948821434287368351, -6510217522242281.6431},
    {0, 0.99999999999999988898, 1, 3.6037789929704576151, 245181918813463.10689},
    {1, 1.000000003171076851e-30, 0, 4.235229826864205136, -1.4476482684866913113e+28},
    {1, 1.000000003171076851e-30, 0.25, -13.034158369798368283, 2.3552351652236387666e+29},
    {1, 1.000000003171076851e-30, 1, -64.842322959786088539, 9.8552351414405624597e+29},
    {1, 9.9999999392252902908e-9, 0, 2.9134739967148502298, -5428680.1122260721333},
    {1, 9.9999999392252902908e-9, 0.25, -1.6916961882926088883, 19571320.289710705563},
    {1, 9.9999999392252902908e-9, 1, -15.507206743314986243, 94571321.495521038652},
    {1, 0.0010000000474974513054, 0, 1.9335013816690207854, -143.92771551298192578},
    {1, 0.0010000000474974513054, 0.25, 0.20681269889313119914, 106.32252286291796027},
    {1, 0.0010000000474974513054, 1, -4.9732533494345375595, 857.07323799061761843},
    {1, 0.30000001192092895508, 0, 0.39391278251957475416, -2.0486785520971853706},
    {1, 0.30000001192092895508, 0.25, 0.18208833161435577899, -0.85820238865257840715},
    {1, 0.30000001192092895508, 1, -0.45338502110130114652, 2.7132261016812424832},
    {1, 0.5, 0, 0.0, -2.0},
    {1, 0.5, 0.25, 0.0, -1.0},
    {1, 0.5, 1, 0.0, 2.0},
    {1, 0.69999998807907104492, 0, -0.45338502110130114652, -2.7132261016812424832},
    {1, 0.69999998807907104492, 0.25, -0.24156057019608217135, -1.5227499382366355197},
    {1, 0.69999998807907104492, 1, 0.39391278251957475416, 2.0486785520971853706},
    {1, 0.99999898672103881836, 0, -11.177480415481771157, -915394.86183913241301},
    {1, 0.99999898672103881836, 0.25, -7.7269009214560219579, -668670.84713299674007},
    {1, 0.99999898672103881836, 1, 2.6248375606212256396, 71501.196985410278744},
};

// log p(x | λ) of one column and its gradient in λ, by the op alone (λ a free parameter).
template <class T>
std::pair<double, double> cb_probs_op(double lambda, double x) {
  rt::graph g;
  int lam = g.param(1, lambda, rt::param_group::theta, "lambda");
  rt::objective_spec spec;
  spec.loglik = g.cbernoulli_probs(g.constant(x), lam);
  g.objective(spec);
  rt::parameters<T> params(g);
  params.initialize(1);
  rt::plan<T> p(g, params, 1, 1, true);
  rt::rng noise(1, rt::stream::noise, 0);
  p.forward(noise);
  p.backward();
  const auto r = p.result();
  return {r.recon, -static_cast<double>(params.grads[g.params()[0].offset])};  // loss = −log p
}

BOOST_AUTO_TEST_CASE(continuous_bernoulli_probs_is_exact_in_log_space) {
  for (const auto& row : cb_probs_reference) {
    const bool is_float = row[0] != 0;
    const double lambda = row[1], x = row[2], ref = row[3], dref = row[4];
    BOOST_TEST_CONTEXT((is_float ? "float" : "double") << ", lambda = " << lambda << ", x = " << x) {
      const auto [v, d] = is_float ? cb_probs_op<float>(lambda, x) : cb_probs_op<double>(lambda, x);
      // Double: to rounding (near λ = 1 − 2⁻⁵³ the value is −33, log(1 − λ) exact);
      // float: to float rounding of the value and of its terms (x·log λ up to 64 there).
      const double tol = is_float ? 2e-6 * (1 + std::fabs(x * std::log(lambda))) : 4e-15 * (1 + std::fabs(ref));
      BOOST_TEST(std::fabs(v - ref) <= tol, v << " vs " << ref << " (mpmath)");
      const double dtol = is_float ? 2e-5 : 1e-13;
      BOOST_TEST(std::fabs(d - dref) <= dtol * std::fabs(dref), "d/dλ " << d << " vs " << dref << " (mpmath)");
      if (!is_float && 1 - lambda > 1e-9) {
        // The gradient against central differences of the op's own value, in double (nearer
        // 1 a step small against 1 − λ is too few ulps of λ: the mpmath values stand alone).
        const double h = 1e-5 * std::min(lambda, 1 - lambda);
        const double numeric = (cb_probs_op<double>(lambda + h, x).first - cb_probs_op<double>(lambda - h, x).first) / (2 * h);
        BOOST_TEST(std::fabs(d - numeric) <= 1e-7 * std::fabs(d), "d/dλ " << d << " vs central differences " << numeric);
      }
    }
  }
}

// λ exactly 0 or 1: the density is degenerate (+∞ at the end λ sits on, −∞ elsewhere). Each
// log is clamped at ℓ = log of the smallest positive T, so η = ±ℓ, and the value is the
// continuous Bernoulli's at that logit: x·ℓ + log C(ℓ) at λ = 0, (1 − x)·ℓ + log C(ℓ) at
// λ = 1, with log C(ℓ) = log|ℓ| + log(1 + e^ℓ) − log(1 − e^ℓ) = log|ℓ| to rounding. The
// gradient is finite. `vaec check` states the clamp.
template <class T>
void cb_probs_ends() {
  const double l = std::log(static_cast<double>(std::numeric_limits<T>::denorm_min()));
  for (double lambda : {0.0, 1.0})
    for (double x : {0.0, 0.25, 1.0}) {
      BOOST_TEST_CONTEXT((sizeof(T) == 4 ? "float" : "double") << ", lambda = " << lambda << ", x = " << x) {
        const auto [v, d] = cb_probs_op<T>(lambda, x);
        const double expect = (lambda == 0 ? x : 1 - x) * l + std::log(-l);
        BOOST_TEST(std::fabs(v - expect) <= 1e-6 * std::fabs(expect), v << " vs " << expect);
        BOOST_TEST(std::isfinite(d), d);
      }
    }
}

BOOST_AUTO_TEST_CASE(continuous_bernoulli_probs_at_0_and_1_is_clamped_finite) {
  cb_probs_ends<double>();
  cb_probs_ends<float>();
}

BOOST_AUTO_TEST_CASE(continuous_bernoulli_probs_other_forms_are_stated) {
  // A probs reaching exactly 0 (exp(−softplus(800)) = e^−800) or exactly 1 (1 − that), and
  // one near 1: check states the clamp, and training (float) sees finite values.
  for (const char* probs : {"exp(-softplus(param(1, init = 800)))", "1 - exp(-softplus(param(1, init = 800)))",
                            "1 - exp(-softplus(param(1, init = 13.8)))", "sigmoid(param(1, init = 3)) * 0.5"})
    for (double x : {0.0, 0.5, 1.0}) {
      const std::string text = std::string("data x : binary[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
                                           "p(x | z) { x ~ ContinuousBernoulli(probs = ") + probs + ") }\n"
                                           "q(z | x) { z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }\n";
      BOOST_TEST_CONTEXT("probs = " << probs << ", x = " << x) {
        auto f = run_model<float>(text, x, 4, 1, true);
        BOOST_TEST(f.parsed->rendered.find("warning: probs of ContinuousBernoulli is evaluated") != std::string::npos,
                   f.parsed->rendered);
        BOOST_TEST(std::isfinite(f.result.recon), f.result.recon);
        for (float gv : f.params->grads) BOOST_TEST(std::isfinite(gv), gv);
      }
    }
  // sigmoid(h) and 1 − sigmoid(h) are read as logits: no warning.
  auto s = run_model<float>("data x : binary[1]\nlatent z : real[1]\np(z) = Normal(0, 1)\n"
                            "p(x | z) { x ~ ContinuousBernoulli(probs = 1 - sigmoid(param(1, init = 800))) }\n"
                            "q(z | x) { z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }\n", 0.5, 4);
  BOOST_TEST(s.parsed->rendered.find("is evaluated") == std::string::npos, s.parsed->rendered);
  BOOST_TEST(std::isfinite(s.result.recon), s.result.recon);
}

// ---- a first sweep of parameter extremes (part of issue 9's sweep: Normal, Student-t,
// Bernoulli and continuous Bernoulli; the sphere families are not yet swept here) -------------

// Runs every node of a graph built by `make` on 64 columns; returns each output's values.
std::vector<double> sweep_values(const std::function<std::vector<int>(rt::graph&)>& make) {
  rt::graph g;
  std::vector<int> outs = make(g);
  rt::parameters<double> params(g);
  rt::plan<double> p(g, params, 64, 1, false);
  rt::rng noise(3, rt::stream::noise, 0);
  p.forward(noise);
  std::vector<double> v;
  for (int o : outs) {
    auto t = p.value(o);
    v.insert(v.end(), t.data, t.data + t.size());
  }
  return v;
}

BOOST_AUTO_TEST_CASE(sweep_normal_studentt_bernoulli_extremes) {
  const double scales[] = {1e-30, 1e-8, 1, 1e8, 1e30};
  for (double s : scales)
    for (double ps : scales) {
      BOOST_TEST_CONTEXT("Normal scale " << s << ", prior scale " << ps) {
        auto v = sweep_values([&](rt::graph& g) {
          int z = g.sample_normal(g.constant(0), g.constant(s), 1);
          return std::vector<int>{z, g.normal_logpdf(z, g.constant(0), g.constant(ps), 1), g.normal_entropy(g.constant(s), 1),
                                  g.kl_normal_normal(g.constant(0), g.constant(s), g.constant(0), g.constant(ps), 1)};
        });
        for (double x : v) BOOST_TEST(std::isfinite(x));
      }
    }
  for (double df : {1e-3, 0.5, 2.0, 3.0, 1e8, 1e300, static_cast<double>(INFINITY)})
    for (double s : scales) {
      BOOST_TEST_CONTEXT("Student-t df " << df << ", scale " << s) {
        auto v = sweep_values([&](rt::graph& g) {
          int z = g.sample_studentt(g.constant(df), g.constant(0), g.constant(s), 1);
          return std::vector<int>{g.studentt_logpdf(z, g.constant(df), g.constant(0), g.constant(s), 1),
                                  g.studentt_entropy(g.constant(df), g.constant(s), 1)};
        });
        for (double x : v) BOOST_TEST(std::isfinite(x), x);
        auto kl = sweep_values([&](rt::graph& g) {
          return std::vector<int>{g.kl_studentt_normal(g.constant(df), g.constant(0), g.constant(s), g.constant(0),
                                                       g.constant(1), 1)};
        });
        for (double x : kl) BOOST_TEST((df <= 2 ? x == INFINITY : std::isfinite(x)), x);
      }
    }
  for (double l : {-1e30, -800.0, -1e-30, 0.0, 1e-30, 800.0, 1e30})
    for (double x : {0.0, 0.3, 1.0}) {
      BOOST_TEST_CONTEXT("logit " << l << ", x " << x) {
        auto v = sweep_values([&](rt::graph& g) {
          int xs = g.constant(x);
          return std::vector<int>{g.bernoulli_logits(xs, g.constant(l)), g.cbernoulli_logits(xs, g.constant(l))};
        });
        for (double y : v) BOOST_TEST(!std::isnan(y), y);
        // Bernoulli: x·l − softplus(l) is finite for finite l; so is the continuous one.
        for (double y : v) BOOST_TEST(std::isfinite(y), y);
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
