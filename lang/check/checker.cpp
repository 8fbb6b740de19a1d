// What every pass uses: errors (counted, and stopped after max_check_errors), notes,
// "did you mean" suggestions, and the value of a number literal. No pass of its own.
#include "lang/check/checker.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace vaec::check_impl {

diagnostic* checker::error(diagnostic_kind kind, span where, std::string message) {
  if (stopped_) return nullptr;
  if (errors_ >= max_check_errors) {
    diags_.error(diagnostic_kind::too_many_errors, where,
                 fmt::format("too many errors ({}); stopping here", errors_));
    stopped_ = true;
    return nullptr;
  }
  ++errors_;
  return &diags_.error(kind, where, std::move(message));
}

void add_note(diagnostic* d, span where, std::string message) {
  if (d) d->notes.push_back({where, std::move(message)});
}

std::string with_suggestion(std::string message, const std::optional<std::string>& s) {
  if (s) message += fmt::format(" (did you mean '{}'?)", *s);
  return message;
}

std::optional<std::string> suggest_capped(std::string_view written, const std::vector<std::string>& candidates) {
  if (candidates.size() > max_suggestion_candidates)
    return suggest(written, std::span<const std::string>(candidates.data(), max_suggestion_candidates));
  return suggest(written, candidates);
}

std::optional<double> checker::number_value(const ast::number& n) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(n.text.c_str(), &end);
  if (errno == ERANGE && std::isinf(v)) {
    std::string shown = n.text.size() > 40 ? n.text.substr(0, 37) + "..." : n.text;
    error(diagnostic_kind::number_out_of_range, n.where,
          fmt::format("number '{}' is too large; the largest is about 1.8e308", shown));
    return std::nullopt;
  }
  // Underflow to a subnormal is the nearest double: accepted. Underflow to zero of a number
  // that is not zero is accepted too, but said, since 0 is often not what was meant (a
  // positive learning rate, a scale).
  if (errno == ERANGE && v == 0 && n.text.find_first_of("123456789") < n.text.find_first_of("eE")) {
    std::string shown = n.text.size() > 40 ? n.text.substr(0, 37) + "..." : n.text;
    diags_.warning(diagnostic_kind::number_out_of_range, n.where,
                   fmt::format("number '{}' is below the smallest positive double (about 4.9e-324) and is read as 0",
                               shown));
  }
  return v;
}

}  // namespace vaec::check_impl
