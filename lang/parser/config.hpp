// Types shared by the grammar's declaration and definition.
#pragma once

namespace vaec::parser {

// The grammar runs over the raw bytes of a model file.
using iterator_type = const char*;

// The context key under which the grammar finds the first byte of the file, so that
// it can record byte offsets in the AST. The parse entry point in grammar.cpp is
// the only place that builds this context (so no X3 context type is shared across
// translation units, and no linker error can come from a mismatch).
struct base_tag;

}  // namespace vaec::parser
