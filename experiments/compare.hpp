// vaec compare's engine (experiments/README.md): the cells of a comparison — every model
// × every point of the grids' product × every seed — each trained and then evaluated by
// a child vaec process in an ordinary run folder DIR/runs/ID, J cells at once with T
// threads each; DIR/compare.json (the command, the models' SHA-256, every cell's status)
// rewritten atomically whenever a cell changes status; resume of an interrupted or killed
// comparison from DIR alone. Tables, plots and the HTML report are experiments/tables.*
// and experiments/html.*, which read compare.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

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

// Cells that run elsewhere: on the other ranks of an MPI job (experiments/distributed.*).
// The scheduler gives it a cell's vaec command when it has room, and learns of each
// command's end through poll(); a cell's training and evaluation run in the same place.
class remote_runner {
 public:
  virtual ~remote_runner() = default;
  // Whether a command can start now: anywhere (place < 0) or at `place`.
  virtual bool has_room(int place = -1) const = 0;
  // Starts `args` (a vaec command line) as a child vaec process where there is room (at
  // `place` when it is ≥ 0), its output appended to `log`; sets `place` to where it runs
  // and returns the command's id.
  virtual int start(const std::vector<std::string>& args, const std::filesystem::path& log, int& place) = 0;
  struct ended {
    int id = -1;
    int wait_status = 0;  // as waitpid's
    std::string lost;     // not empty: the place died or stopped answering (why), and wait_status means nothing
  };
  // The commands that ended since the last call.
  virtual std::vector<ended> poll() = 0;
  // Passes SIGINT once to every running command (they stop after their step, keeping
  // their checkpoints).
  virtual void interrupt() = 0;
  // Names a place in messages: "rank 1 (node3)".
  virtual std::string describe(int place) const = 0;
};

// Where and how the comparison runs.
struct compare_environment {
  std::string vaec_exe = "/proc/self/exe";  // the program each cell runs as a child
  std::string version;                      // vaec's version, for compare.json
  int cores = 1;                            // the machine's cores (the default J × T)
  bool terminal = false;                    // stderr is a terminal: a progress bar
  // Checks one model with these --set values ("NAME=VALUE"; a grid point's as "--grid
  // NAME=VALUE", so that a diagnostic shows the option the user typed) as each cell's vaec will,
  // printing its diagnostics; false when it does not check. run_compare calls it for every
  // model at every grid point before DIR is touched, so that a model or a value that
  // cannot train is reported once rather than as every cell failing. Unset: no such check.
  std::function<bool(const std::string& model, const std::vector<std::string>& sets)> check_model;
  // Cells may also run there (besides J at once here); null: every cell runs here.
  std::shared_ptr<remote_runner> remote;
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

// Starts `exe args…` (a cell's vaec train or eval) as a child process in a process group
// of its own, stdin from /dev/null, stdout and stderr appended to `log` (after a line
// "$ vaec ARGS…"), with SIGTERM when its parent dies (PR_SET_PDEATHSIG), and without
// the MPI launcher's environment variables (it is not a rank). Returns its pid. Throws
// compare_error naming the log or the OS's reason. (Other ranks' cells start here too:
// experiments/distributed.*.)
pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& log);

}  // namespace vaec::experiments
