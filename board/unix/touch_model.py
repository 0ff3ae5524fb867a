# The boards' GT911 touch controller as the emulated I2C bus sees it (board.json: touch,
# pins.touch). It answers at the address its INT line chose at reset, only while powered and
# out of reset (else no ACK: OSError, as on the esp32 port), and keeps the registers a driver
# reads: the product id, the output resolution (the panel's), the coordinate status and the
# points. Taps come from the host: the state file "touch", one "x y" line each (docs/emulator.md,
# "Screen and touch"). Each tap is two reports, the finger down and then lifted, each kept until
# the driver clears the status, as the controller does. Register map: firmware/drivers/gt911.py.
import machine

import chip

I2C_BUS = 0  # firmware/drivers/gt911.py I2C_BUS
TAPS = "touch"
PRODUCT_ID = 0x8140
X_MAX = 0x8048
STATUS = 0x814E
POINTS = 0x814F
COMMAND = 0x8040


class GT911Model:
    def __init__(self, int_pin, rst=None, power=None, address=0x5D, width=800, height=480):
        self.int_pin, self.rst, self.power = int_pin, rst, power
        self.configured = address  # the board's address: what a reset with INT low picks
        self.width, self.height = width, height
        self.powered = power is None or machine.Pin._driven.get(power) == 1
        self.in_reset = rst is not None and machine.Pin._driven.get(rst) == 0
        self.latched = address  # the address chosen at the last reset
        self.asleep = False
        self.reports = []  # reports not yet read: [(x, y)] or [] (lifted)
        self.current = None  # the report the status register shows, until cleared
        self.taps = 0  # taps delivered (reports with a point cleared by the driver)
        self._pointer = 0
        self.regs = bytearray(0x100)  # 0x8100..0x81FF; the config area is answered apart
        self.regs[0x40:0x44] = b"911\x00"
        self.regs[0x44:0x46] = b"\x60\x10"  # a firmware version; drivers only print it

    @property
    def address(self):
        # machine.I2C looks the device up by address: none while it cannot answer.
        return self.latched if self.powered and not self.in_reset else None

    def wire(self):
        levels = machine.Pin._driven
        if self.rst is not None:
            levels.watchers.setdefault(self.rst, []).append(self._on_rst)
        if self.power is not None:
            levels.watchers.setdefault(self.power, []).append(self._on_power)
        machine.I2C.attach(I2C_BUS, self)

    def _on_power(self, level):
        if bool(level) != self.powered:
            self.powered = bool(level)
            self.asleep = False
            self.reports, self.current = [], None  # a controller without power saw nothing

    def _on_rst(self, level):
        if level == 0:
            self.in_reset = True
        elif self.in_reset:
            self.in_reset = False
            self.asleep = False
            # INT's level at the rising edge of RST picks the address [GP]; a line the
            # firmware leaves alone floats low on this board (no pull-up fitted).
            self.latched = 0x14 if machine.Pin._driven.get(self.int_pin) == 1 else 0x5D

    # -- the I2C bus ------------------------------------------------------------------------

    def write(self, data):
        self._pointer = data[0] << 8 | data[1]
        for i, b in enumerate(data[2:]):
            self._store(self._pointer + i, b)

    def read(self, n):
        self._refresh()
        return bytes(self._load(self._pointer + i) for i in range(n))

    def _load(self, reg):
        if X_MAX <= reg < X_MAX + 4:
            return ((self.width, self.height)[(reg - X_MAX) // 2] >> 8 * (reg & 1)) & 0xFF
        if 0x8100 <= reg < 0x8200:
            return self.regs[reg - 0x8100]
        return 0

    def _store(self, reg, b):
        if reg == STATUS and b == 0 and self.current is not None:
            if self.current:
                self.taps += 1
            self.current = None
            self.regs[STATUS - 0x8100] = 0
        elif reg == COMMAND and b == 5:
            self.asleep = True  # screen off: it stops scanning until woken [BK]

    def _refresh(self):
        """Load the next report into the status and point registers once the last is
        cleared."""
        if self.current is not None or self.asleep:
            return
        if not self.reports:
            for line in chip.take_state(TAPS).decode().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    x, y = int(parts[0]), int(parts[1])
                    self.reports += [[(x, y)], []]
        if not self.reports:
            return
        self.current = self.reports.pop(0)
        self.regs[STATUS - 0x8100] = 0x80 | len(self.current)
        for i, (x, y) in enumerate(self.current):
            p = POINTS - 0x8100 + 8 * i
            self.regs[p:p + 8] = bytes((i, x & 0xFF, x >> 8, y & 0xFF, y >> 8, 30, 0, 0))


def attach(info):
    """Wire the board's touch controller (board file: touch, pins.touch) on I2C(0); returns
    the model."""
    for old in list(machine.I2C.devices.get(I2C_BUS, ())):
        if isinstance(old, GT911Model):
            machine.I2C.devices[I2C_BUS].remove(old)
    pins, display = info["pins"]["touch"], info["display"]
    model = GT911Model(pins["int"], pins.get("rst"), pins.get("power"),
                       int(info["touch"]["i2c_address"], 16), display["width"],
                       display["height"])
    model.wire()
    return model
