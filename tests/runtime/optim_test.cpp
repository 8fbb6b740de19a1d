// runtime/optim.*: the gradient's finiteness checks (all_finite, and Adam's own) against
// std::isfinite on every class of float (zeros, subnormals, the largest finite, ±∞, quiet
// and signalling NaNs with any payload), at every position of a buffer (the vector body
// and the tail), at 1 and 2 threads; Adam's update against Kingma & Ba (2015), Algorithm 1
// in torch.optim.Adam's form, computed in long double.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
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

namespace {
// One class of float each: those Adam and all_finite must take as finite, and not.
using lim = std::numeric_limits<float>;
const std::vector<float> finite_values = {0.0f, -0.0f, lim::denorm_min(), -lim::denorm_min(), lim::min(), 1.0f,
                                          -3.5e-20f, 250.0f, std::bit_cast<float>(0x007fffffu)};
const std::vector<float> non_finite_values = {lim::infinity(), -lim::infinity(), lim::quiet_NaN(), -lim::quiet_NaN(),
                                              lim::signaling_NaN(), std::bit_cast<float>(0x7f800001u),
                                              std::bit_cast<float>(0xffffffffu)};
}  // namespace

BOOST_AUTO_TEST_CASE(adam_follows_kingma_and_ba_in_long_double) {
  // 5 steps on gradients of magnitudes 1e-6 … 1e2, each element against
  //   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
  //   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
  // in long double. float rounds each operation, so the tolerance is a few ulp of p plus
  // 1e-5 of the steps' size; a missing bias correction is off by 0.9·lr at t = 1.
  const rt::adam_settings s{2e-3, 0.9, 0.999, 1e-8};
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{100003}}) {
      std::mt19937_64 gen(n);
      std::uniform_real_distribution<double> unit(-1, 1);
      std::vector<float> p(n), g(n);
      for (float& x : p) x = static_cast<float>(unit(gen));
      std::vector<long double> rp(p.begin(), p.end()), rm(n, 0), rv(n, 0);
      rt::adam<float> opt(n, s);
      for (int t = 1; t <= 5; ++t) {
        for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(unit(gen) * std::pow(10.0, -6 + static_cast<double>(i % 9)));
        BOOST_TEST((opt.step(p.data(), g.data()) == rt::adam<float>::status::ok));
        const long double bc1 = 1 - std::pow(0.9L, t), bc2 = 1 - std::pow(0.999L, t);
        double worst = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const long double gi = g[i];
          rm[i] = 0.9L * rm[i] + 0.1L * gi;
          rv[i] = 0.999L * rv[i] + 0.001L * gi * gi;
          rp[i] -= 2e-3L / bc1 * rm[i] / (std::sqrt(rv[i]) / std::sqrt(bc2) + 1e-8L);
          const double err = static_cast<double>(std::fabs(p[i] - rp[i]));
          const double tol = 4 * std::numeric_limits<float>::epsilon() * std::fabs(static_cast<double>(rp[i])) + 1e-5 * 2e-3 * t;
          worst = std::max(worst, err / tol);
        }
        BOOST_TEST(worst <= 1.0, "n = " << n << ", step " << t << ", threads " << threads << ": error " << worst
                                        << " of the tolerance");
        BOOST_TEST(opt.t == t);
      }
    }
  }
  rt::set_threads(1);
}

BOOST_AUTO_TEST_CASE(adam_reports_every_non_finite_gradient_at_any_position_and_thread_count) {
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{100003}}) {
      std::vector<float> g(n);
      for (std::size_t i = 0; i < n; ++i) g[i] = finite_values[i % finite_values.size()];
      std::vector<float> p(n, 0.5f);
      rt::adam<float> ok(n, {});
      BOOST_TEST((ok.step(p.data(), g.data()) == rt::adam<float>::status::ok), "n = " << n << ", threads " << threads);
      for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
        for (float bad : non_finite_values) {
          const float kept = g[at];
          g[at] = bad;
          rt::adam<float> opt(n, {});
          BOOST_TEST((opt.step(p.data(), g.data()) == rt::adam<float>::status::gradient_not_finite), "missed bits " << std::hex << std::bit_cast<std::uint32_t>(bad)
                                                                    << std::dec << " at " << at << " of " << n
                                                                    << ", threads " << threads);
          g[at] = kept;
        }
      }
    }
  }
  rt::set_threads(1);
}

BOOST_AUTO_TEST_CASE(adam_reports_an_update_that_leaves_floats_range) {
  // A finite gradient above √(3.4e38 / 0.001) ≈ 5.8e20 makes v = (1 − β2)·g² +∞ (and the
  // parameter would never move again); a step of lr/(1 − β1) = 10·lr·sign(g) from near the largest
  // float takes the parameter beyond it. Either is update_not_finite, at any position and
  // thread count; a non-finite gradient takes precedence.
  using status = rt::adam<float>::status;
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{100003}}) {
      for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
        std::vector<float> p(n, 0.5f), g(n, 1e-3f);
        g[at] = 1e21f;  // 0.001 · 1e42 is +∞ in float
        rt::adam<float> opt(n, {});
        BOOST_TEST((opt.step(p.data(), g.data()) == status::update_not_finite), "g = 1e21 at " << at << " of " << n);
        BOOST_TEST(std::isinf(opt.v[at]));
        // Just below: 0.001 · (5e20)² = 2.5e38 is finite.
        g[at] = 5e20f;
        rt::adam<float> fine(n, {});
        std::fill(p.begin(), p.end(), 0.5f);
        BOOST_TEST((fine.step(p.data(), g.data()) == status::ok), "g = 5e20 at " << at << " of " << n);
        // The parameter: lr 1e38 from p = 3e38 towards +: 3e38 + 1e38·… overflows.
        std::fill(g.begin(), g.end(), 1e-3f);
        std::fill(p.begin(), p.end(), 0.5f);
        p[at] = -3e38f;  // the step is −lr·sign(g): away from 0 for this one
        rt::adam<float> far(n, {1e38, 0.9, 0.999, 1e-8});
        BOOST_TEST((far.step(p.data(), g.data()) == status::update_not_finite), "p beyond 3.4e38 at " << at);
        // Both: the gradient's NaN is what is reported.
        g[at == 0 ? n - 1 : 0] = std::numeric_limits<float>::quiet_NaN();
        std::fill(p.begin(), p.end(), 0.5f);
        p[at] = -3e38f;
        rt::adam<float> both(n, {1e38, 0.9, 0.999, 1e-8});
        BOOST_TEST((both.step(p.data(), g.data()) == status::gradient_not_finite));
      }
    }
  }
  rt::set_threads(1);
}

BOOST_AUTO_TEST_CASE(adam_gives_the_same_bytes_at_1_and_2_threads) {
  const std::size_t n = 100003;
  std::vector<std::vector<float>> result;
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    std::mt19937_64 gen(7);
    std::normal_distribution<float> normal;
    std::vector<float> p(n), g(n);
    for (float& x : p) x = normal(gen);
    rt::adam<float> opt(n, {});
    for (int t = 0; t < 3; ++t) {
      for (float& x : g) x = normal(gen);
      BOOST_TEST((opt.step(p.data(), g.data()) == rt::adam<float>::status::ok));
    }
    p.insert(p.end(), opt.m.begin(), opt.m.end());
    p.insert(p.end(), opt.v.begin(), opt.v.end());
    result.push_back(p);
  }
  rt::set_threads(1);
  BOOST_TEST((result[0] == result[1]));
}

BOOST_AUTO_TEST_SUITE_END()
