#!/usr/bin/env python3
"""Independent checks of what `vaec eval` writes (experiments/README.md), with Python's
standard library only (no numpy: the .npy header is parsed here).

usage:
  eval_check.py files RUN            eval.json's keys and sums; eval_per_example.npy's
                                     header, size, mean and standard error
  eval_check.py printed OUT RUN      the figures vaec eval printed (OUT) equal eval.json's
  eval_check.py encoder RUN SLICE N  the posterior figures of eval.json against the encoder
                                     recomputed here from the checkpoint on SLICE's first
                                     N test images (the tiny models of eval.sh:
                                     h = relu(linear1(x)), location = linear2(h)
                                     [normalized on the sphere], concentration =
                                     softplus(linear3(h)) + 1)
Prints what is wrong and exits 1; exits 0 silently when all is well.
"""
import ast
import json
import math
import operator
import os
import re
import statistics
import struct
import sys

problems = []


def expect(cond, what):
    if not cond:
        problems.append(what)


def close(a, b, rel, floor=0.0):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + floor


TOP_KEYS = ["vaec_version", "model", "checkpoint", "epochs", "data", "iw_samples", "seed", "elbo", "recon",
            "kl", "log_likelihood", "log_likelihood_se", "gap", "active_units", "latents", "seconds",
            "per_example"]
DATA_KEYS = ["path", "sha256", "split", "examples", "binarized"]
LATENT_KEYS = ["name", "type", "q", "p", "kl_method", "kl", "active_units", "dims", "concentration", "df"]


def read_npy(path):
    """(descr, fortran_order, shape, raw data bytes) of a .npy file, format 1.0 or 2.0."""
    b = open(path, "rb").read()
    if b[:6] != b"\x93NUMPY":
        raise SystemExit(f"{path}: not a .npy file (magic {b[:6]!r})")
    major = b[6]
    if major == 1:
        n, start = struct.unpack("<H", b[8:10])[0], 10
    else:
        n, start = struct.unpack("<I", b[8:12])[0], 12
    header = ast.literal_eval(b[start:start + n].decode("latin1"))
    expect((start + n) % 64 == 0, f"{path}: the data start at byte {start + n}, not a multiple of 64")
    return header["descr"], header["fortran_order"], header["shape"], b[start + n:]


def check_files(run):
    text = open(os.path.join(run, "eval.json")).read()
    e = json.loads(text)
    expect(list(e.keys()) == TOP_KEYS, f"eval.json's keys {list(e.keys())} are not, in order, {TOP_KEYS}")
    expect(list(e["data"].keys()) == DATA_KEYS, f"data's keys {list(e['data'].keys())}")
    expect(text.startswith('{\n  "vaec_version"'), "eval.json is not indented by 2 spaces")
    expect(e["checkpoint"] in ("best", "last"), f"checkpoint {e['checkpoint']!r}")
    expect(isinstance(e["epochs"], int) and e["epochs"] >= 1, f"epochs {e['epochs']!r}")
    expect(re.fullmatch(r"[0-9a-f]{64}", e["data"]["sha256"]) is not None, f"data.sha256 {e['data']['sha256']!r}")
    expect(e["per_example"] == "eval_per_example.npy", f"per_example {e['per_example']!r}")

    descr, fortran, shape, data = read_npy(os.path.join(run, e["per_example"]))
    n = e["data"]["examples"]
    expect(descr == "<f8", f"the .npy's dtype is {descr!r}, not '<f8' (float64)")
    expect(fortran is False, "the .npy is in Fortran order")
    expect(shape == (n,), f"the .npy's shape is {shape}, not ({n},)")
    expect(len(data) == 8 * n, f"the .npy holds {len(data)} bytes of data, not 8 × {n}")
    if problems:
        return
    v = struct.unpack(f"<{n}d", data)
    expect(all(math.isfinite(x) for x in v), "a per-example log-likelihood is not finite")
    mean = math.fsum(v) / n
    se = statistics.stdev(v) / math.sqrt(n)
    expect(close(mean, e["log_likelihood"], 1e-9),
           f"the .npy's mean {mean!r} is not log_likelihood {e['log_likelihood']!r} (1e-9 relative)")
    expect(close(se, e["log_likelihood_se"], 1e-9),
           f"the .npy's sd/sqrt(N) {se!r} is not log_likelihood_se {e['log_likelihood_se']!r} (1e-9 relative)")
    expect(close(e["gap"], e["log_likelihood"] - e["elbo"], 1e-12, 1e-9),
           f"gap {e['gap']} is not log_likelihood − elbo = {e['log_likelihood'] - e['elbo']}")
    expect(close(e["elbo"], e["recon"] - e["kl"], 1e-9, 1e-9), f"elbo {e['elbo']} is not recon − kl")
    # log-likelihood ≥ ELBO in expectation (Burda et al. 2016, Theorem 1); a single
    # evaluation with K ≥ 10 is above it by far more than its noise here.
    expect(e["log_likelihood"] > e["elbo"], "log_likelihood is below the ELBO")
    lat = e["latents"]
    expect(len(lat) >= 1, "no latents")
    expect(sum(x["active_units"] for x in lat) == e["active_units"], "active_units is not the sum over the latents")
    expect(close(math.fsum(x["kl"] for x in lat), e["kl"], 1e-9, 1e-9), "kl is not the sum of the latents' kl")
    for x in lat:
        expect(list(x.keys()) == LATENT_KEYS, f"latent {x.get('name')}'s keys {list(x.keys())}")
        m = re.fullmatch(r"(real|sphere)\[(\d+)\]", x["type"])
        expect(m is not None and int(m.group(2)) == x["dims"], f"latent {x['name']}: type {x['type']}, dims {x['dims']}")
        expect(0 <= x["active_units"] <= x["dims"], f"latent {x['name']}: {x['active_units']} active of {x['dims']}")
        expect(x["kl_method"] in ("closed form", "entropy + Monte Carlo", "Monte Carlo"), f"kl_method {x['kl_method']!r}")
        c = x["concentration"]
        if m and m.group(1) == "sphere" and x["q"] in ("VonMisesFisher", "PowerSpherical"):
            expect(c is not None and 0 < c["min"] <= c["mean"] <= c["max"],
                   f"latent {x['name']}: concentration {c} is not 0 < min ≤ mean ≤ max")
        else:
            expect(c is None, f"latent {x['name']} ({x['q']}): concentration {c}, not null")


def check_printed(out, run):
    e = json.load(open(os.path.join(run, "eval.json")))
    text = open(out).read()
    m = re.search(r"log p\(x\), IW K=(\d+) +(-?[0-9.]+) ± ([0-9.]+)", text)
    expect(m is not None, f"{out}: no line 'log p(x), IW K=… X ± Y'")
    if m:
        expect(int(m.group(1)) == e["iw_samples"], f"printed K={m.group(1)}, eval.json {e['iw_samples']}")
        expect(m.group(2) == f"{e['log_likelihood']:.3f}", f"printed log p(x) {m.group(2)}, eval.json {e['log_likelihood']}")
        expect(m.group(3) == f"{e['log_likelihood_se']:.3f}", f"printed ± {m.group(3)}, eval.json {e['log_likelihood_se']}")
    for key, label in (("elbo", "ELBO"), ("kl", "KL")):
        m = re.search(rf"^  {label} +(-?[0-9.]+)", text, re.M)
        expect(m is not None and m.group(1) == f"{e[key]:.3f}", f"printed {label} {m and m.group(1)}, eval.json {e[key]}")


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        lo, hi = t["data_offsets"]
        vals = struct.unpack(f"<{(hi - lo) // 4}f", b[8 + n + lo:8 + n + hi])
        shape = t["shape"]
        if len(shape) == 2:  # [out, in] row-major, as torch.nn.Linear
            vals = [vals[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])]
        out[name] = vals
    return out


def check_encoder(run, slice_dir, count):
    e = json.load(open(os.path.join(run, "eval.json")))
    w = read_safetensors(os.path.join(run, "checkpoint.safetensors"))
    raw = open(os.path.join(slice_dir, "t10k-images-idx3-ubyte"), "rb").read()
    n_images, rows, cols = struct.unpack(">III", raw[4:16])
    width = rows * cols
    expect(count <= n_images and e["data"]["examples"] == count, f"{count} examples, eval.json {e['data']['examples']}")
    lat = e["latents"][0]
    sphere = lat["type"].startswith("sphere")
    W1, b1 = w["q(z | x).linear1.weight"], w["q(z | x).linear1.bias"]
    W2, b2 = w["q(z | x).linear2.weight"], w["q(z | x).linear2.bias"]
    locations, kappas = [], []
    for j in range(count):
        x = [p / 255.0 for p in raw[16 + j * width:16 + (j + 1) * width]]
        h = [max(0.0, math.fsum(map(operator.mul, W1[r], x)) + b1[r]) for r in range(len(b1))]
        loc = [math.fsum(map(operator.mul, W2[r], h)) + b2[r] for r in range(len(b2))]
        if sphere:
            norm = math.sqrt(math.fsum(v * v for v in loc))
            loc = [v / norm for v in loc]
            a = math.fsum(map(operator.mul, w["q(z | x).linear3.weight"][0], h)) + w["q(z | x).linear3.bias"][0]
            kappas.append(max(a, 0.0) + math.log1p(math.exp(-abs(a))) + 1)
        locations.append(loc)
    variances = [statistics.variance([loc[u] for loc in locations]) for u in range(len(locations[0]))]
    near = [v for v in variances if abs(v - 0.01) < 1e-4]
    expect(not near, f"a variance {near} is too near the threshold 0.01 for this check to decide")
    active = sum(v > 0.01 for v in variances)
    expect(active == lat["active_units"],
           f"active units: {active} recomputed here (Cov_x(E_q[z_u]) = {variances}), eval.json {lat['active_units']}")
    if sphere:
        c = lat["concentration"]
        mine = {"mean": math.fsum(kappas) / len(kappas), "min": min(kappas), "max": max(kappas)}
        for k in ("mean", "min", "max"):
            # vaec computes in float32; this is double
            expect(close(c[k], mine[k], 1e-4), f"concentration {k}: {mine[k]} recomputed here, eval.json {c[k]}")


def main():
    what = sys.argv[1]
    if what == "files":
        check_files(sys.argv[2])
    elif what == "printed":
        check_printed(sys.argv[2], sys.argv[3])
    elif what == "encoder":
        check_encoder(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"eval_check.py: unknown check {what!r}")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
