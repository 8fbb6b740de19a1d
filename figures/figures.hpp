// The pictures of a run (DESIGN.md §4; issue 10): what the model learned, drawn from its
// checkpoint through the engine — prior samples, reconstructions, learning curves,
// posterior locations coloured by label, the decoded latent manifold, the KL per
// coordinate and the active units — and the decoding functions that `vaec sample` shares
// with them, so that a picture and `vaec sample`'s numbers agree for the same seed.
// Above lang/ and runtime/ (it lowers the model in other modes), beside report/ (which
// draws arrays and knows nothing of models).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/train.hpp"

namespace vaec::figures {

// Called with (done, total) columns as a long decoding proceeds.
using progress_fn = std::function<void(std::size_t, std::size_t)>;

// x for `count` latents drawn from the prior p(z) (in generative order), decoded to the
// likelihood's mean (or, with `draw`, one x ~ p(x | z)): [x's size × count], column-major.
// Noise from the streams (seed, sample, batch) and (seed, sample_draw). Throws
// checkpoint_error, rt::decode_error.
std::vector<float> decode_prior(const checked_model& m, const std::string& checkpoint, std::size_t count,
                                std::uint64_t seed, bool draw, const progress_fn& progress = {});

// x decoded from the posterior of the first `count` examples of `d`: at the posterior's
// location (its mean, or mean direction; `location` true) or at one draw z ~ q(z | x);
// then the likelihood's mean (or a draw). [x's size × count].
std::vector<float> decode_posterior(const checked_model& m, const std::string& checkpoint, const rt::dataset& d,
                                    std::size_t count, std::uint64_t seed, bool location, bool draw,
                                    const progress_fn& progress = {});

// The examples an aggregate posterior (1/M) Σ_m q(z | x_m) mixes: M of `d`'s examples chosen
// with the seed (stream aggregate, distinct while d has M; all of them when it has fewer),
// as their indices in `d`.
std::vector<std::size_t> aggregate_examples(const rt::dataset& d, std::size_t M, std::uint64_t seed);

// x decoded from `count` draws of the aggregate posterior (1/M) Σ_m q(z | x_m) over the
// examples `members` of `d` (aggregate_examples): per draw a member m uniformly (stream
// aggregate), then z ~ q(z | x_m), then the likelihood's mean (or a draw). [x's size × count].
std::vector<float> decode_aggregate(const checked_model& m, const std::string& checkpoint, const rt::dataset& d,
                                    const std::vector<std::size_t>& members, std::size_t count, std::uint64_t seed,
                                    bool draw, const progress_fn& progress = {});

// The parameters of q(z | x_m) for each example m of `members` (indices into `d`), z the
// model's latent number `latent` (checked_model::latents order), whose q must depend on the
// data alone: per parameter of q's family (its order, defaults filled), [rows × M]
// column-major, column m for members[m]; `rows` receives each parameter's rows. A parameter
// that does not depend on x (param(n), a constant) is repeated in every column. What the
// components of an aggregate posterior (1/M) Σ_m q(z | x_m) are (figures/aggregate_prior.hpp).
// Throws checkpoint_error, rt::decode_error.
std::vector<std::vector<float>> posterior_parameters(const checked_model& m, const std::string& checkpoint,
                                                     const rt::dataset& d, const std::vector<std::size_t>& members,
                                                     std::size_t latent, std::vector<int>& rows);

// A plot of the first few of `count` values of x ([rows × count]) against their
// coordinate, to BASE.png and BASE.svg: how data that are not images are drawn.
void plot_values(const std::string& base, const std::vector<float>& x, std::size_t rows, std::size_t count,
                 const std::string& title);

// Per latent, the posterior location of the first `count` examples of `d` ([size × count]),
// and whether it was a draw (q without a location, the uniform sphere).
struct encoding {
  std::vector<std::vector<float>> locations;
  std::vector<bool> drawn;
};
encoding encode(const checked_model& m, const std::string& checkpoint, const rt::dataset& d, std::size_t count,
                std::uint64_t seed);

// How the data are drawn: as images (channels × height × width) or as plots of values
// (lang's picture_of: a declared shape [H, W] or [C, H, W], or a flat perfect square).
struct layout {
  bool image = false;
  int channels = 1, height = 0, width = 0;
};
layout layout_of(const var_type& t);

// What write_run_pictures needs.
struct run_inputs {
  std::filesystem::path dir;                 // the run folder
  const checked_model* model = nullptr;
  std::string checkpoint;                    // parameters to draw (the last, or the best)
  const rt::dataset* test = nullptr;         // the test split as the run evaluates it (binarized), or null
  const rt::dataset* train = nullptr;        // the training split (samples_aggregate.png), or null
  std::vector<rt::epoch_metrics> epochs;     // metrics.csv's rows
  double kl_warmup = 0;                      // epochs, for the curves' shading
  int kl_cycle = 0;
  std::uint64_t seed = 1;
  bool fashion_mnist = false;                // name the labels with Fashion-MNIST's classes
};

// One picture written: its file(s), what it shows, and how long it took.
struct picture {
  std::string file;
  std::string what;
  double seconds = 0;
};

// Writes into `in.dir`: samples.png, reconstructions.png, curves.png/.svg, and, where they
// apply, latent.png/.svg (labelled test data), manifold.png (a 2-D latent: real[2] or
// sphere[3]), kl_per_dim.png/.svg and active_units.png/.svg (real latents). Throws
// report::picture_error (a file it cannot write), checkpoint_error.
std::vector<picture> write_run_pictures(const run_inputs& in);

}  // namespace vaec::figures
