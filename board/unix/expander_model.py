# The LCD board's CH422G I/O expander as the emulated I2C bus sees it (board.json io_expander;
# the commands: firmware/drivers/ch422g.py). It answers at its command addresses. Levels written
# while IO0-IO7 are still inputs (IO_OE not set) reach no pin, which on the board is a dark
# screen: the model records that as an error. What its outputs drive goes to the state file
# "expander.json": the mode, the levels, each named output high or low, and the errors.
import json
import machine

import chip

I2C_BUS = 0  # drivers/ch422g.py I2C_BUS
MODE = 0x24
WRITE_IO = 0x38
READ_IO = 0x26
IO_OE = 0x01
STATE = "expander.json"


class CH422GModel:
    def __init__(self, outputs):
        self.outputs = outputs  # {name: IO number}
        self.mode = 0  # after power-on: IO0-IO7 inputs
        self.written = 0  # the output latch
        self.errors = []
        self.ports = [_Command(self, a) for a in (MODE, WRITE_IO, READ_IO)]

    def high(self, name):
        """Whether the named output drives its line high now."""
        return bool(self.mode & IO_OE) and bool(self.written >> self.outputs[name] & 1)

    def pins(self):
        # As inputs the lines float; the board's pull-ups (an estimate) read high.
        return self.written if self.mode & IO_OE else 0xFF

    def command(self, address, data):
        if len(data) != 1:
            self._error("%d bytes at command 0x%02x: each command takes one" % (len(data),
                                                                             address))
        elif address == MODE:
            self.mode = data[0]
        elif address == WRITE_IO:
            if not self.mode & IO_OE:
                self._error("IO levels 0x%02x written while IO0-IO7 are inputs: set IO_OE "
                            "(0x%02x at 0x%02x) first" % (data[0], IO_OE, MODE))
            self.written = data[0]
        else:
            self._error("a write to 0x%02x, which is read only" % address)
        self._save()

    def _error(self, words):
        self.errors.append(words)

    def _save(self):
        chip.write_state(STATE, json.dumps({
            "mode": self.mode, "levels": self.pins(),
            "outputs": {name: self.high(name) for name in self.outputs},
            "errors": self.errors[-20:]}).encode())


class _Command:
    """One of the expander's command addresses on the bus."""

    def __init__(self, model, address):
        self.model, self.address = model, address

    def write(self, data):
        self.model.command(self.address, data)

    def read(self, n):
        if self.address != READ_IO:
            raise OSError(5)  # EIO: not a command that answers a read
        return bytes((self.model.pins(),)) * n


def attach(info):
    """Wire the board's CH422G on I2C(0); returns the model."""
    devices = machine.I2C.devices.setdefault(I2C_BUS, [])
    devices[:] = [d for d in devices if not isinstance(d, _Command)]
    model = CH422GModel(info["io_expander"]["outputs"])
    devices.extend(model.ports)
    return model
