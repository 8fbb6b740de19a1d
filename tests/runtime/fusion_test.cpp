// A ReLU whose input is a linear layer that nothing else reads runs in place, in the layer's
// buffer (runtime/plan.cpp): where the plan does so and where it must not (a second reader
// of the pre-activation), that the values are those of the definition, computed here in long
// double from the parameters, and that a NaN stays a NaN (an in-product ReLU would make it 0).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lang/lower.hpp"
#include "runtime/plan.hpp"
#include "tests/lang/test_util.hpp"

namespace rt = vaec::rt;

BOOST_AUTO_TEST_SUITE(fusion)

BOOST_AUTO_TEST_CASE(relu_after_a_linear_layer_runs_in_place_only_when_it_is_the_only_reader) {
  // x [6] → a = linear(x, 40) → r = relu(a) → b = linear(r, 30) → s = relu(b), t = b·b
  // (b has two readers: s is computed on its own). Objective-free: values only, then a
  // plan with gradients for the backward pass through the fused pair.
  rt::graph g;
  const int x = g.input(6);
  const int a = g.linear(x, 40, rt::param_group::theta, "a");
  const int r = g.unary(rt::op_kind::relu, a);
  const int b = g.linear(r, 30, rt::param_group::theta, "b");
  const int s = g.unary(rt::op_kind::relu, b);
  const int t = g.binary(rt::op_kind::mul, b, b);
  (void)t;
  for (auto path : {rt::kernels::onednn, rt::kernels::blas}) {
    rt::parameters<float> params(g);
    params.initialize(3);
    const int B = 300;  // 40·300·6 multiply-adds: above the fixed rule's 2^14 for oneDNN
    rt::plan<float> p(g, params, B, 1, false, {rt::precision::fp32, path});
    BOOST_TEST(p.in_place_relu(r));
    BOOST_TEST(!p.in_place_relu(s));
    BOOST_TEST(p.value(a).data == p.value(r).data);  // one buffer
    BOOST_TEST(p.value(b).data != p.value(s).data);
    auto in = p.input(x);
    for (std::size_t i = 0; i < in.size(); ++i) in.data[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 2);
    rt::rng noise(1, rt::stream::noise, 0);
    p.forward(noise);
    // The definition, in long double: h = max(W_a x + b_a, 0); y = W_b h + b_b.
    const auto wa = params.value(g.nodes()[static_cast<std::size_t>(a)].params[0]);
    const auto ba = params.value(g.nodes()[static_cast<std::size_t>(a)].params[1]);
    const auto wb = params.value(g.nodes()[static_cast<std::size_t>(b)].params[0]);
    const auto bb = params.value(g.nodes()[static_cast<std::size_t>(b)].params[1]);
    int bad = 0, negative_b = 0, zero_r = 0;
    std::vector<long double> h(40);
    for (int c = 0; c < B; ++c) {
      for (int i = 0; i < 40; ++i) {
        long double v = ba.data[i];
        for (int k = 0; k < 6; ++k) v += static_cast<long double>(wa.data[i + 40 * k]) * in.data[k + 6 * c];
        h[static_cast<std::size_t>(i)] = std::max(v, 0.0L);
        const float got = p.value(r).data[i + 40 * c];
        zero_r += got == 0.0f;
        if (std::fabs(static_cast<long double>(got) - h[static_cast<std::size_t>(i)]) > 1e-5L && ++bad <= 3)
          BOOST_ERROR("relu(a)[" << i << ", " << c << "] = " << got);
      }
      for (int i = 0; i < 30; ++i) {
        long double v = bb.data[i];
        for (int k = 0; k < 40; ++k) v += static_cast<long double>(wb.data[i + 30 * k]) * h[static_cast<std::size_t>(k)];
        const float got_b = p.value(b).data[i + 30 * c], got_s = p.value(s).data[i + 30 * c];
        negative_b += got_b < 0;
        if ((std::fabs(static_cast<long double>(got_b) - v) > 1e-5L || got_s != std::max(got_b, 0.0f)) && ++bad <= 3)
          BOOST_ERROR("b[" << i << ", " << c << "] = " << got_b << " (relu " << got_s << ") against " << static_cast<double>(v));
      }
    }
    BOOST_TEST(bad == 0);
    BOOST_TEST(zero_r > 0);      // the ReLU did cut something
    BOOST_TEST(negative_b > 0);  // b, read twice, keeps its pre-activation
    // A NaN in the input makes its column of a NaN, and the in-place ReLU keeps it so.
    in.data[6 * 5 + 2] = std::numeric_limits<float>::quiet_NaN();
    p.forward(noise);
    int nan_r = 0, nan_s = 0;
    for (int i = 0; i < 40; ++i) nan_r += std::isnan(p.value(r).data[i + 40 * 5]);
    for (int i = 0; i < 30; ++i) nan_s += std::isnan(p.value(s).data[i + 30 * 5]);
    BOOST_TEST(nan_r == 40);
    BOOST_TEST(nan_s == 30);
  }
}

// A step's results depend on the parameters and the batch only, never on what the plan's
// buffers held before (a resumed run starts from fresh plans and must match the run that
// never stopped): a plan that has run other batches and a fresh plan give the same bits
// for the loss and every gradient. The model (DESIGN §1's) has hidden layers of 512 and
// 256 units, so weights and activations with padded column strides are in it.
BOOST_AUTO_TEST_CASE(a_step_does_not_depend_on_the_plan_history) {
  const std::string text(vaec::test::gaussian_model);
  auto m = vaec::test::run(text, "history.vae").model;
  BOOST_REQUIRE(m);
  auto low = vaec::lower(*m);
  const rt::graph& g = low.graph;
  for (int threads : {1, 2}) {
    rt::set_threads(threads);
    rt::parameters<float> params(g);
    params.initialize(5);
    const int B = 64;
    auto run = [&](rt::plan<float>& p, int batch) {
      auto in = p.input(low.data);
      for (std::size_t i = 0; i < in.size(); ++i)
        in.data[i] = std::sin(0.011 * static_cast<double>(i) + batch) > 0.2 ? 1.0f : 0.0f;
      rt::rng noise(1, rt::stream::noise, static_cast<std::uint64_t>(batch));
      p.forward(noise);
      p.backward();
      return std::make_pair(p.result().loss, std::vector<float>(params.grads.begin(), params.grads.end()));
    };
    rt::plan<float> used(g, params, B, 1);
    for (int batch = 1; batch <= 3; ++batch) run(used, batch);
    const auto after_history = run(used, 7);
    rt::plan<float> fresh(g, params, B, 1);
    const auto from_fresh = run(fresh, 7);
    BOOST_TEST_CONTEXT(threads << " threads") {
      BOOST_TEST(after_history.first == from_fresh.first);
      BOOST_TEST((after_history.second == from_fresh.second));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
