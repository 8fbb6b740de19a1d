// Elementwise functions and arithmetic with broadcasting. Each forward sits next to its
// derivative.
#pragma once

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// A unary op from its value function f(x) and its derivative df(x, y) (y = f(x)).
#define VAEC_UNARY_OP(NAME, VALUE, DERIVATIVE)                                          \
  struct NAME {                                                                         \
    template <class T>                                                                  \
    static void forward(exec<T>& ex, int self) {                                        \
      [[maybe_unused]] const T attr = static_cast<T>(ex.n(self).attr);                 \
      auto x = ex.in(self, 0).a();                                                      \
      acc_split(ex.val[static_cast<std::size_t>(self)].a(), (VALUE), true);             \
    }                                                                                   \
    template <class T>                                                                  \
    static void backward(exec<T>& ex, int self) {                                       \
      [[maybe_unused]] const T attr = static_cast<T>(ex.n(self).attr);                 \
      [[maybe_unused]] auto x = ex.in(self, 0).a();                                     \
      [[maybe_unused]] auto y = ex.val[static_cast<std::size_t>(self)].a();            \
      auto g = ex.grad[static_cast<std::size_t>(self)].a();                             \
      give(ex, self, 0, DERIVATIVE);                                                    \
    }                                                                                   \
  };

// relu(x) = max(x, 0);                      d/dx = [x > 0]
// Written out rather than through VAEC_UNARY_OP: a ReLU that runs in place in a hidden
// linear layer's buffer may find that buffer's columns padded (plan.cpp, padded
// activations): it then maps the whole buffer, padding (zeros, which stay zeros) included,
// forward, and reads x with its column stride backward.
struct op_relu {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& in = ex.in(self, 0);
    if (y.dense()) {
      acc_split(y.a(), in.a().max(T(0)), true);
      return;
    }
    // In place (in.data == y.data): [lead × cols] as one dense array.
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>, Eigen::Aligned16> all(y.data, y.lead(), y.cols);
    acc_split(all, all.max(T(0)), true);
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& in = ex.in(self, 0);
    auto g = ex.grad[static_cast<std::size_t>(self)].a();
    if (in.dense()) {
      give(ex, self, 0, g * (in.a() > T(0)).template cast<T>());
      return;
    }
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>, Eigen::Aligned16, Eigen::OuterStride<>> x(
        in.data, in.rows, in.cols, Eigen::OuterStride<>(in.lead()));
    give(ex, self, 0, g * (x > T(0)).template cast<T>());
  }
};
// elu(x) = x (x > 0), eˣ − 1 (x ≤ 0);        d/dx = 1 (x > 0), y + 1 (x ≤ 0)
VAEC_UNARY_OP(op_elu, (x > T(0)).select(x, x.min(T(0)).exp() - T(1)), g * (x > T(0)).select(T(1), y + T(1)))
// tanh;                                      d/dx = 1 − y²
VAEC_UNARY_OP(op_tanh, x.tanh(), g * (T(1) - y.square()))
// sigmoid(x) = 1 / (1 + e⁻ˣ);                d/dx = y (1 − y)
VAEC_UNARY_OP(op_sigmoid, T(1) / (T(1) + (-x).exp()), g * y * (T(1) - y))
// softplus(x) = max(x, 0) + log(1 + t), t = e^−|x| (kept in aux): finite for every
// finite x, and accurate where it is tiny (softplus(−20) = 2.06e-9, not 0).
// d/dx = sigmoid(x) = 1/(1 + t) for x ≥ 0, t/(1 + t) for x < 0
struct op_softplus {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    auto x = ex.in(self, 0).a();
    auto t = ex.aux[static_cast<std::size_t>(self)].a();
    t = (-x.abs()).exp();
    ex.val[static_cast<std::size_t>(self)].a() = x.max(T(0)) + log1p_of(t);
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    auto x = ex.in(self, 0).a();
    auto g = ex.grad[static_cast<std::size_t>(self)].a();
    // sigmoid(x) = 1/(1 + e^−x); e^−x overflows to ∞ for x < −88 (float), giving 0, as it should.
    give(ex, self, 0, g / (T(1) + (-x).exp()));
  }
};
// exp;                                       d/dx = y
VAEC_UNARY_OP(op_exp, x.exp(), g * y)
// log;                                       d/dx = 1 / x
VAEC_UNARY_OP(op_log, x.log(), g / x)
// sqrt;                                      d/dx = 1 / (2 y)
VAEC_UNARY_OP(op_sqrt, x.sqrt(), g / (T(2) * y))
// square;                                    d/dx = 2x
VAEC_UNARY_OP(op_square, x.square(), T(2) * g * x)
// abs;                                       d/dx = sign(x)
VAEC_UNARY_OP(op_abs, x.abs(), g * x.sign())
// leaky_relu(x) = x (x > 0), slope·x;        d/dx = 1 (x > 0), slope
VAEC_UNARY_OP(op_leaky_relu, (x > T(0)).select(x, attr * x), g * (x > T(0)).select(T(1), attr + T(0) * x))
// −x;                                        d/dx = −1
VAEC_UNARY_OP(op_negate, -x, -g)

#undef VAEC_UNARY_OP

// A binary op with broadcasting: A and B are the inputs read at the output's shape.
#define VAEC_BINARY_OP(NAME, VALUE, DA, DB)                                             \
  struct NAME {                                                                         \
    template <class T>                                                                  \
    static void forward(exec<T>& ex, int self) {                                        \
      const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];                      \
      auto A = bcast(ex.in(self, 0), y.rows, y.cols);                                   \
      auto B = bcast(ex.in(self, 1), y.rows, y.cols);                                   \
      acc_split(y.a(), (VALUE), true);                                                  \
    }                                                                                   \
    template <class T>                                                                  \
    static void backward(exec<T>& ex, int self) {                                       \
      const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];                      \
      [[maybe_unused]] auto A = bcast(ex.in(self, 0), y.rows, y.cols);                 \
      [[maybe_unused]] auto B = bcast(ex.in(self, 1), y.rows, y.cols);                 \
      auto g = ex.grad[static_cast<std::size_t>(self)].a();                             \
      give(ex, self, 0, DA);                                                            \
      give(ex, self, 1, DB);                                                            \
    }                                                                                   \
  };

// a + b;   d/da = 1, d/db = 1
VAEC_BINARY_OP(op_add, A + B, g, g)
// a − b;   d/da = 1, d/db = −1
VAEC_BINARY_OP(op_sub, A - B, g, -g)
// a·b;     d/da = b, d/db = a
VAEC_BINARY_OP(op_mul, A * B, g * B, g * A)
// a / b;   d/da = 1/b, d/db = −a/b²
VAEC_BINARY_OP(op_div, A / B, g / B, -g * A / B.square())

#undef VAEC_BINARY_OP

}  // namespace vaec::rt
