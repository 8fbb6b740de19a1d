// MPI for vaec (Open MPI from Debian; the MPI-3.1 C API only): whether vaec was built
// with it, whether this process was started by an MPI launcher (mpirun, srun), and the
// few collectives data-parallel training and a distributed `vaec compare` need.
//
// MPI is initialized only when a launcher started the process (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK, PMI_SIZE or PMI_RANK in the environment): a plain `vaec` (a singleton), the
// tests and valgrind never touch MPI and behave exactly as a build without it. Built
// with -DVAEC_MPI=OFF every function here is the one-process answer (rank 0 of 1) and
// the collectives return their input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vaec::rt::mpi {

// Whether this build has MPI (CMake option VAEC_MPI).
bool built_in();

// "Open MPI v4.1.4, …" (MPI_Get_library_version, first line) when built in; else
// "not built in (VAEC_MPI=OFF)". Needs no MPI_Init.
std::string library_description();

// Whether the environment says an MPI launcher started this process.
bool launched_by_launcher();

// Starts MPI (MPI_Init_thread, funneled) when built in and launched by a launcher;
// otherwise does nothing. Call once, first thing in main. Idempotent.
void init(int& argc, char**& argv);

// MPI_Finalize when init started MPI; otherwise nothing. Idempotent.
void finalize();

// Whether MPI is running in this process (init started it).
bool active();

// This process's rank in MPI_COMM_WORLD and the world's size: 0 and 1 without MPI.
int rank();
int size();

// The host's name (MPI_Get_processor_name, else gethostname).
std::string host();

// Ends every rank of the job at once (MPI_Abort) with `code`; without MPI, std::_Exit.
[[noreturn]] void abort(int code);

// Says that the other ranks know how this one ends: they end at the same point (each
// found the same error through a collective check of the step), or were told (a
// distributed compare), so that finish need not abort.
void note_others_informed();

// Says that a rank of the job died: Open MPI 4.1's MPI_Finalize waits in a fence for
// every rank, a dead one too, forever, so finish then ends without it.
void note_rank_lost();

// The end of main: MPI_Finalize and `status` when it is 0 or note_others_informed was called;
// otherwise (this rank fails alone, under mpirun with more than one rank) MPI_Abort ends
// every rank of the job with `status`, so that no rank waits forever for this one.
// Without MPI: `status`.
int finish(int status);

// Element-wise sum over the ranks, in place, the result on every rank (MPI_Allreduce).
// Open MPI's reduction order depends only on the ranks' count and the buffer's size
// (not on timing) for MPI_SUM on one communicator, so for a given N the bits repeat.
void sum_in_place(float* data, std::size_t n);
void sum_in_place(double* data, std::size_t n);
// The largest of `value` over the ranks (MPI_Allreduce, MPI_MAX).
std::int64_t max_over_ranks(std::int64_t value);
// `text` of rank `root` on every rank (MPI_Bcast of its length, then its bytes).
std::string broadcast(const std::string& text, int root);
// Every rank's `text`, in rank order, on every rank (MPI_Allgather + MPI_Allgatherv).
std::vector<std::string> all_gather(const std::string& text);

// The environment of a child that must not think it is part of the MPI job: `environ`
// without the variables MPI launchers set (OMPI_*, PMIX_*, PMI_*, and Open MPI's
// OPAL_*/ORTE_* and HYDRA_*). As "NAME=VALUE" strings.
std::vector<std::string> child_environment();

}  // namespace vaec::rt::mpi
