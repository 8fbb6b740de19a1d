// lower(checked_model) → runtime graph. The q factors come first, in inference order
// (they sample the latents from the data), then the p factors in generative order,
// then each latent's KL pieces and the objective. Parameters created in p factors are
// θ, those in q factors φ.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "runtime/decode.hpp"
#include "runtime/graph.hpp"
#include "runtime/train.hpp"

namespace vaec {

// A model the runtime cannot run yet (a family without its sampler or density).
struct lowering_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where a lowered graph takes its latents from.
enum class latent_source {
  posterior_draws,     // z ~ q(z | x), reparameterized: training and evaluation (the default)
  posterior_location,  // z = the location of q(z | x): the mean (Normal, Student-t) or the mean direction
                       // (von Mises–Fisher, Power Spherical); a draw for q without one (the uniform sphere)
  prior_draws,         // z ~ p(z), in generative order: no q factor, no data, no objective
  inputs,              // every latent an input node (lowered_model::latent_inputs): no q factor, no objective
};

struct lower_options {
  bool iwae = false;  // build the importance-weighted bound (for training with objective = iwae, or evaluation)
  latent_source latents = latent_source::posterior_draws;
};

struct lowered_model {
  rt::graph graph;
  int data = -1;                 // the input node of the data
  std::vector<int> latent_nodes; // per latent (checked_model::latents order): its sample (or location, or input)
  std::vector<std::string> latent_names;
  std::vector<int> latent_inputs;  // latent_source::inputs: per latent, its input node [n × B]
  // Each latent's q location was a draw, not a location (latent_source::posterior_location
  // for a q without one); per latent.
  std::vector<bool> latent_drawn;
  // The likelihood p(x | …): its parameters' nodes, for its mean or a draw of x
  // (rt::likelihood_of in runtime/decode.hpp).
  rt::likelihood_nodes likelihood;
  // Per latent: the families of q and p and their parameters' nodes (−1 where absent, or
  // where the factor was not lowered), e.g. for a KL per coordinate.
  struct latent_dists {
    family_id q{}, p{};
    std::vector<int> q_params, p_params;
  };
  std::vector<latent_dists> dists;
};

// Every model that checks lowers; lowering_error means the checker and the lowering
// disagree (a bug).
lowered_model lower(const checked_model& m, const lower_options& options = {});

// What the trainer needs of a lowered model: its graph (which must outlive the binding),
// the data node, the latents' names, and the data's width and type.
rt::model_binding bind(const lowered_model& low, const checked_model& m);

}  // namespace vaec
