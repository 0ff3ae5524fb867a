# The 7.5" 800x480 black/white e-paper panel (Good Display GDEY075T7 / Waveshare 7.5inch e-Paper
# V2) on its UltraChip UC8179 controller: SPI with DC, RST, BUSY and the board's supply switch
# (board.json: display, pins.spi, pins.epd). Every command byte, parameter and delay below names
# its source; docs/drivers.md has the whole sequence. The sources:
#   [WS]  Waveshare e-Paper, RaspberryPi_JetsonNano/c/lib/e-Paper/EPD_7in5_V2.c (V3.0, 2023-12-18):
#         EPD_Reset, EPD_7IN5_V2_Init, _Init_Part, _Display, _Display_Part, _Sleep
#   [GX]  GxEPD2 (ZinggJM), src/epd/GxEPD2_750_T7.cpp/.h, "based on Demo Example from Good
#         Display" for the GDEW075T7 (the GDEY075T7's predecessor on the same controller)
#   [ZE]  Zephyr drivers/display/uc81xx_regs.h: UC8179 command numbers and register bits
#   [WIKI] Waveshare wiki, 7.5inch e-Paper spec: SPI mode 0 (CPOL=0, CPHA=0)
import time
from machine import SPI, Pin

SPI_BUS = 1  # SPI(1) is SPI2_HOST (FSPI) on the esp32 port; board/unix/epd_model.py listens there
BAUDRATE = 10_000_000  # [GX] drives this panel at 10 MHz (GxEPD2_750_T7 constructor)

# UC8179 commands [ZE], as [WS] and [GX] use them.
PSR = 0x00  # panel setting
PWR = 0x01  # power setting
POF = 0x02  # power off
PON = 0x04  # power on
BTST = 0x06  # booster soft start
DSLP = 0x07  # deep sleep; its one parameter is the check code 0xA5 [WS] [GX]
DTM1 = 0x10  # data start transmission 1: the "old" image in black/white (KW) mode
DRF = 0x12  # display refresh
DTM2 = 0x13  # data start transmission 2: the "new" image in KW mode
DUSPI = 0x15  # dual SPI
CDI = 0x50  # VCOM and data interval setting
TCON = 0x60  # TCON setting
TRES = 0x61  # resolution setting
PTL = 0x90  # partial window
PTIN = 0x91  # partial in
PTOUT = 0x92  # partial out
CCSET = 0xE0  # cascade setting
TSSET = 0xE5  # force temperature value

# Timing.
RESET_MS = (20, 2, 20)  # RST high, low, high [WS] EPD_Reset
POWER_SETTLE_MS = 10  # estimate: the supply's load switch turns on in about a millisecond
BUSY_START_MS = 100  # BUSY asserts within 200 us of a refresh; [WS] waits 100 ms, then polls
BUSY_POLL_MS = 5  # [WS] EPD_WaitUntilIdle polls every 5 ms
# A full refresh takes about 4.1 s ([GX] full_refresh_time, measured) to 5 s (board.json); [WS]'s
# Python driver gives up after 15 s. 20 s leaves room for a cold panel.
BUSY_TIMEOUT_MS = 20_000


class EpdError(Exception):
    """The panel did not do what it was told; the message says what and what to check."""


class UC8179:
    def __init__(self, spi, cs, dc, rst, busy, power=None, width=800, height=480, busy_level=0,
                 busy_timeout_ms=BUSY_TIMEOUT_MS):
        """spi: a machine.SPI already set up (from_board() makes one from the board file); cs,
        dc, rst, busy, power: GPIO numbers (power: the panel's supply switch, high = on, or None
        when the panel is always powered); busy_level: the BUSY level that means busy (0 on this
        panel [WS])."""
        if width % 8:
            raise ValueError("the panel's width must be a multiple of 8 pixels")
        self._spi = spi
        self._cs = Pin(cs, Pin.OUT, value=1)
        self._dc = Pin(dc, Pin.OUT, value=0)
        self._rst = Pin(rst, Pin.OUT, value=1)
        self._busy = Pin(busy, Pin.IN)
        self._power = Pin(power, Pin.OUT) if power is not None else None
        self.width, self.height = width, height
        self._row_bytes = width // 8
        self._tres = bytes((width >> 8, width & 0xFF, height >> 8, height & 0xFF))
        self._busy_level = busy_level
        self._timeout_ms = busy_timeout_ms
        self._cmd = bytearray(1)
        self._row = bytearray(self._row_bytes)  # the one extra buffer: a row of inverted data
        self._old_known = False  # the old-data RAM holds what the panel shows
        self._fast = False  # the fast (partial) waveform is selected
        self.stats = {"full": 0, "partial": 0, "bytes": 0}

    # -- the panel's life -----------------------------------------------------------------

    def init(self):
        """Power the panel, reset the controller and set it up for the 800x480 B/W panel."""
        if self._power is not None:
            self._power.value(1)
            time.sleep_ms(POWER_SETTLE_MS)
        self._reset()
        # [WS] EPD_7IN5_V2_Init, same values in [GX] _InitDisplay: VGH=20 V, VGL=-20 V,
        # VDH=15 V, VDL=-15 V.
        self._command(PWR, b"\x07\x07\x3f\x3f")
        self._command(BTST, b"\x17\x17\x28\x17")  # [WS] "enhanced display drive"
        self._command(PON)  # [WS] [GX]: power on, then wait for BUSY
        self._wait("power on")
        # KW (black/white) mode, waveforms from the panel's OTP, scan up and right, booster on,
        # no soft reset: [WS] "BWOTP 1f", bits in [ZE] UC81XX_PSR_*.
        self._command(PSR, b"\x1f")
        self._command(TRES, self._tres)  # 800 sources x 480 gates [WS] [GX]
        self._command(DUSPI, b"\x00")  # single SPI [WS] [GX]
        # Border LUT, N2OCP (the new image is copied to the old after a refresh) and DDX=01
        # (data bit 1 = white): [GX] "LUTKW, N2OCP: copy new to old"; bits in [ZE] UC8179_CDI_*.
        self._command(CDI, b"\x29\x07")
        self._command(TCON, b"\x22")  # [WS] [GX]
        self._old_known = False  # the controller's RAM is undefined after power-up and reset
        self._fast = False

    def full(self, frame):
        """Show the whole frame with the panel's full waveform (it flashes; it clears ghosts).

        frame: width*height/8 bytes (48000), rows top to bottom, each byte eight pixels, most
        significant bit leftmost, 1 = white and 0 = black (the DDX=01 polarity set by init());
        or an object with len() and row(y), one row's bytes at a time, for a frame that is not
        held in RAM (the emulated board's, read from the host).
        """
        self._check(frame)
        if self._fast:
            self.init()  # [WS] runs its full init (with a reset) again after the fast one
        rb, row = self._row_bytes, rows(frame, self._row_bytes)
        # Old data: the frame inverted, so every pixel is a transition and the full waveform
        # drives all of them ([WS] _Display sends the old plane as the new one's inverse).
        self._command(DTM1)
        for y in range(self.height):
            self._data_inverted(row(y))
        self._command(DTM2)
        for y in range(self.height):
            self._data(row(y))
        self.stats["bytes"] += 2 * rb * self.height
        self._refresh()
        self._old_known = True  # N2OCP copied the new image to the old
        self.stats["full"] += 1

    def partial(self, frame, x, y, w, h, old=None):
        """Show the window (x, y, w, h) of the frame with the fast waveform, the rest of the
        panel untouched. frame is the whole frame (as for full()); only the window's bytes are
        sent. x and w are widened to whole bytes (multiples of 8 pixels), as the controller's
        window needs; the window actually refreshed is returned as (x, y, w, h).

        The fast waveform drives only the pixels whose old data differs from the new. old is
        the frame the panel shows now (same form as frame), when the controller's old-data RAM
        does not hold it (after init()): then only what changed is driven. Without it, the
        window's pixels are all driven (the new image's inverse as the old)."""
        self._check(frame)
        x0 = max(0, x) & ~7
        x1 = min(self.width, (x + w + 7) & ~7)
        y0, y1 = max(0, y), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            raise ValueError("the window %d,%d %dx%d is not on the %dx%d panel" % (
                x, y, w, h, self.width, self.height))
        if not self._fast:
            # [WS] EPD_7IN5_V2_Init_Part, after power on: cascade setting 0x02, then force
            # temperature 0x6E, the vendor's way to pick the panel's fast waveform from its OTP
            # (command names from [ZE]; the bits' meaning is not in the sources we have).
            self._command(CCSET, b"\x02")
            self._command(TSSET, b"\x6e")
            self._fast = True
        # [WS] _Display_Part: border floating (BDZ), N2OCP, DDX=01.
        self._command(CDI, b"\xa9\x07")
        self._command(PTIN)
        xe, ye = x1 - 1, y1 - 1  # inclusive ends; xe is one less than a multiple of 8 [GX]
        self._command(PTL, bytes((x0 >> 8, x0 & 0xFF, xe >> 8, xe & 0xFF,
                                  y0 >> 8, y0 & 0xFF, ye >> 8, ye & 0xFF, 0x01)))
        row = rows(frame, self._row_bytes)
        b0, b1 = x0 // 8, x1 // 8
        sent = (b1 - b0) * (y1 - y0)
        if old is not None:
            self._check(old)
            was = rows(old, self._row_bytes)
            self._command(DTM1)
            for r in range(y0, y1):
                self._data(was(r)[b0:b1])
            sent *= 2
        elif not self._old_known:
            # After power-up the old RAM is not what the panel shows: give the window an
            # inverted old image so the fast waveform drives every pixel in it.
            self._command(DTM1)
            for r in range(y0, y1):
                self._data_inverted(row(r)[b0:b1])
            sent *= 2
        self._command(DTM2)
        for r in range(y0, y1):
            self._data(row(r)[b0:b1])
        self.stats["bytes"] += sent
        self._refresh()
        self._command(PTOUT)  # [GX] writeImage: partial out after the window
        self.stats["partial"] += 1
        return x0, y0, x1 - x0, y1 - y0

    def sleep(self):
        """Power the panel's drivers off, put the controller in deep sleep and switch the
        supply off. Only init() (a hardware reset) wakes it."""
        self._command(CDI, b"\xf7")  # [WS] _Sleep: border floating before power off
        self._command(POF)
        self._wait("power off")
        self._command(DSLP, b"\xa5")  # [WS] [GX]: deep sleep with its check code
        if self._power is not None:
            self._power.value(0)
        self._old_known = False
        self._fast = False

    # -- the wire ---------------------------------------------------------------------------

    def _reset(self):
        high, low, settle = RESET_MS
        self._rst.value(1)
        time.sleep_ms(high)
        self._rst.value(0)
        time.sleep_ms(low)
        self._rst.value(1)
        time.sleep_ms(settle)

    def _command(self, cmd, params=None):
        self._dc.value(0)
        self._cs.value(0)
        self._cmd[0] = cmd
        self._spi.write(self._cmd)
        self._cs.value(1)
        if params:
            self._data(params)

    def _data(self, buf):
        self._dc.value(1)
        self._cs.value(0)
        self._spi.write(buf)
        self._cs.value(1)

    def _data_inverted(self, line):
        # Through the row buffer; one XOR on the row as an integer instead of a loop over bytes
        # (ten times faster on MicroPython).
        n = len(line)
        self._row[:n] = (int.from_bytes(line, "big") ^ ((1 << 8 * n) - 1)).to_bytes(n, "big")
        self._data(memoryview(self._row)[:n])

    def _refresh(self):
        self._command(DRF)
        self._wait("refresh", must_start=True)

    def _wait(self, what, must_start=False):
        """Wait for BUSY to assert (a controller that never does had not started: with
        must_start, an error) and then to be released, within the timeout."""
        start = time.ticks_ms()
        while self._busy.value() != self._busy_level:
            if time.ticks_diff(time.ticks_ms(), start) >= BUSY_START_MS:
                if must_start:
                    raise EpdError(
                        "the e-paper panel did not start its %s (no BUSY within %d ms): it was "
                        "not initialised, is asleep or is not connected" % (what, BUSY_START_MS))
                return
            time.sleep_ms(1)
        start = time.ticks_ms()
        while self._busy.value() == self._busy_level:
            if time.ticks_diff(time.ticks_ms(), start) >= self._timeout_ms:
                raise EpdError("the e-paper panel stayed busy for %d ms: check its cable and "
                               "supply" % self._timeout_ms)
            time.sleep_ms(BUSY_POLL_MS)

    def _check(self, frame):
        size = self._row_bytes * self.height
        if len(frame) != size:
            raise ValueError("a frame is %d bytes (%dx%d, 1 bit a pixel), not %d" % (
                size, self.width, self.height, len(frame)))


def rows(frame, row_bytes):
    """row(y): memoryview of row y of a frame held whole, or the frame's own row()."""
    if hasattr(frame, "row"):
        return frame.row
    mv = memoryview(frame)
    return lambda y: mv[y * row_bytes:(y + 1) * row_bytes]


def from_board(info, busy_timeout_ms=BUSY_TIMEOUT_MS):
    """The panel as the board file (a dict) wires it: SPI(1) in mode 0 [WIKI] on pins.spi, the
    control lines on pins.epd, the geometry and BUSY level from display."""
    spi_pins, pins, display = info["pins"]["spi"], info["pins"]["epd"], info["display"]
    miso = spi_pins.get("miso")
    spi = SPI(SPI_BUS, baudrate=BAUDRATE, polarity=0, phase=0, sck=Pin(spi_pins["sck"]),
              mosi=Pin(spi_pins["mosi"]), miso=Pin(miso) if miso is not None else None)
    return UC8179(spi, pins["cs"], pins["dc"], pins["rst"], pins["busy"], pins.get("power"),
                  display["width"], display["height"], display.get("busy_level", 0),
                  busy_timeout_ms)
