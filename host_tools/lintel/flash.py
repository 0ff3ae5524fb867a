"""`lintel flash`: build a board's image and write it to a panel with esptool.

The whole image (a factory reset: bootloader, MicroPython, partition table, erased nvs and cfg,
the application) or, with --app-only, just the application (the romfs and vfs partitions),
which keeps the panel's key (nvs) and configuration (cfg). Before an app-only write the panel
must run the MicroPython and .mpy ABI the board file names, with the same partitions, since
only the application is replaced.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lintel import boards
from lintel.build import app_write, build
from lintel.errors import LintelError
from lintel.link import PanelLink, find_port


def add_arguments(p) -> None:
    p.add_argument("--board", required=True, help="the panel's board (board/NAME/board.json)")
    p.add_argument("--port", help="the panel's serial port for esptool (default: the only "
                                  "panel on USB); socket://HOST:PORT reaches lintel emulate")
    p.add_argument("--console", help="the panel's console, when it is not --port (the "
                                     "emulator's --console link)")
    p.add_argument("--base-firmware", type=Path, metavar="FILE",
                   help="MicroPython for the ESP32-S3, written with the image")
    p.add_argument("--app-only", action="store_true",
                   help="write only the application (romfs and vfs partitions): keeps the "
                        "panel's key and configuration")
    p.add_argument("--out", type=Path, help="keep the built image in this folder")
    p.add_argument("--baud", type=int, default=460800, help="esptool's baud rate")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def check_panel(info: dict, board: boards.Board) -> list[str]:
    """Why an app-only write for this board would break this panel (empty: it is safe)."""
    fw = board.firmware
    problems = []
    if info.get("board") != board.name:
        problems.append(f"the panel is a {info.get('board')}, not a {board.name}")
    if (info.get("mpy_version"), info.get("mpy_sub_version")) != (
            fw["mpy_version"], fw["mpy_sub_version"]):
        problems.append(f"the panel's MicroPython loads .mpy v{info.get('mpy_version')}."
                        f"{info.get('mpy_sub_version')}, the image is v{fw['mpy_version']}."
                        f"{fw['mpy_sub_version']}")
    if _version(info.get("micropython", "0.0.0")) < _version(fw["micropython"]):
        problems.append(f"the panel runs MicroPython {info.get('micropython')}, older than the "
                        f"{fw['micropython']} the board file asks for")
    for part in (board.romfs, board.vfs):
        if info.get(part.name) != [part.offset, part.size]:
            problems.append(f"the panel's {part.name} partition is not where the board file "
                            "puts it")
    return problems


def run(args) -> int:
    board = boards.load(args.board)
    with tempfile.TemporaryDirectory(prefix="lintel-flash-") as tmp:
        out = args.out or Path(tmp)
        result = build(board.name, out, base_firmware=args.base_firmware)
        port = find_port(args.port)
        if args.app_only:
            with PanelLink(args.console or port) as panel:
                info = panel.call("info")
            problems = check_panel(info, board)
            if problems:
                raise LintelError(f"not writing the application to panel {info.get('device')}: "
                                  f"{'; '.join(problems)}; flash the whole image instead")
            print(f"panel {info['device']}: MicroPython {info['micropython']}, .mpy "
                  f"v{info['mpy_version']}.{info['mpy_sub_version']}: the application can be "
                  f"replaced")
            writes = [(offset, out / name) for offset, name in app_write(board)]
        else:
            writes = [(0, out / "flash.bin")]
        size = sum(image.stat().st_size for _offset, image in writes)
        seconds = esptool_write(port, args.baud, writes)
    what = "the application (romfs, vfs)" if args.app_only else "the whole image"
    where = ", ".join(f"0x{offset:x}" for offset, _image in writes)
    print(f"wrote {what} of {result.board.name}, {size >> 10} KiB at {where}, in "
          f"{seconds:.1f} s; the panel restarts")
    return 0


def esptool_write(port: str, baud: int, writes: list[tuple[int, Path]]) -> float:
    """Write files at their offsets in one esptool run, its progress shown; return the
    seconds it took."""
    over_network = port.startswith(("socket://", "rfc2217://"))
    cmd = [sys.executable, "-m", "esptool", "--chip", "esp32s3", "--port", port,
           "--baud", str(baud),
           # A TCP port cannot pulse RTS/DTR; lintel emulate resets the chip itself.
           "--before", "no-reset" if over_network else "default-reset",
           "--after", "no-reset" if over_network else "hard-reset",
           "write-flash", "-z", *(a for offset, image in writes for a in (hex(offset), str(image)))]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    tail = []
    for line in proc.stdout:
        sys.stdout.write(line)
        tail = (tail + [line.strip()])[-5:]
    if proc.wait() != 0:
        last = next((t for t in reversed(tail) if t), "no output")
        names = ", ".join(image.name for _offset, image in writes)
        raise LintelError(f"esptool could not write {names} to {port}: {last}")
    return time.perf_counter() - start
