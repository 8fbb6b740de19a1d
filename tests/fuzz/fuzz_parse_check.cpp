// libFuzzer target: parse, check and lower arbitrary bytes as a model file. Any crash,
// sanitizer report, uncaught exception or stack overflow is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>
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
      // An AggregatePosterior's components come from a source run's files, read between
      // check and lowering (figures/aggregate_prior.hpp), which the fuzzer has none of:
      // two stand-in components of the latent's support, so that its lowering is exercised
      // as for a resolved source.
      for (auto& f : model->factors) {
        if (f.dist.family != vaec::family_id::aggregate_posterior || f.dist.fixed) continue;
        const vaec::var_type& t = model->variables[static_cast<std::size_t>(f.variable)].type;
        const bool sphere = t.kind == vaec::type_kind::sphere;
        auto fx = std::make_shared<vaec::fixed_mixture>();
        fx->family = sphere ? vaec::family_id::von_mises_fisher : vaec::family_id::normal;
        fx->count = 2;
        fx->rows = {t.size, sphere ? 1 : t.size};
        std::vector<double> first(static_cast<std::size_t>(t.size) * 2, 0.0);
        if (sphere) first[0] = first[static_cast<std::size_t>(t.size)] = 1.0;  // unit means
        fx->values = {first, std::vector<double>(static_cast<std::size_t>(fx->rows[1]) * 2, 1.0)};
        fx->run = "fuzz";
        f.dist.fixed = fx;
      }
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
