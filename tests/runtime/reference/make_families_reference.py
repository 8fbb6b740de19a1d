#!/usr/bin/env python3
# Reference values for runtime/special_families.cpp (Student-t, Gamma and Power Spherical
# special functions), computed independently with mpmath from the textbook formulas. Run
# from anywhere (takes a minute or two):
#   python3 tests/runtime/reference/make_families_reference.py > tests/runtime/reference/families_reference.csv
# Every row is computed twice, at two working precisions (at least 40 digits beyond what
# each formula cancels), and the script stops if the two disagree beyond 1e-25: the printed
# 17 significant digits are all correct.
#
# One CSV, columns kind,p1,p2,v1,v2,v3,v4,v5 (unused cells empty):
#   studentt,df,,log_norm,log_norm_ddf,entropy,entropy_ddf,
#       log_norm     = lgamma((df+1)/2) - lgamma(df/2) - log(df pi)/2
#       log_norm_ddf = psi((df+1)/2)/2 - psi(df/2)/2 - 1/(2 df)
#       entropy      = (df+1)/2 [psi((df+1)/2) - psi(df/2)] + log(df)/2 + log B(df/2, 1/2)
#       entropy_ddf  = (df+1)/4 [psi'((df+1)/2) - psi'(df/2)] + 1/(2 df)
#   gamma,alpha,g,u,dg_dalpha,,,
#       g is the double nearest the u-quantile of Gamma(alpha, 1) (rows whose quantile is
#       below the smallest normal double are left out), and
#       dg_dalpha = -(dP(alpha, g)/dalpha) / p(g; alpha) at that double g, with
#       P(a, x) = x^a e^-x / Gamma(a+1) 1F1(1; a+1; x) the regularized lower incomplete
#       gamma function, its a-derivative by mpmath.diff (of Q = 1 - P where P > 1/2), and
#       p the Gamma density; cross-checked against gammainc and against the series
#       dg/dalpha = (g/alpha) sum_n g^n/((alpha+1)...(alpha+n)) [psi(alpha+n+1) - log g].
#   power_spherical,n,kappa,log_norm,log_norm_dkappa,entropy,entropy_dkappa,kl
#       with A = (n-1)/2 + kappa, B = (n-1)/2:
#       log_norm        = -[(A+B) log 2 + B log pi + lgamma(A) - lgamma(A+B)]
#       log_norm_dkappa = -log 2 - psi(A) + psi(A+B)
#       entropy         = -log_norm - kappa (log 2 + psi(A) - psi(A+B))
#       entropy_dkappa  = -kappa (psi'(A) - psi'(A+B))
#       kl              = log_sphere_area(n) - entropy
#   sphere,n,,log_area,,,,
#       log_area = log 2 + (n/2) log pi - lgamma(n/2)
#
# With --tables, prints instead the coefficient tables used in special_families.cpp (the
# Student-t large-df series and Temme's c_k(eta) Taylor coefficients), in exact rational
# arithmetic, and checks them against mpmath.
import sys
from fractions import Fraction as Fr

import mpmath as mp

STUDENT_DF = ["1e-3", "0.01", "0.5", "1", "2", "2.5", "3", "5", "10", "23", "24", "25", "30",
              "100", "1e3", "1e4", "1e6", "1e8", "1e10", "1e12", "1e15", "1e20", "1e100", "1e300"]
GAMMA_ALPHA = ["1e-3", "0.01", "0.1", "0.5", "1", "2.5", "10", "49", "51", "100", "1e4", "1e6", "1e8"]
GAMMA_U = ["1e-10", "1e-4", "0.01", "0.3", "0.5", "0.7", "0.99", "0.9999", "0.9999999999"]
PS_N = ["2", "3", "5", "11", "64", "512", "1000", "1e4"]
PS_KAPPA = ["0", "1e-6", "1e-3", "0.1", "1", "10", "100", "1e4", "1e6", "1e8"]
SPHERE_N = ["2", "3", "4", "5", "7", "10", "11", "64", "100", "512", "1000", "1e4"]

SMALLEST_NORMAL = mp.mpf(2) ** -1022


def num(s):
    """The parameter as the double the C++ test passes (exactly), at the current precision."""
    return mp.mpf(float(s))


def fmt(v):
    return mp.nstr(v, 17, min_fixed=-5, max_fixed=17) if v != 0 else "0"


def twice(f, *args, extra=0):
    """f(*args) at two precisions; checks they agree and returns the finer one."""
    with mp.workdps(50 + extra):
        lo = f(*args)
    with mp.workdps(80 + extra):
        hi = f(*args)
    for a, b in zip(lo, hi):
        scale = max(abs(b), mp.mpf(10) ** -300)
        if abs(a - b) > 1e-25 * scale:
            raise SystemExit(f"precision check failed for {f.__name__}{args}: {a} vs {b}")
    return hi


# ---- Student-t ----------------------------------------------------------------------------

def studentt(df_s):
    nu = num(df_s)
    a, h = nu / 2, mp.mpf(1) / 2
    log_norm = mp.loggamma(a + h) - mp.loggamma(a) - mp.log(nu * mp.pi) / 2
    d = mp.digamma(a + h) - mp.digamma(a)
    log_norm_ddf = d / 2 - 1 / (2 * nu)
    entropy = (nu + 1) / 2 * d + mp.log(nu) / 2 + mp.log(mp.beta(a, h))
    entropy_ddf = (nu + 1) / 4 * (mp.psi(1, a + h) - mp.psi(1, a)) + 1 / (2 * nu)
    return log_norm, log_norm_ddf, entropy, entropy_ddf


def studentt_rows():
    for df in STUDENT_DF:
        # The differences cancel ~2 log10(df) digits (entropy_ddf ~ 1/df^2 from terms ~ 1).
        extra = int(3 * max(0, mp.log10(float(df)))) + 10
        v = twice(studentt, df, extra=extra)
        yield f"studentt,{df},," + ",".join(fmt(x) for x in v) + ","


# ---- Gamma: quantiles and the implicit reparameterization gradient -------------------------

def lower_p(a, x):
    # P(a, x) = x^a e^-x / Gamma(a+1) * 1F1(1; a+1; x) (DLMF 8.5.1 with Kummer's transform).
    return mp.exp(a * mp.log(x) - x - mp.loggamma(a + 1)) * mp.hyp1f1(1, a + 1, x, maxterms=10**8)


def log_density(a, x):
    return (a - 1) * mp.log(x) - x - mp.loggamma(a)


def quantile(a, u):
    """x with P(a, x) = u, by Newton's method on log P (u <= 1/2) or log Q in log x."""
    upper = u > 0.5
    target = mp.log(1 - u) if upper else mp.log(u)

    def f(t):
        x = mp.exp(t)
        p = lower_p(a, x)
        v = mp.log(1 - p) if upper else mp.log(p)
        # d/dt log P = x p(x)/P,  d/dt log Q = -x p(x)/Q
        dens = mp.exp(log_density(a, x)) * x
        dv = -dens / (1 - p) if upper else dens / p
        return v - target, dv

    # Start: the small-x limit P ~ x^a/Gamma(a+1), else the Wilson-Hilferty approximation.
    z = mp.sqrt(2) * mp.erfinv(2 * u - 1)
    wh = 1 - 1 / (9 * a) + z / (3 * mp.sqrt(a))
    if wh > 0.2 and a > 0.5:
        t = mp.log(a) + 3 * mp.log(wh)
    else:
        t = (mp.log(u) + mp.loggamma(a + 1)) / a if not upper else mp.log(a + 1) - mp.log(1 - u)
        t = min(t, mp.log(a + 60))
    for _ in range(200):
        v, dv = f(t)
        step = v / dv
        step = max(min(step, 2), -2)  # damped in log x
        t -= step
        if abs(step) < mp.mpf(10) ** -30:  # far below a double's resolution
            break
    else:
        raise SystemExit(f"quantile did not converge: a={a} u={u}")
    return mp.exp(t)


def dg_dalpha(a_s, g):
    a = num(a_s)
    x = mp.mpf(g)
    p = lower_p(a, x)
    if p <= 0.5:
        dp = mp.diff(lambda s: lower_p(s, x), a)
    else:
        # Q = 1 - P loses -log10 Q digits: raise the precision for it.
        lost = int(-mp.log10(1 - p)) + 5 if p < 1 else 0
        with mp.workdps(mp.mp.dps + lost):
            dp = mp.diff(lambda s: lower_p(s, x), a)
    return (-dp / mp.exp(log_density(a, x)),)


def dg_dalpha_series(a, x):
    t = mp.mpf(1)
    d = mp.digamma(a + 1) - mp.log(x)
    s = d
    n = 0
    while True:
        n += 1
        t *= x / (a + n)
        d += 1 / (a + n)
        s += t * d
        if n > x - a and abs(t * d) < abs(s) * mp.mpf(10) ** (-mp.mp.dps - 5):
            return x / a * s


def gamma_rows():
    for a_s in GAMMA_ALPHA:
        for u_s in GAMMA_U:
            with mp.workdps(60):
                x = quantile(num(a_s), mp.mpf(u_s))
            if x < SMALLEST_NORMAL:
                continue
            g = float(x)  # the nearest double (mpmath rounds to nearest)
            (v,) = twice(dg_dalpha, a_s, g)
            with mp.workdps(80):
                a = num(a_s)
                gm = mp.mpf(g)
                w = dg_dalpha_series(a, gm)
                if abs(v - w) > 1e-25 * abs(v):
                    raise SystemExit(f"series check failed: a={a_s} g={g}: {v} vs {w}")
                if a <= 1e6:  # mpmath's gammainc (its own series) as a third opinion
                    pg = mp.gammainc(a, 0, gm, regularized=True)
                    if abs(pg - lower_p(a, gm)) > 1e-30 * pg:
                        raise SystemExit(f"gammainc check failed: a={a_s} g={g}")
            yield f"gamma,{a_s},{g!r},{u_s},{fmt(v)},,,"


# ---- Power Spherical and the sphere -------------------------------------------------------

def power_spherical(n_s, k_s):
    n, k = num(n_s), num(k_s)
    b = (n - 1) / 2
    a = b + k
    log_norm = -((a + b) * mp.log(2) + b * mp.log(mp.pi) + mp.loggamma(a) - mp.loggamma(a + b))
    dlog = -mp.log(2) - mp.digamma(a) + mp.digamma(a + b)
    entropy = -log_norm - k * (mp.log(2) + mp.digamma(a) - mp.digamma(a + b))
    dent = -k * (mp.psi(1, a) - mp.psi(1, a + b))
    kl = sphere(n_s)[0] - entropy if k > 0 else mp.mpf(0)  # exactly 0 at kappa = 0
    return log_norm, dlog, entropy, dent, kl


def sphere(n_s):
    n = num(n_s)
    return (mp.log(2) + n / 2 * mp.log(mp.pi) - mp.loggamma(n / 2),)


def power_spherical_rows():
    for n in PS_N:
        for k in PS_KAPPA:
            # KL ~ kappa^2/n at small kappa, from terms ~ n log n: up to ~30 digits cancel.
            v = twice(power_spherical, n, k, extra=40)
            yield f"power_spherical,{n},{k}," + ",".join(fmt(x) for x in v)
    for n in SPHERE_N:
        v = twice(sphere, n)
        yield f"sphere,{n},,{fmt(v[0])},,,,"


# ---- --tables: the coefficient tables in special_families.cpp -----------------------------

def bernoulli(n):
    p, q = mp.bernfrac(n)
    return Fr(int(p), int(q))


def studentt_tables(jmax=13):
    # L(a) = lgamma(a+1/2) - lgamma(a) - log(a)/2 ~ sum_j l_j a^(1-2j),
    # l_j = (2^(1-2j) - 2) B_2j / (2j (2j-1))   (Stirling's series at a + 1/2 and a).
    ell = {j: (Fr(2) ** (1 - 2 * j) - 2) * bernoulli(2 * j) / (2 * j * (2 * j - 1)) for j in range(1, jmax + 1)}
    L = {2 * j - 1: ell[j] for j in ell}
    dL = {2 * j: -Fr(1, 2) * (2 * j - 1) * ell[j] for j in ell}  # L'(a)/2
    F = {}
    for j in ell:  # F = 1/(4a) + (a + 1/2) L'(a) - L(a)
        F[2 * j - 1] = F.get(2 * j - 1, 0) - 2 * j * ell[j]
        F[2 * j] = F.get(2 * j, 0) - Fr(1, 2) * (2 * j - 1) * ell[j]
    F[1] += Fr(1, 4)
    G = {m + 1: -Fr(1, 2) * m * c for m, c in F.items()}  # F'(a)/2
    return {"L": L, "dL": dL, "F": F, "G": G}


def temme_tables(n_terms=60, kmax=12):
    # mu = lambda - 1 as a series in eta, from mu - log(1 + mu) = eta^2/2, by Lagrange
    # inversion of eta = mu (2 (mu - log(1+mu))/mu^2)^(1/2).
    N = n_terms + 2 * kmax + 4

    def mul(a, b):
        r = [Fr(0)] * N
        for i, x in enumerate(a):
            if x:
                for j in range(N - i):
                    r[i + j] += x * b[j]
        return r

    def power(a, p):  # a^p, a[0] = 1
        r = [Fr(1)] + [Fr(0)] * (N - 1)
        for k in range(1, N):
            r[k] = sum((p * j - (k - j)) * a[j] * r[k - j] for j in range(1, k + 1)) / k
        return r

    q = [Fr(2 * (-1) ** i, i + 2) for i in range(N)]
    phi = power(q, Fr(-1, 2))
    mu = [Fr(0)] * N
    pk = [Fr(1)] + [Fr(0)] * (N - 1)
    for n in range(1, N):
        pk = mul(pk, phi)
        mu[n] = pk[n - 1] / n
    m = mu[1:] + [Fr(0)]  # mu/eta
    invm = [Fr(0)] * N  # eta/mu
    invm[0] = 1 / m[0]
    for k in range(1, N):
        invm[k] = -sum(m[j] * invm[k - j] for j in range(1, k + 1)) / m[0]
    # Stirling: Gamma(z) ~ e^-z z^z (2 pi/z)^(1/2) sum_k g_k z^-k (DLMF 5.11.3)
    s = [Fr(0)] * (kmax + 2)
    for j in range(1, kmax + 2):
        if 2 * j - 1 < kmax + 2:
            s[2 * j - 1] = bernoulli(2 * j) / (2 * j * (2 * j - 1))
    g = [Fr(1)] + [Fr(0)] * (kmax + 1)
    for k in range(1, kmax + 2):
        g[k] = sum(i * s[i] * g[k - i] for i in range(1, k + 1)) / k
    # c_0 = 1/mu - 1/eta; c_k = (1/eta) c_{k-1}' + (-1)^k g_k/mu (DLMF 8.12.8-9)
    c = [[invm[i + 1] for i in range(N - 1)]]
    for k in range(1, kmax + 1):
        prev = c[-1]
        terms = {}
        for i, p in enumerate(prev):
            if i >= 1:
                terms[i - 2] = terms.get(i - 2, 0) + i * p
        for i in range(N):
            terms[i - 1] = terms.get(i - 1, 0) + (-1) ** k * g[k] * invm[i]
        assert all(v == 0 for e, v in terms.items() if e < 0)
        c.append([terms.get(i, Fr(0)) for i in range(len(prev) - 2)])
    return c


TEMME_MIN_A = 20.0
TEMME_TERMS = 11


def print_tables():
    mp.mp.dps = 40
    t = studentt_tables()
    print("// Student-t large-df series, coefficients of x^p, x = 1/a = 2/df:")
    for name, coef in t.items():
        print(f"// {name}:")
        print(", ".join(f"{{{p}, {c.numerator}.0L / {c.denominator}}}" for p, c in sorted(coef.items())))
    # check at a = 12 against mpmath (truncation below 1e-17 there)
    a = mp.mpf(12)
    h = mp.mpf(1) / 2
    ev = lambda coef: sum(mp.mpf(c.numerator) / c.denominator * a ** -p for p, c in coef.items())
    L = mp.loggamma(a + h) - mp.loggamma(a) - mp.log(a) / 2
    d = mp.digamma(a + h) - mp.digamma(a)
    F = (a + h) * d - h - L
    G = (2 * a + 1) / 4 * (mp.psi(1, a + h) - mp.psi(1, a)) + 1 / (4 * a)
    for name, want in [("L", L), ("dL", d / 2 - 1 / (4 * a)), ("F", F), ("G", G)]:
        err = abs(ev(t[name]) / want - 1)
        print(f"// check {name} at a = 12: rel err {mp.nstr(err, 3)}")
        assert err < 1e-17

    c = temme_tables()
    # c_0 .. c_10 (c_11/20^11 ~ 1e-17); each c_k's Taylor polynomial is truncated where its
    # tail, with the derivative's factor, is below 1e-17 a^k for |eta| <= 1, a >= 20.
    print(f"// Temme c_k(eta) Taylor coefficients (|eta| <= 1, a >= {TEMME_MIN_A}):")
    for k, ck in enumerate(c[:TEMME_TERMS]):
        deg = len(ck)
        for dd in range(1, len(ck)):
            if sum((i + 1) * abs(float(ck[i])) for i in range(dd, len(ck))) * TEMME_MIN_A ** -k < 1e-17:
                deg = dd
                break
        print(f"constexpr double kC{k}[] = {{" + ", ".join(repr(float(x)) for x in ck[:deg]) + "};")
    # check c_0, c_1 against their closed forms at eta = 0.6
    eta = mp.mpf("0.6")
    lam = mp.findroot(lambda l: l - 1 - mp.log(l) - eta ** 2 / 2, 1.8)
    m1 = lam - 1
    c0 = 1 / m1 - 1 / eta
    c1 = 1 / eta ** 3 - 1 / m1 ** 3 - 1 / m1 ** 2 - 1 / (12 * m1)
    for k, want in [(0, c0), (1, c1)]:
        got = sum(mp.mpf(x.numerator) / x.denominator * eta ** i for i, x in enumerate(c[k]))
        print(f"// check c_{k}(0.6): rel err {mp.nstr(abs(got / want - 1), 3)}")
        assert abs(got / want - 1) < 1e-20


def main():
    if "--tables" in sys.argv:
        print_tables()
        return
    print("kind,p1,p2,v1,v2,v3,v4,v5")
    for gen in (studentt_rows, gamma_rows, power_spherical_rows):
        for line in gen():
            print(line, flush=True)


if __name__ == "__main__":
    main()
