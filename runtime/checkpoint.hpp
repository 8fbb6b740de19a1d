// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON, then the raw tensor bytes.
// Readable by Python's `safetensors` and by `vaec --resume`.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vaec::rt {

// A problem reading or writing a checkpoint; what() names the file and the problem.
struct checkpoint_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class dtype { f32, f64, i64 };

// A tensor to write: `data` points at product(shape) elements of `type`.
struct tensor_view {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};

// A tensor read back; the bytes are little-endian, as on disk.
struct tensor_data {
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> bytes;
  std::size_t element_count() const;
  // The values as float/double/int64 (the dtype must match; throws checkpoint_error).
  std::vector<float> as_f32() const;
  std::vector<double> as_f64() const;
  std::vector<std::int64_t> as_i64() const;
};

struct checkpoint {
  std::map<std::string, tensor_data> tensors;
  std::map<std::string, std::string> metadata;  // safetensors' "__metadata__": string → string
};

// Writes atomically: to `path + ".tmp"`, flushed and fsync'ed, then renamed over `path`
// (and the directory fsync'ed), so that a crash or Ctrl-C at any moment leaves either
// the old checkpoint or the new one, never a torn file. Tensors are laid out in name
// order, 8-byte aligned (the header is padded with spaces to a multiple of 8).
// Throws checkpoint_error (the temporary file is removed).
void write_checkpoint(const std::string& path, const std::vector<tensor_view>& tensors,
                      const std::map<std::string, std::string>& metadata);

// The metadata key under which a writer may store data_digest(tensors); read_checkpoint
// then verifies the data against it, so that a flipped byte is found.
inline constexpr const char* checkpoint_digest_key = "vaec.data_sha256";

// The SHA-256 (hex) of the tensors' bytes in name order: the file's data section.
std::string data_digest(const std::vector<tensor_view>& tensors);

// Reads and validates a checkpoint: header length within the file, JSON well formed,
// known dtypes (F32, F64, I64), offsets in order, inside the data, non-overlapping, with
// no hole and nothing after the last tensor (as the reference implementation demands),
// matching dtype × shape, and the data's SHA-256 when the metadata holds one
// (checkpoint_digest_key). Throws checkpoint_error naming the file and the problem.
checkpoint read_checkpoint(const std::string& path);

}  // namespace vaec::rt
