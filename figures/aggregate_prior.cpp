#include "figures/aggregate_prior.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "figures/figures.hpp"
#include "lang/report.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/decode.hpp"
#include "runtime/digest.hpp"

namespace vaec::figures {

namespace fs = std::filesystem;

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw rt::run_folder_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  rt::sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw rt::run_folder_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  return h.hex();
}

namespace {

// One AggregatePosterior factor's source, read and checked; the first fault reported.
class source_reader {
 public:
  source_reader(checked_model& m, checked_factor& f, diagnostics& diags, const aggregate_options& o)
      : m_(m), f_(f), diags_(diags), o_(o), z_(m.variables[static_cast<std::size_t>(f.variable)]) {}

  // false after an error (or, for vaec check, a warning that leaves the prior unresolved).
  bool read() {
    const rt::prior_source* recorded = nullptr;
    if (o_.recorded)
      for (const auto& r : *o_.recorded)
        if (r.latent == z_.name) recorded = &r;
    if (o_.recorded && !recorded)
      return fail(fmt::format("this run's run.json records no source run for the AggregatePosterior of '{}'; the run "
                              "folder was changed by hand, or comes from another version of vaec",
                              z_.name));
    const fs::path written(f_.dist.path);
    dir_ = recorded ? fs::path(recorded->run) : (o_.working_directory / written).lexically_normal();
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
      const std::string where = recorded ? "recorded in this run's run.json" : resolved_text(written);
      const std::string message = fmt::format(
          "the AggregatePosterior's source run {} does not exist ({}); {}", dir_.string(), where,
          recorded ? "this run's prior was built from it: restore that run folder, or start a new run"
                   : fmt::format("train it first (e.g. `vaec MODEL.vae --data PATH --out {}`), or give run = the "
                                 "folder of a finished run",
                                 f_.dist.path));
      if (o_.missing_is_warning) {
        diags_.warning(diagnostic_kind::aggregate_source, f_.dist.path_where, message);
        return false;
      }
      return fail(message);
    }
    const fs::path record_path = dir_ / "run.json", model_path = dir_ / "model.vae", ckpt = dir_ / "checkpoint.safetensors";
    if (!fs::exists(record_path, ec) || !fs::exists(model_path, ec))
      return fail(fmt::format("{} is not a run folder of vaec (it has no run.json or model.vae); give run = the folder "
                              "of a finished run (`vaec MODEL.vae --data PATH --out DIR` makes one)",
                              dir_.string()));
    rt::run_record record;
    try {
      std::ifstream in(record_path);
      std::stringstream text;
      text << in.rdbuf();
      record = rt::parse_run_record(text.str(), record_path.string());
    } catch (const rt::run_folder_error& e) {
      return fail(fmt::format("the source run cannot be read: {}", e.what()));
    }
    if (!fs::exists(ckpt, ec))
      return fail(fmt::format("the source run {} is not finished: it has no checkpoint.safetensors yet; finish it "
                              "(`vaec --resume --out {}`), or give run = the folder of a finished run",
                              dir_.string(), dir_.string()));
    std::string sha;
    try {
      sha = file_sha256(ckpt);
    } catch (const rt::run_folder_error& e) {
      return fail(e.what());
    }
    if (recorded && sha != recorded->checkpoint_sha256)
      return fail(fmt::format("the source run's checkpoint {} changed since this run started (SHA-256 {}… now, {}… in "
                              "this run's run.json): this run's prior was built from the old one; restore the source "
                              "run's checkpoint, or start a new run on the source as it is",
                              ckpt.string(), sha.substr(0, 12), recorded->checkpoint_sha256.substr(0, 12)));
    try {
      const rt::checkpoint ck = rt::read_checkpoint(ckpt.string());
      const auto it = ck.metadata.find("vaec.epoch");
      const long long done = it == ck.metadata.end() ? -1 : std::strtoll(it->second.c_str(), nullptr, 10);
      if (done < record.options.epochs && record.options.early_stopping == 0)
        return fail(fmt::format("the source run {} is not finished: its checkpoint holds epoch {} of {}; finish it "
                                "(`vaec --resume --out {}`), or give run = the folder of a finished run",
                                dir_.string(), done < 0 ? std::string("?") : std::to_string(done), record.options.epochs,
                                dir_.string()));
    } catch (const rt::checkpoint_error& e) {
      return fail(fmt::format("the source run's checkpoint cannot be used: {}", e.what()));
    }
    // Its model.vae as the run trained it (run.json's SHA-256 of the source text): an edited
    // copy would give other components from the same checkpoint.
    {
      std::ifstream in(model_path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in || rt::sha256_hex(text.str()) != record.model_sha256)
        return fail(fmt::format("the source run's model {} was changed since that run started (its SHA-256 differs from "
                                "its run.json's), so its checkpoint belongs to another model; restore the source's "
                                "model.vae, or train the source run again",
                                model_path.string()));
    }
    std::optional<checked_model> source = o_.load(model_path.string(), record.sets);
    if (!source) return fail(fmt::format("the source run's model {} does not check (its errors are above)", model_path.string()));

    // The latent of this name, of this type, and its q factor.
    const checked_factor* qf = nullptr;
    std::size_t latent = 0;
    std::string names;
    for (std::size_t l = 0; l < source->latents.size(); ++l) {
      const auto& lp = source->latents[l];
      const variable& v = source->variables[static_cast<std::size_t>(lp.variable)];
      names += (names.empty() ? "'" : ", '") + v.name + "'";
      if (v.name != z_.name) continue;
      if (v.type.kind != z_.type.kind || v.type.size != z_.type.size)
        return fail(fmt::format("'{}' is {} here but {} in the source run's model {}: the aggregate posterior is a "
                                "distribution over the source's latent, so the two must be of one type and size",
                                z_.name, to_string(z_.type), to_string(v.type), model_path.string()));
      qf = &source->factors[static_cast<std::size_t>(lp.q_factor)];
      latent = l;
    }
    if (!qf)
      return fail(fmt::format("the source run's model {} has no latent '{}' (its latents: {}); the aggregate posterior "
                              "of '{}' is the source's posterior of a latent of the same name",
                              model_path.string(), z_.name, names, z_.name));
    const std::string q_text = factor_text(*source, *qf);
    std::string others;
    for (int g : qf->given)
      if (g != source->data) others += (others.empty() ? "'" : ", '") + source->variables[static_cast<std::size_t>(g)].name + "'";
    if (!others.empty())
      return fail(fmt::format("the source's {} conditions on {} besides the data, so q*({} | x_m) is not defined by an "
                              "example alone; use a source run whose q for '{}' depends on the data only",
                              q_text, others, z_.name, z_.name));
    const family_id fam = qf->dist.family;
    if (fam != family_id::normal && fam != family_id::student_t && fam != family_id::von_mises_fisher &&
        fam != family_id::power_spherical)
      return fail(fmt::format("the source's {} is {}, which is the same for every x and has no parameters to mix; "
                              "use p({}) = {} directly",
                              q_text, info(fam).name, z_.name, info(fam).signature));

    // Its training data, as recorded.
    rt::data_splits data;
    try {
      data = rt::load_data(record.data_path);
    } catch (const std::exception& e) {
      return fail(fmt::format("the source run's training data cannot be read: {}; the components are drawn from "
                              "them: restore them at that path, or train the source run again",
                              e.what()));
    }
    if (rt::fingerprint(data) != record.data_fingerprint)
      return fail(fmt::format("the data at {} are not those the source run {} trained on (their contents differ); "
                              "restore them, or train the source run again",
                              record.data_path, dir_.string()));
    const int M = static_cast<int>(m_.nodes[static_cast<std::size_t>(f_.dist.params[1])].value);
    if (static_cast<std::size_t>(M) > data.train.count) {
      diags_.error(diagnostic_kind::aggregate_source, f_.dist.examples_where,
                   fmt::format("examples = {} is more than the source run's {} training examples ({}); use at most "
                               "examples = {}",
                               group_thousands(M), group_thousands(static_cast<std::int64_t>(data.train.count)),
                               record.data_path, data.train.count));
      return false;
    }
    const std::vector<std::size_t> members = aggregate_examples(data.train, static_cast<std::size_t>(M), o_.seed);
    auto fx = std::make_shared<fixed_mixture>();
    std::vector<std::vector<float>> values;
    try {
      values = posterior_parameters(*source, ckpt.string(), data.train, members, latent, fx->rows);
    } catch (const std::exception& e) {
      return fail(fmt::format("the source run's encoder cannot be run: {}", e.what()));
    }
    for (std::size_t k = 0; k < values.size(); ++k) {
      for (float v : values[k])
        if (!std::isfinite(v))
          return fail(fmt::format("the source's {} gives a parameter that is not finite ({}) for one of the {} "
                                  "examples; its checkpoint cannot serve as a prior",
                                  q_text, info(fam).params[k].name, M));
      fx->values.emplace_back(values[k].begin(), values[k].end());
    }
    fx->family = fam;
    fx->count = M;
    fx->run = dir_.string();
    fx->checkpoint_sha256 = sha;
    fx->q_text = q_text;
    f_.dist.fixed = std::move(fx);
    return true;
  }

 private:
  checked_model& m_;
  checked_factor& f_;
  diagnostics& diags_;
  const aggregate_options& o_;
  const variable& z_;
  fs::path dir_;

  std::string resolved_text(const fs::path& written) const {
    return written.is_absolute() ? "as written"
                                 : fmt::format("run = \"{}\" resolved against the working directory {}",
                                               f_.dist.path, o_.working_directory.string());
  }

  bool fail(std::string message) {
    diags_.error(diagnostic_kind::aggregate_source, f_.dist.path_where, std::move(message));
    return false;
  }
};

}  // namespace

bool resolve_aggregate_priors(checked_model& m, diagnostics& diags, const aggregate_options& o) {
  bool ok = true;
  for (auto& f : m.factors) {
    if (f.side != 'p' || f.dist.family != family_id::aggregate_posterior) continue;
    const bool before = diags.has_errors();
    source_reader(m, f, diags, o).read();
    ok = ok && (before || !diags.has_errors());
  }
  return ok && !diags.has_errors();
}

std::vector<rt::prior_source> prior_sources(const checked_model& m) {
  std::vector<rt::prior_source> out;
  for (const auto& f : m.factors)
    if (f.side == 'p' && f.dist.fixed)
      out.push_back({m.variables[static_cast<std::size_t>(f.variable)].name, f.dist.fixed->run,
                     f.dist.fixed->checkpoint_sha256, f.dist.fixed->count});
  return out;
}

}  // namespace vaec::figures
