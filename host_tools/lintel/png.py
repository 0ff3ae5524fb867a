"""PNG files of a panel's pixels, written and read with zlib and struct alone.

Two kinds, the two a panel has: 1-bit greyscale (colour type 0, bit depth 1: an e-paper frame,
bit 1 = white, most significant bit leftmost, exactly LVGL's I1 rows) and 8-bit RGB (colour
type 2, bit depth 8: an LCD frame). `decode` reads back what `encode_*` wrote (any filter,
no interlace, greyscale or RGB at depth 1 or 8) as rows of 8-bit samples, for the tests.
"""

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
GREY, RGB = 0, 2  # PNG colour types


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int  # 1 (greyscale, samples 0..255) or 3 (RGB)
    pixels: bytes  # height * width * channels samples, row after row

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        at = (y * self.width + x) * self.channels
        return tuple(self.pixels[at:at + self.channels])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(width: int, height: int, depth: int, colour: int, rows: list[bytes]) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def encode_mono(width: int, height: int, packed: bytes, stride: int) -> bytes:
    """A 1-bit frame: `packed` holds `height` rows of `stride` bytes, MSB first, 1 = white."""
    row_bytes = (width + 7) // 8
    rows = [packed[y * stride:y * stride + row_bytes] for y in range(height)]
    return _png(width, height, 1, GREY, rows)


def encode_rgb(width: int, height: int, rgb: bytes) -> bytes:
    """A colour frame: `rgb` holds width * height * 3 bytes, row after row."""
    row_bytes = width * 3
    rows = [rgb[y * row_bytes:(y + 1) * row_bytes] for y in range(height)]
    return _png(width, height, 8, RGB, rows)


def decode(data: bytes) -> Image:
    """Read a PNG of the kinds above; ValueError when it is not one."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    pos, header, idat = len(SIGNATURE), None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in the {kind.decode('latin-1')} chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if colour not in (GREY, RGB) or depth not in (1, 8) or interlace or (
            colour == RGB and depth != 8):
        raise ValueError(f"unsupported PNG kind (colour type {colour}, depth {depth})")
    channels = 3 if colour == RGB else 1
    row_bytes = (width * channels * depth + 7) // 8
    bpp = max(1, channels * depth // 8)
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (row_bytes + 1):
        raise ValueError("image data has the wrong length")
    out = bytearray()
    prev = bytearray(row_bytes)
    for y in range(height):
        start = y * (row_bytes + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + row_bytes]), prev, bpp)
        if depth == 1:
            out += bytes(255 if row[x >> 3] & (0x80 >> (x & 7)) else 0 for x in range(width))
        else:
            out += row
        prev = row
    return Image(width, height, channels, bytes(out))


def _unfilter(kind: int, row: bytearray, prev: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return row
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            row[i] = (row[i] + left) & 0xFF
        elif kind == 2:
            row[i] = (row[i] + up) & 0xFF
        elif kind == 3:
            row[i] = (row[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            up_left = prev[i - bpp] if i >= bpp else 0
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
            row[i] = (row[i] + pred) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
    return row
