// runtime/ops/exec.hpp's threaded helpers: sum_columns (a bias's gradient, Σ over columns
// per row) against a long-double reference within the bound of a sum of C terms, and
// acc_split (elementwise work split by columns) against the same work done in one piece;
// each at 1 and 2 threads, above and below the size at which work is split, with the same
// bytes at either thread count.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/ops/exec.hpp"
#include "runtime/rng.hpp"

namespace rt = vaec::rt;

namespace {

struct dims {
  long rows, cols;
};
// Below split_from (2^15 elements), at and above it; rows not a multiple of 16; a single row
// or column; the benchmark model's layers (784, 512 and 256 rows at batch 128).
const std::vector<dims> sizes = {{1, 1},   {5, 3},    {1, 40000}, {40000, 1}, {33, 1000}, {1000, 33},
                                 {784, 128}, {512, 128}, {256, 128}, {20, 128},  {257, 129}};

}  // namespace

BOOST_AUTO_TEST_SUITE(split)

BOOST_AUTO_TEST_CASE(sum_columns_is_the_row_sum) {
  for (const dims& d : sizes) {
    rt::rng r(3, rt::stream::init, static_cast<std::uint64_t>(d.rows * 7919 + d.cols));
    std::vector<float> g(static_cast<std::size_t>(d.rows * d.cols)), start(static_cast<std::size_t>(d.rows));
    for (auto& v : g) v = static_cast<float>(2 * r.uniform() - 1);
    for (auto& v : start) v = static_cast<float>(2 * r.uniform() - 1);
    std::vector<float> bytes[2][2];  // [threads − 1][first]
    for (int threads : {1, 2}) {
      rt::set_threads(threads);
      for (bool first : {true, false}) {
        std::vector<float> db = start;
        rt::sum_columns(g.data(), d.rows, d.cols, db.data(), first);
        int bad = 0;
        for (long i = 0; i < d.rows; ++i) {
          long double ref = first ? 0.0L : start[static_cast<std::size_t>(i)], mag = std::fabs(ref);
          for (long j = 0; j < d.cols; ++j) {
            ref += g[static_cast<std::size_t>(i + j * d.rows)];
            mag += std::fabs(g[static_cast<std::size_t>(i + j * d.rows)]);
          }
          const double u = std::ldexp(1.0, -24), n = static_cast<double>(d.cols + 1);
          const double bound = n * u / (1 - n * u) * static_cast<double>(mag);
          if (std::fabs(static_cast<double>(db[static_cast<std::size_t>(i)] - ref)) > bound && ++bad <= 3)
            BOOST_ERROR("row " << i << " of [" << d.rows << " × " << d.cols << "], " << threads << " threads: "
                               << db[static_cast<std::size_t>(i)] << " against " << static_cast<double>(ref));
        }
        BOOST_TEST(bad == 0);
        bytes[threads - 1][first] = db;
      }
    }
    for (int first = 0; first < 2; ++first)
      BOOST_TEST(std::memcmp(bytes[0][first].data(), bytes[1][first].data(), bytes[0][first].size() * sizeof(float)) == 0,
                 "[" << d.rows << " × " << d.cols << "]: other bytes at 2 threads");
  }
  rt::set_threads(1);
}

// The same bytes at 1 and 2 threads; and within 4 ulps of the expression evaluated in one
// piece by Eigen (its vectorized exp and its scalar one may differ in the last bits, and
// which elements take which depends on how the work is cut).
BOOST_AUTO_TEST_CASE(acc_split_is_the_expression_at_any_thread_count) {
  using array = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>>;
  for (const dims& d : sizes) {
    const auto n = static_cast<std::size_t>(d.rows * d.cols);
    rt::rng r(4, rt::stream::init, n);
    rt::aligned_vector<float> x(n), y0(n);
    for (auto& v : x) v = static_cast<float>(4 * r.uniform() - 2);
    for (auto& v : y0) v = static_cast<float>(2 * r.uniform() - 1);
    const array X(x.data(), d.rows, d.cols);
    for (bool first : {true, false}) {
      rt::aligned_vector<float> want = y0;
      array W(want.data(), d.rows, d.cols);
      if (first) W = (X.exp() - 1.0f) * X.max(0.0f);
      else W += (X.exp() - 1.0f) * X.max(0.0f);
      rt::aligned_vector<float> got[2];
      for (int threads : {1, 2}) {
        rt::set_threads(threads);
        got[threads - 1] = y0;
        array G(got[threads - 1].data(), d.rows, d.cols);
        rt::acc_split(G, (X.exp() - 1.0f) * X.max(0.0f), first);
      }
      BOOST_TEST(std::memcmp(got[0].data(), got[1].data(), n * sizeof(float)) == 0,
                 "[" << d.rows << " × " << d.cols << "], first " << first << ": other bytes at 2 threads");
      float worst = 0;
      for (std::size_t i = 0; i < n; ++i)
        worst = std::max(worst, std::fabs(got[0][i] - want[i]) / std::max(std::fabs(want[i]), 1e-30f));
      BOOST_TEST(worst <= 4 * std::ldexp(1.0f, -23), "[" << d.rows << " × " << d.cols << "], first " << first);
    }
  }
  rt::set_threads(1);
}

// bcast (an input read at the output's shape, runtime/ops/exec.hpp) against Eigen's
// replicate(), which it replaced: rows of 1, full rows and tiled rows, shared, per-example
// and per-sample columns; through a vectorized function (log), a column sum and a plain
// copy, in float and double. log through packets and through libm may differ in the last
// bit, so that case allows 2 ulps; the others must be equal.
template <class T>
void check_bcast() {
  for (int in_rows : {1, 3, 20, 33})
    for (int out_rows_factor : {1, 2, 5})
      for (int in_cols : {1, 7, 128})
        for (int samples : {1, 3}) {
          if (in_rows == 1 && out_rows_factor > 1) continue;
          const int R = in_rows == 1 ? 37 : in_rows * out_rows_factor, C = in_cols * samples;
          rt::aligned_vector<T> buf(static_cast<std::size_t>(in_rows * in_cols));
          rt::rng r(5, rt::stream::init, static_cast<std::uint64_t>(R * 1000 + C));
          for (auto& v : buf) v = static_cast<T>(0.1 + 3 * r.uniform());
          const rt::tensor<T> t{buf.data(), in_rows, in_cols};
          const auto rep = t.a().replicate(R / in_rows, C / in_cols);
          Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> got = rt::bcast(t, R, C), want = rep;
          BOOST_TEST((got == want).all(), "copy: [" << in_rows << " × " << in_cols << "] as [" << R << " × " << C << "]");
          Eigen::Array<T, 1, Eigen::Dynamic> s1 = rt::bcast(t, R, C).colwise().sum(), s2 = rep.colwise().sum();
          BOOST_TEST(((s1 - s2).abs() <= T(R) * std::numeric_limits<T>::epsilon() * s2.abs()).all());  // other orders of summation
          got = rt::bcast(t, R, C).log() * T(2);
          want = rep.log() * T(2);
          BOOST_TEST(((got - want).abs() <= T(2) * std::numeric_limits<T>::epsilon() * want.abs().max(T(1))).all(),
                     "log: [" << in_rows << " × " << in_cols << "] as [" << R << " × " << C << "]");
        }
}

BOOST_AUTO_TEST_CASE(bcast_is_replicate) {
  check_bcast<float>();
  check_bcast<double>();
}

BOOST_AUTO_TEST_SUITE_END()
