// `mpirun -np N vaec compare …` (experiments/README.md, "Over MPI"): rank 0 runs
// run_compare as one process would — it alone owns DIR, compare.json, the tables and the
// report — and hands cells to the other ranks as they become free (dynamic assignment:
// cells differ in cost). Every rank runs each of its cells as child vaec processes
// (training, then evaluation, on the same rank), exactly the commands one process runs,
// so each cell's files are the same. DIR and --data must be at the same path on every
// rank (a shared filesystem).
//
// Messages are small JSON texts over MPI point-to-point (rank 0 ↔ each rank), polled
// every 100 ms; each side sends a heartbeat every second. A rank that stops answering
// for 10 s (killed, its node lost) has its running cells marked failed, and the others
// finish — with `mpirun --enable-recovery`: by default Open MPI 4.1 ends the whole job
// when one process dies (no ULFM in 4.1), and then every cell is stopped, keeping its
// checkpoint, and a re-run resumes. Ctrl-C (mpirun passes SIGTERM to every rank) stops
// every rank's cells after their step; a re-run resumes.
#pragma once

#include "experiments/compare.hpp"

namespace vaec::experiments {

// Runs `r` over the ranks of MPI_COMM_WORLD (vaec::rt::mpi::size() > 1). Rank 0: returns
// run_compare's status and throws what it throws. The other ranks: run the cells rank 0
// sends until it says there are no more, and return 0 (1 when rank 0 stopped answering
// for 300 s; their cells are stopped first). Under MPI, --jobs is per rank (default 1)
// and --threads defaults to 1 for a new comparison.
int run_compare_distributed(compare_request r, compare_environment env);

}  // namespace vaec::experiments
