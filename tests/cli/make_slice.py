#!/usr/bin/env python3
"""Writes the first N training and M test examples of an MNIST-style IDX data set
(images and labels, gzip or plain) to a folder, as the standard uncompressed pair
train-images-idx3-ubyte / t10k-images-idx3-ubyte (+ labels), for fast end-to-end tests.

usage: make_slice.py SOURCE_DIR OUT_DIR N_TRAIN N_TEST
"""
import gzip
import os
import struct
import sys


def read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                return f.read()
    raise SystemExit(f"make_slice.py: {path}[.gz] not found")


def head(data, n):
    """The IDX file `data` cut to its first n items (header rewritten)."""
    ndim = data[3]
    dims = list(struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim]))
    item = 1
    for d in dims[1:]:
        item *= d
    if n > dims[0]:
        raise SystemExit(f"make_slice.py: asked for {n} items, the file has {dims[0]}")
    dims[0] = n
    start = 4 + 4 * ndim
    return data[:4] + struct.pack(">" + "I" * ndim, *dims) + data[start:start + n * item]


def main():
    src, out, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = f"{prefix}-{kind}"
            with open(os.path.join(out, name), "wb") as f:
                f.write(head(read(os.path.join(src, name)), n))


if __name__ == "__main__":
    main()
