"""The emulated panel on the fake Microsoft 365 tenant, end to end: a technician provisions it
and pushes a panel.toml, the panel shows a device code, the admin approves it, and the panel
reads the room, books, extends, ends early, sends a service request, finds another room,
releases a no-show, and comes back by itself from every fault the tenant can inject.

One tenant and one panel serve the whole module (signing in is the slow part); each test puts
the room's calendar in a known state first. Tests run in file order.
"""

import json
import re
import time
from datetime import datetime

import pytest

from helpers import run_lintel
from lintel.tenant import ca as ca_mod
from lintel.tenant import server
from lintel.tenant.proxy import start_proxy
from panel_helpers import (
    AMARA,
    MAILBOX,
    ROOM,
    at_the_room,
    fresh_room,
    iso,
    next_wake,
    offline_until_the_fault_passes,
    provisioned_lab,
    push,
    room_events,
    seconds,
    shown_problem,
    view_after_wake,
)

SERVICE_ACCOUNT = "lintel.panels@contoso.onmicrosoft.com"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = provisioned_lab(tmp_path_factory.mktemp("m365"))
    lab.admin("POST", "settings", {"poll_interval": 1})  # before any sign-in: none yet
    yield lab
    lab.stop()


def test_the_panel_shows_a_code_is_signed_in_and_shows_the_seeded_day(lab):
    mark = push(lab)
    code = lab.sign_in_code(since=mark)
    view = lab.panel.view()
    assert view["screen"] == "signin" and view["signin"]["user_code"] == code
    assert view["signin"]["verification_uri"] == f"{lab.base_url}/devicelogin"
    assert view["reason"] == "this panel has not been signed in yet"
    lab.approve(code)
    lab.panel.wait_for(f"signed in as {SERVICE_ACCOUNT}", since=mark)
    lab.panel.wait_for("screen: room", since=mark)
    view = lab.panel.view()
    assert view["room"] == {"name": "Boardroom 4.12", "address": ROOM}
    assert view["account"]["upn"] == SERVICE_ACCOUNT
    # The demo office's busy room: the room puts organizers' names in the subjects.
    seeded = room_events(lab)
    organizers = {e["organizer"]["name"] for e in seeded if not e["all_day"]}
    shown = view["agenda"]["today"] + view["agenda"]["tomorrow"]
    assert shown and {e["title"] for e in shown if not e["all_day"]} <= organizers | {
        "Private meeting"}
    # Every later wake reuses the stored sign-in: one TLS session, no device code.
    log_mark = lab.admin("GET", "requests?limit=1")[-1]["id"]
    wake = next_wake(lab)
    assert "sign in:" not in wake and "1 connections, 1 TLS handshakes" in wake
    later = lab.admin("GET", f"requests?since={log_mark}")
    assert later and not any("devicecode" in r["path"] for r in later)
    view_calls = [r for r in later if r["path"].lower().endswith("/calendarview")]
    assert view_calls and "$select" in view_calls[0]["query"]
    text = lab.panel.console_text()
    assert "eyJ" not in text and "device_code" not in text  # no token on the console


def test_book_extend_and_end_early(lab):
    fresh_room(lab)
    view = view_after_wake(lab)
    assert view["status"] == "free" and "book" in view["actions"]
    mark = lab.panel.mark()
    lab.panel.press("book")  # "Book now" opens the durations
    lab.panel.wait_for("screen: book | redrawn", since=mark)
    view = lab.panel.view()
    assert [c["action"] for c in view["choices"]] == ["book:15", "book:30", "book:60"]
    lab.panel.press("book:15")
    lab.panel.wait_for("booked: 15 min", since=mark)
    (booked,) = room_events(lab)
    assert booked["subject"] == "Booked at the panel"
    view = view_after_wake(lab)
    # Booked at the door means someone is there: checked in ("checked_in" while the check-in
    # window of the lab's configuration is open, the first minute; "busy" after).
    assert view["status"] in ("busy", "checked_in") and view["checked_in"]
    assert "extend" in view["actions"]
    mark = lab.panel.mark()
    lab.panel.press("extend")  # the extend picker
    lab.panel.wait_for("screen: book | redrawn", since=mark)
    mark = lab.panel.mark()
    lab.panel.press("extend:15")
    text = lab.panel.wait_for("extended: 15 min", since=mark)
    (extended,) = room_events(lab)
    assert seconds(extended["end"]) - seconds(booked["end"]) == 15 * 60
    lab.panel.wait_for("screen: room", since=mark + text.index("extended: 15 min"))
    lab.panel.press("end")  # on the room screen that follows
    lab.panel.wait_for("ended early", since=mark)
    (ended,) = room_events(lab)
    assert seconds(ended["end"]) <= time.time() + 60
    view = view_after_wake(lab)
    assert view["status"] == "free"


def test_the_e_paper_model_shows_what_lintel_render_draws(lab):
    # The firmware's e-paper driver sends the host-drawn pixels to the UC8179 model on the
    # emulated SPI bus; the panel's image must be the renderer's, pixel for pixel.
    from lintel.render import mono_frame

    fresh_room(lab)
    next_wake(lab)
    mark = lab.panel.mark()
    lab.panel.press("book")  # a new screen at once: the book picker
    text = lab.panel.wait_for("screen: book | redrawn (", since=mark)
    lab.panel.wait_for("\nwake: ", since=mark + text.index("screen: book"))
    epd = json.loads((lab.panel.state / "epd.json").read_text())
    assert epd["errors"] == [] and epd["full"] >= 1 and epd["full"] + epd["partial"] >= 2
    image = (lab.panel.state / "epd.pbm").read_bytes()
    header = b"P4\n800 480\n"
    assert image.startswith(header)
    drawn = bytes(b ^ 0xFF for b in image[len(header):])  # PBM: 1 = black
    assert drawn == mono_frame(lab.panel.view(), "esp32s3-epd75")


def test_a_service_request_is_mailed_to_facilities(lab):
    fresh_room(lab)
    lab.admin("DELETE", "outbox")
    mark = lab.panel.mark()
    lab.panel.press("service")
    lab.panel.wait_for("screen: service | redrawn", since=mark)
    (catering, *_) = lab.panel.view()["groups"]
    assert catering["choices"][0] == {"action": "service:catering:0", "label": "More coffee"}
    lab.panel.press("service:catering:0")
    lab.panel.wait_for("service request sent: More coffee", since=mark)
    (mail,) = lab.admin("GET", "outbox")
    assert mail["subject"] == "More coffee" and mail["to"][0]["address"] == \
        "facilities@contoso.example"
    assert ROOM in mail["body"] and "Boardroom 4.12" in mail["body"]
    assert lab.panel.view()["notice"] == "Request sent: More coffee"


def test_find_a_room_lists_the_other_rooms_free_first(lab):
    at_the_room(lab)
    mark = lab.panel.mark()
    lab.panel.press("find")
    lab.panel.wait_for("screen: rooms", since=mark)
    view = lab.panel.view()
    names = [r["name"] for r in view["rooms"]]
    assert "Boardroom 4.12" not in names and "Focus room 3.01" in names  # the override
    assert len(names) == 5  # floor 4's other four rooms and the alternative
    free = [r["free"] for r in view["rooms"]]
    assert free == sorted(free, reverse=True)


@pytest.mark.parametrize("fault, problem", [
    ({"status": 429, "retry_after": "120"}, "problem: throttled"),
    ({"status": 503, "times": 2}, "problem: throttled"),
    ({"status": 500}, "problem: unavailable"),
    ({"kind": "malformed"}, "problem: bad_response | the answer from 127.0.0.1: the response "
                            "ended inside"),
    ({"kind": "truncate"}, "problem: network"),
    ({"kind": "reset"}, "problem: network"),
])
def test_graph_faults_show_a_problem_and_the_panel_recovers_by_itself(lab, fault, problem):
    offline_until_the_fault_passes(
        lab, dict(fault, path="/v1.0/users/*/calendar/calendarView"), problem)


def test_no_rights_on_the_room_says_the_exact_powershell_line(lab):
    mark = lab.panel.mark()
    lab.admin("POST", "rooms/rights", {"room": ROOM, "delegate": "none"})
    try:
        problem = shown_problem(lab, "problem: forbidden", since=mark)
        assert problem["action"].endswith(
            f"Add-MailboxFolderPermission -Identity {ROOM}:\\Calendar -User {SERVICE_ACCOUNT} "
            f"-AccessRights Editor -SharingPermissionFlags Delegate")  # it releases no-shows
    finally:
        lab.admin("POST", "rooms/rights", {"room": ROOM, "delegate": "editor"})
    lab.panel.wait_for("screen: room", since=lab.panel.mark())


def test_wifi_down_then_back(lab):
    state = lab.panel.state / "wifi"
    mark = lab.panel.mark()
    state.write_text("down")
    try:
        lab.panel.wait_for("problem: wifi_not_found | Wi-Fi lintel-lab is not in range",
                           since=mark)
        lab.panel.wait_for("screen: room, offline", since=mark)
    finally:
        state.write_text("up")
    lab.panel.wait_for("screen: room", since=lab.panel.mark())


def test_a_low_then_empty_battery_then_a_charged_one(lab):
    fresh_room(lab)
    mark = lab.panel.mark()
    try:
        lab.panel.set_battery_mv(3620)  # 12 %, below the lab's 15 %
        lab.panel.wait_for("battery: 3620 mV, 12 %", since=mark)
        lab.panel.wait_for("screen: room", since=mark)
        assert lab.panel.view()["battery"]["text"].startswith("Battery low (12%)")
        lab.panel.set_battery_mv(3350)
        text = lab.panel.wait_for("screen: battery | redrawn", since=mark)
        assert "problem: battery | 0 % left" in text
        view = lab.panel.view()
        assert view["screen"] == "battery" and view["words"] == "The battery is empty"
        # Nothing goes to the network on an empty cell: the wake's report says so.
        report = lab.panel.wait_for("\nwake: ", since=mark + text.index("screen: battery"))
        start = report.index("\nwake: ")
        assert report[start:].startswith("\nwake: 0 requests, 0 connections")
    finally:
        lab.panel.set_battery_mv(4000)
    after = lab.panel.mark()
    lab.panel.wake()  # the wake button; charged, it shows the room again
    lab.panel.wait_for("screen: room", since=after)
    assert lab.panel.view()["battery"] is None


def test_the_wake_button_pressed_while_the_panel_listens_looks_at_the_calendar_again(lab):
    fresh_room(lab)
    lab.panel.wait_for("[lintel emulate] deep sleep for", since=lab.panel.mark())
    mark = lab.panel.mark()
    lab.panel.wake()  # someone at the door: the panel wakes and listens for listen_s (5 s)
    text = lab.panel.wait_for("\nwake: ", since=mark)
    assert "deep-sleep wake" in text[:text.index("\nwake: ")]
    time.sleep(0.5)  # it listens now
    mark = lab.panel.mark()
    lab.panel.wake()  # the button again: a new wake at once, with a fresh calendar read
    text = lab.panel.wait_for("\nwake: ", since=mark)
    assert "button while listening" in text and re.search(r"\nwake: [1-9]\d* requests", text)
    assert lab.panel.console_text().count("tap while listening", mark) == 0


def test_a_panel_that_lost_the_time_sets_it_from_the_tenant(lab):
    # As after a power cut: the RTC back at 2000. The panel sets it to when it last read the
    # calendar (its certificates were valid then), then from the tenant's Date header.
    mark = lab.panel.mark()
    lab.panel.mpremote("exec", "--no-follow", "import machine; "
                       "machine.RTC().datetime((2000, 1, 1, 5, 0, 0, 0, 0)); machine.reset()")
    text = lab.panel.wait_for("screen: room |", since=mark)
    assert "| 2000-01-01T00:00:" in text  # the banner's clock, before the first answer
    # Then the tenant's Date sets it right, unless the calendar was read within 2 s of now.
    assert re.search(r"clock: lost; set to 20\d\d-[\d:T-]+Z, when the calendar was last read",
                     text), text
    # The next wake's banner says the time it now keeps (a battery panel's screen shows none).
    banner = next_wake(lab).strip().split("\n", 1)[0]
    panel_time = datetime.fromisoformat(banner.rsplit("| ", 1)[1].replace("Z", "+00:00"))
    assert abs(panel_time.timestamp() - time.time()) < 60, banner


def test_a_configuration_push_sets_a_lost_clock_from_the_host(lab):
    # A new panel's RTC starts at 2000; the technician's push gives it the host's time.
    lab.panel.mpremote("exec", "import machine; machine.RTC().datetime((2000, 1, 1, 5, 0, 0, 0, "
                               "0))")
    mark = push(lab)
    text = lab.panel.wait_for("screen: room |", since=mark)
    # The banner of the boot after the push says the panel's clock.
    banner = re.findall(r"\| software reset, wake \d+ \| (\S+)", text)[-1]
    panel_time = datetime.fromisoformat(banner.replace("Z", "+00:00")).timestamp()
    assert abs(panel_time - time.time()) < 60, banner


def test_a_claims_challenge_renews_the_token_and_the_room_stays(lab):
    # The panel's day-long tokens declare continuous access evaluation: after a critical event
    # Graph refuses them at once with a claims challenge, which a refresh answers.
    mark = lab.panel.mark()
    lab.admin("POST", "tokens/challenge", {})
    text = lab.panel.wait_for("as Graph's claims challenge asked", since=mark)
    text = lab.panel.wait_for("\nwake: ", since=mark + text.index("claims challenge asked"))
    assert "\nscreen: room |" in text and "problem:" not in text


def test_a_revoked_sign_in_returns_to_the_sign_in_screen_with_the_reason(lab):
    mark = lab.panel.mark()
    lab.admin("POST", "tokens/revoke", {})
    # Graph refuses the panel's CAE token at once with a claims challenge; the refresh that
    # answers it is what the revocation killed.
    lab.admin("POST", "settings", {"device_code_lifetime": 2})
    try:
        lab.panel.wait_for("sign-in lost: the service account's sign-in was revoked", since=mark)
        # The first code's screen says why (the view itself moves on with each 2-second code).
        text = lab.panel.wait_for("| the service account's sign-in was revoked", since=mark)
        assert "\nsign in: open " in text
        # Nobody signs in: after four codes the panel sleeps instead of polling all night.
        lab.panel.wait_for("sign in: waiting | nobody signed in with the last 4 codes",
                           since=mark)
        view = lab.panel.view()
        assert view["screen"] == "signin" and view["signin"] is None
    finally:
        lab.admin("POST", "settings", {"device_code_lifetime": 900})
    mark = lab.panel.mark()
    lab.panel.press("signin")  # the sign-in screen's button: a new code at once
    lab.approve(lab.sign_in_code(since=mark))
    lab.panel.wait_for("screen: room", since=mark)


def test_an_unknown_mailbox_an_untrusted_ca_and_a_wrong_host_name_are_problems(lab, tmp_path):
    mark = push(lab, mailbox="Nobody <nobody@contoso.example>")
    lab.panel.wait_for("problem: not_found | Graph does not know the mailbox "
                       "nobody@contoso.example", since=mark)
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(ca_mod.create_ca().cert_pem())
    mark = push(lab, ca=other_ca)
    problem = shown_problem(lab, "is not signed by a CA this panel trusts", mark)
    assert problem["kind"] == "tls" and "certificate" in problem["words"]
    # A tenant whose certificate names another host (its CA trusted): the name check refuses.
    elsewhere = server.start(0, None, tmp_path / "elsewhere", tmp_path / "elsewhere-ca.pem",
                             names=("graph.contoso.test",))
    try:
        text = lab.panel_toml(mailbox=MAILBOX, ca=tmp_path / "elsewhere-ca.pem").read_text()
        path = lab.workdir / "panel.toml"
        path.write_text(text.replace(lab.base_url, elsewhere.base_url))
        mark = lab.panel.mark()
        lab.lintel("config", "push", path, "--port", lab.panel.link)
        problem = shown_problem(lab, "is for another host name", mark)
        assert problem["kind"] == "tls"
    finally:
        elsewhere.stop()
    mark = push(lab)
    lab.panel.wait_for("screen: room", since=mark)


@pytest.mark.parametrize("auth", [False, True])
def test_the_panel_reaches_the_tenant_through_a_proxy(lab, auth):
    user, password = ("panels", "not-a-real-proxy-password") if auth else (None, None)
    proxy = start_proxy(0, user, password)
    try:
        extra = f'\n[proxy]\nurl = "{proxy.url}"\n'
        if auth:
            extra += f'user = "{user}"\npassword = "{password}"\n'
        mark = push(lab, extra=extra)
        lab.panel.wait_for("screen: room", since=mark)
        assert proxy.stats["tunnels"] >= 1
        if auth:
            assert password not in lab.panel.console_text()
            bad = extra.replace(password, "wrong-password")
            mark = push(lab, extra=bad)
            words = shown_problem(lab, "problem: proxy", since=mark)["words"]
            assert "407" in words or "refused" in words
    finally:
        mark = push(lab)
        proxy.stop()
    lab.panel.wait_for("screen: room", since=mark)


def test_a_no_show_is_released_and_the_organizer_told(lab):
    memory = json.loads((lab.panel.state / "rtc_memory").read_bytes())
    watching_since = memory["watching_since"]
    start = max(watching_since + 1, int(time.time()) - 70)
    lab.admin("DELETE", "outbox")
    mark = lab.panel.mark()
    fresh_room(lab, {"start": iso(start), "minutes": 30, "subject": "Quarterly planning",
                     "organizer": AMARA})
    lab.panel.wait_for("released: the meeting of", since=mark, timeout=90)
    assert room_events(lab) == []
    (notice,) = lab.admin("GET", "outbox")
    assert notice["kind"] == "decline" and notice["to"][0]["address"] == AMARA
    assert notice["subject"] == "Declined: Quarterly planning"


def test_one_wake_dumps_its_view_model(lab, tmp_path):
    # The signed-in panel, switched off and on again for exactly one wake.
    flash = lab.panel.flash
    lab.panel.stop()
    lab.panel = None
    proc = lab.lintel("emulate", "--flash", flash, "--once", "--dump-view", "--state",
                      tmp_path / "state", "--log", tmp_path / "console.log")
    view = json.loads(proc.stdout[proc.stdout.index("\n{") + 1:])
    assert view["screen"] == "room" and view["room"]["address"] == ROOM
    assert view["status"] in ("free", "busy") and "agenda" in view
    assert "power-on, wake 1" in (tmp_path / "console.log").read_text()


def test_make_demo_signs_in_and_shows_the_room(tmp_path):
    proc = run_lintel("demo", "--workdir", tmp_path / "demo", "--wakes", "1", "--web", "0",
                      "--approve-after", "0")
    assert "demo: the panel shows the sign-in code" in proc.stdout
    assert "demo: the panel's screen: http://127.0.0.1:" in proc.stdout
    assert "panel| signed in as lintel.panels@" in proc.stdout
    assert "panel| screen: room" in proc.stdout and "demo| buttons: " in proc.stdout
