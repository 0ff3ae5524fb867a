# The emulated panel's screen and touch, as the host sees them (docs/emulator.md, "Screen and
# touch"): the view model the app shows goes to the state file "view.json" for the host's
# renderer and `lintel emulate --dump-view`; the host answers with what the firmware's LVGL
# screens draw for it (draw()): the buttons' hit areas, and on the e-paper board the pixels,
# which the firmware sends through its display driver. Taps reach the touch controller's model
# (touch_model.py). Only the emulated board has this module; hardware.py works without it.
import json
import time

import chip

DRAW_TIMEOUT_MS = 10000
waited_ms = 0  # time spent waiting for the host to draw: the emulator's, not the panel's


def show(view_json):
    chip.write_state("view.json", view_json)


def draw(row_bytes=None):
    """The host's drawing of the view last shown: (hits, frame). hits: the buttons, [[action,
    x, y, w, h], ...]; frame (asked for with row_bytes, the e-paper's): the pixels, 1 bit a
    pixel, rows of row_bytes, MSB first, 1 = white. (None, None) when the host could not draw
    it in time or this is no emulator. The frame stays in the host's file and is read a row at
    a time (a FileFrame): on a panel it is LVGL's buffer, outside the MicroPython heap, and the
    heap figures should not carry it."""
    global waited_ms
    if not chip.emulated():
        return None, None  # no emulator drawing (a test without one)
    started = time.ticks_ms()
    chip.take_state("hits.json")  # answers nobody took
    chip.take_state("frame.bin")
    chip.tell_emulator(b"frame" if row_bytes else b"hits")
    try:
        while time.ticks_diff(time.ticks_ms(), started) < DRAW_TIMEOUT_MS:
            if chip.rename_state("hits.json", "hits.shown"):  # written last
                return _answer(row_bytes)
            time.sleep_ms(2)
        return None, None
    finally:
        waited_ms += time.ticks_diff(time.ticks_ms(), started)


def _answer(row_bytes):
    try:
        hits = json.loads(chip.read_state("hits.shown") or b"null")
    except ValueError:
        hits = None
    if hits is None or not row_bytes or not chip.rename_state("frame.bin", "frame.shown"):
        return hits, None
    from drivers.last_frame import FileFrame

    frame = FileFrame(chip.open_state("frame.shown"), row_bytes)
    return hits, (frame if len(frame) else None)
