"""The generated PNG is valid: signature, chunk CRCs, IHDR and the decompressed size."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from target_stub.png import PNG_SIGNATURE, encode_png_rgb, gradient_png


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png.startswith(PNG_SIGNATURE)
    pos, out = len(PNG_SIGNATURE), []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        out.append((kind, data))
        pos += 12 + length
    return out


@pytest.mark.parametrize("side", [1, 7, 64])
def test_gradient_png_is_a_valid_rgb_image(side: int) -> None:
    png = gradient_png(random.Random(3), side)
    chunks = _chunks(png)
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (width, height, depth, colour) == (side, side, 8, 2)
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == side * (1 + 3 * side)
    assert all(raw[y * (1 + 3 * side)] == 0 for y in range(side))  # filter byte "None"


def test_gradient_png_is_seeded() -> None:
    assert gradient_png(random.Random(1)) == gradient_png(random.Random(1))
    assert gradient_png(random.Random(1)) != gradient_png(random.Random(2))


def test_bad_rows_are_rejected_with_the_expected_size() -> None:
    with pytest.raises(ValueError, match="must be 6 bytes"):
        encode_png_rgb(2, 1, [b"\x00" * 5])
