"""Small valid PNG images built with zlib alone (no Pillow): the stub's image output.

A generated image is a ``side x side`` 8-bit RGB gradient between two seeded colours: valid
for any PNG decoder, a few hundred bytes, and cheap enough (about 0.1 ms at 64 px) to build
per request. Its pixel size does not follow the request's ``size``; GPU time does (the engine
models the image job).
"""

from __future__ import annotations

import random
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFAULT_SIDE_PX = 64


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png_rgb(width_px: int, height_px: int, rows: list[bytes]) -> bytes:
    """Encode RGB rows (``3 * width_px`` bytes each) as a PNG (colour type 2, 8 bits)."""
    if width_px < 1 or height_px < 1 or len(rows) != height_px:
        raise ValueError(
            f"PNG needs width and height >= 1 and one row per line; got {width_px}x{height_px} "
            f"with {len(rows)} rows"
        )
    for row in rows:
        if len(row) != 3 * width_px:
            raise ValueError(f"each row must be {3 * width_px} bytes (RGB); got {len(row)}")
    # Filter type 0 (None) before every scanline.
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def gradient_png(rng: random.Random, side_px: int = DEFAULT_SIDE_PX) -> bytes:
    """A seeded vertical gradient between two random colours, ``side_px`` square."""
    top = [rng.randrange(256) for _ in range(3)]
    bottom = [rng.randrange(256) for _ in range(3)]
    rows = []
    for y in range(side_px):
        frac = y / max(1, side_px - 1)
        pixel = bytes(round(a + (b - a) * frac) for a, b in zip(top, bottom, strict=True))
        rows.append(pixel * side_px)
    return encode_png_rgb(side_px, side_px, rows)
