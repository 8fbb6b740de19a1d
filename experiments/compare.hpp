// vaec compare's engine (experiments/README.md): the cells of a comparison — every model
// × every point of the grids' product × every seed — each trained and then evaluated by
// a child vaec process in an ordinary run folder DIR/runs/ID, J cells at once with T
// threads each; DIR/compare.json (the command, the models' SHA-256, every cell's status)
// rewritten atomically whenever a cell changes status; resume of an interrupted or killed
// comparison from DIR alone. Tables, plots and the HTML report are experiments/tables.*
// and experiments/html.*, which read compare.json.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vaec::experiments {

// A malformed or contradictory command line (vaec exits 2); what() is the whole message,
// naming the option and the fix.
struct compare_usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Anything else that stops a comparison before its cells run (a DIR that cannot be
// locked or written, a compare.json changed by hand; vaec exits 1). A failed cell is
// not an exception: it is recorded in compare.json and the others go on.
struct compare_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One --grid axis, NAME=v1,v2,…: a constant or train key of the models and its values,
// as text (they reach each cell as --set NAME=VALUE).
struct grid_axis {
  std::string name;
  std::vector<std::string> values;
};

// Parses "NAME=v1,v2,…". NAME is an identifier ([A-Za-z_][A-Za-z0-9_]*); values are
// non-empty, distinct, of the characters A-Za-z0-9 . _ + - (they name cell folders).
// Throws compare_usage_error naming the argument.
grid_axis parse_grid_axis(const std::string& arg);

// Parses --set's "NAME=VALUE" (NAME an identifier, VALUE non-empty). Throws
// compare_usage_error.
std::pair<std::string, std::string> parse_set(const std::string& arg);

// Parses --seed-list's "1,5,9": distinct whole numbers in 0 … 2^64 − 1. Throws
// compare_usage_error.
std::vector<std::uint64_t> parse_seed_list(const std::string& arg);

// What the command line says (cli/vaec.cpp fills it; nothing is checked there).
struct compare_request {
  std::vector<std::string> argv;    // the command as given (compare.json's "command")
  std::vector<std::string> models;  // .vae paths, in order; empty with --resume --out DIR alone
  std::string data;                 // --data as given ("" when not given)
  std::vector<std::string> grid;    // --grid NAME=v1,v2,… as given, in order
  std::optional<int> seeds;         // --seeds N: seeds 1 … N
  std::optional<std::string> seed_list;  // --seed-list 1,5,9
  std::vector<std::string> sets;    // --set NAME=VALUE as given, in order
  std::optional<int> epochs, iw, jobs, threads;
  std::optional<std::string> baseline;  // a model's path or label
  std::optional<std::string> out;       // DIR (default compare-YYYYmmdd-HHMMSS, made unique)
  bool resume = false;
};

// Where and how the comparison runs.
struct compare_environment {
  std::string vaec_exe = "/proc/self/exe";  // the program each cell runs as a child
  std::string version;                      // vaec's version, for compare.json
  int cores = 1;                            // the machine's cores (the default J × T)
  bool terminal = false;                    // stderr is a terminal: a progress bar
  // Checks one model with these --set values ("NAME=VALUE") as each cell's vaec will,
  // printing its diagnostics; false when it does not check. run_compare calls it for every
  // model at every grid point before DIR is touched, so that a model or a value that
  // cannot train is reported once rather than as every cell failing. Unset: no such check.
  std::function<bool(const std::string& model, const std::vector<std::string>& sets)> check_model;
};

// The default split of `cores` into J cells at once × T threads each, when neither
// --jobs nor --threads is given: J = cores, T = 1 (measured on 2 cores: 2 × 1 is 1.8×
// as fast as 1 × 2 on the S-VAE grid; experiments/README.md).
std::pair<int, int> default_jobs_threads(int cores);

// Runs (or resumes) the comparison `r`: validates it, locks DIR (a second compare on the
// same DIR is refused, naming its pid), writes DIR/compare.json and DIR/models/LABEL.vae
// (the exact sources every cell trains), then trains and evaluates every cell that is
// not done, J at once, with a line on stderr per finished cell and, on a terminal, a
// progress bar with the time left. Returns vaec's exit status: 0 when every cell is done,
// 1 when some failed (each with its reason in compare.json), 130 when interrupted
// (SIGINT or SIGTERM: the running cells are stopped at their next step, keeping their
// checkpoints, and resume exactly on a re-run). Throws compare_usage_error (a bad or
// changed command, naming what differs), compare_error, vaec::rt::run_folder_error and
// vaec::rt::data_error (DIR or the data cannot be used).
int run_compare(const compare_request& r, const compare_environment& env);

}  // namespace vaec::experiments
