#include "runtime/checkpoint.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include "runtime/digest.hpp"
#include "runtime/os_reason.hpp"
#include <nlohmann/json.hpp>

// The bytes on disk are little-endian and are copied to and from memory as they are.
static_assert(std::endian::native == std::endian::little,
              "checkpoint.cpp copies tensor bytes as they are: it needs a little-endian host");

namespace vaec::rt {

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, rather than
// allocate whatever a corrupt length asks for.
constexpr std::uint64_t max_header_size = 100'000'000;

std::string_view dtype_name(dtype t) {
  switch (t) {
    case dtype::f32: return "F32";
    case dtype::f64: return "F64";
    case dtype::i64: return "I64";
  }
  return "?";
}

std::size_t dtype_size(dtype t) { return t == dtype::f32 ? 4 : 8; }

std::optional<dtype> dtype_from_name(std::string_view s) {
  if (s == "F32") return dtype::f32;
  if (s == "F64") return dtype::f64;
  if (s == "I64") return dtype::i64;
  return std::nullopt;
}

template <class T>
std::string bracketed(const std::vector<T>& xs) {
  std::string s = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
  return s + "]";
}

// a * b, or nullopt when it does not fit in 64 bits.
std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

// Bytes a tensor of `type` and `shape` (all dimensions ≥ 0) occupies, or nullopt on overflow.
std::optional<std::uint64_t> byte_size(dtype type, const std::vector<std::int64_t>& shape) {
  std::uint64_t n = dtype_size(type);
  for (std::int64_t d : shape) {
    auto m = checked_mul(n, static_cast<std::uint64_t>(d));
    if (!m) return std::nullopt;
    n = *m;
  }
  return n;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is for people.
std::string json_message(const json::exception& e) {
  std::string_view s = e.what();
  if (!s.empty() && s.front() == '[') {
    auto close = s.find("] ");
    if (close != std::string_view::npos) s.remove_prefix(close + 2);
  }
  return std::string(s);
}

// ---- writing ----------------------------------------------------------------------------

[[noreturn]] void fail_write(const std::string& path, std::string_view problem) {
  throw checkpoint_error(fmt::format("{}: {}", path, problem));
}

// JSON strings must be UTF-8. The message shows `s` with its bad bytes replaced by U+FFFD,
// so that the message itself stays valid text.
void check_utf8(const std::string& path, std::string_view what, const std::string& s) {
  try {
    (void)json(s).dump();
  } catch (const json::exception&) {
    fail_write(path, fmt::format("{} {} is not valid UTF-8", what,
                                 json(s).dump(-1, ' ', false, json::error_handler_t::replace)));
  }
}

// The header (length prefix included) and the tensors in the order they are stored.
struct layout {
  std::string header;                       // 8-byte length, then padded JSON
  std::vector<const tensor_view*> order;    // by name
  std::vector<std::uint64_t> sizes;         // bytes of each, same order
};

layout plan_layout(const std::string& path, const std::vector<tensor_view>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  layout out;
  for (const tensor_view& t : tensors) out.order.push_back(&t);
  std::sort(out.order.begin(), out.order.end(),
            [](const tensor_view* a, const tensor_view* b) { return a->name < b->name; });

  json header = json::object();
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < out.order.size(); ++i) {
    const tensor_view& t = *out.order[i];
    if (i > 0 && out.order[i - 1]->name == t.name)
      fail_write(path, fmt::format("tensor '{}' is given twice", t.name));
    if (t.name == "__metadata__")
      fail_write(path, "'__metadata__' is reserved and cannot name a tensor");
    check_utf8(path, "tensor name", t.name);
    if (t.type != dtype::f32 && t.type != dtype::f64 && t.type != dtype::i64)
      fail_write(path, fmt::format("tensor '{}' has an unknown dtype ({})", t.name,
                                   static_cast<int>(t.type)));
    for (std::int64_t d : t.shape)
      if (d < 0)
        fail_write(path, fmt::format("tensor '{}' has a negative dimension in shape {}", t.name,
                                     bracketed(t.shape)));
    auto size = byte_size(t.type, t.shape);
    if (!size || *size > std::numeric_limits<std::uint64_t>::max() - offset)
      fail_write(path, fmt::format("tensor '{}' with shape {} is too large", t.name,
                                   bracketed(t.shape)));
    if (*size > 0 && t.data == nullptr)
      fail_write(path, fmt::format("tensor '{}' has shape {} but no data", t.name,
                                   bracketed(t.shape)));
    header[t.name] = {{"dtype", dtype_name(t.type)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + *size}}};
    out.sizes.push_back(*size);
    offset += *size;
  }
  if (!metadata.empty()) {
    for (const auto& [key, value] : metadata) {
      check_utf8(path, "metadata key", key);
      check_utf8(path, "metadata value", value);
    }
    header["__metadata__"] = metadata;
  }

  std::string text = header.dump();
  // Pad with spaces so that the data section starts at a multiple of 8 (8 + N ≡ 0 mod 8).
  text.append((8 - text.size() % 8) % 8, ' ');
  std::uint64_t n = text.size();
  out.header.resize(8);
  std::memcpy(out.header.data(), &n, 8);
  out.header += text;
  return out;
}

// Removes the temporary file unless dismissed: every failure before the rename cleans up.
struct temp_file {
  std::string path;
  std::FILE* file = nullptr;
  bool armed = true;
  ~temp_file() {
    if (file) std::fclose(file);
    if (armed) ::unlink(path.c_str());
  }
};

// What went wrong with the temporary file, naming both it and the checkpoint.
[[noreturn]] void fail_temp(const std::string& path, std::string_view action) {
  fail_write(path, fmt::format("cannot {} '{}.tmp': {}", action, path, vaec::os_reason(errno)));
}

void write_all(std::FILE* f, const void* data, std::size_t size, const std::string& path) {
  if (size == 0) return;
  if (std::fwrite(data, 1, size, f) != size) fail_temp(path, "write");
}

}  // namespace

std::string data_digest(const std::vector<tensor_view>& tensors) {
  std::vector<const tensor_view*> order;
  for (const tensor_view& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const tensor_view* a, const tensor_view* b) { return a->name < b->name; });
  sha256 h;
  for (const tensor_view* t : order) h.update(t->data, byte_size(t->type, t->shape).value_or(0));
  return h.hex();
}

void write_checkpoint(const std::string& path, const std::vector<tensor_view>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can be wrong with the arguments is found before a file is touched.
  layout plan = plan_layout(path, tensors, metadata);

  const std::string tmp_path = path + ".tmp";
  std::FILE* f = std::fopen(tmp_path.c_str(), "wbe");  // e: O_CLOEXEC
  if (!f) fail_temp(path, "create");
  temp_file tmp{tmp_path, f};

  write_all(f, plan.header.data(), plan.header.size(), path);
  for (std::size_t i = 0; i < plan.order.size(); ++i)
    write_all(f, plan.order[i]->data, plan.sizes[i], path);
  if (std::fflush(f) != 0) fail_temp(path, "write");
  if (::fsync(::fileno(f)) != 0) fail_temp(path, "fsync");
  tmp.file = nullptr;
  if (std::fclose(f) != 0) fail_temp(path, "close");

  if (std::rename(tmp_path.c_str(), path.c_str()) != 0)
    fail_write(path, fmt::format("cannot rename '{}' to it: {}", tmp_path, vaec::os_reason(errno)));
  tmp.armed = false;

  // The rename is durable only once the directory entry is. From here on the new
  // checkpoint is in place; a failure is still reported, since a crash could undo it.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail_write(path, fmt::format("written, but cannot open its directory '{}' to fsync it: {}",
                                 dir.string(), vaec::os_reason(errno)));
  // EINVAL: the file system does not support fsync on a directory; nothing more to do.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    int err = errno;
    ::close(fd);
    fail_write(path, fmt::format("written, but fsync of its directory '{}' failed: {}",
                                 dir.string(), vaec::os_reason(err)));
  }
  ::close(fd);
}

// ---- reading ----------------------------------------------------------------------------

namespace {

// An open file descriptor, closed on every path out.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void fail_read(const std::string& path, std::string_view problem) {
  throw checkpoint_error(fmt::format("{}: {}", path, problem));
}

// Reads exactly `size` bytes at `offset`.
void read_at(const std::string& path, int fd, std::uint64_t offset, void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_read(path, fmt::format("cannot read: {}", vaec::os_reason(errno)));
    }
    if (n == 0) fail_read(path, "file shrank while it was being read");
    p += n;
    offset += static_cast<std::uint64_t>(n);
    size -= static_cast<std::size_t>(n);
  }
}

// Where one tensor's bytes are, as its header entry says.
struct entry {
  std::string name;
  tensor_data meta;      // type and shape; bytes filled in later
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

entry parse_entry(const std::string& path, const std::string& name, const json& info,
                  std::uint64_t data_size) {
  auto fail = [&](std::string_view problem) {
    fail_read(path, fmt::format("tensor '{}' {}", name, problem));
  };
  if (!info.is_object()) fail(fmt::format("is described by {} {}, not an object",
                                          info.is_array() ? "an" : "a",
                                          info.type_name()));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key)) fail(fmt::format("has no '{}'", key));

  entry e;
  e.name = name;
  const json& dt = info["dtype"];
  if (!dt.is_string()) fail(fmt::format("has a dtype that is a {}, not a string", dt.type_name()));
  auto type = dtype_from_name(dt.get_ref<const std::string&>());
  if (!type)
    fail(fmt::format("has dtype '{}'; vaec reads only F32, F64 and I64",
                     dt.get_ref<const std::string&>()));
  e.meta.type = *type;

  const json& shape = info["shape"];
  if (!shape.is_array())
    fail(fmt::format("has a shape that is a {}, not an array", shape.type_name()));
  for (const json& d : shape) {
    if (!d.is_number_integer())
      fail(fmt::format("has shape {}, which is not a list of whole numbers", shape.dump()));
    if (!d.is_number_unsigned())
      fail(fmt::format("has shape {} with a negative dimension", shape.dump()));
    auto v = d.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(fmt::format("has shape {} with a dimension too large", shape.dump()));
    e.meta.shape.push_back(static_cast<std::int64_t>(v));
  }

  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail(fmt::format("has data_offsets {}, not two byte offsets [begin, end]", offsets.dump()));
  e.begin = offsets[0].get<std::uint64_t>();
  e.end = offsets[1].get<std::uint64_t>();
  if (e.begin > e.end)
    fail(fmt::format("has data_offsets [{}, {}]: begin is after end", e.begin, e.end));
  if (e.end > data_size)
    fail(fmt::format("has data_offsets [{}, {}] beyond the end of the data ({} bytes)", e.begin,
                     e.end, data_size));
  auto need = byte_size(e.meta.type, e.meta.shape);
  if (!need || *need != e.end - e.begin)
    fail(fmt::format("has data_offsets [{}, {}] but {} {} needs {}", e.begin, e.end,
                     dtype_name(e.meta.type), bracketed(e.meta.shape),
                     need ? fmt::format("{} bytes", *need) : std::string("more than 2^64 bytes")));
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& m) {
  if (!m.is_object())
    fail_read(path, fmt::format("__metadata__ is {} {}, not an object",
                                m.is_array() ? "an" : "a", m.type_name()));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : m.items()) {
    if (!value.is_string())
      fail_read(path, fmt::format("metadata '{}' is {} {}, not a string", key,
                                  value.is_array() || value.is_object() ? "an" : "a",
                                  value.type_name()));
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

}  // namespace

checkpoint read_checkpoint(const std::string& path) {
  fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) fail_read(path, fmt::format("cannot open: {}", vaec::os_reason(errno)));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    fail_read(path, fmt::format("cannot stat: {}", vaec::os_reason(errno)));
  if (S_ISDIR(st.st_mode)) fail_read(path, "is a directory, not a checkpoint");
  if (!S_ISREG(st.st_mode)) fail_read(path, "is not a regular file");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);

  if (file_size < 8)
    fail_read(path, fmt::format("file is {} bytes, shorter than the 8-byte header length that "
                                "starts a safetensors file", file_size));
  std::uint64_t header_size = 0;
  read_at(path, file.fd, 0, &header_size, 8);
  if (header_size > file_size - 8)
    fail_read(path, fmt::format("header length {} goes beyond the end of the file ({} bytes)",
                                header_size, file_size));
  if (header_size > max_header_size)
    fail_read(path, fmt::format("header length {} is above the limit of {} bytes", header_size,
                                max_header_size));
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file_size - data_start;

  std::string text(header_size, '\0');
  read_at(path, file.fd, 8, text.data(), text.size());
  json header;
  std::set<std::string> seen;
  std::optional<std::string> duplicate;
  try {
    // A JSON object may legally repeat a key (the last one wins); in a header that would
    // silently drop a tensor, so top-level keys are watched as they go by.
    header = json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
      if (depth == 1 && event == json::parse_event_t::key && parsed.is_string() &&
          !seen.insert(parsed.get<std::string>()).second && !duplicate)
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const json::exception& e) {
    fail_read(path, fmt::format("header is not valid JSON: {}", json_message(e)));
  }
  if (!header.is_object())
    fail_read(path, fmt::format("header is {} {}, not a JSON object",
                                header.is_array() ? "an" : "a", header.type_name()));
  if (duplicate) fail_read(path, fmt::format("header names '{}' twice", *duplicate));

  checkpoint out;
  std::vector<entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__")
      out.metadata = parse_metadata(path, info);
    else
      entries.push_back(parse_entry(path, name, info, data_size));
  }

  // Non-overlapping: sorted by where they begin, each non-empty tensor must begin at or
  // after the end of every non-empty one before it. (Empty tensors occupy no bytes.)
  std::vector<const entry*> by_offset;
  for (const entry& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const entry* a, const entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const entry& a = *by_offset[i - 1];
    const entry& b = *by_offset[i];
    if (b.begin < a.end)
      fail_read(path, fmt::format("tensors '{}' and '{}' overlap: data_offsets [{}, {}] and "
                                  "[{}, {}]", a.name, b.name, a.begin, a.end, b.begin, b.end));
  }

  // The data section is exactly the tensors' bytes: no hole, nothing after the last one.
  std::uint64_t covered = 0;
  for (const entry* e : by_offset) covered += e->end - e->begin;
  if (covered != data_size)
    fail_read(path, fmt::format("the data section holds {} bytes, but the tensors cover {}: the file was cut or "
                                "has bytes added",
                                data_size, covered));
  std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) { return a.begin < b.begin; });
  sha256 h;
  for (entry& e : entries) {
    e.meta.bytes.resize(e.end - e.begin);
    read_at(path, file.fd, data_start + e.begin, e.meta.bytes.data(), e.meta.bytes.size());
    h.update(e.meta.bytes.data(), e.meta.bytes.size());
    out.tensors.emplace(e.name, std::move(e.meta));
  }
  if (auto it = out.metadata.find(checkpoint_digest_key); it != out.metadata.end() && it->second != h.hex())
    fail_read(path, "its data do not match the SHA-256 stored in it: the file was changed or damaged after it was "
                    "written (restore it from a copy, or start the run again)");
  return out;
}

// ---- tensor_data ------------------------------------------------------------------------

std::size_t tensor_data::element_count() const {
  std::size_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

namespace {

template <class T>
std::vector<T> values_as(const tensor_data& t, dtype want) {
  if (t.type != want)
    throw checkpoint_error(fmt::format("tensor {} {} read as {}", dtype_name(t.type),
                                       bracketed(t.shape), dtype_name(want)));
  std::size_t n = t.element_count();
  if (t.bytes.size() != n * sizeof(T))
    throw checkpoint_error(fmt::format("tensor {} {} holds {} bytes, not {}", dtype_name(t.type),
                                       bracketed(t.shape), t.bytes.size(), n * sizeof(T)));
  std::vector<T> out(n);
  if (n > 0) std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

}  // namespace

std::vector<float> tensor_data::as_f32() const { return values_as<float>(*this, dtype::f32); }
std::vector<double> tensor_data::as_f64() const { return values_as<double>(*this, dtype::f64); }
std::vector<std::int64_t> tensor_data::as_i64() const {
  return values_as<std::int64_t>(*this, dtype::i64);
}

}  // namespace vaec::rt
