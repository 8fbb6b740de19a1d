// Shared helpers for the language tests: run parse + check over a string.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lang/check.hpp"
#include "lang/diagnostic.hpp"
#include "lang/parse.hpp"
#include "lang/source.hpp"

namespace vaec::test {

struct run_result {
  std::unique_ptr<source> src;
  std::unique_ptr<source> command_line;  // the --set settings, one "--set NAME=VALUE" a line
  std::unique_ptr<diagnostics> diags;
  std::optional<ast::model> ast;
  std::optional<checked_model> model;
  std::string rendered;  // every diagnostic as `vaec check` prints it
  std::uint32_t command_line_base = 0;  // spans from here on are in command_line

  // The errors (not notes) as "kind LINE:COL", in the order reported.
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (const auto& d : diags->all()) {
      if (d.level != severity::error) continue;
      const bool on_command_line = d.where.begin >= command_line_base;
      position p = on_command_line ? command_line->position_of(d.where.begin - command_line_base)
                                   : src->position_of(d.where.begin);
      out.push_back(std::string(to_string(d.kind)) + " " + (on_command_line ? "command line " : "") +
                    std::to_string(p.line) + ":" + std::to_string(p.column));
    }
    return out;
  }
};

// Parses and (if parsing succeeded) checks `text` as the file `name`, with the command
// line's `--set` settings `sets` ("d=5"), as vaec does.
inline run_result run(std::string text, std::string name = "test.vae", const std::vector<std::string>& sets = {}) {
  run_result r;
  r.src = std::make_unique<source>(std::move(name), std::move(text));
  r.command_line = std::make_unique<source>(command_line_source(sets));
  r.diags = std::make_unique<diagnostics>(*r.src);
  const auto base = static_cast<std::uint32_t>(r.src->text().size() + 1);
  r.command_line_base = base;
  r.diags->set_command_line(*r.command_line, base);
  auto settings = parse_settings(*r.command_line, base, *r.diags);
  if (settings) r.ast = parse(*r.src, *r.diags);
  if (r.ast) r.model = check(*r.ast, *r.diags, "test", *settings);
  r.rendered = r.diags->render();
  return r;
}

// A complete, valid Gaussian model; tests edit one line of it.
inline constexpr std::string_view gaussian_model = R"(model m
data   x : binary[784]
latent z : real[20]
p(z) = Normal(0, 1)
p(x | z) {
  h = mlp(z, [256, 512], activation = relu)
  x ~ Bernoulli(logits = linear(h, 784))
}
q(z | x) {
  h = mlp(x, [512, 256], activation = relu)
  z ~ Normal(loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4)
}
)";

}  // namespace vaec::test
