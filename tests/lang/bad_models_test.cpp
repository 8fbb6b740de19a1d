// Data-driven tests of the checker's errors: every tests/lang/bad/NAME.vae holds a model
// with one mistake (a few with two independent ones, to show there is no cascade) and
// states what must be reported in its first lines:
//
//   # expect: KIND LINE:COL
//
// one line per error, in the order reported. LINE and COL are 1-based, columns count
// Unicode code points, and the expectation lines themselves count as lines. The suite
// asserts that parse + check report exactly those errors, nothing more, nothing less.
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

const fs::path bad_dir = fs::path(VAEC_SOURCE_DIR) / "tests" / "lang" / "bad";

// The file's bytes, unchanged (some files hold invalid UTF-8 on purpose).
std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

// The `# expect: KIND LINE:COL` lines at the top of the file, in order. Parsing stops at
// the first line that is not one.
std::vector<std::string> expectations(const std::string& text) {
  static constexpr std::string_view prefix = "# expect: ";
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t eol = text.find('\n', at);
    std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    if (line.rfind(prefix, 0) != 0) break;
    std::string e = line.substr(prefix.size());
    while (!e.empty() && (e.back() == ' ' || e.back() == '\r')) e.pop_back();
    out.push_back(e);
    if (eol == std::string::npos) break;
    at = eol + 1;
  }
  return out;
}

std::vector<fs::path> bad_files() {
  std::vector<fs::path> files;
  if (!fs::is_directory(bad_dir)) return files;
  for (const auto& entry : fs::directory_iterator(bad_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".vae") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// "kind LINE:COL" → "LINE:COL"
std::string location_of(const std::string& expectation) {
  auto space = expectation.rfind(' ');
  return space == std::string::npos ? expectation : expectation.substr(space + 1);
}


}  // namespace

BOOST_AUTO_TEST_SUITE(bad_models)

BOOST_AUTO_TEST_CASE(enough_files) {
  BOOST_TEST(fs::is_directory(bad_dir), bad_dir.string() << " is not a directory");
  BOOST_TEST(bad_files().size() >= 35u, "only " << bad_files().size() << " bad models");
}

BOOST_AUTO_TEST_CASE(each_file_reports_exactly_its_expected_errors) {
  for (const fs::path& path : bad_files()) {
    const std::string name = path.filename().string();
    BOOST_TEST_CONTEXT(name) {
      const std::string text = read_bytes(path);
      const std::vector<std::string> expected = expectations(text);
      BOOST_TEST(!expected.empty(), name << " has no '# expect: KIND LINE:COL' line");

      auto r = vaec::test::run(text, name);
      const std::vector<std::string> actual = r.errors();
      BOOST_TEST(actual == expected, boost::test_tools::per_element());
      BOOST_TEST(!r.model.has_value(), "a model with errors must not check");

      // The rendered text starts at the first expected error, in the documented format.
      if (!expected.empty()) {
        const std::string head = name + ":" + location_of(expected.front()) + ": error: ";
        BOOST_TEST(r.rendered.rfind(head, 0) == 0u, "rendered text does not begin with '" << head << "':\n"
                                                                                        << r.rendered);
      }
      // Every error renders as `NAME.vae:LINE:COL: error: ` at its expected position.
      std::size_t i = 0;
      for (const auto& d : r.diags->all()) {
        if (d.level != vaec::severity::error) continue;
        if (i >= expected.size()) break;  // already a mismatch above
        const std::string head = name + ":" + location_of(expected[i]) + ": error: ";
        const std::string one = r.diags->render(d);
        BOOST_TEST(one.rfind(head, 0) == 0u, "error " << i << " does not begin with '" << head << "':\n" << one);
        ++i;
      }
    }
  }
}

// A file of zero bytes has no room for an expectation line; it is tested here.
BOOST_AUTO_TEST_CASE(zero_byte_file_is_empty_model) {
  auto r = vaec::test::run("", "empty.vae");
  BOOST_TEST(r.errors() == std::vector<std::string>{"empty_model 1:1"}, boost::test_tools::per_element());
  BOOST_TEST(r.rendered.rfind("empty.vae:1:1: error: ", 0) == 0u, r.rendered);
}

BOOST_AUTO_TEST_CASE(blank_lines_only_is_empty_model) {
  auto r = vaec::test::run("\n  \n\t\n", "blank.vae");
  BOOST_TEST(r.errors() == std::vector<std::string>{"empty_model 1:1"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
