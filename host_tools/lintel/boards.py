"""Boards as data: board/<name>/board.json, loaded and validated into a Board.

A bad board file is one LintelError naming the file and the key (docs/board-json.md).
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

from lintel import BOARD_DIR
from lintel.errors import LintelError
from lintel.partitions import Partition, check_layout, find

EMULATED = "unix"  # board/unix holds the emulator's hardware stand-ins, not a panel

# ESP32-S3 facts the pin checks use (ESP32-S3 Series Datasheet v2.2, chapter 2 "Pins"):
GPIO_MAX = 48
NO_SUCH_GPIOS = frozenset(range(22, 26))  # the chip has GPIO0-21 and GPIO26-48
RTC_GPIOS = frozenset(range(0, 22))  # RTC_GPIO0-21: the only pins that wake deep sleep
ADC1_GPIOS = frozenset(range(1, 11))  # ADC1_CH0-9; ADC2 is unusable while Wi-Fi runs

# Power figure names end in their unit (docs/board-json.md, "power.figures").
FIGURE_UNITS = ("_ua", "_ma", "_mw", "_mj", "_mah", "_s", "_v", "_fraction", "_pct_per_month")
CHIP_FIGURES = (
    "deep_sleep_ua", "light_sleep_ua", "active_80mhz_ma", "active_160mhz_ma",
    "active_240mhz_ma", "wifi_tx_ma", "wifi_rx_ma",
)
BATTERY_FIGURES = (
    "regulator_quiescent_ua", "battery_capacity_mah", "battery_usable_fraction",
)
EPAPER_BATTERY_FIGURES = ("epd_refresh_mw", "epd_partial_refresh_mw", "epd_standby_ua")


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
    def romfs(self) -> Partition:
        return find(list(self.partitions), "romfs")

    @property
    def nvs(self) -> Partition:
        return find(list(self.partitions), "nvs")

    @property
    def app(self) -> Partition:
        """The partition the bootloader starts: factory, else the first app partition."""
        apps = [p for p in self.partitions if p.type == "app"]
        for p in apps:
            if p.subtype == "factory":
                return p
        return apps[0]

    @property
    def firmware(self) -> dict:
        return self.data["firmware"]

    @property
    def display(self) -> dict:
        return self.data["display"]

    @property
    def pins(self) -> dict:
        return self.data["pins"]

    @property
    def power(self) -> dict:
        return self.data["power"]

    @property
    def console(self) -> dict:
        return self.data["console"]

    @property
    def module(self) -> dict:
        return self.data["module"]

    def figure(self, name: str) -> float:
        """A power figure's value, e.g. board.figure("deep_sleep_ua")."""
        figures = self.power["figures"]
        if name not in figures:
            raise LintelError(f"{self.path}: power.figures has no {name!r}")
        return figures[name]["value"]

    def pin(self, dotted: str) -> int | None:
        """A pin by its dotted key, e.g. board.pin("epd.busy")."""
        return _resolve_pin(self.pins, dotted)


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
        elif kind is float:
            value = self.number(value, full)
        elif not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(full, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def optional(self, obj: dict, key: str, kind, where: str, default=None):
        if key not in obj:
            return default
        return self.get(obj, key, kind, where)

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

    def number(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be a number, not {value!r}")
        if not math.isfinite(value):
            self.fail(key, "must be a finite number")
        return value

    def text(self, obj: dict, key: str, where: str) -> str:
        value = self.get(obj, key, str, where)
        if not value.strip():
            self.fail(f"{where}.{key}" if where else key, "must not be empty")
        return value


def _kind_name(kind) -> str:
    return {str: "a string", dict: "an object", list: "a list", bool: "true or false",
            (int, float): "a number"}.get(kind, getattr(kind, "__name__", str(kind)))


def from_dict(data: dict, path: Path) -> Board:
    c = _Checker(path)
    if not isinstance(data, dict):
        c.fail("(top)", "must be a JSON object")
    name = c.text(data, "name", "")
    c.optional(data, "description", str, "")
    if c.get(data, "chip", str, "") != "esp32s3":
        c.fail("chip", "only esp32s3 is supported")
    module = _check_module(c, c.get(data, "module", dict, ""))
    _check_firmware(c, c.get(data, "firmware", dict, ""))
    console = _check_console(c, c.get(data, "console", dict, ""))
    display = _check_display(c, c.get(data, "display", dict, ""))
    pins = c.get(data, "pins", dict, "")
    _check_pins(c, pins, module, console)
    _check_power(c, c.get(data, "power", dict, ""), display, pins)
    flash_size, parts = _check_flash(c, c.get(data, "flash", dict, ""), module)
    return Board(name=name, path=path, data=data, flash_size=flash_size,
                 partitions=tuple(parts))


def _check_module(c: _Checker, module: dict) -> dict:
    c.text(module, "name", "module")
    if not 1 <= c.get(module, "flash_mb", int, "module") <= 32:
        c.fail("module.flash_mb", "must be between 1 and 32")
    if c.get(module, "psram", str, "module") not in ("none", "quad", "octal"):
        c.fail("module.psram", "must be \"none\", \"quad\" or \"octal\"")
    c.get(module, "psram_mb", int, "module")
    for i, gpio in enumerate(c.get(module, "unavailable_gpios", list, "module")):
        _gpio(c, gpio, f"module.unavailable_gpios[{i}]")
    c.text(module, "source", "module")
    return module


def _check_firmware(c: _Checker, fw: dict) -> None:
    version = c.get(fw, "micropython", str, "firmware")
    if not all(part.isdigit() for part in version.split(".")) or version.count(".") != 2:
        c.fail("firmware.micropython", f"must be a version like \"1.28.0\", not {version!r}")
    if not 0 <= c.get(fw, "mpy_version", int, "firmware") <= 255:
        c.fail("firmware.mpy_version", "must be 0..255")
    if not 0 <= c.get(fw, "mpy_sub_version", int, "firmware") <= 3:
        c.fail("firmware.mpy_sub_version", "must be 0..3 (it has two bits in the .mpy header)")
    if c.get(fw, "arch", str, "firmware") != "xtensawin":
        c.fail("firmware.arch", "must be \"xtensawin\" (the ESP32-S3's native code arch)")


def _check_console(c: _Checker, console: dict) -> dict:
    if c.get(console, "kind", str, "console") not in ("usb", "uart"):
        c.fail("console.kind", "must be \"usb\" or \"uart\"")
    for i, gpio in enumerate(c.get(console, "gpios", list, "console")):
        _gpio(c, gpio, f"console.gpios[{i}]")
    for role in ("repl", "rom_loader"):
        entry = c.get(console, role, dict, "console")
        for key in ("usb_vid", "usb_pid"):
            value = c.get(entry, key, str, f"console.{role}")
            try:
                number = int(value, 16)
            except ValueError:
                number = -1
            if not value.lower().startswith("0x") or not 0 <= number <= 0xFFFF:
                c.fail(f"console.{role}.{key}", f"must be a hex string like \"0x303A\", "
                       f"not {value!r}")
        c.text(entry, "source", f"console.{role}")
    return console


def _check_display(c: _Checker, display: dict) -> dict:
    kind = c.get(display, "kind", str, "display")
    if kind not in ("epaper", "lcd"):
        c.fail("display.kind", "must be \"epaper\" or \"lcd\"")
    c.get(display, "controller", str, "display")
    for key in ("width", "height"):
        if not 0 < c.get(display, key, int, "display") <= 4096:
            c.fail(f"display.{key}", "must be between 1 and 4096")
    if c.get(display, "color_depth", int, "display") not in (1, 2, 4, 8, 16, 24):
        c.fail("display.color_depth", "must be 1, 2, 4, 8, 16 or 24 bits per pixel")
    if "active_area_mm" in display:
        area = c.get(display, "active_area_mm", list, "display")
        if len(area) != 2:
            c.fail("display.active_area_mm", "must be [width, height] in mm")
        for i, v in enumerate(area):
            if c.number(v, f"display.active_area_mm[{i}]") <= 0:
                c.fail(f"display.active_area_mm[{i}]", "must be positive")
    if kind == "epaper":
        refresh = c.get(display, "refresh", dict, "display")
        for key in ("full_s", "partial_s"):
            _check_figure(c, c.get(refresh, key, dict, "display.refresh"),
                          f"display.refresh.{key}")
    return display


def _gpio(c: _Checker, value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= GPIO_MAX:
        c.fail(key, f"must be a GPIO number 0..{GPIO_MAX} or null, not {value!r}")
    if value in NO_SUCH_GPIOS:
        c.fail(key, f"GPIO{value} does not exist on the ESP32-S3 (it has GPIO0-21 and 26-48)")
    return value


def _walk_pins(c: _Checker, node, where: str, out: list[tuple[str, int]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "active_low":  # the group's polarity, not a pin
                if not isinstance(value, bool):
                    c.fail(f"{where}.{key}", f"must be true or false, not {value!r}")
                continue
            _walk_pins(c, value, f"{where}.{key}", out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                c.fail(f"{where}[{i}]", "a pin list holds GPIO numbers only")
            _walk_pins(c, value, f"{where}[{i}]", out)
    elif node is not None:
        out.append((where, _gpio(c, node, where)))


def _check_pins(c: _Checker, pins: dict, module: dict, console: dict) -> None:
    used: list[tuple[str, int]] = []
    for key, value in pins.items():
        _walk_pins(c, value, f"pins.{key}", used)
    unavailable = set(module["unavailable_gpios"])
    reserved = set(console["gpios"])
    first_use: dict[int, str] = {}
    for key, gpio in used:
        if gpio in unavailable:
            c.fail(key, f"GPIO{gpio} is not available on the {module['name']} "
                        f"(module.unavailable_gpios)")
        if gpio in reserved:
            c.fail(key, f"GPIO{gpio} belongs to the {console['kind']} console (console.gpios)")
        if gpio in first_use:
            c.fail(key, f"GPIO{gpio} is already used by {first_use[gpio]}")
        first_use[gpio] = key
    battery = pins.get("battery")
    if isinstance(battery, dict) and battery.get("adc") is not None:
        if battery["adc"] not in ADC1_GPIOS:
            c.fail("pins.battery.adc", f"GPIO{battery['adc']} is not on ADC1 (GPIO1-10); "
                                       "ADC2 cannot be read while Wi-Fi is on")


def _resolve_pin(pins: dict, dotted: str):
    node = pins
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _check_figure(c: _Checker, figure: dict, where: str) -> float:
    value = c.get(figure, "value", float, where)
    if value < 0:
        c.fail(f"{where}.value", "must not be negative")
    c.text(figure, "source", where)
    c.optional(figure, "estimate", bool, where)
    unknown = set(figure) - {"value", "source", "estimate"}
    if unknown:
        c.fail(where, f"unknown key {sorted(unknown)[0]!r} (a figure has value, source, "
                      "estimate)")
    return value


def _check_power(c: _Checker, power: dict, display: dict, pins: dict) -> None:
    source = c.get(power, "source", str, "power")
    if source not in ("battery", "mains"):
        c.fail("power.source", "must be \"battery\" or \"mains\"")
    for i, dotted in enumerate(c.get(power, "wake_pins", list, "power")):
        key = f"power.wake_pins[{i}]"
        if not isinstance(dotted, str):
            c.fail(key, "must be a pin key like \"buttons.wake\"")
        try:
            gpio = _resolve_pin(pins, dotted)
        except KeyError:
            c.fail(key, f"pins has no {dotted!r}")
        if not isinstance(gpio, int) or gpio not in RTC_GPIOS:
            c.fail(key, f"pins.{dotted} (GPIO{gpio}) cannot wake deep sleep: only RTC GPIOs "
                        "0-21 can")
    figures = c.get(power, "figures", dict, "power")
    for fname in figures:
        if not fname.endswith(FIGURE_UNITS):
            c.fail(f"power.figures.{fname}", "the name must end in its unit "
                   f"({', '.join(FIGURE_UNITS)})")
        _check_figure(c, c.get(figures, fname, dict, "power.figures"), f"power.figures.{fname}")
    required = list(CHIP_FIGURES)
    if source == "battery":
        required += BATTERY_FIGURES
        if display["kind"] == "epaper":
            required += EPAPER_BATTERY_FIGURES
        _check_battery(c, c.get(power, "battery", dict, "power"))
        fraction = figures.get("battery_usable_fraction")
        if fraction and not 0 < fraction["value"] <= 1:
            c.fail("power.figures.battery_usable_fraction.value", "must be in (0, 1]")
    for fname in required:
        if fname not in figures:
            c.fail(f"power.figures.{fname}", f"missing (a {source}-powered board needs it)")


def _check_battery(c: _Checker, battery: dict) -> None:
    c.get(battery, "chemistry", str, "power.battery")
    for key in ("nominal_v", "full_v", "empty_v"):
        if c.get(battery, key, float, "power.battery") <= 0:
            c.fail(f"power.battery.{key}", "must be positive")
    if not battery["empty_v"] < battery["full_v"]:
        c.fail("power.battery.empty_v", "must be below full_v")
    divider = c.get(battery, "divider", dict, "power.battery")
    top = c.get(divider, "r_top_ohm", float, "power.battery.divider")
    bottom = c.get(divider, "r_bottom_ohm", float, "power.battery.divider")
    ratio = c.get(divider, "ratio", float, "power.battery.divider")
    if top < 0 or bottom <= 0:
        c.fail("power.battery.divider", "resistances must be positive")
    if abs(ratio - (top + bottom) / bottom) > 1e-6 * ratio:
        c.fail("power.battery.divider.ratio",
               f"is {ratio} but (r_top + r_bottom) / r_bottom = {(top + bottom) / bottom:g}")
    c.get(divider, "switched", bool, "power.battery.divider")
    # The firmware interpolates the charge on this curve (firmware/drivers/battery.py).
    curve = c.get(battery, "curve_mv_percent", list, "power.battery")
    points = [p for p in curve if isinstance(p, list) and len(p) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in p)]
    if len(points) != len(curve) or len(points) < 2:
        c.fail("power.battery.curve_mv_percent", "must be two or more [mV, percent] pairs "
                                                  "of whole numbers")
    elif any(a[0] <= b[0] or a[1] < b[1] for a, b in zip(points, points[1:], strict=False)):
        c.fail("power.battery.curve_mv_percent", "must run from full to empty: mV falling, "
                                                  "percent not rising")
    elif points[0][1] != 100 or points[-1][1] != 0:
        c.fail("power.battery.curve_mv_percent", "must start at 100 % and end at 0 %")


def _check_flash(c: _Checker, flash: dict, module: dict) -> tuple[int, list[Partition]]:
    flash_size = c.get(flash, "size", int, "flash")
    if flash_size not in (4 << 20, 8 << 20, 16 << 20, 32 << 20):
        c.fail("flash.size", "must be 4, 8, 16 or 32 MiB")
    if flash_size != module["flash_mb"] << 20:
        c.fail("flash.size", f"is {flash_size >> 20} MiB but the {module['name']} has "
                             f"{module['flash_mb']} MiB (module.flash_mb)")
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
        romfs = find(parts, "romfs")
        find(parts, "nvs")
    except LintelError as e:
        c.fail("flash.partitions", str(e))
    if vfs.type != "data":
        c.fail("flash.partitions", "the vfs partition must be of type data")
    if romfs.type != "data":
        # MicroPython's esp32 port looks for a data partition labelled romfs.
        c.fail("flash.partitions", "the romfs partition must be of type data")
    if not any(p.type == "app" for p in parts):
        c.fail("flash.partitions", "there is no app partition for the MicroPython firmware")
    if vfs.size < 16 * 4096:
        c.fail("flash.partitions", "the vfs partition must be at least 64 KiB")
    return flash_size, parts
