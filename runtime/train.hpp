// The training loop: batches from a data set, Adam on the objective, one line of figures
// per epoch, metrics.csv, checkpoints written atomically, Ctrl-C and --resume, and a
// stop with a clear message when the loss goes non-finite. Knows nothing of the language.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/dataset.hpp"
#include "runtime/graph.hpp"
#include "runtime/precision.hpp"
#include "runtime/optim.hpp"

namespace vaec::rt {

enum class binarize { none, dynamic, fixed };

struct train_options {
  int epochs = 10;              // passes over the training split
  int batch = 128;              // examples per step
  int samples = 1;              // reparameterized draws per example
  adam_settings adam;           // optimizer
  double beta = 1;              // weight of the KL terms
  double kl_warmup = 0;         // epochs over which the KL weight ramps from 0 to beta
  int kl_cycle = 0;             // restart the warm-up every this many epochs (0: never)
  double free_bits = 0;         // nats per latent below which its KL is not penalized
  binarize binarize_mode = binarize::none;
  std::uint64_t seed = 1;       // every random draw follows from it
  int early_stopping = 0;       // epochs without a better validation ELBO before stopping (0: off)
  int threads = 2;              // OpenMP threads (vaec's, oneDNN's and OpenBLAS's)
  precision products = precision::fp32;  // the training step's products' inputs (evaluation is fp32)
  bool progress = false;        // a live progress bar (on a terminal)
  std::int64_t interrupt_after = -1;  // act as if Ctrl-C came after this many steps (for tests; -1: never)
};

// A problem that stops training: what() is the whole message.
struct train_error : std::runtime_error {
  using std::runtime_error::runtime_error;
  train_error(const std::string& what, bool stopped) : std::runtime_error(what), stopped_run(stopped) {}
  bool stopped_run = false;  // the run trained and then stopped (a non-finite loss), rather than not starting
  // Data-parallel training: every rank throws it at the same step (rank 0 reports it).
  bool every_rank = false;
};

// One epoch's figures (means per example).
struct epoch_metrics {
  int epoch = 0;
  double train_elbo = 0, train_recon = 0, train_kl = 0;
  std::vector<double> train_kl_latent;
  std::optional<double> test_elbo, test_recon, test_kl;
  std::optional<double> valid_elbo;
  double seconds = 0;            // training time of the epoch (evaluation excluded)
  double examples_per_second = 0;
  double beta = 1;               // the KL weight used at the epoch's end
  // objective = iwae: the K-sample importance-weighted bound (K = samples) that training
  // maximizes, on the training batches and on the test set; the *_elbo fields stay ELBOs.
  std::optional<double> train_iw, test_iw;
};

struct train_result {
  std::vector<epoch_metrics> epochs;
  bool interrupted = false;      // stopped by Ctrl-C (a checkpoint was written)
  bool early_stopped = false;
  int best_epoch = 0;            // by validation ELBO when early stopping, else the last
  std::int64_t steps = 0;
};

// What the trainer needs to know about the graph.
struct model_binding {
  const graph* g = nullptr;
  int data = -1;                          // the input node
  std::vector<std::string> latent_names;  // in the objective's order
  int data_width = 0;
  bool data_binary = false;               // values must lie in [0, 1]
  bool bernoulli_likelihood = false;      // p(x | …) is Bernoulli: a probability of binary data only
};

// Where a run lives and what is written there (DESIGN.md §4).
struct run_files {
  std::string dir;                        // the run folder
  std::string metadata_json;              // settings etc., stored in the checkpoint's metadata
  std::function<void(const train_result&, std::span<const float> params)> on_epoch;  // e.g. write summary.json
};

// The KL weight β at `progress` epochs (fractional) into the run: `beta`, or, with a
// warm-up, β = beta · min(1, t / kl_warmup) with t the epochs since the start — or, with
// kl_cycle = C, since the start of the current C-epoch cycle (Fu et al. 2019, "Cyclical
// Annealing Schedule", with a linear ramp over the cycle's first kl_warmup epochs). With
// `at_epoch_end`, an integral `progress` is the end of an epoch (t = C, not 0, when that
// epoch completes a cycle).
double kl_weight(const train_options& o, double progress, bool at_epoch_end);

// Throws train_error when a split does not fit the model: another width, no examples,
// values outside [0, 1] for binary data. Call it before creating the run folder.
void check_data(const model_binding& binding, const data_splits& data);
void check_data(const model_binding& binding, const dataset& data);

// `d` binarized once, x ← [u < x] with u from the stream (seed, binarize_test): the test
// set of a run with binarize = dynamic or static, for training's test figures and for
// vaec eval alike.
dataset binarized_once(const dataset& d, std::uint64_t seed);

// The rows of a metrics.csv text (its header first), for pictures of a run.
std::vector<epoch_metrics> parse_metrics(const std::string& text, std::size_t latents);

// Whether every value of `d` is 0 or 1.
bool is_binary(const dataset& d);

// For binarize = dynamic or static, which read each value as the probability of a 1: throws
// data_error naming `d`'s origin, the first example (counting from 0) and column holding a
// value outside [0, 1], the value, and the fix (scale the data to [0, 1], or binarize =
// none). `mode` names the setting in the message ("dynamic", "static").
void require_probabilities(const dataset& d, std::string_view mode);

// Trains `binding.g`. With `resume`, continues from dir/checkpoint.safetensors and
// reproduces the uninterrupted run's numbers. Throws train_error (non-finite loss,
// data that does not fit the model), data_error, checkpoint_error.
train_result train(const model_binding& binding, const data_splits& data, const train_options& options,
                   const run_files& files, bool resume, std::ostream& log);

// Evaluation of trained parameters on a data set.
struct eval_result {
  double elbo = 0, recon = 0, kl = 0;      // nats per example, means over the examples, S = 1
  std::vector<double> kl_latent;           // each latent's KL(q ‖ p), mean over the examples (objective's order)
  // The importance-weighted bound with K samples (Burda et al. 2016), per example in the
  // data's order: log (1/K) Σ_k p(x, z_k) / q(z_k | x), in double.
  std::vector<double> per_example;
  // Their mean, and its standard error sd / √N (sd with N − 1): mean_and_standard_error(per_example).
  double iw_loglik = 0, iw_stderr = 0;
  int k = 0;
  std::size_t examples = 0;
};

// The mean of `values` (summed in order), their sample standard deviation
// sd = √(Σ (v − mean)² / (N − 1)) and the mean's standard error sd / √N. sd and the error
// are 0 for fewer than 2 values or a non-finite mean; everything is 0 for no values.
struct mean_and_error {
  double mean = 0, sd = 0, standard_error = 0;
};
mean_and_error mean_and_standard_error(std::span<const double> values);

// `elbo_graph` and `iwae_graph` are the same model lowered with the ELBO and the IWAE
// objective; `params` are the trained parameters in the graphs' layout.
// `progress(done, total)`, when given, is called after each block of examples of the
// importance-weighted pass (the long one: K forward samples per example).
eval_result evaluate(const model_binding& elbo_graph, const model_binding& iwae_graph, std::span<const float> params,
                     const dataset& data, int k, std::uint64_t seed, int threads,
                     const std::function<void(std::size_t, std::size_t)>& progress = {});

// Reads the parameters of a run's checkpoint into the graph's layout. Throws checkpoint_error.
std::vector<float> load_parameters(const graph& g, const std::string& checkpoint_path);

// Sets SIGINT (and SIGTERM) to stop training after the current step (once); a second one
// kills. The handler runs on an alternate signal stack of the calling thread, which must be
// the one that calls train(); train() blocks both signals in its other OpenMP threads.
void install_interrupt_handler();
// Whether a SIGINT or SIGTERM came since install_interrupt_handler (train() stops after its
// current step when it does, and clears it when it returns).
bool interrupt_requested();
// The exit status of a command stopped by that interrupt, as a shell reports a process killed
// by the signal: 128 + SIGINT = 130 for a Ctrl-C, 128 + SIGTERM = 143 for a `kill`; 130 when
// no signal came (a test's interrupt_after).
int interrupted_exit_code();
// SIGINT and SIGTERM back to their default action (end the process), e.g. once an
// interrupted run's checkpoint is written.
void restore_default_interrupts();
// Blocks SIGINT and SIGTERM in the current OpenMP team's threads other than the caller (so
// the process's signals reach the caller, whose handler runs on its alternate stack).
void block_interrupts_in_workers();

}  // namespace vaec::rt
