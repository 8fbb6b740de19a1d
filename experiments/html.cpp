#include "experiments/html.hpp"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace vaec::experiments {

namespace fs = std::filesystem;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  // EVP_EncodeBlock takes an int length: encode in chunks of a multiple of 3 bytes.
  constexpr std::size_t chunk = 3 * (1 << 20);
  std::size_t written = 0;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - at);
    written += static_cast<std::size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                        reinterpret_cast<const unsigned char*>(bytes.data() + at), static_cast<int>(n)));
  }
  out.resize(written);
  return out;
}

namespace {

constexpr const char* style = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
pre, code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f5f5f5; padding: 0.6em 0.8em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: 0.8em 0; }
caption { caption-side: top; text-align: left; padding-bottom: 0.5em; font-size: 0.92em; color: #444; max-width: 60em; }
th, td { padding: 0.25em 0.8em; text-align: left; vertical-align: top; }
table.booktabs thead th { border-top: 2px solid #222; border-bottom: 1px solid #222; }
table.booktabs tbody tr:last-child td { border-bottom: 2px solid #222; }
table.booktabs tr.group td { border-top: 1px solid #999; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { font-weight: normal; color: #555; padding-left: 0; }
table.facts td, table.facts th { border: none; }
ul.notes { font-size: 0.9em; color: #444; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
details { margin: 0.4em 0; border: 1px solid #ddd; padding: 0.3em 0.6em; }
summary { cursor: pointer; }
.failed { color: #a00; }
)";

// A shell-quoted command line: words with anything but safe characters in single quotes.
std::string shell_line(const std::vector<std::string>& argv) {
  std::string o;
  for (const auto& a : argv) {
    const bool safe = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=,:+@%").find(c) != std::string_view::npos;
    });
    std::string w = safe ? a : "'";
    if (!safe) {
      for (char c : a) w += c == '\'' ? std::string("'\\''") : std::string(1, c);
      w += "'";
    }
    o += (o.empty() ? "" : " ") + w;
  }
  return o;
}

std::string fact(const std::string& name, const std::string& value_html) {
  return "<tr><th>" + html_text(name) + "</th><td>" + value_html + "</td></tr>\n";
}

// An <img> of the PNG at `path`, or a line saying why it is missing.
std::string embedded_png(const fs::path& path, const std::string& alt) {
  try {
    const auto bytes = read_file(path);
    if (!bytes) return "<p class=\"failed\">" + html_text(path.string()) + " is missing</p>";
    return "<img alt=\"" + html_text(alt) + "\" src=\"data:image/png;base64," + base64(*bytes) + "\">";
  } catch (const study_error& e) {
    return "<p class=\"failed\">" + html_text(e.what()) + "</p>";
  }
}

std::vector<std::string> cell_pictures(const fs::path& dir) {
  static const std::array<const char*, 7> order = {"samples.png",  "reconstructions.png", "latent.png", "manifold.png",
                                                   "curves.png",   "kl_per_dim.png",      "active_units.png"};
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".png") found.push_back(it->path().filename().string());
  auto rank = [&](const std::string& n) {
    const auto at = std::find(order.begin(), order.end(), n);
    return static_cast<std::size_t>(at - order.begin());
  };
  std::sort(found.begin(), found.end(),
            [&](const std::string& a, const std::string& b) { return std::pair(rank(a), a) < std::pair(rank(b), b); });
  return found;
}

std::string figure_or_dash(const std::optional<double>& v, int decimals) {
  return v && std::isfinite(*v) ? fmt::format("{:.{}f}", *v, decimals) : "—";
}

// "compiler: …, blas: …" from the first done cell's summary.json.
std::string build_versions(const study& s) {
  for (const auto& c : s.cells) {
    if (!c.done()) continue;
    try {
      const auto text = read_file(c.dir / "summary.json");
      if (!text) continue;
      const auto j = nlohmann::json::parse(*text);
      if (!j.contains("versions") || !j["versions"].is_object()) continue;
      std::string o;
      for (const auto& [k, v] : j["versions"].items())
        o += (o.empty() ? "" : "; ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
      return o + " (from " + (fs::path(c.folder) / "summary.json").string() + ")";
    } catch (const std::exception&) {
      continue;
    }
  }
  return {};
}

}  // namespace

std::string report_html(const study& s, const text_table& results, const text_table& differences,
                        const std::vector<std::string>& plots) {
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>vaec compare: " +
                  html_text(s.dir.filename().string()) + "</title>\n<style>" + style + "</style>\n</head>\n<body>\n";
  o += "<h1>vaec compare</h1>\n";
  std::string models;
  for (const auto& m : s.models)
    models += (models.empty() ? "" : "<br>") + html_text(m.label) + ": <code>" + html_text(m.path) + "</code>" +
              (m.sha256.empty() ? "" : " (sha256 <code>" + html_text(m.sha256.substr(0, 16)) + "…</code>)") +
              (m.label == s.baseline ? " — baseline" : "");
  std::string grid;
  for (const auto& a : s.grid) {
    std::string values;
    for (const auto& v : a.values) values += (values.empty() ? "" : ", ") + v;
    grid += (grid.empty() ? "" : "; ") + html_text(a.name + " ∈ {" + values + "}");
  }
  std::string seeds, sets;
  for (auto v : s.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(v);
  for (const auto& [k, v] : s.sets) sets += (sets.empty() ? "" : ", ") + html_text(k + "=" + v);
  std::size_t done = 0, failed = 0;
  for (const auto& c : s.cells) done += c.done(), failed += c.status == "failed";
  o += "<section id=\"command\">\n<h2>Command and versions</h2>\n<pre>" + html_text(shell_line(s.command)) +
       "</pre>\n<table class=\"facts\">\n";
  o += fact("vaec", html_text(s.vaec_version));
  if (const auto v = build_versions(s); !v.empty()) o += fact("build", html_text(v));
  o += fact("data", "<code>" + html_text(s.data_path) + "</code>" +
                        (s.data_sha256.empty() ? "" : " (sha256 <code>" + html_text(s.data_sha256) + "</code>)"));
  o += fact("models", models);
  o += fact("grid", grid.empty() ? "none" : grid);
  o += fact("seeds", seeds);
  if (!sets.empty()) o += fact("--set", sets);
  o += fact("IW samples K", s.iw_samples ? std::to_string(*s.iw_samples) : "each model's eval_samples");
  if (s.jobs && s.threads) o += fact("parallelism", fmt::format("{} cell{} at once, {} thread{} each", *s.jobs, *s.jobs == 1 ? "" : "s", *s.threads,
                                                *s.threads == 1 ? "" : "s"));
  o += fact("cells", fmt::format("{} ({} done, {} failed, {} not finished)", s.cells.size(), done, failed,
                                 s.cells.size() - done - failed));
  o += "</table>\n</section>\n";

  o += "<section id=\"table\">\n<h2>Results</h2>\n" + render_html(results) + "</section>\n";
  const auto alone = one_model_note(s);
  o += "<section id=\"paired\">\n<h2>Is the difference real?</h2>\n" +
       (alone ? "<p>" + html_text(*alone) + "</p>\n" : render_html(differences)) +
       "</section>\n";
  o += "<section id=\"plots\">\n<h2>Plots</h2>\n";
  for (const auto& p : plots)
    o += "<figure>" + embedded_png(s.dir / (p + ".png"), p) + "<figcaption>" + html_text(p) +
         ".png</figcaption></figure>\n";
  o += "</section>\n";

  o += "<section id=\"cells\">\n<h2>Cells</h2>\n";
  for (const auto& c : s.cells) {
    std::string head = html_text(c.id) + " — " + html_text(c.status);
    if (c.done()) head += " — LL " + figure_or_dash(c.eval->log_likelihood, 2);
    if (c.status == "failed") head += ": " + html_text(c.reason.size() > 160 ? c.reason.substr(0, 157) + "..." : c.reason);
    o += std::string("<details") + (c.status == "failed" ? " class=\"failed\"" : "") + ">\n<summary>" + head +
         "</summary>\n<table class=\"facts\">\n";
    o += fact("folder", "<code>" + html_text(c.folder) + "</code>");
    o += fact("model", html_text(c.model));
    if (!s.grid.empty()) o += fact("grid point", html_text(s.point_label(c.point)));
    o += fact("seed", std::to_string(c.seed));
    if (c.seconds) o += fact("seconds", fmt::format("{:.1f}", *c.seconds));
    if (c.status == "failed") o += fact("reason", "<span class=\"failed\">" + html_text(c.reason) + "</span>");
    if (c.done()) {
      const cell_eval& e = *c.eval;
      o += fact("LL ± SE", figure_or_dash(e.log_likelihood, 3) + " ± " + figure_or_dash(e.log_likelihood_se, 3));
      o += fact("ELBO, RE, KL, gap", figure_or_dash(e.elbo, 3) + ", " + figure_or_dash(e.recon, 3) + ", " +
                                         figure_or_dash(e.kl, 3) + ", " + figure_or_dash(e.gap, 3));
      if (e.active_units) o += fact("active units", figure_or_dash(e.active_units, 0));
      if (e.concentration_mean)
        o += fact("concentration", "mean " + figure_or_dash(e.concentration_mean, 2) + ", range " +
                                       figure_or_dash(e.concentration_min, 2) + " to " +
                                       figure_or_dash(e.concentration_max, 2));
      if (e.df) o += fact("df", figure_or_dash(e.df, 3));
    }
    o += "</table>\n";
    for (const auto& p : cell_pictures(c.dir))
      o += "<figure>" + embedded_png(c.dir / p, c.id + " " + p) + "<figcaption>" + html_text(p) +
           "</figcaption></figure>\n";
    o += "</details>\n";
  }
  o += "</section>\n</body>\n</html>\n";
  return o;
}

}  // namespace vaec::experiments
