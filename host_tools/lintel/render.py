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
    with _lock:
        display, _hits = _draw(view, board, source)
        if not display.mono:
            raise LintelError(f"{source}: the board's display is not 1-bit")
        row = (display.width + 7) // 8
        frame = display.frame
        if display.stride == row:
            return frame
        return b"".join(frame[y * display.stride:y * display.stride + row]
                        for y in range(display.height))


def _draw(view: dict, board: str | boards.Board, source: str):
    """(the display holding the drawn frame, the hit areas); the caller holds _lock."""
    if not isinstance(board, boards.Board):
        board = boards.load(board)
    layout = layout_for(board)
    screens, kit = _ui()
    display = _display(layout["width"], layout["height"], layout["colour"] == "mono")
    try:
        hits = display.draw(screens, view, layout)
    except kit.ViewError as e:
        raise LintelError(f"{source}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        screen = view.get("screen") if isinstance(view, dict) else None
        raise LintelError(f"{source}: the view does not fit the {screen} screen "
                          f"({type(e).__name__}: {e})") from None
    return display, hits


def _ui():
    """The firmware's app.ui, imported from firmware/ (DESIGN.md: the one firmware package the
    host tools import)."""
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
    return screens, kit


class _Display:
    """One headless LVGL display: a full-frame draw buffer and a flush callback that keeps
    the frame. FULL render mode: every refresh redraws the whole screen and flushes it once."""

    def __init__(self, lv, width: int, height: int, mono: bool):
        self.lv, self.width, self.height, self.mono = lv, width, height, mono
        self.colour_format = lv.COLOR_FORMAT.I1 if mono else lv.COLOR_FORMAT.RGB565
        self.display = lv.display_create(width, height)
        lv.display_set_color_format(self.display, self.colour_format)
        self.buffer = lv.draw_buf_create(width, height, self.colour_format, 0)
        self.stride = self.buffer.header.stride
        # I1 buffers start with the 2-colour palette (2 x 4 bytes) before the pixels.
        self.offset = 8 if mono else 0
        self.size = self.offset + self.stride * height
        lv.display_set_draw_buffers(self.display, self.buffer, None)
        lv.display_set_render_mode(self.display, lv.DISPLAY_RENDER_MODE.FULL)
        lv.display_set_flush_cb(self.display, self._flush)
        self.frame = b""

    def _flush(self, display, area, pixels) -> None:
        if (area.x1, area.y1, area.x2, area.y2) != (0, 0, self.width - 1, self.height - 1):
            raise RuntimeError("LVGL flushed part of the screen in FULL render mode")
        self.frame = bytes(pixels.__dereference__(self.size))[self.offset:]
        self.lv.display_flush_ready(display)

    def draw(self, screens, view: dict, layout: dict) -> list:
        lv = self.lv
        lv.display_set_default(self.display)
        self.frame = b""
        hits = screens.build(view, layout)
        lv.screen_active().invalidate()
        lv.refr_now(self.display)
        if len(self.frame) != self.size - self.offset:
            raise LintelError("LVGL did not draw the screen")
        return hits


def _display(width: int, height: int, mono: bool) -> _Display:
    key = (width, height, mono)
    if key not in _displays:
        import lvgl as lv

        if not lv.is_initialized():
            lv.init()
        _displays[key] = _Display(lv, width, height, mono)
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
