#include "runtime/tensor.hpp"

#include <cblas.h>
#include <omp.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

extern "C" void openblas_set_num_threads(int);

namespace vaec::rt {

namespace {
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

void gemm(bool ta, bool tb, float alpha, const tensor<float>& a, const tensor<float>& b, float beta,
          const tensor<float>& c) {
  const int k = ta ? a.rows : a.cols;
  cblas_sgemm(CblasColMajor, tr(ta), tr(tb), c.rows, c.cols, k, alpha, a.data, a.rows, b.data, b.rows, beta, c.data,
              c.rows);
}

void gemm(bool ta, bool tb, double alpha, const tensor<double>& a, const tensor<double>& b, double beta,
          const tensor<double>& c) {
  const int k = ta ? a.rows : a.cols;
  cblas_dgemm(CblasColMajor, tr(ta), tr(tb), c.rows, c.cols, k, alpha, a.data, a.rows, b.data, b.rows, beta, c.data,
              c.rows);
}

void set_flush_denormals() {
  auto set = [] {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  };
  set();
#pragma omp parallel
  set();
}

void set_threads(int n) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

}  // namespace vaec::rt
