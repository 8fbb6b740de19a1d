// The one table of builtin functions and distributions: names, signatures, supports,
// closed-form KL pairs. The checker, the "did you mean" suggestions, the report and
// the lowering all read it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vaec {

enum class function_id {
  linear, mlp, param,
  relu, elu, tanh, sigmoid, softplus, exp, log, sqrt, square, abs,
  leaky_relu, normalize, concat, sum, norm,
};

enum class family_id {
  normal, student_t, von_mises_fisher, power_spherical, hyperspherical_uniform,
  bernoulli, continuous_bernoulli, gaussian_mixture, vamp_prior, aggregate_posterior,
};

enum class type_kind { real, binary, sphere };

// What an argument must be.
enum class arg_kind {
  vector,     // a vector [n], or a number that broadcasts
  size,       // a positive integer literal (or integer arithmetic of constants)
  size_list,  // a list of positive integer literals: [512, 256]
  number,     // a number literal (possibly negative)
  function,   // the name of an elementwise function: relu, tanh, ...
  path,       // a string literal naming a file or folder: run = "runs/base"
};

struct param_spec {
  std::string_view name;
  arg_kind kind;
  bool required = true;
  double default_value = 0;  // for optional number arguments
  bool keyword_only = false; // must be given as name = value
};

struct function_info {
  std::string_view name;
  function_id id;
  std::vector<param_spec> params;
  bool variadic = false;     // concat: any number of vectors
  bool elementwise = false;  // [n] → [n], one value at a time
  bool activation = false;   // may be given as mlp's activation
  std::string_view signature;
};

struct family_info {
  std::string_view name;
  family_id id;
  type_kind support;
  std::vector<param_spec> params;
  bool closed_form_entropy = false;
  bool likelihood_only = false;     // Bernoulli, ContinuousBernoulli
  bool exactly_one_param = false;   // Bernoulli: logits or probs, not both
  std::string_view signature;
  bool prior_only = false;          // GaussianMixture: only as p(z) of a latent, its parameters learned (θ)
  bool any_support = false;         // VampPrior, AggregatePosterior: over whatever the latent is (a mixture of a q's family)
  bool fixed = false;               // AggregatePosterior: no parameters of its own, neither θ nor φ (constants of the model)
};

// The most components a GaussianMixture prior (or pseudo-inputs a VampPrior) may have.
inline constexpr int max_mixture_components = 100000;

std::span<const function_info> functions();
std::span<const family_info> families();

const function_info* find_function(std::string_view name);
const family_info* find_family(std::string_view name);
const function_info& info(function_id id);
const family_info& info(family_id id);

// The reserved words of the language (DESIGN §2): they cannot name anything.
std::span<const std::string_view> reserved_words();
bool is_reserved(std::string_view name);
// Whether `name` is a builtin function or distribution (these cannot be rebound).
bool is_builtin(std::string_view name);

// The types of variables.
std::string_view to_string(type_kind kind);
std::optional<type_kind> find_type(std::string_view name);
inline constexpr std::string_view type_names[] = {"real", "binary", "sphere"};

// ---- closed-form KL registry ---------------------------------------------------------

enum class kl_condition {
  none,
  df_above_2,  // StudentT ‖ Normal: the second moment exists only for df > 2
};

struct kl_pair {
  family_id q;
  family_id p;
  kl_condition condition;
};

// The (q, p) pairs with a closed-form KL(q ‖ p) (DESIGN §2 "Distributions").
std::span<const kl_pair> closed_form_kl_pairs();
const kl_pair* find_closed_form_kl(family_id q, family_id p);

// ---- suggestions ---------------------------------------------------------------------

// Stan's rule: a suggestion must be within this edit distance of what was written,
// min(len / 2, max_suggestion_distance).
inline constexpr std::size_t max_suggestion_distance = 5;
std::size_t suggestion_limit(std::string_view written);

// Optimal string alignment distance (Levenshtein plus adjacent transposition).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `written` within the suggestion limit, if any.
std::optional<std::string> suggest(std::string_view written, std::span<const std::string> candidates);

}  // namespace vaec
