#include "runtime/digest.hpp"

#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace vaec::rt {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot start a SHA-256 digest");
}

sha256::~sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void sha256::update(const void* data, std::size_t bytes) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, bytes);
}

std::string sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  std::string s;
  for (unsigned int i = 0; i < n; ++i) s += fmt::format("{:02x}", md[i]);
  return s;
}

std::string sha256_hex(std::string_view text) {
  sha256 h;
  h.update(text);
  return h.hex();
}

std::string fingerprint(const dataset& d) {
  sha256 h;
  const std::uint64_t shape[2] = {d.count, d.width};
  h.update(shape, sizeof shape);
  h.update(d.values.data(), d.values.size() * sizeof(float));
  h.update(d.labels.data(), d.labels.size() * sizeof(std::int32_t));
  return h.hex();
}

std::string fingerprint(const data_splits& d) {
  std::string s = "train:" + fingerprint(d.train);
  if (d.test) s += " test:" + fingerprint(*d.test);
  return s;
}

}  // namespace vaec::rt
