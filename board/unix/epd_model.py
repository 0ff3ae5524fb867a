# The e-paper board's panel as the emulated SPI bus sees it: an UltraChip UC8179 controller and
# its 800x480 black/white panel (board.json: display, pins.epd). It reads the command stream as
# the controller does (DC low: a command byte, DC high: data), keeps the controller's state and
# its two image RAMs, and turns a display refresh into the panel's image: the state file epd.pbm
# (a 1-bit PBM), with counts and errors in epd.json. A sequence that would leave a real panel
# blank or wrong is refused and recorded as an error. Rules and files: docs/drivers.md.
#
# Command numbers and register bits: Zephyr drivers/display/uc81xx_regs.h (UC8179), the
# Waveshare EPD_7in5_V2 driver and GxEPD2_750_T7 (the sources of firmware/drivers/uc8179.py).
import json
import machine
import time

import chip

SPI_BUS = 1  # firmware/drivers/uc8179.py SPI_BUS: the driver and the model both use SPI(1)
PON_MS = 2  # simulated BUSY times; the panel's own are 134 ms, 40 ms and seconds
POF_MS = 2
DRF_MS = 10
MAX_ERRORS = 20  # errors kept in memory and in epd.json (the most recent)
IMAGE = "epd.pbm"
COUNTS = "epd.json"
RAM = "epd.ram"  # the controller's two RAM planes, kept in the state folder, not the heap

PSR, POF, PON, DSLP, DTM1, DRF, DTM2 = 0x00, 0x02, 0x04, 0x07, 0x10, 0x12, 0x13
CDI, TRES, PTL, PTIN, PTOUT = 0x50, 0x61, 0x90, 0x91, 0x92
LUTS = (0x20, 0x21, 0x22, 0x23, 0x24)  # VCOM, WW, KW, WK, KK: needed when PSR selects registers
DDX0, N2OCP = 0x01, 0x08  # CDI byte 0: data polarity (1: data bit 1 = white), copy new to old
PSR_REG, PSR_NORMAL = 0x20, 0x1F  # LUTs from registers; KW mode, scan up/right, booster on
CHECK_CODE = 0xA5  # deep sleep's check code

# Command -> (name, most parameter bytes it takes; None: image data into the RAM).
COMMANDS = {
    0x00: ("panel setting", 2), 0x01: ("power setting", 5), 0x02: ("power off", 0),
    0x03: ("power off sequence", 1), 0x04: ("power on", 0), 0x06: ("booster soft start", 4),
    0x07: ("deep sleep", 1), 0x10: ("data start transmission 1", None),
    0x12: ("display refresh", 0), 0x13: ("data start transmission 2", None),
    0x15: ("dual SPI", 1), 0x20: ("VCOM LUT", 60), 0x21: ("WW LUT", 60), 0x22: ("KW LUT", 60),
    0x23: ("WK LUT", 60), 0x24: ("KK LUT", 60), 0x25: ("border LUT", 60),
    0x30: ("PLL control", 1), 0x40: ("temperature sensor calibration", 0),
    0x41: ("temperature sensor selection", 1), 0x50: ("VCOM and data interval", 2),
    0x60: ("TCON setting", 1), 0x61: ("resolution", 4), 0x65: ("gate/source start", 4),
    0x70: ("revision", 0), 0x71: ("get status", 0), 0x82: ("VCOM DC", 1),
    0x90: ("partial window", 9), 0x91: ("partial in", 0), 0x92: ("partial out", 0),
    0xE0: ("cascade setting", 1), 0xE3: ("power saving", 1), 0xE5: ("force temperature", 1),
}


def _state_path(name):
    # The state folder as chip.read_state/write_state reach it (a host path through an
    # unmounted VfsPosix), for files written a row at a time.
    return chip._STATE_DIR + name


class UC8179Model:
    def __init__(self, cs, dc, rst, busy, power=None, width=800, height=480, busy_level=0):
        self.cs, self.dc, self.rst, self.busy, self.power = cs, dc, rst, busy, power
        self.width, self.height, self.busy_level = width, height, busy_level
        self.row_bytes = width // 8
        self.plane_bytes = self.row_bytes * height
        self.errors = []  # this boot's errors, in words (a repeat of the last one is not added)
        self.error_count = 0
        self.full = 0  # refreshes done since attach
        self.partial = 0
        self.ram_bytes = 0  # image bytes written into the RAM since attach
        self.max_transfer = 0  # the longest single SPI transfer seen
        self.hold_busy = False  # tests: BUSY stuck at the busy level (a panel that hangs)
        self._ram = None
        self._saved = None  # epd.json's counts from before this boot, read when first needed
        self._params = bytearray(64)
        self.powered = power is None or machine.Pin._driven.get(power) == 1
        self.in_reset = machine.Pin._driven.get(rst) == 0
        self.reset_seen = False
        self._clear()

    # -- wiring --------------------------------------------------------------------------

    def wire(self):
        levels, lines = machine.Pin._driven, machine.Pin.external
        levels.watchers.setdefault(self.rst, []).append(self._on_rst)
        if self.power is not None:
            levels.watchers.setdefault(self.power, []).append(self._on_power)
        lines[self.busy] = self._busy_line
        machine.SPI.attach(SPI_BUS, self)

    def detach(self):
        levels, lines = machine.Pin._driven, machine.Pin.external
        for pin, fn in ((self.rst, self._on_rst), (self.power, self._on_power)):
            fns = levels.watchers.get(pin, [])
            if fn in fns:
                fns.remove(fn)
        if lines.get(self.busy) == self._busy_line:  # get: the function itself
            del lines[self.busy]
        devices = machine.SPI.devices.get(SPI_BUS, [])
        if self in devices:
            devices.remove(self)
        if self._ram is not None:
            self._ram.close()
            self._ram = None

    # -- the controller's state ----------------------------------------------------------

    def _clear(self):
        """Registers and modes as after power-up or a reset; the RAM's content is undefined."""
        self.asleep = False
        self.pon = False  # the drivers' charge pumps are on (PON until POF)
        self.psr = None
        self.tres = None
        self.cdi = DDX0  # assumed until set: data bit 1 = white, no copy of new to old
        self.luts = 0
        self.partial_mode = False
        self.window = None  # (x0, x1, y0, y1) inclusive, on byte boundaries
        self.new_written = False  # image data (DTM2) since the reset
        self._cmd = None
        self._refused = False
        self._nparams = 0
        self._target = None  # (plane offset, first byte, end byte, first row, end row)
        self._pos = 0
        self._busy_until = None
        self._busy_seen = False
        self._ram_undefined = True

    def _on_rst(self, level):
        if not self.powered:
            return
        if level == 0:
            self.in_reset = True
        elif self.in_reset:
            self.in_reset = False
            asleep = self.asleep
            self._clear()
            self.reset_seen = True
            if asleep:
                self._save()

    def _on_power(self, level):
        if bool(level) == self.powered:
            return
        self.powered = bool(level)
        self._clear()
        self.reset_seen = False
        self.in_reset = machine.Pin._driven.get(self.rst) == 0
        self._save()

    def _busy_now(self):
        # BUSY stays asserted until its time is over and the firmware has seen it at least
        # once, so a driver that polls is never too late to notice a refresh.
        if self.hold_busy:
            return True
        if self._busy_until is None:
            return False
        if not self._busy_seen or time.ticks_diff(self._busy_until, time.ticks_ms()) > 0:
            return True
        self._busy_until = None
        return False

    def _busy_line(self):
        if self._busy_now():
            self._busy_seen = True
            return self.busy_level
        return 1 - self.busy_level

    def _set_busy(self, ms):
        self._busy_until = time.ticks_add(time.ticks_ms(), ms)
        self._busy_seen = False

    # -- the SPI bus ---------------------------------------------------------------------

    def transfer(self, data):
        n = len(data)
        if n > self.max_transfer:
            self.max_transfer = n
        if not self.powered:
            self._error("SPI traffic while the panel's supply is off (pins.epd.power low): "
                        "the controller cannot hear it")
        elif self.in_reset:
            self._error("SPI traffic while RST is low: the controller is held in reset")
        elif machine.Pin._driven.get(self.dc, 0) == 0:
            for byte in data:
                self._command(byte)
        else:
            self._data(data)
        return b"\xff" * n  # the board has no MISO line: nothing comes back

    def _command(self, c):
        self._cmd = None
        self._nparams = 0
        self._refused = True  # until accepted: its data is dropped without another error
        if self.asleep:
            self._error("command 0x%02x while in deep sleep: only a hardware reset (RST) wakes "
                        "the controller" % c)
            return
        if not self.reset_seen:
            self._error("command 0x%02x before a hardware reset (RST) since power-up" % c)
            return
        if self._busy_now():
            self._error("command 0x%02x while BUSY: the driver must wait until the controller "
                        "releases BUSY" % c)
            return
        if c not in COMMANDS:
            self._error("unknown command 0x%02x" % c)
            return
        self._cmd = c
        self._refused = False
        if c == PON:
            self.pon = True
            self._set_busy(PON_MS)
        elif c == POF:
            self.pon = False
            self._set_busy(POF_MS)
        elif c == DRF:
            self._refresh()
        elif c == PTIN:
            self.partial_mode = True
        elif c == PTOUT:
            self.partial_mode = False
        elif c in (DTM1, DTM2):
            self._start_ram(c)

    def _data(self, data):
        c = self._cmd
        if c is None:
            if not self._refused:
                self._error("data with no command before it")
            return
        name, most = COMMANDS[c]
        if most is None:
            if self._target is not None:
                self._write_ram(data)
                if c == DTM2:
                    self.new_written = True
            return
        for byte in data:
            if self._nparams >= most:
                self._error("%s (0x%02x) takes at most %d parameter bytes" % (name, c, most))
                return
            self._params[self._nparams] = byte
            self._nparams += 1
            self._apply(c, self._nparams, self._params)

    def _apply(self, c, n, p):
        if c == PSR and n == 1:
            self.psr = p[0]
        elif c == CDI and n == 1:
            self.cdi = p[0]
        elif c == TRES and n == 4:
            w, h = p[0] << 8 | p[1], p[2] << 8 | p[3]
            if (w, h) == (self.width, self.height):
                self.tres = (w, h)
            else:
                self.tres = None
                self._error("resolution %dx%d (0x61) is not the %dx%d panel's" % (
                    w, h, self.width, self.height))
        elif c == PTL and n == 8:
            self._set_window(p[0] << 8 | p[1], p[2] << 8 | p[3], p[4] << 8 | p[5],
                             p[6] << 8 | p[7])
        elif c == DSLP and n == 1:
            if p[0] == CHECK_CODE:
                self.asleep = True
                self._save()
            else:
                self._error("deep sleep (0x07) with check code 0x%02x, not 0xa5: ignored" % p[0])
        elif c in LUTS and n == 1:
            self.luts |= 1 << (c - LUTS[0])

    def _set_window(self, x0, x1, y0, y1):
        self.window = None
        if x0 % 8 or x1 % 8 != 7:
            self._error("partial window x %d..%d (0x90) is not on byte boundaries: its start must "
                        "be a multiple of 8 and its end one less" % (x0, x1))
        elif x0 > x1 or y0 > y1 or x1 >= self.width or y1 >= self.height:
            self._error("partial window %d,%d..%d,%d (0x90) is not inside the %dx%d panel" % (
                x0, y0, x1, y1, self.width, self.height))
        else:
            self.window = (x0, x1, y0, y1)

    # -- the RAM -------------------------------------------------------------------------

    def _start_ram(self, c):
        self._target = None
        if not self.pon:
            self._error("data start transmission (0x%02x) before power on (0x04): the "
                        "controller was not initialised" % c)
            return
        if self.psr is None or self.tres is None:
            self._error("data start transmission (0x%02x) before the panel setting (0x00) and "
                        "resolution (0x61): the controller was not initialised" % c)
            return
        offset = 0 if c == DTM2 else self.plane_bytes
        if self.partial_mode:
            if self.window is None:
                self._error("data start transmission (0x%02x) in partial mode without a valid "
                            "partial window (0x90)" % c)
                return
            x0, x1, y0, y1 = self.window
            self._target = (offset, x0 // 8, x1 // 8 + 1, y0, y1 + 1)
        else:
            self._target = (offset, 0, self.row_bytes, 0, self.height)
        self._pos = 0

    def _ram_file(self):
        if self._ram is None:
            self._ram = chip._host.open(_state_path(RAM), "w+b")
            self._ram_undefined = True
        if self._ram_undefined:
            # Undefined after power-up or reset: all zero bits (black, in the usual polarity),
            # so a driver that relies on RAM it did not write shows it.
            zeros = bytes(4000)
            self._ram.seek(0)
            for _ in range(2 * self.plane_bytes // len(zeros)):
                self._ram.write(zeros)
            self._ram_undefined = False
        return self._ram

    def _write_ram(self, data):
        offset, b0, b1, y0, y1 = self._target
        wb = b1 - b0
        total = wb * (y1 - y0)
        f = self._ram_file()
        mv = memoryview(data)
        i, n = 0, len(data)
        while i < n:
            if self._pos >= total:
                self._error("image data past the RAM: %d bytes more than the %s's %d" % (
                    n - i, "partial window" if b1 - b0 < self.row_bytes or y1 - y0 < self.height
                    else "panel", total))
                return
            row, col = y0 + self._pos // wb, self._pos % wb
            k = min(n - i, wb - col)
            f.seek(offset + row * self.row_bytes + b0 + col)
            f.write(mv[i:i + k])
            i += k
            self._pos += k
            self.ram_bytes += k

    # -- the panel -----------------------------------------------------------------------

    def _refresh(self):
        problem = None
        if not self.pon:
            problem = "display refresh (0x12) before power on (0x04)"
        elif self.psr is None or self.tres is None:
            problem = ("display refresh (0x12) before the panel setting (0x00) and resolution "
                       "(0x61): the controller was not initialised")
        elif (self.psr & PSR_NORMAL) != PSR_NORMAL:
            problem = ("panel setting 0x%02x (0x00) is not black/white mode with this panel's "
                       "scan directions and booster on (0x1f): its image would be wrong"
                       % self.psr)
        elif (self.psr & PSR_REG) and self.luts != (1 << len(LUTS)) - 1:
            problem = ("panel setting 0x%02x (0x00) takes the waveform from registers, but LUTs "
                       "0x20-0x24 were not all loaded" % self.psr)
        elif not self.new_written:
            problem = ("display refresh (0x12) with no image data (0x13) written since the "
                       "reset: the panel would show whatever the RAM held")
        elif self.partial_mode and self.window is None:
            problem = "partial refresh without a valid partial window (0x90)"
        if problem:
            self._error(problem + "; the image did not change")
            return
        self._show(self.window if self.partial_mode else None)
        if self.partial_mode:
            self.partial += 1
        else:
            self.full += 1
        self._save()
        self._set_busy(DRF_MS)

    def _show(self, window):
        """Write the panel's new image to epd.pbm (P4: 1 = black) a row at a time.

        A full refresh shows the new data everywhere (the full waveform drives every pixel). A
        refresh in partial mode uses the fast waveform, inside the window only: a pixel changes
        where the new data differs from the old, the rest keeps what the panel showed."""
        rb, f = self.row_bytes, self._ram_file()
        header = ("P4\n%d %d\n" % (self.width, self.height)).encode()
        white_is_one = self.cdi & DDX0
        old_image = None
        if window is not None:
            try:
                old_image = chip._host.open(_state_path(IMAGE), "rb")
                if old_image.read(len(header)) != header:
                    old_image.close()
                    old_image = None
            except OSError:
                old_image = None
        out = chip._host.open(_state_path(IMAGE + ".tmp"), "wb")
        try:
            out.write(header)
            full_mask = (1 << (8 * rb)) - 1
            for y in range(self.height):
                if window is None:
                    f.seek(y * rb)
                    new = int.from_bytes(f.read(rb), "big")
                    out.write((new ^ full_mask if white_is_one else new).to_bytes(rb, "big"))
                    continue
                shown = old_image.read(rb) if old_image is not None else b""
                if len(shown) != rb:
                    shown = bytes(rb)  # a panel never written shows white
                x0, x1, y0, y1 = window
                if y0 <= y <= y1:
                    b0, b1 = x0 // 8, x1 // 8 + 1
                    mask = (1 << (8 * (b1 - b0))) - 1
                    f.seek(y * rb + b0)
                    new = int.from_bytes(f.read(b1 - b0), "big")
                    f.seek(self.plane_bytes + y * rb + b0)
                    changed = new ^ int.from_bytes(f.read(b1 - b0), "big")
                    black = new ^ mask if white_is_one else new
                    was = int.from_bytes(shown[b0:b1], "big")
                    now = (black & changed) | (was & (changed ^ mask))
                    shown = shown[:b0] + now.to_bytes(b1 - b0, "big") + shown[b1:]
                out.write(shown)
        finally:
            out.close()
            if old_image is not None:
                old_image.close()
        chip._host.rename(_state_path(IMAGE + ".tmp"), _state_path(IMAGE))
        if self.cdi & N2OCP:
            self._copy_new_to_old(window)

    def _copy_new_to_old(self, window):
        rb, f = self.row_bytes, self._ram_file()
        if window is None:
            b0, b1, y0, y1 = 0, rb, 0, self.height
        else:
            b0, b1, y0, y1 = window[0] // 8, window[1] // 8 + 1, window[2], window[3] + 1
        for y in range(y0, y1):
            f.seek(y * rb + b0)
            row = f.read(b1 - b0)
            f.seek(self.plane_bytes + y * rb + b0)
            f.write(row)

    # -- what the host sees ----------------------------------------------------------------

    def _error(self, words):
        self.error_count += 1
        if self.errors and self.errors[-1] == words:
            return
        self.errors.append(words)
        del self.errors[:-MAX_ERRORS]
        self._save()

    def _save(self):
        """epd.json: refreshes and errors since the state folder began (this boot's added to
        what earlier boots wrote), and whether the controller is asleep or powered now."""
        if self._saved is None:
            try:
                before = json.loads(chip.read_state(COUNTS) or b"{}")
            except ValueError:
                before = {}
            self._saved = (before.get("full", 0), before.get("partial", 0),
                           list(before.get("errors", [])))
        full, partial, errors = self._saved
        chip.write_state(COUNTS, json.dumps({
            "full": full + self.full, "partial": partial + self.partial,
            "errors": (errors + self.errors)[-MAX_ERRORS:], "asleep": self.asleep,
            "powered": self.powered,
        }).encode())


def attach(info):
    """Wire the board's e-paper controller (board file: display, pins.epd) on SPI(1), in place
    of one attached before; returns the model."""
    for old in list(machine.SPI.devices.get(SPI_BUS, ())):
        if isinstance(old, UC8179Model):
            old.detach()
    pins, display = info["pins"]["epd"], info["display"]
    model = UC8179Model(pins["cs"], pins["dc"], pins["rst"], pins["busy"], pins.get("power"),
                        display.get("width", 800), display.get("height", 480),
                        display.get("busy_level", 0))
    model.wire()
    return model
