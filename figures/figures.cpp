#include "figures/figures.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <Eigen/Eigenvalues>
#include <fmt/format.h>

#include "lang/lower.hpp"
#include "report/pictures.hpp"
#include "runtime/decode.hpp"
#include "runtime/plan.hpp"

namespace vaec::figures {

namespace fs = std::filesystem;

namespace {

constexpr int batch = 500;  // columns a forward pass takes at once (as vaec sample)

struct decoder {
  lowered_model low;
  std::vector<float> params;
  decoder(const checked_model& m, const std::string& checkpoint, latent_source src)
      : low(lower(m, {false, src})), params(rt::load_parameters(low.graph, checkpoint)) {}
};

// Copies the examples [from, from + n) of `d` into the plan's data input.
void fill_data(rt::plan<float>& p, int node, const rt::dataset& d, std::size_t from, int n) {
  const rt::tensor<float> in = p.input(node);
  std::copy_n(d.values.data() + from * d.width, static_cast<std::size_t>(n) * d.width, in.data);
}

// The first n columns of a node's value, appended to `out` ([rows × n]).
void take_node(const rt::plan<float>& p, int node, int n, std::vector<float>& out) {
  const rt::tensor<float> t = p.value(node);
  for (int j = 0; j < n; ++j) {
    const float* column = t.data + static_cast<std::size_t>(j) * static_cast<std::size_t>(t.lead());
    out.insert(out.end(), column, column + t.rows);
  }
}

std::vector<float> decode_with(decoder& dec, std::size_t count, std::uint64_t seed, bool draw, const rt::dataset* d,
                               const progress_fn& progress) {
  const rt::likelihood_nodes& lik = dec.low.likelihood;
  const std::size_t rows = static_cast<std::size_t>(lik.rows);
  std::vector<float> x(rows * count);
  rt::rng draws(seed, rt::stream::sample_draw, 0);
  rt::forward_batches(
      dec.low.graph, dec.params, count, batch, seed, rt::stream::sample,
      [&](rt::plan<float>& p, std::size_t from, int n) {
        if (d) fill_data(p, dec.low.data, *d, from, n);
      },
      [&](const rt::plan<float>& p, std::size_t from, int n) {
        std::span<float> out(x.data() + from * rows, static_cast<std::size_t>(n) * rows);
        if (draw)
          rt::likelihood_draw(lik, p, n, draws, out);
        else
          rt::likelihood_mean(lik, p, n, out);
        if (progress) progress(from + static_cast<std::size_t>(n), count);
      });
  return x;
}

// Decodes given latents (one latent, [n × count]) to the likelihood's mean.
std::vector<float> decode_latent_values(const checked_model& m, const std::string& checkpoint,
                                        const std::vector<float>& z, std::size_t count) {
  decoder dec(m, checkpoint, latent_source::inputs);
  const int node = dec.low.latent_inputs.at(0);
  const std::size_t zr = static_cast<std::size_t>(dec.low.graph.nodes()[static_cast<std::size_t>(node)].rows);
  const rt::likelihood_nodes& lik = dec.low.likelihood;
  const std::size_t rows = static_cast<std::size_t>(lik.rows);
  std::vector<float> x(rows * count);
  rt::forward_batches(
      dec.low.graph, dec.params, count, batch, 0, rt::stream::sample,
      [&](rt::plan<float>& p, std::size_t from, int n) {
        std::copy_n(z.data() + from * zr, static_cast<std::size_t>(n) * zr, p.input(node).data);
      },
      [&](const rt::plan<float>& p, std::size_t from, int n) {
        rt::likelihood_mean(lik, p, n, std::span<float>(x.data() + from * rows, static_cast<std::size_t>(n) * rows));
      });
  return x;
}

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

const std::vector<std::string> fashion_classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::vector<std::string> label_names(const std::vector<std::int32_t>& labels, bool fashion) {
  const int top = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  if (fashion && top < 10) return fashion_classes;
  std::vector<std::string> names;
  for (int i = 0; i <= top; ++i) names.push_back(std::to_string(i));
  return names;
}

// Images [channels·height·width × count] (column j = image j in the data's own order:
// channels first) written as a grid; non-image data as a plot of the first few examples.
void draw_examples(const fs::path& dir, const std::string& base, const std::vector<float>& x, std::size_t count,
                   const layout& lay, int cols, const std::string& title, std::size_t rows_of_x) {
  if (lay.image) {
    report::write_image_grid((dir / (base + ".png")).string(), x, static_cast<int>(count),
                             {lay.channels, lay.height, lay.width}, cols, 2);
    return;
  }
  report::line_plot plot;
  plot.title = title;
  plot.xlabel = "coordinate of x";
  report::panel panel;
  panel.ylabel = "value";
  for (std::size_t j = 0; j < std::min<std::size_t>(count, 6); ++j) {
    report::series s;
    s.name = fmt::format("{} {}", base == "reconstructions" ? (j % 2 == 0 ? "example" : "reconstruction") : "sample",
                         base == "reconstructions" ? j / 2 + 1 : j + 1);
    s.marker = -2;
    s.dashed = base == "reconstructions" && j % 2 == 1;
    for (std::size_t i = 0; i < rows_of_x; ++i) {
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(x[j * rows_of_x + i]);
    }
    panel.lines.push_back(std::move(s));
  }
  plot.panels.push_back(std::move(panel));
  report::plot_lines((dir / base).string(), plot);
}

// KL(N(μq, σq²) ‖ N(μp, σp²)) of one coordinate.
double kl_normal(double mq, double sq, double mp, double sp) {
  const double r = sq / sp, d = (mq - mp) / sp;
  return -std::log(r) + 0.5 * (r * r + d * d) - 0.5;
}

}  // namespace

void plot_values(const std::string& base, const std::vector<float>& x, std::size_t rows, std::size_t count,
                 const std::string& title) {
  draw_examples(fs::path(base).parent_path(), fs::path(base).filename().string(), x, count, layout{}, 1, title, rows);
}

layout layout_of(const var_type& t) {
  const picture_layout p = picture_of(t);  // the language's rule: a declared shape, or a perfect square
  layout l;
  l.image = p.what == picture_layout::kind::image;
  l.channels = p.channels;
  l.height = p.height;
  l.width = p.width;
  return l;
}

std::vector<float> decode_prior(const checked_model& m, const std::string& checkpoint, std::size_t count,
                                std::uint64_t seed, bool draw, const progress_fn& progress) {
  decoder dec(m, checkpoint, latent_source::prior_draws);
  return decode_with(dec, count, seed, draw, nullptr, progress);
}

std::vector<float> decode_posterior(const checked_model& m, const std::string& checkpoint, const rt::dataset& d,
                                    std::size_t count, std::uint64_t seed, bool location, bool draw,
                                    const progress_fn& progress) {
  decoder dec(m, checkpoint, location ? latent_source::posterior_location : latent_source::posterior_draws);
  return decode_with(dec, std::min(count, d.count), seed, draw, &d, progress);
}

std::vector<std::size_t> aggregate_examples(const rt::dataset& d, std::size_t M, std::uint64_t seed) {
  std::vector<std::size_t> order(d.count);
  for (std::size_t i = 0; i < d.count; ++i) order[i] = i;
  const std::size_t take = std::min(M, d.count);
  rt::rng r(seed, rt::stream::aggregate, 0);
  for (std::size_t i = 0; i < take; ++i) {  // a partial Fisher–Yates shuffle
    const std::size_t j = i + static_cast<std::size_t>(r.uniform() * static_cast<double>(d.count - i));
    std::swap(order[i], order[std::min(j, d.count - 1)]);
  }
  order.resize(take);
  return order;
}

namespace {
// The examples `order` of `d` (indices, repeats allowed), in that order, as a data set.
rt::dataset examples_of(const rt::dataset& d, const std::vector<std::size_t>& order) {
  rt::dataset picked;
  picked.width = d.width;
  picked.count = order.size();
  picked.origin = d.origin;
  picked.values.resize(order.size() * d.width);
  for (std::size_t j = 0; j < order.size(); ++j)
    std::copy_n(d.values.data() + order[j] * d.width, d.width, picked.values.data() + j * d.width);
  return picked;
}
}  // namespace

std::vector<float> decode_aggregate(const checked_model& m, const std::string& checkpoint, const rt::dataset& d,
                                    const std::vector<std::size_t>& members, std::size_t count, std::uint64_t seed,
                                    bool draw, const progress_fn& progress) {
  if (members.empty()) throw rt::decode_error("the aggregate posterior needs at least one example");
  // The draws' examples, one a column: member m_j for draw j, then z ~ q(z | x_{m_j}).
  std::vector<std::size_t> order(count);
  rt::rng r(seed, rt::stream::aggregate, 1);
  for (std::size_t j = 0; j < count; ++j)
    order[j] = members[std::min(members.size() - 1, static_cast<std::size_t>(r.uniform() * static_cast<double>(members.size())))];
  const rt::dataset picked = examples_of(d, order);
  decoder dec(m, checkpoint, latent_source::posterior_draws);
  return decode_with(dec, count, seed, draw, &picked, progress);
}

std::vector<std::vector<float>> posterior_parameters(const checked_model& m, const std::string& checkpoint,
                                                     const rt::dataset& d, const std::vector<std::size_t>& members,
                                                     std::size_t latent, std::vector<int>& rows) {
  decoder dec(m, checkpoint, latent_source::posterior_location);
  const rt::dataset picked = examples_of(d, members);
  const std::vector<int>& nodes = dec.low.dists.at(latent).q_params;
  const auto& gn = dec.low.graph.nodes();
  rows.clear();
  std::vector<std::vector<float>> out(nodes.size());
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    if (nodes[k] < 0) throw rt::decode_error("q has a parameter without a node");
    rows.push_back(gn[static_cast<std::size_t>(nodes[k])].rows);
    out[k].reserve(static_cast<std::size_t>(rows.back()) * members.size());
  }
  rt::forward_batches(
      dec.low.graph, dec.params, members.size(), batch, 0, rt::stream::sample,
      [&](rt::plan<float>& p, std::size_t from, int n) { fill_data(p, dec.low.data, picked, from, n); },
      [&](const rt::plan<float>& p, std::size_t, int n) {
        for (std::size_t k = 0; k < nodes.size(); ++k) {
          const rt::tensor<float> t = p.value(nodes[k]);
          if (t.cols == 1)  // shared by every example (a param(n), a constant): one column each
            for (int j = 0; j < n; ++j) out[k].insert(out[k].end(), t.data, t.data + t.rows);
          else
            take_node(p, nodes[k], n, out[k]);
        }
      });
  return out;
}

encoding encode(const checked_model& m, const std::string& checkpoint, const rt::dataset& d, std::size_t count,
                std::uint64_t seed) {
  decoder dec(m, checkpoint, latent_source::posterior_location);
  encoding e;
  e.locations.resize(dec.low.latent_nodes.size());
  e.drawn = dec.low.latent_drawn;
  rt::forward_batches(
      dec.low.graph, dec.params, std::min(count, d.count), batch, seed, rt::stream::sample,
      [&](rt::plan<float>& p, std::size_t from, int n) { fill_data(p, dec.low.data, d, from, n); },
      [&](const rt::plan<float>& p, std::size_t, int n) {
        for (std::size_t l = 0; l < e.locations.size(); ++l) take_node(p, dec.low.latent_nodes[l], n, e.locations[l]);
      });
  return e;
}

std::vector<picture> write_run_pictures(const run_inputs& in) {
  const checked_model& m = *in.model;
  const var_type& xt = m.variables[static_cast<std::size_t>(m.data)].type;
  const layout lay = layout_of(xt);
  const std::size_t xr = static_cast<std::size_t>(xt.size);
  std::vector<picture> out;
  const std::string ext = lay.image ? ".png" : ".png/.svg";

  // Prior samples: the same draws as `vaec sample RUN -n 64 --seed S`.
  auto t = clock_type::now();
  const std::vector<float> samples = decode_prior(m, in.checkpoint, 64, in.seed, false);
  draw_examples(in.dir, "samples", samples, 64, lay, 8, "decoder means of z ~ p(z)", xr);
  out.push_back({"samples" + ext, "64 decoder means of z ~ p(z) (seed " + std::to_string(in.seed) + ")", since(t)});

  // Aggregate-posterior samples: the same draws as `vaec sample RUN -n 64 --from aggregate`.
  if (in.train && in.train->count > 0) {
    t = clock_type::now();
    const std::vector<std::size_t> members = aggregate_examples(*in.train, 1000, in.seed);
    const std::vector<float> agg = decode_aggregate(m, in.checkpoint, *in.train, members, 64, in.seed, false);
    draw_examples(in.dir, "samples_aggregate", agg, 64, lay, 8, "decoder means of z ~ (1/M) Σ q(z | x_m)", xr);
    out.push_back({"samples_aggregate" + ext,
                   fmt::format("64 decoder means of z ~ the aggregate posterior (1/M) Σ q(z | x_m), M = {} training "
                               "examples (seed {})",
                               members.size(), in.seed),
                   since(t)});
  }

  encoding enc;
  const std::size_t n_enc = in.test ? std::min<std::size_t>(in.test->count, 5000) : 0;
  if (in.test) {
    // Reconstructions: rows alternate between 8 test examples and their reconstructions.
    t = clock_type::now();
    const std::size_t n = std::min<std::size_t>(in.test->count, 32);
    const std::vector<float> rec = decode_posterior(m, in.checkpoint, *in.test, n, in.seed, true, false);
    enc = encode(m, in.checkpoint, *in.test, n_enc, in.seed);
    const bool drawn = std::any_of(enc.drawn.begin(), enc.drawn.end(), [](bool b) { return b; });
    std::vector<float> grid;
    std::size_t cells = 0;
    const std::size_t cols = lay.image ? 8 : 1;
    for (std::size_t from = 0; from < n; from += cols) {
      const std::size_t k = std::min(cols, n - from);
      for (const auto* src : {&in.test->values, static_cast<const rt::aligned_vector<float>*>(nullptr)}) {
        for (std::size_t j = from; j < from + k; ++j) {
          const float* p = src ? src->data() + j * xr : rec.data() + j * xr;
          grid.insert(grid.end(), p, p + xr);
          ++cells;
        }
        if (lay.image)
          for (std::size_t j = k; j < cols; ++j) {
            grid.insert(grid.end(), xr, 0.5f);
            ++cells;
          }
      }
    }
    draw_examples(in.dir, "reconstructions", grid, cells, lay, static_cast<int>(cols), "test examples and reconstructions", xr);
    out.push_back({"reconstructions" + ext,
                   fmt::format("{} test examples (odd rows) and their reconstructions (even rows): the decoder's "
                               "mean at {}",
                               n, drawn ? "one posterior draw (q has no location)" : "the posterior's location (mean, or mean direction)"),
                   since(t)});
  }

  // Learning curves.
  if (!in.epochs.empty()) {
    t = clock_type::now();
    report::line_plot plot;
    plot.title = fmt::format("{}: learning curves", m.name);
    plot.xlabel = "epoch";
    plot.height = 900;
    auto curve = [&](const std::string& name, auto get, bool dashed) {
      report::series s;
      s.name = name;
      s.dashed = dashed;
      for (const auto& e : in.epochs) {
        const std::optional<double> v = get(e);
        if (!v) continue;
        s.x.push_back(e.epoch);
        s.y.push_back(*v);
      }
      return s;
    };
    auto panel = [&](const std::string& ylabel, auto train_of, auto test_of) {
      report::panel p;
      p.ylabel = ylabel;
      p.lines.push_back(curve("train", train_of, false));
      report::series test = curve("test", test_of, true);
      if (!test.x.empty()) p.lines.push_back(std::move(test));
      return p;
    };
    using E = rt::epoch_metrics;
    plot.panels.push_back(panel("ELBO (nats)", [](const E& e) -> std::optional<double> { return e.train_elbo; },
                                [](const E& e) { return e.test_elbo; }));
    plot.panels.push_back(panel("reconstruction (nats)", [](const E& e) -> std::optional<double> { return e.train_recon; },
                                [](const E& e) { return e.test_recon; }));
    plot.panels.push_back(panel("KL (nats)", [](const E& e) -> std::optional<double> { return e.train_kl; },
                                [](const E& e) { return e.test_kl; }));
    report::panel beta;
    beta.ylabel = "KL weight β";
    beta.legend = false;
    beta.lines.push_back(curve("β", [](const E& e) -> std::optional<double> { return e.beta; }, false));
    plot.panels.push_back(std::move(beta));
    if (in.kl_warmup > 0) {
      const double last = in.epochs.back().epoch;
      const double cycle = in.kl_cycle > 0 ? in.kl_cycle : last + 1;
      for (double start = 0; start < last; start += cycle) plot.bands.push_back({start, std::min(last, start + in.kl_warmup)});
      plot.band_label = in.kl_cycle > 0 ? "KL warm-up of each cycle" : "KL warm-up";
    }
    report::plot_lines((in.dir / "curves").string(), plot);
    out.push_back({"curves.png/.svg", "train and test ELBO, reconstruction and KL (nats) and β per epoch", since(t)});
  }

  if (in.test && m.latents.size() >= 1 && !enc.locations.empty()) {
    const auto& lp = m.latents[0];
    const var_type& zt = m.variables[static_cast<std::size_t>(lp.variable)].type;
    const std::string zname = m.variables[static_cast<std::size_t>(lp.variable)].name;
    const std::vector<float>& z = enc.locations[0];
    const std::size_t zr = static_cast<std::size_t>(zt.size), n = z.size() / std::max<std::size_t>(1, zr);
    const std::string what = enc.drawn[0] ? "posterior draws" : zt.kind == type_kind::sphere ? "mean directions" : "posterior means";

    // Posterior locations coloured by label.
    if (!in.test->labels.empty() && zr >= 2) {
      t = clock_type::now();
      std::vector<int> labels(in.test->labels.begin(), in.test->labels.begin() + static_cast<std::ptrdiff_t>(n));
      const auto names = label_names(in.test->labels, in.fashion_mnist);
      const std::string base = (in.dir / "latent").string();
      const std::string title = fmt::format("{} of {} ({} test examples)", what, zname, n);
      std::string how;
      if (zt.kind == type_kind::sphere && zr == 2) {
        std::vector<double> angles(n);
        for (std::size_t j = 0; j < n; ++j) angles[j] = std::atan2(z[j * 2 + 1], z[j * 2]);
        report::plot_circle(base, title, angles, labels, names);
        how = "angles on the circle";
      } else if (zt.kind == type_kind::sphere && zr == 3) {
        std::vector<double> pts(z.begin(), z.end());
        report::plot_sphere(base, title, pts, labels, names);
        how = "the sphere in the equal-area Hammer projection";
      } else if (zr == 2) {
        std::vector<double> xs(n), ys(n);
        for (std::size_t j = 0; j < n; ++j) xs[j] = z[j * 2], ys[j] = z[j * 2 + 1];
        report::plot_scatter(base, title, zname + "₁", zname + "₂", xs, ys, labels, names);
        how = "a scatter of the two coordinates";
      } else {
        // The first two principal components of the locations.
        Eigen::MatrixXd Z = Eigen::Map<const Eigen::MatrixXf>(z.data(), static_cast<Eigen::Index>(zr), static_cast<Eigen::Index>(n)).cast<double>();
        Eigen::VectorXd mean = Z.rowwise().mean();
        Z.colwise() -= mean;
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(Z * Z.transpose() / static_cast<double>(std::max<std::size_t>(1, n - 1)));
        const Eigen::Index k = static_cast<Eigen::Index>(zr);
        const Eigen::VectorXd pc1 = eig.eigenvectors().col(k - 1), pc2 = eig.eigenvectors().col(k - 2);
        const double total = eig.eigenvalues().sum();
        std::vector<double> xs(n), ys(n);
        for (std::size_t j = 0; j < n; ++j) {
          xs[j] = Z.col(static_cast<Eigen::Index>(j)).dot(pc1);
          ys[j] = Z.col(static_cast<Eigen::Index>(j)).dot(pc2);
        }
        report::plot_scatter(base, title,
                             fmt::format("principal component 1 ({:.0f}% of the variance)", 100 * eig.eigenvalues()(k - 1) / total),
                             fmt::format("principal component 2 ({:.0f}% of the variance)", 100 * eig.eigenvalues()(k - 2) / total),
                             xs, ys, labels, names);
        how = "the first two principal components";
      }
      out.push_back({"latent.png/.svg", fmt::format("{} of {} coloured by label: {}", what, zname, how), since(t)});
    }

    // The decoded manifold of a 2-D latent (Kingma & Welling 2014, Figure 4).
    if (m.latents.size() == 1 && lay.image && ((zt.kind == type_kind::real && zr == 2) || (zt.kind == type_kind::sphere && zr == 3))) {
      t = clock_type::now();
      std::vector<float> grid;
      int cols = 0;
      std::size_t count = 0;
      std::string how;
      if (zt.kind == type_kind::real) {
        // A 20 × 20 grid at the prior's quantiles (1 + 2i)/40 per coordinate, taken from
        // 20,000 prior draws (exact for any prior, learned ones too).
        decoder prior(m, in.checkpoint, latent_source::prior_draws);
        std::vector<float> draws;
        rt::forward_batches(prior.low.graph, prior.params, 20000, batch, in.seed, rt::stream::sample,
                            [](rt::plan<float>&, std::size_t, int) {},
                            [&](const rt::plan<float>& p, std::size_t, int k) { take_node(p, prior.low.latent_nodes[0], k, draws); });
        std::vector<float> c0, c1;
        for (std::size_t j = 0; j < draws.size() / 2; ++j) c0.push_back(draws[2 * j]), c1.push_back(draws[2 * j + 1]);
        std::sort(c0.begin(), c0.end());
        std::sort(c1.begin(), c1.end());
        const int g = 20;
        for (int r = 0; r < g; ++r)
          for (int c = 0; c < g; ++c) {
            const auto q = [&](const std::vector<float>& v, int i) { return v[static_cast<std::size_t>((1 + 2 * i) * v.size() / (2 * g))]; };
            grid.push_back(q(c0, c));
            grid.push_back(q(c1, g - 1 - r));  // the second coordinate grows upwards
          }
        cols = g;
        count = static_cast<std::size_t>(g * g);
        how = "a 20 × 20 grid of z at the prior's quantiles";
      } else {
        // Directions on a regular grid: latitudes −80°…80° by 20° (rows), longitudes by 22.5° (columns).
        const double pi = std::acos(-1.0);
        for (int r = 0; r < 9; ++r)
          for (int c = 0; c < 16; ++c) {
            const double lat = (80 - 20 * r) * pi / 180, lon = (-180 + 22.5 * c) * pi / 180;
            grid.push_back(static_cast<float>(std::cos(lat) * std::cos(lon)));
            grid.push_back(static_cast<float>(std::cos(lat) * std::sin(lon)));
            grid.push_back(static_cast<float>(std::sin(lat)));
          }
        cols = 16;
        count = 9 * 16;
        how = "directions on a regular grid, latitude 80° to −80° (rows) by longitude −180° to 157.5° (columns)";
      }
      const std::vector<float> x = decode_latent_values(m, in.checkpoint, grid, count);
      report::write_image_grid((in.dir / "manifold.png").string(), x, static_cast<int>(count), {lay.channels, lay.height, lay.width}, cols, 1);
      out.push_back({"manifold.png", "decoder means of " + how, since(t)});
    }
  }

  // KL per coordinate (Normal ‖ Normal latents, closed form) and the active units.
  if (in.test && !enc.locations.empty()) {
    t = clock_type::now();
    decoder dec(m, in.checkpoint, latent_source::posterior_location);
    std::vector<double> kl, activity;
    std::vector<std::size_t> offsets;
    bool all_normal = true;
    for (std::size_t l = 0; l < m.latents.size(); ++l) {
      const auto& d = dec.low.dists[l];
      all_normal = all_normal && d.q == family_id::normal && d.p == family_id::normal;
    }
    const std::size_t n = n_enc;
    if (all_normal) {
      std::size_t total = 0;
      for (std::size_t l = 0; l < m.latents.size(); ++l) offsets.push_back(total), total += static_cast<std::size_t>(dec.low.graph.nodes()[static_cast<std::size_t>(dec.low.latent_nodes[l])].rows);
      kl.assign(total, 0.0);
      rt::forward_batches(
          dec.low.graph, dec.params, n, batch, in.seed, rt::stream::sample,
          [&](rt::plan<float>& p, std::size_t from, int k) { fill_data(p, dec.low.data, *in.test, from, k); },
          [&](const rt::plan<float>& p, std::size_t, int k) {
            for (std::size_t l = 0; l < m.latents.size(); ++l) {
              const auto& d = dec.low.dists[l];
              auto at = [&](int node, int row, int col) {
                const rt::tensor<float> v = p.value(node);
                return static_cast<double>(v.data[static_cast<std::size_t>(v.cols == 1 ? 0 : col) * static_cast<std::size_t>(v.lead()) +
                                                  static_cast<std::size_t>(v.rows == 1 ? 0 : row)]);
              };
              const int rows = dec.low.graph.nodes()[static_cast<std::size_t>(dec.low.latent_nodes[l])].rows;
              for (int c = 0; c < k; ++c)
                for (int i = 0; i < rows; ++i)
                  kl[offsets[l] + static_cast<std::size_t>(i)] +=
                      kl_normal(at(d.q_params[0], i, c), at(d.q_params[1], i, c), at(d.p_params[0], i, c), at(d.p_params[1], i, c));
            }
          });
      for (double& v : kl) v /= static_cast<double>(n);
      report::plot_bars((in.dir / "kl_per_dim").string(), fmt::format("test KL per coordinate ({} examples)", n),
                        "latent coordinate", "KL (nats)", kl);
      out.push_back({"kl_per_dim.png/.svg", fmt::format("the test KL per latent coordinate (closed form, mean over {} examples)", n), since(t)});
    }
    if (!all_normal && !in.epochs.empty() && !in.epochs.back().train_kl_latent.empty()) {
      // No closed form per coordinate (sphere families, Student-t): the KL of each latent,
      // from the last epoch's training figures.
      std::string names;
      for (std::size_t l = 0; l < m.latents.size(); ++l)
        names += (l ? ", " : "") + m.variables[static_cast<std::size_t>(m.latents[l].variable)].name;
      report::plot_bars((in.dir / "kl_per_dim").string(),
                        fmt::format("KL per latent (training, epoch {})", in.epochs.back().epoch),
                        "latent (in declaration order)", "KL (nats)", in.epochs.back().train_kl_latent);
      out.push_back({"kl_per_dim.png/.svg", "the KL per latent (" + names + "; no closed form per coordinate for these families)", since(t)});
    }
    // Activity Cov_x(E_q[z_i]) per coordinate of the real latents (Burda et al. 2016).
    t = clock_type::now();
    int active = 0;
    for (std::size_t l = 0; l < m.latents.size(); ++l) {
      const var_type& zt = m.variables[static_cast<std::size_t>(m.latents[l].variable)].type;
      if (zt.kind != type_kind::real || enc.drawn[l]) continue;
      const std::size_t zr = static_cast<std::size_t>(zt.size), k = enc.locations[l].size() / zr;
      for (std::size_t i = 0; i < zr; ++i) {
        double s = 0, ss = 0;
        for (std::size_t j = 0; j < k; ++j) {
          const double v = enc.locations[l][j * zr + i];
          s += v;
          ss += v * v;
        }
        const double mean = s / static_cast<double>(k);
        const double var = std::max(0.0, ss / static_cast<double>(k) - mean * mean) * static_cast<double>(k) / std::max(1.0, static_cast<double>(k) - 1);
        activity.push_back(var);
        active += var > 0.01;
      }
    }
    if (!activity.empty()) {
      report::plot_bars((in.dir / "active_units").string(),
                        fmt::format("active units: {} of {}", active, activity.size()),
                        "latent coordinate", "Cov_x(E_q[z_i]) (Burda et al. 2016)", activity, report::threshold_line{0.01, "active-unit threshold (0.01)"});
      out.push_back({"active_units.png/.svg", fmt::format("Cov_x(E_q[z_i]) per coordinate with the 0.01 threshold: {} of {} active", active, activity.size()), since(t)});
    }
  }
  return out;
}

}  // namespace vaec::figures
