// IDX files (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte, the number
// of dimensions, that many big-endian uint32 sizes, then the values, big-endian, row-major.
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/data/formats.hpp"

namespace vaec::rt::detail {
namespace {

struct idx_type {
  unsigned char code;
  const char* name;
  std::size_t size;  // bytes per value
};

constexpr idx_type idx_types[] = {
    {0x08, "uint8", 1}, {0x09, "int8", 1},    {0x0B, "int16", 2},
    {0x0C, "int32", 4}, {0x0D, "float32", 4}, {0x0E, "float64", 8},
};

struct idx_header {
  idx_type type;
  std::vector<std::size_t> dims;
  std::size_t header_bytes = 0;  // 4 + 4 × rank
  std::size_t value_count = 0;   // product of dims
};

std::string dims_text(const std::vector<std::size_t>& dims) {
  return fmt::format("{}", fmt::join(dims, " × "));
}

// Reads and checks the header, and checks that exactly the promised values follow.
// `what` names the values in messages ("data", "labels").
idx_header read_header(const std::string& name, std::span<const unsigned char> b, const char* what) {
  if (b.size() < 4)
    throw data_error(fmt::format("{}: truncated: the file holds {} bytes, too few for the 4-byte IDX magic number",
                                 name, b.size()));
  if (b[0] != 0 || b[1] != 0)
    throw data_error(fmt::format(
        "{}: wrong magic number 0x{:02X}{:02X}{:02X}{:02X}: an IDX file starts with two zero bytes, a type byte "
        "and the number of dimensions",
        name, b[0], b[1], b[2], b[3]));
  idx_header h;
  bool known = false;
  for (const idx_type& t : idx_types)
    if (t.code == b[2]) h.type = t, known = true;
  if (!known)
    throw data_error(fmt::format(
        "{}: unknown IDX value type 0x{:02X} (expected 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, "
        "0x0D float32 or 0x0E float64)",
        name, b[2]));
  std::size_t rank = b[3];
  if (rank == 0) throw data_error(fmt::format("{}: the IDX header declares 0 dimensions", name));
  h.header_bytes = 4 + 4 * rank;
  if (b.size() < h.header_bytes)
    throw data_error(fmt::format("{}: truncated: the IDX header declares {} dimensions ({} header bytes), "
                                 "the file holds {} bytes",
                                 name, rank, h.header_bytes, b.size()));
  h.value_count = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    std::size_t d = load_be<std::uint32_t>(b.data() + 4 + 4 * k);
    h.dims.push_back(d);
    if (d == 0)
      throw data_error(fmt::format("{}: dimension {} of the IDX header is 0, so the file holds no {}", name,
                                   k + 1, what));
    h.value_count = checked_mul(h.value_count, d, name, "the product of the IDX dimensions");
  }
  std::size_t want = checked_mul(h.value_count, h.type.size, name, "the size the IDX header promises");
  std::size_t have = b.size() - h.header_bytes;
  if (have < want)
    throw data_error(fmt::format(
        "{}: truncated: the header promises {} bytes of {} ({} {} values), the file holds {} after the "
        "{}-byte header",
        name, want, what, dims_text(h.dims), h.type.name, have, h.header_bytes));
  if (have > want)
    throw data_error(fmt::format(
        "{}: trailing garbage: the header promises {} bytes of {} ({} {} values), the file holds {} after the "
        "{}-byte header ({} too many)",
        name, want, what, dims_text(h.dims), h.type.name, have, h.header_bytes, have - want));
  return h;
}

}  // namespace

dataset parse_idx(const std::string& name, std::span<const unsigned char> b) {
  idx_header h = read_header(name, b, "data");
  dataset d;
  d.origin = name;
  d.count = h.dims[0];
  d.width = h.value_count / d.count;
  d.values.resize(h.value_count);
  const unsigned char* in = b.data() + h.header_bytes;
  float* out = d.values.data();
  std::size_t n = h.value_count;
  switch (h.type.code) {
    case 0x08:
      scale_bytes(in, n, out);
      d.scaled_from_bytes = true;
      break;
    case 0x09:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<std::int8_t>(in[i]));
      break;
    case 0x0B:
      convert_values<std::int16_t>(name, in, n, d.width, out, load_be<std::int16_t>);
      break;
    case 0x0C:
      convert_values<std::int32_t>(name, in, n, d.width, out, load_be<std::int32_t>);
      break;
    case 0x0D:
      convert_values<float>(name, in, n, d.width, out, load_be<float>);
      break;
    case 0x0E:
      convert_values<double>(name, in, n, d.width, out, load_be<double>);
      break;
  }
  return d;
}

std::vector<std::int32_t> parse_idx_labels(const std::string& name, std::span<const unsigned char> b) {
  idx_header h = read_header(name, b, "labels");
  if (h.type.code != 0x08 || h.dims.size() != 1)
    throw data_error(fmt::format("{}: expected an idx1 file of uint8 labels, found idx{} {} values ({})", name,
                                 h.dims.size(), h.type.name, dims_text(h.dims)));
  const unsigned char* in = b.data() + h.header_bytes;
  return std::vector<std::int32_t>(in, in + h.value_count);
}

}  // namespace vaec::rt::detail
