// Tests of runtime/checkpoint: safetensors round trips, the exact bytes of a tiny file,
// rejection of corrupt files, atomic writes, and an independent reader in Python.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint.hpp"

BOOST_TEST_DONT_PRINT_LOG_VALUE(vaec::rt::dtype)

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vaec::rt::checkpoint_error;
using vaec::rt::dtype;
using vaec::rt::tensor_view;

// A fresh directory for one test case, removed at its end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int count = 0;
    path = fs::temp_directory_path() /
           ("vaec-checkpoint-test-" + std::to_string(::getpid()) + "-" + std::to_string(++count));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

// The 8-byte little-endian length, spelled out byte by byte (not by the code under test).
std::string le64(std::uint64_t n) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::uint64_t decode_le64(const std::string& s) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(s[i]);
  return n;
}

// A safetensors file from a header text (used as is, unpadded) and raw data bytes.
std::string safetensors_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// `path` is rejected with a message that starts with the path and contains `fragment`.
void expect_rejected(const std::string& path, const std::string& fragment) {
  try {
    (void)vaec::rt::read_checkpoint(path);
    BOOST_ERROR("no error; expected one containing \"" << fragment << "\"");
  } catch (const checkpoint_error& e) {
    std::string what = e.what();
    BOOST_CHECK_MESSAGE(what.rfind(path + ": ", 0) == 0, "does not start with the path: " << what);
    BOOST_CHECK_MESSAGE(what.find(fragment) != std::string::npos,
                        "\"" << what << "\" lacks \"" << fragment << "\"");
  }
}

// Writes `bytes` to a file in `dir` and expects read_checkpoint to reject it.
void expect_file_rejected(const temp_dir& dir, const std::string& bytes,
                          const std::string& fragment) {
  std::string path = dir / "bad.safetensors";
  write_bytes(path, bytes);
  expect_rejected(path, fragment);
}

// The message of the checkpoint_error that `f` throws ("" and a test failure if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const checkpoint_error& e) {
    return e.what();
  }
  BOOST_ERROR("no checkpoint_error");
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs a shell command and returns its standard output; fails the test on a non-zero status.
std::string run(const std::string& command) {
  std::FILE* p = ::popen(command.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(p, "cannot run " << command);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  BOOST_REQUIRE_MESSAGE(status == 0, command << " exited with status " << status);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

// ---- round trips -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trip_of_every_dtype_and_shape) {
  temp_dir dir;
  std::string path = dir / "checkpoint.safetensors";

  std::vector<float> weight = {1.5f, -2.25f, 0.0f, -0.0f, 3e38f, 1e-45f};  // [2, 3]
  double scalar = -0.125;                                                   // []
  std::vector<std::int64_t> steps = {0, -1, std::numeric_limits<std::int64_t>::max(),
                                     std::numeric_limits<std::int64_t>::min()};  // [2, 2]
  std::vector<double> moments = {1e-300, std::numbers::pi, -7.0};                           // [3]
  std::vector<float> odd = {0.5f};                                              // [1, 1, 1]
  tensor_view empty_f32{"empty.f32", dtype::f32, {3, 0, 2}, nullptr};
  tensor_view empty_i64{"empty.i64", dtype::i64, {0}, nullptr};

  std::map<std::string, std::string> metadata = {
      {"format", "vaec"}, {"epoch", "7"}, {"empty", ""},
      {"quoted \"key\"\n", "π ≈ 3.14159, naïve ünïcode, tab\t"}};
  vaec::rt::write_checkpoint(path,
                             {{"theta.weight", dtype::f32, {2, 3}, weight.data()},
                              {"scalar", dtype::f64, {}, &scalar},
                              {"adam.step", dtype::i64, {2, 2}, steps.data()},
                              {"adam.m", dtype::f64, {3}, moments.data()},
                              {"A", dtype::f32, {1, 1, 1}, odd.data()},
                              empty_f32,
                              empty_i64},
                             metadata);

  auto c = vaec::rt::read_checkpoint(path);
  BOOST_TEST((c.metadata == metadata));
  BOOST_TEST(c.tensors.size() == 7u);

  const auto& w = c.tensors.at("theta.weight");
  BOOST_TEST(w.type == dtype::f32);
  BOOST_TEST(w.shape == (std::vector<std::int64_t>{2, 3}));
  BOOST_TEST(w.element_count() == 6u);
  auto wv = w.as_f32();
  BOOST_TEST(wv == weight, boost::test_tools::per_element());
  BOOST_TEST(std::signbit(wv[3]));  // -0.0 stays negative

  const auto& s = c.tensors.at("scalar");
  BOOST_TEST(s.type == dtype::f64);
  BOOST_TEST(s.shape.empty());
  BOOST_TEST(s.element_count() == 1u);
  BOOST_TEST(s.as_f64() == std::vector<double>{scalar}, boost::test_tools::per_element());

  BOOST_TEST(c.tensors.at("adam.step").as_i64() == steps, boost::test_tools::per_element());
  BOOST_TEST(c.tensors.at("adam.m").as_f64() == moments, boost::test_tools::per_element());
  BOOST_TEST(c.tensors.at("A").as_f32() == odd, boost::test_tools::per_element());

  const auto& e = c.tensors.at("empty.f32");
  BOOST_TEST(e.type == dtype::f32);
  BOOST_TEST(e.shape == (std::vector<std::int64_t>{3, 0, 2}));
  BOOST_TEST(e.element_count() == 0u);
  BOOST_TEST(e.bytes.empty());
  BOOST_TEST(e.as_f32().empty());
  BOOST_TEST(c.tensors.at("empty.i64").as_i64().empty());

  BOOST_TEST(!fs::exists(path + ".tmp"));
}

BOOST_AUTO_TEST_CASE(an_empty_checkpoint_round_trips) {
  temp_dir dir;
  std::string path = dir / "empty.safetensors";
  vaec::rt::write_checkpoint(path, {}, {});
  std::string bytes = read_bytes(path);
  // "{}" padded to 8 bytes; no "__metadata__" when there is none.
  BOOST_TEST(bytes == le64(8) + "{}      ");
  auto c = vaec::rt::read_checkpoint(path);
  BOOST_TEST(c.tensors.empty());
  BOOST_TEST(c.metadata.empty());
}

// Parsed independently of read_checkpoint: tensors lie in name order, back to back, from
// the start of the data section, which is 8-byte aligned; the file ends with the last one.
BOOST_AUTO_TEST_CASE(tensors_are_stored_in_name_order_back_to_back) {
  temp_dir dir;
  std::string path = dir / "layout.safetensors";
  std::vector<float> three = {1, 2, 3};
  std::vector<double> two = {4, 5};
  std::vector<std::int64_t> one = {6};
  vaec::rt::write_checkpoint(path,
                             {{"z", dtype::f32, {3}, three.data()},
                              {"b", dtype::f64, {2}, two.data()},
                              {"m", dtype::i64, {1}, one.data()},
                              {"a", dtype::f32, {0}, nullptr}},
                             {{"k", "v"}});
  std::string bytes = read_bytes(path);
  std::uint64_t n = decode_le64(bytes);
  BOOST_TEST(n % 8 == 0u);
  json header = json::parse(bytes.substr(8, n));
  BOOST_TEST(header["__metadata__"] == json({{"k", "v"}}));
  BOOST_TEST(header["a"]["data_offsets"] == json({0, 0}));
  BOOST_TEST(header["b"]["data_offsets"] == json({0, 16}));
  BOOST_TEST(header["m"]["data_offsets"] == json({16, 24}));
  BOOST_TEST(header["z"]["data_offsets"] == json({24, 36}));
  BOOST_TEST(bytes.size() == 8 + n + 36);
  BOOST_TEST(header["b"]["dtype"] == "F64");
  BOOST_TEST(header["m"]["dtype"] == "I64");
  BOOST_TEST(header["z"]["shape"] == json({3}));
  BOOST_TEST(header["a"]["shape"] == json::array({0}));
}

// The smallest real case, by hand: one F32 tensor "a" = [1.0f, 2.0f].
BOOST_AUTO_TEST_CASE(exact_bytes_of_a_tiny_checkpoint) {
  temp_dir dir;
  std::string path = dir / "tiny.safetensors";
  std::vector<float> a = {1.0f, 2.0f};
  vaec::rt::write_checkpoint(path, {{"a", dtype::f32, {2}, a.data()}}, {});
  std::string bytes = read_bytes(path);

  // 8-byte length, N bytes of header, 8 bytes of data.
  BOOST_REQUIRE(bytes.size() >= 16u);
  std::uint64_t n = decode_le64(bytes);
  BOOST_TEST(bytes.size() == 8 + n + 8);
  BOOST_TEST(n % 8 == 0u);  // the data section starts 8-byte aligned

  // The JSON, then at most 7 spaces of padding.
  std::string header = bytes.substr(8, n);
  std::size_t last = header.find_last_not_of(' ');
  BOOST_REQUIRE(last != std::string::npos);
  BOOST_TEST(n - (last + 1) < 8u);
  BOOST_TEST(header.back() != '\0');
  json expected = {{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}};
  BOOST_TEST(json::parse(header) == expected);
  // Written compactly: {"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}} is 54
  // characters at most, so the padded header is at most 56 bytes.
  BOOST_TEST(n <= 56u);

  // 1.0f = 0x3F800000 and 2.0f = 0x40000000, little-endian.
  std::string data = bytes.substr(8 + n);
  BOOST_TEST(data == std::string("\x00\x00\x80\x3F\x00\x00\x00\x40", 8));

  // And a file built entirely by hand, with another spelling of the header, reads back.
  std::string by_hand = dir / "by_hand.safetensors";
  std::string text = R"({ "a" : { "shape": [2], "data_offsets": [0, 8], "dtype": "F32" } })";
  text.append((8 - text.size() % 8) % 8, ' ');
  write_bytes(by_hand, safetensors_file(text, data));
  auto c = vaec::rt::read_checkpoint(by_hand);
  BOOST_TEST(c.tensors.at("a").as_f32() == a, boost::test_tools::per_element());
}

// Every header length modulo 8 is padded so that the data starts at a multiple of 8.
BOOST_AUTO_TEST_CASE(header_is_padded_for_every_name_length) {
  temp_dir dir;
  std::string path = dir / "pad.safetensors";
  double x = 0.75;
  for (std::size_t len = 1; len <= 16; ++len) {
    std::string name(len, 'n');
    vaec::rt::write_checkpoint(path, {{name, dtype::f64, {}, &x}}, {});
    std::string bytes = read_bytes(path);
    std::uint64_t n = decode_le64(bytes);
    BOOST_TEST_CONTEXT("name length " << len) {
      BOOST_TEST(n % 8 == 0u);
      BOOST_TEST(bytes.size() == 8 + n + 8);
      std::string header = bytes.substr(8, n);
      BOOST_TEST(n - (header.find_last_not_of(' ') + 1) < 8u);
      BOOST_TEST(json::parse(header).contains(name));
      BOOST_TEST(vaec::rt::read_checkpoint(path).tensors.at(name).as_f64() ==
                     std::vector<double>{x},
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(values_are_read_only_as_their_own_dtype) {
  vaec::rt::tensor_data t;
  t.type = dtype::f64;
  t.shape = {2};
  t.bytes.resize(16);
  BOOST_CHECK_THROW((void)t.as_f32(), checkpoint_error);
  BOOST_CHECK_THROW((void)t.as_i64(), checkpoint_error);
  BOOST_TEST(t.as_f64().size() == 2u);
  t.bytes.resize(12);  // not 2 × 8
  BOOST_CHECK_THROW((void)t.as_f64(), checkpoint_error);
}

// ---- corrupt files -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rejects_missing_files_and_directories) {
  temp_dir dir;
  expect_rejected(dir / "absent.safetensors", "no such file or directory");
  expect_rejected(dir.path.string(), "is a directory");
}

BOOST_AUTO_TEST_CASE(rejects_a_file_shorter_than_8_bytes) {
  temp_dir dir;
  expect_file_rejected(dir, "", "file is 0 bytes, shorter than the 8-byte header length");
  expect_file_rejected(dir, std::string("\x10\x00\x00", 3), "file is 3 bytes, shorter than");
}

BOOST_AUTO_TEST_CASE(rejects_a_header_length_beyond_the_file) {
  temp_dir dir;
  expect_file_rejected(dir, le64(1000) + "{}      ",
                       "header length 1000 goes beyond the end of the file (16 bytes)");
  expect_file_rejected(dir, le64(9), "header length 9 goes beyond the end of the file (8 bytes)");
  // Not fooled by wrap-around.
  expect_file_rejected(dir, le64(std::numeric_limits<std::uint64_t>::max()) + "{}",
                       "goes beyond the end of the file");
}

BOOST_AUTO_TEST_CASE(rejects_invalid_json) {
  temp_dir dir;
  expect_file_rejected(dir, safetensors_file(R"({"a": {"dtype": )"), "header is not valid JSON");
  expect_file_rejected(dir, safetensors_file(""), "header is not valid JSON");
  expect_file_rejected(dir, safetensors_file("{\"\xff\": 1}"), "header is not valid JSON");
  expect_file_rejected(dir, safetensors_file("[1, 2]"), "header is an array, not a JSON object");
  expect_file_rejected(dir, safetensors_file(R"({"a": 5})"),
                       "tensor 'a' is described by a number, not an object");
}

BOOST_AUTO_TEST_CASE(rejects_an_unknown_dtype) {
  temp_dir dir;
  expect_file_rejected(
      dir, safetensors_file(R"({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})",
                            "abcd"),
      "tensor 'h' has dtype 'F16'; vaec reads only F32, F64 and I64");
  expect_file_rejected(
      dir, safetensors_file(R"({"h": {"dtype": 32, "shape": [2], "data_offsets": [0, 8]}})",
                            "abcdefgh"),
      "tensor 'h' has a dtype that is a number, not a string");
}

BOOST_AUTO_TEST_CASE(rejects_missing_fields_and_bad_shapes) {
  temp_dir dir;
  std::string data(8, '\0');
  expect_file_rejected(dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2]}})", data),
                       "tensor 'a' has no 'data_offsets'");
  expect_file_rejected(dir,
                       safetensors_file(R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})", data),
                       "tensor 'a' has no 'shape'");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
                            data),
      "tensor 'a' has shape [-2] with a negative dimension");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})",
                            data),
      "is not a list of whole numbers");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", data),
      "tensor 'a' has data_offsets [0], not two byte offsets");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})",
                            data),
      "not two byte offsets");
}

BOOST_AUTO_TEST_CASE(rejects_offsets_out_of_range) {
  temp_dir dir;
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                            "abcd"),
      "tensor 'a' has data_offsets [0, 8] beyond the end of the data (4 bytes)");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [9, 9]}})",
                            "abcdefgh"),
      "tensor 'a' has data_offsets [9, 9] beyond the end of the data (8 bytes)");
  expect_file_rejected(
      dir, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})",
                            "abcdefgh"),
      "tensor 'a' has data_offsets [8, 0]: begin is after end");
}

BOOST_AUTO_TEST_CASE(rejects_overlapping_offsets) {
  temp_dir dir;
  expect_file_rejected(dir,
                       safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                        std::string(12, '\0')),
                       "tensors 'a' and 'b' overlap: data_offsets [0, 8] and [4, 12]");
  // The same bytes for two tensors is an overlap too.
  expect_file_rejected(dir,
                       safetensors_file(R"({"b": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
                                            "a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})",
                                        std::string(8, '\0')),
                       "overlap");
  // An empty tensor occupies no bytes, wherever it points.
  std::string ok = dir / "ok.safetensors";
  write_bytes(ok, safetensors_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                       "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                                   std::string(8, '\0')));
  BOOST_TEST(vaec::rt::read_checkpoint(ok).tensors.size() == 2u);
}

BOOST_AUTO_TEST_CASE(rejects_a_size_that_does_not_match_dtype_times_shape) {
  temp_dir dir;
  std::string path = dir / "theta.safetensors";
  write_bytes(path, safetensors_file(
                        R"({"theta": {"dtype": "F32", "shape": [5, 6], "data_offsets": [0, 100]}})",
                        std::string(100, '\0')));
  BOOST_TEST(error_of([&] { (void)vaec::rt::read_checkpoint(path); }) ==
             path + ": tensor 'theta' has data_offsets [0, 100] but F32 [5, 6] needs 120 bytes");
  expect_file_rejected(
      dir, safetensors_file(R"({"s": {"dtype": "I64", "shape": [], "data_offsets": [0, 4]}})",
                            "abcd"),
      "tensor 's' has data_offsets [0, 4] but I64 [] needs 8 bytes");
  // A shape whose byte count overflows 64 bits.
  expect_file_rejected(
      dir,
      safetensors_file(
          R"({"s": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
          "abcdefgh"),
      "needs more than 2^64 bytes");
}

BOOST_AUTO_TEST_CASE(rejects_non_string_metadata) {
  temp_dir dir;
  expect_file_rejected(dir, safetensors_file(R"({"__metadata__": {"epoch": 3}})"),
                       "metadata 'epoch' is a number, not a string");
  expect_file_rejected(dir, safetensors_file(R"({"__metadata__": {"k": ["v"]}})"),
                       "metadata 'k' is an array, not a string");
  expect_file_rejected(dir, safetensors_file(R"({"__metadata__": ["k", "v"]})"),
                       "__metadata__ is an array, not an object");
  // Metadata alone is a valid checkpoint.
  std::string ok = dir / "ok.safetensors";
  write_bytes(ok, safetensors_file(R"({"__metadata__": {"k": "v"}})"));
  BOOST_TEST(vaec::rt::read_checkpoint(ok).metadata.at("k") == "v");
}

BOOST_AUTO_TEST_CASE(rejects_a_name_given_twice) {
  temp_dir dir;
  expect_file_rejected(dir,
                       safetensors_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                            "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                                        std::string(8, '\0')),
                       "header names 'a' twice");
}

// ---- writing: bad arguments and atomicity ---------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_arguments_are_rejected_before_any_file_is_touched) {
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  float v[2] = {1, 2};
  auto rejects = [&](const std::vector<tensor_view>& tensors, const std::string& fragment) {
    std::string what = error_of([&] { vaec::rt::write_checkpoint(path, tensors, {}); });
    BOOST_CHECK_MESSAGE(what.rfind(path + ": ", 0) == 0 && contains(what, fragment),
                        "\"" << what << "\" lacks \"" << fragment << "\"");
    BOOST_TEST(fs::is_empty(dir.path));
  };
  rejects({{"a", dtype::f32, {2}, v}, {"a", dtype::f32, {1}, v}}, "tensor 'a' is given twice");
  rejects({{"a", dtype::f32, {2, -1}, v}}, "tensor 'a' has a negative dimension in shape [2, -1]");
  rejects({{"a", dtype::f32, {2}, nullptr}}, "tensor 'a' has shape [2] but no data");
  rejects({{"__metadata__", dtype::f32, {2}, v}}, "'__metadata__' is reserved");
  rejects({{"bad\xff", dtype::f32, {2}, v}}, "tensor name \"bad\xEF\xBF\xBD\" is not valid UTF-8");
  rejects({{"huge", dtype::f64, {1LL << 32, 1LL << 32}, v}}, "is too large");
}

BOOST_AUTO_TEST_CASE(overwriting_replaces_the_old_checkpoint) {
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  std::vector<double> first = {1, 2, 3}, second = {4};
  vaec::rt::write_checkpoint(path, {{"x", dtype::f64, {3}, first.data()}}, {{"epoch", "1"}});
  vaec::rt::write_checkpoint(path, {{"y", dtype::f64, {1}, second.data()}}, {{"epoch", "2"}});
  auto c = vaec::rt::read_checkpoint(path);
  BOOST_TEST(c.tensors.size() == 1u);
  BOOST_TEST(c.tensors.at("y").as_f64() == second, boost::test_tools::per_element());
  BOOST_TEST(c.metadata.at("epoch") == "2");
  BOOST_TEST(!fs::exists(path + ".tmp"));
}

BOOST_AUTO_TEST_CASE(writing_into_a_missing_directory_leaves_nothing) {
  temp_dir dir;
  fs::path missing = dir.path / "no" / "such" / "dir";
  std::string path = (missing / "c.safetensors").string();
  float v = 1;
  std::string what = error_of([&] { vaec::rt::write_checkpoint(path, {{"v", dtype::f32, {}, &v}}, {}); });
  BOOST_TEST(what.rfind(path + ": ", 0) == 0, what);
  BOOST_TEST(contains(what, "no such file or directory"), what);
  BOOST_TEST(!fs::exists(dir.path / "no"));
  BOOST_TEST(fs::is_empty(dir.path));
}

// The temporary file cannot be created (its parent is a regular file; root cannot get
// around that, unlike permission bits).
BOOST_AUTO_TEST_CASE(writing_under_a_regular_file_throws_and_leaves_it_alone) {
  temp_dir dir;
  std::string file = dir / "not-a-dir";
  write_bytes(file, "precious");
  std::string path = file + "/c.safetensors";
  float v = 1;
  std::string what = error_of([&] { vaec::rt::write_checkpoint(path, {{"v", dtype::f32, {}, &v}}, {}); });
  BOOST_TEST(what.rfind(path + ": cannot create '" + path + ".tmp'", 0) == 0, what);
  BOOST_TEST(contains(what, "not a directory"), what);
  BOOST_TEST(read_bytes(file) == "precious");
}

// PATH.tmp cannot be created (a directory sits there): the old checkpoint is untouched.
BOOST_AUTO_TEST_CASE(a_failed_write_leaves_the_old_checkpoint_byte_identical) {
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  std::vector<float> old = {1, 2, 3};
  vaec::rt::write_checkpoint(path, {{"old", dtype::f32, {3}, old.data()}}, {{"epoch", "1"}});
  std::string before = read_bytes(path);
  fs::create_directory(path + ".tmp");
  write_bytes(path + ".tmp/keep", "x");

  std::vector<float> fresh = {4, 5};
  std::string what = error_of(
      [&] { vaec::rt::write_checkpoint(path, {{"new", dtype::f32, {2}, fresh.data()}}, {}); });
  BOOST_TEST(what.rfind(path + ": cannot create '" + path + ".tmp'", 0) == 0, what);
  BOOST_TEST(contains(what, "is a directory"), what);
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(fs::exists(path + ".tmp/keep"));  // not ours to remove
}

// The disk fills up mid-write (PATH.tmp leads to /dev/full): the temporary file is removed
// and the old checkpoint is untouched.
BOOST_AUTO_TEST_CASE(a_full_disk_leaves_the_old_checkpoint_and_no_temporary_file) {
  if (!fs::exists("/dev/full")) {
    BOOST_TEST_MESSAGE("no /dev/full; skipped");
    return;
  }
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  std::vector<double> old = {1, 2};
  vaec::rt::write_checkpoint(path, {{"old", dtype::f64, {2}, old.data()}}, {});
  std::string before = read_bytes(path);
  fs::create_symlink("/dev/full", path + ".tmp");

  std::vector<double> fresh(100000, 0.5);  // more than a stdio buffer
  std::string what = error_of(
      [&] { vaec::rt::write_checkpoint(path, {{"new", dtype::f64, {100000}, fresh.data()}}, {}); });
  BOOST_TEST(what.rfind(path + ": cannot write '" + path + ".tmp'", 0) == 0, what);
  BOOST_TEST(contains(what, "no space left on device"), what);
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(!fs::exists(fs::symlink_status(path + ".tmp")));
}

// PATH is a directory: the rename fails, the temporary file goes, the directory stays.
BOOST_AUTO_TEST_CASE(writing_over_a_directory_throws_and_cleans_up) {
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  fs::create_directory(path);
  write_bytes(path + "/keep", "x");
  float v = 1;
  std::string what = error_of([&] { vaec::rt::write_checkpoint(path, {{"v", dtype::f32, {}, &v}}, {}); });
  BOOST_TEST(what.rfind(path + ": cannot rename '" + path + ".tmp' to it", 0) == 0, what);
  BOOST_TEST(contains(what, "is a directory"), what);
  BOOST_TEST(!fs::exists(path + ".tmp"));
  BOOST_TEST(read_bytes(path + "/keep") == "x");
}

// ---- an independent reader ---------------------------------------------------------------

// tests/runtime/read_safetensors.py reads the format with Python's standard library only.
BOOST_AUTO_TEST_CASE(an_independent_python_reader_sees_what_was_written) {
  temp_dir dir;
  std::string path = dir / "c.safetensors";
  std::vector<float> w = {0.1f, -2.5f, 3e38f, 1e-45f, -0.0f, std::numeric_limits<float>::infinity()};
  std::vector<double> m = {std::numbers::pi, -1e-300, 1e300};
  std::vector<std::int64_t> step = {std::numeric_limits<std::int64_t>::max(),
                                    std::numeric_limits<std::int64_t>::min(), 42, -7};
  double s = 2.0 / 3.0;
  std::map<std::string, std::string> metadata = {{"model", "fashion_gaussian"},
                                                 {"note", "θ and φ, \"quoted\""}};
  vaec::rt::write_checkpoint(path,
                             {{"w", dtype::f32, {3, 2}, w.data()},
                              {"adam.m", dtype::f64, {3}, m.data()},
                              {"adam.step", dtype::i64, {2, 1, 2}, step.data()},
                              {"s", dtype::f64, {}, &s},
                              {"e", dtype::f32, {0, 4}, nullptr}},
                             metadata);

  std::string out = run("python3 '" VAEC_SOURCE_DIR "/tests/runtime/read_safetensors.py' '" + path +
                        "'");
  json r = json::parse(out);
  BOOST_TEST(r["header_size"].get<std::uint64_t>() % 8 == 0u);
  BOOST_TEST(r["metadata"] == json(metadata));
  const json& t = r["tensors"];
  BOOST_TEST(t.size() == 5u);

  BOOST_TEST(t["w"]["dtype"] == "F32");
  BOOST_TEST(t["w"]["shape"] == json({3, 2}));
  const json& wv = t["w"]["values"];
  BOOST_REQUIRE(wv.size() == w.size());
  for (std::size_t i = 0; i + 1 < w.size(); ++i)
    BOOST_TEST(static_cast<double>(w[i]) == wv[i].get<double>());  // exact: float ⊂ double
  BOOST_TEST(std::signbit(wv[4].get<double>()));
  BOOST_TEST(wv[5] == "inf");

  BOOST_TEST(t["adam.m"]["dtype"] == "F64");
  BOOST_TEST(t["adam.m"]["shape"] == json({3}));
  for (std::size_t i = 0; i < m.size(); ++i)
    BOOST_TEST(t["adam.m"]["values"][i].get<double>() == m[i]);

  BOOST_TEST(t["adam.step"]["dtype"] == "I64");
  BOOST_TEST(t["adam.step"]["shape"] == json({2, 1, 2}));
  for (std::size_t i = 0; i < step.size(); ++i)
    BOOST_TEST(t["adam.step"]["values"][i].get<std::int64_t>() == step[i]);

  BOOST_TEST(t["s"]["shape"] == json::array());
  BOOST_TEST(t["s"]["values"] == json({s}));
  BOOST_TEST(t["e"]["shape"] == json({0, 4}));
  BOOST_TEST(t["e"]["values"] == json::array());
}

// The reader is not a rubber stamp: it refuses what the reference implementation refuses,
// such as a gap between tensors, which read_checkpoint refuses too.
BOOST_AUTO_TEST_CASE(the_python_reader_rejects_a_malformed_file) {
  temp_dir dir;
  std::string path = dir / "gap.safetensors";
  write_bytes(path, safetensors_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                                     std::string(8, '\0')));
  BOOST_CHECK_EXCEPTION(vaec::rt::read_checkpoint(path), vaec::rt::checkpoint_error, [](const auto& e) {
    return std::string(e.what()).find("holds 8 bytes, but the tensors cover 4") != std::string::npos;
  });
  std::string command = "python3 '" VAEC_SOURCE_DIR "/tests/runtime/read_safetensors.py' '" + path +
                        "' >/dev/null 2>&1";
  BOOST_TEST(std::system(command.c_str()) != 0);
}

// A flipped byte or an appended one is found: the data's SHA-256 is in the metadata.
BOOST_AUTO_TEST_CASE(a_damaged_checkpoint_is_refused) {
  temp_dir dir;
  const std::string path = dir / "c.safetensors";
  std::vector<float> a = {1, 2, 3, 4};
  std::vector<vaec::rt::tensor_view> views = {{"a", vaec::rt::dtype::f32, {4}, a.data()}};
  write_checkpoint(path, views, {{vaec::rt::checkpoint_digest_key, vaec::rt::data_digest(views)}});
  BOOST_TEST(vaec::rt::read_checkpoint(path).tensors.at("a").as_f32() == a);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 1;
  write_bytes(path, flipped);
  BOOST_CHECK_EXCEPTION(vaec::rt::read_checkpoint(path), vaec::rt::checkpoint_error, [](const auto& e) {
    return std::string(e.what()).find("do not match the SHA-256 stored in it") != std::string::npos;
  });
  write_bytes(path, bytes + "x");
  BOOST_CHECK_EXCEPTION(vaec::rt::read_checkpoint(path), vaec::rt::checkpoint_error, [](const auto& e) {
    return std::string(e.what()).find("has bytes added") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()
