#include "experiments/distributed.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/mpi.hpp"

#ifdef VAEC_HAVE_MPI
#include <mpi.h>
#endif

namespace vaec::experiments {

namespace fs = std::filesystem;

#ifndef VAEC_HAVE_MPI

int run_compare_distributed(compare_request r, compare_environment env) { return run_compare(r, env); }

#else

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// Message tags between rank 0 and the others.
enum tag : int {
  tag_hello = 101,  // rank → 0: {"host", "pid"}: ready for cells
  tag_job = 102,    // 0 → rank: {"id", "args", "log"}: run this vaec command
  tag_ended = 103,  // rank → 0: {"id", "status"} (waitpid's), or {"id", "error"} when it could not start
  tag_stop = 104,   // 0 → rank: pass SIGINT to every running command
  tag_quit = 105,   // 0 → rank: no more cells
  tag_beat = 106,   // either way, every second: alive
};

constexpr double beat_seconds = 1;
constexpr double rank_lost_seconds = 10;   // rank 0 gives up on a silent rank
constexpr double root_lost_seconds = 300;  // a rank gives up on a silent rank 0 (which may be writing the report)

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

void send(int to, int t, const std::string& text) {
  // Small texts: sent eagerly, so a blocking send returns at once even when the other
  // side is busy (and rank 0 stops sending to a rank it has given up on).
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, to, t, MPI_COMM_WORLD);
}

// The next message from `from` (MPI_ANY_SOURCE: anyone), if one is waiting.
bool receive(int from, int& source, int& t, std::string& text) {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&st, MPI_CHAR, &count);
  text.assign(static_cast<std::size_t>(count), '\0');
  MPI_Recv(text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  source = st.MPI_SOURCE;
  t = st.MPI_TAG;
  return true;
}

void nap() {
  struct timespec ts {0, 100 * 1000 * 1000};
  ::nanosleep(&ts, nullptr);
}

// ---- rank 0: the other ranks as places for cells ----------------------------------------

class mpi_ranks final : public remote_runner {
 public:
  explicit mpi_ranks(int slots_per_rank) : slots_(slots_per_rank) {
    const int n = vaec::rt::mpi::size();
    for (int r = 1; r < n; ++r) ranks_[r] = peer{};
  }

  bool has_room(int place) const override {
    if (place >= 0) {
      auto it = ranks_.find(place);
      return it != ranks_.end() && it->second.ready && !it->second.lost && it->second.running < slots_;
    }
    for (const auto& [r, p] : ranks_)
      if (p.ready && !p.lost && p.running < slots_) return true;
    return false;
  }

  int start(const std::vector<std::string>& args, const fs::path& log, int& place) override {
    if (place < 0)
      for (const auto& [r, p] : ranks_)
        if (p.ready && !p.lost && p.running < slots_) {
          place = r;
          break;
        }
    if (!has_room(place))
      throw compare_error(fmt::format("{} has no room for the cell's next command", describe(place)));
    const int id = next_id_++;
    send(place, tag_job, json{{"id", id}, {"args", args}, {"log", log.string()}}.dump());
    ++ranks_[place].running;
    jobs_[id] = place;
    return id;
  }

  std::vector<ended> poll() override {
    std::vector<ended> out;
    int source = 0, t = 0;
    std::string text;
    while (receive(MPI_ANY_SOURCE, source, t, text)) {
      auto it = ranks_.find(source);
      if (it == ranks_.end() || it->second.lost) continue;  // a rank given up on stays so
      peer& p = it->second;
      p.last_heard = clock_type::now();
      if (t == tag_hello) {
        const json j = json::parse(text, nullptr, false);
        if (!j.is_discarded()) {
          p.host = j.value("host", std::string("?"));
          p.pid = j.value("pid", 0);
        }
        p.ready = true;
      } else if (t == tag_ended) {
        const json j = json::parse(text, nullptr, false);
        if (j.is_discarded()) continue;
        ended e;
        e.id = j.value("id", -1);
        if (j.contains("error")) {
          e.lost = "could not start it: " + j.value("error", std::string());
        } else {
          e.wait_status = j.value("status", 0);
        }
        if (jobs_.erase(e.id) > 0) {
          --p.running;
          out.push_back(e);
        }
      }
    }
    // Heartbeats out, and the ranks that fell silent.
    const bool beat_now = seconds_since(last_beat_) >= beat_seconds;
    if (beat_now) last_beat_ = clock_type::now();
    for (auto& [r, p] : ranks_) {
      if (p.lost) continue;
      if (seconds_since(p.last_heard) > rank_lost_seconds) {
        p.lost = true;
        fmt::print(stderr, "compare: {} has not answered for {:.0f} s (killed, or its node lost); its cells are marked "
                           "failed and the other ranks go on\n",
                   describe(r), rank_lost_seconds);
        for (auto it = jobs_.begin(); it != jobs_.end();) {
          if (it->second == r) {
            ended e;
            e.id = it->first;
            e.lost = fmt::format("stopped answering (for {:.0f} s)", rank_lost_seconds);
            out.push_back(e);
            it = jobs_.erase(it);
          } else {
            ++it;
          }
        }
        p.running = 0;
        continue;
      }
      if (beat_now) send(r, tag_beat, "");
    }
    return out;
  }

  void interrupt() override {
    for (const auto& [r, p] : ranks_)
      if (!p.lost) send(r, tag_stop, "");
  }

  std::string describe(int place) const override {
    auto it = ranks_.find(place);
    if (it == ranks_.end()) return fmt::format("rank {}", place);
    if (it->second.host.empty()) return fmt::format("rank {}", place);
    return fmt::format("rank {} (pid {} on {})", place, it->second.pid, it->second.host);
  }

  // No more cells: every rank still answering may end.
  void quit_all() {
    bool lost = false;
    for (const auto& [r, p] : ranks_) lost = lost || p.lost;
    if (lost) vaec::rt::mpi::note_rank_lost();
    for (const auto& [r, p] : ranks_)
      if (!p.lost) send(r, tag_quit, lost ? "lost" : "");
  }

  // Waits (up to `seconds`) for every rank to say hello, so that the first cells spread.
  void await_ranks(double seconds) {
    const auto t0 = clock_type::now();
    while (seconds_since(t0) < seconds) {
      bool all = true;
      for (const auto& [r, p] : ranks_) all = all && p.ready;
      if (all) return;
      for (auto& e : poll()) (void)e;
      nap();
    }
  }

 private:
  struct peer {
    bool ready = false, lost = false;
    int running = 0;
    std::string host;
    int pid = 0;
    clock_type::time_point last_heard = clock_type::now();
  };
  int slots_;
  std::map<int, peer> ranks_;
  std::map<int, int> jobs_;  // id → rank
  int next_id_ = 0;
  clock_type::time_point last_beat_ = clock_type::now();
};

// ---- the other ranks: run what rank 0 sends --------------------------------------------

volatile std::sig_atomic_t worker_stop = 0;
extern "C" void on_worker_signal(int) { worker_stop = 1; }

int worker(const compare_environment& env) {
  struct sigaction sa {};
  sa.sa_handler = on_worker_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  send(0, tag_hello, json{{"host", vaec::rt::mpi::host()}, {"pid", static_cast<int>(::getpid())}}.dump());
  std::map<int, pid_t> children;  // id → pid
  bool stopping = false, quitting = false;
  auto last_from_root = clock_type::now(), last_beat = clock_type::now();
  auto interrupt_children = [&] {
    if (stopping) return;
    stopping = true;
    for (const auto& [id, pid] : children) ::kill(pid, SIGINT);
  };
  while (true) {
    for (auto it = children.begin(); it != children.end();) {
      int status = 0;
      const pid_t got = ::waitpid(it->second, &status, WNOHANG);
      if (got == it->second) {
        send(0, tag_ended, json{{"id", it->first}, {"status", status}}.dump());
        it = children.erase(it);
      } else {
        ++it;
      }
    }
    if (quitting && children.empty()) return 0;
    int source = 0, t = 0;
    std::string text;
    while (receive(0, source, t, text)) {
      last_from_root = clock_type::now();
      if (t == tag_job) {
        const json j = json::parse(text, nullptr, false);
        const int id = j.is_discarded() ? -1 : j.value("id", -1);
        try {
          if (j.is_discarded() || !j.contains("args") || !j.contains("log"))
            throw compare_error("a malformed message from rank 0");
          const pid_t pid = spawn(env.vaec_exe, j["args"].get<std::vector<std::string>>(), fs::path(j["log"].get<std::string>()));
          children[id] = pid;
          if (stopping) ::kill(pid, SIGINT);
        } catch (const std::exception& e) {
          send(0, tag_ended, json{{"id", id}, {"error", e.what()}}.dump());
        }
      } else if (t == tag_stop) {
        interrupt_children();
      } else if (t == tag_quit) {
        quitting = true;
        if (text == "lost") vaec::rt::mpi::note_rank_lost();  // no MPI_Finalize: it would wait for the dead rank
        if (!children.empty()) interrupt_children();  // rank 0 gave up on them
      }
    }
    if (worker_stop) interrupt_children();
    if (seconds_since(last_beat) >= beat_seconds) {
      send(0, tag_beat, "");
      last_beat = clock_type::now();
    }
    if (seconds_since(last_from_root) > root_lost_seconds) {
      fmt::print(stderr, "vaec: error: compare rank {} on {}: rank 0 has not answered for {:.0f} s; stopping this "
                         "rank's cells (their checkpoints are kept: a re-run of the comparison resumes them)\n",
                 vaec::rt::mpi::rank(), vaec::rt::mpi::host(), root_lost_seconds);
      interrupt_children();
      for (const auto& [id, pid] : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
      }
      return 1;
    }
    nap();
  }
}

}  // namespace

int run_compare_distributed(compare_request r, compare_environment env) {
  // Under MPI the ranks are the parallelism: one cell at a time per rank, one thread
  // each, unless the command says otherwise (a resumed comparison keeps its threads).
  if (!r.jobs) r.jobs = 1;
  std::error_code ec;
  if (!r.threads && !(r.out && fs::exists(fs::path(*r.out) / "compare.json", ec))) r.threads = 1;
  if (vaec::rt::mpi::rank() != 0) {
    const int status = worker(env);
    vaec::rt::mpi::note_others_informed();
    return status;
  }
  auto ranks = std::make_shared<mpi_ranks>(*r.jobs);
  env.remote = ranks;
  fmt::print(stderr, "compare: over MPI: {} ranks, {} cell{} at once on each; rank 0 ({}) owns the folder\n",
             vaec::rt::mpi::size(), *r.jobs, *r.jobs == 1 ? "" : "s", vaec::rt::mpi::host());
  ranks->await_ranks(30);
  // However rank 0 ends, the other ranks are told, and end too.
  vaec::rt::mpi::note_others_informed();
  try {
    const int status = run_compare(r, env);
    ranks->quit_all();
    return status;
  } catch (...) {
    ranks->quit_all();
    throw;
  }
}

#endif

}  // namespace vaec::experiments
