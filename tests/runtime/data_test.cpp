// Tests of runtime/data: IDX (plain and gzip), NumPy .npy and CSV files, folders holding the
// train/test IDX pair, and the errors for broken files. Fixtures are written into a fresh
// temporary folder; expected values are the ones the test wrote.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include "runtime/data/dataset.hpp"

namespace {

namespace fs = std::filesystem;
using vaec::rt::data_error;
using bytes = std::vector<unsigned char>;

// A fresh folder for one test, removed at its end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> serial{0};
    path = fs::temp_directory_path() /
           ("vaec-data-test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_file(const std::string& path, const bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  BOOST_REQUIRE(out.good());
}

void write_file(const std::string& path, const std::string& text) { write_file(path, bytes(text.begin(), text.end())); }

// Writes `b` gzip-compressed, as the gzip program would.
void write_gz(const std::string& path, const bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_REQUIRE(f != nullptr);
  BOOST_REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
  BOOST_REQUIRE(gzclose(f) == Z_OK);
}

bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), {});
}

void append_be32(bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

// An IDX file: magic 00 00 TYPE RANK, big-endian dimensions, then `payload` as given.
bytes idx(unsigned char type, const std::vector<std::uint32_t>& dims, const bytes& payload) {
  bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims) append_be32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

bytes be_floats(const std::vector<float>& v) {
  bytes b;
  for (float f : v) append_be32(b, std::bit_cast<std::uint32_t>(f));
  return b;
}

// Little-endian bytes of the values (this test, like vaec, runs on a little-endian machine).
template <class T>
bytes le(const std::vector<T>& v) {
  static_assert(std::endian::native == std::endian::little);
  bytes b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A .npy file of format `major`.0 with the given header dict, padded as np.save pads it.
bytes npy(const std::string& dict, const bytes& payload, int major = 1) {
  std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  std::size_t n = header.size();
  b.push_back(static_cast<unsigned char>(n));
  b.push_back(static_cast<unsigned char>(n >> 8));
  if (major != 1) {
    b.push_back(static_cast<unsigned char>(n >> 16));
    b.push_back(static_cast<unsigned char>(n >> 24));
  }
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// The message of the data_error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const data_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Loading `path` fails with a message that names the file and says each of `parts`.
void check_error(const std::string& path, const std::vector<std::string>& parts,
                 const std::function<void(const std::string&)>& load = [](const std::string& p) {
                   vaec::rt::load_file(p);
                 }) {
  std::string msg = error_of([&] { load(path); });
  BOOST_TEST_MESSAGE(msg);  // --log_level=message shows every rendered error
  BOOST_TEST_INFO("message: " << msg);
  BOOST_TEST(contains(msg, path));
  for (const std::string& p : parts) {
    BOOST_TEST_INFO("expected part: " << p);
    BOOST_TEST(contains(msg, p));
  }
}

// The Fashion-MNIST-like folder: 3 training and 2 test images of 2×2 pixels, with labels.
void write_idx_pair(const temp_dir& t, bool gz) {
  auto put = gz ? write_gz : static_cast<void (*)(const std::string&, const bytes&)>(write_file);
  std::string ext = gz ? ".gz" : "";
  put(t.file("train-images-idx3-ubyte" + ext), idx(0x08, {3, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255}));
  put(t.file("train-labels-idx1-ubyte" + ext), idx(0x08, {3}, {9, 0, 3}));
  put(t.file("t10k-images-idx3-ubyte" + ext), idx(0x08, {2, 2, 2}, {255, 254, 253, 252, 0, 0, 0, 128}));
  put(t.file("t10k-labels-idx1-ubyte" + ext), idx(0x08, {2}, {1, 2}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data)

// ---- IDX -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(idx_uint8_is_scaled_to_unit_interval) {
  temp_dir t;
  std::string f = t.file("images-idx3-ubyte");
  write_file(f, idx(0x08, {3, 2, 2}, {0, 255, 128, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  vaec::rt::dataset d = vaec::rt::load_file(f);
  BOOST_TEST(d.count == 3u);
  BOOST_TEST(d.width == 4u);
  BOOST_TEST(d.values.size() == 12u);
  BOOST_TEST(d.scaled_from_bytes);
  BOOST_TEST(d.labels.empty());
  BOOST_TEST(d.origin == f);
  BOOST_TEST(d.values[0] == 0.0f);
  BOOST_TEST(d.values[1] == 1.0f);
  BOOST_TEST(d.values[2] == 128.0f / 255.0f);
  BOOST_TEST(d.values[3] == 1.0f / 255.0f);
  BOOST_TEST(d.values[11] == 9.0f / 255.0f);
}

BOOST_AUTO_TEST_CASE(idx_gzip_by_name_and_by_magic) {
  temp_dir t;
  bytes file = idx(0x08, {2, 3}, {10, 20, 30, 40, 50, 255});
  // Named .gz, and gzip content under a plain name: both are inflated.
  for (std::string name : {"x-ubyte.gz", "x-ubyte"}) {
    write_gz(t.file(name), file);
    vaec::rt::dataset d = vaec::rt::load_file(t.file(name));
    BOOST_TEST(d.count == 2u);
    BOOST_TEST(d.width == 3u);
    BOOST_TEST(d.values[0] == 10.0f / 255.0f);
    BOOST_TEST(d.values[5] == 1.0f);
  }
  // A gzip file concatenated from two members reads as one stream, as gzip does.
  write_gz(t.file("a.gz"), bytes(file.begin(), file.begin() + 7));
  write_gz(t.file("b.gz"), bytes(file.begin() + 7, file.end()));
  bytes both = read_file(t.file("a.gz"));
  bytes second = read_file(t.file("b.gz"));
  both.insert(both.end(), second.begin(), second.end());
  write_file(t.file("two-ubyte.gz"), both);
  BOOST_TEST(vaec::rt::load_file(t.file("two-ubyte.gz")).values == vaec::rt::load_file(t.file("x-ubyte")).values);
}

BOOST_AUTO_TEST_CASE(idx_of_unknown_name_is_found_by_magic) {
  temp_dir t;
  write_file(t.file("pixels.bin"), idx(0x08, {1, 2}, {0, 255}));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("pixels.bin"));
  BOOST_TEST(d.values == std::vector<float>({0.0f, 1.0f}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(idx_float32_and_integers_are_not_scaled) {
  temp_dir t;
  std::vector<float> v = {1.5f, -2.25f, 0.001f, 3e30f, -0.0f, 7.0f};
  write_file(t.file("f-ubyte"), idx(0x0D, {2, 3}, be_floats(v)));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("f-ubyte"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 3u);
  BOOST_TEST(!d.scaled_from_bytes);
  BOOST_TEST(d.values == v, boost::test_tools::per_element());

  // int16: 0x0102 = 258 and 0xFFFE = -2; int32: 0x00010000 = 65536 and -1.
  write_file(t.file("s-ubyte"), idx(0x0B, {2, 1}, {0x01, 0x02, 0xFF, 0xFE}));
  BOOST_TEST(vaec::rt::load_file(t.file("s-ubyte")).values == std::vector<float>({258.0f, -2.0f}),
             boost::test_tools::per_element());
  write_file(t.file("i-ubyte"), idx(0x0C, {1, 2}, {0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}));
  vaec::rt::dataset i = vaec::rt::load_file(t.file("i-ubyte"));
  BOOST_TEST(!i.scaled_from_bytes);
  BOOST_TEST(i.values == std::vector<float>({65536.0f, -1.0f}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(idx_labels) {
  temp_dir t;
  write_file(t.file("l-idx1-ubyte"), idx(0x08, {4}, {9, 0, 255, 3}));
  BOOST_TEST(vaec::rt::load_idx_labels(t.file("l-idx1-ubyte")) == std::vector<std::int32_t>({9, 0, 255, 3}),
             boost::test_tools::per_element());
  // Images are not labels.
  write_file(t.file("i-idx3-ubyte"), idx(0x08, {1, 1, 1}, {7}));
  check_error(t.file("i-idx3-ubyte"), {"expected an idx1 file of uint8 labels", "idx3"},
              [](const std::string& p) { vaec::rt::load_idx_labels(p); });
}

BOOST_AUTO_TEST_CASE(idx_errors) {
  temp_dir t;
  write_file(t.file("magic-ubyte"), bytes{0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7});
  check_error(t.file("magic-ubyte"), {"wrong magic number 0x1F000801"});

  write_file(t.file("short-ubyte"), bytes{0, 0});
  check_error(t.file("short-ubyte"), {"truncated"});

  write_file(t.file("type-ubyte"), idx(0x07, {1}, {1}));
  check_error(t.file("type-ubyte"), {"unknown IDX value type 0x07"});

  write_file(t.file("rank0-ubyte"), bytes{0, 0, 0x08, 0});
  check_error(t.file("rank0-ubyte"), {"0 dimensions"});

  write_file(t.file("header-ubyte"), bytes{0, 0, 0x08, 3, 0, 0, 0, 1});
  check_error(t.file("header-ubyte"), {"truncated", "declares 3 dimensions"});

  write_file(t.file("zero-ubyte"), idx(0x08, {5, 0}, {}));
  check_error(t.file("zero-ubyte"), {"dimension 2", "is 0"});

  write_file(t.file("overflow-ubyte"), idx(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1, 2, 3}));
  check_error(t.file("overflow-ubyte"), {"overflows"});

  // 60000 × 28 × 28 bytes promised, 1000 present.
  write_file(t.file("train-images-idx3-ubyte"), idx(0x08, {60000, 28, 28}, bytes(1000, 7)));
  check_error(t.file("train-images-idx3-ubyte"),
              {"truncated: the header promises 47040000 bytes", "the file holds 1000"});

  write_file(t.file("long-ubyte"), idx(0x08, {2, 2}, {1, 2, 3, 4, 5}));
  check_error(t.file("long-ubyte"), {"trailing garbage", "holds 5 after the 12-byte header (1 too many)"});

  std::vector<float> v = {1.0f, 2.0f, 3.0f, std::numeric_limits<float>::quiet_NaN()};
  write_file(t.file("nan-ubyte"), idx(0x0D, {2, 2}, be_floats(v)));
  check_error(t.file("nan-ubyte"), {"value 3 (example 1, position 1", "is NaN"});
  v[3] = 4.0f;
  v[0] = -std::numeric_limits<float>::infinity();
  write_file(t.file("inf-ubyte"), idx(0x0D, {2, 2}, be_floats(v)));
  check_error(t.file("inf-ubyte"), {"value 0 (example 0, position 0", "is infinite"});
}

BOOST_AUTO_TEST_CASE(gzip_errors) {
  temp_dir t;
  bytes file = idx(0x08, {64, 64}, {});
  for (std::size_t i = 0; i < 64 * 64; ++i) file.push_back(static_cast<unsigned char>((i * i * 31 + i / 7) % 251));
  write_gz(t.file("good-ubyte.gz"), file);
  bytes gz = read_file(t.file("good-ubyte.gz"));
  BOOST_REQUIRE(gz.size() > 40);

  write_file(t.file("cut-ubyte.gz"), bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  check_error(t.file("cut-ubyte.gz"), {"truncated gzip stream"});

  bytes bad_method = gz;
  bad_method[2] = 0x07;  // the compression method: 8 is deflate
  write_file(t.file("method-ubyte.gz"), bad_method);
  check_error(t.file("method-ubyte.gz"), {"corrupt gzip stream", "unknown compression method"});

  bytes bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 0x55;  // the CRC-32 in the trailer
  write_file(t.file("crc-ubyte.gz"), bad_crc);
  check_error(t.file("crc-ubyte.gz"), {"corrupt gzip stream", "incorrect data check"});

  bytes trailing = gz;
  trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
  write_file(t.file("trailing-ubyte.gz"), trailing);
  check_error(t.file("trailing-ubyte.gz"), {"4 bytes of trailing garbage after the gzip stream"});
}

// ---- folders ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(folder_with_the_idx_pair, *boost::unit_test::tolerance(0.0f)) {
  for (bool gz : {false, true}) {
    temp_dir t;
    write_idx_pair(t, gz);
    vaec::rt::data_splits s = vaec::rt::load_data(t.path.string());
    BOOST_TEST(s.train.count == 3u);
    BOOST_TEST(s.train.width == 4u);
    BOOST_TEST(s.train.values[11] == 1.0f);
    BOOST_TEST(s.train.values[1] == 1.0f / 255.0f);
    BOOST_TEST(s.train.labels == std::vector<std::int32_t>({9, 0, 3}), boost::test_tools::per_element());
    BOOST_TEST(s.train.origin == t.file(std::string("train-images-idx3-ubyte") + (gz ? ".gz" : "")));
    BOOST_REQUIRE(s.test.has_value());
    BOOST_TEST(s.test->count == 2u);
    BOOST_TEST(s.test->width == 4u);
    BOOST_TEST(s.test->values[0] == 1.0f);
    BOOST_TEST(s.test->values[7] == 128.0f / 255.0f);
    BOOST_TEST(s.test->labels == std::vector<std::int32_t>({1, 2}), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(folder_without_labels) {
  temp_dir t;
  write_idx_pair(t, false);
  fs::remove(t.file("train-labels-idx1-ubyte"));
  fs::remove(t.file("t10k-labels-idx1-ubyte"));
  vaec::rt::data_splits s = vaec::rt::load_data(t.path.string());
  BOOST_TEST(s.train.labels.empty());
  BOOST_TEST(s.test->labels.empty());
  BOOST_TEST(s.test->count == 2u);
}

BOOST_AUTO_TEST_CASE(folder_errors) {
  auto load = [](const std::string& p) { vaec::rt::load_data(p); };
  {
    temp_dir t;
    write_file(t.file("data.csv"), "1,2\n");
    check_error(t.path.string(), {"train-images-idx3-ubyte[.gz]", "t10k-images-idx3-ubyte[.gz]", "found neither"},
                load);
    write_file(t.file("train-images-idx3-ubyte"), idx(0x08, {1, 1}, {1}));
    check_error(t.path.string(), {"found only train-images-idx3-ubyte"}, load);
  }
  {
    temp_dir t;
    write_idx_pair(t, false);
    write_file(t.file("train-labels-idx1-ubyte"), idx(0x08, {2}, {1, 2}));
    std::string msg = error_of([&] { vaec::rt::load_data(t.path.string()); });
    BOOST_TEST_INFO("message: " << msg);
    BOOST_TEST(contains(msg, t.file("train-labels-idx1-ubyte") + ": holds 2 labels"));
    BOOST_TEST(contains(msg, t.file("train-images-idx3-ubyte") + " holds 3 examples"));
  }
  {
    temp_dir t;
    write_idx_pair(t, false);
    write_file(t.file("t10k-images-idx3-ubyte"), idx(0x08, {2, 3, 3}, bytes(18, 0)));
    std::string msg = error_of([&] { vaec::rt::load_data(t.path.string()); });
    BOOST_TEST_INFO("message: " << msg);
    BOOST_TEST(contains(msg, t.file("t10k-images-idx3-ubyte") + ": examples have width 9"));
    BOOST_TEST(contains(msg, t.file("train-images-idx3-ubyte")));
    BOOST_TEST(contains(msg, "width 4"));
  }
}

BOOST_AUTO_TEST_CASE(missing_and_unknown_files) {
  temp_dir t;
  check_error(t.file("nope-ubyte"), {"no such file or directory"},
              [](const std::string& p) { vaec::rt::load_data(p); });
  check_error(t.file("nope.csv"), {"no such file or directory"});
  check_error(t.path.string(), {"is a directory"});
  write_file(t.file("notes.txt"), "hello\n");
  check_error(t.file("notes.txt"), {"unknown data format", ".npy", ".csv"});
}

// ---- NumPy .npy ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(npy_uint8_2d_is_scaled) {
  temp_dir t;
  write_file(t.file("u.npy"), npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", {0, 128, 255, 1, 2, 3}));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("u.npy"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 3u);
  BOOST_TEST(d.scaled_from_bytes);
  BOOST_TEST(d.origin == t.file("u.npy"));
  BOOST_TEST(d.values[0] == 0.0f);
  BOOST_TEST(d.values[1] == 128.0f / 255.0f);
  BOOST_TEST(d.values[2] == 1.0f);
  BOOST_TEST(d.values[5] == 3.0f / 255.0f);
}

BOOST_AUTO_TEST_CASE(npy_float32_3d_flattens) {
  temp_dir t;
  std::vector<float> v = {0.5f, -1.0f, 2.0f, 3.25f, 1e-20f, -7.5f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f};
  write_file(t.file("f.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2), }", le(v)));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("f.npy"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 6u);
  BOOST_TEST(!d.scaled_from_bytes);
  BOOST_TEST(d.values == v, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(npy_float64_and_int64_and_version_2) {
  temp_dir t;
  std::vector<double> v = {0.1, -2.5, 1e10, 4.0};
  write_file(t.file("d.npy"), npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", le(v), 2));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("d.npy"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 2u);
  BOOST_TEST(d.values == std::vector<float>({0.1f, -2.5f, 1e10f, 4.0f}), boost::test_tools::per_element());

  std::vector<std::int64_t> i = {-3, 0, 1000000};
  write_file(t.file("i.npy"), npy("{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (3, 1)}", le(i), 3));
  BOOST_TEST(vaec::rt::load_file(t.file("i.npy")).values == std::vector<float>({-3.0f, 0.0f, 1e6f}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(npy_fortran_order_is_transposed) {
  temp_dir t;
  // The 2 × 3 array [[0, 1, 2], [3, 4, 5]] stored column by column.
  std::vector<float> columns = {0, 3, 1, 4, 2, 5};
  write_file(t.file("f2.npy"), npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", le(columns)));
  BOOST_TEST(vaec::rt::load_file(t.file("f2.npy")).values == std::vector<float>({0, 1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  // A 2 × 2 × 3 array with a[i, j, k] = 100 i + 10 j + k, in Fortran order (i fastest).
  std::vector<float> f;
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 2; ++i) f.push_back(static_cast<float>(100 * i + 10 * j + k));
  write_file(t.file("f3.npy"), npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2, 3), }", le(f)));
  vaec::rt::dataset d = vaec::rt::load_file(t.file("f3.npy"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 6u);
  BOOST_TEST(d.values == std::vector<float>({0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(npy_errors) {
  temp_dir t;
  write_file(t.file("magic.npy"), bytes{0x93, 'N', 'U', 'M', 'P', 'X', 1, 0, 0, 0});
  check_error(t.file("magic.npy"), {"not a NumPy .npy file", "magic"});

  write_file(t.file("zip.npy"), bytes{'P', 'K', 3, 4, 0, 0});
  check_error(t.file("zip.npy"), {"zip archive", "np.savez"});

  write_file(t.file("flat.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", le(std::vector<float>{1, 2, 3})));
  check_error(t.file("flat.npy"), {"expected a 2-D array of examples", "(3,)"});

  write_file(t.file("scalar.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", le(std::vector<float>{1})));
  check_error(t.file("scalar.npy"), {"expected a 2-D array of examples", "()"});

  write_file(t.file("big.npy"), npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }", bytes(4, 0)));
  check_error(t.file("big.npy"), {"big-endian", "'>f4'"});

  write_file(t.file("half.npy"), npy("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 1), }", bytes(2, 0)));
  check_error(t.file("half.npy"), {"unsupported dtype '<f2'"});

  write_file(t.file("cut.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", bytes(15, 0)));
  check_error(t.file("cut.npy"), {"truncated", "promises 16 bytes", "holds 15"});

  bytes whole = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", bytes(16, 0));
  write_file(t.file("cut-header.npy"), bytes(whole.begin(), whole.begin() + 30));
  check_error(t.file("cut-header.npy"), {"truncated", ".npy header"});

  write_file(t.file("long.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", bytes(8, 0)));
  check_error(t.file("long.npy"), {"trailing garbage"});

  write_file(t.file("garbled.npy"), npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1), }", bytes(4, 0)));
  check_error(t.file("garbled.npy"), {"malformed .npy header", "True or False"});

  write_file(t.file("noshape.npy"), npy("{'descr': '<f4', 'fortran_order': False, }", bytes(4, 0)));
  check_error(t.file("noshape.npy"), {"malformed .npy header", "'shape'"});

  std::vector<double> v = {1.0, 2.0, std::nan(""), 1e300};
  write_file(t.file("nan.npy"), npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", le(v)));
  check_error(t.file("nan.npy"), {"value 2 (example 1, position 0", "NaN"});
  v[2] = 0;
  write_file(t.file("range.npy"), npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", le(v)));
  check_error(t.file("range.npy"), {"value 3 (example 1, position 1", "outside float32's range"});
  std::vector<float> f = {std::numeric_limits<float>::infinity()};
  write_file(t.file("inf.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", le(f)));
  check_error(t.file("inf.npy"), {"value 0", "infinite"});
}

// ---- CSV -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(csv_without_header) {
  temp_dir t;
  write_file(t.file("a.csv"), "1,2.5,-3\n4e2, 0.125 ,+6\n");
  vaec::rt::dataset d = vaec::rt::load_file(t.file("a.csv"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 3u);
  BOOST_TEST(!d.scaled_from_bytes);
  BOOST_TEST(d.origin == t.file("a.csv"));
  BOOST_TEST(d.values == std::vector<float>({1, 2.5f, -3, 400, 0.125f, 6}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(csv_with_header_and_crlf) {
  temp_dir t;
  // Values are not scaled, even when they look like grey levels.
  write_file(t.file("h.csv"), "x,y\r\n255,0\r\n0.5,128\r\n\r\n\n");
  vaec::rt::dataset d = vaec::rt::load_file(t.file("h.csv"));
  BOOST_TEST(d.count == 2u);
  BOOST_TEST(d.width == 2u);
  BOOST_TEST(d.values == std::vector<float>({255, 0, 0.5f, 128}), boost::test_tools::per_element());

  // No final newline; a quoted header.
  write_file(t.file("n.csv"), "\"a\",\"b\"\n1,2\n3,4");
  BOOST_TEST(vaec::rt::load_file(t.file("n.csv")).values == std::vector<float>({1, 2, 3, 4}),
             boost::test_tools::per_element());
  // One column.
  write_file(t.file("one.csv"), "7\n8\n");
  vaec::rt::dataset one = vaec::rt::load_file(t.file("one.csv"));
  BOOST_TEST(one.count == 2u);
  BOOST_TEST(one.width == 1u);
}

BOOST_AUTO_TEST_CASE(csv_errors) {
  temp_dir t;
  write_file(t.file("text.csv"), "a,b,c\n1,2,3\n4,abc,6\n");
  check_error(t.file("text.csv"), {"line 3, column 2: 'abc' is not a number"});

  write_file(t.file("semi.csv"), "1;2\n");
  check_error(t.file("semi.csv"), {"only a header row (line 1), no data (fields are separated by commas)"});
  write_file(t.file("semi2.csv"), "a,b\n1;2,3\n");
  check_error(t.file("semi2.csv"), {"line 2, column 1: '1;2' is not a number (fields are separated by commas)"});

  // A control byte in a field is shown as \xNN: a NUL printed as is ended the message there.
  write_file(t.file("nul.csv"), std::string("1,2\n3,4\0" "5\n", 10));
  check_error(t.file("nul.csv"), {"line 2, column 2: '4\\x005' is not a number"});
  {
    const std::string msg = error_of([&] { vaec::rt::load_file(t.file("nul.csv")); });
    BOOST_TEST(msg.find('\0') == std::string::npos);
  }
  write_file(t.file("long.csv"), "1,2\n3," + std::string(100, 'x') + "\n");
  check_error(t.file("long.csv"), {"line 2, column 2: '" + std::string(60, 'x') + "…' is not a number"});

  write_file(t.file("nan.csv"), "1,2\n3,NaN\n");
  check_error(t.file("nan.csv"), {"line 2, column 2: 'NaN' is not a finite number"});
  write_file(t.file("nan1.csv"), "nan,2\n3,4\n");  // a NaN in the first row is not a header
  check_error(t.file("nan1.csv"), {"line 1, column 1: 'nan' is not a finite number"});
  write_file(t.file("inf.csv"), "1,-inf\n");
  check_error(t.file("inf.csv"), {"line 1, column 2: '-inf' is not a finite number"});
  write_file(t.file("huge.csv"), "1,1e39\n");
  check_error(t.file("huge.csv"), {"line 1, column 2: '1e39' is outside float32's range"});

  write_file(t.file("ragged.csv"), "1,2,3\n4,5,6\n7,8\n");
  check_error(t.file("ragged.csv"), {"line 3 has 2 fields, but line 1 has 3"});
  write_file(t.file("ragged-header.csv"), "a,b\n1,2,3\n");
  check_error(t.file("ragged-header.csv"), {"line 2 has 3 fields, but the header (line 1) has 2"});
  write_file(t.file("hole.csv"), "1,2\n3,\n");
  check_error(t.file("hole.csv"), {"line 2, column 2: empty field"});
  write_file(t.file("blank.csv"), "1,2\n\n3,4\n");
  check_error(t.file("blank.csv"), {"line 2 is blank"});

  write_file(t.file("empty.csv"), "");
  check_error(t.file("empty.csv"), {"empty file"});
  write_file(t.file("newlines.csv"), "\n\r\n");
  check_error(t.file("newlines.csv"), {"empty file"});
  write_file(t.file("header.csv"), "x,y\n");
  check_error(t.file("header.csv"), {"only a header row (line 1), no data"});
}

// ---- Fashion-MNIST ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(fashion_mnist) {
  if (!fs::is_directory(vaec::rt::fashion_mnist_dir)) {
    BOOST_TEST_MESSAGE("skipped: " << vaec::rt::fashion_mnist_dir
                                   << " is absent (sudo apt-get install dataset-fashion-mnist)");
    return;
  }
  auto start = std::chrono::steady_clock::now();
  vaec::rt::data_splits s = vaec::rt::load_data("fashion-mnist");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("fashion-mnist: train and test loaded in " << seconds << " s");

  BOOST_TEST(s.train.count == 60000u);
  BOOST_TEST(s.train.width == 784u);
  BOOST_TEST(s.train.values.size() == 60000u * 784u);
  BOOST_TEST(s.train.scaled_from_bytes);
  BOOST_REQUIRE(s.train.labels.size() == 60000u);
  BOOST_TEST(s.train.labels[0] == 9);  // an ankle boot
  BOOST_REQUIRE(s.test.has_value());
  BOOST_TEST(s.test->count == 10000u);
  BOOST_TEST(s.test->width == 784u);
  BOOST_REQUIRE(s.test->labels.size() == 10000u);
  for (const vaec::rt::dataset* d : {&s.train, &*s.test}) {
    BOOST_TEST(std::all_of(d->labels.begin(), d->labels.end(), [](std::int32_t l) { return l >= 0 && l <= 9; }));
    auto [lo, hi] = std::minmax_element(d->values.begin(), d->values.end());
    BOOST_TEST(*lo == 0.0f);
    BOOST_TEST(*hi == 1.0f);
  }
}

BOOST_AUTO_TEST_SUITE_END()
