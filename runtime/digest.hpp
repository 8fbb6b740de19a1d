// SHA-256 digests (FIPS 180-4, through OpenSSL's EVP interface) of what a run depends
// on: the model's source, the data's contents, a checkpoint's bytes. --resume compares
// them, so a run is never continued on another model or other data of the same shape.
#pragma once

#include <string>
#include <string_view>

#include "runtime/data/dataset.hpp"

namespace vaec::rt {

// Incremental SHA-256. Throws std::runtime_error only if OpenSSL cannot allocate.
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, std::size_t bytes);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest as 64 lowercase hexadecimal digits; the object cannot be updated after.
  std::string hex();

 private:
  void* ctx_;
};

// The SHA-256 of `text`, in hexadecimal.
std::string sha256_hex(std::string_view text);

// A fingerprint of a data set's contents: SHA-256 over its count, width, values (as
// little-endian float32, after scaling) and labels. Two loads of the same data give the
// same fingerprint; data of the same shape with any other value do not.
std::string fingerprint(const dataset& d);

// The fingerprint of both splits ("train:HEX" or "train:HEX test:HEX").
std::string fingerprint(const data_splits& d);

}  // namespace vaec::rt
