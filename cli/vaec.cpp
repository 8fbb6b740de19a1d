// vaec: the command line. Each verb is a straight line: read → parse → check → lower →
// plan → train (or evaluate); argument parsing and output only.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lang/check.hpp"
#include "lang/diagnostic.hpp"
#include "lang/lower.hpp"
#include "lang/parse.hpp"
#include "lang/report.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/train.hpp"

namespace {

namespace fs = std::filesystem;

// Exit statuses.
constexpr int exit_ok = 0;
constexpr int exit_error = 1;        // a problem in the user's input or a failed run
constexpr int exit_usage = 2;        // a malformed command line
constexpr int exit_interrupted = 130;

struct loaded {
  std::string text;  // the exact source
  vaec::checked_model model;
};

// Reads, parses and checks one model file; prints diagnostics to stderr.
std::optional<loaded> load_model(const std::string& path) {
  std::string why;
  auto src = vaec::source::read_file(path, why);
  if (!src) {
    fmt::print(stderr, "{}: error: cannot read the model file: {}\n", path, why);
    return std::nullopt;
  }
  vaec::diagnostics diags(*src);
  std::optional<vaec::checked_model> model;
  if (auto ast = vaec::parse(*src, diags)) model = vaec::check(*ast, diags, fs::path(path).stem().string());
  std::string rendered = diags.render();
  if (!rendered.empty()) fmt::print(stderr, "{}", rendered);
  if (diags.has_errors() || !model) {
    std::size_t n = diags.error_count();
    fmt::print(stderr, "{} error{} in {}\n", n, n == 1 ? "" : "s", path);
    return std::nullopt;
  }
  return loaded{src->text(), std::move(*model)};
}

int run_check(const std::vector<std::string>& files) {
  int status = exit_ok;
  bool first = true;
  for (const auto& file : files) {
    if (!first) fmt::print("\n");
    first = false;
    auto m = load_model(file);
    if (!m) {
      status = exit_error;
      continue;
    }
    fmt::print("{}", vaec::describe(m->model));
  }
  std::fflush(stdout);
  return status;
}

int run_graph(const std::string& file, bool dot) {
  auto m = load_model(file);
  if (!m) return exit_error;
  vaec::lowered_model low = vaec::lower(m->model);
  fmt::print("{}", dot ? low.graph.to_dot() : low.graph.to_text());
  return exit_ok;
}

// The machine's cores (2 here): more threads than cores only make OpenMP's barriers wait.
int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

struct train_cli {
  std::string model;
  std::string data;
  std::optional<int> epochs, batch, samples, threads;
  std::optional<double> lr;
  std::optional<std::uint64_t> seed;
  std::string out;
  bool resume = false;
};

nlohmann::json settings_json(const vaec::rt::train_options& o, int eval_samples, const std::string& objective,
                             const std::string& kl) {
  return {{"epochs", o.epochs},
          {"batch", o.batch},
          {"optimizer", {{"name", "adam"}, {"lr", o.adam.lr}, {"beta1", o.adam.beta1}, {"beta2", o.adam.beta2}, {"eps", o.adam.eps}}},
          {"samples", o.samples},
          {"objective", objective},
          {"kl", kl},
          {"beta", o.beta},
          {"kl_warmup", o.kl_warmup},
          {"free_bits", o.free_bits},
          {"binarize", o.binarize_mode == vaec::rt::binarize::none      ? "none"
                       : o.binarize_mode == vaec::rt::binarize::dynamic ? "dynamic"
                                                                         : "static"},
          {"eval_samples", eval_samples},
          {"seed", o.seed},
          {"early_stopping", o.early_stopping},
          {"threads", o.threads}};
}

int run_train(const train_cli& c) {
  auto m = load_model(c.model);
  if (!m) return exit_error;
  const vaec::checked_model& model = m->model;
  const vaec::train_settings& s = model.settings;
  vaec::rt::train_options o;
  o.epochs = c.epochs.value_or(s.epochs);
  o.batch = c.batch.value_or(s.batch);
  o.samples = c.samples.value_or(s.samples);
  o.adam = {c.lr.value_or(s.lr), s.beta1, s.beta2, s.eps};
  o.beta = s.beta;
  o.kl_warmup = s.kl_warmup;
  o.free_bits = s.free_bits;
  o.binarize_mode = s.binarize == vaec::binarize_mode::none      ? vaec::rt::binarize::none
                    : s.binarize == vaec::binarize_mode::dynamic ? vaec::rt::binarize::dynamic
                                                                 : vaec::rt::binarize::fixed;
  o.seed = c.seed.value_or(s.seed);
  o.early_stopping = s.early_stopping;
  o.threads = c.threads.value_or(default_threads());
  o.progress = isatty(fileno(stderr)) != 0;
  if (o.epochs < 1 || o.batch < 1 || o.samples < 1 || o.threads < 1 || !(o.adam.lr > 0)) {
    fmt::print(stderr, "vaec: error: --epochs, --batch, --samples, --threads and --lr must be positive\n");
    return exit_usage;
  }
  if (c.resume && c.out.empty()) {
    fmt::print(stderr, "vaec: error: --resume needs --out RUN_DIR, the run folder to continue\n");
    return exit_usage;
  }

  vaec::lowered_model low = vaec::lower(model);
  vaec::rt::model_binding binding = vaec::bind(low, model);
  vaec::rt::data_splits data = vaec::rt::load_data(c.data);

  const std::string dir = !c.out.empty() ? c.out : (fs::path("runs") / (model.name + "-" + timestamp())).string();
  if (c.resume) {
    if (!fs::exists(fs::path(dir) / "checkpoint.safetensors")) {
      fmt::print(stderr, "vaec: error: {}: no checkpoint.safetensors to resume from\n", dir);
      return exit_error;
    }
  } else if (fs::exists(fs::path(dir) / "checkpoint.safetensors")) {
    fmt::print(stderr, "vaec: error: {} already holds a run; continue it with --resume, or choose another --out\n", dir);
    return exit_error;
  }
  fs::create_directories(dir);
  if (!c.resume) {
    std::ofstream src(fs::path(dir) / "model.vae", std::ios::binary);
    src << m->text;
  }

  const std::string objective = s.objective == vaec::objective_kind::iwae ? "iwae" : "elbo";
  const std::string kl = s.kl == vaec::kl_choice::mc ? "mc" : "best";
  nlohmann::json settings = settings_json(o, s.eval_samples, objective, kl);
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
    nlohmann::json summary = {
        {"model", model.name},
        {"model_file", c.model},
        {"data", c.data},
        {"train_examples", data.train.count},
        {"test_examples", data.test ? data.test->count : 0},
        {"settings", settings},
        {"parameters", {{"theta", model.theta_count()}, {"phi", model.phi_count()}}},
        {"latents", latents},
        {"final", final_figures},
        {"epochs_completed", r.epochs.size()},
        {"training_seconds_this_process", seconds},
        {"versions", {{"vaec", VAEC_VERSION}, {"blas", "OpenBLAS (OpenMP)"}, {"compiler", __VERSION__}}},
    };
    std::ofstream f(fs::path(dir) / "summary.json.tmp");
    f << summary.dump(2) << "\n";
    f.close();
    fs::rename(fs::path(dir) / "summary.json.tmp", fs::path(dir) / "summary.json");
  };

  fmt::print("training {} on {}: {} train{} examples, batch {}, {} sample{}, {} thread{} (OpenBLAS, OpenMP)\n",
             model.name, c.data, vaec::group_thousands(static_cast<std::int64_t>(data.train.count)),
             data.test ? fmt::format(" / {} test", vaec::group_thousands(static_cast<std::int64_t>(data.test->count))) : "",
             o.batch, o.samples, o.samples == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");
  fmt::print("run folder: {}\n", dir);
  std::fflush(stdout);
  vaec::rt::install_interrupt_handler();
  vaec::rt::train_result r = vaec::rt::train(binding, data, o, files, c.resume, std::cout);
  if (r.interrupted) {
    fmt::print("resume with: vaec {} --data {} --out {} --resume\n", c.model, c.data, dir);
    return exit_interrupted;
  }
  fmt::print("done: {} epoch{}; run folder: {}\n", r.epochs.size(), r.epochs.size() == 1 ? "" : "s", dir);
  return exit_ok;
}

int run_eval(const std::string& run_dir, const std::string& data_path, std::optional<int> iw, std::optional<int> threads) {
  const std::string model_path = (fs::path(run_dir) / "model.vae").string();
  if (!fs::exists(model_path)) {
    fmt::print(stderr, "vaec: error: {}: not a run folder (no model.vae)\n", run_dir);
    return exit_error;
  }
  auto m = load_model(model_path);
  if (!m) return exit_error;
  const int k = iw.value_or(m->model.settings.eval_samples);
  if (k < 1) {
    fmt::print(stderr, "vaec: error: --iw must be positive\n");
    return exit_usage;
  }
  vaec::lowered_model elbo = vaec::lower(m->model, {false});
  vaec::lowered_model iwae = vaec::lower(m->model, {true});
  std::vector<float> params =
      vaec::rt::load_parameters(elbo.graph, (fs::path(run_dir) / "checkpoint.safetensors").string());
  vaec::rt::data_splits data = vaec::rt::load_data(data_path);
  const vaec::rt::dataset& d = data.test ? *data.test : data.train;
  fmt::print("evaluating {} on {} ({} examples{})\n", m->model.name, d.origin, vaec::group_thousands(static_cast<std::int64_t>(d.count)),
             data.test ? ", the test split" : "");
  auto r = vaec::rt::evaluate(vaec::bind(elbo, m->model), vaec::bind(iwae, m->model), params, d, k, m->model.settings.seed,
                              threads.value_or(default_threads()));
  fmt::print("  ELBO                 {:10.3f} nats\n", r.elbo);
  fmt::print("  reconstruction       {:10.3f}\n", r.recon);
  fmt::print("  KL                   {:10.3f}\n", r.kl);
  fmt::print("  log p(x), IW K={:<5} {:10.3f} ± {:.3f} (standard error over examples)\n", k, r.iw_loglik, r.iw_stderr);
  fmt::print("  gap log p(x) − ELBO  {:10.3f}   (estimates E[KL(q(z|x) ‖ p(z|x))])\n", r.iw_loglik - r.elbo);
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vaec: a language for variational autoencoders.\n"
               "  vaec MODEL.vae --data PATH [options]   train\n"
               "  vaec check MODEL.vae ...                parse and check; print θ, φ and the objective\n"
               "  vaec graph MODEL.vae [--dot]            print the computation graph\n"
               "  vaec eval RUN_DIR --data PATH [--iw K]  test ELBO and importance-weighted log-likelihood"};
  app.set_version_flag("--version", std::string("vaec ") + VAEC_VERSION);
  app.require_subcommand(0, 1);

  train_cli tc;
  app.add_option("MODEL", tc.model, "the .vae model to train");
  app.add_option("--data", tc.data, "a file (IDX, .npy, CSV), a folder with the train/test IDX pair, or fashion-mnist");
  app.add_option("--epochs", tc.epochs, "passes over the training split");
  app.add_option("--batch", tc.batch, "examples per step");
  app.add_option("--lr", tc.lr, "Adam's learning rate");
  app.add_option("--samples", tc.samples, "reparameterized draws per example");
  app.add_option("--seed", tc.seed, "the seed every random draw follows from");
  app.add_option("--threads", tc.threads, "threads for the matrix products and Adam (default: the machine's cores)");
  app.add_option("--out", tc.out, "the run folder (default runs/MODEL-YYYYmmdd-HHMMSS)");
  app.add_flag("--resume", tc.resume, "continue the run in --out from its checkpoint");

  std::vector<std::string> check_files;
  auto* check = app.add_subcommand("check", "parse and check model files; print θ, φ and the objective");
  check->add_option("MODEL", check_files, "a .vae model file")->required();

  std::string graph_file;
  bool dot = false;
  auto* graph = app.add_subcommand("graph", "print the computation graph");
  graph->add_option("MODEL", graph_file, "a .vae model file")->required();
  graph->add_flag("--dot", dot, "Graphviz output");

  std::string run_dir, eval_data;
  std::optional<int> iw, eval_threads;
  auto* eval = app.add_subcommand("eval", "test ELBO and importance-weighted log-likelihood of a trained run");
  eval->add_option("RUN_DIR", run_dir, "a run folder")->required();
  eval->add_option("--data", eval_data, "the data (its test split when it has one)")->required();
  eval->add_option("--iw", iw, "K, the importance samples per example (default: the model's eval_samples)");
  eval->add_option("--threads", eval_threads, "threads (default: the machine's cores)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  try {
    if (check->parsed()) return run_check(check_files);
    if (graph->parsed()) return run_graph(graph_file, dot);
    if (eval->parsed()) return run_eval(run_dir, eval_data, iw, eval_threads);
    if (tc.model.empty()) {
      std::cout << app.help();
      return exit_usage;
    }
    if (tc.data.empty()) {
      fmt::print(stderr, "vaec: error: training needs --data PATH (a file, a folder, or fashion-mnist)\n");
      return exit_usage;
    }
    return run_train(tc);
  } catch (const vaec::lowering_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::data_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::checkpoint_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const vaec::rt::train_error& e) {
    fmt::print(stderr, "vaec: error: {}\n", e.what());
  } catch (const std::exception& e) {
    // Nothing should reach here for bad input; this is the last line of defence.
    fmt::print(stderr, "vaec: internal error: {}\n", e.what());
  }
  return exit_error;
}
