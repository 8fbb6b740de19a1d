// Gradient checks: every op's vector-Jacobian product against central finite
// differences, in double precision. Each case builds a small graph whose inputs come
// from linear layers (so that the check runs through parameters), weights the op's
// output elementwise by a random data tensor (so that a transposed or permuted gradient
// cannot pass), and sums it into the objective. A last test asserts that every op of
// runtime/ops/ops.def was covered.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <set>
#include <string>

#include "lang/lower.hpp"
#include "tests/lang/test_util.hpp"
#include "runtime/graph.hpp"
#include "runtime/plan.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

std::set<op_kind>& covered() {
  static std::set<op_kind> ops;
  return ops;
}

struct check_result {
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::size_t checked = 0;
};

constexpr int B = 3;        // examples
// Whether the vMF sampler adds its rejection correction: a score-function term, which
// finite differences of one fixed draw cannot see (tests/runtime/families_test.cpp
// checks it statistically). Off for the pathwise checks.
bool rejection_correction = true;
constexpr int data_rows = 4;

// Builds `body(g, x)` → node, closes it into an objective (unless `body` made one),
// and compares the analytic gradient of every parameter element with
// (L(θ + h) − L(θ − h)) / 2h.
check_result gradient_check(const std::function<int(rt::graph&, int)>& body, int samples = 1,
                            double beta = 1, double free_bits = 0, bool close = true) {
  rt::graph g;
  int x = g.input(data_rows, "x");
  int out = body(g, x);
  int weights = -1;
  if (close) {
    weights = g.input(g.nodes()[static_cast<std::size_t>(out)].rows, "w");
    int weighted = g.binary(op_kind::mul, out, weights);
    int total = g.sum(weighted);
    rt::objective_spec spec;
    spec.loglik = total;
    g.objective(spec);
  }
  for (const auto& n : g.nodes()) covered().insert(n.op);

  rt::parameters<double> params(g);
  params.initialize(7);
  // Biases start at small random values too, so no ReLU kink sits exactly at a test point.
  rt::rng r(11, rt::stream::init, 0);
  for (auto& v : params.values) v += 0.3 * (r.uniform() - 0.5);
  rt::plan<double> p(g, params, B, samples);
  p.settings().beta = beta;
  p.settings().free_bits = free_bits;
  p.settings().rejection_correction = rejection_correction;
  auto xin = p.input(x);
  for (std::size_t i = 0; i < xin.size(); ++i) xin.data[i] = 0.05 + 0.9 * r.uniform();
  if (weights >= 0) {
    auto w = p.input(weights);
    for (std::size_t i = 0; i < w.size(); ++i) w.data[i] = 0.5 + r.uniform();
  }
  auto loss = [&] {
    rt::rng noise(3, rt::stream::noise, 0);
    p.forward(noise);
    return p.result().loss;
  };
  loss();
  p.backward();
  std::vector<double> analytic(params.grads.begin(), params.grads.end());

  check_result res;
  for (const auto& info : g.params()) {
    // Up to 24 elements spread over the parameter (so every column's stride is exercised).
    const std::size_t count = std::min<std::size_t>(info.size(), 24);
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t k = j * info.size() / count + j % 7 % std::max<std::size_t>(1, info.size() / count);
      double& theta = params.values[info.offset + info.at(k)];
      const double saved = theta;
      const double h = 1e-6 * std::max(1.0, std::fabs(saved));
      theta = saved + h;
      const double up = loss();
      theta = saved - h;
      const double down = loss();
      theta = saved;
      const double numeric = (up - down) / (2 * h);
      const double a = analytic[info.offset + info.at(k)];
      const double err = std::fabs(a - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      res.max_rel_error = std::max(res.max_rel_error, err / std::max(1e-3, std::fabs(numeric)));
      ++res.checked;
      BOOST_TEST(err <= 1e-6 + 1e-5 * std::fabs(numeric),
                 info.name << "[" << k << "]: analytic " << a << ", finite differences " << numeric);
    }
  }
  BOOST_TEST(res.checked > 0u);
  return res;
}

// A [rows × B] value that depends on parameters.
int lin(rt::graph& g, int x, int rows, const char* name = "l") { return g.linear(x, rows, rt::param_group::phi, name); }
// A positive one: softplus(linear) + 0.2.
int pos(rt::graph& g, int x, int rows) {
  return g.binary(op_kind::add, g.unary(op_kind::softplus, lin(g, x, rows, "pos")), g.constant(0.2));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gradients)

BOOST_AUTO_TEST_CASE(linear_layer) { gradient_check([](rt::graph& g, int x) { return lin(g, x, 5); }); }

// Hidden layers of 128 and 160 units: their weights and (ReLU'd, read only by linear
// layers) activations are stored with padded column strides 144 and 176 (graph.hpp,
// padded_lead; plan.cpp), which the products and the ReLU must honour; one ReLU is read by
// two heads, one by a non-linear op (so it stays dense).
BOOST_AUTO_TEST_CASE(hidden_layers_with_padded_columns) {
  auto body = [](rt::graph& g, int x) {
    const int h1 = g.unary(op_kind::relu, lin(g, x, 128, "h1"));
    const int h2 = g.unary(op_kind::relu, lin(g, h1, 160, "h2"));
    const int h3 = g.unary(op_kind::relu, lin(g, h2, 128, "h3"));
    const int dense = g.unary(op_kind::softplus, g.unary(op_kind::relu, lin(g, h3, 128, "h4")));
    const int heads = g.binary(op_kind::add, lin(g, h3, 3, "a"), lin(g, h3, 3, "b"));
    return g.binary(op_kind::add, heads, lin(g, dense, 3, "c"));
  };
  gradient_check(body);
  // The layout the check ran on.
  rt::graph g;
  body(g, g.input(data_rows, "x"));
  auto lead_of = [&](const std::string& name) {
    for (const auto& info : g.params())
      if (info.name == name) return info.lead();
    return -1;
  };
  BOOST_TEST(lead_of("h1.weight") == 144);
  BOOST_TEST(lead_of("h2.weight") == 176);
  BOOST_TEST(lead_of("a.weight") == 3);
  BOOST_TEST(lead_of("h1.bias") == 128);
  rt::parameters<double> params(g);
  rt::plan<double> p(g, params, B, 1, false);
  std::vector<int> leads;
  for (std::size_t i = 0; i < g.nodes().size(); ++i)
    if (g.nodes()[i].op == op_kind::relu) leads.push_back(p.value(static_cast<int>(i)).lead());
  BOOST_TEST(leads == (std::vector<int>{144, 176, 144, 128}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(elementwise_functions) {
  for (op_kind op : {op_kind::relu, op_kind::elu, op_kind::tanh, op_kind::sigmoid, op_kind::softplus, op_kind::exp,
                     op_kind::square, op_kind::abs, op_kind::negate}) {
    BOOST_TEST_CONTEXT(to_string(op)) { gradient_check([op](rt::graph& g, int x) { return g.unary(op, lin(g, x, 5)); }); }
  }
  BOOST_TEST_CONTEXT("leaky_relu") {
    gradient_check([](rt::graph& g, int x) { return g.unary(op_kind::leaky_relu, lin(g, x, 5), 0.1); });
  }
  // log and sqrt on a positive input
  for (op_kind op : {op_kind::log, op_kind::sqrt}) {
    BOOST_TEST_CONTEXT(to_string(op)) { gradient_check([op](rt::graph& g, int x) { return g.unary(op, pos(g, x, 5)); }); }
  }
}

BOOST_AUTO_TEST_CASE(arithmetic_with_broadcasting) {
  for (op_kind op : {op_kind::add, op_kind::sub, op_kind::mul, op_kind::div}) {
    BOOST_TEST_CONTEXT(to_string(op) << " [5] with [5]") {
      gradient_check([op](rt::graph& g, int x) { return g.binary(op, lin(g, x, 5), pos(g, x, 5)); });
    }
    BOOST_TEST_CONTEXT(to_string(op) << " [5] with [1]") {
      gradient_check([op](rt::graph& g, int x) { return g.binary(op, lin(g, x, 5), pos(g, x, 1)); });
    }
    BOOST_TEST_CONTEXT(to_string(op) << " [1] with [5]") {
      gradient_check([op](rt::graph& g, int x) { return g.binary(op, pos(g, x, 1), pos(g, x, 5)); });
    }
    BOOST_TEST_CONTEXT(to_string(op) << " [5 × B] with a shared param [5]") {
      gradient_check([op](rt::graph& g, int x) {
        int p = g.param(5, 0.7, rt::param_group::theta, "p");
        return g.binary(op, lin(g, x, 5), op == op_kind::div ? g.unary(op_kind::exp, p) : p);
      });
    }
    BOOST_TEST_CONTEXT(to_string(op) << " with a constant") {
      gradient_check([op](rt::graph& g, int x) { return g.binary(op, pos(g, x, 5), g.constant(1.5)); });
    }
  }
}

BOOST_AUTO_TEST_CASE(row_ops) {
  gradient_check([](rt::graph& g, int x) { return g.normalize(lin(g, x, 5)); });
  gradient_check([](rt::graph& g, int x) { return g.sum(lin(g, x, 5)); });
  gradient_check([](rt::graph& g, int x) { return g.norm(lin(g, x, 5)); });
  gradient_check([](rt::graph& g, int x) {
    int p = g.param(2, 0.3, rt::param_group::theta, "p");
    return g.concat({lin(g, x, 3), p, lin(g, x, 1)});
  });
}

BOOST_AUTO_TEST_CASE(normal_family) {
  // Sampling through loc and scale, with S = 2 samples per example.
  gradient_check([](rt::graph& g, int x) { return g.sample_normal(lin(g, x, 3), pos(g, x, 3), 3); }, 2);
  gradient_check([](rt::graph& g, int x) { return g.sample_normal(lin(g, x, 3), pos(g, x, 1), 3); }, 2);
  // log-density in the value, loc and scale (the value is a sample: [3 × B·S] against [3 × B])
  gradient_check(
      [](rt::graph& g, int x) {
        int loc = lin(g, x, 3), scale = pos(g, x, 3);
        int z = g.sample_normal(loc, scale, 3);
        return g.normal_logpdf(z, lin(g, x, 3), pos(g, x, 3), 3);
      },
      2);
  gradient_check([](rt::graph& g, int x) { return g.normal_entropy(pos(g, x, 3), 3); });
  gradient_check([](rt::graph& g, int x) { return g.normal_entropy(pos(g, x, 1), 3); });
  gradient_check([](rt::graph& g, int x) {
    return g.kl_normal_normal(lin(g, x, 3), pos(g, x, 3), lin(g, x, 3), pos(g, x, 3), 3);
  });
  gradient_check([](rt::graph& g, int x) {
    return g.kl_normal_normal(lin(g, x, 3), pos(g, x, 3), g.constant(0), g.constant(1), 3);
  });
}

BOOST_AUTO_TEST_CASE(bernoulli_family) {
  gradient_check([](rt::graph& g, int x) { return g.bernoulli_logits(x, lin(g, x, data_rows)); });
  gradient_check([](rt::graph& g, int x) {
    return g.bernoulli_probs(x, g.unary(op_kind::sigmoid, lin(g, x, data_rows)));
  });
}

// Student-t: the sampler through loc and scale (df fixed: the χ² draw's implicit gradient
// is not the derivative of one fixed draw, and is checked statistically in
// families_test.cpp), the log-density, entropy and KL to a Normal through df as well.
BOOST_AUTO_TEST_CASE(studentt_family) {
  auto df = [](rt::graph& g, int x, int rows) {
    return g.binary(op_kind::add, g.unary(op_kind::softplus, lin(g, x, rows, "df")), g.constant(2.5));
  };
  gradient_check([](rt::graph& g, int x) { return g.sample_studentt(g.constant(4.5), lin(g, x, 3), pos(g, x, 3), 3); }, 2);
  gradient_check([](rt::graph& g, int x) { return g.sample_studentt(g.constant(0.7, 3), lin(g, x, 3), pos(g, x, 1), 3); });
  gradient_check(
      [&](rt::graph& g, int x) {
        int z = g.sample_studentt(g.constant(3.0), lin(g, x, 3), pos(g, x, 3), 3);
        return g.studentt_logpdf(z, df(g, x, 3), lin(g, x, 3), pos(g, x, 3), 3);
      },
      2);
  gradient_check([&](rt::graph& g, int x) { return g.studentt_logpdf(lin(g, x, 3), df(g, x, 1), lin(g, x, 3), pos(g, x, 3), 3); });
  gradient_check([&](rt::graph& g, int x) { return g.studentt_entropy(df(g, x, 3), pos(g, x, 3), 3); });
  gradient_check([&](rt::graph& g, int x) { return g.studentt_entropy(df(g, x, 1), pos(g, x, 1), 3); });
  gradient_check([&](rt::graph& g, int x) {
    return g.kl_studentt_normal(df(g, x, 3), lin(g, x, 3), pos(g, x, 3), lin(g, x, 3), pos(g, x, 3), 3);
  });
  gradient_check([&](rt::graph& g, int x) {
    return g.kl_studentt_normal(df(g, x, 1), lin(g, x, 3), pos(g, x, 3), g.constant(0), g.constant(1), 3);
  });
}

// The sphere families. vMF's sampler is checked pathwise in its mean and concentration
// (the rejection correction off); Power Spherical's in its mean (its concentration moves
// the Gamma draws, checked statistically in families_test.cpp).
BOOST_AUTO_TEST_CASE(sphere_families) {
  auto unit = [](rt::graph& g, int x, int n) { return g.normalize(lin(g, x, n, "mean")); };
  rejection_correction = false;
  for (int n : {2, 3, 5, 12}) {
    BOOST_TEST_CONTEXT("vMF sampler, n = " << n) {
      gradient_check([&](rt::graph& g, int x) { return g.sample_vmf(unit(g, x, n), pos(g, x, 1), n); }, 2);
    }
  }
  BOOST_TEST_CONTEXT("vMF sampler, n = 3, small concentration") {
    gradient_check([&](rt::graph& g, int x) {
      return g.sample_vmf(unit(g, x, 3), g.binary(op_kind::mul, pos(g, x, 1), g.constant(1e-6)), 3);
    });
  }
  rejection_correction = true;
  for (int n : {2, 5}) {
    BOOST_TEST_CONTEXT("Power Spherical sampler, n = " << n) {
      gradient_check([&](rt::graph& g, int x) { return g.sample_power_spherical(unit(g, x, n), g.constant(2.5), n); }, 2);
    }
  }
  gradient_check([&](rt::graph& g, int x) { return g.binary(op_kind::add, g.sample_sphere_uniform(4), lin(g, x, 4)); });
  gradient_check(
      [&](rt::graph& g, int x) {
        int z = g.sample_power_spherical(unit(g, x, 4), g.constant(3.0), 4);
        return g.vmf_logpdf(z, unit(g, x, 4), pos(g, x, 1), 4);
      },
      2);
  gradient_check(
      [&](rt::graph& g, int x) {
        int z = g.sample_power_spherical(unit(g, x, 4), g.constant(3.0), 4);
        return g.power_spherical_logpdf(z, unit(g, x, 4), pos(g, x, 1), 4);
      },
      2);
  gradient_check([&](rt::graph& g, int x) { return g.sphere_uniform_logpdf(unit(g, x, 4), 4); });
  for (int n : {3, 10}) {
    gradient_check([&](rt::graph& g, int x) { return g.vmf_entropy(pos(g, x, 1), n); });
    gradient_check([&](rt::graph& g, int x) { return g.kl_vmf_uniform(pos(g, x, 1), n); });
    gradient_check([&](rt::graph& g, int x) { return g.power_spherical_entropy(pos(g, x, 1), n); });
    gradient_check([&](rt::graph& g, int x) { return g.kl_power_spherical_uniform(pos(g, x, 1), n); });
    gradient_check([&](rt::graph& g, int x) {
      return g.kl_vmf_vmf(unit(g, x, n), pos(g, x, 1), unit(g, x, n), pos(g, x, 1), n);
    });
  }
  gradient_check([&](rt::graph& g, int x) {
    return g.binary(op_kind::add, g.sphere_uniform_entropy(5), g.sum(lin(g, x, 2)));
  });
}

// The Gaussian-mixture prior's log-density through z (a draw, and a per-example value),
// the means, the scales (softplus, through a parameter) and the weight logits, for one
// component and several (components overlapping, so every responsibility is neither 0
// nor 1). Its sampler has no gradient: checked with constant inputs, for coverage.
BOOST_AUTO_TEST_CASE(mixture_family) {
  for (int K : {1, 3}) {
    BOOST_TEST_CONTEXT("K = " << K) {
      auto mixture = [K](rt::graph& g, int z) {
        const int n = 3;
        int means = g.param_standard_normal(n * K, rt::param_group::theta, "means");
        int scales = g.binary(op_kind::add, g.unary(op_kind::softplus, g.param(n * K, 0.5, rt::param_group::theta, "s")),
                              g.constant(0.2));
        int logits = g.param(K, 0, rt::param_group::theta, "logits");
        return g.mixture_logpdf(z, means, scales, logits, n);
      };
      gradient_check([&](rt::graph& g, int x) { return mixture(g, g.sample_normal(lin(g, x, 3), pos(g, x, 3), 3)); }, 2);
      gradient_check([&](rt::graph& g, int x) { return mixture(g, lin(g, x, 3)); });
    }
  }
  gradient_check([](rt::graph& g, int x) {
    return g.binary(op_kind::add, g.sample_mixture(g.constant(0.5, 6), g.constant(1.0, 6), g.constant(0, 2), 3), lin(g, x, 3));
  });
}

// The VampPrior's component densities (runtime/ops/vamp.hpp) for each q family: z from q
// at the data, the components from the same encoder layers (linear_shared) at K learned
// pseudo-inputs u [data_rows × K], so the check covers the gradient that reaches the
// shared layers twice and the pseudo-inputs through them. K = 1 and K = 3 (overlapping
// components: every responsibility strictly between 0 and 1); a shared (one-column)
// component parameter too. pick_component and gather_component (prior draws, no
// gradient) with constant inputs, for coverage.
BOOST_AUTO_TEST_CASE(vamp_families) {
  for (int K : {1, 3}) {
    BOOST_TEST_CONTEXT("K = " << K) {
      // The encoder: h = tanh(W1·in + b1), then heads; at the data (x) and at u.
      struct encoder {
        int l1 = -1, heads[3] = {-1, -1, -1};
        int hidden(rt::graph& g, int in) {
          const int a = l1 < 0 ? (l1 = g.linear(in, 5, rt::param_group::phi, "enc1")) : g.linear_shared(in, l1);
          return g.unary(op_kind::tanh, a);
        }
        int head(rt::graph& g, int h, int i, int rows) {
          if (heads[i] < 0) return heads[i] = g.linear(h, rows, rt::param_group::phi, "head");
          return g.linear_shared(h, heads[i]);
        }
        int positive(rt::graph& g, int h, int i, int rows) {
          return g.binary(op_kind::add, g.unary(op_kind::softplus, head(g, h, i, rows)), g.constant(0.3));
        }
        int unit(rt::graph& g, int h, int i, int rows) { return g.normalize(head(g, h, i, rows)); }
      };
      auto pseudo = [K](rt::graph& g) {
        return g.unary(op_kind::sigmoid, g.param_columns(data_rows, K, rt::param_info::init_kind::training_examples_logit,
                                                         rt::param_group::theta, "u"));
      };
      // Normal
      gradient_check([&](rt::graph& g, int x) {
        encoder e;
        const int hx = e.hidden(g, x);
        const int z = g.sample_normal(e.head(g, hx, 0, 3), e.positive(g, hx, 1, 3), 3);
        const int hu = e.hidden(g, pseudo(g));
        return g.vamp_logpdf(op_kind::vamp_normal, z, {e.head(g, hu, 0, 3), e.positive(g, hu, 1, 3)}, K, 3);
      }, 2);
      // Normal with a shared scale (the same for every component)
      gradient_check([&](rt::graph& g, int x) {
        encoder e;
        const int z = lin(g, x, 3);
        const int scale = g.binary(op_kind::add, g.unary(op_kind::softplus, g.param(3, 0.2, rt::param_group::phi, "s")),
                                   g.constant(0.3));
        return g.vamp_logpdf(op_kind::vamp_normal, z, {e.head(g, e.hidden(g, pseudo(g)), 0, 3), scale}, K, 3);
      });
      // von Mises–Fisher and Power Spherical on S^2: z a unit vector from the data.
      for (op_kind op : {op_kind::vamp_vmf, op_kind::vamp_power_spherical}) {
        gradient_check([&](rt::graph& g, int x) {
          encoder e;
          const int z = g.normalize(lin(g, x, 3));
          const int hu = e.hidden(g, pseudo(g));
          return g.vamp_logpdf(op, z, {e.unit(g, hu, 0, 3), e.positive(g, hu, 1, 1)}, K, 3);
        });
      }
      // Student-t: df, loc and scale per component ([1], [3], [3]).
      gradient_check([&](rt::graph& g, int x) {
        encoder e;
        const int z = lin(g, x, 3);
        const int hu = e.hidden(g, pseudo(g));
        return g.vamp_logpdf(op_kind::vamp_studentt, z,
                             {e.positive(g, hu, 0, 1), e.head(g, hu, 1, 3), e.positive(g, hu, 2, 3)}, K, 3);
      });
    }
  }
  gradient_check([](rt::graph& g, int x) {
    const int pick = g.pick_component(4);
    return g.binary(op_kind::add, g.gather_component(g.constant(0.5, 3), pick), lin(g, x, 3));
  });
  // An AggregatePosterior's components: constants (constant_matrix, 3 components that
  // overlap), through which no gradient flows; the gradient reaches z alone.
  gradient_check([](rt::graph& g, int x) {
    const int z = lin(g, x, 3);
    const int loc = g.constant_matrix({0.1, -0.4, 0.3, 0.5, 0.2, -0.1, -0.3, 0.0, 0.6}, 3, 3);
    const int scale = g.constant_matrix({0.9, 1.2, 0.7, 1.1, 0.8, 1.3, 1.0, 0.6, 0.9}, 3, 3);
    return g.vamp_logpdf(op_kind::vamp_normal, z, {loc, scale}, 3, 3);
  });
}

BOOST_AUTO_TEST_CASE(continuous_bernoulli) {
  // logits around 0 (the series branch), across ±½ and far out
  for (double s : {0.05, 1.0, 40.0}) {
    BOOST_TEST_CONTEXT("logits scale " << s) {
      gradient_check([s](rt::graph& g, int x) {
        return g.cbernoulli_logits(x, g.binary(op_kind::mul, lin(g, x, data_rows), g.constant(s)));
      });
    }
  }
  gradient_check([](rt::graph& g, int x) { return g.cbernoulli_logits(x, lin(g, x, 1)); });
  gradient_check([](rt::graph& g, int x) {
    return g.cbernoulli_probs(x, g.unary(op_kind::sigmoid, lin(g, x, data_rows)));
  });
}

// A whole VAE objective: q(z | x) Normal, p(z) = N(0, 1), p(x | z) Bernoulli, in every
// KL mode, with β, free bits and the IWAE bound.
BOOST_AUTO_TEST_CASE(objectives) {
  using kind = rt::latent_term::kind;
  auto vae = [](kind method, bool iwae) {
    return [method, iwae](rt::graph& g, int x) {
      int h = g.unary(op_kind::tanh, lin(g, x, 6));
      int loc = lin(g, h, 2), scale = pos(g, h, 2);
      int z = g.sample_normal(loc, scale, 2);
      int logits = g.linear(z, data_rows, rt::param_group::theta, "dec");
      rt::objective_spec spec;
      spec.loglik = g.bernoulli_logits(x, logits);
      spec.iwae = iwae;
      rt::latent_term t;
      t.name = "z";
      t.method = method;
      int zero = g.constant(0), one = g.constant(1);
      if (method == kind::closed_form) t.kl = g.kl_normal_normal(loc, scale, zero, one, 2);
      if (method == kind::entropy_plus_mc) t.entropy = g.normal_entropy(scale, 2);
      if (method != kind::closed_form) t.logp = g.normal_logpdf(z, zero, one, 2);
      if (method == kind::monte_carlo) t.logq = g.normal_logpdf(z, loc, scale, 2);
      spec.latents.push_back(t);
      return g.objective(spec);
    };
  };
  for (kind m : {kind::closed_form, kind::entropy_plus_mc, kind::monte_carlo}) {
    BOOST_TEST_CONTEXT("ELBO, method " << static_cast<int>(m)) { gradient_check(vae(m, false), 2, 1.0, 0, false); }
    BOOST_TEST_CONTEXT("β = 0.3, method " << static_cast<int>(m)) { gradient_check(vae(m, false), 2, 0.3, 0, false); }
  }
  BOOST_TEST_CONTEXT("free bits well above the KL: its gradient is zero") {
    gradient_check(vae(kind::closed_form, false), 1, 1.0, 50.0, false);
  }
  BOOST_TEST_CONTEXT("IWAE, 4 samples") { gradient_check(vae(kind::monte_carlo, true), 4, 1.0, 0, false); }
}

// Whole models from .vae text, lowered: the wiring of lowering (which node feeds which,
// θ and φ, the KL pieces of each latent) is checked through the same finite differences.
BOOST_AUTO_TEST_CASE(lowered_models) {
  const std::string hierarchy = R"(
data   x  : binary[4]
latent z1 : real[3]
latent z2 : real[2]
p(z2) = Normal(0, 1)
p(z1 | z2) = Normal(loc = linear(z2, 3), scale = softplus(linear(z2, 3)) + 0.1)
p(x | z1) {
  h = tanh(linear(z1, 5))
  x ~ Bernoulli(logits = linear(h, 4))
}
q(z1 | x) {
  h = mlp(x, [5], activation = elu)
  z1 ~ Normal(loc = linear(h, 3), scale = exp(linear(h, 3)))
}
q(z2 | z1) = Normal(loc = linear(concat(z1, param(1)), 2), scale = sigmoid(linear(z1, 2)) + 0.2)
)";
  const std::string grey = R"(
data   x : real[4]
latent z : real[2]
p(z) = Normal(param(2), 2)
p(x | z) = Normal(loc = linear(z, 4), scale = softplus(param(4)) + 0.5)
q(z | x) = Normal(loc = linear(x, 2) * 0.5, scale = exp(linear(x, 2) - 1))
)";
  // The families' wiring. Fixed df and a fixed Power Spherical concentration: their
  // gradients go through Gamma draws by implicit reparameterization, which finite
  // differences of one draw cannot see (families_test.cpp checks them statistically).
  const std::string heavy = R"(
data   x : real[4]
latent z : real[3]
p(z) = StudentT(df = softplus(param(1)) + 0.5, loc = param(3), scale = 1.5)
p(x | z) = StudentT(df = 4, loc = linear(z, 4), scale = softplus(param(4)) + 0.5)
q(z | x) = StudentT(df = 5, loc = linear(x, 3), scale = exp(linear(x, 3) - 1))
)";
  const std::string heavy_closed = R"(
data   x : binary[4]
latent z : real[2]
p(z) = Normal(param(2), softplus(param(2)) + 0.5)
p(x | z) = ContinuousBernoulli(logits = linear(z, 4))
q(z | x) = StudentT(df = 3.5, loc = linear(x, 2), scale = exp(linear(x, 2) - 1))
)";
  const std::string spheres = R"(
data   x : binary[4]
latent z : sphere[5]
latent u : sphere[3]
p(z) = VonMisesFisher(mean = normalize(param(5, init = 1)), concentration = softplus(param(1)) + 0.5)
p(u) = HypersphericalUniform()
p(x | z, u) = Bernoulli(logits = linear(concat(z, u), 4))
q(z | x) = VonMisesFisher(mean = normalize(linear(x, 5)), concentration = softplus(linear(x, 1)) + 1)
q(u | x) = PowerSpherical(mean = normalize(linear(x, 3)), concentration = 2.5)
)";
  const std::string sphere_mixed = R"(
data   x : binary[4]
latent z : sphere[4]
p(z) = PowerSpherical(mean = normalize(param(4, init = 1)), concentration = softplus(param(1)) + 0.5)
p(x | z) = ContinuousBernoulli(probs = sigmoid(linear(z, 4)))
q(z | x) = VonMisesFisher(mean = normalize(linear(x, 4)), concentration = softplus(linear(x, 1)) + 1)
)";
  const std::string mixture = R"(
data   x : real[4]
latent z : real[3]
p(z) = GaussianMixture(components = 4)
p(x | z) = Normal(loc = linear(z, 4), scale = softplus(param(4)) + 0.5)
q(z | x) = Normal(loc = linear(x, 3), scale = exp(linear(x, 3) - 1))
)";
  // Joint blocks: one trunk feeding two samples on each side, a later sample reading an
  // earlier one (q(u | x, z), p(x | z1, u)), a p block of a latent and the data.
  const std::string joint = R"(
data   x : binary[4]
latent z : sphere[3]
latent u : real[2]
p(z) = HypersphericalUniform()
p(u, x | z) {
  h = tanh(linear(z, 5))
  u ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 0.2)
  x ~ Bernoulli(logits = linear(concat(h, u), 4))
}
q(z, u | x) {
  h = mlp(x, [5], activation = elu)
  z ~ VonMisesFisher(mean = normalize(linear(h, 3)), concentration = softplus(linear(h, 1)) + 1)
  u ~ Normal(loc = linear(concat(h, z), 2), scale = exp(linear(h, 2) - 1))
}
)";
  // VampPriors: q's layers evaluated at the data and at the pseudo-inputs (shared φ).
  const std::string vamp = R"(
data   x : binary[4]
latent z : real[3]
p(z) = VampPrior(pseudo_inputs = 3)
p(x | z) = Bernoulli(logits = linear(z, 4))
q(z | x) {
  h = tanh(linear(x, 5))
  z ~ Normal(loc = linear(h, 3), scale = softplus(linear(h, 3)) + 0.2)
}
)";
  const std::string vamp_sphere = R"(
data   x : real[4]
latent z : sphere[3]
p(z) = VampPrior(pseudo_inputs = 2)
p(x | z) = Normal(loc = linear(z, 4), scale = 1)
q(z | x) {
  h = tanh(linear(x, 5))
  z ~ VonMisesFisher(mean = normalize(linear(h, 3)), concentration = softplus(linear(h, 1)) + 1)
}
)";
  const std::string vamp_t = R"(
data   x : binary[4]
latent z : real[2]
p(z) = VampPrior(pseudo_inputs = 3)
p(x | z) = Bernoulli(logits = linear(z, 4))
q(z | x) {
  h = tanh(linear(x, 5))
  z ~ StudentT(df = 5, loc = linear(h, 2), scale = softplus(linear(h, 2)) + 0.2)
}
)";
  struct model_case {
    std::string name, text, train;
    int samples;
  };
  for (const model_case& c : std::vector<model_case>{
           {"hierarchy, best KL", hierarchy, "", 2},
           {"hierarchy, kl = mc, beta = 0.5", hierarchy, "train { kl = mc beta = 0.5 }", 2},
           {"hierarchy, iwae", hierarchy, "train { objective = iwae samples = 3 }", 3},
           {"Normal likelihood", grey, "", 2},
           {"Student-t prior and likelihood, entropy + MC", heavy, "", 2},
           {"Student-t ‖ Normal closed form, continuous Bernoulli", heavy_closed, "", 2},
           {"vMF ‖ vMF and PowerSpherical ‖ uniform closed forms", spheres, "", 2},
           {"spheres, kl = mc", spheres, "train { kl = mc }", 2},
           {"vMF posterior, Power Spherical prior (entropy + MC)", sphere_mixed, "", 2},
           {"spheres, iwae", spheres, "train { objective = iwae samples = 3 }", 3},
           {"Gaussian-mixture prior, entropy + MC", mixture, "", 2},
           {"Gaussian-mixture prior, kl = mc", mixture, "train { kl = mc }", 2},
           {"Gaussian-mixture prior, iwae", mixture, "train { objective = iwae samples = 3 }", 3},
           {"joint blocks, best KL", joint, "", 2},
           {"joint blocks, kl = mc", joint, "train { kl = mc }", 2},
           {"joint blocks, iwae", joint, "train { objective = iwae samples = 3 }", 3},
           {"VampPrior of Normals, entropy + MC", vamp, "", 2},
           {"VampPrior of Normals, kl = mc", vamp, "train { kl = mc }", 2},
           {"VampPrior of Normals, iwae", vamp, "train { objective = iwae samples = 3 }", 3},
           {"VampPrior of vMFs on S^2, real data", vamp_sphere, "", 2},
           {"VampPrior of Student-t", vamp_t, "", 2},
       }) {
    BOOST_TEST_CONTEXT(c.name) {
      auto compiled = vaec::test::run(c.text + c.train, "m.vae");
      auto& m = compiled.model;
      BOOST_REQUIRE_MESSAGE(m, compiled.rendered);
      auto low = vaec::lower(*m);
      for (const auto& n : low.graph.nodes()) covered().insert(n.op);
      rt::parameters<double> params(low.graph);
      params.initialize(5);
      // Pseudo-inputs (which the trainer fills from the data): distinct values.
      rt::rng u(13, rt::stream::init, 2);
      for (const auto& info : low.graph.params())
        if (info.init == rt::param_info::init_kind::training_examples ||
            info.init == rt::param_info::init_kind::training_examples_logit)
          for (std::size_t k = 0; k < info.size(); ++k) params.values[info.offset + info.at(k)] = 2 * u.uniform() - 1;
      rt::plan<double> p(low.graph, params, B, c.samples);
      p.settings().beta = m->settings.beta;
      p.settings().rejection_correction = false;
      rt::rng r(9, rt::stream::init, 1);
      auto x = p.input(low.data);
      for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = 0.1 + 0.8 * r.uniform();
      auto loss = [&] {
        rt::rng noise(4, rt::stream::noise, 0);
        p.forward(noise);
        return p.result().loss;
      };
      loss();
      p.backward();
      const std::vector<double> analytic(params.grads.begin(), params.grads.end());
      std::size_t checked = 0;
      for (const auto& info : low.graph.params()) {
        for (std::size_t k = 0; k < std::min<std::size_t>(info.size(), 6); ++k) {
          double& theta = params.values[info.offset + info.at(k)];
          const double saved = theta, h = 1e-6 * std::max(1.0, std::fabs(saved));
          theta = saved + h;
          const double up = loss();
          theta = saved - h;
          const double down = loss();
          theta = saved;
          const double numeric = (up - down) / (2 * h), a = analytic[info.offset + info.at(k)];
          BOOST_TEST(std::fabs(a - numeric) <= 1e-6 + 1e-5 * std::fabs(numeric),
                     info.name << "[" << k << "]: analytic " << a << ", finite differences " << numeric);
          ++checked;
        }
      }
      BOOST_TEST(checked > 20u);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_op_is_checked) {
  // Runs last (Boost.Test runs cases in declaration order within a suite).
#define VAEC_OP(name, impl) BOOST_TEST(covered().count(op_kind::name) == 1u, "op '" #name "' has no gradient check");
#include "runtime/ops/ops.def"
#undef VAEC_OP
}

BOOST_AUTO_TEST_SUITE_END()
