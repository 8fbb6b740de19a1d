// vaec: the command line. Each verb is a straight line: read → parse → check → lower →
// plan → train (or evaluate); argument parsing and output only.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "experiments/compare.hpp"
#include "experiments/distributed.hpp"
#include "experiments/plots.hpp"
#include "lang/builtins.hpp"
#include "lang/check.hpp"
#include "lang/diagnostic.hpp"
#include "lang/lower.hpp"
#include "lang/parse.hpp"
#include "lang/report.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/data/dataset.hpp"
#include "figures/aggregate_prior.hpp"
#include "figures/figures.hpp"
#include "report/pictures.hpp"
#include "runtime/decode.hpp"
#include "runtime/plan.hpp"
#include "runtime/posterior_stats.hpp"
#include "runtime/digest.hpp"
#include "runtime/mpi.hpp"
#include "runtime/run_folder.hpp"
#include "runtime/train.hpp"

namespace {

namespace fs = std::filesystem;

// Exit statuses.
constexpr int exit_ok = 0;
constexpr int exit_error = 1;        // a problem in the user's input or a failed run
constexpr int exit_usage = 2;        // a malformed command line
// (an interrupted command exits with vaec::rt::interrupted_exit_code(): 130 for SIGINT, 143 for SIGTERM)

// The data a --data names, read (runtime/data/dataset.hpp), with a note on stderr when the
// name fashion-mnist, which means the installed data set, is also a folder here: a user may
// have meant that folder (./fashion-mnist reaches it). Throws data_error as load_data.
vaec::rt::data_splits load_data_noting(const std::string& data) {
  std::error_code ec;
  if (data == "fashion-mnist" && fs::exists(data, ec))
    fmt::print(stderr, "vaec: note: --data fashion-mnist names the data set installed in {}, not the {} '{}' here; "
                       "for that one, write --data ./fashion-mnist\n",
               vaec::rt::fashion_mnist_dir, fs::is_directory(data, ec) ? "folder" : "file",
               (fs::current_path(ec) / data).string());
  return vaec::rt::load_data(data);
}

// A run folder's summary.json as a JSON object; nothing when it is missing or is not one (a
// run that died before writing it, a file changed by hand).
std::optional<nlohmann::json> read_summary(const vaec::rt::run_folder& folder) {
  if (const auto text = folder.read("summary.json")) {
    auto parsed = nlohmann::json::parse(*text, nullptr, false);
    if (parsed.is_object()) return parsed;
  }
  return std::nullopt;
}

struct loaded {
  std::string text;  // the exact source
  vaec::checked_model model;
};

// What load_model does with the model's AggregatePosterior priors (figures/aggregate_prior.hpp).
struct prior_sources_use {
  enum class mode {
    none,    // leave them unresolved (a source run's own model: only its encoder is run)
    check,   // vaec check: resolve them; a source that does not exist yet is a warning
    start,   // a new run (and vaec graph): resolve them against the working directory
    reopen,  // --resume, vaec eval, vaec sample: from the recorded paths, the hashes verified
  } how = mode::none;
  std::optional<std::uint64_t> seed;  // the run's seed (default: the model's train block)
  const std::vector<vaec::rt::prior_source>* recorded = nullptr;  // reopen: run.json's sources
};

// Reads, parses and checks one model file with the command line's `--set NAME=VALUE`
// settings, and resolves its AggregatePosterior priors as `sources` says; prints diagnostics
// (the file's and the settings') to stderr.
std::optional<loaded> load_model(const std::string& path, const std::vector<std::string>& sets = {},
                                 const prior_sources_use& sources = {}) {
  std::string why;
  auto src = vaec::source::read_file(path, why);
  if (!src) {
    fmt::print(stderr, "{}: error: cannot read the model file: {}\n", path, why);
    return std::nullopt;
  }
  vaec::diagnostics diags(*src);
  const vaec::source command_line = vaec::command_line_source(sets);
  const auto base = static_cast<std::uint32_t>(src->text().size() + 1);
  diags.set_command_line(command_line, base);
  std::optional<vaec::checked_model> model;
  auto settings = vaec::parse_settings(command_line, base, diags);
  if (settings) {
    if (auto ast = vaec::parse(*src, diags))
      model = vaec::check(*ast, diags, fs::path(path).stem().string(), *settings);
  }
  if (model && !diags.has_errors() && sources.how != prior_sources_use::mode::none) {
    vaec::figures::aggregate_options o;
    o.seed = sources.seed.value_or(model->settings.seed);
    o.missing_is_warning = sources.how == prior_sources_use::mode::check;
    o.recorded = sources.how == prior_sources_use::mode::reopen ? sources.recorded : nullptr;
    std::error_code ec;
    o.working_directory = fs::current_path(ec);
    o.load = [](const std::string& source_path, const std::vector<std::string>& source_sets) {
      auto source = load_model(source_path, source_sets);
      return source ? std::optional<vaec::checked_model>(std::move(source->model)) : std::nullopt;
    };
    if (!vaec::figures::resolve_aggregate_priors(*model, diags, o) && sources.how == prior_sources_use::mode::reopen) {
      // A run's source changed or went missing after the run started: the run's fault, not
      // its model's (which checked when the run started), so a vaec: error naming both.
      for (const auto& d : diags.all())
        if (d.level == vaec::severity::error)
          throw vaec::rt::run_folder_error(
              d.message.find("AggregatePosterior") != std::string::npos
                  ? fmt::format("{}: {}", path, d.message)  // the message names the prior itself
                  : fmt::format("{}: AggregatePosterior: {}", path, d.message));
    }
  }
  std::string rendered = diags.render();
  if (!rendered.empty()) fmt::print(stderr, "{}", rendered);
  if (diags.has_errors() || !model) {
    std::size_t n = diags.error_count();
    fmt::print(stderr, "{} error{} in {}\n", n, n == 1 ? "" : "s", path);
    return std::nullopt;
  }
  return loaded{src->text(), std::move(*model)};
}

int run_check(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  int status = exit_ok;
  bool first = true;
  for (const auto& file : files) {
    if (!first) fmt::print("\n");
    first = false;
    auto m = load_model(file, sets, {prior_sources_use::mode::check, std::nullopt, nullptr});
    if (!m) {
      status = exit_error;
      continue;
    }
    fmt::print("{}", vaec::describe(m->model));
  }
  std::fflush(stdout);
  return status;
}

int run_graph(const std::string& file, const std::vector<std::string>& sets, bool dot) {
  auto m = load_model(file, sets, {prior_sources_use::mode::start, std::nullopt, nullptr});
  if (!m) return exit_error;
  vaec::lowered_model low = vaec::lower(m->model);
  fmt::print("{}", dot ? low.graph.to_dot() : low.graph.to_text());
  return exit_ok;
}

// The machine's cores (2 here): more threads than cores only make OpenMP's barriers wait.
int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }


struct train_cli {
  std::string model;
  std::string data;
  std::optional<int> epochs, batch, samples, threads;
  std::optional<double> lr;
  std::optional<std::string> seed;  // checked by parse_seed: CLI11 would wrap −1 around
  std::vector<std::string> sets;    // --set NAME=VALUE, as given
  std::string out;
  bool out_given = false;
  bool resume = false;
};

// A problem with the command line: exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Data-parallel training (mpirun -np N, N > 1): the ranks meet twice while a run starts —
// after each has read the model and the data, and after rank 0 has made or opened the run
// folder — and learn there whether every rank got that far. An error at the start is then
// printed once, by rank 0 (the lowest failing rank's message), and every rank ends with its
// status without MPI_Abort; and a rank that read other data than rank 0 is found before the
// first step (whose collectives would otherwise disagree in size). Until the second meeting
// the ranks other than 0 write nothing to stderr (they would repeat rank 0's messages).
struct startup_agreement {
  bool on = false;    // data-parallel training with more than one rank
  bool done = false;  // both meetings passed: errors from here on take the training's own way
  int saved_stderr = -1;
  struct failed {     // thrown on every rank when a meeting found an error (rank 0 printed it)
    int code;
  };
  // Rank ≠ 0: stderr to /dev/null until restore().
  void quiet_other_ranks() {
    if (vaec::rt::mpi::rank() == 0) return;
    std::fflush(stderr);
    saved_stderr = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, 2);
      ::close(null);
    }
  }
  void restore() {
    if (saved_stderr < 0) return;
    std::fflush(stderr);
    ::dup2(saved_stderr, 2);
    ::close(saved_stderr);
    saved_stderr = -1;
  }
  // Every rank calls it at the same point, with its word (`ok`: e.g. a fingerprint) or its
  // error (`code`, `text`; an empty text: the rank printed its own messages, as diagnostics
  // of the model). Returns every rank's word, in rank order; throws failed on every rank when
  // any rank failed, after rank 0 printed the lowest failing rank's message.
  std::vector<std::string> meet(bool ok, int code, const std::string& text) {
    namespace mpi = vaec::rt::mpi;
    std::vector<std::string> all = mpi::all_gather(ok ? "1" + text : fmt::format("0{}\t{}", code, text));
    for (std::size_t r = 0; r < all.size(); ++r) {
      if (all[r].empty() || all[r][0] == '1') continue;
      const std::size_t tab = all[r].find('\t');
      const int status = std::atoi(all[r].substr(1, tab - 1).c_str());
      const std::string message = all[r].substr(tab + 1);
      if (mpi::rank() == 0) {
        if (r > 0 && message.empty())
          fmt::print(stderr, "vaec: error: rank {} of {} found errors in the model that rank 0 did not (its messages "
                             "are not shown): every rank must read the same files (on a cluster, at the same path on "
                             "every node)\n",
                     r, all.size());
        else if (r > 0)
          fmt::print(stderr, "vaec: error: on rank {} of {}: {}\n", r, all.size(), message);
        else if (!message.empty())
          fmt::print(stderr, "vaec: error: {}\n", message);
      }
      mpi::note_others_informed();
      throw failed{status};
    }
    for (auto& w : all) w.erase(0, 1);
    return all;
  }
  // The error of the exception being handled, as main would print it: (status, message).
  static std::pair<int, std::string> describe(std::exception_ptr e);
};
startup_agreement startup;

// A seed: a whole number in 0 … 2^64 − 1, in decimal. Throws usage_error.
std::uint64_t parse_seed(const std::string& s, const char* option) {
  const bool digits = !s.empty() && s.size() <= 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno == 0 && *end == '\0') return v;
  }
  throw usage_error(fmt::format("{} {}: a seed is a whole number from 0 to 18446744073709551615 (2^64 − 1)", option, s));
}

// Threads: at least 1, and at most 256 — more threads than cores only make OpenMP's
// barriers wait, and a huge count exhausts the system's thread limit.
constexpr int max_threads = 256;
void require_threads(int t, const char* verb) {
  if (t < 1) throw usage_error(fmt::format("--threads {}: {} needs at least 1 thread", t, verb));
  if (t > max_threads)
    throw usage_error(fmt::format("--threads {}: at most {} (this machine has {} core{}; more threads than cores "
                                  "only wait)",
                                  t, max_threads, default_threads(), default_threads() == 1 ? "" : "s"));
}


std::string format_double(double v) { return fmt::format("{}", v); }

// The run's effective settings: the model file's, overridden by the command line.
vaec::rt::run_record new_record(const train_cli& c, const loaded& m) {
  const vaec::train_settings& s = m.model.settings;
  vaec::rt::run_record r;
  vaec::rt::train_options& o = r.options;
  o.epochs = c.epochs.value_or(s.epochs);
  o.batch = c.batch.value_or(s.batch);
  o.samples = c.samples.value_or(s.samples);
  o.adam = {c.lr.value_or(s.lr), s.beta1, s.beta2, s.eps};
  o.beta = s.beta;
  o.kl_warmup = s.kl_warmup;
  o.kl_cycle = s.kl_cycle;
  o.free_bits = s.free_bits;
  o.binarize_mode = s.binarize == vaec::binarize_mode::none      ? vaec::rt::binarize::none
                    : s.binarize == vaec::binarize_mode::dynamic ? vaec::rt::binarize::dynamic
                                                                 : vaec::rt::binarize::fixed;
  o.seed = c.seed ? parse_seed(*c.seed, "--seed") : s.seed;
  o.early_stopping = s.early_stopping;
  o.products = s.precision == vaec::product_precision::bf16 ? vaec::rt::precision::bf16 : vaec::rt::precision::fp32;
  if (o.products == vaec::rt::precision::bf16 && !vaec::rt::bf16_supported())
    throw usage_error(fmt::format("{}: {}", c.model, vaec::rt::bf16_unsupported_message()));
  o.threads = c.threads.value_or(default_threads());
  if (c.epochs && *c.epochs < 1) throw usage_error(fmt::format("--epochs {}: train for at least 1 epoch", *c.epochs));
  if (c.batch && *c.batch < 1) throw usage_error(fmt::format("--batch {}: a batch holds at least 1 example", *c.batch));
  if (c.samples && *c.samples < 1) throw usage_error(fmt::format("--samples {}: draw at least 1 sample", *c.samples));
  // The same bound as the model's train { } block and --set (lang/check/train_settings.cpp).
  for (const auto& [option, value] : {std::pair{"--epochs", c.epochs}, std::pair{"--batch", c.batch}, std::pair{"--samples", c.samples}})
    if (value && *value > 1000000000)
      throw usage_error(fmt::format("{} {}: at most 1,000,000,000, as in the model's train {{ }} block", option, *value));
  // A step holds batch × samples columns of every value; their count must fit an int.
  if (static_cast<long long>(o.batch) * o.samples > std::numeric_limits<int>::max())
    throw usage_error(fmt::format("batch {} × samples {} = {} columns a step, more than a step can hold "
                                  "(2,147,483,647); use a smaller --batch or fewer --samples",
                                  o.batch, o.samples, static_cast<long long>(o.batch) * o.samples));
  if (c.lr && !(std::isfinite(*c.lr) && *c.lr > 0))
    throw usage_error(fmt::format("--lr {}: the learning rate must be a finite number above 0 (e.g. 1e-3)",
                                  std::isinf(*c.lr) ? "beyond ±1.8e308 (read as infinite)"
                                  : *c.lr == 0      ? "0 (or a value too small for a double, read as 0)"
                                                    : format_double(*c.lr)));
  if (c.lr && !vaec::rt::adam_lr_usable(*c.lr))
    throw usage_error(fmt::format("--lr {}: below float32's smallest normal number (1.2e-38), which Adam's "
                                  "flush-to-zero arithmetic makes 0, so no parameter would move; use at least 1.2e-38 "
                                  "(e.g. 1e-3)",
                                  format_double(*c.lr)));
  require_threads(o.threads, "training");
  // An option and a --set of the same key would say two things.
  for (const auto& set : c.sets) {
    const std::string key = set.substr(0, set.find('='));
    auto clash = [&](const char* option, bool given) {
      if (given)
        throw usage_error(fmt::format("{} and --set {} both set {}; give one of them", option, set,
                                      std::string(option + 2) == "lr" ? "the learning rate" : key));
    };
    clash("--epochs", key == "epochs" && c.epochs);
    clash("--batch", key == "batch" && c.batch);
    clash("--samples", key == "samples" && c.samples);
    clash("--seed", key == "seed" && c.seed);
    const bool lr_is_constant = std::any_of(m.model.constants.begin(), m.model.constants.end(),
                                            [](const vaec::constant& k) { return k.name == "lr"; });
    clash("--lr", (key == "optimizer" || (key == "lr" && !lr_is_constant)) && c.lr);
  }
  r.sets = c.sets;
  r.model_name = m.model.name;
  r.model_file = c.model;
  r.model_sha256 = vaec::rt::sha256_hex(m.text);
  r.data = c.data;
  r.data_path = c.data.empty() ? "" : vaec::rt::absolute_data_path(c.data);
  r.objective = s.objective == vaec::objective_kind::iwae ? "iwae" : "elbo";
  r.kl = s.kl == vaec::kl_choice::mc ? "mc" : "best";
  r.eval_samples = s.eval_samples;
  r.version = VAEC_VERSION;
  r.prior_sources = vaec::figures::prior_sources(m.model);
  return r;
}

// On --resume, everything given on the command line must agree with the run's record;
// a contradiction is refused, naming both values.
void require_agreement(const train_cli& c, const vaec::rt::run_record& r, const std::string& dir) {
  const auto& o = r.options;
  auto refuse = [&](const std::string& option, const std::string& given, const std::string& recorded) {
    throw usage_error(fmt::format("{} {} contradicts the run in {}, which has {} = {} ({}); resume with "
                                  "`{}` alone, or start a new run",
                                  option, given, dir, option.substr(2), recorded,
                                  (fs::path(dir) / "run.json").string(), vaec::rt::resume_command(dir)));
  };
  if (c.epochs && *c.epochs != o.epochs) refuse("--epochs", std::to_string(*c.epochs), std::to_string(o.epochs));
  if (c.batch && *c.batch != o.batch) refuse("--batch", std::to_string(*c.batch), std::to_string(o.batch));
  if (c.samples && *c.samples != o.samples) refuse("--samples", std::to_string(*c.samples), std::to_string(o.samples));
  if (c.threads && *c.threads != o.threads)
    refuse("--threads", std::to_string(*c.threads), std::to_string(o.threads) + ", and results depend on it");
  if (c.lr && *c.lr != o.adam.lr) refuse("--lr", format_double(*c.lr), format_double(o.adam.lr));
  if (c.seed && parse_seed(*c.seed, "--seed") != o.seed) refuse("--seed", *c.seed, std::to_string(o.seed));
  if (!c.data.empty() && vaec::rt::absolute_data_path(c.data) != r.data_path) refuse("--data", c.data, r.data_path);
  // --set on a resume: each name must have the run's value (order does not matter).
  auto split = [](const std::string& set) {
    const auto eq = set.find('=');
    return std::pair<std::string, std::string>{set.substr(0, eq), eq == std::string::npos ? "" : set.substr(eq + 1)};
  };
  std::map<std::string, std::string> recorded;
  for (const auto& set : r.sets) recorded.insert(split(set));
  for (const auto& set : c.sets) {
    const auto [name, value] = split(set);
    const auto it = recorded.find(name);
    // The same value written alike or as the same number (3e-4 and 0.0003).
    if (it != recorded.end() &&
        (it->second == value || (vaec::experiments::numeric_value(value) &&
                                 vaec::experiments::numeric_value(it->second) == vaec::experiments::numeric_value(value))))
      continue;
    throw usage_error(fmt::format(
        "--set {} contradicts the run in {}, which {} ({}); resume with `{}` alone (it keeps "
        "the run's own --set), or start a new run",
        set, dir, it == recorded.end() ? fmt::format("has no --set of {}", name) : fmt::format("has --set {}={}", name, it->second),
        (fs::path(dir) / "run.json").string(), vaec::rt::resume_command(dir)));
  }
}

// The run's pictures (figures/), from its checkpoint (the best one when early stopping
// kept one); one line each with its time. A run without a checkpoint has none.
void write_pictures(const vaec::rt::run_folder& folder, const vaec::checked_model& model, const vaec::rt::run_record& record,
                    const vaec::rt::data_splits& data, const std::vector<vaec::rt::epoch_metrics>& epochs) {
  const bool best = folder.has("best.safetensors");
  if (!folder.has("checkpoint.safetensors")) return;
  vaec::figures::run_inputs in;
  in.dir = folder.path();
  in.model = &model;
  in.checkpoint = folder.file(best ? "best.safetensors" : "checkpoint.safetensors").string();
  std::optional<vaec::rt::dataset> binarized;
  if (data.test) {
    in.test = &*data.test;
    if (record.options.binarize_mode != vaec::rt::binarize::none) {
      binarized = vaec::rt::binarized_once(*data.test, record.options.seed);
      in.test = &*binarized;
    }
  }
  in.train = &data.train;
  in.epochs = epochs;
  in.kl_warmup = record.options.kl_warmup;
  in.kl_cycle = record.options.kl_cycle;
  in.seed = record.options.seed;
  in.fashion_mnist = record.data == "fashion-mnist";
  const auto pictures = vaec::figures::write_run_pictures(in);
  fmt::print("pictures ({}):\n", best ? "from best.safetensors" : "from checkpoint.safetensors");
  for (const auto& p : pictures) fmt::print("  {:<24} {:5.2f} s  {}\n", p.file, p.seconds, p.what);
  // The pictures drawn from the test split (figures/figures.cpp: in.test) are left out
  // without one; say so rather than leave the reader to count files.
  if (!data.test)
    fmt::print("  (no reconstructions, latent, manifold, kl_per_dim or active-unit pictures: they encode the test split, and "
               "{} has none)\n",
               record.data);
  std::fflush(stdout);
}

int run_train(const train_cli& c) {
  // Ctrl-C's handler from the start, so that a SIGINT is honoured alike while the data load
  // (the command then stops before writing anything) and while it trains — also in a
  // background job of a script, which starts with SIGINT ignored.
  vaec::rt::install_interrupt_handler();
  if (c.out_given && c.out.empty()) throw usage_error("--out \"\": give the run folder a name");
  if (c.resume && c.out.empty())
    throw usage_error("--resume needs --out RUN_DIR, the run folder to continue");
  std::optional<vaec::rt::run_folder> folder;
  std::optional<loaded> m;
  vaec::rt::run_record record;
  // Data-parallel training (mpirun -np N): rank 0 alone prints and writes the run folder;
  // the other ranks read it (runtime/data_parallel.hpp).
  const bool rank0 = vaec::rt::mpi::rank() == 0;
  if (!rank0 && !std::freopen("/dev/null", "w", stdout)) throw usage_error("cannot silence a rank's output");
  // The model has errors (its diagnostics are printed): data-parallel, the other ranks learn it.
  auto model_failed = [] {
    if (startup.on) startup.meet(false, exit_error, "");
    return exit_error;
  };
  if (c.resume) {
    folder.emplace(rank0 ? vaec::rt::run_folder::open(c.out) : vaec::rt::run_folder::observe(c.out));
    const std::string record_path = folder->file("run.json").string();
    record = vaec::rt::parse_run_record(folder->read("run.json").value_or(""), record_path);
    require_agreement(c, record, c.out);
    const std::string model_path = folder->file("model.vae").string();
    m = load_model(model_path, record.sets, {prior_sources_use::mode::reopen, record.options.seed, &record.prior_sources});
    if (!m) return model_failed();
    if (vaec::rt::sha256_hex(m->text) != record.model_sha256)
      throw vaec::rt::run_folder_error(fmt::format("{} was changed since the run started (its SHA-256 differs from "
                                                   "run.json's); the checkpoint belongs to the original model",
                                                   model_path));
    // The model file's own settings that run.json repeats must agree with it.
    train_cli as_recorded;
    as_recorded.sets = record.sets;
    const vaec::rt::run_record from_model = new_record(as_recorded, *m);
    if (from_model.objective != record.objective || from_model.kl != record.kl)
      throw vaec::rt::run_folder_error(fmt::format("{}: objective = {}, kl = {}, but {} says objective = {}, kl = {}; "
                                                   "the run folder was changed by hand",
                                                   record_path, record.objective, record.kl, model_path,
                                                   from_model.objective, from_model.kl));
    if (!c.model.empty()) {
      std::string why;
      auto given = vaec::source::read_file(c.model, why);
      if (!given) throw usage_error(fmt::format("{}: cannot read the model file: {}", c.model, why));
      if (given->text() != m->text)
        throw usage_error(fmt::format("{} differs from {}, the model this run trains; resume with `{}` (the run's "
                                      "own model), or start a new run with another --out",
                                      c.model, model_path, vaec::rt::resume_command(c.out)));
    }
  } else {
    m = load_model(c.model, c.sets,
                   {prior_sources_use::mode::start, c.seed ? std::optional(parse_seed(*c.seed, "--seed")) : std::nullopt, nullptr});
    if (!m) return model_failed();
    record = new_record(c, *m);
  }
  const vaec::checked_model& model = m->model;
  vaec::rt::train_options o = record.options;
  o.progress = isatty(fileno(stderr)) != 0 && rank0;

  vaec::lowered_model low = vaec::lower(model);
  vaec::rt::model_binding binding = vaec::bind(low, model);
  // The data are loaded and checked before the run folder exists: a data problem leaves nothing behind.
  vaec::rt::data_splits data = load_data_noting(c.resume ? record.data_path : c.data);
  vaec::rt::check_data(binding, data);
  if (o.binarize_mode != vaec::rt::binarize::none) {
    const char* mode = o.binarize_mode == vaec::rt::binarize::dynamic ? "dynamic" : "static";
    vaec::rt::require_probabilities(data.train, mode);
    if (data.test) vaec::rt::require_probabilities(*data.test, mode);
  }
  const std::string fp = vaec::rt::fingerprint(data);
  if (c.resume && fp != record.data_fingerprint)
    throw vaec::rt::run_folder_error(fmt::format(
        "the data at {} are not those the run in {} started on (their contents differ: fingerprint {} against {}); "
        "resume with the run's own data, or start a new run",
        record.data_path, c.out, fp.substr(0, 24) + "…", record.data_fingerprint.substr(0, 24) + "…"));
  record.data_fingerprint = fp;
  if (startup.on) {
    // Every rank read the same data: its shards of each batch are then the batch's.
    const std::vector<std::string> fps = startup.meet(true, 0, fp);
    for (std::size_t r = 1; r < fps.size(); ++r)
      if (fps[r] != fps[0]) {
        const std::string text = fmt::format(
            "rank {} of {} read other data than rank 0 at {} (fingerprint {}… against {}…): every rank must read the "
            "same data (on a cluster, the same files at the same path on every node, e.g. on a shared filesystem)",
            r, fps.size(), c.resume ? record.data_path : c.data, fps[r].substr(0, 16), fps[0].substr(0, 16));
        if (rank0) fmt::print(stderr, "vaec: error: {}\n", text);
        vaec::rt::mpi::note_others_informed();
        throw startup_agreement::failed{exit_error};
      }
  }

  // A Ctrl-C while the model and data were read: stop before anything is written (one
  // process; data-parallel ranks agree on a step to stop at once training runs, so there
  // the run stops after its first step instead).
  if (!startup.on && vaec::rt::interrupt_requested()) {
    fmt::print("interrupted before training started: {}\n",
               c.resume ? fmt::format("{} is as it was", c.out) : std::string("nothing was written"));
    return vaec::rt::interrupted_exit_code();
  }
  if (!c.resume && rank0) {
    folder.emplace(!c.out.empty() ? vaec::rt::run_folder::create(c.out)
                                  : vaec::rt::run_folder::create_unique("runs", model.name + "-" + vaec::rt::timestamp()));
    folder->write("model.vae", m->text);
    folder->write("run.json", vaec::rt::to_json(record));
  }
  if (startup.on) {
    // Rank 0 made (or opened) the run folder; the others observe it.
    const std::vector<std::string> words = startup.meet(true, 0, rank0 ? folder->path().string() : std::string());
    if (!rank0 && !c.resume) folder.emplace(vaec::rt::run_folder::observe(words[0]));
    startup.done = true;
    startup.restore();
  }
  // A run stopped before its first checkpoint starts again from the beginning, which is
  // exactly where the uninterrupted run started: its first state follows from the seed.
  const bool from_checkpoint = c.resume && folder->has("checkpoint.safetensors");
  if (c.resume && !from_checkpoint) {
    // Unless a checkpoint was written and is gone: then starting over would overwrite the
    // finished epochs' history with another run's. An epoch's row is written before its
    // checkpoint, summary.json's count after it, so one row without a checkpoint is a run
    // killed between the two (it starts over, dropping the row, as the uninterrupted run
    // began); two rows, or a count of at least one, mean the checkpoint existed.
    std::size_t finished = 0;
    if (const auto text = folder->read("metrics.csv")) {
      std::istringstream lines(*text);
      std::string line;
      for (bool header = true; std::getline(lines, line); header = false)
        if (!header && !line.empty()) ++finished;
    }
    std::size_t counted = 0;
    if (const auto summary = read_summary(*folder);
        summary && summary->contains("epochs_completed") && summary->at("epochs_completed").is_number_unsigned())
      counted = summary->at("epochs_completed").get<std::size_t>();
    finished = std::max(finished, counted);
    if (finished >= 2 || counted >= 1)
      throw vaec::rt::run_folder_error(fmt::format(
          "{}: checkpoint.safetensors is missing, but metrics.csv records {} finished epoch{}: the run's parameters "
          "are gone, and starting over would overwrite that history; put the checkpoint back (best.safetensors, "
          "if there is one, holds another epoch's parameters and cannot stand in for it), or start a new run "
          "with another --out",
          c.out, finished, finished == 1 ? "" : "s"));
  }
  if (c.resume && !from_checkpoint)
    fmt::print("{} holds no checkpoint yet (the run stopped before its first one): starting from the "
               "beginning\n",
               c.out);
  const std::string dir = folder->path().string();
  // A new run refused or failed before its first checkpoint leaves nothing behind: the
  // files this command wrote go, and the folder too once empty, so the same command can be
  // run again (a folder holding a user's other files keeps them).
  auto abandon_new_folder = [&] {
    if (c.resume || !rank0 || !folder || folder->has("checkpoint.safetensors")) return;
    for (const char* f : {"model.vae", "run.json", "summary.json", "metrics.csv", "timing.csv", "vaec.lock"})
      folder->remove(f);
    std::error_code ec;
    fs::remove(folder->path(), ec);  // only if now empty
  };
  {
    // Room for the checkpoint (parameters and Adam's two moments, float32) and its
    // temporary copy, checked before training rather than found missing after an epoch.
    const double need = 2.0 * 3.0 * 4.0 * static_cast<double>(low.graph.param_storage()) + (1 << 20);
    std::error_code ec;
    const fs::space_info sp = fs::space(folder->path(), ec);
    if (!ec && static_cast<double>(sp.available) < need) {
      abandon_new_folder();
      throw vaec::rt::run_folder_error(fmt::format("{} has {:.1f} MiB free, and the run's checkpoints need about "
                                                   "{:.1f} MiB; free some space or choose another --out",
                                                   dir, static_cast<double>(sp.available) / 1048576.0,
                                                   need / 1048576.0));
    }
  }

  nlohmann::json latents = nlohmann::json::array();
  for (const auto& lp : model.latents) {
    const auto& v = model.variables[static_cast<std::size_t>(lp.variable)];
    const auto& qf = model.factors[static_cast<std::size_t>(lp.q_factor)];
    const auto& pf = model.factors[static_cast<std::size_t>(lp.p_factor)];
    latents.push_back({{"name", v.name},
                       {"type", vaec::to_string(v.type)},
                       {"q", std::string(vaec::info(qf.dist.family).name)},
                       {"p", std::string(vaec::info(pf.dist.family).name)},
                       {"kl", std::string(vaec::to_string(lp.method))},
                       {"kl_reason", lp.method_reason},
                       {"gradient", lp.gradient}});
  }
  const nlohmann::json settings = nlohmann::json::parse(vaec::rt::settings_json(record));
  nlohmann::ordered_json constants = nlohmann::ordered_json::object();
  for (const auto& k : model.constants) constants[k.name] = {{"value", k.value}, {"origin", k.origin}};
  const bool grey_bernoulli = binding.bernoulli_likelihood && o.binarize_mode == vaec::rt::binarize::none &&
                              !(vaec::rt::is_binary(data.train) && (!data.test || vaec::rt::is_binary(*data.test)));
  const std::string test_set_note = !data.test ? "none"
                                    : o.binarize_mode != vaec::rt::binarize::none
                                        ? fmt::format("binarized once (seed {})", o.seed)
                                        : "as given";

  const nlohmann::json summary_base = {
      {"model", model.name},
      {"model_file", record.model_file},
      {"data", record.data},
      {"train_examples", data.train.count},
      {"test_examples", data.test ? data.test->count : 0},
      {"test_set", test_set_note},
      {"elbo_is_log_probability", !grey_bernoulli},
      {"sets", record.sets},
      {"constants", constants},
      {"settings", settings},
      {"parameters", {{"theta", model.theta_count()}, {"phi", model.phi_count()}}},
      {"latents", latents},
      {"versions", {{"vaec", VAEC_VERSION}, {"kernels", vaec::rt::kernels_info()}, {"compiler", __VERSION__}}},
  };

  vaec::rt::run_files files;
  files.dir = dir;
  files.metadata_json = settings.dump();
  files.on_epoch = [&](const vaec::rt::train_result& r, std::span<const float>) {
    const auto& last = r.epochs.back();
    nlohmann::json final_figures = {{"epoch", last.epoch},
                                    {"train_elbo", last.train_elbo},
                                    {"train_recon", last.train_recon},
                                    {"train_kl", last.train_kl}};
    if (last.test_elbo) {
      final_figures["test_elbo"] = *last.test_elbo;
      final_figures["test_recon"] = *last.test_recon;
      final_figures["test_kl"] = *last.test_kl;
    }
    double seconds = 0;
    for (const auto& e : r.epochs) seconds += e.seconds;
    nlohmann::json summary = summary_base;
    summary["final"] = final_figures;
    summary["best_epoch"] = r.best_epoch;
    summary["epochs_completed"] = r.epochs.size();
    summary["training_seconds"] = seconds;
    summary["status"] = "in_progress";
    folder->write("summary.json", summary.dump(2) + "\n");
  };
  // After training: summary.json says how the run ended — completed, early_stopped,
  // interrupted (resumable) or stopped (a non-finite loss, gradient, update or ELBO), with
  // the reason — on top of the last epoch's figures (or, before the first epoch's end, of
  // the run's description alone).
  auto write_status = [&](const char* status, const std::string& reason) {
    nlohmann::json summary = summary_base;
    summary["epochs_completed"] = 0;
    if (auto parsed = read_summary(*folder)) summary = std::move(*parsed);
    summary["status"] = status;
    if (reason.empty()) summary.erase("stop_reason");
    else summary["stop_reason"] = reason;
    folder->write("summary.json", summary.dump(2) + "\n");
  };

  fmt::print("training {} on {}: {} train{} examples, batch {}, {} sample{}, {} thread{}, {} products\n",
             model.name, record.data, vaec::group_thousands(static_cast<std::int64_t>(data.train.count)),
             data.test ? fmt::format(" / {} test", vaec::group_thousands(static_cast<std::int64_t>(data.test->count))) : "",
             o.batch, o.samples, o.samples == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s",
             vaec::rt::to_string(o.products));
  fmt::print("kernels: {}\n", vaec::rt::kernels_info());
  if (data.test && o.binarize_mode != vaec::rt::binarize::none)
    fmt::print("test figures: on the test set binarized once (seed {}), as vaec eval uses it\n", o.seed);
  if (grey_bernoulli)
    fmt::print("note: the data are grey levels in [0, 1] and the likelihood is Bernoulli, a distribution of binary "
               "data: the ELBO figures are not log-probabilities of these data (set binarize = dynamic or static "
               "for binarized data)\n");
  fmt::print("run folder: {}\n", dir);
  std::fflush(stdout);
  // A new run's summary.json exists from the start (in_progress, no epoch yet); a resumed
  // run's keeps what it said until this run's first epoch or end.
  if (rank0 && !c.resume) write_status("in_progress", "");
  vaec::rt::train_result r;
  try {
    r = vaec::rt::train(binding, data, o, files, from_checkpoint, std::cout);
  } catch (const std::bad_alloc&) {
    // Out of memory before a checkpoint exists: the folder holds only what this command
    // wrote (model.vae, run.json, summary.json, empty metrics); leave nothing behind.
    abandon_new_folder();
    throw;
  } catch (const vaec::rt::train_error& e) {
    // A run that cannot start (settings that do not fit the data) leaves nothing either.
    if (!e.stopped_run) abandon_new_folder();
    if (!e.stopped_run || !rank0) throw;
    write_status("stopped", e.what());
    // A stopped run (NaN) still gets the pictures of its last good checkpoint, if any.
    std::vector<vaec::rt::epoch_metrics> done;
    if (auto text = folder->read("metrics.csv")) done = vaec::rt::parse_metrics(*text, binding.latent_names.size());
    try {
      write_pictures(*folder, model, record, data, done);
    } catch (const std::exception& e) {
      fmt::print(stderr, "vaec: note: no pictures: {}\n", e.what());
    }
    throw;
  }
  // The checkpoint is written: a further Ctrl-C (during the pictures) ends the process at once.
  if (r.interrupted) vaec::rt::restore_default_interrupts();
  if (rank0) write_status(r.interrupted ? "interrupted" : r.early_stopped ? "early_stopped" : "completed", "");
  // The resume hint before the pictures, flushed: a second Ctrl-C while they are drawn ends
  // the process at once, and the hint must be on the screen (or in the log) by then.
  if (r.interrupted) {
    fmt::print("resume with: {}\n", vaec::rt::resume_command(dir));
    std::fflush(stdout);
  }
  if ((r.steps > 0 || !from_checkpoint) && rank0) write_pictures(*folder, model, record, data, r.epochs);
  if (r.interrupted) {
    // Data-parallel: every rank agreed on the step to stop at, so all exit alike (no MPI_Abort).
    vaec::rt::mpi::note_others_informed();
    return vaec::rt::interrupted_exit_code();
  }
  fmt::print("done: {} of {} epoch{}{}; run folder: {}\n", r.epochs.size(), o.epochs, o.epochs == 1 ? "" : "s",
             r.early_stopped ? fmt::format(" (early stopping; the best, epoch {}, is in best.safetensors)", r.best_epoch)
                             : "",
             dir);
  return exit_ok;
}

struct eval_cli {
  std::string run_dir, data;
  std::optional<int> iw, threads;
  std::optional<std::string> seed;
  std::string which;  // best | last | "" (best when there is one)
  bool json = false;  // print eval.json's text on stdout, and everything else on stderr
};

// A finished (or stopped) run, read for eval and sample: its record, model and the
// parameters of the chosen checkpoint, checked finite.
struct opened_run {
  vaec::rt::run_record record;
  loaded model;
  fs::path checkpoint;
  std::string which;  // best | last
};

std::optional<opened_run> open_run(const std::string& run_dir, std::string which) {
  const fs::path dir(run_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw vaec::rt::run_folder_error(fmt::format("{}: no such run folder", run_dir));
  const fs::path record_path = dir / "run.json";
  const fs::path model_path = dir / "model.vae";
  if (!fs::exists(record_path, ec) || !fs::exists(model_path, ec))
    throw vaec::rt::run_folder_error(fmt::format("{}: not a run folder of this version of vaec (no run.json or "
                                                 "model.vae)",
                                                 run_dir));
  std::ifstream in(record_path);
  std::stringstream text;
  text << in.rdbuf();
  vaec::rt::run_record record = vaec::rt::parse_run_record(text.str(), record_path.string());
  auto m = load_model(model_path.string(), record.sets,
                      {prior_sources_use::mode::reopen, record.options.seed, &record.prior_sources});
  if (!m) return std::nullopt;
  // Which checkpoint: the best (early stopping) by default, else the last.
  const bool has_best = fs::exists(dir / "best.safetensors", ec);
  if (which.empty()) which = has_best ? "best" : "last";
  if (which == "best" && !has_best)
    throw usage_error(fmt::format("--checkpoint best: {} has no best.safetensors (early stopping was off); use "
                                  "--checkpoint last",
                                  run_dir));
  const fs::path ckpt = dir / (which == "best" ? "best.safetensors" : "checkpoint.safetensors");
  if (!fs::exists(ckpt, ec))
    throw vaec::rt::run_folder_error(fmt::format("{}: no checkpoint yet (the run stopped before its first "
                                                 "one)",
                                                 ckpt.string()));
  return opened_run{std::move(record), std::move(*m), ckpt, which};
}

// The parameters of `run`'s checkpoint in `g`'s layout; a non-finite value is refused,
// naming the tensor.
std::vector<float> checked_parameters(const opened_run& run, const vaec::rt::graph& g) {
  std::vector<float> params = vaec::rt::load_parameters(g, run.checkpoint.string());
  for (const auto& p : g.params()) {
    const float* v = params.data() + p.offset;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!std::isfinite(v[p.at(i)]))
        throw vaec::rt::checkpoint_error(fmt::format("{}: tensor '{}' holds a non-finite value ({} at element {}); "
                                                     "these parameters cannot be used",
                                                     run.checkpoint.string(), p.name, v[p.at(i)], i));
  }
  return params;
}

// The data a run is evaluated or encoded on: the test split when there is one, binarized
// once with the run's seed when the run binarizes.
struct eval_data {
  vaec::rt::data_splits splits;
  std::optional<vaec::rt::dataset> binarized;
  const vaec::rt::dataset* set = nullptr;
  std::string what = "as given";
};

void load_eval_data(const std::string& path, const vaec::rt::run_record& record, const vaec::rt::model_binding& b,
                    eval_data& out) {
  out.splits = load_data_noting(path);
  out.set = out.splits.test ? &*out.splits.test : &out.splits.train;
  vaec::rt::check_data(b, *out.set);
  if (record.options.binarize_mode != vaec::rt::binarize::none) {
    vaec::rt::require_probabilities(*out.set,
                                    record.options.binarize_mode == vaec::rt::binarize::dynamic ? "dynamic" : "static");
    out.binarized = vaec::rt::binarized_once(*out.set, record.options.seed);
    out.set = &*out.binarized;
    out.what = fmt::format("binarized test set (seed {})", record.options.seed);
  }
}

// Progress of a long pass on stderr: a bar on a terminal, a line every tenth otherwise.
class progress_printer {
 public:
  progress_printer(std::string what, std::string unit)
      : what_(std::move(what)), unit_(std::move(unit)), tty_(isatty(fileno(stderr)) != 0),
        t0_(std::chrono::steady_clock::now()) {}
  void operator()(std::size_t done, std::size_t total) const {
    const double frac = static_cast<double>(done) / static_cast<double>(std::max<std::size_t>(1, total));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (tty_) {
      const int filled = static_cast<int>(frac * 30);
      fmt::print(stderr, "\r\033[K  {} [{}{}] {:3d}%  {} of {} {}  {:.0f} s left", what_,
                 std::string(static_cast<std::size_t>(filled), '#'), std::string(static_cast<std::size_t>(30 - filled), '.'),
                 static_cast<int>(frac * 100), vaec::group_thousands(static_cast<std::int64_t>(done)),
                 vaec::group_thousands(static_cast<std::int64_t>(total)), unit_, frac > 0 ? secs * (1 - frac) / frac : 0.0);
      if (done >= total) fmt::print(stderr, "\r\033[K");
    } else if (static_cast<int>(frac * 10) > last_tenth_) {
      last_tenth_ = static_cast<int>(frac * 10);
      fmt::print(stderr, "  {}: {} of {} {}, {:.0f} s\n", what_, vaec::group_thousands(static_cast<std::int64_t>(done)),
                 vaec::group_thousands(static_cast<std::int64_t>(total)), unit_, secs);
    }
    std::fflush(stderr);
  }

 private:
  std::string what_, unit_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
  mutable int last_tenth_ = 0;
};

// How eval.json names the way a latent's KL term was computed in the ELBO it reports
// (lang/check/kl_plan.cpp's plan; a model trained on the IWAE bound, which plans no KL
// term, has its ELBO evaluated by Monte Carlo, as lower() does).
std::string eval_kl_method(vaec::kl_method m) {
  switch (m) {
    case vaec::kl_method::closed_form: return "closed form";
    case vaec::kl_method::entropy_plus_mc: return "entropy + Monte Carlo";
    default: return "Monte Carlo";
  }
}

// Per latent (checked_model::latents order), where the posterior figures of eval.json are
// in `low`, the model lowered at the posterior's location: E_q[z] (Normal's loc,
// Student-t's loc, a sphere family's mean direction; none for the uniform sphere, whose
// E_q[z] is 0), a sphere family's concentration, and a learned Student-t df — q's, or
// else the prior's (for a heavy-tailed prior with a learned df).
std::vector<vaec::rt::posterior_nodes> posterior_nodes_of(const vaec::lowered_model& low, const vaec::checked_model& m) {
  using vaec::family_id;
  std::vector<vaec::rt::posterior_nodes> out;
  for (std::size_t l = 0; l < m.latents.size(); ++l) {
    const auto& lp = m.latents[l];
    const auto& d = low.dists.at(l);
    vaec::rt::posterior_nodes n;
    n.rows = m.variables[static_cast<std::size_t>(lp.variable)].type.size;
    auto param = [](const std::vector<int>& ps, std::size_t i) { return i < ps.size() ? ps[i] : -1; };
    switch (d.q) {
      case family_id::normal: n.location = param(d.q_params, 0); break;
      case family_id::student_t: n.location = param(d.q_params, 1); break;
      case family_id::von_mises_fisher:
      case family_id::power_spherical:
        n.location = param(d.q_params, 0);
        n.concentration = param(d.q_params, 1);
        break;
      default: break;
    }
    // A df that depends on parameters (learned), per the checker's `learnable`.
    auto learned_df = [&](int factor, family_id fam, const std::vector<int>& ps) {
      const auto& f = m.factors[static_cast<std::size_t>(factor)];
      if (fam != family_id::student_t || f.dist.params.empty() || f.dist.params[0] < 0) return -1;
      return m.nodes[static_cast<std::size_t>(f.dist.params[0])].learnable ? param(ps, 0) : -1;
    };
    n.df = learned_df(lp.q_factor, d.q, d.q_params);
    if (n.df < 0) n.df = learned_df(lp.p_factor, d.p, d.p_params);
    out.push_back(n);
  }
  return out;
}

// The epochs a checkpoint has seen (its metadata vaec.epoch: whole epochs completed), or
// nullopt when it does not say.
std::optional<long long> checkpoint_epochs(const fs::path& ckpt) {
  const vaec::rt::checkpoint ck = vaec::rt::read_checkpoint(ckpt.string());
  const auto it = ck.metadata.find("vaec.epoch");
  if (it == ck.metadata.end()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno != 0 || end == it->second.c_str() || *end != '\0' || v < 0) return std::nullopt;
  return v;
}

// A number for eval.json: null when it is not finite (JSON has no NaN or infinity).
nlohmann::ordered_json json_number(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr; }

// vaec eval: the ELBO and the importance-weighted log-likelihood of a run's checkpoint,
// and per-latent figures, printed and saved to RUN_DIR/eval.json and
// RUN_DIR/eval_per_example.npy (experiments/README.md), holding the run folder's lock.
int run_eval(const eval_cli& c) {
  // The lock first: a run still training is refused, and nothing is read half-written.
  vaec::rt::run_folder folder = vaec::rt::run_folder::open(c.run_dir);
  auto run = open_run(c.run_dir, c.which);
  if (!run) return exit_error;
  const loaded* m = &run->model;
  const vaec::rt::run_record& record = run->record;
  if (c.iw && *c.iw < 1) throw usage_error(fmt::format("--iw {}: K must be at least 1", *c.iw));
  if (c.iw && *c.iw > 1000000)
    throw usage_error(fmt::format("--iw {}: at most 1,000,000 samples per example (K = 5,000 is the usual precise "
                                  "estimate; time grows linearly in K)",
                                  *c.iw));
  const int k = c.iw.value_or(m->model.settings.eval_samples);
  const int threads = c.threads.value_or(default_threads());
  require_threads(threads, "evaluation");
  const std::uint64_t seed = c.seed ? parse_seed(*c.seed, "--seed") : record.options.seed;
  const std::string which = run->which;
  const fs::path ckpt = run->checkpoint;
  // With --json, stdout carries eval.json's text alone; every other line goes to stderr.
  std::FILE* out = c.json ? stderr : stdout;
  vaec::lowered_model elbo = vaec::lower(m->model, {false});
  vaec::lowered_model iwae = vaec::lower(m->model, {true});
  vaec::lowered_model located = vaec::lower(m->model, {false, vaec::latent_source::posterior_location});
  std::vector<float> params = checked_parameters(*run, elbo.graph);
  const std::optional<long long> epochs = checkpoint_epochs(ckpt);
  vaec::rt::model_binding eb = vaec::bind(elbo, m->model), ib = vaec::bind(iwae, m->model);
  eval_data ed;
  load_eval_data(c.data, record, eb, ed);
  const vaec::rt::dataset* d = ed.set;
  const auto& data = ed.splits;
  const std::string& what = ed.what;
  const bool binarized = ed.binarized.has_value();
  fmt::print(out, "evaluating {} ({}, {}) on {} ({} examples{}, {}); seed {}\n", m->model.name,
             ckpt.filename().string(), which == "best" ? "the best validation ELBO" : "the last epoch", d->origin,
             vaec::group_thousands(static_cast<std::int64_t>(d->count)), data.test ? ", the test split" : "", what,
             seed);
  if (eb.bernoulli_likelihood && !binarized && !vaec::rt::is_binary(*d))
    fmt::print(out, "note: the data are grey levels and the likelihood is Bernoulli, a distribution of binary data: "
                    "these figures are not log-probabilities of the data (train with binarize = dynamic or static)\n");
  // summary.json still saying in_progress while this command holds the run's lock: no process
  // trains it any more — it was killed (kill -9, the out-of-memory killer) or its machine
  // stopped, with no chance to say so.
  {
    const auto summary = read_summary(folder);
    if (summary && summary->value("status", "") == "in_progress")
      fmt::print(out, "note: this run did not finish: its summary.json says in_progress, but no vaec process is training "
                      "it (it was killed, or its machine stopped); these are the figures of its checkpoint after {} of "
                      "{} epochs; `{}` continues it\n",
                 epochs ? std::to_string(*epochs) : std::string("?"), record.options.epochs,
                 vaec::rt::resume_command(c.run_dir));
  }
  std::fflush(out);
  const auto t0 = std::chrono::steady_clock::now();
  const progress_printer progress(fmt::format("log p(x), IW K={}", k), "examples");
  auto r = vaec::rt::evaluate(eb, ib, params, *d, k, seed, threads, std::ref(progress));
  const std::vector<vaec::rt::posterior_figures> post = vaec::rt::posterior_statistics(
      located.graph, params, located.data, posterior_nodes_of(located, m->model), *d, seed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(out, "  ELBO                 {:10.3f} nats\n", r.elbo);
  fmt::print(out, "  reconstruction       {:10.3f}\n", r.recon);
  fmt::print(out, "  KL                   {:10.3f}\n", r.kl);
  fmt::print(out, "  log p(x), IW K={:<5} {:10.3f} ± {:.3f} (standard error over examples)\n", k, r.iw_loglik,
             r.iw_stderr);
  {
    // The latents by name: "z", or "s, g" for a model of two.
    std::string zs;
    for (const auto& name : eb.latent_names) zs += (zs.empty() ? "" : ", ") + name;
    fmt::print(out, "  gap log p(x) − ELBO  {:10.3f}   (estimates E[KL(q({}|x) ‖ p({}|x))])\n", r.iw_loglik - r.elbo, zs, zs);
  }

  nlohmann::ordered_json latents = nlohmann::ordered_json::array();
  int active_total = 0;
  for (std::size_t l = 0; l < m->model.latents.size(); ++l) {
    const auto& lp = m->model.latents[l];
    const auto& v = m->model.variables[static_cast<std::size_t>(lp.variable)];
    const auto& qf = m->model.factors[static_cast<std::size_t>(lp.q_factor)];
    const auto& pf = m->model.factors[static_cast<std::size_t>(lp.p_factor)];
    const vaec::rt::posterior_figures& f = post[l];
    const double kl = l < r.kl_latent.size() ? r.kl_latent[l] : std::nan("");
    active_total += f.activity.active;
    nlohmann::ordered_json lj;
    lj["name"] = v.name;
    lj["type"] = vaec::to_string(v.type);
    lj["q"] = std::string(vaec::info(qf.dist.family).name);
    lj["p"] = std::string(vaec::info(pf.dist.family).name);
    lj["kl_method"] = eval_kl_method(lp.method);
    lj["kl"] = json_number(kl);
    lj["active_units"] = f.activity.active;
    lj["dims"] = v.type.size;
    lj["concentration"] = f.concentration ? nlohmann::ordered_json{{"mean", json_number(f.concentration->mean)},
                                                                     {"min", json_number(f.concentration->min)},
                                                                     {"max", json_number(f.concentration->max)}}
                                          : nlohmann::ordered_json(nullptr);
    lj["df"] = f.df ? json_number(*f.df) : nlohmann::ordered_json(nullptr);
    latents.push_back(std::move(lj));
    std::string line = fmt::format("  latent {} ({}): KL {:.3f} ({}), active units {} of {}", v.name,
                                   vaec::to_string(v.type), kl, eval_kl_method(lp.method), f.activity.active,
                                   v.type.size);
    if (f.concentration)
      line += fmt::format(", concentration {:.4g} (from {:.4g} to {:.4g})", f.concentration->mean, f.concentration->min,
                          f.concentration->max);
    if (f.df) line += fmt::format(", df {:.4g}", *f.df);
    fmt::print(out, "{}\n", line);
  }
  std::fflush(out);
  if (!std::isfinite(r.elbo) || !std::isfinite(r.iw_loglik)) {
    fmt::print(stderr, "vaec: error: the evaluation of {} is not finite (ELBO {}, log p(x) {}): the model gives a "
                       "non-finite value on these data; nothing was written\n",
               c.run_dir, r.elbo, r.iw_loglik);
    return exit_error;
  }

  nlohmann::ordered_json j;
  j["vaec_version"] = VAEC_VERSION;
  j["model"] = m->model.name;
  j["checkpoint"] = which;
  j["epochs"] = epochs ? nlohmann::ordered_json(*epochs) : nlohmann::ordered_json(nullptr);
  j["data"] = {{"path", c.data == "fashion-mnist" ? std::string(vaec::rt::fashion_mnist_dir) : vaec::rt::absolute_data_path(c.data)},
               {"sha256", vaec::rt::fingerprint(data.test ? *data.test : data.train)},
               {"split", data.test ? "test" : "all"},
               {"examples", d->count},
               {"binarized", binarized}};
  j["iw_samples"] = k;
  j["seed"] = seed;
  j["elbo"] = json_number(r.elbo);
  j["recon"] = json_number(r.recon);
  j["kl"] = json_number(r.kl);
  j["log_likelihood"] = json_number(r.iw_loglik);
  j["log_likelihood_se"] = json_number(r.iw_stderr);
  j["gap"] = json_number(r.iw_loglik - r.elbo);
  j["active_units"] = active_total;
  j["latents"] = std::move(latents);
  j["seconds"] = seconds;
  j["per_example"] = "eval_per_example.npy";
  const std::string text = j.dump(2) + "\n";

  // The previous evaluation, if any, for the line that says it is replaced.
  std::string previous;
  if (const auto old = folder.read("eval.json")) {
    try {
      const nlohmann::json o = nlohmann::json::parse(*old);
      previous = fmt::format("replaced eval.json of checkpoint {}, seed {} (K = {})", o.value("checkpoint", "?"),
                             o.contains("seed") ? o["seed"].dump() : "?",
                             o.contains("iw_samples") ? o["iw_samples"].dump() : "?");
    } catch (const nlohmann::json::exception&) {
      previous = "replaced eval.json (it was not valid JSON)";
    }
  }
  // eval.json last: it names eval_per_example.npy, and a reader takes its presence to mean
  // that both are complete. The old one goes first, so that an interruption between the
  // two never pairs an old eval.json with a new .npy.
  folder.remove("eval.json");
  vaec::rt::write_npy(folder.file("eval_per_example.npy").string(), r.per_example);
  folder.write("eval.json", text);
  if (!previous.empty()) fmt::print(out, "{}\n", previous);
  fmt::print(out, "wrote {} and eval_per_example.npy ({} examples, float64)\n", folder.file("eval.json").string(),
             vaec::group_thousands(static_cast<std::int64_t>(r.per_example.size())));
  std::fflush(out);
  if (c.json) {
    fmt::print("{}", text);
    std::fflush(stdout);
  }
  return exit_ok;
}

// Data-parallel training (mpirun -np N, N > 1): run_train with the start's two meetings
// (startup_agreement): an error before them is reported to every rank at the next one.
int run_train_ranks(const train_cli& c) {
  startup.on = true;
  startup.quiet_other_ranks();
  try {
    return run_train(c);
  } catch (const startup_agreement::failed& f) {
    startup.restore();
    return f.code;
  } catch (...) {
    if (startup.done) throw;
    const auto [code, text] = startup_agreement::describe(std::current_exception());
    try {
      startup.meet(false, code, text);
    } catch (const startup_agreement::failed& f) {
      startup.restore();
      return f.code;
    }
    return code;  // not reached: meet throws when this rank failed
  }
}

std::pair<int, std::string> startup_agreement::describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const usage_error& x) {
    return {exit_usage, x.what()};
  } catch (const fs::filesystem_error& x) {
    return {exit_error, fmt::format("{}{}: {}", x.path1().string(), x.path2().empty() ? "" : " → " + x.path2().string(),
                                    x.code().message())};
  } catch (const std::bad_alloc&) {
    return {exit_error,
            "out of memory; try a smaller --batch or fewer --samples (training), a smaller --iw (eval, compare), a "
            "smaller -n (sample), or smaller layers (training keeps 16 bytes per parameter: its value, gradient and "
            "Adam's two moments, float32)"};
  } catch (const std::exception& x) {
    return {exit_error, x.what()};
  } catch (...) {
    return {exit_error, "an unknown error"};
  }
}

struct sample_cli {
  std::string run_dir, data, from = "prior", which;
  int n = 64;
  int examples = 1000;  // --from aggregate: M, the training examples the aggregate posterior mixes
  bool examples_given = false;
  std::vector<std::string> out;
  std::optional<std::string> seed;
  std::optional<int> threads;
  bool draw = false;
};

// vaec sample: N latents from the prior (or the posterior of the data's first N
// examples), decoded to the likelihood's mean (or a draw of x), written as .npy / .csv.
int run_sample(const sample_cli& c) {
  if (c.n < 1) throw usage_error(fmt::format("-n {}: ask for at least 1 sample", c.n));
  if (c.from == "posterior" && c.data.empty())
    throw usage_error("--from posterior encodes data: give them with --data PATH (the run's test split is used when "
                      "there is one)");
  if (c.from == "prior" && !c.data.empty())
    throw usage_error("--data is for --from posterior or aggregate; samples from the prior need no data");
  if (c.examples_given && c.from != "aggregate")
    throw usage_error(fmt::format("--examples is for --from aggregate (M, the training examples it mixes); --from {} "
                                  "does not use it",
                                  c.from));
  if (c.examples < 1)
    throw usage_error(fmt::format("--examples {}: the aggregate posterior mixes at least 1 example", c.examples));
  std::vector<std::string> outs = c.out;
  for (const auto& o : outs) {
    const std::string ext = fs::path(o).extension().string();
    if (ext != ".npy" && ext != ".csv" && ext != ".png")
      throw usage_error(fmt::format("--out {}: the file's extension says the format: .png, .npy or .csv", o));
  }
  const int threads = c.threads.value_or(default_threads());
  require_threads(threads, "sampling");
  auto run = open_run(c.run_dir, c.which);
  if (!run) return exit_error;
  const std::uint64_t seed = c.seed ? parse_seed(*c.seed, "--seed") : run->record.options.seed;

  const bool posterior = c.from == "posterior", aggregate = c.from == "aggregate";
  vaec::rt::set_threads(threads);
  vaec::rt::set_flush_denormals();
  const vaec::checked_model& model = run->model.model;
  vaec::lowered_model low = vaec::lower(model);
  const vaec::rt::model_binding b = vaec::bind(low, model);
  eval_data ed;
  std::size_t count = static_cast<std::size_t>(c.n);
  if (posterior) {
    load_eval_data(c.data, run->record, b, ed);
    if (count > ed.set->count)
      throw usage_error(fmt::format("-n {}: {} holds {} examples", c.n, ed.set->origin, ed.set->count));
  }
  // The aggregate posterior: over M training examples of --data, or of the data the run
  // trained on (refused when they changed since).
  std::vector<std::size_t> members;
  if (aggregate) {
    ed.splits = load_data_noting(c.data.empty() ? run->record.data_path : c.data);
    if (c.data.empty() && vaec::rt::fingerprint(ed.splits) != run->record.data_fingerprint)
      throw usage_error(fmt::format("the data at {} are not those the run trained on (their contents differ); give the "
                                    "training data with --data PATH",
                                    run->record.data_path));
    ed.set = &ed.splits.train;
    vaec::rt::check_data(b, *ed.set);
    ed.what = "the training split";
    // The default, 1,000, takes every example of a smaller set; a number asked for is not cut.
    if (c.examples_given && static_cast<std::size_t>(c.examples) > ed.set->count)
      throw usage_error(fmt::format("--examples {}: the training split of {} holds {} examples; use at most --examples {}",
                                    c.examples, ed.set->origin, ed.set->count, ed.set->count));
    members = vaec::figures::aggregate_examples(*ed.set, static_cast<std::size_t>(c.examples), seed);
  }
  checked_parameters(*run, low.graph);  // refuses non-finite parameters, naming the tensor
  const vaec::var_type& xt = model.variables[static_cast<std::size_t>(model.data)].type;
  const std::size_t rows = static_cast<std::size_t>(xt.size);
  const vaec::figures::layout lay = vaec::figures::layout_of(xt);
  const bool default_names = outs.empty();
  if (default_names) {
    const fs::path base = fs::path(c.run_dir) / fmt::format("sample_{}_{}_seed{}", c.from, c.draw ? "draws" : "means", seed);
    outs.push_back(base.string() + ".npy");
    if (lay.image) outs.push_back(base.string() + ".png");
  }
  for (std::size_t i = 0; i < outs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (std::error_code e1, e2; fs::weakly_canonical(fs::absolute(outs[i]), e1) ==
                                  fs::weakly_canonical(fs::absolute(outs[j]), e2))
        throw usage_error(fmt::format("--out {} is given twice (as {} and {}): name each output once", outs[i], outs[j],
                                      outs[i]));
  for (const auto& o : outs) {
    std::error_code ec;
    if (fs::exists(o, ec))
      throw usage_error(
          default_names
              ? fmt::format("{} exists (the default name for these samples: an earlier vaec sample with seed {} wrote "
                            "it); vaec sample never writes over a file: name the output with --out FILE.npy, draw "
                            "other samples with --seed, or remove it",
                            o, seed)
              : fmt::format("--out {}: the file exists; vaec sample never writes over a file: choose another name "
                            "with --out, or remove it",
                            o));
  }
  // The same functions draw the run's samples.png: the same seed gives the same numbers.
  const progress_printer progress("decoding", "samples");
  const std::vector<float> x =
      posterior   ? vaec::figures::decode_posterior(model, run->checkpoint.string(), *ed.set, count, seed, false, c.draw,
                                                    std::ref(progress))
      : aggregate ? vaec::figures::decode_aggregate(model, run->checkpoint.string(), *ed.set, members, count, seed,
                                                    c.draw, std::ref(progress))
                  : vaec::figures::decode_prior(model, run->checkpoint.string(), count, seed, c.draw, std::ref(progress));
  // Decoded draws that are not finite (z too large for float32, e.g. from a Student-t prior at
  // a small df, which vaec check warns about) are refused, not written as NaN.
  std::size_t bad_samples = 0;
  for (std::size_t j = 0; j < count; ++j)
    for (std::size_t i = 0; i < rows; ++i)
      if (!std::isfinite(x[j * rows + i])) {
        ++bad_samples;
        break;
      }
  if (bad_samples > 0)
    throw vaec::rt::decode_error(fmt::format(
        "{} of the {} decoded samples are not finite, so nothing was written; the likely cause is z too large to "
        "decode in float32, as a Student-t {} with a small df draws (vaec check warns where that can happen)",
        bad_samples, count, posterior ? "posterior" : "prior"));
  for (const auto& o : outs) {
    const std::string ext = fs::path(o).extension().string();
    if (ext == ".npy")
      vaec::rt::write_npy(o, x, rows, count);
    else if (ext == ".csv")
      vaec::rt::write_csv(o, x, rows, count);
    else if (lay.image)  // .png: a grid of images, ⌈√N⌉ columns, each pixel drawn 2 × 2 (as samples.png)
      vaec::report::write_image_grid(o, x, static_cast<int>(count), {lay.channels, lay.height, lay.width},
                                     static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count)))), 2);
    else  // data that are not images: a plot of the first samples' values (and its .svg)
      vaec::figures::plot_values((fs::path(o).parent_path() / fs::path(o).stem()).string(), x, rows, count,
                                 fmt::format("{} of x ({})", c.draw ? "draws" : "means", vaec::to_string(xt)));
  }
  fmt::print("{} {} of x ({}) from {} ({}, seed {}): {}\n", count, c.draw ? "draws" : "means",
             vaec::rt::likelihood_name(low.likelihood.family),
             posterior   ? fmt::format("the posterior of the first {} examples of {} ({})", count, ed.set->origin, ed.what)
             : aggregate ? fmt::format("the aggregate posterior (1/M) Σ q(z | x_m) over M = {} examples of {} ({}, "
                                       "chosen with the seed)",
                                       vaec::group_thousands(static_cast<std::int64_t>(members.size())), ed.set->origin,
                                       ed.what)
                         : "the prior",
             run->checkpoint.filename().string(), seed, fmt::join(outs, ", "));
  return exit_ok;
}

}  // namespace

// CLI11's message for a command line it cannot take, in vaec's words: "Could not convert:
// --epochs = 1e400" becomes "--epochs 1e400: not a whole number that fits (…)"; every other
// parse error keeps CLI11's text, followed by where to read the options. Takes the top-level
// app (to find the option's expected type) and the error; returns one line without "vaec:".
std::string parse_error_text(CLI::App& app, const CLI::ParseError& e) {
  const std::string what = e.what();
  const std::string prefix = "Could not convert: ";
  std::string verb;
  for (const CLI::App* sub : app.get_subcommands())
    if (sub->parsed()) verb = " " + sub->get_name();
  if (what.rfind(prefix, 0) == 0) {
    const std::size_t eq = what.find(" = ", prefix.size());
    if (eq != std::string::npos) {
      const std::string name = what.substr(prefix.size(), eq - prefix.size());
      const std::string value = what.substr(eq + 3);
      const CLI::Option* opt = nullptr;
      for (const CLI::App* sub : app.get_subcommands())
        if (sub->parsed()) opt = sub->get_option_no_throw(name);
      if (!opt) opt = app.get_option_no_throw(name);
      const std::string type = opt ? opt->get_type_name() : "";
      const std::string expected = type == "INT" || type == "UINT" ? "a whole number written in digits, at most 2147483647"
                                   : type == "FLOAT"               ? "a finite number"
                                                                   : "a value of its kind";
      return fmt::format("{} {}: not {}; see vaec{} --help", name, value, expected, verb);
    }
  }
  // "--epochs: At Most 1 required but received 2": an option given more than once.
  const std::string at_most = ": At Most 1 required but received ";
  if (const std::size_t at = what.find(at_most); at != std::string::npos && what.rfind("-", 0) == 0)
    return fmt::format("{} given {} times; give it once; see vaec{} --help", what.substr(0, at),
                       what.substr(at + at_most.size()), verb);
  // "The following argument was not expected: X": an argument this command does not take.
  const std::string not_expected = "The following argument was not expected: ";
  const std::string not_expected_n = "The following arguments were not expected: ";
  for (const bool one : {true, false}) {
    const std::string& p = one ? not_expected : not_expected_n;
    if (what.rfind(p, 0) == 0)
      return fmt::format("vaec{} does not take {}: {}; see vaec{} --help", verb.empty() ? " (training)" : verb,
                         one ? "this argument" : "these arguments", what.substr(p.size()), verb);
  }
  return fmt::format("{}; see vaec{} --help", what, verb);
}

// What CLI11 would pass over or misread, said before it parses (empty string: nothing):
// an empty argument ("--lr ''" or "--lr=", which CLI11 takes as "not given", so the
// default would run in silence), and a first word that is neither a command, an option nor
// a model file ("vaec chek m.vae", which CLI11 reads as a model path named "chek").
std::string command_line_fault(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::size_t eq = arg.find('=');
    if (arg.empty())
      return i > 1 && argv[i - 1][0] == '-'
                 ? fmt::format("{} is given an empty value; give it a value, or leave the option out for its default; "
                               "see vaec --help",
                               argv[i - 1])
                 : fmt::format("argument {} is empty; remove it; see vaec --help", i);
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos && eq + 1 == arg.size())
      return fmt::format("{} is given an empty value; give it a value (--{}VALUE), or leave the option out for its "
                         "default; see vaec --help",
                         arg.substr(0, eq), arg.substr(2));
  }
  if (argc > 1) {
    const std::string first = argv[1];
    static const std::vector<std::string> verbs = {"check", "graph", "eval", "sample", "compare"};
    std::error_code ec;
    const bool is_verb = std::find(verbs.begin(), verbs.end(), first) != verbs.end();
    if (!is_verb && !first.empty() && first[0] != '-' && first.find('.') == std::string::npos &&
        first.find('/') == std::string::npos && !fs::exists(first, ec)) {
      const auto near = vaec::suggest(first, verbs);
      return fmt::format("'{}' is neither a command ({}) nor a model file{} give the model's .vae file first; see "
                         "vaec --help",
                         first, fmt::join(verbs, ", "),
                         near ? fmt::format(": did you mean 'vaec {}'? To train,", *near) : std::string("; to train,"));
    }
  }
  return {};
}

int vaec_main(int argc, char** argv) {
  // The commands vaec suggests name it as it was run when that was by a path (build/vaec).
  if (argc > 0 && argv[0] && std::strchr(argv[0], '/')) vaec::rt::set_command_name(argv[0]);
  CLI::App app{"vaec: a language for variational autoencoders.\n"
               "  vaec MODEL.vae --data PATH [options]   train\n"
               "  vaec --resume --out RUN_DIR            continue a run from its folder\n"
               "  vaec check MODEL.vae ... [--set K=V]    parse and check; print θ, φ and the objective\n"
               "  vaec graph MODEL.vae [--dot]            print the computation graph\n"
               "  vaec eval RUN_DIR --data PATH [--iw K]  test ELBO and importance-weighted log-likelihood\n"
               "  vaec sample RUN_DIR [-n N] [--out F]    decode latents from the prior or the posterior\n"
               "  vaec compare A.vae B.vae … --data PATH  train and evaluate every model × grid point × seed"};
  app.set_version_flag("--version", std::string("vaec ") + VAEC_VERSION + "\n" + vaec::rt::kernels_info() + "\nMPI: " +
                                        (vaec::rt::mpi::built_in()
                                             ? vaec::rt::mpi::library_description() + " (used under mpirun or srun)"
                                             : vaec::rt::mpi::library_description()));
  app.require_subcommand(0, 1);

  train_cli tc;
  app.add_option("MODEL", tc.model, "the .vae model to train");
  app.add_option("--data", tc.data, "a file (IDX, .npy, CSV), a folder with the train/test IDX pair, or fashion-mnist");
  app.add_option("--epochs", tc.epochs, "passes over the training split");
  app.add_option("--batch", tc.batch, "examples per step");
  app.add_option("--lr", tc.lr, "Adam's learning rate (finite, above 0)");
  app.add_option("--samples", tc.samples, "reparameterized draws per example");
  app.add_option("--seed", tc.seed, "the seed every random draw follows from (0 to 2^64 − 1)");
  app.add_option("--threads", tc.threads, "threads for the matrix products and Adam (default: the machine's cores)");
  auto* out_opt = app.add_option("--out", tc.out, "the run folder (default runs/MODEL-YYYYmmdd-HHMMSS, with -2, -3, … when taken)");
  app.add_option("--set", tc.sets,
                 "NAME=VALUE: override a const of the model, a train key or one of adam's lr, beta1, beta2, eps "
                 "(repeatable), checked like the file itself")
      ->allow_extra_args(false);
  app.add_flag("--resume", tc.resume, "continue the run in --out from its checkpoint, with its own model, data and settings");

  std::vector<std::string> check_files;
  auto* check = app.add_subcommand("check", "parse and check model files; print θ, φ and the objective");
  check->add_option("MODEL", check_files, "a .vae model file")->required();
  std::vector<std::string> check_sets;
  check->add_option("--set", check_sets,
                  "NAME=VALUE: override a const, a train key, or adam's lr, beta1, beta2 or eps (repeatable)")
      ->allow_extra_args(false);

  std::string graph_file;
  bool dot = false;
  auto* graph = app.add_subcommand("graph", "print the computation graph");
  graph->add_option("MODEL", graph_file, "a .vae model file")->required();
  graph->add_flag("--dot", dot, "Graphviz output");
  std::vector<std::string> graph_sets;
  graph->add_option("--set", graph_sets,
                  "NAME=VALUE: override a const, a train key, or adam's lr, beta1, beta2 or eps (repeatable)")
      ->allow_extra_args(false);

  eval_cli ec;
  auto* eval = app.add_subcommand("eval", "test ELBO and importance-weighted log-likelihood of a trained run; writes RUN_DIR/eval.json and RUN_DIR/eval_per_example.npy");
  eval->add_option("RUN_DIR", ec.run_dir, "a run folder")->required();
  eval->add_option("--data", ec.data, "the data (its test split when it has one)")->required();
  eval->add_option("--iw", ec.iw, "K, the importance samples per example (default: the model's eval_samples)");
  eval->add_option("--threads", ec.threads, "threads (default: the machine's cores)");
  eval->add_option("--seed", ec.seed, "the seed of the evaluation's draws (default: the run's seed)");
  eval->add_option("--checkpoint", ec.which, "best (early stopping's best validation ELBO; the default when there is "
                                             "one) or last")
      ->check(CLI::IsMember({"best", "last"}));
  eval->add_flag("--json", ec.json, "print eval.json's text on stdout (everything else goes to stderr)");

  sample_cli sc;
  auto* sample = app.add_subcommand("sample", "decode latents from the prior or the posterior; write x as .npy or .csv");
  sample->add_option("RUN_DIR", sc.run_dir, "a run folder")->required();
  sample->add_option("-n", sc.n, "how many samples (default 64)");
  sample->add_option("--out", sc.out, "FILE.png (an image grid), FILE.npy or FILE.csv; repeatable (default "
                                      "RUN_DIR/sample_FROM_means_seedS.npy, and .png for image data)");
  sample->add_option("--from", sc.from,
                     "prior (default), posterior (encode the first N examples of --data) or aggregate (z from "
                     "(1/M) Σ q(z | x_m) over M training examples)")
      ->check(CLI::IsMember({"prior", "posterior", "aggregate"}));
  sample->add_option("--data", sc.data,
                     "the data to encode: with --from posterior its test split when it has one; with --from "
                     "aggregate its training split (default: the data the run trained on)");
  sample->add_option("--examples", sc.examples, "--from aggregate: M, how many training examples it mixes (default 1000)")
      ->each([&sc](const std::string&) { sc.examples_given = true; });
  sample->add_option("--seed", sc.seed, "the seed of the draws (default: the run's seed)");
  sample->add_option("--threads", sc.threads, "threads (default: the machine's cores)");
  sample->add_option("--checkpoint", sc.which, "best or last (default: best when there is one)")
      ->check(CLI::IsMember({"best", "last"}));
  bool mean_given = false;
  auto* mean_flag = sample->add_flag("--mean", mean_given, "write the likelihood's mean of x (the default)");
  sample->add_flag("--draw", sc.draw, "write draws x ~ p(x | z) instead of means")->excludes(mean_flag);

  vaec::experiments::compare_request cr;
  auto* compare = app.add_subcommand("compare", "train and evaluate every model × grid point × seed, each cell a run "
                                                "folder in DIR/runs; resumable (experiments/README.md)");
  compare->add_option("MODEL", cr.models, "the .vae models to compare");
  compare->add_option("--data", cr.data, "the data every cell trains and is evaluated on");
  compare->add_option("--grid", cr.grid, "NAME=v1,v2,…: an axis of the grid: a constant, a train key, or one of "
                                         "adam's lr, beta1, beta2, eps (repeatable; cells: its product)");
  compare->add_option("--seeds", cr.seeds, "N: seeds 1 … N for every grid point (default 1)");
  compare->add_option("--seed-list", cr.seed_list, "1,5,9: these seeds");
  compare->add_option("--set", cr.sets, "NAME=VALUE for every cell (repeatable)");
  compare->add_option("--epochs", cr.epochs, "passes over the training split for every cell");
  compare->add_option("--iw", cr.iw, "K, importance samples of the evaluation (default: each model's eval_samples)");
  compare->add_option("--jobs", cr.jobs, "cells at once (default: the machine's cores, one thread each)");
  compare->add_option("--threads", cr.threads, "threads per cell (default 1; J × T = the machine's cores)");
  compare->add_option("--baseline", cr.baseline, "the model the others are compared against (default the first)");
  compare->add_option("--out", cr.out, "the comparison's folder (default compare-YYYYmmdd-HHMMSS)");
  compare->add_flag("--resume", cr.resume, "continue the comparison in --out (alone: everything from its compare.json)");

  if (const std::string fault = command_line_fault(argc, argv); !fault.empty()) {
    fmt::print(stderr, "vaec: error: {}\n", fault);
    return exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e) == 0 ? exit_ok : exit_usage;  // --help, --version
    fmt::print(stderr, "vaec: error: {}\n", parse_error_text(app, e));
    return exit_usage;
  }

  try {
    if (vaec::rt::mpi::size() > 1 && (check->parsed() || graph->parsed() || eval->parsed() || sample->parsed())) {
      vaec::rt::mpi::note_others_informed();
      if (vaec::rt::mpi::rank() == 0)
        fmt::print(stderr, "vaec: error: vaec {} runs in one process: run it without mpirun (under mpirun, training "
                           "and vaec compare use the ranks)\n",
                   check->parsed() ? "check" : graph->parsed() ? "graph" : eval->parsed() ? "eval" : "sample");
      return exit_usage;
    }
    if (check->parsed()) return run_check(check_files, check_sets);
    if (graph->parsed()) return run_graph(graph_file, graph_sets, dot);
    if (eval->parsed()) return run_eval(ec);
    if (sample->parsed()) return run_sample(sc);
    if (compare->parsed()) {
      cr.argv.assign(argv, argv + argc);
      vaec::experiments::compare_environment env;
      env.version = VAEC_VERSION;
      env.cores = default_threads();
      env.terminal = isatty(fileno(stderr)) != 0;
      env.check_model = [](const std::string& model, const std::vector<std::string>& sets) {
        return load_model(model, sets).has_value();
      };
      if (vaec::rt::mpi::size() > 1) return vaec::experiments::run_compare_distributed(cr, env);
      return vaec::experiments::run_compare(cr, env);
    }
    if (tc.model.empty() && !tc.resume) {
      std::cout << app.help();
      return exit_usage;
    }
    if (tc.data.empty() && !tc.resume) {
      fmt::print(stderr, "vaec: error: training needs --data PATH (a file, a folder, or fashion-mnist)\n");
      return exit_usage;
    }
    tc.out_given = out_opt->count() > 0;
    if (vaec::rt::mpi::size() > 1) return run_train_ranks(tc);
    return run_train(tc);
  } catch (const usage_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
    return exit_usage;
  } catch (const vaec::experiments::compare_usage_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
    return exit_usage;
  } catch (const vaec::experiments::compare_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::lowering_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::data_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::checkpoint_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::train_error& e) {
    // Data-parallel: an error every rank met at the same step is reported once, by rank 0.
    if (e.every_rank) vaec::rt::mpi::note_others_informed();
    if (!e.every_rank || vaec::rt::mpi::rank() == 0) fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::report::picture_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::decode_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::run_folder_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const fs::filesystem_error&) {
    // An environment problem (a path that cannot be read or made): the path and the reason.
    fmt::print(stderr, "vaec: error: {}\n", startup_agreement::describe(std::current_exception()).second);
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "vaec: error: {}\n", startup_agreement::describe(std::current_exception()).second);
  } catch (const std::exception& e) {
    // Nothing should reach here for bad input; this is the last line of defence.
    fmt::print(stderr, "vaec: internal error: {}\n", e.what());
  }
  return exit_error;
}

// MPI starts only when mpirun or srun started vaec (runtime/mpi.hpp); a plain vaec
// never touches it. Under MPI a rank that fails alone ends the whole job (mpi::finish).
int main(int argc, char** argv) {
  vaec::rt::mpi::init(argc, argv);
  return vaec::rt::mpi::finish(vaec_main(argc, argv));
}
