// The Monte Carlo estimate of a KL term computed as closed-form entropy + Monte Carlo
// cross-entropy (vamp_test.cpp, aggregate_prior_test.cpp), from a plan's values.
#pragma once

#include <cmath>

#include "runtime/plan.hpp"

namespace vaec::test {

struct estimate {
  double mean = 0, standard_error = 0;
};

// For example b of a plan with batch B and S samples: −H[q(· | x_b)] − the mean over the S
// samples of log p(z) (node `logp`, [1 × B·S], column s·B + b; node `entropy`, [1 × B]),
// with the mean's standard error √(var / S) (var with S − 1).
inline estimate kl_estimate(const rt::plan<double>& p, int entropy, int logp, int b) {
  const int B = p.batch(), S = p.samples();
  double sum = 0, sum2 = 0;
  for (int s = 0; s < S; ++s) {
    const double v = p.value(logp).data[s * B + b];
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / S, var = (sum2 / S - mean * mean) * S / (S - 1);
  return {-p.value(entropy).data[b] - mean, std::sqrt(var / S)};
}

}  // namespace vaec::test
