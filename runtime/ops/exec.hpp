// What an op sees while it runs: every node's value, gradient and buffers, the
// parameters, the noise stream and the step's settings. Plus the two helpers that
// make broadcasting uniform: bcast (read an input at the output's shape) and give
// (add a gradient into an input, summing over what was broadcast).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "runtime/graph.hpp"
#include "runtime/matmul.hpp"
#include "runtime/rng.hpp"
#include "runtime/tensor.hpp"

namespace vaec::rt {

// The step's objective settings.
struct step_settings {
  double beta = 1;       // weight of the KL terms (after warm-up)
  double free_bits = 0;  // nats per latent below which its KL is not penalized
  // Whether rejection samplers (von Mises–Fisher) add their score-function correction to
  // the concentration's gradient. Off only to check the pathwise part by finite differences.
  bool rejection_correction = true;
  // Each example's draws from a stream of its own (see exec::column_noise), so that they
  // are the same whichever rank holds the example: training and evaluation turn it on in
  // one process and under data-parallel MPI alike; off (the plan's one stream) for
  // sampling and the gradient checks.
  struct per_example_noise {
    bool on = false;
    std::uint64_t seed = 0, counter = 0;  // e.g. (the run's seed, the global step)
    stream purpose = stream::noise;
    std::uint64_t first = 0;              // the plan's first example's position in the global batch
  } example_noise;
};

// What the objective computed on the last forward pass; batch means.
struct objective_result {
  double loss = 0;               // what the gradient minimizes
  double elbo = 0;               // E_q[log p(x|z)] − Σ KL, with β = 1 and no free bits
  double recon = 0;              // E_q[log p(x | z)]
  std::vector<double> kl;        // per latent
  double iwae = 0;               // the importance-weighted bound (iwae objectives)
  bool finite = true;
  std::string nonfinite_term;    // "log p(x | z)", "KL of z", ... when !finite
  // Why a term is not finite, when !finite, so that a stop message gives advice that fits:
  enum class cause_kind {
    none,
    numerical,     // NaN or ±∞ from the arithmetic (an overflow, a parameter gone to 0 or ∞):
                   // a smaller learning rate or bounded parameters may help
    infinite_kl,   // the term is +∞ by definition at the parameters reached (KL(StudentT ‖ Normal)
                   // with df ≤ 2): no learning rate helps; the model must change (see `reason`)
    sample_overflow,  // a latent's draw is ±∞: the exact draw lies beyond the precision's range (a
                      // Student-t at small df), so any use of it is not finite (see `reason`)
  } cause = cause_kind::none;
  std::string reason;            // for infinite_kl and sample_overflow: what, where, and the fix
};

template <class T>
struct exec {
  const graph* g = nullptr;
  int batch = 0;    // B
  int samples = 1;  // S
  std::vector<tensor<T>> val, grad, aux, scratch;
  std::vector<tensor<T>> pval, pgrad;           // per parameter
  std::vector<std::vector<char>> first;         // [node][slot]: first writer of that input's gradient
  std::vector<std::vector<char>> pfirst;        // [node][k]: first writer of its parameter k's gradient
  // [node]: a linear layer's products, made when the plan is built (runtime/matmul.hpp):
  // y = W·x, dW = dy·xᵀ and dx = Wᵀ·dy, each with its β (the first-writer flags).
  struct linear_products {
    product<T> forward, weight_grad, input_grad;
  };
  std::vector<linear_products> linear;
  rng* noise = nullptr;
  step_settings settings;
  objective_result result;
  std::vector<double> per_example;              // ELBO (or IWAE bound) per example, [B]
  // Per sample column [B·S]: the part of the loss that depends on that column's draws,
  // less a baseline that does not (set by the objective's forward pass). A rejection
  // sampler's correction term is this times the score of its accepted proposal.
  std::vector<double> column_loss;

  // The stream that sample column j of node `self` draws from: the plan's one stream
  // (ex.noise, drawn column after column), or with settings.example_noise on, a stream
  // keyed by (seed, purpose, counter, example, node, sample) — column j of a [· × B·S]
  // node is example j mod B, sample j div B; the example's position in the global batch
  // is example_noise.first + j mod B. Ops call it once per column, before its draws.
  rng& column_noise(int self, int j) {
    const auto& k = settings.example_noise;
    if (!k.on) return *noise;
    const std::uint64_t b = static_cast<std::uint64_t>(batch), c = static_cast<std::uint64_t>(j);
    std::uint64_t x = k.counter;
    std::uint64_t h = splitmix64(x);
    x ^= (k.first + c % b + 1) * 0xD6E8FEB86659FD93ULL;
    h ^= splitmix64(x);
    x ^= (static_cast<std::uint64_t>(self) + 1) * 0xA0761D6478BD642FULL;
    h ^= splitmix64(x) << 1;
    x ^= (c / b + 1) * 0xE7037ED1A0B428DBULL;
    h ^= splitmix64(x) << 2;
    column_rng = rng(k.seed, k.purpose, h);
    return column_rng;
  }
  rng column_rng{0, stream::noise, 0};

  const node& n(int i) const { return g->nodes()[static_cast<std::size_t>(i)]; }
  const tensor<T>& in(int self, int slot) const { return val[static_cast<std::size_t>(n(self).inputs[static_cast<std::size_t>(slot)])]; }
  bool wants(int self, int slot) const {
    return grad[static_cast<std::size_t>(n(self).inputs[static_cast<std::size_t>(slot)])].data != nullptr;
  }
};

// dst = e, or dst += e when an earlier op already wrote this gradient.
template <class D, class E>
inline void acc(D&& dst, const E& e, bool first) {
  if (first) dst = e;
  else dst += e;
}

// Elementwise work on [R × C] values, from 2^15 elements on, is split over the OpenMP
// threads (below that, a parallel region's start costs more than it saves).
inline constexpr long split_from = 1L << 15;

// Runs f(c0, c1) on fixed blocks of whole columns [c0, c1) that cover [0, C), each of about
// 8,192 elements and starting at a multiple of 64 bytes from the first column: the blocks
// are shared out over an OpenMP team when R·C ≥ split_from and no team is running yet, else
// run here one after the other. The blocks depend on R, C and the element size only, and
// each is evaluated by the same code whichever thread runs it (Eigen's packet and scalar
// parts fall at the same elements), so the bytes do not depend on the thread count.
// f must not throw.
template <class T, class F>
inline void split_cols(long R, long C, F&& f) {
  if (R < 1 || C < 1) return;
  constexpr long line = 64 / static_cast<long>(sizeof(T));
  const long q = line / std::gcd(R, line);  // columns per whole number of 64-byte lines
  long w = std::max(1L, (8192 + R - 1) / R);
  w = (w + q - 1) / q * q;
  const long blocks = (C + w - 1) / w;
  auto run = [&](long b0, long b1) {
    for (long k = b0; k < b1; ++k) f(k * w, std::min(C, (k + 1) * w));
  };
  if (R * C < split_from || blocks < 2 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run(0, blocks);
    return;
  }
#pragma omp parallel
  {
    const long t = omp_get_thread_num(), n = omp_get_num_threads();
    run(blocks * t / n, blocks * (t + 1) / n);
  }
}

// dst = e (or dst += e unless `first`) for [R × C] array expressions of the same shape,
// in split_cols's blocks. dst must start at a multiple of 64 bytes, as plan buffers do.
template <class D, class E>
inline void acc_split(D&& dst, const E& e, bool first) {
  using T = typename std::decay_t<D>::Scalar;
  split_cols<T>(dst.rows(), dst.cols(), [&](long c0, long c1) {
    acc(dst.middleCols(c0, c1 - c0), e.middleCols(c0, c1 - c0), first);
  });
}

// db[i] = Σ_j g[i + j·R] for i < R, j < C (or db[i] += each term, in j order, unless
// `first`): a bias's gradient from its layer's output gradient [R × C]. The rows are split
// over the threads in blocks of 16 (a cache line of floats), and each row is summed in
// column order, whatever the split.
template <class T>
inline void sum_columns(const T* g, long R, long C, T* db, bool first) {
  auto rows = [&](long r0, long r1) {
    for (long i = r0; i < r1; ++i) db[i] = first ? g[i] : db[i] + g[i];
    for (long j = 1; j < C; ++j) {
      const T* col = g + j * R;
#pragma omp simd
      for (long i = r0; i < r1; ++i) db[i] += col[i];
    }
  };
  if (C < 1) {
    if (first) std::fill(db, db + R, T(0));
    return;
  }
  if (R * C < split_from || R < 32 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    rows(0, R);
    return;
  }
#pragma omp parallel
  {
    const long t = omp_get_thread_num(), n = omp_get_num_threads(), blocks = (R + 15) / 16;
    rows(std::min(R, blocks * t / n * 16), std::min(R, blocks * (t + 1) / n * 16));
  }
}

// An input's value as an array expression of the output's shape [R × C]: rows of 1
// repeat down, and columns tile (a [· × B] value under [· × B·S] is the same for each
// sample, column s·B + b reading column b).
//
// A nullary expression rather than Eigen's replicate(): Replicate has no packet access, so
// every expression that read one ran in scalar code (log and exp through libm, an index
// division per element); this one loads whole packets down a column. It gives Eigen no
// linear access, so packets never straddle two columns.
template <class T>
struct bcast_op {
  const T* data;
  Eigen::Index rows, cols;  // the input's shape: rows 1 or the output's (or a divisor: tiled)
  Eigen::Index out_rows;
  const T* column(Eigen::Index j) const { return data + (j < cols ? j : j % cols) * rows; }
  T operator()(Eigen::Index i, Eigen::Index j) const {
    return column(j)[rows == 1 ? 0 : (rows == out_rows ? i : i % rows)];
  }
  template <class P>
  P packetOp(Eigen::Index i, Eigen::Index j) const {
    const T* c = column(j);
    if (rows == 1) return Eigen::internal::pset1<P>(c[0]);
    if (rows == out_rows) return Eigen::internal::ploadu<P>(c + i);
    alignas(64) T lanes[Eigen::internal::unpacket_traits<P>::size];
    for (int l = 0; l < Eigen::internal::unpacket_traits<P>::size; ++l) lanes[l] = c[(i + l) % rows];
    return Eigen::internal::pload<P>(lanes);
  }
};

}  // namespace vaec::rt

namespace Eigen::internal {
template <class T>
struct functor_traits<vaec::rt::bcast_op<T>> {
  enum { Cost = 1, PacketAccess = true, IsRepeatable = true };
};
}  // namespace Eigen::internal

namespace vaec::rt {

template <class T>
inline auto bcast(const tensor<T>& t, int R, int C) {
  return Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>::NullaryExpr(R, C, bcast_op<T>{t.data, t.rows, t.cols, R});
}

// Adds the gradient expression `e` ([R × C], the shape the input was read at) into the
// gradient of input `slot` of node `self`, summing over broadcast rows and columns.
template <class T, class E>
inline void give(exec<T>& ex, int self, int slot, const E& e) {
  const int input = ex.n(self).inputs[static_cast<std::size_t>(slot)];
  tensor<T> d = ex.grad[static_cast<std::size_t>(input)];
  if (!d.data) return;
  const bool first = ex.first[static_cast<std::size_t>(self)][static_cast<std::size_t>(slot)];
  const int R = static_cast<int>(e.rows()), C = static_cast<int>(e.cols());
  if (d.rows == R && d.cols == C) {
    acc_split(d.a(), e, first);
    return;
  }
  tensor<T> t = ex.scratch[static_cast<std::size_t>(self)];
  t.rows = R;
  t.cols = C;
  t.a() = e;
  const int blocks = C / d.cols;
  for (int s = 0; s < blocks; ++s) {
    auto block = t.a().middleCols(s * d.cols, d.cols);
    const bool f = first && s == 0;
    if (d.rows == R) acc(d.a(), block, f);
    else acc(d.a(), block.colwise().sum(), f);
  }
}

// The upstream gradient of a [1 × C] density, repeated down `rows` rows.
template <class T>
inline auto down(const tensor<T>& g, int rows) {
  return bcast(g, rows, g.cols);
}

// log(1 + t) for t ≥ 0 without log1p (which Eigen evaluates one element at a time through
// libm): with u = fl(1 + t), log(1 + t) = log(u) + log(1 + (t − (u − 1))/u) ≈ log(u) −
// ((u − 1) − t)/u, the rounding of u corrected to first order — accurate to a few ulps,
// branch-free, and vectorized. When u rounds to 1 it gives exactly t.
template <class A>
inline auto log1p_of(const A& t) {
  using T = typename A::Scalar;
  return (t + T(1)).log() - ((t + T(1)) - T(1) - t) / (t + T(1));
}

// An input's element (i, j) read at the output's shape: rows of 1 repeat, columns tile.
template <class T>
inline T at(const tensor<T>& t, int i, int j) {
  return t.data[(t.rows == 1 ? 0 : i) + static_cast<std::size_t>(j % t.cols) * static_cast<std::size_t>(t.rows)];
}

// The op's scratch buffer as an [R × C] tensor, for gradients computed element by element
// and then handed to give().
template <class T>
inline tensor<T> scratch_of(exec<T>& ex, int self, int R, int C) {
  tensor<T> t = ex.scratch[static_cast<std::size_t>(self)];
  t.rows = R;
  t.cols = C;
  return t;
}

template <class T>
inline T log_2pi() { return static_cast<T>(1.8378770664093454835606594728112); }

}  // namespace vaec::rt
