#include "experiments/study.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

namespace vaec::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::optional<std::string> read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw study_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw study_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  return bytes;
}

namespace {

// Field access with messages naming the file and the key.
struct fields {
  const json& j;
  const std::string& path;
  std::string where;  // e.g. "cells[3]." for messages

  [[noreturn]] void bad(const std::string& key, const std::string& want) const {
    throw study_error(fmt::format("{}: '{}{}' {}", path, where, key, want));
  }
  const json& at(const std::string& key) const {
    if (!j.is_object() || !j.contains(key)) bad(key, "is missing");
    return j.at(key);
  }
  std::string str(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_string()) bad(key, "must be a string");
    return v.get<std::string>();
  }
  std::string str_or_empty(const std::string& key) const {
    if (!j.contains(key) || j.at(key).is_null()) return {};
    return str(key);
  }
  std::int64_t integer(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_number_integer()) bad(key, "must be an integer");
    return v.get<std::int64_t>();
  }
  std::optional<std::int64_t> opt_integer(const std::string& key) const {
    if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
    return integer(key);
  }
  // A number or null (JSON has no NaN: a writer gives null for a non-finite value).
  std::optional<double> number(const std::string& key) const {
    const json& v = at(key);
    if (v.is_null()) return std::nullopt;
    if (!v.is_number()) bad(key, "must be a number or null");
    return v.get<double>();
  }
  std::optional<double> opt_number(const std::string& key) const {
    if (!j.contains(key)) return std::nullopt;
    return number(key);
  }
  bool boolean(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_boolean()) bad(key, "must be true or false");
    return v.get<bool>();
  }
  const json& array(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_array()) bad(key, "must be an array");
    return v;
  }
  const json& object(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_object()) bad(key, "must be an object");
    return v;
  }
};

json parse_json(const std::string& text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw study_error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

}  // namespace

cell_eval parse_eval_json(const std::string& text, const std::string& path) {
  const json j = parse_json(text, path);
  const fields f{j, path, ""};
  cell_eval e;
  e.vaec_version = f.str_or_empty("vaec_version");
  e.checkpoint = f.str_or_empty("checkpoint");
  e.epochs = f.opt_integer("epochs");
  const fields d{f.object("data"), path, "data."};
  e.data_path = d.str_or_empty("path");
  e.data_sha256 = d.str("sha256");
  e.data_split = d.str_or_empty("split");
  e.examples = d.integer("examples");
  if (e.examples <= 0) d.bad("examples", "must be positive");
  e.binarized = d.j.contains("binarized") && d.boolean("binarized");
  e.iw_samples = f.opt_integer("iw_samples");
  e.elbo = f.number("elbo");
  e.recon = f.number("recon");
  e.kl = f.number("kl");
  e.log_likelihood = f.number("log_likelihood");
  e.log_likelihood_se = f.number("log_likelihood_se");
  e.gap = f.opt_number("gap");
  e.active_units = f.opt_number("active_units");
  if (!e.gap && e.log_likelihood && e.elbo) e.gap = *e.log_likelihood - *e.elbo;

  // Concentration and df over the latents that have them.
  if (j.contains("latents")) {
    const json& latents = f.array("latents");
    double kappa_sum = 0, df_sum = 0;
    int kappas = 0, dfs = 0;
    for (std::size_t i = 0; i < latents.size(); ++i) {
      const fields l{latents[i], path, fmt::format("latents[{}].", i)};
      if (l.j.contains("concentration") && !l.j.at("concentration").is_null()) {
        const fields c{l.object("concentration"), path, fmt::format("latents[{}].concentration.", i)};
        const auto mean = c.number("mean"), lo = c.number("min"), hi = c.number("max");
        if (mean && lo && hi) {
          kappa_sum += *mean;
          ++kappas;
          e.concentration_min = std::min(e.concentration_min.value_or(*lo), *lo);
          e.concentration_max = std::max(e.concentration_max.value_or(*hi), *hi);
        }
      }
      if (l.j.contains("df")) {
        if (const auto df = l.number("df")) {
          df_sum += *df;
          ++dfs;
        }
      }
    }
    if (kappas > 0) e.concentration_mean = kappa_sum / kappas;
    if (dfs > 0) e.df = df_sum / dfs;
  }
  e.per_example = f.str_or_empty("per_example");
  if (e.per_example.empty()) e.per_example = "eval_per_example.npy";
  return e;
}

std::vector<double> read_npy_f64(const fs::path& path) {
  const std::string p = path.string();
  const auto bytes = read_file(path);
  if (!bytes) throw study_error(fmt::format("cannot read {}: no such file (vaec eval writes it)", p));
  const std::string& b = *bytes;
  auto bad = [&](const std::string& why) -> study_error {
    return study_error(fmt::format("{}: not a 1-D float64 .npy array: {}", p, why));
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) throw bad("no .npy signature");
  const auto major = static_cast<unsigned char>(b[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw bad("truncated header");
    for (int k = 0; k < 4; ++k) header_len |= static_cast<std::size_t>(static_cast<unsigned char>(b[8 + k])) << (8 * k);
    start = 12;
  } else {
    throw bad(fmt::format("format version {} (1, 2 or 3 expected)", static_cast<int>(major)));
  }
  if (b.size() < start + header_len) throw bad("truncated header");
  std::string header = b.substr(start, header_len);
  header.erase(std::remove_if(header.begin(), header.end(), [](char c) { return c == ' ' || c == '\n'; }),
               header.end());
  // The header is a Python dict literal: {'descr':'<f8','fortran_order':False,'shape':(N,),}
  auto value_of = [&](const std::string& key) -> std::string {
    const std::string k = "'" + key + "':";
    const auto at = header.find(k);
    if (at == std::string::npos) throw bad("the header has no '" + key + "'");
    const std::size_t v = at + k.size();
    if (v < header.size() && header[v] == '(') {
      const auto close = header.find(')', v);
      if (close == std::string::npos) throw bad("unterminated shape");
      return header.substr(v, close - v + 1);
    }
    const auto end = header.find_first_of(",}", v);
    return header.substr(v, end == std::string::npos ? std::string::npos : end - v);
  };
  const std::string descr = value_of("descr");
  if (descr != "'<f8'" && descr != "'f8'" && descr != "'=f8'")
    throw bad("dtype " + descr + " ('<f8', float64, expected)");
  if (value_of("fortran_order") != "False") throw bad("Fortran order");
  const std::string shape = value_of("shape");  // "(N,)"
  if (shape.size() < 4 || shape.front() != '(' || shape[shape.size() - 2] != ',' || shape.back() != ')')
    throw bad("shape " + shape + " is not 1-D");
  const std::string digits = shape.substr(1, shape.size() - 3);
  if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos)
    throw bad("shape " + shape + " is not 1-D");
  const std::size_t n = std::stoull(digits);
  const std::size_t data = start + header_len;
  if (b.size() - data != 8 * n)
    throw bad(fmt::format("the header says {} values but the file holds {} bytes of data ({} expected)", n,
                          b.size() - data, 8 * n));
  std::vector<double> out(n);
  std::memcpy(out.data(), b.data() + data, 8 * n);  // little-endian x86-64, as '<f8'
  return out;
}

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  // metrics.csv has no quoted fields; a quoted one is kept with its quotes.
  std::vector<std::string> out;
  std::string item;
  std::stringstream ss(line);
  while (std::getline(ss, item, ',')) out.push_back(item);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

}  // namespace

std::vector<std::optional<double>> read_csv_column(const fs::path& path, const std::string& column) {
  const auto text = read_file(path);
  if (!text) throw study_error(fmt::format("cannot read {}: no such file", path.string()));
  std::istringstream in(*text);
  std::string line;
  if (!std::getline(in, line)) throw study_error(fmt::format("{}: empty, no header", path.string()));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto header = split_csv_line(line);
  const auto it = std::find(header.begin(), header.end(), column);
  if (it == header.end()) throw study_error(fmt::format("{}: no column '{}'", path.string(), column));
  const auto k = static_cast<std::size_t>(it - header.begin());
  std::vector<std::optional<double>> out;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto f = split_csv_line(line);
    std::optional<double> v;
    if (k < f.size() && !f[k].empty()) {
      char* end = nullptr;
      const double d = std::strtod(f[k].c_str(), &end);
      if (end != f[k].c_str() && *end == '\0') v = d;
    }
    out.push_back(v);
  }
  return out;
}

std::size_t study::points() const {
  std::size_t n = 1;
  for (const auto& a : grid) n *= a.values.size();
  return n;
}

std::vector<std::size_t> study::point_values(std::size_t point) const {
  std::vector<std::size_t> v(grid.size());
  for (std::size_t a = grid.size(); a-- > 0;) {
    v[a] = point % grid[a].values.size();
    point /= grid[a].values.size();
  }
  return v;
}

std::string study::point_label(std::size_t point) const {
  const auto v = point_values(point);
  std::string s;
  for (std::size_t a = 0; a < grid.size(); ++a)
    s += (a ? ", " : "") + grid[a].name + " = " + grid[a].values[v[a]];
  return s;
}

study read_study(const fs::path& dir, std::ostream& log) {
  const fs::path file = dir / "compare.json";
  const std::string path = file.string();
  const auto text = read_file(file);
  if (!text)
    throw study_error(fmt::format("cannot read {}: no such file; vaec compare writes it (is {} a compare folder?)",
                                  path, dir.string()));
  const json j = parse_json(*text, path);
  const fields f{j, path, ""};
  study s;
  s.dir = dir;
  s.vaec_version = f.str_or_empty("vaec_version");
  for (const auto& a : f.array("command")) {
    if (!a.is_string()) f.bad("command", "must be an array of strings");
    s.command.push_back(a.get<std::string>());
  }
  const fields d{f.object("data"), path, "data."};
  s.data_path = d.str_or_empty("path");
  s.data_sha256 = d.str_or_empty("sha256");
  const json& models = f.array("models");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const fields m{models[i], path, fmt::format("models[{}].", i)};
    model_entry e{m.str_or_empty("path"), m.str("label"), m.str_or_empty("sha256")};
    for (const auto& other : s.models)
      if (other.label == e.label) m.bad("label", "'" + e.label + "' is not unique");
    s.models.push_back(e);
  }
  if (s.models.empty()) f.bad("models", "is empty");
  s.baseline = f.str("baseline");
  const auto base = std::find_if(s.models.begin(), s.models.end(), [&](const auto& m) { return m.label == s.baseline; });
  if (base == s.models.end()) f.bad("baseline", "names no model ('" + s.baseline + "')");
  s.baseline_index = static_cast<std::size_t>(base - s.models.begin());
  const json& grid = f.array("grid");
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const fields g{grid[i], path, fmt::format("grid[{}].", i)};
    grid_axis a{g.str("name"), {}};
    for (const auto& v : g.array("values")) {
      if (!v.is_string()) g.bad("values", "must be an array of strings");
      a.values.push_back(v.get<std::string>());
    }
    if (a.values.empty()) g.bad("values", "is empty");
    s.grid.push_back(a);
  }
  for (const auto& v : f.array("seeds")) {
    if (!v.is_number_integer()) f.bad("seeds", "must be an array of integers");
    s.seeds.push_back(v.get<std::int64_t>());
  }
  if (j.contains("sets") && !j.at("sets").is_null()) {
    for (const auto& [k, v] : f.object("sets").items())
      s.sets.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  s.iw_samples = f.opt_integer("iw_samples");
  s.jobs = f.opt_integer("jobs");
  s.threads = f.opt_integer("threads");

  const json& cells = f.array("cells");
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const fields c{cells[i], path, fmt::format("cells[{}].", i)};
    cell x;
    x.id = c.str("id");
    x.folder = c.str("folder");
    x.dir = fs::path(x.folder).is_absolute() ? fs::path(x.folder) : dir / x.folder;
    x.model = c.str("model");
    const auto m = std::find_if(s.models.begin(), s.models.end(), [&](const auto& e) { return e.label == x.model; });
    if (m == s.models.end()) c.bad("model", "names no model in 'models' ('" + x.model + "')");
    x.model_index = static_cast<std::size_t>(m - s.models.begin());
    const fields g{c.object("grid"), path, fmt::format("cells[{}].grid.", i)};
    if (g.j.size() != s.grid.size())
      c.bad("grid", fmt::format("has {} axes, and 'grid' {}", g.j.size(), s.grid.size()));
    for (const auto& a : s.grid) {
      const std::string v = g.str(a.name);
      const auto at = std::find(a.values.begin(), a.values.end(), v);
      if (at == a.values.end()) g.bad(a.name, "is '" + v + "', not one of the axis' values");
      const auto k = static_cast<std::size_t>(at - a.values.begin());
      x.grid.push_back(k);
      x.point = x.point * a.values.size() + k;
    }
    x.seed = c.integer("seed");
    if (std::find(s.seeds.begin(), s.seeds.end(), x.seed) == s.seeds.end())
      c.bad("seed", fmt::format("is {}, not one of 'seeds'", x.seed));
    x.status = c.str("status");
    static const char* statuses[] = {"pending", "training", "evaluating", "done", "failed"};
    if (std::none_of(std::begin(statuses), std::end(statuses), [&](const char* k) { return x.status == k; }))
      c.bad("status", "is '" + x.status + "' (pending, training, evaluating, done or failed expected)");
    x.reason = c.str_or_empty("reason");
    if (x.status == "failed" && x.reason.empty()) x.reason = "no reason recorded";
    x.seconds = c.opt_number("seconds");
    for (const auto& other : s.cells)
      if (other.model_index == x.model_index && other.point == x.point && other.seed == x.seed)
        c.bad("id", fmt::format("'{}' repeats cell '{}' (same model, grid point and seed)", x.id, other.id));
    if (x.status == "done") {
      const fs::path eval_path = x.dir / "eval.json";
      try {
        const auto eval_text = read_file(eval_path);
        if (!eval_text) throw study_error(fmt::format("cannot read {}: no such file", eval_path.string()));
        x.eval = parse_eval_json(*eval_text, eval_path.string());
      } catch (const study_error& e) {
        x.status = "failed";
        x.reason = e.what();
        log << fmt::format("warning: cell {} is done but {}; shown as failed\n", x.id, e.what());
      }
    }
    s.cells.push_back(std::move(x));
  }
  return s;
}

}  // namespace vaec::experiments
