"""The bytes that go onto a panel: the ROMFS image of the application, the LittleFS2 vfs
image and the whole-flash image.

LittleFS parameters are MicroPython's for `vfs.VfsLfs2` (extmod/vfs_lfs.c, extmod/vfs_lfsx.c):
readsize=32, progsize=32, lookahead=32 are the constructor defaults, cache_size is
min(block_size, 4 * max(read_size, prog_size)) = 128, block_cycles = 100, and name_max is
left at LFS_NAME_MAX = 255. The block size is what the block device reports; the ESP32 port's
`esp32.Partition` reports the 4096-byte flash sector. See docs/image.md.
"""

import hashlib
import struct
from dataclasses import dataclass

from littlefs import LittleFS, LittleFSError
from mpremote.romfs import VfsRomWriter

from lintel.errors import LintelError
from lintel.partitions import TABLE_OFFSET, Partition, from_binary, to_binary

BLOCK_SIZE = 4096
LFS_CONFIG = {
    "block_size": BLOCK_SIZE,
    "read_size": 32,
    "prog_size": 32,
    "lookahead_size": 32,
    "cache_size": 128,
    "block_cycles": 100,
    "name_max": 255,
}
# ROMFS: "RM1" with the high bits of the first two bytes set, then the length of the rest as a
# varuint (MicroPython docs, "Working with ROMFS"; extmod/vfs_rom.c).
ROMFS_HEADER = b"\xd2\xcd\x31"
_ROMFS_DATA, _ROMFS_FOLDER, _ROMFS_FILE = 2, 4, 5  # record kinds (verbatim data, folder, file)
ERASED = 0xFF
ESP_IMAGE_MAGIC = 0xE9
SECTOR = 0x1000

# ESP32-S3 image header byte 3, high nibble (esptool targets/esp32s3.py FLASH_SIZES).
FLASH_SIZE_CODES = {
    1 << 20: 0x00, 2 << 20: 0x10, 4 << 20: 0x20, 8 << 20: 0x30,
    16 << 20: 0x40, 32 << 20: 0x50, 64 << 20: 0x60, 128 << 20: 0x70,
}


@dataclass(frozen=True)
class VfsImage:
    data: bytes
    block_count: int
    used_blocks: int
    disk_version: str  # littlefs on-disk format, e.g. "2.1"


def build_vfs(files: dict[str, bytes], size: int) -> VfsImage:
    """A LittleFS2 image of exactly `size` bytes holding `files` ({"app/x.mpy": bytes}).

    Deterministic: littlefs stores no timestamps, directories are made parents-first in
    sorted order and files are written in sorted order, so the same files give the same bytes.
    """
    if size % BLOCK_SIZE:
        raise LintelError(f"the vfs partition size 0x{size:x} is not a multiple of {BLOCK_SIZE}")
    block_count = size // BLOCK_SIZE
    fs = LittleFS(block_count=block_count, mount=False, **LFS_CONFIG)
    fs.format()
    fs.mount()
    dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
    total = sum(len(d) for d in files.values())
    try:
        for d in dirs:
            fs.mkdir(d)
        for path in sorted(files):
            with fs.open(path, "wb") as f:
                f.write(files[path])
        used = fs.used_block_count
        stat = fs.fs_stat()
        fs.unmount()
    except LittleFSError as e:
        if e.code == LittleFSError.Error.LFS_ERR_NOSPC:
            raise LintelError(
                f"the firmware ({len(files)} files, {total} bytes) does not fit the "
                f"{size // 1024} KiB vfs partition"
            ) from None
        raise LintelError(f"LittleFS error while building the vfs image: {e}") from None
    data = bytes(fs.context.buffer)
    assert len(data) == size
    version = f"{stat.disk_version >> 16}.{stat.disk_version & 0xFFFF}"
    return VfsImage(data, block_count, used, version)


def _mount_vfs(data: bytes) -> LittleFS:
    """A vfs image mounted (LittleFSError if it does not mount)."""
    fs = LittleFS(block_count=len(data) // BLOCK_SIZE, mount=False, **LFS_CONFIG)
    fs.context.buffer = bytearray(data)
    fs.mount()
    return fs


def check_vfs(data: bytes) -> None:
    """LittleFSError if a vfs image does not mount, as MicroPython's _boot.py would find it."""
    _mount_vfs(data).unmount()


def read_vfs(data: bytes) -> dict[str, bytes]:
    """Every file in a vfs image, {"app/x.mpy": bytes}: for tests and `lintel` inspection."""
    fs = _mount_vfs(data)
    out = {}
    for root, _dirs, names in fs.walk("/"):
        for name in names:
            path = f"{root.rstrip('/')}/{name}".lstrip("/")
            with fs.open(path, "rb") as f:
                out[path] = f.read()
    fs.unmount()
    return out


def build_romfs(files: dict[str, bytes], size: int) -> bytes:
    """A ROMFS image holding `files` ({"app/x.mpy": bytes}), for MicroPython's vfs.VfsRom,
    which runs .mpy bytecode in place from mapped flash. Written with mpremote's VfsRomWriter;
    folders and files in sorted order, so the same files give the same bytes."""
    tree: dict = {}
    for path, data in files.items():
        *folders, name = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = data
    writer = VfsRomWriter()

    def add(node: dict) -> None:
        for name in sorted(node):
            if isinstance(node[name], dict):
                writer.opendir(name)
                add(node[name])
                writer.closedir()
            else:
                writer.mkfile(name, node[name])

    add(tree)
    data = writer.finalise()
    if len(data) > size:
        raise LintelError(f"the application ({len(files)} files, {len(data)} bytes as ROMFS) "
                          f"does not fit the {size // 1024} KiB romfs partition")
    return data


def _varuint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= len(data):
            raise LintelError("the ROMFS image ends inside a record")
        byte = data[pos]
        value, pos = (value << 7) | (byte & 0x7F), pos + 1
        if not byte & 0x80:
            return value, pos


def romfs_size(head: bytes) -> int:
    """The bytes of the ROMFS image that starts with `head` (its first 8 bytes will do), its
    header included; 0 when there is none."""
    if not head.startswith(ROMFS_HEADER):
        return 0
    length, start = _varuint(head, len(ROMFS_HEADER))
    return start + length


def read_romfs(data: bytes) -> dict[str, bytes]:
    """Every file in a ROMFS image (the partition's bytes, its erased tail included), as
    {"app/x.mpy": bytes}: for tests and the emulator's inspection of an image."""
    if not data.startswith(ROMFS_HEADER):
        raise LintelError("no ROMFS image (its header is missing)")
    length, start = _varuint(data, len(ROMFS_HEADER))
    if start + length > len(data):
        raise LintelError("the ROMFS image is longer than its partition")
    out: dict[str, bytes] = {}

    def records(pos: int, end: int, folder: str) -> None:
        while pos < end:
            kind, pos = _varuint(data, pos)
            size, pos = _varuint(data, pos)
            if pos + size > end:
                raise LintelError("a ROMFS record runs past its folder")
            if kind in (_ROMFS_FOLDER, _ROMFS_FILE):
                name_len, at = _varuint(data, pos)
                name = folder + data[at:at + name_len].decode()
                if kind == _ROMFS_FOLDER:
                    records(at + name_len, pos + size, name + "/")
                else:
                    out[name] = file_data(at + name_len, pos + size)
            pos += size

    def file_data(pos: int, end: int) -> bytes:
        while pos < end:
            kind, pos = _varuint(data, pos)
            size, pos = _varuint(data, pos)
            if kind == _ROMFS_DATA:
                return bytes(data[pos:pos + size])
            pos += size
        return b""

    records(start, start + length, "")
    return out


@dataclass(frozen=True)
class BaseFirmware:
    data: bytes  # as placed at offset 0: our table in, flash size in the header fixed
    original_size: int
    original_sha256: str
    flash_size_was: str | None  # e.g. "8MB" when the bootloader header was changed


def _size_name(code: int) -> str:
    for size, c in FLASH_SIZE_CODES.items():
        if c == code:
            return f"{size >> 20}MB"
    return f"code 0x{code:02x}"


def _image_end(data: bytes, offset: int, what: str) -> int:
    """End of the ESP image at `offset` (after checksum and optional SHA-256 digest)."""
    if len(data) < offset + 24 or data[offset] != ESP_IMAGE_MAGIC:
        raise LintelError(f"{what}: no ESP image (magic 0xE9) at 0x{offset:x}")
    segments = data[offset + 1]
    pos = offset + 24  # 8-byte common header + 16-byte extended header
    for i in range(segments):
        if pos + 8 > len(data):
            raise LintelError(f"{what}: image at 0x{offset:x} is cut short in segment {i}")
        _addr, length = struct.unpack_from("<II", data, pos)
        pos += 8 + length
    pos += 16 - (pos - offset) % 16  # padding, the last byte of which is the checksum
    if data[offset + 23] == 1:  # hash_appended
        pos += 32
    if pos > len(data):
        raise LintelError(f"{what}: image at 0x{offset:x} runs past the end of the file")
    return pos


def _set_flash_size(data: bytearray, flash_size: int, what: str) -> str | None:
    """Make the bootloader header at 0 say the board's flash size; fix its digest to match."""
    code = FLASH_SIZE_CODES[flash_size]
    old = data[3] & 0xF0
    if old == code:
        return None
    end = _image_end(bytes(data), 0, f"{what} (bootloader)")
    hashed = data[23] == 1
    if hashed:
        body = end - 32
        if hashlib.sha256(data[:body]).digest() != bytes(data[body:end]):
            raise LintelError(f"{what}: the bootloader's SHA-256 digest does not match it")
    data[3] = code | (data[3] & 0x0F)
    if hashed:
        data[body:end] = hashlib.sha256(data[:body]).digest()
    return _size_name(old)


def prepare_base_firmware(raw: bytes, what: str, flash_size: int, app: Partition,
                          after_app: Partition) -> BaseFirmware:
    """Check a MicroPython ESP32-S3 image (bootloader at 0, table at 0x8000, app at 0x10000)
    against the board's layout, then make it ready to place at offset 0. `after_app` is the
    partition that follows the app's, which the image must end before."""
    if not raw or raw[0] != ESP_IMAGE_MAGIC:
        first = f"0x{raw[0]:02x}" if raw else "nothing (empty file)"
        raise LintelError(
            f"{what} does not start with the ESP image magic 0xE9 (it starts with {first}): "
            "use the merged MicroPython firmware .bin that is flashed at 0x0"
        )
    if len(raw) <= app.offset or raw[app.offset] != ESP_IMAGE_MAGIC:
        raise LintelError(
            f"{what} has no application image at 0x{app.offset:x}, where the board's "
            f"{app.name!r} partition starts: is it the merged firmware (bootloader at 0x0)?"
        )
    app_end = _image_end(raw, app.offset, what)
    if app_end - app.offset > app.size:
        raise LintelError(
            f"{what}: its application is {app_end - app.offset} bytes, larger than the "
            f"board's {app.name!r} partition ({app.size} bytes)"
        )
    if len(raw) > after_app.offset:
        raise LintelError(
            f"{what} is {len(raw)} bytes and would overlap the {after_app.name} partition at "
            f"0x{after_app.offset:x}: it is not a firmware image for this board's layout"
        )
    # The application lives in a ROMFS: a firmware built without MICROPY_VFS_ROM cannot run
    # it. The class's name is a qstr in every firmware that has it.
    if b"VfsRom" not in raw[app.offset:app_end]:
        raise LintelError(
            f"{what} has no ROMFS support (vfs.VfsRom): Lintel's application runs from the "
            "romfs partition; use a MicroPython built with MICROPY_VFS_ROM (docs/image.md)"
        )
    table = raw[TABLE_OFFSET:TABLE_OFFSET + SECTOR]
    if table[:2] == b"\xaa\x50":
        try:
            theirs = [p for p in from_binary(table) if p.type == "app"]
        except LintelError as e:
            raise LintelError(f"{what}: its own partition table is corrupt: {e}") from None
        if theirs and theirs[0].offset != app.offset:
            raise LintelError(
                f"{what} was built for an app partition at 0x{theirs[0].offset:x}, but the "
                f"board puts {app.name!r} at 0x{app.offset:x}"
            )
    data = bytearray(raw)
    was = _set_flash_size(data, flash_size, what)
    return BaseFirmware(bytes(data), len(raw), hashlib.sha256(raw).hexdigest(), was)


def assemble_flash(flash_size: int, parts: list[Partition],
                   images: list[tuple[Partition, bytes]],
                   base: BaseFirmware | None) -> tuple[bytes, bytes]:
    """The whole flash: 0xFF, the base firmware at 0, our table at 0x8000 (its sector erased
    first, so nothing of the firmware's own table survives), each partition's image at its
    offset (the rest of the partition left erased)."""
    table = to_binary(parts)
    flash = bytearray([ERASED]) * flash_size
    if base is not None:
        flash[:len(base.data)] = base.data
    flash[TABLE_OFFSET:TABLE_OFFSET + SECTOR] = table + bytes([ERASED]) * (SECTOR - len(table))
    for part, data in images:
        flash[part.offset:part.offset + len(data)] = data
    return bytes(flash), table
