#!/usr/bin/env python3
"""The hyperspherical-VAE grid, vaec compare against the same grid in PyTorch: wall times and ratio.

    python3 bench/svae_grid.py                       # 2 families x d in {2,5,10,20,40} x 3 seeds, 20 epochs,
                                                     # IW K = 500 on the 10,000 test images; both sides
    python3 bench/svae_grid.py --side torch          # the PyTorch side only
    python3 bench/svae_grid.py --quick               # smoke test: d in {2, 5}, 1 seed, 2 epochs, K = 20,
                                                     # 2,000 training and 500 test images (~2-4 min)

The grid of issue 11's speed target (Davidson et al. 2018, Table 1, on Fashion-MNIST): the
Gaussian and the von Mises-Fisher models of examples/hyperspherical/ (encoder 784-256-128,
decoder d'-128-256-784, dynamic binarization, batch 64, Adam 1e-3). The vaec side is one
command, `vaec compare GAUSSIAN.vae VMF.vae --data DATA --grid d=... --seeds N --iw K --jobs J
--threads T --out OUT/vaec` (with `--epochs E` when not 20); the PyTorch side runs
bench/torch_vae.py --arch svae for every cell, J processes at once with T threads each (the
same parallelism), under Debian's python3-torch with OpenBLAS's OpenMP variant. Each side's
wall time is from its first process's start to its last one's end, data loading and every
evaluation included, as a user waits for it. The sides run one after the other (--order);
the load average is printed before each side and recorded at every torch cell's start.
Goal (issue 11): vaec at most 0.5x PyTorch's wall time.

Writes OUT/results.json (both sides' wall times, the ratio, every torch cell's figures and
vaec's results.csv rows side by side), the torch cells' logs and per-example IW
log-likelihoods (OUT/torch/CELL.log, .npy; each finished cell also appended at once to
OUT/torch/cells.jsonl), and vaec's compare folder (OUT/vaec). A failed
cell is reported and does not stop the others; the exit status is then 1.

Standard library only (the PyTorch side runs in its own processes).
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from compare import OPENBLAS_OPENMP, BenchError, loadavg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAMILIES = (("normal", "gaussian"), ("vmf", "vmf"))  # torch_vae.py's --family, vaec's model label


def parse_list(text, what):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BenchError(f"{what} {text!r}: expected integers separated by commas, e.g. 2,5,10")
    if not values or min(values) < 1:
        raise BenchError(f"{what} {text!r}: expected positive integers separated by commas, e.g. 2,5,10")
    return values


def log_tail(path, lines=12):
    try:
        with open(path, errors="replace") as f:
            tail = [line.rstrip() for line in f.read().splitlines()[-lines:]]
    except OSError:
        return "(no log)"
    return "\n    ".join(tail) if any(tail) else "(empty log)"


def read_result(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
    return None


def run_torch_grid(a, out):
    """Every torch cell, a.jobs at once; returns (wall seconds, cells)."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = OPENBLAS_OPENMP + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["OMP_NUM_THREADS"] = str(a.threads)
    cells = [{"id": f"{label}-d={d}-seed{seed}", "family": family, "model": label, "d": d, "seed": seed}
             for family, label in FAMILIES for d in a.dims for seed in a.seed_list]
    os.makedirs(out, exist_ok=True)
    todo = list(cells)
    running = {}  # pid -> (cell, Popen, log file)
    start = time.monotonic()
    done = 0
    print(f"\n== PyTorch side: {len(cells)} cells, {a.jobs} at once x {a.threads} thread(s); load average {loadavg()}",
          flush=True)
    try:
        while todo or running:
            while todo and len(running) < a.jobs:
                c = todo.pop(0)
                log = os.path.join(out, c["id"] + ".log")
                argv = [a.python, os.path.join(HERE, "torch_vae.py"), "--arch", "svae", "--family", c["family"],
                        "--d", str(c["d"]), "--seed", str(c["seed"]), "--epochs", str(a.epochs), "--iw", str(a.iw),
                        "--threads", str(a.threads), "--data", a.data_dir,
                        "--per-example", os.path.join(out, c["id"] + ".npy")]
                c["load_average_at_start"] = loadavg()
                c["started"] = time.monotonic() - start
                with open(log, "wb") as f:
                    try:
                        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
                    except OSError as e:
                        raise BenchError(f"cannot start {argv[0]}: {e}")
                c["log"] = log
                running[p.pid] = (c, p)
            pid, status, ru = os.wait4(-1, 0)
            if pid not in running:
                continue
            c, p = running.pop(pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            c["wall_seconds"] = time.monotonic() - start - c["started"]
            c["max_rss_mib"] = ru.ru_maxrss / 1024
            r = read_result(c["log"]) if p.returncode == 0 else None
            if r is None:
                c["status"] = "failed"
                how = f"exit status {p.returncode}" if p.returncode >= 0 else f"killed by signal {-p.returncode}"
                c["reason"] = f"{how}; the end of {c['log']}:\n    {log_tail(c['log'])}"
            elif not (r.get("iw_finite", True) and r["test_elbo"] == r["test_elbo"]):
                c["status"] = "failed"
                c["reason"] = f"non-finite figures (test ELBO {r['test_elbo']}, IW {r.get('iw_loglik')})"
            else:
                c["status"] = "done"
                c["reason"] = None
            if r:
                for k in ("test_elbo", "test_recon", "test_kl", "iw_loglik", "iw_stderr", "iw_seconds", "train_seconds",
                          "median_epoch_seconds", "blas", "torch"):
                    c[k] = r.get(k)
            done += 1
            # Each finished cell at once, so that an interrupted grid keeps what it measured.
            with open(os.path.join(out, "cells.jsonl"), "a") as f:
                f.write(json.dumps(c) + "\n")
            elapsed = time.monotonic() - start
            eta = elapsed / done * (len(cells) - done)
            figs = (f"LL {c['iw_loglik']:.2f} ± {c['iw_stderr']:.2f}, ELBO {c['test_elbo']:.2f}"
                    if c["status"] == "done" and c.get("iw_loglik") is not None else
                    f"ELBO {c.get('test_elbo')}" if c["status"] == "done" else "FAILED: " + c["reason"])
            print(f"  [{done}/{len(cells)}] {c['id']}: {figs}; {c['wall_seconds']:.0f} s "
                  f"(train {c.get('train_seconds') or 0:.0f} s, IW {c.get('iw_seconds') or 0:.0f} s), "
                  f"{c['max_rss_mib']:.0f} MiB; elapsed {elapsed:.0f} s, about {eta:.0f} s left; load {loadavg()}",
                  flush=True)
    except KeyboardInterrupt:
        for c, p in running.values():
            p.kill()
            p.wait()
        raise
    return time.monotonic() - start, cells


def copy_vaec(path, dest):
    """Copies the vaec binary once it holds still (someone may be relinking it); returns its sha256 prefix."""
    for _ in range(30):
        before = os.stat(path)
        if time.time() - before.st_mtime > 2:
            shutil.copy2(path, dest)
            after = os.stat(path)
            if (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size):
                with open(dest, "rb") as f:
                    return hashlib.sha256(f.read()).hexdigest()[:16]
        time.sleep(2)
    raise BenchError(f"{path} keeps changing (a build in progress?); try again, or pass --vaec a copy")


def run_vaec_grid(a, out):
    """vaec compare over the same grid; returns (wall seconds, max RSS MiB, results.csv rows, argv)."""
    if a.seed_list == list(range(1, len(a.seed_list) + 1)):
        seeds = ["--seeds", str(len(a.seed_list))]
    else:
        seeds = ["--seed-list", ",".join(map(str, a.seed_list))]
    argv = [a.vaec_copy, "compare", *a.models, "--data", a.data, "--grid", "d=" + ",".join(map(str, a.dims)), *seeds,
            "--iw", str(a.iw), "--jobs", str(a.jobs), "--threads", str(a.threads), "--out", out]
    if a.epochs != 20:
        argv += ["--epochs", str(a.epochs)]
    log = out + ".log"
    print(f"\n== vaec side: {' '.join(argv)}\n   load average {loadavg()}", flush=True)
    start = time.monotonic()
    with open(log, "wb") as f:
        try:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise BenchError(f"cannot start {argv[0]}: {e}")
    try:
        _, status, ru = os.wait4(p.pid, 0)
    except KeyboardInterrupt:
        p.kill()
        p.wait()
        raise
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    rows = []
    try:
        with open(os.path.join(out, "results.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        pass
    if p.returncode != 0 and not rows:
        raise BenchError(f"vaec compare failed (exit status {p.returncode}); the end of its log {log}:\n    "
                         f"{log_tail(log)}")
    print(f"   vaec compare: {wall:.0f} s, exit status {p.returncode}, {len(rows)} rows in results.csv; "
          f"load average {loadavg()}", flush=True)
    return wall, ru.ru_maxrss / 1024, rows, argv, p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--quick", action="store_true", help="smoke test: d in {2, 5}, 1 seed, 2 epochs, K = 20, a slice "
                                                         "of 2,000 training and 500 test images")
    ap.add_argument("--side", choices=("both", "torch", "vaec"), default="both")
    ap.add_argument("--order", choices=("torch,vaec", "vaec,torch"), default="torch,vaec")
    ap.add_argument("--jobs", type=int, default=2, help="cells at once (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="threads per cell (default 1)")
    ap.add_argument("--dims", default=None, help="the grid of d (default 2,5,10,20,40; --quick: 2,5)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default 3; --quick: 1)")
    ap.add_argument("--seed-list", default=None, help="these seeds instead, e.g. 1,5,9")
    ap.add_argument("--epochs", type=int, default=None, help="default 20 (--quick: 2)")
    ap.add_argument("--iw", type=int, default=None, help="K of the IW log-likelihood (default 500; --quick: 20)")
    ap.add_argument("--data", default="fashion-mnist", help="vaec's --data (default fashion-mnist)")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist",
                    help="the same data's IDX folder, for the torch side")
    ap.add_argument("--models", nargs=2, metavar=("GAUSSIAN.vae", "VMF.vae"),
                    default=[os.path.join(ROOT, "examples", "hyperspherical", "gaussian.vae"),
                             os.path.join(ROOT, "examples", "hyperspherical", "vmf.vae")],
                    help="vaec's two models, each with `const d` (default examples/hyperspherical/)")
    ap.add_argument("--vaec", default=os.path.join(ROOT, "build", "vaec"), help="the vaec binary (copied before use)")
    ap.add_argument("--python", default="/usr/bin/python3", help="a Python with Debian's python3-torch")
    ap.add_argument("--out", default=None, help="a new folder for everything (default: a new one under /tmp)")
    a = ap.parse_args()
    try:
        a.dims = parse_list(a.dims or ("2,5" if a.quick else "2,5,10,20,40"), "--dims")
        if a.seed_list:
            a.seed_list = parse_list(a.seed_list, "--seed-list")
    except BenchError as e:
        ap.error(str(e))  # a usage error: exit status 2
    else:
        n = a.seeds if a.seeds is not None else (1 if a.quick else 3)
        if n < 1:
            ap.error("--seeds must be at least 1")
        a.seed_list = list(range(1, n + 1))
    a.epochs = a.epochs if a.epochs is not None else (2 if a.quick else 20)
    a.iw = a.iw if a.iw is not None else (20 if a.quick else 500)
    if a.jobs < 1 or a.threads < 1 or a.epochs < 1 or a.iw < 1:
        ap.error("--jobs, --threads, --epochs and --iw must be at least 1")
    if min(a.dims) < 2:
        ap.error("--dims: d must be at least 2 (the vMF model's sphere S^d needs d >= 2 here)")

    need = []
    if a.side != "vaec":
        need += [(a.python, "Debian's python3 with torch (apt-get install python3-torch python3-scipy)"),
                 (os.path.join(OPENBLAS_OPENMP, "libopenblas.so.0"), "OpenBLAS, OpenMP variant "
                  "(apt-get install libopenblas0-openmp)"), (a.data_dir, "the Fashion-MNIST IDX folder (--data-dir)")]
    if a.side != "torch":
        need += [(a.vaec, "the vaec binary (build it first: see the README)")]
        need += [(m, "a model (--models GAUSSIAN.vae VMF.vae)") for m in a.models]
    for path, what in need:
        if not os.path.exists(path):
            raise BenchError(f"{path} not found: {what}")
    if a.out and os.path.exists(a.out) and os.listdir(a.out):
        raise BenchError(f"--out {a.out}: the folder exists and is not empty; give a new one (nothing is overwritten)")
    a.out = a.out or tempfile.mkdtemp(prefix="svae-grid-")
    os.makedirs(a.out, exist_ok=True)
    if a.quick:
        # Both sides on the same small slice (tests/cli/make_slice.py: uncompressed IDX files).
        slice_dir = os.path.join(a.out, "slice")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cli", "make_slice.py"), a.data_dir, slice_dir,
                        "2000", "500"], check=True)
        a.data = a.data_dir = slice_dir

    cells = len(FAMILIES) * len(a.dims) * len(a.seed_list)
    print(f"S-VAE grid: {cells} cells (2 families x d in {a.dims} x seeds {a.seed_list}), {a.epochs} epochs, IW K={a.iw}, "
          f"{a.jobs} job(s) x {a.threads} thread(s) on {os.cpu_count()} cores; everything in {a.out}", flush=True)
    result = {"grid": {"d": a.dims, "seeds": a.seed_list, "epochs": a.epochs, "iw": a.iw, "jobs": a.jobs,
                       "threads": a.threads, "quick": a.quick, "data": a.data}, "cpus": os.cpu_count()}
    if a.side != "torch":
        a.vaec_copy = os.path.join(a.out, "vaec-binary")
        digest = copy_vaec(a.vaec, a.vaec_copy)
        version = (subprocess.run([a.vaec_copy, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
                   or ["?"])[0]
        result["vaec_binary"] = {"path": a.vaec, "sha256_prefix": digest, "version": version}
        print(f"vaec: {version} ({a.vaec}, sha256 {digest}…, copied to {a.vaec_copy})")
    head = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %ci"], capture_output=True, text=True).stdout.strip()
    result["repository_head"] = head

    failed = False
    order = a.order.split(",") if a.side == "both" else [a.side]
    for side in order:
        if side == "torch":
            wall, tcells = run_torch_grid(a, os.path.join(a.out, "torch"))
            bad = [c for c in tcells if c["status"] != "done"]
            failed |= bool(bad)
            result["torch"] = {"wall_seconds": wall, "cells": tcells, "failed": len(bad),
                               "max_rss_mib": max(c["max_rss_mib"] for c in tcells)}
            print(f"== PyTorch side: {wall:.0f} s wall ({wall / 60:.1f} min), {len(bad)} failed cell(s)", flush=True)
        else:
            try:
                wall, rss, rows, argv, code = run_vaec_grid(a, os.path.join(a.out, "vaec"))
            except BenchError as e:
                # Keep the other side's figures: report, record, and exit 1 at the end.
                print(f"svae_grid.py: error: {e}", file=sys.stderr, flush=True)
                result["vaec"] = {"error": str(e)}
                failed = True
                continue
            bad = [r for r in rows if r.get("status") != "done"]
            failed |= bool(bad) or code != 0 or len(rows) != cells
            result["vaec"] = {"wall_seconds": wall, "command": argv, "exit_status": code, "rows": rows,
                              "failed": len(bad), "max_rss_mib": rss}

    # Per cell, side by side.
    table = []
    tc = {(c["model"], c["d"], c["seed"]): c for c in result.get("torch", {}).get("cells", [])}
    vr = {}
    for r in result.get("vaec", {}).get("rows", []):
        try:
            vr[(r["model"], int(r["d"]), int(r["seed"]))] = r
        except (KeyError, ValueError):
            pass

    def num(x):
        try:
            return float(x)
        except (TypeError, ValueError):
            return None

    for family, label in FAMILIES:
        for d in a.dims:
            for seed in a.seed_list:
                t, v = tc.get((label, d, seed), {}), vr.get((label, d, seed), {})
                table.append({"model": label, "d": d, "seed": seed,
                              "torch_ll": t.get("iw_loglik"), "torch_ll_se": t.get("iw_stderr"),
                              "torch_elbo": t.get("test_elbo"), "torch_seconds": t.get("wall_seconds"),
                              "vaec_ll": num(v.get("log_likelihood")), "vaec_ll_se": num(v.get("log_likelihood_se")),
                              "vaec_elbo": num(v.get("elbo")), "vaec_seconds": num(v.get("seconds"))})
    result["cells"] = table

    def f(x, fmt=".2f"):
        return format(x, fmt) if isinstance(x, (int, float)) else "-"

    print(f"\n== results ({a.epochs} epochs, IW K={a.iw}, {a.jobs} x {a.threads}; load average now {loadavg()})")
    print(f"  {'cell':<22} {'torch LL':>9} {'ELBO':>9} {'s':>6}   {'vaec LL':>9} {'ELBO':>9} {'s':>6}")
    for r in table:
        print(f"  {r['model'] + ' d=' + str(r['d']) + ' s' + str(r['seed']):<22} {f(r['torch_ll']):>9} "
              f"{f(r['torch_elbo']):>9} {f(r['torch_seconds'], '.0f'):>6}   {f(r['vaec_ll']):>9} {f(r['vaec_elbo']):>9} "
              f"{f(r['vaec_seconds'], '.0f'):>6}")
    if "torch" in result:
        print(f"  PyTorch wall time: {result['torch']['wall_seconds']:.0f} s")
    if "wall_seconds" in result.get("vaec", {}):
        print(f"  vaec compare wall time: {result['vaec']['wall_seconds']:.0f} s")
    if "torch" in result and "wall_seconds" in result.get("vaec", {}):
        result["ratio"] = result["vaec"]["wall_seconds"] / result["torch"]["wall_seconds"]
        print(f"  ratio vaec/torch: {result['ratio']:.3f}   (goal: at most 0.5)")
    path = os.path.join(a.out, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as fp:
        json.dump(result, fp, indent=2)
    os.replace(tmp, path)
    print(f"  results: {path}")
    if failed:
        print("svae_grid.py: some cells failed (see above and results.json)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"\nsvae_grid.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nsvae_grid.py: interrupted", file=sys.stderr)
        sys.exit(130)
