// Data sets for training and evaluation: loading IDX (plain or .gz), NumPy .npy and CSV
// files, folders holding the standard train/test IDX pair, and the `fashion-mnist`
// name for Debian's dataset-fashion-mnist package (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/aligned.hpp"

namespace vaec::rt {

// A problem with a data file. what() names the file and the problem, and says how to
// fix it where there is a fix: "data/train.csv: line 17, column 3: 'abc' is not a number".
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `count` examples of `width` values each, example-major: example i is
// values[i*width .. (i+1)*width), which is a column-major [width × count] matrix.
struct dataset {
  aligned_vector<float> values;  // 64-byte aligned
  std::vector<std::int32_t> labels;  // one per example, or empty when there are none
  std::size_t count = 0;
  std::size_t width = 0;
  std::string origin;                // the file(s) it came from, for messages
  bool scaled_from_bytes = false;    // uint8 grey levels were divided by 255
};

struct data_splits {
  dataset train;
  std::optional<dataset> test;  // when the source has a test split
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

// Loads `path`:
// - "fashion-mnist": the folder fashion_mnist_dir (a clear error if the package is not
//   installed, naming the package);
// - a folder: the standard pair train-images-idx3-ubyte[.gz] + t10k-images-idx3-ubyte[.gz]
//   (with train-labels-idx1-ubyte / t10k-labels-idx1-ubyte when present) → train and test;
// - a file: IDX (`*-ubyte`, `*-ubyte.gz`, or any file whose magic says IDX), .npy, or .csv
//   → train only.
// IDX images of any rank flatten to width = product of the trailing dimensions; uint8
// values are scaled to [0, 1]. Throws data_error for anything wrong: missing file,
// unknown format, wrong magic number, truncated or corrupt data (including a corrupt
// gzip stream), a label count that differs from the image count, NaN or infinite values,
// text in a CSV, rows of different widths, an empty file.
data_splits load_data(const std::string& path);

// Loads one file (IDX, .npy or .csv) as a data set. Throws data_error.
dataset load_file(const std::string& path);

// Loads an IDX label file (idx1, uint8). Throws data_error.
std::vector<std::int32_t> load_idx_labels(const std::string& path);

}  // namespace vaec::rt
