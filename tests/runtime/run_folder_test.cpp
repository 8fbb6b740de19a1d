// The run folder's guards, run.json's round trip, data fingerprints and the KL schedule.
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "runtime/digest.hpp"
#include "runtime/run_folder.hpp"
#include "runtime/train.hpp"

namespace fs = std::filesystem;
namespace rt = vaec::rt;

namespace {

struct scratch {
  fs::path path;
  explicit scratch(const std::string& name)
      : path(fs::temp_directory_path() / ("vaec-runfolder-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~scratch() { fs::remove_all(path); }
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const rt::run_folder_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_folder)

BOOST_AUTO_TEST_CASE(a_new_run_needs_a_new_or_empty_folder) {
  scratch s("new");
  { auto f = rt::run_folder::create(s.path / "a" / "b"); BOOST_TEST(fs::is_directory(s.path / "a" / "b")); }
  fs::create_directories(s.path / "mine");
  std::ofstream(s.path / "mine" / "notes.txt") << "mine";
  const std::string m = message_of([&] { rt::run_folder::create(s.path / "mine"); });
  BOOST_TEST(m.find("is not empty (it holds 'notes.txt')") != std::string::npos, m);
  BOOST_TEST(!fs::exists(s.path / "mine" / "vaec.lock"));  // nothing written into the user's folder
  std::ofstream(s.path / "file") << "x";
  BOOST_TEST(message_of([&] { rt::run_folder::create(s.path / "file"); }).find("not a folder") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_second_writer_is_refused_naming_the_pid) {
  scratch s("lock");
  auto first = rt::run_folder::create(s.path);
  first.write("run.json", "{}");
  // flock locks belong to an open file description: a second open in this process conflicts too.
  const std::string m = message_of([&] { rt::run_folder::open(s.path); });
  BOOST_TEST(m.find("in use by another vaec process (pid " + std::to_string(::getpid()) + ")") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(default_folders_never_collide) {
  scratch s("unique");
  auto a = rt::run_folder::create_unique(s.path, "m-20261130-000000");
  auto b = rt::run_folder::create_unique(s.path, "m-20261130-000000");
  auto c = rt::run_folder::create_unique(s.path, "m-20261130-000000");
  BOOST_TEST(a.path().filename() == "m-20261130-000000");
  BOOST_TEST(b.path().filename() == "m-20261130-000000-2");
  BOOST_TEST(c.path().filename() == "m-20261130-000000-3");
}

BOOST_AUTO_TEST_CASE(writes_are_atomic_and_failures_name_the_path) {
  scratch s("write");
  auto f = rt::run_folder::create(s.path);
  f.write("metrics.csv", "a\n");
  f.write("metrics.csv", "b\n");
  BOOST_TEST(*f.read("metrics.csv") == "b\n");
  BOOST_TEST(!fs::exists(s.path / "metrics.csv.tmp"));
  fs::create_directories(s.path / "summary.json");  // a folder where the file should go: rename fails
  const std::string m = message_of([&] { f.write("summary.json", "{}"); });
  BOOST_TEST(m.find("cannot write " + (s.path / "summary.json").string()) != std::string::npos, m);
  BOOST_TEST(m.find("is a directory") != std::string::npos, m);
  BOOST_TEST(!fs::exists(s.path / "summary.json.tmp"));
}

BOOST_AUTO_TEST_CASE(run_json_round_trips) {
  rt::run_record r;
  r.model_name = "m";
  r.model_file = "models/m.vae";
  r.model_sha256 = rt::sha256_hex("model m\n");
  r.data = "d";
  r.data_path = "/abs/d";
  r.data_fingerprint = "train:00";
  r.options.epochs = 7;
  r.options.batch = 33;
  r.options.adam.lr = 3.0000000000000001e-4;
  r.options.seed = 18446744073709551615ULL;
  r.options.kl_warmup = 2.5;
  r.options.kl_cycle = 5;
  r.options.binarize_mode = rt::binarize::fixed;
  r.options.threads = 3;
  r.version = "0.1.0";
  const rt::run_record back = rt::parse_run_record(rt::to_json(r), "run.json");
  BOOST_TEST(rt::to_json(back) == rt::to_json(r));
  BOOST_TEST(back.options.seed == 18446744073709551615ULL);
  BOOST_TEST(back.options.adam.lr == 3.0000000000000001e-4);
  BOOST_TEST((back.options.binarize_mode == rt::binarize::fixed));
  const std::string m = message_of([] { rt::parse_run_record("{\"vaec\": \"0.1.0\"}", "x/run.json"); });
  BOOST_TEST(m.find("x/run.json: model is missing") != std::string::npos, m);
  // A field edited by hand to another kind, or a number that does not fit, is named with its
  // value: nothing is truncated (8.5 → 8), wrapped (1e10 → −2^31, −5 → 2^64 − 5) or read as 0.
  const std::string good = rt::to_json(r);
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"\"epochs\": 7", "\"epochs\": \"ten\""},
      {"\"epochs\": 7", "\"epochs\": 8.5"},
      {"\"epochs\": 7", "\"epochs\": 1e10"},
      {"\"seed\": 18446744073709551615", "\"seed\": -5"},
      {"\"seed\": 18446744073709551615", "\"seed\": 1.2e21"},
      {"\"lr\": 0.00030000000000000003", "\"lr\": null"},
      {"\"data_path\": \"/abs/d\"", "\"data_path\": 5"}};
  const std::vector<std::string> named = {"settings.epochs is \"ten\", but it must be a whole number",
                                          "settings.epochs is 8.5, but it must be a whole number",
                                          "settings.epochs is 10000000000.0, but it must be a whole number",
                                          "settings.seed is -5, but it must be a whole number from 0 to 18446744073709551615",
                                          "settings.seed is 1.2e+21, but it must be a whole number",
                                          "settings.optimizer.lr is null, but it must be a number",
                                          "data_path is 5, but it must be a string"};
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const auto at = good.find(edits[i].first);
    BOOST_TEST_REQUIRE(at != std::string::npos, edits[i].first << " in " << good);
    const std::string text = good.substr(0, at) + edits[i].second + good.substr(at + edits[i].first.size());
    const std::string msg = message_of([&] { rt::parse_run_record(text, "x/run.json"); });
    BOOST_TEST(msg.find("x/run.json: " + named[i]) != std::string::npos, msg);
  }
}

BOOST_AUTO_TEST_CASE(sha256_and_fingerprints) {
  // FIPS 180-4's test vector "abc".
  BOOST_TEST(rt::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  rt::dataset d;
  d.width = 2;
  d.count = 2;
  d.values.assign({0.25f, 0.5f, 0.75f, 1.0f});
  rt::dataset same = d, flipped = d;
  for (float& v : flipped.values) v = 1 - v;
  BOOST_TEST(rt::fingerprint(d) == rt::fingerprint(same));
  BOOST_TEST(rt::fingerprint(d) != rt::fingerprint(flipped));
  same.labels = {0, 1};
  BOOST_TEST(rt::fingerprint(d) != rt::fingerprint(same));
}

// β of the cyclical schedule (Fu et al. 2019) against the formula, by hand.
// The shell is the reference: each word, quoted by shell_word and read back by /bin/sh,
// must come out as it went in (printf %s prints its argument unchanged).
BOOST_AUTO_TEST_CASE(shell_words_read_back_as_they_were) {
  scratch s("shellword");
  fs::create_directories(s.path);
  const std::vector<std::string> words = {
      "runs/r6", "build/vaec", "/tmp/a-b_c.d:e=f+g,h@i%j", "r6 it's", "it's", "'", "''", "a b", "$HOME", "`id`",
      "a\\b", "x;y", "x&y", "x|y", "(x)", "*", "?", "~", "#x", "x\ny", "tab\tin", "\"q\"", "!x", "{a,b}", "x>y", ""};
  for (const auto& w : words) {
    const std::string quoted = rt::shell_word(w);
    const fs::path out = s.path / "out";
    const std::string cmd = "printf %s " + quoted + " > '" + out.string() + "'";
    BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, quoted);
    std::ifstream in(out, std::ios::binary);
    const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(back == w, "word [" << w << "] quoted as " << quoted << " reads back as [" << back << "]");
  }
  // Plain words stay as they are, so that a hint reads naturally.
  BOOST_TEST(rt::shell_word("build/vaec") == "build/vaec");
  BOOST_TEST(rt::shell_word("r6 it's") == "'r6 it'\\''s'");
  // The resume hint names the program as it was set, its folder as a shell word.
  BOOST_TEST(rt::resume_command("runs/a b") == "vaec --resume --out 'runs/a b'");
  rt::set_command_name("build/vaec");
  BOOST_TEST(rt::resume_command("r6") == "build/vaec --resume --out r6");
  rt::set_command_name("vaec");
}

BOOST_AUTO_TEST_CASE(kl_schedule) {
  rt::train_options o;
  o.beta = 2;
  BOOST_TEST(rt::kl_weight(o, 0.3, false) == 2.0);  // no warm-up: β = beta
  o.kl_warmup = 2;
  BOOST_TEST(rt::kl_weight(o, 0.5, false) == 0.5);  // 2 · 0.5/2
  BOOST_TEST(rt::kl_weight(o, 7.0, true) == 2.0);
  o.kl_cycle = 4;
  BOOST_TEST(rt::kl_weight(o, 4.0, false) == 0.0);   // a cycle starts over
  BOOST_TEST(rt::kl_weight(o, 4.0, true) == 2.0);    // the epoch that ends cycle 1
  BOOST_TEST(rt::kl_weight(o, 5.0, true) == 1.0);    // end of the first epoch of cycle 2
  BOOST_TEST(rt::kl_weight(o, 9.5, false) == 1.5);   // 1.5 epochs into cycle 3
}

BOOST_AUTO_TEST_SUITE_END()
