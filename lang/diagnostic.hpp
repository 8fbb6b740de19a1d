// Diagnostics as data — {severity, kind, span, message, notes} — and their rendering
// as `FILE:LINE:COL: error: message`, the source line, and a caret.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lang/source.hpp"

namespace vaec {

enum class diagnostic_kind {
#define X(name) name,
#include "lang/diagnostic_kinds.def"
#undef X
};

std::string_view to_string(diagnostic_kind kind);

enum class severity { error, warning, note };

struct note {
  span where;
  std::string message;
};

struct diagnostic {
  severity level = severity::error;
  diagnostic_kind kind{};
  span where;
  std::string message;  // lowercase, no final period, names in quotes
  std::vector<note> notes;
};

// Collects the diagnostics of one source file.
class diagnostics {
 public:
  explicit diagnostics(const source& src) : src_(src) {}

  diagnostic& error(diagnostic_kind kind, span where, std::string message);
  diagnostic& warning(diagnostic_kind kind, span where, std::string message);

  const std::vector<diagnostic>& all() const { return list_; }
  std::size_t error_count() const { return errors_; }
  bool has_errors() const { return errors_ > 0; }
  const source& src() const { return src_; }

  // The command line's `--set` settings as a second source: a span at or after `base`
  // is at offset (span − base) in `cl`, and renders as `command line:LINE:COL`. `cl`
  // must outlive this object.
  void set_command_line(const source& cl, std::uint32_t base) {
    cl_ = &cl;
    cl_base_ = base;
  }

  // Renders every diagnostic in the order reported.
  std::string render() const;
  std::string render(const diagnostic& d) const;

 private:
  const source& src_;
  const source* cl_ = nullptr;
  std::uint32_t cl_base_ = 0;
  std::vector<diagnostic> list_;
  std::size_t errors_ = 0;
};

// Renders `FILE:LINE:COL: LEVEL: message` plus the source line and a caret line.
std::string render_located(const source& src, span where, std::string_view level, std::string_view message);

// Quotes a token for a message: printable ASCII as is, anything else escaped,
// so that a message never carries raw control bytes or invalid UTF-8.
std::string quote_token(std::string_view token);

}  // namespace vaec
