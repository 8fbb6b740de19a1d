// The per-format readers behind dataset.hpp (internal to runtime/data): the bytes of a
// file (gzip inflated), and IDX, NumPy .npy and CSV parsers over those bytes.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/data/dataset.hpp"

namespace vaec::rt::detail {

// The whole content of `path`, inflated when it starts with the gzip magic 1f 8b
// (whatever its name). Concatenated gzip members are read as one stream, as gzip does.
// Throws data_error naming `path`: missing or unreadable file, a directory, a truncated
// or corrupt gzip stream, bytes after the last gzip member.
std::vector<unsigned char> read_file_bytes(const std::string& path);

// Each parser takes the name to put in messages and the (inflated) bytes of the file.
// All throw data_error naming `name`.

// An IDX file of any rank and element type; example count = the first dimension, width =
// the product of the others (1 for an idx1 file). uint8 is scaled to [0, 1].
dataset parse_idx(const std::string& name, std::span<const unsigned char> bytes);

// An idx1 uint8 label file.
std::vector<std::int32_t> parse_idx_labels(const std::string& name, std::span<const unsigned char> bytes);

// A NumPy .npy file (format 1.0, 2.0 or 3.0) holding an array of rank 2 or more.
dataset parse_npy(const std::string& name, std::span<const unsigned char> bytes);

// Comma-separated numbers with an optional header row.
dataset parse_csv(const std::string& name, std::span<const unsigned char> bytes);

// 0-255 → [0, 1], as float(b) / 255.0f (so 255 → 1.0f exactly).
void scale_bytes(const unsigned char* in, std::size_t n, float* out);

// A T stored at `p` in little- or big-endian byte order (T: an integer or float type).
template <class T>
T load_le(const unsigned char* p) {
  static_assert(sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
  using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                               std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint16_t>>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) u |= static_cast<U>(static_cast<U>(p[i]) << (8 * i));
  return std::bit_cast<T>(u);
}
template <class T>
T load_be(const unsigned char* p) {
  static_assert(sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
  using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                               std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint16_t>>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) u = static_cast<U>(u << 8 | p[i]);
  return std::bit_cast<T>(u);
}

// Throws data_error naming `name` and value `index` (its example and position, with
// `width` values per example): NaN, infinite, or a finite v outside float's range.
[[noreturn]] void bad_value(const std::string& name, std::size_t index, std::size_t width, double v);

// Converts n values of type T, sizeof(T) bytes apart from `in` and decoded by `load`, to
// float. Floating-point values must be finite and within float's range (bad_value).
template <class T, class Load>
void convert_values(const std::string& name, const unsigned char* in, std::size_t n, std::size_t width, float* out,
                    Load load) {
  for (std::size_t i = 0; i < n; ++i) {
    T v = load(in + i * sizeof(T));
    if constexpr (std::is_floating_point_v<T>) {
      // Written so NaN fails too.
      if (!(v >= -std::numeric_limits<float>::max() && v <= std::numeric_limits<float>::max()))
        bad_value(name, i, width, static_cast<double>(v));
    }
    out[i] = static_cast<float>(v);
  }
}

// a * b, or throws data_error "NAME: WHAT overflows" when it does not fit in size_t.
std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& name, const char* what);

}  // namespace vaec::rt::detail
