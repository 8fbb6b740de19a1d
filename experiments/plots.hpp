// The plots of a `vaec compare`, drawn through report/'s PLplot helpers: the
// log-likelihood against each grid axis, and every cell's test ELBO curve.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "experiments/study.hpp"
#include "experiments/tables.hpp"

namespace vaec::experiments {

// Writes into s.dir, each as PNG (800 × 600) and SVG:
// - ll_vs_NAME for each grid axis NAME: x the axis' values (a numeric axis when every value
//   parses as a number, logarithmic when they are all positive and span a factor of 10 or
//   more; else categorical, in the command's order), y the mean IW log-likelihood over the
//   done seeds (nats), error bars ± its sd over seeds; one line per model and per
//   combination of the other axes' values (colour: the model; marker: the combination),
//   each set off horizontally by up to ±1.2% of the axis so that equal values stay visible.
// - curves: test ELBO (metrics.csv's test_elbo, nats) against epoch for every cell with a
//   metrics.csv, one colour per model, the legend naming each model once.
// Returns the base names written (e.g. "ll_vs_d", "curves"), in that order; says on `log`
// what it left out (a cell without metrics.csv or test_elbo). Throws
// vaec::report::picture_error when a file cannot be written.
std::vector<std::string> write_compare_plots(const study& s, const std::vector<table_row>& rows, std::ostream& log);

// `value` as a number when the whole text parses as a finite one (strtod: "3e-4", "0.0003"),
// else nothing.
std::optional<double> numeric_value(const std::string& value);
// Whether every value parses whole as a finite number (numeric_value), and the numbers.
bool all_numeric(const std::vector<std::string>& values, std::vector<double>& numbers);

}  // namespace vaec::experiments
