# The buttons' driver (drivers/buttons.py) in the Unix-port MicroPython, against board/unix's
# model of the e-paper board's wake button (models.wake_button: its GPIO low while the state
# file "button" says a finger holds it), and the board listening for it after a wake.
import json
import machine
import os
import time

import models
from m365_helpers import TestBoard

import chip
from drivers import buttons

with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
    INFO = json.load(f)
WAKE = INFO["pins"]["buttons"]["wake"]
models.attach(INFO)


def hold():
    chip.write_state("button", b"held")


def let_go():
    chip.take_state("button")


def test_a_press_counts_once_from_the_moment_it_is_held():
    let_go()
    b = buttons.from_board(INFO)
    assert b.held() == [] and b.pressed() == []
    hold()
    assert b.held() == ["wake"]
    assert b.pressed() == ["wake"]
    assert b.pressed() == []  # still held: the same press
    let_go()
    assert b.pressed() == []
    hold()
    assert b.pressed() == ["wake"]  # a second press
    let_go()


def test_the_button_that_woke_the_panel_is_not_a_new_press_until_let_go():
    hold()  # still held from the press that ended the deep sleep
    b = buttons.from_board(INFO)
    assert b.pressed() == []
    let_go()
    assert b.pressed() == []
    hold()
    assert b.pressed() == ["wake"]
    let_go()


def test_a_spike_shorter_than_the_debounce_is_no_press():
    let_go()
    b = buttons.from_board(INFO)
    reads = [0, 1]  # low at the first read, high again at the second

    machine.Pin.external[WAKE] = lambda: reads.pop(0) if reads else 1
    try:
        assert b.pressed() == []
    finally:
        machine.Pin.external[WAKE] = models.wake_button


def test_the_pins_have_their_pull_ups_so_an_open_button_reads_released():
    b = buttons.Buttons({"boot": INFO["pins"]["buttons"]["boot"]})  # no model: the pull-up
    assert b.held() == []


def test_the_wake_button_is_armed_on_its_gpio_for_a_low_level():
    chip.take_state("wake_ext0")
    buttons.from_board(INFO).arm_wake("wake")
    assert json.loads(chip.read_state("wake_ext0")) == [WAKE, False]  # WAKEUP_ALL_LOW


def test_a_listening_panel_hears_the_wake_button_pressed_again():
    let_go()
    chip.RESET_CAUSE, chip.WAKE_REASON = "deep_sleep", "ext0"
    board = TestBoard()
    assert board.woken_by_button()
    started = time.ticks_ms()
    assert board.listen(150) is None  # nobody pressed: the whole 150 ms
    assert time.ticks_diff(time.ticks_ms(), started) >= 140
    hold()
    assert board.listen(5000) == "button"
    let_go()
    chip.WAKE_REASON = "timer"
    assert not TestBoard().woken_by_button()
