#include "runtime/tensor.hpp"

#include <algorithm>

#include <cblas.h>
#include <omp.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

extern "C" void openblas_set_num_threads(int);

namespace vaec::rt {

namespace {

CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
          float beta, float* c, int ldc) {
  cblas_sgemm(CblasColMajor, tr(ta), tr(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb,
          double beta, double* c, int ldc) {
  cblas_dgemm(CblasColMajor, tr(ta), tr(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Products with M·N·K up to this run on the calling thread. It is OpenBLAS's own limit
// for threading (65536 × GEMM_MULTITHREAD_THRESHOLD, 4 in Debian's build): anything larger,
// called outside a parallel region, OpenBLAS would thread itself (and allocate).
constexpr double serial_mnk = 65536.0 * 4;

// OpenBLAS runs single-threaded (its threaded GEMM mallocs a job array on every call);
// a large product is split here across the OpenMP threads, each calling OpenBLAS on its
// block. C (M×N) = op(A) (M×K)·op(B) (K×N): splitting M has every thread pack all of
// op(B), splitting N all of op(A), so the split goes along the larger of M and N. The
// blocks are fixed by the sizes and the thread count, so results are reproducible.
template <class T>
void gemm_split(bool ta, bool tb, T alpha, const tensor<T>& a, const tensor<T>& b, T beta, const tensor<T>& c) {
  const int M = c.rows, N = c.cols, K = ta ? a.rows : a.cols;
  const int threads = omp_get_max_threads();
  if (omp_in_parallel() || static_cast<double>(M) * N * K <= serial_mnk) {
    blas(ta, tb, M, N, K, alpha, a.data, a.lead(), b.data, b.lead(), beta, c.data, c.lead());
    return;
  }
  const bool split_m = M >= N;
  const int total = split_m ? M : N;
  // Blocks of M are multiples of 16 rows (whole cache lines of C).
  const int granule = split_m ? 16 : 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int chunk = ((total + nt - 1) / nt + granule - 1) / granule * granule;
    const int lo = std::min(total, t * chunk), hi = std::min(total, lo + chunk);
    if (lo < hi) {
      const auto slo = static_cast<std::size_t>(lo);
      if (split_m) {
        const T* ap = ta ? a.data + slo * static_cast<std::size_t>(a.lead()) : a.data + slo;
        blas(ta, tb, hi - lo, N, K, alpha, ap, a.lead(), b.data, b.lead(), beta, c.data + slo, c.lead());
      } else {
        const T* bp = tb ? b.data + slo : b.data + slo * static_cast<std::size_t>(b.lead());
        blas(ta, tb, M, hi - lo, K, alpha, a.data, a.lead(), bp, b.lead(), beta,
             c.data + slo * static_cast<std::size_t>(c.lead()), c.lead());
      }
    }
  }
}

}  // namespace

void gemm(bool ta, bool tb, float alpha, const tensor<float>& a, const tensor<float>& b, float beta,
          const tensor<float>& c) {
  gemm_split(ta, tb, alpha, a, b, beta, c);
}

void gemm(bool ta, bool tb, double alpha, const tensor<double>& a, const tensor<double>& b, double beta,
          const tensor<double>& c) {
  gemm_split(ta, tb, alpha, a, b, beta, c);
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
  // In OpenBLAS's OpenMP build, openblas_set_num_threads also sets OpenMP's thread count,
  // so it comes first. Inside vaec's parallel regions OpenBLAS runs single-threaded.
  openblas_set_num_threads(1);
  omp_set_num_threads(n);
}

}  // namespace vaec::rt
