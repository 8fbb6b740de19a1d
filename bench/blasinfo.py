"""Which BLAS a process has loaded, read from /proc/PID/maps. Standard library only;
used by compare.py (for vaec) and torch_vae.py (for itself)."""

import os


def blas_in_maps(pid="self"):
    """BLAS/LAPACK/OpenMP libraries mapped into a process (empty if it is gone)."""
    libs = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6:
                    base = os.path.basename(parts[-1])
                    if any(k in base for k in ("blas", "lapack", "mkl", "gomp", "iomp")) and parts[-1] not in libs:
                        libs.append(parts[-1])
    except OSError:
        pass
    return libs


def describe_blas(libs):
    """Names the BLAS among the mapped libraries, showing the file that implements it."""
    impl = [l for l in libs if os.path.basename(l).startswith("libopenblas")] or libs
    for key, name in (("openblas-openmp", "OpenBLAS (OpenMP variant)"), ("openblas-pthread", "OpenBLAS (pthread variant)"),
                      ("mkl", "MKL")):
        for lib in impl:
            if key in lib:
                return f"{name}: {lib}"
    for lib in libs:
        if os.path.basename(lib).startswith("libblas"):
            return "libblas (possibly the reference BLAS): " + os.path.realpath(lib)
    return "none found in the process's maps"
