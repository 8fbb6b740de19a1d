// Figures of the posterior q(z | x) over a data set, for `vaec eval` (eval.json's
// `latents`, experiments/README.md): the active units of Burda et al. 2016 from the
// posterior's location, and summaries over the examples of a parameter of q (a sphere
// family's concentration, a learned Student-t df). Knows nothing of the language: the
// caller names the graph's nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/data/dataset.hpp"
#include "runtime/graph.hpp"

namespace vaec::rt {

// The activity of each coordinate u of a latent, A_u = Cov_x(E_{q(z|x)}[z_u]): the
// sample variance (divisor N − 1) over the examples of the posterior's location, in
// double; u is active when A_u > `threshold` (Burda, Grosse & Salakhutdinov 2016,
// "Importance Weighted Autoencoders", §5.2: 10⁻²).
struct unit_activity {
  std::vector<double> variance;  // A_u, per coordinate
  int active = 0;                // how many A_u exceed the threshold
};

// `locations` is [rows × cols], column-major: column j is example j's E_q[z]. One
// example (cols = 1) has variance 0 everywhere. Throws std::invalid_argument when
// locations.size() != rows · cols.
unit_activity active_units(std::span<const float> locations, std::size_t rows, std::size_t cols,
                           double threshold = 0.01);

// Mean, minimum and maximum of values over the examples.
struct value_summary {
  double mean = 0, min = 0, max = 0;
};

// Where one latent's figures are in a graph lowered at the posterior's location (lang's
// latent_source::posterior_location). A node's value may be shared ([· × 1]) or per
// example; a [1 × ·] location broadcasts over the latent's `rows`.
struct posterior_nodes {
  int rows = 0;            // the latent's size (its coordinates)
  int location = -1;       // E_q[z] (Normal, Student-t: loc; sphere families: the mean direction); −1: E_q[z] = 0
                           // for every x (the uniform sphere), so no unit is active
  int concentration = -1;  // κ of a von Mises–Fisher or Power Spherical q, [1 × ·]; −1: none
  int df = -1;             // a learned Student-t df, [1 or rows × ·]; −1: none
};

// One latent's figures over the examples.
struct posterior_figures {
  unit_activity activity;                      // of E_q[z] (all A_u = 0 without a location)
  std::optional<value_summary> concentration;  // κ over the examples
  std::optional<double> df;                    // mean of df over the examples (and its coordinates)
};

// Runs `g` (parameters `params` in its layout) forward over every example of `d` in
// batches of 500, with the noise of the stream (seed, eval_posterior, batch) for what the
// graph still draws (a latent given a drawn parent), and collects each latent's figures
// in `latents`' order. `g`'s input node `data_node` takes the examples. Throws
// std::invalid_argument for parameters of another graph or a node out of range.
std::vector<posterior_figures> posterior_statistics(const graph& g, std::span<const float> params, int data_node,
                                                    const std::vector<posterior_nodes>& latents, const dataset& d,
                                                    std::uint64_t seed);

}  // namespace vaec::rt
