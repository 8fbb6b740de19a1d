// PNG files through libpng's simplified API (png_image_*), which reports errors as
// return codes and messages instead of longjmp, so no C++ frame is ever jumped over.
#include <png.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "report/file.hpp"
#include "report/pictures.hpp"

namespace vaec::report {

namespace {

std::string libpng_reason(const ::png_image& img) {
  std::string s = img.message;
  return s.empty() ? "libpng failed" : s;
}

}  // namespace

png_image read_png(const std::string& path) {
  // libpng's own message for a missing file is vague; ask the OS first.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw picture_error("cannot read " + path + ": " + os_reason(errno));
  ::png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_stdio(&img, f)) {
    std::fclose(f);
    throw picture_error("cannot read " + path + ": " + libpng_reason(img));
  }
  // Keep the file's colour type; ask for 8 bits a channel (the sRGB form, not linear).
  img.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  png_image out;
  out.width = static_cast<int>(img.width);
  out.height = static_cast<int>(img.height);
  out.channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(img.format));
  out.pixels.resize(PNG_IMAGE_SIZE(img));
  const bool ok = png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr) != 0;
  const std::string reason = ok ? "" : libpng_reason(img);
  png_image_free(&img);
  std::fclose(f);
  if (!ok) throw picture_error("cannot read " + path + ": " + reason);
  return out;
}

namespace {

// Encodes `image` (8-bit) to PNG bytes. Throws picture_error naming `path`.
std::string encode_png(const std::string& path, const png_image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4)
    throw picture_error("cannot write " + path + ": bad image size " + std::to_string(image.width) + "x" +
                        std::to_string(image.height) + "x" + std::to_string(image.channels));
  const auto need = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) *
                    static_cast<std::size_t>(image.channels);
  if (image.pixels.size() != need)
    throw picture_error("cannot write " + path + ": " + std::to_string(image.pixels.size()) + " pixel bytes for a " +
                        std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                        std::to_string(image.channels) + " image (" + std::to_string(need) + " expected)");
  ::png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(image.width);
  img.height = static_cast<png_uint_32>(image.height);
  static constexpr png_uint_32 formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  img.format = formats[image.channels - 1];
  // One pass into a buffer of the worst-case size rather than a sizing pass and a second.
  std::string bytes(PNG_IMAGE_PNG_SIZE_MAX(img), '\0');
  png_alloc_size_t size = bytes.size();
  if (!png_image_write_to_memory(&img, bytes.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
    const std::string reason = libpng_reason(img);
    png_image_free(&img);
    throw picture_error("cannot write " + path + ": " + reason);
  }
  bytes.resize(size);
  return bytes;
}

}  // namespace

void write_png(const std::string& path, const png_image& image) {
  write_file_atomically(path, encode_png(path, image));
}

}  // namespace vaec::report
