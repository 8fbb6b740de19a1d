// Times each kind of picture at the sizes a training run draws (a 64-image 28×28 grid,
// 10,000-point latent plots, a 10-epoch learning-curve figure) on synthetic numbers, and
// leaves the pictures in OUT_DIR to look at.   pictures_bench OUT_DIR
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "report/pictures.hpp"

namespace rp = vaec::report;

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const std::vector<std::string> fashion = {"T-shirt/top", "trouser", "pullover", "dress", "coat",
                                          "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pictures_bench OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  std::filesystem::create_directories(out);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  double total = 0;
  auto report = [&](const char* what, double s) {
    total += s;
    std::printf("%-44s %7.3f s\n", what, s);
  };

  // 64 grey 28×28 images: rings of varying radius, and 8 RGB 32×32 images.
  std::vector<float> grey(64 * 28 * 28);
  for (int i = 0; i < 64; ++i)
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const double d = std::hypot(r - 13.5, c - 13.5);
        grey[static_cast<std::size_t>(i * 784 + r * 28 + c)] =
            static_cast<float>(std::exp(-std::pow(d - 3 - i / 8.0, 2) / 4));
      }
  report("image grid 64 x 28x28 grey, 8 cols, scale 2",
         seconds([&] { rp::write_image_grid(out + "/samples.png", grey, 64, {1, 28, 28}, 8, 2); }));
  std::vector<float> rgb(8 * 3 * 32 * 32);
  for (int i = 0; i < 8; ++i)
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 32 * 32; ++p)
        rgb[static_cast<std::size_t>(((i * 3 + ch) * 1024) + p)] =
            static_cast<float>(ch == 0 ? (p % 32) / 31.0 : ch == 1 ? (p / 32) / 31.0 : i / 7.0);
  report("image grid 8 x 3x32x32 RGB, 4 cols, scale 3",
         seconds([&] { rp::write_image_grid(out + "/rgb.png", rgb, 8, {3, 32, 32}, 4, 3); }));

  // Learning curves: 10 epochs, KL warm-up over the first 3.
  rp::line_plot curves;
  curves.title = "fashion_gaussian: learning curves";
  curves.xlabel = "epoch";
  curves.width = 800;
  curves.height = 900;
  curves.bands = {{0.5, 3.0}};
  curves.band_label = "KL warm-up";
  std::vector<double> ep;
  for (int e = 1; e <= 10; ++e) ep.push_back(e);
  auto curve = [&](double a, double b, double c) {
    std::vector<double> v;
    for (double e : ep) v.push_back(a + b * std::exp(-e / c));
    return v;
  };
  auto pair = [&](const std::string& label, std::vector<double> train, std::vector<double> test) {
    rp::panel p;
    p.ylabel = label;
    p.lines = {{"train", ep, train, {}, 0, -1, false}, {"test", ep, test, {}, 1, -1, true}};
    return p;
  };
  curves.panels = {pair("ELBO (nats)", curve(-240, -60, 2), curve(-243, -58, 2)),
                   pair("reconstruction (nats)", curve(-225, -70, 2), curve(-228, -68, 2)),
                   pair("KL (nats)", curve(15, 10, 3), curve(15, 10, 3)),
                   {"β (KL weight)", {{"β", ep, {0.33, 0.67, 1, 1, 1, 1, 1, 1, 1, 1}, {}, 2, -1, false}}, false, 0.0,
                    1.1}};
  report("curves (4 panels, 10 epochs)", seconds([&] { rp::plot_lines(out + "/curves", curves); }));

  rp::line_plot ll;
  ll.title = "test log-likelihood against latent size";
  ll.xlabel = "latent dimensions";
  ll.log_x = true;
  rp::panel p;
  p.ylabel = "log-likelihood (nats)";
  p.lines = {{"Gaussian", {2, 5, 10, 20, 40}, {-260, -245, -238, -236, -236}, {2, 1.5, 1, 1, 1.2}},
             {"vMF", {2, 5, 10, 20, 40}, {-255, -242, -237, -238, -241}, {2.5, 1.5, 1.2, 1, 1.5}, -1, -1, true}};
  ll.panels = {p};
  report("log-likelihood vs grid axis, error bars", seconds([&] { rp::plot_lines(out + "/compare", ll); }));

  // 10,000 labelled points in 10 clusters.
  const std::size_t n = 10000;
  std::vector<double> xs(n), ys(n), angles(n), sphere(3 * n);
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(rng() % 10);
    labels[i] = k;
    const double a = 2 * std::numbers::pi * k / 10;
    xs[i] = 2.5 * std::cos(a) + normal(rng);
    ys[i] = 2.5 * std::sin(a) + normal(rng);
    angles[i] = a + 0.3 * normal(rng);
    const double lat = std::asin(-0.9 + 0.2 * k);
    const double v[3] = {std::cos(lat) * std::cos(3 * a) + 0.2 * normal(rng),
                         std::cos(lat) * std::sin(3 * a) + 0.2 * normal(rng), std::sin(lat) + 0.2 * normal(rng)};
    for (int j = 0; j < 3; ++j) sphere[3 * i + static_cast<std::size_t>(j)] = v[j];
  }
  report("scatter, 10,000 points, 10 labels", seconds([&] {
           rp::plot_scatter(out + "/latent", "posterior means of z : real[2]", "z₁", "z₂", xs, ys, labels, fashion);
         }));
  report("circle, 10,000 points, 10 labels", seconds([&] {
           rp::plot_circle(out + "/latent_circle", "posterior mean directions of z : sphere[2]", angles, labels,
                           fashion);
         }));
  report("sphere (Hammer), 10,000 points, 10 labels", seconds([&] {
           rp::plot_sphere(out + "/latent_sphere", "posterior mean directions of z : sphere[3]", sphere, labels,
                           fashion);
         }));
  std::vector<double> kl(20);
  for (std::size_t i = 0; i < kl.size(); ++i) kl[i] = i % 3 == 0 ? 0.002 * static_cast<double>(i) : 3.0 / (1 + static_cast<double>(i) / 4);
  report("bars, 20 latent coordinates, threshold", seconds([&] {
           rp::plot_bars(out + "/kl_per_dim", "test KL per latent coordinate", "latent coordinate",
                         "KL (nats)", kl, rp::threshold_line{0.01, "active-unit threshold (0.01)"});
         }));
  std::printf("%-44s %7.3f s\n", "total", total);
}
