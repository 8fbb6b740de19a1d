// Tests of lang/builtins: the table of functions and distributions (DESIGN §2), the
// reserved words, the closed-form KL registry and the "did you mean" machinery.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lang/builtins.hpp"

namespace {

using vaec::family_id;

std::vector<std::string> family_names() {
  std::vector<std::string> out;
  for (const auto& f : vaec::families()) out.emplace_back(f.name);
  return out;
}

std::vector<std::string> function_names() {
  std::vector<std::string> out;
  for (const auto& f : vaec::functions()) out.emplace_back(f.name);
  return out;
}

// The suggestion, or "(none)".
std::string suggestion(std::string_view written, const std::vector<std::string>& candidates) {
  return vaec::suggest(written, candidates).value_or("(none)");
}

std::string name_of(family_id id) { return std::string(vaec::info(id).name); }

}  // namespace

BOOST_AUTO_TEST_SUITE(builtins)

// ---- edit distance ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(edit_distance_by_hand) {
  // kitten → sitten (substitute) → sittin (substitute) → sitting (insert).
  BOOST_TEST(vaec::edit_distance("kitten", "sitting") == 3u);
  BOOST_TEST(vaec::edit_distance("sitting", "kitten") == 3u);
  // One adjacent transposition.
  BOOST_TEST(vaec::edit_distance("ab", "ba") == 1u);
  BOOST_TEST(vaec::edit_distance("Normla", "Normal") == 1u);
  // Empty strings: the other string's length.
  BOOST_TEST(vaec::edit_distance("", "") == 0u);
  BOOST_TEST(vaec::edit_distance("", "abc") == 3u);
  BOOST_TEST(vaec::edit_distance("abc", "") == 3u);
  // Equal strings.
  BOOST_TEST(vaec::edit_distance("linear", "linear") == 0u);
  // flaw → law (delete) → lawn (insert).
  BOOST_TEST(vaec::edit_distance("flaw", "lawn") == 2u);
  // Case counts.
  BOOST_TEST(vaec::edit_distance("normal", "Normal") == 1u);
  // One extra letter at the end.
  BOOST_TEST(vaec::edit_distance("VonMisesFisherr", "VonMisesFisher") == 1u);
  // Optimal string alignment, not full Damerau-Levenshtein: no edit of a transposed
  // pair, so "ca" → "abc" takes 3 (delete c, insert b, insert c), not 2.
  BOOST_TEST(vaec::edit_distance("ca", "abc") == 3u);
  // Nothing in common: the longer length.
  BOOST_TEST(vaec::edit_distance("abc", "xyzw") == 4u);
}

BOOST_AUTO_TEST_CASE(suggestion_limit_is_min_of_half_length_and_five) {
  BOOST_TEST(vaec::max_suggestion_distance == 5u);
  BOOST_TEST(vaec::suggestion_limit("") == 0u);
  BOOST_TEST(vaec::suggestion_limit(std::string(1, 'a')) == 0u);   // min(0, 5)
  BOOST_TEST(vaec::suggestion_limit(std::string(4, 'a')) == 2u);   // min(2, 5)
  BOOST_TEST(vaec::suggestion_limit(std::string(9, 'a')) == 4u);   // min(4, 5)
  BOOST_TEST(vaec::suggestion_limit(std::string(10, 'a')) == 5u);  // min(5, 5)
  BOOST_TEST(vaec::suggestion_limit(std::string(11, 'a')) == 5u);  // min(5, 5)
  BOOST_TEST(vaec::suggestion_limit(std::string(20, 'a')) == 5u);  // min(10, 5)
}

BOOST_AUTO_TEST_CASE(suggest_the_nearest_name) {
  const auto families = family_names();
  const auto functions = function_names();
  BOOST_TEST(suggestion("VonMisesFisherr", families) == "VonMisesFisher");
  BOOST_TEST(suggestion("normal", families) == "Normal");
  BOOST_TEST(suggestion("Bernouli", families) == "Bernoulli");
  BOOST_TEST(suggestion("Studentt", families) == "StudentT");
  BOOST_TEST(suggestion("softpluss", functions) == "softplus");
  BOOST_TEST(suggestion("liner", functions) == "linear");
  // Far from everything: nothing.
  BOOST_TEST(suggestion("xyzzy", families) == "(none)");
  BOOST_TEST(suggestion("Gamma", families) == "(none)");
  BOOST_TEST(suggestion("transformer", functions) == "(none)");
  // A one-letter name has limit 0: only a different capitalization could be suggested.
  BOOST_TEST(suggestion("q", functions) == "(none)");
  // No candidates, no suggestion.
  BOOST_TEST(suggestion("Normal", std::vector<std::string>{}) == "(none)");
}

// ---- the table -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_function_is_found) {
  // DESIGN §2, "Builtin functions".
  const std::vector<std::pair<std::string_view, vaec::function_id>> expected = {
      {"linear", vaec::function_id::linear},       {"mlp", vaec::function_id::mlp},
      {"param", vaec::function_id::param},         {"relu", vaec::function_id::relu},
      {"elu", vaec::function_id::elu},             {"tanh", vaec::function_id::tanh},
      {"sigmoid", vaec::function_id::sigmoid},     {"softplus", vaec::function_id::softplus},
      {"exp", vaec::function_id::exp},             {"log", vaec::function_id::log},
      {"sqrt", vaec::function_id::sqrt},           {"square", vaec::function_id::square},
      {"abs", vaec::function_id::abs},             {"leaky_relu", vaec::function_id::leaky_relu},
      {"normalize", vaec::function_id::normalize}, {"concat", vaec::function_id::concat},
      {"sum", vaec::function_id::sum},             {"norm", vaec::function_id::norm},
  };
  BOOST_TEST(vaec::functions().size() == expected.size());
  for (const auto& [name, id] : expected) {
    BOOST_TEST_CONTEXT(name) {
      const auto* f = vaec::find_function(name);
      BOOST_REQUIRE(f != nullptr);
      BOOST_TEST(f->name == name);
      BOOST_TEST((f->id == id));
      BOOST_TEST(vaec::info(id).name == name);
      BOOST_TEST(vaec::is_builtin(name));
      BOOST_TEST(!vaec::is_reserved(name));
      BOOST_TEST(vaec::find_family(name) == nullptr);
      BOOST_TEST(!f->signature.empty());
    }
  }
  // Names are case-sensitive.
  BOOST_TEST(vaec::find_function("Linear") == nullptr);
  BOOST_TEST(vaec::find_function("") == nullptr);

  // Arities from the DESIGN table.
  BOOST_TEST(vaec::find_function("linear")->params.size() == 2u);
  const auto& mlp = *vaec::find_function("mlp");
  BOOST_REQUIRE_EQUAL(mlp.params.size(), 3u);
  BOOST_TEST(mlp.params[2].name == "activation");
  BOOST_TEST(!mlp.params[2].required);
  const auto& param = *vaec::find_function("param");
  BOOST_REQUIRE_EQUAL(param.params.size(), 2u);
  BOOST_TEST(param.params[1].name == "init");
  BOOST_TEST(!param.params[1].required);
  BOOST_TEST(param.params[1].default_value == 0.0);
  const auto& leaky = *vaec::find_function("leaky_relu");
  BOOST_REQUIRE_EQUAL(leaky.params.size(), 2u);
  BOOST_TEST(leaky.params[1].name == "slope");
  BOOST_TEST(leaky.params[1].default_value == 0.01);
  BOOST_TEST(vaec::find_function("concat")->variadic);
  for (std::string_view name : {"relu", "elu", "tanh", "sigmoid", "softplus", "exp", "log", "sqrt", "square", "abs"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(vaec::find_function(name)->elementwise);
      BOOST_TEST(vaec::find_function(name)->params.size() == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_family_is_found) {
  // DESIGN §2, "Distributions": name, support, whether it is a likelihood only.
  struct row {
    std::string_view name;
    family_id id;
    vaec::type_kind support;
    bool likelihood_only;
    std::size_t params;
  };
  const std::vector<row> expected = {
      {"Normal", family_id::normal, vaec::type_kind::real, false, 2},
      {"StudentT", family_id::student_t, vaec::type_kind::real, false, 3},
      {"VonMisesFisher", family_id::von_mises_fisher, vaec::type_kind::sphere, false, 2},
      {"PowerSpherical", family_id::power_spherical, vaec::type_kind::sphere, false, 2},
      {"HypersphericalUniform", family_id::hyperspherical_uniform, vaec::type_kind::sphere, false, 0},
      {"Bernoulli", family_id::bernoulli, vaec::type_kind::binary, true, 2},
      {"ContinuousBernoulli", family_id::continuous_bernoulli, vaec::type_kind::binary, true, 2},
      {"GaussianMixture", family_id::gaussian_mixture, vaec::type_kind::real, false, 1},
      {"VampPrior", family_id::vamp_prior, vaec::type_kind::real, false, 1},
      {"AggregatePosterior", family_id::aggregate_posterior, vaec::type_kind::real, false, 2},
  };
  BOOST_TEST(vaec::families().size() == expected.size());
  for (const auto& r : expected) {
    BOOST_TEST_CONTEXT(r.name) {
      const auto* f = vaec::find_family(r.name);
      BOOST_REQUIRE(f != nullptr);
      BOOST_TEST(f->name == r.name);
      BOOST_TEST((f->id == r.id));
      BOOST_TEST((f->support == r.support));
      BOOST_TEST(f->likelihood_only == r.likelihood_only);
      BOOST_TEST(f->params.size() == r.params);
      BOOST_TEST(vaec::info(r.id).name == r.name);
      BOOST_TEST(vaec::is_builtin(r.name));
      BOOST_TEST(!vaec::is_reserved(r.name));
      BOOST_TEST(vaec::find_function(r.name) == nullptr);
    }
  }
  BOOST_TEST(vaec::find_family("normal") == nullptr);
  BOOST_TEST(vaec::find_family("Gamma") == nullptr);

  // Parameter names as DESIGN writes them.
  const auto& normal = *vaec::find_family("Normal");
  BOOST_TEST(normal.params[0].name == "loc");
  BOOST_TEST(normal.params[1].name == "scale");
  const auto& t = *vaec::find_family("StudentT");
  BOOST_TEST(t.params[0].name == "df");
  BOOST_TEST(t.params[0].required);
  BOOST_TEST(t.params[1].name == "loc");
  BOOST_TEST(t.params[2].name == "scale");
  for (std::string_view sph : {"VonMisesFisher", "PowerSpherical"}) {
    BOOST_TEST(vaec::find_family(sph)->params[0].name == "mean");
    BOOST_TEST(vaec::find_family(sph)->params[1].name == "concentration");
  }
  // Bernoulli: exactly one of logits and probs, by name.
  const auto& b = *vaec::find_family("Bernoulli");
  BOOST_TEST(b.exactly_one_param);
  BOOST_TEST(b.params[0].name == "logits");
  BOOST_TEST(b.params[1].name == "probs");
  BOOST_TEST(b.params[0].keyword_only);
  BOOST_TEST(b.params[1].keyword_only);
  // GaussianMixture: a learned prior only, with a whole number of components.
  const auto& gm = *vaec::find_family("GaussianMixture");
  BOOST_TEST(gm.prior_only);
  BOOST_TEST(gm.params[0].name == "components");
  BOOST_TEST((gm.params[0].kind == vaec::arg_kind::size));
  BOOST_TEST(!gm.closed_form_entropy);
  // VampPrior: a learned prior only, over any latent, with a whole number of pseudo-inputs.
  const auto& vp = *vaec::find_family("VampPrior");
  BOOST_TEST(vp.any_support);
  BOOST_TEST(vp.params[0].name == "pseudo_inputs");
  BOOST_TEST((vp.params[0].kind == vaec::arg_kind::size));
  // AggregatePosterior: a fixed prior only (no parameters), over any latent: a run folder
  // (a string) and a whole number of examples, 1000 unless given.
  const auto& ap = *vaec::find_family("AggregatePosterior");
  BOOST_TEST(ap.fixed);
  BOOST_TEST(ap.params[0].name == "run");
  BOOST_TEST((ap.params[0].kind == vaec::arg_kind::path));
  BOOST_TEST(ap.params[0].required);
  BOOST_TEST(ap.params[1].name == "examples");
  BOOST_TEST((ap.params[1].kind == vaec::arg_kind::size));
  BOOST_TEST(!ap.params[1].required);
  BOOST_TEST(ap.params[1].default_value == 1000);
  for (const auto& f : vaec::families()) {
    const bool prior = f.id == family_id::gaussian_mixture || f.id == family_id::vamp_prior ||
                       f.id == family_id::aggregate_posterior;
    BOOST_TEST(f.prior_only == prior, f.name);
    BOOST_TEST(f.any_support == (f.id == family_id::vamp_prior || f.id == family_id::aggregate_posterior), f.name);
    BOOST_TEST(f.fixed == (f.id == family_id::aggregate_posterior), f.name);
  }
}

BOOST_AUTO_TEST_CASE(types) {
  BOOST_TEST((vaec::find_type("real") == vaec::type_kind::real));
  BOOST_TEST((vaec::find_type("binary") == vaec::type_kind::binary));
  BOOST_TEST((vaec::find_type("sphere") == vaec::type_kind::sphere));
  BOOST_TEST(!vaec::find_type("Real").has_value());
  BOOST_TEST(!vaec::find_type("integer").has_value());
  BOOST_TEST(vaec::to_string(vaec::type_kind::real) == "real");
  BOOST_TEST(vaec::to_string(vaec::type_kind::binary) == "binary");
  BOOST_TEST(vaec::to_string(vaec::type_kind::sphere) == "sphere");
}

BOOST_AUTO_TEST_CASE(reserved_words) {
  // DESIGN §2: `model data latent p q train` and the type names.
  const std::set<std::string_view> expected = {"model", "data", "latent", "p", "q", "train", "real", "binary", "sphere"};
  std::set<std::string_view> actual(vaec::reserved_words().begin(), vaec::reserved_words().end());
  BOOST_TEST(actual.size() == vaec::reserved_words().size());  // no duplicates
  BOOST_TEST((actual == expected));
  for (std::string_view w : expected) {
    BOOST_TEST_CONTEXT(w) {
      BOOST_TEST(vaec::is_reserved(w));
      BOOST_TEST(!vaec::is_builtin(w));
    }
  }
  for (std::string_view w : {"x", "z", "Model", "pq", "data2", "latents", "", "Normal", "linear", "adam"})
    BOOST_TEST(!vaec::is_reserved(w), w);
  BOOST_TEST(!vaec::is_builtin("x"));
  BOOST_TEST(!vaec::is_builtin("adam"));
}

// ---- closed-form KL --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(closed_form_kl_registry_matches_the_design_table) {
  // DESIGN §2 "closed-form KL to": KL(q ‖ p) for (q, p) =
  //   (Normal, Normal), (StudentT, Normal) when df > 2, (VonMisesFisher, HypersphericalUniform),
  //   (VonMisesFisher, VonMisesFisher), (PowerSpherical, HypersphericalUniform).
  const std::set<std::pair<std::string, std::string>> expected = {
      {"Normal", "Normal"},
      {"StudentT", "Normal"},
      {"VonMisesFisher", "HypersphericalUniform"},
      {"VonMisesFisher", "VonMisesFisher"},
      {"PowerSpherical", "HypersphericalUniform"},
  };
  std::set<std::pair<std::string, std::string>> listed;
  for (const auto& k : vaec::closed_form_kl_pairs()) listed.emplace(name_of(k.q), name_of(k.p));
  BOOST_TEST(vaec::closed_form_kl_pairs().size() == 5u);
  BOOST_TEST((listed == expected));

  // find_closed_form_kl agrees for every (q, p) of families.
  for (const auto& q : vaec::families())
    for (const auto& p : vaec::families()) {
      BOOST_TEST_CONTEXT("KL(" << q.name << " ‖ " << p.name << ")") {
        const auto* k = vaec::find_closed_form_kl(q.id, p.id);
        bool want = expected.count({std::string(q.name), std::string(p.name)}) > 0;
        BOOST_TEST((k != nullptr) == want);
        if (k) {
          BOOST_TEST((k->q == q.id));
          BOOST_TEST((k->p == p.id));
        }
      }
    }

  // Only StudentT ‖ Normal has a condition: df > 2.
  BOOST_TEST((vaec::find_closed_form_kl(family_id::student_t, family_id::normal)->condition ==
              vaec::kl_condition::df_above_2));
  for (const auto& k : vaec::closed_form_kl_pairs())
    if (k.q != family_id::student_t)
      BOOST_TEST((k.condition == vaec::kl_condition::none), name_of(k.q) << " ‖ " << name_of(k.p));
  // The registry is ordered: KL(q ‖ p) is not KL(p ‖ q).
  BOOST_TEST(vaec::find_closed_form_kl(family_id::hyperspherical_uniform, family_id::von_mises_fisher) == nullptr);
  BOOST_TEST(vaec::find_closed_form_kl(family_id::normal, family_id::student_t) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
