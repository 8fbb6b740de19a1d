#include "lang/source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace vaec {

source::source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (std::uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

std::optional<source> source::read_file(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = std::strerror(errno);
    std::transform(error.begin(), error.begin() + (error.empty() ? 0 : 1), error.begin(), ::tolower);
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory, not a model file";
    return std::nullopt;
  }
  // Offsets are 32-bit; a model file of 1 GiB is not a model file.
  constexpr long long max_size = 1LL << 30;
  if (S_ISREG(st.st_mode) && st.st_size > max_size) {
    error = "is larger than 1 GiB";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  std::string text = std::move(buf).str();
  if (text.size() > static_cast<std::size_t>(max_size)) {
    error = "is larger than 1 GiB";
    return std::nullopt;
  }
  return source(path, std::move(text));
}

position source::position_of(std::uint32_t offset) const {
  offset = std::min<std::uint32_t>(offset, static_cast<std::uint32_t>(text_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  auto line = static_cast<std::uint32_t>(it - line_starts_.begin());
  std::uint32_t start = line_starts_[line - 1];
  std::uint32_t column = 1;
  std::string_view rest(text_.data() + start, offset - start);
  while (!rest.empty()) {
    int n = utf8_sequence_length(rest);
    if (n == 0) n = 1;
    n = std::min<int>(n, static_cast<int>(rest.size()));
    rest.remove_prefix(static_cast<std::size_t>(n));
    ++column;
  }
  return {line, column};
}

std::string_view source::line_text(std::uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return {};
  std::uint32_t start = line_starts_[line - 1];
  std::uint32_t end = line < line_starts_.size() ? line_starts_[line] - 1 : static_cast<std::uint32_t>(text_.size());
  if (end > start && text_[end - 1] == '\r') --end;
  return std::string_view(text_).substr(start, end - start);
}

int utf8_sequence_length(std::string_view s) {
  if (s.empty()) return 0;
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  int n;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) { n = 3; lo = 0xA0; }
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) { n = 3; hi = 0x9F; }  // no UTF-16 surrogates
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) { n = 4; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) { n = 4; hi = 0x8F; }
  else return 0;
  if (s.size() < static_cast<std::size_t>(n)) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (int i = 2; i < n; ++i)
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  return n;
}

std::optional<std::uint32_t> first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    int n = utf8_sequence_length(s.substr(i));
    if (n == 0) return static_cast<std::uint32_t>(i);
    i += static_cast<std::size_t>(n);
  }
  return std::nullopt;
}

}  // namespace vaec
