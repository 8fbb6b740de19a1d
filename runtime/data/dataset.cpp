// load_data and load_file: which reader a path needs, the train/test IDX folder layout,
// and the `fashion-mnist` name; the readers themselves are in idx.cpp, npy.cpp, csv.cpp.
#include "runtime/data/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

#include <fmt/format.h>

#include "runtime/data/formats.hpp"

namespace vaec::rt {

namespace detail {

void scale_bytes(const unsigned char* in, std::size_t n, float* out) {
  // A division, not a multiplication by 1/255: 128 → 128/255 as the user computes it.
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
}

void bad_value(const std::string& name, std::size_t index, std::size_t width, double v) {
  std::string what = std::isnan(v) ? "NaN" : std::isinf(v) ? "infinite" : fmt::format("{}, outside float32's range", v);
  throw data_error(fmt::format("{}: value {} (example {}, position {}, counting from 0) is {}", name, index,
                               index / width, index % width, what));
}

std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& name, const char* what) {
  std::size_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw data_error(fmt::format("{}: {} overflows", name, what));
  return r;
}

}  // namespace detail

namespace {

namespace fs = std::filesystem;

enum class format { idx, npy, csv, unknown };

// The format a file's name says, or failing that, its first bytes.
format format_of(const std::string& path, std::span<const unsigned char> b) {
  std::string file = fs::path(path).filename().string();
  std::transform(file.begin(), file.end(), file.begin(), [](unsigned char c) { return std::tolower(c); });
  if (file.ends_with(".gz")) file.resize(file.size() - 3);
  if (file.ends_with("-ubyte") || file.ends_with(".idx")) return format::idx;
  if (file.ends_with(".npy")) return format::npy;
  if (file.ends_with(".csv")) return format::csv;
  std::string_view head(reinterpret_cast<const char*>(b.data()), std::min<std::size_t>(b.size(), 8));
  if (head.starts_with("\x93NUMPY")) return format::npy;
  // Two zero bytes, a known type and a plausible rank: IDX.
  if (b.size() >= 4 && b[0] == 0 && b[1] == 0 && (b[2] == 0x08 || b[2] == 0x09 || (b[2] >= 0x0B && b[2] <= 0x0E)) &&
      b[3] >= 1 && b[3] <= 8)
    return format::idx;
  return format::unknown;
}

// DIR/BASE, or else DIR/BASE.gz, when it exists.
std::optional<std::string> find_in(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  for (const std::string& f : {base, base + ".gz"})
    if (fs::is_regular_file(dir / f, ec)) return (dir / f).string();
  return std::nullopt;
}

// Attaches DIR/LABEL_BASE[.gz] to `d` when that file exists.
void attach_labels(dataset& d, const fs::path& dir, const std::string& label_base) {
  std::optional<std::string> file = find_in(dir, label_base);
  if (!file) return;
  std::vector<std::int32_t> labels = load_idx_labels(*file);
  if (labels.size() != d.count)
    throw data_error(fmt::format("{}: holds {} labels, but {} holds {} examples", *file, labels.size(), d.origin,
                                 d.count));
  d.labels = std::move(labels);
}

data_splits load_folder(const std::string& path) {
  fs::path dir(path);
  const std::string train_base = "train-images-idx3-ubyte";
  const std::string test_base = "t10k-images-idx3-ubyte";
  std::optional<std::string> train_file = find_in(dir, train_base);
  std::optional<std::string> test_file = find_in(dir, test_base);
  if (!train_file || !test_file) {
    std::string found = !train_file && !test_file ? "neither"
                        : train_file             ? "only " + fs::path(*train_file).filename().string()
                                                 : "only " + fs::path(*test_file).filename().string();
    throw data_error(fmt::format(
        "{}: expected a folder holding the MNIST-style pair {}[.gz] (training) and {}[.gz] (test), found {}; "
        "to load one file alone, pass its path",
        path, train_base, test_base, found));
  }
  data_splits s;
  s.train = load_file(*train_file);
  attach_labels(s.train, dir, "train-labels-idx1-ubyte");
  s.test = load_file(*test_file);
  attach_labels(*s.test, dir, "t10k-labels-idx1-ubyte");
  if (s.test->width != s.train.width)
    throw data_error(fmt::format("{}: examples have width {}, but the training split's ({}) have width {}",
                                 s.test->origin, s.test->width, s.train.origin, s.train.width));
  return s;
}

}  // namespace

data_splits load_data(const std::string& path) {
  if (path == "fashion-mnist") {
    std::error_code ec;
    if (!fs::is_directory(fashion_mnist_dir, ec))
      throw data_error(fmt::format("fashion-mnist: the data set is not installed ({} does not exist); install it with "
                                   "`sudo apt-get install dataset-fashion-mnist`",
                                   fashion_mnist_dir));
    return load_folder(fashion_mnist_dir);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return load_folder(path);
  return {load_file(path), std::nullopt};  // load_file says what is wrong with a missing path
}

dataset load_file(const std::string& path) {
  std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  switch (format_of(path, bytes)) {
    case format::idx:
      return detail::parse_idx(path, bytes);
    case format::npy:
      return detail::parse_npy(path, bytes);
    case format::csv:
      return detail::parse_csv(path, bytes);
    case format::unknown:
      break;
  }
  std::string hint = bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4
                         ? " (this is a zip archive, such as an .npz; save one array with np.save)"
                         : "";
  throw data_error(fmt::format("{}: unknown data format{}: expected an IDX file (*-ubyte, optionally .gz), a NumPy "
                               ".npy file or a .csv file",
                               path, hint));
}

std::vector<std::int32_t> load_idx_labels(const std::string& path) {
  return detail::parse_idx_labels(path, detail::read_file_bytes(path));
}

}  // namespace vaec::rt
