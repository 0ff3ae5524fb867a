"""The emulated SPI flash: one file of the board's flash size, erased bytes are 0xFF.

The ROM loader writes it while the firmware is stopped; the firmware's block device
(board/unix/flashbdev.py) reads and writes the vfs partition of the same file.
"""

import os
from pathlib import Path

from lintel.errors import LintelError

SECTOR = 0x1000
ERASED = 0xFF


class Flash:
    def __init__(self, path: Path | str, size: int | None = None):
        self.path = Path(path)
        try:
            actual = self.path.stat().st_size
        except FileNotFoundError:
            raise LintelError(f"flash file {self.path} does not exist") from None
        if size is not None and actual != size:
            raise LintelError(
                f"flash file {self.path} is {actual} bytes, but the board has {size} bytes "
                f"of flash ({size >> 20} MiB): is it the image for another board?"
            )
        self.size = actual
        self._fd = os.open(self.path, os.O_RDWR)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"0x{offset:x}+0x{length:x} is outside the {self.size}-byte flash")

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return os.pread(self._fd, length, offset)

    def write(self, offset: int, data: bytes) -> None:
        # SPI NOR flash can only clear bits; writing over unerased bytes ANDs them, as on
        # the chip. esptool erases before it writes, so well-behaved writers never notice.
        self._check(offset, len(data))
        old = os.pread(self._fd, len(data), offset)
        if old.count(ERASED) != len(old):
            n = len(data)
            data = (int.from_bytes(old, "big") & int.from_bytes(data, "big")).to_bytes(n, "big")
        os.pwrite(self._fd, data, offset)

    def erase(self, offset: int, length: int) -> None:
        self._check(offset, length)
        if offset % SECTOR or length % SECTOR:
            raise ValueError("flash erases whole 4 KiB sectors")
        os.pwrite(self._fd, b"\xff" * length, offset)

    def sync(self) -> None:
        os.fsync(self._fd)
