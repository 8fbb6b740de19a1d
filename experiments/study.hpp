// A `vaec compare` folder as its readers see it: DIR/compare.json and, for each cell, what
// its run folder holds (eval.json, eval_per_example.npy, metrics.csv, summary.json,
// pictures), read exactly as experiments/README.md specifies. Read-only: the tables,
// plots and report are drawn from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "experiments/compare.hpp"

namespace vaec::experiments {

// A compare folder that cannot be read: what() names the file, what is wrong with it and
// what to do.
struct study_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A cell's eval.json (every figure in nats per example; nullopt where the file has null
// or, for the optional statistics, where it does not apply).
struct cell_eval {
  std::string vaec_version;
  std::string checkpoint;                   // "best" | "last"
  std::optional<std::int64_t> epochs;       // epochs the checkpoint has seen
  std::string data_path, data_sha256, data_split;
  std::int64_t examples = 0;                // N, the evaluated examples
  bool binarized = false;
  std::optional<std::int64_t> iw_samples;   // K
  std::optional<double> elbo, recon, kl;    // one sample per example, mean over examples
  std::optional<double> log_likelihood;     // IW bound with K samples, mean over examples
  std::optional<double> log_likelihood_se;  // sd / sqrt(N) over examples
  std::optional<double> gap;                // log_likelihood − elbo
  std::optional<double> active_units;       // sum over latents (Burda et al. 2016)
  // Posterior concentration over the sphere latents (nullopt without one): with one sphere
  // latent its mean, min and max over examples; with several, the mean of their means
  // (= the mean over all example × latent pairs, each latent having N), the least min and
  // the greatest max.
  std::optional<double> concentration_mean, concentration_min, concentration_max;
  // Learned Student-t df (mean over examples); with several such latents, their mean.
  std::optional<double> df;
  std::string per_example;                  // file name of the per-example IW log-likelihoods
};

// One cell of compare.json, with its run folder's eval.json when it is done.
struct cell {
  std::string id;
  std::string folder;                       // as compare.json gives it (relative to DIR, or absolute)
  std::filesystem::path dir;                // the run folder, resolved against DIR
  std::string model;                        // a model label
  std::size_t model_index = 0;              // into study::models
  std::vector<std::size_t> grid;            // value index on each grid axis, in study::grid's order
  std::size_t point = 0;                    // the grid point: mixed radix of `grid`, first axis slowest
  std::int64_t seed = 0;
  // pending | training | evaluating | done | failed. A "done" cell whose eval.json cannot
  // be read is made "failed" here, with that as its reason (the reader's own finding,
  // never silently dropped).
  std::string status;
  std::string reason;                       // failed: the cell's own error message; else empty
  std::optional<double> seconds;            // train + eval wall time
  std::optional<cell_eval> eval;            // set exactly when status == "done"
  bool done() const { return eval.has_value(); }
};

struct model_entry {
  std::string path, label, sha256;
};

// grid_axis: experiments/compare.hpp (a --grid NAME=v1,v2,… axis).

// compare.json and its cells.
struct study {
  std::filesystem::path dir;
  std::string vaec_version;
  std::vector<std::string> command;          // argv as given
  std::string data_path, data_sha256;
  std::vector<model_entry> models;           // in the command's order
  std::string baseline;                      // a label
  std::size_t baseline_index = 0;
  std::vector<grid_axis> grid;               // in the command's order; may be empty
  std::vector<std::int64_t> seeds;
  std::vector<std::pair<std::string, std::string>> sets;  // --set NAME=VALUE, in the file's order
  std::optional<std::int64_t> iw_samples;    // nullopt: each model's eval_samples
  std::optional<std::int64_t> jobs, threads;
  std::vector<cell> cells;                   // in compare.json's order

  // Number of grid points: the product of the axes' sizes (1 with no grid).
  std::size_t points() const;
  // The value index on each axis of grid point `point` (first axis slowest).
  std::vector<std::size_t> point_values(std::size_t point) const;
  // "d = 2, beta = 1" ("" with no grid).
  std::string point_label(std::size_t point) const;
};

// Reads DIR/compare.json and every done cell's eval.json. Throws study_error when
// compare.json is missing, is not JSON, lacks a field, or is inconsistent (a cell naming an
// unknown model, grid value or seed; a baseline that is no model's label). A done cell
// whose eval.json is missing or malformed becomes a failed cell whose reason says so, and
// a line on `log` says the same.
study read_study(const std::filesystem::path& dir, std::ostream& log);

// Reads a cell's eval.json text (`path` names it in messages). Throws study_error naming
// the path and the field.
cell_eval parse_eval_json(const std::string& text, const std::string& path);

// Reads a NumPy .npy file holding a 1-D float64 array (format version 1, 2 or 3,
// little-endian '<f8', C order) and returns its values. Throws study_error naming the
// path when it cannot be read, is not such an array, or is truncated or too long.
std::vector<double> read_npy_f64(const std::filesystem::path& path);

// The column `column` of a CSV file with a header (`path` names it in messages): one
// value per row, nullopt where the field is empty or not a number. Throws study_error
// when the file cannot be read or has no such column.
std::vector<std::optional<double>> read_csv_column(const std::filesystem::path& path, const std::string& column);

// The whole file as bytes; nullopt when it does not exist. Throws study_error when it
// exists and cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& path);

}  // namespace vaec::experiments
