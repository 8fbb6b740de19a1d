#include "runtime/graph.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace vaec::rt {

std::string_view to_string(op_kind op) {
  switch (op) {
#define VAEC_OP(name, impl) \
  case op_kind::name: return #name;
#include "runtime/ops/ops.def"
#undef VAEC_OP
  }
  return "?";
}

bool component_slot(op_kind op, std::size_t slot) {  // runtime/graph.hpp
  switch (op) {
    case op_kind::vamp_normal:
    case op_kind::vamp_vmf:
    case op_kind::vamp_power_spherical:
    case op_kind::vamp_studentt: return slot >= 1;
    case op_kind::gather_component: return slot == 0;
    default: return false;
  }
}

bool is_sampler(op_kind op) {
  switch (op) {
    case op_kind::sample_normal:
    case op_kind::sample_studentt:
    case op_kind::sample_vmf:
    case op_kind::sample_power_spherical:
    case op_kind::sample_sphere_uniform:
    case op_kind::sample_mixture:
    case op_kind::pick_component: return true;
    default: return false;
  }
}

std::string_view to_string(param_group g) { return g == param_group::theta ? "θ" : "φ"; }

namespace {
// Parameters start on 64-byte boundaries, so every view is aligned for any vector width.
constexpr std::size_t param_alignment = 16;
}  // namespace

const node& graph::at(int i) const {
  if (i < 0 || static_cast<std::size_t>(i) >= nodes_.size())
    throw std::invalid_argument(fmt::format("graph: no node {}", i));
  return nodes_[static_cast<std::size_t>(i)];
}

int graph::add(node n) {
  // A fixed set of columns (extent::fixed) spreads to what depends on it, and meets the
  // batch only where an op takes it as component parameters (component_slot).
  bool fixed = n.ext == extent::fixed;
  if (fixed) n.ext = extent::shared;
  for (std::size_t s = 0; s < n.inputs.size(); ++s) {
    const node& in = at(n.inputs[s]);
    if (in.ext == extent::scalar) throw std::invalid_argument("graph: the objective cannot be an input");
    if (in.ext == extent::fixed) {
      if (component_slot(n.op, s)) continue;
      if (fixed && n.cols != in.cols)
        throw std::invalid_argument(fmt::format("graph: {} columns and {} columns do not combine", n.cols, in.cols));
      fixed = true;
      n.cols = in.cols;
      continue;
    }
    n.ext = std::max(n.ext == extent::scalar ? extent::shared : n.ext, in.ext);
  }
  if (fixed) {
    if (n.ext != extent::shared)
      throw std::invalid_argument("graph: a fixed set of columns (pseudo-inputs) meets the batch outside a component density");
    n.ext = extent::fixed;
  }
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size() - 1);
}

int padded_lead(int rows) { return rows >= 128 && rows % 32 == 0 ? rows + 16 : rows; }

int graph::add_param(param_info p) {
  p.offset = param_storage_;
  param_storage_ += (p.storage() + param_alignment - 1) / param_alignment * param_alignment;
  params_.push_back(std::move(p));
  return static_cast<int>(params_.size() - 1);
}

std::size_t graph::param_count(param_group g) const {
  std::size_t n = 0;
  for (const auto& p : params_)
    if (p.group == g) n += p.size();
  return n;
}

// Rows broadcast when they are equal or one of them is 1.
int graph::broadcast_rows(int a, int b) const {
  int ra = at(a).rows, rb = at(b).rows;
  if (ra == rb || rb == 1) return ra;
  if (ra == 1) return rb;
  throw std::invalid_argument(fmt::format("graph: rows {} and {} do not broadcast", ra, rb));
}

int graph::input(int rows, std::string label) {
  node n;
  n.op = op_kind::input;
  n.rows = rows;
  n.ext = extent::example;
  n.label = std::move(label);
  return add(std::move(n));
}

int graph::constant(double value, int rows) {
  node n;
  n.op = op_kind::constant;
  n.rows = rows;
  n.attr = value;
  return add(std::move(n));
}

int graph::param(int rows, double init, param_group group, std::string name) {
  param_info p;
  p.name = name;
  p.group = group;
  p.rows = rows;
  p.cols = 1;
  p.init = param_info::init_kind::constant;
  p.init_value = init;
  node n;
  n.op = op_kind::param;
  n.rows = rows;
  n.params = {add_param(std::move(p))};
  n.label = std::move(name);
  return add(std::move(n));
}

int graph::param_standard_normal(int rows, param_group group, std::string name) {
  const int i = param(rows, 0, group, std::move(name));
  params_.back().init = param_info::init_kind::standard_normal;
  return i;
}

int graph::linear(int x, int out, param_group group, std::string name) {
  const int in = at(x).rows;
  param_info w{name + ".weight", group, out, in, param_info::init_kind::uniform_fan_in, 0, in, 0, padded_lead(out)};
  param_info b{name + ".bias", group, out, 1, param_info::init_kind::uniform_fan_in, 0, in, 0};
  node n;
  n.op = op_kind::linear;
  n.rows = out;
  n.inputs = {x};
  n.params = {add_param(std::move(w)), add_param(std::move(b))};
  n.label = std::move(name);
  return add(std::move(n));
}

int graph::unary(op_kind op, int x, double attr) {
  node n;
  n.op = op;
  n.rows = at(x).rows;
  n.inputs = {x};
  n.attr = attr;
  return add(std::move(n));
}

int graph::binary(op_kind op, int a, int b) {
  node n;
  n.op = op;
  n.rows = broadcast_rows(a, b);
  n.inputs = {a, b};
  return add(std::move(n));
}

int graph::normalize(int x) { return unary(op_kind::normalize, x); }

int graph::concat(const std::vector<int>& xs) {
  if (xs.empty()) throw std::invalid_argument("graph: concat of nothing");
  node n;
  n.op = op_kind::concat;
  n.rows = 0;
  for (int x : xs) n.rows += at(x).rows;
  n.inputs = xs;
  return add(std::move(n));
}

int graph::sum(int x) {
  int i = unary(op_kind::sum, x);
  nodes_.back().rows = 1;
  return i;
}

int graph::norm(int x) {
  int i = unary(op_kind::norm, x);
  nodes_.back().rows = 1;
  return i;
}

int graph::sample_normal(int loc, int scale, int rows) {
  node n;
  n.op = op_kind::sample_normal;
  n.rows = rows;
  n.inputs = {loc, scale};
  n.ext = extent::sample;
  return add(std::move(n));
}

namespace {
node density(op_kind op, std::vector<int> inputs) {
  node n;
  n.op = op;
  n.rows = 1;
  n.inputs = std::move(inputs);
  return n;
}
}  // namespace

int graph::bernoulli_logits(int x, int logits) {
  if (at(logits).rows != at(x).rows && at(logits).rows != 1)
    throw std::invalid_argument("graph: bernoulli logits rows differ from the data's");
  return add(density(op_kind::bernoulli_logits, {x, logits}));
}

int graph::bernoulli_probs(int x, int probs) {
  if (at(probs).rows != at(x).rows && at(probs).rows != 1)
    throw std::invalid_argument("graph: bernoulli probs rows differ from the data's");
  return add(density(op_kind::bernoulli_probs, {x, probs}));
}

int graph::normal_logpdf(int value, int loc, int scale, int rows) {
  node n = density(op_kind::normal_logpdf, {value, loc, scale});
  n.attr = rows;
  return add(std::move(n));
}

int graph::normal_entropy(int scale, int rows) {
  node n = density(op_kind::normal_entropy, {scale});
  n.attr = rows;
  return add(std::move(n));
}

int graph::kl_normal_normal(int q_loc, int q_scale, int p_loc, int p_scale, int rows) {
  node n = density(op_kind::kl_normal_normal, {q_loc, q_scale, p_loc, p_scale});
  n.attr = rows;
  return add(std::move(n));
}

int graph::sample_studentt(int df, int loc, int scale, int rows) {
  node n;
  n.op = op_kind::sample_studentt;
  n.rows = rows;
  n.inputs = {df, loc, scale};
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::studentt_logpdf(int value, int df, int loc, int scale, int rows) {
  node n = density(op_kind::studentt_logpdf, {value, df, loc, scale});
  n.attr = rows;
  return add(std::move(n));
}

int graph::studentt_entropy(int df, int scale, int rows) {
  node n = density(op_kind::studentt_entropy, {df, scale});
  n.attr = rows;
  return add(std::move(n));
}

int graph::kl_studentt_normal(int df, int q_loc, int q_scale, int p_loc, int p_scale, int rows) {
  node n = density(op_kind::kl_studentt_normal, {df, q_loc, q_scale, p_loc, p_scale});
  n.attr = rows;
  return add(std::move(n));
}

namespace {
void require_rows(const node& n, int rows, const char* what) {
  if (n.rows != rows) throw std::invalid_argument(fmt::format("graph: {} has {} rows, not {}", what, n.rows, rows));
}
}  // namespace

int graph::sample_vmf(int mean, int concentration, int rows) {
  require_rows(at(mean), rows, "the vMF mean");
  require_rows(at(concentration), 1, "the vMF concentration");
  node n;
  n.op = op_kind::sample_vmf;
  n.rows = rows;
  n.inputs = {mean, concentration};
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::vmf_logpdf(int value, int mean, int concentration, int rows) {
  node n = density(op_kind::vmf_logpdf, {value, mean, concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::vmf_entropy(int concentration, int rows) {
  node n = density(op_kind::vmf_entropy, {concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::kl_vmf_uniform(int concentration, int rows) {
  node n = density(op_kind::kl_vmf_uniform, {concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::kl_vmf_vmf(int q_mean, int q_concentration, int p_mean, int p_concentration, int rows) {
  node n = density(op_kind::kl_vmf_vmf, {q_mean, q_concentration, p_mean, p_concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::sample_power_spherical(int mean, int concentration, int rows) {
  require_rows(at(mean), rows, "the Power Spherical mean");
  require_rows(at(concentration), 1, "the Power Spherical concentration");
  node n;
  n.op = op_kind::sample_power_spherical;
  n.rows = rows;
  n.inputs = {mean, concentration};
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::power_spherical_logpdf(int value, int mean, int concentration, int rows) {
  node n = density(op_kind::power_spherical_logpdf, {value, mean, concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::power_spherical_entropy(int concentration, int rows) {
  node n = density(op_kind::power_spherical_entropy, {concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::kl_power_spherical_uniform(int concentration, int rows) {
  node n = density(op_kind::kl_power_spherical_uniform, {concentration});
  n.attr = rows;
  return add(std::move(n));
}

int graph::sample_sphere_uniform(int rows) {
  node n;
  n.op = op_kind::sample_sphere_uniform;
  n.rows = rows;
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::sphere_uniform_logpdf(int value, int rows) {
  node n = density(op_kind::sphere_uniform_logpdf, {value});
  n.attr = rows;
  return add(std::move(n));
}

int graph::sphere_uniform_entropy(int rows) {
  node n = density(op_kind::sphere_uniform_entropy, {});
  n.attr = rows;
  return add(std::move(n));
}

int graph::cbernoulli_logits(int x, int logits) {
  if (at(logits).rows != at(x).rows && at(logits).rows != 1)
    throw std::invalid_argument("graph: continuous Bernoulli logits rows differ from the data's");
  return add(density(op_kind::cbernoulli_logits, {x, logits}));
}

int graph::cbernoulli_probs(int x, int probs) {
  if (at(probs).rows != at(x).rows && at(probs).rows != 1)
    throw std::invalid_argument("graph: continuous Bernoulli probs rows differ from the data's");
  return add(density(op_kind::cbernoulli_probs, {x, probs}));
}

namespace {
void require_mixture(const node& means, const node& scales, const node& logits, int rows) {
  const int K = logits.rows;
  require_rows(means, rows * K, "the mixture means");
  require_rows(scales, rows * K, "the mixture scales");
  if (means.ext != extent::shared || scales.ext != extent::shared || logits.ext != extent::shared)
    throw std::invalid_argument("graph: a mixture's means, scales and logits must be shared (one column)");
}
}  // namespace

int graph::mixture_logpdf(int value, int means, int scales, int logits, int rows) {
  require_rows(at(value), rows, "the mixture's value");
  require_mixture(at(means), at(scales), at(logits), rows);
  node n = density(op_kind::mixture_logpdf, {value, means, scales, logits});
  n.attr = rows;
  return add(std::move(n));
}

int graph::sample_mixture(int means, int scales, int logits, int rows) {
  require_mixture(at(means), at(scales), at(logits), rows);
  node n;
  n.op = op_kind::sample_mixture;
  n.rows = rows;
  n.inputs = {means, scales, logits};
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::constant_matrix(std::vector<double> values, int rows, int cols) {
  if (rows < 1 || cols < 1 || values.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols))
    throw std::invalid_argument("graph: a constant matrix needs rows × cols values");
  node n;
  n.op = op_kind::constant_matrix;
  n.rows = rows;
  n.cols = cols;
  n.ext = extent::fixed;
  n.values = std::move(values);
  return add(std::move(n));
}

int graph::param_columns(int rows, int cols, param_info::init_kind init, param_group group, std::string name) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("graph: a parameter matrix needs rows and columns");
  param_info p;
  p.name = name;
  p.group = group;
  p.rows = rows;
  p.cols = cols;
  p.init = init;
  node n;
  n.op = op_kind::param;
  n.rows = rows;
  n.cols = cols;
  n.ext = extent::fixed;
  n.params = {add_param(std::move(p))};
  n.label = std::move(name);
  return add(std::move(n));
}

int graph::linear_shared(int x, int like) {
  const node& l = at(like);
  if (l.op != op_kind::linear) throw std::invalid_argument("graph: linear_shared needs a linear node to share");
  require_rows(at(x), at(l.inputs[0]).rows, "the shared layer's input");
  node n;
  n.op = op_kind::linear;
  n.rows = l.rows;
  n.inputs = {x};
  n.params = l.params;
  n.label = l.label;
  return add(std::move(n));
}

int graph::vamp_logpdf(op_kind op, int value, const std::vector<int>& components, int K, int rows) {
  const std::size_t count = op == op_kind::vamp_studentt ? 3 : 2;
  if (!component_slot(op, 1) || op == op_kind::gather_component || components.size() != count)
    throw std::invalid_argument("graph: vamp_logpdf takes a vamp_* op and its family's parameters");
  require_rows(at(value), rows, "the mixture's value");
  if (at(value).ext == extent::fixed) throw std::invalid_argument("graph: a mixture's value has the batch's columns");
  for (int c : components) {
    const node& p = at(c);
    if (!(p.ext == extent::shared || (p.ext == extent::fixed && p.cols == K)))
      throw std::invalid_argument(fmt::format("graph: a component parameter must have {} columns or be shared", K));
  }
  node n = density(op, {value});
  n.inputs.insert(n.inputs.end(), components.begin(), components.end());
  n.attr = rows;
  n.cols = K;
  return add(std::move(n));
}

int graph::pick_component(int K) {
  if (K < 1) throw std::invalid_argument("graph: pick_component needs K ≥ 1");
  node n;
  n.op = op_kind::pick_component;
  n.rows = 1;
  n.cols = K;
  n.ext = extent::sample;
  return add(std::move(n));
}

int graph::gather_component(int lambda, int pick) {
  node n;
  n.op = op_kind::gather_component;
  n.rows = at(lambda).rows;
  n.inputs = {lambda, pick};
  return add(std::move(n));
}

int graph::objective(objective_spec spec) {
  if (objective_ >= 0) throw std::invalid_argument("graph: a second objective");
  node n;
  n.op = op_kind::objective;
  n.rows = 1;
  n.inputs.push_back(spec.loglik);
  for (const auto& l : spec.latents)
    for (int i : {l.kl, l.entropy, l.logp, l.logq})
      if (i >= 0) n.inputs.push_back(i);
  n.objective = std::move(spec);
  objective_ = add(std::move(n));
  nodes_.back().ext = extent::scalar;
  return objective_;
}

std::string graph::to_text() const {
  std::string out;
  static constexpr std::string_view ext_names[] = {"shared", "B", "B·S", "1"};
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const node& n = nodes_[i];
    std::string args;
    for (int in : n.inputs) args += (args.empty() ? "%" : ", %") + std::to_string(in);
    std::string extra;
    if (n.op == op_kind::constant) extra = fmt::format(" value={}", n.attr);
    if (n.op == op_kind::leaky_relu) extra = fmt::format(" slope={}", n.attr);
    if (n.rows == 1 && n.attr > 0 && n.op != op_kind::constant && n.op != op_kind::leaky_relu)
      extra = fmt::format(" n={}", n.attr);
    for (int p : n.params) {
      const param_info& pi = params_[static_cast<std::size_t>(p)];
      extra += fmt::format(" {}:{}[{}×{}]", to_string(pi.group), pi.name, pi.rows, pi.cols);
    }
    if (n.cols > 0 && n.ext != extent::fixed) extra += fmt::format(" K={}", n.cols);
    out += fmt::format("%{:<4} = {}({}) [{} × {}]{}{}\n", i, to_string(n.op), args, n.rows,
                       n.ext == extent::fixed ? std::to_string(n.cols) : std::string(ext_names[static_cast<int>(n.ext)]), extra, n.label.empty() ? "" : "   # " + n.label);
  }
  return out;
}

std::string graph::to_dot() const {
  std::string out = "digraph vaec {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const node& n = nodes_[i];
    std::string color = "black";
    if (!n.params.empty())
      color = params_[static_cast<std::size_t>(n.params[0])].group == param_group::theta ? "blue" : "darkgreen";
    if (is_sampler(n.op)) color = "red";
    std::string label = fmt::format("{} [{}]", to_string(n.op), n.rows);
    if (!n.label.empty()) label += "\\n" + n.label;
    out += fmt::format("  n{} [label=\"{}\", color={}];\n", i, label, color);
    for (int in : n.inputs) out += fmt::format("  n{} -> n{};\n", in, i);
  }
  return out + "}\n";
}

}  // namespace vaec::rt
