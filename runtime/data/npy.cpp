// NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// "\x93NUMPY", a version, a header length, a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }, then the raw values.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "runtime/data/formats.hpp"

namespace vaec::rt::detail {
namespace {

constexpr std::string_view npy_magic = "\x93NUMPY";

struct npy_header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<std::size_t>> shape;
};

// A reader for the one dict literal np.save writes; anything else is an error.
class dict_reader {
 public:
  dict_reader(const std::string& name, std::string_view text) : name_(name), text_(text) {}

  npy_header read() {
    npy_header h;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() == '[')
          fail("a structured dtype (a list of fields) is not supported; save a plain numeric array");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
      } else if (key == "shape") {
        h.shape = tuple();
      } else {
        fail(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw data_error(fmt::format("{}: malformed .npy header: {} at character {} of {}", name_, what, pos_ + 1,
                                 text_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'))
      ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    std::size_t end = text_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (text_.substr(pos_, 5) == "False") return pos_ += 5, false;
    fail("expected True or False");
  }
  std::vector<std::size_t> tuple() {
    expect('(');
    std::vector<std::size_t> dims;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("expected a dimension");
      std::size_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        d = checked_mul(d, 10, name_, "a dimension in the .npy shape") + static_cast<std::size_t>(peek() - '0');
        ++pos_;
      }
      // Python writes 123L for longs in files from NumPy under Python 2.
      if (peek() == 'L') ++pos_;
      dims.push_back(d);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    return dims;
  }

  const std::string& name_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::string shape_text(const std::vector<std::size_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// Rearranges the values of a Fortran-order (column-major) array into C (row-major) order.
std::vector<unsigned char> to_c_order(const unsigned char* in, const std::vector<std::size_t>& shape,
                                      std::size_t value_size, std::size_t n) {
  std::size_t rank = shape.size();
  std::vector<std::size_t> f_stride(rank);  // in values
  for (std::size_t k = 0, s = 1; k < rank; s *= shape[k], ++k) f_stride[k] = s;
  std::vector<unsigned char> out(n * value_size);
  std::vector<std::size_t> index(rank, 0);
  std::size_t from = 0;  // the Fortran-order position of `index`
  for (std::size_t to = 0; to < n; ++to) {
    std::memcpy(out.data() + to * value_size, in + from * value_size, value_size);
    // Advance `index` in C order (last index fastest), keeping `from` in step.
    for (std::size_t k = rank; k-- > 0;) {
      if (++index[k] < shape[k]) {
        from += f_stride[k];
        break;
      }
      index[k] = 0;
      from -= f_stride[k] * (shape[k] - 1);
    }
  }
  return out;
}

}  // namespace

dataset parse_npy(const std::string& name, std::span<const unsigned char> b) {
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  if (!text.starts_with(npy_magic)) {
    std::string hint;
    if (text.starts_with("PK\x03\x04")) hint = " (it looks like a zip archive, as np.savez writes; save one array with np.save)";
    throw data_error(fmt::format("{}: not a NumPy .npy file: it does not start with the magic string \\x93NUMPY{}",
                                 name, hint));
  }
  if (b.size() < 10)
    throw data_error(fmt::format("{}: truncated: the file ends inside the .npy preamble ({} bytes)", name, b.size()));
  unsigned major = b[6];
  unsigned minor = b[7];
  std::size_t header_len = 0;
  std::size_t header_at = 0;
  if (major == 1) {
    header_len = load_le<std::uint16_t>(b.data() + 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12)
      throw data_error(fmt::format("{}: truncated: the file ends inside the .npy preamble ({} bytes)", name, b.size()));
    header_len = load_le<std::uint32_t>(b.data() + 8);
    header_at = 12;
  } else {
    throw data_error(fmt::format("{}: unsupported .npy format version {}.{} (vaec reads 1.0, 2.0 and 3.0)", name,
                                 major, minor));
  }
  if (b.size() - header_at < header_len)
    throw data_error(fmt::format("{}: truncated: the .npy header should be {} bytes, the file ends after {}", name,
                                 header_len, b.size() - header_at));
  // np.save pads the dict with spaces and a newline; messages quote it without them.
  std::string_view dict = text.substr(header_at, header_len);
  while (!dict.empty() && (dict.back() == ' ' || dict.back() == '\n' || dict.back() == '\0')) dict.remove_suffix(1);
  npy_header h = dict_reader(name, dict).read();
  if (!h.descr || !h.fortran_order || !h.shape)
    throw data_error(fmt::format("{}: malformed .npy header: it lacks '{}': {}", name,
                                 !h.descr ? "descr" : !h.fortran_order ? "fortran_order" : "shape", dict));

  // The dtype: a byte order ('<' little, '|' not applicable, '=' native, '>' big), a kind, a size.
  const std::string& descr = *h.descr;
  if (descr.size() < 3 || std::string_view("<|=>").find(descr[0]) == std::string_view::npos)
    throw data_error(fmt::format("{}: unsupported dtype '{}'; save the array as float32 (a.astype('float32'))",
                                 name, descr));
  std::string_view type = std::string_view(descr).substr(1);
  std::size_t value_size = 0;
  for (std::string_view t : {"u1", "i1", "i2", "i4", "i8", "u2", "u4", "u8", "f4", "f8"})
    if (type == t) value_size = static_cast<std::size_t>(t[1] - '0');
  if (value_size == 0)
    throw data_error(fmt::format("{}: unsupported dtype '{}'; save the array as float32 (a.astype('float32'))",
                                 name, descr));
  if (descr[0] == '>' && value_size > 1)
    throw data_error(fmt::format("{}: big-endian dtype '{}' is not supported; save it little-endian "
                                 "(a.astype('<{}'))",
                                 name, descr, type));
  static_assert(std::endian::native == std::endian::little, "'=' (native order) is read as little-endian");

  const std::vector<std::size_t>& shape = *h.shape;
  if (shape.size() < 2)
    throw data_error(fmt::format(
        "{}: expected a 2-D array of examples (count × width), found shape {}{}", name, shape_text(shape),
        shape.size() == 1 ? fmt::format("; reshape it to ({}, 1) for one value per example or (1, {}) for one example",
                                        shape[0], shape[0])
                          : std::string()));
  std::size_t n = 1;
  for (std::size_t d : shape) n = checked_mul(n, d, name, "the product of the .npy shape");
  if (n == 0) throw data_error(fmt::format("{}: the array is empty (shape {})", name, shape_text(shape)));
  std::size_t want = checked_mul(n, value_size, name, "the size the .npy shape promises");
  std::size_t data_at = header_at + header_len;
  std::size_t have = b.size() - data_at;
  if (have < want)
    throw data_error(fmt::format("{}: truncated: the header promises {} bytes of data (shape {}, dtype '{}'), "
                                 "the file holds {}",
                                 name, want, shape_text(shape), descr, have));
  if (have > want)
    throw data_error(fmt::format("{}: trailing garbage: the header promises {} bytes of data (shape {}, dtype "
                                 "'{}'), the file holds {} ({} too many)",
                                 name, want, shape_text(shape), descr, have, have - want));

  const unsigned char* in = b.data() + data_at;
  std::vector<unsigned char> reordered;
  if (*h.fortran_order) {
    reordered = to_c_order(in, shape, value_size, n);
    in = reordered.data();
  }

  dataset d;
  d.origin = name;
  d.count = shape[0];
  d.width = n / d.count;
  d.values.resize(n);
  float* out = d.values.data();
  if (type == "u1") {
    scale_bytes(in, n, out);
    d.scaled_from_bytes = true;
  } else if (type == "i1") {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<std::int8_t>(in[i]));
  } else if (type == "i2") {
    convert_values<std::int16_t>(name, in, n, d.width, out, load_le<std::int16_t>);
  } else if (type == "i4") {
    convert_values<std::int32_t>(name, in, n, d.width, out, load_le<std::int32_t>);
  } else if (type == "i8") {
    convert_values<std::int64_t>(name, in, n, d.width, out, load_le<std::int64_t>);
  } else if (type == "u2") {
    convert_values<std::uint16_t>(name, in, n, d.width, out, load_le<std::uint16_t>);
  } else if (type == "u4") {
    convert_values<std::uint32_t>(name, in, n, d.width, out, load_le<std::uint32_t>);
  } else if (type == "u8") {
    convert_values<std::uint64_t>(name, in, n, d.width, out, load_le<std::uint64_t>);
  } else if (type == "f4") {
    convert_values<float>(name, in, n, d.width, out, load_le<float>);
  } else {
    convert_values<double>(name, in, n, d.width, out, load_le<double>);
  }
  return d;
}

}  // namespace vaec::rt::detail
