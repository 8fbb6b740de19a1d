#include "runtime/plan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include <boost/random/normal_distribution.hpp>

#include "runtime/ops/basic.hpp"
#include "runtime/ops/bernoulli.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/mixture.hpp"
#include "runtime/ops/normal.hpp"
#include "runtime/ops/objective.hpp"
#include "runtime/ops/sphere.hpp"
#include "runtime/ops/studentt.hpp"
#include "runtime/ops/vamp.hpp"
#include "runtime/ops/vector.hpp"

namespace vaec::rt {

namespace {

constexpr std::size_t alignment = 16;  // elements: every buffer starts 64-byte aligned

std::size_t aligned(std::size_t n) { return (n + alignment - 1) / alignment * alignment; }

template <class T>
void run_forward(exec<T>& ex, int i) {
  switch (ex.n(i).op) {
#define VAEC_OP(name, impl) \
  case op_kind::name: impl::forward(ex, i); break;
#include "runtime/ops/ops.def"
#undef VAEC_OP
  }
}

template <class T>
void run_backward(exec<T>& ex, int i) {
  switch (ex.n(i).op) {
#define VAEC_OP(name, impl) \
  case op_kind::name: impl::backward(ex, i); break;
#include "runtime/ops/ops.def"
#undef VAEC_OP
  }
}

}  // namespace

// ---- parameters -----------------------------------------------------------------------

template <class T>
parameters<T>::parameters(const graph& g) : values(g.param_storage(), T(0)), grads(g.param_storage(), T(0)), g_(&g) {}

template <class T>
void parameters<T>::initialize(std::uint64_t seed) {
  const auto& ps = g_->params();
  for (std::size_t p = 0; p < ps.size(); ++p) {
    const param_info& info = ps[p];
    // Element by element in column-major order (padding, if any, stays 0).
    T* v = values.data() + info.offset;
    if (info.init == param_info::init_kind::constant || info.init == param_info::init_kind::training_examples ||
        info.init == param_info::init_kind::training_examples_logit) {
      for (std::size_t i = 0; i < info.size(); ++i) v[info.at(i)] = static_cast<T>(info.init_value);
      continue;
    }
    rng r(seed, stream::init, p);
    if (info.init == param_info::init_kind::standard_normal) {
      boost::random::normal_distribution<double> normal;
      for (std::size_t i = 0; i < info.size(); ++i) v[info.at(i)] = static_cast<T>(normal(r));
      continue;
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(info.fan_in));
    for (std::size_t i = 0; i < info.size(); ++i) v[info.at(i)] = static_cast<T>((2 * r.uniform() - 1) * bound);
  }
}

template <class T>
void parameters<T>::initialize_from_examples(std::span<const float> examples, std::size_t count, std::size_t width,
                                             std::uint64_t seed) {
  const auto& ps = g_->params();
  for (std::size_t p = 0; p < ps.size(); ++p) {
    const param_info& info = ps[p];
    const bool logit = info.init == param_info::init_kind::training_examples_logit;
    if (!logit && info.init != param_info::init_kind::training_examples) continue;
    if (count == 0 || static_cast<std::size_t>(info.rows) != width || examples.size() < count * width)
      throw std::invalid_argument("parameters: examples of another width, or none, for " + info.name);
    // cols examples, distinct while there are enough (a partial Fisher–Yates shuffle).
    rng r(seed, stream::init, p);
    std::vector<std::size_t> order(count);
    for (std::size_t i = 0; i < count; ++i) order[i] = i;
    const std::size_t distinct = std::min(count, static_cast<std::size_t>(info.cols));
    for (std::size_t c = 0; c < distinct; ++c) {
      const std::size_t j = c + static_cast<std::size_t>(r.uniform() * static_cast<double>(count - c));
      std::swap(order[c], order[std::min(j, count - 1)]);
    }
    T* v = values.data() + info.offset;
    for (std::size_t c = 0; c < static_cast<std::size_t>(info.cols); ++c) {
      const float* x = examples.data() + order[c % count] * width;
      for (std::size_t i = 0; i < width; ++i) {
        const double y = logit ? 0.02 + 0.96 * static_cast<double>(x[i]) : static_cast<double>(x[i]);
        v[info.at(c * width + i)] = static_cast<T>(logit ? std::log(y / (1 - y)) : y);
      }
    }
  }
}

template <class T>
tensor<T> parameters<T>::value(int p) const {
  const param_info& info = g_->params()[static_cast<std::size_t>(p)];
  return {const_cast<T*>(values.data()) + info.offset, info.rows, info.cols, info.lead()};
}

template <class T>
tensor<T> parameters<T>::grad(int p) const {
  const param_info& info = g_->params()[static_cast<std::size_t>(p)];
  return {const_cast<T*>(grads.data()) + info.offset, info.rows, info.cols, info.lead()};
}

// ---- plan -----------------------------------------------------------------------------

template <class T>
plan<T>::plan(const graph& g, parameters<T>& params, int batch, int samples, bool gradients, product_options products)
    : g_(&g), params_(&params), product_set_(products) {
  if (batch < 1 || samples < 1) throw std::invalid_argument("plan: batch and samples must be positive");
  if (static_cast<long long>(batch) * samples > std::numeric_limits<int>::max())
    throw std::invalid_argument(fmt::format("batch {} × samples {} is more columns than a step can hold (2,147,483,647)",
                                            batch, samples));
  if (&params.source() != &g) throw std::invalid_argument("plan: parameters of another graph");
  const auto& nodes = g.nodes();
  const std::size_t N = nodes.size();
  ex_.g = &g;
  ex_.batch = batch;
  ex_.samples = samples;
  auto cols_of = [&](const node& n) {
    switch (n.ext) {
      case extent::fixed: return n.cols;
      case extent::shared: return 1;
      case extent::example: return batch;
      case extent::sample: return batch * samples;
      case extent::scalar: return 1;
    }
    return 1;
  };

  // Which nodes need a gradient: those that depend on a parameter and feed the objective.
  std::vector<char> depends(N, 0), reaches(N, 0);
  for (std::size_t i = 0; i < N; ++i) {
    const node& n = nodes[i];
    depends[i] = n.op == op_kind::param || n.op == op_kind::linear;
    for (int in : n.inputs) depends[i] = depends[i] || depends[static_cast<std::size_t>(in)];
  }
  if (g.objective_node() >= 0) reaches[static_cast<std::size_t>(g.objective_node())] = 1;
  for (std::size_t i = N; i-- > 0;)
    if (reaches[i])
      for (int in : nodes[i].inputs) reaches[static_cast<std::size_t>(in)] = 1;
  std::vector<char> has_grad(N);
  for (std::size_t i = 0; i < N; ++i)
    has_grad[i] = gradients && depends[i] && reaches[i] && nodes[i].op != op_kind::objective;

  // A ReLU whose input is a linear layer that nothing else reads (and the objective does
  // not name) runs in place, in the layer's buffer, while it is still in cache: one buffer
  // fewer. Its backward's mask [x > 0] reads the same signs from relu(x) as from x, and a
  // NaN stays a NaN (max(NaN, 0) is NaN here, as in the ReLU on its own buffer; oneDNN's
  // ReLU post-op would make it 0 and hide it from the finiteness checks).
  std::vector<int> readers(N, 0);
  for (const node& n : nodes)
    for (int in : n.inputs) ++readers[static_cast<std::size_t>(in)];
  if (g.objective_node() >= 0) {
    const objective_spec& o = nodes[static_cast<std::size_t>(g.objective_node())].objective;
    auto named = [&](int node) {
      if (node >= 0) readers[static_cast<std::size_t>(node)] += 2;
    };
    named(o.loglik);
    for (const latent_term& t : o.latents)
      for (int node : {t.kl, t.entropy, t.logp, t.logq, t.heavy_tail_df, t.sample}) named(node);
  }
  in_place_.assign(N, 0);
  for (std::size_t i = 0; i < N; ++i) {
    if (nodes[i].op != op_kind::relu) continue;
    const auto in = static_cast<std::size_t>(nodes[i].inputs[0]);
    if (nodes[in].op == op_kind::linear && readers[in] == 1) in_place_[i] = 1;
  }
  // Padded activations: a hidden layer — a linear layer whose in-place ReLU only linear
  // layers read (as their input) — gets the column stride padded_lead(rows) (graph.hpp):
  // its output and the ReLU's are one padded buffer, which only the products (with their
  // strides) and op_relu (ops/elementwise.hpp) see. Its gradient stays dense.
  std::vector<int> linear_readers(N, 0);
  for (const node& n : nodes)
    if (n.op == op_kind::linear) ++linear_readers[static_cast<std::size_t>(n.inputs[0])];
  std::vector<int> lead(N, 0);
  for (std::size_t i = 0; i < N; ++i) {
    if (!in_place_[i]) continue;
    const auto in = static_cast<std::size_t>(nodes[i].inputs[0]);
    if (linear_readers[i] == 0 || linear_readers[i] != readers[i]) continue;
    const int padded = padded_lead(nodes[i].rows);
    if (padded != nodes[i].rows) lead[i] = lead[in] = padded;
  }

  // Sizes, then one arena.
  struct layout {
    int rows = 0, cols = 0;
    std::size_t value = SIZE_MAX, grad = SIZE_MAX, aux = SIZE_MAX, scratch = SIZE_MAX;
    int aux_rows = 0, aux_cols = 0, scratch_rows = 0, scratch_cols = 0;
  };
  std::vector<layout> lay(N);
  std::size_t total = 0;
  auto take = [&](std::size_t n) {
    std::size_t at = total;
    total += aligned(n);
    return at;
  };
  for (std::size_t i = 0; i < N; ++i) {
    const node& n = nodes[i];
    layout& l = lay[i];
    l.rows = n.rows;
    l.cols = cols_of(n);
    const std::size_t size = static_cast<std::size_t>(l.rows) * static_cast<std::size_t>(l.cols);
    if (n.op != op_kind::param) {
      const std::size_t stored = static_cast<std::size_t>(lead[i] > 0 ? lead[i] : l.rows) * static_cast<std::size_t>(l.cols);
      l.value = in_place_[i] ? lay[static_cast<std::size_t>(n.inputs[0])].value : take(stored);
      if (has_grad[i]) l.grad = take(size);
    }
    int wide_rows = n.rows, wide_cols = l.cols;
    for (int in : n.inputs) {
      wide_rows = std::max(wide_rows, lay[static_cast<std::size_t>(in)].rows);
      wide_cols = std::max(wide_cols, lay[static_cast<std::size_t>(in)].cols);
    }
    switch (n.op) {
      case op_kind::sample_normal: l.aux_rows = n.rows; l.aux_cols = l.cols; break;
      case op_kind::normal_logpdf: l.aux_rows = static_cast<int>(n.attr); l.aux_cols = l.cols; break;
      case op_kind::normalize: l.aux_rows = 1; l.aux_cols = l.cols; break;
      case op_kind::softplus: l.aux_rows = n.rows; l.aux_cols = l.cols; break;
      case op_kind::bernoulli_logits:
        l.aux_rows = nodes[static_cast<std::size_t>(n.inputs[0])].rows;
        l.aux_cols = l.cols;
        break;
      case op_kind::cbernoulli_logits:
      case op_kind::cbernoulli_probs:
        l.aux_rows = nodes[static_cast<std::size_t>(n.inputs[0])].rows;
        l.aux_cols = l.cols;
        break;
      case op_kind::sample_studentt: l.aux_rows = 3 * n.rows; l.aux_cols = l.cols; break;
      case op_kind::sample_vmf:
      case op_kind::sample_power_spherical: l.aux_rows = n.rows + 4; l.aux_cols = l.cols; break;
      case op_kind::mixture_logpdf:  // the responsibilities [K × ·]
        l.aux_rows = nodes[static_cast<std::size_t>(n.inputs[3])].rows;
        l.aux_cols = l.cols;
        break;
      case op_kind::objective: l.aux_rows = 1; l.aux_cols = batch * samples; break;
      case op_kind::vamp_normal:
      case op_kind::vamp_vmf:
      case op_kind::vamp_power_spherical:
      case op_kind::vamp_studentt:
        l.aux_rows = static_cast<int>(vamp_detail::layout(static_cast<int>(n.attr), n.cols, l.cols).aux);
        l.aux_cols = 1;
        break;
      default: break;
    }
    // Densities over `attr` rows compute their gradients at that many rows.
    if (n.rows == 1 && n.op != op_kind::constant && n.op != op_kind::leaky_relu && n.op != op_kind::objective)
      wide_rows = std::max(wide_rows, static_cast<int>(n.attr));
    // The mixture's gradients are dz [n × ·], then dμ and dσ [n·K] side by side, then dlogits [K].
    if (n.op == op_kind::mixture_logpdf) {
      const int means = nodes[static_cast<std::size_t>(n.inputs[1])].rows;
      wide_rows = 1;
      wide_cols = std::max(static_cast<int>(n.attr) * l.cols, 2 * means);
    }
    // A component density's backward buffers (runtime/ops/vamp.hpp, vamp_detail::layout).
    if (component_slot(n.op, 1) && n.op != op_kind::gather_component) {
      wide_rows = 1;
      wide_cols = static_cast<int>(vamp_detail::layout(static_cast<int>(n.attr), n.cols, l.cols).scratch);
    }
    if (l.aux_rows > 0) l.aux = take(static_cast<std::size_t>(l.aux_rows) * static_cast<std::size_t>(l.aux_cols));
    if (has_grad[i] || (gradients && n.op == op_kind::objective)) {
      l.scratch_rows = n.op == op_kind::objective ? 2 : wide_rows;  // objective: give()'s buffer, then its weights
      l.scratch_cols = n.op == op_kind::objective ? batch * samples : wide_cols;
      l.scratch = take(static_cast<std::size_t>(l.scratch_rows) * static_cast<std::size_t>(l.scratch_cols));
    }
  }
  arena_.assign(total, T(0));
  auto at = [&](std::size_t offset) { return offset == SIZE_MAX ? nullptr : arena_.data() + offset; };

  ex_.val.resize(N);
  ex_.grad.resize(N);
  ex_.aux.resize(N);
  ex_.scratch.resize(N);
  for (std::size_t i = 0; i < N; ++i) {
    const node& n = nodes[i];
    const layout& l = lay[i];
    if (n.op == op_kind::param) {
      ex_.val[i] = params.value(n.params[0]);
      ex_.grad[i] = has_grad[i] ? params.grad(n.params[0]) : tensor<T>{};
    } else {
      ex_.val[i] = {at(l.value), l.rows, l.cols, lead[i]};
      ex_.grad[i] = {at(l.grad), l.rows, l.cols};
    }
    ex_.aux[i] = {at(l.aux), l.aux_rows, l.aux_cols};
    ex_.scratch[i] = {at(l.scratch), l.scratch_rows, l.scratch_cols};
    if (n.op == op_kind::constant) ex_.val[i].a().setConstant(static_cast<T>(n.attr));
    if (n.op == op_kind::constant_matrix)
      std::transform(n.values.begin(), n.values.end(), ex_.val[i].data, [](double v) { return static_cast<T>(v); });
  }
  const auto& ps = g.params();
  ex_.pval.resize(ps.size());
  ex_.pgrad.resize(ps.size());
  for (std::size_t p = 0; p < ps.size(); ++p) {
    ex_.pval[p] = params.value(static_cast<int>(p));
    ex_.pgrad[p] = params.grad(static_cast<int>(p));
  }

  // Gradients accumulate: the first op (in reverse order) to write an input's gradient
  // overwrites it, the others add to it. So no buffer is zeroed each step.
  std::vector<char> written(N, 0), pwritten(ps.size(), 0);
  ex_.first.assign(N, {});
  ex_.pfirst.assign(N, {});
  for (std::size_t i = N; i-- > 0;) {
    const node& n = nodes[i];
    ex_.first[i].assign(n.inputs.size(), 0);
    if (!has_grad[i] && n.op != op_kind::objective) continue;
    for (std::size_t s = 0; s < n.inputs.size(); ++s) {
      auto in = static_cast<std::size_t>(n.inputs[s]);
      if (!has_grad[in] || written[in]) continue;
      ex_.first[i][s] = 1;
      written[in] = 1;
    }
    // A layer used twice (linear_shared: the encoder on the data and on pseudo-inputs):
    // the later use, first in reverse order, writes its parameters' gradient, the other adds.
    if (n.op == op_kind::linear) {
      ex_.pfirst[i].assign(n.params.size(), 0);
      for (std::size_t k = 0; k < n.params.size(); ++k) {
        const auto p = static_cast<std::size_t>(n.params[k]);
        ex_.pfirst[i][k] = !pwritten[p];
        pwritten[p] = 1;
      }
    }
  }
  // Each linear layer's products, with the β its first-writer flags give.
  ex_.linear.resize(N);
  for (std::size_t i = 0; i < N; ++i) {
    const node& n = nodes[i];
    if (n.op != op_kind::linear) continue;
    const int out = n.rows, in = lay[static_cast<std::size_t>(n.inputs[0])].rows, cols = lay[i].cols;
    auto& lp = ex_.linear[i];
    // The weight's and the activations' column strides (padded_lead, graph.hpp; 0: dense).
    const int w_lead = ps[static_cast<std::size_t>(n.params[0])].lead();
    const int x_lead = lead[static_cast<std::size_t>(n.inputs[0])], y_lead = lead[i];
    lp.forward = product_set_.make(false, false, out, cols, in, false, true, {w_lead, x_lead, y_lead});
    if (!has_grad[i]) continue;
    lp.weight_grad = product_set_.make(false, true, out, in, cols, !ex_.pfirst[i][0], false, {0, x_lead, w_lead});
    if (has_grad[static_cast<std::size_t>(n.inputs[0])])
      lp.input_grad = product_set_.make(true, false, in, cols, out, !ex_.first[i][0], false, {w_lead, 0, 0});
  }
  ex_.per_example.assign(static_cast<std::size_t>(batch), 0.0);
  if (gradients && g.objective_node() >= 0)
    ex_.column_loss.assign(static_cast<std::size_t>(batch) * static_cast<std::size_t>(samples), 0.0);
  if (g.objective_node() >= 0) ex_.result.kl.assign(nodes[static_cast<std::size_t>(g.objective_node())].objective.latents.size(), 0.0);
}

template <class T>
void plan<T>::set_profiling(bool on) {
  profiling_ = on;
  forward_seconds_.assign(g_->nodes().size(), 0.0);
  backward_seconds_.assign(g_->nodes().size(), 0.0);
}

template <class T>
void plan<T>::forward(rng& noise) {
  ex_.noise = &noise;
  const int N = static_cast<int>(g_->nodes().size());
  if (!profiling_) {
    for (int i = 0; i < N; ++i) run_forward(ex_, i);
    return;
  }
  for (int i = 0; i < N; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run_forward(ex_, i);
    forward_seconds_[static_cast<std::size_t>(i)] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
}

template <class T>
void plan<T>::backward() {
  const int objective = g_->objective_node();
  for (int i = static_cast<int>(g_->nodes().size()); i-- > 0;) {
    if (i != objective && !ex_.grad[static_cast<std::size_t>(i)].data) continue;
    if (!profiling_) {
      run_backward(ex_, i);
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    run_backward(ex_, i);
    backward_seconds_[static_cast<std::size_t>(i)] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
}

template class parameters<float>;
template class parameters<double>;
template <class T>
std::string plan<T>::overflowed_draws() const {
  if (g_->objective_node() < 0) return {};
  return op_objective::overflowed_draws(ex_, g_->nodes()[static_cast<std::size_t>(g_->objective_node())].objective);
}

template class plan<float>;
template class plan<double>;

}  // namespace vaec::rt
