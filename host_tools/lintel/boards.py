"""Boards as data: board/<name>/board.json, loaded and validated into a Board.

A bad board file is one LintelError naming the file and the key (docs/board-json.md).
"""

import json
from dataclasses import dataclass
from pathlib import Path

from lintel import BOARD_DIR
from lintel.errors import LintelError
from lintel.partitions import Partition, check_layout, find

EMULATED = "unix"  # board/unix holds the emulator's hardware stand-ins, not a panel


@dataclass(frozen=True)
class Board:
    name: str
    path: Path  # the board.json file
    data: dict  # the whole validated document
    flash_size: int
    partitions: tuple[Partition, ...]

    @property
    def vfs(self) -> Partition:
        return find(list(self.partitions), "vfs")

    @property
    def nvs(self) -> Partition:
        return find(list(self.partitions), "nvs")

    @property
    def firmware(self) -> dict:
        return self.data["firmware"]

    @property
    def display(self) -> dict:
        return self.data["display"]


def names() -> list[str]:
    return sorted(
        p.parent.name for p in BOARD_DIR.glob("*/board.json") if p.parent.name != EMULATED
    )


def load(name_or_path: str | Path) -> Board:
    """Load a board by registry name (board/<name>/board.json) or by a path to a board.json."""
    path = Path(name_or_path)
    if not path.suffix == ".json":
        path = BOARD_DIR / str(name_or_path) / "board.json"
        if not path.is_file():
            raise LintelError(
                f"unknown board {str(name_or_path)!r} (known: {', '.join(names()) or 'none'})"
            )
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise LintelError(f"cannot read board file {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise LintelError(f"{path}: not valid JSON at line {e.lineno}: {e.msg}") from None
    return from_dict(data, path)


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise LintelError(f"{self.path}: {key}: {problem}")

    def get(self, obj: dict, key: str, kind, where: str):
        full = f"{where}.{key}" if where else key
        if not isinstance(obj, dict) or key not in obj:
            self.fail(full, "missing")
        value = obj[key]
        if kind is int:
            value = self.integer(value, full)
        elif not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(full, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def integer(self, value, key: str) -> int:
        # Sizes and offsets may be written as JSON integers or as "0x..." strings.
        if isinstance(value, bool):
            self.fail(key, "must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                pass
        self.fail(key, f"must be an integer or a hex string like \"0x9000\", not {value!r}")


def _kind_name(kind) -> str:
    return {str: "a string", dict: "an object", list: "a list", bool: "true or false",
            (int, float): "a number"}.get(kind, getattr(kind, "__name__", str(kind)))


def from_dict(data: dict, path: Path) -> Board:
    c = _Checker(path)
    if not isinstance(data, dict):
        c.fail("(top)", "must be a JSON object")
    name = c.get(data, "name", str, "")
    if c.get(data, "chip", str, "") != "esp32s3":
        c.fail("chip", "only esp32s3 is supported")
    fw = c.get(data, "firmware", dict, "")
    c.get(fw, "micropython", str, "firmware")
    c.get(fw, "mpy_version", int, "firmware")
    c.get(fw, "mpy_sub_version", int, "firmware")
    display = c.get(data, "display", dict, "")
    if c.get(display, "kind", str, "display") not in ("epaper", "lcd"):
        c.fail("display.kind", "must be \"epaper\" or \"lcd\"")
    c.get(display, "controller", str, "display")
    for key in ("width", "height"):
        if not 0 < c.get(display, key, int, "display") <= 4096:
            c.fail(f"display.{key}", "must be between 1 and 4096")
    if c.get(display, "color_depth", int, "display") not in (1, 2, 4, 8, 16, 24):
        c.fail("display.color_depth", "must be 1, 2, 4, 8, 16 or 24 bits per pixel")
    pins = c.get(data, "pins", dict, "")
    _check_pins(c, pins, "pins")
    power = c.get(data, "power", dict, "")
    if c.get(power, "source", str, "power") not in ("battery", "mains"):
        c.fail("power.source", "must be \"battery\" or \"mains\"")
    flash = c.get(data, "flash", dict, "")
    flash_size = c.get(flash, "size", int, "flash")
    if flash_size not in (4 << 20, 8 << 20, 16 << 20, 32 << 20):
        c.fail("flash.size", "must be 4, 8, 16 or 32 MiB")
    rows = c.get(flash, "partitions", list, "flash")
    parts = []
    for i, row in enumerate(rows):
        where = f"flash.partitions[{i}]"
        parts.append(Partition(
            name=c.get(row, "name", str, where),
            type=c.get(row, "type", str, where),
            subtype=c.get(row, "subtype", str, where),
            offset=c.get(row, "offset", int, where),
            size=c.get(row, "size", int, where),
        ))
    try:
        check_layout(parts, flash_size)
        vfs = find(parts, "vfs")
        find(parts, "nvs")
    except LintelError as e:
        c.fail("flash.partitions", str(e))
    if vfs.type != "data":
        c.fail("flash.partitions", "the vfs partition must be of type data")
    return Board(name=name, path=path, data=data, flash_size=flash_size,
                 partitions=tuple(parts))


def _check_pins(c: _Checker, pins: dict, where: str) -> None:
    # ESP32-S3 has GPIO0..GPIO48 (datasheet, "Pin Overview"); null means not connected.
    for key, value in pins.items():
        full = f"{where}.{key}"
        if isinstance(value, dict):
            _check_pins(c, value, full)
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                    or not 0 <= value <= 48):
            c.fail(full, f"must be a GPIO number 0..48 or null, not {value!r}")
