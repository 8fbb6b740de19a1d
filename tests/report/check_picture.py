#!/usr/bin/env python3
"""Independent checks of vaec's pictures, with python3's zlib and struct only.

  check_picture.py png PNG EXPECTED W H C   decode PNG (8-bit grey or RGB, any filter) and
                                            compare every pixel with the raw bytes of
                                            EXPECTED (H rows of W*C bytes), to one level
  check_picture.py stats PNG                print "width height channels variance"
  check_picture.py xml SVG                  parse SVG as XML; print the root's tag
Exit status 0 when the check holds, 1 with a message otherwise.
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def decode_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError("bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        elif kind == b"tIME":
            raise ValueError("a tIME chunk: the bytes would depend on the clock")
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    if depth != 8 or interlace != 0:
        raise ValueError("only 8-bit non-interlaced PNGs are checked (depth %d)" % depth)
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
            elif ftype != 0:
                raise ValueError("unknown filter %d" % ftype)
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, channels, bytes(out)


def main(argv):
    if len(argv) >= 3 and argv[1] == "png" and len(argv) == 7:
        w, h, c, pixels = decode_png(argv[2])
        want = open(argv[3], "rb").read()
        ew, eh, ec = int(argv[4]), int(argv[5]), int(argv[6])
        if (w, h, c) != (ew, eh, ec):
            print("size %dx%dx%d, expected %dx%dx%d" % (w, h, c, ew, eh, ec))
            return 1
        bad = [i for i in range(len(want)) if abs(pixels[i] - want[i]) > 1]
        if bad:
            i = bad[0]
            print("%d of %d values differ; first at x=%d y=%d channel %d: %d, expected %d"
                  % (len(bad), len(want), (i // c) % w, i // (c * w), i % c, pixels[i], want[i]))
            return 1
        print("ok %dx%dx%d" % (w, h, c))
        return 0
    if len(argv) == 3 and argv[1] == "stats":
        w, h, c, pixels = decode_png(argv[2])
        n = len(pixels)
        mean = sum(pixels) / n
        var = sum((p - mean) ** 2 for p in pixels) / n
        print("%d %d %d %.3f" % (w, h, c, var))
        return 0
    if len(argv) == 3 and argv[1] == "xml":
        root = ET.parse(argv[2]).getroot()
        print(root.tag)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # a malformed file is a failed check, with its reason
        print("error: %s" % e)
        sys.exit(1)
