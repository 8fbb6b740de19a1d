// The objectives — the ELBO with S samples, β and free bits, the importance-weighted bound
// (training and evaluation), hierarchies of latents — combine every term correctly
// whatever its shape: constant over samples and examples ([1 × 1]), over samples only
// ([1 × B]), or one value per sample ([1 × B·S]). Each case is checked against the value
// computed by hand from the definitions (DESIGN §2):
//   ELBO_b  = mean_s [ log p(x_b | z_s) − Σ_j (log q(z_js) − log p(z_js)) ],
//   IWAE_b  = log (1/S) Σ_s exp( log p(x_b | z_s) + Σ_j log p(z_js) − log q(z_js) ),
//   loss    = −mean_b recon + Σ_j β·max(KL_j, free bits)   (ELBO),   −mean_b IWAE_b (IWAE),
// with every piece a Normal log-density written out in the test, at the draws the plan
// made; and the gradient of each loss against central finite differences on the same draws.
// Then the model of issue 9 (a likelihood with no per-sample dimension), through the
// language: every K gives log p(x) = 2·log N(1; 0, 0.001²) = −999988.0224, gap 0.
#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "lang/lower.hpp"
#include "runtime/graph.hpp"
#include "runtime/plan.hpp"
#include "tests/lang/test_util.hpp"

namespace rt = vaec::rt;

namespace {

enum class shape { shared, example, sample };
const char* name(shape s) { return s == shape::shared ? "shared" : s == shape::example ? "example" : "sample"; }

constexpr double kScale = 1.5;
constexpr double kConst = 0.3;   // the value of a shared piece's argument
const double kXs[] = {0.0, 1.0, 2.0, -0.5};
constexpr int kB = 4;

double log_normal(double v, double loc, double scale) {
  const double u = (v - loc) / scale;
  return -0.5 * std::log(2 * M_PI) - std::log(scale) - 0.5 * u * u;
}

// A piece log N(v; a, 1.5) with a a free parameter and v chosen for the shape: a constant
// (shared), the data x (per example), or the latent's draw z (per sample).
struct piece {
  shape s;
  int param = -1;  // its loc's parameter index
  int node = -1;
  double loc = 0;
};

int make_piece(rt::graph& g, piece& p, int x, int z, double loc, const std::string& nm) {
  int a = g.param(1, loc, rt::param_group::theta, nm);
  p.param = static_cast<int>(g.params().size()) - 1;
  p.loc = loc;
  int v = p.s == shape::shared ? g.constant(kConst) : p.s == shape::example ? x : z;
  p.node = g.normal_logpdf(v, a, g.constant(kScale), 1);
  return p.node;
}

// Its value in column c = s·B + b, by hand.
double by_hand(const piece& p, int c, const std::vector<double>& z, double loc) {
  const double v = p.s == shape::shared ? kConst : p.s == shape::example ? kXs[c % kB] : z[static_cast<std::size_t>(c)];
  return log_normal(v, loc, kScale);
}

struct setup {
  bool iwae = false;
  int S = 1;
  double beta = 1, free_bits = 0;
  shape ll, lp1, lq1, lp2, lq2;  // two latents: a hierarchy's two KL terms
};

struct outcome {
  double loss = 0, elbo = 0, iwae = 0;
  std::vector<double> per_example, kl;
};

// Builds the graph, runs it at the parameters `locs` (ll, lp1, lq1, lp2, lq2) and returns
// the plan's figures, the draws z, and its loss gradient with respect to each loc.
struct run_result {
  outcome got;
  std::vector<double> z, grad;
};

run_result run(const setup& st, const std::array<double, 5>& locs) {
  rt::graph g;
  int x = g.input(1);
  int z = g.sample_normal(g.constant(0.25), g.constant(0.8), 1);
  std::array<piece, 5> ps{piece{st.ll}, piece{st.lp1}, piece{st.lq1}, piece{st.lp2}, piece{st.lq2}};
  const char* names[] = {"ll", "lp1", "lq1", "lp2", "lq2"};
  for (std::size_t k = 0; k < 5; ++k) make_piece(g, ps[k], x, z, locs[k], names[k]);
  rt::objective_spec spec;
  spec.iwae = st.iwae;
  spec.loglik = ps[0].node;
  for (int j = 0; j < 2; ++j) {
    rt::latent_term t;
    t.name = j == 0 ? "z1" : "z2";
    t.logp = ps[static_cast<std::size_t>(1 + 2 * j)].node;
    t.logq = ps[static_cast<std::size_t>(2 + 2 * j)].node;
    spec.latents.push_back(t);
  }
  g.objective(spec);
  rt::parameters<double> params(g);
  params.initialize(1);
  rt::plan<double> p(g, params, kB, st.S);
  p.settings().beta = st.beta;
  p.settings().free_bits = st.free_bits;
  auto in = p.input(x);
  for (int b = 0; b < kB; ++b) in.data[b] = kXs[b];
  rt::rng noise(7, rt::stream::noise, 0);
  p.forward(noise);
  p.backward();
  run_result r;
  const auto& res = p.result();
  r.got = {res.loss, res.elbo, res.iwae, p.per_example(), res.kl};
  auto zv = p.value(z);
  r.z.assign(zv.data, zv.data + zv.size());
  for (std::size_t k = 0; k < 5; ++k) r.grad.push_back(params.grads[g.params()[static_cast<std::size_t>(ps[k].param)].offset]);
  return r;
}

// The figures by hand from the definitions.
outcome expected(const setup& st, const std::array<double, 5>& locs, const std::vector<double>& z) {
  const std::array<shape, 5> sh{st.ll, st.lp1, st.lq1, st.lp2, st.lq2};
  auto val = [&](std::size_t k, int c) { return by_hand(piece{sh[k]}, c, z, locs[k]); };
  const int S = st.S;
  outcome o;
  o.per_example.assign(kB, 0);
  o.kl.assign(2, 0);
  double recon = 0;
  for (int b = 0; b < kB; ++b) {
    std::vector<double> logw;
    double elbo_b = 0;
    for (int s = 0; s < S; ++s) {
      const int c = s * kB + b;
      double w = val(0, c);
      recon += val(0, c) / (S * kB);
      elbo_b += val(0, c) / S;
      for (int j = 0; j < 2; ++j) {
        const double lp = val(static_cast<std::size_t>(1 + 2 * j), c), lq = val(static_cast<std::size_t>(2 + 2 * j), c);
        w += lp - lq;
        elbo_b -= (lq - lp) / S;
        o.kl[static_cast<std::size_t>(j)] += (lq - lp) / (S * kB);
      }
      logw.push_back(w);
    }
    double m = -INFINITY;
    for (double w : logw) m = std::max(m, w);
    double sum = 0;
    for (double w : logw) sum += std::exp(w - m);
    const double iw = m + std::log(sum / S);
    o.per_example[static_cast<std::size_t>(b)] = st.iwae ? iw : elbo_b;
    o.iwae += iw / kB;
    o.elbo += elbo_b / kB;
  }
  if (st.iwae) {
    o.loss = -o.iwae;
  } else {
    o.loss = -recon;
    for (double kl : o.kl) o.loss += st.beta * (st.free_bits > 0 ? std::max(kl, st.free_bits) : kl);
  }
  return o;
}

bool close(double a, double b, double tol = 1e-11) { return std::fabs(a - b) <= tol * (1 + std::fabs(b)); }

void check_setup(const setup& st) {
  const std::array<double, 5> locs{0.4, -0.2, 0.7, 0.1, -0.6};
  run_result r = run(st, locs);
  outcome e = expected(st, locs, r.z);
  BOOST_TEST(close(r.got.loss, e.loss), "loss " << r.got.loss << " by hand " << e.loss);
  BOOST_TEST(close(r.got.elbo, e.elbo), "elbo " << r.got.elbo << " by hand " << e.elbo);
  if (st.iwae) BOOST_TEST(close(r.got.iwae, e.iwae), "iwae " << r.got.iwae << " by hand " << e.iwae);
  for (int b = 0; b < kB; ++b)
    BOOST_TEST(close(r.got.per_example[static_cast<std::size_t>(b)], e.per_example[static_cast<std::size_t>(b)]),
               "example " << b << ": " << r.got.per_example[static_cast<std::size_t>(b)] << " by hand "
                          << e.per_example[static_cast<std::size_t>(b)]);
  for (int j = 0; j < 2; ++j)
    BOOST_TEST(close(r.got.kl[static_cast<std::size_t>(j)], e.kl[static_cast<std::size_t>(j)]),
               "kl " << j << ": " << r.got.kl[static_cast<std::size_t>(j)] << " by hand " << e.kl[static_cast<std::size_t>(j)]);
  // The gradient of the loss in each piece's loc, against central differences of the
  // hand-computed loss at the same draws (z does not depend on these locs).
  for (std::size_t k = 0; k < 5; ++k) {
    const double h = 1e-5;
    auto lp = locs, lm = locs;
    lp[k] += h;
    lm[k] -= h;
    const double fd = (expected(st, lp, r.z).loss - expected(st, lm, r.z).loss) / (2 * h);
    BOOST_TEST(std::fabs(r.grad[k] - fd) <= 1e-6 * (1 + std::fabs(fd)),
               "d loss / d loc of piece " << k << ": " << r.grad[k] << ", finite differences " << fd);
  }
}

// The issue's model, through the language. `train` settings come from `extra`.
std::string issue_model(const std::string& extra = "") {
  return R"(
data   x : real[2]
latent z : real[1]
p(z) = Normal(0, 1)
p(x | z) { x ~ Normal(loc = param(2, init = 0), scale = 0.001) }
q(z | x) { z ~ Normal(loc = 0 * linear(x, 1), scale = 1) }
)" + extra;
}

struct lang_run {
  rt::objective_result result;
  std::vector<double> per_example;
};

lang_run run_model(const std::string& text, bool iwae, int B, int S) {
  auto r = vaec::test::run(text, "model.vae");
  BOOST_REQUIRE_MESSAGE(r.model, r.rendered);
  vaec::lower_options o;
  o.iwae = iwae;
  vaec::lowered_model low = vaec::lower(*r.model, o);
  rt::parameters<double> params(low.graph);
  params.initialize(1);
  rt::plan<double> p(low.graph, params, B, S, false);
  auto in = p.input(low.data);
  for (std::size_t i = 0; i < in.size(); ++i) in.data[i] = 1.0;
  rt::rng noise(3, rt::stream::noise, 0);
  p.forward(noise);
  return {p.result(), p.per_example()};
}

// 2·log N(1; 0, 0.001²) = −log 2π − 2 log 0.001 − 10⁶.
const double issue_loglik = -std::log(2 * M_PI) - 2 * std::log(0.001) - 1e6;

}  // namespace

BOOST_AUTO_TEST_SUITE(objective)

BOOST_AUTO_TEST_CASE(issue_value_is_right_by_hand) {
  BOOST_TEST(std::fabs(issue_loglik - -999988.0224) < 5e-5);
}

// Every combination of shapes for the likelihood and two latents' log p and log q.
BOOST_AUTO_TEST_CASE(every_shape_every_objective) {
  const shape all[] = {shape::shared, shape::example, shape::sample};
  struct objective_case {
    bool iwae;
    int S;
    double beta, free_bits;
  };
  const objective_case cases[] = {
      {false, 1, 1, 0}, {false, 3, 1, 0}, {false, 3, 0.5, 0}, {false, 3, 2, 0.8},  // ELBO, S, β, free bits
      {true, 1, 1, 0},  {true, 3, 1, 0},  {true, 5, 1, 0},                        // IWAE
  };
  for (const auto& oc : cases)
    for (shape ll : all)
      for (shape lp : all)
        for (shape lq : all) {
          // Latent 2 takes the mirrored shapes, so that both latents see every shape.
          setup st{oc.iwae, oc.S, oc.beta, oc.free_bits, ll, lp, lq, lq, ll};
          BOOST_TEST_CONTEXT((oc.iwae ? "iwae" : "elbo") << " S=" << oc.S << " beta=" << oc.beta << " free_bits="
                                                      << oc.free_bits << " ll=" << name(ll) << " logp=" << name(lp)
                                                      << " logq=" << name(lq)) {
            check_setup(st);
          }
        }
}

// A likelihood with no per-sample dimension: every log-weight is log p(x) exactly, so
// the IW bound is log p(x) for every K, and so is the ELBO (KL(q ‖ p) = 0: q = p).
BOOST_AUTO_TEST_CASE(issue_likelihood_without_sample_dimension) {
  for (int K : {1, 2, 10, 1000}) {
    BOOST_TEST_CONTEXT("K = " << K) {
      lang_run iw = run_model(issue_model(), true, 20, K);
      BOOST_TEST(std::fabs(iw.result.iwae - issue_loglik) < 1e-6, "IW bound " << iw.result.iwae);
      for (double v : iw.per_example) BOOST_TEST(std::fabs(v - issue_loglik) < 1e-6);
      lang_run el = run_model(issue_model(), false, 20, K);
      BOOST_TEST(std::fabs(el.result.elbo - issue_loglik) < 1e-6, "ELBO " << el.result.elbo);
      BOOST_TEST(std::fabs(iw.result.iwae - el.result.elbo) < 1e-6, "gap " << iw.result.iwae - el.result.elbo);
      for (double v : el.per_example) BOOST_TEST(std::fabs(v - issue_loglik) < 1e-6);
    }
  }
  // Training with objective = iwae, samples = 8, builds the same bound.
  lang_run tr = run_model(issue_model("train { objective = iwae\n samples = 8 }\n"), false, 20, 8);
  BOOST_TEST(std::fabs(tr.result.iwae - issue_loglik) < 1e-6, "IWAE training bound " << tr.result.iwae);
  BOOST_TEST(std::fabs(tr.result.loss + issue_loglik) < 1e-6);
}

// The check warns about such a likelihood (and not about one that uses z, even through 0·).
BOOST_AUTO_TEST_CASE(check_warns_when_the_likelihood_ignores_the_latents) {
  auto r = vaec::test::run(issue_model(), "model.vae");
  BOOST_REQUIRE(r.model.has_value());
  int warnings = 0;
  for (const auto& d : r.diags->all())
    if (d.level == vaec::severity::warning && d.kind == vaec::diagnostic_kind::likelihood_ignores_latents) ++warnings;
  BOOST_TEST(warnings == 1, r.rendered);
  std::string uses = issue_model();
  uses.replace(uses.find("param(2, init = 0)"), 18, "param(2, init = 0) + 0 * linear(z, 2)");
  auto u = vaec::test::run(uses, "model.vae");
  BOOST_REQUIRE(u.model.has_value());
  BOOST_TEST(u.rendered.find("depends on no latent") == std::string::npos, u.rendered);
}

BOOST_AUTO_TEST_SUITE_END()
