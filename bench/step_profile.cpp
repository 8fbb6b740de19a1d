// Where a training step's time goes: per-node forward and backward time of a model's
// plan, plus Adam, over a number of steps on random data in [0, 1].
// usage: step_profile MODEL.vae [batch] [steps] [threads]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lang/check.hpp"
#include "lang/lower.hpp"
#include "lang/parse.hpp"
#include "runtime/optim.hpp"
#include "runtime/plan.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: step_profile MODEL.vae [batch] [steps] [threads]\n");
    return 2;
  }
  const int batch = argc > 2 ? std::stoi(argv[2]) : 128;
  const int steps = argc > 3 ? std::stoi(argv[3]) : 200;
  const int threads = argc > 4 ? std::stoi(argv[4]) : 2;
  std::string why;
  auto src = vaec::source::read_file(argv[1], why);
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
  vaec::rt::plan<float> p(low.graph, params, batch, 1);
  vaec::rt::rng r(5, vaec::rt::stream::init, 99);
  auto x = p.input(low.data);
  for (std::size_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(r.uniform());
  auto step = [&](std::uint64_t s) {
    vaec::rt::rng noise(1, vaec::rt::stream::noise, s);
    p.forward(noise);
    p.backward();
    opt.step(params.values.data(), params.grads.data());
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
    opt.step(params.values.data(), params.grads.data());
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
  return 0;
}
