// Golden diagnostics: every tests/lang/golden/NAME.vae is checked as the file `NAME.vae`
// (with the --set settings of NAME.set, one a line, when that file exists),
// and everything `diagnostics::render()` prints for it must equal NAME.expected byte for
// byte (message, source line, caret line, notes). A file whose expected output holds no
// error must check (warnings only); every other must be rejected.
//
// The .expected files were written by hand from the message formats, not copied from
// the program's output.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/lang/test_util.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path golden_dir = fs::path(VAEC_SOURCE_DIR) / "tests" / "lang" / "golden";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

std::vector<fs::path> golden_models() {
  std::vector<fs::path> files;
  if (!fs::is_directory(golden_dir)) return files;
  for (const auto& entry : fs::directory_iterator(golden_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".vae") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(enough_pairs) {
  BOOST_TEST(golden_models().size() >= 12u, "only " << golden_models().size() << " golden pairs");
  // No orphan .expected files either.
  for (const auto& entry : fs::directory_iterator(golden_dir)) {
    if (entry.path().extension() != ".expected") continue;
    fs::path model = entry.path();
    model.replace_extension(".vae");
    BOOST_TEST(fs::exists(model), entry.path().filename().string() << " has no .vae");
  }
}

BOOST_AUTO_TEST_CASE(rendered_text_matches_expected) {
  for (const fs::path& path : golden_models()) {
    const std::string name = path.filename().string();
    BOOST_TEST_CONTEXT(name) {
      fs::path expected_path = path;
      expected_path.replace_extension(".expected");
      if (!fs::exists(expected_path)) {
        BOOST_ERROR(name << " has no .expected file");
        continue;
      }
      const std::string expected = read_bytes(expected_path);
      const std::string text = read_bytes(path);
      // NAME.set, when there is one: the command line's --set settings, one a line.
      std::vector<std::string> sets;
      fs::path set_path = path;
      set_path.replace_extension(".set");
      if (fs::exists(set_path)) {
        std::istringstream lines(read_bytes(set_path));
        for (std::string line; std::getline(lines, line);) sets.push_back(line);
      }
      auto r = vaec::test::run(text, name, sets);
      // A file whose expected output has only warnings checks (and still prints them).
      const bool has_error = expected.find(": error: ") != std::string::npos;
      BOOST_TEST(r.model.has_value() == !has_error);
      BOOST_TEST(!expected.empty());
      if (r.rendered != expected) {
        BOOST_ERROR(name << ": rendered diagnostics differ\n"
                         << "---- expected (" << expected_path.filename().string() << ") ----\n"
                         << expected << "---- actual ----\n"
                         << r.rendered << "---- end ----");
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
