"""The emulated panel against the unmodified tools: mpremote on its console, esptool on its ROM."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from helpers import Emulator, built_image, run_lintel
from lintel import FIRMWARE_DIR
from lintel.image import read_vfs


@pytest.fixture
def flash(tmp_path):
    """A fresh copy of the e-paper board's image."""
    path = tmp_path / "flash.bin"
    shutil.copyfile(built_image("esp32s3-epd75") / "flash.bin", path)
    return path


@pytest.fixture
def panel(flash, tmp_path):
    emu = Emulator(flash, tmp_path, "--mac", "7c:df:a1:00:be:ef")
    yield emu
    emu.stop()


def vfs_part(build_dir, name="vfs") -> dict:
    """A partition's row (vfs, romfs) of a build's manifest: offset, size, file."""
    manifest = json.loads((build_dir / "manifest.json").read_text())
    return next(p for p in manifest["parts"] if p["name"] == name)


def vfs_files(flash_path) -> dict:
    """The vfs partition's files as littlefs-python reads them from the flash file."""
    vfs = vfs_part(built_image("esp32s3-epd75"))
    return read_vfs(flash_path.read_bytes()[vfs["offset"]:vfs["offset"] + vfs["size"]])


def test_mpremote_exec_and_eval(panel):
    out = panel.mpremote("exec", "print(6*7)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"
    out = panel.mpremote("eval", "1 + 2", "+", "eval", "len(bytes(1000))")
    assert out.stdout.split() == ["3", "1000"]


def test_mpremote_errors_come_back_as_tracebacks(panel):
    out = panel.mpremote("exec", "import nonexistent_module")
    assert out.returncode != 0
    assert "ImportError: no module named 'nonexistent_module'" in out.stdout + out.stderr


def test_mpremote_files_land_in_the_flash_file_and_survive_a_restart(panel, flash, tmp_path):
    local = tmp_path / "note.txt"
    local.write_text("room 4.12: projector lamp replaced\n")
    assert panel.mpremote("fs", "cp", str(local), ":note.txt").returncode == 0
    out = panel.mpremote("fs", "cat", ":note.txt")
    assert out.stdout == "room 4.12: projector lamp replaced\n"
    assert "note.txt" in panel.mpremote("fs", "ls").stdout
    panel.stop()
    assert vfs_files(flash)["note.txt"] == local.read_bytes()

    (tmp_path / "again").mkdir()
    again = Emulator(flash, tmp_path / "again")
    try:
        out = again.mpremote("fs", "cat", ":note.txt")
        assert out.stdout == local.read_text(), (out.stderr, again.console_text(), again.errors())
        assert again.mpremote("fs", "rm", ":note.txt").returncode == 0
        assert "note.txt" not in again.mpremote("fs", "ls").stdout
    finally:
        again.stop()
    assert "note.txt" not in vfs_files(flash)


def test_mpremote_copies_64_kib_both_ways(panel, tmp_path):
    payload = bytes(range(256)) * 256
    (tmp_path / "up.bin").write_bytes(payload)
    assert panel.mpremote("fs", "cp", str(tmp_path / "up.bin"), ":up.bin").returncode == 0
    out = panel.mpremote("fs", "cp", ":up.bin", str(tmp_path / "down.bin"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "down.bin").read_bytes() == payload


def test_mpremote_run_soft_reset_and_reset(panel, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import machine\nprint('hello from', machine.unique_id().hex())\n")
    out = panel.mpremote("run", str(script))
    assert out.stdout.strip() == "hello from 7cdfa100beef"
    # A soft reset restarts the process: what the last session defined is gone.
    panel.mpremote("exec", "marker = 1")
    assert panel.mpremote("soft-reset").returncode == 0
    out = panel.mpremote("exec", "print('marker' in globals())")
    assert out.stdout.strip() == "False"
    assert "MPY: soft reboot" in panel.console_text()
    # A hard reset goes through the ROM again and runs main.py.
    mark = panel.mark()
    assert panel.mpremote("reset").returncode == 0
    panel.wait_for("rst:0xc (RTC_SW_CPU_RST)", since=mark)
    panel.wait_for("software reset, wake", since=mark)


def test_esptool_reads_the_mac_and_chip(panel):
    out = panel.esptool("read-mac")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7c:df:a1:00:be:ef" in out.stdout.lower()
    out = panel.esptool("chip-id")
    assert out.returncode == 0 and "ESP32-S3" in out.stdout


def test_esptool_read_flash_round_trip(panel, tmp_path):
    expected = (built_image("esp32s3-epd75") / "partition-table.bin").read_bytes()
    out = panel.esptool("read-flash", "0x8000", str(len(expected)), str(tmp_path / "pt.bin"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "pt.bin").read_bytes() == expected


@pytest.mark.parametrize(
    ("loader", "compression"),
    [([], ["-z"]), ([], ["--no-compress"]), (["--no-stub"], ["-z"]),
     (["--no-stub"], ["--no-compress"])],
    ids=["stub-compressed", "stub-plain", "rom-compressed", "rom-plain"],
)
def test_esptool_write_flash_of_a_rebuilt_app_boots_the_new_content(
    panel, tmp_path, loader, compression
):
    # Rebuild the image with one more module, then write only the application, as lintel
    # flash --app-only does: the romfs and vfs partitions in one esptool run.
    firmware = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, firmware)
    (firmware / "greeting.py").write_text("MESSAGE = 'new app written by esptool'\n")
    out_dir = tmp_path / "rebuilt"
    run_lintel("build", "--board", "esp32s3-epd75", "--firmware", firmware, "--out", out_dir)
    options = [*loader, "write-flash", *compression]
    for name in ("romfs", "vfs"):
        options += [hex(vfs_part(out_dir, name)["offset"]), str(out_dir / f"{name}.bin")]
    mark = panel.mark()
    out = panel.esptool(*options)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verified" in out.stdout.lower()
    assert ("compressed)" in out.stdout) == (compression == ["-z"])
    panel.wait_for("rst:0x1 (POWERON)", since=mark)
    out = panel.mpremote("exec", "import greeting; print(greeting.MESSAGE, greeting.__file__)")
    assert out.stdout.strip() == "new app written by esptool /rom/greeting.mpy", out.stderr


def test_deep_sleep_restarts_with_rtc_memory_kept(panel):
    # The app counts its wakes in RTC memory; --speed 1000 makes its 15-minute sleep 0.9 s.
    panel.wait_for("power-on, wake 1")
    text = panel.wait_for("deep-sleep wake, wake 3")
    assert "wake 2" in text


def test_the_watchdog_resets_a_panel_that_stops_feeding_it(panel):
    out = panel.mpremote("exec", "import machine; wdt = machine.WDT(timeout=300)")
    assert out.returncode == 0, out.stderr
    panel.wait_for("rst:0x7 (TG0WDT_SYS_RST)")
    panel.wait_for("watchdog, wake")


def test_the_friendly_repl_answers_a_person(panel):
    import serial

    panel.wait_for("state: not configured")
    with serial.Serial(str(panel.link), timeout=0.2) as port:
        typed(port, b"\r\x03", b">>> ")  # wakes the sleeping panel, interrupts main.py
        assert b"42" in typed(port, b"print(6 * 7)\r", b">>> ")
        seen = typed(port, b"for i in range(3):\r    print('line', i)\r\r", b"line 2")
        assert b"line 0" in seen and b"line 1" in seen
        typed(port, b"\x04", b"MPY: soft reboot")


# Code that takes a Ctrl-C slowly, then looks at what is waiting on the console: the REPL
# itself does that when a SIGINT lands between its read of the console and its use of what it
# read. Pasted in paste mode; the test types a Ctrl-C and a line while it waits (paste mode
# echoes the source, hence 'wait' + 'ing': the test waits for the program's word).
_TAKES_CTRL_C_SLOWLY = """import sys, time, chip
try:
    print('wait' + 'ing'); time.sleep(10)
except KeyboardInterrupt:
    time.sleep_ms(200)
    print('typed after it:', sys.stdin.buffer.read(64))
    if SAYS_SO:
        chip.took_interrupt()
"""


@pytest.mark.parametrize("says_so", [True, False], ids=["taken", "caught-quietly"])
def test_what_is_typed_after_a_ctrl_c_waits_until_the_firmware_took_it(panel, says_so):
    """The emulator holds the typing after a Ctrl-C until the firmware has taken it (a
    KeyboardInterrupt handled), or for CTRL_C_WAIT_S when the code that caught it keeps quiet;
    sent at once, mpremote's Ctrl-A after its Ctrl-C was sometimes read and lost with it."""
    import serial

    from lintel.emulator.panel import CTRL_C_WAIT_S

    panel.wait_for("state: not configured")
    with serial.Serial(str(panel.link), timeout=0.2) as port:
        typed(port, b"\r\x03", b">>> ")
        typed(port, f"SAYS_SO = {says_so}\r".encode(), b">>> ")
        typed(port, pasted(_TAKES_CTRL_C_SLOWLY), b"waiting")
        sent = time.monotonic()
        seen = typed(port, b"\x03print(6 * 7)\r", b"42")
        assert b"typed after it: None" in seen, seen
        # Taken, the line runs as soon as the firmware says so; else after the wait.
        assert (time.monotonic() - sent < CTRL_C_WAIT_S) == says_so


def test_a_ctrl_c_the_code_caught_is_not_given_to_the_next_boot(panel):
    """A Ctrl-C the firmware never took is the next boot's (it came as the chip reset), but
    one that code caught and kept quiet about was taken: main.py runs after the reset."""
    import serial

    from lintel.emulator.panel import CTRL_C_WAIT_S

    panel.wait_for("state: not configured")
    program = ("import time, machine\n"
               "try:\n"
               "    print('wait' + 'ing'); time.sleep(10)\n"
               "except KeyboardInterrupt:\n"
               "    pass\n"
               f"time.sleep({CTRL_C_WAIT_S + 1})\n"
               "machine.reset()\n")
    with serial.Serial(str(panel.link), timeout=0.2) as port:
        typed(port, b"\r\x03", b">>> ")
        typed(port, pasted(program), b"waiting")
        mark = panel.mark()
        port.write(b"\x03")
        text = panel.wait_for("state: not configured", since=mark)
    assert "RTC_SW_CPU_RST" in text and "KeyboardInterrupt" not in text, text


def typed(port, keys: bytes, until: bytes, timeout: float = 10) -> bytes:
    """Type keys on the console and read until `until` shows; what was read."""
    port.write(keys)
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        seen += port.read(256)
    assert until in seen, seen
    return seen


def pasted(program: str) -> bytes:
    """The keys that run a program in the friendly REPL's paste mode."""
    return b"\x05" + program.replace("\n", "\r").encode() + b"\x04"


def test_once_stops_at_the_first_deep_sleep(flash):
    proc = subprocess.run([sys.executable, "-m", "lintel", "emulate", "--flash", str(flash),
                           "--once", "--log", "-"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "state: not configured" in proc.stdout
    assert "deep sleep for 900000 ms" in proc.stdout


def test_the_lcd_board_stays_awake_on_mains(tmp_path):
    flash = tmp_path / "lcd.bin"
    shutil.copyfile(built_image("esp32s3-lcd43") / "flash.bin", flash)
    emu = Emulator(flash, tmp_path)
    try:
        emu.wait_for("board esp32s3-lcd43")
        out = emu.mpremote("exec", "import machine; print(machine.reset_cause())")
        assert out.stdout.strip() == "1"  # still the power-on boot: a mains panel never sleeps
    finally:
        emu.stop()


def one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_corrupt_flash_files_are_refused_with_words(tmp_path, flash):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x5a" * (8 << 20))
    line = one_error_line(run_lintel("emulate", "--flash", garbage, "--once", check=False))
    assert "partition table" in line and "not a Lintel flash image" in line

    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(flash.read_bytes()[: 3 << 20])
    line = one_error_line(run_lintel("emulate", "--flash", truncated, "--once", check=False))
    assert "truncated" in line

    line = one_error_line(run_lintel("emulate", "--flash", tmp_path / "missing.bin", "--once",
                                     check=False))
    assert "does not exist" in line

    line = one_error_line(run_lintel("emulate", "--flash", flash, "--board", "esp32s3-nope",
                                     "--once", check=False))
    assert "unknown board 'esp32s3-nope'" in line

    line = one_error_line(run_lintel("emulate", "--flash", flash, "--board", "esp32s3-lcd43",
                                     "--once", check=False))
    assert "another board" in line


def test_a_vfs_that_will_not_mount_is_reported_and_the_panel_stays_reachable(flash, tmp_path):
    vfs = vfs_part(built_image("esp32s3-epd75"))
    data = bytearray(flash.read_bytes())
    data[vfs["offset"]:vfs["offset"] + 0x2000] = b"\x00" * 0x2000  # both superblocks gone
    flash.write_bytes(data)
    emu = Emulator(flash, tmp_path)
    try:
        assert "does not mount as LittleFS2" in emu.errors()
        emu.wait_for("vfs: the vfs partition does not hold a LittleFS2 filesystem")
        assert emu.mpremote("exec", "print('still here')").stdout.strip() == "still here"
        assert emu.esptool("read-mac").returncode == 0  # and can be reflashed
    finally:
        emu.stop()


def test_an_image_without_an_application_in_its_romfs_says_so(flash, tmp_path):
    # A romfs partition with no ROMFS image, as after a whole-flash write of a base firmware
    # alone: the base firmware mounts nothing at /rom, and main.py says what to do.
    romfs = vfs_part(built_image("esp32s3-epd75"), "romfs")
    data = bytearray(flash.read_bytes())
    data[romfs["offset"]:romfs["offset"] + 0x1000] = b"\xff" * 0x1000
    flash.write_bytes(data)
    emu = Emulator(flash, tmp_path)
    try:
        emu.wait_for("romfs: no application at /rom: the base firmware lacks ROMFS support or "
                     "the romfs partition is empty; flash the whole image with lintel flash")
        out = emu.mpremote("exec", "import sys; print(sys.path)")
        assert out.stdout.strip() == "['', '/lib']", out.stderr
    finally:
        emu.stop()


def test_the_firmware_sees_the_heap_it_would_have_on_the_chip(panel):
    # The ROMFS is mapped flash on the chip; the emulated board reads it into its heap, adds
    # its size to the heap and leaves it out of gc's figures.
    out = panel.mpremote("exec", "import gc, sys; gc.collect(); "
                                 "print(gc.mem_alloc(), gc.mem_alloc() + gc.mem_free(), sys.path)")
    assert out.returncode == 0, out.stderr
    alloc, total, path = out.stdout.strip().split(" ", 2)
    romfs = vfs_part(built_image("esp32s3-epd75"), "romfs")["size"]
    assert romfs > 100_000
    # 512 KiB asked for, less the collector's tables (under 2 %); not 512 KiB plus the ROMFS
    assert 512 * 1024 * 0.98 < int(total) <= 512 * 1024
    assert 0 < int(alloc) < 100_000  # the REPL's own objects, not the ROMFS block
    assert path == "['', '/rom', '/rom/lib', '/lib']"


def test_a_heap_size_that_is_not_one_is_one_line(flash):
    line = one_error_line(run_lintel("emulate", "--flash", flash, "--heap", "lots", "--once",
                                     check=False))
    assert line == "lintel: --heap 'lots' is not a heap size like 512K"


def test_an_emulated_clock_runs_on_by_every_deep_sleep(flash, tmp_path):
    # The unconfigured app sleeps 15 minutes a wake; at --speed 1000 that is 0.9 s of host time
    # but a quarter of an hour on the chip's clock.
    emu = Emulator(flash, tmp_path, "--clock-start", "2026-11-30T06:00:00+01:00")
    try:
        emu.wait_for("deep-sleep wake, wake 3")
        out = emu.mpremote("exec", "import time, machine; print(time.time()); "
                                   "print(machine.RTC().datetime())")
        assert out.returncode == 0, out.stderr
        seconds, rtc = out.stdout.split("\n")[:2]
        start = 1796014800  # 2026-11-30 05:00:00 UTC
        # Two whole sleeps at least; mpremote's Ctrl-C may cut a third short.
        assert start + 30 * 60 <= float(seconds) < start + 45 * 60 + 60
        assert rtc.startswith("(2026, 11, 30, 0, 5, ")  # Monday, 05:3x UTC
    finally:
        emu.stop()


def test_a_clock_start_without_a_utc_offset_is_refused(flash):
    proc = run_lintel("emulate", "--flash", str(flash), "--clock-start", "2026-11-30T06:00",
                      check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "lintel: --clock-start needs a UTC offset, e.g. " \
        "2026-11-30T06:00:00+01:00"
