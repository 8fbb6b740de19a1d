// Joint blocks, `q(s, g | x) { h = …; s ~ …; g ~ … }` (DESIGN §2): what the checker makes
// of them (one factor per variable, in the order sampled, and the block's earlier samples
// each one uses; θ and φ counted per block), what `vaec check` prints, and the lowering:
// one trunk, whose parameters are shared, and an objective equal to that of the same
// model written as separate blocks whose trunks hold equal parameters.
//
// Parameter counts come from the layer formula: a linear layer from m to n inputs has an
// m×n weight and an n bias, m·n + n parameters.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lang/lower.hpp"
#include "lang/report.hpp"
#include "runtime/plan.hpp"
#include "tests/lang/test_util.hpp"

namespace {

namespace rt = vaec::rt;
using vaec::kl_method;

std::int64_t layer(std::int64_t m, std::int64_t n) { return m * n + n; }

const vaec::checked_model& require_model(const vaec::test::run_result& r) {
  BOOST_REQUIRE_MESSAGE(r.model.has_value(), "the model does not check:\n" << r.rendered);
  BOOST_TEST(r.errors().empty());
  return *r.model;
}

std::vector<std::string> factor_texts(const vaec::checked_model& m) {
  std::vector<std::string> out;
  for (const auto& f : m.factors) out.push_back(vaec::factor_text(m, f));
  return out;
}

std::vector<std::string> block_texts(const vaec::checked_model& m) {
  std::vector<std::string> out;
  for (const auto& b : m.blocks) out.push_back(vaec::block_text(m, b));
  return out;
}

const vaec::latent_plan& plan_of(const vaec::checked_model& m, std::string_view latent) {
  for (const auto& lp : m.latents)
    if (m.variables[static_cast<std::size_t>(lp.variable)].name == latent) return lp;
  BOOST_FAIL("no latent named " << latent);
  return m.latents.front();
}

std::string method_name(kl_method k) { return std::string(vaec::to_string(k)); }

// The product space of the issue: sphere[5] × real[8], one encoder. `g_loc` is the Gaussian
// head's input.
std::string product_model(std::string_view g_loc = "concat(h, s)") {
  return "model product\n"
         "data   x : binary[784]\n"
         "latent s : sphere[5]\n"
         "latent g : real[8]\n"
         "p(s) = HypersphericalUniform()\n"
         "p(g) = Normal(0, 1)\n"
         "p(x | s, g) {\n"
         "  h = mlp(concat(s, g), [64], activation = relu)\n"
         "  x ~ Bernoulli(logits = linear(h, 784))\n"
         "}\n"
         "q(s, g | x) {\n"
         "  h = mlp(x, [512, 256])\n"
         "  s ~ VonMisesFisher(mean = normalize(linear(h, 5)), concentration = softplus(linear(h, 1)) + 1)\n"
         "  g ~ Normal(loc = linear(" +
         std::string(g_loc) +
         ", 8), scale = softplus(linear(h, 8)) + 1e-4)\n"
         "}\n";
}

// `text` with the first `from` replaced by `to`.
std::string replace_once(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "test bug: '" << from << "' is not in the text");
  return text.replace(at, from.size(), to);
}

// Lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, std::string_view needle) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(joint_blocks)

// ---- the checker ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_q_block_of_two_latents_is_two_factors_and_one_block) {
  auto r = vaec::test::run(product_model());
  const auto& m = require_model(r);
  BOOST_TEST(factor_texts(m) == (std::vector<std::string>{"p(s)", "p(g)", "p(x | s, g)", "q(s | x)", "q(g | x, s)"}),
             boost::test_tools::per_element());
  BOOST_TEST(block_texts(m) == (std::vector<std::string>{"p(s)", "p(g)", "p(x | s, g)", "q(s, g | x)"}),
             boost::test_tools::per_element());
  const auto& q = m.blocks.back();
  BOOST_REQUIRE_EQUAL(q.factors.size(), 2u);
  BOOST_TEST(q.factors[0] == 3);
  BOOST_TEST(q.factors[1] == 4);
  // φ: mlp 784 → 512 → 256 (the trunk, once); s: linear 256 → 5 and 256 → 1; g: linear
  // [256 + 5] → 8 and 256 → 8.
  const std::int64_t trunk = layer(784, 512) + layer(512, 256);
  const std::int64_t phi = trunk + layer(256, 5) + layer(256, 1) + layer(256 + 5, 8) + layer(256, 8);
  BOOST_TEST(m.phi_count() == phi);
  BOOST_TEST(q.parameter_count == phi);
  BOOST_TEST(m.factors[3].parameter_count == trunk + layer(256, 5) + layer(256, 1));
  BOOST_TEST(m.factors[4].parameter_count == layer(256 + 5, 8) + layer(256, 8));
  BOOST_TEST(m.theta_count() == layer(5 + 8, 64) + layer(64, 784));
  // The segments of the block tile its nodes; each parameter node is on the q side.
  BOOST_TEST(m.factors[3].first_node == q.first_node);
  BOOST_TEST(m.factors[4].first_node == m.factors[3].end_node);
  BOOST_TEST(m.factors[4].end_node == q.end_node);
  for (int i = q.first_node; i < q.end_node; ++i) BOOST_TEST(m.nodes[static_cast<std::size_t>(i)].side == 'q');

  BOOST_TEST(method_name(plan_of(m, "s").method) == method_name(kl_method::closed_form));
  BOOST_TEST(method_name(plan_of(m, "g").method) == method_name(kl_method::closed_form));

  const std::string text = vaec::describe(m);
  const auto phi_lines = lines_with(text, "φ (variational family q)");
  BOOST_REQUIRE_EQUAL(phi_lines.size(), 1u);
  BOOST_TEST(phi_lines[0] == "φ (variational family q): q(s, g | x)  " + vaec::group_thousands(phi) +
                                 " parameters (a joint block: q(s | x) q(g | x, s))",
             text);
  // The KL of g depends on the sample of s: an expectation over q.
  BOOST_TEST(text.find("objective: ELBO(x) = E_q[log p(x | s, g)] − KL(q(s | x) ‖ p(s)) − E_q[KL(q(g | x, s) ‖ p(g))]\n") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find("  g: q(g | x, s) is a factor of the joint block q(s, g | x)\n") != std::string::npos, text);
  BOOST_TEST(text.find("  s: q(s | x) is a factor of the joint block q(s, g | x)\n") != std::string::npos, text);
  BOOST_TEST(text.find("  g: KL(Normal ‖ Normal): closed form\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_sample_conditions_only_on_the_earlier_samples_it_uses) {
  // g's head reads only the trunk: q(g | x), and its KL is a plain closed form.
  auto r = vaec::test::run(product_model("h"));
  const auto& m = require_model(r);
  BOOST_TEST(factor_texts(m) == (std::vector<std::string>{"p(s)", "p(g)", "p(x | s, g)", "q(s | x)", "q(g | x)"}),
             boost::test_tools::per_element());
  const std::string text = vaec::describe(m);
  BOOST_TEST(text.find("− KL(q(s | x) ‖ p(s)) − KL(q(g | x) ‖ p(g))\n") != std::string::npos, text);
  BOOST_TEST(text.find("(a joint block: q(s | x) q(g | x))\n") != std::string::npos, text);
  // Through a name bound between the samples, and through arithmetic, the use is seen.
  auto r2 = vaec::test::run(product_model("t"));
  BOOST_TEST(!r2.model);  // t is not bound
  auto r3 = vaec::test::run(replace_once(product_model("u"), "  g ~", "  u = tanh(h) * sum(s)\n  g ~"));
  BOOST_TEST(factor_texts(require_model(r3)).back() == "q(g | x, s)");
}

BOOST_AUTO_TEST_CASE(a_p_block_of_a_latent_and_the_data) {
  // A ladder decoder: p(z1, x | z2) shares a trunk between the prior of z1 and the
  // likelihood, which also reads z1. The posterior is a joint block too.
  const std::string text =
      "data   x  : binary[784]\n"
      "latent z1 : real[16]\n"
      "latent z2 : real[4]\n"
      "p(z2) = Normal(0, 1)\n"
      "p(z1, x | z2) {\n"
      "  h = mlp(z2, [32], activation = tanh)\n"
      "  z1 ~ Normal(loc = linear(h, 16), scale = softplus(linear(h, 16)) + 1e-4)\n"
      "  x ~ Bernoulli(logits = linear(concat(h, z1), 784))\n"
      "}\n"
      "q(z1, z2 | x) {\n"
      "  h = mlp(x, [64], activation = relu)\n"
      "  z1 ~ Normal(loc = linear(h, 16), scale = softplus(linear(h, 16)) + 1e-4)\n"
      "  z2 ~ Normal(loc = linear(concat(h, z1), 4), scale = softplus(linear(h, 4)) + 1e-4)\n"
      "}\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  BOOST_TEST(factor_texts(m) ==
                 (std::vector<std::string>{"p(z2)", "p(z1 | z2)", "p(x | z2, z1)", "q(z1 | x)", "q(z2 | x, z1)"}),
             boost::test_tools::per_element());
  BOOST_TEST(m.theta_count() == layer(4, 32) + 2 * layer(32, 16) + layer(32 + 16, 784));
  BOOST_TEST(m.phi_count() == layer(784, 64) + 2 * layer(64, 16) + layer(64 + 16, 4) + layer(64, 4));
  // q samples z2 after z1, and z1's prior depends on z2: Monte Carlo, as in the hierarchy.
  BOOST_TEST(method_name(plan_of(m, "z1").method) == method_name(kl_method::monte_carlo));
  BOOST_TEST(method_name(plan_of(m, "z2").method) == method_name(kl_method::closed_form));
  // The likelihood uses the latents through the block's trunk: no warning.
  BOOST_TEST(r.diags->all().empty(), r.rendered);
  const std::string shown = vaec::describe(m);
  BOOST_TEST(shown.find("p(z1, x | z2)") != std::string::npos, shown);
  BOOST_TEST(shown.find("E_q[log p(x | z2, z1)]") != std::string::npos, shown);
}

BOOST_AUTO_TEST_CASE(a_p_block_of_two_priors) {
  // p(z2, z1): the hierarchy's two priors in one block; z1's prior uses z2.
  const std::string text =
      "data   x  : binary[784]\n"
      "latent z1 : real[8]\n"
      "latent z2 : real[4]\n"
      "p(z2, z1) {\n"
      "  z2 ~ Normal(0, 1)\n"
      "  z1 ~ Normal(loc = linear(z2, 8), scale = 1)\n"
      "}\n"
      "p(x | z1) = Bernoulli(logits = linear(z1, 784))\n"
      "q(z1 | x) = Normal(loc = linear(x, 8), scale = softplus(linear(x, 8)) + 1e-4)\n"
      "q(z2 | z1) = Normal(loc = linear(z1, 4), scale = 1)\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  BOOST_TEST(factor_texts(m) ==
                 (std::vector<std::string>{"p(z2)", "p(z1 | z2)", "p(x | z1)", "q(z1 | x)", "q(z2 | z1)"}),
             boost::test_tools::per_element());
  BOOST_TEST(m.blocks.front().parameter_count == layer(4, 8));
  // Without the use, z2 generates nothing: the same error as for separate factors.
  auto ru = vaec::test::run(replace_once(text, "linear(z2, 8)", "0"));
  BOOST_TEST(!ru.model);
  BOOST_TEST(ru.errors() == std::vector<std::string>{"latent_unused 3:8"}, ru.rendered);
}

BOOST_AUTO_TEST_CASE(each_sample_conditions_on_exactly_the_earlier_samples_it_reaches) {
  // c reads a (through a name bound after b's sample) but not b; b reads nothing sampled.
  const std::string text =
      "data   x : real[6]\n"
      "latent a : real[2]\n"
      "latent b : real[2]\n"
      "latent c : real[2]\n"
      "p(a) = Normal(0, 1)\n"
      "p(b) = Normal(0, 1)\n"
      "p(c) = Normal(0, 1)\n"
      "p(x | a, b, c) = Normal(loc = linear(concat(a, b, c), 6), scale = 1)\n"
      "q(a, b, c | x) {\n"
      "  h = tanh(linear(x, 4))\n"
      "  a ~ Normal(loc = linear(h, 2), scale = 1)\n"
      "  b ~ Normal(loc = linear(h, 2), scale = 1)\n"
      "  u = a * 2\n"
      "  c ~ Normal(loc = linear(concat(h, u), 2), scale = softplus(linear(h, 2)) + 0.1)\n"
      "}\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  BOOST_TEST(factor_texts(m) == (std::vector<std::string>{"p(a)", "p(b)", "p(c)", "p(x | a, b, c)", "q(a | x)",
                                                          "q(b | x)", "q(c | x, a)"}),
             boost::test_tools::per_element());
  BOOST_TEST(vaec::describe(m).find("(a joint block: q(a | x) q(b | x) q(c | x, a))") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_block_of_many_variables_checks_and_lowers_in_linear_time) {
  // 2,000 latents in one q block and one p block, each sample reading the one before: the
  // checker walks each sample's nodes once, so this takes about a second, not minutes.
  constexpr int n = 2000;
  std::string text = "data x : real[3]\n";
  std::string names;
  for (int k = 0; k < n; ++k) {
    text += "latent z" + std::to_string(k) + " : real[1]\n";
    names += (k == 0 ? "z" : ", z") + std::to_string(k);
  }
  text += "p(" + names + ") {\n  z0 ~ Normal(0, 1)\n";
  for (int k = 1; k < n; ++k) text += "  z" + std::to_string(k) + " ~ Normal(loc = z" + std::to_string(k - 1) + ", scale = 1)\n";
  text += "}\np(x | z" + std::to_string(n - 1) + ") = Normal(loc = linear(z" + std::to_string(n - 1) + ", 3), scale = 1)\n";
  text += "q(" + names + " | x) {\n  h = tanh(linear(x, 4))\n  z0 ~ Normal(loc = linear(h, 1), scale = 1)\n";
  for (int k = 1; k < n; ++k)
    text += "  z" + std::to_string(k) + " ~ Normal(loc = linear(h, 1) + z" + std::to_string(k - 1) + ", scale = 1)\n";
  text += "}\n";
  const auto start = std::chrono::steady_clock::now();
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  auto low = vaec::lower(m);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(seconds < 20.0);  // generous on a loaded machine; a quadratic walk takes minutes
  BOOST_REQUIRE_EQUAL(m.blocks.size(), 3u);
  BOOST_TEST(m.blocks[0].factors.size() == static_cast<std::size_t>(n));
  const auto texts = factor_texts(m);
  BOOST_TEST(texts[1] == "p(z1 | z0)");
  BOOST_TEST(texts[static_cast<std::size_t>(n + 2)] == "q(z1 | x, z0)");
  BOOST_TEST(texts.back() == "q(z" + std::to_string(n - 1) + " | x, z" + std::to_string(n - 2) + ")");
  BOOST_TEST(low.latent_nodes.size() == static_cast<std::size_t>(n));
  BOOST_TEST(m.phi_count() == layer(3, 4) + n * layer(4, 1));
}

BOOST_AUTO_TEST_CASE(structure_errors_point_at_the_mistake) {
  const std::string head =
      "data   x : binary[784]\n"
      "latent s : sphere[5]\n"
      "latent g : real[8]\n"
      "p(s) = HypersphericalUniform()\n"
      "p(g) = Normal(0, 1)\n"
      "p(x | s, g) = Bernoulli(logits = linear(concat(s, g), 784))\n";  // lines 1–6
  const std::string S = "  s ~ VonMisesFisher(mean = normalize(linear(h, 5)), concentration = 2)\n";
  const std::string G = "  g ~ Normal(loc = linear(h, 8), scale = 1)\n";
  const std::string H = "  h = tanh(linear(x, 16))\n";
  struct bad {
    std::string name, block;
    std::vector<std::string> errors;
  };
  for (const bad& c : std::vector<bad>{
           {"sampled in two blocks", "q(g | x) = Normal(loc = linear(x, 8), scale = 1)\nq(s, g | x) {\n" + H + S + G + "}\n",
            {"duplicate_factor 8:6"}},
           {"sampled twice", "q(s, g | x) {\n" + H + S + S + G + "}\n", {"duplicate_sample 10:3"}},
           {"listed twice", "q(s, g, s | x) {\n" + H + S + G + "}\n", {"duplicate_sample 7:9"}},
           {"never sampled", "q(s, g | x) {\n" + H + S + "}\n", {"missing_sample 7:6"}},
           {"nothing sampled", "q(s, g | x) {\n" + H + "}\n", {"missing_sample 7:3"}},
           {"not in the header", "q(s, g | x) {\n" + H + S + "  y ~ Normal(0, 1)\n" + G + "}\n",
            {"sample_wrong_variable 10:3"}},
           {"the data sampled in a q block", "q(s, g | x) {\n" + H + S + "  x ~ Bernoulli(logits = h)\n" + G + "}\n",
            {"sample_wrong_variable 10:3"}},
           {"after the sample of a one-variable block", "q(s | x) {\n" + H + S + G + "}\nq(g | x) = Normal(0, 1)\n",
            {"sample_not_last 10:3"}},
           {"out of order", "q(s, g | x) {\n" + H + G + S + "}\n", {"sample_order 9:3"}},
           {"conditioned on its own variable", "q(s, g | x, g) {\n" + H + S + G + "}\n", {"self_condition 7:13"}},
           {"a statement after the last sample", "q(s, g | x) {\n" + H + S + G + "  t = 1\n}\n",
            {"sample_not_last 11:3"}},
           {"a variable used before its sample",
            "q(s, g | x) {\n" + H + "  s ~ VonMisesFisher(mean = normalize(linear(g, 5)), concentration = 2)\n" + G + "}\n",
            {"not_in_conditioning 9:46"}},
           {"the data in a q block", "q(s, x, g | x) {\n" + H + S + G + "}\n", {"q_factor_for_data 7:6"}},
           {"a one-line joint factor", "q(s, g | x) = Normal(0, 1)\n", {"missing_sample 7:1"}},
       }) {
    BOOST_TEST_CONTEXT(c.name) {
      auto r = vaec::test::run(head + c.block);
      BOOST_TEST(!r.model);
      BOOST_TEST(r.errors() == c.errors, boost::test_tools::per_element());
      BOOST_TEST(r.rendered.find("internal") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(cycles_through_a_joint_block) {
  // p(z1, z2 | z3) needs z3, which p(z3 | z2) draws from z2: the block is on a cycle,
  // whichever of its variables the other factor reads.
  for (const std::string reads : {"z1", "z2"}) {
    BOOST_TEST_CONTEXT("p(z3 | " << reads << ")") {
      const std::string text =
          "data   x : binary[784]\n"
          "latent z1 : real[4]\n"
          "latent z2 : real[4]\n"
          "latent z3 : real[4]\n"
          "p(z1, z2 | z3) {\n"
          "  h = tanh(linear(z3, 16))\n"
          "  z1 ~ Normal(loc = linear(h, 4), scale = 1)\n"
          "  z2 ~ Normal(loc = linear(h, 4), scale = 1)\n"
          "}\n"
          "p(z3 | " + reads + ") = Normal(loc = linear(" + reads + ", 4), scale = 1)\n"
          "p(x | z1, z2) = Bernoulli(logits = linear(concat(z1, z2), 784))\n"
          "q(z1, z2, z3 | x) {\n"
          "  h = mlp(x, [64])\n"
          "  z1 ~ Normal(loc = linear(h, 4), scale = 1)\n"
          "  z2 ~ Normal(loc = linear(h, 4), scale = 1)\n"
          "  z3 ~ Normal(loc = linear(h, 4), scale = 1)\n"
          "}\n";
      auto r = vaec::test::run(text);
      BOOST_TEST(!r.model);
      const auto errors = r.errors();
      BOOST_REQUIRE_EQUAL(errors.size(), 1u);
      BOOST_TEST(errors[0].rfind("cycle ", 0) == 0u, errors[0]);
      BOOST_TEST(r.rendered.find("the p factors form a cycle") != std::string::npos, r.rendered);
    }
  }
  // Among q factors: q(s, g | x, t) and q(t | g).
  const std::string q_cycle =
      "data   x : binary[784]\n"
      "latent s : real[2]\n"
      "latent g : real[2]\n"
      "latent t : real[2]\n"
      "p(s) = Normal(0, 1)\n"
      "p(g) = Normal(0, 1)\n"
      "p(t) = Normal(0, 1)\n"
      "p(x | s, g, t) = Bernoulli(logits = linear(concat(s, g, t), 784))\n"
      "q(s, g | x, t) {\n"
      "  h = linear(concat(x, t), 8)\n"
      "  s ~ Normal(loc = linear(h, 2), scale = 1)\n"
      "  g ~ Normal(loc = linear(h, 2), scale = 1)\n"
      "}\n"
      "q(t | g) = Normal(loc = g, scale = 1)\n";
  auto r = vaec::test::run(q_cycle);
  BOOST_TEST(!r.model);
  BOOST_TEST(r.rendered.find("the q factors form a cycle") != std::string::npos, r.rendered);
}

// ---- the lowering ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_lowered_block_creates_its_trunk_once) {
  auto r = vaec::test::run(product_model());
  const auto& m = require_model(r);
  auto low = vaec::lower(m);
  std::int64_t theta = 0, phi = 0;
  std::vector<std::string> q_names;
  for (const auto& p : low.graph.params()) {
    (p.group == rt::param_group::theta ? theta : phi) += static_cast<std::int64_t>(p.size());
    if (p.group == rt::param_group::phi) q_names.push_back(p.name);
  }
  BOOST_TEST(theta == m.theta_count());
  BOOST_TEST(phi == m.phi_count());
  // mlp [512, 256] (linear1, linear2), s's two heads, g's two heads: six layers named
  // after the block as written, numbered across it.
  std::vector<std::string> want;
  for (int k = 1; k <= 6; ++k)
    for (const char* part : {".weight", ".bias"}) want.push_back("q(s, g | x).linear" + std::to_string(k) + part);
  BOOST_TEST(q_names == want, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(low.latent_nodes.size(), 2u);
  BOOST_TEST(low.latent_names == (std::vector<std::string>{"s", "g"}), boost::test_tools::per_element());
  BOOST_TEST((low.dists[0].q == vaec::family_id::von_mises_fisher));
  BOOST_TEST((low.dists[1].q == vaec::family_id::normal));
  // Every way of lowering works: prior draws, the posterior's location, latents as inputs.
  for (auto source : {vaec::latent_source::prior_draws, vaec::latent_source::posterior_location,
                      vaec::latent_source::inputs}) {
    vaec::lower_options o;
    o.latents = source;
    auto l = vaec::lower(m, o);
    BOOST_TEST(l.latent_nodes.size() == 2u);
    for (int n : l.latent_nodes) BOOST_TEST(n >= 0);
    BOOST_TEST(l.likelihood.params.size() >= 1u);
  }
}

BOOST_AUTO_TEST_CASE(two_mixture_priors_in_one_block_have_parameters_of_their_own) {
  const std::string text =
      "data   x : real[4]\n"
      "latent a : real[2]\n"
      "latent b : real[3]\n"
      "p(a, b) {\n"
      "  a ~ GaussianMixture(components = 3)\n"
      "  b ~ GaussianMixture(components = 2)\n"
      "}\n"
      "p(x | a, b) = Normal(loc = linear(concat(a, b), 4), scale = 1)\n"
      "q(a, b | x) {\n"
      "  h = tanh(linear(x, 8))\n"
      "  a ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 0.01)\n"
      "  b ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.01)\n"
      "}\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  // K·n means, K·n scales and K weights each.
  const std::int64_t priors = (2 * 3 * 2 + 3) + (2 * 2 * 3 + 2);
  BOOST_TEST(m.blocks.front().parameter_count == priors);
  BOOST_TEST(m.theta_count() == priors + layer(5, 4));
  auto low = vaec::lower(m);
  std::map<std::string, std::size_t> sizes;
  std::int64_t theta = 0;
  for (const auto& p : low.graph.params()) {
    BOOST_TEST(sizes.count(p.name) == 0u, p.name << " is created twice");
    sizes[p.name] = p.size();
    if (p.group == rt::param_group::theta) theta += static_cast<std::int64_t>(p.size());
  }
  BOOST_TEST(theta == m.theta_count());
  BOOST_TEST(sizes["p(a, b).a.mixture.means"] == 6u);
  BOOST_TEST(sizes["p(a, b).b.mixture.means"] == 6u);
  BOOST_TEST(sizes["p(a, b).a.mixture.logits"] == 3u);
  BOOST_TEST(sizes["p(a, b).b.mixture.logits"] == 2u);
  const std::string shown = vaec::describe(m);
  BOOST_TEST(shown.find("p(a, b)      29 parameters (a joint block: p(a) p(b)) (p(a): 3 components: 6 means, 6 scales, "
                        "3 weights) (p(b): 2 components: 6 means, 6 scales, 2 weights)") != std::string::npos,
             shown);
}

BOOST_AUTO_TEST_CASE(vamp_priors_in_a_joint_block_share_the_trunk_and_heads) {
  // Both latents of one q block have VampPriors: each pseudo-input pass runs the block's
  // trunk and the latent's head through the same layers (φ), making no parameter of its
  // own; the pseudo-inputs (θ) are each prior's. A pass that named the layers after the
  // factor (q(s | x)) instead of the block made a second, unshared encoder.
  const std::string text =
      "data   x : binary[6]\n"
      "latent s : sphere[3]\n"
      "latent g : real[2]\n"
      "p(s) = VampPrior(pseudo_inputs = 4)\n"
      "p(g) = VampPrior(pseudo_inputs = 3)\n"
      "p(x | s, g) = Bernoulli(logits = linear(concat(s, g), 6))\n"
      "q(s, g | x) {\n"
      "  h = tanh(linear(x, 5))\n"
      "  s ~ VonMisesFisher(mean = normalize(linear(h, 3)), concentration = softplus(linear(h, 1)) + 1)\n"
      "  g ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 0.1)\n"
      "}\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  BOOST_TEST(m.phi_count() == layer(6, 5) + layer(5, 3) + layer(5, 1) + layer(5, 2) + layer(5, 2));
  BOOST_TEST(m.theta_count() == 4 * 6 + 3 * 6 + layer(5, 6));
  for (auto source : {vaec::latent_source::posterior_draws, vaec::latent_source::prior_draws,
                      vaec::latent_source::posterior_location}) {
    vaec::lower_options o;
    o.latents = source;
    auto low = vaec::lower(m, o);
    std::int64_t theta = 0, phi = 0;
    for (const auto& p : low.graph.params()) {
      (p.group == rt::param_group::theta ? theta : phi) += static_cast<std::int64_t>(p.size());
      if (p.group == rt::param_group::phi)
        BOOST_TEST(p.name.rfind("q(s, g | x).linear", 0) == 0u, p.name << " is not one of the block's layers");
    }
    BOOST_TEST(theta == m.theta_count());
    BOOST_TEST(phi == m.phi_count());
  }
}

BOOST_AUTO_TEST_CASE(prior_draws_follow_the_order_of_a_p_block) {
  // z1's prior reads z2, sampled earlier in the same block: drawing from the prior, z1 is
  // W·z2 + b up to its scale, 1e-6, with W and b the block's parameters.
  const std::string text =
      "data   x  : real[2]\n"
      "latent z1 : real[2]\n"
      "latent z2 : real[3]\n"
      "p(z2, z1) {\n"
      "  z2 ~ Normal(0, 1)\n"
      "  z1 ~ Normal(loc = linear(z2, 2), scale = 1e-6)\n"
      "}\n"
      "p(x | z1) = Normal(loc = z1, scale = 1)\n"
      "q(z1, z2 | x) {\n"
      "  z1 ~ Normal(loc = linear(x, 2), scale = 1)\n"
      "  z2 ~ Normal(loc = linear(z1, 3), scale = 1)\n"
      "}\n";
  auto r = vaec::test::run(text);
  const auto& m = require_model(r);
  vaec::lower_options o;
  o.latents = vaec::latent_source::prior_draws;
  auto low = vaec::lower(m, o);
  BOOST_TEST(low.latent_names == (std::vector<std::string>{"z1", "z2"}), boost::test_tools::per_element());
  rt::parameters<double> params(low.graph);
  params.initialize(3);
  int weight = -1, bias = -1;
  for (std::size_t i = 0; i < low.graph.params().size(); ++i) {
    if (low.graph.params()[i].name == "p(z2, z1).linear1.weight") weight = static_cast<int>(i);
    if (low.graph.params()[i].name == "p(z2, z1).linear1.bias") bias = static_cast<int>(i);
  }
  BOOST_REQUIRE(weight >= 0);
  BOOST_REQUIRE(bias >= 0);
  const int B = 5;
  rt::plan<double> plan(low.graph, params, B, 1, false);
  rt::rng noise(2, rt::stream::noise, 0);
  plan.forward(noise);
  const auto z1 = plan.value(low.latent_nodes[0]), z2 = plan.value(low.latent_nodes[1]);
  const auto W = params.value(weight), b = params.value(bias);  // W is [2 × 3], column-major
  BOOST_REQUIRE_EQUAL(z1.rows, 2);
  BOOST_REQUIRE_EQUAL(z2.rows, 3);
  BOOST_REQUIRE_EQUAL(z1.cols, B);
  double spread = 0;
  for (int j = 0; j < B; ++j)
    for (int i = 0; i < 2; ++i) {
      double want = b.data[i];
      for (int k = 0; k < 3; ++k) want += W.data[k * 2 + i] * z2.data[j * 3 + k];
      BOOST_TEST(std::fabs(z1.data[j * 2 + i] - want) < 1e-4, "z1[" << i << ", " << j << "]");
      spread += std::fabs(want);
    }
  BOOST_TEST(spread > 0.1);  // the draws are not all zero
}

// The joint block and the same model written as separate blocks, each with its own copy
// of the trunk: with the copies' parameters equal to the joint trunk's, and the same noise,
// the objective is the same number, and the joint trunk's gradient is the sum of the
// copies' gradients (the heads' gradients are equal). Checked in double on both sides: θ
// (a p block of a latent and the data) and φ.
BOOST_AUTO_TEST_CASE(objective_equals_that_of_separate_blocks_with_equal_trunks) {
  const std::string common =
      "data   x  : binary[6]\n"
      "latent z1 : real[3]\n"
      "latent z2 : sphere[3]\n"
      "p(z2) = HypersphericalUniform()\n";
  const std::string joint = common +
                            "p(z1, x | z2) {\n"
                            "  h = tanh(linear(z2, 5))\n"
                            "  z1 ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.1)\n"
                            "  x ~ Bernoulli(logits = linear(concat(h, z1), 6))\n"
                            "}\n"
                            "q(z1, z2 | x) {\n"
                            "  h = tanh(linear(x, 5))\n"
                            "  z1 ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.1)\n"
                            "  z2 ~ VonMisesFisher(mean = normalize(linear(concat(h, z1), 3)), concentration = softplus(linear(h, 1)) + 1)\n"
                            "}\n";
  const std::string split = common +
                            "p(z1 | z2) {\n"
                            "  h = tanh(linear(z2, 5))\n"
                            "  z1 ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.1)\n"
                            "}\n"
                            "p(x | z2, z1) {\n"
                            "  h = tanh(linear(z2, 5))\n"
                            "  x ~ Bernoulli(logits = linear(concat(h, z1), 6))\n"
                            "}\n"
                            "q(z1 | x) {\n"
                            "  h = tanh(linear(x, 5))\n"
                            "  z1 ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.1)\n"
                            "}\n"
                            "q(z2 | x, z1) {\n"
                            "  h = tanh(linear(x, 5))\n"
                            "  z2 ~ VonMisesFisher(mean = normalize(linear(concat(h, z1), 3)), concentration = softplus(linear(h, 1)) + 1)\n"
                            "}\n";
  // Joint layer → the separate model's layers that hold the same function (the trunk: two).
  const std::map<std::string, std::vector<std::string>> same = {
      {"p(z1, x | z2).linear1", {"p(z1 | z2).linear1", "p(x | z2, z1).linear1"}},
      {"p(z1, x | z2).linear2", {"p(z1 | z2).linear2"}},
      {"p(z1, x | z2).linear3", {"p(z1 | z2).linear3"}},
      {"p(z1, x | z2).linear4", {"p(x | z2, z1).linear2"}},
      {"q(z1, z2 | x).linear1", {"q(z1 | x).linear1", "q(z2 | x, z1).linear1"}},
      {"q(z1, z2 | x).linear2", {"q(z1 | x).linear2"}},
      {"q(z1, z2 | x).linear3", {"q(z1 | x).linear3"}},
      {"q(z1, z2 | x).linear4", {"q(z2 | x, z1).linear2"}},
      {"q(z1, z2 | x).linear5", {"q(z2 | x, z1).linear3"}},
  };
  for (const std::string train : {"", "train { kl = mc }", "train { objective = iwae samples = 3 }"}) {
    BOOST_TEST_CONTEXT("settings: '" << train << "'") {
      auto rj = vaec::test::run(joint + train, "joint.vae");
      auto rs = vaec::test::run(split + train, "split.vae");
      const auto& mj = require_model(rj);
      const auto& ms = require_model(rs);
      BOOST_TEST(factor_texts(mj) == factor_texts(ms), boost::test_tools::per_element());
      auto lj = vaec::lower(mj);
      auto ls = vaec::lower(ms);
      rt::parameters<double> pj(lj.graph), ps(ls.graph);
      pj.initialize(5);
      ps.initialize(6);
      std::map<std::string, const rt::param_info*> split_params;
      for (const auto& info : ls.graph.params()) split_params[info.name] = &info;
      // The separate model takes the joint model's values, each trunk copy the same.
      std::size_t copied = 0;
      for (const auto& info : lj.graph.params()) {
        const std::string suffix = info.name.substr(info.name.rfind('.'));
        const auto it = same.find(info.name.substr(0, info.name.rfind('.')));
        BOOST_REQUIRE_MESSAGE(it != same.end(), "no counterpart for " << info.name);
        for (const auto& name : it->second) {
          const rt::param_info* s = split_params.at(name + suffix);
          BOOST_REQUIRE_EQUAL(s->size(), info.size());
          for (std::size_t k = 0; k < info.size(); ++k) ps.values[s->offset + s->at(k)] = pj.values[info.offset + info.at(k)];
          copied += info.size();
        }
      }
      std::size_t split_total = 0;
      for (const auto& info : ls.graph.params()) split_total += info.size();
      BOOST_TEST(copied == split_total);  // every parameter of the separate model was set

      const int samples = mj.settings.samples;
      rt::plan<double> plan_j(lj.graph, pj, 4, samples), plan_s(ls.graph, ps, 4, samples);
      for (auto* p : {&plan_j, &plan_s}) p->settings().rejection_correction = false;
      rt::rng r(9, rt::stream::init, 1);
      auto xj = plan_j.input(lj.data);
      auto xs = plan_s.input(ls.data);
      for (std::size_t i = 0; i < xj.size(); ++i) xj.data[i] = xs.data[i] = r.uniform() < 0.5 ? 0.0 : 1.0;
      rt::rng noise_j(4, rt::stream::noise, 0), noise_s(4, rt::stream::noise, 0);
      plan_j.forward(noise_j);
      plan_s.forward(noise_s);
      const double loss_j = plan_j.result().loss, loss_s = plan_s.result().loss;
      BOOST_TEST(std::isfinite(loss_j));
      BOOST_TEST(std::fabs(loss_j - loss_s) <= 1e-12 * (1 + std::fabs(loss_s)), "joint " << loss_j << ", separate " << loss_s);
      plan_j.backward();
      plan_s.backward();
      double largest = 0;
      for (const auto& info : lj.graph.params()) {
        const std::string suffix = info.name.substr(info.name.rfind('.'));
        const auto& copies = same.at(info.name.substr(0, info.name.rfind('.')));
        for (std::size_t k = 0; k < info.size(); ++k) {
          double sum = 0;
          for (const auto& name : copies) {
            const rt::param_info* s = split_params.at(name + suffix);
            sum += ps.grads[s->offset + s->at(k)];
          }
          const double gj = pj.grads[info.offset + info.at(k)];
          largest = std::max(largest, std::fabs(gj));
          BOOST_TEST(std::fabs(gj - sum) <= 1e-10 * (1 + std::fabs(sum)), info.name << "[" << k << "]: joint " << gj
                                                                                      << ", separate " << sum);
        }
      }
      BOOST_TEST(largest > 1e-3);  // the gradients are not all zero
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
