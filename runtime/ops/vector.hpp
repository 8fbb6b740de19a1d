// Ops across the rows of a column: normalize, concat, sum, norm.
#pragma once

#include "runtime/ops/exec.hpp"

namespace vaec::rt {

// y = x / max(‖x‖, 1e-12) per column (torch.nn.functional.normalize's guard).
// dx = (dy − y (yᵀdy)) / ‖x‖
struct op_normalize {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    tensor<T> norms = ex.aux[static_cast<std::size_t>(self)];  // [1 × C]
    norms.a() = x.a().square().colwise().sum().sqrt().max(T(1e-12));
    y.a() = x.a() / norms.a().replicate(x.rows, 1);
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    const tensor<T>& norms = ex.aux[static_cast<std::size_t>(self)];
    // yᵀg per column, into the scratch buffer's first row: Eigen would otherwise allocate a
    // temporary for the replicated reduction on every step. (give() needs no scratch here:
    // x has y's shape.)
    tensor<T> dot = scratch_of(ex, self, 1, y.cols);
    dot.a() = (y.a() * g.a()).colwise().sum();
    give(ex, self, 0, (g.a() - y.a() * dot.a().replicate(y.rows, 1)) / norms.a().replicate(y.rows, 1));
  }
};

// y = [x₁; x₂; …]: the inputs' rows stacked; each input's gradient is its slice.
struct op_concat {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    int row = 0;
    for (std::size_t i = 0; i < ex.n(self).inputs.size(); ++i) {
      const tensor<T>& x = ex.in(self, static_cast<int>(i));
      y.a().middleRows(row, x.rows) = bcast(x, x.rows, y.cols);
      row += x.rows;
    }
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& g = ex.grad[static_cast<std::size_t>(self)];
    int row = 0;
    for (std::size_t i = 0; i < ex.n(self).inputs.size(); ++i) {
      const int rows = ex.in(self, static_cast<int>(i)).rows;
      give(ex, self, static_cast<int>(i), g.a().middleRows(row, rows));
      row += rows;
    }
  }
};

// y = Σ_rows x;   dx = dy repeated down the rows
struct op_sum {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    ex.val[static_cast<std::size_t>(self)].a() = ex.in(self, 0).a().colwise().sum();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    give(ex, self, 0, down(ex.grad[static_cast<std::size_t>(self)], ex.in(self, 0).rows));
  }
};

// y = ‖x‖ per column;   dx = dy · x / y (0 where y = 0)
struct op_norm {
  template <class T>
  static void forward(exec<T>& ex, int self) {
    ex.val[static_cast<std::size_t>(self)].a() = ex.in(self, 0).a().square().colwise().sum().sqrt();
  }
  template <class T>
  static void backward(exec<T>& ex, int self) {
    const tensor<T>& x = ex.in(self, 0);
    const tensor<T>& y = ex.val[static_cast<std::size_t>(self)];
    auto inv = (y.a() > T(0)).select(T(1) / y.a(), T(0));
    give(ex, self, 0, down(ex.grad[static_cast<std::size_t>(self)], x.rows) * x.a() * inv.replicate(x.rows, 1));
  }
};

}  // namespace vaec::rt
