// A model file's text and the map from byte offsets to line:column positions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vaec {

// A half-open byte range [begin, end) into a source text.
struct span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};

// A 1-based line and column. Columns count Unicode code points (an invalid
// UTF-8 byte counts as one), so a caret lands under the right character.
struct position {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

class source {
 public:
  source(std::string name, std::string text);

  // Reads a file. Returns nullopt and sets `error` to a lowercase reason
  // ("no such file or directory", "is a directory", ...) when it cannot.
  static std::optional<source> read_file(const std::string& path, std::string& error);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }

  position position_of(std::uint32_t offset) const;
  // The text of 1-based line `line`, without its line terminator.
  std::string_view line_text(std::uint32_t line) const;
  std::uint32_t line_count() const { return static_cast<std::uint32_t>(line_starts_.size()); }

 private:
  std::string name_;
  std::string text_;
  std::vector<std::uint32_t> line_starts_;  // byte offset of each line's first byte
};

// Length of the UTF-8 sequence starting at s[0] (1 to 4), or 0 if the bytes
// there are not valid UTF-8 (overlong forms and surrogates included).
int utf8_sequence_length(std::string_view s);

// Offset of the first byte that is not part of valid UTF-8, if any.
std::optional<std::uint32_t> first_invalid_utf8(std::string_view s);

}  // namespace vaec
