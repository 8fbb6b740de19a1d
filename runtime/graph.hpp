// A static computation graph: nodes appended in topological order, each with its
// shape, and parameters in two groups, θ (generative) and φ (variational). It only
// describes; plan<T> (runtime/plan.hpp) allocates and runs. A C++ user can build one
// by hand; lang/lower builds one from a checked model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vaec::rt {

enum class op_kind : std::uint8_t {
#define VAEC_OP(name, impl) name,
#include "runtime/ops/ops.def"
#undef VAEC_OP
};
std::string_view to_string(op_kind op);
// Whether the op draws noise (the red nodes of `vaec graph --dot`).
bool is_sampler(op_kind op);
// Whether input `slot` of `op` holds component parameters (extent::fixed columns that do not
// become the op's own): vamp_* densities from slot 1 on, gather_component's slot 0.
bool component_slot(op_kind op, std::size_t slot);

enum class param_group : std::uint8_t { theta, phi };
std::string_view to_string(param_group g);

// How many columns a node's value has in a plan for batch B with S samples.
enum class extent : std::uint8_t {
  shared = 0,   // 1: constants and free parameters
  example = 1,  // B: the data and what depends on it alone
  sample = 2,   // B·S: samples and what depends on them
  scalar = 3,   // the objective, 1 × 1
  fixed = 4,    // node.cols: a fixed set of columns that is not the batch (a VampPrior's K
                // pseudo-inputs and what the encoder makes of them); it meets the batch only
                // in a component density (vamp_*), whose value has the batch's columns
};

struct param_info {
  std::string name;  // e.g. "phi.q(z|x).linear2.weight"
  param_group group = param_group::theta;
  int rows = 0, cols = 0;
  // standard_normal: N(0, 1) draws (a mixture prior's means, spread out from the seed).
  // training_examples: `cols` training examples chosen with the seed, one a column, as they
  // are; training_examples_logit: their logits log(y/(1 − y)) at y = 0.02 + 0.96·x (binary
  // data through a sigmoid). The trainer fills both (runtime/train.cpp); initialize() zeroes them.
  enum class init_kind { uniform_fan_in, constant, standard_normal, training_examples, training_examples_logit } init =
      init_kind::constant;
  double init_value = 0;  // for constant
  int fan_in = 1;         // for uniform_fan_in: U(−1/√fan_in, 1/√fan_in), as torch.nn.Linear
  std::size_t offset = 0; // in the flat parameter vector, in elements (a multiple of 16)
  // Elements from one column's start to the next's in the store: 0 for rows (dense). A
  // linear weight's may be padded (padded_lead); the padding stays 0, in values, gradients
  // and Adam's moments.
  int ld = 0;
  std::size_t size() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
  int lead() const { return ld > 0 ? ld : rows; }
  // Elements the parameter takes in the store, padding included.
  std::size_t storage() const { return static_cast<std::size_t>(lead()) * static_cast<std::size_t>(cols); }
  // Where element i (column-major over rows × cols, i < size()) sits, from `offset`.
  std::size_t at(std::size_t i) const {
    const auto r = static_cast<std::size_t>(rows);
    return i / r * static_cast<std::size_t>(lead()) + i % r;
  }
};

// The column stride a linear layer's weight [rows × in] is stored with. oneDNN's AVX2 GEMM
// (and its packing) runs up to 40% slower when a matrix's columns are a multiple of 128
// bytes apart (cache-set conflicts: bench/README.md, "Padded weights"), so such a weight
// of at least 128 rows gets 16 more (64 bytes: the stride an odd multiple of 64 bytes);
// any other keeps `rows`.
int padded_lead(int rows);

// One latent's share of the objective: how its KL(q ‖ p) term is computed.
struct latent_term {
  enum class kind {
    closed_form,      // `kl`: KL(q ‖ p) per column
    entropy_plus_mc,  // `entropy` of q and `logp` = log p(z): KL ≈ −H[q] − log p(z)
    monte_carlo,      // `logq` − `logp` on the same samples
  } method = kind::monte_carlo;
  std::string name;  // the latent's name, for metrics and messages
  int kl = -1, entropy = -1, logp = -1, logq = -1;  // nodes, [1 × ·]
  // When ≥ 0: q is a Student-t whose df is this node and p has Normal tails, so the KL is
  // +∞ wherever df ≤ 2 — whichever way it is estimated (a Monte Carlo estimate of it is
  // finite but meaningless). The objective then reports the term as +∞ with the reason.
  int heavy_tail_df = -1;
  // The latent's draw from q (node, [n × B·S]): when a term is not finite, the objective looks
  // for draws that are ±∞ (a heavy-tailed draw beyond the precision's range) to name the cause.
  int sample = -1;
};

struct objective_spec {
  int loglik = -1;                  // node: log p(x | z) per column
  std::vector<latent_term> latents;
  bool iwae = false;                // the importance-weighted bound instead of the ELBO
};

struct node {
  op_kind op = op_kind::constant;
  int rows = 1;
  extent ext = extent::shared;
  std::vector<int> inputs;
  std::vector<int> params;   // linear: {weight, bias}; param: {p}
  double attr = 0;           // constant: value; leaky_relu: slope; densities: n, the rows they sum over
  int cols = 0;              // extent::fixed: its columns; vamp_*, pick_component: K, the components
  std::vector<double> values;  // constant_matrix: its values [rows × cols], column-major
  std::string label;         // where it came from, for the printer
  objective_spec objective;  // objective only
};

class graph {
 public:
  int input(int rows, std::string label = "x");
  int constant(double value, int rows = 1);
  // A fixed matrix [rows × cols] (column-major `values`), extent::fixed with cols columns:
  // e.g. an aggregate posterior's components, computed before the graph runs. Not a
  // parameter: no gradient, not in the optimizer. The plan writes the values once, when it
  // is built. Throws std::invalid_argument when values.size() ≠ rows·cols or either is < 1.
  int constant_matrix(std::vector<double> values, int rows, int cols);
  // A free learnable vector [rows], initialized to `init`.
  int param(int rows, double init, param_group group, std::string name);
  // A free learnable vector [rows] initialized with N(0, 1) draws from the run's seed
  // (stream init, the parameter's index).
  int param_standard_normal(int rows, param_group group, std::string name);
  // W·x + b with W [out × in] and b [out], initialized U(−1/√in, 1/√in).
  int linear(int x, int out, param_group group, std::string name);
  int unary(op_kind op, int x, double attr = 0);
  int binary(op_kind op, int a, int b);
  int normalize(int x);
  int concat(const std::vector<int>& xs);
  int sum(int x);
  int norm(int x);
  // z = loc + scale·ε, ε ~ N(0, I): [rows × B·S]; loc and scale broadcast.
  int sample_normal(int loc, int scale, int rows);
  // Σ over rows of log Bernoulli(x | ·) per column; x broadcasts over samples.
  int bernoulli_logits(int x, int logits);
  int bernoulli_probs(int x, int probs);
  int normal_logpdf(int value, int loc, int scale, int rows);
  int normal_entropy(int scale, int rows);
  int kl_normal_normal(int q_loc, int q_scale, int p_loc, int p_scale, int rows);
  // Student-t: df broadcasts like loc and scale ([1] or [rows]; shared, per example or per sample).
  int sample_studentt(int df, int loc, int scale, int rows);
  int studentt_logpdf(int value, int df, int loc, int scale, int rows);
  int studentt_entropy(int df, int scale, int rows);
  int kl_studentt_normal(int df, int q_loc, int q_scale, int p_loc, int p_scale, int rows);
  // On the sphere S^{rows−1} ⊂ R^rows: mean [rows] unit, concentration [1].
  int sample_vmf(int mean, int concentration, int rows);
  int vmf_logpdf(int value, int mean, int concentration, int rows);
  int vmf_entropy(int concentration, int rows);
  int kl_vmf_uniform(int concentration, int rows);
  int kl_vmf_vmf(int q_mean, int q_concentration, int p_mean, int p_concentration, int rows);
  int sample_power_spherical(int mean, int concentration, int rows);
  int power_spherical_logpdf(int value, int mean, int concentration, int rows);
  int power_spherical_entropy(int concentration, int rows);
  int kl_power_spherical_uniform(int concentration, int rows);
  int sample_sphere_uniform(int rows);
  int sphere_uniform_logpdf(int value, int rows);
  int sphere_uniform_entropy(int rows);
  // Σ over rows of log ContinuousBernoulli(x | ·) per column (Loaiza-Ganem & Cunningham 2019).
  int cbernoulli_logits(int x, int logits);
  int cbernoulli_probs(int x, int probs);
  // A Gaussian mixture over R^rows with K components (runtime/ops/mixture.hpp): means and
  // scales [rows·K] (component k in rows k·rows … k·rows + rows − 1; scales > 0) and
  // logits [K] (weights softmax(logits)), all shared (one column, e.g. parameters).
  // mixture_logpdf: log p(value) per column [1 × ·], value [rows × ·]; sample_mixture:
  // ancestral draws [rows × B·S], without a gradient. Throw std::invalid_argument when the
  // shapes disagree or a mixture parameter is not shared.
  int mixture_logpdf(int value, int means, int scales, int logits, int rows);
  int sample_mixture(int means, int scales, int logits, int rows);
  // A learnable matrix [rows × cols], extent::fixed (cols columns), initialized as `init`
  // says (training_examples or training_examples_logit: the trainer fills it).
  int param_columns(int rows, int cols, param_info::init_kind init, param_group group, std::string name);
  // W·x + b with the weight and bias of the existing linear node `like` (the same
  // parameters: their gradient sums both uses). Throws std::invalid_argument when `like` is
  // not linear or x's rows are not its inputs'.
  int linear_shared(int x, int like);
  // log (1/K) Σ_k q(value | λ_k) per column [1 × ·] for an equal mixture of K members of one
  // family (runtime/ops/vamp.hpp): op is vamp_normal {loc, scale}, vamp_vmf or
  // vamp_power_spherical {mean, concentration}, vamp_studentt {df, loc, scale}; each λ is
  // [· × K] (extent::fixed, K columns) or shared. The value's columns are the output's.
  int vamp_logpdf(op_kind op, int value, const std::vector<int>& components, int K, int rows);
  // One component index per column, uniform over K ([1 × B·S]); and the picked component's
  // parameters λ[:, k] per column ([λ.rows × B·S]). For prior draws: no gradient.
  int pick_component(int K);
  int gather_component(int lambda, int pick);
  int objective(objective_spec spec);

  const std::vector<node>& nodes() const { return nodes_; }
  const std::vector<param_info>& params() const { return params_; }
  std::size_t param_storage() const { return param_storage_; }  // elements, with alignment padding
  std::size_t param_count(param_group g) const;
  int objective_node() const { return objective_; }
  void set_label(int node, std::string label) { nodes_.at(static_cast<std::size_t>(node)).label = std::move(label); }

  // The graph as text, one node a line; and as Graphviz.
  std::string to_text() const;
  std::string to_dot() const;

 private:
  int add(node n);
  int add_param(param_info p);
  const node& at(int i) const;
  int broadcast_rows(int a, int b) const;
  std::vector<node> nodes_;
  std::vector<param_info> params_;
  std::size_t param_storage_ = 0;
  int objective_ = -1;
};

}  // namespace vaec::rt
