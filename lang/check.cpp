// check(): the public types' functions and the driver. The checker's passes, in the
// order they run (one file each under lang/check/):
//   constants.cpp       constants and the command line's --set; integer sizes
//   names.cpp           declarations, types (types.cpp) and factor headers
//   structure.cpp       the factor graph: factors present, acyclic, q from the data, p to it
//   factors.cpp         each factor's block, in the structure's order: expressions
//                       (expressions.cpp, calls.cpp), with sizes and ranges (lang/range.*),
//                       and the sample (distributions.cpp)
//   train_settings.cpp  the train block
//   kl_plan.cpp         KL terms and gradients, once everything else is clean
// checker.hpp holds the state they share; checker.cpp the error reporting.
#include "lang/check.hpp"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "lang/check/checker.hpp"

namespace vaec {

std::string to_string(const var_type& t) {
  if (t.shape.empty()) return fmt::format("{}[{}]", to_string(t.kind), t.size);
  return fmt::format("{}[{}]", to_string(t.kind), fmt::join(t.shape, ", "));
}

picture_layout picture_of(const var_type& t) {
  using kind = picture_layout::kind;
  auto image = [](int channels, int height, int width, std::string why) {
    return picture_layout{kind::image, channels, height, width, std::move(why)};
  };
  auto colour = [](int channels) { return channels == 3 ? "RGB" : "grey"; };
  if (t.kind != type_kind::sphere) {
    if (t.shape.size() == 2) return image(1, t.shape[0], t.shape[1], fmt::format("{}×{} grey images", t.shape[0], t.shape[1]));
    if (t.shape.size() == 3 && (t.shape[0] == 1 || t.shape[0] == 3))
      return image(t.shape[0], t.shape[1], t.shape[2],
                   fmt::format("{}×{} {} images", t.shape[1], t.shape[2], colour(t.shape[0])));
    if (t.shape.size() <= 1 && t.size >= 4) {
      // The integer square root, exactly: n² ≤ 1e7 fits easily in an int64.
      auto n = static_cast<std::int64_t>(std::sqrt(static_cast<double>(t.size)));
      while (n * n > t.size) --n;
      while ((n + 1) * (n + 1) <= t.size) ++n;
      if (n * n == t.size) {
        const int side = static_cast<int>(n);
        return image(1, side, side,
                     fmt::format("{0}×{0} grey images, since {1} is a perfect square — declare {2}[{0}, {0}] to say so",
                                 side, t.size, to_string(t.kind)));
      }
    }
  }
  return picture_layout{kind::values, 1, 0, 0, "plots of the values, not images"};
}

std::string_view to_string(kl_method m) {
  switch (m) {
    case kl_method::closed_form: return "closed form";
    case kl_method::entropy_plus_mc: return "closed-form entropy + Monte Carlo cross-entropy";
    case kl_method::monte_carlo: return "Monte Carlo";
    case kl_method::not_used: return "not used";
  }
  return "?";
}

std::int64_t checked_model::theta_count() const {
  std::int64_t n = 0;
  for (const auto& f : factors)
    if (f.side == 'p') n += f.parameter_count;
  return n;
}

std::int64_t checked_model::phi_count() const {
  std::int64_t n = 0;
  for (const auto& f : factors)
    if (f.side == 'q') n += f.parameter_count;
  return n;
}

namespace check_impl {

std::optional<checked_model> checker::run(const ast::model& m, const std::vector<ast::train_entry>& settings) {
  declare(m, settings);
  if (diags_.has_errors()) return std::nullopt;
  plan();
  if (diags_.has_errors()) return std::nullopt;  // plan() reports infinite KL terms
  return std::move(model_);
}

}  // namespace check_impl

std::optional<checked_model> check(const ast::model& model, diagnostics& diags, std::string default_name,
                                   const std::vector<ast::train_entry>& settings) {
  check_impl::checker c(diags, std::move(default_name));
  return c.run(model, settings);
}

}  // namespace vaec
