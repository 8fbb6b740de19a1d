// Random numbers that follow from the seed alone. Every draw site gets its own stream,
// derived from (seed, purpose, counter) — e.g. (seed, noise, global step) — so a run
// resumed at step t draws exactly what the uninterrupted run drew, with no generator
// state to save. The generator is xoshiro256++ (Blackman & Vigna 2019), seeded through
// splitmix64; the distributions come from Boost.Random, whose algorithms are fixed
// (unlike std::normal_distribution, which differs between standard libraries).
#pragma once

#include <cstdint>
#include <limits>

namespace vaec::rt {

inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// What a stream is for; part of its seed.
enum class stream : std::uint64_t { init = 1, shuffle = 2, noise = 3, binarize = 4, split = 5, eval = 6, binarize_test = 7,
                                     sample = 8, sample_draw = 9, eval_posterior = 10, aggregate = 11 };

class rng {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  rng(std::uint64_t seed, stream purpose, std::uint64_t counter = 0) {
    std::uint64_t x = seed;
    std::uint64_t a = splitmix64(x);
    x ^= static_cast<std::uint64_t>(purpose) * 0xD1B54A32D192ED03ULL;
    std::uint64_t b = splitmix64(x);
    x ^= counter * 0xABC98388FB8FAC03ULL;
    std::uint64_t c = splitmix64(x);
    std::uint64_t m = a ^ (b << 1) ^ (c << 2);
    for (auto& s : s_) s = splitmix64(m);
  }

  result_type operator()() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace vaec::rt
