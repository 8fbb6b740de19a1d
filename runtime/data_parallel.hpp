// Data-parallel training over MPI (`mpirun -np N vaec MODEL.vae --data PATH`): what
// train() needs to know about the ranks. Each step's global batch of n examples (the
// run's batch, in the same shuffled order as one process) is split into N contiguous
// shards, [n·r/N, n·(r+1)/N) for rank r; each rank gathers and computes only its shard,
// its gradient (a mean over its b_r examples) is scaled by b_r/n, and MPI_Allreduce sums
// them into the gradient of the whole batch, (1/n) Σ_i ∇ℓ_i, on every rank; every rank
// then takes the same Adam step, so the parameters stay identical (VAEC_CHECK_RANKS=1
// checks it after every step).
//
// The draws: every example draws from a stream of its own, keyed by the run's seed, the
// global step and the example's position in the global batch (exec::column_noise;
// dynamic binarization likewise), in one process as under MPI, so an example's draws do
// not depend on which rank holds it, and N ranks compute the one-process gradient of the
// same batch up to the order of the float sums: a plain `vaec` run and an N-rank run of it
// agree to float rounding.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/mpi.hpp"
#include "runtime/rng.hpp"

namespace vaec::rt {

struct data_parallel {
  bool on = false;  // under mpirun or srun (even with one rank)
  int rank = 0, ranks = 1;

  static data_parallel current() { return {mpi::active(), mpi::rank(), mpi::size()}; }

  // The part [from, from + count) of a batch of n examples this rank holds.
  struct shard {
    std::size_t from = 0, count = 0;
  };
  shard of(std::size_t n) const {
    const auto r = static_cast<std::size_t>(rank), N = static_cast<std::size_t>(ranks);
    const std::size_t lo = n * r / N, hi = n * (r + 1) / N;
    return {lo, hi - lo};
  }
};

// The key of example `position` at step `counter` for a per-example stream (binarization).
inline std::uint64_t example_key(std::uint64_t counter, std::uint64_t position) {
  std::uint64_t x = counter;
  std::uint64_t h = splitmix64(x);
  x ^= (position + 1) * 0xD6E8FEB86659FD93ULL;
  return h ^ (splitmix64(x) << 1);
}

}  // namespace vaec::rt
