// runtime/optim.*: the gradient's finiteness check against std::isfinite on every class
// of float (zeros, subnormals, the largest finite, ±∞, quiet and signalling NaNs with any
// payload), at every position of a buffer (the vector body and the tail), at 1 and 2 threads.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/matmul.hpp"
#include "runtime/optim.hpp"

namespace rt = vaec::rt;

BOOST_AUTO_TEST_SUITE(optim)

BOOST_AUTO_TEST_CASE(all_finite_agrees_with_isfinite) {
  using lim = std::numeric_limits<float>;
  const std::vector<float> finite = {0.0f, -0.0f, lim::denorm_min(), -lim::denorm_min(), lim::min(),
                                     lim::max(), -lim::max(), 1.0f, -3.5e-20f,
                                     std::bit_cast<float>(0x7f7fffffu), std::bit_cast<float>(0x007fffffu)};
  const std::vector<float> not_finite = {lim::infinity(), -lim::infinity(), lim::quiet_NaN(), -lim::quiet_NaN(),
                                         lim::signaling_NaN(), std::bit_cast<float>(0x7f800001u),
                                         std::bit_cast<float>(0xffffffffu), std::bit_cast<float>(0x7fc00000u)};
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{1000},
                          std::size_t{100003}}) {
      std::vector<float> x(n);
      for (std::size_t i = 0; i < n; ++i) x[i] = finite[i % finite.size()];
      BOOST_TEST(rt::all_finite(x.data(), n), "n = " << n << ", threads " << threads);
      BOOST_TEST(rt::all_finite(x.data(), 0));
      for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
        for (float bad : not_finite) {
          const float kept = x[at];
          x[at] = bad;
          BOOST_TEST(std::isfinite(bad) == false);
          BOOST_TEST(!rt::all_finite(x.data(), n),
                     "missed bits " << std::hex << std::bit_cast<std::uint32_t>(bad) << std::dec << " at " << at
                                    << " of " << n << ", threads " << threads);
          x[at] = kept;
        }
      }
      // Only the first n count: a non-finite value just past the end is not read.
      x.push_back(lim::infinity());
      BOOST_TEST(rt::all_finite(x.data(), n));
    }
  }
  rt::set_threads(1);
}

BOOST_AUTO_TEST_SUITE_END()
