// Pictures from arrays of numbers: image grids as PNG (libpng) and plots as PNG + SVG
// (PLplot). Knows nothing of the engine or the language; the caller brings the numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace vaec::report {

// Every failure of this module: what() names the file and the reason, e.g.
// "cannot write runs/x/samples.png: no space left on device".
struct picture_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- images ---------------------------------------------------------------------------

// The shape of one image, channels first.
struct image_shape {
  int channels = 1;  // 1 = grey, 3 = RGB
  int height = 0;    // rows of pixels
  int width = 0;     // columns of pixels
};

// Writes `count` images as one PNG grid at `path` (atomically: PATH.tmp, then a rename).
// `images` holds exactly count·C·H·W values, image i at [i·C·H·W, (i+1)·C·H·W), channel c
// row r column w of it at c·H·W + r·W + w. A value v in [0, 1] becomes the 8-bit level
// round(255·v), clamped to [0, 255]; NaN becomes 0. The images fill a grid of `cols`
// columns row by row (ceil(count / cols) rows; cells past `count` stay mid grey), each
// pixel drawn as a scale × scale square, with a 1-pixel mid-grey (128) line between cells
// and around the grid: the PNG is cols·(W·scale + 1) + 1 pixels wide and
// rows·(H·scale + 1) + 1 high, grey for C = 1 and RGB for C = 3, with no time chunk
// (the same numbers give the same bytes).
// Throws picture_error on a bad shape, count, cols or scale, a size that does not match,
// or a file that cannot be written.
void write_image_grid(const std::string& path, std::span<const float> images, int count, image_shape shape, int cols,
                      int scale = 1);

// An 8-bit image in memory, rows top to bottom, channels interleaved.
struct png_image {
  int width = 0;                      // pixels
  int height = 0;                     // pixels
  int channels = 0;                   // 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
  std::vector<std::uint8_t> pixels;   // width·height·channels bytes, pixel (x, y) at (y·width + x)·channels
};

// Reads the PNG at `path` in its own colour type, 8 bits a channel (16-bit files are
// reduced to 8). Throws picture_error naming the path and libpng's or the OS's reason.
png_image read_png(const std::string& path);

// Writes `image` as a PNG at `path` atomically, with no time chunk.
// Throws picture_error if the image is inconsistent or the file cannot be written.
void write_png(const std::string& path, const png_image& image);

// ---- plots ----------------------------------------------------------------------------
// Every plot function writes BASE.png (RGB, width × height pixels) and BASE.svg (the same
// figure as vector graphics, text kept as text), each atomically. The same input gives
// the same bytes on one machine (the PNG's text is drawn with the installed fonts).
// Categories take the tab10 colours in order, each series or label also with its own
// marker shape, so that a greyscale print still tells them apart. Non-finite values are
// left out of a plot (a line breaks there). PLplot keeps global state, so plot calls
// from several threads take turns on one lock. Each throws picture_error on input it
// cannot draw (mismatched lengths, a label without a name) or a file it cannot write.

// One named curve.
struct series {
  std::string name;           // legend entry; empty = left out of the legend
  std::vector<double> x;      // abscissae
  std::vector<double> y;      // ordinates, one per x
  std::vector<double> error;  // empty, or one half-width per point: a bar from y − e to y + e
  int colour = -1;            // tab10 index 0..9; −1 = the series' position in its panel
  int marker = -1;            // marker shape 0..9; −1 = same as the colour; −2 = no markers
  bool dashed = false;        // a dashed line (e.g. test beside a solid train curve)
};

// A vertical band shaded on every panel, e.g. the epochs of a KL warm-up.
struct band {
  double from = 0;  // left edge, in x units
  double to = 0;    // right edge, in x units
};

// One pair of axes.
struct panel {
  std::string ylabel;           // y axis label with units, e.g. "ELBO (nats)"
  std::vector<series> lines;    // drawn in order, legend in the same order
  bool legend = true;           // draw a legend (when some series has a name)
  std::optional<double> y_min;  // force the y range; otherwise it fits the data
  std::optional<double> y_max;
};

// A figure of panels stacked top to bottom, sharing one x axis (labelled on the bottom
// panel). A learning-curve figure: panels ELBO, reconstruction, KL (nats) and β, each
// with train (solid) and test (dashed) series, and bands for the warm-up; a comparison:
// one panel of log-likelihood against a grid axis, with error bars.
struct line_plot {
  std::string title;            // above the top panel
  std::string xlabel;           // with units, e.g. "epoch"
  std::vector<panel> panels;    // at least one
  std::vector<band> bands;      // shaded on every panel
  std::string band_label;       // legend entry of the bands (on the top panel); empty = none
  bool log_x = false;           // logarithmic x axis (x must then be positive)
  std::vector<double> log_ticks;  // log_x: the x values numbered (empty: every series' x values)
  // Non-empty: a categorical x axis (not with log_x): x_labels[i] is written under x = i,
  // and every x must lie within half a category of one, in [−0.5, x_labels.size() − 0.5]
  // (a point may be set off its category a little, e.g. to keep error bars apart).
  std::vector<std::string> x_labels;
  int width = 800;              // pixels of the PNG; the SVG's size in points
  int height = 600;
};

// Draws `plot` to BASE.png and BASE.svg.
void plot_lines(const std::string& base, const line_plot& plot);

// Points (xs[i], ys[i]) coloured by labels[i] (tab10, with a legend naming
// label_names[labels[i]]); `labels` empty draws every point in one colour. For 2-D
// latents or the first two principal components. Throws picture_error if the lengths
// differ or a label is negative or has no name. Size 800 × 600.
void plot_scatter(const std::string& base, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, std::span<const double> xs, std::span<const double> ys,
                  std::span<const int> labels, const std::vector<std::string>& label_names);

// Directions on the circle S¹ given by their angles (radians, counter-clockwise from the
// x axis), coloured by label as plot_scatter does. Each label sits on its own concentric
// ring just outside the unit circle, so that classes sharing an angle stay visible.
// Size 800 × 600.
void plot_circle(const std::string& base, const std::string& title, std::span<const double> angles,
                 std::span<const int> labels, const std::vector<std::string>& label_names);

// Directions on the sphere S² (`points`: n × 3, row-major, unit vectors — each is
// normalized here; a zero vector is an error) in the equal-area Hammer projection
// (longitude atan2(y, x) across, latitude asin(z) up), with meridians and parallels every
// 30°, coloured by label as plot_scatter does. Size 800 × 600.
void plot_sphere(const std::string& base, const std::string& title, std::span<const double> points,
                 std::span<const int> labels, const std::vector<std::string>& label_names);

// A horizontal line across a bar chart, e.g. the active-unit threshold.
struct threshold_line {
  double value = 0;   // in the bars' units
  std::string label;  // legend entry, e.g. "active-unit threshold (0.01)"
};

// One bar per value (bar i at x = i, labelled from 0), e.g. KL per latent coordinate.
// With a threshold, bars at or above it are drawn in colour and those below in grey,
// and the line is drawn dashed with a legend. Size 800 × 600.
void plot_bars(const std::string& base, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, std::span<const double> values,
               const std::optional<threshold_line>& threshold = std::nullopt);

}  // namespace vaec::report
