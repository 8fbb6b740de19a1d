// End-to-end training: a small model on a slice of Fashion-MNIST learns; the same seed
// gives the same bits; an interrupted and resumed run equals the uninterrupted one; bad
// data and a diverging run stop with a message and keep the last good checkpoint.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <omp.h>
#include <pthread.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <fstream>
#include <sstream>
#include <string>

#include "lang/lower.hpp"
#include "tests/lang/test_util.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/plan.hpp"
#include "runtime/train.hpp"

namespace rt = vaec::rt;
namespace fs = std::filesystem;

namespace {

const char* small_model = R"(
data   x : binary[784]
latent z : real[8]
p(z) = Normal(0, 1)
p(x | z) {
  h = mlp(z, [64], activation = relu)
  x ~ Bernoulli(logits = linear(h, 784))
}
q(z | x) {
  h = mlp(x, [64], activation = relu)
  z ~ Normal(loc = linear(h, 8), scale = softplus(linear(h, 8)) + 1e-4)
}
)";

struct compiled {
  vaec::checked_model model;
  vaec::lowered_model low;
  rt::model_binding binding;
};

// On the heap: the binding points into the lowered graph, which must not move.
std::unique_ptr<compiled> compile_ptr(const std::string& text) {
  auto r = vaec::test::run(text, "model.vae");
  BOOST_REQUIRE_MESSAGE(r.model, r.rendered);
  auto p = std::make_unique<compiled>();
  compiled& c = *p;
  c.model = std::move(*r.model);
  c.low = vaec::lower(c.model);
  c.binding = vaec::bind(c.low, c.model);
  return p;
}

// 2,000 training and 500 test examples of Fashion-MNIST (its first ones).
const rt::data_splits& slice() {
  static const rt::data_splits s = [] {
    rt::data_splits all = rt::load_data("fashion-mnist");
    auto cut = [](const rt::dataset& d, std::size_t n) {
      rt::dataset out = d;
      out.count = n;
      out.values.resize(n * d.width);
      if (!out.labels.empty()) out.labels.resize(n);
      return out;
    };
    rt::data_splits s;
    s.train = cut(all.train, 2000);
    s.test = cut(*all.test, 500);
    return s;
  }();
  return s;
}

bool have_fashion_mnist() { return fs::exists(fs::path(rt::fashion_mnist_dir) / "train-images-idx3-ubyte.gz"); }

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& name) : path(fs::temp_directory_path() / ("vaec-train-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
};

rt::train_options options(int epochs) {
  rt::train_options o;
  o.epochs = epochs;
  o.batch = 50;
  o.seed = 7;
  o.threads = 2;
  return o;
}

rt::train_result run(const compiled& c, const rt::train_options& o, const fs::path& dir, bool resume = false) {
  rt::run_files files;
  files.dir = dir.string();
  files.metadata_json = "{}";
  std::ostringstream log;
  return rt::train(c.binding, slice(), o, files, resume, log);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(a_small_model_learns) {
  if (!have_fashion_mnist()) {
    BOOST_TEST_MESSAGE("Fashion-MNIST is not installed (scripts/setup installs it); skipped");
    return;
  }
  auto cp = compile_ptr(small_model);
  const compiled& c = *cp;
  // The test ELBO at initialization, measured the same way as after training.
  rt::parameters<float> init(c.low.graph);
  init.initialize(7);
  vaec::lowered_model iw = vaec::lower(c.model, {true});
  rt::model_binding ib = c.binding;
  ib.g = &iw.graph;
  auto before = rt::evaluate(c.binding, ib, init.values, *slice().test, 2, 7, 2);
  temp_dir dir("learns");
  auto r = run(c, options(6), dir.path);  // 6 epochs × 40 steps = 240 steps
  BOOST_REQUIRE_EQUAL(r.epochs.size(), 6u);
  BOOST_REQUIRE(r.epochs.back().test_elbo.has_value());
  const double after = *r.epochs.back().test_elbo;
  BOOST_TEST_MESSAGE("test ELBO: " << before.elbo << " at initialization, " << after << " after 240 steps");
  // At initialization the logits are near 0, so log p(x|z) ≈ −784 log 2 = −543 nats and the
  // ELBO is about −545. After 240 steps it is around −300: demand an improvement of 150.
  BOOST_TEST(before.elbo < -500.0);
  BOOST_TEST(after > before.elbo + 150.0);
  // The training ELBO improves from the first epoch to the last as well.
  BOOST_TEST(r.epochs.back().train_elbo > r.epochs.front().train_elbo + 20.0);
  // The run folder holds the figures printed.
  const std::string csv = read(dir.path / "metrics.csv");
  BOOST_TEST(csv.rfind("epoch,train_elbo,train_recon,train_kl,train_kl_z,test_elbo", 0) == 0u);
  BOOST_TEST(fs::exists(dir.path / "checkpoint.safetensors"));
}

BOOST_AUTO_TEST_CASE(same_seed_same_bits) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  const compiled& c = *cp;
  temp_dir a("seed-a"), b("seed-b");
  run(c, options(2), a.path);
  run(c, options(2), b.path);
  BOOST_TEST(read(a.path / "metrics.csv") == read(b.path / "metrics.csv"));
  auto pa = rt::load_parameters(c.low.graph, (a.path / "checkpoint.safetensors").string());
  auto pb = rt::load_parameters(c.low.graph, (b.path / "checkpoint.safetensors").string());
  BOOST_TEST(pa == pb);
  // And another seed gives other numbers.
  temp_dir d("seed-d");
  auto o = options(2);
  o.seed = 8;
  run(c, o, d.path);
  BOOST_TEST(read(a.path / "metrics.csv") != read(d.path / "metrics.csv"));
}

// The small model, and one whose hidden layers of 128 units have padded column strides
// (graph.hpp, padded_lead): its checkpoint must hold each weight without the padding, and
// the resumed run must put it back where it was (a checkpoint that copied the padded store
// as if dense lost a weight's last columns, and the resumed run diverged).
BOOST_DATA_TEST_CASE(resume_equals_uninterrupted, boost::unit_test::data::make({64, 128}), hidden) {
  if (!have_fashion_mnist()) return;
  std::string text = small_model;
  for (std::size_t at = text.find("[64]"); hidden != 64 && at != std::string::npos; at = text.find("[64]"))
    text.replace(at, 4, "[" + std::to_string(hidden) + "]");
  auto cp = compile_ptr(text);
  const compiled& c = *cp;
  temp_dir a("whole"), b("pieces");
  run(c, options(3), a.path);
  // Interrupted in the middle of epoch 2 (40 steps an epoch), then resumed; then again
  // at an epoch boundary.
  auto o = options(3);
  o.interrupt_after = 55;
  auto first = run(c, o, b.path);
  BOOST_TEST(first.interrupted);
  BOOST_TEST(first.epochs.size() == 1u);
  // The resumed process stops again after 25 of its own steps: exactly the rest of epoch 2,
  // so this interruption falls on an epoch's end. A third process finishes the run.
  o.interrupt_after = 25;
  auto second = run(c, o, b.path, true);
  BOOST_TEST(second.interrupted);
  o.interrupt_after = -1;
  auto third = run(c, o, b.path, true);
  BOOST_TEST(!third.interrupted);
  BOOST_TEST(read(a.path / "metrics.csv") == read(b.path / "metrics.csv"));
  auto pa = rt::load_parameters(c.low.graph, (a.path / "checkpoint.safetensors").string());
  auto pb = rt::load_parameters(c.low.graph, (b.path / "checkpoint.safetensors").string());
  BOOST_TEST(pa == pb);
  // Adam's moments are stored as before padded strides existed (each parameter dense, from
  // offsets that are multiples of 16), so earlier builds' checkpoints resume here.
  std::size_t dense = 0;
  for (const auto& p : c.low.graph.params()) dense += (p.size() + 15) / 16 * 16;
  const rt::checkpoint ck = rt::read_checkpoint((b.path / "checkpoint.safetensors").string());
  BOOST_TEST(ck.tensors.at("vaec.adam.m").as_f32().size() == dense);
  BOOST_TEST(ck.tensors.at("vaec.adam.v").as_f32().size() == dense);
}

// A checkpoint's linear weight is torch.nn.Linear's [out, in], row-major, whatever the
// column stride vaec stores it with: the first hidden layer (128 units: padded) computed
// from the checkpoint's tensors, in double, equals the layer's value in a plan loaded from
// the same checkpoint.
BOOST_AUTO_TEST_CASE(a_checkpoint_holds_weights_in_pytorch_layout) {
  if (!have_fashion_mnist()) return;
  std::string text = small_model;
  for (std::size_t at = text.find("[64]"); at != std::string::npos; at = text.find("[64]")) text.replace(at, 4, "[128]");
  auto cp = compile_ptr(text);
  const compiled& c = *cp;
  temp_dir dir("layout");
  run(c, options(1), dir.path);
  const std::string path = (dir.path / "checkpoint.safetensors").string();
  const rt::checkpoint ck = rt::read_checkpoint(path);
  const rt::graph& g = c.low.graph;
  int layer = -1;
  for (std::size_t i = 0; i < g.nodes().size() && layer < 0; ++i)
    if (g.nodes()[i].op == rt::op_kind::linear && g.nodes()[i].inputs[0] == c.low.data) layer = static_cast<int>(i);
  BOOST_REQUIRE(layer >= 0);
  const rt::param_info& wi = g.params()[static_cast<std::size_t>(g.nodes()[static_cast<std::size_t>(layer)].params[0])];
  const rt::param_info& bi = g.params()[static_cast<std::size_t>(g.nodes()[static_cast<std::size_t>(layer)].params[1])];
  BOOST_TEST(wi.rows == 128);
  BOOST_TEST(wi.lead() == 144);
  const std::vector<float> w = ck.tensors.at(wi.name).as_f32(), bias = ck.tensors.at(bi.name).as_f32();
  BOOST_TEST(ck.tensors.at(wi.name).shape == (std::vector<std::int64_t>{128, 784}));

  rt::parameters<float> params(g);
  const std::vector<float> loaded = rt::load_parameters(g, path);
  params.values.assign(loaded.begin(), loaded.end());
  const int B = 4;
  rt::plan<float> p(g, params, B, 1, false);
  auto in = p.input(c.low.data);
  std::copy_n(slice().test->values.data(), in.size(), in.data);
  rt::rng noise(1, rt::stream::noise, 0);
  p.forward(noise);
  const rt::tensor<float> h = p.value(layer);  // the ReLU's value (in place)
  double worst = 0;
  for (int e = 0; e < B; ++e)
    for (int o = 0; o < 128; ++o) {
      double sum = bias[static_cast<std::size_t>(o)];
      for (int i = 0; i < 784; ++i)
        sum += static_cast<double>(w[static_cast<std::size_t>(o) * 784 + static_cast<std::size_t>(i)]) *
               in.data[static_cast<std::size_t>(e) * 784 + static_cast<std::size_t>(i)];
      const double got = h.data[static_cast<std::size_t>(e) * static_cast<std::size_t>(h.lead()) + static_cast<std::size_t>(o)];
      worst = std::max(worst, std::fabs(got - std::max(sum, 0.0)));
    }
  BOOST_TEST(worst < 1e-4, "largest difference " << worst);
}

BOOST_AUTO_TEST_CASE(a_ctrl_c_while_the_run_is_set_up_stops_it_after_its_first_step) {
  // The handler is installed before the data are read and the plans made; a Ctrl-C in that
  // window was cleared when train() started, and the run went on to the end.
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  temp_dir d("ctrl-c-setup"), e("after-ctrl-c");
  rt::install_interrupt_handler();
  std::raise(SIGINT);
  const auto r = run(*cp, options(2), d.path);
  BOOST_TEST(r.interrupted);
  BOOST_TEST(r.steps == 1);
  // The flag does not outlive the run it stopped.
  const auto next = run(*cp, options(1), e.path);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  BOOST_TEST(!next.interrupted);
}

BOOST_AUTO_TEST_CASE(ctrl_c_runs_its_handler_on_an_alternate_stack_of_the_training_thread) {
  // oneDNN's AVX2 GEMM kernels point the stack pointer into a heap buffer while they run;
  // a handler run there had the kernel write its frame over the heap (glibc aborted at the
  // next free in about half of the Ctrl-Cs of a training on an AVX2 machine). So the handler
  // runs on an alternate stack, and only the thread that installed it receives the signals.
  rt::install_interrupt_handler();
  stack_t ss{};
  BOOST_TEST_REQUIRE(sigaltstack(nullptr, &ss) == 0);
  BOOST_TEST(!(ss.ss_flags & SS_DISABLE));
  BOOST_TEST(ss.ss_size >= static_cast<std::size_t>(MINSIGSTKSZ));
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction sa {};
    BOOST_TEST_REQUIRE(sigaction(sig, nullptr, &sa) == 0);
    BOOST_TEST((sa.sa_flags & SA_ONSTACK) != 0, "signal " << sig);
  }
  omp_set_num_threads(2);
  rt::block_interrupts_in_workers();
  int blocked[2] = {-1, -1};
#pragma omp parallel num_threads(2)
  {
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, nullptr, &now);
    blocked[omp_get_thread_num()] = sigismember(&now, SIGINT) + sigismember(&now, SIGTERM);
  }
  BOOST_TEST(blocked[0] == 0);  // the caller keeps them
  BOOST_TEST(blocked[1] == 2);  // the other thread blocks both
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

BOOST_AUTO_TEST_CASE(binarization_and_early_stopping) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  const compiled& c = *cp;
  std::string csv[3];
  int i = 0;
  for (rt::binarize mode : {rt::binarize::none, rt::binarize::dynamic, rt::binarize::fixed}) {
    temp_dir a("bin-a"), b("bin-b");
    auto o = options(1);
    o.binarize_mode = mode;
    auto ra = run(c, o, a.path);
    run(c, o, b.path);
    BOOST_TEST(std::isfinite(ra.epochs.back().train_elbo));
    csv[i] = read(a.path / "metrics.csv");
    BOOST_TEST(csv[i] == read(b.path / "metrics.csv"), "binarize mode " << i << " is not reproducible");
    ++i;
  }
  BOOST_TEST(csv[0] != csv[1]);
  BOOST_TEST(csv[0] != csv[2]);
  BOOST_TEST(csv[1] != csv[2]);
  // The caller's data are untouched by static binarization (grey levels remain).
  bool grey = false;
  for (float v : slice().train.values) grey = grey || (v > 0 && v < 1);
  BOOST_TEST(grey);
  // Early stopping: a validation tenth is held out and its ELBO reported each epoch.
  temp_dir e("early");
  auto o = options(3);
  o.early_stopping = 1;
  auto r = run(c, o, e.path);
  BOOST_REQUIRE(!r.epochs.empty());
  BOOST_TEST(r.epochs.front().valid_elbo.has_value());
  BOOST_TEST(r.best_epoch >= 1);
}

BOOST_AUTO_TEST_CASE(kl_warmup_ramps_beta) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  temp_dir d("warmup");
  auto o = options(3);
  o.beta = 0.8;
  o.kl_warmup = 2;  // β reaches 0.8 after 2 epochs: 0.4 at the end of epoch 1
  auto r = run(*cp, o, d.path);
  BOOST_REQUIRE_EQUAL(r.epochs.size(), 3u);
  BOOST_TEST(r.epochs[0].beta == 0.4, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r.epochs[1].beta == 0.8, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r.epochs[2].beta == 0.8, boost::test_tools::tolerance(1e-12));
}

// The importance-weighted bound with K samples: for K = 1 it estimates the ELBO (whose
// evaluation uses the closed-form KL instead), and its expectation increases with K
// (Burda, Grosse & Salakhutdinov 2016, Theorem 1), staying below log p(x).
BOOST_AUTO_TEST_CASE(importance_weighted_bound_rises_with_k) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  const compiled& c = *cp;
  temp_dir d("iw");
  run(c, options(2), d.path);
  auto params = rt::load_parameters(c.low.graph, (d.path / "checkpoint.safetensors").string());
  vaec::lowered_model iw = vaec::lower(c.model, {true});
  rt::model_binding ib = c.binding;
  ib.g = &iw.graph;
  auto k1 = rt::evaluate(c.binding, ib, params, *slice().test, 1, 7, 2);
  auto k64 = rt::evaluate(c.binding, ib, params, *slice().test, 64, 7, 2);
  BOOST_TEST_MESSAGE("ELBO " << k1.elbo << ", IW K=1 " << k1.iw_loglik << " ± " << k1.iw_stderr << ", IW K=64 "
                             << k64.iw_loglik << " ± " << k64.iw_stderr);
  BOOST_TEST(std::fabs(k1.iw_loglik - k1.elbo) < 3 * k1.iw_stderr + 0.5);
  BOOST_TEST(k64.iw_loglik > k1.iw_loglik + 1.0);  // the gap log p(x) − ELBO is several nats here
  BOOST_TEST(k64.iw_stderr > 0);
  // K larger than a plan's 16,384 columns runs in chunks combined by log-sum-exp; on the
  // same 20 examples it is finite and tighter still.
  rt::dataset few = *slice().test;
  few.count = 20;
  few.values.resize(20 * few.width);
  auto k64few = rt::evaluate(c.binding, ib, params, few, 64, 7, 2);
  auto k20000 = rt::evaluate(c.binding, ib, params, few, 20000, 7, 2);
  BOOST_TEST_MESSAGE("20 examples: IW K=64 " << k64few.iw_loglik << ", K=20000 " << k20000.iw_loglik);
  BOOST_TEST(std::isfinite(k20000.iw_loglik));
  BOOST_TEST(k20000.iw_loglik > k64few.iw_loglik);
  BOOST_TEST(k20000.iw_loglik < k64few.iw_loglik + 10.0);
}

BOOST_AUTO_TEST_CASE(resume_refuses_other_settings) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  temp_dir d("resume-settings");
  auto o = options(2);
  o.interrupt_after = 10;
  run(*cp, o, d.path);
  o.interrupt_after = -1;
  for (auto change : std::vector<std::function<void(rt::train_options&)>>{
           [](rt::train_options& x) { x.batch = 40; }, [](rt::train_options& x) { x.samples = 2; },
           [](rt::train_options& x) { x.seed = 99; }}) {
    auto other = o;
    change(other);
    try {
      run(*cp, other, d.path, true);
      BOOST_ERROR("resumed under other settings");
    } catch (const rt::train_error& e) {
      BOOST_TEST(std::string(e.what()).find("resume with the run's") != std::string::npos, e.what());
    }
  }
  // With the run's own settings it resumes.
  BOOST_TEST(!run(*cp, o, d.path, true).interrupted);
}

BOOST_AUTO_TEST_CASE(data_of_the_wrong_width_is_refused) {
  std::string narrow = small_model;
  for (std::size_t at; (at = narrow.find("784")) != std::string::npos;) narrow.replace(at, 3, "100");
  auto cp = compile_ptr(narrow);
  const compiled& c = *cp;
  rt::data_splits d;
  d.train.width = 784;
  d.train.count = 3;
  d.train.values.assign(3 * 784, 0.5f);
  d.train.origin = "data/train.npy";
  temp_dir dir("width");
  rt::run_files files{dir.path.string(), "{}", {}};
  std::ostringstream log;
  try {
    rt::train(c.binding, d, options(1), files, false, log);
    BOOST_ERROR("no error for data of width 784 against binary[100]");
  } catch (const rt::train_error& e) {
    std::string m = e.what();
    BOOST_TEST(m.find("data/train.npy") != std::string::npos, m);
    BOOST_TEST(m.find("784") != std::string::npos, m);
    BOOST_TEST(m.find("100") != std::string::npos, m);
  }
  // Binary data outside [0, 1].
  auto c784p = compile_ptr(small_model);
  const compiled& c784 = *c784p;
  d.train.values[5] = 255.0f;
  try {
    rt::train(c784.binding, d, options(1), files, false, log);
    BOOST_ERROR("no error for binary data with a value of 255");
  } catch (const rt::train_error& e) {
    BOOST_TEST(std::string(e.what()).find("[0, 1]") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_diverging_run_stops_and_keeps_the_last_good_checkpoint) {
  if (!have_fashion_mnist()) return;
  auto cp = compile_ptr(small_model);
  const compiled& c = *cp;
  temp_dir dir("diverge");
  run(c, options(1), dir.path);
  const std::string good = read(dir.path / "checkpoint.safetensors");
  auto o = options(3);
  o.adam.lr = 1e12;  // diverges within a few steps
  try {
    run(c, o, dir.path, true);
    BOOST_ERROR("a learning rate of 1e12 did not diverge");
  } catch (const rt::train_error& e) {
    std::string m = e.what();
    BOOST_TEST(m.find("training stopped at epoch 2, step") != std::string::npos, m);
    BOOST_TEST((m.find("NaN") != std::string::npos || m.find("infinite") != std::string::npos), m);
    BOOST_TEST(m.find("end of epoch 1") != std::string::npos, m);
  }
  BOOST_TEST(read(dir.path / "checkpoint.safetensors") == good);
}

BOOST_AUTO_TEST_SUITE_END()
