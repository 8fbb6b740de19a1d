#!/usr/bin/env python3
"""vaec against the same Gaussian VAE in PyTorch on Fashion-MNIST, in one run, alternately.

    python3 bench/compare.py                 # 10 epochs per run, 2 passes: torch, vaec, vaec, torch
    python3 bench/compare.py --quick         # 3 epochs per run, a smoke test
    python3 bench/compare.py --iw 500        # also the importance-weighted log-likelihood, K = 500
    python3 bench/compare.py --environment both   # as the environment is, then without the OpenBLAS pin

Each pass trains both sides from scratch (same model, batch 128, Adam 1e-3, float32, 2 threads);
the order alternates between passes (ABBA) to cancel the machine's drift. Printed: each side's
epoch time (the median over the epochs of all its runs, training loop only), the ratio
vaec/torch, peak memory (max RSS of the training process), the BLAS each side had loaded,
and the test ELBO after the last epoch. Exits non-zero, saying why, if a side fails.

Both sides get the environment compare.py runs in — or, with --environment unpinned, that
environment less OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (both, as a machine without the pin
runs; removing only one leaves OpenBLAS with another blocking); `both` measures the two in
turn. Every run records the variables of its environment that choose arithmetic or threads
(OPENBLAS_*, OMP_*, GOMP_*, ONEDNN_*, DNNL_*, MKL_*) and the kernels it reported (vaec's
`kernels:` line: oneDNN's ISA and OpenBLAS's core), so that two figures that differ show why.

Standard library only; the PyTorch side (bench/torch_vae.py) runs under Debian's python3-torch
with OpenBLAS's OpenMP variant (LD_LIBRARY_PATH) and 2 threads. vaec is copied to a temporary
folder first, so a rebuild during the benchmark does not change the binary being measured.
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from blasinfo import blas_in_maps, describe_blas

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPENBLAS_OPENMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


class BenchError(Exception):
    pass


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])






def run(label, argv, log_path, env=None, echo=True, timeout=None):
    """Runs argv with its output in log_path (echoed, prefixed by label); returns
    (exit status, max RSS in KiB, BLAS libraries seen in its maps, wall seconds)."""
    with open(log_path, "wb") as log:
        try:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        except OSError as e:
            raise BenchError(f"{label}: cannot start {argv[0]}: {e}")
    libs = []
    start = time.monotonic()
    pos = 0
    status = rusage = None
    try:
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if not libs:
                libs = [lib for lib in blas_in_maps(p.pid) if "blas" in lib or "lapack" in lib]
                if libs:
                    libs = blas_in_maps(p.pid)
            with open(log_path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            # Echo whole lines only.
            cut = chunk.rfind(b"\n") + 1
            if echo and cut:
                for line in chunk[:cut].decode(errors="replace").splitlines():
                    if not line.startswith("RESULT "):
                        print(f"  [{label}] {line}", flush=True)
            pos += cut
            if pid:
                status, rusage = st, ru
                break
            if timeout and time.monotonic() - start > timeout:
                p.kill()
                os.wait4(p.pid, 0)
                raise BenchError(f"{label}: no result after {timeout} s; killed it (log: {log_path})")
            time.sleep(0.2)
    except KeyboardInterrupt:
        p.kill()
        os.wait4(p.pid, 0)
        raise
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped above; keep Popen from waiting again
    with open(log_path, "rb") as f:
        f.seek(pos)
        rest = f.read().decode(errors="replace")
    if echo:
        for line in rest.splitlines():
            if not line.startswith("RESULT "):
                print(f"  [{label}] {line}", flush=True)
    return p.returncode, rusage.ru_maxrss, libs, time.monotonic() - start


def fail_with_log(label, code, log_path):
    with open(log_path, errors="replace") as f:
        tail = f.read().splitlines()[-15:]
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    if not any(line.strip() for line in tail):
        raise BenchError(f"{label} failed ({how}) and printed nothing (log: {log_path})")
    raise BenchError(f"{label} failed ({how}); the end of its log {log_path}:\n    " + "\n    ".join(tail))


# Environment variables that choose a library's kernels, blocking or threads.
ARITHMETIC_PREFIXES = ("OPENBLAS_", "GOTO", "OMP_", "GOMP_", "KMP_", "ONEDNN_", "DNNL_", "MKL_")
# What --environment unpinned removes: the pin and its companion, together.
PIN = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def side_env(a):
    """The environment of one side's process: compare.py's own, or without the pin."""
    env = dict(os.environ)
    if a.current_environment == "unpinned":
        for k in PIN:
            env.pop(k, None)
    return env


def arithmetic_env(env):
    return {k: v for k, v in sorted(env.items()) if k.startswith(ARITHMETIC_PREFIXES)}


def run_torch(a, out, tag, iw):
    env = side_env(a)
    env["LD_LIBRARY_PATH"] = OPENBLAS_OPENMP + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["OMP_NUM_THREADS"] = str(a.threads)
    argv = [a.python, os.path.join(HERE, "torch_vae.py"), "--epochs", str(a.epochs), "--threads", str(a.threads),
            "--iw", str(iw), "--seed", str(a.seed)]
    log = os.path.join(out, f"torch-{tag}.log")
    print(f"\n== torch, pass {tag}: load average {loadavg()}; environment {arithmetic_env(env)}", flush=True)
    code, rss, _, wall = run(f"torch {tag}", argv, log, env=env, timeout=a.timeout)
    if code != 0:
        fail_with_log(f"the PyTorch side (pass {tag})", code, log)
    result = None
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
    if result is None:
        raise BenchError(f"the PyTorch side (pass {tag}) printed no RESULT line (log: {log})")
    # Peak memory of training: the torch process reports its own before the IW evaluation (vaec
    # evaluates in a separate process, so its training RSS never includes that).
    return {"seconds": [e["seconds"] for e in result["epochs"]], "test_elbo": result["test_elbo"],
            "max_rss_kib": result.get("max_rss_kib_training", rss), "max_rss_kib_process": rss,
            "blas": result["blas"], "iw": result.get("iw_loglik"),
            "iw_stderr": result.get("iw_stderr"), "iw_k": result.get("iw_k"), "wall": wall,
            "flush_denormal_all_threads": result.get("flush_denormal_all_threads"), "log": log,
            "environment": arithmetic_env(env)}


def run_vaec(a, out, tag, iw):
    run_dir = os.path.join(out, f"vaec-{tag}")
    argv = [a.vaec_copy, a.model, "--data", a.data, "--epochs", str(a.epochs), "--out", run_dir,
            "--threads", str(a.threads), "--seed", str(a.seed)]
    log = os.path.join(out, f"vaec-{tag}.log")
    env = side_env(a)
    print(f"\n== vaec, pass {tag}: load average {loadavg()}; environment {arithmetic_env(env)}", flush=True)
    code, rss, libs, wall = run(f"vaec {tag}", argv, log, env=env, timeout=a.timeout)
    if code != 0:
        fail_with_log(f"the vaec side (pass {tag})", code, log)
    try:
        with open(os.path.join(run_dir, "timing.csv")) as f:
            seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
        with open(os.path.join(run_dir, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
    except (OSError, KeyError, ValueError) as e:
        raise BenchError(f"the vaec side (pass {tag}): cannot read its timing.csv/metrics.csv in {run_dir}: {e}")
    if len(seconds) != a.epochs or len(rows) != a.epochs or not rows[-1].get("test_elbo"):
        raise BenchError(f"the vaec side (pass {tag}): expected {a.epochs} epochs with a test ELBO in {run_dir}, "
                         f"found {len(seconds)} timings and {len(rows)} metric rows")
    kernels = "?"
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("kernels: "):
                kernels = line[len("kernels: "):].strip()
    r = {"seconds": seconds, "test_elbo": float(rows[-1]["test_elbo"]), "max_rss_kib": rss,
         "blas": describe_blas(libs), "kernels": kernels, "iw": None, "iw_stderr": None, "iw_k": None, "wall": wall,
         "log": log, "run_dir": run_dir, "environment": arithmetic_env(env)}
    if iw > 0:
        elog = os.path.join(out, f"vaec-{tag}-eval.log")
        print(f"== vaec eval --iw {iw}, pass {tag}: load average {loadavg()}", flush=True)
        code, _, _, _ = run(f"vaec eval {tag}", [a.vaec_copy, "eval", run_dir, "--data", a.data, "--iw", str(iw),
                                                  "--threads", str(a.threads)], elog, env=env, timeout=a.timeout)
        if code != 0:
            fail_with_log(f"vaec eval (pass {tag})", code, elog)
        # The figures from eval.json (its printed lines carry progress lines too).
        ejson = os.path.join(run_dir, "eval.json")
        try:
            with open(ejson) as f:
                ev = json.load(f)
            r["iw_k"], r["iw"], r["iw_stderr"] = int(ev["iw_samples"]), float(ev["log_likelihood"]), \
                float(ev["log_likelihood_se"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BenchError(f"vaec eval (pass {tag}) left no importance-weighted log-likelihood in {ejson}: {e} "
                             f"(log: {elog})")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--epochs", type=int, default=None, help="epochs per run (default 10; --quick: 3)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 3 epochs per run, one pass")
    ap.add_argument("--passes", type=int, default=None, help="passes, each training both sides (default 2; --quick: 1)")
    ap.add_argument("--iw", type=int, default=0, metavar="K",
                    help="also report the importance-weighted log-likelihood with K samples, after the last pass")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vaec", default=os.path.join(ROOT, "build", "vaec"), help="the vaec binary (copied before use)")
    ap.add_argument("--model", default=os.path.join(HERE, "models", "bench_gaussian.vae"))
    ap.add_argument("--data", default="fashion-mnist", help="vaec's --data (the torch side reads the same IDX files)")
    ap.add_argument("--python", default="/usr/bin/python3", help="a Python with Debian's python3-torch")
    ap.add_argument("--out", default=None, help="folder for logs and run folders (default: a new one under /tmp)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a single run counts as failed")
    ap.add_argument("--json", default=None, help="write the results here (default OUT/results.json)")
    ap.add_argument("--environment", choices=("as-is", "unpinned", "both"), default="as-is",
                    help="each side's environment: compare.py's own (as-is), without OPENBLAS_CORETYPE and "
                         "OPENBLAS_L2_SIZE (unpinned), or one measurement of each (both)")
    a = ap.parse_args()
    if a.epochs is None:
        a.epochs = 3 if a.quick else 10
    if a.passes is None:
        a.passes = 1 if a.quick else 2
    if a.epochs < 1 or a.passes < 1 or a.iw < 0:
        ap.error("--epochs and --passes must be at least 1, --iw at least 0")

    for path, what in ((a.vaec, "the vaec binary (build it first: see the README)"), (a.model, "the model"),
                       (a.python, "Debian's python3 (apt-get install python3-torch)"),
                       (os.path.join(OPENBLAS_OPENMP, "libopenblas.so.0"), "OpenBLAS, OpenMP variant "
                        "(apt-get install libopenblas0-openmp)")):
        if not os.path.exists(path):
            raise BenchError(f"{path} not found: {what}")
    a.out = a.out or tempfile.mkdtemp(prefix="vaec-bench-")
    os.makedirs(a.out, exist_ok=True)
    a.vaec_copy = os.path.join(a.out, "vaec")
    # Someone may be relinking the binary: copy it only when it holds still.
    for _ in range(30):
        before = os.stat(a.vaec)
        if time.time() - before.st_mtime > 2:
            shutil.copy2(a.vaec, a.vaec_copy)
            after = os.stat(a.vaec)
            if (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size):
                break
        time.sleep(2)
    else:
        raise BenchError(f"{a.vaec} keeps changing (a build in progress?); try again, or pass --vaec a copy")
    with open(a.vaec_copy, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(a.vaec_copy).st_mtime))
    head = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %ci"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.split("\n")
    dirty = [line for line in dirty if line.strip()]
    version = (subprocess.run([a.vaec_copy, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
               or ["?"])[0]
    environments = ("as-is", "unpinned") if a.environment == "both" else (a.environment,)
    results = {}
    for environment in environments:
        a.current_environment = environment
        print(f"\n==== environment: {environment} ({arithmetic_env(side_env(a))})", flush=True)
        results[environment] = measure(a, built, digest, version, head, dirty)
    json_path = a.json or os.path.join(a.out, "results.json")
    with open(json_path, "w") as f:
        json.dump(results if len(results) > 1 else results[environments[0]], f, indent=2)
    print(f"\n  results: {json_path}")
    return 0


def measure(a, built, digest, version, head, dirty):
    """One ABBA series of passes in a.current_environment; prints its table and returns its figures."""

    print(f"vaec vs PyTorch: {a.epochs} epochs per run, {a.passes} pass(es), {a.threads} threads, "
          f"{os.cpu_count()} cores; logs and run folders in {a.out}")
    print(f"vaec: {version} ({a.vaec}, built {built}, sha256 {digest}…, copied to {a.vaec_copy}); model {a.model}")
    print(f"repository: HEAD {head or '?'}" + (f", {len(dirty)} modified tracked file(s) now (the binary may predate or "
                                               f"postdate them)" if dirty else ", no modified tracked files"))
    runs = {"torch": [], "vaec": []}
    for i in range(a.passes):
        last = i == a.passes - 1
        order = ("torch", "vaec") if i % 2 == 0 else ("vaec", "torch")
        for side in order:
            iw = a.iw if last else 0
            # Runs of the unpinned series get their own folders and logs ("unpinned-1").
            tag = f"{i + 1}" if a.current_environment == "as-is" else f"{a.current_environment}-{i + 1}"
            r = run_torch(a, a.out, tag, iw) if side == "torch" else run_vaec(a, a.out, tag, iw)
            r["pass"] = i + 1
            runs[side].append(r)
            print(f"== {side}, pass {i + 1}: median epoch {statistics.median(r['seconds']):.2f} s, "
                  f"test ELBO {r['test_elbo']:.3f}, max RSS {r['max_rss_kib'] / 1024:.0f} MiB; "
                  f"load average after {loadavg()}", flush=True)

    def summary(side):
        rs = runs[side]
        secs = [s for r in rs for s in r["seconds"]]
        last = rs[-1]
        return {"median_epoch_seconds": statistics.median(secs), "epochs_timed": len(secs),
                "per_pass_median": [statistics.median(r["seconds"]) for r in rs],
                "min_epoch_seconds": min(secs), "max_epoch_seconds": max(secs),
                "max_rss_mib": max(r["max_rss_kib"] for r in rs) / 1024, "blas": last["blas"],
                "test_elbo": [r["test_elbo"] for r in rs], "iw": last["iw"], "iw_stderr": last["iw_stderr"],
                "iw_k": last["iw_k"], "kernels": last.get("kernels"), "environment": last["environment"]}

    t, v = summary("torch"), summary("vaec")
    ratio = v["median_epoch_seconds"] / t["median_epoch_seconds"]
    print(f"\n== results ({a.epochs} epochs per run, {a.passes} pass(es), {a.threads} threads; load average now {loadavg()})")
    rows = [("", "vaec", "PyTorch"),
            ("epoch time, median", f"{v['median_epoch_seconds']:.2f} s", f"{t['median_epoch_seconds']:.2f} s"),
            ("  per pass", " / ".join(f"{s:.2f}" for s in v["per_pass_median"]),
             " / ".join(f"{s:.2f}" for s in t["per_pass_median"])),
            ("  min .. max", f"{v['min_epoch_seconds']:.2f} .. {v['max_epoch_seconds']:.2f}",
             f"{t['min_epoch_seconds']:.2f} .. {t['max_epoch_seconds']:.2f}"),
            ("peak memory (max RSS)", f"{v['max_rss_mib']:.0f} MiB", f"{t['max_rss_mib']:.0f} MiB"),
            (f"test ELBO after {a.epochs} epochs", " / ".join(f"{e:.2f}" for e in v["test_elbo"]),
             " / ".join(f"{e:.2f}" for e in t["test_elbo"]))]
    if a.iw:
        rows.append((f"log p(x), IW K={a.iw}", f"{v['iw']:.2f} ± {v['iw_stderr']:.2f}", f"{t['iw']:.2f} ± {t['iw_stderr']:.2f}"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for r in rows:
        print(f"  {r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]}")
    print(f"  ratio vaec/torch (medians): {ratio:.3f}   (target, issue 14: at most 0.5)")
    if min(v["epochs_timed"], t["epochs_timed"]) < 3:
        print("  (fewer than 3 epochs timed per side: a smoke test, not a benchmark figure)")
    print(f"  kernels, vaec: {v['kernels']}")
    print(f"  BLAS, vaec:    {v['blas']}")
    print(f"  BLAS, PyTorch: {t['blas']} (flush denormals on all threads: "
          f"{runs['torch'][-1]['flush_denormal_all_threads']})")
    print(f"  environment: {v['environment']}")
    return {"environment": a.current_environment, "epochs": a.epochs, "passes": a.passes, "threads": a.threads,
            "ratio": ratio, "vaec_binary": {"path": a.vaec, "built": built, "sha256_prefix": digest, "version": version},
            "repository_head": head, "modified_tracked_files": dirty, "vaec": v, "torch": t, "runs": runs}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"\ncompare.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ncompare.py: interrupted", file=sys.stderr)
        sys.exit(130)
