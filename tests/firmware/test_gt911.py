# The touch driver (drivers/gt911.py) in the Unix-port MicroPython, against board/unix's model
# of the GT911 (touch_model.py) on the emulated I2C bus, wired from the e-paper board's file as
# models.attach does at boot; and the board object turning taps into the buttons' action ids.
import json
import machine
import os

import touch_model
from m365_helpers import TestBoard

import chip
from drivers import gt911

with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
    INFO = json.load(f)
PINS = INFO["pins"]["touch"]


def fresh():
    """A powered-down controller wired as at boot, no taps waiting."""
    machine.Pin(PINS["power"], machine.Pin.OUT, value=0)
    chip.take_state("touch")
    return touch_model.attach(INFO)


def tap(*points):
    chip.write_state("touch", "".join("%d %d\n" % p for p in points).encode())


def expect_error(fn, words):
    try:
        fn()
    except gt911.TouchError as e:
        assert words in str(e), str(e)
        return
    raise AssertionError("no TouchError")


def test_the_board_file_wires_a_gt911_that_reports_the_panel_size():
    model = fresh()
    touch = gt911.from_board(INFO)
    assert touch.address == 0x5D == model.configured
    touch.start()
    assert model.powered and touch.size == (800, 480)
    assert touch.points() is None  # nobody touched it


def test_a_tap_is_one_report_down_and_one_lifted_each_taken_once():
    model = fresh()
    touch = gt911.from_board(INFO)
    touch.start()
    tap((120, 400), (700, 30))
    assert touch.points() == [(120, 400)]
    assert touch.points() == []
    assert touch.points() == [(700, 30)]
    assert touch.points() == []
    assert touch.points() is None
    assert model.taps == 2


def test_a_controller_without_supply_does_not_answer_and_says_so():
    fresh()
    touch = gt911.from_board(INFO)
    touch.start()
    touch.sleep()  # the supply off, as before deep sleep
    expect_error(touch.points, "no touch controller answers at I2C 0x5D")


def test_the_address_follows_int_at_reset():
    fresh()
    wrong = gt911.GT911(machine.I2C(gt911.I2C_BUS), PINS["int"], PINS["rst"], PINS["power"],
                        address=0x14)
    wrong.start()  # INT high at reset: the controller answers at 0x14
    assert wrong.points() is None
    other = gt911.GT911(machine.I2C(gt911.I2C_BUS), PINS["int"], None, PINS["power"])
    expect_error(other.start, "0x5D")  # no reset since: it still answers at 0x14 only


def test_a_controller_that_is_not_a_gt911_is_named():
    model = fresh()
    model.regs[0x40:0x44] = b"928\x00"
    expect_error(gt911.from_board(INFO).start, "says it is b'928', not a GT911")


def woken(reason):
    """This boot as a wake from deep sleep by `reason` ("ext0": the wake button, "timer")."""
    chip.RESET_CAUSE, chip.WAKE_REASON = "deep_sleep", reason


def test_a_timer_wake_does_not_start_a_touch_controller_that_slept_unpowered():
    model = fresh()
    woken("timer")
    tap((100, 400))
    assert TestBoard().take_presses([["book", 20, 364, 245, 108]]) == []
    assert not model.powered and chip.read_state("touch") == b"100 400\n"
    woken("ext0")  # the wake button: someone is there
    assert TestBoard().take_presses([["book", 20, 364, 245, 108]]) == ["book"]


def test_taps_on_buttons_become_their_actions_and_taps_elsewhere_nothing():
    fresh()
    woken("ext0")
    board = TestBoard()
    hits = [["book", 20, 364, 245, 108], ["find", 540, 364, 245, 108]]
    tap((100, 400), (400, 50), (600, 470), (600, 480))  # book, nothing, find, off the button
    assert board.take_presses(hits) == ["book", "find"]
    assert board.take_presses(hits) == []
    tap((100, 400))
    assert board.take_presses(None) == []  # no buttons known: the tap only woke it
    assert board._touch.size == (800, 480)


def test_a_touch_controller_that_fails_is_a_problem_line_not_a_crash():
    model = fresh()
    model.regs[0x40:0x44] = b"\x00\x00\x00\x00"
    woken("ext0")
    board = TestBoard()
    tap((100, 400))
    assert board.take_presses([["book", 20, 364, 245, 108]]) == []
    assert board._touch is False  # not asked again this wake


def test_the_status_led_lights_the_room_and_goes_out_before_deep_sleep():
    import models

    from drivers import led

    models.attach(INFO)  # the LED's model watches its three pins
    light = led.from_board(INFO)
    assert chip.read_state("led") in (b"", b"off")
    for colour, seen in (("free", b"green"), ("busy", b"red"), ("attention", b"yellow"),
                         ("off", b"off")):
        light.show(colour)
        assert chip.read_state("led") == seen, (colour, chip.read_state("led"))
    # Active low (board.json pins.led.active_low): a lit colour's pin is driven low.
    light.show("busy")
    assert machine.Pin._driven[INFO["pins"]["led"]["red"]] == 0
    assert machine.Pin._driven[INFO["pins"]["led"]["green"]] == 1


def test_the_board_shows_the_view_on_its_led_and_arms_the_wake_button_for_sleep():
    import models

    models.attach(INFO)
    fresh()
    board = TestBoard()
    board.show(json.dumps({"screen": "problem"}))  # no render here: the LED still follows
    assert chip.read_state("led") == b"yellow"
    board.show(json.dumps({"screen": "room", "status": "free"}))
    assert chip.read_state("led") == b"green"
    board._touch_controller()  # the touch controller on, as after a look for taps
    chip.take_state("wake_ext0")
    try:
        board.sleep(1000)
    except chip.Reset as r:  # the emulated chip ends the process at deep sleep
        assert r.code == chip.EXIT_DEEP_SLEEP
    assert chip.read_state("led") == b"off"
    assert not touch_model_powered()
    assert json.loads(chip.read_state("wake_ext0")) == [INFO["pins"]["buttons"]["wake"], False]


def touch_model_powered():
    return machine.Pin._driven.get(PINS["power"]) == 1
