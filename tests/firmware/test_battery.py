# The battery reading, in the Unix-port MicroPython: drivers/battery.py through hardware.Board
# against board/unix's model of the e-paper board's switched divider (models.BatteryDivider),
# with the cell's voltage set as the emulator sets it (the state file battery_mv).
import json
import machine
import os

import models

import chip
import hardware
from drivers import battery

with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
    INFO = json.load(f)
CURVE = INFO["power"]["battery"]["curve_mv_percent"]
SENSE = INFO["pins"]["battery"]["sense_enable"]
models.attach(INFO)


class Board(hardware.Board):
    # The real board code; the board file from the source tree (no image is mounted at /).
    def __init__(self, info=INFO):
        self.info, self.name = info, info["name"]
        self.battery_powered = info["power"]["source"] == "battery"


def cell(mv):
    chip.write_state("battery_mv", str(mv).encode())


def test_the_board_reads_the_cell_through_its_divider():
    for mv, percent in ((4200, 100), (4100, 90), (3850, 55), (3300, 0)):
        cell(mv)
        reading = Board().battery()
        # The ADC sees half the cell; its whole microvolts come back within a millivolt.
        assert abs(reading["mv"] - mv) <= 1, reading
        assert reading["percent"] == percent, reading


def test_the_divider_is_switched_off_after_a_reading():
    cell(4000)
    Board().battery()
    assert machine.Pin._driven[SENSE] == 0


def test_a_driver_that_leaves_the_divider_off_reads_nothing():
    cell(4000)
    machine.Pin(SENSE, machine.Pin.OUT, value=0)
    adc = machine.ADC(machine.Pin(INFO["pins"]["battery"]["adc"]), atten=machine.ADC.ATTN_11DB)
    assert adc.read_uv() == 0


def test_the_curve_is_interpolated_and_clamped():
    assert battery.percent(4300, CURVE) == 100
    assert battery.percent(4150, CURVE) == 95
    assert battery.percent(3750, CURVE) == 35
    assert battery.percent(3200, CURVE) == 0
    assert battery.percent(0, CURVE) == 0


def test_a_mains_board_has_no_battery_reading():
    with open(os.getenv("LINTEL_TEST_BOARD_JSON").replace("esp32s3-epd75",
                                                          "esp32s3-lcd43")) as f:
        lcd = json.load(f)
    assert Board(lcd).battery() is None


def test_the_host_default_is_a_cell_three_quarters_full():
    chip.write_state("battery_mv", b"")
    assert Board().battery()["mv"] == models.DEFAULT_BATTERY_MV
