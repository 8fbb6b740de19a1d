#include "lang/builtins.hpp"

#include <algorithm>
#include <array>

namespace vaec {

namespace {

using a = arg_kind;

const std::vector<function_info>& function_table() {
  static const std::vector<function_info> table = [] {
    std::vector<function_info> t;
    auto unary = [&](std::string_view name, function_id id, bool activation) {
      t.push_back({name, id, {{"h", a::vector}}, false, true, activation, ""});
    };
    t.push_back({"linear", function_id::linear, {{"h", a::vector}, {"n", a::size}}, false, false, false,
                 "linear(h, n): [m] → [n], an affine layer"});
    t.push_back({"mlp", function_id::mlp,
                 {{"h", a::vector}, {"sizes", a::size_list}, {"activation", a::function, false}}, false, false, false,
                 "mlp(h, [n1, n2, ...], activation = relu): [m] → [nk]"});
    t.push_back({"param", function_id::param, {{"n", a::size}, {"init", a::number, false, 0.0}}, false, false, false,
                 "param(n, init = 0): → [n], a free learnable vector"});
    unary("relu", function_id::relu, true);
    unary("elu", function_id::elu, true);
    unary("tanh", function_id::tanh, true);
    unary("sigmoid", function_id::sigmoid, true);
    unary("softplus", function_id::softplus, true);
    unary("exp", function_id::exp, false);
    unary("log", function_id::log, false);
    unary("sqrt", function_id::sqrt, false);
    unary("square", function_id::square, false);
    unary("abs", function_id::abs, false);
    t.push_back({"leaky_relu", function_id::leaky_relu, {{"h", a::vector}, {"slope", a::number, false, 0.01}}, false,
                 true, true, "leaky_relu(h, slope = 0.01)"});
    t.push_back({"normalize", function_id::normalize, {{"h", a::vector}}, false, false, false,
                 "normalize(h): [n] → [n], a unit vector"});
    t.push_back({"concat", function_id::concat, {{"h", a::vector}}, true, false, false,
                 "concat(a, b, ...): [m], [n] → [m + n]"});
    t.push_back({"sum", function_id::sum, {{"h", a::vector}}, false, false, false, "sum(h): [n] → [1]"});
    t.push_back({"norm", function_id::norm, {{"h", a::vector}}, false, false, false, "norm(h): [n] → [1]"});
    // Elementwise signatures name their function: "relu(h): [n] → [n], elementwise".
    static std::vector<std::string> texts;
    texts.reserve(t.size());
    for (auto& f : t)
      if (f.signature.empty()) {
        texts.push_back(std::string(f.name) + "(h): [n] → [n], elementwise");
        f.signature = texts.back();
      }
    return t;
  }();
  return table;
}

const std::vector<family_info>& family_table() {
  static const std::vector<family_info> table = {
      {"Normal", family_id::normal, type_kind::real, {{"loc", a::vector}, {"scale", a::vector}}, true, false, false,
       "Normal(loc, scale)"},
      {"StudentT", family_id::student_t, type_kind::real,
       {{"df", a::vector}, {"loc", a::vector, false, 0.0}, {"scale", a::vector, false, 1.0}}, true, false, false,
       "StudentT(df, loc = 0, scale = 1)"},
      {"VonMisesFisher", family_id::von_mises_fisher, type_kind::sphere,
       {{"mean", a::vector}, {"concentration", a::vector}}, true, false, false,
       "VonMisesFisher(mean, concentration)"},
      {"PowerSpherical", family_id::power_spherical, type_kind::sphere,
       {{"mean", a::vector}, {"concentration", a::vector}}, true, false, false,
       "PowerSpherical(mean, concentration)"},
      {"HypersphericalUniform", family_id::hyperspherical_uniform, type_kind::sphere, {}, true, false, false,
       "HypersphericalUniform()"},
      {"Bernoulli", family_id::bernoulli, type_kind::binary,
       {{"logits", a::vector, false, 0.0, true}, {"probs", a::vector, false, 0.0, true}}, false, true, true,
       "Bernoulli(logits = ...) or Bernoulli(probs = ...)"},
      {"ContinuousBernoulli", family_id::continuous_bernoulli, type_kind::binary,
       {{"logits", a::vector, false, 0.0, true}, {"probs", a::vector, false, 0.0, true}}, false, true, true,
       "ContinuousBernoulli(logits = ...) or ContinuousBernoulli(probs = ...)"},
      // A learned prior: K components whose means [K × n], scales [K × n] and weights (K
      // logits) are parameters of p (θ), created by the lowering, not written by the user.
      {"GaussianMixture", family_id::gaussian_mixture, type_kind::real, {{"components", a::size}}, false, false, false,
       "GaussianMixture(components = K)", true},
      // A learned prior over any latent (Tomczak & Welling 2018): the equal mixture of q's own
      // family at K pseudo-inputs, learned points of the data space (θ), through q's network (φ).
      {"VampPrior", family_id::vamp_prior, type_kind::real, {{"pseudo_inputs", a::size}}, false, false, false,
       "VampPrior(pseudo_inputs = K)", true, true},
      // A fixed prior over any latent: the aggregate posterior (1/M) Σ_m q*(z | x_m) of a finished
      // run's encoder q* over M of its training examples (figures/aggregate_prior.hpp resolves it).
      {"AggregatePosterior", family_id::aggregate_posterior, type_kind::real,
       {{"run", a::path}, {"examples", a::size, false, 1000}}, false, false, false,
       "AggregatePosterior(run = \"DIR\", examples = M)", true, true, true},
  };
  return table;
}

constexpr std::array<std::string_view, 9> reserved = {"model", "data",   "latent", "p",     "q",
                                                      "train", "real",   "binary", "sphere"};

constexpr std::array<kl_pair, 5> kl_pairs = {{
    {family_id::normal, family_id::normal, kl_condition::none},
    {family_id::student_t, family_id::normal, kl_condition::df_above_2},
    {family_id::von_mises_fisher, family_id::hyperspherical_uniform, kl_condition::none},
    {family_id::von_mises_fisher, family_id::von_mises_fisher, kl_condition::none},
    {family_id::power_spherical, family_id::hyperspherical_uniform, kl_condition::none},
}};

}  // namespace

std::span<const function_info> functions() { return function_table(); }
std::span<const family_info> families() { return family_table(); }

const function_info* find_function(std::string_view name) {
  for (const auto& f : function_table())
    if (f.name == name) return &f;
  return nullptr;
}

const family_info* find_family(std::string_view name) {
  for (const auto& f : family_table())
    if (f.name == name) return &f;
  return nullptr;
}

const function_info& info(function_id id) {
  for (const auto& f : function_table())
    if (f.id == id) return f;
  return function_table().front();  // unreachable: every id has a row
}

const family_info& info(family_id id) {
  for (const auto& f : family_table())
    if (f.id == id) return f;
  return family_table().front();  // unreachable: every id has a row
}

std::span<const std::string_view> reserved_words() { return reserved; }

bool is_reserved(std::string_view name) {
  return std::find(reserved.begin(), reserved.end(), name) != reserved.end();
}

bool is_builtin(std::string_view name) { return find_function(name) || find_family(name); }

std::string_view to_string(type_kind kind) {
  switch (kind) {
    case type_kind::real: return "real";
    case type_kind::binary: return "binary";
    case type_kind::sphere: return "sphere";
  }
  return "?";
}

std::optional<type_kind> find_type(std::string_view name) {
  if (name == "real") return type_kind::real;
  if (name == "binary") return type_kind::binary;
  if (name == "sphere") return type_kind::sphere;
  return std::nullopt;
}

std::span<const kl_pair> closed_form_kl_pairs() { return kl_pairs; }

const kl_pair* find_closed_form_kl(family_id q, family_id p) {
  for (const auto& k : kl_pairs)
    if (k.q == q && k.p == p) return &k;
  return nullptr;
}

std::size_t suggestion_limit(std::string_view written) {
  return std::min(written.size() / 2, max_suggestion_distance);
}

std::size_t edit_distance(std::string_view s, std::string_view t) {
  const std::size_t n = s.size(), m = t.size();
  // Three rolling rows suffice for the transposition rule.
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = s[i - 1] == t[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::optional<std::string> suggest(std::string_view written, std::span<const std::string> candidates) {
  // Very long names (a fuzzer's) cannot be near any candidate; skip the quadratic work.
  if (written.size() > 64) return std::nullopt;
  std::size_t limit = suggestion_limit(written);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    if (c == written) continue;
    // Case-insensitive matches ("normal" for "Normal") are the best suggestion there is.
    bool same_folded = c.size() == written.size() &&
                       std::equal(c.begin(), c.end(), written.begin(), [](char x, char y) {
                         return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
                       });
    std::size_t d = same_folded ? 0 : edit_distance(written, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace vaec
