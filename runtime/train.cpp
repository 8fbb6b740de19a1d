#include "runtime/train.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <ostream>
#include <span>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <pthread.h>
#include <unistd.h>

#include "runtime/checkpoint.hpp"
#include "runtime/data_parallel.hpp"
#include "runtime/plan.hpp"
#include "runtime/run_folder.hpp"

namespace vaec::rt {

namespace {

std::atomic<bool> interrupted{false};
std::atomic<int> interrupt_signal_number{0};  // the first SIGINT or SIGTERM's, for the exit code

extern "C" void on_sigint(int sig) {
  if (interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  int none = 0;
  interrupt_signal_number.compare_exchange_strong(none, sig);
}

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string number(double v) { return fmt::format("{:.17g}", v); }

// The examples of `d` at `indices`, as a column-major [width × count] block (dynamic
// binarization: gather_binarized_per_example).
void gather(const dataset& d, const std::vector<std::uint32_t>& indices, std::size_t from, int count,
            const tensor<float>& out) {
  const std::size_t w = d.width;
  for (int c = 0; c < count; ++c) {
    const float* src = d.values.data() + static_cast<std::size_t>(indices[from + static_cast<std::size_t>(c)]) * w;
    std::memcpy(out.data + static_cast<std::size_t>(c) * w, src, w * sizeof(float));
  }
}

// The parameter nearest the objective for which bad(p) holds (p an index of g.params()):
// the first in the backward pass's order (the graph's nodes from the last, each node's
// parameters and parameter inputs); −1 when bad holds for none.
int nearest_the_objective(const graph& g, const std::function<bool(int)>& bad) {
  const auto& nodes = g.nodes();
  for (std::size_t i = nodes.size(); i-- > 0;) {
    const node& n = nodes[i];
    if (n.op != op_kind::param)
      for (int p : n.params)
        if (bad(p)) return p;
    for (int in : n.inputs) {
      const node& from = nodes[static_cast<std::size_t>(in)];
      if (from.op == op_kind::param && bad(from.params[0])) return from.params[0];
    }
  }
  return -1;
}

// Parameter p's name, quoted; "a parameter" for −1.
std::string quoted_name(const graph& g, int p) {
  return p < 0 ? std::string("a parameter") : "'" + g.params()[static_cast<std::size_t>(p)].name + "'";
}

// A permutation of 0..n−1 from the stream (seed, shuffle, epoch): Fisher–Yates.
std::vector<std::uint32_t> permutation(std::size_t n, std::uint64_t seed, stream s, std::uint64_t counter) {
  std::vector<std::uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  rng r(seed, s, counter);
  for (std::size_t i = n; i > 1; --i) {
    std::size_t j = static_cast<std::size_t>(r() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

dataset subset(const dataset& d, const std::vector<std::uint32_t>& idx, std::size_t from, std::size_t to) {
  dataset out;
  out.width = d.width;
  out.count = to - from;
  out.origin = d.origin;
  out.values.resize(out.count * d.width);
  for (std::size_t i = from; i < to; ++i)
    std::memcpy(out.values.data() + (i - from) * d.width, d.values.data() + static_cast<std::size_t>(idx[i]) * d.width,
                d.width * sizeof(float));
  if (!d.labels.empty())
    for (std::size_t i = from; i < to; ++i) out.labels.push_back(d.labels[idx[i]]);
  return out;
}

void check_fits(const model_binding& b, const dataset& d) {
  if (static_cast<int>(d.width) != b.data_width) {
    // One value per example, from a file named like labels, is most likely the labels.
    const bool labels = d.width == 1 && d.origin.find("labels") != std::string::npos;
    throw train_error(fmt::format("{}: each example has {} value{}, but the model's data is declared with {}; {}",
                                  d.origin, d.width, d.width == 1 ? "" : "s", b.data_width,
                                  labels ? "this looks like a labels file: give the images (…-images-idx3-ubyte) or "
                                           "the folder that holds both"
                                         : fmt::format("declare the data as [{}] or use data of width {}", d.width,
                                                       b.data_width)));
  }
  if (d.count == 0) throw train_error(fmt::format("{}: no examples", d.origin));
  if (b.data_binary) {
    auto [lo, hi] = std::minmax_element(d.values.begin(), d.values.end());
    if (*lo < 0 || *hi > 1)
      throw train_error(fmt::format("{}: values range over [{}, {}], but binary data must lie in [0, 1]; "
                                    "scale the data, or declare it real[{}]",
                                    d.origin, *lo, *hi, b.data_width));
  }
}

// Plans for a full batch and for the remainder, sharing the parameters.
struct plans {
  std::unique_ptr<plan<float>> full, tail;
  plans(const graph& g, parameters<float>& p, int batch, int samples, std::size_t count, bool gradients = true,
        product_options products = {}) {
    full = std::make_unique<plan<float>>(g, p, batch, samples, gradients, products);
    const int rest = static_cast<int>(count % static_cast<std::size_t>(batch));
    if (rest > 0) tail = std::make_unique<plan<float>>(g, p, rest, samples, gradients, products);
  }
  // Data-parallel: a full batch's shard and a remainder's (0: none; the same size: none).
  struct sizes {
    int full = 0, tail = 0;
  };
  plans(const graph& g, parameters<float>& p, sizes n, int samples, bool gradients = true,
        product_options products = {}) {
    full = std::make_unique<plan<float>>(g, p, n.full, samples, gradients, products);
    if (n.tail > 0 && n.tail != n.full) tail = std::make_unique<plan<float>>(g, p, n.tail, samples, gradients, products);
  }
  plan<float>& for_size(int n) { return n == full->batch() ? *full : *tail; }
};

// The examples of `d` at `indices` as in gather, binarized per example: example c from
// the stream (seed, binarize, example_key(counter, first + c)), so its draws do not depend
// on the batch's other examples (nor on which data-parallel rank holds them).
void gather_binarized_per_example(const dataset& d, const std::vector<std::uint32_t>& indices, std::size_t from,
                                  int count, const tensor<float>& out, std::uint64_t seed, std::uint64_t counter,
                                  std::uint64_t first) {
  const std::size_t w = d.width;
  for (int c = 0; c < count; ++c) {
    rng r(seed, stream::binarize, example_key(counter, first + static_cast<std::uint64_t>(c)));
    const float* src = d.values.data() + static_cast<std::size_t>(indices[from + static_cast<std::size_t>(c)]) * w;
    float* dst = out.data + static_cast<std::size_t>(c) * w;
    for (std::size_t i = 0; i < w; ++i) dst[i] = r.uniform() < src[i] ? 1.0f : 0.0f;
  }
}

struct accumulators {
  double elbo = 0, recon = 0, kl = 0;
  std::vector<double> kl_latent;
  double examples = 0;
  double seconds = 0;
  double iw = 0;  // the importance-weighted bound (objective = iwae)
  std::string encode() const {
    std::string s = number(elbo) + "," + number(recon) + "," + number(kl) + "," + number(examples) + "," +
                    number(seconds) + "," + number(iw);
    for (double k : kl_latent) s += "," + number(k);
    return s;
  }
  static accumulators decode(const std::string& s, std::size_t latents) {
    accumulators a;
    std::vector<double> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) v.push_back(std::strtod(item.c_str(), nullptr));
    if (v.size() != 6 + latents) throw checkpoint_error("checkpoint: the epoch accumulators do not match the model");
    a.elbo = v[0];
    a.recon = v[1];
    a.kl = v[2];
    a.examples = v[3];
    a.seconds = v[4];
    a.iw = v[5];
    a.kl_latent.assign(v.begin() + 6, v.end());
    return a;
  }
};

// Mean ELBO, reconstruction and KL of `d` under the current parameters, S samples,
// noise from (seed, eval, counter).
struct eval_figures {
  double elbo = 0, recon = 0, kl = 0;
  std::vector<double> kl_latent;  // per latent, in the objective's order
  double iw = 0;  // the importance-weighted bound with the plan's S samples (iwae graphs)
  std::int64_t nonfinite = 0;         // examples whose own ELBO is NaN or ±∞
  std::int64_t first_nonfinite = -1;  // the first of them: its position in the data set, or -1
};

// Data-parallel (dp.on): this rank evaluates its part of `d` (data_parallel::of(d.count)),
// each example with draws keyed by its position in `d`, and the sums are added over the
// ranks; `ps` is planned for that part (null when it is empty).
eval_figures evaluate_elbo(plans* ps, int data_node, const dataset& d, std::uint64_t seed, std::uint64_t counter,
                           const data_parallel& dp = {}) {
  std::vector<std::uint32_t> all(d.count);
  std::iota(all.begin(), all.end(), 0u);
  eval_figures f;
  const data_parallel::shard part = dp.on ? dp.of(d.count) : data_parallel::shard{0, d.count};
  const int B = ps ? ps->full->batch() : 1;
  std::uint64_t batch_index = 0;
  for (std::size_t from = part.from; ps && from < part.from + part.count; from += static_cast<std::size_t>(B)) {
    const int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(B), part.from + part.count - from));
    plan<float>& p = ps->for_size(n);
    gather(d, all, from, n, p.input(data_node));
    rng noise(seed, stream::eval, counter * 1000003 + batch_index++);
    p.settings() = {};
    p.settings().example_noise = {true, seed, counter, stream::eval, from};
    p.forward(noise);
    const objective_result& r = p.result();
    if (!std::isfinite(r.elbo)) {
      const std::vector<double>& each = p.per_example();
      for (int j = 0; j < n; ++j)
        if (!std::isfinite(each[static_cast<std::size_t>(j)])) {
          if (f.nonfinite++ == 0) f.first_nonfinite = static_cast<std::int64_t>(from) + j;
        }
    }
    f.elbo += r.elbo * n;
    f.recon += r.recon * n;
    f.iw += r.iwae * n;
    double kl = 0;
    for (double k : r.kl) kl += k;
    f.kl += kl * n;
    f.kl_latent.resize(r.kl.size(), 0.0);
    for (std::size_t l = 0; l < r.kl.size(); ++l) f.kl_latent[l] += r.kl[l] * n;
  }
  if (dp.on) {
    // The first non-finite example of all ranks: the smallest position (−1 for none).
    const std::int64_t none = std::numeric_limits<std::int64_t>::min();
    const std::int64_t first = mpi::max_over_ranks(f.first_nonfinite < 0 ? none : -f.first_nonfinite);
    f.first_nonfinite = first == none ? -1 : -first;
    std::vector<double> sums = {f.elbo, f.recon, f.kl, f.iw, static_cast<double>(f.nonfinite)};
    f.kl_latent.resize(ps ? ps->full->result().kl.size() : 0, 0.0);
    const std::size_t latents = static_cast<std::size_t>(mpi::max_over_ranks(static_cast<std::int64_t>(f.kl_latent.size())));
    f.kl_latent.resize(latents, 0.0);
    sums.insert(sums.end(), f.kl_latent.begin(), f.kl_latent.end());
    mpi::sum_in_place(sums.data(), sums.size());
    f.elbo = sums[0], f.recon = sums[1], f.kl = sums[2], f.iw = sums[3];
    f.nonfinite = static_cast<std::int64_t>(sums[4]);
    std::copy(sums.begin() + 5, sums.end(), f.kl_latent.begin());
  }
  for (double& k : f.kl_latent) k /= static_cast<double>(d.count);
  f.elbo /= static_cast<double>(d.count);
  f.recon /= static_cast<double>(d.count);
  f.kl /= static_cast<double>(d.count);
  f.iw /= static_cast<double>(d.count);
  return f;
}

// A checkpoint's tensors in PyTorch's layout: a linear weight [out, in] row-major (ours
// is column-major [out × in], column c at c·lead(), so it is transposed and its padding,
// if any, left out).
struct param_io {
  std::vector<std::vector<float>> buffers;
  std::vector<tensor_view> views;
};

// Adam's moments in a checkpoint ("vaec.adam.m", "vaec.adam.v") keep the order they had
// before weights got padded column strides (commit 82f03e0): each parameter's elements,
// column-major and dense, from an offset that is a multiple of 16 elements. So checkpoints
// of earlier builds resume in this one and this one's in theirs; the store itself may pad a
// weight's columns (param_info::ld), which these two functions leave out and put back.
constexpr std::size_t moment_alignment = 16;

// Calls f(in_checkpoint, in_store) for every element of every parameter: its index in the
// checkpoint's order and in the store. Returns the checkpoint's length.
template <class F>
std::size_t moment_layout(const graph& g, F&& f) {
  std::size_t at = 0;
  for (const auto& p : g.params()) {
    for (std::size_t i = 0; i < p.size(); ++i) f(at + i, p.offset + p.at(i));
    at += (p.size() + moment_alignment - 1) / moment_alignment * moment_alignment;
  }
  return at;
}

std::size_t moment_length(const graph& g) { return moment_layout(g, [](std::size_t, std::size_t) {}); }

std::vector<float> moments_for_checkpoint(const graph& g, std::span<const float> stored) {
  std::vector<float> out(moment_length(g), 0.0f);
  moment_layout(g, [&](std::size_t d, std::size_t s) { out[d] = stored[s]; });
  return out;
}

void moments_from_checkpoint(const graph& g, std::span<const float> dense, std::span<float> stored) {
  std::fill(stored.begin(), stored.end(), 0.0f);
  moment_layout(g, [&](std::size_t d, std::size_t s) { stored[s] = dense[d]; });
}

param_io export_params(const graph& g, std::span<const float> values) {
  param_io io;
  for (const auto& p : g.params()) {
    std::vector<float> b(p.size());
    const float* src = values.data() + p.offset;
    for (int r = 0; r < p.rows; ++r)
      for (int c = 0; c < p.cols; ++c)
        b[static_cast<std::size_t>(r) * static_cast<std::size_t>(p.cols) + static_cast<std::size_t>(c)] =
            src[static_cast<std::size_t>(c) * static_cast<std::size_t>(p.lead()) + static_cast<std::size_t>(r)];
    io.buffers.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < g.params().size(); ++i) {
    const auto& p = g.params()[i];
    std::vector<std::int64_t> shape = p.cols == 1 ? std::vector<std::int64_t>{p.rows}
                                                  : std::vector<std::int64_t>{p.rows, p.cols};
    io.views.push_back({p.name, dtype::f32, shape, io.buffers[i].data()});
  }
  return io;
}

void import_params(const graph& g, const checkpoint& ck, const std::string& path, std::span<float> values) {
  for (const auto& p : g.params()) {
    auto it = ck.tensors.find(p.name);
    if (it == ck.tensors.end())
      throw checkpoint_error(fmt::format("{}: no tensor '{}': the checkpoint is of another model", path, p.name));
    std::vector<std::int64_t> want = p.cols == 1 ? std::vector<std::int64_t>{p.rows}
                                                 : std::vector<std::int64_t>{p.rows, p.cols};
    if (it->second.shape != want || it->second.type != dtype::f32)
      throw checkpoint_error(fmt::format("{}: tensor '{}' has another shape or type than the model's", path, p.name));
    std::vector<float> b = it->second.as_f32();
    float* dst = values.data() + p.offset;
    for (int r = 0; r < p.rows; ++r)
      for (int c = 0; c < p.cols; ++c)
        dst[static_cast<std::size_t>(c) * static_cast<std::size_t>(p.lead()) + static_cast<std::size_t>(r)] =
            b[static_cast<std::size_t>(r) * static_cast<std::size_t>(p.cols) + static_cast<std::size_t>(c)];
  }
}

// With objective = iwae two more columns: the K-sample importance-weighted bound that is
// optimized (train_iw_bound) and its value on the test set, beside the ELBO columns.
std::string csv_header(const std::vector<std::string>& latents, bool iwae) {
  std::string h = "epoch,train_elbo,train_recon,train_kl";
  for (const auto& l : latents) h += ",train_kl_" + l;
  return h + ",test_elbo,test_recon,test_kl,valid_elbo,beta" + (iwae ? ",train_iw_bound,test_iw_bound\n" : "\n");
}

std::string csv_row(const epoch_metrics& m) {
  auto opt = [](const std::optional<double>& v) { return v ? number(*v) : std::string(); };
  std::string row = fmt::format("{},{},{},{}", m.epoch, number(m.train_elbo), number(m.train_recon), number(m.train_kl));
  for (double k : m.train_kl_latent) row += "," + number(k);
  row += fmt::format(",{},{},{},{},{}", opt(m.test_elbo), opt(m.test_recon), opt(m.test_kl), opt(m.valid_elbo),
                     number(m.beta));
  if (m.train_iw) row += fmt::format(",{},{}", number(*m.train_iw), opt(m.test_iw));
  return row + "\n";
}

std::vector<epoch_metrics> read_metrics(const std::string& path, std::size_t latents) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_metrics(text.str(), latents);
}

}  // namespace

std::vector<epoch_metrics> parse_metrics(const std::string& text, std::size_t latents) {
  std::vector<epoch_metrics> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string item;
    while (std::getline(ss, item, ',')) f.push_back(item);
    while (f.size() < 10 + latents) f.emplace_back();
    epoch_metrics m;
    auto d = [](const std::string& s) { return std::strtod(s.c_str(), nullptr); };
    auto o = [&](const std::string& s) -> std::optional<double> { if (s.empty()) return std::nullopt; return d(s); };
    m.epoch = std::atoi(f[0].c_str());
    m.train_elbo = d(f[1]);
    m.train_recon = d(f[2]);
    m.train_kl = d(f[3]);
    for (std::size_t j = 0; j < latents; ++j) m.train_kl_latent.push_back(d(f[4 + j]));
    m.test_elbo = o(f[4 + latents]);
    m.test_recon = o(f[5 + latents]);
    m.test_kl = o(f[6 + latents]);
    m.valid_elbo = o(f[7 + latents]);
    m.beta = d(f[8 + latents]);
    if (f.size() >= 11 + latents) {
      m.train_iw = o(f[9 + latents]);
      m.test_iw = o(f[10 + latents]);
    }
    out.push_back(m);
  }
  return out;
}

namespace {

// The first `n` lines after the header of the CSV file at `path`, as they are.
std::string first_rows(const std::filesystem::path& path, std::size_t n) {
  std::ifstream in(path);
  std::string line, out;
  std::getline(in, line);  // header
  for (std::size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

std::string group_digits(double v) {
  auto n = static_cast<long long>(std::llround(v));
  std::string s = std::to_string(n), out;
  int c = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (c > 0 && c % 3 == 0 && *it != '-') out += ',';
    out += *it;
    ++c;
  }
  return std::string(out.rbegin(), out.rend());
}

}  // namespace

double kl_weight(const train_options& o, double progress, bool at_epoch_end) {
  if (o.kl_warmup <= 0) return o.beta;
  double pos = progress;
  if (o.kl_cycle > 0) {
    // The position in the current cycle; at an epoch's end, the end of that cycle's
    // epoch (C, not 0), so the epoch that completes a cycle reports its full weight.
    const double c = static_cast<double>(o.kl_cycle);
    pos = progress - c * std::floor(progress / c);
    if (at_epoch_end && pos == 0 && progress > 0) pos = c;
  }
  return o.beta * std::min(1.0, pos / o.kl_warmup);
}

dataset binarized_once(const dataset& d, std::uint64_t seed) {
  dataset out = d;
  rng r(seed, stream::binarize_test, 0);
  for (float& v : out.values) v = r.uniform() < v ? 1.0f : 0.0f;
  return out;
}

bool is_binary(const dataset& d) {
  return std::all_of(d.values.begin(), d.values.end(), [](float v) { return v == 0.0f || v == 1.0f; });
}

void require_probabilities(const dataset& d, std::string_view mode) {
  const auto it = std::find_if(d.values.begin(), d.values.end(), [](float v) { return !(v >= 0.0f && v <= 1.0f); });
  if (it == d.values.end()) return;
  const auto i = static_cast<std::size_t>(it - d.values.begin());
  throw data_error(fmt::format("{}: example {} (counting from 0), column {}, holds {:g}, outside [0, 1]; binarize = {} "
                               "reads each value as the probability of a 1, so it needs data in [0, 1]: scale the data "
                               "to [0, 1], or set binarize = none",
                               d.origin, i / d.width, i % d.width + 1, *it, mode));
}

void check_data(const model_binding& b, const dataset& d) { check_fits(b, d); }

void check_data(const model_binding& b, const data_splits& d) {
  check_fits(b, d.train);
  if (d.test) check_fits(b, *d.test);
}

// The stack the handler runs on (SA_ONSTACK), registered for the thread that installs it.
// oneDNN's AVX2 GEMM kernels (gemm:jit) point the stack pointer into a buffer they take
// from the heap while they run; a handler run on that "stack" has the kernel write its
// signal frame below the buffer, over the heap's bookkeeping — glibc then aborted at the
// next free ("corrupted size vs. prev_size") in about half of Ctrl-Cs on an AVX2 machine.
alignas(64) unsigned char signal_stack[1 << 16];

void install_interrupt_handler() {
  interrupted.store(false);
  interrupt_signal_number.store(0);
  stack_t ss{};
  ss.ss_sp = signal_stack;
  ss.ss_size = sizeof signal_stack;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupt_requested() { return interrupted.load(); }

int interrupted_exit_code() {
  const int sig = interrupt_signal_number.load();
  return 128 + (sig > 0 ? sig : SIGINT);
}

void restore_default_interrupts() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void block_interrupts_in_workers() {
  // Thread 0 of the team is the calling thread, which keeps SIGINT and SIGTERM (and the
  // alternate stack of install_interrupt_handler); the others block them, so the process's
  // Ctrl-C is delivered to the caller, never to a thread inside a GEMM kernel.
#pragma omp parallel
  {
    if (omp_get_thread_num() != 0) {
      sigset_t blocked;
      sigemptyset(&blocked);
      sigaddset(&blocked, SIGINT);
      sigaddset(&blocked, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    }
  }
}

std::vector<float> load_parameters(const graph& g, const std::string& path) {
  checkpoint ck = read_checkpoint(path);
  std::vector<float> values(g.param_storage(), 0.0f);
  import_params(g, ck, path, values);
  return values;
}

train_result train(const model_binding& b, const data_splits& data, const train_options& o, const run_files& files,
                   bool resume, std::ostream& log) {
  const graph& g = *b.g;
  check_fits(b, data.train);
  if (data.test) check_fits(b, *data.test);
  if (o.products == precision::bf16 && !bf16_supported())
    throw train_error(bf16_unsupported_message());
  set_threads(o.threads);
  set_flush_denormals();
  block_interrupts_in_workers();

  // The splits: the caller's data as they are, or copies where they must change (a
  // validation tenth of the training data when early stopping is on; static binarization).
  // Nothing is copied otherwise: Fashion-MNIST's training set is 188 MB of floats.
  std::optional<dataset> own_train, own_valid, own_test;
  const dataset* train_set = &data.train;
  const dataset* valid_set = nullptr;
  std::vector<std::uint32_t> valid_rows;  // the validation split's rows in the training data
  std::vector<std::uint32_t> train_rows;  // with a validation split: the training part's rows in it
  const dataset* test_set = data.test ? &*data.test : nullptr;
  if (o.early_stopping > 0) {
    if (data.train.count < 2)
      throw train_error(fmt::format("{}: {} training example{}, but early stopping holds out a tenth of the training "
                                    "data (at least 1 example) for validation and trains on the rest, so it needs at "
                                    "least 2; give more data, or train without early stopping (early_stopping = 0)",
                                    data.train.origin, data.train.count, data.train.count == 1 ? "" : "s"));
    auto perm = permutation(data.train.count, o.seed, stream::split, 0);
    const std::size_t n_valid = std::max<std::size_t>(1, data.train.count / 10);
    own_valid = subset(data.train, perm, data.train.count - n_valid, data.train.count);
    valid_rows.assign(perm.end() - static_cast<std::ptrdiff_t>(n_valid), perm.end());
    own_train = subset(data.train, perm, 0, data.train.count - n_valid);
    train_rows.assign(perm.begin(), perm.end() - static_cast<std::ptrdiff_t>(n_valid));
    train_set = &*own_train;
    valid_set = &*own_valid;
  }
  // An example of train_set (its index there) as its row in the caller's training data, for
  // messages: the same index without a validation split.
  const auto training_row = [&](std::uint32_t k) { return train_rows.empty() ? k : train_rows[k]; };
  if (o.binarize_mode == binarize::fixed) {
    if (!own_train) own_train = data.train;
    train_set = &*own_train;
    std::uint64_t counter = 0;
    for (dataset* d : {&*own_train, own_valid ? &*own_valid : nullptr}) {
      if (!d) continue;
      rng r(o.seed, stream::binarize, ~counter++);
      for (float& v : d->values) v = r.uniform() < v ? 1.0f : 0.0f;
    }
  }
  // With either binarization the test figures are those of a test set binarized once,
  // with the run's seed (the standard for binarized MNIST-style data); vaec eval uses the
  // same set.
  if (test_set && o.binarize_mode != binarize::none) {
    own_test = binarized_once(*test_set, o.seed);
    test_set = &*own_test;
  }
  if (valid_set)
    log << fmt::format("early stopping: {} example{} (a tenth of the training data, chosen with the seed) {} held out "
                       "as the validation split; training uses the other {}\n",
                       group_digits(static_cast<double>(valid_set->count)), valid_set->count == 1 ? "" : "s",
                       valid_set->count == 1 ? "is" : "are", group_digits(static_cast<double>(train_set->count)));

  parameters<float> params(g);
  params.initialize(o.seed);
  params.initialize_from_examples(train_set->values, train_set->count, train_set->width, o.seed);
  adam<float> opt(params.values.size(), o.adam);
  const int B = std::min<int>(o.batch, static_cast<int>(train_set->count));
  // Data-parallel (runtime/data_parallel.hpp): this rank's plans are for its shards.
  const data_parallel dp = data_parallel::current();
  const bool writer = dp.rank == 0;  // rank 0 alone writes the run folder
  // An error every rank finds at the same point (data-parallel): rank 0 reports it.
  auto on_every_rank = [&](train_error e) {
    e.every_rank = dp.on;
    return e;
  };
  if (dp.on) {
    if (B < dp.ranks)
      throw on_every_rank(train_error(fmt::format("the batch has {} examples, fewer than the {} ranks it is split "
                                                  "over; use a batch of at least {} (--batch) or fewer ranks (mpirun -np)",
                                                  B, dp.ranks, dp.ranks)));
    if (o.free_bits > 0)
      throw on_every_rank(train_error("free_bits applies to the KL of the whole batch, which data-parallel training "
                                      "does not compute on any one rank; train this model in one process (without "
                                      "mpirun), or without free_bits"));
  }
  const std::size_t rest = train_set->count % static_cast<std::size_t>(B);
  std::optional<plans> train_plans;
  if (dp.on) train_plans.emplace(g, params, plans::sizes{static_cast<int>(dp.of(static_cast<std::size_t>(B)).count),
                                                         static_cast<int>(dp.of(rest).count)}, o.samples, true,
                                                         product_options{o.products});
  else train_plans.emplace(g, params, B, o.samples, train_set->count, true, product_options{o.products});
  std::unique_ptr<plans> test_plans, valid_plans;
  const int eval_batch = std::max(B, 500);
  // Plans for an evaluated split (this rank's part of it when data-parallel; none when that part is empty).
  auto eval_plans = [&](const dataset& d) -> std::unique_ptr<plans> {
    const std::size_t n = dp.on ? dp.of(d.count).count : d.count;
    if (n == 0) return nullptr;
    return std::make_unique<plans>(g, params, std::min<int>(eval_batch, static_cast<int>(n)), o.samples, n, false);
  };
  if (test_set) test_plans = eval_plans(*test_set);
  if (valid_set) valid_plans = eval_plans(*valid_set);

  const std::size_t steps_per_epoch = (train_set->count + static_cast<std::size_t>(B) - 1) / static_cast<std::size_t>(B);
  const std::size_t L = b.latent_names.size();
  const std::string ckpt_path = (std::filesystem::path(files.dir) / "checkpoint.safetensors").string();
  const std::filesystem::path metrics_path = std::filesystem::path(files.dir) / "metrics.csv";
  const std::filesystem::path timing_path = std::filesystem::path(files.dir) / "timing.csv";
  const std::filesystem::path best_path = std::filesystem::path(files.dir) / "best.safetensors";
  std::string metrics_rows, timing_rows;  // metrics.csv and timing.csv after their headers
  // Which checkpoint exists, for the message of a stop: "" while there is none.
  std::string last_checkpoint;
  bool last_checkpoint_at_epoch_end = false;  // else written at an interruption

  train_result result;
  int start_epoch = 0;
  std::size_t start_step = 0;
  accumulators acc;
  acc.kl_latent.assign(L, 0.0);
  double best_valid = -INFINITY;
  int since_best = 0;

  // Everything the rest of the run depends on: parameters, Adam's moments and step count,
  // the position (epoch, step), the epoch's running sums, early stopping's state. The
  // random streams have no state to save: each draw site's generator is derived from
  // (seed, purpose, counter) — noise and dynamic binarization from the global step, the
  // data order from the epoch, static binarization and the validation split from the
  // seed alone (runtime/rng.hpp) — so the seed and the position determine them.
  auto write_ckpt = [&](int epoch, std::size_t step_in_epoch, const std::filesystem::path& path) {
    if (!writer) return;
    param_io io = export_params(g, params.values);
    std::vector<tensor_view> views = io.views;
    const std::vector<float> m1 = moments_for_checkpoint(g, opt.m), m2 = moments_for_checkpoint(g, opt.v);
    const std::int64_t n = static_cast<std::int64_t>(m1.size());
    views.push_back({"vaec.adam.m", dtype::f32, {n}, m1.data()});
    views.push_back({"vaec.adam.v", dtype::f32, {n}, m2.data()});
    std::map<std::string, std::string> meta = {
        {"format", "pt"},
        {"vaec.layout", "linear weights [out, in] row-major as torch.nn.Linear; vaec.adam.* in vaec's internal order "
                        "(each parameter column-major, from offsets that are multiples of 16)"},
        {"vaec.epoch", std::to_string(epoch)},
        {"vaec.step_in_epoch", std::to_string(step_in_epoch)},
        {"vaec.adam_t", std::to_string(opt.t)},
        {"vaec.accumulators", acc.encode()},
        {"vaec.best_valid", number(best_valid)},
        {"vaec.since_best", std::to_string(since_best)},
        {"vaec.best_epoch", std::to_string(result.best_epoch)},
        {"vaec.random_streams", "xoshiro256++ per (seed, purpose, counter); counters follow from vaec.epoch and "
                                "vaec.step_in_epoch"},
        {"vaec.binarize", o.binarize_mode == binarize::none      ? "none"
                          : o.binarize_mode == binarize::dynamic ? "dynamic (x ~ Bernoulli(pixel), stream of the step)"
                                                                 : "static (once, from the seed)"},
        {"vaec.settings", files.metadata_json},
        // What the position in the run depends on; --resume refuses other values.
        {"vaec.batch", std::to_string(B)},
        {"vaec.samples", std::to_string(o.samples)},
        {"vaec.seed", std::to_string(o.seed)},
        {"vaec.train_examples", std::to_string(train_set->count)},
    };
    if (dp.on) meta["vaec.data_parallel_ranks"] = std::to_string(dp.ranks);
    meta[checkpoint_digest_key] = data_digest(views);
    write_checkpoint(path.string(), views, meta);
  };

  if (resume) {
    checkpoint ck = read_checkpoint(ckpt_path);
    import_params(g, ck, ckpt_path, params.values);
    auto take = [&](const std::string& name) {
      auto it = ck.tensors.find(name);
      if (it == ck.tensors.end()) throw checkpoint_error(fmt::format("{}: no tensor '{}'", ckpt_path, name));
      std::vector<float> v = it->second.as_f32();
      if (v.size() != moment_length(g))
        throw checkpoint_error(fmt::format("{}: '{}' holds {} values where this model's Adam state has {}: the "
                                           "checkpoint is of another model",
                                           ckpt_path, name, v.size(), moment_length(g)));
      return v;
    };
    moments_from_checkpoint(g, take("vaec.adam.m"), opt.m);
    moments_from_checkpoint(g, take("vaec.adam.v"), opt.v);
    auto meta = [&](const std::string& k) {
      auto it = ck.metadata.find(k);
      if (it == ck.metadata.end()) throw checkpoint_error(fmt::format("{}: no metadata '{}'", ckpt_path, k));
      return it->second;
    };
    auto integer = [&](const std::string& k) -> long long {
      const std::string v = meta(k);
      try {
        std::size_t used = 0;
        long long x = std::stoll(v, &used);
        if (used == v.size()) return x;
      } catch (const std::exception&) {
      }
      throw checkpoint_error(fmt::format("{}: metadata '{}' is '{}', not a whole number", ckpt_path, k, v));
    };
    // run.json is what a resume reads its settings from; the checkpoint keeps the ones it was
    // trained with. A value changed by hand since (a learning rate, β, the binarization)
    // would continue another run than the one that was interrupted: refused, naming each.
    // (Settings a checkpoint of an earlier build does not record are not compared.)
    if (const auto it = ck.metadata.find("vaec.settings"); it != ck.metadata.end() && !files.metadata_json.empty()) {
      const auto then = nlohmann::json::parse(it->second, nullptr, false);
      const auto now = nlohmann::json::parse(files.metadata_json, nullptr, false);
      std::vector<std::string> changed;
      if (then.is_object() && now.is_object()) {
        for (const auto& [key, was] : then.items()) {
          if (!now.contains(key)) continue;
          const auto& is = now.at(key);
          if (was.is_object() && is.is_object()) {
            for (const auto& [sub, w] : was.items())
              if (is.contains(sub) && is.at(sub) != w)
                changed.push_back(fmt::format("{}.{} is {} there, {} in run.json", key, sub, w.dump(), is.at(sub).dump()));
          } else if (is != was) {
            changed.push_back(fmt::format("{} is {} there, {} in run.json", key, was.dump(), is.dump()));
          }
        }
      }
      if (!changed.empty())
        throw train_error(fmt::format("{}: run.json's settings differ from those the run was trained with, which its "
                                      "checkpoint {} records: {}; run.json was changed by hand: put those values back "
                                      "to continue the run, or start a new run with the settings you want",
                                      (std::filesystem::path(files.dir) / "run.json").string(), ckpt_path,
                                      fmt::join(changed, "; ")));
    }
    // The run's position means something only under the settings it was trained with.
    const std::pair<const char*, long long> same[] = {
        {"vaec.batch", B}, {"vaec.samples", o.samples}, {"vaec.train_examples", static_cast<long long>(train_set->count)}};
    for (const auto& [key, now] : same)
      if (integer(key) != now)
        throw train_error(fmt::format("{}: the run was trained with {} = {}, this command has {}; resume with the "
                                      "run's settings and data",
                                      ckpt_path, std::string(key).substr(5), integer(key), now));
    if (meta("vaec.seed") != std::to_string(o.seed))
      throw train_error(fmt::format("{}: the run was trained with seed {}, this command has {}; resume with the "
                                    "run's seed",
                                    ckpt_path, meta("vaec.seed"), o.seed));
    // Data-parallel runs draw per example and sum in an order set by the ranks' count:
    // their numbers continue exactly only with the same count.
    const auto ranks_it = ck.metadata.find("vaec.data_parallel_ranks");
    const std::string trained_on = ranks_it == ck.metadata.end() ? "one process (without mpirun)"
                                                                 : fmt::format("{} MPI ranks", ranks_it->second);
    const std::string now_on = dp.on ? fmt::format("{} MPI ranks", dp.ranks) : "one process (without mpirun)";
    if (trained_on != now_on)
      throw on_every_rank(train_error(fmt::format(
          "{}: the run was trained on {}, and this command runs on {}; resume it as it was trained ({}), so that it "
          "continues exactly",
          ckpt_path, trained_on, now_on,
          ranks_it == ck.metadata.end()
              ? fmt::format("{} --resume --out {}, without mpirun", shell_word(command_name()), shell_word(files.dir))
              : fmt::format("mpirun -np {} {} --resume --out {}", ranks_it->second, shell_word(command_name()),
                            shell_word(files.dir)))));
    if (integer("vaec.epoch") < 0 || integer("vaec.epoch") > o.epochs || integer("vaec.step_in_epoch") < 0 ||
        integer("vaec.adam_t") < 0)
      throw checkpoint_error(fmt::format("{}: the run's position (epoch {}, step {}, Adam step {}) does not fit this "
                                         "run of {} epochs; the checkpoint was changed by hand",
                                         ckpt_path, integer("vaec.epoch"), integer("vaec.step_in_epoch"),
                                         integer("vaec.adam_t"), o.epochs));
    start_epoch = static_cast<int>(integer("vaec.epoch"));
    start_step = static_cast<std::size_t>(integer("vaec.step_in_epoch"));
    opt.t = integer("vaec.adam_t");
    acc = accumulators::decode(meta("vaec.accumulators"), L);
    // The checkpoint holds the epoch's sums over every rank (sum_accumulators): rank 0 carries them.
    if (!writer) {
      acc = accumulators{};
      acc.kl_latent.assign(L, 0.0);
    }
    best_valid = std::strtod(meta("vaec.best_valid").c_str(), nullptr);
    since_best = static_cast<int>(integer("vaec.since_best"));
    result.best_epoch = static_cast<int>(integer("vaec.best_epoch"));
    if (start_epoch < 0 || start_step >= steps_per_epoch || opt.t < 0)
      throw checkpoint_error(fmt::format("{}: the run's position (epoch {}, step {}) does not fit this run", ckpt_path,
                                         start_epoch, start_step));
    // Adam takes one step per training step, so its count is the run's position in steps.
    const long long position = static_cast<long long>(start_epoch) * static_cast<long long>(steps_per_epoch) +
                               static_cast<long long>(start_step);
    if (opt.t != position)
      throw checkpoint_error(fmt::format("{}: the run's position (epoch {}, step {}: {} steps of {} an epoch) and "
                                         "Adam's step count ({}) disagree; the checkpoint was changed by hand",
                                         ckpt_path, start_epoch, start_step, position, steps_per_epoch, opt.t));
    // metrics.csv and timing.csv keep exactly the completed epochs' rows, as they were
    // written (a run killed after writing a row but before its checkpoint wrote one more).
    result.epochs = read_metrics(metrics_path.string(), L);
    if (result.epochs.size() < static_cast<std::size_t>(start_epoch))
      throw checkpoint_error(fmt::format("{}: the checkpoint is at the end of epoch {}, but {} holds {} epochs' rows; "
                                         "the run folder was changed by hand",
                                         ckpt_path, start_epoch, metrics_path.string(), result.epochs.size()));
    result.epochs.resize(static_cast<std::size_t>(start_epoch));
    metrics_rows = first_rows(metrics_path, static_cast<std::size_t>(start_epoch));
    timing_rows = first_rows(timing_path, static_cast<std::size_t>(start_epoch));
    last_checkpoint_at_epoch_end = start_step == 0;
    last_checkpoint = start_step == 0 ? fmt::format("end of epoch {}", start_epoch)
                                      : fmt::format("epoch {}, step {}", start_epoch + 1, start_step);
    if (start_epoch > o.epochs || (start_epoch == o.epochs && start_step > 0))
      throw checkpoint_error(fmt::format("{}: the checkpoint is at epoch {}, past the run's {} epochs; run.json was "
                                         "changed by hand",
                                         ckpt_path, start_epoch, o.epochs));
    if (start_epoch == o.epochs)
      log << fmt::format("the run is complete: {} of {} epochs; nothing to train\n", start_epoch, o.epochs);
    else
      log << fmt::format("resuming at epoch {}, step {} of {}\n", start_epoch + 1, start_step, steps_per_epoch);
  }
  const bool iwae = g.objective_node() >= 0 && g.nodes()[static_cast<std::size_t>(g.objective_node())].objective.iwae;
  const std::string metrics_header = csv_header(b.latent_names, iwae);
  const std::string timing_header = "epoch,seconds,examples_per_second\n";
  if (writer) {
    write_file_atomically(metrics_path, metrics_header + metrics_rows);
    write_file_atomically(timing_path, timing_header + timing_rows);
  }

  // A Ctrl-C that came while the run was being set up (after install_interrupt_handler)
  // stops it after its first step; the flag is cleared when train returns, for the next
  // run in the same process (tests).
  struct clear_interrupt_on_return {
    ~clear_interrupt_on_return() { interrupted.store(false); }
  } clear_interrupt;
  const bool tty = o.progress;
  // What a stop keeps, for its message.
  auto kept_text = [&] {
    return last_checkpoint.empty()
               ? fmt::format("no checkpoint was written (the run stopped before its first one), so {} "
                             "holds no parameters to resume from",
                             files.dir)
               : last_checkpoint_at_epoch_end
                   ? fmt::format("the last good checkpoint ({}) is kept in {}", last_checkpoint, ckpt_path)
                   : fmt::format("the last checkpoint ({}, written at an interruption) is kept in {}",
                                 last_checkpoint, ckpt_path);
  };
  // Data-parallel: a Ctrl-C (mpirun passes SIGTERM to every rank, each at its own moment)
  // stops every rank after the same step.
  auto agree_on_interrupt = [&] {
    if (dp.on) interrupted.store(mpi::max_over_ranks(interrupted.load() ? 1 : 0) != 0);
  };
  // Data-parallel: the epoch's sums over every rank's shards (the time is rank 0's).
  auto sum_accumulators = [&] {
    if (!dp.on) return;
    std::vector<double> v = {acc.elbo, acc.recon, acc.kl, acc.iw, acc.examples};
    v.insert(v.end(), acc.kl_latent.begin(), acc.kl_latent.end());
    mpi::sum_in_place(v.data(), v.size());
    acc.elbo = v[0], acc.recon = v[1], acc.kl = v[2], acc.iw = v[3], acc.examples = v[4];
    std::copy(v.begin() + 5, v.end(), acc.kl_latent.begin());
  };
  // VAEC_CHECK_RANKS=1 (data-parallel): after every step, that every rank holds the same
  // parameters, bit for bit (a 64-bit FNV-1a hash of their bytes, its least and greatest
  // value over the ranks).
  const char* check_env = std::getenv("VAEC_CHECK_RANKS");
  const bool check_ranks = dp.on && check_env && std::string(check_env) == "1";
  std::int64_t checked_steps = 0;
  auto check_same_parameters = [&](std::uint64_t global) {
    std::uint64_t h = 0xCBF29CE484222325ULL;
    const auto* bytes = reinterpret_cast<const unsigned char*>(params.values.data());
    for (std::size_t i = 0, n = params.values.size() * sizeof(float); i < n; ++i) h = (h ^ bytes[i]) * 0x100000001B3ULL;
    const auto v = static_cast<std::int64_t>(h >> 1);
    if (mpi::max_over_ranks(v) != -mpi::max_over_ranks(-v))
      throw on_every_rank(train_error(fmt::format("rank check: after step {} the ranks' parameters differ (data-parallel "
                                                  "training must keep them identical); this is a bug in vaec",
                                                  global + 1)));
    ++checked_steps;
  };
  for (int epoch = start_epoch; epoch < o.epochs; ++epoch) {
    const auto perm = permutation(train_set->count, o.seed, stream::shuffle, static_cast<std::uint64_t>(epoch));
    auto last_draw = clock_type::now();
    auto t0 = clock_type::now();
    for (std::size_t step = start_step; step < steps_per_epoch; ++step) {
      const std::uint64_t global = static_cast<std::uint64_t>(epoch) * steps_per_epoch + step;
      const std::size_t from = step * static_cast<std::size_t>(B);
      const int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(B), train_set->count - from));
      // This rank's part of the batch: all of it in one process; a shard when data-parallel
      // (possibly empty: a remainder smaller than the ranks' count).
      const data_parallel::shard sh = dp.on ? dp.of(static_cast<std::size_t>(n)) : data_parallel::shard{0, static_cast<std::size_t>(n)};
      const int m = static_cast<int>(sh.count);
      plan<float>& p = train_plans->for_size(m > 0 ? m : train_plans->full->batch());
      if (m > 0) {
        // Every example's draws (its binarization, its latents' noise) come from a stream
        // keyed by its position in the global batch, so that one process and any number of
        // data-parallel ranks draw the same numbers for it.
        if (o.binarize_mode == binarize::dynamic) {
          gather_binarized_per_example(*train_set, perm, from + sh.from, m, p.input(b.data), o.seed, global, sh.from);
        } else {
          gather(*train_set, perm, from + sh.from, m, p.input(b.data));
        }
        double progress = epoch + static_cast<double>(step) / static_cast<double>(steps_per_epoch);
        p.settings().beta = kl_weight(o, progress, false);
        p.settings().free_bits = o.free_bits;
        p.settings().example_noise = {true, o.seed, global, stream::noise, sh.from};
        rng noise(o.seed, stream::noise, global);
        p.forward(noise);
      }
      const objective_result& r = p.result();
      // Data-parallel: whether any rank's loss is not finite, agreed before anyone goes on
      // (the lowest failing rank's message is every rank's).
      std::int64_t failing_rank = 0;  // 1 + the rank, 0: none
      if (dp.on) {
        failing_rank = mpi::max_over_ranks(m > 0 && !r.finite ? dp.ranks - dp.rank : 0);
        if (failing_rank > 0) failing_rank = dp.ranks - failing_rank + 1;
      }
      if ((m > 0 && !r.finite) || failing_rank > 0) {
        // Advice that fits the cause: before any update (the run's first step, or the
        // first after a resume, whose parameters were finite when saved) the learning rate
        // cannot be it; the model's value at these parameters is.
        const bool before_any_update = result.steps == 0 && opt.t == 0;
        const std::string advice =
            r.cause == objective_result::cause_kind::infinite_kl ||
                    r.cause == objective_result::cause_kind::sample_overflow
                ? r.reason + "; no learning rate helps: the model must change"
            : before_any_update
                ? "The model's value is not finite at its initial parameters, so the learning rate is not the cause: "
                  "check that every scale, concentration and df stays finite and positive over its inputs (e.g. "
                  "softplus(...) + 1e-4), and that the data fit the likelihood"
                : "The parameters diverged: try a smaller learning rate (--lr), or bound scales and concentrations "
                  "away from 0 (e.g. softplus(...) + 1e-4)";
        // The examples of this step whose own ELBO is not finite, named by their row in the
        // training data: one example unlike the rest (an outlier, a corrupt row) is a fault
        // of the data, not of the learning rate.
        std::string examples, outlier_advice;
        if (m > 0 && !r.finite) {
          const std::vector<double>& each = p.per_example();
          std::int64_t bad = 0, first_row = -1;
          for (int j = 0; j < m; ++j) {
            if (std::isfinite(each[static_cast<std::size_t>(j)]) || bad++ > 0) continue;
            const std::uint32_t k = perm[from + sh.from + static_cast<std::size_t>(j)];
            first_row = training_row(k);
          }
          if (bad > 0)
            examples = fmt::format(" {} of this step's {} examples {} a non-finite ELBO{} the training data's example {} "
                                   "(counting from 0).",
                                   bad, m, bad == 1 ? "has" : "have", bad == 1 ? ":" : ", the first being", first_row);
          if (bad > 0 && bad < m &&
              r.cause != objective_result::cause_kind::infinite_kl && r.cause != objective_result::cause_kind::sample_overflow)
            outlier_advice = fmt::format("If {} unlike the rest of the data (an outlier, a corrupt row), remove {} from "
                                         "the data; otherwise: ",
                                         bad == 1 ? "it is" : "they are", bad == 1 ? "it" : "them");
        }
        std::string what =
            m > 0 && !r.finite
                ? fmt::format("training stopped at epoch {}, step {} (step {} overall): {} became {}; {}.{} {}{}",
                              epoch + 1, step + 1, global + 1, r.nonfinite_term,
                              std::isnan(r.recon) || std::isnan(r.loss) ? "NaN" : "infinite", kept_text(), examples,
                              outlier_advice,
                              outlier_advice.empty() ? advice
                                                     : static_cast<char>(std::tolower(static_cast<unsigned char>(advice[0]))) +
                                                           advice.substr(1))
                : std::string();
        if (dp.on) what = mpi::broadcast(what, static_cast<int>(failing_rank - 1));
        throw on_every_rank(train_error(what, true));
      }
      if (m > 0) {
        p.backward();
      } else {
        std::fill(params.grads.begin(), params.grads.end(), 0.0f);
      }
      if (dp.on) {
        // Each rank's gradient is the mean over its m examples: weighted by m/n, the sum
        // over the ranks is the mean over the whole batch's n.
        const float weight = static_cast<float>(static_cast<double>(m) / static_cast<double>(n));
        if (m > 0 && m != n) for (float& v : params.grads) v *= weight;
        mpi::sum_in_place(params.grads.data(), params.grads.size());
      }
      // A gradient that is not finite turns the parameters into NaN at this update, and the
      // next step would blame a divergence; an update that overflows float (a gradient
      // above about 5.8e20, whose (1 − β2)·g² makes Adam's v +∞ and freezes the parameter,
      // or a step beyond 3.4e38) leaves a run that looks finished but is broken. Adam
      // checks both on its way (runtime/optim.hpp): stop here, discarding the update,
      // naming the parameter nearest the objective, where the overflow began, and the cause
      // (a Student-t draw too large for float32, when there is one). Nothing of this step
      // is saved; the last checkpoint is what remains.
      const bool before_any_update = result.steps == 0 && opt.t == 0;
      const auto status = opt.step(params.values.data(), params.grads.data());
      if (status != adam<float>::status::ok) {
        const auto slice = [&](const aligned_vector<float>& v, int pi) {
          const param_info& info = g.params()[static_cast<std::size_t>(pi)];
          return std::span<const float>(v.data() + info.offset, info.storage());  // padding is 0
        };
        const auto finite = [](std::span<const float> v) { return all_finite(v.data(), v.size()); };
        const std::string overflow = m > 0 ? p.overflowed_draws() : std::string();
        std::string what, advice;
        if (status == adam<float>::status::gradient_not_finite) {
          const std::string name =
              quoted_name(g, nearest_the_objective(g, [&](int pi) { return !finite(slice(params.grads, pi)); }));
          // The whole batch's objective: data-parallel, each rank's is the mean over its m
          // examples (every rank is here: the summed gradient, and so Adam's status, is the
          // same on all of them).
          double loss = r.loss;
          if (dp.on) {
            loss = m > 0 ? r.loss * static_cast<double>(m) / static_cast<double>(n) : 0.0;
            mpi::sum_in_place(&loss, 1);
          }
          what = fmt::format("the gradient of {} is not finite (the objective was finite: {:.6g})", name, loss);
          advice = !overflow.empty() ? overflow + "; no learning rate helps: the model must change"
                   : before_any_update
                       ? "The gradient is not finite at the initial parameters, so the learning rate is not the cause: "
                         "a function is evaluated where its derivative is infinite (sqrt or log at 0, a scale or "
                         "concentration of 0: keep its input away from there, e.g. sqrt(x + 1e-8), "
                         "softplus(...) + 1e-4), or a value overflows float32 at these data (data far from unit "
                         "scale: standardize them)"
                       : "Either a function is evaluated where its derivative is infinite (sqrt or log at 0, a scale "
                         "or concentration of 0: keep its input away from there, e.g. sqrt(x + 1e-8), "
                         "softplus(...) + 1e-4), or a value in the backward pass overflowed (try a smaller learning "
                         "rate, --lr)";
        } else {
          // Which value left float's range: Adam's moments (from the gradient's size) or
          // the parameter itself (from the step's).
          const auto moments_bad = [&](int pi) { return !finite(slice(opt.m, pi)) || !finite(slice(opt.v, pi)); };
          const int moments = nearest_the_objective(g, moments_bad);
          if (moments >= 0) {
            float largest = 0;
            for (float v : slice(params.grads, moments)) largest = std::max(largest, std::abs(v));
            what = fmt::format("the gradient of {} is finite but as large as {:.3g}, and Adam's second moment "
                               "of it, (1 − β2)·g², exceeds float32's largest value (3.4e38), which would stop that "
                               "parameter from moving",
                               quoted_name(g, moments), largest);
            advice = !overflow.empty() ? overflow + "; no learning rate helps: the model must change"
                     : before_any_update
                         ? "This is the gradient at the initial parameters, so the learning rate is not the cause: "
                           "the data or the model make it this large (data far from unit scale: standardize them; "
                           "bound scales, concentrations and df away from 0 and infinity, e.g. softplus(...) + 1e-4)"
                         : "A value in the backward pass is far too large: bound scales, concentrations and df away "
                           "from 0 and infinity (e.g. softplus(...) + 1e-4), or try a smaller learning rate (--lr)";
          } else {
            const int name = nearest_the_objective(g, [&](int pi) { return !finite(slice(params.values, pi)); });
            bool nan = false;
            if (name >= 0)
              for (float v : slice(params.values, name)) nan = nan || std::isnan(v);
            what = nan ? fmt::format("this step made {} NaN", quoted_name(g, name))
                       : fmt::format("this step took {} beyond float32's range (3.4e38)", quoted_name(g, name));
            advice = fmt::format("The learning rate ({:g}) is far too large: try a smaller one (--lr)", o.adam.lr);
          }
        }
        // One example far below the others' ELBO (an extreme but finite value in the data, such
        // as 1e15 among values near 1) makes gradients like these: name it before the model.
        std::string outlier;
        if (m > 1 && !dp.on && overflow.empty()) {
          const std::vector<double>& each = p.per_example();
          std::vector<double> sorted(each.begin(), each.begin() + m);
          std::sort(sorted.begin(), sorted.end());
          const double worst = sorted.front(), median = sorted[sorted.size() / 2];
          if (std::isfinite(worst) && std::isfinite(median) && worst < median - 1000.0 * (std::abs(median) + 1.0)) {
            const auto j = static_cast<std::size_t>(std::find(each.begin(), each.begin() + m, worst) - each.begin());
            const std::uint32_t k = perm[from + j];
            outlier = fmt::format(
                " This step's lowest ELBO, {:.3g}, is the training data's example {} (counting from 0), against a median "
                "of {:.3g} over its {} examples: if that example is unlike the rest of the data (an outlier, a corrupt "
                "row), remove it from the data.",
                worst, training_row(k), median, m);
          }
        }
        throw on_every_rank(train_error(fmt::format("training stopped at epoch {}, step {} (step {} overall): {}; "
                                                    "this step's update is discarded; {}.{} {}",
                                                    epoch + 1, step + 1, global + 1, what, kept_text(), outlier, advice),
                                        true));
      }
      if (m > 0) {
        acc.elbo += r.elbo * m;
        acc.recon += r.recon * m;
        acc.iw += r.iwae * m;
        for (std::size_t j = 0; j < L; ++j) {
          acc.kl += r.kl[j] * m;
          acc.kl_latent[j] += r.kl[j] * m;
        }
        acc.examples += m;
      }
      ++result.steps;
      if (check_ranks) check_same_parameters(global);
      if (tty && seconds_since(last_draw) > 0.2) {
        last_draw = clock_type::now();
        const double frac = static_cast<double>(step + 1) / static_cast<double>(steps_per_epoch);
        const int filled = static_cast<int>(frac * 30);
        const double rate = (acc.examples) / std::max(1e-9, acc.seconds + seconds_since(t0));
        std::fprintf(stderr, "\r  epoch %d/%d [%s%s] %3d%%  ELBO %.2f  %s ex/s ", epoch + 1, o.epochs,
                     std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(30 - filled), '.').c_str(), static_cast<int>(frac * 100),
                     acc.elbo / acc.examples, group_digits(rate).c_str());
        std::fflush(stderr);
      }
      if (o.interrupt_after >= 0 && result.steps >= o.interrupt_after) interrupted.store(true);
      agree_on_interrupt();
      if (interrupted.load() && step + 1 < steps_per_epoch) {
        acc.seconds += seconds_since(t0);
        sum_accumulators();
        write_ckpt(epoch, step + 1, ckpt_path);
        if (tty) std::fprintf(stderr, "\r\033[K");  // erase the whole bar, however long
        // Flushed now: a second Ctrl-C while the pictures are drawn ends the process at once.
        log << fmt::format("interrupted at epoch {}, step {} of {}: checkpoint written to {}\n", epoch + 1, step + 1,
                           steps_per_epoch, ckpt_path)
            << std::flush;
        result.interrupted = true;
        return result;
      }
    }
    acc.seconds += seconds_since(t0);
    if (tty) std::fprintf(stderr, "\r\033[K");
    sum_accumulators();

    epoch_metrics m;
    m.epoch = epoch + 1;
    m.train_elbo = acc.elbo / acc.examples;
    m.train_recon = acc.recon / acc.examples;
    m.train_kl = acc.kl / acc.examples;
    for (double k : acc.kl_latent) m.train_kl_latent.push_back(k / acc.examples);
    m.seconds = acc.seconds;
    m.examples_per_second = acc.examples / std::max(1e-9, acc.seconds);
    m.beta = kl_weight(o, epoch + 1, true);
    if (iwae) m.train_iw = acc.iw / acc.examples;
    std::optional<eval_figures> test_figures, valid_figures;
    if (test_set) {
      test_figures = evaluate_elbo(test_plans.get(), b.data, *test_set, o.seed, static_cast<std::uint64_t>(epoch), dp);
      m.test_elbo = test_figures->elbo;
      m.test_recon = test_figures->recon;
      m.test_kl = test_figures->kl;
      if (iwae) m.test_iw = test_figures->iw;
    }
    if (valid_set) {
      valid_figures = evaluate_elbo(valid_plans.get(), b.data, *valid_set, o.seed,
                                    (1ULL << 32) + static_cast<std::uint64_t>(epoch), dp);
      m.valid_elbo = valid_figures->elbo;
    }
    // Parameters whose test or validation ELBO is not finite have diverged (on examples
    // the steps did not see), or met an example unlike the training data: no row and no
    // checkpoint for them; the last good one stays. The message names the examples.
    for (const auto& [split, figures] : {std::pair{"test", &test_figures}, std::pair{"validation", &valid_figures}}) {
      if (!*figures || std::isfinite((*figures)->elbo)) continue;
      const eval_figures& f = **figures;
      const bool validation = std::string_view(split) == "validation";
      const std::size_t total = validation ? valid_set->count : test_set->count;
      std::string examples, advice;
      if (f.nonfinite > 0) {
        // A validation example's row in the training data: the split is a permutation's tail.
        const std::int64_t row =
            validation ? static_cast<std::int64_t>(valid_rows[static_cast<std::size_t>(f.first_nonfinite)])
                       : f.first_nonfinite;
        examples = fmt::format(" {} of the {} {} examples {} a non-finite ELBO{} {}'s example {} (counting from 0{}).",
                               group_digits(static_cast<double>(f.nonfinite)), group_digits(static_cast<double>(total)),
                               split, f.nonfinite == 1 ? "has" : "have", f.nonfinite == 1 ? ":" : ", the first being",
                               validation ? "the training data" : "the test data", row,
                               validation ? ", held out by early stopping for validation" : "");
        advice = fmt::format(
            " If {} unlike the training data (an outlier, a corrupt row), remove {} from the data; otherwise the "
            "parameters diverged",
            f.nonfinite == 1 ? "it is" : "they are", f.nonfinite == 1 ? "it" : "them");
      } else {
        advice = " The parameters diverged";
      }
      throw on_every_rank(train_error(
          fmt::format("training stopped after epoch {}: the {} ELBO is {} at the parameters this epoch reached (the "
                      "training ELBO was {:.6g}), so they are not kept; {}.{}{}: try a smaller "
                      "learning rate (--lr), or bound scales, concentrations and df away from 0 and infinity (e.g. "
                      "softplus(...) + 1e-4)",
                      epoch + 1, split, std::isnan(f.elbo) ? "NaN" : "infinite", m.train_elbo, kept_text(), examples,
                      advice),
          true));
    }
    result.epochs.push_back(m);
    // The rows first, then the checkpoint: a run killed between the two resumes from the
    // previous checkpoint and drops the extra row.
    metrics_rows += csv_row(m);
    timing_rows += fmt::format("{},{:.3f},{:.1f}\n", m.epoch, m.seconds, m.examples_per_second);
    if (writer) {
      write_file_atomically(metrics_path, metrics_header + metrics_rows);
      write_file_atomically(timing_path, timing_header + timing_rows);
    }
    std::string line = fmt::format("epoch {:>3}/{}  train ELBO {:9.3f}  recon {:9.3f}  KL {:8.3f}", m.epoch, o.epochs,
                                   m.train_elbo, m.train_recon, m.train_kl);
    if (m.test_elbo) line += fmt::format("  test ELBO {:9.3f}", *m.test_elbo);
    if (m.train_iw) line += fmt::format("  train IW bound (K={}) {:9.3f}", o.samples, *m.train_iw);
    if (m.valid_elbo) line += fmt::format("  valid ELBO {:9.3f}", *m.valid_elbo);
    line += fmt::format("  {:>7} ex/s  {:.1f} s", group_digits(m.examples_per_second), m.seconds);
    log << line << "\n" << std::flush;

    if (valid_set) {
      if (*m.valid_elbo > best_valid) {
        best_valid = *m.valid_elbo;
        since_best = 0;
        result.best_epoch = m.epoch;
      } else {
        ++since_best;
      }
    } else {
      result.best_epoch = m.epoch;
    }
    acc = accumulators{};
    acc.kl_latent.assign(L, 0.0);
    start_step = 0;
    if (valid_set && since_best == 0) write_ckpt(epoch + 1, 0, best_path);
    write_ckpt(epoch + 1, 0, ckpt_path);
    last_checkpoint = fmt::format("end of epoch {}", epoch + 1);
    last_checkpoint_at_epoch_end = true;
    if (files.on_epoch && writer) files.on_epoch(result, params.values);
    if (o.early_stopping > 0 && since_best >= o.early_stopping) {
      log << fmt::format("early stopping: no better validation ELBO for {} epoch{} (best: epoch {})\n", since_best,
                         since_best == 1 ? "" : "s", result.best_epoch);
      result.early_stopped = true;
      break;
    }
    agree_on_interrupt();
    if (interrupted.load()) {
      log << fmt::format("interrupted after epoch {}: checkpoint written to {}\n", epoch + 1, ckpt_path) << std::flush;
      result.interrupted = true;
      return result;
    }
  }
  if (check_ranks)
    log << fmt::format("rank check: the parameters were identical on all {} ranks after each of {} steps\n", dp.ranks,
                       checked_steps);
  return result;
}

mean_and_error mean_and_standard_error(std::span<const double> values) {
  mean_and_error r;
  if (values.empty()) return r;
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / n;
  if (!std::isfinite(r.mean) || values.size() < 2) return r;
  // Two passes: the squares of the deviations, not the difference of two large sums.
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.sd = std::sqrt(ss / (n - 1));
  r.standard_error = r.sd / std::sqrt(n);
  return r;
}

eval_result evaluate(const model_binding& eb, const model_binding& ib, std::span<const float> values,
                     const dataset& d, int k, std::uint64_t seed, int threads,
                     const std::function<void(std::size_t, std::size_t)>& progress) {
  check_fits(eb, d);
  set_threads(threads);
  set_flush_denormals();
  eval_result out;
  out.k = k;
  out.examples = d.count;
  {
    parameters<float> params(*eb.g);
    params.values.assign(values.begin(), values.end());
    plans ps(*eb.g, params, std::min<int>(500, static_cast<int>(d.count)), 1, d.count, false);
    auto f = evaluate_elbo(&ps, eb.data, d, seed, 0);
    out.elbo = f.elbo;
    out.recon = f.recon;
    out.kl = f.kl;
    out.kl_latent = f.kl_latent;
  }
  // IWAE with K samples. A plan holds about 16,384 columns: several examples with all
  // their samples, or, when K is larger, one example and K in chunks. Chunks combine
  // exactly: with m_c = log Σ_{s ∈ chunk c} w_s, log (1/K) Σ_s w_s = log Σ_c e^{m_c} − log K.
  constexpr int columns = 16384;
  parameters<float> params(*ib.g);
  params.values.assign(values.begin(), values.end());
  const int chunk = std::min(k, columns);
  const int per = std::max(1, std::min<int>(static_cast<int>(d.count), columns / chunk));
  const int last_chunk = k % chunk;
  plans ps(*ib.g, params, per, chunk, d.count, false);
  std::unique_ptr<plans> tail_chunk;
  if (last_chunk > 0) tail_chunk = std::make_unique<plans>(*ib.g, params, per, last_chunk, d.count, false);
  std::vector<std::uint32_t> all(d.count);
  std::iota(all.begin(), all.end(), 0u);
  std::vector<double> log_sum(static_cast<std::size_t>(per));
  out.per_example.reserve(d.count);
  std::uint64_t batch_index = 0;
  for (std::size_t from = 0; from < d.count; from += static_cast<std::size_t>(per)) {
    const int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(per), d.count - from));
    std::fill(log_sum.begin(), log_sum.end(), -INFINITY);
    for (int done = 0; done < k;) {
      const int s = std::min(chunk, k - done);
      plan<float>& p = (s == chunk ? ps : *tail_chunk).for_size(n);
      gather(d, all, from, n, p.input(ib.data));
      rng noise(seed, stream::eval, (1ULL << 40) + batch_index++);
      p.forward(noise);
      for (int i = 0; i < n; ++i) {
        // per_example = log (1/s) Σ w  →  log Σ w = per_example + log s
        const double m = p.per_example()[static_cast<std::size_t>(i)] + std::log(static_cast<double>(s));
        double& acc = log_sum[static_cast<std::size_t>(i)];
        const double hi = std::max(acc, m);
        acc = hi + std::log(std::exp(acc - hi) + std::exp(m - hi));
      }
      done += s;
    }
    for (int i = 0; i < n; ++i)
      out.per_example.push_back(log_sum[static_cast<std::size_t>(i)] - std::log(static_cast<double>(k)));
    if (progress) progress(from + static_cast<std::size_t>(n), d.count);
  }
  const mean_and_error m = mean_and_standard_error(out.per_example);
  out.iw_loglik = m.mean;
  out.iw_stderr = m.standard_error;
  return out;
}

}  // namespace vaec::rt
