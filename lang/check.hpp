// check(ast, diagnostics) → the checked model: names resolved, sizes and supports
// checked, the factor structure validated, and the objective derived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lang/ast.hpp"
#include "lang/builtins.hpp"
#include "lang/diagnostic.hpp"
#include "lang/range.hpp"

namespace vaec {

// The largest size a vector may have.
inline constexpr std::int64_t max_vector_size = 10'000'000;

// The largest number of dimensions a data shape may have: [C, H, W].
inline constexpr std::size_t max_shape_rank = 3;

// A variable's type. The value is always a flat vector of `size` numbers (what `mlp`,
// `linear` and the runtime see); `shape` is the shape as declared, used by pictures.
struct var_type {
  type_kind kind = type_kind::real;
  int size = 1;            // the product of shape: how many numbers the value holds
  std::vector<int> shape;  // as declared: {784}, {28, 28}, {3, 32, 32}; rank > 1 only for the data
};
// "binary[784]", "binary[28, 28]": the type as written.
std::string to_string(const var_type& t);

// How pictures draw one value of the data: as an image (channels first, as declared, or a
// flat size that is a perfect square taken as a square grey image), or as a plot of the
// values.
struct picture_layout {
  enum class kind { image, values } what = kind::values;
  int channels = 1;  // image: 1 (grey) or 3 (RGB)
  int height = 0;    // image: rows
  int width = 0;     // image: columns
  std::string why;   // one line for `vaec check`: "28×28 grey images", "plots of the values, not images"
};
// The layout of a value of type `t`: [H, W] → an H×W grey image; [C, H, W] → an H×W
// image with C channels (1 or 3); a flat real or binary type whose size is n² with n ≥ 2
// → an n×n grey image; anything else → values. Takes a checked type; throws nothing.
picture_layout picture_of(const var_type& t);

// The data variable or a latent.
struct variable {
  std::string name;
  var_type type;
  bool is_data = false;
  span where;
};

// One node of the checked expression graph (an SSA form: inputs come earlier in
// model.nodes). A name bound once and used twice is one node used twice.
enum class node_kind {
  constant,   // a number; broadcasts
  variable,   // the value of a model variable (data or latent)
  call,       // a builtin function
  add, sub, mul, div,
  negate,
};

struct node {
  node_kind kind = node_kind::constant;
  int size = 0;                  // vector size; 0 for a scalar constant
  std::vector<int> inputs;       // node indices
  double value = 0;              // constant: its value; param: init; leaky_relu: slope
  int variable = -1;             // variable: index into checked_model::variables
  function_id function{};        // call
  int out_size = 0;              // linear: n; param: n
  std::vector<int> layer_sizes;  // mlp
  function_id activation = function_id::relu;  // mlp
  char side = 0;                 // 'p' or 'q': the factor that owns any parameters created here
  std::int64_t parameter_count = 0;  // parameters this node creates (linear, mlp, param)
  bool unit = false;             // known to be a unit vector
  bool learnable = false;        // depends on parameters
  interval range;
  span where;
};

// An AggregatePosterior prior's components once its source run is resolved
// (figures/aggregate_prior.hpp): the equal mixture (1/M) Σ_m q*(z | x_m) of a finished run's
// encoder q* over M of its training examples. Constants of the model: neither θ nor φ.
struct fixed_mixture {
  family_id family{};            // q*'s family: Normal, StudentT, VonMisesFisher or PowerSpherical
  int count = 0;                 // M, the components
  // Per parameter of q*'s family (its order, defaults filled: StudentT's df, loc, scale):
  // its rows, and its values [rows × M] column-major (column m: component m).
  std::vector<int> rows;
  std::vector<std::vector<double>> values;
  std::string run;               // the source run folder, absolute
  std::string checkpoint_sha256; // SHA-256 of the source's checkpoint.safetensors
  std::string q_text;            // q*'s factor as the source writes it: "q(z | x)"
};

// A distribution with its parameters as node indices, in the family's parameter order;
// -1 for a parameter not given (defaults are constant nodes; Bernoulli's other of
// logits/probs is -1; a path argument, whose value is `path`).
struct distribution_use {
  family_id family{};
  std::vector<int> params;
  span where;
  std::string path;        // AggregatePosterior: run = "…" as written (escapes resolved)
  span path_where;         // its string literal
  span examples_where;     // AggregatePosterior: its examples argument (or the call, when defaulted)
  std::shared_ptr<const fixed_mixture> fixed;  // AggregatePosterior once resolved; null before
};

// The factor of one variable: p(v | …) or q(v | …). A joint block `q(s, g | x) { … }`
// gives one factor per variable it samples, in the order sampled: q(s | x), then
// q(g | x, s) when g's distribution uses s, else q(g | x).
struct checked_factor {
  char side = 'p';
  int variable = -1;        // index into variables
  // Indices into variables: the header's conditioning variables, then (in a joint block)
  // the block's earlier variables that this variable's distribution depends on.
  std::vector<int> given;
  distribution_use dist;
  // The factor's nodes are [first_node, end_node). In a joint block, those computed after
  // the previous sample: the first factor's hold the block's trunk.
  int first_node = 0;
  int end_node = 0;
  std::int64_t parameter_count = 0;  // of the factor's nodes (a joint block's trunk counts in its first factor)
  span header;              // the block's header
  int block = -1;           // index into checked_model::blocks
};

// A block as written: `p(v | a) { … }` or `p(v | a) = DIST` (one factor), or a joint
// block `q(s, g | x) { … }` (one trunk, a factor per variable, in the order sampled).
// θ and φ are counted per block.
struct checked_block {
  char side = 'p';
  std::vector<int> factors;   // indices into checked_model::factors, in the order sampled
  std::vector<int> given;     // the header's conditioning variables (indices into variables)
  int first_node = 0;         // the block's nodes are [first_node, end_node)
  int end_node = 0;
  std::int64_t parameter_count = 0;  // every parameter the block creates: the sum over its factors
  span header;
};

enum class kl_method {
  closed_form,            // KL(q ‖ p) exactly
  entropy_plus_mc,        // closed-form entropy of q, Monte Carlo cross-entropy
  monte_carlo,            // log q(z|x) − log p(z) on the same samples
  not_used,               // the IWAE objective has no KL terms
};
std::string_view to_string(kl_method m);

struct latent_plan {
  int variable = -1;
  int p_factor = -1;  // index into factors
  int q_factor = -1;
  kl_method method = kl_method::monte_carlo;
  std::string method_reason;  // why this method, when not the first choice
  bool kl_is_analytic = true; // false when a p-parent is sampled after this latent in q
  std::string gradient;       // how the reparameterized gradient flows
};

enum class objective_kind { elbo, iwae };
enum class kl_choice { best, mc };
enum class binarize_mode { none, dynamic, fixed };  // `static` in a model file
enum class product_precision { fp32, bf16 };        // the training products' inputs

// The `train { }` block with defaults for keys it does not set (DESIGN §2 table).
struct train_settings {
  int epochs = 10;               // passes over the training split
  int batch = 128;               // examples per step
  double lr = 1e-3;              // Adam's learning rate
  double beta1 = 0.9;            // Adam's first-moment decay
  double beta2 = 0.999;          // Adam's second-moment decay
  double eps = 1e-8;             // Adam's denominator offset
  int samples = 1;               // reparameterized draws per example
  objective_kind objective = objective_kind::elbo;
  kl_choice kl = kl_choice::best;
  double beta = 1;               // weight of the KL terms
  double kl_warmup = 0;          // epochs over which the KL weight ramps from 0 to beta
  int kl_cycle = 0;              // restart the warm-up every this many epochs (0: off)
  double free_bits = 0;          // nats per latent below which its KL is not penalized
  binarize_mode binarize = binarize_mode::none;
  int eval_samples = 500;        // K of the importance-weighted log-likelihood
  std::uint64_t seed = 1;        // every random draw follows from it
  int early_stopping = 0;        // epochs without a better validation ELBO before stopping; 0 = off
  product_precision precision = product_precision::fp32;  // bf16: bf16 inputs to the training step's products
};

// A `const` of the model with its value in effect: the file's, or the command line's
// (`--set NAME=VALUE`).
struct constant {
  std::string name;
  double value = 0;
  std::string origin;  // "line 3" (the file) or "set on the command line"
  span where;          // the declaration's name, or the --set's name (command-line span)
};

struct checked_model {
  std::string name;
  std::vector<constant> constants;  // in declaration order
  std::vector<variable> variables;  // the data first, then the latents in declaration order
  int data = 0;                     // index of the data variable
  std::vector<node> nodes;
  std::vector<checked_factor> factors;  // p factors in generative order, then q factors in inference order
  std::vector<checked_block> blocks;    // the blocks of those factors, in the same order
  std::vector<latent_plan> latents;     // in declaration order
  train_settings settings;
  std::int64_t theta_count() const;     // parameters of the p factors
  std::int64_t phi_count() const;       // parameters of the q factors
};

// Checks the model. Reports every problem to `diags` and returns nullopt if there
// was any error. `default_name` names the model when it has no `model` line.
// `settings` are the command line's `--set NAME=VALUE` (lang/parse.hpp parse_settings):
// each overrides a constant or a train key, checked as the file's own would be.
std::optional<checked_model> check(const ast::model& model, diagnostics& diags, std::string default_name,
                                   const std::vector<ast::train_entry>& settings = {});

}  // namespace vaec
