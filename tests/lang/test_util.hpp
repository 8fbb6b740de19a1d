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
  std::unique_ptr<diagnostics> diags;
  std::optional<ast::model> ast;
  std::optional<checked_model> model;
  std::string rendered;  // every diagnostic as `vaec check` prints it

  // The errors (not notes) as "kind LINE:COL", in the order reported.
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (const auto& d : diags->all()) {
      if (d.level != severity::error) continue;
      position p = src->position_of(d.where.begin);
      out.push_back(std::string(to_string(d.kind)) + " " + std::to_string(p.line) + ":" + std::to_string(p.column));
    }
    return out;
  }
};

// Parses and (if parsing succeeded) checks `text` as the file `name`.
inline run_result run(std::string text, std::string name = "test.vae") {
  run_result r;
  r.src = std::make_unique<source>(std::move(name), std::move(text));
  r.diags = std::make_unique<diagnostics>(*r.src);
  r.ast = parse(*r.src, *r.diags);
  if (r.ast) r.model = check(*r.ast, *r.diags, "test");
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
