# The Goodix GT911 capacitive touch controller on I2C, with its INT and RST lines and (on the
# e-paper board) a supply switch (board.json: touch, pins.i2c, pins.touch). Register addresses
# and the reset sequence are facts from Goodix's GT911 programming guide as the open drivers
# spell them out:
#   [BK] blackketter/GT911, src/GT911Structs.h: register map (0x8040 command, 0x8048/0x804A
#        X/Y output maximum, 0x8140 product id, 0x814E coordinate status, 8-byte points)
#   [GP] Goodix GT911 Programming Guide (as quoted by [BK] and vendor BSPs): the I2C address is
#        chosen at reset by INT (low: 0x5D, high: 0x14); status bit 7 = buffer ready, bits 3..0
#        = number of points; the host writes 0 to the status after reading the points
# Registers are 16-bit addresses, big-endian on the wire; values little-endian.
import time
from machine import I2C, Pin

I2C_BUS = 0  # I2C(0) on the esp32 port; board/unix/touch_model.py listens there
FREQ = 400_000  # fast mode, as the LCD board's vendor configuration runs it

COMMAND = 0x8040  # write 0x05: screen off (sleep until INT is driven high) [BK]
X_MAX = 0x8048  # output resolution, 2 bytes each, little-endian [BK]
PRODUCT_ID = 0x8140  # "911" in ASCII, NUL-padded to 4 bytes [BK]
STATUS = 0x814E  # bit 7 buffer ready, bits 3..0 points [BK] [GP]
POINTS = 0x814F  # 8 bytes a point: track id, x (2), y (2), size (2), reserved [BK]
POINT_BYTES = 8
MAX_POINTS = 5  # the GT911 reports up to five [BK]
ADDRESSES = (0x5D, 0x14)  # INT low during reset, INT high [GP]

# Reset timing [GP], as the vendor examples do it: INT set first, RST low 10 ms, RST high with
# INT held 5 ms more (it latches the address), then INT released; 50 ms before the first read.
RESET_LOW_MS = 10
INT_HOLD_MS = 5
READY_MS = 50
POWER_SETTLE_MS = 10  # estimate: the supply's load switch


class TouchError(Exception):
    """The controller did not answer as a GT911; the message says what to check."""


class GT911:
    def __init__(self, i2c, int_pin, rst=None, power=None, address=0x5D):
        """i2c: a machine.I2C set up (from_board() makes one); int_pin, rst, power: GPIO numbers
        (rst None: reset by other means, e.g. an I/O expander; power None: always powered);
        address: 0x5D or 0x14, chosen at reset by the level of INT."""
        if address not in ADDRESSES:
            raise ValueError("a GT911 answers at 0x5D or 0x14, not 0x%02X" % address)
        self._i2c = i2c
        self._int = int_pin
        self._rst = Pin(rst, Pin.OUT, value=1) if rst is not None else None
        self._power = Pin(power, Pin.OUT) if power is not None else None
        self.address = address
        self.size = None  # (width, height) the controller reports in, once started
        self._points = bytearray(POINT_BYTES * MAX_POINTS)

    def start(self):
        """Power the controller, reset it at its address, check it is a GT911 and read its
        output resolution."""
        if self._power is not None:
            self._power.value(1)
            time.sleep_ms(POWER_SETTLE_MS)
        if self._rst is not None:
            line = Pin(self._int, Pin.OUT, value=0 if self.address == 0x5D else 1)
            self._rst.value(0)
            time.sleep_ms(RESET_LOW_MS)
            self._rst.value(1)
            time.sleep_ms(INT_HOLD_MS)
            line.init(Pin.IN)
            time.sleep_ms(READY_MS)
        ident = self._read(PRODUCT_ID, 4)
        if ident[:3] != b"911":
            raise TouchError("the touch controller at I2C 0x%02X says it is %r, not a GT911" % (
                self.address, bytes(ident).rstrip(b"\0")))
        res = self._read(X_MAX, 4)
        self.size = (res[0] | res[1] << 8, res[2] | res[3] << 8)

    def points(self):
        """The next report: the fingers on the glass, [(x, y), ...] ([] once they are
        lifted), or None when there is no new report. A report is taken once: the status is
        cleared after reading."""
        status = self._read(STATUS, 1)[0]
        if not status & 0x80:
            return None
        n = min(status & 0x0F, MAX_POINTS)
        found = []
        if n:
            self._read_into(POINTS, memoryview(self._points)[:n * POINT_BYTES])
            for i in range(n):
                p = i * POINT_BYTES
                found.append((self._points[p + 1] | self._points[p + 2] << 8,
                              self._points[p + 3] | self._points[p + 4] << 8))
        self._write(STATUS, b"\x00")
        return found

    def pending(self):
        """Whether a report waits to be read (a finger came or went), leaving it there."""
        return bool(self._read(STATUS, 1)[0] & 0x80)

    def sleep(self):
        """Stop scanning: supply off where the board can switch it, else the sleep command."""
        if self._power is not None:
            self._power.value(0)
        else:
            self._write(COMMAND, b"\x05")

    # -- the wire ---------------------------------------------------------------------------

    def _read(self, reg, n):
        buf = bytearray(n)
        self._read_into(reg, buf)
        return buf

    def _read_into(self, reg, buf):
        try:
            self._i2c.readfrom_mem_into(self.address, reg, buf, addrsize=16)
        except OSError:
            raise self._absent() from None

    def _write(self, reg, data):
        try:
            self._i2c.writeto_mem(self.address, reg, data, addrsize=16)
        except OSError:
            raise self._absent() from None

    def _absent(self):
        return TouchError("no touch controller answers at I2C 0x%02X: check its cable, "
                          "supply and reset line" % self.address)


def from_board(info):
    """The touch controller as the board file (a dict) wires it: I2C(0) on pins.i2c, INT, RST
    and supply on pins.touch, the address from touch.i2c_address."""
    i2c_pins, pins = info["pins"]["i2c"], info["pins"]["touch"]
    i2c = I2C(I2C_BUS, scl=Pin(i2c_pins["scl"]), sda=Pin(i2c_pins["sda"]), freq=FREQ)
    return GT911(i2c, pins["int"], pins.get("rst"), pins.get("power"),
                 int(info["touch"]["i2c_address"], 16))
