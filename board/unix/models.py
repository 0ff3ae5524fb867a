# The emulated board's peripherals: what its board file says is wired to the chip's pins,
# attached at boot (port_main) so that drivers/ talk to them through machine as on a panel: the
# battery divider (the host sets the cell: docs/emulator.md, "Battery"), the status LED, the
# e-paper controller on SPI(1) (epd_model.py) and the touch controller on I2C(0)
# (touch_model.py; docs/drivers.md), the LCD board's I/O expander on I2C(0) (expander_model.py),
# and the wake button.
import machine

import epd_model
import expander_model
import touch_model

import chip

_led = None  # the StatusLed wired last
DEFAULT_BATTERY_MV = 4000  # a cell about three-quarters full, unless the host says otherwise


class BatteryDivider:
    """A cell behind a switched resistor divider: the ADC pin sees the cell's voltage divided
    by the ratio while the sense pin is driven high, and nothing while it is low (a driver that
    forgets to switch it on reads an empty cell, as on the board). The cell's voltage is the
    host's: the state file battery_mv (lintel emulate --battery-mv)."""

    def __init__(self, enable_pin, ratio):
        self.enable_pin, self.ratio = enable_pin, ratio

    def __call__(self):
        if self.enable_pin is not None and machine.Pin._driven.get(self.enable_pin) != 1:
            return 0
        mv = int(chip.read_state("battery_mv", b"") or DEFAULT_BATTERY_MV)
        return int(mv * 1000 / self.ratio)


def wake_button():
    """The wake button's GPIO level: low while the emulator's finger holds it (the state file
    "button", written by the emulator for a moment at each press: SIGUSR1, and every tap),
    otherwise the pull-up's high."""
    return 1 if chip.read_state("button", None) is None else 0


class StatusLed:
    """An RGB LED on three pins: which colours are lit goes to the state file "led" ("off",
    "green", "red", "yellow", ...) whenever a pin moves, and each change to "led.log"."""

    NAMES = {(0, 0, 0): "off", (1, 0, 0): "red", (0, 1, 0): "green", (0, 0, 1): "blue",
             (1, 1, 0): "yellow", (1, 0, 1): "magenta", (0, 1, 1): "cyan",
             (1, 1, 1): "white"}

    def __init__(self, red, green, blue, active_low=False):
        self.pins, self.active_low = (red, green, blue), active_low
        self.shown = None
        self._watch = self._moved  # one bound method, so that detach() finds it
        for pin in self.pins:
            machine.Pin._driven.watchers.setdefault(pin, []).append(self._watch)

    def detach(self):
        for pin in self.pins:
            fns = machine.Pin._driven.watchers.get(pin, [])
            if self._watch in fns:
                fns.remove(self._watch)

    def lit(self):
        off = 1 if self.active_low else 0
        return self.NAMES[tuple(int(machine.Pin._driven.get(p, off) != off)
                                for p in self.pins)]

    def _moved(self, level):
        now = self.lit()
        if now != self.shown:
            self.shown = now
            chip.write_state("led", now.encode())
            with chip.open_state("led.log", "ab") as f:
                f.write(now.encode() + b"\n")


def attach(info):
    """Wire the models the board file (a dict) describes."""
    pins = info.get("pins", {}).get("battery")
    cell = info.get("power", {}).get("battery")
    if pins and cell:
        machine.ADC.inputs[pins["adc"]] = BatteryDivider(pins.get("sense_enable"),
                                                          cell["divider"]["ratio"])
    if info.get("display", {}).get("kind") == "epaper" and info.get("pins", {}).get("epd"):
        epd_model.attach(info)
    if info.get("touch") and info.get("pins", {}).get("touch"):
        touch_model.attach(info)
    if info.get("io_expander", {}).get("chip") == "CH422G":
        expander_model.attach(info)
    wake = info.get("pins", {}).get("buttons", {}).get("wake")
    if wake is not None:
        machine.Pin.external[wake] = wake_button
    global _led
    if _led is not None:
        _led.detach()  # one LED model, however often the board is wired
        _led = None
    led = info.get("pins", {}).get("led")
    if led:
        _led = StatusLed(led["red"], led["green"], led["blue"], led.get("active_low", False))
