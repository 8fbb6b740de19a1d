// The `train { }` block: known keys, each set once, values of the right kind and range,
// adam's arguments, and kl_cycle against kl_warmup. Fills model_.settings, which the KL
// plan (kl_plan.cpp) reads. Runs last in declare() (names.cpp), also when the model
// lacks its data or latents; independent of the factors.
#include "lang/check/checker.hpp"
#include "runtime/optim.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace vaec::check_impl {

void checker::check_train(const std::vector<const ast::train_block*>& blocks) {
  const std::vector<std::string>& keys = train_keys();
  train_settings& t = model_.settings;
  std::unordered_map<std::string, const ast::train_entry*> seen;

  constexpr double max_count = 1e9;  // the largest epochs, batch, samples, … accepted
  // A constant number: a literal, a negated literal, or the name of a constant.
  auto number_of = [&](const ast::expr& e) -> std::optional<double> {
    if (const auto* id = boost::get<ast::identifier>(&e)) {
      if (auto it = constant_index_.find(id->name); it != constant_index_.end())
        return model_.constants[static_cast<std::size_t>(it->second)].value;
      return std::nullopt;
    }
    return literal_number(e);
  };
  auto whole = [&](const ast::train_entry& e, double lo, double hi, std::string_view example) -> std::optional<double> {
    auto v = number_of(e.value);
    if (!v && is_number_literal(e.value)) return std::nullopt;  // too large: reported
    if (!v || !is_integer_text(*v) || *v < lo || *v > hi) {
      error(diagnostic_kind::bad_train_value, span_of(e.value),
            fmt::format("{} must be a whole number from {} to {}, such as {}", e.key.name, lo == 0 ? 0 : 1,
                        hi == max_count ? std::string("1,000,000,000") : std::string("2^53"), example));
      return std::nullopt;
    }
    return v;
  };
  auto real = [&](const ast::train_entry& e, std::string_view example) -> std::optional<double> {
    auto v = number_of(e.value);
    if (!v && is_number_literal(e.value)) return std::nullopt;  // too large: reported
    if (!v || *v < 0) {
      error(diagnostic_kind::bad_train_value, span_of(e.value),
            fmt::format("{} must be a number >= 0, such as {}", e.key.name, example));
      return std::nullopt;
    }
    return v;
  };
  auto word = [&](const ast::train_entry& e, std::vector<std::string> choices) -> std::optional<std::string> {
    const auto* id = boost::get<ast::identifier>(&e.value);
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    if (!id) {
      error(diagnostic_kind::bad_train_value, span_of(e.value), fmt::format("{} must be one of {}", e.key.name, list));
      return std::nullopt;
    }
    if (std::find(choices.begin(), choices.end(), id->name) == choices.end()) {
      error(diagnostic_kind::bad_train_value, id->where,
            with_suggestion(fmt::format("{} must be one of {}, not '{}'", e.key.name, list, id->name),
                            suggest(id->name, choices)));
      return std::nullopt;
    }
    return id->name;
  };

  // adam's argument i (lr, beta1, beta2, eps) given as `value`: the number, or nothing after
  // reporting why it cannot be used.
  static const std::vector<param_spec> adam = {{"lr", arg_kind::number, false}, {"beta1", arg_kind::number, false},
                                               {"beta2", arg_kind::number, false}, {"eps", arg_kind::number, false}};
  auto adam_argument = [&](std::size_t i, const ast::expr& value) -> std::optional<double> {
    auto v = number_of(value);
    if (!v && is_number_literal(value)) return std::nullopt;  // too large: reported
    const bool is_beta = i == 1 || i == 2;
    if (!v || (is_beta ? (*v < 0 || *v >= 1) : *v <= 0)) {
      error(diagnostic_kind::bad_train_value, span_of(value),
            is_beta ? fmt::format("{} of adam must be a number in [0, 1)", adam[i].name)
                    : fmt::format("{} of adam must be a positive number", adam[i].name));
      return std::nullopt;
    }
    // What Adam's float32 arithmetic can honour (runtime/optim.hpp).
    if (is_beta && !vaec::rt::adam_beta_usable(*v)) {
      error(diagnostic_kind::bad_train_value, span_of(value),
            fmt::format("{} = {} rounds to 1 in float32, where Adam computes, so 1 − {} would be 0; use at "
                        "most 0.99999994",
                        adam[i].name, *v, adam[i].name));
      return std::nullopt;
    }
    if (i == 0 && !vaec::rt::adam_lr_usable(*v)) {
      error(diagnostic_kind::bad_train_value, span_of(value),
            fmt::format("lr = {:g} is below float32's smallest normal number (1.2e-38), which Adam's flush-to-zero "
                        "arithmetic makes 0, so no parameter would move; use at least 1.2e-38 (the default is 1e-3)",
                        *v));
      return std::nullopt;
    }
    if (i == 3 && !vaec::rt::adam_eps_usable(*v)) {
      error(diagnostic_kind::bad_train_value, span_of(value),
            fmt::format("eps = {:g} is below float32's smallest normal number (1.2e-38), which Adam's "
                        "flush-to-zero arithmetic makes 0; use at least 1.2e-38 (the default is 1e-8)",
                        *v));
      return std::nullopt;
    }
    return v;
  };
  std::vector<const ast::train_entry*> adam_overrides;  // --set lr=… and the like
  const ast::argument* optimizer_arguments_set[4] = {};  // those a --set optimizer=adam(…) gave

  // The file's entries, each checked, then the command line's (--set), which override
  // them: applied last, and not "set twice".
  std::vector<const ast::train_entry*> entries;
  for (const auto* block : blocks)
    for (const auto& e : block->entries) entries.push_back(&e);
  const std::size_t file_entries = entries.size();
  entries.insert(entries.end(), train_settings_.begin(), train_settings_.end());
  {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const ast::train_entry& e = *entries[i];
      const bool command_line = i >= file_entries;
      const std::string& k = e.key.name;
      const auto& adam_keys = adam_argument_keys();
      const bool adam_key = std::find(adam_keys.begin(), adam_keys.end(), k) != adam_keys.end();
      if (adam_key && command_line) {
        adam_overrides.push_back(&e);
        continue;
      }
      if (adam_key) {
        error(diagnostic_kind::unknown_train_key, e.key.where,
              fmt::format("'{}' is an argument of the optimizer: write optimizer = adam({} = …) (on the command line, "
                          "--set {}=… or, for lr, --lr also works)",
                          k, k, k));
        continue;
      }
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        error(diagnostic_kind::unknown_train_key, e.key.where,
              with_suggestion(fmt::format("unknown training setting '{}'", k), suggest(k, keys)));
        continue;
      }
      if (auto it = seen.find(k); it != seen.end() && !command_line) {
        add_note(error(diagnostic_kind::duplicate_train_key, e.key.where, fmt::format("'{}' is set twice", k)),
                 it->second->key.where, "first set here");
        continue;
      }
      seen[k] = &e;
      if (k == "epochs") { if (auto v = whole(e, 1, max_count, "50")) t.epochs = static_cast<int>(*v); }
      else if (k == "batch") { if (auto v = whole(e, 1, max_count, "128")) t.batch = static_cast<int>(*v); }
      else if (k == "samples") { if (auto v = whole(e, 1, max_count, "1")) t.samples = static_cast<int>(*v); }
      else if (k == "eval_samples") { if (auto v = whole(e, 1, max_count, "500")) t.eval_samples = static_cast<int>(*v); }
      else if (k == "early_stopping") { if (auto v = whole(e, 0, max_count, "5")) t.early_stopping = static_cast<int>(*v); }
      else if (k == "seed") {
        // Written in digits, a seed is read exactly, up to 2^64 − 1 as --seed reads it (through
        // a double, 2^53 + 1 would become 2^53, another run's seed); an expression must stay
        // within 2^53, where a double still holds every whole number.
        const auto* lit = boost::get<ast::number>(&e.value);
        std::uint64_t exact = 0;
        const bool digits = lit && !lit->text.empty() &&
                            std::all_of(lit->text.begin(), lit->text.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; });
        if (digits) {
          const auto [end, ec] = std::from_chars(lit->text.data(), lit->text.data() + lit->text.size(), exact);
          if (ec == std::errc() && end == lit->text.data() + lit->text.size())
            t.seed = exact;
          else
            error(diagnostic_kind::bad_train_value, span_of(e.value),
                  "seed must be a whole number from 0 to 18446744073709551615 (2^64 − 1), such as 1");
        } else if (auto v = whole(e, 0, 9007199254740992.0, "1")) {
          t.seed = static_cast<std::uint64_t>(*v);
        }
      }
      else if (k == "beta") { if (auto v = real(e, "1")) t.beta = *v; }
      else if (k == "kl_warmup") { if (auto v = real(e, "10")) t.kl_warmup = *v; }
      else if (k == "kl_cycle") { if (auto v = whole(e, 0, max_count, "10")) t.kl_cycle = static_cast<int>(*v); }
      else if (k == "free_bits") { if (auto v = real(e, "0.5")) t.free_bits = *v; }
      else if (k == "objective") { if (auto w = word(e, {"elbo", "iwae"})) t.objective = *w == "elbo" ? objective_kind::elbo : objective_kind::iwae; }
      else if (k == "kl") { if (auto w = word(e, {"best", "mc"})) t.kl = *w == "best" ? kl_choice::best : kl_choice::mc; }
      else if (k == "binarize") {
        if (auto w = word(e, {"none", "dynamic", "static"}))
          t.binarize = *w == "none" ? binarize_mode::none : *w == "dynamic" ? binarize_mode::dynamic : binarize_mode::fixed;
      } else if (k == "precision") {
        if (auto w = word(e, {"fp32", "bf16"}))
          t.precision = *w == "bf16" ? product_precision::bf16 : product_precision::fp32;
      } else if (k == "optimizer") {
        const auto* fc = boost::get<x3::forward_ast<ast::call>>(&e.value);
        if (!fc) {
          error(diagnostic_kind::bad_train_value, span_of(e.value),
                "optimizer must be a call such as adam(lr = 1e-3)");
          continue;
        }
        const ast::call& c = fc->get();
        if (c.callee.name != "adam") {
          error(diagnostic_kind::bad_train_value, c.callee.where,
                with_suggestion(fmt::format("unknown optimizer '{}'; vaec has adam(lr, beta1, beta2, eps)", c.callee.name),
                                suggest(c.callee.name, std::vector<std::string>{"adam"})));
          continue;
        }
        bound_args b = bind("adam", adam, false, c);
        if (!b.ok) continue;
        // A new optimizer starts from adam's defaults (a --set optimizer=adam(lr = 1e-4)
        // keeps none of the file's adam arguments).
        const train_settings defaults;
        t.lr = defaults.lr;
        t.beta1 = defaults.beta1;
        t.beta2 = defaults.beta2;
        t.eps = defaults.eps;
        double* fields[] = {&t.lr, &t.beta1, &t.beta2, &t.eps};
        for (std::size_t i = 0; i < adam.size(); ++i) {
          if (!b.slot[i]) continue;
          if (command_line) optimizer_arguments_set[i] = b.slot[i];
          if (auto v = adam_argument(i, b.slot[i]->value)) *fields[i] = *v;
        }
      }
    }
  }
  // --set lr=…, beta1=…, beta2=…, eps=…: one argument of whatever optimizer the file and a
  // --set optimizer=… left, applied after them whatever the order on the command line.
  for (const ast::train_entry* e : adam_overrides) {
    const auto& names = adam_argument_keys();
    const auto i = static_cast<std::size_t>(std::find(names.begin(), names.end(), e->key.name) - names.begin());
    if (const ast::argument* other = optimizer_arguments_set[i]) {
      // The error at the later of the two, the note at the first.
      if (other->where.begin < e->key.where.begin)
        add_note(error(diagnostic_kind::duplicate_setting, e->key.where,
                       fmt::format("{} is set twice on the command line: here and in --set optimizer=…", e->key.name)),
                 other->where, "first set here");
      else
        add_note(error(diagnostic_kind::duplicate_setting, other->where,
                       fmt::format("{} is set twice on the command line: here and in --set {}=…", e->key.name,
                                   e->key.name)),
                 e->key.where, "first set here");
      continue;
    }
    double* fields[] = {&t.lr, &t.beta1, &t.beta2, &t.eps};
    if (auto v = adam_argument(i, e->value)) *fields[i] = *v;
  }
  // The IWAE bound weighs log p(x, z) − log q(z | x) per sample: no KL term, so nothing for
  // β, its warm-up or free bits to act on (the parameters are the same bits with or without).
  if (t.objective == objective_kind::iwae)
    for (const char* key : {"beta", "kl_warmup", "kl_cycle", "free_bits"}) {
      const auto it = seen.find(key);
      if (it == seen.end()) continue;
      const bool is_default = std::string_view(key) == "beta" ? t.beta == 1
                              : std::string_view(key) == "kl_warmup" ? t.kl_warmup == 0
                              : std::string_view(key) == "kl_cycle"  ? t.kl_cycle == 0
                                                                     : t.free_bits == 0;
      if (!is_default)
        diags_.warning(diagnostic_kind::setting_has_no_effect, span_of(it->second->value),
                       fmt::format("{} has no effect under objective = iwae: the IWAE bound weighs log p(x, z) − log "
                                   "q(z | x) per sample, with no KL term to weigh; remove it, or train with objective = "
                                   "elbo",
                                   key));
    }
  // Cyclical annealing ramps β over the first kl_warmup epochs of every cycle.
  if (auto it = seen.find("kl_cycle"); it != seen.end() && t.kl_cycle > 0) {
    if (t.kl_warmup <= 0)
      error(diagnostic_kind::bad_train_value, span_of(it->second->value),
            fmt::format("kl_cycle = {} needs kl_warmup > 0: β ramps from 0 to beta over the first kl_warmup epochs "
                        "of every cycle (e.g. kl_warmup = {})",
                        t.kl_cycle, std::max(1, t.kl_cycle / 2)));
    else if (t.kl_warmup > t.kl_cycle)
      error(diagnostic_kind::bad_train_value, span_of(it->second->value),
            fmt::format("kl_cycle = {} is shorter than kl_warmup = {}: β would restart before reaching beta; make "
                        "kl_warmup at most the cycle's length",
                        t.kl_cycle, fmt::format("{:g}", t.kl_warmup)));
  }
}

}  // namespace vaec::check_impl
