"""Leak-aware fuzzing of the Python binding: every input goes through
``pyjamaz.optimize`` and must leave the core's live allocation count where it
was (memtest_fuzz's oracle). Run by ``memtest fuzz python-fuzz`` (and, with a
short budget, by ``memtest run``); see docs/fuzzing.md.

An input is an option byte, a mode byte and a body (the Node target,
suites/node/fuzz_optimize.js, reads the same layout, so a reproducer of one
replays in the other):

- byte 0: bits 0-1 the metric, bits 2-3 the format list;
- byte 1 even: a *shape*: bytes 2-3 the width (1 + u16 LE % 256), byte 4
  the height (1 + b % 4), byte 5 the PNG color type (gray, RGB, gray+alpha,
  RGBA), the rest the pixels (repeated), encoded here as a valid PNG: byte
  mutations reach every width and color type instead of dying on a CRC;
- byte 1 odd: the body is the image bytes as they are (the seeds are the
  small fixtures), for the decoders' error paths.
"""

import binascii
import os
import struct
import zlib
from pathlib import Path

import memtest_fuzz
import pyjamaz

METRICS = ["ssim", "none", "dssim", "ssim"]
FORMATS = [None, ["png"], ["jpeg", "webp"], ["png", "webp"]]
COLOR_TYPES = [(0, 1), (2, 3), (4, 2), (6, 4)]  # (PNG color type, channels)


def png(width: int, height: int, color_type: int, channels: int, pixels: bytes) -> bytes:
    row = width * channels
    body = (pixels or b"\x80") * (row * height // max(1, len(pixels)) + 1)
    raw = b"".join(b"\0" + body[y * row:(y + 1) * row] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", binascii.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def image_of(data: bytes) -> bytes:
    if len(data) < 2 or data[1] & 1:
        return data[2:]
    body = data[2:].ljust(4, b"\0")
    width = 1 + struct.unpack("<H", body[0:2])[0] % 256
    height = 1 + body[2] % 4
    color_type, channels = COLOR_TYPES[body[3] % 4]
    return png(width, height, color_type, channels, body[4:])


def one_input(data: bytes):
    opts = data[0] if data else 0
    try:
        pyjamaz.optimize(image_of(data), metric=METRICS[opts & 3], formats=FORMATS[(opts >> 2) & 3])
    except pyjamaz.PyjamazError as err:
        return err.code
    return "ok"


def seeds():
    out = [bytes([0, 0, 16, 0, 3, 3]) + bytes(range(64)),   # 16x4 RGBA
           bytes([4, 0, 40, 0, 1, 1]) + bytes(range(32)),   # 40x2 RGB
           bytes([0, 0, 9, 0, 0, 2]) + b"\x10\xf0"]          # 9x1 gray+alpha
    fixtures = os.environ.get("MEMTEST_FIXTURES")
    if fixtures:
        for f in sorted(Path(fixtures).iterdir()):
            if f.is_file() and f.stat().st_size <= 4096:
                out.append(bytes([0, 1]) + f.read_bytes())
    return out


memtest_fuzz.main(one_input, live=lambda: pyjamaz.alloc_stats().live_allocations, seeds=seeds())
