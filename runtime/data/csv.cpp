// CSV files: one example per line, comma-separated numbers, an optional header row.
// Values are used as they are (no scaling). Columns in messages count fields from 1.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "runtime/data/formats.hpp"

namespace vaec::rt::detail {
namespace {

// A field as a message may quote it: control bytes (a NUL would end the message where a
// C string is printed) as \xNN, and at most 60 bytes of it, then "…".
std::string printable(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size() && i < 60; ++i) {
    const auto ch = static_cast<unsigned char>(field[i]);
    if (ch < 0x20 || ch == 0x7f) out += fmt::format("\\x{:02x}", ch);
    else out += static_cast<char>(ch);
  }
  if (field.size() > 60) out += "…";
  return out;
}

enum class field_kind { number, empty, not_number, not_finite, out_of_range };

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// `f` is already trimmed; quotes around a number ("1.5", as some exporters write) are fine.
field_kind parse_number(std::string_view f, double& v) {
  if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = trim(f.substr(1, f.size() - 2));
  if (f.empty()) return field_kind::empty;
  const char* first = f.data();
  const char* last = f.data() + f.size();
  if (*first == '+' && last - first > 1 && first[1] != '-') ++first;  // from_chars takes no '+'
  auto [end, ec] = std::from_chars(first, last, v);
  if (ec == std::errc::invalid_argument || end != last) return field_kind::not_number;
  if (ec == std::errc::result_out_of_range) return field_kind::out_of_range;
  if (!std::isfinite(v)) return field_kind::not_finite;
  if (std::abs(v) > std::numeric_limits<float>::max()) return field_kind::out_of_range;
  return field_kind::number;
}

// Splits a line at commas into trimmed fields.
void split(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  for (;;) {
    std::size_t comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
}

}  // namespace

dataset parse_csv(const std::string& name, std::span<const unsigned char> b) {
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte-order mark
  if (blank(text)) throw data_error(fmt::format("{}: empty file: expected rows of comma-separated numbers", name));

  dataset d;
  d.origin = name;
  std::size_t header_line = 0;  // 0: no header
  std::size_t header_width = 0;
  bool other_separator = false;  // the header holds ';' or a tab
  std::size_t first_line = 0;  // of data
  std::vector<std::string_view> fields;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (blank(line)) {
      if (pos >= text.size() || blank(text.substr(pos))) break;
      throw data_error(fmt::format("{}: line {} is blank (blank lines may only end the file)", name, line_no));
    }
    split(line, fields);

    // A first row that is not all numbers is a header ("nan" counts as a number here, so
    // that a NaN in the first row is reported rather than taken for a column name).
    if (line_no == 1) {
      bool numbers = std::all_of(fields.begin(), fields.end(), [](std::string_view f) {
        double v;
        field_kind k = parse_number(f, v);
        return k != field_kind::empty && k != field_kind::not_number;
      });
      if (!numbers) {
        header_line = line_no;
        header_width = fields.size();
        other_separator = line.find_first_of(";\t") != std::string_view::npos;
        continue;
      }
    }

    if (d.count == 0) {
      if (header_line != 0 && fields.size() != header_width)
        throw data_error(fmt::format("{}: line {} has {} fields, but the header (line {}) has {}", name, line_no,
                                     fields.size(), header_line, header_width));
      d.width = fields.size();
      first_line = line_no;
      std::size_t lines = static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(pos - 1),
                                                              text.end(), '\n')) + 1;
      d.values.reserve(lines * d.width);
    } else if (fields.size() != d.width) {
      throw data_error(fmt::format("{}: line {} has {} fields, but line {} has {}", name, line_no, fields.size(),
                                   first_line, d.width));
    }

    for (std::size_t c = 0; c < fields.size(); ++c) {
      double v = 0;
      switch (parse_number(fields[c], v)) {
        case field_kind::number:
          d.values.push_back(static_cast<float>(v));
          continue;
        case field_kind::empty:
          throw data_error(fmt::format("{}: line {}, column {}: empty field", name, line_no, c + 1));
        case field_kind::not_number: {
          bool other_separator = fields[c].find_first_of(";\t ") != std::string_view::npos;
          throw data_error(fmt::format("{}: line {}, column {}: '{}' is not a number{}", name, line_no, c + 1,
                                       printable(fields[c]), other_separator ? " (fields are separated by commas)" : ""));
        }
        case field_kind::not_finite:
          throw data_error(fmt::format("{}: line {}, column {}: '{}' is not a finite number", name, line_no, c + 1,
                                       printable(fields[c])));
        case field_kind::out_of_range:
          throw data_error(fmt::format("{}: line {}, column {}: '{}' is outside float32's range", name, line_no,
                                       c + 1, printable(fields[c])));
      }
    }
    ++d.count;
  }
  if (d.count == 0)
    throw data_error(fmt::format("{}: only a header row (line {}), no data{}", name, header_line,
                                 other_separator ? " (fields are separated by commas)" : ""));
  return d;
}

}  // namespace vaec::rt::detail
