#!/usr/bin/env python3
"""The cost of each family against the Gaussian model of the same size, on Fashion-MNIST.

    python3 bench/families.py                  # 2 epochs per run, 2 passes (ABBA per pair)
    python3 bench/families.py --epochs 3 --models fashion_vmf

Every model in --models is paired with models/fashion_gaussian.vae (784-512-256 → latent,
mirrored decoder, batch 128, 2 threads). Each pass trains the pair from scratch, and the
order alternates between passes (Gaussian first, then the family; then the other way) to
cancel the machine's drift. Printed per family: its median epoch time, the Gaussian's median
epoch time over the same passes, their ratio, and both test ELBOs after the last epoch.
Standard library only. The vaec binary is copied first, so a rebuild does not change it.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAMILIES = ["fashion_vmf", "fashion_power_spherical", "fashion_studentt", "fashion_studentt_learned",
            "fashion_vmf_learned_prior", "fashion_continuous_bernoulli"]


def run(vaec, model, epochs, work, tag):
    out = os.path.join(work, tag)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [vaec, os.path.join(ROOT, "models", model + ".vae"), "--data", "fashion-mnist", "--epochs", str(epochs),
           "--threads", "2", "--out", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{model}: vaec exited {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(out, "timing.csv")) as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    with open(os.path.join(out, "metrics.csv")) as f:
        test_elbo = float(list(csv.DictReader(f))[-1]["test_elbo"])
    return seconds, test_elbo


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--models", nargs="*", default=FAMILIES)
    ap.add_argument("--vaec", default=os.path.join(ROOT, "build", "vaec"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="vaec-families-")
    vaec = os.path.join(work, "vaec")
    shutil.copy2(a.vaec, vaec)
    print(f"{'model':28} {'epoch s':>8} {'Gaussian s':>10} {'ratio':>6} {'test ELBO':>10} {'Gaussian':>9}")
    for model in a.models:
        fam, gauss = [], []
        fam_elbo = gauss_elbo = None
        for p in range(a.passes):
            order = [("fashion_gaussian", gauss), (model, fam)]
            if p % 2:
                order.reverse()
            for name, times in order:
                seconds, elbo = run(vaec, name, a.epochs, work, f"{name}-{p}")
                times.extend(seconds)
                if name == model:
                    fam_elbo = elbo
                else:
                    gauss_elbo = elbo
        f, g = statistics.median(fam), statistics.median(gauss)
        print(f"{model:28} {f:8.2f} {g:10.2f} {f / g:6.2f} {fam_elbo:10.1f} {gauss_elbo:9.1f}", flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
