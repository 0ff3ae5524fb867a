# The e-paper driver (drivers/uc8179.py) in the Unix-port MicroPython, against board/unix's model
# of the UC8179 controller (epd_model.py) on the emulated SPI bus, wired from the e-paper board's
# file as models.attach does at boot. What the panel shows is the model's image, the state file
# epd.pbm: it must be the frames the driver was given, bit for bit.
import json
import machine
import os
import time

import epd_model
import models

import chip
from drivers import last_frame, uc8179

with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
    INFO = json.load(f)
PINS = INFO["pins"]["epd"]
W, H = INFO["display"]["width"], INFO["display"]["height"]
RB = W // 8
HEADER = ("P4\n%d %d\n" % (W, H)).encode()


def boot():
    """The next wake: the controller's supply was off (its RAM is gone), the panel keeps its
    image and the state folder its counts; a new model wired as at boot."""
    machine.Pin(PINS["power"], machine.Pin.OUT, value=0)
    return epd_model.attach(INFO)


def blank():
    """A panel never written: no image, no counts."""
    model = boot()
    chip.take_state("epd.pbm")
    chip.take_state("epd.json")
    return model


def always_powered():
    """A driver for a panel without a supply switch (the test holds the supply on)."""
    machine.Pin(PINS["power"], machine.Pin.OUT, value=1)
    return uc8179.UC8179(machine.SPI(uc8179.SPI_BUS), PINS["cs"], PINS["dc"], PINS["rst"],
                         PINS["busy"])


def pattern(seed):
    """A frame whose bytes all differ from those of another seed's (by less than 256)."""
    frame = bytearray(RB * H)
    for y in range(H):
        base = y * RB
        for i in range(RB):
            frame[base + i] = (y * 7 + i * 13 + seed) & 0xFF
    return frame


def shown():
    """The panel's image in the driver's polarity (1 = white), from the P4 file (1 = black)."""
    data = chip.read_state("epd.pbm")
    assert data[:len(HEADER)] == HEADER, data[:20]
    assert len(data) == len(HEADER) + RB * H, len(data)
    return bytes(b ^ 0xFF for b in memoryview(data)[len(HEADER):])


def with_window(frame, other, x0, x1, y0, y1):
    """frame with the pixels x0..x1-1 (whole bytes), y0..y1-1 taken from other."""
    out = bytearray(frame)
    for y in range(y0, y1):
        out[y * RB + x0 // 8:y * RB + x1 // 8] = other[y * RB + x0 // 8:y * RB + x1 // 8]
    return bytes(out)


def raw(cmd, data=b""):
    """One command and its data on the bus, as a faulty driver would send them."""
    spi = machine.SPI(epd_model.SPI_BUS)
    dc = machine.Pin(PINS["dc"], machine.Pin.OUT)
    cs = machine.Pin(PINS["cs"], machine.Pin.OUT)
    dc.value(0)
    cs.value(0)
    spi.write(bytes([cmd]))
    cs.value(1)
    if data:
        dc.value(1)
        cs.value(0)
        spi.write(data)
        cs.value(1)


def raises(fn, *args):
    try:
        fn(*args)
    except uc8179.EpdError as e:
        return str(e)
    raise AssertionError("no EpdError")


def test_the_epaper_board_file_wires_the_controller_on_spi1():
    def controllers():
        return [m for m in machine.SPI.devices.get(epd_model.SPI_BUS, ())
                if isinstance(m, epd_model.UC8179Model)]

    models.attach(INFO)
    models.attach(INFO)  # wiring again (a test, a second attach) replaces the first model
    found = controllers()
    assert len(found) == 1, found
    assert (found[0].cs, found[0].dc, found[0].busy) == (PINS["cs"], PINS["dc"], PINS["busy"])
    assert uc8179.SPI_BUS == epd_model.SPI_BUS == 1
    with open(os.getenv("LINTEL_TEST_BOARD_JSON").replace("esp32s3-epd75",
                                                          "esp32s3-lcd43")) as f:
        models.attach(json.load(f))  # an LCD board has no e-paper controller
    assert controllers() == found


def test_init_and_a_full_refresh_show_the_frame_bit_for_bit():
    model = blank()
    panel = uc8179.from_board(INFO)
    frame = pattern(1)
    panel.init()
    panel.full(frame)
    assert model.errors == [], model.errors
    assert shown() == bytes(frame)
    assert (model.full, model.partial) == (1, 0)
    assert panel.stats == {"full": 1, "partial": 0, "bytes": 2 * RB * H}, panel.stats
    assert json.loads(chip.read_state("epd.json")) == {
        "full": 1, "partial": 0, "errors": [], "asleep": False, "powered": True}


def test_the_driver_sends_a_row_at_a_time_and_each_byte_once():
    model = blank()
    panel = uc8179.from_board(INFO)
    panel.init()
    panel.full(pattern(2))
    assert model.max_transfer == RB, model.max_transfer  # never more than one row a transfer
    assert model.ram_bytes == 2 * RB * H  # old and new planes, once each


def test_a_partial_refresh_changes_only_its_window():
    model = blank()
    panel = uc8179.from_board(INFO)
    a, b = pattern(3), pattern(200)
    panel.init()
    panel.full(a)
    sent = model.ram_bytes
    # x 13..42 widens to whole bytes: 8..47, five bytes a row.
    assert panel.partial(b, 13, 20, 30, 10) == (8, 20, 40, 10)
    assert model.errors == [], model.errors
    assert (model.full, model.partial) == (1, 1)
    assert model.ram_bytes - sent == 5 * 10  # the window's bytes, nothing else
    assert panel.stats["bytes"] == 2 * RB * H + 5 * 10
    assert model.max_transfer == RB
    assert shown() == with_window(a, b, 8, 48, 20, 30)
    assert json.loads(chip.read_state("epd.json"))["partial"] == 1
    # A full refresh after partial ones starts the controller again (the fast waveform off).
    panel.full(a)
    assert shown() == bytes(a)
    assert (model.full, model.partial, model.errors) == (2, 1, [])


def shown_then_asleep(frame):
    """A blank panel that refreshed `frame` in full and went to deep sleep; `frame`."""
    blank()
    panel = uc8179.from_board(INFO)
    panel.init()
    panel.full(frame)
    panel.sleep()
    return frame


def test_a_partial_refresh_after_power_up_draws_its_whole_window():
    a = shown_then_asleep(pattern(5))
    model = boot()
    panel = uc8179.from_board(INFO)
    c = pattern(77)
    panel.init()
    assert panel.partial(c, 96, 50, 64, 32) == (96, 50, 64, 32)
    assert model.errors == [], model.errors
    # The old-data RAM is undefined after power-up: the driver sends the window's old data
    # (inverted) too, so the fast waveform drives every pixel of the window.
    assert model.ram_bytes == 2 * 8 * 32
    assert shown() == with_window(a, c, 96, 160, 50, 82)
    assert json.loads(chip.read_state("epd.json"))["full"] == 1  # counted across boots


def test_after_power_up_the_kept_old_frame_makes_only_changed_pixels_flip():
    a = shown_then_asleep(pattern(5))
    b = with_window(a, pattern(9), 200, 264, 100, 140)  # a with one block changed
    model = boot()
    panel = uc8179.from_board(INFO)
    window = last_frame.changed(a, b, RB, H)
    assert window == (200, 100, 64, 40), window
    panel.init()
    panel.partial(b, *window, old=a)
    assert model.errors == [], model.errors
    assert model.ram_bytes == 2 * 8 * 40  # old and new data of the window only
    assert shown() == b


def test_a_wrong_old_frame_leaves_a_wrong_picture_as_on_a_panel():
    # The model applies the fast waveform to old and new data: a pixel the old data says is
    # already black is not driven. A driver given the wrong old frame shows the mistake.
    white = shown_then_asleep(bytes([0xFF]) * (RB * H))
    black = bytes(RB * H)
    boot()
    panel = uc8179.from_board(INFO)
    panel.init()
    panel.partial(black, 0, 0, 64, 8, old=black)  # claims the panel was black already
    assert shown() == white


def test_changed_finds_the_whole_byte_box_around_every_difference():
    a = bytearray(RB * H)
    assert last_frame.changed(a, a, RB, H) is None
    b = bytearray(a)
    b[10 * RB + 3] = 0x01  # row 10, pixel 31 (bits 24..31 of the row: byte 3)
    assert last_frame.changed(a, b, RB, H) == (24, 10, 8, 1)
    b[479 * RB + 99] = 0x80  # the last row's last byte
    b[200 * RB + 0] = 0xFF
    assert last_frame.changed(a, b, RB, H) == (0, 10, 800, 470)
    c = bytearray(a)
    c[5 * RB + 40] = 0x10
    c[6 * RB + 41] = 0x08
    assert last_frame.changed(a, c, RB, H) == (320, 5, 16, 2)


def test_the_kept_frame_rewrites_only_the_bands_that_changed():
    path = "/lintel-test-shown"
    kept = last_frame.LastFrame(path, RB, H)
    kept.forget()
    assert kept.open() is None
    a = pattern(11)
    kept.save(a)
    assert kept.written == RB * H
    frame = kept.open()
    assert len(frame) == RB * H and bytes(frame.row(7)) == bytes(a[7 * RB:8 * RB])
    frame.close()
    # Rows 45..84 and 400..401 changed: bands 1, 2 and 10 are written, nothing else, though
    # the window around the change spans rows 45..401.
    b = with_window(with_window(a, pattern(12), 0, W, 45, 85), pattern(13), 80, 96, 400, 402)
    bands = []
    assert last_frame.changed(a, b, RB, H, bands) == (0, 45, W, 357)
    assert bands == [1, 2, 10]
    kept.save(uc8179_rows_only(b), bands)
    assert kept.written == 3 * last_frame.BAND_ROWS * RB
    frame = kept.open()
    assert bytes(frame.row(H - 1)) == bytes(b[(H - 1) * RB:])
    assert last_frame.changed(frame, b, RB, H) is None
    frame.close()
    assert last_frame.LastFrame(path, RB, H // 2).open() is None  # another panel's size


def test_a_save_cut_short_leaves_no_kept_frame_rather_than_a_mixed_one():
    path = "/lintel-test-shown"
    kept = last_frame.LastFrame(path, RB, H)
    kept.save(pattern(1))

    class PowerCut(Exception):
        pass

    class Failing(uc8179_rows_only):
        def row(self, y):
            if y == 200:
                raise PowerCut()
            return super().row(y)

    try:
        kept.save(Failing(pattern(2)))
    except PowerCut:
        pass
    assert kept.open() is None  # the next partial refresh drives every pixel instead
    kept.save(pattern(3))
    assert kept.open() is not None
    os.remove(path + "/5")  # a band lost: reading the frame says so
    frame = kept.open()
    try:
        last_frame.changed(frame, pattern(3), RB, H)
        raise AssertionError("a missing band went unnoticed")
    except OSError:
        pass
    frame.close()
    kept.forget()
    assert kept.open() is None


class uc8179_rows_only:
    """A frame that is not held whole: len() and row(y), as the emulated board's."""

    def __init__(self, data):
        self._data = data

    def __len__(self):
        return len(self._data)

    def row(self, y):
        return memoryview(self._data)[y * RB:(y + 1) * RB]


def test_deep_sleep_then_a_command_is_an_error_until_a_reset():
    model = blank()
    panel = always_powered()
    panel.init()
    panel.full(pattern(6))
    panel.sleep()
    assert model.asleep and model.powered
    assert json.loads(chip.read_state("epd.json"))["asleep"] is True
    words = raises(panel.full, pattern(7))
    assert "did not start its refresh" in words, words
    assert any("while in deep sleep" in e for e in model.errors), model.errors
    assert shown() == bytes(pattern(6))  # the panel keeps its image
    panel.init()  # the hardware reset wakes it
    assert not model.asleep
    panel.full(pattern(7))
    assert shown() == bytes(pattern(7))


def test_after_sleep_the_supply_is_off_and_the_controller_hears_nothing():
    model = blank()
    panel = uc8179.from_board(INFO)
    panel.init()
    panel.full(pattern(8))
    panel.sleep()
    assert not model.powered
    assert json.loads(chip.read_state("epd.json"))["powered"] is False
    raises(panel.partial, pattern(9), 0, 0, 8, 8)
    assert any("supply is off" in e for e in model.errors), model.errors
    assert (model.full, model.partial) == (1, 0)


def test_skipping_init_is_an_error_in_the_model_and_in_the_driver():
    model = blank()
    panel = always_powered()
    machine.Pin(PINS["rst"], machine.Pin.OUT, value=0)  # a reset pulse and nothing else
    machine.Pin(PINS["rst"], machine.Pin.OUT, value=1)
    words = raises(panel.full, pattern(10))
    assert words.startswith("the e-paper panel did not start its refresh"), words
    assert any("before power on (0x04)" in e for e in model.errors), model.errors
    assert model.full == 0 and panel.stats["full"] == 0
    assert chip.read_state("epd.pbm") == b""  # no image
    # Without even the supply and the reset (a board whose driver never ran init()).
    model = blank()
    panel = uc8179.from_board(INFO)
    raises(panel.full, pattern(10))
    assert any("supply is off" in e for e in model.errors), model.errors


def test_a_refresh_with_no_image_data_is_refused():
    model = blank()
    uc8179.from_board(INFO).init()
    raw(0x12)
    assert "no image data (0x13) written since the reset" in model.errors[-1], model.errors
    assert model.full == 0


def test_a_partial_window_off_byte_boundaries_is_refused():
    model = blank()
    uc8179.from_board(INFO).init()
    raw(0x91)
    raw(0x90, bytes((0, 3, 0, 10, 0, 0, 0, 7, 1)))  # x 3..10
    assert "not on byte boundaries" in model.errors[-1], model.errors
    raw(0x13, b"\x00")
    assert "without a valid partial window" in model.errors[-1], model.errors
    raw(0x12)
    assert model.partial == 0


def test_writes_past_the_ram_are_an_error():
    model = blank()
    uc8179.from_board(INFO).init()
    raw(0x91)
    raw(0x90, bytes((0, 8, 0, 15, 0, 0, 0, 0, 1)))  # one byte of one row
    raw(0x13, b"\x00\xff")
    assert model.errors == ["image data past the RAM: 1 bytes more than the partial window's 1"], \
        model.errors


def test_an_unknown_command_and_a_command_while_busy_are_errors():
    model = blank()
    uc8179.from_board(INFO).init()
    raw(0xFE)
    assert model.errors[-1] == "unknown command 0xfe", model.errors
    raw(0x04)  # power on again: BUSY for a while
    raw(0x00, b"\x1f")
    assert "command 0x00 while BUSY" in model.errors[-1], model.errors


def test_a_panel_stuck_busy_is_an_error_with_words_within_the_timeout():
    model = blank()
    model.hold_busy = True
    panel = uc8179.from_board(INFO, busy_timeout_ms=150)
    started = time.ticks_ms()
    words = raises(panel.init)
    took = time.ticks_diff(time.ticks_ms(), started)
    model.hold_busy = False
    assert words == "the e-paper panel stayed busy for 150 ms: check its cable and supply", words
    # The supply and the reset pulse, then its own 150 ms, not the default 20 s (the bound
    # leaves a busy runner room: a loaded CI machine took 716 ms).
    assert 150 <= took < uc8179.BUSY_TIMEOUT_MS // 4, took


def test_frames_and_windows_are_checked_with_words():
    blank()
    panel = uc8179.from_board(INFO)
    for call in ((panel.full, bytearray(10)), (panel.partial, bytearray(10), 0, 0, 8, 8),
                 (panel.partial, bytearray(RB * H), 800, 0, 8, 8)):
        try:
            call[0](*call[1:])
        except ValueError as e:
            assert "frame is 48000 bytes" in str(e) or "not on the 800x480 panel" in str(e), e
        else:
            raise AssertionError("no ValueError")
