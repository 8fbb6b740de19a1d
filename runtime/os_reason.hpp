// The text of an errno value as vaec's messages write it (header only, so that every
// module can use it without linking the runtime).
#pragma once

#include <cctype>
#include <cstring>
#include <string>

namespace vaec {

// strerror(err) with a lowercase first letter: "no such file or directory". Takes an errno
// value; returns its text. Throws nothing but std::bad_alloc.
inline std::string os_reason(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace vaec
