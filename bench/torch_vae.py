#!/usr/bin/python3
"""The benchmark model of bench/models/bench_gaussian.vae, in PyTorch, configured at its best.

Gaussian VAE on Fashion-MNIST grey levels: MLP encoder 784-512-256 (ReLU) to a diagonal
Gaussian posterior (loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4), N(0, I)
prior, decoder 20-256-512 (ReLU) to 784 Bernoulli logits on the grey levels in [0, 1] (no
binarization), closed-form KL, one sample per example, loss = -ELBO averaged over the batch,
batch 128 with the last partial batch kept, shuffled each epoch, Adam lr 1e-3, float32.

Run it with Debian's python3-torch and OpenBLAS's OpenMP variant as its BLAS:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \\
        /usr/bin/python3 bench/torch_vae.py --epochs 10 --threads 2

(bench/compare.py does this for you.) Each epoch prints one line; the training loop alone is
timed (the test evaluation is excluded). The last line is `RESULT {json}` for the driver.
"""

import argparse
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blasinfo import blas_in_maps, describe_blas

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx_images(path):
    """IDX3 unsigned-byte images (optionally gzipped) as an (N, rows*cols) uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic != 0x00000803:
        raise SystemExit(f"torch_vae.py: {path}: not an IDX3 unsigned-byte file (magic {magic:#010x})")
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    data = np.frombuffer(raw, dtype=np.uint8, offset=16)
    if data.size != n * rows * cols:
        raise SystemExit(f"torch_vae.py: {path}: expected {n * rows * cols} pixels, found {data.size}")
    return data.reshape(n, rows * cols)


def load_split(data_dir, prefix):
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return torch.from_numpy(read_idx_images(path).astype(np.float32) / 255.0)
    raise SystemExit(f"torch_vae.py: no {prefix}-images-idx3-ubyte[.gz] in {data_dir}")






class VAE(nn.Module):
    def __init__(self, data=784, hidden=(512, 256), latent=20):
        super().__init__()
        h1, h2 = hidden
        self.enc1 = nn.Linear(data, h1)
        self.enc2 = nn.Linear(h1, h2)
        self.loc = nn.Linear(h2, latent)
        self.scale = nn.Linear(h2, latent)
        self.dec1 = nn.Linear(latent, h2)
        self.dec2 = nn.Linear(h2, h1)
        self.dec3 = nn.Linear(h1, data)

    def encode(self, x):
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        return self.loc(h), F.softplus(self.scale(h)) + 1e-4

    def decode(self, z):
        return self.dec3(F.relu(self.dec2(F.relu(self.dec1(z)))))

    def elbo(self, x):
        """Per-example ELBO with one reparameterized sample: (elbo, recon, kl), each of shape (B,)."""
        loc, scale = self.encode(x)
        z = loc + scale * torch.randn_like(loc)
        logits = self.decode(z)
        recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = (0.5 * (loc * loc + scale * scale - 1.0) - torch.log(scale)).sum(1)
        return recon - kl, recon, kl

    @torch.no_grad()
    def iw_loglik(self, x, k):
        """Importance-weighted log-likelihood with k samples per example, shape (B,)."""
        loc, scale = self.encode(x)  # (B, L)
        eps = torch.randn(k, *loc.shape, dtype=loc.dtype)  # (K, B, L)
        z = loc + scale * eps
        logits = self.decode(z.reshape(-1, z.shape[-1])).reshape(k, x.shape[0], -1)
        log_px = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        log_pz = (-0.5 * z * z - half_log_2pi).sum(-1)
        log_qz = (-0.5 * eps * eps - torch.log(scale) - half_log_2pi).sum(-1)
        return torch.logsumexp(log_px + log_pz - log_qz, dim=0) - math.log(k)


@torch.no_grad()
def test_elbo(model, x, batch=1000):
    e = r = k = 0.0
    for i in range(0, x.shape[0], batch):
        el, rc, kl = model.elbo(x[i:i + batch])
        e += el.double().sum().item()
        r += rc.double().sum().item()
        k += kl.double().sum().item()
    n = x.shape[0]
    return e / n, r / n, k / n


def denormals_flushed_on_all_threads():
    """True if a parallel elementwise op flushes denormal inputs on every OpenMP thread.

    torch.set_flush_denormal sets FTZ/DAZ on the calling thread; threads created afterwards
    (the OpenMP pool, which OpenBLAS's OpenMP variant shares) inherit it from the creating
    thread. A denormal times 1 is 0 under DAZ; the tensor is large enough to be split over
    all threads, so one non-flushing thread leaves non-zero bits."""
    x = torch.full((1 << 20,), 1e-39, dtype=torch.float32)  # a float32 denormal
    y = x * 1.0
    return bool((y.view(torch.int32) == 0).all().item())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iw", type=int, default=500, help="K for the importance-weighted log-likelihood (0: skip)")
    ap.add_argument("--data", default=DATA_DIR, help="folder with the Fashion-MNIST IDX files")
    ap.add_argument("--no-flush-denormal", action="store_true", help="leave denormals on (to measure their cost)")
    a = ap.parse_args()

    # Before any parallel op, so that the OpenMP pool inherits FTZ/DAZ from this thread.
    flush = not a.no_flush_denormal and torch.set_flush_denormal(True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    # Touch the BLAS once so that it is certainly mapped, then say which one it is.
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    libs = blas_in_maps("self")
    blas = describe_blas(libs)
    flushed_all = denormals_flushed_on_all_threads()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"flush denormals: {flush} (all threads: {flushed_all})")
    print(f"BLAS: {blas}")
    print("mapped: " + ", ".join(libs))
    sys.stdout.flush()

    train_x = load_split(a.data, "train")
    test_x = load_split(a.data, "t10k")
    n = train_x.shape[0]
    print(f"data: {n} train / {test_x.shape[0]} test examples of width {train_x.shape[1]}")

    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    epochs = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, n, a.batch):  # the last partial batch is kept
            x = train_x[perm[i:i + a.batch]]
            elbo, _, _ = model.elbo(x)
            loss = -elbo.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total -= loss.item() * x.shape[0]
        seconds = time.perf_counter() - t0
        model.eval()
        te, tr, tk = test_elbo(model, test_x)
        epochs.append({"epoch": epoch, "seconds": seconds, "train_elbo": total / n, "test_elbo": te,
                       "test_recon": tr, "test_kl": tk})
        print(f"epoch {epoch:3d}  train ELBO {total / n:9.3f}  test ELBO {te:9.3f}  (recon {tr:9.3f}, KL {tk:7.3f})  "
              f"{seconds:6.2f} s  {n / seconds:8.0f} ex/s", flush=True)

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas, "blas_libs": libs,
              "flush_denormal": bool(flush), "flush_denormal_all_threads": flushed_all, "epochs": epochs,
              "median_epoch_seconds": statistics.median(e["seconds"] for e in epochs),
              "test_elbo": epochs[-1]["test_elbo"],
              # Peak RSS of training (with the per-epoch test evaluations), before the IW evaluation.
              "max_rss_kib_training": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    if a.iw > 0:
        t0 = time.perf_counter()
        torch.manual_seed(a.seed + 1)
        per = max(1, 16384 // a.iw)
        s = s2 = 0.0
        for i in range(0, test_x.shape[0], per):
            v = model.iw_loglik(test_x[i:i + per], a.iw).double()
            s += v.sum().item()
            s2 += (v * v).sum().item()
        N = test_x.shape[0]
        mean = s / N
        var = max(0.0, s2 / N - mean * mean) * N / max(1, N - 1)
        result.update({"iw_k": a.iw, "iw_loglik": mean, "iw_stderr": math.sqrt(var / N)})
        print(f"log p(x), IW K={a.iw}: {mean:.3f} ± {math.sqrt(var / N):.3f} (standard error over examples; "
              f"{time.perf_counter() - t0:.1f} s)")
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
