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
void shift(vaec::span& s, std::uint32_t by) {
  s.begin += by;
  s.end += by;
}

struct shift_visitor {
  using result_type = void;
  std::uint32_t by;
  void operator()(number& n) const { shift(n.where, by); }
  void operator()(identifier& n) const { shift(n.where, by); }
  void operator()(string_literal& n) const { shift(n.where, by); }
  void operator()(x3::forward_ast<call>& f) const {
    call& c = f.get();
    shift(c.where, by);
    shift(c.callee.where, by);
    for (auto& a : c.args) {
      shift(a.where, by);
      if (a.name) shift(a.name->where, by);
      shift_spans(a.value, by);
    }
  }
  void operator()(x3::forward_ast<list>& f) const {
    shift(f.get().where, by);
    for (auto& e : f.get().items) shift_spans(e, by);
  }
  void operator()(x3::forward_ast<negate>& f) const {
    shift(f.get().where, by);
    shift_spans(f.get().operand, by);
  }
  void operator()(x3::forward_ast<chain>& f) const {
    chain& c = f.get();
    shift(c.where, by);
    shift_spans(c.first, by);
    for (auto& o : c.rest) {
      shift(o.op.where, by);
      shift_spans(o.operand, by);
    }
  }
};
}  // namespace

void shift_spans(expr& e, std::uint32_t by) { boost::apply_visitor(shift_visitor{by}, e); }

void shift_spans(train_entry& e, std::uint32_t by) {
  shift(e.where, by);
  shift(e.key.where, by);
  shift_spans(e.value, by);
}

void set_span(expr& e, vaec::span where) { boost::apply_visitor(set_span_visitor{where}, e); }

vaec::span span_of(const expr& e) { return boost::apply_visitor(span_visitor{}, e); }
vaec::span span_of(const declaration& d) { return boost::apply_visitor(span_visitor{}, d); }

}  // namespace vaec::ast
