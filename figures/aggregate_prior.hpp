// p(z) = AggregatePosterior(run = "DIR", examples = M): the source run of each such prior read
// and its components computed, once, before the model is lowered. The prior is the equal
// mixture (1/M) Σ_m q*(z | x_m) of a finished run's encoder q* (its own model.vae and final
// checkpoint.safetensors) over M of its training examples (its recorded data, the training
// split) chosen with the new run's seed: the same choice and the same encoder pass as
// `vaec sample RUN --from aggregate` (figures.hpp: aggregate_examples, posterior_parameters).
//
// A relative DIR is resolved against the working directory when the run starts (as a path in
// a PyTorch script is); the run records the absolute path and the SHA-256 of the checkpoint
// it used (run.json's settings.prior_sources), and reopening it (--resume, vaec eval, vaec
// sample) reads the source from that path again and refuses a changed or missing one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "lang/diagnostic.hpp"
#include "runtime/run_folder.hpp"

namespace vaec::figures {

// Reads, parses and checks a source run's model.vae with its recorded --set settings
// (`sets`); prints its diagnostics; nullopt when it does not check. The CLI's own loader.
using model_loader =
    std::function<std::optional<checked_model>(const std::string& model_path, const std::vector<std::string>& sets)>;

struct aggregate_options {
  std::uint64_t seed = 1;  // the run's seed: which M examples of the source's training split
  // vaec check: a source run that does not exist (yet) is a warning and the prior is left
  // unresolved (describe() says "not read yet"); any other fault is still an error.
  bool missing_is_warning = false;
  // A run reopened (--resume, eval, sample): its recorded sources, whose paths are used
  // (not the model's relative one) and whose checkpoint hashes must still hold.
  const std::vector<rt::prior_source>* recorded = nullptr;
  std::filesystem::path working_directory;  // what a relative run = "…" is resolved against
  model_loader load;
};

// Resolves every AggregatePosterior prior of `m` (sets each factor's dist.fixed) and reports
// each fault to `diags` at the prior's place in the model: a source that is missing, not a
// run folder, not finished (no checkpoint, or fewer epochs than it asked for without early
// stopping), whose checkpoint, model or data changed, whose model has no latent of this name,
// type and size, whose q factor for it conditions on more than the data or has no parameters
// (HypersphericalUniform), whose parameters are not finite; examples = M above the source's
// training examples. Returns false after reporting an error (warnings only: true).
bool resolve_aggregate_priors(checked_model& m, diagnostics& diags, const aggregate_options& o);

// The resolved sources of `m`'s AggregatePosterior priors, as run.json records them.
std::vector<rt::prior_source> prior_sources(const checked_model& m);

// The SHA-256 of a file's bytes, in hexadecimal. Throws rt::run_folder_error naming the file.
std::string file_sha256(const std::filesystem::path& path);

}  // namespace vaec::figures
