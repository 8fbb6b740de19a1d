#include "lang/parse.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "lang/parser/grammar.hpp"

namespace vaec {

namespace {

using parser::iterator_type;

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Reports the first byte that is not UTF-8. Columns and carets depend on decoding
// the file, so nothing else is said about a file that is not UTF-8.
bool check_utf8(const source& src, diagnostics& diags) {
  auto bad = first_invalid_utf8(src.text());
  if (!bad) return true;
  auto byte = static_cast<unsigned char>(src.text()[*bad]);
  diags.error(diagnostic_kind::invalid_utf8, {*bad, *bad + 1},
              fmt::format("invalid UTF-8 byte 0x{:02x}; a model file must be UTF-8 text", byte));
  return false;
}

// The end of the string literal whose opening '"' is at `i`: the index of its closing '"',
// or of the line break or end of text that ends it unterminated. A '\\' escapes the next byte.
std::size_t string_end(const std::string& t, std::size_t i) {
  for (++i; i < t.size() && t[i] != '"' && t[i] != '\n'; ++i)
    if (t[i] == '\\' && i + 1 < t.size() && t[i + 1] != '\n') ++i;
  return i;
}

// Reports every string literal without its closing '"' on its line, and every escape other
// than \" and \\ (DESIGN §2: strings name paths; there is nothing else to escape).
bool check_strings(const source& src, diagnostics& diags) {
  const std::string& t = src.text();
  bool ok = true;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    if (t[i] != '"') continue;
    const std::size_t end = string_end(t, i);
    for (std::size_t j = i + 1; j < end; ++j) {
      if (t[j] != '\\') continue;
      if (j + 1 < end && (t[j + 1] == '"' || t[j + 1] == '\\')) {
        ++j;
        continue;
      }
      const auto at = static_cast<std::uint32_t>(j);
      // The backslash and the character after it (a whole UTF-8 sequence), if any.
      const bool at_end = j + 1 >= t.size() || t[j + 1] == '\n';
      const int next = at_end ? 0 : std::max(1, utf8_sequence_length(std::string_view(t).substr(j + 1)));
      const std::string seq = t.substr(j, 1 + static_cast<std::size_t>(next));
      diags.error(diagnostic_kind::bad_escape, {at, at + static_cast<std::uint32_t>(seq.size())},
                  fmt::format("{} is not an escape in a string: only \\\" (a quote) and \\\\ (a backslash) are; write "
                              "the character itself, or \\\\ for a backslash",
                              quote_token(seq)));
      ok = false;
      ++j;
    }
    if (end >= t.size() || t[end] != '"') {
      const auto at = static_cast<std::uint32_t>(i);
      diags.error(diagnostic_kind::unterminated_string, {at, static_cast<std::uint32_t>(end)},
                  "this string has no closing '\"' on its line; end it with '\"' (a string cannot span lines)");
      ok = false;
    }
    i = end;
  }
  return ok;
}

// Reports the first bracket that opens deeper than max_nesting_depth.
bool check_nesting(const source& src, diagnostics& diags) {
  const std::string& t = src.text();
  int depth = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (c == '"') {
      i = string_end(t, i);  // brackets in a string are its text
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > max_nesting_depth) {
        auto at = static_cast<std::uint32_t>(i);
        diags.error(diagnostic_kind::nesting_too_deep, {at, at + 1},
                    fmt::format("brackets nested more than {} deep; split the expression into named steps",
                                max_nesting_depth));
        return false;
      }
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return true;
}

// The token at `it`, for "found ..." in a message.
std::string describe_token(iterator_type it, iterator_type end) {
  if (it == end) return "end of file";
  if (*it == '\n') return "the end of the line";
  if (is_word_char(*it) || *it == '.') {
    iterator_type e = it;
    while (e != end && (is_word_char(*e) || *e == '.') && e - it < 40) ++e;
    return quote_token(std::string_view(it, static_cast<std::size_t>(e - it)));
  }
  int n = utf8_sequence_length(std::string_view(it, static_cast<std::size_t>(end - it)));
  return quote_token(std::string_view(it, static_cast<std::size_t>(n == 0 ? 1 : n)));
}

// Unicode code point of the (valid) UTF-8 sequence at s.
std::uint32_t code_point(std::string_view s, int n) {
  auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[static_cast<std::size_t>(i)])); };
  if (n == 1) return b(0);
  if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

// When `it` is the first token on its line, the end of the previous token (on an
// earlier line; comments are not tokens). Otherwise nullptr.
iterator_type previous_token_end(iterator_type base, iterator_type it) {
  iterator_type line = it;
  while (line != base && (line[-1] == ' ' || line[-1] == '\t' || line[-1] == '\r')) --line;
  if (line != base && line[-1] != '\n') return nullptr;  // something precedes it on its line
  while (line != base) {
    iterator_type line_end = line - 1;  // the '\n' ending the previous line
    iterator_type line_start = line_end;
    while (line_start != base && line_start[-1] != '\n') --line_start;
    // A '#' starts a comment unless it is inside a string (which ends on its line).
    iterator_type code_end = line_start;
    while (code_end != line_end && *code_end != '#') {
      if (*code_end == '"')
        while (++code_end != line_end && *code_end != '"')
          if (*code_end == '\\' && code_end + 1 != line_end) ++code_end;
      if (code_end != line_end) ++code_end;
    }
    while (code_end != line_start && (code_end[-1] == ' ' || code_end[-1] == '\t' || code_end[-1] == '\r'))
      --code_end;
    if (code_end != line_start) return code_end;
    line = line_start;
  }
  return nullptr;
}

// `offset` is added to every span reported (the command line's settings, see parse_settings).
void report_failure(const source& src, diagnostics& diags, const parser::parse_failure& f, std::uint32_t offset = 0) {
  iterator_type base = src.text().data();
  iterator_type end = base + src.text().size();
  auto at = static_cast<std::uint32_t>(f.where - base) + offset;
  std::string_view rest(f.where, static_cast<std::size_t>(end - f.where));
  if (!rest.empty()) {
    unsigned char c = static_cast<unsigned char>(rest[0]);
    int n = utf8_sequence_length(rest);
    bool printable = c >= 0x20 && c < 0x7F;
    if (!printable && c != '\t' && c != '\n' && c != '\r') {
      auto len = static_cast<std::uint32_t>(n == 0 ? 1 : n);
      std::string what = c >= 0x80 ? fmt::format("unexpected character {} (U+{:04X}); outside comments a model file is ASCII",
                                                 quote_token(rest.substr(0, len)), code_point(rest, n))
                                   : fmt::format("unexpected character {}", quote_token(rest.substr(0, 1)));
      diags.error(diagnostic_kind::unexpected_character, {at, at + len}, what);
      return;
    }
  }
  std::string found = describe_token(f.where, end);
  // A closing bracket missing at the end of a line is reported there, where it belongs,
  // rather than at the first token of the next line.
  if ((f.expected == "')'" || f.expected == "']'") && !rest.empty()) {
    if (iterator_type prev = previous_token_end(base, f.where); prev != nullptr) {
      auto at_prev = static_cast<std::uint32_t>(prev - base) + offset;
      position next = src.position_of(at - offset);
      diags.error(diagnostic_kind::syntax_error, {at_prev, at_prev},
                  fmt::format("expected {} at the end of this line (the next token is {}, on line {})", f.expected,
                              found, next.line));
      return;
    }
  }
  std::string message = fmt::format("expected {}, found {}", f.expected, found);
  // Help for the commonest slip: a statement written outside any block.
  if (f.expected.rfind("declaration", 0) == 0 && !rest.empty() && is_word_char(rest[0])) {
    iterator_type after = f.where;
    while (after != end && is_word_char(*after)) ++after;
    after = parser::skip_blank(after, end);
    if (after != end && (*after == '=' || *after == '~'))
      message += "; statements belong inside a 'p' or 'q' block";
  }
  std::uint32_t width = 1;
  if (!rest.empty() && is_word_char(rest[0])) {
    while (width < rest.size() && is_word_char(rest[width])) ++width;
  }
  if (rest.empty()) width = 0;
  diags.error(diagnostic_kind::syntax_error, {at, at + width}, message);
}

bool starts_declaration(iterator_type it, iterator_type end) {
  static constexpr std::string_view words[] = {"model", "const", "data", "latent", "p", "q", "train"};
  for (std::string_view w : words) {
    if (static_cast<std::size_t>(end - it) < w.size()) continue;
    if (std::string_view(it, w.size()) != w) continue;
    if (it + w.size() == end || !is_word_char(it[w.size()])) return true;
  }
  return false;
}

// Whether only blanks stand between the start of its line and `it`.
bool first_on_line(iterator_type it, iterator_type base) {
  while (it != base && (it[-1] == ' ' || it[-1] == '\t')) --it;
  return it == base || it[-1] == '\n';
}

// Panic mode: from the line after `from`, the first line whose first token starts a
// declaration.
iterator_type resync(iterator_type from, iterator_type end) {
  iterator_type it = from;
  while (it != end) {
    while (it != end && *it != '\n') ++it;
    if (it == end) break;
    ++it;
    iterator_type tok = it;
    while (tok != end && (*tok == ' ' || *tok == '\t' || *tok == '\r')) ++tok;
    if (tok != end && starts_declaration(tok, end)) return tok;
  }
  return end;
}

}  // namespace

std::optional<ast::model> parse(const source& src, diagnostics& diags) {
  if (!check_utf8(src, diags) || !check_strings(src, diags) || !check_nesting(src, diags)) return std::nullopt;

  iterator_type base = src.text().data();
  iterator_type end = base + src.text().size();
  iterator_type it = parser::skip_blank(base, end);
  if (it == end) {
    diags.error(diagnostic_kind::empty_model, {0, 0},
                "the model file is empty; a model needs a 'data' and a 'latent' declaration and their 'p' and 'q' "
                "factors (see models/ for examples)");
    return std::nullopt;
  }

  ast::model model;
  int errors = 0;
  while (true) {
    it = parser::skip_blank(it, end);
    if (it == end) break;
    ast::declaration decl;
    parser::parse_failure failure;
    if (parser::parse_declaration(it, end, base, decl, failure)) {
      model.declarations.push_back(std::move(decl));
      continue;
    }
    report_failure(src, diags, failure);
    if (++errors >= max_parse_errors) {
      auto at = static_cast<std::uint32_t>(failure.where - base);
      diags.error(diagnostic_kind::too_many_errors, {at, at},
                  fmt::format("too many errors ({}); stopping here", errors));
      break;
    }
    // Resynchronise after the point of failure, but never before where we started,
    // so the loop always advances.
    iterator_type from = failure.where > it ? failure.where : it;
    it = first_on_line(failure.where, base) && failure.where > it && starts_declaration(failure.where, end)
             ? failure.where  // e.g. a block missing its '}' before the next factor
             : resync(from, end);
  }
  if (errors > 0) return std::nullopt;
  return model;
}

source command_line_source(const std::vector<std::string>& settings) {
  std::string text;
  for (const auto& s : settings) text += (s.rfind("--grid ", 0) == 0 ? "" : "--set ") + s + "\n";
  return source("command line", std::move(text));
}

std::optional<std::vector<ast::train_entry>> parse_settings(const source& cl, std::uint32_t base, diagnostics& diags) {
  if (!check_utf8(cl, diags)) return std::nullopt;
  std::vector<ast::train_entry> out;
  bool ok = true;
  const std::string& text = cl.text();
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    // Every line starts with one of the prefixes unless a setting itself held a line break.
    std::size_t skip = 0;
    for (std::string_view prefix : {std::string_view("--set "), std::string_view("--grid ")})
      if (text.compare(line_start, prefix.size(), prefix) == 0) skip = prefix.size();
    iterator_type begin = text.data() + line_start + skip;
    iterator_type end = text.data() + line_end;
    iterator_type it = begin;
    ast::train_entry e;
    parser::parse_failure failure;
    // A '#' is not a comment on the command line, and brackets are bounded as in a file.
    const std::string_view value(begin, static_cast<std::size_t>(end - begin));
    const auto at = static_cast<std::uint32_t>(line_start + skip) + base;
    if (skip == 0 || value.find('#') != std::string_view::npos) {
      diags.error(diagnostic_kind::syntax_error, {at, at + static_cast<std::uint32_t>(value.size())},
                  "a --set value holds a number, a name or a call such as adam(lr = 1e-4); '#' and line breaks are not allowed");
      ok = false;
    } else if (static_cast<int>(std::count(value.begin(), value.end(), '(') + std::count(value.begin(), value.end(), '[')) >
               max_nesting_depth) {
      diags.error(diagnostic_kind::nesting_too_deep, {at, at + 1},
                  fmt::format("brackets nested more than {} deep", max_nesting_depth));
      ok = false;
    } else if (parser::parse_setting(it, end, text.data(), e, failure)) {
      ast::shift_spans(e, base);
      out.push_back(std::move(e));
    } else {
      report_failure(cl, diags, failure, base);
      ok = false;
    }
    line_start = line_end + 1;
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace vaec
