"""board.json files: the real boards validate, and every kind of mistake is one clear line
naming the file and the key."""

import copy
import json
import subprocess
import sys

import pytest

from lintel import boards
from lintel.errors import LintelError

REAL = ("esp32s3-epd75", "esp32s3-lcd43")


def raw(name: str) -> dict:
    return json.loads(boards.load(name).path.read_text())


@pytest.mark.parametrize("name", REAL)
def test_real_boards_load(name):
    b = boards.load(name)
    assert b.name == name
    assert b.flash_size == b.module["flash_mb"] << 20
    assert b.vfs.type == "data" and b.app.offset == 0x10000
    assert b.firmware["micropython"] == "1.28.0"
    assert (b.firmware["mpy_version"], b.firmware["mpy_sub_version"]) == (6, 3)
    assert b.console["rom_loader"]["usb_vid"] == "0x303A"
    assert b.console["rom_loader"]["usb_pid"] == "0x1001"


def test_names_lists_the_panels():
    assert set(REAL) <= set(boards.names())
    assert boards.EMULATED not in boards.names()


@pytest.mark.parametrize("name", REAL)
def test_every_figure_has_a_number_and_a_source(name):
    b = boards.load(name)
    figures = dict(b.power["figures"])
    if b.display["kind"] == "epaper":
        figures.update({f"refresh.{k}": v for k, v in b.display["refresh"].items()})
    assert figures
    for key, fig in figures.items():
        assert isinstance(fig["value"], (int, float)) and not isinstance(fig["value"], bool), key
        assert isinstance(fig["source"], str) and len(fig["source"]) > 20, key
        if fig.get("estimate"):
            assert "estimate" in fig["source"].lower(), key


def test_battery_board_figures():
    b = boards.load("esp32s3-epd75")
    assert b.power["source"] == "battery"
    assert b.figure("battery_capacity_mah") == 3000
    assert 0 < b.figure("battery_usable_fraction") <= 1
    assert b.figure("deep_sleep_ua") < b.figure("light_sleep_ua")
    assert (b.figure("active_80mhz_ma") < b.figure("active_160mhz_ma")
            < b.figure("active_240mhz_ma") < b.figure("wifi_tx_ma"))
    divider = b.power["battery"]["divider"]
    assert divider["ratio"] == 2.0
    assert b.pin("battery.adc") in boards.ADC1_GPIOS
    for dotted in b.power["wake_pins"]:
        assert b.pin(dotted) in boards.RTC_GPIOS


def test_lcd_board_pins_follow_the_waveshare_board():
    b = boards.load("esp32s3-lcd43")
    assert b.power["source"] == "mains"
    assert len(b.pin("rgb.data")) == 16
    assert (b.pin("rgb.hsync"), b.pin("rgb.vsync"), b.pin("rgb.de"), b.pin("rgb.pclk")) == (
        46, 3, 5, 7)
    assert (b.pin("i2c.sda"), b.pin("i2c.scl"), b.pin("touch.int")) == (8, 9, 4)
    assert b.data["io_expander"]["outputs"]["backlight"] == 2


def test_figure_lookup_names_a_missing_figure():
    with pytest.raises(LintelError, match="power.figures has no 'nope_ua'"):
        boards.load("esp32s3-epd75").figure("nope_ua")


# ---- mistakes, each checked in-process and through the CLI --------------------------------

def _set(doc, dotted, value):
    keys = dotted.split(".")
    node = doc
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


DELETE = object()

# (base board, change, words that must appear in the one-line message)
MISTAKES = [
    ("esp32s3-epd75", ("display", DELETE), "display: missing"),
    ("esp32s3-epd75", ("display.width", DELETE), "display.width: missing"),
    ("esp32s3-epd75", ("firmware.mpy_version", "six"), "firmware.mpy_version"),
    ("esp32s3-epd75", ("pins.epd.cs", 23), "pins.epd.cs: GPIO23 does not exist"),
    ("esp32s3-epd75", ("pins.epd.cs", 49), "pins.epd.cs: must be a GPIO number"),
    ("esp32s3-epd75", ("pins.epd.cs", "10"), "pins.epd.cs: must be a GPIO number"),
    ("esp32s3-epd75", ("pins.epd.cs", True), "pins.epd.cs: must be a GPIO number"),
    ("esp32s3-epd75", ("pins.epd.cs", 30), "pins.epd.cs: GPIO30 is not available"),
    ("esp32s3-epd75", ("pins.epd.cs", 19), "pins.epd.cs: GPIO19 belongs to the usb console"),
    ("esp32s3-epd75", ("pins.epd.cs", 9), "pins.epd.dc: GPIO9 is already used by pins.epd.cs"),
    ("esp32s3-epd75", ("pins.battery.adc", 16), "pins.battery.adc: GPIO16 is not on ADC1"),
    ("esp32s3-epd75", ("pins.led.active_low", 1), "pins.led.active_low: must be true or false"),
    ("esp32s3-epd75", ("power.wake_pins", ["led.red"]), "power.wake_pins[0]"),
    ("esp32s3-epd75", ("power.wake_pins", ["buttons.nope"]), "pins has no 'buttons.nope'"),
    ("esp32s3-lcd43", ("pins.rgb.data.0", 36), "pins.rgb.data[0]: GPIO36 is not available"),
    ("esp32s3-epd75", ("power.figures.deep_sleep_ua.source", DELETE),
     "power.figures.deep_sleep_ua.source: missing"),
    ("esp32s3-epd75", ("power.figures.deep_sleep_ua.value", "7"),
     "power.figures.deep_sleep_ua.value: must be a number"),
    ("esp32s3-epd75", ("power.figures.deep_sleep_ua.value", -1),
     "power.figures.deep_sleep_ua.value: must not be negative"),
    ("esp32s3-epd75", ("power.figures.deep_sleep_ua.source", "  "),
     "power.figures.deep_sleep_ua.source: must not be empty"),
    ("esp32s3-epd75", ("power.figures.wifi_rx_ma", DELETE),
     "power.figures.wifi_rx_ma: missing"),
    ("esp32s3-epd75", ("power.figures.epd_standby_ua", DELETE),
     "power.figures.epd_standby_ua: missing (a battery-powered board needs it)"),
    ("esp32s3-epd75", ("power.figures.sleep", {"value": 1, "source": "made up for a test"}),
     "power.figures.sleep: the name must end in its unit"),
    ("esp32s3-epd75", ("power.figures.battery_usable_fraction.value", 1.5),
     "battery_usable_fraction.value: must be in (0, 1]"),
    ("esp32s3-epd75", ("power.battery.divider.ratio", 3.0),
     "power.battery.divider.ratio: is 3.0 but"),
    ("esp32s3-epd75", ("power.battery.curve_mv_percent", [[3300, 0], [4200, 100]]),
     "power.battery.curve_mv_percent: must run from full to empty"),
    ("esp32s3-epd75", ("power.battery.curve_mv_percent", [[4200, 100], [3300, 5]]),
     "power.battery.curve_mv_percent: must start at 100 % and end at 0 %"),
    ("esp32s3-epd75", ("power.battery.curve_mv_percent", [[4200, 100]]),
     "power.battery.curve_mv_percent: must be two or more"),
    ("esp32s3-epd75", ("display.refresh.full_s.source", DELETE),
     "display.refresh.full_s.source: missing"),
    ("esp32s3-epd75", ("console.repl.usb_pid", "4001"), "console.repl.usb_pid"),
    ("esp32s3-epd75", ("module.flash_mb", 16), "flash.size: is 8 MiB but"),
    ("esp32s3-epd75", ("flash.partitions.5.offset", "0x470000"),
     "flash.partitions: partition 'vfs' at 0x470000 overlaps"),
    ("esp32s3-epd75", ("flash.partitions.5.size", "0x500000"),
     "flash.partitions: partition 'vfs' ends at 0x980000, past the flash size"),
    ("esp32s3-epd75", ("flash.partitions.5.name", "data"),
     "flash.partitions: the partition table has no 'vfs' partition"),
    ("esp32s3-epd75", ("flash.partitions.4.name", "data"),
     "flash.partitions: the partition table has no 'romfs' partition"),
    ("esp32s3-epd75", ("flash.partitions.4.type", "app"),
     "flash.partitions: the romfs partition must be of type data"),
    ("esp32s3-epd75", ("flash.partitions.2.offset", "0x11000"), "must start on a 64 KiB"),
]


@pytest.mark.parametrize("base, change, words", MISTAKES,
                         ids=[f"{m[1][0]}={m[1][1]!r}"[:60] for m in MISTAKES])
def test_mistake_in_process(tmp_path, base, change, words):
    doc = copy.deepcopy(raw(base))
    _set(doc, *change)
    path = tmp_path / "board.json"
    with pytest.raises(LintelError) as e:
        boards.from_dict(doc, path)
    assert words in str(e.value)
    assert str(e.value).startswith(f"{path}: ")


def lintel(*args):
    return subprocess.run([sys.executable, "-m", "lintel", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def one_line_error(proc) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("change, words", [
    (("display", DELETE), "display: missing"),
    (("pins.epd.cs", 23), "pins.epd.cs: GPIO23 does not exist"),
    (("flash.partitions.5.offset", "0x470000"), "flash.partitions: partition 'vfs'"),
    (("power.figures.deep_sleep_ua.source", DELETE), "power.figures.deep_sleep_ua.source"),
])
def test_mistake_through_the_cli(tmp_path, change, words):
    doc = raw("esp32s3-epd75")
    _set(doc, *change)
    path = tmp_path / "board.json"
    path.write_text(json.dumps(doc))
    line = one_line_error(lintel("build", "--board", path, "--out", tmp_path / "out"))
    assert words in line and str(path) in line


def test_bad_json_through_the_cli(tmp_path):
    path = tmp_path / "board.json"
    path.write_text(raw_text := boards.load("esp32s3-epd75").path.read_text())
    path.write_text(raw_text.replace('"chip": "esp32s3",', '"chip": "esp32s3"', 1))
    line = one_line_error(lintel("build", "--board", path, "--out", tmp_path / "out"))
    assert "not valid JSON at line" in line and str(path) in line


def test_missing_board_file_through_the_cli(tmp_path):
    line = one_line_error(lintel("build", "--board", tmp_path / "none.json",
                                 "--out", tmp_path / "out"))
    assert "cannot read board file" in line


def test_unknown_board_through_the_cli(tmp_path):
    line = one_line_error(lintel("build", "--board", "nope", "--out", tmp_path / "out"))
    assert "unknown board 'nope'" in line


def test_top_level_not_an_object(tmp_path):
    with pytest.raises(LintelError, match="must be a JSON object"):
        boards.from_dict([], tmp_path / "board.json")
