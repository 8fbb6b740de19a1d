// Plots through PLplot: each figure is drawn twice, once by the memcairo driver into an
// RGB buffer (encoded by png.cpp through libpng) and once by the svg driver into memory,
// then both files are written atomically by file.cpp. PLplot never sees a path, so it
// cannot fail on one (its plexit() would end the process), and every write is checked.
#include <plplot/plplot.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "report/file.hpp"
#include "report/pictures.hpp"

namespace vaec::report {

namespace {

// ---- colours and markers ----------------------------------------------------------------

// cmap0 indices set for every figure.
enum colour_index : PLINT {
  c_background = 0,
  c_black = 1,
  c_tab10 = 2,       // 2..11: tab10
  c_grid = 12,       // light grey grid lines
  c_band = 13,       // very light grey shaded bands
  c_inactive = 14,   // grey bars below a threshold
  c_graticule = 15,  // mid grey
  c_count = 16
};

// matplotlib's tab10 (Vega's category10): distinct hues that stay apart for the common
// colour-vision deficiencies; the markers below separate them in greyscale.
constexpr int tab10[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                              {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

PLINT tab(int k) { return c_tab10 + ((k % 10) + 10) % 10; }
// A label's marker shape: labels 10 apart share a colour, so shift their shape.
int marker_of_label(int k) { return (k + k / 10) % 10; }

void set_colours() {
  plscmap0n(c_count);
  plscol0(c_background, 255, 255, 255);
  plscol0(c_black, 0, 0, 0);
  for (int k = 0; k < 10; ++k) plscol0(c_tab10 + k, tab10[k][0], tab10[k][1], tab10[k][2]);
  plscol0(c_grid, 225, 225, 225);
  plscol0(c_band, 235, 235, 235);
  plscol0(c_inactive, 190, 190, 190);
  plscol0(c_graticule, 150, 150, 150);
}

// ---- one PLplot session per figure --------------------------------------------------------

// PLplot keeps its streams, device and colour maps in globals: one figure at a time.
std::mutex plplot_mutex;
// plabort() messages of the figure being drawn (PLplot reports bad arguments this way).
std::string plplot_errors;

void record_abort(const char* message) {
  if (!plplot_errors.empty()) plplot_errors += "; ";
  plplot_errors += message;
}

bool have_device(const char* name) {
  PLINT n = 64;
  std::vector<const char*> menu(static_cast<std::size_t>(n)), devs(static_cast<std::size_t>(n));
  const char** m = menu.data();
  const char** d = devs.data();
  plgDevs(&m, &d, &n);
  for (PLINT i = 0; i < n; ++i)
    if (std::strcmp(devs[static_cast<std::size_t>(i)], name) == 0) return true;
  return false;
}

ssize_t append_to_string(void* cookie, const char* bytes, size_t n) {
  static_cast<std::string*>(cookie)->append(bytes, n);
  return static_cast<ssize_t>(n);
}

// Draws `draw` into BASE.png (width × height pixels) and BASE.svg (width × height points).
void render(const std::string& base, int width, int height, const std::function<void()>& draw) {
  const std::string png_path = base + ".png", svg_path = base + ".svg";
  if (width < 100 || height < 100 || width > 10000 || height > 10000)
    throw picture_error("cannot write " + png_path + ": a plot must be 100 to 10000 pixels a side, not " +
                        std::to_string(width) + "x" + std::to_string(height));
  png_image png;
  std::string svg;
  {
    std::lock_guard lock(plplot_mutex);
    for (const char* dev : {"memcairo", "svg"})
      if (!have_device(dev))
        throw picture_error("cannot write " + png_path + ": PLplot's " + dev +
                            " driver is not installed (scripts/setup installs plplot-driver-cairo)");
    plplot_errors.clear();
    plsabort(record_abort);

    png.width = width;
    png.height = height;
    png.channels = 3;
    png.pixels.assign(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3, 255);
    plsdev("memcairo");
    plsmem(width, height, png.pixels.data());
    set_colours();
    plinit();
    draw();
    plend();

    // The svg driver writes to a FILE*; this one appends to `svg`, and plend() closes it.
    cookie_io_functions_t io{nullptr, append_to_string, nullptr, nullptr};
    std::FILE* f = fopencookie(&svg, "w", io);
    if (f == nullptr) throw picture_error("cannot write " + svg_path + ": " + os_reason(errno));
    plsdev("svg");
    plsfile(f);
    plspage(0, 0, width, height, 0, 0);
    set_colours();
    plinit();
    draw();
    plend();
    plsabort(nullptr);
    if (!plplot_errors.empty()) throw picture_error("cannot write " + png_path + ": PLplot: " + plplot_errors);
  }
  write_png(png_path, png);
  write_file_atomically(svg_path, svg);
}

// ---- ranges and axes ------------------------------------------------------------------------

struct range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // The range with a margin of `pad` of its width each side; [0, 1] when empty.
  range padded(double pad) const {
    if (!(lo <= hi)) return {0, 1};
    if (lo == hi) {
      const double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
      return {lo - d, hi + d};
    }
    const double d = (hi - lo) * pad;
    return {lo - d, hi + d};
  }
};

// Light grey grid, then the black frame with ticks and numbers.
// x_grid = false leaves out the x grid (a categorical axis draws its own at each category).
void draw_axes(const char* xopt, const char* yopt, bool x_grid = true) {
  plcol0(c_grid);
  plwidth(1);
  pllsty(1);
  plbox(x_grid ? "g" : "", 0, 0, "g", 0, 0);
  plcol0(c_black);
  plbox(xopt, 0, 0, yopt, 0, 0);
}

// World units per millimetre on the current viewport and window, across and up.
void world_per_mm(double& sx, double& sy) {
  PLFLT px0 = 0, px1 = 0, py0 = 0, py1 = 0, vx0 = 0, vx1 = 0, vy0 = 0, vy1 = 0, wx0 = 0, wx1 = 0, wy0 = 0, wy1 = 0;
  plgspa(&px0, &px1, &py0, &py1);  // the page, mm
  plgvpd(&vx0, &vx1, &vy0, &vy1);  // the viewport, fractions of the page
  plgvpw(&wx0, &wx1, &wy0, &wy1);  // the window, world units
  sx = (wx1 - wx0) / ((vx1 - vx0) * (px1 - px0));
  sy = (wy1 - wy0) / ((vy1 - vy0) * (py1 - py0));
}

// Marker shapes are drawn as PLplot polygons and lines, not as font glyphs, so that they
// have one size and look the same in the PNG and in any SVG viewer. Shapes: 0 filled
// circle, 1 filled square, 2 filled triangle, 3 filled down-triangle, 4 filled diamond,
// 5 open circle, 6 open square, 7 open triangle, 8 cross, 9 plus.
void draw_marker(int shape, double x, double y, double r_mm, double sx, double sy) {
  static const auto circle = [] {
    std::array<std::pair<double, double>, 12> c{};
    for (std::size_t i = 0; i < c.size(); ++i) {
      const double a = 2 * std::numbers::pi * static_cast<double>(i) / 12;
      c[i] = {std::cos(a), std::sin(a)};
    }
    return c;
  }();
  PLFLT px[13], py[13];  // 12 vertices and the closing one
  int n = 0;
  auto put = [&](double u, double v) {
    px[n] = x + u * r_mm * sx;
    py[n] = y + v * r_mm * sy;
    ++n;
  };
  switch (shape % 5) {
    case 0:
      for (const auto& [u, v] : circle) put(u, v);
      break;
    case 1:
      put(-0.85, -0.85), put(0.85, -0.85), put(0.85, 0.85), put(-0.85, 0.85);
      break;
    case 2:
      put(0, 1.15), put(-1.0, -0.6), put(1.0, -0.6);
      break;
    case 3:
      put(0, -1.15), put(1.0, 0.6), put(-1.0, 0.6);
      break;
    case 4:
      put(0, 1.15), put(1.0, 0), put(0, -1.15), put(-1.0, 0);
      break;
  }
  if (shape < 5) {
    plfill(n, px, py);
  } else if (shape < 8) {
    px[n] = px[0], py[n] = py[0];
    plline(n + 1, px, py);
  } else {
    const double d = shape == 8 ? 0.8 : 1.1;
    if (shape == 8) {
      pljoin(x - d * r_mm * sx, y - d * r_mm * sy, x + d * r_mm * sx, y + d * r_mm * sy);
      pljoin(x - d * r_mm * sx, y + d * r_mm * sy, x + d * r_mm * sx, y - d * r_mm * sy);
    } else {
      pljoin(x - d * r_mm * sx, y, x + d * r_mm * sx, y);
      pljoin(x, y - d * r_mm * sy, x, y + d * r_mm * sy);
    }
  }
}

// A legend drawn beside a viewport, with the same markers, lines and fills as the plot.
struct legend {
  enum kind { line, points, box };
  struct entry {
    kind what = line;
    PLINT colour = c_black;
    int marker = -1;  // −1 = none
    bool dashed = false;
    std::string text;
  };
  std::vector<entry> entries;
  PLFLT text_scale = 0.85;  // relative to PLplot's default character height

  static constexpr double sample_mm = 9;  // the line or box sample
  static constexpr double pad_mm = 2;

  // Width as a fraction of the page, at this text size (needs an initialized stream).
  double width() const {
    if (entries.empty()) return 0;
    // PLplot 5.15 does not export plstrl(); estimate from the character height (the
    // average advance of DejaVu Sans, PLplot's cairo font here, is under 0.8 of it).
    plschr(0, text_scale);
    PLFLT def = 0, ht = 0;
    plgchr(&def, &ht);
    plschr(0, 1.0);
    double text_mm = 0;
    for (const auto& e : entries) {
      std::size_t chars = 0;
      for (unsigned char c : e.text) chars += (c & 0xC0) != 0x80;  // UTF-8 code points
      text_mm = std::max(text_mm, 0.8 * ht * static_cast<double>(chars));
    }
    PLFLT px0 = 0, px1 = 0, py0 = 0, py1 = 0;
    plgspa(&px0, &px1, &py0, &py1);
    return (3 * pad_mm + sample_mm + text_mm) / (px1 - px0);
  }

  // Draws the legend with its top-left corner at (x0, top), fractions of the page.
  // Leaves the viewport changed.
  void draw(double x0, double top) const {
    if (entries.empty()) return;
    plschr(0, text_scale);
    PLFLT def = 0, ht = 0;
    plgchr(&def, &ht);
    const double step = 2.1 * ht, h_mm = step * static_cast<double>(entries.size()) + 0.6 * ht;
    PLFLT px0 = 0, px1 = 0, py0 = 0, py1 = 0;
    plgspa(&px0, &px1, &py0, &py1);
    const double w = width(), w_mm = w * (px1 - px0), h = h_mm / (py1 - py0);
    plschr(0, text_scale);
    plvpor(x0, x0 + w, top - h, top);
    plwind(0, w_mm, -h_mm, 0);
    const PLFLT bx[4] = {0, w_mm, w_mm, 0}, by[4] = {0, 0, -h_mm, -h_mm};
    plcol0(c_background);
    plfill(4, bx, by);
    plcol0(c_black);
    plwidth(1);
    pllsty(1);
    plbox("bc", 0, 0, "bc", 0, 0);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const entry& e = entries[i];
      const double y = -(static_cast<double>(i) + 0.5) * step - 0.3 * ht;
      const double xs0 = pad_mm, xs1 = pad_mm + sample_mm;
      plcol0(e.colour);
      if (e.what == line) {
        plwidth(2);
        pllsty(e.dashed ? 2 : 1);
        pljoin(xs0, y, xs1, y);
        pllsty(1);
        plwidth(1);
      } else if (e.what == box) {
        const PLFLT qx[4] = {xs0, xs1, xs1, xs0}, qy[4] = {y - 0.6 * ht, y - 0.6 * ht, y + 0.6 * ht, y + 0.6 * ht};
        plfill(4, qx, qy);
      }
      if (e.marker >= 0) draw_marker(e.marker, (xs0 + xs1) / 2, y, 1.2, 1, 1);
      plcol0(c_black);
      plptex(xs1 + pad_mm, y, 1, 0, 0, e.text.c_str());
    }
    plschr(0, 1.0);
  }
};

// Draws the points with their labels' colours and markers, in the points' own order, so
// that no class is drawn wholly over another.
void draw_labelled_points(std::span<const double> xs, std::span<const double> ys, std::span<const int> labels,
                          double r_mm) {
  double sx = 0, sy = 0;
  world_per_mm(sx, sy);
  plwidth(1);
  int current = -1;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    const int k = labels.empty() ? 0 : labels[i];
    if (k != current) plcol0(tab(k)), current = k;
    draw_marker(marker_of_label(k), xs[i], ys[i], r_mm, sx, sy);
  }
}

// Marker radius for n points: small enough that 10,000 do not make a blot.
double point_radius(std::size_t n) { return n > 2000 ? 0.45 : n > 300 ? 0.7 : 1.0; }

// Checks the arguments common to the labelled-point plots and returns their legend.
legend label_legend(const std::string& path, std::size_t n, std::span<const int> labels,
                    const std::vector<std::string>& names) {
  if (!labels.empty() && labels.size() != n)
    throw picture_error("cannot write " + path + ": " + std::to_string(labels.size()) + " labels for " +
                        std::to_string(n) + " points");
  std::vector<bool> used(names.size(), false);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= names.size())
      throw picture_error("cannot write " + path + ": label " + std::to_string(labels[i]) + " of point " +
                          std::to_string(i) + " has no name (" + std::to_string(names.size()) + " names)");
    used[static_cast<std::size_t>(labels[i])] = true;
  }
  legend l;
  for (std::size_t k = 0; k < names.size(); ++k)
    if (used[k]) {
      const int label = static_cast<int>(k);
      l.entries.push_back({legend::points, tab(label), marker_of_label(label), false, names[k]});
    }
  return l;
}

void title_line(const std::string& title) {
  plcol0(c_black);
  plschr(0, 1.1);
  plmtex("t", 1.5, 0.5, 0.5, title.c_str());
  plschr(0, 1.0);
}

// The plot's viewport spans [vp_left, right_of(legend)] across.
constexpr PLFLT vp_left = 0.10, page_right = 0.985, legend_gap = 0.015;
double right_of(double legend_width) { return page_right - (legend_width > 0 ? legend_width + legend_gap : 0); }

}  // namespace

// ---- plot_lines -----------------------------------------------------------------------------

void plot_lines(const std::string& base, const line_plot& plot) {
  const std::string path = base + ".png";
  auto bad = [&](const std::string& why) { throw picture_error("cannot write " + path + ": " + why); };
  if (plot.panels.empty()) bad("a line plot needs at least one panel");
  if (!plot.x_labels.empty() && plot.log_x) bad("an x axis cannot be both categorical and logarithmic");
  range xr;
  for (const auto& p : plot.panels)
    for (const auto& s : p.lines) {
      if (s.y.size() != s.x.size())
        bad("series '" + s.name + "' has " + std::to_string(s.x.size()) + " x and " + std::to_string(s.y.size()) +
            " y values");
      if (!s.error.empty() && s.error.size() != s.x.size())
        bad("series '" + s.name + "' has " + std::to_string(s.error.size()) + " error bars for " +
            std::to_string(s.x.size()) + " points");
      if (s.colour < -1 || s.colour > 9) bad("series '" + s.name + "' has colour " + std::to_string(s.colour));
      if (s.marker < -2 || s.marker > 9) bad("series '" + s.name + "' has marker " + std::to_string(s.marker));
      for (double x : s.x) {
        if (plot.log_x && std::isfinite(x) && x <= 0)
          bad("series '" + s.name + "' has x = " + std::to_string(x) + " on a logarithmic axis");
        if (!plot.x_labels.empty() && std::isfinite(x) &&
            (x < -0.5 || x > static_cast<double>(plot.x_labels.size()) - 0.5))
          bad("series '" + s.name + "' has x = " + std::to_string(x) + " on a categorical axis of " +
              std::to_string(plot.x_labels.size()) + " labels");
        xr.add(plot.log_x && x > 0 ? std::log10(x) : x);
      }
    }
  for (const auto& b : plot.bands) {
    xr.add(plot.log_x && b.from > 0 ? std::log10(b.from) : b.from);
    xr.add(plot.log_x && b.to > 0 ? std::log10(b.to) : b.to);
  }
  if (!plot.x_labels.empty()) {
    // Half a category of margin each side, so that the first and last points sit inside.
    xr.add(-0.5);
    xr.add(static_cast<double>(plot.x_labels.size()) - 0.5);
  }
  const range x_axis = plot.x_labels.empty() ? xr.padded(0.03) : xr;
  std::vector<double> log_ticks;
  if (plot.log_x) {
    for (const auto& p : plot.panels)
      for (const auto& s : p.lines)
        for (double x : s.x)
          if (std::isfinite(x) && x > 0 && plot.log_ticks.empty()) log_ticks.push_back(x);
    for (double x : plot.log_ticks)
      if (std::isfinite(x) && x > 0) log_ticks.push_back(x);
    std::sort(log_ticks.begin(), log_ticks.end());
    log_ticks.erase(std::unique(log_ticks.begin(), log_ticks.end()), log_ticks.end());
    // Keep at most 12, evenly spread.
    if (log_ticks.size() > 12) {
      std::vector<double> keep;
      for (std::size_t i = 0; i < 12; ++i) keep.push_back(log_ticks[i * (log_ticks.size() - 1) / 11]);
      log_ticks = keep;
    }
  }
  auto tx = [&](double x) { return plot.log_x ? (x > 0 ? std::log10(x) : std::nan("")) : x; };
  auto colour_of = [](const series& s, std::size_t i) { return s.colour >= 0 ? s.colour : static_cast<int>(i % 10); };
  auto marker_of = [&](const series& s, std::size_t i) { return s.marker == -1 ? colour_of(s, i) : s.marker; };

  std::vector<legend> legends(plot.panels.size());
  for (std::size_t pi = 0; pi < plot.panels.size(); ++pi) {
    const panel& p = plot.panels[pi];
    if (p.legend)
      for (std::size_t si = 0; si < p.lines.size(); ++si)
        if (!p.lines[si].name.empty())
          legends[pi].entries.push_back({legend::line, tab(colour_of(p.lines[si], si)), marker_of(p.lines[si], si),
                                         p.lines[si].dashed, p.lines[si].name});
    if (pi == 0 && !plot.bands.empty() && !plot.band_label.empty())
      legends[pi].entries.push_back({legend::box, c_band, -1, false, plot.band_label});
  }

  auto draw = [&] {
    pladv(0);
    const std::size_t np = plot.panels.size();
    const PLFLT text = np > 2 ? 0.85 : 1.0;
    double legend_w = 0;
    for (auto& l : legends) {
      l.text_scale = text * 0.9;
      legend_w = std::max(legend_w, l.width());
    }
    const double right = right_of(legend_w);
    const PLFLT top = 0.93, bottom = np > 2 ? 0.07 : 0.10, gap = 0.02;
    const PLFLT h = (top - bottom - gap * static_cast<PLFLT>(np - 1)) / static_cast<PLFLT>(np);
    for (std::size_t pi = 0; pi < np; ++pi) {
      const panel& p = plot.panels[pi];
      const PLFLT y1 = top - static_cast<PLFLT>(pi) * (h + gap);
      plvpor(vp_left, right, y1 - h, y1);
      range yr;
      for (const auto& s : p.lines)
        for (std::size_t i = 0; i < s.y.size(); ++i) {
          const double e = s.error.empty() || !std::isfinite(s.error[i]) ? 0 : std::abs(s.error[i]);
          yr.add(s.y[i] - e);
          yr.add(s.y[i] + e);
        }
      range y_axis = yr.padded(0.08);
      if (p.y_min) y_axis.lo = *p.y_min;
      if (p.y_max) y_axis.hi = *p.y_max;
      if (!(y_axis.lo < y_axis.hi)) y_axis = range{y_axis.lo, y_axis.lo + 1};
      plwind(x_axis.lo, x_axis.hi, y_axis.lo, y_axis.hi);
      plschr(0, text);

      for (const auto& b : plot.bands) {
        const PLFLT bx[4] = {std::clamp(tx(b.from), x_axis.lo, x_axis.hi), std::clamp(tx(b.to), x_axis.lo, x_axis.hi),
                             std::clamp(tx(b.to), x_axis.lo, x_axis.hi), std::clamp(tx(b.from), x_axis.lo, x_axis.hi)};
        const PLFLT by[4] = {y_axis.lo, y_axis.lo, y_axis.hi, y_axis.hi};
        if (!std::isfinite(bx[0]) || !std::isfinite(bx[1])) continue;
        plcol0(c_band);
        plfill(4, bx, by);
      }
      const bool last = pi + 1 == np;
      // A logarithmic axis over a decade or two gets few of PLplot's numbers: number the
      // data's own x values instead.
      const bool categorical = !plot.x_labels.empty();
      const std::string xopt = plot.log_x ? "bcstl" : categorical ? "bc" : last ? "bcnst" : "bcst";
      draw_axes(xopt.c_str(), "bcnstv", !categorical);
      if (plot.log_x && last)
        for (double x : log_ticks) {
          const double f = (std::log10(x) - x_axis.lo) / (x_axis.hi - x_axis.lo);
          char t[32];
          std::snprintf(t, sizeof t, "%g", x);
          plmtex("b", 1.6, f, 0.5, t);
        }
      if (categorical) {
        // A grid line and a tick at each category, its label under the bottom panel.
        for (std::size_t i = 0; i < plot.x_labels.size(); ++i) {
          const double x = static_cast<double>(i);
          plcol0(c_grid);
          pljoin(x, y_axis.lo, x, y_axis.hi);
          plcol0(c_black);
          const double tick = (y_axis.hi - y_axis.lo) * 0.015;
          pljoin(x, y_axis.lo, x, y_axis.lo + tick);
          pljoin(x, y_axis.hi, x, y_axis.hi - tick);
          if (last) plmtex("b", 1.6, (x - x_axis.lo) / (x_axis.hi - x_axis.lo), 0.5, plot.x_labels[i].c_str());
        }
      }
      plmtex("l", 4.5, 0.5, 0.5, p.ylabel.c_str());
      if (last) plmtex("b", 3.0, 0.5, 0.5, plot.xlabel.c_str());
      if (pi == 0) title_line(plot.title);
      plschr(0, text);

      double sx = 0, sy = 0;
      world_per_mm(sx, sy);
      for (std::size_t si = 0; si < p.lines.size(); ++si) {
        const series& s = p.lines[si];
        plcol0(tab(colour_of(s, si)));
        plwidth(2);
        pllsty(s.dashed ? 2 : 1);
        std::vector<PLFLT> lx, ly;
        auto flush = [&] {
          if (lx.size() >= 2) plline(static_cast<PLINT>(lx.size()), lx.data(), ly.data());
          lx.clear();
          ly.clear();
        };
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          const double x = tx(s.x[i]);
          if (!std::isfinite(x) || !std::isfinite(s.y[i])) {
            flush();
            continue;
          }
          lx.push_back(x);
          ly.push_back(s.y[i]);
        }
        flush();
        pllsty(1);
        plwidth(1.5);
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          const PLFLT x = tx(s.x[i]), y = s.y[i];
          if (!std::isfinite(x) || !std::isfinite(y)) continue;
          if (!s.error.empty() && std::isfinite(s.error[i])) {
            const PLFLT lo = y - std::abs(s.error[i]), hi = y + std::abs(s.error[i]);
            plerry(1, &x, &lo, &hi);
          }
          if (marker_of(s, si) >= 0) draw_marker(marker_of(s, si), x, y, 1.1, sx, sy);
        }
        plwidth(1);
      }
      legends[pi].draw(right + legend_gap, y1);
    }
  };
  render(base, plot.width, plot.height, draw);
}

// ---- plot_scatter -----------------------------------------------------------------------------

void plot_scatter(const std::string& base, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, std::span<const double> xs, std::span<const double> ys,
                  std::span<const int> labels, const std::vector<std::string>& label_names) {
  const std::string path = base + ".png";
  if (xs.size() != ys.size())
    throw picture_error("cannot write " + path + ": " + std::to_string(xs.size()) + " x and " +
                        std::to_string(ys.size()) + " y values");
  const legend key = label_legend(path, xs.size(), labels, label_names);
  range xr, yr;
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (std::isfinite(xs[i]) && std::isfinite(ys[i])) {
      xr.add(xs[i]);
      yr.add(ys[i]);
    }
  const range xa = xr.padded(0.04), ya = yr.padded(0.04);
  auto draw = [&] {
    pladv(0);
    const double right = right_of(key.width());
    plvpor(vp_left, right, 0.10, 0.92);
    plwind(xa.lo, xa.hi, ya.lo, ya.hi);
    draw_axes("bcnst", "bcnstv");
    plmtex("l", 4.5, 0.5, 0.5, ylabel.c_str());
    plmtex("b", 3.0, 0.5, 0.5, xlabel.c_str());
    title_line(title);
    draw_labelled_points(xs, ys, labels, point_radius(xs.size()));
    key.draw(right + legend_gap, 0.92);
  };
  render(base, 800, 600, draw);
}

// ---- plot_circle ------------------------------------------------------------------------------

void plot_circle(const std::string& base, const std::string& title, std::span<const double> angles,
                 std::span<const int> labels, const std::vector<std::string>& label_names) {
  const std::string path = base + ".png";
  const legend key = label_legend(path, angles.size(), labels, label_names);
  constexpr double ring = 0.05;  // radial step between labels' rings
  int max_label = 0;
  for (int k : labels) max_label = std::max(max_label, k);
  std::vector<double> xs(angles.size()), ys(angles.size());
  for (std::size_t i = 0; i < angles.size(); ++i) {
    const double r = 1 + ring * (labels.empty() ? 0 : labels[i]);
    xs[i] = r * std::cos(angles[i]);
    ys[i] = r * std::sin(angles[i]);
  }
  const double lim = 1.12 + ring * max_label;
  auto draw = [&] {
    pladv(0);
    const double right = right_of(key.width());
    plvpas(0.02, right, 0.08, 0.92, 1.0);
    plwind(-lim, lim, -lim, lim);
    // Spokes every 30° and the unit circle.
    plcol0(c_grid);
    plwidth(1);
    for (int d = 0; d < 360; d += 30) {
      const double a = d * std::numbers::pi / 180;
      pljoin(0, 0, lim * std::cos(a), lim * std::sin(a));
    }
    plcol0(c_black);
    plarc(0, 0, 1, 1, 0, 360, 0, false);
    plschr(0, 0.8);
    for (int d = 0; d < 360; d += 30) {
      const double a = d * std::numbers::pi / 180;
      const std::string t = std::to_string(d) + "°";
      plptex(0.85 * std::cos(a), 0.85 * std::sin(a), 1, 0, 0.5, t.c_str());
    }
    plschr(0, 1.0);
    title_line(title);
    plschr(0, 0.75);
    plmtex("b", 1.2, 0.5, 0.5,
           labels.empty() ? "angle counter-clockwise from the first axis"
                          : "angle counter-clockwise from the first axis; one ring per label outside the unit circle");
    plschr(0, 1.0);
    draw_labelled_points(xs, ys, labels, point_radius(angles.size()));
    key.draw(right + legend_gap, 0.92);
  };
  render(base, 800, 600, draw);
}

// ---- plot_sphere ------------------------------------------------------------------------------

namespace {

// Hammer's equal-area projection of (longitude λ, latitude φ) in radians, into
// x ∈ [−2√2, 2√2], y ∈ [−√2, √2].
void hammer(double lambda, double phi, double& x, double& y) {
  const double d = std::sqrt(1 + std::cos(phi) * std::cos(lambda / 2));
  x = 2 * std::numbers::sqrt2 * std::cos(phi) * std::sin(lambda / 2) / d;
  y = std::numbers::sqrt2 * std::sin(phi) / d;
}

}  // namespace

void plot_sphere(const std::string& base, const std::string& title, std::span<const double> points,
                 std::span<const int> labels, const std::vector<std::string>& label_names) {
  const std::string path = base + ".png";
  if (points.size() % 3 != 0)
    throw picture_error("cannot write " + path + ": " + std::to_string(points.size()) +
                        " coordinates are not n x 3 points");
  const std::size_t n = points.size() / 3;
  const legend key = label_legend(path, n, labels, label_names);
  std::vector<double> xs(n), ys(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double a = points[3 * i], b = points[3 * i + 1], c = points[3 * i + 2];
    const double norm = std::sqrt(a * a + b * b + c * c);
    if (norm == 0)
      throw picture_error("cannot write " + path + ": point " + std::to_string(i) + " is the zero vector");
    // Non-finite points stay NaN and are left out.
    hammer(std::atan2(b, a), std::asin(std::clamp(c / norm, -1.0, 1.0)), xs[i], ys[i]);
  }
  constexpr double deg = std::numbers::pi / 180;
  const double xm = 2 * std::numbers::sqrt2 * 1.04, ym = std::numbers::sqrt2 * 1.08;
  auto draw = [&] {
    pladv(0);
    const double right = right_of(key.width());
    plvpas(0.02, right, 0.06, 0.92, ym / xm);
    plwind(-xm, xm, -ym, ym);
    // Graticule: meridians and parallels every 30°, the outline black.
    std::array<PLFLT, 181> gx{}, gy{};
    plwidth(1);
    plcol0(c_graticule);
    for (int lon = -150; lon <= 150; lon += 30) {
      for (std::size_t j = 0; j <= 180; ++j) hammer(lon * deg, (static_cast<double>(j) - 90) * deg, gx[j], gy[j]);
      plline(181, gx.data(), gy.data());
    }
    for (int lat = -60; lat <= 60; lat += 30) {
      for (std::size_t j = 0; j <= 180; ++j) hammer((2 * static_cast<double>(j) - 180) * deg, lat * deg, gx[j], gy[j]);
      plline(181, gx.data(), gy.data());
    }
    title_line(title);
    plschr(0, 0.75);
    plmtex("b", 1.2, 0.5, 0.5, "Hammer equal-area projection: longitude atan2(y, x) across, latitude asin(z) up");
    plschr(0, 1.0);
    draw_labelled_points(xs, ys, labels, point_radius(n));
    // The outline and the graticule's numbers over the points.
    plcol0(c_black);
    plwidth(1.5);
    for (int side : {-1, 1}) {
      for (std::size_t j = 0; j <= 180; ++j)
        hammer(side * 180 * deg, (static_cast<double>(j) - 90) * deg, gx[j], gy[j]);
      plline(181, gx.data(), gy.data());
    }
    plwidth(1);
    plschr(0, 0.7);
    for (int lon = -120; lon <= 120; lon += 60) {
      double x = 0, y = 0;
      hammer(lon * deg, 0, x, y);
      const std::string t = std::to_string(lon) + "°";
      plptex(x, y - 0.08, 1, 0, 0.5, t.c_str());
    }
    for (int lat = -60; lat <= 60; lat += 30) {
      if (lat == 0) continue;  // the equator carries the longitudes
      double x = 0, y = 0;
      hammer(-180 * deg, lat * deg, x, y);
      const std::string t = std::to_string(lat) + "°";
      plptex(x - 0.05, y, 1, 0, 1.0, t.c_str());
    }
    plschr(0, 1.0);
    key.draw(right + legend_gap, 0.92);
  };
  render(base, 800, 600, draw);
}

// ---- plot_bars ----------------------------------------------------------------------------------

void plot_bars(const std::string& base, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, std::span<const double> values,
               const std::optional<threshold_line>& threshold) {
  const std::string path = base + ".png";
  if (values.empty()) throw picture_error("cannot write " + path + ": no bars to draw");
  range yr;
  yr.add(0);
  for (double v : values) yr.add(v);
  if (threshold) yr.add(threshold->value);
  range ya = yr.padded(0.05);
  if (yr.lo >= 0) ya.lo = 0;
  const double nb = static_cast<double>(values.size());
  legend key;
  if (threshold) {
    key.entries.push_back({legend::box, tab(0), -1, false, "at or above"});
    key.entries.push_back({legend::box, c_inactive, -1, false, "below"});
    key.entries.push_back({legend::line, tab(3), -1, true, threshold->label});
  }
  auto draw = [&] {
    pladv(0);
    const double right = right_of(key.width());
    plvpor(vp_left, right, 0.10, 0.92);
    plwind(-0.7, nb - 0.3, ya.lo, ya.hi);
    plcol0(c_grid);
    plbox("", 0, 0, "g", 0, 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double v = values[i];
      if (!std::isfinite(v)) continue;
      const double x = static_cast<double>(i);
      const PLFLT bx[4] = {x - 0.4, x + 0.4, x + 0.4, x - 0.4};
      const PLFLT by[4] = {0, 0, v, v};
      plcol0(threshold && v < threshold->value ? c_inactive : tab(0));
      plfill(4, bx, by);
    }
    plcol0(c_black);
    // A tick and number at every bar up to 12 bars, then PLplot's choice.
    const bool every = values.size() <= 12;
    plbox("bcnst", every ? 1 : 0, every ? 1 : 0, "bcnstv", 0, 0);
    if (ya.lo < 0) pljoin(-0.7, 0, nb - 0.3, 0);
    if (threshold) {
      plcol0(tab(3));
      plwidth(2);
      pllsty(2);
      pljoin(-0.7, threshold->value, nb - 0.3, threshold->value);
      pllsty(1);
      plwidth(1);
    }
    plcol0(c_black);
    plmtex("l", 4.5, 0.5, 0.5, ylabel.c_str());
    plmtex("b", 3.0, 0.5, 0.5, xlabel.c_str());
    title_line(title);
    key.draw(right + legend_gap, 0.92);
  };
  render(base, 800, 600, draw);
}

}  // namespace vaec::report
