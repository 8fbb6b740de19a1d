#!/usr/bin/env python3
"""Checks an image grid that vaec wrote against numbers it did not draw, with python3's
standard library only (the PNG is decoded by tests/report/check_picture.py's decoder).

  grid_check.py grid PNG VALUES H W COLS SCALE   the grid's cells against VALUES
  grid_check.py rows PNG IDX H W COLS SCALE      odd rows of cells against an IDX file's images
  grid_check.py same NPY1 NPY2|IDX TOL           two arrays (or an array and an IDX file / 255)

VALUES is a .npy (float32, shape (N, H*W)) or an IDX image file (uint8, scaled by 1/255).
A grid has a 1-pixel border and 1-pixel separators; each value covers SCALE × SCALE pixels
and is round(255·v). Cells are compared to one grey level. Exit 0 when the check holds.
"""
import gzip
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "report"))
from check_picture import decode_png  # noqa: E402


def load(path):
    """A list of rows of floats."""
    data = open(path, "rb").read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    if data[:6] == b"\x93NUMPY":
        (hlen,) = struct.unpack("<H", data[8:10])
        header = data[10:10 + hlen].decode()
        assert "'<f4'" in header and "False" in header, header
        shape = tuple(int(s) for s in header.split("(")[1].split(")")[0].split(",") if s.strip())
        n, w = shape
        vals = struct.unpack("<%df" % (n * w), data[10 + hlen:10 + hlen + 4 * n * w])
        return [list(vals[i * w:(i + 1) * w]) for i in range(n)]
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    w = 1
    for d in dims[1:]:
        w *= d
    body = data[4 + 4 * ndim:]
    return [[b / 255 for b in body[i * w:(i + 1) * w]] for i in range(dims[0])]


def cell(pixels, width, r, c, h, w, scale, i, j):
    y = 1 + r * (h * scale + 1) + i * scale
    x = 1 + c * (w * scale + 1) + j * scale
    return pixels[y * width + x]


def main():
    mode = sys.argv[1]
    if mode == "same":
        a, b, tol = load(sys.argv[2]), load(sys.argv[3]), float(sys.argv[4])
        n = min(len(a), len(b))
        worst = max(abs(x - y) for k in range(n) for x, y in zip(a[k], b[k]))
        if worst > tol:
            sys.exit("largest difference %g > %g" % (worst, tol))
        print("same: %d rows, largest difference %g" % (n, worst))
        return
    png, values = sys.argv[2], load(sys.argv[3])
    h, w, cols, scale = (int(v) for v in sys.argv[4:8])
    width, height, channels, pixels = decode_png(png)
    assert channels == 1, "grey images expected"
    rows_per_value = 2 if mode == "rows" else 1
    n = len(values) if mode == "grid" else min(len(values), 32)
    worst = 0
    for k in range(n):
        r, c = (k // cols) * rows_per_value, k % cols
        for i in range(h):
            for j in range(w):
                want = round(255 * min(1.0, max(0.0, values[k][i * w + j])))
                got = cell(pixels, width, r, c, h, w, scale, i, j)
                worst = max(worst, abs(want - got))
    if worst > 1:
        sys.exit("%s: a pixel differs by %d grey levels" % (png, worst))
    print("%s: %d cells, every pixel within %d grey level of the values" % (png, n, worst))


if __name__ == "__main__":
    main()
