// Leaves and the affine layer.
#pragma once

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// The data: the trainer writes the batch into the value; nothing flows back.
struct op_input {
  template <class T> static void forward(exec<T>&, int) {}
  template <class T> static void backward(exec<T>&, int) {}
};

// A number: filled when the plan is built.
struct op_constant {
  template <class T> static void forward(exec<T>&, int) {}
  template <class T> static void backward(exec<T>&, int) {}
};

// A free parameter vector: its value and gradient are views into the parameter store,
// so consumers write its gradient directly.
struct op_param {
  template <class T> static void forward(exec<T>&, int) {}
  template <class T> static void backward(exec<T>&, int) {}
};

// y = W·x + b.    dW = dy·xᵀ,  db = Σ_columns dy,  dx = Wᵀ·dy
// The three products are the plan's (ex.linear), with β = 0 for a gradient's first writer.
struct op_linear {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const tensor<T>& w = ex.pval[static_cast<std::size_t>(nd.params[0])];
    const tensor<T>& b = ex.pval[static_cast<std::size_t>(nd.params[1])];
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    ex.linear[static_cast<std::size_t>(self)].forward.run(w, ex.in(self, 0), y, b.data);  // + b in the product
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const node& nd = ex.n(self);
    const auto wi = static_cast<std::size_t>(nd.params[0]), bi = static_cast<std::size_t>(nd.params[1]);
    const tensor<T>& dy = ex.grad[static_cast<std::size_t>(self)];
    const auto& first = ex.pfirst[static_cast<std::size_t>(self)];
    const auto& products = ex.linear[static_cast<std::size_t>(self)];
    products.weight_grad.run(dy, ex.in(self, 0), ex.pgrad[wi]);  // β = 0 when first[0]: set at plan time
    sum_columns(dy.data, dy.rows, dy.cols, ex.pgrad[bi].data, first[1]);
    if (ex.wants(self, 0))
      products.input_grad.run(ex.pval[wi], dy, ex.grad[static_cast<std::size_t>(nd.inputs[0])]);
  }
};

}  // namespace vaec::rt
