// The tables of a `vaec compare`: results.csv (one row per cell), the S-VAE Table 1 form
// (Davidson et al. 2018: rows grid point × model, columns LL, ELBO L[q], RE, KL as
// mean ± sd over seeds, the best per grid point in bold) as table.md and table.tex, the
// paired differences against the baseline (differences.csv and a second table), and
// write_compare_outputs, which writes every output of a compare folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "experiments/study.hpp"

namespace vaec::experiments {

// Mean and sample standard deviation (denominator n − 1) of `values`: two passes, the
// first on the values shifted by the first one (so equal values give that value and an
// sd of exactly 0). mean is nullopt for no values, sd for fewer than two.
struct mean_sd {
  std::optional<double> mean;
  std::optional<double> sd;
  std::size_t n = 0;
};
mean_sd summarize(const std::vector<double>& values);

// One row of Table 1: a grid point and a model, summarized over its done seeds.
struct table_row {
  std::size_t point = 0;                  // grid point (study::point_values)
  std::size_t model = 0;                  // index into study::models
  std::vector<std::size_t> cells;         // its cells (indices into study::cells), in study::seeds' order
  std::size_t done = 0;                   // how many of them are done
  mean_sd ll, elbo, recon, kl;            // over the done cells' eval.json (nats per example)
  bool best_ll = false, best_elbo = false;  // highest mean at its grid point (ties: all); only when
                                            // at least two models there have a value
};

// The rows in table order: grid points (first axis slowest), then models in the
// command's order.
std::vector<table_row> table_rows(const study& s);

// The paired difference of one model against the baseline for one seed, over the same
// test examples: d_i = ll_model,i − ll_baseline,i from the two cells'
// eval_per_example.npy; mean(d) and its paired standard error sd(d)/sqrt(N) (sd with
// denominator N − 1).
struct seed_difference {
  std::int64_t seed = 0;
  std::optional<std::int64_t> examples;   // N, when paired
  std::optional<double> mean;             // mean(d), nats per example
  std::optional<double> se;               // sd(d) / sqrt(N)
  std::string note;                       // why this seed is not paired; empty when it is
};

// One model against the baseline at one grid point, over seeds.
struct difference {
  std::size_t point = 0;
  std::size_t model = 0;                  // never the baseline
  std::vector<seed_difference> seeds;     // in study::seeds' order
  mean_sd over_seeds;                     // of the paired seeds' mean(d)
  std::optional<std::int64_t> examples;   // N when every paired seed has the same N
};

// Every model other than the baseline at every grid point. A seed is left unpaired, with
// a note, when either cell is not done, when the two cells evaluated different data
// (eval.json's data sha256, split, binarization or N differ), or when a per-example file
// cannot be read, does not hold N values, or holds a non-finite value.
std::vector<difference> paired_differences(const study& s);

// results.csv as experiments/README.md specifies: one row per cell in compare.json's
// order, numbers with 17 significant digits, empty fields for what does not apply and for
// a cell that is not done, RFC 4180 quoting where a field needs it.
std::string results_csv(const study& s);

// differences.csv: for each difference, one row per seed (seed, examples, mean_difference,
// paired_se, note) and then one row with seed "all" (seeds paired, the mean over seeds and
// its sd); 17 significant digits.
std::string differences_csv(const study& s, const std::vector<difference>& d);

// A table drawn once and rendered as Markdown, LaTeX (booktabs) or HTML.
struct text_table {
  struct entry {
    std::string text;                     // a number already rounded, or text
    std::optional<std::string> sd;        // "± sd" after a number
    bool number = false;                  // math in LaTeX, right-aligned
    bool bold = false;
    bool dagger = false;                  // refers to a note
  };
  struct heading {
    std::string md, tex, html;
    bool right = false;                   // right-aligned column
  };
  std::string id;                         // HTML id, LaTeX label suffix
  std::string caption;                    // plain text (Markdown-safe, no markup)
  std::string tex_caption;                // the same in LaTeX
  std::vector<heading> headings;
  std::vector<std::vector<entry>> rows;
  std::vector<bool> rule_before;          // a \midrule (a thicker line) before this row
  std::vector<std::string> notes;         // plain text, each under the table
};

// Table 1: rows grid point × model; LL, L[q], RE, KL; notes for failed or unfinished
// cells. Numbers with 2 decimals.
text_table results_table(const study& s, const std::vector<table_row>& rows);

// Table 2: the paired differences, 3 decimals.
text_table differences_table(const study& s, const std::vector<difference>& d);
// What table.md, table.tex and report.html say instead of Table 2 when the study has one
// model (nothing to pair against): "One model (LABEL): no paired differences, …"; nothing
// when there are two or more.
std::optional<std::string> one_model_note(const study& s);

std::string render_markdown(const text_table& t);
// A `table` float holding a booktabs tabular; compiles in a plain LaTeX document with
// \usepackage{booktabs}. Text is escaped; non-ASCII characters LaTeX cannot take without
// packages become ASCII or math equivalents (others '?').
std::string render_latex(const text_table& t);
// A <table> with a <caption>, and the notes as a list after it; text HTML-escaped.
std::string render_html(const text_table& t);

// Escapes for the three formats (exposed for the report and the tests).
std::string latex_text(const std::string& s);
std::string html_text(const std::string& s);
std::string markdown_text(const std::string& s);

// A number with 17 significant digits ("{:.17g}"), which reads back to the same double.
std::string exact(double v);

// Reads DIR/compare.json and the cells' folders and writes into DIR, each file atomically:
// results.csv, differences.csv, table.md, table.tex, ll_vs_NAME.png/.svg per grid axis,
// curves.png/.svg, report.html. Says on `log` what it wrote and anything it left out (a
// cell without metrics.csv). Throws study_error when compare.json cannot be used, and
// vaec::rt::run_folder_error or vaec::report::picture_error when a file cannot be
// written; each what() names the file.
void write_compare_outputs(const std::filesystem::path& dir, std::ostream& log);

}  // namespace vaec::experiments
