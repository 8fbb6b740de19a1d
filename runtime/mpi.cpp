#include "runtime/mpi.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <unistd.h>

#ifdef VAEC_HAVE_MPI
#include <mpi.h>
#endif

extern char** environ;

namespace vaec::rt::mpi {

namespace {
bool started = false;  // init called MPI_Init
bool ended = false;    // finalize called MPI_Finalize

bool launcher_variable(std::string_view name) {
  for (std::string_view prefix : {"OMPI_", "PMIX_", "PMI_", "OPAL_", "ORTE_", "HYDRA_"})
    if (name.starts_with(prefix)) return true;
  return false;
}
}  // namespace

bool built_in() {
#ifdef VAEC_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::string library_description() {
#ifdef VAEC_HAVE_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<std::size_t>(len));
  const auto end = s.find_first_of(",\r\n");  // "Open MPI v4.1.4, package: …": the name and version
  if (end != std::string::npos) s.resize(end);
  return s;
#else
  return "not built in (VAEC_MPI=OFF)";
#endif
}

bool launched_by_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

void init([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#ifdef VAEC_HAVE_MPI
  if (started || !launched_by_launcher()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes, so that a failure names itself rather than aborting blind.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  started = true;
#endif
}

void finalize() {
#ifdef VAEC_HAVE_MPI
  if (started && !ended) {
    ended = true;
    MPI_Finalize();
  }
#endif
}

bool active() { return started && !ended; }

int rank() {
#ifdef VAEC_HAVE_MPI
  if (active()) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
#endif
  return 0;
}

int size() {
#ifdef VAEC_HAVE_MPI
  if (active()) {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
  }
#endif
  return 1;
}

std::string host() {
#ifdef VAEC_HAVE_MPI
  if (active()) {
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS) return std::string(name, static_cast<std::size_t>(len));
  }
#endif
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown host";
  return name;
}

void abort(int code) {
#ifdef VAEC_HAVE_MPI
  if (active()) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

namespace {
bool others_informed = false;
bool rank_lost = false;
}  // namespace

void note_others_informed() { others_informed = true; }

void note_rank_lost() { rank_lost = true; }

int finish(int status) {
  // What this rank printed goes out before anything below can end it (mpirun stops the
  // other ranks once one exits with a non-zero status).
  std::fflush(nullptr);
  if (status != 0 && active() && size() > 1 && !others_informed) abort(status);
  if (rank_lost && active()) {
    std::fflush(nullptr);
    std::_Exit(status);
  }
  finalize();
  return status;
}

namespace {
#ifdef VAEC_HAVE_MPI
// MPI counts are ints: a longer buffer goes in pieces.
template <class T>
void sum_pieces(T* data, std::size_t n, MPI_Datatype type) {
  constexpr std::size_t piece = static_cast<std::size_t>(INT_MAX) / 2;
  for (std::size_t from = 0; from < n; from += piece) {
    const int count = static_cast<int>(std::min(piece, n - from));
    MPI_Allreduce(MPI_IN_PLACE, data + from, count, type, MPI_SUM, MPI_COMM_WORLD);
  }
}
#endif
}  // namespace

void sum_in_place([[maybe_unused]] float* data, [[maybe_unused]] std::size_t n) {
#ifdef VAEC_HAVE_MPI
  if (active() && size() > 1) sum_pieces(data, n, MPI_FLOAT);
#endif
}

void sum_in_place([[maybe_unused]] double* data, [[maybe_unused]] std::size_t n) {
#ifdef VAEC_HAVE_MPI
  if (active() && size() > 1) sum_pieces(data, n, MPI_DOUBLE);
#endif
}

std::int64_t max_over_ranks(std::int64_t value) {
#ifdef VAEC_HAVE_MPI
  if (active() && size() > 1) {
    long long v = value, out = value;
    MPI_Allreduce(&v, &out, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
#endif
  return value;
}

std::string broadcast(const std::string& text, [[maybe_unused]] int root) {
#ifdef VAEC_HAVE_MPI
  if (active() && size() > 1) {
    long long len = static_cast<long long>(text.size());
    MPI_Bcast(&len, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD);
    std::string out = rank() == root ? text : std::string(static_cast<std::size_t>(len), '\0');
    if (len > 0) MPI_Bcast(out.data(), static_cast<int>(len), MPI_CHAR, root, MPI_COMM_WORLD);
    return out;
  }
#endif
  return text;
}

std::vector<std::string> all_gather(const std::string& text) {
#ifdef VAEC_HAVE_MPI
  if (active() && size() > 1) {
    const int n = size();
    int len = static_cast<int>(text.size());
    std::vector<int> lens(static_cast<std::size_t>(n)), offsets(static_cast<std::size_t>(n));
    MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int total = 0;
    for (int r = 0; r < n; ++r) {
      offsets[static_cast<std::size_t>(r)] = total;
      total += lens[static_cast<std::size_t>(r)];
    }
    std::string all(static_cast<std::size_t>(total), '\0');
    MPI_Allgatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; r < n; ++r)
      out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                               static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
    return out;
  }
#endif
  return {text};
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!launcher_variable(kv.substr(0, kv.find('=')))) env.emplace_back(kv);
  }
  return env;
}

}  // namespace vaec::rt::mpi
