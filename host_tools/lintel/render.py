"""`lintel render`: draw a view model as the panel would, to a PNG (docs/render.md).

The firmware's own screens (firmware/app/ui) run on real LVGL (PyPI pydevices-lvgl, the same
LVGL 9.5 API as the panel's MicroPython binding) into a display of the board's size and colour
format: LVGL's I1 (1 bit per pixel) for e-paper, RGB565 for the LCD. No window: the display's
flush callback receives the frame, which becomes a 1-bit greyscale or an RGB PNG.

    png_bytes, hits = render(view, "esp32s3-epd75")

is what the emulator's web view calls, from any one thread at a time (a lock serialises LVGL,
which is not thread-safe); `hits` are the buttons, [(action_id, x, y, w, h), ...].
"""

import argparse
import array
import json
import sys
import threading
from pathlib import Path

from lintel import FIRMWARE_DIR, boards, png
from lintel.errors import LintelError

_lock = threading.Lock()
_displays: dict[tuple[int, int, bool], "_Display"] = {}
_rgb_table: list[bytes] = []


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True,
                   help="board name (board/<name>/board.json) or a path to a board.json")
    p.add_argument("--view", required=True, type=Path, metavar="FILE.json",
                   help="the view model (docs/view-model.md), e.g. from lintel emulate "
                        "--dump-view")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.png",
                   help="where to write the image")
    p.add_argument("--hits", type=Path, metavar="FILE.json",
                   help="also write the buttons' hit areas as JSON")


def run(args: argparse.Namespace) -> int:
    view = load_view(args.view)
    board = boards.load(args.board)
    image, hits = render(view, board, source=str(args.view))
    _write(args.out, image)
    if args.hits:
        rows = [{"action": a, "x": x, "y": y, "w": w, "h": h} for a, x, y, w, h in hits]
        _write(args.hits, (json.dumps(rows, indent=1) + "\n").encode())
    layout = layout_for(board)
    print(f"{args.out}: {view['screen']} screen, {board.name} {layout['width']}x"
          f"{layout['height']} {'1-bit' if layout['colour'] == 'mono' else 'RGB565'}, "
          f"{len(hits)} button{'s' if len(hits) != 1 else ''}")
    return 0


def load_view(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LintelError(f"cannot read view file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LintelError(f"{path}: not UTF-8 text") from None
    try:
        view = json.loads(text)
    except json.JSONDecodeError as e:
        raise LintelError(f"{path}: not valid JSON at line {e.lineno}: {e.msg}") from None
    if not isinstance(view, dict):
        raise LintelError(f"{path}: a view model is a JSON object")
    return view


def layout_for(board: boards.Board) -> dict:
    """The layout app/ui draws for: the board file's screen size, colour depth and touch."""
    display = board.display
    depth = display["color_depth"]
    if depth not in (1, 16):
        raise LintelError(f"{board.path}: lintel render draws 1-bit (e-paper) and 16-bit "
                          f"(RGB565) displays, not {depth}-bit")
    return {"width": display["width"], "height": display["height"],
            "colour": "mono" if depth == 1 else "color", "touch": "touch" in board.data}


def render(view: dict, board: str | boards.Board,
           source: str = "view") -> tuple[bytes, list[tuple[str, int, int, int, int]]]:
    """The PNG of `view` on `board` (a name or a loaded Board) and the buttons' hit areas."""
    with _lock:
        display, hits = _draw(view, board, source)
        if display.mono:
            image = png.encode_mono(display.width, display.height, display.frame,
                                    display.stride)
        else:
            image = png.encode_rgb(display.width, display.height,
                                   _rgb565_to_rgb(display.frame))
    return image, [tuple(hit) for hit in hits]


def mono_frame(view: dict, board: str | boards.Board, source: str = "view") -> bytes:
    """The pixels of `view` on a 1-bit board as its panel takes them: `height` rows of
    width / 8 bytes, MSB first, 1 = white (what the emulated e-paper panel is sent)."""
    frame, _hits = draw(view, board, source)
    if frame is None:
        raise LintelError(f"{source}: the board's display is not 1-bit")
    return frame


def draw(view: dict, board: str | boards.Board,
         source: str = "view") -> tuple[bytes | None, list[tuple[str, int, int, int, int]]]:
    """What the panel's LVGL draws for `view`: its 1-bit frame as mono_frame gives it (None
    on a colour board) and the buttons' hit areas."""
    with _lock:
        display, hits = _draw(view, board, source)
        frame = None
        if display.mono:
            row = (display.width + 7) // 8
            frame = display.frame
            if display.stride != row:
                frame = b"".join(frame[y * display.stride:y * display.stride + row]
                                 for y in range(display.height))
    return frame, [tuple(hit) for hit in hits]


def _draw(view: dict, board: str | boards.Board, source: str):
    """(the display holding the drawn frame, the hit areas); the caller holds _lock."""
    if not isinstance(board, boards.Board):
        board = boards.load(board)
    layout = layout_for(board)
    kit = _ui()
    display = _display(layout["width"], layout["height"], layout["colour"] == "mono")
    try:
        hits = display.draw(view, layout)
    except kit.ViewError as e:
        raise LintelError(f"{source}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        screen = view.get("screen") if isinstance(view, dict) else None
        raise LintelError(f"{source}: the view does not fit the {screen} screen "
                          f"({type(e).__name__}: {e})") from None
    return display, hits


def _ui():
    """The firmware's app.ui (its kit module), imported from firmware/ (DESIGN.md: the one
    firmware package the host tools import)."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.append(str(FIRMWARE_DIR))
    try:
        import lvgl  # noqa: F401  (the binding the screens import)
    except ImportError:
        raise LintelError("LVGL for Python is not installed: pip install -r requirements.txt "
                          "(pydevices-lvgl)") from None
    from app.ui import kit, screens

    if not Path(screens.__file__).resolve().is_relative_to(FIRMWARE_DIR):
        raise LintelError(f"app.ui comes from {screens.__file__}, not from {FIRMWARE_DIR}")
    return kit


class _Display:
    """One headless LVGL display of the firmware's own (app/ui/display.py, the panel's flush
    path) whose sink keeps a copy of each frame."""

    def __init__(self, width: int, height: int, mono: bool):
        from app.ui.display import Display

        self.width, self.height, self.mono = width, height, mono
        self.display = Display(width, height, mono, self._keep)
        self.stride = self.display.stride
        self.frame = b""
        self.area: tuple[int, int, int, int] | None = None

    def _keep(self, frame, stride: int, area: tuple[int, int, int, int]) -> None:
        self.frame, self.area = bytes(frame), area

    def draw(self, view: dict, layout: dict) -> list:
        self.frame = b""
        hits = self.display.draw(view, layout)
        if len(self.frame) != self.stride * self.height:
            raise LintelError("LVGL did not draw the screen")
        return hits


def _display(width: int, height: int, mono: bool) -> _Display:
    key = (width, height, mono)
    if key not in _displays:
        import lvgl as lv

        if not lv.is_initialized():
            lv.init()
        _displays[key] = _Display(width, height, mono)
    return _displays[key]


def _rgb565_to_rgb(frame: bytes) -> bytes:
    """RGB565 pixels (little-endian 16-bit words, LVGL's order) as RGB888, each channel
    widened by repeating its top bits (0x1F -> 0xFF, so white stays white)."""
    if not _rgb_table:
        for v in range(0x10000):
            r, g, b = v >> 11, (v >> 5) & 0x3F, v & 0x1F
            _rgb_table.append(bytes(((r << 3) | (r >> 2), (g << 2) | (g >> 4),
                                     (b << 3) | (b >> 2))))
    words = array.array("H")
    words.frombytes(frame)
    if sys.byteorder == "big":
        words.byteswap()
    return b"".join(map(_rgb_table.__getitem__, words))


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise LintelError(f"cannot write {path}: {e.strerror}") from None
