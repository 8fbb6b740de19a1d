// vaec: the command line. A straight line per verb: read → parse → check → (lower →
// plan → train, in later stages). Argument parsing and dispatch only.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "lang/check.hpp"
#include "lang/diagnostic.hpp"
#include "lang/parse.hpp"
#include "lang/report.hpp"

namespace {

// Exit statuses.
constexpr int exit_ok = 0;
constexpr int exit_error = 1;  // a problem in the user's input
constexpr int exit_usage = 2;  // a malformed command line

// Reads, parses and checks one model file; prints diagnostics to stderr.
std::optional<vaec::checked_model> load_model(const std::string& path) {
  std::string why;
  auto src = vaec::source::read_file(path, why);
  if (!src) {
    fmt::print(stderr, "{}: error: cannot read the model file: {}\n", path, why);
    return std::nullopt;
  }
  vaec::diagnostics diags(*src);
  std::optional<vaec::checked_model> model;
  if (auto ast = vaec::parse(*src, diags))
    model = vaec::check(*ast, diags, std::filesystem::path(path).stem().string());
  std::string rendered = diags.render();
  if (!rendered.empty()) fmt::print(stderr, "{}", rendered);
  if (diags.has_errors()) {
    std::size_t n = diags.error_count();
    fmt::print(stderr, "{} error{} in {}\n", n, n == 1 ? "" : "s", path);
    return std::nullopt;
  }
  return model;
}

int run_check(const std::vector<std::string>& files) {
  int status = exit_ok;
  bool first = true;
  for (const auto& file : files) {
    if (!first) fmt::print("\n");
    first = false;
    auto model = load_model(file);
    if (!model) {
      status = exit_error;
      continue;
    }
    fmt::print("{}", vaec::describe(*model));
  }
  std::fflush(stdout);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vaec: a language for variational autoencoders.\n"
               "Write p(z), p(x | z) and q(z | x) in a .vae file; vaec checks it and tells what it will optimize."};
  app.set_version_flag("--version", std::string("vaec ") + VAEC_VERSION);
  app.require_subcommand(1);

  std::vector<std::string> check_files;
  auto* check = app.add_subcommand("check", "parse and check model files; print θ, φ and the objective");
  check->add_option("MODEL", check_files, "a .vae model file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  try {
    if (check->parsed()) return run_check(check_files);
  } catch (const std::exception& e) {
    // Nothing below should throw for bad input; this is the last line of defence.
    fmt::print(stderr, "vaec: internal error: {}\n", e.what());
    return exit_error;
  }
  return exit_usage;
}
