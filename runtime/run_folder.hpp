// The run folder (DESIGN.md §4) and its one owner. A run folder is created or opened
// here, locked for the lifetime of the object (a second writer is refused, naming the
// holder's pid), and every file in it is written through write(): to a temporary file
// in the folder (NAME.PID.tmp), flushed and fsync'ed, then renamed over the old one, each step checked,
// so a failure names the path and the OS's reason and never leaves a torn file.
//
// What a run folder holds: model.vae (the exact source), run.json (what --resume must
// verify and needs to continue alone: the model's digest, the data's path and
// fingerprint, the effective settings), metrics.csv, timing.csv, summary.json,
// checkpoint.safetensors, best.safetensors (early stopping), eval.json, pictures, and
// vaec.lock.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/train.hpp"

namespace vaec::rt {

// A run folder that cannot be created, locked, read or written; what() is the whole
// message: the path, the OS's reason, and what to do.
struct run_folder_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class run_folder {
 public:
  // A new run in `dir`. `dir` may not exist yet (it is created, with its parents), or
  // be an empty folder. Throws run_folder_error when `dir` is a file, holds a vaec run
  // ("continue it with vaec --resume --out DIR"), holds anything else (a folder of the
  // user's own files is never written into), cannot be created or written, or is locked
  // by another process.
  static run_folder create(const std::filesystem::path& dir);

  // A new run under `parent` named `stem` (e.g. runs/fashion_gaussian-20261130-061500);
  // when that name exists, `stem-2`, `stem-3`, …: the folder is made with mkdir, which
  // fails if another process made it first, so two runs never share a default folder.
  static run_folder create_unique(const std::filesystem::path& parent, const std::string& stem);

  // An existing run, locked, to continue (--resume) or to add files to (eval); the temporary
  // files a writer killed mid-write left there are removed. Throws run_folder_error when
  // `dir` does not exist, holds no run.json, or is locked.
  static run_folder open(const std::filesystem::path& dir);

  // The run folder `dir` as another MPI rank of a data-parallel run sees it (rank 0 holds
  // it): not locked, and never written (write and remove throw run_folder_error).
  static run_folder observe(const std::filesystem::path& dir);

  run_folder(run_folder&& other) noexcept;
  run_folder& operator=(run_folder&&) = delete;
  run_folder(const run_folder&) = delete;
  ~run_folder();  // releases the lock (the kernel does so too if the process dies)

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path file(std::string_view name) const { return dir_ / name; }
  bool has(std::string_view name) const;

  // Replaces the file `name` in the folder by `content`, atomically (see the top of this
  // file). Throws run_folder_error: "cannot write DIR/NAME: no space left on device".
  void write(std::string_view name, std::string_view content) const;

  // The content of `name`, or nullopt when it does not exist. Throws run_folder_error
  // when it exists but cannot be read.
  std::optional<std::string> read(std::string_view name) const;

  // Removes `name` if it exists (a stale temporary file). Throws run_folder_error.
  void remove(std::string_view name) const;

 private:
  run_folder(std::filesystem::path dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  // new_folder: the message for a folder in use suggests another --out (a new run).
  static int lock(const std::filesystem::path& dir, bool new_folder = true);
  std::filesystem::path dir_;
  int lock_fd_ = -1;
};

// The source run of an AggregatePosterior prior, as a run that uses one records it (run.json,
// summary.json and the checkpoint's metadata, under settings.prior_sources): --resume, vaec eval
// and vaec sample read the source again from `run` and refuse it when its checkpoint's
// SHA-256 is not `checkpoint_sha256`.
struct prior_source {
  std::string latent;             // the latent whose prior it is
  std::string run;                // the source run folder, absolute
  std::string checkpoint_sha256;  // SHA-256 of its checkpoint.safetensors, as used
  int examples = 0;               // M, the components
};

// What run.json records: what --resume must verify, and everything it needs to continue
// with `vaec --resume --out DIR` alone.
struct run_record {
  std::string model_name;
  std::string model_file;        // the model's path when the run started (for messages)
  std::string model_sha256;      // SHA-256 of model.vae, the exact source
  std::string data;              // --data as given
  std::string data_path;         // the same, absolute (or the name fashion-mnist)
  std::string data_fingerprint;  // runtime/digest.hpp: fingerprint(data_splits)
  std::vector<std::string> sets;  // the command line's --set NAME=VALUE, as given: the model is checked with them
  train_options options;         // the effective settings (file, then command line)
  std::string objective = "elbo";  // elbo | iwae (for reports; the model file decides)
  std::string kl = "best";         // best | mc
  int eval_samples = 500;
  std::string version;           // vaec's version
  std::vector<prior_source> prior_sources;  // AggregatePosterior priors' sources (none for most models)
};

// run.json's text for `r` (nlohmann-json, 2-space indent, keys in a fixed order).
std::string to_json(const run_record& r);

// Reads run.json's text. Throws run_folder_error naming `path` when a field is missing or
// of the wrong kind.
run_record parse_run_record(const std::string& text, const std::string& path);

// The settings of `o` as JSON text (for summary.json and the checkpoint's metadata).
std::string settings_json(const run_record& r);

// Locks `dir` for this process: flock on DIR/vaec.lock, which then holds "pid N" for the
// message another process prints. Returns the lock's file descriptor (the lock lasts until
// it is closed, or the process ends). `holder_kind` names such a process in that message
// ("vaec process", "vaec compare"). Throws run_folder_error when the lock file cannot be
// created or written, or "DIR is in use by another HOLDER_KIND (pid N)".
// `new_folder`: the message for a folder in use also suggests another --out (for a new run
// or comparison; not for one that continues or evaluates the folder's own).
int lock_folder(const std::filesystem::path& dir, std::string_view holder_kind, bool new_folder = true);

// --data as a run or a comparison records it: the name fashion-mnist as it is, a path made
// absolute (so that a resume from another folder finds the same files). Throws nothing.
std::string absolute_data_path(const std::string& data);

// The local time as YYYYmmdd-HHMMSS, for default folder names.
std::string timestamp();

// A word as a POSIX shell reads it back: as it is when it holds only characters the shell
// leaves alone (letters, digits and _./:=+,-@%), else in single quotes (a ' inside as
// '\''). For the commands vaec prints for the user to paste. Throws nothing but bad_alloc.
std::string shell_word(const std::string& word);

// The program's name in the commands vaec suggests (a resume hint): "vaec" unless the
// program sets another — the vaec command sets its argv[0] when that names a path
// (build/vaec after the README's setup, where vaec is not on PATH).
void set_command_name(std::string name);
const std::string& command_name();

// "[mpirun -np N ]PROGRAM --resume --out DIR", ready to paste into a shell (the program and
// the folder as shell words; mpirun when this process is one of several MPI ranks).
std::string resume_command(const std::string& dir);

// Writes `content` to `path` atomically (temporary file beside it, fsync, rename, fsync
// of the folder). Throws run_folder_error naming the path and the OS's reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace vaec::rt
