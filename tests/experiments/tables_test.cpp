// The pieces of vaec compare's tables: statistics against closed forms, the .npy reader
// against files written byte by byte here, eval.json's reading, the escapes of the three
// formats, and the categorical axis added to report/'s line plots. The whole outputs are
// checked end to end by tests/cli/tables.sh.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

#include "experiments/study.hpp"
#include "experiments/tables.hpp"
#include "report/pictures.hpp"

namespace ex = vaec::experiments;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("vaec_tables_test_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// A .npy file: magic, version, header length, the header padded to 64 bytes, the data.
std::string npy(int major, const std::string& dict, const std::vector<double>& values, std::size_t drop = 0) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t n = header.size();
  out += static_cast<char>(n & 0xFF);
  out += static_cast<char>((n >> 8) & 0xFF);
  if (major != 1) out += std::string(2, '\0');
  out += header;
  std::string data(8 * values.size(), '\0');
  std::memcpy(data.data(), values.data(), data.size());
  out += data.substr(0, data.size() - drop);
  return out;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tables)

BOOST_AUTO_TEST_CASE(summarize_is_the_mean_and_the_sample_sd) {
  BOOST_TEST(!ex::summarize({}).mean.has_value());
  const auto one = ex::summarize({-3.5});
  BOOST_TEST(*one.mean == -3.5);
  BOOST_TEST(!one.sd.has_value());
  // 1, 2, 3, 4: mean 5/2, squared deviations 9/4 + 1/4 + 1/4 + 9/4 = 5, sd = sqrt(5/3).
  const auto four = ex::summarize({1, 2, 3, 4});
  BOOST_TEST(*four.mean == 2.5);
  BOOST_TEST(std::abs(*four.sd - std::sqrt(5.0 / 3.0)) < 1e-15);
  BOOST_TEST(four.n == 4u);
  // Equal values: sd exactly 0 (the paired difference of a model with itself).
  BOOST_TEST(*ex::summarize({-241.123, -241.123, -241.123}).sd == 0.0);
}

BOOST_AUTO_TEST_CASE(npy_reader) {
  temp_dir dir;
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  write(dir / "a.npy", npy(1, dict, {1.5, -2.25, 1e-300}));
  const auto a = ex::read_npy_f64(dir / "a.npy");
  BOOST_TEST(a.size() == 3u);
  BOOST_TEST(a[0] == 1.5);
  BOOST_TEST(a[1] == -2.25);
  BOOST_TEST(a[2] == 1e-300);
  write(dir / "v2.npy", npy(2, dict, {4, 5, 6}));
  BOOST_TEST(ex::read_npy_f64(dir / "v2.npy")[2] == 6.0);
  write(dir / "empty.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", {}));
  BOOST_TEST(ex::read_npy_f64(dir / "empty.npy").empty());

  auto error = [&](const std::string& name, const std::string& bytes) {
    write(dir / name, bytes);
    return message_of([&] { ex::read_npy_f64(dir / name); });
  };
  std::string m = error("f4.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", {1}));
  BOOST_TEST(m.find("f4.npy: not a 1-D float64 .npy array: dtype '<f4'") != std::string::npos, m);
  m = error("2d.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", {1, 2, 3, 4}));
  BOOST_TEST(m.find("shape (2,2) is not 1-D") != std::string::npos, m);
  m = error("short.npy", npy(1, dict, {1, 2, 3}, 1));
  BOOST_TEST(m.find("the header says 3 values but the file holds 23 bytes of data (24 expected)") != std::string::npos, m);
  m = error("f.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }", {1, 2, 3}));
  BOOST_TEST(m.find("Fortran order") != std::string::npos, m);
  m = error("text.npy", "not numpy at all");
  BOOST_TEST(m.find("no .npy signature") != std::string::npos, m);
  m = message_of([&] { ex::read_npy_f64(dir / "missing.npy"); });
  BOOST_TEST(m.find("cannot read " + (dir / "missing.npy").string() + ": no such file") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(eval_json) {
  const std::string text = R"({
    "vaec_version": "0.4.0", "model": "m", "checkpoint": "last", "epochs": 7,
    "data": {"path": "p", "sha256": "ab", "split": "test", "examples": 10, "binarized": false},
    "iw_samples": 100, "seed": 1, "elbo": -10.5, "recon": -8.25, "kl": 2.25,
    "log_likelihood": null, "log_likelihood_se": 0.5, "gap": null, "active_units": 3,
    "latents": [
      {"name": "a", "concentration": {"mean": 10, "min": 2, "max": 30}, "df": null},
      {"name": "b", "concentration": {"mean": 20, "min": 1, "max": 25}, "df": null},
      {"name": "c", "concentration": null, "df": 4.5}],
    "seconds": 1, "per_example": "eval_per_example.npy"})";
  const ex::cell_eval e = ex::parse_eval_json(text, "x/eval.json");
  BOOST_TEST(*e.epochs == 7);
  BOOST_TEST(e.examples == 10);
  BOOST_TEST(*e.elbo == -10.5);
  BOOST_TEST(!e.log_likelihood.has_value());  // null: not finite when written
  BOOST_TEST(!e.gap.has_value());
  BOOST_TEST(*e.active_units == 3.0);
  // Two sphere latents: the mean of their means, the least min, the greatest max.
  BOOST_TEST(*e.concentration_mean == 15.0);
  BOOST_TEST(*e.concentration_min == 1.0);
  BOOST_TEST(*e.concentration_max == 30.0);
  BOOST_TEST(*e.df == 4.5);

  std::string m = message_of([] { ex::parse_eval_json(R"({"elbo": 1})", "r/eval.json"); });
  BOOST_TEST(m == "r/eval.json: 'data' is missing", m);
  m = message_of([] {
    ex::parse_eval_json(R"({"data": {"sha256": "a", "examples": 3}, "elbo": "x"})", "r/eval.json");
  });
  BOOST_TEST(m == "r/eval.json: 'elbo' must be a number or null", m);
  m = message_of([] { ex::parse_eval_json("{", "r/eval.json"); });
  BOOST_TEST(m.find("r/eval.json: not valid JSON") == 0u, m);
}

BOOST_AUTO_TEST_CASE(csv_column) {
  temp_dir dir;
  write(dir / "metrics.csv", "epoch,train_elbo,test_elbo,beta\n1,-300,-310.5,1\n2,-290,,1\n3,-280,nan?,1\n");
  const auto v = ex::read_csv_column(dir / "metrics.csv", "test_elbo");
  BOOST_TEST(v.size() == 3u);
  BOOST_TEST(*v[0] == -310.5);
  BOOST_TEST(!v[1].has_value());
  BOOST_TEST(!v[2].has_value());
  const std::string m = message_of([&] { ex::read_csv_column(dir / "metrics.csv", "test_iw"); });
  BOOST_TEST(m.find("metrics.csv: no column 'test_iw'") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(escapes) {
  BOOST_TEST(ex::latex_text("a_b & 50% $x$ {y} #1 ~ ^ \\") ==
             "a\\_b \\& 50\\% \\$x\\$ \\{y\\} \\#1 \\textasciitilde{} \\textasciicircum{} \\textbackslash{}");
  BOOST_TEST(ex::latex_text("κ = −1 ± 2…") == "$\\kappa$ = $-$1 $\\pm$ 2\\ldots{}");
  BOOST_TEST(ex::latex_text("é漢") == "??");
  BOOST_TEST(ex::latex_text("--set a-b") == "-{}-set a-b");
  BOOST_TEST(ex::markdown_text("a|b_c*d") == "a\\|b\\_c\\*d");
  BOOST_TEST(ex::html_text("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  BOOST_TEST(ex::exact(0.1) == "0.10000000000000001");
  BOOST_TEST(std::stod(ex::exact(-236.12345678901234)) == -236.12345678901234);
}

BOOST_AUTO_TEST_CASE(categorical_axis) {
  temp_dir dir;
  vaec::report::line_plot plot;
  plot.title = "LL against family";
  plot.xlabel = "family";
  plot.x_labels = {"normal", "student_t", "vmf"};
  plot.panels = {{"LL (nats)", {{"a", {0, 1, 2}, {-250, -245, -247}, {1, 2, 1}, -1, -1, false}}, true,
                  std::nullopt, std::nullopt}};
  vaec::report::plot_lines((dir / "cat").string(), plot);
  const auto png = vaec::report::read_png((dir / "cat.png").string());
  BOOST_TEST(png.width == 800);
  BOOST_TEST(png.height == 600);
  std::size_t dark = 0;
  for (auto v : png.pixels) dark += v < 128;
  BOOST_TEST(dark > 1000u);
  plot.panels[0].lines[0].x = {0, 1.1, 2.6};
  std::string m = message_of([&] { vaec::report::plot_lines((dir / "bad").string(), plot); });
  BOOST_TEST(m.find("has x = 2.6") != std::string::npos, m);
  plot.panels[0].lines[0].x = {0, 1, 2};
  plot.log_x = true;
  m = message_of([&] { vaec::report::plot_lines((dir / "bad").string(), plot); });
  BOOST_TEST(m.find("both categorical and logarithmic") != std::string::npos, m);
}

BOOST_AUTO_TEST_SUITE_END()
