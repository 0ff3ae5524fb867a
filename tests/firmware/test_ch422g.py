# The LCD board's I/O expander (drivers/ch422g.py) in the Unix-port MicroPython, against
# board/unix's model of the CH422G (expander_model.py) on the emulated I2C bus, wired from the
# LCD board's file; and the board lighting its panel through it.
import json
import machine
import os

import expander_model
from m365_helpers import TestBoard

from drivers import ch422g

with open(os.getenv("LINTEL_TEST_BOARD_JSON").replace("esp32s3-epd75", "esp32s3-lcd43")) as f:
    LCD = json.load(f)
with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
    EPAPER = json.load(f)


def test_start_makes_the_pins_outputs_and_drives_the_named_ones_high():
    model = expander_model.attach(LCD)
    x = ch422g.from_board(LCD)
    x.start(["backlight", "lcd_rst"])
    assert model.mode & expander_model.IO_OE and model.errors == []
    assert model.high("backlight") and model.high("lcd_rst") and not model.high("touch_rst")
    assert x.levels() == (1 << 2) | (1 << 3)  # EXIO2 (DISP), EXIO3 (LCD_RST)
    x.set("backlight", False)
    assert not model.high("backlight") and model.high("lcd_rst")
    x.set("touch_rst", True)
    assert model.high("touch_rst") and model.high("lcd_rst")


def test_levels_written_before_the_pins_are_outputs_reach_nothing_and_the_model_says_so():
    model = expander_model.attach(LCD)
    ch422g.from_board(LCD).set("backlight", True)  # no start(): IO0-IO7 are still inputs
    assert not model.high("backlight")
    assert "written while IO0-IO7 are inputs" in model.errors[0]


def test_an_expander_that_does_not_answer_is_an_error_with_words():
    expander_model.attach(LCD)
    machine.I2C.devices[expander_model.I2C_BUS] = []  # nothing on the bus
    try:
        ch422g.from_board(LCD).start(["backlight"])
    except ch422g.ExpanderError as e:
        assert "does not answer on I2C SDA GPIO8, SCL GPIO9" in str(e), str(e)
    else:
        raise AssertionError("no ExpanderError")


def test_the_lcd_board_lights_its_panel_and_releases_the_resets_once():
    model = expander_model.attach(LCD)
    board = TestBoard()
    board.info = LCD
    board._panel_on()
    assert all(model.high(n) for n in ("backlight", "lcd_rst", "touch_rst", "sd_cs"))
    model.command(expander_model.WRITE_IO, b"\x00")  # as if something else had changed them
    board._panel_on()  # once a boot: not written again
    assert not model.high("backlight")


def test_the_e_paper_board_has_no_expander():
    assert ch422g.from_board(EPAPER) is None
    board = TestBoard()
    board._panel_on()
    assert board._expander is False
