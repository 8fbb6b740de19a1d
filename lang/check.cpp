#include "lang/check.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

namespace vaec {

namespace x3 = boost::spirit::x3;

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

namespace {

// The checker stops reporting after this many errors.
constexpr std::size_t max_check_errors = 50;
// Suggestions are searched among at most this many candidates.
constexpr std::size_t max_suggestion_candidates = 2000;

constexpr double inf = std::numeric_limits<double>::infinity();

// Whether the checked node is sigmoid(h) or 1 − sigmoid(h) (lowered as the logits ±h); the
// lowering (lang/lower.cpp, sigmoid_argument) recognises the same two forms.
bool is_sigmoid_form(const node& p, const std::vector<node>& nodes) {
  auto sigmoid = [](const node& n) { return n.kind == node_kind::call && n.function == function_id::sigmoid; };
  if (sigmoid(p)) return true;
  if (p.kind != node_kind::sub) return false;
  const node& one = nodes[static_cast<std::size_t>(p.inputs[0])];
  return one.kind == node_kind::constant && one.value == 1 && sigmoid(nodes[static_cast<std::size_t>(p.inputs[1])]);
}

bool is_integer_text(double v) { return std::floor(v) == v && std::fabs(v) <= 9007199254740992.0; }

// ---- values during checking ---------------------------------------------------------

struct value {
  enum class kind { error, number, vector, list, function, distribution } k = kind::error;
  int node = -1;                   // number or vector; -1 for a number not yet a node
  double number = 0;               // a number's value while it has no node
  std::vector<value> items;        // list
  function_id function{};          // function reference
  distribution_use dist;           // distribution
  std::vector<span> param_spans;   // distribution: the span of each parameter's argument
  span where;

  bool is_error() const { return k == kind::error; }
  bool numeric() const { return k == kind::number || k == kind::vector; }
};

value error_value(span where) {
  value v;
  v.where = where;
  return v;
}

// The scope of one factor's block.
struct scope {
  char side = 'p';
  int variable = -1;                       // the factor's own variable
  std::unordered_set<int> given;           // conditioning variables
  std::unordered_set<std::string> given_unknown;  // undeclared names in the '|' list (already reported)
  bool header_incomplete = false;          // the '|' list had an error: don't second-guess uses
  std::unordered_map<std::string, value> locals;
  std::unordered_map<int, int> variable_nodes;    // variable → its node in this factor
  std::string header_text;                 // "p(x | z)"
};

class checker {
 public:
  checker(diagnostics& diags, std::string default_name) : diags_(diags) { model_.name = std::move(default_name); }

  std::optional<checked_model> run(const ast::model& m);

 private:
  diagnostics& diags_;
  checked_model model_;
  std::size_t errors_ = 0;
  bool stopped_ = false;

  std::unordered_map<std::string, int> variable_index_;
  std::vector<const ast::factor*> p_of_, q_of_;  // per variable: its factor (first one)
  // Per variable, the variables its p (q) factor conditions on: declared, not itself,
  // and for p not the data (each of those was reported in the header).
  std::vector<std::vector<int>> p_inputs_, q_inputs_;
  // False once a factor header had an error: the factor graph is then incomplete, and
  // what depends on all of it (missing factors, reachability) would only cascade.
  bool headers_ok_ = true;

  // -- reporting
  diagnostic* error(diagnostic_kind kind, span where, std::string message);

  // -- declarations
  void declare(const ast::model& m);
  std::optional<var_type> check_type(const ast::type_ref& t, bool latent);
  std::optional<double> number_value(const ast::number& n);
  void check_headers(const std::vector<const ast::factor*>& factors);
  std::vector<int> order(char side);
  void check_structure();
  void check_factor(const ast::factor& f);
  void check_train(const std::vector<const ast::train_block*>& blocks);
  void plan();

  // -- expressions
  value expr(const ast::expr& e, scope& s, bool allow_distribution = false);
  value number(const ast::number& n);
  value name(const ast::identifier& id, scope& s);
  value call(const ast::call& c, scope& s, bool allow_distribution);
  value list(const ast::list& l, scope& s);
  value negate(const ast::negate& n, scope& s);
  value chain(const ast::chain& c, scope& s);
  value arithmetic(char op, value lhs, value rhs, span op_span);

  struct bound_args {
    std::vector<const ast::argument*> slot;  // per parameter, the argument given (or null)
    std::vector<const ast::argument*> extra; // variadic
    bool ok = true;
  };
  bound_args bind(std::string_view callee, std::span<const param_spec> params, bool variadic, const ast::call& c);
  value function_call(const function_info& f, const ast::call& c, scope& s);
  value distribution_call(const family_info& f, const ast::call& c, scope& s);
  void check_sample(const distribution_use& d, const std::vector<span>& spans, const variable& v, span where);

  int add_node(node n, scope* s);
  value make_value(int node_index, span where);
  value constant(double v, span where, scope* s);

  // What is known of a numeric value, whether or not it has a node yet. Constants
  // fold without nodes, so `1 + 1 + ... + 1` costs no IR.
  struct facts {
    node_kind kind = node_kind::constant;
    int size = 0;
    double value = 0;
    interval range;
    bool learnable = false;
    bool unit = false;
  };
  facts facts_of(const value& v) const;
  // The node of a numeric value, creating the constant node on first use.
  int materialize(value& v, scope* s);
  std::optional<int> size_argument(const value& v, std::string_view what);
  bool expect_numeric(const value& v, std::string_view what);

  std::vector<std::string> visible_names(const scope& s) const;
};

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

// ---- numbers ------------------------------------------------------------------------

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
  // Underflow to zero or a subnormal is the nearest double: accepted.
  return v;
}

// ---- declarations -------------------------------------------------------------------

std::optional<var_type> checker::check_type(const ast::type_ref& t, bool latent) {
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
  // (`-3` is a negated number, reported with its sign).
  std::vector<int> shape;
  bool dims_ok = true;
  for (const auto& d : t.dims) {
    const ast::number* literal = boost::get<ast::number>(&d);
    bool negative = false;
    if (const auto* neg = boost::get<x3::forward_ast<ast::negate>>(&d); neg && neg->get().count == 1) {
      literal = boost::get<ast::number>(&neg->get().operand);
      negative = true;
    }
    if (!literal) {
      error(diagnostic_kind::bad_size, ast::span_of(d),
            "a size must be a whole number such as 784, not an expression");
      dims_ok = false;
      continue;
    }
    auto v = number_value(*literal);
    if (!v) {
      dims_ok = false;
      continue;
    }
    const double value = negative ? -*v : *v;
    if (!is_integer_text(value) || value < 1 || value > static_cast<double>(max_vector_size)) {
      error(diagnostic_kind::bad_size, ast::span_of(d),
            fmt::format("size must be a whole number from 1 to {}, not {}{}", max_vector_size, negative ? "-" : "",
                        literal->text));
      dims_ok = false;
      continue;
    }
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
          "sphere[n] holds unit vectors in R^n and needs n >= 2 (sphere[2] is the circle)");
    return std::nullopt;
  }
  return result;
}

void checker::declare(const ast::model& m) {
  const ast::model_decl* name_decl = nullptr;
  const ast::variable_decl* data_decl = nullptr;
  std::vector<const ast::variable_decl*> latents;
  std::vector<const ast::factor*> factors;
  std::vector<const ast::train_block*> trains;
  std::unordered_map<std::string, const ast::variable_decl*> first_decl;

  for (const auto& d : m.declarations) {
    if (const auto* md = boost::get<ast::model_decl>(&d)) {
      if (name_decl) {
        add_note(error(diagnostic_kind::duplicate_model_name, md->where, "the model is named twice"),
                 name_decl->where, "first named here");
      } else {
        name_decl = md;
        model_.name = md->name.name;
      }
    } else if (const auto* vd = boost::get<ast::variable_decl>(&d)) {
      const std::string& nm = vd->name.name;
      if (is_builtin(nm)) {
        // Reported, then declared all the same, so that its uses say nothing more.
        error(diagnostic_kind::rebind_builtin, vd->name.where,
              fmt::format("'{}' is a builtin {} and cannot name a variable", nm,
                          find_function(nm) ? "function" : "distribution"));
      }
      if (auto it = first_decl.find(nm); it != first_decl.end()) {
        add_note(error(diagnostic_kind::duplicate_variable, vd->name.where, fmt::format("'{}' is declared twice", nm)),
                 it->second->name.where, fmt::format("'{}' first declared here", nm));
        continue;
      }
      first_decl[nm] = vd;
      if (vd->keyword == "data") {
        if (data_decl) {
          add_note(error(diagnostic_kind::duplicate_data, vd->where,
                         "a model has exactly one 'data' declaration; this is the second"),
                   data_decl->where, "the first is here");
          continue;
        }
        data_decl = vd;
      } else {
        latents.push_back(vd);
      }
    } else if (const auto* f = boost::get<ast::factor>(&d)) {
      factors.push_back(f);
    } else if (const auto* t = boost::get<ast::train_block>(&d)) {
      trains.push_back(t);
    }
  }

  span model_span = name_decl ? name_decl->where : span{0, 0};
  if (!data_decl) {
    error(diagnostic_kind::missing_data, model_span,
          "the model has no 'data' declaration; add one such as 'data x : binary[784]'");
  }
  if (latents.empty()) {
    error(diagnostic_kind::missing_latent, data_decl ? data_decl->where : model_span,
          "the model has no 'latent' declaration; add one such as 'latent z : real[20]'");
  }

  // Variables: the data first, then the latents.
  auto add_variable = [&](const ast::variable_decl* vd, bool is_data) {
    auto type = check_type(vd->type, !is_data);
    variable v;
    v.name = vd->name.name;
    v.type = type.value_or(var_type{type_kind::real, 0, {}});  // size 0: unknown, checked no further
    v.is_data = is_data;
    v.where = vd->name.where;
    variable_index_[v.name] = static_cast<int>(model_.variables.size());
    model_.variables.push_back(std::move(v));
  };
  if (data_decl) add_variable(data_decl, true);
  else {
    // A placeholder keeps index 0 for the data; nothing refers to it by name.
    model_.variables.push_back(variable{"", {type_kind::real, 0, {}}, true, {}});
  }
  model_.data = 0;
  for (const auto* vd : latents) add_variable(vd, false);

  p_of_.assign(model_.variables.size(), nullptr);
  q_of_.assign(model_.variables.size(), nullptr);
  check_headers(factors);
  if (!data_decl || latents.empty()) {
    check_train(trains);
    return;
  }
  check_structure();
  for (int v : order('p'))
    if (p_of_[static_cast<std::size_t>(v)]) check_factor(*p_of_[static_cast<std::size_t>(v)]);
  for (int v : order('q'))
    if (q_of_[static_cast<std::size_t>(v)]) check_factor(*q_of_[static_cast<std::size_t>(v)]);
  check_train(trains);
}

std::string header_text(const ast::factor& f) {
  std::string s = fmt::format("{}({}", f.side, f.variable.name);
  for (std::size_t i = 0; i < f.given.size(); ++i) s += (i == 0 ? " | " : ", ") + f.given[i].name;
  return s + ")";
}

std::vector<std::string> keys_of(const std::unordered_map<std::string, int>& m) {
  std::vector<std::string> out;
  out.reserve(m.size());
  for (const auto& [k, v] : m)
    if (!k.empty()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

void checker::check_headers(const std::vector<const ast::factor*>& factors) {
  std::vector<std::string> names = keys_of(variable_index_);
  p_inputs_.assign(model_.variables.size(), {});
  q_inputs_.assign(model_.variables.size(), {});
  std::size_t errors_before = errors_;
  for (const ast::factor* f : factors) {
    auto it = variable_index_.find(f->variable.name);
    if (it == variable_index_.end()) {
      error(diagnostic_kind::unknown_variable, f->variable.where,
            with_suggestion(fmt::format("'{}' is not a declared variable; declare it with 'latent {} : real[n]'",
                                        f->variable.name, f->variable.name),
                            suggest_capped(f->variable.name, names)));
      continue;
    }
    int v = it->second;
    const variable& var = model_.variables[static_cast<std::size_t>(v)];
    if (f->side == 'q' && var.is_data) {
      error(diagnostic_kind::q_factor_for_data, f->header,
            fmt::format("'{}' is the data: it is observed, so it has a p factor and no q factor", var.name));
      continue;
    }
    auto& slot = f->side == 'p' ? p_of_[static_cast<std::size_t>(v)] : q_of_[static_cast<std::size_t>(v)];
    if (slot) {
      add_note(error(diagnostic_kind::duplicate_factor, f->header,
                     fmt::format("'{}' has two {} factors; each variable has exactly one", var.name, f->side)),
               slot->header, fmt::format("the first {} factor of '{}' is here", f->side, var.name));
      continue;
    }
    std::unordered_map<std::string, const ast::identifier*> seen;
    for (const auto& g : f->given) {
      auto gi = variable_index_.find(g.name);
      if (gi == variable_index_.end()) {
        error(diagnostic_kind::unknown_variable, g.where,
              with_suggestion(fmt::format("'{}' is not a declared variable", g.name), suggest_capped(g.name, names)));
      } else if (gi->second == v) {
        error(diagnostic_kind::self_condition, g.where,
              fmt::format("{}({} | ...) cannot condition '{}' on itself", f->side, var.name, var.name));
      } else if (seen.count(g.name)) {
        add_note(error(diagnostic_kind::duplicate_condition, g.where, fmt::format("'{}' is listed twice", g.name)),
                 seen[g.name]->where, "first listed here");
      } else if (f->side == 'p' && model_.variables[static_cast<std::size_t>(gi->second)].is_data) {
        error(diagnostic_kind::p_conditions_on_data, g.where,
              fmt::format("the generative model cannot condition on the data '{}': p factors generate it; "
                          "did you mean q({} | {})?",
                          g.name, var.name, g.name));
      }
      else {
        auto& inputs = f->side == 'p' ? p_inputs_ : q_inputs_;
        inputs[static_cast<std::size_t>(v)].push_back(gi->second);
      }
      seen.emplace(g.name, &g);
    }
    slot = f;
  }
  headers_ok_ = errors_ == errors_before;
}

// Variables in an order where every factor of `side` comes after the factors of the
// variables it conditions on (Kahn's algorithm; no recursion, whatever the size).
// Variables on a cycle come last, in declaration order.
std::vector<int> checker::order(char side) {
  const std::size_t n = model_.variables.size();
  const auto& inputs = side == 'p' ? p_inputs_ : q_inputs_;
  std::vector<std::vector<int>> out_edges(n);
  std::vector<int> indegree(n, 0);
  for (std::size_t v = 0; v < n; ++v) {
    for (int g : inputs[v]) {
      out_edges[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
      ++indegree[v];
    }
  }
  std::vector<int> result;
  std::deque<int> ready;
  for (std::size_t v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push_back(static_cast<int>(v));
  std::vector<bool> done(n, false);
  while (!ready.empty()) {
    int v = ready.front();
    ready.pop_front();
    done[static_cast<std::size_t>(v)] = true;
    result.push_back(v);
    for (int w : out_edges[static_cast<std::size_t>(v)])
      if (--indegree[static_cast<std::size_t>(w)] == 0) ready.push_back(w);
  }
  for (std::size_t v = 0; v < n; ++v)
    if (!done[v]) result.push_back(static_cast<int>(v));
  return result;
}

void checker::check_structure() {
  const std::size_t n = model_.variables.size();
  // Every variable has its factors. When a header named an unknown variable (a typo,
  // reported with a suggestion), a "missing factor" here would be the same mistake again.
  if (headers_ok_) {
    for (std::size_t v = 0; v < n; ++v) {
      const variable& var = model_.variables[v];
      if (var.type.size == 0) continue;  // its declaration was already reported
      if (!p_of_[v]) {
        error(diagnostic_kind::missing_p_factor, var.where,
              var.is_data ? fmt::format("the data '{}' has no p factor; add one such as 'p({} | z) {{ ... }}'",
                                        var.name, var.name)
                          : fmt::format("latent '{}' has no p factor (its prior); add one such as 'p({}) = {}'",
                                        var.name, var.name,
                                        var.type.kind == type_kind::sphere ? "HypersphericalUniform()" : "Normal(0, 1)"));
      }
      if (!var.is_data && !q_of_[v]) {
        error(diagnostic_kind::missing_q_factor, var.where,
              fmt::format("latent '{}' has no q factor (its variational posterior); add one such as "
                          "'q({} | {}) {{ ... }}'",
                          var.name, var.name, model_.variables[0].name));
      }
    }
  }

  // No cycles among the p factors, nor among the q factors. Kahn's algorithm (in order())
  // places every variable not on or behind a cycle; from any unplaced one, following
  // unplaced inputs must come back to a variable already seen.
  for (char side : {'p', 'q'}) {
    const auto& of = side == 'p' ? p_of_ : q_of_;
    const auto& inputs = side == 'p' ? p_inputs_ : q_inputs_;
    std::vector<int> ord = order(side);
    std::vector<bool> placed(n, false);
    std::vector<int> indegree(n, 0);
    for (std::size_t v = 0; v < n; ++v) indegree[v] = static_cast<int>(inputs[v].size());
    // Replay Kahn's algorithm to learn which variables it placed.
    {
      std::vector<std::vector<int>> out(n);
      for (std::size_t v = 0; v < n; ++v)
        for (int g : inputs[v]) out[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
      std::deque<int> ready;
      for (std::size_t v = 0; v < n; ++v)
        if (indegree[v] == 0) ready.push_back(static_cast<int>(v));
      while (!ready.empty()) {
        auto v = static_cast<std::size_t>(ready.front());
        ready.pop_front();
        placed[v] = true;
        for (int w : out[v])
          if (--indegree[static_cast<std::size_t>(w)] == 0) ready.push_back(w);
      }
    }
    int start = -1;
    for (std::size_t v = 0; v < n && start < 0; ++v)
      if (!placed[v]) start = static_cast<int>(v);
    if (start < 0) continue;
    std::vector<int> path;
    std::vector<int> seen_at(n, -1);
    int v = start;
    while (seen_at[static_cast<std::size_t>(v)] < 0) {
      seen_at[static_cast<std::size_t>(v)] = static_cast<int>(path.size());
      path.push_back(v);
      int next = -1;
      for (int g : inputs[static_cast<std::size_t>(v)])
        if (!placed[static_cast<std::size_t>(g)]) {
          next = g;
          break;
        }
      v = next;  // an unplaced variable always has an unplaced input
    }
    std::vector<int> cycle(path.begin() + seen_at[static_cast<std::size_t>(v)], path.end());
    // Edges run from input to output; the path runs from output to input.
    std::string text;
    for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) text += model_.variables[static_cast<std::size_t>(*it)].name + " → ";
    text += model_.variables[static_cast<std::size_t>(cycle.back())].name;
    auto* d = error(diagnostic_kind::cycle, of[static_cast<std::size_t>(cycle.front())]->header,
                    fmt::format("the {} factors form a cycle: {}; they must form a directed acyclic graph", side, text));
    for (std::size_t i = 1; i < cycle.size(); ++i)
      add_note(d, of[static_cast<std::size_t>(cycle[i])]->header, "part of the cycle");
  }

  // What follows depends on every edge of the factor graph.
  if (!headers_ok_) return;

  // The q factors start from the data: every latent is reached from it along q factors.
  {
    std::vector<std::vector<int>> q_out(n);
    for (std::size_t v = 0; v < n; ++v)
      for (int g : q_inputs_[v]) q_out[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
    std::vector<bool> reached(n, false);
    std::deque<int> todo{model_.data};
    reached[static_cast<std::size_t>(model_.data)] = true;
    while (!todo.empty()) {
      auto v = static_cast<std::size_t>(todo.front());
      todo.pop_front();
      for (int w : q_out[v])
        if (!reached[static_cast<std::size_t>(w)]) {
          reached[static_cast<std::size_t>(w)] = true;
          todo.push_back(w);
        }
    }
    for (std::size_t v = 0; v < n; ++v)
      if (q_of_[v] && !reached[v])
        error(diagnostic_kind::q_unreachable_from_data, q_of_[v]->header,
              fmt::format("{} never sees the data '{}', directly or through other q factors; the variational "
                          "posterior must start from the data, e.g. q({} | {})",
                          header_text(*q_of_[v]), model_.variables[0].name, model_.variables[v].name,
                          model_.variables[0].name));
  }

  // Every latent generates the data: it is an ancestor of the data along p factors.
  {
    std::vector<bool> ancestor(n, false);
    std::deque<int> todo{model_.data};
    ancestor[static_cast<std::size_t>(model_.data)] = true;
    while (!todo.empty()) {
      auto v = static_cast<std::size_t>(todo.front());
      todo.pop_front();
      for (int g : p_inputs_[v])
        if (!ancestor[static_cast<std::size_t>(g)]) {
          ancestor[static_cast<std::size_t>(g)] = true;
          todo.push_back(g);
        }
    }
    for (std::size_t v = 1; v < n; ++v)
      if (p_of_[v] && p_of_[0] && !ancestor[v])
        error(diagnostic_kind::latent_unused, model_.variables[v].where,
              fmt::format("latent '{}' does not generate the data: no chain of p factors leads from '{}' to "
                          "'{}'; condition a p factor on it, e.g. p({} | {})",
                          model_.variables[v].name, model_.variables[v].name, model_.variables[0].name,
                          model_.variables[0].name, model_.variables[v].name));
  }
}

// ---- nodes --------------------------------------------------------------------------

int checker::add_node(node n, scope* s) {
  if (s) n.side = s->side;
  model_.nodes.push_back(std::move(n));
  return static_cast<int>(model_.nodes.size() - 1);
}

value checker::make_value(int index, span where) {
  value v;
  v.node = index;
  v.k = model_.nodes[static_cast<std::size_t>(index)].size == 0 ? value::kind::number : value::kind::vector;
  v.where = where;
  return v;
}

value checker::constant(double x, span where, scope*) {
  value v;
  v.k = value::kind::number;
  v.number = x;
  v.where = where;
  return v;
}

checker::facts checker::facts_of(const value& v) const {
  if (v.node < 0) return {node_kind::constant, 0, v.number, exact(v.number), false, false};
  const node& n = model_.nodes[static_cast<std::size_t>(v.node)];
  return {n.kind, n.size, n.value, n.range, n.learnable, n.unit};
}

int checker::materialize(value& v, scope* s) {
  if (v.node >= 0) return v.node;
  node n;
  n.kind = node_kind::constant;
  n.value = v.number;
  n.range = exact(v.number);
  n.where = v.where;
  v.node = add_node(std::move(n), s);
  return v.node;
}

std::vector<std::string> checker::visible_names(const scope& s) const {
  std::vector<std::string> names;
  for (const auto& [k, v] : s.locals) names.push_back(k);
  for (const auto& v : model_.variables)
    if (!v.name.empty()) names.push_back(v.name);
  for (const auto& f : functions()) names.emplace_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- expressions --------------------------------------------------------------------

value checker::expr(const ast::expr& e, scope& s, bool allow_distribution) {
  struct visitor {
    checker& c;
    scope& s;
    bool allow;
    using result_type = value;
    value operator()(const ast::number& n) const { return c.number(n); }
    value operator()(const ast::identifier& id) const { return c.name(id, s); }
    value operator()(const x3::forward_ast<ast::call>& x) const { return c.call(x.get(), s, allow); }
    value operator()(const x3::forward_ast<ast::list>& x) const { return c.list(x.get(), s); }
    value operator()(const x3::forward_ast<ast::negate>& x) const { return c.negate(x.get(), s); }
    value operator()(const x3::forward_ast<ast::chain>& x) const { return c.chain(x.get(), s); }
  };
  return boost::apply_visitor(visitor{*this, s, allow_distribution}, e);
}

value checker::number(const ast::number& n) {
  auto v = number_value(n);
  if (!v) return error_value(n.where);
  return constant(*v, n.where, nullptr);
}

value checker::name(const ast::identifier& id, scope& s) {
  if (auto it = s.locals.find(id.name); it != s.locals.end()) {
    value v = it->second;
    v.where = id.where;
    return v;
  }
  if (s.given_unknown.count(id.name)) return error_value(id.where);
  if (auto it = variable_index_.find(id.name); it != variable_index_.end()) {
    int vi = it->second;
    const variable& var = model_.variables[static_cast<std::size_t>(vi)];
    if (vi == s.variable) {
      error(diagnostic_kind::not_in_conditioning, id.where,
            fmt::format("'{}' is the variable that {} defines; it cannot be used on the right side", id.name,
                        s.header_text));
      return error_value(id.where);
    }
    if (!s.given.count(vi)) {
      if (s.header_incomplete) return error_value(id.where);  // the '|' list was already reported
      std::string fixed = s.header_text;
      fixed.insert(fixed.size() - 1, (fixed.find('|') == std::string::npos ? " | " : ", ") + id.name);
      error(diagnostic_kind::not_in_conditioning, id.where,
            fmt::format("'{}' is not a conditioning variable of {}; add it: {}", id.name, s.header_text, fixed));
      return error_value(id.where);
    }
    if (var.type.size == 0) return error_value(id.where);
    if (auto cached = s.variable_nodes.find(vi); cached != s.variable_nodes.end()) return make_value(cached->second, id.where);
    node n;
    n.kind = node_kind::variable;
    n.variable = vi;
    n.size = var.type.size;
    n.unit = var.type.kind == type_kind::sphere;
    if (var.type.kind == type_kind::sphere) n.range = {-1, 1, false};
    if (var.type.kind == type_kind::binary) n.range = {0, 1, false};
    n.learnable = true;  // a sample depends on parameters
    n.where = id.where;
    int index = add_node(std::move(n), &s);
    s.variable_nodes[vi] = index;
    return make_value(index, id.where);
  }
  if (const auto* f = find_function(id.name)) {
    error(diagnostic_kind::misplaced_function, id.where,
          fmt::format("'{}' is a function; call it: {}", id.name, f->signature));
    return error_value(id.where);
  }
  if (const auto* f = find_family(id.name)) {
    error(diagnostic_kind::misplaced_distribution, id.where,
          fmt::format("'{}' is a distribution; it belongs on the right of '~': {}", id.name, f->signature));
    return error_value(id.where);
  }
  error(diagnostic_kind::unknown_name, id.where,
        with_suggestion(fmt::format("unknown name '{}'", id.name), suggest_capped(id.name, visible_names(s))));
  return error_value(id.where);
}

value checker::list(const ast::list& l, scope& s) {
  value v;
  v.k = value::kind::list;
  v.where = l.where;
  for (const auto& item : l.items) {
    value x = expr(item, s);
    if (x.is_error()) return error_value(l.where);
    v.items.push_back(std::move(x));
  }
  return v;
}

bool checker::expect_numeric(const value& v, std::string_view what) {
  if (v.numeric()) return true;
  if (v.is_error()) return false;
  if (v.k == value::kind::list)
    error(diagnostic_kind::wrong_argument_kind, v.where,
          fmt::format("{} must be a number or a vector, not a list; lists are only for mlp's layer sizes", what));
  else if (v.k == value::kind::function)
    error(diagnostic_kind::misplaced_function, v.where, fmt::format("{} must be a number or a vector, not a function", what));
  else
    error(diagnostic_kind::misplaced_distribution, v.where,
          fmt::format("{} must be a number or a vector, not a distribution", what));
  return false;
}

value checker::negate(const ast::negate& n, scope& s) {
  value x = expr(n.operand, s);
  if (!expect_numeric(x, "the operand of '-'")) return error_value(n.where);
  if (n.count % 2 == 0) {
    x.where = n.where;
    return x;
  }
  facts in = facts_of(x);
  if (in.kind == node_kind::constant) return constant(-in.value, n.where, &s);
  node out;
  out.kind = node_kind::negate;
  out.size = in.size;
  out.inputs = {materialize(x, &s)};
  out.learnable = in.learnable;
  out.range = negate_interval(in.range);
  out.where = n.where;
  return make_value(add_node(std::move(out), &s), n.where);
}

std::optional<int> broadcast(int a, int b) {
  if (a == 0) return b;
  if (b == 0) return a;
  if (a == b) return a;
  if (a == 1) return b;
  if (b == 1) return a;
  return std::nullopt;
}

std::string describe_size(int size) { return size == 0 ? "a number" : fmt::format("size [{}]", size); }

value checker::arithmetic(char op, value lhs, value rhs, span op_span) {
  span whole{lhs.where.begin, rhs.where.end};
  if (lhs.is_error() || rhs.is_error()) return error_value(whole);
  if (!lhs.numeric() || !rhs.numeric()) {  // the message is built only when needed: this is a hot path
    std::string what = fmt::format("the operands of '{}'", op);
    expect_numeric(lhs.numeric() ? rhs : lhs, what);
    return error_value(whole);
  }
  facts a = facts_of(lhs);
  facts b = facts_of(rhs);
  auto size = broadcast(a.size, b.size);
  if (!size) {
    auto* d = error(diagnostic_kind::size_mismatch, op_span,
                    fmt::format("sizes do not match: [{}] {} [{}]; they must be equal, or one of them [1] or a number",
                                a.size, op, b.size));
    add_note(d, lhs.where, fmt::format("the left side has size [{}]", a.size));
    add_note(d, rhs.where, fmt::format("the right side has size [{}]", b.size));
    return error_value(whole);
  }
  if (a.kind == node_kind::constant && b.kind == node_kind::constant) {
    double x = op == '+' ? a.value + b.value : op == '-' ? a.value - b.value : op == '*' ? a.value * b.value : a.value / b.value;
    return constant(x, whole, nullptr);
  }
  node n;
  n.kind = op == '+' ? node_kind::add : op == '-' ? node_kind::sub : op == '*' ? node_kind::mul : node_kind::div;
  n.size = *size;
  n.inputs = {materialize(lhs, nullptr), materialize(rhs, nullptr)};
  n.learnable = a.learnable || b.learnable;
  n.range = op == '+' ? add(a.range, b.range) : op == '-' ? sub(a.range, b.range) : op == '*' ? mul(a.range, b.range) : div(a.range, b.range);
  // A unit vector times a positive [1] is not a unit vector; nothing keeps `unit`.
  n.where = whole;
  return make_value(add_node(std::move(n), nullptr), whole);
}

value checker::chain(const ast::chain& c, scope& s) {
  value acc = expr(c.first, s);
  for (const auto& op : c.rest) {
    value rhs = expr(op.operand, s);
    acc = arithmetic(op.op.op, std::move(acc), std::move(rhs), op.op.where);
    // Tag the node with the factor's side (arithmetic is side-agnostic).
    if (acc.node >= 0) model_.nodes[static_cast<std::size_t>(acc.node)].side = s.side;
  }
  acc.where = c.where;
  return acc;
}

checker::bound_args checker::bind(std::string_view callee, std::span<const param_spec> params, bool variadic,
                                  const ast::call& c) {
  bound_args b;
  b.slot.assign(params.size(), nullptr);
  bool named_seen = false;
  std::size_t position = 0;
  for (const auto& arg : c.args) {
    if (!arg.name) {
      if (named_seen) {
        error(diagnostic_kind::positional_after_named, arg.where,
              fmt::format("a positional argument cannot follow a named one in {}(...)", callee));
        b.ok = false;
        continue;
      }
      if (variadic) {
        b.extra.push_back(&arg);
        continue;
      }
      if (position >= params.size()) {
        error(diagnostic_kind::too_many_arguments, arg.where,
              params.empty() ? fmt::format("{} takes no arguments", callee)
                             : fmt::format("{} takes at most {} argument{}; this is argument {}", callee, params.size(),
                                           params.size() == 1 ? "" : "s", position + 1));
        b.ok = false;
        ++position;
        continue;
      }
      if (params[position].keyword_only) {
        std::string names;
        for (const auto& p : params) names += (names.empty() ? "" : " or ") + fmt::format("'{} = ...'", p.name);
        error(diagnostic_kind::missing_argument, arg.where,
              fmt::format("{} takes its parameter by name: {}", callee, names));
        b.ok = false;
        ++position;
        continue;
      }
      b.slot[position++] = &arg;
      continue;
    }
    named_seen = true;
    const std::string& nm = arg.name->name;
    auto it = std::find_if(params.begin(), params.end(), [&](const param_spec& p) { return p.name == nm; });
    if (it == params.end()) {
      std::vector<std::string> names;
      for (const auto& p : params) names.emplace_back(p.name);
      std::string list;
      for (const auto& p : params) list += (list.empty() ? "" : ", ") + std::string(p.name);
      error(diagnostic_kind::unknown_argument, arg.name->where,
            with_suggestion(params.empty() ? fmt::format("{} takes no arguments", callee)
                                           : fmt::format("{} has no argument '{}'; its arguments are {}", callee, nm, list),
                            suggest(nm, names)));
      b.ok = false;
      continue;
    }
    auto i = static_cast<std::size_t>(it - params.begin());
    if (b.slot[i]) {
      add_note(error(diagnostic_kind::duplicate_argument, arg.where,
                     fmt::format("argument '{}' of {} is given twice", nm, callee)),
               b.slot[i]->where, "first given here");
      b.ok = false;
      continue;
    }
    b.slot[i] = &arg;
  }
  return b;
}

std::optional<int> checker::size_argument(const value& v, std::string_view what) {
  if (v.is_error()) return std::nullopt;
  std::optional<facts> n;
  if (v.k == value::kind::number) n = facts_of(v);
  if (!n || n->kind != node_kind::constant || !is_integer_text(n->value) || n->value < 1 ||
      n->value > static_cast<double>(max_vector_size)) {
    error(diagnostic_kind::bad_size, v.where,
          n ? fmt::format("{} must be a whole number from 1 to {}, not {:g}", what, max_vector_size, n->value)
            : fmt::format("{} must be a whole number from 1 to {}", what, max_vector_size));
    return std::nullopt;
  }
  return static_cast<int>(n->value);
}

value checker::call(const ast::call& c, scope& s, bool allow_distribution) {
  const std::string& nm = c.callee.name;
  if (const auto* f = find_function(nm)) return function_call(*f, c, s);
  if (const auto* f = find_family(nm)) {
    if (!allow_distribution) {
      error(diagnostic_kind::misplaced_distribution, c.where,
            fmt::format("a distribution can only be the right side of '~', as in 'v ~ {}(...)'", nm));
      return error_value(c.where);
    }
    return distribution_call(*f, c, s);
  }
  if (s.locals.count(nm) || variable_index_.count(nm)) {
    error(diagnostic_kind::unknown_function, c.callee.where, fmt::format("'{}' is a value, not a function", nm));
    return error_value(c.where);
  }
  std::vector<std::string> fnames, dnames;
  for (const auto& f : functions()) fnames.emplace_back(f.name);
  for (const auto& f : families()) dnames.emplace_back(f.name);
  auto fs = suggest(nm, fnames);
  auto ds = suggest(nm, dnames);
  bool as_distribution;
  if (fs && ds) as_distribution = edit_distance(nm, *ds) < edit_distance(nm, *fs) || allow_distribution;
  else if (fs || ds) as_distribution = ds.has_value();
  else as_distribution = allow_distribution || (!nm.empty() && nm[0] >= 'A' && nm[0] <= 'Z');
  if (as_distribution)
    error(diagnostic_kind::unknown_distribution, c.callee.where,
          with_suggestion(fmt::format("unknown distribution '{}'", nm), ds));
  else
    error(diagnostic_kind::unknown_function, c.callee.where, with_suggestion(fmt::format("unknown function '{}'", nm), fs));
  return error_value(c.where);
}

value checker::function_call(const function_info& f, const ast::call& c, scope& s) {
  bound_args b = bind(f.name, f.params, f.variadic, c);
  if (!b.ok) return error_value(c.where);
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    if (f.params[i].required && !b.slot[i] && !(f.variadic && !b.extra.empty())) {
      error(diagnostic_kind::missing_argument, c.callee.where,
            fmt::format("{} is missing its argument '{}': {}", f.name, f.params[i].name, f.signature));
      return error_value(c.where);
    }
  }
  // Evaluate the arguments by kind.
  std::vector<value> args(f.params.size());
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    const param_spec& p = f.params[i];
    const ast::argument* a = b.slot[i];
    if (!a) continue;
    if (p.kind == arg_kind::function) {
      const auto* id = boost::get<ast::identifier>(&a->value);
      std::vector<std::string> acts;
      for (const auto& g : functions())
        if (g.activation) acts.emplace_back(g.name);
      std::string list;
      for (const auto& n : acts) list += (list.empty() ? "" : ", ") + n;
      if (!id) {
        error(diagnostic_kind::wrong_argument_kind, span_of(a->value),
              fmt::format("{} of {} must name a function: one of {}", p.name, f.name, list));
        return error_value(c.where);
      }
      const auto* g = find_function(id->name);
      if (!g) {
        error(diagnostic_kind::unknown_function, id->where,
              with_suggestion(fmt::format("unknown function '{}'", id->name), suggest(id->name, acts)));
        return error_value(c.where);
      }
      if (!g->activation) {
        error(diagnostic_kind::wrong_argument_kind, id->where,
              fmt::format("'{}' cannot be an activation; use one of {}", id->name, list));
        return error_value(c.where);
      }
      args[i].k = value::kind::function;
      args[i].function = g->id;
      args[i].where = id->where;
      continue;
    }
    args[i] = expr(a->value, s);
    if (args[i].is_error()) return error_value(c.where);
  }
  std::vector<value> extra;
  for (const auto* a : b.extra) {
    extra.push_back(expr(a->value, s));
    if (extra.back().is_error()) return error_value(c.where);
  }

  node n;
  n.kind = node_kind::call;
  n.function = f.id;
  n.where = c.where;
  n.side = s.side;

  auto vector_input = [&](const value& v, std::string_view what) -> std::optional<facts> {
    if (!expect_numeric(v, what)) return std::nullopt;
    facts in = facts_of(v);
    if (in.size == 0) {
      error(diagnostic_kind::wrong_argument_kind, v.where,
            fmt::format("{} must be a vector, not a number", what));
      return std::nullopt;
    }
    return in;
  };

  switch (f.id) {
    case function_id::linear: {
      auto in = vector_input(args[0], "the input of linear");
      auto out = size_argument(args[1], "the output size of linear");
      if (!in || !out) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = *out;
      n.out_size = *out;
      n.parameter_count = static_cast<std::int64_t>(in->size) * *out + *out;
      n.learnable = true;
      break;
    }
    case function_id::mlp: {
      auto in = vector_input(args[0], "the input of mlp");
      if (!in) return error_value(c.where);
      const value& sizes = args[1];
      if (sizes.k != value::kind::list) {
        error(diagnostic_kind::wrong_argument_kind, sizes.where,
              "the layer sizes of mlp must be a list such as [512, 256]");
        return error_value(c.where);
      }
      if (sizes.items.empty()) {
        error(diagnostic_kind::wrong_argument_kind, sizes.where, "mlp needs at least one layer size, such as [256]");
        return error_value(c.where);
      }
      std::int64_t width = in->size;
      for (const auto& item : sizes.items) {
        auto sz = size_argument(item, "a layer size of mlp");
        if (!sz) return error_value(c.where);
        n.layer_sizes.push_back(*sz);
        n.parameter_count += width * *sz + *sz;
        width = *sz;
      }
      n.activation = b.slot[2] ? args[2].function : function_id::relu;
      n.inputs = {materialize(args[0], &s)};
      n.size = n.layer_sizes.back();
      n.learnable = true;
      n.range = apply(n.activation, interval{}, info(n.activation).params.size() > 1 ? 0.01 : 0.0);
      break;
    }
    case function_id::param: {
      auto sz = size_argument(args[0], "the size of param");
      if (!sz) return error_value(c.where);
      double init = 0;
      if (b.slot[1]) {
        facts in = facts_of(args[1]);
        if (!args[1].numeric() || in.kind != node_kind::constant) {
          error(diagnostic_kind::wrong_argument_kind, args[1].where, "init of param must be a number");
          return error_value(c.where);
        }
        init = in.value;
      }
      n.size = *sz;
      n.out_size = *sz;
      n.value = init;
      n.parameter_count = *sz;
      n.learnable = true;
      break;
    }
    case function_id::normalize: {
      auto in = vector_input(args[0], "the input of normalize");
      if (!in) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = in->size;
      n.unit = true;
      n.learnable = in->learnable;
      n.range = {-1, 1, false};
      break;
    }
    case function_id::concat: {
      if (extra.empty()) {
        error(diagnostic_kind::missing_argument, c.callee.where, "concat needs at least one vector");
        return error_value(c.where);
      }
      std::int64_t total = 0;
      bool first = true;
      for (auto& v : extra) {
        auto in = vector_input(v, "an input of concat");
        if (!in) return error_value(c.where);
        n.inputs.push_back(materialize(v, &s));
        total += in->size;
        n.learnable = n.learnable || in->learnable;
        n.range = first ? in->range : interval{std::min(n.range.lo, in->range.lo), std::max(n.range.hi, in->range.hi),
                                               n.range.lo_strict && in->range.lo_strict};
        first = false;
      }
      if (total > max_vector_size) {
        error(diagnostic_kind::bad_size, c.where, fmt::format("concat makes a vector of size {}, more than {}", total, max_vector_size));
        return error_value(c.where);
      }
      n.size = static_cast<int>(total);
      break;
    }
    case function_id::sum:
    case function_id::norm: {
      auto in = vector_input(args[0], fmt::format("the input of {}", f.name));
      if (!in) return error_value(c.where);
      n.inputs = {materialize(args[0], &s)};
      n.size = 1;
      n.learnable = in->learnable;
      if (f.id == function_id::norm) n.range = in->unit ? exact(1) : interval{0, inf, false};
      else if (std::isfinite(in->range.lo)) n.range = {in->range.lo * in->size, in->range.hi * in->size, in->range.lo_strict};
      break;
    }
    default: {  // elementwise
      if (!expect_numeric(args[0], fmt::format("the input of {}", f.name))) return error_value(c.where);
      facts in = facts_of(args[0]);
      double slope = 0.01;
      if (f.id == function_id::leaky_relu && b.slot[1]) {
        facts sn = facts_of(args[1]);
        if (!args[1].numeric() || sn.kind != node_kind::constant) {
          error(diagnostic_kind::wrong_argument_kind, args[1].where, "slope of leaky_relu must be a number");
          return error_value(c.where);
        }
        slope = sn.value;
      }
      if (in.kind == node_kind::constant) {
        double x = apply(f.id, in.value, slope);
        if (!std::isfinite(x)) {
          error(diagnostic_kind::constraint_violation, c.where,
                fmt::format("{}({}) is not a finite number", f.name, in.value));
          return error_value(c.where);
        }
        return constant(x, c.where, &s);
      }
      n.inputs = {materialize(args[0], &s)};
      n.size = in.size;
      n.value = slope;
      n.learnable = in.learnable;
      n.range = apply(f.id, in.range, slope);
      break;
    }
  }
  return make_value(add_node(std::move(n), &s), c.where);
}

value checker::distribution_call(const family_info& f, const ast::call& c, scope& s) {
  bound_args b = bind(f.name, f.params, false, c);
  if (!b.ok) return error_value(c.where);
  value out;
  out.k = value::kind::distribution;
  out.where = c.where;
  out.dist.family = f.id;
  out.dist.where = c.where;
  out.dist.params.assign(f.params.size(), -1);
  out.param_spans.assign(f.params.size(), c.callee.where);
  if (f.exactly_one_param) {
    int given = 0;
    for (const auto* a : b.slot) given += a != nullptr;
    if (given != 1) {
      error(given == 0 ? diagnostic_kind::missing_argument : diagnostic_kind::duplicate_argument,
            given == 0 ? c.callee.where : c.where,
            fmt::format("{} takes exactly one of 'logits = ...' and 'probs = ...'", f.name));
      return error_value(c.where);
    }
  }
  bool ok = true;
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    const param_spec& p = f.params[i];
    const ast::argument* a = b.slot[i];
    if (!a) {
      if (p.required) {
        error(diagnostic_kind::missing_argument, c.callee.where,
              fmt::format("{} is missing its parameter '{}': {}", f.name, p.name, f.signature));
        return error_value(c.where);
      }
      if (!f.exactly_one_param) {
        value d = constant(p.default_value, c.callee.where, &s);
        out.dist.params[i] = materialize(d, &s);
      }
      continue;
    }
    value v = expr(a->value, s);
    if (v.is_error() || !expect_numeric(v, fmt::format("{} of {}", p.name, f.name))) {
      ok = false;
      continue;
    }
    out.dist.params[i] = materialize(v, &s);
    out.param_spans[i] = span_of(a->value);
  }
  if (!ok) return error_value(c.where);
  return out;
}

std::string families_for(type_kind kind) {
  std::string out;
  for (const auto& f : families())
    if (f.support == kind) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

std::string_view support_text(type_kind kind) {
  switch (kind) {
    case type_kind::real: return "real vectors (real[n])";
    case type_kind::binary: return "values in [0, 1] (binary[n])";
    case type_kind::sphere: return "unit vectors (sphere[n])";
  }
  return "";
}

void checker::check_sample(const distribution_use& d, const std::vector<span>& spans, const variable& v, span where) {
  const family_info& f = info(d.family);
  // Support: the family's values must be the variable's. Grey-level data in [0, 1]
  // may take a real-valued likelihood (binary ⊂ real).
  bool fits = f.support == v.type.kind || (v.is_data && v.type.kind == type_kind::binary && f.support == type_kind::real);
  if (!fits) {
    error(diagnostic_kind::support_mismatch, where,
          fmt::format("{} is a distribution over {}, but '{}' is {}; for {} use {}", f.name, support_text(f.support),
                      v.name, to_string(v.type), fmt::format("{}[n]", to_string(v.type.kind)), families_for(v.type.kind)));
    return;
  }
  if (f.likelihood_only && !v.is_data) {
    error(diagnostic_kind::support_mismatch, where, fmt::format("{} is a likelihood for the data, not a distribution for the latent '{}'", f.name, v.name));
    return;
  }
  const int n = v.type.size;
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    int index = d.params[i];
    if (index < 0) continue;
    const node& p = model_.nodes[static_cast<std::size_t>(index)];
    std::string_view pname = f.params[i].name;
    span at = spans[i];
    std::string what = fmt::format("{} of {}", pname, f.name);
    bool mean = pname == "mean";
    bool concentration = pname == "concentration";
    if (mean) {
      if (p.size != n) {
        error(diagnostic_kind::size_mismatch, at,
              fmt::format("{} has {}, but '{}' is {}: it must have size [{}]", what, describe_size(p.size), v.name,
                          to_string(v.type), n));
        continue;
      }
      if (!p.unit) {
        error(diagnostic_kind::not_unit_vector, at,
              fmt::format("{} must be a unit vector; wrap it: normalize(...)", what));
      }
      continue;
    }
    if (concentration) {
      if (p.size > 1) {
        error(diagnostic_kind::size_mismatch, at,
              fmt::format("{} must be a single number (size [1]), not size [{}]; e.g. softplus(linear(h, 1)) + 1",
                          what, p.size));
        continue;
      }
    } else if (p.size != 0 && p.size != 1 && p.size != n) {
      error(diagnostic_kind::size_mismatch, at,
            fmt::format("{} has size [{}], but '{}' is {}: it must have size [{}], or [1] to broadcast", what, p.size,
                        v.name, to_string(v.type), n));
      continue;
    }
    // Ranges.
    bool needs_positive = pname == "scale" || pname == "df" || concentration;
    if (needs_positive && !p.range.positive()) {
      if (p.kind == node_kind::constant)
        error(diagnostic_kind::constraint_violation, at, fmt::format("{} must be positive, not {}", what, p.value));
      else
        error(diagnostic_kind::constraint_violation, at,
              fmt::format("{} must be positive, but this {}; make it positive, e.g. softplus(...) + 1e-4", what,
                          describe(p.range)));
    }
    if (pname == "probs" && (p.range.lo < 0 || p.range.hi > 1)) {
      error(diagnostic_kind::constraint_violation, at,
            fmt::format("{} must lie in [0, 1]; use sigmoid(...), or give 'logits = ...' instead", what));
    } else if (pname == "probs" && f.name == std::string_view("Bernoulli") && !is_sigmoid_form(p, model_.nodes)) {
      // sigmoid(h) and 1 − sigmoid(h) are lowered as logits ±h, exactly; anything else is
      // evaluated from the probability itself.
      diags_.warning(diagnostic_kind::probs_clamped, at,
                     fmt::format("{} is evaluated as x·log(probs) + (1 − x)·log(1 − probs): exact where probs is "
                                 "representable, but where probs rounds to 0 or 1 its log is clamped (at −103.28, the log of "
                                 "the smallest positive float); "
                                 "give 'logits = ...' (or probs = sigmoid(...), read as its logits) for a "
                                 "likelihood exact at every logit",
                                 what));
    }
  }
}

// ---- factors ------------------------------------------------------------------------

void checker::check_factor(const ast::factor& f) {
  if (stopped_) return;
  auto vit = variable_index_.find(f.variable.name);
  if (vit == variable_index_.end()) return;
  scope s;
  s.side = f.side;
  s.variable = vit->second;
  s.header_text = header_text(f);
  checked_factor cf;
  cf.side = f.side;
  cf.variable = s.variable;
  cf.header = f.header;
  cf.first_node = static_cast<int>(model_.nodes.size());
  for (const auto& g : f.given) {
    auto it = variable_index_.find(g.name);
    if (it == variable_index_.end()) {
      s.given_unknown.insert(g.name);
      s.header_incomplete = true;
    }
    else if (it->second != s.variable) {
      if (!s.given.count(it->second)) cf.given.push_back(it->second);
      s.given.insert(it->second);
    } else {
      s.header_incomplete = true;
    }
  }
  const variable& var = model_.variables[static_cast<std::size_t>(s.variable)];
  bool sampled = false;
  bool ok = true;
  for (std::size_t i = 0; i < f.body.size(); ++i) {
    const ast::statement& st = f.body[i];
    if (sampled) {
      error(diagnostic_kind::sample_not_last, st.where,
            fmt::format("nothing may follow '{} ~ ...': the sample is the block's last statement", var.name));
      ok = false;
      break;
    }
    const std::string& target = st.target.name;
    if (st.op == '=') {
      if (variable_index_.count(target)) {
        error(diagnostic_kind::assign_to_variable, st.target.where,
              fmt::format("'{}' is a model variable; it cannot be assigned (pick another name)", target));
        ok = false;
        s.locals[target] = error_value(st.target.where);
        continue;
      }
      if (is_builtin(target)) {
        error(diagnostic_kind::rebind_builtin, st.target.where,
              fmt::format("'{}' is a builtin {} and cannot be rebound", target,
                          find_function(target) ? "function" : "distribution"));
        ok = false;
        s.locals[target] = error_value(st.target.where);  // later uses say nothing more
        continue;
      }
      value v = expr(st.value, s);
      if (v.k == value::kind::function) {
        error(diagnostic_kind::misplaced_function, st.value.get().type() == typeid(ast::identifier) ? span_of(st.value) : v.where,
              "a function cannot be bound to a name");
        v = error_value(v.where);
      }
      if (v.is_error()) ok = false;
      s.locals[target] = std::move(v);
      continue;
    }
    // st.op == '~'
    if (target != var.name) {
      error(diagnostic_kind::sample_wrong_variable, st.target.where,
            fmt::format("{} defines '{}', so its sample must be '{} ~ ...', not '{} ~ ...'", s.header_text, var.name,
                        var.name, target));
      ok = false;
      break;
    }
    sampled = true;
    value d = expr(st.value, s, true);
    if (d.is_error()) {
      ok = false;
      continue;
    }
    if (d.k != value::kind::distribution) {
      error(diagnostic_kind::not_a_distribution, span_of(st.value),
            fmt::format("the right side of '~' must be a distribution, such as {}",
                        var.type.kind == type_kind::sphere ? "VonMisesFisher(...)"
                        : var.is_data                      ? "Bernoulli(logits = ...)"
                                                           : "Normal(...)"));
      ok = false;
      continue;
    }
    if (var.type.size > 0) check_sample(d.dist, d.param_spans, var, span_of(st.value));
    cf.dist = d.dist;
  }
  if (!sampled && ok) {
    error(diagnostic_kind::missing_sample, f.header,
          fmt::format("the block of {} must end with '{} ~ DISTRIBUTION'", s.header_text, var.name));
  }
  cf.end_node = static_cast<int>(model_.nodes.size());
  for (int i = cf.first_node; i < cf.end_node; ++i) {
    model_.nodes[static_cast<std::size_t>(i)].side = f.side;
    cf.parameter_count += model_.nodes[static_cast<std::size_t>(i)].parameter_count;
  }
  model_.factors.push_back(std::move(cf));
}

// ---- train --------------------------------------------------------------------------

void checker::check_train(const std::vector<const ast::train_block*>& blocks) {
  static const std::vector<std::string> keys = {"epochs", "batch", "optimizer", "samples", "objective",
                                                "kl", "beta", "kl_warmup", "kl_cycle", "free_bits", "binarize",
                                                "eval_samples", "seed", "early_stopping"};
  train_settings& t = model_.settings;
  std::unordered_map<std::string, const ast::train_entry*> seen;

  // A constant number from a literal or a negated literal.
  auto number_of = [&](const ast::expr& e) -> std::optional<double> {
    if (const auto* n = boost::get<ast::number>(&e)) return number_value(*n);
    if (const auto* neg = boost::get<x3::forward_ast<ast::negate>>(&e)) {
      if (const auto* n = boost::get<ast::number>(&neg->get().operand)) {
        auto v = number_value(*n);
        if (v) return neg->get().count % 2 ? -*v : *v;
      }
    }
    return std::nullopt;
  };
  auto whole = [&](const ast::train_entry& e, double lo, double hi, std::string_view example) -> std::optional<double> {
    auto v = number_of(e.value);
    if (!v || !is_integer_text(*v) || *v < lo || *v > hi) {
      error(diagnostic_kind::bad_train_value, span_of(e.value),
            fmt::format("{} must be a whole number {}, such as {}", e.key.name,
                        lo == 0 ? "from 0 up" : "from 1 up", example));
      return std::nullopt;
    }
    return v;
  };
  auto real = [&](const ast::train_entry& e, std::string_view example) -> std::optional<double> {
    auto v = number_of(e.value);
    if (!v || *v < 0) {
      error(diagnostic_kind::bad_train_value, span_of(e.value),
            fmt::format("{} must be a number >= 0, such as {}", e.key.name, example));
      return std::nullopt;
    }
    return v;
  };
  auto word = [&](const ast::train_entry& e, std::vector<std::string> choices) -> std::optional<std::string> {
    const auto* id = boost::get<ast::identifier>(&e.value);
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    if (!id) {
      error(diagnostic_kind::bad_train_value, span_of(e.value), fmt::format("{} must be one of {}", e.key.name, list));
      return std::nullopt;
    }
    if (std::find(choices.begin(), choices.end(), id->name) == choices.end()) {
      error(diagnostic_kind::bad_train_value, id->where,
            with_suggestion(fmt::format("{} must be one of {}, not '{}'", e.key.name, list, id->name),
                            suggest(id->name, choices)));
      return std::nullopt;
    }
    return id->name;
  };

  constexpr double max_count = 1e9;
  for (const auto* block : blocks) {
    for (const auto& e : block->entries) {
      const std::string& k = e.key.name;
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        error(diagnostic_kind::unknown_train_key, e.key.where,
              with_suggestion(fmt::format("unknown training setting '{}'", k), suggest(k, keys)));
        continue;
      }
      if (auto it = seen.find(k); it != seen.end()) {
        add_note(error(diagnostic_kind::duplicate_train_key, e.key.where, fmt::format("'{}' is set twice", k)),
                 it->second->key.where, "first set here");
        continue;
      }
      seen[k] = &e;
      if (k == "epochs") { if (auto v = whole(e, 1, max_count, "50")) t.epochs = static_cast<int>(*v); }
      else if (k == "batch") { if (auto v = whole(e, 1, max_count, "128")) t.batch = static_cast<int>(*v); }
      else if (k == "samples") { if (auto v = whole(e, 1, max_count, "1")) t.samples = static_cast<int>(*v); }
      else if (k == "eval_samples") { if (auto v = whole(e, 1, max_count, "500")) t.eval_samples = static_cast<int>(*v); }
      else if (k == "early_stopping") { if (auto v = whole(e, 0, max_count, "5")) t.early_stopping = static_cast<int>(*v); }
      else if (k == "seed") { if (auto v = whole(e, 0, 9007199254740992.0, "1")) t.seed = static_cast<std::uint64_t>(*v); }
      else if (k == "beta") { if (auto v = real(e, "1")) t.beta = *v; }
      else if (k == "kl_warmup") { if (auto v = real(e, "10")) t.kl_warmup = *v; }
      else if (k == "kl_cycle") { if (auto v = whole(e, 0, max_count, "10")) t.kl_cycle = static_cast<int>(*v); }
      else if (k == "free_bits") { if (auto v = real(e, "0.5")) t.free_bits = *v; }
      else if (k == "objective") { if (auto w = word(e, {"elbo", "iwae"})) t.objective = *w == "elbo" ? objective_kind::elbo : objective_kind::iwae; }
      else if (k == "kl") { if (auto w = word(e, {"best", "mc"})) t.kl = *w == "best" ? kl_choice::best : kl_choice::mc; }
      else if (k == "binarize") {
        if (auto w = word(e, {"none", "dynamic", "static"}))
          t.binarize = *w == "none" ? binarize_mode::none : *w == "dynamic" ? binarize_mode::dynamic : binarize_mode::fixed;
      } else if (k == "optimizer") {
        const auto* fc = boost::get<x3::forward_ast<ast::call>>(&e.value);
        if (!fc) {
          error(diagnostic_kind::bad_train_value, span_of(e.value),
                "optimizer must be a call such as adam(lr = 1e-3)");
          continue;
        }
        const ast::call& c = fc->get();
        if (c.callee.name != "adam") {
          error(diagnostic_kind::bad_train_value, c.callee.where,
                with_suggestion(fmt::format("unknown optimizer '{}'; vaec has adam(lr, beta1, beta2, eps)", c.callee.name),
                                suggest(c.callee.name, std::vector<std::string>{"adam"})));
          continue;
        }
        static const std::vector<param_spec> adam = {{"lr", arg_kind::number, false}, {"beta1", arg_kind::number, false},
                                                     {"beta2", arg_kind::number, false}, {"eps", arg_kind::number, false}};
        bound_args b = bind("adam", adam, false, c);
        if (!b.ok) continue;
        double* fields[] = {&t.lr, &t.beta1, &t.beta2, &t.eps};
        for (std::size_t i = 0; i < adam.size(); ++i) {
          if (!b.slot[i]) continue;
          auto v = number_of(b.slot[i]->value);
          bool is_beta = i == 1 || i == 2;
          if (!v || (is_beta ? (*v < 0 || *v >= 1) : *v <= 0)) {
            error(diagnostic_kind::bad_train_value, span_of(b.slot[i]->value),
                  is_beta ? fmt::format("{} of adam must be a number in [0, 1)", adam[i].name)
                          : fmt::format("{} of adam must be a positive number", adam[i].name));
            continue;
          }
          *fields[i] = *v;
        }
      }
    }
  }
  // Cyclical annealing ramps β over the first kl_warmup epochs of every cycle.
  if (auto it = seen.find("kl_cycle"); it != seen.end() && t.kl_cycle > 0) {
    if (t.kl_warmup <= 0)
      error(diagnostic_kind::bad_train_value, span_of(it->second->value),
            fmt::format("kl_cycle = {} needs kl_warmup > 0: β ramps from 0 to beta over the first kl_warmup epochs "
                        "of every cycle (e.g. kl_warmup = {})",
                        t.kl_cycle, std::max(1, t.kl_cycle / 2)));
    else if (t.kl_warmup > t.kl_cycle)
      error(diagnostic_kind::bad_train_value, span_of(it->second->value),
            fmt::format("kl_cycle = {} is shorter than kl_warmup = {}: β would restart before reaching beta; make "
                        "kl_warmup at most the cycle's length",
                        t.kl_cycle, fmt::format("{:g}", t.kl_warmup)));
  }
}

// ---- the objective ------------------------------------------------------------------

void checker::plan() {
  auto index_of = [&](char side, int v) {
    for (std::size_t i = 0; i < model_.factors.size(); ++i)
      if (model_.factors[i].side == side && model_.factors[i].variable == v) return static_cast<int>(i);
    return -1;
  };
  // check_factor ran in exactly that order already; factors are in place.
  const std::size_t n = model_.variables.size();
  // q-descendants: latents sampled (in q) after, and depending on, each latent.
  std::vector<std::vector<int>> q_out(n);
  for (const auto& f : model_.factors)
    if (f.side == 'q')
      for (int g : f.given) q_out[static_cast<std::size_t>(g)].push_back(f.variable);

  for (std::size_t v = 1; v < n; ++v) {
    latent_plan lp;
    lp.variable = static_cast<int>(v);
    lp.p_factor = index_of('p', static_cast<int>(v));
    lp.q_factor = index_of('q', static_cast<int>(v));
    const checked_factor& pf = model_.factors[static_cast<std::size_t>(lp.p_factor)];
    const checked_factor& qf = model_.factors[static_cast<std::size_t>(lp.q_factor)];
    const family_info& qi = info(qf.dist.family);
    const family_info& pi = info(pf.dist.family);

    std::vector<bool> desc(n, false);
    std::deque<int> todo{static_cast<int>(v)};
    while (!todo.empty()) {
      int u = todo.front();
      todo.pop_front();
      for (int w : q_out[static_cast<std::size_t>(u)])
        if (!desc[static_cast<std::size_t>(w)]) {
          desc[static_cast<std::size_t>(w)] = true;
          todo.push_back(w);
        }
    }
    std::string late_parent;
    for (int g : pf.given)
      if (desc[static_cast<std::size_t>(g)]) late_parent = model_.variables[static_cast<std::size_t>(g)].name;
    lp.kl_is_analytic = late_parent.empty();

    const auto* pair = find_closed_form_kl(qf.dist.family, pf.dist.family);
    bool pair_ok = pair != nullptr;
    if (pair && pair->condition == kl_condition::df_above_2) {
      int df = qf.dist.params[0];
      pair_ok = df >= 0 && model_.nodes[static_cast<std::size_t>(df)].range.above(2);
    }
    const std::string& name = model_.variables[v].name;
    if (model_.settings.objective == objective_kind::iwae) {
      lp.method = kl_method::not_used;
      lp.method_reason = "the IWAE objective weighs log p(x, z) − log q(z | x) per sample";
    } else if (model_.settings.kl == kl_choice::mc) {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = "forced by kl = mc";
    } else if (!lp.kl_is_analytic) {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = fmt::format("its prior depends on '{}', which q samples after '{}'", late_parent, name);
    } else if (pair_ok) {
      lp.method = kl_method::closed_form;
    } else if (qi.closed_form_entropy) {
      lp.method = kl_method::entropy_plus_mc;
      lp.method_reason = pair ? "df is not provably above 2, so the closed form may not exist (it is +infinity "
                                "where df ≤ 2)"
                              : fmt::format("no closed form for {} ‖ {}", qi.name, pi.name);
    } else {
      lp.method = kl_method::monte_carlo;
      lp.method_reason = fmt::format("no closed form for {} ‖ {}, nor for the entropy of {}", qi.name, pi.name, qi.name);
    }

    switch (qf.dist.family) {
      case family_id::normal: lp.gradient = "reparameterized: loc + scale·ε, ε ~ N(0, I)"; break;
      case family_id::student_t: {
        int df = qf.dist.params[0];
        bool learnable = df >= 0 && model_.nodes[static_cast<std::size_t>(df)].learnable;
        lp.gradient = learnable ? "reparameterized: loc + scale·ε / √(g / df), g ~ χ²(df), with the implicit "
                                  "reparameterization gradient of the χ² draw for df"
                                : "reparameterized: loc + scale·ε / √(g / df), g ~ χ²(df), df fixed";
        break;
      }
      case family_id::von_mises_fisher:
        lp.gradient = model_.variables[v].type.size == 3
                          ? "pathwise gradient through the exact inverse-CDF sampler (n = 3) and a Householder reflection"
                          : "pathwise gradient through Wood's rejection sampler, with the rejection correction";
        break;
      case family_id::power_spherical:
        lp.gradient = "pathwise gradient through the exact Beta sampler, with implicit reparameterization of the Beta draw";
        break;
      case family_id::hyperspherical_uniform: lp.gradient = "no variational parameters"; break;
      default: lp.gradient = "not reparameterizable"; break;
    }
    // KL(StudentT(ν) ‖ Normal) = +∞ for ν ≤ 2: q's second moment is infinite and −log p
    // grows as z². The ELBO is then −∞ whatever the estimator (Monte Carlo only hides it).
    // The IWAE bound with K samples stays finite, so only the ELBO is concerned.
    if (qf.dist.family == family_id::student_t && pf.dist.family == family_id::normal &&
        model_.settings.objective == objective_kind::elbo && qf.dist.params[0] >= 0) {
      const node& df = model_.nodes[static_cast<std::size_t>(qf.dist.params[0])];
      if (df.range.hi <= 2) {
        error(diagnostic_kind::infinite_kl, df.where,
              fmt::format("KL(StudentT ‖ Normal) of '{}' is +infinity: df {}, and a Student-t with df ≤ 2 has an "
                          "infinite second moment that a Normal prior's log-density (−z²/2) turns into an "
                          "infinite KL, so the ELBO is −infinity for every q; use df = 2 + softplus(...), or a "
                          "StudentT prior",
                          name, df.range.lo == df.range.hi ? fmt::format("is {}", df.range.lo)
                                                           : fmt::format("is at most {}", df.range.hi)));
      } else if (!df.range.above(2)) {
        diags_.warning(diagnostic_kind::kl_may_be_infinite, df.where,
                       fmt::format("KL(StudentT ‖ Normal) of '{}' is +infinity wherever df ≤ 2, and this df {}: "
                                   "training stops the first time it gets there; to rule it out use "
                                   "df = 2 + softplus(...), or a StudentT prior",
                                   name, describe(df.range)));
      }
    }
    model_.latents.push_back(std::move(lp));
  }

  // A likelihood whose parameters use no latent: every sample of z gives the same
  // log p(x | ·), so the latents cannot explain anything and their KL terms will only
  // shrink to 0 (the objectives are still right; the model is probably not what was meant).
  for (const auto& f : model_.factors) {
    if (f.side != 'p' || f.variable != model_.data) continue;
    std::vector<char> uses(model_.nodes.size(), 0);
    bool any = false;
    for (int i = f.first_node; i < f.end_node; ++i) {
      const node& nd = model_.nodes[static_cast<std::size_t>(i)];
      char u = nd.kind == node_kind::variable && nd.variable != model_.data;
      for (int in : nd.inputs) u = u || uses[static_cast<std::size_t>(in)];
      uses[static_cast<std::size_t>(i)] = u;
    }
    for (int p : f.dist.params)
      if (p >= 0 && uses[static_cast<std::size_t>(p)]) any = true;
    if (any) continue;
    std::string header = "p(" + model_.variables[static_cast<std::size_t>(f.variable)].name, latents;
    for (std::size_t k = 0; k < f.given.size(); ++k)
      header += (k == 0 ? " | " : ", ") + model_.variables[static_cast<std::size_t>(f.given[k])].name;
    header += ")";
    for (std::size_t v = 0; v < model_.variables.size(); ++v)
      if (!model_.variables[v].is_data) latents += (latents.empty() ? "'" : ", '") + model_.variables[v].name + "'";
    diags_.warning(diagnostic_kind::likelihood_ignores_latents, f.dist.where,
                   fmt::format("the likelihood {} depends on no latent: its parameters are the same whatever {} "
                               "{}, so the latents cannot explain the data",
                               header, latents, latents.find(',') == std::string::npos ? "is" : "are"));
  }
}

std::optional<checked_model> checker::run(const ast::model& m) {
  declare(m);
  if (diags_.has_errors()) return std::nullopt;
  plan();
  if (diags_.has_errors()) return std::nullopt;  // plan() reports infinite KL terms
  return std::move(model_);
}

}  // namespace

std::optional<checked_model> check(const ast::model& model, diagnostics& diags, std::string default_name) {
  checker c(diags, std::move(default_name));
  return c.run(model);
}

}  // namespace vaec
