#include "lang/diagnostic.hpp"

#include <fmt/format.h>

namespace vaec {

std::string_view to_string(diagnostic_kind kind) {
  switch (kind) {
#define X(name) \
  case diagnostic_kind::name: return #name;
#include "lang/diagnostic_kinds.def"
#undef X
  }
  return "unknown";
}

diagnostic& diagnostics::error(diagnostic_kind kind, span where, std::string message) {
  ++errors_;
  list_.push_back({severity::error, kind, where, std::move(message), {}});
  return list_.back();
}

diagnostic& diagnostics::warning(diagnostic_kind kind, span where, std::string message) {
  list_.push_back({severity::warning, kind, where, std::move(message), {}});
  return list_.back();
}

namespace {

// The source line made safe to print: invalid UTF-8 bytes become U+FFFD and
// control characters other than tab become a space, so that each code point
// still occupies one column.
std::string printable_line(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  while (!line.empty()) {
    int n = utf8_sequence_length(line);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      line.remove_prefix(1);
      continue;
    }
    unsigned char c = static_cast<unsigned char>(line[0]);
    if (n == 1 && c != '\t' && (c < 0x20 || c == 0x7F)) out += ' ';
    else out.append(line.substr(0, static_cast<std::size_t>(n)));
    line.remove_prefix(static_cast<std::size_t>(n));
  }
  return out;
}

// The caret line: white space up to the column (tabs kept, so the caret lines up
// under a tab-indented line), then '^' and '~' under the rest of the span on that line.
std::string caret_line(std::string_view line, std::uint32_t column, std::uint32_t width) {
  std::string out;
  std::uint32_t col = 1;
  std::string_view rest = line;
  while (col < column && !rest.empty()) {
    int n = utf8_sequence_length(rest);
    if (n == 0) n = 1;
    out += rest[0] == '\t' ? '\t' : ' ';
    rest.remove_prefix(static_cast<std::size_t>(n));
    ++col;
  }
  while (col < column) { out += ' '; ++col; }
  out += '^';
  for (std::uint32_t i = 1; i < width; ++i) out += '~';
  return out;
}

}  // namespace

std::string render_located(const source& src, span where, std::string_view level, std::string_view message) {
  position pos = src.position_of(where.begin);
  std::string out = fmt::format("{}:{}:{}: {}: {}\n", src.name(), pos.line, pos.column, level, message);
  std::string_view line = src.line_text(pos.line);
  // A 10 MB single-line file would make a 10 MB message: show a window around the column.
  constexpr std::uint32_t max_shown = 160;
  std::uint32_t column = pos.column;
  if (line.size() > max_shown) {
    std::uint32_t line_start = static_cast<std::uint32_t>(line.data() - src.text().data());
    std::uint32_t off = where.begin - line_start;
    std::uint32_t from = off > max_shown / 2 ? off - max_shown / 2 : 0;
    // move to a code point boundary
    while (from > 0 && (static_cast<unsigned char>(line[from]) & 0xC0) == 0x80) --from;
    std::string_view before = line.substr(0, from);
    line = line.substr(from, max_shown);
    std::uint32_t skipped = 0;
    while (!before.empty()) {
      int n = utf8_sequence_length(before);
      before.remove_prefix(static_cast<std::size_t>(n == 0 ? 1 : n));
      ++skipped;
    }
    column -= skipped;
  }
  std::uint32_t width = 1;
  if (where.end > where.begin) {
    position endpos = src.position_of(where.end);
    if (endpos.line == pos.line && endpos.column > pos.column)
      width = std::min<std::uint32_t>(endpos.column - pos.column, max_shown);
  }
  out += printable_line(line);
  out += '\n';
  out += caret_line(line, column, width);
  out += '\n';
  return out;
}

std::string diagnostics::render(const diagnostic& d) const {
  std::string_view level = d.level == severity::error ? "error" : d.level == severity::warning ? "warning" : "note";
  auto located = [&](span where, std::string_view lvl, std::string_view message) {
    if (cl_ && where.begin >= cl_base_)
      return render_located(*cl_, {where.begin - cl_base_, where.end - cl_base_}, lvl, message);
    return render_located(src_, where, lvl, message);
  };
  std::string out = located(d.where, level, d.message);
  for (const auto& n : d.notes) out += located(n.where, "note", n.message);
  return out;
}

std::string diagnostics::render() const {
  std::string out;
  for (const auto& d : list_) out += render(d);
  return out;
}

std::string quote_token(std::string_view token) {
  std::string out = "'";
  while (!token.empty()) {
    int n = utf8_sequence_length(token);
    unsigned char c = static_cast<unsigned char>(token[0]);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", c);
      token.remove_prefix(1);
      continue;
    }
    if (n == 1 && (c < 0x20 || c == 0x7F)) out += fmt::format("\\x{:02x}", c);
    else out.append(token.substr(0, static_cast<std::size_t>(n)));
    token.remove_prefix(static_cast<std::size_t>(n));
  }
  out += "'";
  return out;
}

}  // namespace vaec
