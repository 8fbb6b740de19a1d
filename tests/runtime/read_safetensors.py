#!/usr/bin/env python3
"""An independent reader of safetensors files, for checking vaec's checkpoint writer.

Written from the format description only (https://github.com/huggingface/safetensors):
8 bytes little-endian uint64 N, N bytes of UTF-8 JSON mapping each tensor name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data section that
follows the header) plus an optional "__metadata__" object of strings, then the data.
Standard library only (Python's `safetensors` package is not in Debian).

Usage: read_safetensors.py FILE
Prints one JSON object:
  {"header_size": N,
   "tensors": {NAME: {"dtype": "F32", "shape": [..], "data_offsets": [b, e],
                      "values": [flat, row-major]}, ...},
   "metadata": {...}}
Non-finite floats are printed as the strings "nan", "inf" and "-inf" so that the output
stays strict JSON. Exits with status 1 and a message on stderr if the file is malformed,
including by the reference implementation's stricter rules: the header starts with '{',
and the tensors, sorted by offset, cover the data section exactly, back to back.
"""
import json
import math
import struct
import sys

FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}


def fail(message):
    sys.stderr.write(f"read_safetensors.py: {message}\n")
    sys.exit(1)


def value(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def main():
    if len(sys.argv) != 2:
        fail("usage: read_safetensors.py FILE")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("header length beyond the end of the file")
    text = blob[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with '{'")
    header = json.loads(text)
    if not isinstance(header, dict):
        fail("header is not an object")
    data = blob[8 + n:]

    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        fail("__metadata__ is not an object of strings")
    out = {"header_size": n, "tensors": {}, "metadata": metadata}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in FORMATS:
            fail(f"tensor {name!r}: unsupported dtype {dtype!r}")
        code, size = FORMATS[dtype]
        count = 1
        for d in shape:
            count *= d
        if not 0 <= begin <= end <= len(data) or end - begin != count * size:
            fail(f"tensor {name!r}: bad data_offsets {[begin, end]}")
        values = struct.unpack(f"<{count}{code}", data[begin:end])
        out["tensors"][name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [begin, end],
            "values": [value(v) for v in values],
        }
    end = 0
    for begin, stop in sorted(t["data_offsets"] for t in out["tensors"].values()):
        if begin != end:
            fail(f"tensors are not back to back: one begins at {begin}, not {end}")
        end = stop
    if end != len(data):
        fail(f"tensors end at {end} but the data section is {len(data)} bytes")
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
