#include "experiments/plots.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <ostream>

#include "report/pictures.hpp"

namespace vaec::experiments {

namespace fs = std::filesystem;

std::optional<double> numeric_value(const std::string& value) {
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

bool all_numeric(const std::vector<std::string>& values, std::vector<double>& numbers) {
  numbers.clear();
  for (const auto& v : values) {
    const auto d = numeric_value(v);
    if (!d) return false;
    numbers.push_back(*d);
  }
  return true;
}

namespace {

// A file name part from an axis name: letters, digits, '_' and '-' kept, others '_'.
std::string file_part(const std::string& name) {
  std::string o;
  for (char c : name) o += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return o;
}

const table_row* row_of(const std::vector<table_row>& rows, std::size_t point, std::size_t model) {
  for (const auto& r : rows)
    if (r.point == point && r.model == model) return &r;
  return nullptr;
}

}  // namespace

std::vector<std::string> write_compare_plots(const study& s, const std::vector<table_row>& rows, std::ostream& log) {
  std::vector<std::string> written;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const bool error_bars = s.seeds.size() >= 2;

  for (std::size_t axis = 0; axis < s.grid.size(); ++axis) {
    const grid_axis& a = s.grid[axis];
    std::vector<double> xs;
    report::line_plot plot;
    const bool numeric = all_numeric(a.values, xs);
    if (numeric) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (double x : xs) lo = std::min(lo, x), hi = std::max(hi, x);
      plot.log_x = lo > 0 && hi / lo >= 10;
      if (plot.log_x) plot.log_ticks = xs;  // the grid's values, not the set-off points
    } else {
      xs.clear();
      for (std::size_t i = 0; i < a.values.size(); ++i) xs.push_back(static_cast<double>(i));
      plot.x_labels = a.values;
    }
    plot.title = "test log-likelihood against " + a.name;
    plot.xlabel = a.name + (plot.log_x ? " (logarithmic scale)" : "");
    // The other axes' combinations: the grid points with this axis' value at index 0.
    std::vector<std::size_t> combos;
    for (std::size_t p = 0; p < s.points(); ++p)
      if (s.point_values(p)[axis] == 0) combos.push_back(p);
    std::size_t stride = 1;  // grid points between consecutive values of this axis
    for (std::size_t b = axis + 1; b < s.grid.size(); ++b) stride *= s.grid[b].values.size();
    // Each series is set off horizontally by a little (up to ±1.2% of the axis), so that
    // equal means and their error bars stay visible side by side.
    const std::size_t count = s.models.size() * combos.size();
    const double lo = *std::min_element(xs.begin(), xs.end()), hi = *std::max_element(xs.begin(), xs.end());
    const double width = !numeric ? 1.0 : plot.log_x ? std::log10(hi / lo) : hi > lo ? hi - lo : 1.0;
    auto dodge = [&](double x, std::size_t series) {
      if (count < 2) return x;
      const double off = 0.024 * width * (static_cast<double>(series) / static_cast<double>(count - 1) - 0.5);
      return plot.log_x ? x * std::pow(10.0, off) : x + off;
    };
    report::panel panel;
    panel.ylabel = "LL (nats)";
    for (std::size_t m = 0; m < s.models.size(); ++m)
      for (std::size_t ci = 0; ci < combos.size(); ++ci) {
        report::series line;
        line.name = s.models[m].label;
        if (combos.size() > 1) {
          const auto v = s.point_values(combos[ci]);
          for (std::size_t b = 0; b < s.grid.size(); ++b)
            if (b != axis) line.name += ", " + s.grid[b].name + " = " + s.grid[b].values[v[b]];
        }
        line.colour = static_cast<int>(m % 10);
        line.marker = combos.size() > 1 ? static_cast<int>(ci % 10) : -1;
        for (std::size_t k = 0; k < a.values.size(); ++k) {
          const table_row* r = row_of(rows, combos[ci] + k * stride, m);
          line.x.push_back(dodge(xs[k], panel.lines.size()));
          line.y.push_back(r && r->ll.mean ? *r->ll.mean : nan);
          if (error_bars) line.error.push_back(r && r->ll.sd ? *r->ll.sd : nan);
        }
        panel.lines.push_back(line);
      }
    plot.panels.push_back(panel);
    const std::string base = "ll_vs_" + file_part(a.name);
    report::plot_lines((s.dir / base).string(), plot);
    log << "wrote " << (s.dir / (base + ".png")).string() << " and .svg\n";
    written.push_back(base);
  }

  report::line_plot curves;
  curves.title = "test ELBO of every cell";
  curves.xlabel = "epoch";
  report::panel panel;
  panel.ylabel = "test ELBO (nats)";
  std::vector<bool> named(s.models.size(), false);
  for (const auto& c : s.cells) {
    const fs::path metrics = c.dir / "metrics.csv";
    std::error_code ec;
    if (!fs::exists(metrics, ec)) {
      if (c.status == "done" || c.status == "failed")
        log << "note: " << c.id << " has no " << metrics.string() << "; its curve is left out of curves.png\n";
      continue;
    }
    std::vector<std::optional<double>> epoch, elbo;
    try {
      epoch = read_csv_column(metrics, "epoch");
      elbo = read_csv_column(metrics, "test_elbo");
    } catch (const study_error& e) {
      log << "note: " << e.what() << "; " << c.id << "'s curve is left out of curves.png\n";
      continue;
    }
    report::series line;
    for (std::size_t i = 0; i < epoch.size(); ++i) {
      if (!epoch[i]) continue;
      line.x.push_back(*epoch[i]);
      line.y.push_back(elbo[i] ? *elbo[i] : nan);
    }
    if (line.x.empty()) continue;
    line.colour = static_cast<int>(c.model_index % 10);
    line.marker = line.x.size() < 2 ? -1 : -2;  // one epoch: a marker, since a line of one point is not drawn
    if (!named[c.model_index]) line.name = c.model, named[c.model_index] = true;
    panel.lines.push_back(line);
  }
  curves.panels.push_back(panel);
  report::plot_lines((s.dir / "curves").string(), curves);
  log << "wrote " << (s.dir / "curves.png").string() << " and .svg\n";
  written.push_back("curves");
  return written;
}

}  // namespace vaec::experiments
