#include "lang/ast.hpp"

namespace vaec::ast {

namespace {
struct span_visitor {
  using result_type = vaec::span;
  template <typename Node>
  vaec::span operator()(const Node& n) const { return n.where; }
  template <typename Node>
  vaec::span operator()(const x3::forward_ast<Node>& n) const { return n.get().where; }
};
struct set_span_visitor {
  using result_type = void;
  vaec::span where;
  template <typename Node>
  void operator()(Node& n) const { n.where = where; }
  template <typename Node>
  void operator()(x3::forward_ast<Node>& n) const { n.get().where = where; }
};
}  // namespace

void set_span(expr& e, vaec::span where) { boost::apply_visitor(set_span_visitor{where}, e); }

vaec::span span_of(const expr& e) { return boost::apply_visitor(span_visitor{}, e); }
vaec::span span_of(const declaration& d) { return boost::apply_visitor(span_visitor{}, d); }

}  // namespace vaec::ast
