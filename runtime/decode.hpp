// The likelihood's side of a trained model: from the parameters of p(x | …) that a
// forward pass computed, the mean of x (what pictures and `vaec sample --mean` show) or
// a draw of x (`vaec sample --draw`). Host-side, after the forward pass: no op, no
// gradient.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/graph.hpp"
#include "runtime/rng.hpp"

namespace vaec::rt {

template <class T>
class plan;

enum class likelihood_family {
  none,                               // the graph computes no likelihood
  bernoulli_logits, bernoulli_probs,  // x ∈ {0, 1}
  cbernoulli_logits, cbernoulli_probs,  // x ∈ [0, 1] (Loaiza-Ganem & Cunningham 2019)
  normal, student_t,                  // x ∈ R
  von_mises_fisher, power_spherical, hyperspherical_uniform,  // x on the sphere
};

// The nodes holding p(x | …)'s parameters, in the family's argument order (lang/builtins):
// Bernoulli (logits | probs), ContinuousBernoulli (logits | probs), Normal (loc, scale),
// StudentT (df, loc, scale), VonMisesFisher / PowerSpherical (mean, concentration).
// −1 for an absent optional argument (its default applies).
struct likelihood_nodes {
  likelihood_family family = likelihood_family::none;
  std::vector<int> params;
  int rows = 0;  // x's size
};

// A likelihood without the asked-for quantity (a draw from a vMF likelihood).
struct decode_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// E[x | …] per column, for the first `cols` columns of the last forward pass of `p`:
// out is [rows × cols], column-major. Bernoulli: the probability σ(h); continuous
// Bernoulli with natural parameter η: 1/(1 − e^{−η}) − 1/η (1/2 + η/12 − η³/720 near 0);
// Normal and Student-t: the location; sphere families: the mean direction. Throws
// decode_error for the uniform sphere (no mean).
void likelihood_mean(const likelihood_nodes& l, const plan<float>& p, int cols, std::span<float> out);

// One draw x ~ p(x | …) per column (Bernoulli: [u < p]; continuous Bernoulli: inverse
// CDF log1p(u·expm1(η))/η; Normal, Student-t: location + scale·ε), noise from `r`.
// Throws decode_error for sphere likelihoods.
void likelihood_draw(const likelihood_nodes& l, const plan<float>& p, int cols, rng& r, std::span<float> out);

// Runs the graph of `params`' model forward over `count` columns in batches of at most
// `batch`: for each batch, `fill(plan, from, n)` sets the plan's inputs for columns
// [from, from + n), the forward pass draws its noise from the stream (seed, purpose,
// batch index), and `take(plan, from, n)` reads the results. One sample per column, no
// gradients; the same seed gives the same numbers. `params` are in the graph's layout
// (load_parameters). Throws std::invalid_argument for a size mismatch.
void forward_batches(const graph& g, std::span<const float> params, std::size_t count, int batch, std::uint64_t seed,
                     stream purpose, const std::function<void(plan<float>&, std::size_t, int)>& fill,
                     const std::function<void(const plan<float>&, std::size_t, int)>& take);

// Writes values [rows × cols] (column-major: column j is example j) as a NumPy .npy
// file of shape (cols, rows), float32, C order; or as CSV, one example a line, "%.9g".
// Atomic; throws run_folder_error naming the path and the OS's reason.
void write_npy(const std::string& path, std::span<const float> values, std::size_t rows, std::size_t cols);
// A vector of doubles as a NumPy .npy file of shape (N,), float64 ('<f8'), e.g. the
// per-example IW log-likelihoods of `vaec eval` (eval_per_example.npy). Atomic; throws
// run_folder_error naming the path and the OS's reason.
void write_npy(const std::string& path, std::span<const double> values);
void write_csv(const std::string& path, std::span<const float> values, std::size_t rows, std::size_t cols);

// The family's name as the model file spells it, for messages.
std::string likelihood_name(likelihood_family f);

}  // namespace vaec::rt

