#include <cmath>
#include <cstdint>
#include <string>

#include "report/pictures.hpp"

namespace vaec::report {

namespace {

constexpr std::uint8_t separator_level = 128;  // mid grey: lines between cells, empty cells

std::uint8_t to_level(float v) {
  if (!(v == v)) return 0;  // NaN
  const float s = std::round(v * 255.0f);
  if (s <= 0.0f) return 0;
  if (s >= 255.0f) return 255;
  return static_cast<std::uint8_t>(s);
}

}  // namespace

void write_image_grid(const std::string& path, std::span<const float> images, int count, image_shape shape, int cols,
                      int scale) {
  auto bad = [&](const std::string& why) { throw picture_error("cannot write " + path + ": " + why); };
  if (shape.channels != 1 && shape.channels != 3)
    bad("images must have 1 (grey) or 3 (RGB) channels, not " + std::to_string(shape.channels));
  if (shape.height <= 0 || shape.width <= 0)
    bad("bad image shape " + std::to_string(shape.height) + "x" + std::to_string(shape.width));
  if (count <= 0) bad("no images to draw (count " + std::to_string(count) + ")");
  if (cols <= 0) bad("cols must be positive, not " + std::to_string(cols));
  if (scale <= 0) bad("scale must be positive, not " + std::to_string(scale));

  const auto C = static_cast<std::size_t>(shape.channels);
  const auto H = static_cast<std::size_t>(shape.height);
  const auto W = static_cast<std::size_t>(shape.width);
  const auto S = static_cast<std::size_t>(scale);
  const auto n = static_cast<std::size_t>(count);
  const std::size_t per_image = C * H * W;
  if (images.size() != n * per_image)
    bad(std::to_string(images.size()) + " values for " + std::to_string(count) + " images of " +
        std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" + std::to_string(shape.width) +
        " (" + std::to_string(n * per_image) + " expected)");

  const std::size_t ncols = static_cast<std::size_t>(cols);
  const std::size_t nrows = (n + ncols - 1) / ncols;
  const std::size_t cell_w = W * S + 1, cell_h = H * S + 1;  // a cell and the line after it
  const std::size_t width = ncols * cell_w + 1, height = nrows * cell_h + 1;
  // PNG allows 2^31 − 1 pixels a side; keep the buffer well below what memory allows too.
  if (width > (1u << 20) || height > (1u << 20) || width * height > (std::size_t{1} << 30))
    bad("a grid of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is too large");

  png_image out;
  out.width = static_cast<int>(width);
  out.height = static_cast<int>(height);
  out.channels = shape.channels;
  out.pixels.assign(width * height * C, separator_level);
  for (std::size_t i = 0; i < n; ++i) {
    const float* src = images.data() + i * per_image;
    const std::size_t x0 = (i % ncols) * cell_w + 1, y0 = (i / ncols) * cell_h + 1;
    for (std::size_t r = 0; r < H; ++r)
      for (std::size_t w = 0; w < W; ++w)
        for (std::size_t c = 0; c < C; ++c) {
          const std::uint8_t level = to_level(src[c * H * W + r * W + w]);
          for (std::size_t dy = 0; dy < S; ++dy) {
            std::uint8_t* row = out.pixels.data() + ((y0 + r * S + dy) * width + x0 + w * S) * C + c;
            for (std::size_t dx = 0; dx < S; ++dx) row[dx * C] = level;
          }
        }
  }
  write_png(path, out);
}

}  // namespace vaec::report
