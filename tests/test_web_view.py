"""The emulated panel's live screen (`lintel emulate --web`) in a real headless Chromium: the
page shows the signed-in room, a click on "Book now" is a touch, the room becomes busy on the
page and the booking is in the fake tenant."""

import json
import os
import shutil
import time
import urllib.request

import pytest

from helpers import built_image
from lintel.emulator.lab import Lab
from lintel.render import render

ROOM = "room-4.12@contoso.example"
# Flags that work on this kind of machine (no sandbox as root, no background networking).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = os.environ.get("LINTEL_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None)
    if not path:
        pytest.fail("no Chromium: `make setup` installs Debian's chromium; elsewhere install "
                    "one or set LINTEL_CHROMIUM")
    return path


def fetch_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def lab(tmp_path):
    with Lab(tmp_path) as lab:  # stopped even when the set-up fails
        lab.admin("POST", "settings", {"poll_interval": 1})
        lab.start_panel(built_image("esp32s3-epd75") / "flash.bin", "--web", "0")
        lab.configure(lab.panel_toml())
        lab.sign_in()
        lab.admin("DELETE", f"events?room={ROOM}")
        yield lab


def test_a_click_on_book_now_books_the_room(lab):
    from playwright.sync_api import sync_playwright

    panel = lab.panel
    deadline = time.monotonic() + 60
    while (panel.view() or {}).get("status") != "free" or "book" not in panel.view()["actions"]:
        assert time.monotonic() < deadline, "the panel never showed the room free"
        time.sleep(0.2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(panel.web_url)
            page.wait_for_function("document.getElementById('screen').naturalWidth === 800")
            box = page.locator("#screen").bounding_box()

            def click(action):
                # Where the panel's own screen has that button: the renderer's hit areas.
                _png, hits = render(panel.view(), "esp32s3-epd75")
                (hit,) = [h for h in hits if h[0] == action]
                page.mouse.click(box["x"] + hit[1] + hit[3] / 2, box["y"] + hit[2] + hit[4] / 2)

            mark = panel.mark()
            click("book")  # "Book now": the durations, on a screen of their own
            page.wait_for_function(
                "document.getElementById('screen').dataset.screen === 'book'", timeout=30000)
            click("book:15")
            page.wait_for_function(
                "document.getElementById('status').textContent.includes('book:15')")
            panel.wait_for("booked: 15 min", since=mark)
            # The page follows the panel: a new screen arrives without a reload.
            page.wait_for_function(
                "document.getElementById('screen').dataset.screen === 'room'", timeout=30000)
            deadline = time.monotonic() + 30
            while fetch_json(panel.web_url + "view.json")["status"] == "free":
                assert time.monotonic() < deadline, "the page's view never became busy"
                time.sleep(0.2)
        finally:
            browser.close()
    (booked,) = lab.admin("GET", f"events?room={ROOM}")
    assert booked["subject"].startswith("Booked at the")
