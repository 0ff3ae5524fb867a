"""What the end-to-end tests of an emulated panel on the lab's tenant share
(tests/test_m365_panel.py on Graph, tests/test_ews_panel.py on EWS): pushing a configuration,
reading a wake's console, putting the room's calendar in a known state, getting back to the
room screen."""

import time
from datetime import datetime

from helpers import built_image
from lintel.emulator.lab import Lab

ROOM = "room-4.12@contoso.example"
MAILBOX = f"Boardroom 4.12 <{ROOM}>"
AMARA = "amara.okafor@contoso.example"


def provisioned_lab(work):
    """The lab's tenant and an emulated e-paper panel in `work`, provisioned as a technician
    would (its configuration is for the tests to push)."""
    lab = Lab(work)
    try:
        lab.start_panel(built_image("esp32s3-epd75") / "flash.bin")
        lab.lintel("provision", "--port", lab.panel.link)
    except BaseException:
        lab.stop()  # a set-up that failed leaves no tenant or emulator running
        raise
    return lab


def push(lab, **kw):
    """Push a panel.toml (the lab's, changed by kw); wait until the panel runs it. Check-in
    opens at a meeting's start and a no-show is released a minute in: short enough for a test
    that waits in real time (the emulated clock is the host's)."""
    kw.setdefault("mailbox", MAILBOX)
    kw.setdefault("room_list", "rooms-floor-4@contoso.example")
    kw.setdefault("alternatives", ("Focus room 3.01 <room-3.01@contoso.example>",))
    kw.setdefault("check_in", (0, 1))
    kw.setdefault("auto_release_min", 1)
    path = lab.panel_toml(**kw)
    mark = lab.panel.mark()
    lab.lintel("config", "push", path, "--port", lab.panel.link)
    # The push ends with a reset; what comes after it runs the new configuration (a wake of
    # the old one may still have printed its lines meanwhile).
    reset = "rst:0xc (RTC_SW_CPU_RST)"
    text = lab.panel.wait_for(reset, since=mark)
    mark += text.index(reset)
    lab.panel.wait_for("state: configured", since=mark)
    return mark


def next_wake(lab, timeout=60, reading=True):
    """The console of the first wake that begins after now, once it has ended; with
    `reading`, the first that read the calendar (a wake for a meeting boundary between two
    reads draws from the kept calendar, without the network: app/wake.py, _between_reads)."""
    while True:
        mark = lab.panel.mark()
        text = lab.panel.wait_for("\nLintel ", timeout=timeout, since=mark)
        begin = mark + text.index("\nLintel ")
        end = begin + lab.panel.wait_for("\nwake: ", timeout=timeout, since=begin).index(
            "\nwake: ")
        text = lab.panel.wait_for("\n", timeout=timeout, since=end + 1)
        wake = lab.panel.console_text()[begin:end + 1 + text.index("\n")]
        if not reading or "\ncalendar: as read at " not in wake:
            return wake


def view_after_wake(lab):
    next_wake(lab)
    return lab.panel.view()


def fresh_room(lab, *events):
    lab.admin("DELETE", f"events?room={ROOM}")
    if events:
        lab.admin("POST", "events", [dict(e, room=ROOM) for e in events])
    at_the_room(lab)


def at_the_room(lab):
    """Back to the room screen from a picker or the rooms list an earlier test left up: taps
    land on the buttons of the screen shown."""
    if "back" in lab.panel.buttons():
        mark = lab.panel.mark()
        lab.panel.press("back")
        lab.panel.wait_for("screen: room", since=mark)


def shown_problem(lab, words, since):
    """The problem screen that follows the first console line with `words` after `since`
    (a wake of the previous configuration may still be ending after a push)."""
    text = lab.panel.wait_for(words, since=since)
    lab.panel.wait_for("screen: problem", since=since + text.index(words))
    return lab.panel.view()["problem"]


def offline_until_the_fault_passes(lab, fault, problem):
    """Inject `fault` (the tenant's /_admin/faults): the console's `problem` line, the last
    good schedule left on screen saying since when, then, the fault used up, the room back by
    itself. The console index of the problem line."""
    mark = lab.panel.mark()
    lab.admin("POST", "faults", fault)
    text = lab.panel.wait_for(problem, since=mark)
    at = mark + text.index(problem)
    lab.panel.wait_for("screen: room, offline", since=at)
    offline = lab.panel.view()["offline"]
    assert problem.startswith("problem: " + offline["kind"]) and offline["text"].startswith(
        "Not updated since " + offline["since"])
    after = mark + len(lab.panel.console_text()[mark:])
    lab.panel.wait_for("screen: room |", since=after)
    assert "offline" not in lab.panel.view()
    return at


def room_events(lab):
    return lab.admin("GET", f"events?room={ROOM}")


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


