"""`lintel emulate`: boot a panel image in the emulated ESP32-S3."""

import argparse
import datetime
import hashlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from lintel.emulator.background import set_battery_mv
from lintel.emulator.image import resolve_board
from lintel.emulator.panel import EmulatedPanel, Options, heap_bytes
from lintel.errors import LintelError

VIEW_FILE = "view.json"  # where board/unix/host_link.py puts the view model
ESPRESSIF_OUI = bytes.fromhex("7cdfa1")  # an Espressif Systems MAC block (IEEE OUI registry)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flash", required=True, type=Path,
                   help="the flash image (lintel build's flash.bin)")
    p.add_argument("--board", help="board name (default: the board.json inside the image)")
    p.add_argument("--console", type=Path, metavar="LINK",
                   help="make LINK a symlink to the console's pty")
    p.add_argument("--rom-port", type=int, metavar="PORT",
                   help="serve the ESP32-S3 serial ROM loader on 127.0.0.1:PORT (for esptool)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="time acceleration: a deep sleep of ms lasts ms/X (default 1)")
    p.add_argument("--once", action="store_true",
                   help="stop at the first deep sleep or reset of the firmware")
    p.add_argument("--heap", default="512K", help="MicroPython heap size (default 512K)")
    p.add_argument("--mac", help="the chip's MAC address (default: derived from the flash path)")
    p.add_argument("--ap-ssid", default="lintel-lab", help="the emulated access point's SSID")
    p.add_argument("--ap-psk", default="not-a-real-psk", help="the emulated access point's PSK")
    p.add_argument("--state", type=Path, metavar="DIR",
                   help="folder for the chip's RTC memory and the emulator's controls "
                        "(default: a temporary folder)")
    p.add_argument("--dump-view", action="store_true",
                   help="at the end, print the last view model the panel showed, as JSON "
                        "(with --once: the view of one wake)")
    p.add_argument("--web", type=int, metavar="PORT",
                   help="serve the panel's live screen on http://127.0.0.1:PORT/ (0: any free "
                        "port); a click on a button is a touch")
    p.add_argument("--web-link", action="append", default=[], metavar="TEXT=URL",
                   help="a link to show on the web page (e.g. the fake tenant's sign-in page)")
    p.add_argument("--clock-start", metavar="ISO8601",
                   help="run the chip's clock from this moment (e.g. 2026-11-30T06:00:00+01:00) "
                        "and on by the whole of every deep sleep, which lasts ms / --speed: "
                        "days in minutes (default: the host's clock)")
    p.add_argument("--battery-mv", type=int, metavar="MV",
                   help="the emulated cell's voltage in millivolts, read through the board's "
                        "divider (default 4000; change it while running with "
                        "BackgroundEmulator.set_battery_mv)")
    p.add_argument("--log", metavar="FILE", help="copy the console's output to FILE ('-': stdout)")
    p.add_argument("--trace", action="store_true",
                   help="print every console read and write and every ROM loader packet")


def _mac(args) -> bytes:
    if args.mac:
        try:
            mac = bytes.fromhex(args.mac.replace(":", ""))
        except ValueError:
            mac = b""
        if len(mac) != 6:
            raise LintelError(f"--mac {args.mac!r}: expected six hex bytes like 7c:df:a1:12:34:56")
        return mac
    # Stable per image file, so one emulated panel keeps one identity.
    digest = hashlib.sha256(str(args.flash.resolve()).encode()).digest()
    return ESPRESSIF_OUI + digest[:3]


def run(args) -> int:
    if args.speed <= 0:
        raise LintelError("--speed must be greater than 0")
    board, flash, info = resolve_board(args.flash, args.board)
    if info.vfs_problem:
        print(f"lintel: warning: {args.flash}: {info.vfs_problem}; the panel will say so on its "
              f"console", file=sys.stderr)
    state = args.state or Path(tempfile.mkdtemp(prefix="lintel-emulate-"))
    state.mkdir(parents=True, exist_ok=True)
    (state / VIEW_FILE).unlink(missing_ok=True)
    if args.battery_mv is not None:
        if not 0 <= args.battery_mv <= 5000:
            raise LintelError("--battery-mv must be between 0 and 5000")
        set_battery_mv(state, args.battery_mv)
    log = None
    if args.log == "-":
        log = sys.stdout.buffer
    elif args.log:
        log = open(args.log, "ab")  # noqa: SIM115 -- open for the emulator's whole life
    trace = (lambda line: print(line, file=sys.stderr, flush=True)) if args.trace else None
    clock_start = None
    if args.clock_start:
        try:
            start = datetime.datetime.fromisoformat(args.clock_start)
        except ValueError:
            raise LintelError(f"--clock-start {args.clock_start!r} is not an ISO 8601 time "
                              f"like 2026-11-30T06:00:00+01:00") from None
        if start.tzinfo is None:
            raise LintelError("--clock-start needs a UTC offset, e.g. 2026-11-30T06:00:00+01:00")
        clock_start = start.timestamp()
    heap_bytes(args.heap)  # a wrong --heap is one line now, not a failed boot later
    options = Options(speed=args.speed, once=args.once, heap=args.heap, mac=_mac(args),
                      clock_start=clock_start,
                      ap_ssid=args.ap_ssid, ap_psk=args.ap_psk, log=log, trace=trace)
    panel = EmulatedPanel(board, flash, state, options)
    loader = web = None
    try:
        if args.console:
            _link(args.console, panel.device)
        print(f"console: {panel.device}", flush=True)
        if args.rom_port is not None:
            from lintel.emulator.rom_loader import RomLoader

            loader = RomLoader(flash, options.mac, on_enter=panel.enter_download_mode,
                               on_exit=panel.leave_download_mode,
                               trace=trace and (lambda line: trace(f"rom: {line}")))
            try:
                port = loader.serve("127.0.0.1", args.rom_port)
            except OSError as e:
                raise LintelError(f"cannot serve the ROM loader on port {args.rom_port}: "
                                  f"{e.strerror}") from None
            print(f"rom loader: socket://127.0.0.1:{port}", flush=True)
        if args.web is not None:
            web = _web(args, state, board, panel)
        print(f"board: {board.name}", flush=True)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: panel.stop(0))
        signal.signal(signal.SIGUSR1, lambda *_: panel.wake_button())
        status = panel.run()
        if args.dump_view:
            _dump_view(state)
        return status
    finally:
        if loader is not None:
            loader.close()
        if web is not None:
            web.close()
        panel.close()
        flash.close()
        if args.console and args.console.is_symlink():
            args.console.unlink()


def _web(args, state: Path, board, panel):
    from lintel.emulator.web import WebView

    links = []
    for item in args.web_link:
        text, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise LintelError(f"--web-link {item!r}: expected TEXT=http(s)://...")
        links.append((text, url))
    web = WebView(state, board, panel.opt.mac.hex(), links)
    try:
        port = web.serve(args.web)
    except OSError as e:
        raise LintelError(f"cannot serve the web view on port {args.web}: {e.strerror}") from None
    print(f"web: http://127.0.0.1:{port}/", flush=True)
    return web


def _dump_view(state: Path) -> None:
    try:
        view = json.loads((state / VIEW_FILE).read_bytes())
    except FileNotFoundError:
        raise LintelError("--dump-view: the panel showed no view model in this run") from None
    except ValueError as e:
        raise LintelError(f"--dump-view: the panel's view model is not JSON ({e})") from None
    print(json.dumps(view, indent=2, ensure_ascii=False), flush=True)


def _link(link: Path, device: str) -> None:
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise LintelError(f"--console {link}: a file of that name exists and is not a symlink")
    try:
        os.symlink(device, link)
    except OSError as e:
        raise LintelError(f"--console {link}: cannot make the link: {e.strerror}") from None
