// Checked, atomic writes of whole files for the pictures module (internal).
#pragma once

#include <string>
#include <string_view>

#include "runtime/os_reason.hpp"

namespace vaec::report {

using vaec::os_reason;  // runtime/os_reason.hpp

// Writes `bytes` to PATH.tmp, fsyncs it, closes it and renames it to `path`, checking
// every step (the temporary file is removed on failure). Throws picture_error
// "cannot write PATH: REASON".
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace vaec::report
