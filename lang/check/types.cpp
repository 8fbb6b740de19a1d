// Types of declarations: the type's name, and its sizes and shape (`real[20]`,
// `binary[28, 28]`, `real[3, 32, 32]`) as whole numbers within limits. Called by the
// declarations pass (names.cpp) for each variable, before any factor is looked at; a
// variable whose type is rejected gets size 0, and later passes say nothing more of it.
#include "lang/check/checker.hpp"

#include <fmt/format.h>

namespace vaec::check_impl {

std::optional<var_type> checker::check_type(const ast::type_ref& t, bool latent, const std::string& name) {
  auto kind = find_type(t.name.name);
  if (!kind) {
    std::vector<std::string> names(std::begin(type_names), std::end(type_names));
    error(diagnostic_kind::unknown_type, t.name.where,
          with_suggestion(fmt::format("unknown type '{}'; types are real[n], binary[n] and sphere[n]", t.name.name),
                          suggest(t.name.name, names)));
    return std::nullopt;
  }
  const std::string kind_name(to_string(*kind));
  if (t.dims.empty()) {
    error(diagnostic_kind::bad_size, t.where,
          fmt::format("'{0}[]' has no size; write {0}[n], such as {0}[{1}]", kind_name,
                      *kind == type_kind::sphere ? 3 : 784));
    return std::nullopt;
  }

  // Each dimension: a whole number from 1 to max_vector_size, written as a number
  // (`-3` is a negated number, reported with its sign) or as integer arithmetic of numbers
  // and constants (`d + 1`), reported with the constants' values and origins.
  std::vector<int> shape;
  std::vector<int> used_constants;
  bool dims_ok = true;
  for (const auto& d : t.dims) {
    auto v = size_expr(d);
    if (!v) {
      dims_ok = false;
      continue;
    }
    const double value = v->value;
    if (!is_integer_text(value) || value < 1 || value > static_cast<double>(max_vector_size)) {
      if (v->constants.empty()) {
        std::string written = diags_.src().text().substr(ast::span_of(d).begin, ast::span_of(d).end - ast::span_of(d).begin);
        error(diagnostic_kind::bad_size, ast::span_of(d),
              fmt::format("size must be a whole number from 1 to {}, not {}", max_vector_size,
                          written.size() > 40 ? format_number(value) : written));
      } else {
        error(diagnostic_kind::bad_size, ast::span_of(d),
              fmt::format("size of '{}' is {} ({}); a size is a whole number from 1 to {}", name, format_number(value),
                          constants_text(v->constants), max_vector_size));
      }
      dims_ok = false;
      continue;
    }
    used_constants.insert(used_constants.end(), v->constants.begin(), v->constants.end());
    shape.push_back(static_cast<int>(value));
  }
  if (!dims_ok) return std::nullopt;

  // "real[2, 3]" → "real[6]": the flat type a shape stands for, as a fix.
  auto flat_text = [&](std::int64_t n) { return fmt::format("{}[{}]", kind_name, n); };
  std::int64_t product = 1;
  bool product_overflows = false;
  for (int n : shape) {
    product *= n;
    if (product > max_vector_size) product_overflows = true;  // each n ≤ 1e7: no int64 overflow before this
    if (product_overflows) break;
  }
  const span dims_span{ast::span_of(t.dims.front()).begin, ast::span_of(t.dims.back()).end};
  var_type result{*kind, 0, shape};
  const std::string written = to_string(result);

  if (latent && *kind == type_kind::binary) {
    error(diagnostic_kind::unsupported_latent_type, t.name.where,
          "a latent cannot be binary[n]: vaec's latents are reparameterized, so use real[n] or sphere[n]");
    return std::nullopt;
  }
  if (shape.size() > 1 && latent) {
    const bool no_fix = product_overflows || (*kind == type_kind::sphere && product < 2);
    std::string fix = no_fix ? fmt::format("{}[n]", kind_name) : flat_text(product);
    error(diagnostic_kind::shaped_latent, dims_span,
          fmt::format("a latent has a size, not a shape: write {} (only the data may have a shape, which pictures use)",
                      fix));
    return std::nullopt;
  }
  if (shape.size() > 1 && *kind == type_kind::sphere) {
    std::string fix = product_overflows || product < 2 ? "sphere[n]" : flat_text(product);
    error(diagnostic_kind::bad_shape, dims_span,
          fmt::format("a sphere[n] value is one unit vector and has no shape: write {}", fix));
    return std::nullopt;
  }
  if (shape.size() > max_shape_rank) {
    error(diagnostic_kind::bad_shape, dims_span,
          fmt::format("'{}' has {} dimensions; a shape has at most {}: [H, W], or [C, H, W] with the channels first",
                      written, shape.size(), max_shape_rank));
    return std::nullopt;
  }
  if (shape.size() == 3 && shape[0] != 1 && shape[0] != 3) {
    std::string hint;
    if (shape[2] == 1 || shape[2] == 3)
      hint = fmt::format(" (channels last? write {}[{}, {}, {}])", kind_name, shape[2], shape[0], shape[1]);
    error(diagnostic_kind::bad_shape, ast::span_of(t.dims.front()),
          fmt::format("channels first: {0}[3, 32, 32] is an RGB image; {0}[C, H, W] needs C = 1 or 3, not {1}{2}",
                      kind_name, shape[0], hint));
    return std::nullopt;
  }
  if (product_overflows) {
    error(diagnostic_kind::bad_size, dims_span,
          fmt::format("'{}' holds more than {} values, the largest size a vector may have", written, max_vector_size));
    return std::nullopt;
  }
  result.size = static_cast<int>(product);
  if (*kind == type_kind::sphere && result.size < 2) {
    error(diagnostic_kind::bad_size, dims_span,
          used_constants.empty()
              ? std::string("sphere[n] holds unit vectors in R^n and needs n >= 2 (sphere[2] is the circle)")
              : fmt::format("sphere[n] holds unit vectors in R^n and needs n >= 2 (sphere[2] is the circle); the size "
                            "of '{}' is {} ({})",
                            name, result.size, constants_text(used_constants)));
    return std::nullopt;
  }
  return result;
}

}  // namespace vaec::check_impl
