// lower(checked_model) → runtime graph. The q factors come first, in inference order
// (they sample the latents from the data), then the p factors in generative order,
// then each latent's KL pieces and the objective. Parameters created in p factors are
// θ, those in q factors φ.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "runtime/graph.hpp"
#include "runtime/train.hpp"

namespace vaec {

// A model the runtime cannot run yet (a family without its sampler or density).
struct lowering_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct lower_options {
  bool iwae = false;  // build the importance-weighted bound (for training with objective = iwae, or evaluation)
};

struct lowered_model {
  rt::graph graph;
  int data = -1;                 // the input node of the data
  std::vector<int> latent_nodes; // per latent (checked_model::latents order): its sample
  std::vector<std::string> latent_names;
};

// Every model that checks lowers; lowering_error means the checker and the lowering
// disagree (a bug).
lowered_model lower(const checked_model& m, const lower_options& options = {});

// What the trainer needs of a lowered model: its graph (which must outlive the binding),
// the data node, the latents' names, and the data's width and type.
rt::model_binding bind(const lowered_model& low, const checked_model& m);

}  // namespace vaec
