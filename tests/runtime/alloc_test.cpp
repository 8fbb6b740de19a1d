// A training step allocates nothing: malloc, calloc and realloc are interposed for this
// test binary (glibc exports the real ones as __libc_*), and counted, on every thread,
// while steps run. Counting operator new would miss Eigen and libgomp, which call malloc.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <vector>

#include <fmt/format.h>

#include "lang/lower.hpp"
#include "tests/lang/test_util.hpp"
#include "runtime/optim.hpp"
#include "runtime/plan.hpp"

extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

extern "C" void* malloc(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(std::size_t n, std::size_t s) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
extern "C" void* realloc(void* p, std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}

namespace rt = vaec::rt;

namespace {
// Runs 3 training steps (forward, backward, Adam) of a plan of `g` for batch B and S samples
// — thread pools and BLAS buffers start up there — then counts the allocations of `counted`
// more steps. Returns them and the last loss.
struct step_count {
  long allocations = 0;
  double loss = 0;
  bool finite_gradients = true;  // every step's (adam::step's check)
};
step_count count_step_allocations(const rt::graph& g, rt::parameters<float>& params, int data, int B, int S,
                                  int counted, rt::product_options products = {}) {
  rt::adam<float> opt(params.values.size(), {});
  rt::plan<float> p(g, params, B, S, true, products);
  auto x = p.input(data);
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i % 7) / 7.0f;
  bool finite = true;  // every gradient (adam::step's check)
  auto step = [&](std::uint64_t s) {
    rt::rng noise(1, rt::stream::noise, s);
    p.forward(noise);
    p.backward();
    finite = opt.step(params.values.data(), params.grads.data()) == rt::adam<float>::status::ok && finite;
  };
  for (std::uint64_t s = 0; s < 3; ++s) step(s);
  allocations = 0;
  counting = true;
  for (std::uint64_t s = 3; s < 3 + static_cast<std::uint64_t>(counted); ++s) step(s);
  counting = false;
  return {allocations.load(), p.result().loss, finite};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(allocation)

BOOST_AUTO_TEST_CASE(a_training_step_allocates_nothing) {
  // The DESIGN §1 Gaussian model plus a Monte Carlo latent, so that sampling, every
  // density and the objective are in the step.
  const std::string text = R"(
data   x : binary[784]
latent z : real[20]
latent w : real[4]
p(w) = Normal(0, 1)
p(z | w) = Normal(loc = linear(w, 20), scale = softplus(linear(w, 20)) + 1e-4)
p(x | z) {
  h = mlp(z, [256, 512], activation = relu)
  x ~ Bernoulli(logits = linear(h, 784))
}
q(z | x) {
  h = mlp(x, [512, 256], activation = relu)
  z ~ Normal(loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4)
}
q(w | z) = Normal(loc = linear(z, 4), scale = exp(linear(z, 4)))
train { kl = best }
)";
  auto m = vaec::test::run(text, "alloc.vae").model;
  BOOST_REQUIRE(m);
  auto low = vaec::lower(*m);
  // fp32 products (oneDNN and OpenBLAS by shape), and bf16 products where the CPU has them.
  std::vector<rt::precision> precisions = {rt::precision::fp32};
  if (rt::bf16_supported()) precisions.push_back(rt::precision::bf16);
  for (rt::precision precision : precisions)
  for (int threads : {1, 2}) {
    BOOST_TEST_CONTEXT(threads << " threads, 2 samples, " << rt::to_string(precision) << " products") {
      rt::set_threads(threads);
      rt::parameters<float> params(low.graph);
      params.initialize(1);
      const step_count c = count_step_allocations(low.graph, params, low.data, 64, 2, 20, {precision});
      BOOST_TEST(c.allocations == 0, c.allocations << " allocations in 20 steps");
      BOOST_TEST(std::isfinite(c.loss));
      BOOST_TEST(c.finite_gradients);
    }
  }
  // The counter does count: a vector's growth is seen.
  allocations = 0;
  counting = true;
  std::vector<int>* v = new std::vector<int>(1000);
  counting = false;
  BOOST_TEST(allocations.load() >= 2);
  delete v;
}

// A VampPrior's step — the encoder over its pseudo-inputs (shared layers), the component
// densities of each q family (Normal's GEMM form, vMF's, Student-t's loops) — allocates
// nothing either. (The vMF model found normalize's backward allocating an Eigen temporary
// every step, in every model with normalize(...): fixed in runtime/ops/vector.hpp.)
BOOST_AUTO_TEST_CASE(a_vamp_prior_step_allocates_nothing) {
  const std::string normal = R"(
data   x : binary[784]
latent z : real[20]
p(z) = VampPrior(pseudo_inputs = 50)
p(x | z) = Bernoulli(logits = linear(relu(linear(z, 64)), 784))
q(z | x) {
  h = mlp(x, [64], activation = relu)
  z ~ Normal(loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4)
}
)";
  const std::string vmf = R"(
data   x : binary[784]
latent z : sphere[5]
p(z) = VampPrior(pseudo_inputs = 50)
p(x | z) = Bernoulli(logits = linear(relu(linear(z, 64)), 784))
q(z | x) {
  h = mlp(x, [64], activation = relu)
  z ~ VonMisesFisher(mean = normalize(linear(h, 5)), concentration = softplus(linear(h, 1)) + 1)
}
)";
  const std::string t = R"(
data   x : binary[784]
latent z : real[4]
p(z) = VampPrior(pseudo_inputs = 20)
p(x | z) = Bernoulli(logits = linear(relu(linear(z, 64)), 784))
q(z | x) {
  h = mlp(x, [64], activation = relu)
  z ~ StudentT(df = 5, loc = linear(h, 4), scale = softplus(linear(h, 4)) + 1e-4)
}
)";
  for (const std::string* text : {&normal, &vmf, &t}) {
    auto m = vaec::test::run(*text, "alloc.vae").model;
    BOOST_REQUIRE(m);
    auto low = vaec::lower(*m);
    rt::set_threads(2);
    rt::parameters<float> params(low.graph);
    params.initialize(1);
    std::vector<float> examples(784 * 100);
    for (std::size_t i = 0; i < examples.size(); ++i) examples[i] = static_cast<float>(i % 5) / 5.0f;
    params.initialize_from_examples(examples, 100, 784, 1);
    const step_count c = count_step_allocations(low.graph, params, low.data, 32, 2, 10);
    BOOST_TEST(c.allocations == 0, c.allocations << " allocations in 10 steps, model "
                                                  << (text == &normal ? "Normal" : text == &vmf ? "vMF" : "StudentT"));
    BOOST_TEST(std::isfinite(c.loss));
  }
}

// An AggregatePosterior's step — the component densities over its constant components
// (constant_matrix nodes; Normal's GEMM form, vMF's) — allocates nothing. The components are
// attached here as figures/aggregate_prior.cpp would attach a source run's.
BOOST_AUTO_TEST_CASE(an_aggregate_posterior_step_allocates_nothing) {
  for (const bool sphere : {false, true}) {
    const std::string text = fmt::format(R"(
data   x : binary[784]
latent z : {}
p(z) = AggregatePosterior(run = "runs/base", examples = 40)
p(x | z) = Bernoulli(logits = linear(relu(linear(z, 64)), 784))
q(z | x) {{
  h = mlp(x, [64], activation = relu)
  z ~ {}
}}
)",
                                         sphere ? "sphere[5]" : "real[20]",
                                         sphere ? "VonMisesFisher(mean = normalize(linear(h, 5)), concentration = softplus(linear(h, 1)) + 1)"
                                                : "Normal(loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4)");
    auto m = vaec::test::run(text, "alloc.vae").model;
    BOOST_REQUIRE(m);
    const int n = sphere ? 5 : 20, M = 40;
    auto fx = std::make_shared<vaec::fixed_mixture>();
    fx->family = sphere ? vaec::family_id::von_mises_fisher : vaec::family_id::normal;
    fx->count = M;
    fx->rows = {n, sphere ? 1 : n};
    fx->values.assign(2, {});
    for (int k = 0; k < M; ++k) {
      double norm = 0;
      for (int i = 0; i < n; ++i) norm += std::pow(std::sin(k + 3.0 * i), 2);
      for (int i = 0; i < n; ++i) fx->values[0].push_back(std::sin(k + 3.0 * i) / (sphere ? std::sqrt(norm) : 1.0));
      for (int i = 0; i < fx->rows[1]; ++i) fx->values[1].push_back(0.5 + 0.1 * ((k + i) % 7));
    }
    m->factors[0].dist.fixed = fx;
    auto low = vaec::lower(*m);
    rt::set_threads(2);
    rt::parameters<float> params(low.graph);
    params.initialize(1);
    const step_count c = count_step_allocations(low.graph, params, low.data, 32, 2, 10);
    BOOST_TEST(c.allocations == 0, c.allocations << " allocations in 10 steps, " << (sphere ? "vMF" : "Normal"));
    BOOST_TEST(std::isfinite(c.loss));
  }
}

BOOST_AUTO_TEST_SUITE_END()
