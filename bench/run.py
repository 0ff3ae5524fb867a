"""make bench: image build, flashing, boot and file-copy figures of the emulated panel, the
calendar stream reader's speed, what one wake costs against the fake tenant, and an office week
of the battery panel with its energy projection.

Prints a table (and the per-wake and energy tables beneath it) and writes
bench/results/latest.json, the per-wake figures under "wake", the week under "energy". Figures
are wall-clock on this machine; each is the median of several runs (the count is in the table).
"""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lintel import __version__
from lintel.build import build
from lintel.emulator.background import BackgroundEmulator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import energy_bench  # noqa: E402 -- bench/energy_bench.py, beside this file
import http_bench  # noqa: E402 -- bench/http_bench.py, beside this file
import wake_bench  # noqa: E402 -- bench/wake_bench.py, beside this file
from esp_images import merged_firmware  # noqa: E402 -- the tests' stand-in firmware images

RESULTS = Path(__file__).parent / "results"
MICROPYTHON = Path(sys.executable).parent / "micropython"
BOARD = "esp32s3-epd75"
# A published ESP32-S3 MicroPython with LVGL is about 2 MiB of app. No real one can be fetched
# here, so the full-image figures use 2 MiB of real machine code (the Unix port's own binary)
# as a stand-in with a similar compression ratio.
STAND_IN_APP_BYTES = 2 << 20


def stand_in_base_firmware(tmp: Path) -> Path:
    import micropython_run

    code = Path(micropython_run.__file__).read_bytes()
    middle = len(code) // 2 - STAND_IN_APP_BYTES // 2
    path = tmp / "stand-in-micropython.bin"
    path.write_bytes(merged_firmware(app_payload=code[middle:middle + STAND_IN_APP_BYTES]))
    return path


def median_of(runs: int, fn) -> tuple[float, int]:
    return statistics.median(fn() for _ in range(runs)), runs


def bench_build(tmp: Path) -> list[dict]:
    rows = []
    for name in (BOARD, "esp32s3-lcd43"):

        def once(name=name):
            out = tmp / f"build-{name}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            build(name, out)
            return time.perf_counter() - start

        seconds, runs = median_of(3, once)
        rows.append({"figure": f"image build, {name}", "value": round(seconds, 3), "unit": "s",
                     "runs": runs})
    return rows


def bench_write_flash(tmp: Path, image: Path) -> list[dict]:
    rows = []
    size = image.stat().st_size
    modes = [("stub, -z", [], ["-z"]), ("stub, no compression", [], ["--no-compress"]),
             ("ROM (--no-stub), -z", ["--no-stub"], ["-z"]),
             ("ROM (--no-stub), no compression", ["--no-stub"], ["--no-compress"])]
    for label, loader, compression in modes:
        work = tmp / f"flash-{len(rows)}"
        work.mkdir()
        flash = work / "flash.bin"
        shutil.copyfile(image, flash)
        emu = BackgroundEmulator(flash, work)
        try:
            start = time.perf_counter()
            out = emu.esptool(*loader, "write-flash", *compression, "0x0", str(image),
                              timeout=900)
            seconds = time.perf_counter() - start
        finally:
            emu.stop()
        if out.returncode != 0:
            raise SystemExit(f"bench: esptool write-flash ({label}) failed:\n{out.stdout}")
        rows.append({"figure": f"esptool write-flash, full {size >> 20} MiB image, {label}",
                     "value": round(seconds, 2), "unit": "s",
                     "rate_kB_s": round(size / 1000 / seconds, 1), "runs": 1})
    return rows


def bench_cold_boot(tmp: Path, image: Path) -> dict:
    flash = tmp / "boot.bin"
    shutil.copyfile(image, flash)

    def once():
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "lintel", "emulate", "--flash", str(flash),
                                 "--once", "--log", "-"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            if line.startswith("Lintel "):
                elapsed = time.perf_counter() - start
                break
        else:
            raise SystemExit("bench: the emulated panel never printed its banner")
        proc.wait(60)
        proc.stdout.close()
        return elapsed * 1000

    ms, runs = median_of(5, once)
    return {"figure": "emulator cold boot to the app's first console line", "value": round(ms),
            "unit": "ms", "runs": runs}


def bench_fs_cp(tmp: Path, image: Path) -> dict:
    flash = tmp / "cp.bin"
    shutil.copyfile(image, flash)
    payload = tmp / "64k.bin"
    payload.write_bytes(bytes(range(256)) * 256)
    emu = BackgroundEmulator(flash, tmp, speed=1)
    try:
        emu.wait_for("state: not configured")

        def once():
            start = time.perf_counter()
            out = emu.mpremote("fs", "cp", str(payload), ":64k.bin")
            if out.returncode != 0:
                raise SystemExit(f"bench: mpremote fs cp failed: {out.stderr}")
            return time.perf_counter() - start

        seconds, runs = median_of(3, once)
    finally:
        emu.stop()
    return {"figure": "mpremote fs cp of a 64 KiB file to the panel", "value": round(seconds, 2),
            "unit": "s", "rate_kB_s": round(65.536 / seconds, 1), "runs": runs}


def _timed_lintel(*args: str, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lintel", *args], capture_output=True, text=True,
                          env=env, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"bench: lintel {' '.join(args)} failed: {proc.stderr}")
    return time.perf_counter() - start


def bench_technician(tmp: Path, image: Path, base_firmware: Path) -> list[dict]:
    """What a technician waits for per panel: key, configuration, application update."""
    work = tmp / "technician"
    work.mkdir()
    flash = work / "flash.bin"
    shutil.copyfile(image, flash)
    env = {**os.environ, "LINTEL_HOME": str(work / "home")}
    example = ROOT / "examples" / "panel.toml"
    emu = BackgroundEmulator(flash, work)
    try:
        link = str(emu.link)
        rom = f"socket://127.0.0.1:{emu.port}"
        provision, runs = median_of(3, lambda: _timed_lintel(
            "provision", "--port", link, "--replace", env=env))
        push, _ = median_of(3, lambda: _timed_lintel(
            "config", "push", str(example), "--port", link, "--no-restart", env=env))
        base = ("--base-firmware", str(base_firmware))
        app_only = _timed_lintel("flash", "--board", BOARD, *base, "--port", rom, "--console",
                                 link, "--app-only", env=env)
        emu.wait_for("state: configured")
        full = _timed_lintel("flash", "--board", BOARD, *base, "--port", rom, env=env)
    finally:
        emu.stop()
    return [
        {"figure": "lintel provision (new key, stored and verified)", "value": round(provision, 2),
         "unit": "s", "runs": runs},
        {"figure": "lintel config push of examples/panel.toml", "value": round(push, 2),
         "unit": "s", "runs": runs},
        {"figure": "lintel flash --app-only (build + romfs and vfs write, keeps key and config)",
         "value": round(app_only, 2), "unit": "s", "runs": 1},
        {"figure": "lintel flash, whole image (build + 8 MiB write, stand-in base firmware)",
         "value": round(full, 2),
         "unit": "s", "runs": 1},
    ]


# bench/jsonstream_bench.py's lines: "what: N us, M bytes/s"
JSONSTREAM_LINE = re.compile(r"^(.+): (\d+) us, (\d+) bytes/s$")


def bench_jsonstream() -> tuple[list[dict], str]:
    """app.jsonstream's speed in the Unix-port MicroPython (each run is already the best of 7
    inside the script); the median of 3 runs per figure. Also what the body was."""
    runs, seen, body = 3, {}, ""
    for _ in range(runs):
        proc = subprocess.run(
            [str(MICROPYTHON), "-X", "heapsize=1M", str(Path(__file__).parent /
                                                          "jsonstream_bench.py")],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "MICROPYPATH": str(ROOT / "firmware")})
        if proc.returncode != 0:
            raise SystemExit(f"bench: jsonstream_bench.py failed:\n{proc.stdout}{proc.stderr}")
        for line in proc.stdout.splitlines():
            m = JSONSTREAM_LINE.match(line)
            if m:
                seen.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3))))
            elif line.startswith("body: "):
                body = line[len("body: "):]
    rows = []
    for what, figures in seen.items():
        us = statistics.median(f[0] for f in figures)
        rate = statistics.median(f[1] for f in figures)
        rows.append({"figure": f"jsonstream: {what}", "value": round(us / 1000, 2),
                     "unit": "ms", "rate_kB_s": round(rate / 1000, 1), "runs": len(figures)})
    return rows, body


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lintel-bench-") as name:
        tmp = Path(name)
        rows = bench_build(tmp)
        full = tmp / "full"
        base_firmware = stand_in_base_firmware(tmp)
        build(BOARD, full, base_firmware=base_firmware)
        image = full / "flash.bin"
        rows += bench_write_flash(tmp, image)
        rows.append(bench_cold_boot(tmp, image))
        rows.append(bench_fs_cp(tmp, image))
        rows += bench_technician(tmp, tmp / f"build-{BOARD}" / "flash.bin", base_firmware)
    jsonstream_rows, jsonstream_body = bench_jsonstream()
    rows += jsonstream_rows
    wake = wake_bench.run()
    rows += wake_bench.table_rows(wake)
    energy = energy_bench.run()
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>9}  unit  {'kB/s':>8}  runs")
    for r in rows:
        rate = f"{r['rate_kB_s']:>8}" if "rate_kB_s" in r else " " * 8
        print(f"{r['figure']:<{width}}  {r['value']:>9}  {r['unit']:<4}  {rate}  {r['runs']}")
    RESULTS.mkdir(exist_ok=True)
    notes = [
        "full image: a stand-in base firmware (bootloader and 2 MiB of real machine code as the "
        "app, with the VfsRom qstr a ROMFS build carries; no real MicroPython build can be "
        "fetched here), the partition table, the romfs and the vfs",
        "esptool formats every packet it sends even without --trace; on this machine that, not "
        "the emulator, sets the write-flash times",
        "mpremote fs cp: 256-byte chunks, one raw-paste exec each, as mpremote does on a panel",
        f"jsonstream: a Graph calendarView page without $select ({jsonstream_body}), read by "
        "app.jsonstream.read_items in the Unix-port MicroPython; each run the best of 7",
    ]
    print()
    wake_bench.print_wake_table(wake)
    print()
    energy_bench.print_energy(energy)
    print()
    for note in notes + wake["notes"]:
        print(f"note: {note}")
    report = {"lintel": __version__, "python": platform.python_version(),
              "machine": platform.machine(), "results": rows, "notes": notes, "wake": wake,
              "energy": energy}
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'latest.json'}\n")
    # The panel's HTTP client against micropython-lib requests (../shared/BASELINES.md).
    http_bench.main()


if __name__ == "__main__":
    main()
