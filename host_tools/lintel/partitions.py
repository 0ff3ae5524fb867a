"""ESP-IDF binary partition tables: write one from a board's layout, parse one back.

Format (ESP-IDF "Partition Tables" guide, components/partition_table/gen_esp32part.py):
32-byte rows `<2sBBLL16sL` = magic AA 50, type, subtype, offset, size, label, flags;
then an MD5 row (EB EB, 14 bytes of FF, the MD5 of all rows before it); FF up to 0xC00 bytes.
"""

import hashlib
import struct
from dataclasses import dataclass

from lintel.errors import LintelError

TABLE_OFFSET = 0x8000
TABLE_MAX_SIZE = 0xC00
_ROW = struct.Struct("<2sBBLL16sL")
_MAGIC = b"\xaa\x50"
_MD5_MAGIC = b"\xeb\xeb"

TYPES = {"app": 0x00, "data": 0x01}
SUBTYPES = {
    "app": {"factory": 0x00, "test": 0x20, **{f"ota_{i}": 0x10 + i for i in range(16)}},
    "data": {
        "ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04,
        "efuse": 0x05, "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82,
        "littlefs": 0x83,
        # MicroPython's ports/esp32/partitions-4MiB-romfs.csv; the port finds its ROMFS by the
        # label "romfs" and any data subtype (ports/esp32/esp32_partition.c).
        "romfs": 0x8F,
    },
}
FLAG_ENCRYPTED = 0x1
FLAG_READONLY = 0x2


@dataclass(frozen=True)
class Partition:
    name: str
    type: str
    subtype: str
    offset: int
    size: int
    flags: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.size


def _code(table: dict, name: str, what: str) -> int:
    if name not in table:
        raise LintelError(f"unknown partition {what} {name!r} (known: {', '.join(table)})")
    return table[name]


def _name(table: dict, code: int) -> str:
    for name, value in table.items():
        if value == code:
            return name
    return f"0x{code:02x}"


def to_binary(parts: list[Partition]) -> bytes:
    rows = bytearray()
    for p in parts:
        type_code = _code(TYPES, p.type, "type")
        subtype_code = _code(SUBTYPES[p.type], p.subtype, "subtype")
        label = p.name.encode()
        if len(label) > 16:
            raise LintelError(f"partition name {p.name!r} is longer than 16 bytes")
        rows += _ROW.pack(_MAGIC, type_code, subtype_code, p.offset, p.size, label, p.flags)
    rows += _MD5_MAGIC + b"\xff" * 14 + hashlib.md5(rows).digest()
    if len(rows) > TABLE_MAX_SIZE:
        raise LintelError("partition table has too many rows")
    return bytes(rows) + b"\xff" * (TABLE_MAX_SIZE - len(rows))


def from_binary(data: bytes) -> list[Partition]:
    """Parse a table; a missing or corrupt table raises LintelError with what was wrong."""
    parts: list[Partition] = []
    for pos in range(0, min(len(data), TABLE_MAX_SIZE) - _ROW.size + 1, _ROW.size):
        row = data[pos:pos + _ROW.size]
        if row[:2] == _MD5_MAGIC:
            if hashlib.md5(data[:pos]).digest() != row[16:32]:
                raise LintelError("partition table checksum (MD5 row) does not match its rows")
            break
        if row[:2] == b"\xff\xff":
            break
        magic, type_code, subtype_code, offset, size, label, flags = _ROW.unpack(row)
        if magic != _MAGIC:
            raise LintelError(f"partition table row {len(parts)} has bad magic {magic.hex()}")
        type_name = _name(TYPES, type_code)
        parts.append(Partition(
            name=label.rstrip(b"\x00").decode("ascii", "replace"),
            type=type_name,
            subtype=_name(SUBTYPES.get(type_name, {}), subtype_code),
            offset=offset, size=size, flags=flags,
        ))
    if not parts:
        raise LintelError("no partition table found (expected one at 0x8000)")
    return parts


def find(parts: list[Partition], name: str) -> Partition:
    for p in parts:
        if p.name == name:
            return p
    raise LintelError(f"the partition table has no {name!r} partition")


def check_layout(parts: list[Partition], flash_size: int) -> None:
    """Rows must be 4 KiB aligned, inside the flash, clear of the table and of each other."""
    previous_end = TABLE_OFFSET + 0x1000
    seen = set()
    for p in sorted(parts, key=lambda p: p.offset):
        if p.name in seen:
            raise LintelError(f"partition {p.name!r} appears twice")
        seen.add(p.name)
        if p.offset % 0x1000 or p.size % 0x1000 or p.size == 0:
            raise LintelError(f"partition {p.name!r} is not 4 KiB aligned")
        if p.type == "app" and p.offset % 0x10000:
            raise LintelError(f"app partition {p.name!r} must start on a 64 KiB boundary")
        if p.offset < previous_end:
            raise LintelError(f"partition {p.name!r} at 0x{p.offset:x} overlaps what is before it")
        if p.end > flash_size:
            raise LintelError(f"partition {p.name!r} ends at 0x{p.end:x}, past the flash size")
        previous_end = p.end
