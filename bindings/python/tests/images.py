"""Image bytes generated in-test (PNG written with zlib and struct), so the
binding's tests need neither an image library nor fixtures."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _ihdr(width: int, height: int) -> bytes:
    # 8-bit RGB, no interlace.
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def make_png(width: int, height: int, seed: int = 1) -> bytes:
    """A valid RGB PNG: a gradient plus deterministic noise, so lossy encoders
    have something to trade quality against."""
    state = seed or 1

    def noise() -> int:
        nonlocal state
        # xorshift32
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        return state & 0x1F

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.append((x * 255 // max(1, width - 1) + noise()) & 0xFF)
            rows.append((y * 255 // max(1, height - 1) + noise()) & 0xFF)
            rows.append((128 + noise()) & 0xFF)
    return SIGNATURE + _ihdr(width, height) + _chunk(b"IDAT", zlib.compress(bytes(rows))) + _chunk(b"IEND", b"")


def make_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims huge dimensions but carries one tiny IDAT."""
    return SIGNATURE + _ihdr(width, height) + _chunk(b"IDAT", zlib.compress(bytes(64))) + _chunk(b"IEND", b"")


def make_corrupt_png(width: int = 16, height: int = 16) -> bytes:
    """Valid chunk framing, but the IDAT is not a zlib stream."""
    return SIGNATURE + _ihdr(width, height) + _chunk(b"IDAT", b"\xa5" * 256) + _chunk(b"IEND", b"")


def sniff(data: bytes) -> str:
    """Format named by the magic bytes."""
    if data.startswith(SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"GIF8"):
        return "gif"
    return "unknown"
