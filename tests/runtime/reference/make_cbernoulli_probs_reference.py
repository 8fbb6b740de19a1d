#!/usr/bin/env python3
"""Reference values for ContinuousBernoulli(probs = λ) (issue 9), with mpmath at 60 digits,
independent of vaec and of the logit form it evaluates: straight from the λ form of the
density (Loaiza-Ganem & Cunningham 2019),
    log p(x | λ) = x log λ + (1 − x) log(1 − λ) + log C(λ),
    C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ)   (C(½) = 2),
and d/dλ log p(x | λ) by mpmath's numerical differentiation (step 1e-40 relative to λ),
all at 700 digits so that 1 − 2λ keeps λ down to 1e-300. Each λ is taken
as the exact binary number the test feeds the op: for double, the double nearest the
decimal; for float, the float nearest it (rows marked 'f').
Prints C++ rows {is_float, λ, x, log p, d log p/dλ} for tests/runtime/extremes_test.cpp."""
import struct

import mpmath as mp

mp.mp.dps = 700


def log_c(lam):
    u = 1 - 2 * lam
    if u == 0:
        return mp.log(2)
    return mp.log(2 * mp.atanh(u) / u)


def logp(x, lam):
    return x * mp.log(lam) + (1 - x) * mp.log(1 - lam) + log_c(lam)


def as_float(v):
    return struct.unpack("f", struct.pack("f", v))[0]


if __name__ == "__main__":
    lams = ["1e-300", "1e-30", "1e-8", "0.001", "0.3", "0.5", "0.5000000001", "0.7", "0.999999",
            "0.999999999999", "0.99999999999999989"]  # the last: 1 − 2^−53, the largest double below 1
    for is_float in (False, True):
        seen = set()
        for s in lams:
            lam = float(s)
            if is_float:
                lam = as_float(lam)
                if lam == 0 or lam == 1 or lam < 1e-37:
                    continue  # not a normal float in (0, 1)
            if lam in seen:
                continue
            seen.add(lam)
            L = mp.mpf(lam)  # exact
            for x in ("0", "0.25", "1"):
                X = mp.mpf(x)
                v = logp(X, L)
                d = mp.diff(lambda t: logp(X, t), L, h=L * mp.mpf(10) ** -40)
                print("    {%d, %s, %s, %s, %s}," % (is_float, mp.nstr(L, 20), x, mp.nstr(v, 20), mp.nstr(d, 20)))
