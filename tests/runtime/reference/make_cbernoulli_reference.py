#!/usr/bin/env python3
"""Reference values for the continuous Bernoulli log-normalizer (issue 9), with mpmath at
50 digits, independent of vaec: log C(η) = log(η / tanh(η/2)), log C(0) = log 2, and
d log C/dη = 1/η − 1/sinh η. Also prints the series coefficients used in
runtime/ops/bernoulli.hpp (log(x coth x) in s = η², and (1/η − 1/sinh η)/η in s).
Prints C++ rows {η, log C, d log C/dη} for tests/runtime/extremes_test.cpp."""
import mpmath as mp

mp.mp.dps = 50


def log_c(e):
    e = mp.mpf(e)
    return mp.log(2) if e == 0 else mp.log(e / mp.tanh(e / 2))


def dlog_c(e):
    e = mp.mpf(e)
    if e == 0:
        return mp.mpf(0)
    with mp.workdps(700):  # 1/η − 1/sinh η cancels to η/6: keep 50 digits down to η = 1e-300
        return +(1 / e - 1 / mp.sinh(e))


def series():
    n_terms = 13
    a = [mp.bernoulli(2 * n) * mp.mpf(4) ** n / mp.factorial(2 * n) for n in range(n_terms)]  # x coth x in x²
    l = [mp.mpf(0)] * n_terms
    for n in range(1, n_terms):
        l[n] = a[n] - sum(k * l[k] * a[n - k] for k in range(1, n)) / n  # log of the series
    print("log C − log 2 in s = η²:", [mp.nstr(l[n] / mp.mpf(4) ** n, 20) for n in range(1, n_terms)])
    d = [-2 * (1 - mp.mpf(2) ** (2 * n - 1)) * mp.bernoulli(2 * n) / mp.factorial(2 * n) for n in range(1, n_terms)]
    print("(1/η − 1/sinh η)/η in s:", [mp.nstr(v, 20) for v in d])


if __name__ == "__main__":
    series()
    etas = ["0", "1e-300", "1e-8", "-1e-8", "1e-4", "0.01", "-0.1", "0.25", "0.4", "0.4999999", "0.5",
            "0.5000001", "-0.6", "1", "2", "10", "-37", "100", "1e4", "1e30", "-1e30"]
    for e in etas:
        print("{%s, %s, %s}," % (e, mp.nstr(log_c(e), 20), mp.nstr(dlog_c(e), 20)))
