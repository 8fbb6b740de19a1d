// Tests of lang/check (and lang/report): variables, parameter counts, the KL method of
// each latent, factor order, training settings, sizes and static range checks, and the
// text of `vaec check`.
//
// Parameter counts are computed here from the layer formula: a linear layer from m to
// n inputs has an m×n weight and an n bias, m·n + n parameters.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "lang/check.hpp"
#include "lang/report.hpp"
#include "tests/lang/test_util.hpp"

namespace {

using vaec::kl_method;
using vaec::test::run;

// LINE:COL of a byte offset in an ASCII text, computed independently of lang/source.
std::string line_col(std::string_view text, std::size_t offset) {
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return fmt::format("{}:{}", line, offset - line_start + 1);
}

// "kind LINE:COL" for the first occurrence of `needle` (at or after `from`).
std::string diag_at(std::string_view kind, const std::string& text, std::string_view needle, std::size_t from = 0) {
  std::size_t at = text.find(needle, from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "test bug: '" << needle << "' is not in the text");
  return fmt::format("{} {}", kind, line_col(text, at));
}

// The kinds of the errors, without positions.
std::vector<std::string> kinds(const vaec::test::run_result& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diags->all())
    if (d.level == vaec::severity::error) out.emplace_back(vaec::to_string(d.kind));
  return out;
}

std::int64_t layer(std::int64_t m, std::int64_t n) { return m * n + n; }

// A model with one latent z, a one-layer decoder and encoder; the parts that tests vary
// are arguments.
std::string model_text(std::string_view latent_type, std::string_view prior, std::string_view posterior,
                       std::string_view train = "",
                       std::string_view likelihood = "x ~ Bernoulli(logits = linear(h, 784))") {
  return fmt::format(
      "model m\n"
      "data   x : binary[784]\n"
      "latent z : {}\n"
      "p(z) = {}\n"
      "p(x | z) {{\n"
      "  h = mlp(z, [256], activation = relu)\n"
      "  {}\n"
      "}}\n"
      "q(z | x) {{\n"
      "  h = mlp(x, [256], activation = relu)\n"
      "  {}\n"
      "}}\n"
      "{}\n",
      latent_type, prior, likelihood, posterior, train);
}

const std::string normal_q = "z ~ Normal(loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4)";
const std::string vmf_q =
    "z ~ VonMisesFisher(mean = normalize(linear(h, 11)), concentration = softplus(linear(h, 1)) + 1)";

std::string gaussian(std::string_view posterior = normal_q, std::string_view train = "") {
  return model_text("real[20]", "Normal(0, 1)", posterior, train);
}

// The model checks without errors; returns it.
const vaec::checked_model& require_model(const vaec::test::run_result& r) {
  BOOST_REQUIRE_MESSAGE(r.model.has_value(), "the model does not check:\n" << r.rendered);
  BOOST_TEST(r.errors().empty());
  return *r.model;
}

const vaec::latent_plan& plan_of(const vaec::checked_model& m, std::string_view latent) {
  for (const auto& lp : m.latents)
    if (m.variables[static_cast<std::size_t>(lp.variable)].name == latent) return lp;
  BOOST_FAIL("no latent named " << latent);
  return m.latents.front();
}

kl_method kl_of(const std::string& text, std::string_view latent = "z") {
  auto r = run(text);
  const auto& m = require_model(r);
  return plan_of(m, latent).method;
}

std::string method_name(kl_method k) { return std::string(vaec::to_string(k)); }

std::vector<std::string> factor_texts(const vaec::checked_model& m) {
  std::vector<std::string> out;
  for (const auto& f : m.factors) out.push_back(vaec::factor_text(m, f));
  return out;
}

// The DESIGN §1 hyperspherical model, with the sphere S^10 = sphere[11].
const std::string vmf_design_model =
    "model fashion_vmf\n"
    "data   x : binary[784]\n"
    "latent z : sphere[11]\n"
    "p(z) = HypersphericalUniform()\n"
    "p(x | z) {\n"
    "  h = mlp(z, [256, 512], activation = relu)\n"
    "  x ~ Bernoulli(logits = linear(h, 784))\n"
    "}\n"
    "q(z | x) {\n"
    "  h = mlp(x, [512, 256], activation = relu)\n"
    "  z ~ VonMisesFisher(mean = normalize(linear(h, 11)),\n"
    "                     concentration = softplus(linear(h, 1)) + 1)\n"
    "}\n";

// The hierarchy of DESIGN §2, its factors written in no particular order.
const std::string hierarchy_model =
    "model ladder\n"
    "data   x  : binary[784]\n"
    "latent z1 : real[16]\n"
    "latent z2 : real[8]\n"
    "p(x | z1) {\n"
    "  x ~ Bernoulli(logits = linear(mlp(z1, [64]), 784))\n"
    "}\n"
    "q(z2 | z1) = Normal(linear(z1, 8), exp(linear(z1, 8)))\n"
    "p(z1 | z2) {\n"
    "  h = mlp(z2, [32])\n"
    "  z1 ~ Normal(loc = linear(h, 16), scale = softplus(linear(h, 16)) + 1e-4)\n"
    "}\n"
    "q(z1 | x) {\n"
    "  h = mlp(x, [64])\n"
    "  z1 ~ Normal(linear(h, 16), softplus(linear(h, 16)) + 1e-4)\n"
    "}\n"
    "p(z2) = Normal(0, 1)\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(check)

// ---- variables -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(variables_and_types) {
  std::string text(vaec::test::gaussian_model);
  auto r = run(text);
  const auto& m = require_model(r);
  BOOST_TEST(m.name == "m");
  BOOST_REQUIRE_EQUAL(m.variables.size(), 2u);
  BOOST_TEST(m.data == 0);
  BOOST_TEST(m.variables[0].name == "x");
  BOOST_TEST(m.variables[0].is_data);
  BOOST_TEST((m.variables[0].type.kind == vaec::type_kind::binary));
  BOOST_TEST(m.variables[0].type.size == 784);
  BOOST_TEST(vaec::to_string(m.variables[0].type) == "binary[784]");
  BOOST_TEST(m.variables[0].where.begin == text.find("x : binary"));
  BOOST_TEST(m.variables[1].name == "z");
  BOOST_TEST(!m.variables[1].is_data);
  BOOST_TEST((m.variables[1].type.kind == vaec::type_kind::real));
  BOOST_TEST(m.variables[1].type.size == 20);
  BOOST_TEST(vaec::to_string(m.variables[1].type) == "real[20]");
  BOOST_REQUIRE_EQUAL(m.latents.size(), 1u);
  BOOST_TEST(m.latents[0].variable == 1);

  // The data comes first whatever the declaration order; latents keep theirs. Without
  // a `model` line the model takes the default name.
  std::string mixed =
      "latent a : real[2]\n"
      "latent b : sphere[3]\n"
      "data x : real[5]\n"
      "p(a) = Normal(0, 1)\n"
      "p(b) = HypersphericalUniform()\n"
      "p(x | a, b) = Normal(loc = linear(concat(a, b), 5), scale = 1)\n"
      "q(b | x) = VonMisesFisher(mean = normalize(linear(x, 3)), concentration = exp(linear(x, 1)))\n"
      "q(a | x, b) = Normal(linear(concat(x, b), 2), exp(linear(x, 2)))\n";
  auto r2 = run(mixed);
  const auto& m2 = require_model(r2);
  BOOST_TEST(m2.name == "test");
  BOOST_REQUIRE_EQUAL(m2.variables.size(), 3u);
  BOOST_TEST(m2.variables[0].name == "x");
  BOOST_TEST(m2.variables[0].is_data);
  BOOST_TEST(vaec::to_string(m2.variables[0].type) == "real[5]");
  BOOST_TEST(m2.variables[1].name == "a");
  BOOST_TEST(vaec::to_string(m2.variables[1].type) == "real[2]");
  BOOST_TEST(m2.variables[2].name == "b");
  BOOST_TEST(vaec::to_string(m2.variables[2].type) == "sphere[3]");
  BOOST_REQUIRE_EQUAL(m2.latents.size(), 2u);
  BOOST_TEST(m2.latents[0].variable == 1);
  BOOST_TEST(m2.latents[1].variable == 2);
  // p in generative order; q in inference order (b is sampled before a, which needs it).
  BOOST_TEST(factor_texts(m2) == (std::vector<std::string>{"p(a)", "p(b)", "p(x | a, b)", "q(b | x)", "q(a | x, b)"}),
             boost::test_tools::per_element());
  BOOST_TEST(method_name(plan_of(m2, "a").method) == method_name(kl_method::closed_form));
  BOOST_TEST(method_name(plan_of(m2, "b").method) == method_name(kl_method::closed_form));
  // n = 3 has the exact sampler.
  BOOST_TEST(plan_of(m2, "b").gradient.find("inverse-CDF") != std::string::npos);
  // θ: linear 5 → 5. φ: linear 5 → 3 and 5 → 1; linear 8 → 2 (concat of [5] and [3]) and 5 → 2.
  BOOST_TEST(m2.theta_count() == layer(5, 5));
  BOOST_TEST(m2.phi_count() == layer(5, 3) + layer(5, 1) + layer(8, 2) + layer(5, 2));
}

// ---- parameter counts ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parameter_counts_of_the_design_gaussian_model) {
  // By hand (DESIGN §1):
  //   θ = p(x | z): mlp 20 → 256 → 512:  20·256 + 256 =   5,376
  //                                      256·512 + 512 = 131,584
  //                 linear 512 → 784:   512·784 + 784 = 402,192
  //                                                total 539,152
  //   φ = q(z | x): mlp 784 → 512 → 256: 784·512 + 512 = 401,920
  //                                      512·256 + 256 = 131,328
  //                 linear 256 → 20, twice: 2·(256·20 + 20) = 10,280
  //                                                total 543,528
  auto r = run(std::string(vaec::test::gaussian_model));
  const auto& m = require_model(r);
  const std::int64_t theta = layer(20, 256) + layer(256, 512) + layer(512, 784);
  const std::int64_t phi = layer(784, 512) + layer(512, 256) + 2 * layer(256, 20);
  BOOST_TEST(theta == 539'152);
  BOOST_TEST(phi == 543'528);
  BOOST_TEST(m.theta_count() == theta);
  BOOST_TEST(m.phi_count() == phi);
  BOOST_REQUIRE_EQUAL(m.factors.size(), 3u);
  BOOST_TEST(factor_texts(m) == (std::vector<std::string>{"p(z)", "p(x | z)", "q(z | x)"}),
             boost::test_tools::per_element());
  BOOST_TEST(m.factors[0].parameter_count == 0);
  BOOST_TEST(m.factors[1].parameter_count == theta);
  BOOST_TEST(m.factors[2].parameter_count == phi);

  std::string report = vaec::describe(m);
  BOOST_TEST(report.find("539,152") != std::string::npos, report);
  BOOST_TEST(report.find("543,528") != std::string::npos, report);
}

BOOST_AUTO_TEST_CASE(parameter_counts_with_param_and_concat) {
  std::string text =
      "data x : real[8]\n"
      "latent z : real[3]\n"
      "p(z) = Normal(0, 1)\n"
      "p(x | z) {\n"
      "  h = concat(z, param(5))\n"
      "  x ~ Normal(loc = linear(h, 8), scale = exp(param(8, init = -1)))\n"
      "}\n"
      "q(z | x) {\n"
      "  h = linear(concat(x, x), 4)\n"
      "  z ~ Normal(loc = linear(h, 3), scale = softplus(param(3)) + 0.01)\n"
      "}\n";
  auto r = run(text);
  const auto& m = require_model(r);
  // θ: param(5); linear from [3 + 5] to 8; param(8).
  BOOST_TEST(m.theta_count() == 5 + layer(3 + 5, 8) + 8);
  // φ: linear from [8 + 8] to 4; linear 4 → 3; param(3).
  BOOST_TEST(m.phi_count() == layer(8 + 8, 4) + layer(4, 3) + 3);

  // Every parameter-creating node is on the side of its factor.
  for (const auto& f : m.factors) {
    std::int64_t sum = 0;
    for (int i = f.first_node; i < f.end_node; ++i) {
      const auto& n = m.nodes[static_cast<std::size_t>(i)];
      if (n.parameter_count > 0) BOOST_TEST(n.side == f.side);
      sum += n.parameter_count;
    }
    BOOST_TEST(sum == f.parameter_count);
  }
}

BOOST_AUTO_TEST_CASE(parameter_counts_of_the_hierarchy) {
  auto r = run(hierarchy_model);
  const auto& m = require_model(r);
  // θ: p(z1 | z2): mlp 8 → 32, linear 32 → 16 twice; p(x | z1): mlp 16 → 64, linear 64 → 784.
  BOOST_TEST(m.theta_count() == layer(8, 32) + 2 * layer(32, 16) + layer(16, 64) + layer(64, 784));
  // φ: q(z1 | x): mlp 784 → 64, linear 64 → 16 twice; q(z2 | z1): linear 16 → 8 twice.
  BOOST_TEST(m.phi_count() == layer(784, 64) + 2 * layer(64, 16) + 2 * layer(16, 8));
}

// ---- KL methods ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(kl_normal_normal_is_closed_form) {
  BOOST_TEST(method_name(kl_of(gaussian())) == method_name(kl_method::closed_form));
  BOOST_TEST(method_name(kl_of(std::string(vaec::test::gaussian_model))) == method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(kl_von_mises_fisher_uniform_is_closed_form) {
  BOOST_TEST(method_name(kl_of(model_text("sphere[11]", "HypersphericalUniform()", vmf_q))) ==
             method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(kl_power_spherical_uniform_is_closed_form) {
  std::string q =
      "z ~ PowerSpherical(mean = normalize(linear(h, 11)), concentration = softplus(linear(h, 1)) + 1)";
  BOOST_TEST(method_name(kl_of(model_text("sphere[11]", "HypersphericalUniform()", q))) ==
             method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(kl_von_mises_fisher_von_mises_fisher_is_closed_form) {
  std::string prior = "VonMisesFisher(mean = normalize(param(11)), concentration = softplus(param(1)) + 1)";
  BOOST_TEST(method_name(kl_of(model_text("sphere[11]", prior, vmf_q))) == method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(kl_student_t_normal_depends_on_df) {
  auto student = [](std::string_view df) {
    return gaussian(fmt::format("z ~ StudentT(df = {}, loc = linear(h, 20), scale = softplus(linear(h, 20)))", df));
  };
  // df known to be above 2: the second moment exists, closed form.
  BOOST_TEST(method_name(kl_of(student("5"))) == method_name(kl_method::closed_form));
  BOOST_TEST(method_name(kl_of(student("2.5"))) == method_name(kl_method::closed_form));
  // softplus > 0, so softplus(·) + 2 > 2 strictly.
  BOOST_TEST(method_name(kl_of(student("softplus(param(1)) + 2"))) == method_name(kl_method::closed_form));
  BOOST_TEST(method_name(kl_of(student("exp(linear(h, 20)) + 3"))) == method_name(kl_method::closed_form));
  // df that may be 2 or less: the closed form may not exist; entropy of q + Monte Carlo.
  BOOST_TEST(method_name(kl_of(student("softplus(param(1)) + 1"))) == method_name(kl_method::entropy_plus_mc));
  // ... and it warns that the KL is +infinity wherever df ≤ 2 (issue 9).
  {
    auto r = run(student("softplus(param(1)) + 1"));
    BOOST_TEST(r.model.has_value());
    BOOST_TEST(r.rendered.find("warning: KL(StudentT ‖ Normal) of 'z' is +infinity wherever df ≤ 2") != std::string::npos,
               r.rendered);
  }
  // df ≤ 2 over its whole range: the KL is +infinity, an error with the fix.
  for (std::string df : {"2", "1.5", "1", "0.01", "sigmoid(param(1)) + 1", "2 * sigmoid(param(1))"}) {
    BOOST_TEST_CONTEXT(df) {
      auto r = run(student(df));
      BOOST_TEST(!r.model.has_value());
      BOOST_TEST((r.errors().size() == 1u && r.errors()[0].rfind("infinite_kl", 0) == 0), r.rendered);
      BOOST_TEST(r.rendered.find("df = 2 + softplus(...)") != std::string::npos, r.rendered);
    }
  }
  // Under the IWAE objective there is no KL term (the K-sample bound stays finite).
  BOOST_TEST(run(student("1") + "train { objective = iwae }\n").model.has_value());
}

BOOST_AUTO_TEST_CASE(kl_without_closed_form_uses_entropy_plus_monte_carlo) {
  // StudentT ‖ StudentT has no closed form; q's entropy has.
  std::string q = "z ~ StudentT(df = 5, loc = linear(h, 20), scale = softplus(linear(h, 20)))";
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "StudentT(df = 3, loc = 0, scale = 1)", q))) ==
             method_name(kl_method::entropy_plus_mc));
  // Normal ‖ StudentT likewise.
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "StudentT(df = 3, loc = 0, scale = 1)", normal_q))) ==
             method_name(kl_method::entropy_plus_mc));
}

// GaussianMixture(components = K) over real[n]: K·n means, K·n scales and K weight logits,
// all θ (under p(z)); q keeps its own φ. Counted here from those three shapes.
BOOST_AUTO_TEST_CASE(gaussian_mixture_prior_counts_and_kl) {
  const std::int64_t n = 20, K = 7;
  const std::string text = "const K = 7\n" + model_text("real[20]", "GaussianMixture(components = K)", normal_q);
  auto r = run(text);
  const auto& m = require_model(r);
  const std::int64_t decoder = layer(n, 256) + layer(256, 784);
  const std::int64_t prior = K * n + K * n + K;  // 287
  BOOST_TEST(m.theta_count() == decoder + prior);
  BOOST_TEST(m.phi_count() == layer(784, 256) + 2 * layer(256, n));
  for (const auto& f : m.factors)
    if (f.side == 'p' && m.variables[static_cast<std::size_t>(f.variable)].name == "z") BOOST_TEST(f.parameter_count == prior);
  // No closed form: Normal's entropy + Monte Carlo cross-entropy, and check says why.
  BOOST_TEST(method_name(plan_of(m, "z").method) == method_name(kl_method::entropy_plus_mc));
  const std::string shown = vaec::describe(m);
  BOOST_TEST(shown.find("z: KL(Normal ‖ GaussianMixture): closed-form entropy") != std::string::npos, shown);
  BOOST_TEST(shown.find("no closed form for Normal ‖ GaussianMixture") != std::string::npos, shown);
  BOOST_TEST(shown.find(" 287 parameters (7 components: 140 means, 140 scales, 7 weights)") != std::string::npos, shown);
  // A q without a closed-form entropy is not at hand among real families (Normal and
  // StudentT both have one); kl = mc forces Monte Carlo.
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "GaussianMixture(components = 3)", normal_q, "train { kl = mc }"))) ==
             method_name(kl_method::monte_carlo));
  const std::string t_q = "z ~ StudentT(df = 5, loc = linear(h, 20), scale = softplus(linear(h, 20)))";
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "GaussianMixture(components = 3)", t_q))) ==
             method_name(kl_method::entropy_plus_mc));
}

// VampPrior(pseudo_inputs = K): K pseudo-inputs of the data's size are θ (under p(z)); the
// network they pass through is q's, counted once, in φ. Any q family; the KL is q's
// entropy + Monte Carlo cross-entropy, and check says so and how the pseudo-inputs start.
BOOST_AUTO_TEST_CASE(vamp_prior_counts_sharing_and_kl) {
  const std::int64_t n = 20, K = 500;
  auto r = run("const K = 500\n" + model_text("real[20]", "VampPrior(pseudo_inputs = K)", normal_q));
  const auto& m = require_model(r);
  const std::int64_t decoder = layer(n, 256) + layer(256, 784);
  BOOST_TEST(m.theta_count() == decoder + K * 784);
  BOOST_TEST(m.phi_count() == layer(784, 256) + 2 * layer(256, n));  // q's network, not counted again under p
  BOOST_TEST(method_name(plan_of(m, "z").method) == method_name(kl_method::entropy_plus_mc));
  const std::string shown = vaec::describe(m);
  BOOST_TEST(shown.find("p(z)      392,000 parameters (VampPrior: 500 pseudo-inputs (θ, 392,000 parameters) passed "
                        "through q(z | x)'s network (φ, shared, counted with q))") != std::string::npos, shown);
  BOOST_TEST(shown.find("z: KL(Normal ‖ VampPrior): closed-form entropy + Monte Carlo cross-entropy (no closed form for "
                        "a mixture; log p(z) = log (1/K) Σ_k q(z | u_k) by a stable log-sum-exp over the K = 500 "
                        "components)") != std::string::npos, shown);
  BOOST_TEST(shown.find("z: pseudo-inputs: u_k = sigmoid(a_k), in [0, 1] as the data") != std::string::npos, shown);
  // Every q family: a sphere latent's VampPrior is a mixture of vMFs (or Power Sphericals).
  BOOST_TEST(method_name(kl_of(model_text("sphere[11]", "VampPrior(pseudo_inputs = 3)", vmf_q))) ==
             method_name(kl_method::entropy_plus_mc));
  const std::string t_q = "z ~ StudentT(df = 5, loc = linear(h, 20), scale = softplus(linear(h, 20)))";
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "VampPrior(pseudo_inputs = 3)", t_q))) ==
             method_name(kl_method::entropy_plus_mc));
  BOOST_TEST(method_name(kl_of(model_text("real[20]", "VampPrior(pseudo_inputs = 3)", normal_q, "train { kl = mc }"))) ==
             method_name(kl_method::monte_carlo));
}

// A VampPrior evaluates q(z | ·) at pseudo-inputs in place of the data: q must take the
// data alone (not another latent) and have parameters (not HypersphericalUniform()); it is a
// prior only, and its count is a whole number from 1 to 100000.
BOOST_AUTO_TEST_CASE(vamp_prior_needs_q_of_the_data_alone) {
  auto errors_of = [](const std::string& text) { return run(text).errors(); };
  const std::string two = R"(data x : binary[784]
latent w : real[2]
latent z : real[4]
p(w) = Normal(0, 1)
p(z) = VampPrior(pseudo_inputs = 10)
p(x | z, w) = Bernoulli(logits = linear(concat(z, w), 784))
q(w | x) = Normal(loc = linear(x, 2), scale = softplus(linear(x, 2)) + 1e-4)
q(z | x, w) = Normal(loc = linear(concat(x, w), 4), scale = softplus(linear(x, 4)) + 1e-4)
)";
  BOOST_TEST((errors_of(two) == std::vector<std::string>{diag_at("vamp_q_not_of_data", two, "VampPrior")}));
  BOOST_TEST(run(two).rendered.find("VampPrior for 'z' passes its pseudo-inputs through q(z | x, w)'s network in place "
                                    "of the data 'x', so q must depend on 'x' alone, but q(z | x, w) also depends on "
                                    "'w'") != std::string::npos, run(two).rendered);
  const std::string uniform = model_text("sphere[11]", "VampPrior(pseudo_inputs = 3)", "z ~ HypersphericalUniform()");
  BOOST_TEST((errors_of(uniform) == std::vector<std::string>{diag_at("vamp_q_not_of_data", uniform, "VampPrior")}));
  const std::string in_q = model_text("real[20]", "Normal(0, 1)", "z ~ VampPrior(pseudo_inputs = 3)");
  BOOST_TEST((errors_of(in_q) == std::vector<std::string>{diag_at("support_mismatch", in_q, "VampPrior")}));
  for (const char* k : {"0", "2.5", "100001"}) {
    const std::string bad = model_text("real[20]", fmt::format("VampPrior(pseudo_inputs = {})", k), normal_q);
    BOOST_TEST((errors_of(bad) == std::vector<std::string>{diag_at("bad_size", bad, k, bad.find("pseudo_inputs = "))}), k);
  }
}

BOOST_AUTO_TEST_CASE(gaussian_mixture_is_a_prior_only_with_a_whole_number_of_components) {
  auto errors_of = [](const std::string& text) { return run(text).errors(); };
  // components: 0, negative, fractional, too many, a vector, a constant set to a bad value.
  for (std::string_view k : {"0", "-3", "2.5", "100001", "param(1)"}) {
    BOOST_TEST_CONTEXT(k) {
      const std::string text = model_text("real[20]", fmt::format("GaussianMixture(components = {})", k), normal_q);
      BOOST_TEST((errors_of(text) == std::vector<std::string>{diag_at("bad_size", text, k, text.find("components"))}),
                 run(text).rendered);
    }
  }
  BOOST_TEST(run(model_text("real[20]", "GaussianMixture(components = 100000)", normal_q)).model.has_value());
  BOOST_TEST(run(model_text("real[20]", "GaussianMixture(components = 1)", normal_q)).model.has_value());
  BOOST_TEST(run(model_text("real[20]", "GaussianMixture(3)", normal_q)).model.has_value());
  const std::string set_text = "const K = 4\n" + model_text("real[20]", "GaussianMixture(components = K)", normal_q);
  auto set = run(set_text, "test.vae", {"K=-2"});
  BOOST_TEST(!set.model);
  BOOST_TEST(set.rendered.find("not -2 (K = -2, set on the command line); e.g. components = 10") != std::string::npos, set.rendered);
  // In q, on the data, on a sphere latent.
  const std::string in_q = model_text("real[20]", "Normal(0, 1)", "z ~ GaussianMixture(components = 3)");
  BOOST_TEST((errors_of(in_q) == std::vector<std::string>{diag_at("support_mismatch", in_q, "GaussianMixture")}));
  BOOST_TEST(run(in_q).rendered.find("GaussianMixture is a prior only: it may define p(z), not q(z | ...)") != std::string::npos);
  const std::string on_data = model_text("real[20]", "Normal(0, 1)", normal_q, "", "x ~ GaussianMixture(components = 3)");
  BOOST_TEST((errors_of(on_data) == std::vector<std::string>{diag_at("support_mismatch", on_data, "GaussianMixture")}));
  BOOST_TEST(run(on_data).rendered.find("not the likelihood of the data 'x'") != std::string::npos, run(on_data).rendered);
  const std::string sphere = model_text("sphere[11]", "GaussianMixture(components = 3)", vmf_q);
  BOOST_TEST((errors_of(sphere) == std::vector<std::string>{diag_at("support_mismatch", sphere, "GaussianMixture")}));
  BOOST_TEST(run(sphere).rendered.find("GaussianMixture is a distribution over real vectors (real[n]), but 'z' is sphere[11]") !=
             std::string::npos, run(sphere).rendered);
}

BOOST_AUTO_TEST_CASE(kl_mc_forces_monte_carlo) {
  BOOST_TEST(method_name(kl_of(gaussian(normal_q, "train { kl = mc }"))) == method_name(kl_method::monte_carlo));
  BOOST_TEST(method_name(kl_of(model_text("sphere[11]", "HypersphericalUniform()", vmf_q, "train { kl = mc }"))) ==
             method_name(kl_method::monte_carlo));
  BOOST_TEST(method_name(kl_of(gaussian(normal_q, "train { kl = best }"))) == method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(iwae_uses_no_kl) {
  BOOST_TEST(method_name(kl_of(gaussian(normal_q, "train { objective = iwae }"))) ==
             method_name(kl_method::not_used));
  BOOST_TEST(method_name(kl_of(gaussian(normal_q, "train { objective = iwae  kl = mc }"))) ==
             method_name(kl_method::not_used));
  BOOST_TEST(method_name(kl_of(gaussian(normal_q, "train { objective = elbo }"))) ==
             method_name(kl_method::closed_form));
}

BOOST_AUTO_TEST_CASE(hierarchy_kl_and_factor_order) {
  auto r = run(hierarchy_model);
  const auto& m = require_model(r);
  BOOST_TEST(m.name == "ladder");
  // z1's prior p(z1 | z2) depends on z2, which q samples after z1 (q(z2 | z1)): the KL
  // is not a function of q(z1 | x) alone, so log q − log p on the samples.
  const auto& z1 = plan_of(m, "z1");
  BOOST_TEST(method_name(z1.method) == method_name(kl_method::monte_carlo));
  BOOST_TEST(!z1.kl_is_analytic);
  BOOST_TEST(z1.method_reason.find("z2") != std::string::npos, z1.method_reason);
  // z2: Normal ‖ Normal with a fixed prior.
  const auto& z2 = plan_of(m, "z2");
  BOOST_TEST(method_name(z2.method) == method_name(kl_method::closed_form));
  BOOST_TEST(z2.kl_is_analytic);
  // Latents in declaration order.
  BOOST_REQUIRE_EQUAL(m.latents.size(), 2u);
  BOOST_TEST(m.variables[static_cast<std::size_t>(m.latents[0].variable)].name == "z1");
  BOOST_TEST(m.variables[static_cast<std::size_t>(m.latents[1].variable)].name == "z2");
  // p factors in generative order, then q factors in inference order.
  BOOST_TEST(factor_texts(m) ==
                 (std::vector<std::string>{"p(z2)", "p(z1 | z2)", "p(x | z1)", "q(z1 | x)", "q(z2 | z1)"}),
             boost::test_tools::per_element());
  // Each plan points at its own factors.
  for (const auto& lp : m.latents) {
    BOOST_TEST(m.factors[static_cast<std::size_t>(lp.p_factor)].side == 'p');
    BOOST_TEST(m.factors[static_cast<std::size_t>(lp.p_factor)].variable == lp.variable);
    BOOST_TEST(m.factors[static_cast<std::size_t>(lp.q_factor)].side == 'q');
    BOOST_TEST(m.factors[static_cast<std::size_t>(lp.q_factor)].variable == lp.variable);
  }
}

// ---- training settings -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(train_defaults) {
  auto r = run(gaussian());
  const auto& s = require_model(r).settings;
  // DESIGN §2, "Training settings".
  BOOST_TEST(s.epochs == 10);
  BOOST_TEST(s.batch == 128);
  BOOST_TEST(s.lr == 1e-3);
  BOOST_TEST(s.beta1 == 0.9);
  BOOST_TEST(s.beta2 == 0.999);
  BOOST_TEST(s.eps == 1e-8);
  BOOST_TEST(s.samples == 1);
  BOOST_TEST((s.objective == vaec::objective_kind::elbo));
  BOOST_TEST((s.kl == vaec::kl_choice::best));
  BOOST_TEST(s.beta == 1.0);
  BOOST_TEST(s.kl_warmup == 0.0);
  BOOST_TEST(s.free_bits == 0.0);
  BOOST_TEST((s.binarize == vaec::binarize_mode::none));
  BOOST_TEST(s.eval_samples == 500);
  BOOST_TEST(s.seed == 1u);
  BOOST_TEST(s.early_stopping == 0);
  BOOST_TEST((s.precision == vaec::product_precision::fp32));
}

BOOST_AUTO_TEST_CASE(train_every_key) {
  std::string train =
      "train {\n"
      "  epochs = 50\n"
      "  batch = 64\n"
      "  optimizer = adam(lr = 2e-4, beta1 = 0.5, beta2 = 0.99, eps = 1e-6)\n"
      "  samples = 4\n"
      "  objective = iwae\n"
      "  kl = mc\n"
      "  beta = 0.5\n"
      "  kl_warmup = 10\n"
      "  free_bits = 0.25\n"
      "  binarize = static\n"
      "  eval_samples = 1000\n"
      "  seed = 42\n"
      "  early_stopping = 5\n"
      "  precision = bf16\n"
      "}";
  auto r = run(gaussian(normal_q, train));
  const auto& s = require_model(r).settings;
  BOOST_TEST(s.epochs == 50);
  BOOST_TEST(s.batch == 64);
  BOOST_TEST(s.lr == 2e-4);
  BOOST_TEST(s.beta1 == 0.5);
  BOOST_TEST(s.beta2 == 0.99);
  BOOST_TEST(s.eps == 1e-6);
  BOOST_TEST(s.samples == 4);
  BOOST_TEST((s.objective == vaec::objective_kind::iwae));
  BOOST_TEST((s.kl == vaec::kl_choice::mc));
  BOOST_TEST(s.beta == 0.5);
  BOOST_TEST(s.kl_warmup == 10.0);
  BOOST_TEST(s.free_bits == 0.25);
  BOOST_TEST((s.binarize == vaec::binarize_mode::fixed));
  BOOST_TEST(s.eval_samples == 1000);
  BOOST_TEST(s.seed == 42u);
  BOOST_TEST(s.early_stopping == 5);
  BOOST_TEST((s.precision == vaec::product_precision::bf16));

  // The other words; an optimizer with some of its arguments, positional ones too.
  auto r2 = run(gaussian(normal_q, "train { binarize = dynamic objective = elbo kl = best optimizer = adam(3e-4) }"));
  const auto& s2 = require_model(r2).settings;
  BOOST_TEST((s2.binarize == vaec::binarize_mode::dynamic));
  BOOST_TEST((s2.objective == vaec::objective_kind::elbo));
  BOOST_TEST((s2.kl == vaec::kl_choice::best));
  BOOST_TEST(s2.lr == 3e-4);
  BOOST_TEST(s2.beta1 == 0.9);
  BOOST_TEST(s2.beta2 == 0.999);
  BOOST_TEST(s2.eps == 1e-8);
  auto r3 = run(gaussian(normal_q, "train { binarize = none precision = fp32 }"));
  BOOST_TEST((require_model(r3).settings.binarize == vaec::binarize_mode::none));
  BOOST_TEST((require_model(r3).settings.precision == vaec::product_precision::fp32));
}

// A seed written in digits is read exactly, over the whole range --seed takes (2^64 − 1):
// through a double, 2^53 + 1 became 2^53, another run's seed.
BOOST_AUTO_TEST_CASE(train_seed_is_read_exactly) {
  const std::vector<std::pair<std::string, std::uint64_t>> good = {
      {"9007199254740993", 9007199254740993ULL},
      {"9007199254740992", 9007199254740992ULL},
      {"18446744073709551615", 18446744073709551615ULL},
      {"1e3", 1000u}};
  for (const auto& [text, want] : good) {
    BOOST_TEST_CONTEXT(text) {
      auto r = run(gaussian(normal_q, "train { seed = " + text + " }"));
      BOOST_TEST(require_model(r).settings.seed == want);
    }
  }
  for (const std::string text : {"18446744073709551616", "99999999999999999999999"}) {
    BOOST_TEST_CONTEXT(text) {
      auto r = run(gaussian(normal_q, "train { seed = " + text + " }"));
      BOOST_TEST(!r.model);
      BOOST_TEST(r.rendered.find("seed must be a whole number from 0 to 18446744073709551615") != std::string::npos,
                 r.rendered);
    }
  }
}

// Under objective = iwae there is no KL term: β, its warm-up and free bits change nothing
// (a run's parameters are the same bits with beta = 1 and beta = 5), and check says so.
BOOST_AUTO_TEST_CASE(kl_settings_under_iwae_are_flagged) {
  const auto flagged = [](const std::string& train) {
    auto r = run(gaussian(normal_q, train));
    std::vector<std::string> keys;
    for (const auto& d : r.diags->all())
      if (d.level == vaec::severity::warning && d.kind == vaec::diagnostic_kind::setting_has_no_effect)
        keys.push_back(d.message.substr(0, d.message.find(' ')));
    return keys;
  };
  BOOST_TEST(flagged("train { objective = iwae samples = 5 beta = 5 free_bits = 0.5 kl_warmup = 2 kl_cycle = 4 }") ==
                 std::vector<std::string>({"beta", "kl_warmup", "kl_cycle", "free_bits"}),
             boost::test_tools::per_element());
  BOOST_TEST(flagged("train { objective = iwae samples = 5 beta = 1 free_bits = 0 }").empty());
  BOOST_TEST(flagged("train { objective = elbo beta = 5 free_bits = 0.5 }").empty());
}

BOOST_AUTO_TEST_CASE(train_rejects_negative_numbers) {
  // Each setting's smallest legal value is accepted; a negative one is not.
  const std::vector<std::string> bad = {
      "epochs = -1",         "batch = -128",          "samples = -1",          "eval_samples = -500",
      "early_stopping = -1", "seed = -1",             "beta = -0.5",           "kl_warmup = -1",
      "free_bits = -0.5",    "optimizer = adam(lr = -1e-3)", "optimizer = adam(eps = -1e-8)",
      "optimizer = adam(beta1 = -0.1)", "optimizer = adam(beta2 = -0.5)",
  };
  for (const auto& entry : bad) {
    BOOST_TEST_CONTEXT(entry) {
      std::string text = gaussian(normal_q, "train {\n  " + entry + "\n}");
      auto r = run(text);
      BOOST_TEST(!r.model.has_value());
      // The error points at the negative value: its '-'.
      BOOST_TEST(r.errors() == std::vector<std::string>{diag_at("bad_train_value", text, "-", text.find(entry))});
    }
  }
  const std::vector<std::string> good = {
      "epochs = 1", "batch = 1", "samples = 1", "eval_samples = 1", "early_stopping = 0", "seed = 0",
      "beta = 0",   "kl_warmup = 0", "free_bits = 0", "optimizer = adam(beta1 = 0, beta2 = 0)",
  };
  for (const auto& entry : good) {
    BOOST_TEST_CONTEXT(entry) {
      auto r = run(gaussian(normal_q, "train {\n  " + entry + "\n}"));
      BOOST_TEST(r.model.has_value(), r.rendered);
    }
  }
  // Zero where at least one is needed, fractions where a count is needed, words out of
  // their lists: the error points at the value.
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"epochs = 0", "0"}, {"batch = 0", "0"}, {"epochs = 2.5", "2.5"}, {"objective = foo", "foo"},
      {"kl = exact", "exact"}, {"binarize = always", "always"}, {"optimizer = sgd(lr = 1)", "sgd"},
      {"optimizer = adam(lr = 0)", "0"}, {"optimizer = adam(beta1 = 1)", "1)"}, {"beta = relu", "relu"},
      {"precision = fp16", "fp16"}, {"precision = 16", "16"},
  };
  for (const auto& [entry, value] : wrong) {
    BOOST_TEST_CONTEXT(entry) {
      std::string text = gaussian(normal_q, "train {\n  " + entry + "\n}");
      auto r = run(text);
      BOOST_TEST(r.errors() == std::vector<std::string>{diag_at("bad_train_value", text, value, text.find(entry))});
    }
  }
}

// ---- sizes -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(broadcasting) {
  // [n] + [1], [1] + [n], number with vector: all size [n].
  std::string q =
      "z ~ Normal(loc = linear(h, 20) + linear(h, 1) + 2 * linear(h, 20) - 1,\n"
      "             scale = softplus(linear(h, 1)) + softplus(linear(h, 20)) / 2)";
  auto r = run(gaussian(q));
  const auto& m = require_model(r);
  const auto& qf = m.factors.back();
  BOOST_TEST(qf.side == 'q');
  BOOST_REQUIRE_EQUAL(qf.dist.params.size(), 2u);
  BOOST_TEST(m.nodes[static_cast<std::size_t>(qf.dist.params[0])].size == 20);
  BOOST_TEST(m.nodes[static_cast<std::size_t>(qf.dist.params[1])].size == 20);

  // A [1] scale broadcasts against a [20] latent.
  auto r2 = run(gaussian("z ~ Normal(loc = linear(h, 20), scale = exp(param(1)))"));
  require_model(r2);
  auto r3 = run(gaussian("z ~ Normal(loc = param(1) + linear(h, 20), scale = 0.5)"));
  require_model(r3);
}

BOOST_AUTO_TEST_CASE(sizes_that_do_not_broadcast) {
  std::string text = gaussian("z ~ Normal(loc = linear(h, 20) + linear(h, 10), scale = exp(linear(h, 20)))");
  auto r = run(text);
  BOOST_TEST(!r.model.has_value());
  // At the operator, with a note on each side.
  BOOST_TEST(r.errors() == std::vector<std::string>{diag_at("size_mismatch", text, "+ linear(h, 10)")});
  BOOST_REQUIRE_EQUAL(r.diags->all().size(), 1u);
  const auto& notes = r.diags->all()[0].notes;
  BOOST_REQUIRE_EQUAL(notes.size(), 2u);
  BOOST_TEST(notes[0].where.begin == text.find("linear(h, 20) +"));
  BOOST_TEST(notes[1].where.begin == text.find("linear(h, 10)"));
  BOOST_TEST(kinds(r) == std::vector<std::string>{"size_mismatch"});

  std::string text2 = gaussian("z ~ Normal(loc = linear(h, 10), scale = exp(linear(h, 20)))");
  auto r2 = run(text2);
  BOOST_TEST(r2.errors() == std::vector<std::string>{diag_at("size_mismatch", text2, "linear(h, 10)")});
}

// ---- static ranges ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scale_must_be_provably_positive) {
  for (std::string_view scale : {"exp(linear(h, 20))", "softplus(linear(h, 20)) + 1e-4", "0.5",
                                 "sigmoid(linear(h, 20))", "exp(linear(h, 20)) * 0.5", "1 / softplus(linear(h, 20))",
                                 "sqrt(exp(linear(h, 20)))", "elu(linear(h, 20)) + 1", "tanh(linear(h, 20)) + 1",
                                 "--exp(linear(h, 20))"}) {
    BOOST_TEST_CONTEXT("scale = " << scale) {
      auto r = run(gaussian(fmt::format("z ~ Normal(loc = linear(h, 20), scale = {})", scale)));
      BOOST_TEST(r.model.has_value(), r.rendered);
    }
  }
  // Can be zero or negative: rejected, pointing at the value.
  for (std::string_view scale : {"relu(linear(h, 20))", "linear(h, 20)", "abs(linear(h, 20))",
                                 "square(linear(h, 20))", "exp(linear(h, 20)) - 1", "sqrt(relu(linear(h, 20)))",
                                 "log(exp(linear(h, 20)))", "0"}) {
    BOOST_TEST_CONTEXT("scale = " << scale) {
      std::string text = gaussian(fmt::format("z ~ Normal(loc = linear(h, 20), scale = {})", scale));
      auto r = run(text);
      BOOST_TEST(r.errors() ==
                 std::vector<std::string>{diag_at("constraint_violation", text, scale, text.find("scale = "))});
    }
  }
  // Negated values.
  for (std::string_view scale : {"-1", "-exp(linear(h, 20))", "---softplus(linear(h, 20))"}) {
    BOOST_TEST_CONTEXT("scale = " << scale) {
      std::string text = gaussian(fmt::format("z ~ Normal(loc = linear(h, 20), scale = {})", scale));
      auto neg = run(text);
      BOOST_TEST(neg.errors() ==
                 std::vector<std::string>{diag_at("constraint_violation", text, scale, text.find("scale = "))});
      BOOST_TEST(!neg.model.has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(probs_must_lie_in_the_unit_interval) {
  auto ok = run(model_text("real[20]", "Normal(0, 1)", normal_q, "",
                           "x ~ Bernoulli(probs = sigmoid(linear(h, 784)))"));
  require_model(ok);
  std::string text = model_text("real[20]", "Normal(0, 1)", normal_q, "", "x ~ Bernoulli(probs = linear(h, 784))");
  auto bad = run(text);
  BOOST_TEST(bad.errors() == std::vector<std::string>{diag_at("constraint_violation", text, "linear(h, 784)")});
  std::string text2 = model_text("real[20]", "Normal(0, 1)", normal_q, "",
                                 "x ~ Bernoulli(probs = sigmoid(linear(h, 784)) + 0.5)");
  auto bad2 = run(text2);
  BOOST_TEST(bad2.errors() ==
             std::vector<std::string>{diag_at("constraint_violation", text2, "sigmoid(linear(h, 784)) + 0.5")});
}

BOOST_AUTO_TEST_CASE(von_mises_fisher_mean_must_be_a_unit_vector) {
  require_model(run(model_text("sphere[11]", "HypersphericalUniform()", vmf_q)));
  std::string q = "z ~ VonMisesFisher(mean = linear(h, 11), concentration = softplus(linear(h, 1)) + 1)";
  std::string text = model_text("sphere[11]", "HypersphericalUniform()", q);
  auto r = run(text);
  BOOST_TEST(r.errors() == std::vector<std::string>{diag_at("not_unit_vector", text, "linear(h, 11)")});
  BOOST_REQUIRE(!r.diags->all().empty());
  BOOST_TEST(r.diags->all()[0].message.find("normalize(") != std::string::npos);
  // Arithmetic on a unit vector is not a unit vector.
  std::string q2 = "z ~ VonMisesFisher(mean = 2 * normalize(linear(h, 11)), concentration = exp(linear(h, 1)))";
  std::string text2 = model_text("sphere[11]", "HypersphericalUniform()", q2);
  BOOST_TEST(run(text2).errors() ==
             std::vector<std::string>{diag_at("not_unit_vector", text2, "2 * normalize(linear(h, 11))")});
}

// ---- data shapes -----------------------------------------------------------------------

// A Gaussian model whose data has type `data_type` with `n` values (the decoder's output
// size) and whose latent has type `latent_type` (its q's output size `k`).
std::string shaped_model(std::string_view data_type, int n, std::string_view latent_type = "real[20]", int k = 20) {
  return fmt::format(
      "data   x : {0}\n"
      "latent z : {2}\n"
      "p(z) = Normal(0, 1)\n"
      "p(x | z) {{\n"
      "  h = mlp(z, [64])\n"
      "  x ~ Normal(loc = linear(h, {1}), scale = 1)\n"
      "}}\n"
      "q(z | x) {{\n"
      "  h = mlp(x, [64])\n"
      "  z ~ Normal(linear(h, {3}), softplus(linear(h, {3})) + 1e-4)\n"
      "}}\n",
      data_type, n, latent_type, k);
}

BOOST_AUTO_TEST_CASE(data_shapes_are_flat_values) {
  struct accepted {
    std::string written;  // as in the model
    std::string shown;    // to_string
    int size;
    std::vector<int> shape;
  };
  for (const auto& a : std::vector<accepted>{
           {"real[28, 28]", "real[28, 28]", 784, {28, 28}},
           {"real[ 28 ,28 ]", "real[28, 28]", 784, {28, 28}},
           {"real[3, 32, 32]", "real[3, 32, 32]", 3072, {3, 32, 32}},
           {"real[1, 28, 28]", "real[1, 28, 28]", 784, {1, 28, 28}},
           {"real[2, 5]", "real[2, 5]", 10, {2, 5}},
           {"real[784]", "real[784]", 784, {784}},
           {"real[(7)]", "real[7]", 7, {7}},
           {"real[1e1]", "real[10]", 10, {10}},
           {"real[1, 1]", "real[1, 1]", 1, {1, 1}},
           {"real[3, 1000, 3333]", "real[3, 1000, 3333]", 9'999'000, {3, 1000, 3333}},
       }) {
    BOOST_TEST_CONTEXT(a.written) {
      auto r = run(shaped_model(a.written, a.size));
      const auto& m = require_model(r);
      const auto& t = m.variables[0].type;
      BOOST_TEST(t.size == a.size);
      BOOST_TEST(t.shape == a.shape);
      BOOST_TEST(vaec::to_string(t) == a.shown);
      // The encoder sees a flat vector of `size` numbers.
      BOOST_TEST(m.phi_count() == layer(a.size, 64) + 2 * layer(64, 20));
    }
  }
  // binary data too, and the latents keep their one-element shape.
  auto r = run(shaped_model("binary[28, 28]", 784));
  const auto& m = require_model(r);
  BOOST_TEST(m.variables[0].type.shape == (std::vector<int>{28, 28}));
  BOOST_TEST(vaec::to_string(m.variables[0].type) == "binary[28, 28]");
  BOOST_TEST(m.variables[1].type.shape == std::vector<int>{20});

  // The decoder must still produce all 784 values, not 28.
  std::string text = shaped_model("binary[28, 28]", 28);
  BOOST_TEST(kinds(run(text)) == std::vector<std::string>{"size_mismatch"});
}

BOOST_AUTO_TEST_CASE(bad_sizes_and_shapes) {
  struct rejected {
    std::string data;    // the data's type
    std::string latent;  // the latent's type
    std::string kind;
    std::string at;      // the text the error points at
    std::string message; // a part of the message
  };
  const std::string limit = "from 1 to 10000000";
  for (const auto& c : std::vector<rejected>{
           {"real[]", "real[20]", "bad_size", "real[]", "'real[]' has no size; write real[n], such as real[784]"},
           {"binary[]", "real[20]", "bad_size", "binary[]", "write binary[n], such as binary[784]"},
           {"real[784]", "sphere[]", "bad_size", "sphere[]", "write sphere[n], such as sphere[3]"},
           {"real[28, 0]", "real[20]", "bad_size", "0]", "size must be a whole number " + limit + ", not 0"},
           {"real[-28, 28]", "real[20]", "bad_size", "-28", "size must be a whole number " + limit + ", not -28"},
           {"real[28, 2.5]", "real[20]", "bad_size", "2.5", "size must be a whole number " + limit + ", not 2.5"},
           {"real[28, 20000000]", "real[20]", "bad_size", "20000000", "not 20000000"},
           {"real[28, n]", "real[20]", "unknown_name", "n]", "'n' is not a constant; a size is a whole number or an expression"},
           {"real[28, 2 * 14.25]", "real[20]", "bad_size", "2 * 14.25", "size must be a whole number " + limit + ", not 2 * 14.25"},
           {"real[28, 28 / 0]", "real[20]", "bad_size", "28 / 0", "division by zero in a size"},
           {"real[28, [28]]", "real[20]", "bad_size", "[28]", "a size is a whole number or integer arithmetic"},
           {"real[28, f(2)]", "real[20]", "bad_size", "f(2)", "a size is a whole number or integer arithmetic"},
           {"real[28, 1e999]", "real[20]", "number_out_of_range", "1e999", "too large"},
           {"real[10000, 10000]", "real[20]", "bad_size", "10000, 10000",
            "'real[10000, 10000]' holds more than 10000000 values, the largest size a vector may have"},
           {"real[3, 10000000, 10000000]", "real[20]", "bad_size", "3, 10000000, 10000000", "holds more than"},
           {"real[1, 2, 2, 2]", "real[20]", "bad_shape", "1, 2, 2, 2",
            "'real[1, 2, 2, 2]' has 4 dimensions; a shape has at most 3: [H, W], or [C, H, W] with the channels first"},
           {"real[32, 32, 3]", "real[20]", "bad_shape", "32, 32, 3",
            "channels first: real[3, 32, 32] is an RGB image; real[C, H, W] needs C = 1 or 3, not 32 "
            "(channels last? write real[3, 32, 32])"},
           {"binary[28, 28, 1]", "real[20]", "bad_shape", "28, 28, 1", "not 28 (channels last? write binary[1, 28, 28])"},
           {"real[4, 8, 8]", "real[20]", "bad_shape", "4, 8, 8", "needs C = 1 or 3, not 4"},
           {"sphere[3, 3]", "real[20]", "bad_shape", "3, 3]",
            "a sphere[n] value is one unit vector and has no shape: write sphere[9]"},
           {"real[784]", "real[2, 3]", "shaped_latent", "2, 3]",
            "a latent has a size, not a shape: write real[6] (only the data may have a shape, which pictures use)"},
           {"real[784]", "sphere[3, 3]", "shaped_latent", "3, 3]", "write sphere[9]"},
           {"real[784]", "real[1, 28, 28]", "shaped_latent", "1, 28, 28", "write real[784]"},
           {"real[784]", "real[10000, 10000]", "shaped_latent", "10000, 10000", "write real[n]"},
           {"real[784]", "binary[2, 3]", "unsupported_latent_type", "binary[2", "a latent cannot be binary[n]"},
           {"real[784]", "sphere[1]", "bad_size", "1]", "needs n >= 2"},
           {"real[784]", "sphere[1, 1]", "shaped_latent", "1, 1]", "write sphere[n]"},
       }) {
    BOOST_TEST_CONTEXT(c.data << " / " << c.latent) {
      std::string text = shaped_model(c.data, 784, c.latent);
      auto r = run(text);
      BOOST_TEST(!r.model);
      std::size_t from = text.find(c.data == "real[784]" ? "latent z : " : "data   x : ");
      BOOST_TEST(r.errors() == std::vector<std::string>{diag_at(c.kind, text, c.at, from)});
      BOOST_TEST(r.rendered.find(c.message) != std::string::npos, r.rendered);
    }
  }

  // Every bad dimension is reported, each at its own column; nothing more.
  std::string text = shaped_model("real[0, -1, 2.5]", 784);
  BOOST_TEST(run(text).errors() == (std::vector<std::string>{diag_at("bad_size", text, "0,"),
                                                             diag_at("bad_size", text, "-1"),
                                                             diag_at("bad_size", text, "2.5")}));
}

BOOST_AUTO_TEST_CASE(picture_layouts) {
  using kind = vaec::picture_layout::kind;
  using vaec::type_kind;
  struct expectation {
    vaec::var_type type;
    kind what;
    int channels, height, width;
    std::string why;
  };
  const std::string values = "plots of the values, not images";
  for (const auto& e : std::vector<expectation>{
           {{type_kind::binary, 784, {28, 28}}, kind::image, 1, 28, 28, "28×28 grey images"},
           {{type_kind::real, 10, {2, 5}}, kind::image, 1, 2, 5, "2×5 grey images"},
           {{type_kind::real, 3072, {3, 32, 32}}, kind::image, 3, 32, 32, "32×32 RGB images"},
           {{type_kind::real, 1200, {3, 20, 20}}, kind::image, 3, 20, 20, "20×20 RGB images"},
           {{type_kind::binary, 784, {1, 28, 28}}, kind::image, 1, 28, 28, "28×28 grey images"},
           {{type_kind::binary, 784, {784}}, kind::image, 1, 28, 28,
            "28×28 grey images, since 784 is a perfect square — declare binary[28, 28] to say so"},
           {{type_kind::real, 784, {}}, kind::image, 1, 28, 28,
            "28×28 grey images, since 784 is a perfect square — declare real[28, 28] to say so"},
           {{type_kind::real, 4, {4}}, kind::image, 1, 2, 2,
            "2×2 grey images, since 4 is a perfect square — declare real[2, 2] to say so"},
           {{type_kind::real, 9'998'244, {9'998'244}}, kind::image, 1, 3162, 3162,
            "3162×3162 grey images, since 9998244 is a perfect square — declare real[3162, 3162] to say so"},
           {{type_kind::real, 783, {783}}, kind::values, 1, 0, 0, values},
           {{type_kind::real, 785, {785}}, kind::values, 1, 0, 0, values},
           {{type_kind::real, 10'000'000, {10'000'000}}, kind::values, 1, 0, 0, values},
           {{type_kind::real, 1, {1}}, kind::values, 1, 0, 0, values},
           {{type_kind::real, 2, {2}}, kind::values, 1, 0, 0, values},
           {{type_kind::sphere, 9, {9}}, kind::values, 1, 0, 0, values},
       }) {
    BOOST_TEST_CONTEXT(vaec::to_string(e.type)) {
      auto p = vaec::picture_of(e.type);
      BOOST_TEST((p.what == e.what));
      BOOST_TEST(p.channels == e.channels);
      BOOST_TEST(p.height == e.height);
      BOOST_TEST(p.width == e.width);
      BOOST_TEST(p.why == e.why);
    }
  }
}

BOOST_AUTO_TEST_CASE(describe_says_how_pictures_draw_the_data) {
  auto data_line = [](std::string_view type, int n) {
    auto r = run(shaped_model(type, n));
    std::string text = vaec::describe(require_model(r));
    std::size_t at = text.find("  data");
    BOOST_REQUIRE(at != std::string::npos);
    return text.substr(at, text.find('\n', at) - at);
  };
  BOOST_TEST(data_line("binary[28, 28]", 784) ==
             "  data   x : binary[28, 28]   (784 values in [0, 1]; pictures: 28×28 grey images)");
  BOOST_TEST(data_line("binary[784]", 784) ==
             "  data   x : binary[784]   (784 values in [0, 1]; pictures: 28×28 grey images, since 784 is a perfect "
             "square — declare binary[28, 28] to say so)");
  BOOST_TEST(data_line("binary[10]", 10) ==
             "  data   x : binary[10]   (10 values in [0, 1]; pictures: plots of the values, not images)");
  BOOST_TEST(data_line("real[3, 32, 32]", 3072) ==
             "  data   x : real[3, 32, 32]   (vectors in R^3072; pictures: 32×32 RGB images)");
  // The latent's line says nothing of pictures.
  auto r = run(shaped_model("binary[28, 28]", 784));
  std::string text = vaec::describe(require_model(r));
  BOOST_TEST(text.find("  latent z : real[20]   (vectors in R^20)\n") != std::string::npos, text);
}

// ---- the report ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(describe_the_design_vmf_model) {
  auto r = run(vmf_design_model);
  const auto& m = require_model(r);
  std::string text = vaec::describe(m);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto line_with = [&](std::string_view needle) -> std::string {
    for (const auto& l : lines)
      if (l.find(needle) != std::string::npos) return l;
    return {};
  };
  std::string latent = line_with("latent z");
  BOOST_TEST(latent.rfind("  latent z : sphere[11]", 0) == 0u, text);
  BOOST_TEST(latent.find("(unit vectors in R^11, the sphere S^10)") != std::string::npos, text);
  BOOST_TEST(line_with("data") ==
                 "  data   x : binary[784]   (784 values in [0, 1]; pictures: 28×28 grey images, since 784 is a "
                 "perfect square — declare binary[28, 28] to say so)",
             text);
  BOOST_TEST(text.find("KL(VonMisesFisher ‖ HypersphericalUniform): closed form") != std::string::npos, text);
  BOOST_TEST(text.find("Wood's rejection sampler, with the rejection correction") != std::string::npos, text);
  // θ: mlp 11 → 256 → 512, linear 512 → 784. φ: mlp 784 → 512 → 256, linear 256 → 11 and 256 → 1.
  std::int64_t theta = layer(11, 256) + layer(256, 512) + layer(512, 784);
  std::int64_t phi = layer(784, 512) + layer(512, 256) + layer(256, 11) + layer(256, 1);
  BOOST_TEST(m.theta_count() == theta);
  BOOST_TEST(m.phi_count() == phi);
  BOOST_TEST(text.find(vaec::group_thousands(theta) + " parameters") != std::string::npos, text);
  BOOST_TEST(line_with("φ").find(vaec::group_thousands(phi) + " parameters") != std::string::npos, text);
  BOOST_TEST(lines.front() == "model fashion_vmf");
}

BOOST_AUTO_TEST_CASE(group_thousands) {
  BOOST_TEST(vaec::group_thousands(407440) == "407,440");
  BOOST_TEST(vaec::group_thousands(0) == "0");
  BOOST_TEST(vaec::group_thousands(7) == "7");
  BOOST_TEST(vaec::group_thousands(999) == "999");
  BOOST_TEST(vaec::group_thousands(1000) == "1,000");
  BOOST_TEST(vaec::group_thousands(100000) == "100,000");
  BOOST_TEST(vaec::group_thousands(1234567) == "1,234,567");
  BOOST_TEST(vaec::group_thousands(-1) == "-1");
  BOOST_TEST(vaec::group_thousands(-999) == "-999");
  BOOST_TEST(vaec::group_thousands(-1000) == "-1,000");
  BOOST_TEST(vaec::group_thousands(-1234567) == "-1,234,567");
  BOOST_TEST(vaec::group_thousands(std::numeric_limits<std::int64_t>::max()) == "9,223,372,036,854,775,807");
  BOOST_TEST(vaec::group_thousands(std::numeric_limits<std::int64_t>::min()) == "-9,223,372,036,854,775,808");
}

// An increasing function reaches f(lo) when its input reaches lo: exp(relu(·)) is 1 when
// the linear output is ≤ 0, so exp(relu(·)) − 1 can be 0 and is no scale.
BOOST_AUTO_TEST_CASE(attained_lower_bounds_are_not_strict) {
  for (std::string scale : {"exp(relu(linear(h, 20))) + -1", "sigmoid(relu(linear(h, 20))) + -0.5",
                            "sqrt(relu(linear(h, 20)) + 4) + -2", "softplus(relu(linear(h, 20))) + -0.6931471805599453"}) {
    BOOST_TEST_CONTEXT(scale) {
      auto r = run(gaussian("z ~ Normal(loc = linear(h, 20), scale = " + scale + ")"));
      BOOST_TEST(!r.model.has_value());
      BOOST_TEST((r.errors().size() == 1u && r.errors()[0].rfind("constraint_violation", 0) == 0), r.rendered);
    }
  }
  // Unbounded inputs never reach the limit: these are positive.
  for (std::string scale : {"exp(linear(h, 20))", "softplus(linear(h, 20))", "sigmoid(linear(h, 20))",
                            "exp(relu(linear(h, 20)))"}) {
    BOOST_TEST_CONTEXT(scale) { require_model(run(gaussian("z ~ Normal(loc = linear(h, 20), scale = " + scale + ")"))); }
  }
  // df = exp(relu(param(1))) + 1 is exactly 2 at initialization (param starts at 0): the
  // StudentT ‖ Normal closed form needs df > 2, so the KL falls back to entropy + MC.
  BOOST_TEST(method_name(kl_of(gaussian("z ~ StudentT(df = exp(relu(param(1))) + 1, loc = linear(h, 20), "
                                        "scale = exp(linear(h, 20)))"))) ==
             method_name(kl_method::entropy_plus_mc));
  BOOST_TEST(method_name(kl_of(gaussian("z ~ StudentT(df = exp(param(1)) + 2, loc = linear(h, 20), "
                                        "scale = exp(linear(h, 20)))"))) == method_name(kl_method::closed_form));
}

// Constants in sizes, shapes, expressions and train values; --set overriding a constant
// and train keys. Expected sizes and parameter counts are computed by hand from d.
BOOST_AUTO_TEST_CASE(constants_and_settings) {
  const std::string text = R"(model svae
const d = 10
const side = 28
const width = 2.5e-1
const warm = 4
data   x : binary[side, side]
latent z : sphere[d + 1]
latent g : real[2 * d - 15]
p(z) = HypersphericalUniform()
p(g) = Normal(0, 1)
p(x | z, g) {
  h = mlp(concat(z, g), [128])
  x ~ Bernoulli(logits = linear(h, side * side))
}
q(z | x) {
  h = mlp(x, [128])
  z ~ VonMisesFisher(mean = normalize(linear(h, d + 1)), concentration = softplus(linear(h, 1)) + 1)
}
q(g | x) {
  h = mlp(x, [128])
  g ~ Normal(loc = linear(h, 2 * d - 15), scale = softplus(linear(h, 2 * d - 15)) + width)
}
train { epochs = warm  kl_warmup = warm }
)";
  auto base = run(text);
  BOOST_TEST_REQUIRE(base.model.has_value(), base.rendered);
  const vaec::checked_model& m = *base.model;
  BOOST_TEST(m.variables[1].type.size == 11);  // sphere[d + 1], d = 10
  BOOST_TEST(m.variables[2].type.size == 5);   // real[2 * d - 15]
  BOOST_TEST((m.variables[0].type.shape == std::vector<int>{28, 28}));
  BOOST_TEST(m.settings.kl_warmup == 4.0);
  BOOST_TEST(m.settings.epochs == 4);
  BOOST_TEST_REQUIRE(m.constants.size() == 4u);
  BOOST_TEST(m.constants[0].name == "d");
  BOOST_TEST(m.constants[0].origin == "line 2");
  BOOST_TEST(m.constants[2].value == 0.25);
  // θ: mlp(16 → 128) + linear(128 → 784); φ: two mlp(784 → 128), linear(128 → 11), linear(128 → 1),
  // two linear(128 → 5).
  BOOST_TEST(m.theta_count() == (16 * 128 + 128) + (128 * 784 + 784));
  BOOST_TEST(m.phi_count() == 2 * (784 * 128 + 128) + (128 * 11 + 11) + (128 * 1 + 1) + 2 * (128 * 5 + 5));

  auto set = run(text, "test.vae", {"d=20", "epochs=3", "optimizer=adam(lr = 1e-4)", "binarize=dynamic"});
  BOOST_TEST_REQUIRE(set.model.has_value(), set.rendered);
  BOOST_TEST(set.model->variables[1].type.size == 21);
  BOOST_TEST(set.model->variables[2].type.size == 25);
  BOOST_TEST(set.model->constants[0].value == 20.0);
  BOOST_TEST(set.model->constants[0].origin == "set on the command line");
  BOOST_TEST(set.model->constants[1].origin == "line 3");
  BOOST_TEST(set.model->settings.epochs == 3);
  BOOST_TEST(set.model->settings.lr == 1e-4);
  BOOST_TEST((set.model->settings.binarize == vaec::binarize_mode::dynamic));
  // vaec check shows each constant with its origin.
  const std::string shown = vaec::describe(*set.model);
  BOOST_TEST(shown.find("const  d     = 20") != std::string::npos, shown);
  BOOST_TEST(shown.find("(set on the command line)") != std::string::npos, shown);
  BOOST_TEST(shown.find("sphere[21]") != std::string::npos, shown);

  // A constant set to a value that makes a size wrong names the constant and the command line.
  auto bad = run(text, "test.vae", {"d=7"});  // 2 * 7 - 15 = -1
  BOOST_TEST(!bad.model);
  BOOST_TEST(bad.rendered.find("size of 'g' is -1 (d = 7, set on the command line)") != std::string::npos, bad.rendered);
  auto word = run(text, "test.vae", {"d=ten"});
  BOOST_TEST(!word.model);
  BOOST_TEST((word.errors() == std::vector<std::string>{"bad_constant command line 1:9"}), word.rendered);
}

// --set lr=… (and beta1, beta2, eps): one argument of the optimizer, on top of the file's
// adam(…) and of a --set optimizer=…, whatever the order; the same checks as inside adam(…).
BOOST_AUTO_TEST_CASE(set_adam_arguments) {
  const std::string file = gaussian(normal_q, "train { optimizer = adam(lr = 2e-4, beta1 = 0.5) }");
  auto r = run(file, "test.vae", {"lr=3e-4", "beta2=0.99", "eps=1e-6"});
  const auto& s = require_model(r).settings;
  BOOST_TEST(s.lr == 3e-4);
  BOOST_TEST(s.beta1 == 0.5);  // the file's, kept
  BOOST_TEST(s.beta2 == 0.99);
  BOOST_TEST(s.eps == 1e-6);

  // A --set optimizer=… starts from adam's defaults; --set lr applies on top, before or after it.
  for (const auto& sets : {std::vector<std::string>{"lr=5e-4", "optimizer=adam(beta1 = 0.8)"},
                           std::vector<std::string>{"optimizer=adam(beta1 = 0.8)", "lr=5e-4"}}) {
    auto o = run(file, "test.vae", sets);
    const auto& so = require_model(o).settings;
    BOOST_TEST(so.lr == 5e-4);
    BOOST_TEST(so.beta1 == 0.8);
    BOOST_TEST(so.beta2 == 0.999);
  }

  // Both saying lr: refused, pointing at both.
  auto twice = run(file, "test.vae", {"optimizer=adam(lr = 1e-2)", "lr=1e-4"});
  BOOST_TEST(!twice.model);
  BOOST_TEST((twice.errors() == std::vector<std::string>{"duplicate_setting command line 2:7"}), twice.rendered);
  BOOST_TEST(twice.rendered.find("lr is set twice on the command line") != std::string::npos, twice.rendered);
  // In the other order the error is still at the later one, and the note at the first.
  auto twice2 = run(file, "test.vae", {"lr=1e-4", "optimizer=adam(lr = 1e-2)"});
  BOOST_TEST((twice2.errors() == std::vector<std::string>{"duplicate_setting command line 2:22"}), twice2.rendered);
  BOOST_TEST(twice2.rendered.find("command line:1:7: note: first set here") != std::string::npos, twice2.rendered);

  // The values are checked as adam's arguments are.
  auto bad = run(file, "test.vae", {"lr=0", "beta1=1", "beta2=0.99999999", "eps=1e-40", "lr2=1"});
  BOOST_TEST(!bad.model);
  BOOST_TEST((bad.errors() == std::vector<std::string>{"unknown_setting command line 5:7", "bad_train_value command line 1:10",
                                                      "bad_train_value command line 2:13", "bad_train_value command line 3:13",
                                                      "bad_train_value command line 4:11"}),
             bad.rendered);
  // A learning rate that float32 flushes to 0 would train nothing.
  auto tiny = run(file, "test.vae", {"lr=1e-40"});
  BOOST_TEST(!tiny.model);
  BOOST_TEST(tiny.rendered.find("lr = 1e-40 is below float32's smallest normal number") != std::string::npos,
             tiny.rendered);
  BOOST_TEST(require_model(run(file, "test.vae", {"lr=1.2e-38"})).settings.lr == 1.2e-38);
  BOOST_TEST(bad.rendered.find("(did you mean 'lr'?)") != std::string::npos, bad.rendered);

  // In the file, lr = … is not a train key: the message shows where it goes.
  auto in_file = run(gaussian(normal_q, "train { lr = 1e-3 }"));
  BOOST_TEST(!in_file.model);
  BOOST_TEST(in_file.rendered.find("'lr' is an argument of the optimizer: write optimizer = adam(lr = …)") !=
                 std::string::npos,
             in_file.rendered);

  // A constant of the same name wins, as for any --set.
  auto constant = run("const eps = 0.5\n" + file, "test.vae", {"eps=0.25"});
  const auto& mc = require_model(constant);
  BOOST_TEST(mc.constants[0].value == 0.25);
  BOOST_TEST(mc.settings.eps == 1e-8);
}

BOOST_AUTO_TEST_SUITE_END()
