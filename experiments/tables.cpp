#include "experiments/tables.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <set>

#include "experiments/html.hpp"
#include "experiments/plots.hpp"
#include "runtime/run_folder.hpp"

namespace vaec::experiments {

namespace fs = std::filesystem;

mean_sd summarize(const std::vector<double>& values) {
  mean_sd r;
  r.n = values.size();
  if (values.empty()) return r;
  // Shifted by the first value: equal values give exactly that value and sd 0, and the
  // sum of small deviations keeps more digits than the sum of the values.
  const double shift = values.front();
  double sum = 0;
  for (double v : values) sum += v - shift;
  const double mean = shift + sum / static_cast<double>(values.size());
  r.mean = mean;
  if (values.size() >= 2) {
    double ss = 0;
    for (double v : values) ss += (v - mean) * (v - mean);
    r.sd = std::sqrt(ss / static_cast<double>(values.size() - 1));
  }
  return r;
}

std::string exact(double v) { return fmt::format("{:.17g}", v); }

namespace {

// The cell of `model` at `point` with `seed`, or nullptr.
const cell* find_cell(const study& s, std::size_t model, std::size_t point, std::int64_t seed) {
  for (const auto& c : s.cells)
    if (c.model_index == model && c.point == point && c.seed == seed) return &c;
  return nullptr;
}

std::string fixed(double v, int decimals) { return fmt::format("{:.{}f}", v, decimals); }

// "1, 2 and 3"
std::string seed_list(const std::vector<std::int64_t>& seeds) {
  std::string s;
  for (std::size_t i = 0; i < seeds.size(); ++i)
    s += (i == 0 ? "" : i + 1 == seeds.size() ? " and " : ", ") + std::to_string(seeds[i]);
  return s;
}

// "500" when all equal, "300–500" otherwise; "" when empty.
template <class T>
std::string span_of(const std::set<T>& v) {
  if (v.empty()) return {};
  if (v.size() == 1) return fmt::format("{}", *v.begin());
  return fmt::format("{}–{}", *v.begin(), *v.rbegin());
}

std::string cell_where(const study& s, const cell& c) {
  std::string w = s.models[c.model_index].label;
  if (!s.grid.empty()) w += ", " + s.point_label(c.point);
  return w + ", seed " + std::to_string(c.seed);
}

// What a cell that is not done shows, and its note.
std::string not_done_note(const study& s, const cell& c) {
  if (c.status == "failed") return cell_where(s, c) + ": failed: " + c.reason;
  return cell_where(s, c) + ": not finished (" + c.status + ")";
}

// RFC 4180: quote a field holding a comma, a quote or a line break.
std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string opt_exact(const std::optional<double>& v) { return v && std::isfinite(*v) ? exact(*v) : ""; }

// An integer-valued figure (active units) without a fraction; others exactly.
std::string count_or_exact(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return "";
  if (*v == std::floor(*v) && std::abs(*v) < 1e15) return fmt::format("{}", static_cast<std::int64_t>(*v));
  return exact(*v);
}

}  // namespace

std::vector<table_row> table_rows(const study& s) {
  std::vector<table_row> rows;
  for (std::size_t p = 0; p < s.points(); ++p) {
    const std::size_t first = rows.size();
    for (std::size_t m = 0; m < s.models.size(); ++m) {
      table_row r;
      r.point = p;
      r.model = m;
      std::vector<double> ll, elbo, recon, kl;
      for (std::int64_t seed : s.seeds) {
        const cell* c = find_cell(s, m, p, seed);
        if (c == nullptr) continue;
        r.cells.push_back(static_cast<std::size_t>(c - s.cells.data()));
        if (!c->done()) continue;
        ++r.done;
        const cell_eval& e = *c->eval;
        auto add = [](std::vector<double>& v, const std::optional<double>& x) {
          if (x && std::isfinite(*x)) v.push_back(*x);
        };
        add(ll, e.log_likelihood);
        add(elbo, e.elbo);
        add(recon, e.recon);
        add(kl, e.kl);
      }
      r.ll = summarize(ll);
      r.elbo = summarize(elbo);
      r.recon = summarize(recon);
      r.kl = summarize(kl);
      rows.push_back(r);
    }
    // Bold: the highest mean LL and ELBO at this grid point, when two models compete.
    auto mark = [&](mean_sd table_row::*figure, bool table_row::*best) {
      std::optional<double> top;
      std::size_t with_value = 0;
      for (std::size_t i = first; i < rows.size(); ++i)
        if (const auto& v = (rows[i].*figure).mean) {
          ++with_value;
          top = top ? std::max(*top, *v) : *v;
        }
      if (with_value < 2) return;
      for (std::size_t i = first; i < rows.size(); ++i)
        rows[i].*best = (rows[i].*figure).mean && *(rows[i].*figure).mean == *top;
    };
    mark(&table_row::ll, &table_row::best_ll);
    mark(&table_row::elbo, &table_row::best_elbo);
  }
  return rows;
}

std::vector<difference> paired_differences(const study& s) {
  std::map<std::size_t, std::vector<double>> cache;  // cell index → per-example LL
  std::map<std::size_t, std::string> cache_error;
  auto per_example = [&](const cell& c) -> const std::vector<double>* {
    const auto k = static_cast<std::size_t>(&c - s.cells.data());
    if (cache.count(k)) return &cache[k];
    if (cache_error.count(k)) return nullptr;
    try {
      cache[k] = read_npy_f64(c.dir / c.eval->per_example);
      return &cache[k];
    } catch (const study_error& e) {
      cache_error[k] = e.what();
      return nullptr;
    }
  };
  std::vector<difference> out;
  for (std::size_t p = 0; p < s.points(); ++p)
    for (std::size_t m = 0; m < s.models.size(); ++m) {
      if (m == s.baseline_index) continue;
      difference d;
      d.point = p;
      d.model = m;
      std::vector<double> means;
      std::set<std::int64_t> ns;
      for (std::int64_t seed : s.seeds) {
        seed_difference sd;
        sd.seed = seed;
        const cell* a = find_cell(s, m, p, seed);
        const cell* b = find_cell(s, s.baseline_index, p, seed);
        const std::string label = s.models[m].label, base = s.baseline;
        if (a == nullptr || b == nullptr) {
          sd.note = fmt::format("no {} cell for seed {}", a == nullptr ? label : base, seed);
        } else if (!a->done() || !b->done()) {
          const cell& missing = !a->done() ? *a : *b;
          sd.note = fmt::format("not paired: {} seed {} {}", missing.model, seed,
                                missing.status == "failed" ? "failed" : "is not finished");
        } else {
          const cell_eval &ea = *a->eval, &eb = *b->eval;
          if (ea.data_sha256 != eb.data_sha256 || ea.data_split != eb.data_split || ea.binarized != eb.binarized ||
              ea.examples != eb.examples) {
            sd.note = fmt::format(
                "not paired: the two cells evaluated different data ({}: {} examples, {} split{}, sha256 {}; {}: {} "
                "examples, {} split{}, sha256 {})",
                label, ea.examples, ea.data_split, ea.binarized ? ", binarized" : "", ea.data_sha256.substr(0, 12), base,
                eb.examples, eb.data_split, eb.binarized ? ", binarized" : "", eb.data_sha256.substr(0, 12));
          } else {
            const auto* la = per_example(*a);
            const auto* lb = per_example(*b);
            if (la == nullptr || lb == nullptr) {
              const cell& bad = la == nullptr ? *a : *b;
              sd.note = "not paired: " + cache_error[static_cast<std::size_t>(&bad - s.cells.data())];
            } else if (la->size() != static_cast<std::size_t>(ea.examples) ||
                       lb->size() != static_cast<std::size_t>(eb.examples)) {
              const cell& bad = la->size() != static_cast<std::size_t>(ea.examples) ? *a : *b;
              sd.note = fmt::format("not paired: {} holds {} values, and its eval.json says {} examples",
                                    (bad.dir / bad.eval->per_example).string(),
                                    (&bad == a ? la : lb)->size(), bad.eval->examples);
            } else {
              std::vector<double> diff(la->size());
              bool finite = true;
              for (std::size_t i = 0; i < diff.size(); ++i) {
                diff[i] = (*la)[i] - (*lb)[i];
                finite = finite && std::isfinite(diff[i]);
              }
              if (!finite) {
                sd.note = "not paired: a per-example log-likelihood is not finite";
              } else {
                const mean_sd r = summarize(diff);
                sd.examples = static_cast<std::int64_t>(diff.size());
                sd.mean = r.mean;
                sd.se = r.sd ? *r.sd / std::sqrt(static_cast<double>(diff.size())) : 0.0;
                means.push_back(*sd.mean);
                ns.insert(*sd.examples);
              }
            }
          }
        }
        d.seeds.push_back(sd);
      }
      d.over_seeds = summarize(means);
      if (ns.size() == 1) d.examples = *ns.begin();
      out.push_back(d);
    }
  return out;
}

std::string results_csv(const study& s) {
  std::string out = "model";
  for (const auto& a : s.grid) out += "," + csv_field(a.name);
  out +=
      ",seed,status,log_likelihood,log_likelihood_se,elbo,recon,kl,gap,active_units,concentration_mean,"
      "concentration_min,concentration_max,df,epochs,seconds,folder,reason\n";
  for (const auto& c : s.cells) {
    std::string row = csv_field(c.model);
    for (std::size_t a = 0; a < s.grid.size(); ++a) row += "," + csv_field(s.grid[a].values[c.grid[a]]);
    row += fmt::format(",{},{}", c.seed, csv_field(c.status));
    if (c.done()) {
      const cell_eval& e = *c.eval;
      for (const auto& v : {e.log_likelihood, e.log_likelihood_se, e.elbo, e.recon, e.kl, e.gap})
        row += "," + opt_exact(v);
      row += "," + count_or_exact(e.active_units);
      for (const auto& v : {e.concentration_mean, e.concentration_min, e.concentration_max, e.df})
        row += "," + opt_exact(v);
      row += "," + (e.epochs ? std::to_string(*e.epochs) : std::string());
    } else {
      row += std::string(12, ',');
    }
    row += "," + opt_exact(c.seconds) + "," + csv_field(c.folder) + "," + csv_field(c.reason);
    out += row + "\n";
  }
  return out;
}

std::string differences_csv(const study& s, const std::vector<difference>& diffs) {
  std::string out = "model,baseline";
  for (const auto& a : s.grid) out += "," + csv_field(a.name);
  out += ",seed,examples,mean_difference,paired_se,seeds_paired,sd_over_seeds,note\n";
  for (const auto& d : diffs) {
    std::string lead = csv_field(s.models[d.model].label) + "," + csv_field(s.baseline);
    const auto v = s.point_values(d.point);
    for (std::size_t a = 0; a < s.grid.size(); ++a) lead += "," + csv_field(s.grid[a].values[v[a]]);
    for (const auto& sd : d.seeds)
      out += fmt::format("{},{},{},{},{},,,{}\n", lead, sd.seed, sd.examples ? std::to_string(*sd.examples) : "",
                         opt_exact(sd.mean), opt_exact(sd.se), csv_field(sd.note));
    out += fmt::format("{},all,{},{},,{},{},\n", lead, d.examples ? std::to_string(*d.examples) : "",
                       opt_exact(d.over_seeds.mean), d.over_seeds.n, opt_exact(d.over_seeds.sd));
  }
  return out;
}

// ---- the tables ---------------------------------------------------------------------------

namespace {

// What the caption says about the evaluation: K, epochs, data, seeds.
struct eval_facts {
  std::string k, epochs, examples, split;
  // The models whose cells' evaluations binarized the test set (once, with each seed), and
  // those that evaluated it as given.
  std::set<std::string> binarized, as_given;
  // The caption's words on binarization: nothing when no model binarizes; that every model
  // of a seed saw the same binary images when all do; which did which otherwise.
  std::string binarization() const {
    if (binarized.empty()) return "";
    if (as_given.empty())
      return ", binarized once with each seed (x ~ Bernoulli(pixel)): every model of a seed sees the same binary images";
    return fmt::format(", binarized once with each seed (x ~ Bernoulli(pixel)) for {} and as given for {}: figures of "
                       "the two groups are on different data and not comparable",
                       fmt::join(binarized, ", "), fmt::join(as_given, ", "));
  }
};

eval_facts facts_of(const study& s) {
  eval_facts f;
  std::set<std::int64_t> ks, epochs, examples;
  std::set<std::string> splits;
  for (const auto& c : s.cells)
    if (c.done()) {
      if (c.eval->iw_samples) ks.insert(*c.eval->iw_samples);
      if (c.eval->epochs) epochs.insert(*c.eval->epochs);
      examples.insert(c.eval->examples);
      if (!c.eval->data_split.empty()) splits.insert(c.eval->data_split);
      (c.eval->binarized ? f.binarized : f.as_given).insert(c.model);
    }
  f.k = s.iw_samples ? std::to_string(*s.iw_samples) : span_of(ks);
  if (f.k.empty()) f.k = "each model's eval_samples";
  f.epochs = span_of(epochs);
  f.examples = span_of(examples);
  f.split = splits.size() == 1 ? *splits.begin() : "test";
  return f;
}

std::string data_name(const study& s) {
  if (s.data_path.empty()) return "the data";
  return s.data_path;
}

text_table::entry number_entry(const mean_sd& v, int decimals, bool bold) {
  text_table::entry e;
  if (!v.mean) return {"—", std::nullopt, false, false, false};
  e.text = fixed(*v.mean, decimals);
  if (v.sd) e.sd = fixed(*v.sd, decimals);
  e.number = true;
  e.bold = bold;
  return e;
}

std::vector<text_table::heading> grid_headings(const study& s) {
  std::vector<text_table::heading> h;
  for (const auto& a : s.grid) h.push_back({markdown_text(a.name), latex_text(a.name), html_text(a.name), false});
  return h;
}

}  // namespace

text_table results_table(const study& s, const std::vector<table_row>& rows) {
  text_table t;
  t.id = "results";
  const eval_facts f = facts_of(s);
  const std::string seeds =
      s.seeds.size() == 1 ? "one seed (" + seed_list(s.seeds) + ")"
                          : fmt::format("mean ± sd over {} seeds ({})", s.seeds.size(), seed_list(s.seeds));
  const std::string base = fmt::format(
      "LL: importance-weighted log-likelihood bound with K = {}; L[q]: ELBO; RE: reconstruction E_q[log p(x|z)]; "
      "KL: KL(q‖p); nats per example on {} ({} examples{}{}){}; {}{}.",
      f.k,
      f.split == "all" ? fmt::format("all of {}", data_name(s)) : fmt::format("the {} split of {}", f.split, data_name(s)),
      f.examples.empty() ? "?" : f.examples,
      f.binarization(),
      f.split == "all" ? "; it has no test split, so these are the data the models were trained on" : "",
      f.epochs.empty() ? "" : ", after " + f.epochs + (f.epochs == "1" ? " epoch" : " epochs"), seeds,
      s.models.size() >= 2 ? (s.grid.empty() ? "; bold: the best LL and L[q]" : "; bold: the best LL and L[q] at each grid point")
                           : "");
  t.caption = base;
  // The LaTeX caption says the same with math.
  std::string tex = latex_text(base);
  auto replace_all = [](std::string& str, const std::string& from, const std::string& to) {
    for (std::size_t at = 0; (at = str.find(from, at)) != std::string::npos; at += to.size()) str.replace(at, from.size(), to);
  };
  replace_all(tex, "L[q]", "$\\mathcal{L}[q]$");
  replace_all(tex, "K = ", "$K$ = ");
  t.tex_caption = tex;

  t.headings = grid_headings(s);
  t.headings.push_back({"model", "Model", "model", false});
  t.headings.push_back({"LL", "LL", "LL", true});
  t.headings.push_back({"L[q]", "$\\mathcal{L}[q]$", "ℒ[q]", true});
  t.headings.push_back({"RE", "RE", "RE", true});
  t.headings.push_back({"KL", "KL", "KL", true});

  std::size_t previous_point = static_cast<std::size_t>(-1);
  for (const auto& r : rows) {
    std::vector<text_table::entry> row;
    const auto v = s.point_values(r.point);
    for (std::size_t a = 0; a < s.grid.size(); ++a) row.push_back({s.grid[a].values[v[a]], {}, false, false, false});
    text_table::entry model{s.models[r.model].label, {}, false, false, false};
    for (std::size_t k : r.cells)
      if (!s.cells[k].done()) {
        model.dagger = true;
        t.notes.push_back(not_done_note(s, s.cells[k]) +
                          (r.done > 0 ? fmt::format(" (the row's figures are over the other {} of {} seeds)", r.done,
                                                    r.cells.size())
                                      : ""));
      }
    row.push_back(model);
    if (r.done == 0) {
      const bool failed = std::any_of(r.cells.begin(), r.cells.end(),
                                      [&](std::size_t k) { return s.cells[k].status == "failed"; });
      const std::string what = r.cells.empty() ? "no cell" : failed ? "failed" : "not finished";
      for (int k = 0; k < 4; ++k) row.push_back({what, {}, false, false, false});
    } else {
      row.push_back(number_entry(r.ll, 2, r.best_ll));
      row.push_back(number_entry(r.elbo, 2, r.best_elbo));
      row.push_back(number_entry(r.recon, 2, false));
      row.push_back(number_entry(r.kl, 2, false));
    }
    t.rule_before.push_back(previous_point != static_cast<std::size_t>(-1) && r.point != previous_point);
    previous_point = r.point;
    t.rows.push_back(row);
  }
  return t;
}

text_table differences_table(const study& s, const std::vector<difference>& diffs) {
  text_table t;
  t.id = "differences";
  t.caption = fmt::format(
      "Is the difference real? Paired over the same test examples: for each seed s, δ_i = LL_model,i − LL_{},i "
      "(per-example importance-weighted log-likelihood, nats); per seed: mean(δ) ± its paired standard error "
      "sd(δ)/√N; ΔLL: the mean over seeds of mean(δ) ± its sd over seeds (not a standard error).",
      s.baseline);
  t.tex_caption = latex_text(t.caption);
  t.headings = grid_headings(s);
  t.headings.push_back({"model − " + markdown_text(s.baseline), "Model $-$ " + latex_text(s.baseline),
                        "model − " + html_text(s.baseline), false});
  t.headings.push_back({"N", "$N$", "N", true});
  t.headings.push_back({"ΔLL ± sd", "$\\Delta$LL $\\pm$ sd", "ΔLL ± sd", true});
  t.headings.push_back({"per seed: mean(δ) ± SE", "Per seed: mean($\\delta$) $\\pm$ SE", "per seed: mean(δ) ± SE", false});
  std::size_t previous_point = static_cast<std::size_t>(-1);
  for (const auto& d : diffs) {
    std::vector<text_table::entry> row;
    const auto v = s.point_values(d.point);
    for (std::size_t a = 0; a < s.grid.size(); ++a) row.push_back({s.grid[a].values[v[a]], {}, false, false, false});
    text_table::entry model{s.models[d.model].label, {}, false, false, false};
    std::string per_seed;
    for (const auto& sd : d.seeds) {
      if (!sd.note.empty()) {
        model.dagger = true;
        std::string where = s.models[d.model].label;
        if (!s.grid.empty()) where += ", " + s.point_label(d.point);
        t.notes.push_back(fmt::format("{}, seed {}: {}", where, sd.seed, sd.note));
        continue;
      }
      per_seed += fmt::format("{}s{}: {} ± {}", per_seed.empty() ? "" : "; ", sd.seed, fixed(*sd.mean, 3), fixed(*sd.se, 3));
    }
    row.push_back(model);
    row.push_back({d.examples ? std::to_string(*d.examples) : "—", {}, d.examples.has_value(), false, false});
    if (d.over_seeds.mean)
      row.push_back(number_entry(d.over_seeds, 3, false));
    else
      row.push_back({"not paired", {}, false, false, false});
    row.push_back({per_seed.empty() ? "—" : per_seed, {}, false, false, false});
    t.rule_before.push_back(previous_point != static_cast<std::size_t>(-1) && d.point != previous_point);
    previous_point = d.point;
    t.rows.push_back(row);
  }
  return t;
}

// ---- rendering ------------------------------------------------------------------------------

std::string markdown_text(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|' || c == '*' || c == '_' || c == '\\' || c == '`') o += '\\';
    o += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return o;
}

std::string html_text(const std::string& s) {
  std::string o;
  for (char c : s) switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  return o;
}

std::string latex_text(const std::string& s) {
  // Non-ASCII characters a plain LaTeX document can typeset without packages.
  static const std::map<std::string, std::string> known = {
      {"−", "$-$"}, {"–", "--"}, {"—", "---"}, {"×", "$\\times$"}, {"±", "$\\pm$"}, {"≤", "$\\le$"},
      {"≥", "$\\ge$"}, {"→", "$\\to$"}, {"…", "\\ldots{}"}, {"‘", "`"}, {"’", "'"}, {"“", "``"}, {"”", "''"},
      {"κ", "$\\kappa$"}, {"σ", "$\\sigma$"}, {"μ", "$\\mu$"}, {"β", "$\\beta$"}, {"Δ", "$\\Delta$"}, {"δ", "$\\delta$"},
      {"‖", "$\\|$"}, {"·", "$\\cdot$"}, {"√", "$\\surd$"}, {"²", "$^2$"}, {"°", "$^\\circ$"}, {"ℒ", "$\\mathcal{L}$"}};
  std::string o;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\': o += "\\textbackslash{}"; break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}': o += '\\'; o += static_cast<char>(c); break;
        case '~': o += "\\textasciitilde{}"; break;
        case '^': o += "\\textasciicircum{}"; break;
        case '<': o += "\\textless{}"; break;
        case '>': o += "\\textgreater{}"; break;
        case '|': o += "\\textbar{}"; break;
        case '\n': case '\r': o += ' '; break;
        case '-': o += i + 1 < s.size() && s[i + 1] == '-' ? "-{}" : "-"; break;  // "--set", not an en dash
        default: o += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    const std::string ch = s.substr(i, len);
    const auto it = known.find(ch);
    o += it != known.end() ? it->second : "?";
    i += len;
  }
  return o;
}

std::string render_markdown(const text_table& t) {
  std::string o = "**" + t.caption + "**\n\n|";
  for (const auto& h : t.headings) o += " " + h.md + " |";
  o += "\n|";
  for (const auto& h : t.headings) o += h.right ? "---:|" : "---|";
  o += "\n";
  for (const auto& row : t.rows) {
    o += "|";
    for (const auto& e : row) {
      std::string v = e.number ? e.text : markdown_text(e.text);
      if (e.sd) v += " ± " + *e.sd;
      if (e.bold) v = "**" + v + "**";
      if (e.dagger) v += " †";
      o += " " + v + " |";
    }
    o += "\n";
  }
  if (!t.notes.empty()) {
    o += "\n";
    for (const auto& n : t.notes) o += "- † " + markdown_text(n) + "\n";
  }
  return o;
}

std::string render_latex(const text_table& t) {
  // \small and narrower column gaps: Table 1 with "mean ± sd" in four columns fits an
  // article's text width.
  std::string o = "\\begin{table}[ht]\n\\centering\n\\small\n\\setlength{\\tabcolsep}{4pt}\n\\caption{" + t.tex_caption + "}\n\\label{tab:" + t.id +
                  "}\n\\begin{tabular}{";
  for (const auto& h : t.headings) o += h.right ? "r" : "l";
  o += "}\n\\toprule\n";
  for (std::size_t i = 0; i < t.headings.size(); ++i) o += (i ? " & " : "") + t.headings[i].tex;
  o += " \\\\\n\\midrule\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    if (t.rule_before[r]) o += "\\midrule\n";
    for (std::size_t i = 0; i < t.rows[r].size(); ++i) {
      const auto& e = t.rows[r][i];
      std::string v;
      if (e.number) {
        v = "$" + e.text + (e.sd ? " \\pm " + *e.sd : "") + "$";
        if (e.bold) v = "{\\boldmath" + v + "}";
      } else {
        v = latex_text(e.text);
        if (e.bold) v = "\\textbf{" + v + "}";
      }
      if (e.dagger) v += "$^\\dagger$";
      o += (i ? " & " : "") + v;
    }
    o += " \\\\\n";
  }
  o += "\\bottomrule\n\\end{tabular}\n";
  if (!t.notes.empty()) {
    o += "\n\\smallskip\n{\\footnotesize\n";
    for (const auto& n : t.notes) o += "$^\\dagger$ " + latex_text(n) + "\\par\n";
    o += "}\n";
  }
  o += "\\end{table}\n";
  return o;
}

std::string render_html(const text_table& t) {
  std::string o = "<table class=\"booktabs\" id=\"" + t.id + "\">\n<caption>" + html_text(t.caption) + "</caption>\n<thead><tr>";
  for (const auto& h : t.headings) o += std::string(h.right ? "<th class=\"num\">" : "<th>") + h.html + "</th>";
  o += "</tr></thead>\n<tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    o += t.rule_before[r] ? "<tr class=\"group\">" : "<tr>";
    for (const auto& e : t.rows[r]) {
      std::string v = html_text(e.text);
      if (e.sd) v += " ± " + html_text(*e.sd);
      if (e.bold) v = "<strong>" + v + "</strong>";
      if (e.dagger) v += "<sup>†</sup>";
      o += std::string(e.number ? "<td class=\"num\">" : "<td>") + v + "</td>";
    }
    o += "</tr>\n";
  }
  o += "</tbody>\n</table>\n";
  if (!t.notes.empty()) {
    o += "<ul class=\"notes\">\n";
    for (const auto& n : t.notes) o += "<li>† " + html_text(n) + "</li>\n";
    o += "</ul>\n";
  }
  return o;
}

// ---- everything -------------------------------------------------------------------------------

std::optional<std::string> one_model_note(const study& s) {
  if (s.models.size() >= 2) return std::nullopt;
  return fmt::format("One model ({}): no paired differences, which need a second model to pair against; give "
                     "vaec compare two or more models.",
                     s.models.empty() ? std::string("none") : s.models.front().label);
}

void write_compare_outputs(const fs::path& dir, std::ostream& log) {
  const study s = read_study(dir, log);
  const auto rows = table_rows(s);
  const auto diffs = paired_differences(s);
  const text_table results = results_table(s, rows), differences = differences_table(s, diffs);
  auto write = [&](const std::string& name, const std::string& content) {
    rt::write_file_atomically(dir / name, content);
    log << "wrote " << (dir / name).string() << "\n";
  };
  // With one model there is nothing to pair against: a sentence instead of an empty table
  // (differences.csv keeps its header, so scripts read the same columns).
  const auto alone = one_model_note(s);
  write("results.csv", results_csv(s));
  write("differences.csv", differences_csv(s, diffs));
  write("table.md", render_markdown(results) + "\n" +
                        (alone ? "_" + markdown_text(*alone) + "_\n" : render_markdown(differences)));
  write("table.tex",
        "% vaec compare: Table 1 (Davidson et al. 2018's form) and the paired differences; needs "
        "\\usepackage{booktabs}\n" +
            render_latex(results) + "\n" +
            (alone ? std::string("% One model: no paired differences (they need a second model to pair against).\n")
                   : render_latex(differences)));
  const auto plots = write_compare_plots(s, rows, log);
  write("report.html", report_html(s, results, differences, plots));
}

}  // namespace vaec::experiments
