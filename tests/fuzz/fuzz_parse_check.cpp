// libFuzzer target: parse, check and lower arbitrary bytes as a model file. Any crash,
// sanitizer report, uncaught exception or stack overflow is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lang/check.hpp"
#include "lang/lower.hpp"
#include "lang/parse.hpp"
#include "lang/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vaec::source src("fuzz.vae", std::string(reinterpret_cast<const char*>(data), size));
  vaec::diagnostics diags(src);
  if (auto ast = vaec::parse(src, diags)) {
    if (auto model = vaec::check(*ast, diags, "fuzz")) {
      std::string text = vaec::describe(*model);
      if (text.empty()) __builtin_trap();
      // Every model that checks lowers to a graph, every family included; an exception
      // (lowering_error, or the graph builder's invalid_argument) escapes here and is a
      // crash: the checker and the lowering disagree.
      vaec::lowered_model low = vaec::lower(*model);
      if (low.graph.objective_node() < 0) __builtin_trap();
      vaec::lowered_model iw = vaec::lower(*model, {true});
      if (iw.graph.to_text().empty()) __builtin_trap();
    }
  }
  // Rendering must work for every diagnostic, wherever it points.
  std::string rendered = diags.render();
  if (diags.has_errors() && rendered.empty()) __builtin_trap();
  return 0;
}
