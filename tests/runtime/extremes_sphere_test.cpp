// Issue 9's sweep for the sphere families: every von Mises–Fisher and Power Spherical op —
// sampler, log-density, entropy, KL to the uniform, vMF‖vMF KL — and their gradients, at
// κ ∈ [1e-8, 1e6] (every power of ten, both ends included) and n ∈ {2, 3, 5, 10, 64, 512,
// 1000}, in float and in double. Every value there is finite (a density at a drawn point, an
// entropy, a KL between two distributions with densities), so each op's value and the
// gradient of its parameters must be finite; never NaN.
//
// Beside finiteness, each value is checked against what holds whatever κ and n:
//   - a draw lies on the unit sphere, ‖z‖ = 1;
//   - KL(q ‖ uniform) = log|S^{n−1}| − H[q] ≥ 0 (both ops are computed independently);
//   - KL(vMF(μ, κ) ‖ vMF(μ, κ)) = 0, and KL(vMF(μ, κq) ‖ vMF(μ, κp)) ≥ 0.
// Closed-form values of the special functions themselves are checked against mpmath in
// special_test.cpp and special_families_test.cpp.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "runtime/graph.hpp"
#include "runtime/plan.hpp"
#include "runtime/special.hpp"

namespace rt = vaec::rt;
using rt::op_kind;

namespace {

const int dims[] = {2, 3, 5, 10, 64, 512, 1000};

std::vector<double> kappas() {
  std::vector<double> k;
  for (int e = -8; e <= 6; ++e) k.push_back(std::pow(10.0, e));
  return k;
}

constexpr int columns = 16;

// One op's graph: the concentrations are free parameters (so their gradients are formed),
// the mean directions normalize(param) (so μ's are too).
struct sphere_run {
  std::vector<double> value;   // the op's output, all columns
  std::vector<double> sample;  // the draw, when the op is a sampler's log-density
  std::vector<double> grads;   // every parameter's gradient
  double loss = 0;
};

// `make(g, mean_q, kappa_q, mean_p, kappa_p)` → the op's node [1 or n × columns].
template <class T>
sphere_run run_sphere(int n, double kq, double kp, const std::function<int(rt::graph&, int, int, int, int)>& make,
                      int* sample_node_out = nullptr) {
  rt::graph g;
  // μq leans on e₁ (μ₀ > 0), μp away from it (μ₀ < 0): both reflections are exercised.
  int mq = g.normalize(g.concat({g.param(1, 1.0, rt::param_group::phi, "mq0"),
                                 g.param(n - 1, 0.1, rt::param_group::phi, "mq")}));
  int mp = g.normalize(g.concat({g.param(1, -1.0, rt::param_group::theta, "mp0"),
                                 g.param(n - 1, 0.3, rt::param_group::theta, "mp")}));
  int kqn = g.param(1, kq, rt::param_group::phi, "kq");
  int kpn = g.param(1, kp, rt::param_group::theta, "kp");
  int sample_node = -1;
  int out = make(g, mq, kqn, mp, kpn);
  if (sample_node_out) sample_node = *sample_node_out;
  int total = g.nodes()[static_cast<std::size_t>(out)].rows == 1 ? out : g.sum(out);
  rt::objective_spec spec;
  spec.loglik = total;
  g.objective(spec);
  rt::parameters<T> params(g);
  params.initialize(1);
  rt::plan<T> p(g, params, columns, 1, true);
  rt::rng noise(5, rt::stream::noise, static_cast<std::uint64_t>(n));
  p.forward(noise);
  p.backward();
  sphere_run r;
  auto v = p.value(out);
  for (std::size_t i = 0; i < v.size(); ++i) r.value.push_back(static_cast<double>(v.data[i]));
  if (sample_node >= 0) {
    auto s = p.value(sample_node);
    for (std::size_t i = 0; i < s.size(); ++i) r.sample.push_back(static_cast<double>(s.data[i]));
  }
  for (const auto& info : g.params())
    for (std::size_t k = 0; k < info.size(); ++k) r.grads.push_back(static_cast<double>(params.grads[info.offset + info.at(k)]));
  r.loss = p.result().loss;
  return r;
}

bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}
std::string first_bad(const std::vector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return "[" + std::to_string(i) + "] = " + std::to_string(v[i]);
  return "none";
}

template <class T>
void sweep_one_type(const char* type) {
  int bad = 0, checked = 0;
  for (int n : dims)
    for (double k : kappas()) {
      BOOST_TEST_CONTEXT(type << ", n = " << n << ", kappa = " << k) {
        int znode = -1;
        auto check = [&](const char* what, const sphere_run& r) {
          ++checked;
          const bool ok = all_finite(r.value) && all_finite(r.grads) && all_finite(r.sample) && std::isfinite(r.loss);
          if (!ok) ++bad;
          BOOST_TEST(all_finite(r.value), what << ": value " << first_bad(r.value));
          BOOST_TEST(all_finite(r.grads), what << ": gradient " << first_bad(r.grads));
          BOOST_TEST(all_finite(r.sample), what << ": draw " << first_bad(r.sample));
          BOOST_TEST(std::isfinite(r.loss), what << ": loss " << r.loss);
        };
        // The samplers, through their log-density at the draw (the gradient then flows
        // through the draw: pathwise in μ and κ, and the rejection correction for vMF).
        for (bool power : {false, true}) {
          const char* what = power ? "PowerSpherical log q(z), z ~ q" : "vMF log q(z), z ~ q";
          auto r = run_sphere<T>(n, k, k, [&](rt::graph& g, int mq, int kq, int, int) {
            znode = power ? g.sample_power_spherical(mq, kq, n) : g.sample_vmf(mq, kq, n);
            return power ? g.power_spherical_logpdf(znode, mq, kq, n) : g.vmf_logpdf(znode, mq, kq, n);
          }, &znode);
          check(what, r);
          for (int j = 0; j < columns && all_finite(r.sample); ++j) {
            double norm2 = 0;
            for (int i = 0; i < n; ++i) norm2 += r.sample[static_cast<std::size_t>(j * n + i)] * r.sample[static_cast<std::size_t>(j * n + i)];
            BOOST_TEST(std::fabs(std::sqrt(norm2) - 1) < (sizeof(T) == 4 ? 1e-5 : 1e-12), what << ": ‖z‖ = " << std::sqrt(norm2));
          }
        }
        // The sampler's draw alone, summed, so its gradient is tested without the density's.
        for (bool power : {false, true}) {
          auto r = run_sphere<T>(n, k, k, [&](rt::graph& g, int mq, int kq, int, int) {
            return power ? g.sample_power_spherical(mq, kq, n) : g.sample_vmf(mq, kq, n);
          });
          check(power ? "PowerSpherical draw" : "vMF draw", r);
        }
        const double log_area = std::log(2.0) + 0.5 * n * std::log(M_PI) - std::lgamma(0.5 * n);  // log|S^{n−1}|
        for (bool power : {false, true}) {
          auto h = run_sphere<T>(n, k, k, [&](rt::graph& g, int, int kq, int, int) {
            return power ? g.power_spherical_entropy(kq, n) : g.vmf_entropy(kq, n);
          });
          check(power ? "PowerSpherical entropy" : "vMF entropy", h);
          auto kl = run_sphere<T>(n, k, k, [&](rt::graph& g, int, int kq, int, int) {
            return power ? g.kl_power_spherical_uniform(kq, n) : g.kl_vmf_uniform(kq, n);
          });
          check(power ? "KL(PowerSpherical ‖ uniform)" : "KL(vMF ‖ uniform)", kl);
          if (all_finite(h.value) && all_finite(kl.value)) {
            const double tol = (sizeof(T) == 4 ? 1e-6 : 1e-13) * (1 + std::fabs(log_area) + std::fabs(h.value[0]));
            BOOST_TEST(kl.value[0] >= 0, "KL to the uniform " << kl.value[0]);
            BOOST_TEST(std::fabs(kl.value[0] - (log_area - h.value[0])) <= tol,
                       (power ? "PS" : "vMF") << ": KL " << kl.value[0] << " vs log|S| − H = " << log_area - h.value[0]);
          }
        }
        // KL(vMF(μq, κ) ‖ vMF(μp, κp)) for κp across the range too (every 4th power).
        for (double kp : {1e-8, 1e-4, 1.0, 1e3, 1e6}) {
          auto r = run_sphere<T>(n, k, kp, [&](rt::graph& g, int mq, int kq, int mp, int kpn) {
            return g.kl_vmf_vmf(mq, kq, mp, kpn, n);
          });
          check("KL(vMF ‖ vMF)", r);
          // Same mean direction: KL ≥ 0, and 0 at κp = κq.
          auto same = run_sphere<T>(n, k, kp, [&](rt::graph& g, int mq, int kq, int, int kpn) {
            return g.kl_vmf_vmf(mq, kq, mq, kpn, n);
          });
          check("KL(vMF ‖ vMF), one mean", same);
          if (all_finite(same.value)) {
            // Rounding: each of log C(κq), log C(κp), κA is O(n log κ) in size, and μᵀμ of
            // a normalized μ is 1 to n rounding errors, times κp A(κq).
            const double eps = std::numeric_limits<T>::epsilon();
            const double scale = n * (1 + std::fabs(std::log(k)) + std::fabs(std::log(kp))) + k + kp;
            const double tol = (sizeof(T) == 4 ? 1e-6 : 1e-14) * scale + 2 * n * eps * kp;
            BOOST_TEST(same.value[0] >= -tol, "KL(vMF(μ, " << k << ") ‖ vMF(μ, " << kp << ")) = " << same.value[0]);
            if (kp == k) BOOST_TEST(std::fabs(same.value[0]) <= tol, "KL(q ‖ q) = " << same.value[0]);
          }
        }
      }
    }
  BOOST_TEST_MESSAGE(type << ": " << checked << " op graphs, " << bad << " with a non-finite value or gradient");
}

// {n, κ, H[vMF]} from mpmath at 60 digits: H = −log C_n(κ) − κ I_{n/2}(κ)/I_{n/2−1}(κ).
const double vmf_entropy_reference[][3] = {
    {2, 1e5, -4.3375216992616912078},    {3, 1e6, -10.977633491554928621},   {5, 1e5, -17.350116797271767206},
    {10, 1e6, -49.399366462008991267},   {64, 1e6, -345.79641573470066117},  {1000, 1e6, -5483.5769299581040576},
    {3, 1.0, 2.379428323041155123},      {1000, 1e-8, -2032.0577602564738603},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(extremes_sphere)

// The vMF entropy at large κ: −log C_n(κ) and κA_n(κ) are each ≈ κ, so their sum lost
// log10 κ digits (−10.977633491507731 against −10.977633491554929 at n = 3, κ = 1e6).
BOOST_AUTO_TEST_CASE(vmf_entropy_is_accurate_at_large_kappa) {
  for (const auto& row : vmf_entropy_reference) {
    rt::graph g;
    int h = g.vmf_entropy(g.constant(row[1]), static_cast<int>(row[0]));
    rt::parameters<double> params(g);
    rt::plan<double> p(g, params, 1, 1, false);
    rt::rng noise(1, rt::stream::noise, 0);
    p.forward(noise);
    const double got = p.value(h).data[0];
    BOOST_TEST(std::fabs(got - row[2]) <= 1e-14 * std::fabs(row[2]),
               "n = " << row[0] << ", kappa = " << row[1] << ": " << got << " vs " << row[2] << " (mpmath)");
  }
}

BOOST_AUTO_TEST_CASE(sweep_sphere_families_double) { sweep_one_type<double>("double"); }
BOOST_AUTO_TEST_CASE(sweep_sphere_families_float) { sweep_one_type<float>("float"); }

BOOST_AUTO_TEST_SUITE_END()
