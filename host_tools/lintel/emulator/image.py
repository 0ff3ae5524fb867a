"""What the emulator needs to know about a flash image before it boots it, with clear errors."""

import json
from dataclasses import dataclass

from littlefs import LittleFSError

from lintel import boards
from lintel.emulator.flash import Flash
from lintel.errors import LintelError
from lintel.image import check_vfs, read_romfs, romfs_size
from lintel.partitions import TABLE_MAX_SIZE, TABLE_OFFSET, Partition, find, from_binary


@dataclass
class ImageInfo:
    partitions: list[Partition]
    vfs: Partition
    nvs: Partition
    board_name: str | None  # from board.json in the application's ROMFS, when it is there
    vfs_problem: str | None  # why the vfs will not mount, or None


def inspect(flash: Flash) -> ImageInfo:
    where = flash.path
    if flash.size < TABLE_OFFSET + TABLE_MAX_SIZE:
        raise LintelError(f"{where}: {flash.size} bytes is too small to be a flash image")
    try:
        parts = from_binary(flash.read(TABLE_OFFSET, TABLE_MAX_SIZE))
        vfs, nvs = find(parts, "vfs"), find(parts, "nvs")
    except LintelError as e:
        raise LintelError(
            f"{where}: {e}; this is not a Lintel flash image (make one with lintel build)"
        ) from None
    for p in parts:
        if p.end > flash.size:
            raise LintelError(
                f"{where}: partition {p.name!r} ends at 0x{p.end:x}, past the end of the "
                f"{flash.size}-byte file (truncated image?)"
            )
    board_name, problem = None, None
    try:
        check_vfs(flash.read(vfs.offset, vfs.size))
    except LittleFSError as e:
        problem = f"the vfs partition at 0x{vfs.offset:x} does not mount as LittleFS2 ({e})"
    try:
        romfs = find(parts, "romfs")
        board_file = read_romfs(flash.read(romfs.offset, romfs.size)).get("board.json")
        # The image carries the panel's part of the board file (lintel.build.panel_board):
        # its name says which board of board/ it is.
        name = json.loads(board_file)["name"]
        board_name = name if name in boards.names() else None
    except (LintelError, TypeError, ValueError, KeyError):
        pass  # no application, or one without a usable board file: --board must say
    return ImageInfo(parts, vfs, nvs, board_name, problem)


def romfs_bytes(flash: Flash) -> int:
    """The length of the ROMFS in the flash's romfs partition (0: none). The emulated board
    reads it into its heap at boot, where the chip maps it from flash (board/unix/port_main.py),
    so the emulator gives the firmware that much more heap."""
    try:
        parts = from_binary(flash.read(TABLE_OFFSET, TABLE_MAX_SIZE))
        romfs = find(parts, "romfs")
        size = romfs_size(flash.read(romfs.offset, 8))
    except LintelError:
        return 0
    return size if size <= romfs.size else 0


def resolve_board(flash_path, board_name: str | None):
    """Open the flash file and find its board: the named one, or the one inside the image."""
    probe = Flash(flash_path)
    try:
        info = inspect(probe)
    finally:
        probe.close()
    name = board_name or info.board_name or _board_by_layout(probe.size, info.partitions)
    if name is None:
        raise LintelError(
            f"{flash_path}: the image does not say which board it is for; pass --board NAME "
            f"(known: {', '.join(boards.names())})"
        )
    board = boards.load(name)
    flash = Flash(flash_path, board.flash_size)
    return board, flash, info


def _board_by_layout(size: int, parts: list[Partition]) -> str | None:
    # An image whose vfs will not mount still has a flash size and a partition table.
    matches = [name for name in boards.names()
               if (b := boards.load(name)).flash_size == size and list(b.partitions) == parts]
    return matches[0] if len(matches) == 1 else None
