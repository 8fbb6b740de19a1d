#include "runtime/run_folder.hpp"
#include "runtime/mpi.hpp"
#include "runtime/optim.hpp"
#include "runtime/os_reason.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vaec::rt {

namespace fs = std::filesystem;

namespace {

constexpr const char* lock_name = "vaec.lock";

std::string reason(const std::error_code& ec) {
  return ec.value() != 0 ? os_reason(ec.value()) : ec.message();
}

// A file descriptor closed on every path out.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// write(2) until done, retrying on EINTR; returns errno or 0.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// The entries of `dir` other than the lock file, sorted (at most `limit`).
std::vector<std::string> entries(const fs::path& dir, std::size_t limit) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != lock_name) names.push_back(name);
  }
  if (ec) throw run_folder_error(fmt::format("cannot list the folder {}: {}", dir.string(), reason(ec)));
  std::sort(names.begin(), names.end());
  if (names.size() > limit) names.resize(limit);
  return names;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", '" : "'") + names[i] + "'";
  return s;
}

// A new run may go into `dir` only if it is empty (but for a stale lock file), or holds
// what a vaec run that died before it started left there: beside its lock file, the
// model's text without run.json (they are written in that order). Throws.
void require_empty(const fs::path& dir) {
  auto names = entries(dir, 8);
  std::error_code ec;
  if (fs::exists(dir / lock_name, ec))
    std::erase_if(names, [](const std::string& n) {
      return n == "model.vae" || (n.ends_with(".tmp") && (n.starts_with("model.vae.") || n.starts_with("run.json.")));
    });
  if (names.empty()) return;
  if (names.size() > 4) names.resize(4);
  if (fs::exists(dir / "run.json", ec) || fs::exists(dir / "checkpoint.safetensors", ec))
    throw run_folder_error(fmt::format("{} already holds a run; continue it with `{}`, or choose another --out",
                                       dir.string(), resume_command(dir.string())));
  throw run_folder_error(fmt::format("{} is not empty (it holds {}{}); vaec writes a new run only into a new or empty "
                                     "folder, so that no file of yours is overwritten: choose another --out",
                                     dir.string(), quoted_list(names), names.size() >= 4 ? ", …" : ""));
}

}  // namespace

std::string shell_word(const std::string& w) {
  const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](unsigned char ch) {
    return std::isalnum(ch) || std::strchr("_./:=+,-@%", ch) != nullptr;
  });
  if (plain) return w;
  std::string q = "'";
  for (char ch : w) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

namespace {
std::string& command_name_store() {
  static std::string name = "vaec";
  return name;
}
}  // namespace

void set_command_name(std::string name) { command_name_store() = std::move(name); }
const std::string& command_name() { return command_name_store(); }

std::string resume_command(const std::string& dir) {
  return fmt::format("{}{} --resume --out {}", mpi::active() ? fmt::format("mpirun -np {} ", mpi::size()) : std::string(),
                     shell_word(command_name()), shell_word(dir));
}

int lock_folder(const fs::path& dir, std::string_view holder_kind, bool new_folder) {
  const fs::path p = dir / lock_name;
  const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw run_folder_error(fmt::format("cannot create files in {}: {} (creating {}); choose a folder you can write "
                                       "to with --out",
                                       dir.string(), os_reason(err), p.string()));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    char buf[64] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 0) {
      std::string s(buf);
      while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
      holder = s;
    }
    ::close(fd);
    if (err == EWOULDBLOCK)
      throw run_folder_error(fmt::format("{} is in use by another {}{}; wait for it to finish, or stop it{}",
                                         dir.string(), holder_kind, holder.empty() ? "" : " (" + holder + ")",
                                         new_folder ? ", or choose another --out" : ""));
    throw run_folder_error(fmt::format("cannot lock {}: {}", p.string(), os_reason(err)));
  }
  // The holder's pid, for the message another process prints.
  const std::string me = fmt::format("pid {}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    const int err = errno;
    ::close(fd);
    throw run_folder_error(fmt::format("cannot write {}: {}", p.string(), os_reason(err)));
  }
  return fd;
}

int run_folder::lock(const fs::path& dir, bool new_folder) { return lock_folder(dir, "vaec process", new_folder); }

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

run_folder run_folder::create(const fs::path& dir) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      throw run_folder_error(fmt::format("--out {}: this is a file, not a folder; choose a new folder name",
                                         dir.string()));
    // A folder that a vaec process is writing now: name that process.
    if (fs::exists(dir / lock_name, ec)) {
      run_folder held(dir, lock(dir));
      require_empty(dir);
      return held;
    }
    require_empty(dir);  // before creating the lock file in someone's folder
  } else {
    fs::create_directories(dir, ec);
    if (ec)
      throw run_folder_error(fmt::format("cannot create the run folder {}: {}; choose a folder you can write to with "
                                         "--out",
                                         dir.string(), reason(ec)));
  }
  run_folder f(dir, lock(dir));
  require_empty(dir);  // again, now that no other vaec process can be writing
  return f;
}

run_folder run_folder::create_unique(const fs::path& parent, const std::string& stem) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec)
    throw run_folder_error(fmt::format("cannot create the folder {} for runs: {}; choose a run folder with --out",
                                       parent.string(), reason(ec)));
  for (int i = 1; i < 10000; ++i) {
    const fs::path dir = parent / (i == 1 ? stem : fmt::format("{}-{}", stem, i));
    if (::mkdir(dir.c_str(), 0755) == 0) return run_folder(dir, lock(dir));
    if (errno != EEXIST)
      throw run_folder_error(fmt::format("cannot create the run folder {}: {}; choose a run folder with --out",
                                         dir.string(), os_reason(errno)));
  }
  throw run_folder_error(fmt::format("{}: 9,999 folders named {}-N exist already; choose a run folder with --out",
                                     parent.string(), stem));
}

namespace {
// Removes what a writer that ended mid-write (kill -9, a second Ctrl-C, a machine that
// stopped) left of its temporary files: CHECKPOINT.tmp (write_checkpoint) and NAME.PID.tmp
// (write_file_atomically). Only the holder of the folder's lock calls it, so no live writer
// owns them; the files they were to replace are whole (written by rename). Best effort: a
// temporary that cannot be removed is left as it was.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(".tmp") || !it->is_regular_file(ec)) continue;
    const std::string stem = name.substr(0, name.size() - 4);
    const auto dot = stem.rfind('.');
    const bool pid_suffix = dot != std::string::npos && dot + 1 < stem.size() &&
                            std::all_of(stem.begin() + static_cast<std::ptrdiff_t>(dot) + 1, stem.end(),
                                        [](unsigned char ch) { return std::isdigit(ch) != 0; });
    if (stem == "checkpoint.safetensors" || stem == "best.safetensors" || pid_suffix) stale.push_back(it->path());
  }
  for (const auto& p : stale) fs::remove(p, ec);
}
}  // namespace

run_folder run_folder::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw run_folder_error(fmt::format("{}: no such run folder", dir.string()));
  if (!fs::exists(dir / "run.json", ec))
    throw run_folder_error(fmt::format("{} is not a run folder of this version of vaec (it has no run.json)",
                                       dir.string()));
  run_folder folder(dir, lock(dir, false));
  remove_stale_temporaries(dir);
  return folder;
}

namespace {
constexpr int observer_fd = -2;  // run_folder::observe: no lock, no writes
}  // namespace

run_folder run_folder::observe(const fs::path& dir) { return run_folder(dir, observer_fd); }

run_folder::run_folder(run_folder&& other) noexcept : dir_(std::move(other.dir_)), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

run_folder::~run_folder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the descriptor releases the flock
}

bool run_folder::has(std::string_view name) const {
  std::error_code ec;
  return fs::exists(file(name), ec);
}

void run_folder::write(std::string_view name, std::string_view content) const {
  if (lock_fd_ == observer_fd)
    throw run_folder_error(fmt::format("{}: only MPI rank 0 writes the run folder", file(name).string()));
  write_file_atomically(file(name), content);
}

std::optional<std::string> run_folder::read(std::string_view name) const {
  const fs::path p = file(name);
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw run_folder_error(fmt::format("cannot read {}", p.string()));
  return ss.str();
}

void run_folder::remove(std::string_view name) const {
  if (lock_fd_ == observer_fd)
    throw run_folder_error(fmt::format("{}: only MPI rank 0 writes the run folder", file(name).string()));
  std::error_code ec;
  fs::remove(file(name), ec);
  if (ec) throw run_folder_error(fmt::format("cannot remove {}: {}", file(name).string(), reason(ec)));
}

void write_file_atomically(const fs::path& path, std::string_view content) {
  // The temporary name carries the pid: two processes writing one name never share it.
  const fs::path tmp = fs::path(fmt::format("{}.{}.tmp", path.string(), ::getpid()));
  auto fail = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
    throw run_folder_error(fmt::format("cannot write {}: {}{}", path.string(), what.empty() ? "" : what + ": ",
                                       os_reason(err)));
  };
  {
    fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0) {
      const int err = errno;
      throw run_folder_error(fmt::format("cannot write {}: {} (creating {})", path.string(), os_reason(err),
                                         tmp.string()));
    }
    if (int err = write_all(f.fd, content)) fail("", err);
    if (::fsync(f.fd) != 0 && errno != EINVAL) fail("fsync", errno);
    const int fd = f.fd;
    f.fd = -1;
    if (::close(fd) != 0) fail("close", errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename from " + tmp.filename().string(), errno);
  // The rename is durable once the directory entry is.
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0 && ::fsync(d.fd) != 0 && errno != EINVAL)
    throw run_folder_error(fmt::format("cannot write {}: fsync of its folder: {}", path.string(), os_reason(errno)));
}

}  // namespace vaec::rt

// ---- run.json --------------------------------------------------------------------------

namespace vaec::rt {

namespace {

const char* binarize_name(binarize b) {
  return b == binarize::none ? "none" : b == binarize::dynamic ? "dynamic" : "static";
}

nlohmann::ordered_json settings_of(const run_record& r) {
  const train_options& o = r.options;
  nlohmann::ordered_json j;
  j["epochs"] = o.epochs;
  j["batch"] = o.batch;
  j["optimizer"] = {{"name", "adam"}, {"lr", o.adam.lr}, {"beta1", o.adam.beta1}, {"beta2", o.adam.beta2},
                    {"eps", o.adam.eps}};
  j["samples"] = o.samples;
  j["objective"] = r.objective;
  j["kl"] = r.kl;
  j["beta"] = o.beta;
  j["kl_warmup"] = o.kl_warmup;
  j["kl_cycle"] = o.kl_cycle;
  j["free_bits"] = o.free_bits;
  j["binarize"] = binarize_name(o.binarize_mode);
  j["eval_samples"] = r.eval_samples;
  j["seed"] = o.seed;
  j["early_stopping"] = o.early_stopping;
  j["threads"] = o.threads;
  j["precision"] = to_string(o.products);
  // Absent for a model without an AggregatePosterior prior (as before they existed).
  for (const auto& ps : r.prior_sources)
    j["prior_sources"].push_back({{"latent", ps.latent},
                                  {"run", ps.run},
                                  {"checkpoint_sha256", ps.checkpoint_sha256},
                                  {"examples", ps.examples}});
  return j;
}

}  // namespace

std::string settings_json(const run_record& r) { return settings_of(r).dump(); }

std::string to_json(const run_record& r) {
  nlohmann::ordered_json j;
  j["format"] = "vaec run";
  j["vaec"] = r.version;
  j["model"] = r.model_name;
  j["model_file"] = r.model_file;
  j["model_sha256"] = r.model_sha256;
  j["data"] = r.data;
  j["data_path"] = r.data_path;
  j["data_fingerprint"] = r.data_fingerprint;
  j["sets"] = r.sets;
  j["settings"] = settings_of(r);
  return j.dump(2) + "\n";
}

namespace {
// Field `key` of the JSON object `o` as T, exactly, for parse_run_record: a whole number
// within T's range (not 8.5, not 1e10 for an int, not −5 for a seed), a finite or any
// number for double, a string. `where` names it in messages ("settings.epochs"). Throws
// run_folder_error naming the file, the field, its value and what it must be.
template <class T>
T field(const nlohmann::json& o, const char* key, const std::string& where, const std::string& path) {
  const auto changed = [&](const std::string& what) {
    return run_folder_error(fmt::format("{}: {} {}; the run folder was changed by hand or comes from another version "
                                        "of vaec",
                                        path, where, what));
  };
  if (!o.is_object() || !o.contains(key)) throw changed("is missing");
  const nlohmann::json& v = o.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw changed(fmt::format("is {}, but it must be a string", v.dump()));
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) throw changed(fmt::format("is {}, but it must be a number", v.dump()));
    return v.get<double>();
  } else {
    static_assert(std::is_integral_v<T>);
    const bool fits = v.is_number_unsigned()  ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                      : v.is_number_integer() ? std::is_signed_v<T> && v.get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min())
                                                && v.get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max())
                                              : false;
    if (!fits)
      throw changed(fmt::format("is {}, but it must be a whole number from {} to {}", v.dump(),
                                std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    return v.get<T>();
  }
}
}  // namespace

run_record parse_run_record(const std::string& text, const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw run_folder_error(fmt::format("{}: not valid JSON; the run folder was changed by hand", path));
  try {
    run_record r;
    r.version = field<std::string>(j, "vaec", "vaec", path);
    r.model_name = field<std::string>(j, "model", "model", path);
    r.model_file = field<std::string>(j, "model_file", "model_file", path);
    r.model_sha256 = field<std::string>(j, "model_sha256", "model_sha256", path);
    r.data = field<std::string>(j, "data", "data", path);
    r.data_path = field<std::string>(j, "data_path", "data_path", path);
    r.data_fingerprint = field<std::string>(j, "data_fingerprint", "data_fingerprint", path);
    if (j.contains("sets")) r.sets = j.at("sets").get<std::vector<std::string>>();  // absent before --set existed
    const auto object = [&](const nlohmann::json& o, const char* key, const std::string& where) -> const nlohmann::json& {
      if (!o.contains(key) || !o.at(key).is_object())
        throw run_folder_error(fmt::format("{}: {} {}; the run folder was changed by hand or comes from another "
                                           "version of vaec",
                                           path, where,
                                           o.contains(key) ? fmt::format("is {}, but it must be an object", o.at(key).dump())
                                                           : std::string("is missing")));
      return o.at(key);
    };
    const auto& s = object(j, "settings", "settings");
    train_options& o = r.options;
    o.epochs = field<int>(s, "epochs", "settings.epochs", path);
    o.batch = field<int>(s, "batch", "settings.batch", path);
    const auto& a = object(s, "optimizer", "settings.optimizer");
    o.adam = {field<double>(a, "lr", "settings.optimizer.lr", path), field<double>(a, "beta1", "settings.optimizer.beta1", path), field<double>(a, "beta2", "settings.optimizer.beta2", path),
              field<double>(a, "eps", "settings.optimizer.eps", path)};
    o.samples = field<int>(s, "samples", "settings.samples", path);
    r.objective = field<std::string>(s, "objective", "settings.objective", path);
    r.kl = field<std::string>(s, "kl", "settings.kl", path);
    o.beta = field<double>(s, "beta", "settings.beta", path);
    o.kl_warmup = field<double>(s, "kl_warmup", "settings.kl_warmup", path);
    o.kl_cycle = field<int>(s, "kl_cycle", "settings.kl_cycle", path);
    o.free_bits = field<double>(s, "free_bits", "settings.free_bits", path);
    const std::string b = field<std::string>(s, "binarize", "settings.binarize", path);
    if (b != "none" && b != "dynamic" && b != "static") throw std::invalid_argument("binarize");
    o.binarize_mode = b == "none" ? binarize::none : b == "dynamic" ? binarize::dynamic : binarize::fixed;
    r.eval_samples = field<int>(s, "eval_samples", "settings.eval_samples", path);
    o.seed = field<std::uint64_t>(s, "seed", "settings.seed", path);
    o.early_stopping = field<int>(s, "early_stopping", "settings.early_stopping", path);
    o.threads = field<int>(s, "threads", "settings.threads", path);
    // Absent before precision existed: those runs computed in fp32.
    const std::string precision = s.contains("precision") ? field<std::string>(s, "precision", "settings.precision", path) : "fp32";
    // The settings as the command line and the checker would have them; a hand-edited
    // value outside them is named.
    auto bad = [&](const char* field, const std::string& value, const char* must) {
      return run_folder_error(fmt::format("{}: settings.{} is {}, but it must be {}; the run folder was changed by hand",
                                          path, field, value, must));
    };
    if (o.epochs < 1) throw bad("epochs", std::to_string(o.epochs), "at least 1");
    if (o.batch < 1) throw bad("batch", std::to_string(o.batch), "at least 1");
    if (o.samples < 1) throw bad("samples", std::to_string(o.samples), "at least 1");
    if (static_cast<long long>(o.batch) * o.samples > std::numeric_limits<int>::max())
      throw bad("samples", std::to_string(o.samples),
                fmt::format("at most {} at batch {} (a step holds batch × samples columns, at most 2,147,483,647)",
                            std::numeric_limits<int>::max() / o.batch, o.batch).c_str());
    if (!adam_lr_usable(o.adam.lr))
      throw bad("optimizer.lr", fmt::format("{}", o.adam.lr), "finite and at least 1.2e-38 (float32's smallest normal)");
    if (!adam_beta_usable(o.adam.beta1))
      throw bad("optimizer.beta1", fmt::format("{}", o.adam.beta1), "in [0, 1) and below 1 in float32");
    if (!adam_beta_usable(o.adam.beta2))
      throw bad("optimizer.beta2", fmt::format("{}", o.adam.beta2), "in [0, 1) and below 1 in float32");
    if (!adam_eps_usable(o.adam.eps))
      throw bad("optimizer.eps", fmt::format("{}", o.adam.eps), "finite and at least 1.2e-38 (float32's smallest normal)");
    if (r.objective != "elbo" && r.objective != "iwae") throw bad("objective", "'" + r.objective + "'", "elbo or iwae");
    if (r.kl != "best" && r.kl != "mc") throw bad("kl", "'" + r.kl + "'", "best or mc");
    if (!(std::isfinite(o.beta) && o.beta >= 0)) throw bad("beta", fmt::format("{}", o.beta), "finite and at least 0");
    if (!(std::isfinite(o.kl_warmup) && o.kl_warmup >= 0)) throw bad("kl_warmup", fmt::format("{}", o.kl_warmup), "at least 0");
    if (o.kl_cycle < 0) throw bad("kl_cycle", std::to_string(o.kl_cycle), "at least 0");
    if (!(std::isfinite(o.free_bits) && o.free_bits >= 0)) throw bad("free_bits", fmt::format("{}", o.free_bits), "at least 0");
    if (r.eval_samples < 1) throw bad("eval_samples", std::to_string(r.eval_samples), "at least 1");
    if (o.early_stopping < 0) throw bad("early_stopping", std::to_string(o.early_stopping), "at least 0");
    if (o.threads < 1 || o.threads > 256) throw bad("threads", std::to_string(o.threads), "from 1 to 256");
    if (precision != "fp32" && precision != "bf16") throw bad("precision", "'" + precision + "'", "fp32 or bf16");
    o.products = precision == "bf16" ? precision::bf16 : precision::fp32;
    if (s.contains("prior_sources"))
      for (const auto& ps : s.at("prior_sources"))
        r.prior_sources.push_back({ps.at("latent").get<std::string>(), ps.at("run").get<std::string>(),
                                   ps.at("checkpoint_sha256").get<std::string>(), ps.at("examples").get<int>()});
    return r;
  } catch (const run_folder_error&) {
    throw;
  } catch (const std::exception& e) {
    throw run_folder_error(fmt::format("{}: a field is missing or of the wrong kind ({}); the run folder was changed "
                                       "by hand or comes from another version of vaec",
                                       path, e.what()));
  }
}

std::string absolute_data_path(const std::string& data) {
  if (data == "fashion-mnist") return data;
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(data), ec);
  return ec ? fs::absolute(data).lexically_normal().string() : p.string();
}

}  // namespace vaec::rt
