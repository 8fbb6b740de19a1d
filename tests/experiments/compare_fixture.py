#!/usr/bin/env python3
"""A fake `vaec compare` folder with known numbers, and independent checks of the tables,
differences and report written from it (python3's standard library only).

  compare_fixture.py make DIR          write DIR/compare.json and DIR/runs/*/ (eval.json,
                                       eval_per_example.npy, metrics.csv, summary.json, a PNG)
  compare_fixture.py CHECK DIR         run one check; exit 0 when it holds, 1 with a message
CHECK: results, table, bold, notes, differences, self, refused, differences_table, tex, html

The fixture: models gaussian (the baseline), vmf and gaussian_again (the same per-example
numbers as gaussian: its paired difference is exactly 0 with SE 0), grid d in {2, 5},
seeds 1 and 2: 12 cells. vmf at d = 5 with seed 2 failed; vmf at d = 2 with seed 2 was
evaluated on other data (another sha256), so that pairing is refused. Every expected
value below is computed here from the fixture's own numbers, never from vaec's output.
"""
import csv
import json
import math
import os
import random
import re
import struct
import sys
import zlib

MODELS = ["gaussian", "vmf", "gaussian_again"]
BASELINE = "gaussian"
DS = ["2", "5"]
SEEDS = [1, 2]
N = 40
SHA = "ab" * 32
OTHER_SHA = "cd" * 32
FAILED = ("vmf", "5", 2)
REASON = "NaN in the ELBO at epoch 3 (kl = −inf); lower the learning rate, e.g. --set lr=1e-4"
OTHER_DATA = ("vmf", "2", 2)
# Mean LL offsets (nats): vmf best at d = 2, the two Gaussians (a tie) best at d = 5.
LL_OFFSET = {("gaussian", "2"): -250.0, ("vmf", "2"): -246.5, ("gaussian", "5"): -240.0, ("vmf", "5"): -243.25}
# ELBO minus LL: vmf has the larger gap, so the Gaussians' ELBO is best everywhere.
GAP = {"gaussian": 3.0, "vmf": 8.0}


def cell_id(m, d, s):
    return "%s-d=%s-seed%d" % (m, d, s)


def per_example(m, d, s):
    """The IW log-likelihood of each of N examples (gaussian_again: gaussian's)."""
    base = "gaussian" if m == "gaussian_again" else m
    rng = random.Random("%s|%s|%d" % (base, d, s))
    return [LL_OFFSET[(base, d)] + 0.37 * s + rng.gauss(0, 3) for _ in range(N)]


def mean(v):
    return sum(v) / len(v)


def sample_sd(v):
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def eval_of(m, d, s):
    ll = per_example(m, d, s)
    base = "gaussian" if m == "gaussian_again" else m
    rng = random.Random("eval|%s|%s|%d" % (base, d, s))
    lm = mean(ll)
    elbo = lm - GAP[base] - rng.random()
    kl = 10 + int(d) + rng.random()
    sphere = base == "vmf"
    kappa = {"mean": 40 + rng.random(), "min": 2 + rng.random(), "max": 190 + rng.random()} if sphere else None
    return {
        "vaec_version": "0.4.0",
        "model": m,
        "checkpoint": "last",
        "epochs": 4,
        "data": {"path": "fixture-data", "sha256": OTHER_SHA if (m, d, s) == OTHER_DATA else SHA,
                 "split": "test", "examples": N, "binarized": True},
        "iw_samples": 500,
        "seed": s,
        "elbo": elbo, "recon": elbo - kl, "kl": kl,
        "log_likelihood": lm,
        "log_likelihood_se": sample_sd(ll) / math.sqrt(N),
        "gap": lm - elbo,
        "active_units": int(d) - 1,
        "latents": [{"name": "z", "type": ("sphere[%d]" if sphere else "real[%d]") % (int(d) + sphere),
                     "q": "VonMisesFisher" if sphere else "Normal",
                     "p": "HypersphericalUniform" if sphere else "Normal",
                     "kl_method": "closed form", "kl": kl, "active_units": int(d) - 1, "dims": int(d),
                     "concentration": kappa, "df": None}],
        "seconds": 1.5,
        "per_example": "eval_per_example.npy",
    }


def write_npy(path, values):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dd" % len(values), *values))


def write_png(path, w, h, seed):
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(w)) for _ in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def cells():
    for m in MODELS:
        for d in DS:
            for s in SEEDS:
                yield m, d, s


def make(root):
    os.makedirs(os.path.join(root, "runs"))
    out = []
    for m, d, s in cells():
        cid = cell_id(m, d, s)
        folder = os.path.join(root, "runs", cid)
        os.makedirs(folder)
        failed = (m, d, s) == FAILED
        epochs = 2 if failed else 4
        rng = random.Random("curve|" + cid)
        with open(os.path.join(folder, "metrics.csv"), "w") as f:
            f.write("epoch,train_elbo,train_recon,train_kl,train_kl_z,test_elbo,test_recon,test_kl,valid_elbo,beta\n")
            for e in range(1, epochs + 1):
                te = -300 + 40 * (1 - 0.5 ** e) + rng.random() + (5 if m == "vmf" else 0)
                f.write("%d,%r,%r,%r,%r,%r,%r,%r,,1\n" % (e, te + 1, te - 9, 10.0, 10.0, te, te - 10, 10.0))
        json.dump({"model": m, "versions": {"vaec": "0.4.0", "blas": "OpenBLAS (OpenMP)", "compiler": "fixture"}},
                  open(os.path.join(folder, "summary.json"), "w"), indent=2)
        write_png(os.path.join(folder, "samples.png"), 56, 56, cid)
        if not failed:
            json.dump(eval_of(m, d, s), open(os.path.join(folder, "eval.json"), "w"), indent=2, ensure_ascii=False)
            write_npy(os.path.join(folder, "eval_per_example.npy"), per_example(m, d, s))
            write_png(os.path.join(folder, "reconstructions.png"), 56, 28, cid + "r")
        out.append({"id": cid, "folder": "runs/" + cid, "model": m, "grid": {"d": d}, "seed": s,
                    "status": "failed" if failed else "done", "reason": REASON if failed else None,
                    "seconds": 10.25 + len(out)})
    compare = {
        "vaec_version": "0.4.0",
        "command": ["vaec", "compare"] + ["examples/%s.vae" % m for m in MODELS] +
                   ["--data", "fixture-data", "--grid", "d=2,5", "--seeds", "2", "--out", root],
        "data": {"path": "fixture-data", "sha256": SHA},
        "models": [{"path": "examples/%s.vae" % m, "label": m, "sha256": "ef" * 32} for m in MODELS],
        "baseline": BASELINE,
        "grid": [{"name": "d", "values": DS}],
        "seeds": SEEDS,
        "sets": {"epochs": "4"},
        "iw_samples": 500,
        "jobs": 2, "threads": 1,
        "cells": out,
    }
    json.dump(compare, open(os.path.join(root, "compare.json"), "w"), indent=2, ensure_ascii=False)


# ---- checks ------------------------------------------------------------------------------

class Fail(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def done_evals(m, d):
    return [eval_of(m, d, s) for s in SEEDS if (m, d, s) != FAILED]


def mean_pm(values, decimals):
    text = "%.*f" % (decimals, mean(values))
    if len(values) >= 2:
        text += " ± %.*f" % (decimals, sample_sd(values))
    return text


def md_tables(root):
    """The Markdown tables of table.md: a list of (header, rows), cells stripped."""
    tables, cur = [], None
    for line in open(os.path.join(root, "table.md"), encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            cells = [c.strip(" |") for c in cells]
            if cur is None:
                cur = (cells, [])
                tables.append(cur)
            elif not set(line) <= set("|-: "):
                cur[1].append(cells)
        else:
            cur = None
    return tables


def check_results(root):
    rows = list(csv.reader(open(os.path.join(root, "results.csv"), encoding="utf-8", newline="")))
    want_header = ("model,d,seed,status,log_likelihood,log_likelihood_se,elbo,recon,kl,gap,active_units,"
                   "concentration_mean,concentration_min,concentration_max,df,epochs,seconds,folder,reason").split(",")
    expect(rows[0] == want_header, "header %r" % rows[0])
    expect(len(rows) == 13, "%d rows, 12 expected" % (len(rows) - 1))
    for k, ((m, d, s), row) in enumerate(zip(cells(), rows[1:])):
        r = dict(zip(want_header, row))
        expect((r["model"], r["d"], r["seed"]) == (m, d, str(s)), "row %d is %r" % (k, row[:3]))
        expect(r["folder"] == "runs/" + cell_id(m, d, s), "folder " + r["folder"])
        expect(float(r["seconds"]) == 10.25 + k, "seconds " + r["seconds"])
        if (m, d, s) == FAILED:
            expect(r["status"] == "failed" and r["reason"] == REASON, "failed cell: %r %r" % (r["status"], r["reason"]))
            expect(all(r[c] == "" for c in want_header[4:16]), "failed cell has numbers: %r" % row)
            continue
        e = eval_of(m, d, s)
        expect(r["status"] == "done" and r["reason"] == "", "status %r reason %r" % (r["status"], r["reason"]))
        for c in ["log_likelihood", "log_likelihood_se", "elbo", "recon", "kl", "gap"]:
            expect(float(r[c]) == e[c], "%s %s: %s, eval.json has %r" % (cell_id(m, d, s), c, r[c], e[c]))
            digits = len(re.sub(r"[-.]|e.*", "", r[c]).lstrip("0"))
            expect(digits <= 17, "%s has %d significant digits" % (r[c], digits))
        expect(r["active_units"] == str(e["active_units"]), "active_units " + r["active_units"])
        expect(r["epochs"] == "4", "epochs " + r["epochs"])
        kappa = e["latents"][0]["concentration"]
        for c in ["mean", "min", "max"]:
            got = r["concentration_" + c]
            expect((got == "") if kappa is None else float(got) == kappa[c], "concentration_%s %r" % (c, got))
        expect(r["df"] == "", "df " + r["df"])


def check_table(root):
    tables = md_tables(root)
    expect(len(tables) == 2, "%d tables in table.md, 2 expected" % len(tables))
    header, rows = tables[0]
    expect(header == ["d", "model", "LL", "L[q]", "RE", "KL"], "header %r" % header)
    expect(len(rows) == 6, "%d rows" % len(rows))
    for (d, m), row in zip([(d, m) for d in DS for m in MODELS], rows):
        expect(row[0] == d and row[1].replace("\\_", "_").rstrip(" †") == m, "row %r for %s %s" % (row[:2], d, m))
        ev = done_evals(m, d)
        for col, key in zip(row[2:], ["log_likelihood", "elbo", "recon", "kl"]):
            want = mean_pm([e[key] for e in ev], 2)
            expect(col.strip("*") == want, "%s d=%s %s: %r, expected %r" % (m, d, key, col, want))


def check_bold(root):
    _, rows = md_tables(root)[0]
    for i, d in enumerate(DS):
        for col, key in [(2, "log_likelihood"), (3, "elbo")]:
            means = {m: mean([e[key] for e in done_evals(m, d)]) for m in MODELS}
            best = max(means.values())
            for j, m in enumerate(MODELS):
                cell = rows[i * len(MODELS) + j][col]
                bold = cell.startswith("**") and cell.endswith("**")
                expect(bold == (means[m] == best), "d=%s %s %s: %r (best %r)" % (d, m, key, cell, best))
    # The fixture's design: vmf has the best LL at d = 2; the two Gaussians tie at d = 5.
    expect(rows[1][2].startswith("**") and rows[3][2].startswith("**") and rows[5][2].startswith("**"),
           "bold LL cells are not vmf at d=2 and both Gaussians at d=5")


def check_notes(root):
    text = open(os.path.join(root, "table.md"), encoding="utf-8").read()
    _, rows = md_tables(root)[0]
    expect(rows[4][1].endswith("†"), "the vmf row at d = 5 lacks its dagger: %r" % rows[4][1])
    expect(sum(r[1].endswith("†") for r in rows) == 1, "daggers on rows: %r" % [r[1] for r in rows])
    want = "- † vmf, d = 5, seed 2: failed: " + REASON.replace("_", "\\_")
    expect(want in text, "no note %r" % want)
    caption = text.splitlines()[0]
    for part in ["K = 500", "fixture-data", "40 examples, binarized once with each seed", "4 epochs",
                 "2 seeds (1 and 2)"]:
        expect(part in caption, "the caption lacks %r: %s" % (part, caption))


def differences():
    """(model, d, seed) -> (mean d, paired SE) for every pairable seed."""
    out = {}
    for m in MODELS:
        if m == BASELINE:
            continue
        for d in DS:
            for s in SEEDS:
                if (m, d, s) in (FAILED, OTHER_DATA):
                    continue
                a, b = per_example(m, d, s), per_example(BASELINE, d, s)
                diff = [x - y for x, y in zip(a, b)]
                out[(m, d, s)] = (mean(diff), sample_sd(diff) / math.sqrt(len(diff)))
    return out


def read_differences(root):
    rows = list(csv.DictReader(open(os.path.join(root, "differences.csv"), encoding="utf-8", newline="")))
    return {(r["model"], r["d"], r["seed"]): r for r in rows}, rows


def check_differences(root):
    got, rows = read_differences(root)
    expect(len(rows) == 2 * 2 * 3, "%d rows in differences.csv, 12 expected" % len(rows))
    for (m, d, s), (md, se) in differences().items():
        r = got[(m, d, str(s))]
        expect(r["baseline"] == BASELINE and r["examples"] == str(N), "row %r" % r)
        expect(abs(float(r["mean_difference"]) - md) <= 1e-12 * max(1, abs(md)),
               "%s d=%s seed %d: mean %s, expected %r" % (m, d, s, r["mean_difference"], md))
        expect(abs(float(r["paired_se"]) - se) <= 1e-12 * max(1, se),
               "%s d=%s seed %d: SE %s, expected %r" % (m, d, s, r["paired_se"], se))
    for m in MODELS[1:]:
        for d in DS:
            means = [v[0] for (mm, dd, s), v in differences().items() if (mm, dd) == (m, d)]
            r = got[(m, d, "all")]
            expect(r["seeds_paired"] == str(len(means)), "%s d=%s: %s seeds paired" % (m, d, r["seeds_paired"]))
            expect(abs(float(r["mean_difference"]) - mean(means)) <= 1e-12 * max(1, abs(mean(means))),
                   "%s d=%s over seeds: %s, expected %r" % (m, d, r["mean_difference"], mean(means)))
            if len(means) >= 2:
                expect(abs(float(r["sd_over_seeds"]) - sample_sd(means)) <= 1e-10,
                       "%s d=%s sd over seeds %s, expected %r" % (m, d, r["sd_over_seeds"], sample_sd(means)))
            else:
                expect(r["sd_over_seeds"] == "", "one seed, yet sd %r" % r["sd_over_seeds"])
    failed = got[("vmf", "5", "2")]
    expect(failed["mean_difference"] == "" and "failed" in failed["note"], "failed seed row %r" % failed)


def check_self(root):
    got, _ = read_differences(root)
    for d in DS:
        for s in SEEDS:
            r = got[("gaussian_again", d, str(s))]
            expect(r["mean_difference"] == "0" and r["paired_se"] == "0",
                   "gaussian_again − gaussian at d=%s seed %d: %s ± %s, expected exactly 0 ± 0"
                   % (d, s, r["mean_difference"], r["paired_se"]))
        r = got[("gaussian_again", d, "all")]
        expect(r["mean_difference"] == "0" and r["sd_over_seeds"] == "0", "over seeds %r" % r)


def check_refused(root):
    got, _ = read_differences(root)
    r = got[("vmf", "2", "2")]
    expect(r["mean_difference"] == "" and "different data" in r["note"] and "cdcdcdcdcdcd" in r["note"],
           "the pairing on other data was not refused clearly: %r" % r)
    text = open(os.path.join(root, "table.md"), encoding="utf-8").read()
    expect("vmf, d = 2, seed 2: not paired: the two cells evaluated different data" in text, "no note in table.md")


def check_differences_table(root):
    header, rows = md_tables(root)[1]
    expect(header == ["d", "model − gaussian", "N", "ΔLL ± sd", "per seed: mean(δ) ± SE"], "header %r" % header)
    diffs = differences()
    expect(len(rows) == 4, "%d rows" % len(rows))
    for (d, m), row in zip([(d, m) for d in DS for m in MODELS[1:]], rows):
        means = [diffs[(m, d, s)][0] for s in SEEDS if (m, d, s) in diffs]
        expect(row[3] == mean_pm(means, 3), "%s d=%s: %r, expected %r" % (m, d, row[3], mean_pm(means, 3)))
        per_seed = "; ".join("s%d: %.3f ± %.3f" % (s, diffs[(m, d, s)][0], diffs[(m, d, s)][1])
                             for s in SEEDS if (m, d, s) in diffs)
        expect(row[4] == per_seed, "%s d=%s per seed %r, expected %r" % (m, d, row[4], per_seed))
        expect(row[2] == str(N), "N %r" % row[2])


def check_tex(root):
    text = open(os.path.join(root, "table.tex"), encoding="utf-8").read()
    expect(text.isascii(), "table.tex holds non-ASCII characters")
    tabulars = re.findall(r"\\begin\{tabular\}\{([lr]+)\}(.*?)\\end\{tabular\}", text, re.S)
    expect(len(tabulars) == 2, "%d tabulars" % len(tabulars))
    for spec, body in tabulars:
        expect(body.count("\\toprule") == 1 and body.count("\\bottomrule") == 1, "booktabs rules")
        for line in body.strip().splitlines():
            if line.endswith("\\\\"):
                amps = len(re.findall(r"(?<!\\)&", line))
                expect(amps == len(spec) - 1, "%d columns in %r, %d declared" % (amps + 1, line, len(spec)))
    expect("$\\mathcal{L}[q]$" in text, "no L[q] heading")
    body = tabulars[0][1]
    rows = [l for l in body.splitlines() if l.endswith("\\\\")][1:]
    bold = [("\\boldmath" in r.split("&")[2], "\\boldmath" in r.split("&")[3]) for r in rows]
    _, md_rows = md_tables(root)[0]
    want = [(r[2].startswith("**"), r[3].startswith("**")) for r in md_rows]
    expect(bold == want, "bold in table.tex %r, in table.md %r" % (bold, want))
    expect("gaussian\\_again" in text, "labels not escaped")


def check_html(root):
    html = open(os.path.join(root, "report.html"), encoding="utf-8").read()
    expect("http:" not in html and "https:" not in html, "report.html refers to the network")
    srcs = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"' >]*)""", html)
    expect(srcs and all(s.startswith("data:") for s in srcs), "a src/href that is not a data: URI: %r"
           % [s for s in srcs if not s.startswith("data:")][:3])
    expect(not re.search(r"<link|<script|@import|url\(", html), "external CSS, a script or a url()")
    imgs = len(re.findall(r"<img ", html))
    want = 2 + 12 + 11  # ll_vs_d, curves; samples.png of every cell; reconstructions of the done ones
    expect(imgs == want, "%d images embedded, %d expected" % (imgs, want))
    expect(REASON.replace("−", "−") in html or "lower the learning rate" in html, "the failed cell's reason is missing")
    for part in ["vaec compare examples/gaussian.vae", "Is the difference real?", "<strong>"]:
        expect(part in html, "report.html lacks %r" % part)


CHECKS = {"results": check_results, "table": check_table, "bold": check_bold, "notes": check_notes,
          "differences": check_differences, "self": check_self, "refused": check_refused,
          "differences_table": check_differences_table, "tex": check_tex, "html": check_html}


def main(argv):
    if len(argv) == 3 and argv[1] == "make":
        make(argv[2])
        return 0
    if len(argv) == 3 and argv[1] in CHECKS:
        try:
            CHECKS[argv[1]](argv[2])
        except Fail as e:
            print(e)
            return 1
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
