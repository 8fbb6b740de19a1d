// p(z) = AggregatePosterior(run = "DIR", examples = M) (figures/aggregate_prior.hpp) against
// values computed here, never by the code under test:
//  - M = 1: the source run (trained here for an epoch on one example x_1) gives the prior
//    q*(· | x_1) itself, whose parameters are recomputed from the checkpoint's tensors as
//    PyTorch lays them out (W [out, in] row-major); the new model's KL estimate
//    −H[q′(· | x)] − E[log p(z)] lies within 4 standard errors of the closed form
//    KL(q′(· | x) ‖ q*(· | x_1)) for Normal–Normal and vMF–vMF;
//  - the components are constants: after training steps (forward, backward, Adam) their
//    values are bit for bit those computed when the plan was built, and the graph holds no
//    parameter for them (θ and φ counts are those of the same model with a N(0, I) prior);
//  - a changed or missing source is refused when the run is reopened; a source that does
//    not fit (another latent type or name, q conditioned on another latent, too few examples,
//    not a run folder, not finished) is refused when a run starts, at the prior's place.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>
#include <xmmintrin.h>

#include <fmt/format.h>

#include "figures/aggregate_prior.hpp"
#include "lang/lower.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/digest.hpp"
#include "runtime/optim.hpp"
#include "runtime/plan.hpp"
#include "tests/lang/test_util.hpp"
#include "tests/runtime/kl_estimate.hpp"

namespace rt = vaec::rt;
namespace fs = std::filesystem;

namespace {

const double x1[3] = {0.8, -1.3, 2.1};  // the source's one training example

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("vaec-aggregate-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// Trains `text` for one epoch on the one example x1 into `dir`, as vaec does, and writes its
// model.vae and run.json.
void make_source_run(const fs::path& dir, const std::string& text) {
  fs::create_directories(dir);
  const fs::path csv = dir.parent_path() / "x1.csv";
  write_text(csv, fmt::format("{},{},{}\n", x1[0], x1[1], x1[2]));
  auto r = vaec::test::run(text, "source.vae");
  BOOST_REQUIRE_MESSAGE(r.model, r.rendered);
  const vaec::lowered_model low = vaec::lower(*r.model);
  const rt::model_binding b = vaec::bind(low, *r.model);
  const rt::data_splits data = rt::load_data(csv.string());
  rt::train_options o;
  o.epochs = 1;
  o.batch = 1;
  o.threads = 1;
  o.seed = 3;
  rt::run_files files;
  files.dir = dir.string();
  files.metadata_json = "{}";
  std::ostringstream log;
  // Training flushes denormals to zero for the process (rt::set_flush_denormals); the suites
  // that run after this one expect the default floating-point environment back.
  const unsigned int csr = _mm_getcsr();
  rt::train(b, data, o, files, false, log);
  _mm_setcsr(csr);
  write_text(dir / "model.vae", text);
  rt::run_record rec;
  rec.model_name = "source";
  rec.model_file = "source.vae";
  rec.model_sha256 = rt::sha256_hex(text);
  rec.data = rec.data_path = csv.string();
  rec.data_fingerprint = rt::fingerprint(data);
  rec.options = o;
  rec.version = "test";
  write_text(dir / "run.json", rt::to_json(rec));
}

// A checkpoint tensor by the end of its name ("linear1.weight"), as float64.
std::vector<double> tensor_ending(const rt::checkpoint& ck, const std::string& end) {
  for (const auto& [name, t] : ck.tensors)
    if (name.size() >= end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0 &&
        name.find("adam") == std::string::npos) {
      const std::vector<float> v = t.as_f32();
      return {v.begin(), v.end()};
    }
  BOOST_FAIL("no tensor " + end);
  return {};
}

// W·x1 + b for a torch.nn.Linear layer's tensors (W [out, in] row-major).
std::vector<double> affine(const std::vector<double>& w, const std::vector<double>& b) {
  std::vector<double> y(b);
  for (std::size_t i = 0; i < b.size(); ++i)
    for (std::size_t j = 0; j < 3; ++j) y[i] += w[i * 3 + j] * x1[j];
  return y;
}

double softplus(double v) { return v > 30 ? v : std::log1p(std::exp(v)); }

// The new model, checked and its AggregatePosterior resolved with `o`; the diagnostics'
// rendering in `rendered`.
struct resolved {
  vaec::test::run_result r;
  bool ok = false;
};
resolved resolve(const std::string& text, const fs::path& cwd, const std::vector<rt::prior_source>* recorded = nullptr) {
  resolved out{vaec::test::run(text, "new.vae"), false};
  BOOST_REQUIRE_MESSAGE(out.r.model, out.r.rendered);
  vaec::figures::aggregate_options o;
  o.seed = 11;
  o.working_directory = cwd;
  o.recorded = recorded;
  o.load = [](const std::string& path, const std::vector<std::string>& sets) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return vaec::test::run(text.str(), path, sets).model;
  };
  out.ok = vaec::figures::resolve_aggregate_priors(*out.r.model, *out.r.diags, o);
  out.r.rendered = out.r.diags->render();
  return out;
}

using vaec::test::estimate;
estimate kl_estimate(const rt::plan<double>& p, const rt::latent_term& t, int b) {
  return vaec::test::kl_estimate(p, t.entropy, t.logp, b);
}

const std::string normal_source = R"(
data   x : real[3]
latent z : real[2]
p(z) = Normal(0, 1)
p(x | z) = Normal(loc = linear(z, 3), scale = 1)
q(z | x) = Normal(loc = linear(x, 2), scale = softplus(linear(x, 2)) + 0.1)
)";

std::string normal_new(const std::string& run, const std::string& examples = "1") {
  return fmt::format(R"(
data   x : real[3]
latent z : real[2]
p(z) = AggregatePosterior(run = "{}", examples = {})
p(x | z) = Normal(loc = linear(z, 3), scale = 1)
q(z | x) = Normal(loc = linear(x, 2), scale = softplus(linear(x, 2)) + 0.2)
)",
                     run, examples);
}

const std::string vmf_source = R"(
data   x : real[3]
latent z : sphere[3]
p(z) = HypersphericalUniform()
p(x | z) = Normal(loc = linear(z, 3), scale = 1)
q(z | x) = VonMisesFisher(mean = normalize(linear(x, 3)), concentration = softplus(linear(x, 1)) + 1)
)";

const std::string vmf_new = R"(
data   x : real[3]
latent z : sphere[3]
p(z) = AggregatePosterior(run = "src", examples = 1)
p(x | z) = Normal(loc = linear(z, 3), scale = 1)
q(z | x) = VonMisesFisher(mean = normalize(linear(x, 3)), concentration = softplus(linear(x, 1)) + 2)
)";

// Lowers the resolved model, and runs a forward pass over the batch xs (3 × B) with S samples.
struct evaluated {
  vaec::lowered_model low;
  std::unique_ptr<rt::parameters<double>> params;
  std::unique_ptr<rt::plan<double>> plan;
  rt::latent_term term;
};
void evaluate(evaluated& e, const vaec::checked_model& m, const std::vector<double>& xs, int B, int S) {
  e.low = vaec::lower(m);
  e.params = std::make_unique<rt::parameters<double>>(e.low.graph);
  e.params->initialize(5);
  e.plan = std::make_unique<rt::plan<double>>(e.low.graph, *e.params, B, S, false);
  auto x = e.plan->input(e.low.data);
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = xs[i];
  rt::rng noise(9, rt::stream::noise, 0);
  e.plan->forward(noise);
  e.term = e.low.graph.nodes()[static_cast<std::size_t>(e.low.graph.objective_node())].objective.latents.at(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(aggregate_prior)

// M = 1 with Normal q: p(z) = q*(z | x_1), so the KL term estimates the closed form
// Σ log(σ*/σ′) + (σ′² + (μ′ − μ*)²)/(2σ*²) − ½.
BOOST_AUTO_TEST_CASE(one_example_normal_matches_closed_form_kl) {
  temp_dir t;
  make_source_run(t.path / "src", normal_source);
  const rt::checkpoint ck = rt::read_checkpoint((t.path / "src" / "checkpoint.safetensors").string());
  const std::vector<double> mu = affine(tensor_ending(ck, "q(z | x).linear1.weight"), tensor_ending(ck, "q(z | x).linear1.bias"));
  std::vector<double> sigma = affine(tensor_ending(ck, "q(z | x).linear2.weight"), tensor_ending(ck, "q(z | x).linear2.bias"));
  for (double& s : sigma) s = softplus(s) + 0.1;

  resolved r = resolve(normal_new("src"), t.path);
  BOOST_REQUIRE_MESSAGE(r.ok, r.r.rendered);
  const auto& fx = *r.r.model->factors[0].dist.fixed;
  BOOST_TEST(fx.count == 1);
  BOOST_TEST((fx.family == vaec::family_id::normal));
  BOOST_TEST(fx.run == (t.path / "src").string());
  BOOST_TEST(fx.checkpoint_sha256 == vaec::figures::file_sha256(t.path / "src" / "checkpoint.safetensors"));
  for (int i = 0; i < 2; ++i) {  // the encoder's pass, in float, against the tensors here in double
    BOOST_TEST(std::fabs(fx.values[0][static_cast<std::size_t>(i)] - mu[static_cast<std::size_t>(i)]) <= 1e-5);
    BOOST_TEST(std::fabs(fx.values[1][static_cast<std::size_t>(i)] - sigma[static_cast<std::size_t>(i)]) <= 1e-5);
  }

  const int B = 2, S = 20000;
  evaluated e;
  evaluate(e, *r.r.model, {3.0, -2.5, 4.0, 1.2, -3.8, 2.5}, B, S);
  const auto& q = e.low.dists.at(0).q_params;
  auto mu_q = e.plan->value(q[0]), s_q = e.plan->value(q[1]);
  for (int b = 0; b < B; ++b) {
    double closed = 0;
    for (int i = 0; i < 2; ++i) {
      const double sq = s_q.data[b * 2 + i], sp = fx.values[1][static_cast<std::size_t>(i)],
                   d = mu_q.data[b * 2 + i] - fx.values[0][static_cast<std::size_t>(i)];
      closed += std::log(sp / sq) + (sq * sq + d * d) / (2 * sp * sp) - 0.5;
    }
    const estimate est = kl_estimate(*e.plan, e.term, b);
    BOOST_TEST(closed > 0.05);  // q′ and q* differ: a test that can fail
    BOOST_TEST(std::fabs(est.mean - closed) <= 4 * est.standard_error,
               "example " << b << ": estimate " << est.mean << " ± " << est.standard_error << ", closed form " << closed);
  }
}

// M = 1 with vMF q on S^2: KL(vMF(μ′, κ′) ‖ vMF(μ*, κ*)) = κ′A(κ′) + log C(κ′) − log C(κ*)
// − κ* A(κ′) μ*ᵀμ′, with A(κ) = coth κ − 1/κ and log C(κ) = log κ − log(4π sinh κ) on S^2.
BOOST_AUTO_TEST_CASE(one_example_vmf_matches_closed_form_kl) {
  temp_dir t;
  make_source_run(t.path / "src", vmf_source);
  const rt::checkpoint ck = rt::read_checkpoint((t.path / "src" / "checkpoint.safetensors").string());
  std::vector<double> mean = affine(tensor_ending(ck, "q(z | x).linear1.weight"), tensor_ending(ck, "q(z | x).linear1.bias"));
  const double norm = std::sqrt(mean[0] * mean[0] + mean[1] * mean[1] + mean[2] * mean[2]);
  for (double& v : mean) v /= norm;
  const double kappa = softplus(affine(tensor_ending(ck, "q(z | x).linear2.weight"), tensor_ending(ck, "q(z | x).linear2.bias"))[0]) + 1;

  resolved r = resolve(vmf_new, t.path);
  BOOST_REQUIRE_MESSAGE(r.ok, r.r.rendered);
  const auto& fx = *r.r.model->factors[0].dist.fixed;
  BOOST_TEST((fx.family == vaec::family_id::von_mises_fisher));
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(std::fabs(fx.values[0][i] - mean[i]) <= 1e-5);
  BOOST_TEST(std::fabs(fx.values[1][0] - kappa) <= 1e-5 * kappa);

  const int B = 2, S = 20000;
  evaluated e;
  evaluate(e, *r.r.model, {3.0, -2.5, 4.0, 1.2, -3.8, 2.5}, B, S);
  const auto& q = e.low.dists.at(0).q_params;
  auto mu_q = e.plan->value(q[0]), k_q = e.plan->value(q[1]);
  auto log_c3 = [](double k) { return std::log(k) - std::log(4 * M_PI) - k - std::log1p(-std::exp(-2 * k)) + std::log(2.0); };
  auto a3 = [](double k) { return 1 / std::tanh(k) - 1 / k; };
  for (int b = 0; b < B; ++b) {
    const double kq = k_q.data[b], kp = fx.values[1][0];
    double dot = 0;
    for (std::size_t i = 0; i < 3; ++i) dot += fx.values[0][i] * mu_q.data[static_cast<std::size_t>(b) * 3 + i];
    const double closed = kq * a3(kq) + log_c3(kq) - log_c3(kp) - kp * a3(kq) * dot;
    const estimate est = kl_estimate(*e.plan, e.term, b);
    BOOST_TEST(closed > 0.05);
    BOOST_TEST(std::fabs(est.mean - closed) <= 4 * est.standard_error,
               "example " << b << ": estimate " << est.mean << " ± " << est.standard_error << ", closed form " << closed);
  }
}

// The components are constants: no parameter of the graph holds them (θ and φ as with a
// N(0, I) prior), and after training steps (forward, backward, Adam) the plan's values of
// them are bit for bit those written when the plan was built.
BOOST_AUTO_TEST_CASE(components_are_constants) {
  temp_dir t;
  make_source_run(t.path / "src", normal_source);
  resolved r = resolve(normal_new("src"), t.path);
  BOOST_REQUIRE_MESSAGE(r.ok, r.r.rendered);
  auto plain = vaec::test::run(normal_source, "plain.vae").model;
  BOOST_REQUIRE(plain);
  BOOST_TEST(r.r.model->theta_count() == plain->theta_count());
  BOOST_TEST(r.r.model->phi_count() == plain->phi_count());
  const vaec::lowered_model low = vaec::lower(*r.r.model), plain_low = vaec::lower(*plain);
  BOOST_TEST(low.graph.param_storage() == plain_low.graph.param_storage());
  BOOST_TEST(low.graph.param_count(rt::param_group::theta) == plain_low.graph.param_count(rt::param_group::theta));
  BOOST_TEST(low.graph.param_count(rt::param_group::phi) == plain_low.graph.param_count(rt::param_group::phi));
  std::vector<int> constants;
  for (std::size_t i = 0; i < low.graph.nodes().size(); ++i)
    if (low.graph.nodes()[i].op == rt::op_kind::constant_matrix) constants.push_back(static_cast<int>(i));
  BOOST_REQUIRE(constants.size() == 2u);  // loc and scale of q*

  rt::parameters<float> params(low.graph);
  params.initialize(1);
  rt::adam<float> opt(params.values.size(), {});
  rt::plan<float> p(low.graph, params, 4, 2);
  std::vector<std::vector<float>> before;
  for (int c : constants) {
    BOOST_TEST(!p.needs_grad(c));
    const auto v = p.value(c);
    before.emplace_back(v.data, v.data + v.size());
    const auto& want = low.graph.nodes()[static_cast<std::size_t>(c)].values;
    for (std::size_t i = 0; i < want.size(); ++i) BOOST_TEST(before.back()[i] == static_cast<float>(want[i]));
  }
  auto x = p.input(low.data);
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i % 5) - 2.0f;
  const std::vector<float> start(params.values.begin(), params.values.end());
  for (std::uint64_t s = 0; s < 5; ++s) {
    rt::rng noise(1, rt::stream::noise, s);
    p.forward(noise);
    p.backward();
    BOOST_TEST((opt.step(params.values.data(), params.grads.data()) == rt::adam<float>::status::ok),
               "a gradient or an update was not finite at step " << s);
  }
  BOOST_TEST(std::vector<float>(params.values.begin(), params.values.end()) != start);  // training moved θ and φ
  for (std::size_t k = 0; k < constants.size(); ++k) {
    const auto v = p.value(constants[k]);
    BOOST_TEST(std::memcmp(v.data, before[k].data(), before[k].size() * sizeof(float)) == 0);
  }
}

// Reopening a run: the recorded source with the recorded hash is read; a flipped byte in the
// source's checkpoint, or a source gone, is refused, naming the file and the fix.
BOOST_AUTO_TEST_CASE(a_changed_or_missing_source_is_refused) {
  temp_dir t;
  make_source_run(t.path / "src", normal_source);
  resolved first = resolve(normal_new("src"), t.path);
  BOOST_REQUIRE(first.ok);
  const std::vector<rt::prior_source> recorded = vaec::figures::prior_sources(*first.r.model);
  BOOST_REQUIRE(recorded.size() == 1u);
  BOOST_TEST(recorded[0].latent == "z");
  BOOST_TEST(recorded[0].examples == 1);
  // From another working directory: the recorded absolute path is what counts.
  resolved again = resolve(normal_new("src"), fs::path("/"), &recorded);
  BOOST_TEST(again.ok, again.r.rendered);

  const fs::path ckpt = t.path / "src" / "checkpoint.safetensors";
  {
    std::fstream f(ckpt, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 1));
  }
  resolved changed = resolve(normal_new("src"), t.path, &recorded);
  BOOST_TEST(!changed.ok);
  BOOST_TEST(changed.r.errors() == std::vector<std::string>{"aggregate_source 4:33"}, changed.r.rendered);
  BOOST_TEST(changed.r.rendered.find(ckpt.string() + " changed since this run started") != std::string::npos,
             changed.r.rendered);

  fs::rename(t.path / "src", t.path / "gone");
  resolved missing = resolve(normal_new("src"), t.path, &recorded);
  BOOST_TEST(!missing.ok);
  BOOST_TEST(missing.r.rendered.find((t.path / "src").string() + " does not exist (recorded in this run's run.json)") !=
                 std::string::npos,
             missing.r.rendered);
}

// Starting a run on a source that does not fit: each refused at the prior's place.
BOOST_AUTO_TEST_CASE(a_source_that_does_not_fit_is_refused) {
  temp_dir t;
  make_source_run(t.path / "src", normal_source);
  auto refused = [&](const std::string& text, const std::string& error, const std::string& words) {
    resolved r = resolve(text, t.path);
    BOOST_TEST(!r.ok, text);
    BOOST_TEST(r.r.errors() == std::vector<std::string>{error}, r.r.rendered);
    BOOST_TEST(r.r.rendered.find(words) != std::string::npos, r.r.rendered);
  };
  refused(normal_new("nowhere"), "aggregate_source 4:33", "does not exist (run = \"nowhere\" resolved against the working directory");
  refused(normal_new("src", "2"), "aggregate_source 4:51", "examples = 2 is more than the source run's 1 training examples");
  std::string other_type = normal_new("src");
  other_type.replace(other_type.find("real[2]"), 7, "real[3]");
  other_type.replace(other_type.find("linear(x, 2), scale = softplus(linear(x, 2))"), 44,
                     "linear(x, 3), scale = softplus(linear(x, 3))");
  refused(other_type, "aggregate_source 4:33", "'z' is real[3] here but real[2] in the source run's model");
  std::string other_name = normal_new("src");
  for (std::size_t at; (at = other_name.find("z")) != std::string::npos;) other_name[at] = 'w';
  refused(other_name, "aggregate_source 4:33", "has no latent 'w' (its latents: 'z')");
  // q*(z | x, w): the source's posterior of z is not defined by an example alone.
  make_source_run(t.path / "deep", R"(
data   x : real[3]
latent w : real[2]
latent z : real[2]
p(w) = Normal(0, 1)
p(z | w) = Normal(loc = linear(w, 2), scale = 1)
p(x | z) = Normal(loc = linear(z, 3), scale = 1)
q(w | x) = Normal(loc = linear(x, 2), scale = softplus(linear(x, 2)) + 0.1)
q(z | x, w) = Normal(loc = linear(concat(x, w), 2), scale = 1)
)");
  refused(normal_new("deep"), "aggregate_source 4:33", "the source's q(z | x, w) conditions on 'w' besides the data");
  fs::create_directories(t.path / "empty");
  refused(normal_new("empty"), "aggregate_source 4:33", "is not a run folder of vaec");
  {  // A run stopped early: its run.json asks for 5 epochs, its checkpoint holds 1.
    std::ifstream in(t.path / "src" / "run.json");
    std::stringstream text;
    text << in.rdbuf();
    rt::run_record rec = rt::parse_run_record(text.str(), "run.json");
    rec.options.epochs = 5;
    write_text(t.path / "src" / "run.json", rt::to_json(rec));
  }
  refused(normal_new("src"), "aggregate_source 4:33", "is not finished: its checkpoint holds epoch 1 of 5; finish it");
  fs::remove(t.path / "src" / "checkpoint.safetensors");
  refused(normal_new("src"), "aggregate_source 4:33", "is not finished: it has no checkpoint.safetensors yet");
}

BOOST_AUTO_TEST_SUITE_END()
