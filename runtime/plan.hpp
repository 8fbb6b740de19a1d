// graph → execution plan (ggml's graph → plan → compute): the order is the graph's,
// every buffer — values, gradients, noise, scratch — is allocated here, once, for a
// batch size B and a sample count S, and the nodes that need no gradient are marked.
// forward() and backward() then allocate nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/graph.hpp"
#include "runtime/ops/exec.hpp"
#include "runtime/rng.hpp"
#include "runtime/tensor.hpp"

namespace vaec::rt {

// The parameters of a graph, flat: θ and φ in the graph's order, each aligned, with a
// gradient buffer of the same layout (so Adam is one pass over one array).
template <class T>
class parameters {
 public:
  explicit parameters(const graph& g);
  // Linear layers U(−1/√fan_in, 1/√fan_in) (torch.nn.Linear's default); param(n, init) constant.
  void initialize(std::uint64_t seed);
  // Fills the parameters initialized from training examples (param_info::init_kind::
  // training_examples, _logit: a VampPrior's pseudo-inputs): column c of a [width × cols]
  // parameter is example order[c] of `examples` ([count × width], one example a row, as
  // dataset::values), order a shuffle from (seed, stream::init, the parameter's index), so
  // the columns are distinct examples while count ≥ cols. _logit stores log(y/(1 − y)) at
  // y = 0.02 + 0.96·x. Throws std::invalid_argument when width is not the parameter's rows
  // or there are no examples.
  void initialize_from_examples(std::span<const float> examples, std::size_t count, std::size_t width,
                                std::uint64_t seed);
  tensor<T> value(int p) const;
  tensor<T> grad(int p) const;
  const graph& source() const { return *g_; }
  aligned_vector<T> values;  // 64-byte aligned (runtime/aligned.hpp)
  aligned_vector<T> grads;

 private:
  const graph* g_;
};

template <class T>
class plan {
 public:
  // With `gradients` false the plan only evaluates: no gradient or scratch buffers.
  // `products` chooses the float products' precision and library (runtime/matmul.hpp);
  // their primitives are made here, for the thread count set now (set_threads).
  // Throws std::runtime_error when oneDNN cannot make a product.
  plan(const graph& g, parameters<T>& params, int batch, int samples, bool gradients = true,
       product_options products = {});
  plan(const plan&) = delete;
  plan& operator=(const plan&) = delete;

  int batch() const { return ex_.batch; }
  int samples() const { return ex_.samples; }
  // Where the batch of an input node goes: [rows × B], column b = example b.
  tensor<T> input(int node) const { return ex_.val[static_cast<std::size_t>(node)]; }
  // Runs every node in order, drawing noise from `noise`.
  void forward(rng& noise);
  // Runs every node's vector-Jacobian product in reverse, from the objective.
  void backward();

  step_settings& settings() { return ex_.settings; }
  const objective_result& result() const { return ex_.result; }
  // Per example: the ELBO (or, for an IWAE objective, the bound) of the last forward pass.
  const std::vector<double>& per_example() const { return ex_.per_example; }
  // A node's value after forward(). A linear node whose only reader is a ReLU holds the
  // ReLU's value after forward(): the ReLU runs in place, in its buffer (in_place_relu).
  // A hidden layer's value (such a linear and its ReLU, read only by linear layers) may have
  // padded columns: read it with its lead().
  tensor<T> value(int node) const { return ex_.val[static_cast<std::size_t>(node)]; }
  // Whether node `node` is a ReLU that runs in its input's buffer.
  bool in_place_relu(int node) const { return in_place_[static_cast<std::size_t>(node)] != 0; }
  tensor<T> grad(int node) const { return ex_.grad[static_cast<std::size_t>(node)]; }
  bool needs_grad(int node) const { return ex_.grad[static_cast<std::size_t>(node)].data != nullptr; }
  // After a forward pass: why a term or a gradient may not be finite because a latent's
  // Student-t draws exceed what T holds (ops/objective.hpp, op_objective::overflowed_draws):
  // how many draws of which latent, the smallest df and the fix; "" when no draw is that large.
  std::string overflowed_draws() const;
  std::size_t bytes() const { return arena_.size() * sizeof(T); }
  // A linear node's products (forward, dW, dx; undefined where not needed), for profiles.
  const typename exec<T>::linear_products& products(int node) const { return ex_.linear[static_cast<std::size_t>(node)]; }

  // Per-node wall-clock time of forward and backward, accumulated while profiling is on.
  void set_profiling(bool on);
  const std::vector<double>& forward_seconds() const { return forward_seconds_; }
  const std::vector<double>& backward_seconds() const { return backward_seconds_; }

 private:
  const graph* g_;
  parameters<T>* params_;
  aligned_vector<T> arena_;  // every value, gradient and scratch buffer; 64-byte aligned
  product_set<T> product_set_;
  exec<T> ex_;
  bool profiling_ = false;
  std::vector<double> forward_seconds_, backward_seconds_;
  std::vector<char> in_place_;  // [node]: a ReLU that runs in its input's buffer
};

extern template class parameters<float>;
extern template class parameters<double>;
extern template class plan<float>;
extern template class plan<double>;

}  // namespace vaec::rt
