#include "report/file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "report/pictures.hpp"

namespace vaec::report {


namespace {

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& step, int err) {
    ::unlink(tmp.c_str());
    throw picture_error("cannot write " + path + ": " + (step.empty() ? "" : step + ": ") + os_reason(err));
  };
  {
    fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0) {
      const int err = errno;
      throw picture_error("cannot write " + path + ": " + os_reason(err) + " (creating " + tmp + ")");
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(f.fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("", errno);
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(f.fd) != 0 && errno != EINVAL) fail("fsync", errno);
    const int fd = f.fd;
    f.fd = -1;
    if (::close(fd) != 0) fail("close", errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename from " + tmp, errno);
  // The rename is durable once the directory entry is.
  fd_guard d{::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0 && ::fsync(d.fd) != 0 && errno != EINVAL)
    throw picture_error("cannot write " + path + ": fsync of its folder: " + os_reason(errno));
}

}  // namespace vaec::report
