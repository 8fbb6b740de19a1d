#include "experiments/compare.hpp"
#include "experiments/plots.hpp"
#include "experiments/tables.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "runtime/data/dataset.hpp"
#include "runtime/digest.hpp"
#include "runtime/mpi.hpp"
#include "runtime/run_folder.hpp"
#include "runtime/os_reason.hpp"

namespace vaec::experiments {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

constexpr int max_threads = 256;  // as vaec's --threads
constexpr int max_jobs = 256;
constexpr const char* lock_name = "vaec.lock";

// ---- parsing the command line ----------------------------------------------------------

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool is_value(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' || c == '-';
         });
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::optional<std::uint64_t> to_seed(const std::string& s) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

}  // namespace

grid_axis parse_grid_axis(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos)
    throw compare_usage_error(fmt::format("--grid {}: write the axis as NAME=v1,v2,… (e.g. --grid d=2,5,10)", arg));
  grid_axis a;
  a.name = arg.substr(0, eq);
  if (!is_identifier(a.name))
    throw compare_usage_error(fmt::format("--grid {}: '{}' is not a name (letters, digits and _, not starting with a "
                                          "digit): NAME=v1,v2,…",
                                          arg, a.name));
  if (a.name == "seed")
    throw compare_usage_error(fmt::format("--grid {}: the seeds of a comparison are given with --seeds N or "
                                          "--seed-list 1,5,9",
                                          arg));
  a.values = split(arg.substr(eq + 1), ',');
  std::set<std::string> seen;
  for (const auto& v : a.values) {
    if (v.empty())
      throw compare_usage_error(fmt::format("--grid {}: an empty value; write the values separated by commas, "
                                            "without spaces (e.g. {}=2,5,10)",
                                            arg, a.name));
    if (!is_value(v))
      throw compare_usage_error(fmt::format("--grid {}: the value '{}' has a character other than letters, digits, "
                                            "'.', '_', '+' and '-' (values name the cells' folders)",
                                            arg, v));
    if (!seen.insert(v).second)
      throw compare_usage_error(fmt::format("--grid {}: the value '{}' is given twice", arg, v));
    // The same number written twice (1e-3 and 0.001) would train the same cell twice.
    if (const auto number = numeric_value(v))
      for (const auto& earlier : a.values) {
        if (&earlier == &v) break;
        if (numeric_value(earlier) == number)
          throw compare_usage_error(fmt::format("--grid {}: '{}' and '{}' are the same number; give it once", arg,
                                                earlier, v));
      }
  }
  return a;
}

std::pair<std::string, std::string> parse_set(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    throw compare_usage_error(fmt::format("--set {}: write NAME=VALUE (e.g. --set kl_warmup=10)", arg));
  std::string name = arg.substr(0, eq), value = arg.substr(eq + 1);
  if (!is_identifier(name))
    throw compare_usage_error(fmt::format("--set {}: '{}' is not a name (letters, digits and _, not starting with a "
                                          "digit)",
                                          arg, name));
  if (name == "seed")
    throw compare_usage_error(fmt::format("--set {}: the seeds of a comparison are given with --seeds N or "
                                          "--seed-list 1,5,9",
                                          arg));
  return {name, value};
}

std::vector<std::uint64_t> parse_seed_list(const std::string& arg) {
  std::vector<std::uint64_t> seeds;
  for (const auto& s : split(arg, ',')) {
    const auto v = to_seed(s);
    if (!v)
      throw compare_usage_error(fmt::format("--seed-list {}: '{}' is not a seed (a whole number from 0 to "
                                            "18446744073709551615), e.g. --seed-list 1,5,9",
                                            arg, s));
    if (std::find(seeds.begin(), seeds.end(), *v) != seeds.end())
      throw compare_usage_error(fmt::format("--seed-list {}: the seed {} is given twice", arg, *v));
    seeds.push_back(*v);
  }
  return seeds;
}

std::pair<int, int> default_jobs_threads(int cores) { return {std::max(1, cores), 1}; }

namespace {

// ---- the plan: what compare.json records -------------------------------------------------

struct model_entry {
  std::string path;    // as given
  std::string label;   // the file's stem, made unique with -2, -3
  std::string sha256;  // of the exact source
  std::string source;  // the text (not in compare.json; DIR/models/LABEL.vae holds it)
};

struct cell_run {
  std::string id, folder, model;  // folder relative to DIR; model: the label
  std::vector<std::pair<std::string, std::string>> grid;
  std::uint64_t seed = 1;
  std::string status = "pending";  // pending | training | evaluating | done | failed
  std::optional<std::string> reason;
  std::optional<double> seconds;
};

struct plan {
  std::vector<std::string> command;
  std::string data_path, data_sha256;
  std::vector<model_entry> models;
  std::string baseline;
  std::vector<grid_axis> grid;
  std::vector<std::uint64_t> seeds;
  std::vector<std::pair<std::string, std::string>> sets;  // --set, then --epochs as "epochs"
  std::optional<int> iw;
  int jobs = 1, threads = 1;
  std::vector<cell_run> cells;
};



// compare.json's data.sha256: the SHA-256 of the data's fingerprint (runtime/digest.hpp:
// SHA-256 over both splits' values and labels), so that other data of the same shape,
// or the same files changed, are told apart. Throws vaec::rt::data_error.
std::string data_sha256(const std::string& path) {
  const vaec::rt::data_splits d = vaec::rt::load_data(path);
  return vaec::rt::sha256_hex(vaec::rt::fingerprint(d));
}

std::string read_text(const fs::path& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  if (ok) ss << in.rdbuf();
  return ss.str();
}

std::string seed_list_text(const std::vector<std::uint64_t>& seeds) { return fmt::format("{}", fmt::join(seeds, ",")); }

std::string grid_text(const std::vector<grid_axis>& grid) {
  if (grid.empty()) return "none";
  std::vector<std::string> axes;
  for (const auto& a : grid) axes.push_back(fmt::format("{}={}", a.name, fmt::join(a.values, ",")));
  return fmt::format("{}", fmt::join(axes, " "));
}

std::string sets_text(const std::vector<std::pair<std::string, std::string>>& sets) {
  if (sets.empty()) return "none";
  std::vector<std::string> s;
  for (const auto& [k, v] : sets) s.push_back(k + "=" + v);
  return fmt::format("{}", fmt::join(s, " "));
}

// The cells of `p`: models × grid points (the first axis outermost) × seeds.
std::vector<cell_run> make_cells(const plan& p) {
  std::vector<cell_run> cells;
  std::size_t points = 1;
  for (const auto& a : p.grid) points *= a.values.size();
  for (const auto& m : p.models)
    for (std::size_t k = 0; k < points; ++k) {
      std::vector<std::pair<std::string, std::string>> g(p.grid.size());
      std::size_t rest = k;
      for (std::size_t i = p.grid.size(); i-- > 0;) {
        const auto& vs = p.grid[i].values;
        g[i] = {p.grid[i].name, vs[rest % vs.size()]};
        rest /= vs.size();
      }
      for (std::uint64_t s : p.seeds) {
        cell_run c;
        c.id = m.label;
        for (const auto& [n, v] : g) c.id += "-" + n + "=" + v;
        c.id += fmt::format("-seed{}", s);
        c.folder = "runs/" + c.id;
        c.model = m.label;
        c.grid = g;
        c.seed = s;
        cells.push_back(std::move(c));
      }
    }
  return cells;
}

// The plan the command line asks for (without jobs and threads). Throws
// compare_usage_error.
plan plan_of(const compare_request& r) {
  plan p;
  p.command = r.argv;
  if (r.data.empty())
    throw compare_usage_error("vaec compare needs --data PATH (a file, a folder, or fashion-mnist)");
  for (const auto& g : r.grid) {
    grid_axis a = parse_grid_axis(g);
    for (const auto& b : p.grid)
      if (b.name == a.name)
        throw compare_usage_error(fmt::format("--grid {}: the axis '{}' is given twice; give all its values in one "
                                              "--grid {}=v1,v2,…",
                                              g, a.name, a.name));
    if (a.name == "epochs" && r.epochs)
      throw compare_usage_error(fmt::format("--grid {} and --epochs {}: give the epochs once", g, *r.epochs));
    p.grid.push_back(std::move(a));
  }
  for (const auto& s : r.sets) {
    auto kv = parse_set(s);
    for (const auto& [k, v] : p.sets)
      if (k == kv.first) throw compare_usage_error(fmt::format("--set {}: '{}' is set twice ({}={})", s, k, k, v));
    for (const auto& a : p.grid)
      if (a.name == kv.first)
        throw compare_usage_error(fmt::format("--set {}: '{}' is a --grid axis too; give it one way", s, kv.first));
    if (kv.first == "epochs" && r.epochs)
      throw compare_usage_error(fmt::format("--set {} and --epochs {}: give the epochs once", s, *r.epochs));
    p.sets.push_back(std::move(kv));
  }
  if (r.epochs) {
    if (*r.epochs < 1) throw compare_usage_error(fmt::format("--epochs {}: train for at least 1 epoch", *r.epochs));
    p.sets.emplace_back("epochs", std::to_string(*r.epochs));
  }
  for (const auto& [k, v] : p.sets)
    if (k == "epochs" && !(to_seed(v) && *to_seed(v) >= 1 && *to_seed(v) <= 1000000000))
      throw compare_usage_error(fmt::format("--set epochs={}: the epochs are a whole number, at least 1", v));
  if (r.seeds && r.seed_list)
    throw compare_usage_error("--seeds and --seed-list: give the seeds one way (--seeds N means 1,2,…,N)");
  if (r.seeds) {
    if (*r.seeds < 1 || *r.seeds > 100000)
      throw compare_usage_error(fmt::format("--seeds {}: the number of seeds is at least 1 (seeds 1 … N)", *r.seeds));
    for (int s = 1; s <= *r.seeds; ++s) p.seeds.push_back(static_cast<std::uint64_t>(s));
  } else if (r.seed_list) {
    p.seeds = parse_seed_list(*r.seed_list);
  } else {
    p.seeds = {1};
  }
  if (r.iw) {
    if (*r.iw < 1) throw compare_usage_error(fmt::format("--iw {}: K must be at least 1", *r.iw));
    if (*r.iw > 1000000)
      throw compare_usage_error(fmt::format("--iw {}: at most 1,000,000 samples per example", *r.iw));
    p.iw = r.iw;
  }
  // The models: each file read now (its SHA-256 is the comparison's identity).
  std::map<std::string, int> stems;
  for (const auto& path : r.models) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      throw compare_usage_error(fmt::format("{}: no such model file (vaec compare A.vae B.vae … --data PATH)", path));
    bool ok = false;
    model_entry m;
    m.path = path;
    m.source = read_text(path, ok);
    if (!ok) throw compare_usage_error(fmt::format("{}: cannot read the model file: {}", path, os_reason(errno)));
    m.sha256 = vaec::rt::sha256_hex(m.source);
    // The same model twice gives the same cells twice, and a difference of exactly 0.
    for (const auto& e : p.models)
      if (e.sha256 == m.sha256)
        throw compare_usage_error(fmt::format("{} is the same model as {} (the same text): give each model once", path,
                                              e.path));
    const std::string stem = fs::path(path).stem().string();
    const int n = ++stems[stem];
    m.label = n == 1 ? stem : fmt::format("{}-{}", stem, n);
    // A later stem may collide with an earlier label (a-2.vae after two a.vae): count on.
    while (std::any_of(p.models.begin(), p.models.end(), [&](const model_entry& e) { return e.label == m.label; }))
      m.label = fmt::format("{}-{}", stem, ++stems[stem]);
    if (!is_value(m.label))
      throw compare_usage_error(fmt::format("{}: the file's name '{}' names the cells' folders: use letters, digits, "
                                            "'.', '_', '+' and '-' only",
                                            path, stem));
    p.models.push_back(std::move(m));
  }
  p.baseline = p.models.empty() ? "" : p.models.front().label;
  if (r.baseline) {
    std::error_code ec;
    const fs::path b = fs::weakly_canonical(fs::absolute(*r.baseline), ec);
    auto it = std::find_if(p.models.begin(), p.models.end(), [&](const model_entry& m) {
      std::error_code e2;
      return m.label == *r.baseline || fs::weakly_canonical(fs::absolute(m.path), e2) == b;
    });
    if (it == p.models.end())
      throw compare_usage_error(fmt::format("--baseline {}: not one of the compared models (give one of their paths "
                                            "or labels)",
                                            *r.baseline));
    p.baseline = it->label;
  }
  p.data_path = vaec::rt::absolute_data_path(r.data);
  p.cells = make_cells(p);
  return p;
}

// ---- compare.json ----------------------------------------------------------------------

ojson to_json(const plan& p, const std::string& version) {
  ojson j;
  j["vaec_version"] = version;
  j["command"] = p.command;
  j["data"] = {{"path", p.data_path}, {"sha256", p.data_sha256}};
  j["models"] = ojson::array();
  for (const auto& m : p.models) j["models"].push_back({{"path", m.path}, {"label", m.label}, {"sha256", m.sha256}});
  j["baseline"] = p.baseline;
  j["grid"] = ojson::array();
  for (const auto& a : p.grid) j["grid"].push_back({{"name", a.name}, {"values", a.values}});
  j["seeds"] = p.seeds;
  j["sets"] = ojson::object();
  for (const auto& [k, v] : p.sets) j["sets"][k] = v;
  j["iw_samples"] = p.iw ? ojson(*p.iw) : ojson(nullptr);
  j["jobs"] = p.jobs;
  j["threads"] = p.threads;
  j["cells"] = ojson::array();
  for (const auto& c : p.cells) {
    ojson g = ojson::object();
    for (const auto& [n, v] : c.grid) g[n] = v;
    j["cells"].push_back({{"id", c.id},
                          {"folder", c.folder},
                          {"model", c.model},
                          {"grid", g},
                          {"seed", c.seed},
                          {"status", c.status},
                          {"reason", c.reason ? ojson(*c.reason) : ojson(nullptr)},
                          {"seconds", c.seconds ? ojson(*c.seconds) : ojson(nullptr)}});
  }
  return j;
}

// compare.json's plan; the cells as recorded (their statuses). Throws compare_error
// naming the file.
plan parse_plan(const std::string& text, const std::string& path) {
  const ojson j = ojson::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw compare_error(fmt::format("{}: not valid JSON; the comparison's folder was changed by hand", path));
  try {
    plan p;
    p.command = j.at("command").get<std::vector<std::string>>();
    p.data_path = j.at("data").at("path").get<std::string>();
    p.data_sha256 = j.at("data").at("sha256").get<std::string>();
    for (const auto& m : j.at("models"))
      p.models.push_back({m.at("path").get<std::string>(), m.at("label").get<std::string>(),
                          m.at("sha256").get<std::string>(), ""});
    p.baseline = j.at("baseline").get<std::string>();
    for (const auto& a : j.at("grid"))
      p.grid.push_back({a.at("name").get<std::string>(), a.at("values").get<std::vector<std::string>>()});
    p.seeds = j.at("seeds").get<std::vector<std::uint64_t>>();
    for (const auto& [k, v] : j.at("sets").items()) p.sets.emplace_back(k, v.get<std::string>());
    if (!j.at("iw_samples").is_null()) p.iw = j.at("iw_samples").get<int>();
    p.jobs = j.at("jobs").get<int>();
    p.threads = j.at("threads").get<int>();
    for (const auto& c : j.at("cells")) {
      cell_run x;
      x.id = c.at("id").get<std::string>();
      x.folder = c.at("folder").get<std::string>();
      x.model = c.at("model").get<std::string>();
      for (const auto& [n, v] : c.at("grid").items()) x.grid.emplace_back(n, v.get<std::string>());
      x.seed = c.at("seed").get<std::uint64_t>();
      x.status = c.at("status").get<std::string>();
      if (!c.at("reason").is_null()) x.reason = c.at("reason").get<std::string>();
      if (!c.at("seconds").is_null()) x.seconds = c.at("seconds").get<double>();
      p.cells.push_back(std::move(x));
    }
    if (p.models.empty() || p.seeds.empty() || p.threads < 1 || p.threads > max_threads)
      throw std::invalid_argument("no models, no seeds, or threads out of 1 … 256");
    for (const auto& m : p.models)
      if (!is_value(m.label)) throw std::invalid_argument("label " + m.label);
    for (const auto& a : p.grid)
      if (!is_identifier(a.name) || a.values.empty() || !std::all_of(a.values.begin(), a.values.end(), is_value))
        throw std::invalid_argument("grid axis " + a.name);
    return p;
  } catch (const std::exception& e) {
    throw compare_error(fmt::format("{}: a field is missing or of the wrong kind ({}); the comparison's folder was "
                                    "changed by hand or comes from another version of vaec",
                                    path, e.what()));
  }
}

// What differs between the comparison recorded in compare.json and the one asked for;
// one line each, empty when they are the same comparison.
std::vector<std::string> differences(const plan& rec, const plan& now, bool threads_given) {
  std::vector<std::string> d;
  auto labels = [](const plan& p) {
    std::vector<std::string> l;
    for (const auto& m : p.models) l.push_back(m.label);
    return fmt::format("{}", fmt::join(l, ", "));
  };
  auto sorted_sha = [](const plan& p) {
    std::vector<std::string> h;
    for (const auto& m : p.models) h.push_back(m.sha256);
    std::sort(h.begin(), h.end());
    return h;
  };
  auto paths = [](const plan& p) {
    std::vector<std::string> l;
    for (const auto& m : p.models) l.push_back(m.path);
    return fmt::format("{}", fmt::join(l, " "));
  };
  bool same_order = true;
  for (std::size_t i = 0; i < rec.models.size() && i < now.models.size(); ++i)
    same_order = same_order && rec.models[i].sha256 == now.models[i].sha256;
  if (rec.models.size() == now.models.size() && !same_order && sorted_sha(rec) == sorted_sha(now)) {
    // The same models in another order: the order sets the labels and the baseline.
    d.push_back(fmt::format("the models are the comparison's, in another order: {} (compare.json: {}); give them "
                            "in the recorded order, which sets the labels and the baseline",
                            paths(now), paths(rec)));
  } else if (labels(rec) != labels(now)) {
    d.push_back(fmt::format("models: {} (compare.json: {})", labels(now), labels(rec)));
  } else {
    for (std::size_t i = 0; i < rec.models.size(); ++i)
      if (rec.models[i].sha256 != now.models[i].sha256)
        d.push_back(fmt::format("{} is not the model the comparison started with (its SHA-256 differs from "
                                "compare.json's {}: the file was changed)",
                                now.models[i].path, rec.models[i].sha256.substr(0, 16) + "…"));
  }
  if (grid_text(rec.grid) != grid_text(now.grid))
    d.push_back(fmt::format("--grid: {} (compare.json: {})", grid_text(now.grid), grid_text(rec.grid)));
  if (rec.seeds != now.seeds)
    d.push_back(fmt::format("seeds: {} (compare.json: {})", seed_list_text(now.seeds), seed_list_text(rec.seeds)));
  if (sets_text(rec.sets) != sets_text(now.sets))
    d.push_back(fmt::format("--set and --epochs: {} (compare.json: {})", sets_text(now.sets), sets_text(rec.sets)));
  if (rec.iw != now.iw) {
    auto t = [](const std::optional<int>& k) { return k ? std::to_string(*k) : std::string("each model's eval_samples"); };
    d.push_back(fmt::format("--iw: {} (compare.json: {})", t(now.iw), t(rec.iw)));
  }
  if (rec.data_sha256 != now.data_sha256)
    d.push_back(fmt::format("--data: {} holds other data than {} did when the comparison started (their SHA-256 "
                            "differ)",
                            now.data_path, rec.data_path));
  if (threads_given && rec.threads != now.threads)
    d.push_back(fmt::format("--threads: {} (compare.json: {}; a cell's numbers depend on its thread count)",
                            now.threads, rec.threads));
  return d;
}

// ---- DIR -------------------------------------------------------------------------------

// DIR locked for the lifetime of the object (flock on DIR/vaec.lock, holding our pid), as
// run folders are: a second compare on the same DIR is refused, naming the holder.
class locked_dir {
 public:
  explicit locked_dir(const fs::path& dir) : dir_(dir), fd_(vaec::rt::lock_folder(dir, "vaec compare")) {}
  ~locked_dir() { ::close(fd_); }
  locked_dir(const locked_dir&) = delete;
  locked_dir& operator=(const locked_dir&) = delete;

 private:
  fs::path dir_;
  int fd_ = -1;
};

// A new comparison may go into DIR only when it holds nothing but a lock file and a
// temporary compare.json of a compare that died before writing it. Throws.
void require_empty(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n != lock_name && !(n.starts_with("compare.json.") && n.ends_with(".tmp"))) names.push_back(n);
  }
  if (ec) throw compare_error(fmt::format("cannot list the folder {}: {}", dir.string(), os_reason(ec.value())));
  if (names.empty()) return;
  std::sort(names.begin(), names.end());
  const bool more = names.size() > 4;
  if (more) names.resize(4);
  std::string list;
  for (std::size_t i = 0; i < names.size(); ++i) list += (i ? ", '" : "'") + names[i] + "'";
  if (fs::exists(dir / "run.json", ec))
    throw compare_usage_error(fmt::format("--out {}: this is a run folder, not a comparison's; choose another --out",
                                          dir.string()));
  throw compare_usage_error(fmt::format("--out {}: the folder is not empty (it holds {}{}) and holds no compare.json; "
                                        "vaec compare writes a new comparison only into a new or empty folder, so that "
                                        "no file of yours is overwritten: choose another --out",
                                        dir.string(), list, more ? ", …" : ""));
}


// A new DIR compare-YYYYmmdd-HHMMSS (-2, -3, … when taken), made with mkdir so that two
// compares never share it.
fs::path unique_dir() {
  const std::string stem = "compare-" + vaec::rt::timestamp();
  for (int i = 1; i < 10000; ++i) {
    const fs::path dir = i == 1 ? fs::path(stem) : fs::path(fmt::format("{}-{}", stem, i));
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    if (errno != EEXIST)
      throw compare_error(fmt::format("cannot create the folder {}: {}; choose one with --out", dir.string(),
                                      os_reason(errno)));
  }
  throw compare_error(fmt::format("9,999 folders named {}-N exist already; choose one with --out", stem));
}

void make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw compare_error(fmt::format("cannot create the folder {}: {}; choose a folder you can write to with --out",
                                    dir.string(), os_reason(ec.value())));
}

// ---- signals ---------------------------------------------------------------------------

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t stop_signal = 0;  // the first one's number: compare exits with 128 + it

extern "C" void on_stop_signal(int sig) {
  if (!stop_requested) stop_signal = sig;
  stop_requested = 1;
}

// A cell's vaec stopped by its interrupt: exit 130 (SIGINT) or 143 (SIGTERM), as
// interrupted_exit_code (runtime/train.hpp) gives.
bool interrupted_status(int code) { return code == 128 + SIGINT || code == 128 + SIGTERM; }

void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a sleep returns at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

// ---- children --------------------------------------------------------------------------

// Starts `exe args…` in a process group of its own (a Ctrl-C at the terminal reaches
// compare alone, which passes it on once), with stdin from /dev/null and stdout and
// stderr appended to `log`. The child receives SIGTERM if compare dies (even by SIGKILL),
// which vaec takes as Ctrl-C: it stops after the current step, keeping its checkpoint.
// (fork and exec rather than posix_spawn, which cannot ask for that signal.) Throws
// compare_error.
pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const fs::path& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw compare_error(fmt::format("cannot write {}: {}", log.string(), os_reason(errno)));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<std::string> shown = {"vaec"};
  shown.insert(shown.end(), args.begin(), args.end());
  const std::string header = fmt::format("$ {}\n", fmt::join(shown, " "));
  if (::write(fd, header.data(), header.size()) < 0) {
    const int err = errno;
    ::close(fd);
    if (null_fd >= 0) ::close(null_fd);
    throw compare_error(fmt::format("cannot write {}: {}", log.string(), os_reason(err)));
  }
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Without the MPI launcher's variables: a cell is a process of its own, not a rank.
  std::vector<std::string> env_text = vaec::rt::mpi::child_environment();
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(130);  // compare died before the line above
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    static const char msg[] = "vaec: error: vaec compare could not start the child vaec process\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  const int err = errno;
  ::close(fd);
  if (null_fd >= 0) ::close(null_fd);
  if (pid < 0) throw compare_error(fmt::format("cannot start a child vaec process: {}", os_reason(err)));
  ::setpgid(pid, pid);  // also from here, so that a signal sent at once reaches the group
  return pid;
}

namespace {

// The size of `log` (where the next child's output starts).
std::uintmax_t log_size(const fs::path& log) {
  std::error_code ec;
  const auto n = fs::file_size(log, ec);
  return ec ? 0 : n;
}

// Why a child failed, from its output since `from`: its `vaec: error:` message, else its
// first diagnostic (`model.vae:3:1: error: …`), else its first line.
std::string failure_reason(const fs::path& log, std::uintmax_t from, int status) {
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::string line, vaec_error, diagnostic, first;
  while (std::getline(in, line)) {
    if (line.starts_with("$ ")) continue;
    if (line.starts_with("vaec: error: ")) vaec_error = line.substr(13);
    else if (line.starts_with("vaec: internal error: ")) vaec_error = line.substr(6);
    else if (diagnostic.empty() && line.find(": error: ") != std::string::npos) diagnostic = line;
    if (first.empty() && !line.empty()) first = line;
  }
  if (!vaec_error.empty()) return vaec_error;
  if (!diagnostic.empty()) return diagnostic;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by signal {}{}", sig, name ? fmt::format(" (SIG{})", name) : "");
  }
  if (!first.empty()) return first;
  return fmt::format("exited with status {}", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// Whether another process holds `dir`'s run lock (a child of a compare that was killed,
// finishing its step). Never creates the lock file.
bool run_locked(const fs::path& dir) {
  const int fd = ::open((dir / lock_name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases it if we took it
  return held;
}

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.0f} s", s);
  if (s < 3600) return fmt::format("{:.0f} min {:02.0f} s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.0f} h {:02.0f} min", std::floor(s / 3600), std::floor(std::fmod(s, 3600) / 60));
}

// ---- the scheduler ---------------------------------------------------------------------

struct running {
  std::size_t cell = 0;
  pid_t pid = -1;     // a child here, or
  int remote = -1;    // a command of env.remote (another MPI rank), and
  int place = -1;     // where env.remote runs it
  bool eval = false;  // the evaluation, else the training
  fs::path log;
  std::uintmax_t log_from = 0;
  clock_type::time_point started;
};

class scheduler {
 public:
  scheduler(plan& p, const fs::path& dir, const compare_environment& env) : p_(p), dir_(dir), env_(env) {}

  // Runs every cell not done; returns the exit status (see run_compare).
  int run() {
    std::vector<std::size_t> queue;
    int done_before = 0;
    for (std::size_t i = 0; i < p_.cells.size(); ++i) {
      if (p_.cells[i].status == "done") {
        ++done_before;
      } else {
        p_.cells[i].status = "pending";
        p_.cells[i].reason.reset();
        queue.push_back(i);
      }
    }
    total_ = p_.cells.size();
    finished_ = static_cast<std::size_t>(done_before);
    save();
    fmt::print(stderr, "compare: {} cell{} ({} model{} × {} grid point{} × {} seed{}), {} at once × {} thread{} each; "
                       "{}folder {}\n",
               p_.cells.size(), p_.cells.size() == 1 ? "" : "s", p_.models.size(), p_.models.size() == 1 ? "" : "s",
               points(), points() == 1 ? "" : "s", p_.seeds.size(), p_.seeds.size() == 1 ? "" : "s", p_.jobs,
               p_.threads, p_.threads == 1 ? "" : "s",
               done_before > 0 ? fmt::format("{} done before, {} to run; ", done_before, queue.size()) : "",
               dir_.string());
    // Labels that are not the file's stem (two files of one name): say which is which.
    std::set<std::string> relabelled;
    for (const auto& m : p_.models)
      if (m.label != fs::path(m.path).stem().string()) relabelled.insert(fs::path(m.path).stem().string());
    for (const auto& m : p_.models)
      if (relabelled.count(fs::path(m.path).stem().string()))
        fmt::print(stderr, "compare: model {} is labelled '{}' in the tables\n", m.path, m.label);
    std::fflush(stderr);
    t0_ = clock_type::now();
    install_stop_handler();
    bool forwarded = false;
    std::size_t next = 0;
    auto locked_since = clock_type::now();
    bool waiting_note = false;
    while (true) {
      reap();
      if (stop_requested && !forwarded) {
        forwarded = true;
        clear_bar();
        fmt::print(stderr, "compare: interrupted; stopping {} running cell{} after their current step (their "
                           "checkpoints are kept)\n",
                   running_.size(), running_.size() == 1 ? "" : "s");
        for (const auto& r : running_)
          if (r.remote < 0) ::kill(r.pid, SIGINT);
        if (env_.remote) env_.remote->interrupt();
      }
      // Start cells while there is room; a cell whose folder a dying child still holds waits.
      while (!stop_requested && has_room() && next < queue.size()) {
        const cell_run& c = p_.cells[queue[next]];
        if (run_locked(dir_ / c.folder)) {
          if (!running_.empty()) break;
          if (!waiting_note) {
            clear_bar();
            fmt::print(stderr, "compare: waiting for the vaec process that holds {} (a cell of a stopped compare) to "
                               "stop\n",
                       (dir_ / c.folder).string());
            waiting_note = true;
            locked_since = clock_type::now();
          }
          if (seconds_since(locked_since) > 120) {
            fail(queue[next], fmt::format("{} is in use by another vaec process; stop it and re-run", c.folder));
            ++next;
            waiting_note = false;
          }
          break;
        }
        waiting_note = false;
        start_train(queue[next]);
        ++next;
      }
      if (running_.empty() && (stop_requested || next >= queue.size())) break;
      draw_bar(queue.size() - next);
      struct timespec ts {0, 100 * 1000 * 1000};
      ::nanosleep(&ts, nullptr);
    }
    clear_bar();
    int failed = 0, done = 0, pending = 0;
    for (const auto& c : p_.cells) {
      if (c.status == "failed") ++failed;
      else if (c.status == "done") ++done;
      else ++pending;
    }
    save();
    const std::string where = (dir_ / "compare.json").string();
    if (stop_requested) {
      fmt::print(stderr, "compare: stopped: {} of {} cells done, {} failed, {} to run; resume with: {} compare "
                         "--resume --out {}\n",
                 done, p_.cells.size(), failed, pending, vaec::rt::shell_word(vaec::rt::command_name()),
                 vaec::rt::shell_word(dir_.string()));
      return 128 + (stop_signal > 0 ? static_cast<int>(stop_signal) : SIGINT);
    }
    if (failed > 0) {
      fmt::print(stderr, "compare: {} of {} cell{} failed (the reasons are in {} and {}/logs/); {} done\n", failed,
                 p_.cells.size(), p_.cells.size() == 1 ? "" : "s", where, dir_.string(), done);
      return 1;
    }
    fmt::print(stderr, "compare: {} done in {}; {}\n",
               p_.cells.size() == 1 ? std::string("the 1 cell") : fmt::format("all {} cells", p_.cells.size()), duration_text(seconds_since(t0_)),
               where);
    return 0;
  }

 private:
  std::size_t points() const {
    std::size_t n = 1;
    for (const auto& a : p_.grid) n *= a.values.size();
    return n;
  }

  // Cells run here, J at once, and wherever env.remote has room.
  std::size_t running_here() const {
    return static_cast<std::size_t>(std::count_if(running_.begin(), running_.end(), [](const running& r) { return r.remote < 0; }));
  }
  bool has_room() const {
    return running_here() < static_cast<std::size_t>(p_.jobs) || (env_.remote && env_.remote->has_room());
  }

  void save() const { vaec::rt::write_file_atomically(dir_ / "compare.json", to_json(p_, env_.version).dump(2) + "\n"); }

  std::string data_arg() const { return p_.data_path; }

  void start_train(std::size_t i) {
    cell_run& c = p_.cells[i];
    const fs::path folder = dir_ / c.folder;
    std::vector<std::string> args;
    std::error_code ec;
    if (fs::exists(folder / "run.json", ec)) {
      // Started before: vaec continues it from its checkpoint (or from the beginning
      // when it has none yet); a finished run says so and exits at once.
      args = {"--resume", "--out", folder.string()};
    } else {
      // New, or killed before its run.json: the run folder takes the same command again.
      args = {(dir_ / "models" / (c.model + ".vae")).string(), "--data", data_arg(), "--out", folder.string(),
              "--seed", std::to_string(c.seed), "--threads", std::to_string(p_.threads)};
      for (const auto& [k, v] : p_.sets) {
        if (k == "epochs") {
          args.insert(args.end(), {"--epochs", v});
        } else {
          args.insert(args.end(), {"--set", k + "=" + v});
        }
      }
      for (const auto& [k, v] : c.grid) args.insert(args.end(), {"--set", k + "=" + v});
    }
    launch(i, false, args);
  }

  void start_eval(std::size_t i, int place = -1) {
    cell_run& c = p_.cells[i];
    std::vector<std::string> args = {"eval", (dir_ / c.folder).string(), "--data", data_arg(), "--threads",
                                     std::to_string(p_.threads)};
    if (p_.iw) args.insert(args.end(), {"--iw", std::to_string(*p_.iw)});
    launch(i, true, args, place);
  }

  // `place`: where the cell's training ran (its evaluation runs there too); -1: here,
  // or for a new cell wherever there is room.
  void launch(std::size_t i, bool eval, const std::vector<std::string>& args, int place = -1) {
    cell_run& c = p_.cells[i];
    running r;
    r.cell = i;
    r.eval = eval;
    r.log = dir_ / "logs" / (c.id + (eval ? ".eval.log" : ".train.log"));
    r.log_from = log_size(r.log);
    r.started = clock_type::now();
    try {
      const bool here = eval ? place < 0 : running_here() < static_cast<std::size_t>(p_.jobs);
      if (here) {
        r.pid = spawn(env_.vaec_exe, args, r.log);
        where_.erase(i);
      } else {
        r.place = place;
        r.remote = env_.remote->start(args, r.log, r.place);
        where_[i] = " on " + env_.remote->describe(r.place);
      }
    } catch (const compare_error& e) {
      fail(i, e.what());
      return;
    }
    c.status = eval ? "evaluating" : "training";
    running_.push_back(r);
    save();
  }

  // Collects the children that have exited and moves their cells on.
  void reap() {
    std::map<int, vaec::experiments::remote_runner::ended> remote_ended;
    if (env_.remote)
      for (auto& e : env_.remote->poll()) remote_ended[e.id] = e;
    for (std::size_t k = 0; k < running_.size();) {
      int status = 0;
      pid_t got = 0;
      if (running_[k].remote < 0) {
        got = ::waitpid(running_[k].pid, &status, WNOHANG);
      } else if (auto it = remote_ended.find(running_[k].remote); it != remote_ended.end()) {
        if (!it->second.lost.empty()) {
          const running r = running_[k];
          running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(k));
          cell_run& c = p_.cells[r.cell];
          c.seconds = c.seconds.value_or(0.0) + seconds_since(r.started);
          fail(r.cell, fmt::format("{} {} while running its {}; a re-run of the comparison runs it again (from its "
                                   "checkpoint)",
                                   env_.remote->describe(r.place), it->second.lost, r.eval ? "evaluation" : "training"),
               r.log);
          continue;
        }
        got = 1;
        status = it->second.wait_status;
      }
      if (got == 0 || (got < 0 && errno == EINTR)) {
        ++k;
        continue;
      }
      const running r = running_[k];
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(k));
      cell_run& c = p_.cells[r.cell];
      const double secs = seconds_since(r.started);
      c.seconds = c.seconds.value_or(0.0) + secs;
      const bool ok = got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      const bool stopped = got > 0 && ((WIFEXITED(status) && interrupted_status(WEXITSTATUS(status))) ||
                                       (WIFSIGNALED(status) && (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGTERM)));
      if (ok && !r.eval) {
        if (stop_requested) {
          c.status = "pending";  // trained; evaluated on the re-run
          save();
        } else {
          start_eval(r.cell, r.remote < 0 ? -1 : r.place);
        }
      } else if (ok) {
        finish(r.cell, r.log);
      } else if (stopped && stop_requested) {
        c.status = "pending";
        save();
      } else if (stopped) {
        fail(r.cell, fmt::format("{} was interrupted by a signal from outside compare (its checkpoint is kept: a "
                                 "re-run resumes it)",
                                 r.eval ? "the evaluation" : "the training"));
      } else {
        fail(r.cell, failure_reason(r.log, r.log_from, status), r.log);
      }
    }
  }

  // A cell whose vaec eval exited 0: done when its eval.json holds the figures
  // (experiments/README.md), failed otherwise.
  void finish(std::size_t i, const fs::path& log = {}) {
    cell_run& c = p_.cells[i];
    bool ok = false;
    const std::string text = read_text(dir_ / c.folder / "eval.json", ok);
    const ojson j = ok ? ojson::parse(text, nullptr, false) : ojson();
    const bool figures_ok = ok && !j.is_discarded() && j.is_object() && j.contains("log_likelihood") &&
                            j["log_likelihood"].is_number() && j.contains("log_likelihood_se") &&
                            j["log_likelihood_se"].is_number();
    if (!figures_ok) {
      fail(i, ok ? "its eval.json holds no log_likelihood and log_likelihood_se (written by hand?)"
                 : "vaec eval exited 0 but left no eval.json in the cell's folder",
           log);
      return;
    }
    c.status = "done";
    c.reason.reset();
    ++finished_;
    ++finished_now_;
    save();
    line(fmt::format("{}  LL {:.2f} ± {:.2f}  {:.1f} s{}", c.id, j["log_likelihood"].get<double>(),
                     j["log_likelihood_se"].get<double>(), c.seconds.value_or(0.0), where(i)));
  }

  void fail(std::size_t i, const std::string& reason, const fs::path& log = {}) {
    cell_run& c = p_.cells[i];
    c.status = "failed";
    c.reason = reason;
    ++finished_;
    ++finished_now_;
    save();
    std::error_code ec;
    // The cell's log, where it exists (a rank that died may have gone before writing it).
    const std::string where =
        log.empty() || !fs::exists(log, ec) ? "" : fmt::format(" ({})", fs::relative(log, dir_, ec).string());
    line(fmt::format("{}  failed: {}{}  {:.1f} s{}", c.id, reason, where, c.seconds.value_or(0.0), this->where(i)));
  }

  // One line per finished cell (above the bar on a terminal).
  void line(const std::string& text) {
    clear_bar();
    fmt::print(stderr, "[{}/{}] {}\n", finished_, total_, text);
    std::fflush(stderr);
  }

  void clear_bar() {
    if (env_.terminal && bar_shown_) {
      fmt::print(stderr, "\r\033[K");
      std::fflush(stderr);
      bar_shown_ = false;
    }
  }

  // On a terminal: [#####.....] 5 of 16 cells, 2 running, about 3 min left.
  void draw_bar(std::size_t waiting) {
    if (!env_.terminal) return;
    const double frac = static_cast<double>(finished_) / static_cast<double>(std::max<std::size_t>(1, total_));
    const int filled = static_cast<int>(frac * 30);
    const double elapsed = seconds_since(t0_);
    std::string left = "time left: after the first cell";
    if (finished_now_ > 0) {
      const double per_cell = elapsed / static_cast<double>(finished_now_);
      const double remaining = per_cell * static_cast<double>(running_.size() + waiting);
      left = "about " + duration_text(std::max(0.0, remaining)) + " left";
    }
    fmt::print(stderr, "\r\033[K  [{}{}] {} of {} cells, {} running, {}", std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(30 - filled), '.'), finished_, total_, running_.size(), left);
    std::fflush(stderr);
    bar_shown_ = true;
  }

  plan& p_;
  fs::path dir_;
  const compare_environment& env_;
  std::vector<running> running_;
  std::map<std::size_t, std::string> where_;  // " on rank R (…)": cells running elsewhere (env.remote)
  std::string where(std::size_t i) const {
    auto it = where_.find(i);
    return it == where_.end() ? std::string() : it->second;
  }
  std::size_t total_ = 0, finished_ = 0, finished_now_ = 0;
  clock_type::time_point t0_;
  bool bar_shown_ = false;
};

}  // namespace

int run_compare(const compare_request& r, const compare_environment& env) {
  const bool alone = r.models.empty();
  if (alone) {
    if (!r.resume)
      throw compare_usage_error("vaec compare needs the model files to compare (vaec compare A.vae B.vae … --data "
                                "PATH), or --resume --out DIR to continue a comparison");
    if (!r.out)
      throw compare_usage_error("--resume needs --out DIR, the folder of the comparison to continue");
    std::vector<std::string> given;
    if (!r.data.empty()) given.push_back("--data");
    if (!r.grid.empty()) given.push_back("--grid");
    if (r.seeds) given.push_back("--seeds");
    if (r.seed_list) given.push_back("--seed-list");
    if (!r.sets.empty()) given.push_back("--set");
    if (r.epochs) given.push_back("--epochs");
    if (r.iw) given.push_back("--iw");
    if (r.baseline) given.push_back("--baseline");
    if (!given.empty())
      throw compare_usage_error(fmt::format("{} without model files: `vaec compare --resume --out DIR` takes everything "
                                            "from DIR/compare.json; give the whole command, or only --resume --out DIR "
                                            "[--jobs J]",
                                            fmt::join(given, ", ")));
  }
  if (r.jobs && (*r.jobs < 1 || *r.jobs > max_jobs))
    throw compare_usage_error(fmt::format("--jobs {}: from 1 to {} cells at once (this machine has {} core{})", *r.jobs,
                                          max_jobs, env.cores, env.cores == 1 ? "" : "s"));
  if (r.threads && (*r.threads < 1 || *r.threads > max_threads))
    throw compare_usage_error(fmt::format("--threads {}: from 1 to {} threads per cell (this machine has {} core{})",
                                          *r.threads, max_threads, env.cores, env.cores == 1 ? "" : "s"));
  if (r.out && r.out->empty()) throw compare_usage_error("--out \"\": give the comparison's folder a name");

  std::optional<plan> given;
  if (!alone) {
    given = plan_of(r);
    if (env.check_model) {
      std::size_t failing = 0;
      for (const auto& m : given->models) {
        std::set<std::vector<std::string>> checked;
        for (const auto& c : given->cells) {
          if (c.model != m.label) continue;
          std::vector<std::string> sets, point;
          for (const auto& [k, v] : given->sets) sets.push_back(k + "=" + v);
          for (const auto& [k, v] : c.grid) point.push_back(k + "=" + v);
          if (!checked.insert(point).second) continue;
          // A grid point's settings are shown as --grid NAME=VALUE in a diagnostic.
          for (const auto& setting : point) sets.push_back("--grid " + setting);
          if (env.check_model(m.path, sets)) continue;
          fmt::print(stderr, "vaec: error: {} does not check{}\n", m.path,
                     point.empty() ? std::string() : fmt::format(" at the grid point {}", fmt::join(point, ", ")));
          ++failing;
          break;
        }
      }
      if (failing > 0)
        throw compare_error(fmt::format("{} of the {} model{} do{} not check (above); no cell was started", failing,
                                        given->models.size(), given->models.size() == 1 ? "" : "s",
                                        failing == 1 ? "es" : ""));
    }
    given->data_sha256 = data_sha256(given->data_path);  // throws data_error, naming the data
  }

  // DIR: created (or a new unique name), then locked.
  fs::path dir;
  std::error_code ec;
  if (r.out) {
    dir = *r.out;
    const auto st = fs::status(dir, ec);
    if (fs::exists(st) && !fs::is_directory(st))
      throw compare_usage_error(fmt::format("--out {}: this is a file, not a folder; choose a new folder name",
                                            dir.string()));
    if (fs::exists(st) && !fs::exists(dir / "compare.json", ec)) {
      // Before creating a lock file in a folder of someone's files.
      if (r.resume)
        throw compare_error(fmt::format("{} holds no compare.json: there is no comparison to resume there; start one "
                                        "with the whole command (vaec compare A.vae B.vae … --data PATH --out {})",
                                        dir.string(), dir.string()));
      if (!fs::exists(dir / lock_name, ec)) require_empty(dir);
    }
    if (!fs::exists(st)) {
      if (r.resume)
        throw compare_error(fmt::format("--out {}: no such folder; there is no comparison to resume", dir.string()));
      make_dir(dir);
    }
  } else {
    dir = unique_dir();
  }
  locked_dir lock(dir);
  const fs::path json_path = dir / "compare.json";
  std::optional<plan> recorded;
  if (fs::exists(json_path, ec)) {
    bool ok = false;
    const std::string text = read_text(json_path, ok);
    if (!ok) throw compare_error(fmt::format("cannot read {}: {}", json_path.string(), os_reason(errno)));
    recorded = parse_plan(text, json_path.string());
  } else if (r.resume) {
    throw compare_error(fmt::format("{} holds no compare.json: there is no comparison to resume there; start one with "
                                    "the whole command (vaec compare A.vae B.vae … --data PATH --out {})",
                                    dir.string(), dir.string()));
  } else {
    require_empty(dir);
  }

  plan p;
  if (recorded) {
    // The model sources every cell trains are DIR/models/LABEL.vae.
    for (auto& m : recorded->models) {
      bool ok = false;
      const fs::path copy = dir / "models" / (m.label + ".vae");
      m.source = read_text(copy, ok);
      if (!ok || vaec::rt::sha256_hex(m.source) != m.sha256) {
        // A compare killed before writing its copy: the original, if it is still the same.
        m.source = read_text(m.path, ok);
        if (!ok || vaec::rt::sha256_hex(m.source) != m.sha256)
          throw compare_error(fmt::format("{} is missing or changed, and {} is no longer the model the comparison "
                                          "started with (compare.json's SHA-256 {}); start a new comparison with "
                                          "another --out",
                                          copy.string(), m.path, m.sha256.substr(0, 16) + "…"));
      }
    }
    if (given) {
      int threads = r.threads.value_or(recorded->threads);
      given->threads = threads;
      const auto d = differences(*recorded, *given, r.threads.has_value());
      if (!d.empty()) {
        std::string lines;
        for (const auto& s : d) lines += "\n  " + s;
        throw compare_usage_error(fmt::format("this command differs from the comparison in {} ({}):{}\nre-run that "
                                              "comparison with its own command or `vaec compare --resume --out {}`, or "
                                              "start a new one with another --out",
                                              dir.string(), json_path.string(), lines, dir.string()));
      }
      recorded->baseline = given->baseline;  // the tables' choice only; cells are unchanged
    } else {
      // --resume alone: the data must still be those the comparison started on.
      const std::string sha = data_sha256(recorded->data_path);
      if (sha != recorded->data_sha256)
        throw compare_error(fmt::format("the data at {} are not those the comparison in {} started on (their SHA-256 "
                                        "differ); start a new comparison with another --out",
                                        recorded->data_path, dir.string()));
      if (r.threads && *r.threads != recorded->threads)
        throw compare_usage_error(fmt::format("--threads {} contradicts the comparison in {}, whose cells run with {} "
                                              "thread{} (a cell's numbers depend on it)",
                                              *r.threads, dir.string(), recorded->threads,
                                              recorded->threads == 1 ? "" : "s"));
    }
    // The cells as the plan makes them, with the statuses recorded; a done cell whose
    // folder is gone runs again.
    std::vector<cell_run> fresh = make_cells(*recorded);
    std::map<std::string, const cell_run*> by_id;
    for (const auto& c : recorded->cells) by_id[c.id] = &c;
    for (auto& c : fresh) {
      auto it = by_id.find(c.id);
      if (it == by_id.end()) continue;
      c.seconds = it->second->seconds;
      if (it->second->status == "done" && fs::exists(dir / c.folder / "run.json", ec)) c.status = "done";
    }
    recorded->cells = std::move(fresh);
    p = std::move(*recorded);
    // The thread count is the comparison's (results depend on it); J may change.
    p.jobs = r.jobs.value_or(std::max(1, env.cores / p.threads));
  } else {
    p = std::move(*given);
    const auto [dj, dt] = default_jobs_threads(env.cores);
    if (r.jobs && r.threads) {
      p.jobs = *r.jobs, p.threads = *r.threads;
    } else if (r.jobs) {
      p.jobs = *r.jobs, p.threads = std::max(1, env.cores / *r.jobs);
    } else if (r.threads) {
      p.threads = *r.threads, p.jobs = std::max(1, env.cores / *r.threads);
    } else {
      p.jobs = dj, p.threads = dt;
    }
    p.jobs = std::min(p.jobs, max_jobs);
    p.threads = std::min(p.threads, max_threads);
    // compare.json first (a killed start leaves a folder that resumes), then the sources.
    vaec::rt::write_file_atomically(json_path, to_json(p, env.version).dump(2) + "\n");
  }
  make_dir(dir / "models");
  for (const auto& m : p.models) {
    const fs::path copy = dir / "models" / (m.label + ".vae");
    bool ok = false;
    const std::string there = read_text(copy, ok);
    if (!ok || there != m.source) vaec::rt::write_file_atomically(copy, m.source);
  }
  make_dir(dir / "runs");
  make_dir(dir / "logs");
  scheduler s(p, dir, env);
  const int status = s.run();
  if (interrupted_status(status)) return status;  // interrupted: the tables wait for the remaining cells
  // The tables, plots and report of every cell, done or failed (tables.hpp).
  try {
    std::ostringstream log;
    write_compare_outputs(dir, log);
    std::fputs(log.str().c_str(), stderr);
  } catch (const std::runtime_error& e) {
    throw compare_error(fmt::format("the cells are done, but the tables could not be written: {}", e.what()));
  }
  bool ok = false;
  const std::string table = read_text(dir / "table.md", ok);
  if (ok) std::fputs(table.c_str(), stdout);
  std::fflush(stdout);
  fmt::print(stderr, "results: {} (table.md, table.tex, results.csv, report.html)\n", dir.string());
  return status;
}

}  // namespace vaec::experiments
