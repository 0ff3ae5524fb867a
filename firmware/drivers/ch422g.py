# The WCH CH422G I/O expander of the LCD board (board.json io_expander, on pins.i2c): its eight
# IO pins drive the backlight, the LCD's and the touch controller's resets and the SD card's
# chip select. It has no register map: each command is an I2C address of its own, one data byte
# written or read there (WCH CH422 datasheet, "I2C interface" command table; the same addresses
# in Espressif's esp-bsp esp_io_expander_ch422g):
#   0x24  mode: bit 0 IO_OE (IO0-IO7 are outputs, all or none), bit 2 OD_EN, bit 3 SLEEP
#   0x38  IO7-IO0 output levels
#   0x26  IO7-IO0 levels, read
# After power-on IO0-IO7 are inputs: the LCD board's backlight stays dark until a driver sets
# IO_OE and drives DISP (IO2) high.
from machine import I2C, Pin

I2C_BUS = 0  # shared with the GT911 (drivers/gt911.py)
FREQ = 400_000
MODE = 0x24
WRITE_IO = 0x38
READ_IO = 0x26
IO_OE = 0x01


class ExpanderError(Exception):
    """The expander did not answer or did not take a level; the message says what to check."""


class Ch422g:
    def __init__(self, i2c, outputs, where="I2C"):
        """i2c: a machine.I2C set up; outputs: {name: IO number} (board.json
        io_expander.outputs); where: the bus's pins, for the error's words."""
        self._i2c, self._outputs, self._where = i2c, outputs, where
        self._levels = 0

    def start(self, high=()):
        """Make IO0-IO7 outputs, driving the outputs named in `high` high and the rest low."""
        self._levels = 0
        for name in high:
            self._levels |= 1 << self._outputs[name]
        self._write(MODE, IO_OE)
        self._write(WRITE_IO, self._levels)

    def set(self, name, high):
        """Drive one named output high or low; the others keep their levels."""
        bit = 1 << self._outputs[name]
        self._levels = self._levels | bit if high else self._levels & ~bit
        self._write(WRITE_IO, self._levels)

    def levels(self):
        """IO7-IO0 as the pins read now (a byte)."""
        try:
            return self._i2c.readfrom(READ_IO, 1)[0]
        except OSError as e:
            raise self._silent(e) from None

    def _write(self, command, value):
        try:
            self._i2c.writeto(command, bytes((value,)))
        except OSError as e:
            raise self._silent(e) from None

    def _silent(self, e):
        return ExpanderError("the CH422G I/O expander does not answer on %s (%s): check its "
                             "supply and the bus" % (self._where, e))


def from_board(info):
    """The board's expander (a dict of its board file), or None on a board without one."""
    expander = info.get("io_expander")
    if not expander or expander.get("chip") != "CH422G":
        return None
    pins = info["pins"]["i2c"]
    i2c = I2C(I2C_BUS, scl=Pin(pins["scl"]), sda=Pin(pins["sda"]), freq=FREQ)
    return Ch422g(i2c, expander["outputs"], "I2C SDA GPIO%d, SCL GPIO%d" % (pins["sda"],
                                                                           pins["scl"]))
