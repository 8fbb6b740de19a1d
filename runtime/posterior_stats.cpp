#include "runtime/posterior_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/decode.hpp"
#include "runtime/plan.hpp"

namespace vaec::rt {

unit_activity active_units(std::span<const float> locations, std::size_t rows, std::size_t cols, double threshold) {
  if (locations.size() != rows * cols)
    throw std::invalid_argument(fmt::format("active_units: {} values for {} × {} locations", locations.size(), rows, cols));
  unit_activity a;
  a.variance.assign(rows, 0.0);
  if (cols < 2) return a;
  const double n = static_cast<double>(cols);
  for (std::size_t u = 0; u < rows; ++u) {
    // Two passes in double: the mean, then the squared deviations from it.
    double sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += locations[j * rows + u];
    const double mean = sum / n;
    double ss = 0;
    for (std::size_t j = 0; j < cols; ++j) {
      const double d = locations[j * rows + u] - mean;
      ss += d * d;
    }
    a.variance[u] = ss / (n - 1);
    a.active += a.variance[u] > threshold;
  }
  return a;
}

namespace {

constexpr int batch = 500;  // examples a forward pass takes at once

// Element (row, col) of a node's value, broadcasting a shared value over the columns and
// a [1 × ·] value over the rows.
double at(const tensor<float>& v, int row, int col) {
  const std::size_t c = v.cols == 1 ? 0 : static_cast<std::size_t>(col);
  const std::size_t r = v.rows == 1 ? 0 : static_cast<std::size_t>(row);
  return v.data[c * static_cast<std::size_t>(v.lead()) + r];
}

}  // namespace

std::vector<posterior_figures> posterior_statistics(const graph& g, std::span<const float> params, int data_node,
                                                    const std::vector<posterior_nodes>& latents, const dataset& d,
                                                    std::uint64_t seed) {
  const int nodes = static_cast<int>(g.nodes().size());
  auto check_node = [&](int node, bool optional) {
    if ((optional && node == -1) || (node >= 0 && node < nodes)) return;
    throw std::invalid_argument(fmt::format("posterior_statistics: node {} of a graph of {} nodes", node, nodes));
  };
  check_node(data_node, false);
  for (const auto& l : latents) {
    check_node(l.location, true);
    check_node(l.concentration, true);
    check_node(l.df, true);
  }
  const std::size_t n = d.count;
  std::vector<std::vector<float>> locations(latents.size());
  for (std::size_t l = 0; l < latents.size(); ++l)
    if (latents[l].location >= 0) locations[l].reserve(static_cast<std::size_t>(latents[l].rows) * n);
  struct running {
    double sum = 0, min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
    double count = 0;
  };
  std::vector<running> kappa(latents.size()), df(latents.size());
  forward_batches(
      g, params, n, batch, seed, stream::eval_posterior,
      [&](plan<float>& p, std::size_t from, int k) {
        const tensor<float> in = p.input(data_node);
        std::copy_n(d.values.data() + from * d.width, static_cast<std::size_t>(k) * d.width, in.data);
      },
      [&](const plan<float>& p, std::size_t, int k) {
        for (std::size_t l = 0; l < latents.size(); ++l) {
          const posterior_nodes& ln = latents[l];
          if (ln.location >= 0) {
            const tensor<float> v = p.value(ln.location);
            for (int c = 0; c < k; ++c)
              for (int i = 0; i < ln.rows; ++i) locations[l].push_back(static_cast<float>(at(v, i, c)));
          }
          if (ln.concentration >= 0) {
            const tensor<float> v = p.value(ln.concentration);
            for (int c = 0; c < k; ++c) {
              const double x = at(v, 0, c);
              kappa[l].sum += x;
              kappa[l].min = std::min(kappa[l].min, x);
              kappa[l].max = std::max(kappa[l].max, x);
              kappa[l].count += 1;
            }
          }
          if (ln.df >= 0) {
            const tensor<float> v = p.value(ln.df);
            for (int c = 0; c < k; ++c)
              for (int i = 0; i < v.rows; ++i) {
                df[l].sum += at(v, i, c);
                df[l].count += 1;
              }
          }
        }
      });
  std::vector<posterior_figures> out(latents.size());
  for (std::size_t l = 0; l < latents.size(); ++l) {
    const std::size_t rows = static_cast<std::size_t>(latents[l].rows);
    if (latents[l].location >= 0)
      out[l].activity = active_units(locations[l], rows, n);
    else
      out[l].activity.variance.assign(rows, 0.0);
    if (latents[l].concentration >= 0 && kappa[l].count > 0)
      out[l].concentration = value_summary{kappa[l].sum / kappa[l].count, kappa[l].min, kappa[l].max};
    if (latents[l].df >= 0 && df[l].count > 0) out[l].df = df[l].sum / df[l].count;
  }
  return out;
}

}  // namespace vaec::rt
