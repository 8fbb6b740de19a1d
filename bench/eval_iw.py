#!/usr/bin/env python3
"""`vaec eval --iw 5000` on the 10,000 test images against the same evaluation in PyTorch: time and memory.

    python3 bench/eval_iw.py                     # S-VAE Gaussian d = 10, trained 1 epoch per side, K = 5000
    python3 bench/eval_iw.py --model bench       # bench/models/bench_gaussian.vae instead
    python3 bench/eval_iw.py --quick             # smoke test: K = 50 on 500 test images (~1 min)
    python3 bench/eval_iw.py --examples 1000 --passes 2   # K = 5000 on 1,000 test images, ABBA

Each side first trains the same architecture briefly (--epochs, default 1; the weights differ,
the cost of evaluating them does not), then evaluates the importance-weighted log-likelihood
(Burda et al. 2016) with K samples per test image in a process of its own: `vaec eval RUN
--data DATA --iw K --threads T`, and `bench/torch_vae.py ... --load PARAMS --epochs 0 --iw K
--threads T` (which then reads only the test split). Measured per evaluation process: wall
time from start to exit (as a user waits for it: start-up, data loading and the estimate),
peak memory (max RSS, from wait4), and PyTorch's own time for the IW loop alone. The
passes alternate ABBA (--passes; default 1: torch, then vaec); the load average is printed
before each run. Goal (issue 11): vaec at most 0.5x PyTorch's time, with bounded memory.

--model svae: the S-VAE study's Gaussian model at d = 10 (examples/hyperspherical/gaussian.vae
with d substituted; encoder 784-256-128, decoder 10-128-256-784, dynamic binarization, the
test set binarized once), written into OUT. --model bench: 784-512-256, 20 latents, grey levels.

Writes OUT/results.json. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from compare import OPENBLAS_OPENMP, BenchError, fail_with_log, loadavg, run
from svae_grid import copy_vaec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# examples/hyperspherical/gaussian.vae with const d = 10 substituted (constants are not parsed
# by every vaec build yet); the same network as torch_vae.py --arch svae --family normal --d 10.
SVAE_GAUSSIAN_D10 = """\
model gaussian
data   x : binary[28, 28]
latent z : real[10]
p(z) = Normal(0, 1)
p(x | z) {
  h = mlp(z, [128, 256], activation = relu)
  x ~ Bernoulli(logits = linear(h, 784))
}
q(z | x) {
  h = mlp(x, [256, 128], activation = relu)
  z ~ Normal(loc = linear(h, 10), scale = softplus(linear(h, 10)) + 1e-4)
}
train { epochs = 20  batch = 64  optimizer = adam(lr = 1e-3)  binarize = dynamic  eval_samples = 500 }
"""


def parse_iw(path):
    """(K, log p(x), standard error) from vaec eval's output line 'log p(x), IW K=500  -240.1 ± 0.5 (...)'."""
    with open(path, errors="replace") as f:
        for line in f:
            if "IW K=" in line and "±" in line:
                after = line.split("IW K=", 1)[1].split()
                return int(after[0]), float(after[1]), float(after[3])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", choices=("svae", "bench"), default="svae")
    ap.add_argument("--iw", type=int, default=None, help="K (default 5000; --quick: 50)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1, help="training epochs before the evaluation (default 1)")
    ap.add_argument("--passes", type=int, default=1, help="evaluations per side, alternating ABBA (default 1)")
    ap.add_argument("--quick", action="store_true", help="smoke test: K = 50, 2,000 training and 500 test images")
    ap.add_argument("--examples", type=int, default=None,
                    help="evaluate on the first N test images only (all 60,000 for training), e.g. to afford ABBA passes")
    ap.add_argument("--iw-rows", type=int, default=4096, help="PyTorch: decoded rows per IW chunk (examples x K)")
    ap.add_argument("--vaec", default=os.path.join(ROOT, "build", "vaec"), help="the vaec binary (copied before use)")
    ap.add_argument("--python", default="/usr/bin/python3", help="a Python with Debian's python3-torch")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist", help="the Fashion-MNIST IDX folder")
    ap.add_argument("--out", default=None, help="a new folder (default: a new one under /tmp)")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds before a single run counts as failed")
    a = ap.parse_args()
    a.iw = a.iw if a.iw is not None else (50 if a.quick else 5000)
    if a.iw < 1 or a.threads < 1 or a.epochs < 1 or a.passes < 1:
        ap.error("--iw, --threads, --epochs and --passes must be at least 1")
    if a.examples is not None and not 1 <= a.examples <= 10000:
        ap.error("--examples must be between 1 and 10,000 (the test split's size)")
    if a.examples is not None and a.quick:
        ap.error("--examples and --quick: choose one (--quick evaluates 500 test images)")
    for path, what in ((a.vaec, "the vaec binary (build it first: see the README)"),
                       (a.python, "Debian's python3 with torch (apt-get install python3-torch python3-scipy)"),
                       (os.path.join(OPENBLAS_OPENMP, "libopenblas.so.0"), "OpenBLAS, OpenMP variant "
                        "(apt-get install libopenblas0-openmp)"), (a.data_dir, "the Fashion-MNIST IDX folder")):
        if not os.path.exists(path):
            raise BenchError(f"{path} not found: {what}")
    if a.out and os.path.exists(a.out) and os.listdir(a.out):
        raise BenchError(f"--out {a.out}: the folder exists and is not empty; give a new one (nothing is overwritten)")
    a.out = a.out or tempfile.mkdtemp(prefix="eval-iw-")
    os.makedirs(a.out, exist_ok=True)
    data_dir = a.data_dir
    if a.quick or a.examples:
        data_dir = os.path.join(a.out, "slice")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cli", "make_slice.py"), a.data_dir, data_dir,
                        "2000" if a.quick else "60000", "500" if a.quick else str(a.examples)], check=True)
    vaec_data = "fashion-mnist" if data_dir == "/usr/share/datasets/fashion-mnist" else data_dir
    vaec = os.path.join(a.out, "vaec-binary")
    digest = copy_vaec(a.vaec, vaec)
    version = (subprocess.run([vaec, "--version"], capture_output=True, text=True).stdout.strip().splitlines() or ["?"])[0]
    if a.model == "svae":
        model_file = os.path.join(a.out, "gaussian_d10.vae")
        with open(model_file, "w") as f:
            f.write(SVAE_GAUSSIAN_D10)
        torch_model = ["--arch", "svae", "--family", "normal", "--d", "10"]
    else:
        model_file = os.path.join(HERE, "models", "bench_gaussian.vae")
        torch_model = ["--arch", "bench"]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = OPENBLAS_OPENMP + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["OMP_NUM_THREADS"] = str(a.threads)
    print(f"IW evaluation, K={a.iw}, {a.threads} thread(s), model {a.model}; vaec {version} (sha256 {digest}…); "
          f"everything in {a.out}", flush=True)

    # Training, once per side (not timed here).
    run_dir = os.path.join(a.out, "vaec-run")
    print(f"\n== training vaec, {a.epochs} epoch(s): load average {loadavg()}", flush=True)
    code, _, _, _ = run("vaec train", [vaec, model_file, "--data", vaec_data, "--epochs", str(a.epochs), "--out", run_dir,
                                       "--threads", str(a.threads), "--seed", "1"],
                        os.path.join(a.out, "vaec-train.log"), timeout=a.timeout)
    if code != 0:
        fail_with_log("vaec training", code, os.path.join(a.out, "vaec-train.log"))
    params = os.path.join(a.out, "torch-params.pt")
    print(f"\n== training torch, {a.epochs} epoch(s): load average {loadavg()}", flush=True)
    code, _, _, _ = run("torch train", [a.python, os.path.join(HERE, "torch_vae.py"), *torch_model, "--epochs",
                                        str(a.epochs), "--iw", "0", "--threads", str(a.threads), "--seed", "1",
                                        "--data", data_dir, "--save", params],
                        os.path.join(a.out, "torch-train.log"), env=env, timeout=a.timeout)
    if code != 0:
        fail_with_log("torch training", code, os.path.join(a.out, "torch-train.log"))

    runs = {"torch": [], "vaec": []}
    for i in range(a.passes):
        for side in (("torch", "vaec") if i % 2 == 0 else ("vaec", "torch")):
            log = os.path.join(a.out, f"{side}-eval-{i + 1}.log")
            load = loadavg()
            print(f"\n== {side} eval --iw {a.iw}, pass {i + 1}: load average {load}", flush=True)
            if side == "vaec":
                argv = [vaec, "eval", run_dir, "--data", vaec_data, "--iw", str(a.iw), "--threads", str(a.threads)]
                code, rss, _, wall = run("vaec eval", argv, log, timeout=a.timeout)
            else:
                argv = [a.python, os.path.join(HERE, "torch_vae.py"), *torch_model, "--epochs", "0", "--load", params,
                        "--iw", str(a.iw), "--iw-rows", str(a.iw_rows), "--threads", str(a.threads), "--seed", "1",
                        "--data", data_dir]
                code, rss, _, wall = run("torch eval", argv, log, env=env, timeout=a.timeout)
            if code != 0:
                fail_with_log(f"{side} eval (pass {i + 1})", code, log)
            r = {"pass": i + 1, "wall_seconds": wall, "max_rss_mib": rss / 1024, "load_average_before": load,
                 "load_average_after": loadavg(), "log": log}
            if side == "vaec":
                got = parse_iw(log)
                if got is None:
                    raise BenchError(f"vaec eval printed no importance-weighted log-likelihood (log: {log})")
                r["iw_k"], r["iw_loglik"], r["iw_stderr"] = got
            else:
                with open(log, errors="replace") as f:
                    res = [json.loads(line[7:]) for line in f if line.startswith("RESULT ")]
                if not res:
                    raise BenchError(f"the torch evaluation printed no RESULT line (log: {log})")
                r.update({k: res[0].get(k) for k in ("iw_k", "iw_loglik", "iw_stderr", "iw_seconds", "blas")})
            runs[side].append(r)
            print(f"== {side}: {wall:.1f} s, max RSS {r['max_rss_mib']:.0f} MiB, log p(x) {r['iw_loglik']:.3f} ± "
                  f"{r['iw_stderr']:.3f}; load average after {r['load_average_after']}", flush=True)

    t = statistics.median(r["wall_seconds"] for r in runs["torch"])
    v = statistics.median(r["wall_seconds"] for r in runs["vaec"])
    ti = statistics.median(r["iw_seconds"] for r in runs["torch"])
    res = {"iw": a.iw, "threads": a.threads, "model": a.model, "epochs_trained": a.epochs, "quick": a.quick,
           "vaec_binary": {"path": a.vaec, "sha256_prefix": digest, "version": version},
           "vaec_wall_seconds": v, "torch_wall_seconds": t, "torch_iw_loop_seconds": ti, "ratio": v / t,
           "vaec_max_rss_mib": max(r["max_rss_mib"] for r in runs["vaec"]),
           "torch_max_rss_mib": max(r["max_rss_mib"] for r in runs["torch"]), "runs": runs}
    n_test = 500 if a.quick else a.examples or 10000
    res["test_examples"] = n_test
    print(f"\n== results: IW K={a.iw} on {n_test:,} test images, {a.threads} thread(s); "
          f"load average now {loadavg()}")
    print(f"  vaec eval:      {v:8.1f} s   max RSS {res['vaec_max_rss_mib']:6.0f} MiB   "
          f"log p(x) {runs['vaec'][-1]['iw_loglik']:.3f} ± {runs['vaec'][-1]['iw_stderr']:.3f}")
    print(f"  PyTorch:        {t:8.1f} s   max RSS {res['torch_max_rss_mib']:6.0f} MiB   "
          f"log p(x) {runs['torch'][-1]['iw_loglik']:.3f} ± {runs['torch'][-1]['iw_stderr']:.3f}   "
          f"(IW loop alone {ti:.1f} s)")
    print(f"  ratio vaec/torch (process wall times): {v / t:.3f}   (goal: at most 0.5); "
          f"against torch's IW loop alone: {v / ti:.3f}")
    path = os.path.join(a.out, "results.json")
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
    os.replace(path + ".tmp", path)
    print(f"  results: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"\neval_iw.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\neval_iw.py: interrupted", file=sys.stderr)
        sys.exit(130)
