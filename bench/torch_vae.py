#!/usr/bin/python3
"""The PyTorch side of bench/: the benchmark Gaussian VAE, and the S-VAE study's two models.

--arch bench (the default): the model of bench/models/bench_gaussian.vae, configured at its
best. Gaussian VAE on Fashion-MNIST grey levels: MLP encoder 784-512-256 (ReLU) to a diagonal
Gaussian posterior (loc = linear(h, 20), scale = softplus(linear(h, 20)) + 1e-4), N(0, I)
prior, decoder 20-256-512 (ReLU) to 784 Bernoulli logits on the grey levels in [0, 1] (no
binarization), closed-form KL, one sample per example, loss = -ELBO averaged over the batch,
batch 128 with the last partial batch kept, shuffled each epoch, Adam lr 1e-3, float32.

--arch svae --family normal|vmf --d D: the hyperspherical-VAE study (Davidson et al. 2018,
"Hyperspherical Variational Auto-Encoders"; examples/hyperspherical/{gaussian,vmf}.vae), as
in s-vae-pytorch's examples/mnist.py: encoder 784-256-128 (ReLU), decoder D'-128-256-784
(ReLU) to Bernoulli logits, dynamic binarization (x <- [u < x] per batch; the test set
binarized once with the run's seed), batch 64 (last partial batch kept), Adam lr 1e-3,
20 epochs. normal: z in R^D, q = N(loc = linear(h, D), scale = softplus(linear(h, D)) + 1e-4),
p = N(0, I), closed-form KL. vmf: z on the unit sphere of R^(D+1) (S^D, the paper's d),
q = vMF(mean = normalize(linear(h, D+1)), concentration = softplus(linear(h, 1)) + 1),
p = uniform on the sphere, closed-form KL; the sampler is Wood's (1994) rejection sampler
for w = mu'z with the reparameterization gradient through the accepted proposal (the
S-VAE paper's g_rep, without its rejection correction g_cor, as s-vae-pytorch does), the
exact inverse-CDF draw of w on S^2, a uniform tangent direction and a Householder
reflection. Needs python3-scipy (scipy.special.ive) for the vMF normalizer, as
s-vae-pytorch does.

Run it with Debian's python3-torch and OpenBLAS's OpenMP variant as its BLAS:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \\
        /usr/bin/python3 bench/torch_vae.py --epochs 10 --threads 2
    ... /usr/bin/python3 bench/torch_vae.py --arch svae --family vmf --d 10 --threads 1

(bench/compare.py, svae_grid.py and eval_iw.py do this for you.) Each epoch prints one
line; the training loop alone is timed (the test evaluation is excluded). After training,
the importance-weighted log-likelihood with --iw K samples (0: none) on the test set. The
last line is `RESULT {json}` for the drivers.
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






def bernoulli_log_prob_sum(logits, x):
    """sum_i log Bernoulli(x_i; logits_i) = sum_i (x_i l_i - softplus(l_i)) over the last axis, for
    logits (K, B, D) and x (B, D) in [0, 1]; returns (K, B). The same value as
    -binary_cross_entropy_with_logits(...).sum(-1) in two passes over the logits instead of its
    five (measured 1.3-2.3x faster on K x B x 784 chunks): the IW evaluation's likelihood."""
    return (logits * x).sum(-1) - F.softplus(logits).sum(-1)


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
        log_px = bernoulli_log_prob_sum(logits, x)
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        log_pz = (-0.5 * z * z - half_log_2pi).sum(-1)
        log_qz = (-0.5 * eps * eps - torch.log(scale) - half_log_2pi).sum(-1)
        return torch.logsumexp(log_px + log_pz - log_qz, dim=0) - math.log(k)




# ---------------------------------------------------------------------------------------------
# The S-VAE study's models (--arch svae). The von Mises-Fisher parts follow s-vae-pytorch
# (nicola-decao/s-vae-pytorch, hyperspherical_vae/distributions/von_mises_fisher.py,
# hyperspherical_uniform.py and ops/ive.py), rewritten here; the formulas are those of
# Davidson et al. 2018 (Appendix A and Algorithm 1-2) and Wood 1994.

class _Ive(torch.autograd.Function):
    """ive(v, kappa) = I_v(kappa) exp(-kappa), the exponentially scaled modified Bessel function of
    the first kind, elementwise for kappa > 0 (any shape) and a real order v; computed in float64 by
    scipy.special.ive (as s-vae-pytorch's ops/ive.py) and returned in kappa's dtype. Gradient in
    kappa: ive(v - 1, k) - ive(v, k) (v + k) / k (from I_v' = I_{v-1} - (v/k) I_v, DLMF 10.29.2)."""

    @staticmethod
    def forward(ctx, kappa, v):
        import scipy.special
        k = kappa.detach().double().numpy()
        ctx.v = v
        ctx.save_for_backward(kappa)
        return torch.from_numpy(np.asarray(scipy.special.ive(v, k))).to(kappa.dtype)

    @staticmethod
    def backward(ctx, grad):
        import scipy.special
        (kappa,) = ctx.saved_tensors
        k = kappa.detach().double().numpy()
        v = ctx.v
        d = scipy.special.ive(v - 1, k) - scipy.special.ive(v, k) * (v + k) / k
        return grad * torch.from_numpy(np.asarray(d)).to(grad.dtype), None


def ive(v, kappa):
    return _Ive.apply(kappa, v)


def log_sphere_surface(m):
    """log |S^(m-1)| = log 2 + (m/2) log pi - lgamma(m/2): the log surface area of the unit sphere
    in R^m, so that the uniform density on it is -log |S^(m-1)| (a Python float)."""
    return math.log(2) + (m / 2) * math.log(math.pi) - math.lgamma(m / 2)


def log_vmf_normalizer(kappa, m):
    """log C_m(kappa) = (m/2 - 1) log kappa - (m/2) log(2 pi) - log I_{m/2-1}(kappa), the vMF density's
    normalizing constant on S^(m-1) w.r.t. the surface measure (Davidson et al. 2018, eq. 2), for
    kappa > 0 of any shape (float64 recommended), through ive: log I_v(k) = k + log ive(v, k)."""
    return (m / 2 - 1) * torch.log(kappa) - (m / 2) * math.log(2 * math.pi) - (kappa + torch.log(ive(m / 2 - 1, kappa)))


def bessel_ratio(kappa, m):
    """A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa) = E[mu'z] under vMF(mu, kappa) on S^(m-1)."""
    return ive(m / 2, kappa) / ive(m / 2 - 1, kappa)


def kl_vmf_uniform(kappa, m):
    """KL(vMF(mu, kappa) || uniform on S^(m-1)) = kappa A_m(kappa) + log C_m(kappa) + log |S^(m-1)|
    (Davidson et al. 2018, Appendix B; s-vae-pytorch's -entropy + log surface), same shape as kappa.
    In nats; >= 0; independent of mu."""
    return kappa * bessel_ratio(kappa, m) + log_vmf_normalizer(kappa, m) + log_sphere_surface(m)


def vmf_log_prob(z, mu, kappa):
    """log vMF(z; mu, kappa) = kappa mu'z + log C_m(kappa) for unit z, mu of shape (..., m) and kappa
    of shape (..., 1) broadcasting with them; returns shape (...)."""
    m = mu.shape[-1]
    return (kappa * (mu * z).sum(-1, keepdim=True) + log_vmf_normalizer(kappa, m)).squeeze(-1)


def sample_vmf_w(kappa, m, shape):
    """w = mu'z for z ~ vMF(mu, kappa) on S^(m-1), m >= 3, shape `shape` (kappa, float64 of shape
    (..., 1), broadcast to it), reparameterized: the gradient in kappa flows through the accepted
    proposal only (s-vae-pytorch's choice; the S-VAE paper adds a correction term).

    m = 3: the exact inverse CDF, w = 1 + log(u + (1 - u) e^(-2 kappa)) / kappa (s-vae-pytorch's
    __sample_w3). Otherwise Wood's (1994) rejection sampler in the form of Davidson et al. 2018,
    Algorithm 2: b = (m-1) / (2 kappa + sqrt(4 kappa^2 + (m-1)^2)) (the paper's
    (-2 kappa + sqrt(...)) / (m-1) without its cancellation at large kappa, where s-vae-pytorch
    blends in a Taylor approximation), a = (m - 1 + 2 kappa + sqrt(...)) / 4,
    d = 4ab/(1+b) - (m-1) log(m-1); draw e ~ Beta((m-1)/2, (m-1)/2), u ~ U(0, 1),
    t = 2ab / (1 - (1-b)e), accept when (m-1) log t - t + d >= log u; w = (1 - (1+b)e) / (1 - (1-b)e).
    The loop redraws only the rejected entries (acceptance is above 0.5 for every kappa)."""
    k = kappa.expand(shape)
    if m == 3:
        u = torch.rand(shape, dtype=torch.float64).clamp_min(1e-300)
        return 1 + torch.logaddexp(torch.log(u), torch.log1p(-u) - 2 * k) / k
    m1 = m - 1.0
    root = torch.sqrt(4 * k * k + m1 * m1)
    b = m1 / (2 * k + root)
    with torch.no_grad():
        bd = b.reshape(-1)
        ad = ((m1 + 2 * k + root) / 4).reshape(-1)
        dd = 4 * ad * bd / (1 + bd) - m1 * math.log(m1)
        n = bd.numel()
        e = torch.empty(n, dtype=torch.float64)
        todo = torch.arange(n)
        half = torch.tensor(m1 / 2, dtype=torch.float64)
        beta = torch.distributions.Beta(half, half)
        while todo.numel():
            r = todo.numel()
            ee = beta.sample((r,))
            u = torch.rand(r, dtype=torch.float64)
            bb, aa = bd[todo], ad[todo]
            t = 2 * aa * bb / (1 - (1 - bb) * ee)
            ok = m1 * torch.log(t) - t + dd[todo] >= torch.log(u)
            e[todo[ok]] = ee[ok]
            todo = todo[~ok]
        e = e.reshape(shape)
    return (1 - (1 + b) * e) / (1 - (1 - b) * e)


def sample_vmf(mu, kappa, k=None):
    """Reparameterized draws z ~ vMF(mu, kappa) on S^(m-1): mu unit vectors of shape (B, m), kappa of
    shape (B, 1); returns shape (B, m), or (k, B, m) with k draws per row, in mu's dtype (computed
    in float64). z' = (w, sqrt(1 - w^2) v) with v uniform on S^(m-2), then the reflection that takes
    e1 to mu. The reflection is s-vae-pytorch's Householder map with the sign chosen so that it
    never cancels: sigma = sign(mu_0), u = e1 + sigma mu, z = -sigma (z' - 2 (u'z'/u'u) u) (the same
    cost; s-vae-pytorch's u = e1 - mu degenerates as mu nears e1)."""
    m = mu.shape[-1]
    mu64, k64 = mu.double(), kappa.double()
    shape = (mu.shape[0], 1) if k is None else (k, mu.shape[0], 1)
    w = sample_vmf_w(k64, m, shape)
    v = torch.randn(shape[:-1] + (m - 1,), dtype=torch.float64)
    v = v / v.norm(dim=-1, keepdim=True)
    zp = torch.cat((w, torch.sqrt(torch.clamp(1 - w * w, min=1e-10)) * v), -1)
    sigma = torch.where(mu64[:, :1] >= 0, 1.0, -1.0).to(torch.float64)
    u = sigma * mu64
    u = torch.cat((u[:, :1] + 1, u[:, 1:]), -1)
    z = -sigma * (zp - (2 * (zp * u).sum(-1, keepdim=True) / (u * u).sum(-1, keepdim=True)) * u)
    return z.to(mu.dtype)


class SVAE(nn.Module):
    """The S-VAE study's model (module docstring): family "normal" (z in R^d) or "vmf" (z on S^d in
    R^(d+1)); encoder 784-256-128, decoder d'-128-256-784, ReLU, Bernoulli logits."""

    def __init__(self, family, d, data=784, hidden=(256, 128)):
        super().__init__()
        h1, h2 = hidden
        self.family, self.d = family, d
        self.m = d if family == "normal" else d + 1  # the latent's width
        self.enc1 = nn.Linear(data, h1)
        self.enc2 = nn.Linear(h1, h2)
        self.loc = nn.Linear(h2, self.m)
        self.scale = nn.Linear(h2, d if family == "normal" else 1)
        self.dec1 = nn.Linear(self.m, h2)
        self.dec2 = nn.Linear(h2, h1)
        self.dec3 = nn.Linear(h1, data)

    def encode(self, x):
        """(loc, scale) of the diagonal Gaussian, or (mean direction, concentration (B, 1)) of the vMF."""
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        if self.family == "normal":
            return self.loc(h), F.softplus(self.scale(h)) + 1e-4
        return F.normalize(self.loc(h), dim=-1), F.softplus(self.scale(h)) + 1

    def decode(self, z):
        return self.dec3(F.relu(self.dec2(F.relu(self.dec1(z)))))

    def elbo(self, x):
        """Per-example ELBO with one reparameterized sample: (elbo, recon, kl), each of shape (B,)."""
        a, b = self.encode(x)
        if self.family == "normal":
            z = a + b * torch.randn_like(a)
            kl = (0.5 * (a * a + b * b - 1.0) - torch.log(b)).sum(1)
        else:
            z = sample_vmf(a, b)
            kl = kl_vmf_uniform(b.double(), self.m).squeeze(-1).to(x.dtype)
        recon = -F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        return recon - kl, recon, kl

    @torch.no_grad()
    def iw_loglik(self, x, k):
        """Importance-weighted log-likelihood with k samples per example (Burda et al. 2016), shape (B,):
        log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x); the log-weights summed in float64."""
        a, b = self.encode(x)  # (B, m), (B, m or 1)
        if self.family == "normal":
            eps = torch.randn(k, *a.shape, dtype=a.dtype)
            z = a + b * eps
            half_log_2pi = 0.5 * math.log(2 * math.pi)
            log_pz = (-0.5 * z * z - half_log_2pi).sum(-1).double()
            log_qz = (-0.5 * eps * eps - torch.log(b) - half_log_2pi).sum(-1).double()
        else:
            z = sample_vmf(a, b, k)  # (k, B, m)
            log_pz = -log_sphere_surface(self.m)
            log_qz = vmf_log_prob(z.double(), a.double(), b.double())
        logits = self.decode(z.reshape(-1, self.m)).reshape(k, x.shape[0], -1)
        log_px = bernoulli_log_prob_sum(logits, x)
        return torch.logsumexp(log_px.double() + log_pz - log_qz, dim=0) - math.log(k)


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


def binarized_once(x, seed):
    """x <- [u < x] with u ~ U(0, 1) from a generator of its own seeded by `seed`: the test set of a
    run with dynamic binarization, fixed for the run (vaec does the same with its own stream)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(x.shape, generator=g) < x).to(x.dtype)


def iw_evaluate(model, x, k, rows=4096):
    """Per-example IW log-likelihood (float64, shape (N,)) with k samples, in chunks of about `rows`
    decoded rows (examples x k), so that memory stays bounded for any k."""
    per = max(1, rows // k)
    return torch.cat([model.iw_loglik(x[i:i + per], k).double() for i in range(0, x.shape[0], per)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=("bench", "svae"), default="bench",
                    help="bench: bench/models/bench_gaussian.vae; svae: the S-VAE study's models (--family, --d)")
    ap.add_argument("--family", choices=("normal", "vmf"), default="normal", help="--arch svae: the posterior family")
    ap.add_argument("--d", type=int, default=10, help="--arch svae: latent dimension (vmf: the sphere S^d in R^(d+1))")
    ap.add_argument("--epochs", type=int, default=None, help="default 10 (bench), 20 (svae)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="default 128 (bench), 64 (svae)")
    ap.add_argument("--binarize", choices=("none", "dynamic"), default=None, help="default none (bench), dynamic (svae)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iw", type=int, default=500, help="K for the importance-weighted log-likelihood (0: skip)")
    ap.add_argument("--iw-rows", type=int, default=4096,
                    help="decoded rows per IW chunk (examples x K; default 4096, faster than 16384 or 1024 here)")
    ap.add_argument("--data", default=DATA_DIR, help="folder with the Fashion-MNIST IDX files")
    ap.add_argument("--save", default=None, help="save the trained parameters here (torch.save of the state dict)")
    ap.add_argument("--load", default=None, help="start from these parameters (with --epochs 0: evaluate only)")
    ap.add_argument("--per-example", default=None, help="save the per-example IW log-likelihoods here (.npy, float64)")
    ap.add_argument("--no-flush-denormal", action="store_true", help="leave denormals on (to measure their cost)")
    a = ap.parse_args()
    svae = a.arch == "svae"
    a.epochs = a.epochs if a.epochs is not None else (20 if svae else 10)
    a.batch = a.batch or (64 if svae else 128)
    a.binarize = a.binarize or ("dynamic" if svae else "none")
    if a.epochs < 0 or a.batch < 1 or a.iw < 0 or a.threads < 1 or a.d < 1 or (a.family == "vmf" and a.d < 2):
        ap.error("--epochs and --iw must be at least 0, --batch and --threads at least 1, --d at least 1 "
                 "(at least 2 for vmf: S^1 has no Wood sampler here)")
    for path, what in ((a.load, "--load"), (a.data, "--data")):
        if path and not os.path.exists(path):
            ap.error(f"{what} {path}: not found")

    if svae and a.family == "vmf":
        # Imported before FTZ/DAZ is set (numpy warns about its float limits otherwise) and
        # before the first epoch is timed.
        import scipy.special  # noqa: F401
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

    # Evaluation only (--epochs 0) reads the test split alone, as vaec eval does.
    train_x = load_split(a.data, "train") if a.epochs > 0 else torch.empty(0, 784)
    test_x = load_split(a.data, "t10k")
    if a.binarize == "dynamic":
        test_x = binarized_once(test_x, a.seed)
    n = train_x.shape[0]
    print(f"data: {n} train / {test_x.shape[0]} test examples of width {train_x.shape[1]}"
          + ("; dynamic binarization (the test set binarized once)" if a.binarize == "dynamic" else ""))

    model = SVAE(a.family, a.d) if svae else VAE()
    if a.load:
        model.load_state_dict(torch.load(a.load))
    what = f"svae {a.family} d={a.d}" if svae else "bench gaussian"
    print(f"model: {what}, {sum(p.numel() for p in model.parameters())} parameters; batch {a.batch}, {a.epochs} epochs")
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    epochs = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, n, a.batch):  # the last partial batch is kept
            x = train_x[perm[i:i + a.batch]]
            if a.binarize == "dynamic":
                x = (torch.rand_like(x) < x).to(x.dtype)
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
    if a.save:
        tmp = a.save + ".tmp"
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, a.save)

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas, "blas_libs": libs,
              "flush_denormal": bool(flush), "flush_denormal_all_threads": flushed_all, "arch": a.arch,
              "family": a.family if svae else "normal", "d": a.d if svae else 20, "batch": a.batch,
              "binarize": a.binarize, "seed": a.seed, "epochs": epochs,
              "train_seconds": sum(e["seconds"] for e in epochs),
              "median_epoch_seconds": statistics.median(e["seconds"] for e in epochs) if epochs else None,
              "test_elbo": epochs[-1]["test_elbo"] if epochs else None,
              "test_recon": epochs[-1]["test_recon"] if epochs else None,
              "test_kl": epochs[-1]["test_kl"] if epochs else None,
              # Peak RSS of training (with the per-epoch test evaluations), before the IW evaluation.
              "max_rss_kib_training": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    if not epochs:
        model.eval()
        te, tr, tk = test_elbo(model, test_x)
        result.update({"test_elbo": te, "test_recon": tr, "test_kl": tk})
        print(f"test ELBO {te:9.3f}  (recon {tr:9.3f}, KL {tk:7.3f})", flush=True)
    if a.iw > 0:
        t0 = time.perf_counter()
        torch.manual_seed(a.seed + 1)
        v = iw_evaluate(model, test_x, a.iw, a.iw_rows)
        seconds = time.perf_counter() - t0
        N = v.shape[0]
        mean = v.mean().item()
        se = (v.var(unbiased=True).item() / N) ** 0.5 if N > 1 else 0.0
        if a.per_example:
            tmp = a.per_example + ".tmp.npy"
            np.save(tmp, v.numpy())
            os.replace(tmp, a.per_example)
        result.update({"iw_k": a.iw, "iw_loglik": mean, "iw_stderr": se, "iw_seconds": seconds,
                       "iw_finite": bool(torch.isfinite(v).all().item())})
        print(f"log p(x), IW K={a.iw}: {mean:.3f} ± {se:.3f} (standard error over examples; {seconds:.1f} s)")
    result["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
