#!/usr/bin/env python3
# Reference values for runtime/special.cpp (von Mises–Fisher special functions), computed
# independently with mpmath at 50 significant digits. Run from anywhere:
#   python3 tests/runtime/reference/make_special_reference.py > tests/runtime/reference/special_reference.csv
# Columns: n, kappa, A_n(kappa) = I_{n/2}/I_{n/2-1}, log C_n(kappa), KL(vMF || uniform),
# A_n'(kappa) = 1 - A^2 - (n-1) A / kappa; values printed with 17 significant digits.
#   C_n(kappa) = kappa^{n/2-1} / ((2 pi)^{n/2} I_{n/2-1}(kappa)),
#   C_n(0)     = Gamma(n/2) / (2 pi^{n/2}),
#   KL         = kappa A_n(kappa) + log C_n(kappa) - log C_n(0).
import mpmath as mp

mp.mp.dps = 50

NS = [2, 3, 5, 10, 11, 64, 128, 512, 1000]
KAPPAS = ["1e-6", "1e-3", "0.1", "1", "2", "10", "11.2", "50", "100", "1000", "1e4", "1e5"]


def row(n, ks):
    n = mp.mpf(n)
    k = mp.mpf(ks)
    nu = n / 2 - 1
    inu = mp.besseli(nu, k)
    a = mp.besseli(n / 2, k) / inu
    logc = nu * mp.log(k) - (n / 2) * mp.log(2 * mp.pi) - mp.log(inu)
    logc0 = mp.loggamma(n / 2) - mp.log(2) - (n / 2) * mp.log(mp.pi)
    kl = k * a + logc - logc0
    da = 1 - a * a - (n - 1) * a / k
    return a, logc, kl, da


def main():
    print("n,kappa,A,logC,KL,dA")
    for n in NS:
        for ks in KAPPAS:
            a, logc, kl, da = row(n, ks)
            print(f"{n},{ks},{mp.nstr(a, 17)},{mp.nstr(logc, 17)},{mp.nstr(kl, 17)},{mp.nstr(da, 17)}")


if __name__ == "__main__":
    main()
