# The emulated board's peripherals: what its board file says is wired to the chip's pins,
# attached at boot (port_main) so that drivers/ talk to them through machine as on a panel: the
# battery divider (the host sets the cell: docs/emulator.md, "Battery") and the e-paper
# controller on SPI(1) (epd_model.py, docs/drivers.md).
import machine

import epd_model

import chip

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


def attach(info):
    """Wire the models the board file (a dict) describes."""
    pins = info.get("pins", {}).get("battery")
    cell = info.get("power", {}).get("battery")
    if pins and cell:
        machine.ADC.inputs[pins["adc"]] = BatteryDivider(pins.get("sense_enable"),
                                                          cell["divider"]["ratio"])
    if info.get("display", {}).get("kind") == "epaper" and info.get("pins", {}).get("epd"):
        epd_model.attach(info)
