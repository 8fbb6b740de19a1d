// Tensors: Eigen views over buffers the plan allocates once. A batch is laid out with
// features along rows and examples along columns (column-major), so one example is one
// contiguous column. With S samples per example the columns are sample-major:
// column s·B + b is sample s of example b, and an [n × B] value broadcasts to
// [n × B·S] by tiling.
#pragma once

#include <cassert>
#include <cstddef>

#include <Eigen/Core>

namespace vaec::rt {

template <class T>
using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using view = Eigen::Map<matrix<T>, Eigen::Aligned16>;
template <class T>
using const_view = Eigen::Map<const matrix<T>, Eigen::Aligned16>;

// A value of one node: `rows` features × `cols` columns at `data`, column j at
// data + j·lead(). Nearly every tensor is dense (ld = 0: lead() = rows); a linear layer's
// weight and its gradient (param_info::ld, graph.hpp) and a hidden layer's activations
// (plan.cpp) may have padded columns, and only the products (runtime/matmul.hpp, gemm), the
// ReLU and code that reads lead() may see those: the Eigen views m(), c() and a() are dense
// and assert it.
template <class T>
struct tensor {
  T* data = nullptr;
  int rows = 0;
  int cols = 0;
  int ld = 0;  // elements from one column's start to the next's; 0: rows (dense)
  int lead() const { return ld > 0 ? ld : rows; }
  bool dense() const { return ld == 0 || ld == rows; }
  view<T> m() const {
    assert(dense());
    return view<T>(data, rows, cols);
  }
  const_view<T> c() const {
    assert(dense());
    return const_view<T>(data, rows, cols);
  }
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>, Eigen::Aligned16> a() const {
    assert(dense());
    return {data, rows, cols};
  }
  // Elements, rows × cols (not counting padding).
  std::size_t size() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
};

// C = alpha · op(A) · op(B) + beta · C on column-major views (each with its lead()), through OpenBLAS.
// `beta = 0` overwrites C (the first gradient contribution), `beta = 1` accumulates.
void gemm(bool trans_a, bool trans_b, float alpha, const tensor<float>& a, const tensor<float>& b, float beta,
          const tensor<float>& c);
void gemm(bool trans_a, bool trans_b, double alpha, const tensor<double>& a, const tensor<double>& b, double beta,
          const tensor<double>& c);

// Sets flush-to-zero and denormals-are-zero on the calling thread and on every OpenMP
// worker: subnormal floats (a third of Adam's moments go subnormal) cost 40–80% here.
void set_flush_denormals();

// Sets the number of threads vaec uses (OpenMP); OpenBLAS itself runs single-threaded
// inside them.
void set_threads(int n);

}  // namespace vaec::rt
