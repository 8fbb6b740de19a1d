// Where a training step's time goes: per-node forward and backward time of a model's
// plan, plus Adam, over a number of steps on random data in [0, 1]; then each matrix
// product of the step on its own: the library the plan chose for it (the fixed rule of
// runtime/matmul.hpp, or the one forced with --kernels), its time, its GFLOP/s against
// the FMA peak measured here at that thread count, and the other library's time for the
// same product (so the rule can be checked on a quiet machine).
// usage: step_profile MODEL.vae [batch] [steps] [threads] [--kernels auto|onednn|blas]
//                     [--precision fp32|bf16]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lang/check.hpp"
#include "lang/lower.hpp"
#include "lang/parse.hpp"
#include "runtime/optim.hpp"
#include "runtime/plan.hpp"

namespace {

// The single-precision FMA peak of `threads` cores, in GFLOP/s: each thread runs 12
// independent chains of vector FMAs (enough to cover the FMA latency on 2 ports).
double fma_peak(int threads) {
  constexpr long iterations = 20'000'000;
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#ifdef __AVX512F__
      constexpr int lanes = 16;
      // Twelve named accumulators, so that they live in registers (an array of them was
      // kept on the stack, and the loop measured store-to-load latency: a third of the peak).
      __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
             a9 = a0, a10 = a0, a11 = a0;
      const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
      for (long i = 0; i < iterations / 12; ++i) {
        a0 = _mm512_fmadd_ps(a0, x, y), a1 = _mm512_fmadd_ps(a1, x, y), a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y), a4 = _mm512_fmadd_ps(a4, x, y), a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y), a7 = _mm512_fmadd_ps(a7, x, y), a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y), a10 = _mm512_fmadd_ps(a10, x, y), a11 = _mm512_fmadd_ps(a11, x, y);
      }
      for (const __m512& a : {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11}) sink += _mm512_reduce_add_ps(a);
#else
      constexpr int lanes = 8;
      __m256 a0 = _mm256_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
             a9 = a0, a10 = a0, a11 = a0;
      const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
      for (long i = 0; i < iterations / 12; ++i) {
        a0 = _mm256_fmadd_ps(a0, x, y), a1 = _mm256_fmadd_ps(a1, x, y), a2 = _mm256_fmadd_ps(a2, x, y);
        a3 = _mm256_fmadd_ps(a3, x, y), a4 = _mm256_fmadd_ps(a4, x, y), a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y), a7 = _mm256_fmadd_ps(a7, x, y), a8 = _mm256_fmadd_ps(a8, x, y);
        a9 = _mm256_fmadd_ps(a9, x, y), a10 = _mm256_fmadd_ps(a10, x, y), a11 = _mm256_fmadd_ps(a11, x, y);
      }
      float out[8];
      for (const __m256& a : {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11}) {
        _mm256_storeu_ps(out, a);
        sink += out[0];
      }
#endif
      (void)lanes;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#ifdef __AVX512F__
    const double flops = 2.0 * 16 * 12 * (iterations / 12) * threads;
#else
    const double flops = 2.0 * 8 * 12 * (iterations / 12) * threads;
#endif
    if (sink == 12345.f) std::printf(" ");  // keeps the chains
    best = std::max(best, flops / s * 1e-9);
  }
  return best;
}

// Seconds per call of `p` on the plan's buffers, best of 5 rounds of `reps` calls.
template <class F>
double seconds_per_call(F&& f, int reps) {
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  vaec::rt::product_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--kernels" || a == "--precision") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--kernels" && (v == "auto" || v == "onednn" || v == "blas"))
        options.path = v == "auto" ? vaec::rt::kernels::automatic : v == "onednn" ? vaec::rt::kernels::onednn : vaec::rt::kernels::blas;
      else if (a == "--precision" && (v == "fp32" || v == "bf16"))
        options.inputs = v == "bf16" ? vaec::rt::precision::bf16 : vaec::rt::precision::fp32;
      else {
        std::fprintf(stderr, "step_profile: %s %s: expected auto|onednn|blas or fp32|bf16\n", a.c_str(), v.c_str());
        return 2;
      }
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) {
    std::fprintf(stderr,
                 "usage: step_profile MODEL.vae [batch] [steps] [threads] [--kernels auto|onednn|blas] "
                 "[--precision fp32|bf16]\n");
    return 2;
  }
  const int batch = positional.size() > 1 ? std::stoi(positional[1]) : 128;
  const int steps = positional.size() > 2 ? std::stoi(positional[2]) : 200;
  const int threads = positional.size() > 3 ? std::stoi(positional[3]) : 2;
  if (options.inputs == vaec::rt::precision::bf16 && !vaec::rt::bf16_supported()) {
    std::fprintf(stderr, "step_profile: %s\n", vaec::rt::bf16_unsupported_message().c_str());
    return 1;
  }
  std::string why;
  auto src = vaec::source::read_file(positional[0], why);
  if (!src) return 1;
  vaec::diagnostics diags(*src);
  auto ast = vaec::parse(*src, diags);
  auto model = ast ? vaec::check(*ast, diags, "m") : std::nullopt;
  if (!model) {
    std::fprintf(stderr, "%s", diags.render().c_str());
    return 1;
  }
  auto low = vaec::lower(*model);
  vaec::rt::set_threads(threads);
  vaec::rt::set_flush_denormals();
  vaec::rt::parameters<float> params(low.graph);
  params.initialize(1);
  vaec::rt::adam<float> opt(params.values.size(), {});
  vaec::rt::plan<float> p(low.graph, params, batch, 1, true, options);
  vaec::rt::rng r(5, vaec::rt::stream::init, 99);
  auto x = p.input(low.data);
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(r.uniform());
  bool finite = true;  // every gradient (adam::step checks them)
  auto step = [&](std::uint64_t s) {
    vaec::rt::rng noise(1, vaec::rt::stream::noise, s);
    p.forward(noise);
    p.backward();
    finite = opt.step(params.values.data(), params.grads.data()) == vaec::rt::adam<float>::status::ok && finite;
  };
  for (int s = 0; s < 20; ++s) step(static_cast<std::uint64_t>(s));
  p.set_profiling(true);
  double adam_seconds = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    vaec::rt::rng noise(1, vaec::rt::stream::noise, static_cast<std::uint64_t>(s));
    p.forward(noise);
    p.backward();
    auto a0 = std::chrono::steady_clock::now();
    finite = opt.step(params.values.data(), params.grads.data()) == vaec::rt::adam<float>::status::ok && finite;
    adam_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count();
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& nodes = low.graph.nodes();
  double fsum = 0, bsum = 0;
  std::printf("%-5s %-18s %-24s %9s %9s\n", "node", "op", "label", "fwd ms", "bwd ms");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    double f = p.forward_seconds()[i] / steps * 1e3, b = p.backward_seconds()[i] / steps * 1e3;
    fsum += f;
    bsum += b;
    if (f + b < 0.005) continue;
    std::printf("%-5zu %-18s %-24.24s %9.3f %9.3f\n", i, std::string(vaec::rt::to_string(nodes[i].op)).c_str(),
                nodes[i].label.c_str(), f, b);
  }
  std::printf("forward %.3f ms, backward %.3f ms, adam %.3f ms, step %.3f ms (%d steps, batch %d, %d threads)\n", fsum,
              bsum, adam_seconds / steps * 1e3, total / steps * 1e3, steps, batch, threads);
  std::printf("an epoch of 60,000 examples: %.2f s\n", total / steps * (60000.0 / batch));
  if (!finite) std::printf("note: a gradient or an update was not finite in these steps (random data, untrained model)\n");

  // Each product on its own, on the plan's buffers (as the last step left them).
  const double peak = fma_peak(threads);
  std::printf("\n%s\nproducts (%s inputs), FMA peak %.0f GFLOP/s at %d thread%s (measured here):\n",
              vaec::rt::kernels_info().c_str(), vaec::rt::to_string(options.inputs).c_str(), peak, threads,
              threads == 1 ? "" : "s");
  std::printf("%-5s %-24.24s %-5s %-18s %-9s %9s %9s %6s %12s\n", "node", "label", "form", "M x K . K x N", "path", "ms",
              "GFLOP/s", "%peak", "other ms");
  vaec::rt::product_options other = options;
  double sum = 0, other_sum = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].op != vaec::rt::op_kind::linear) continue;
    const int node = static_cast<int>(i);
    const auto& lp = p.products(node);
    const auto w = params.value(nodes[i].params[0]);
    const auto dw = params.grad(nodes[i].params[0]);
    const auto x = p.value(nodes[i].inputs[0]);
    const auto y = p.value(node);
    const auto dy = p.grad(node);
    const auto dx = p.grad(nodes[i].inputs[0]);
    struct one {
      const vaec::rt::product<float>* prod;
      const char* form;
      vaec::rt::tensor<float> a, b, c;
      const float* bias;
    };
    const float* b = params.value(nodes[i].params[1]).data;
    const one all[] = {{&lp.forward, "W.x+b", w, x, y, b},
                       {&lp.weight_grad, "dy.xT", dy, x, dw, nullptr},
                       {&lp.input_grad, "WT.dy", w, dy, dx, nullptr}};
    for (const one& o : all) {
      if (!o.prod->defined()) continue;
      const vaec::rt::product<float>& prod = *o.prod;
      const double flops = 2.0 * prod.m() * prod.n() * prod.k();
      const int reps = std::clamp(static_cast<int>(2e8 / flops), 20, 20000);
      // A copy of C: a product that accumulates must not grow the plan's values without bound.
      std::vector<float> keep(o.c.data, o.c.data + o.c.size());
      const double t = seconds_per_call([&] { prod.run(o.a, o.b, o.c, o.bias); }, reps);
      // The other library for the same product (bf16 has only oneDNN).
      other.path = prod.path() == vaec::rt::product_path::onednn ? vaec::rt::kernels::blas : vaec::rt::kernels::onednn;
      double t_other = -1;
      if (options.inputs == vaec::rt::precision::fp32 && vaec::rt::onednn_built()) {
        vaec::rt::product_set<float> set(other);
        auto alt = set.make(prod.trans_a(), prod.trans_b(), prod.m(), prod.n(), prod.k(), false, prod.has_bias(),
                            prod.leads());
        t_other = seconds_per_call([&] { alt.run(o.a, o.b, o.c, o.bias); }, reps);
        other_sum += t_other;
      }
      std::copy(keep.begin(), keep.end(), o.c.data);
      sum += t;
      char shape[64];
      std::snprintf(shape, sizeof shape, "%dx%d.%dx%d", prod.m(), prod.k(), prod.k(), prod.n());
      char other_text[32] = "-";
      if (t_other >= 0) std::snprintf(other_text, sizeof other_text, "%.4f", t_other * 1e3);
      std::printf("%-5zu %-24.24s %-5s %-18s %-9s %9.4f %9.1f %5.1f%% %12s\n", i, nodes[i].label.c_str(), o.form, shape,
                  vaec::rt::to_string(prod.path()), t * 1e3, flops / t * 1e-9, 100 * flops / t * 1e-9 / peak, other_text);
    }
  }
  std::printf("products alone: %.3f ms a step", sum * 1e3);
  if (other_sum > 0) std::printf(" (each on the other library: %.3f ms)", other_sum * 1e3);
  std::printf("\n");
  return 0;
}
