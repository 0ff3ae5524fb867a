# The emulated panel's screen and touch, as the host sees them (docs/emulator.md, "Screen and
# presses"): the view model the app shows goes to the state file "view.json" for the host's
# renderer and `lintel emulate --dump-view`; on the e-paper board the host answers with the
# pixels the firmware's LVGL screens draw (frame()), which the firmware sends through its
# display driver; presses arrive as action ids, one per line, in the state file "presses".
# Only the emulated board has this module; hardware.py works without it.
import time

import chip

FRAME_TIMEOUT_MS = 10000
waited_ms = 0  # time spent waiting for the host to draw: the emulator's, not the panel's


def show(view_json):
    chip.write_state("view.json", view_json)


def frame(row_bytes):
    """The pixels of the view last shown, drawn by the host (1 bit a pixel, rows of width / 8
    bytes, MSB first, 1 = white), or None when the host could not draw it in time. They stay
    in the host's file and are read a row at a time (Frame): on a panel they are LVGL's
    buffer, outside the MicroPython heap, and the heap figures should not carry them."""
    global waited_ms
    if not chip.has_state("render"):
        return None  # no emulator drawing for this board (a test, or the LCD board)
    started = time.ticks_ms()
    chip.take_state("frame.bin")  # an answer nobody took
    chip.write_state("render", b"frame\n", replace=False)
    try:
        while time.ticks_diff(time.ticks_ms(), started) < FRAME_TIMEOUT_MS:
            if chip.rename_state("frame.bin", "frame.shown"):
                frame = Frame("frame.shown", row_bytes)
                return frame if len(frame) else None
            time.sleep_ms(2)
        return None
    finally:
        waited_ms += time.ticks_diff(time.ticks_ms(), started)


class Frame:
    """A frame in a state file, for drivers/uc8179.py: len() and row(y), one row in one
    reused buffer."""

    def __init__(self, name, row_bytes):
        self._f = chip.open_state(name)
        self._f.seek(0, 2)
        self._size = self._f.tell()
        self._row = bytearray(row_bytes)

    def __len__(self):
        return self._size

    def row(self, y):
        self._f.seek(y * len(self._row))
        self._f.readinto(self._row)
        return memoryview(self._row)

    def close(self):
        self._f.close()


def take_presses():
    return [line.strip() for line in chip.take_state("presses").decode().splitlines()
            if line.strip()]
