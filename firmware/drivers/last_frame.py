# The frame an e-paper panel shows, kept in flash. The panel keeps its picture without power,
# but its controller's RAM does not, and the board cuts the panel's supply in deep sleep. A
# partial refresh that knows the old picture drives only the pixels that change, in the window
# around them; without it every pixel of the window flips (docs/drivers.md, "Partial refresh").
#
# Frames are the drivers' form (uc8179.py): rows of width / 8 bytes, or an object with len()
# and row(y). They are read and written a row at a time: a panel without PSRAM keeps one frame
# in RAM, LVGL's, and the flash holds the other.
import os

from drivers.uc8179 import rows

BAND_ROWS = 40  # 4000 bytes a band on the 800-pixel panel: one 4 KiB flash block each
_WHOLE = "whole"  # written after the bands: without it they may be of two frames


class LastFrame:
    """The frame kept in a folder as bands of BAND_ROWS rows, one file each, so that a redraw
    rewrites only the bands it changed: a clock's new minute is two flash blocks, not twelve
    (a 4 KiB block erase takes about 45 ms; docs/energy.md). A file "whole" marks a complete
    frame; it is removed while bands are written, so a power cut in between leaves no frame
    rather than a mixed one."""

    def __init__(self, path, row_bytes, height):
        self.path, self.row_bytes, self.height = path, row_bytes, height
        self.bands = (height + BAND_ROWS - 1) // BAND_ROWS
        self.written = 0  # bytes written to flash by the last save

    def open(self):
        """The frame last shown (len(), row(y), close()), or None when none is kept whole (or
        it was kept for another panel size)."""
        try:
            with open(self._name(_WHOLE)) as f:
                whole = f.read()
        except OSError:
            return None
        if whole != "%d %d" % (self.row_bytes, self.height):
            return None
        return _BandedFrame(self)

    def save(self, frame, bands=None):
        """Keep frame as the one shown. bands: the numbers of the bands where it differs from
        the frame kept (changed() finds them; the others are kept as they are); None: all."""
        row = rows(frame, self.row_bytes)
        try:
            os.mkdir(self.path)
        except OSError:
            pass  # there already
        self.forget(bands=False)
        self.written = 0
        for band in range(self.bands) if bands is None else bands:
            with open(self._name(band), "wb") as f:
                for y in range(band * BAND_ROWS, min(self.height, (band + 1) * BAND_ROWS)):
                    self.written += f.write(row(y))
        with open(self._name(_WHOLE), "w") as f:
            f.write("%d %d" % (self.row_bytes, self.height))

    def forget(self, bands=True):
        """Keep nothing: the panel may show something else (a refresh failed)."""
        for name in (_WHOLE,) + (tuple(range(self.bands)) if bands else ()):
            try:
                os.remove(self._name(name))
            except OSError:
                pass

    def _name(self, part):
        return "%s/%s" % (self.path, part)


class _BandedFrame:
    def __init__(self, kept):
        self._kept = kept
        self._band = None
        self._f = None
        self._row = bytearray(kept.row_bytes)

    def __len__(self):
        return self._kept.row_bytes * self._kept.height

    def row(self, y):
        band = y // BAND_ROWS
        if band != self._band:
            self.close()
            self._f = open(self._kept._name(band), "rb")
            self._band = band
        self._f.seek((y - band * BAND_ROWS) * len(self._row))
        if self._f.readinto(self._row) != len(self._row):
            raise OSError("the kept frame's band %d is short" % band)
        return memoryview(self._row)

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
            self._band = None


def changed(old, new, row_bytes, height, bands=None):
    """(x, y, w, h) around every pixel where new differs from old, in whole bytes (x and w
    multiples of 8), or None when they are the same. bands: a list that receives the numbers
    of the bands (BAND_ROWS rows each) with a change, for LastFrame.save()."""
    was, now = rows(old, row_bytes), rows(new, row_bytes)
    top = bottom = None
    left, right = row_bytes, -1
    last = row_bytes - 1
    for y in range(height):
        # The rows XORed as integers; the XOR's hex digits give both ends of the change, two
        # digits a byte (C speed, no loop over bytes; MicroPython has no int.bit_length).
        diff = int.from_bytes(was(y), "big") ^ int.from_bytes(now(y), "big")
        if not diff:
            continue
        if top is None:
            top = y
        bottom = y
        if bands is not None and (not bands or bands[-1] != y // BAND_ROWS):
            bands.append(y // BAND_ROWS)
        digits = "%x" % diff
        left = min(left, last - (len(digits) - 1) // 2)
        right = max(right, last - (len(digits) - len(digits.rstrip("0"))) // 2)
    if top is None:
        return None
    return left * 8, top, (right - left + 1) * 8, bottom - top + 1


class FileFrame:
    """A frame in an open file: len() and row(y), one row in one reused buffer."""

    def __init__(self, f, row_bytes):
        self._f = f
        f.seek(0, 2)
        self._size = f.tell()
        self._row = bytearray(row_bytes)

    def __len__(self):
        return self._size

    def row(self, y):
        self._f.seek(y * len(self._row))
        self._f.readinto(self._row)
        return memoryview(self._row)

    def close(self):
        self._f.close()
