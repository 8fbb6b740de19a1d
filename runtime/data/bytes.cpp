// Reading a data file's bytes whole, inflating gzip with zlib. Data files are read into
// memory once (Fashion-MNIST's training images are 47 MB inflated), so the parsers can
// check the promised size against the real one before they allocate anything.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <zlib.h>

#include "runtime/data/formats.hpp"
#include "runtime/os_reason.hpp"

namespace vaec::rt::detail {
namespace {

struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

std::vector<unsigned char> read_raw(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw data_error(fmt::format("{}: {}", path, vaec::os_reason(errno)));
  fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw data_error(fmt::format("{}: {}", path, vaec::os_reason(errno)));
  if (S_ISDIR(st.st_mode)) throw data_error(fmt::format("{}: is a directory", path));

  // The size is a hint: pipes and /proc files say 0, so read until end of file.
  std::vector<unsigned char> bytes;
  bytes.resize(S_ISREG(st.st_mode) && st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 1 << 16);
  std::size_t got = 0;
  for (;;) {
    if (got == bytes.size()) bytes.resize(bytes.size() * 2);
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw data_error(fmt::format("{}: {}", path, vaec::os_reason(errno)));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

struct inflate_stream {
  z_stream zs{};
  inflate_stream() {
    // 15 + 16: a 32 KiB window, and a gzip wrapper (header and CRC-32 checked).
    if (inflateInit2(&zs, 15 + 16) != Z_OK) throw data_error("zlib: cannot initialise inflate");
  }
  ~inflate_stream() { inflateEnd(&zs); }
  inflate_stream(const inflate_stream&) = delete;
  inflate_stream& operator=(const inflate_stream&) = delete;
};

std::vector<unsigned char> inflate_gzip(const std::string& path, const std::vector<unsigned char>& in) {
  // The last member's trailer holds its inflated size mod 2^32: a good first guess.
  std::size_t guess = 0;
  if (in.size() >= 18) {
    const unsigned char* t = in.data() + in.size() - 4;
    guess = std::size_t{t[0]} | std::size_t{t[1]} << 8 | std::size_t{t[2]} << 16 | std::size_t{t[3]} << 24;
  }
  // Deflate expands at most ~1032:1, so a bigger "size" is damage, not a promise.
  guess = std::clamp<std::size_t>(guess, 1 << 16, std::max<std::size_t>(in.size() * 1032, 1 << 16));

  std::vector<unsigned char> out(guess);
  inflate_stream s;
  std::size_t consumed = 0;
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    std::size_t in_chunk = std::min<std::size_t>(in.size() - consumed, UINT_MAX);
    std::size_t out_chunk = std::min<std::size_t>(out.size() - produced, UINT_MAX);
    s.zs.next_in = const_cast<unsigned char*>(in.data() + consumed);
    s.zs.avail_in = static_cast<uInt>(in_chunk);
    s.zs.next_out = out.data() + produced;
    s.zs.avail_out = static_cast<uInt>(out_chunk);
    int rc = inflate(&s.zs, Z_NO_FLUSH);
    consumed += in_chunk - s.zs.avail_in;
    produced += out_chunk - s.zs.avail_out;

    if (rc == Z_STREAM_END) {
      if (consumed == in.size()) break;
      // Another member follows (`cat a.gz b.gz`): gzip reads on, and so do we.
      if (in.size() - consumed >= 2 && in[consumed] == 0x1f && in[consumed + 1] == 0x8b) {
        inflateReset(&s.zs);
        continue;
      }
      throw data_error(fmt::format("{}: {} bytes of trailing garbage after the gzip stream (which ends at byte {})",
                                   path, in.size() - consumed, consumed));
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      if (consumed < in.size()) continue;  // the output was full; it grows above
      throw data_error(fmt::format(
          "{}: truncated gzip stream: the file ends after {} bytes, in the middle of the compressed data "
          "({} bytes inflated so far)",
          path, in.size(), produced));
    }
    if (rc == Z_MEM_ERROR) throw data_error(fmt::format("{}: out of memory while inflating", path));
    // Z_DATA_ERROR (and Z_NEED_DICT, which a gzip stream never legitimately asks for).
    throw data_error(fmt::format("{}: corrupt gzip stream ({}) near compressed byte {}", path,
                                 s.zs.msg ? s.zs.msg : "invalid data", consumed));
  }
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::vector<unsigned char> raw = read_raw(path);
  if (raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) return inflate_gzip(path, raw);
  return raw;
}

}  // namespace vaec::rt::detail
