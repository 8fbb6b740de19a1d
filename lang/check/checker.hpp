// The checker that the passes of lang/check/ share: its state, the values expressions
// evaluate to, a factor's scope, and the helpers more than one pass uses. Private to
// lang/check.cpp and lang/check/*.cpp; everything else uses lang/check.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lang/check.hpp"

namespace vaec::check_impl {

namespace x3 = boost::spirit::x3;

// The checker stops reporting after this many errors.
constexpr std::size_t max_check_errors = 50;
// Suggestions are searched among at most this many candidates.
constexpr std::size_t max_suggestion_candidates = 2000;

constexpr double inf = std::numeric_limits<double>::infinity();

// Whether e is written as a number, possibly negated (constants.cpp): a caller whose
// literal_number came back empty for it adds no second message (the number is too large,
// and that was reported).
bool is_number_literal(const ast::expr& e);
inline bool is_integer_text(double v) { return std::floor(v) == v && std::fabs(v) <= 9007199254740992.0; }

// ---- values during checking ---------------------------------------------------------

struct value {
  enum class kind { error, number, vector, list, function, distribution, text } k = kind::error;
  int node = -1;                   // number or vector; -1 for a number not yet a node
  double number = 0;               // a number's value while it has no node
  std::vector<value> items;        // list
  function_id function{};          // function reference
  distribution_use dist;           // distribution
  std::vector<span> param_spans;   // distribution: the span of each parameter's argument
  std::vector<int> constants;      // a folded number: the model's constants it came from (for messages)
  std::string text;                // text: a string literal's value (a path)
  span where;

  bool is_error() const { return k == kind::error; }
  bool numeric() const { return k == kind::number || k == kind::vector; }
};

inline value error_value(span where) {
  value v;
  v.where = where;
  return v;
}

// The scope of one factor's block.
struct scope {
  char side = 'p';
  std::vector<int> samples;                // the block's variables, in the header's order
  std::size_t sampled = 0;                 // how many of them the statements so far sampled
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

  std::optional<checked_model> run(const ast::model& m, const std::vector<ast::train_entry>& settings);

 private:
  diagnostics& diags_;
  checked_model model_;
  std::size_t errors_ = 0;
  bool stopped_ = false;

  std::unordered_map<std::string, int> variable_index_;
  std::unordered_map<std::string, int> constant_index_;      // name → index into model_.constants
  std::unordered_set<std::string> bad_constants_;            // declared with a reported error: uses say nothing more
  std::vector<const ast::train_entry*> train_settings_;       // --set of train keys, for check_train
  std::vector<const ast::factor*> p_of_, q_of_;  // per variable: its factor (first one)
  // Per variable, the variables its p (q) factor conditions on: declared, not itself,
  // and for p not the data (each of those was reported in the header).
  std::vector<std::vector<int>> p_inputs_, q_inputs_;
  // False once a factor header had an error: the factor graph is then incomplete, and
  // what depends on all of it (missing factors, reachability) would only cascade.
  bool headers_ok_ = true;
  // A p block samples several variables: whether each latent generates the data is checked
  // again once the blocks show which of their variables each sample uses.
  bool joint_p_ = false;

  // -- reporting
  diagnostic* error(diagnostic_kind kind, span where, std::string message);

  // -- declarations
  // constants.cpp: the model's constants and the command line's settings.
  void declare_constants(const ast::model& m, const std::vector<ast::train_entry>& settings);
  // A number written as a literal or a negated literal; nullopt otherwise (and after a
  // reported out-of-range literal).
  std::optional<double> literal_number(const ast::expr& e);
  // The value of a size written as integer arithmetic of numbers and constants, and the
  // constants it used (indices into model_.constants); nullopt after a reported error.
  struct size_value {
    double value = 0;
    std::vector<int> constants;
  };
  std::optional<size_value> size_expr(const ast::expr& e);
  // "d = -1, set on the command line; h = 3, line 2": the constants of `used`.
  std::string constants_text(const std::vector<int>& used) const;

  void declare(const ast::model& m, const std::vector<ast::train_entry>& settings);
  std::optional<var_type> check_type(const ast::type_ref& t, bool latent, const std::string& name);
  std::optional<double> number_value(const ast::number& n);
  void check_headers(const std::vector<const ast::factor*>& factors);
  std::vector<int> order(char side);
  void check_structure();
  // Reports each latent that is no ancestor of the data along `p_inputs` (per variable, the
  // variables its p factor conditions on).
  void check_generates_data(const std::vector<std::vector<int>>& p_inputs);
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
  // `side`: 'p' or 'q', the factor the sample is in.
  void check_sample(const distribution_use& d, const std::vector<span>& spans, const variable& v, span where, char side);
  void warn_overflowing_draws(const interval& df, const variable& v, span at, char side);

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
  // A whole number from 1 to `max` written as a number, a constant or integer arithmetic of
  // them; nullopt after reporting bad_size at v's span. `fix`, when given, ends the message
  // ("; e.g. components = 10").
  // Whether a VampPrior p(z) may pass pseudo-inputs through q(z | ·); reports why not.
  bool vamp_prior_fits(const checked_factor& pf, const checked_factor& qf);
  std::optional<int> size_argument(const value& v, std::string_view what, std::int64_t max = max_vector_size,
                                   std::string_view fix = {});
  bool expect_numeric(const value& v, std::string_view what);

  std::vector<std::string> visible_names(const scope& s) const;
};

// ---- helpers more than one pass uses ----------------------------------------------------

// The keys of `train { }`, in the order DESIGN lists them.  // constants.cpp
const std::vector<std::string>& train_keys();
// adam's arguments, which `--set` (and so `compare --grid`) also takes on their own: lr,
// beta1, beta2, eps — each overrides that argument of the model's optimizer.
const std::vector<std::string>& adam_argument_keys();
// A number as a message shows it: the shortest text that reads back to the same double.  // constants.cpp
std::string format_number(double v);

// Adds a note to `d`; nothing when `d` is null (the error was not reported).
void add_note(diagnostic* d, span where, std::string message);  // checker.cpp
// `message`, followed by " (did you mean 'X'?)" when there is a suggestion.
std::string with_suggestion(std::string message, const std::optional<std::string>& s);  // checker.cpp
// suggest() among the first max_suggestion_candidates candidates.
std::optional<std::string> suggest_capped(std::string_view written, const std::vector<std::string>& candidates);  // checker.cpp
// A factor's header as written: "p(x | z)".
std::string header_text(const ast::factor& f);  // names.cpp
// "a number" or "size [n]".
std::string describe_size(int size);  // expressions.cpp

}  // namespace vaec::check_impl
