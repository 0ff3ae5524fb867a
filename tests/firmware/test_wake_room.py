# The wake's room part (app/wake.Wake._room: presses, no-shows, the screen), in the Unix-port
# MicroPython, against a stand-in Graph that keeps a calendar in memory: each action goes
# through the backend and shows at once, each refusal is a notice in the view, service mails
# follow privacy, and the screen is redrawn only when the view changes.
import json
import time

from app import clock, room, wake

NOON = clock.timegm(2026, 11, 25, 11, 0)  # 12:00 in Amsterdam
MIN = 60
ROOM = "room-4.12@contoso.example"
FACILITIES = {"address": "facilities@contoso.example", "name": "Facilities"}
_real_now = clock.now


def config(**changes):
    doc = {
        "room": {"mailbox": {"address": ROOM, "name": "Boardroom 4.12"},
                 "room_list": None, "alternatives": []},
        "locale": {"posix_tz": "CET-1CEST,M3.5.0,M10.5.0/3", "clock": 24, "language": "en"},
        "privacy": {"show": "subject"},
        "booking": {"allowed": True, "durations": [15, 30, 60],
                    "check_in": {"enabled": True, "window_before_min": 5,
                                 "window_after_min": 10},
                    "auto_release_min": 0},
        "service": {"recipient": FACILITIES, "catering": ["More coffee"], "support": []},
        "schedule": {"refresh_min": 5, "office_hours": [7 * 60, 19 * 60],
                     "office_days": [0, 1, 2, 3, 4]},
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        doc[section][name] = value
    return doc


def event(start_min, minutes, subject="Planning", **kw):
    e = {"id": "AAMkAD-%d-%d" % (start_min, minutes), "start": NOON + start_min * MIN,
         "end": NOON + (start_min + minutes) * MIN, "subject": subject,
         "organizer": "Amara Okafor", "organizer_address": "amara.okafor@contoso.example",
         "private": False, "all_day": False, "cancelled": False, "show_as": "busy"}
    e.update(kw)
    return e


class Graph:
    """The calls Wake makes, on a calendar in memory; `calls` records the writes."""

    all_day_moments = False  # all-day events' dates as UTC midnights, as app.graph gives them

    def __init__(self, *events):
        self.events = [dict(e) for e in events]
        self.calls = []
        self.made = 0

    def calendar_view(self, mailbox, start, end, on_event):
        assert mailbox == ROOM
        for e in sorted(self.events, key=lambda e: e["start"]):
            if e["start"] < end and e["end"] > start:
                on_event(dict(e))

    def _find(self, event_id):
        for e in self.events:
            if e["id"] == event_id:
                return e
        raise AssertionError("no event " + event_id)

    def create_event(self, mailbox, subject, start, end, body_text=None):
        self.made += 1
        e = event(0, 0, subject, id="made-%d" % self.made, start=start, end=end,
                  organizer="Boardroom 4.12", organizer_address=mailbox)
        self.events.append(e)
        self.calls.append(("create", subject, start, end))
        return dict(e)

    def move_end(self, mailbox, event_id, end):
        e = self._find(event_id)
        e["end"] = end
        self.calls.append(("move_end", event_id, end))
        return dict(e)

    def decline(self, mailbox, event_id, comment):
        self.events.remove(self._find(event_id))
        self.calls.append(("decline", event_id, comment))

    def send_mail(self, to, subject, text):
        self.calls.append(("mail", to["address"], subject, text))


class Board:
    def __init__(self, cause="deep-sleep wake", battery=None, battery_powered=True):
        self.presses, self.shown, self.cause, self.level = [], [], cause, battery
        self.battery_powered = battery_powered
        self.refreshes = []

    def battery(self):
        return self.level

    hits = None  # the buttons of the screen shown, as a panel's show() leaves them

    def take_presses(self, hits=None):
        self.hits_given = hits
        presses, self.presses = self.presses, []
        return presses

    def show(self, data, full=True):
        self.shown.append(json.loads(data))
        self.refreshes.append("full" if full else "partial")
        return self.refreshes[-1]

    def reset_cause(self):
        return self.cause

    def device_key(self):
        return None  # not provisioned: the wake keeps no offline schedule here

    def woken_by_button(self):
        return False


class KeptBoard(Board):
    """A provisioned board: the wake keeps the calendar it read (sealed, in its files) for the
    offline screen and for the wakes between reads."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.files = {}

    def device_key(self):
        return (b"\x11" * 32, b"\x22" * 8)  # an obviously fake key and key id

    def read_file(self, path):
        return self.files.get(path)

    def write_file(self, path, data):
        self.files[path] = data


def run(graph, presses=(), now=NOON, cfg=None, memory=None, board=None, online=False):
    """One wake's room part at `now`: (the view shown or None, the Wake, the board). `online`:
    the radio is on, as after a join (so the wake switches it off)."""
    board = board or Board()
    board.presses = list(presses)
    memory = {} if memory is None else memory
    memory.setdefault("watching_since", now - 3600)
    w = wake.Wake(board, cfg or config(), memory)
    if online:
        w.radio_from = time.ticks_ms()
    clock.now = lambda: now
    try:
        if not w._battery_empty():
            w.seconds = w._room(graph, {"name": "Lintel Room Panels",
                                        "upn": "lintel.panels@contoso.example"})
    finally:
        clock.now = _real_now
    return (board.shown[-1] if board.shown else None), w, board


def fresh():
    wake._drawn = False  # as a new process


# -- actions ----------------------------------------------------------------------------------

def test_book_now_books_from_the_minute_and_shows_it_at_once():
    fresh()
    g = Graph(event(60, 30, "Review"))
    v, w, _ = run(g, ["book:30"], now=NOON + 25)
    assert g.calls == [("create", "Booked at the panel", NOON, NOON + 30 * MIN)]
    assert v["notice"] == "Booked until 12:30" and v["notice_kind"] == "done"
    # Booked by someone at the door: checked in, not waiting for a check-in.
    assert v["status"] == "checked_in" and v["checked_in"] is True
    assert v["current"]["title"] == "Booked at the panel" and v["current"]["organizer"] is None
    booked = g.events[1]
    assert w.memory["checked_in"] == [room.event_key(booked)]
    release = config(booking__auto_release_min=10)
    assert room.no_shows([booked], NOON + 20 * MIN, release, w.checked_in, NOON - 3600) == []


def test_book_in_dutch_has_the_dutch_subject():
    fresh()
    g = Graph()
    v, _, _ = run(g, ["book:15"], cfg=config(locale__language="nl"))
    assert g.calls[0][1] == "Geboekt via het paneel"
    assert v["notice"] == "Geboekt tot 12:15" and v["status_text"] == "Ingecheckt"


def test_book_past_the_next_meeting_is_refused_with_words():
    fresh()
    g = Graph(event(30, 30, "Review"))
    v, _, _ = run(g, ["book:60"])
    assert g.calls == []
    assert v["notice"] == \
        "The room is booked from 12:30: book until then or find another room."
    assert v["notice_kind"] == "refused" and v["status"] == "free"
    v, _, _ = run(g, ["book:15", "book:15"])  # the second press finds the room taken
    assert len(g.calls) == 1
    assert v["notice"] == "The room is in use until 12:15: find another room."


def test_extend_and_end_early_go_through_graph():
    fresh()
    g = Graph(event(-30, 60), event(60, 30, "Review"))
    v, _, _ = run(g, ["extend:15"])
    assert g.calls == [("move_end", "AAMkAD--30-60", NOON + 45 * MIN)]
    assert v["notice"] == "Extended until 12:45" and v["current"]["end"] == "12:45"
    assert v["until"] == "12:45"
    v, _, _ = run(g, ["extend:30"])  # to 13:15: past the Review at 13:00
    assert len(g.calls) == 1 and v["notice_kind"] == "refused"
    assert v["notice"] == "The room is booked from 13:00: extend until then at most."
    v, _, _ = run(g, ["end"], now=NOON + 5 * MIN)
    assert g.calls[-1] == ("move_end", "AAMkAD--30-60", NOON + 5 * MIN)
    assert v["notice"] == "Meeting ended" and v["status"] == "free" and v["current"] is None
    v, _, _ = run(g, ["end"], now=NOON + 6 * MIN)
    assert v["notice"] == "There is no meeting on to end." and len(g.calls) == 2


def test_extend_until_the_next_meeting_when_no_duration_fits():
    fresh()
    g = Graph(event(-30, 60), event(40, 30, "Review"))
    v, _, _ = run(g)
    assert v["actions"][:2] == ["extend:10", "end"]
    assert v["labels"]["extend:10"] == "Extend until 12:40"
    v, _, _ = run(g, ["extend:10"])
    assert g.calls == [("move_end", "AAMkAD--30-60", NOON + 40 * MIN)]
    assert v["status"] == "busy" and v["until"] == "13:10"  # now back to back with Review


def test_check_in_is_remembered_and_stops_the_release():
    fresh()
    g = Graph(event(-3, 60))
    v, w, _ = run(g)
    assert v["status"] == "awaiting_checkin" and "checkin" in v["actions"]
    memory = w.memory
    v, _, _ = run(g, ["checkin"], memory=memory)
    assert v["status"] == "checked_in" and v["notice"] == "Thank you, you are checked in"
    assert g.calls == []  # a check-in is the panel's own business
    v, _, _ = run(g, [], now=NOON + 20 * MIN, memory=memory)
    assert g.calls == [] and v["status"] == "busy" and v["checked_in"] is True
    v, _, _ = run(g, ["checkin"], now=NOON + 20 * MIN, memory=memory)
    assert v["notice"] == "Check-in closed at 12:07."


def test_a_no_show_is_released_and_the_screen_says_so():
    fresh()
    g = Graph(event(-10, 60))
    v, _, _ = run(g, cfg=config(booking__auto_release_min=10))
    assert g.calls[0][0] == "decline" and "within 10 minutes" in g.calls[0][2]
    assert v["status"] == "free"
    assert v["notice"] == "The meeting of 11:50-12:50 was released: nobody checked in"


def test_check_in_outside_the_window_is_refused_with_words():
    fresh()
    v, _, _ = run(Graph(event(30, 30)), ["checkin"])
    assert v["notice"] == "Check-in opens at 12:25." and v["notice_kind"] == "refused"


def test_a_service_request_names_the_meeting_as_privacy_allows():
    fresh()
    meeting = event(-10, 60, "Salary review")
    for show, want in (("subject", "Salary review (Amara Okafor)"),
                       ("organizer", "Amara Okafor"), ("busy", "Busy")):
        g = Graph(meeting)
        v, _, _ = run(g, ["service:catering:0"], cfg=config(privacy__show=show),
                      memory={"checked_in": [room.event_key(meeting)]})
        (call,) = g.calls
        assert call[:3] == ("mail", "facilities@contoso.example", "More coffee")
        assert "Boardroom 4.12 <%s> at 12:00" % ROOM in call[3]
        assert call[3].endswith("Meeting in the room: %s\r\n" % want), call[3]
        assert v["notice"] == "Request sent: More coffee"
    g = Graph(event(-10, 60, "Salary review", private=True))
    run(g, ["service:catering:0"], memory={"checked_in": [room.event_key(meeting)]})
    assert "Meeting in the room: Private meeting" in g.calls[-1][3]
    g = Graph()
    run(g, ["service:catering:0"])
    assert g.calls[-1][3].endswith("Meeting in the room: none\r\n")


def test_back_from_the_rooms_screen_shows_the_room_without_a_notice():
    fresh()
    g = Graph()
    v, _, _ = run(g, ["back", "signin"])
    assert v["screen"] == "room" and v["notice"] is None and g.calls == []


def test_a_service_request_without_a_recipient_is_refused():
    fresh()
    g = Graph()
    v, _, _ = run(g, ["service:catering:0"], cfg=config(service__recipient=None))
    assert g.calls == [] and "service:catering:0" not in v["actions"]
    assert v["notice"] == "Service requests are not set up at this panel."


# -- pickers ------------------------------------------------------------------------------------

def test_book_now_opens_the_picker_and_a_choice_books():
    fresh()
    g = Graph(event(40, 30))
    board, memory = Board(), {}
    v, _, _ = run(g, board=board, memory=memory)
    assert v["actions"][0] == "book" and v["labels"]["book"] == "Book now"
    v, w, _ = run(g, ["book"], now=NOON + 5, board=board, memory=memory)
    assert v["screen"] == "book" and g.calls == [] and w.seconds == wake.PICKER_S
    assert [c["action"] for c in v["choices"]] == ["book:15", "book:30"]
    v, _, _ = run(g, ["book:30"], now=NOON + 20, board=board, memory=memory)
    assert v["screen"] == "room" and v["notice"] == "Booked until 12:30"
    assert g.calls == [("create", "Booked at the panel", NOON, NOON + 30 * MIN)]
    # Nobody chose: the next wake shows the room again.
    run(g, ["book"], now=NOON + 30, board=board, memory=memory)
    v, _, _ = run(g, now=NOON + 90, board=board, memory=memory)
    assert v["screen"] == "room" and v["notice"] is None


def test_a_picker_that_has_nothing_left_to_offer_says_why_on_the_room():
    fresh()
    g = Graph(event(10, 60))
    v, _, _ = run(g, ["book"])
    assert v["screen"] == "room" and g.calls == []
    assert v["notice"] == "The room is booked from 12:10: find another room."


def test_extend_opens_its_picker_and_back_returns_to_the_room():
    fresh()
    g = Graph(event(-30, 60))
    v, _, _ = run(g, ["extend"])
    assert v["screen"] == "book" and v["heading"] == "Extend the meeting"
    assert [c["action"] for c in v["choices"]] == ["extend:15", "extend:30", "extend:60"]
    v, _, _ = run(g, ["extend", "back"])
    assert v["screen"] == "room" and v["notice"] is None and g.calls == []


def test_the_service_picker_sends_the_request_chosen():
    fresh()
    g = Graph()
    cfg = config(service__catering=["More coffee", "Water"], service__support=["Projector"])
    v, _, _ = run(g, ["service"], cfg=cfg)
    assert v["screen"] == "service" and v["line"] == "Your request goes to Facilities by e-mail"
    assert [c["label"] for grp in v["groups"] for c in grp["choices"]] == [
        "More coffee", "Water", "Projector"]
    v, _, _ = run(g, ["service:support:0"], cfg=cfg)
    assert v["screen"] == "room" and v["notice"] == "Request sent: Projector"
    assert g.calls[0][:3] == ("mail", "facilities@contoso.example", "Projector")


# -- the battery ----------------------------------------------------------------------------------

def test_a_low_battery_says_so_on_the_room_and_wakes_less_often():
    fresh()
    g = Graph()
    v, w, _ = run(g, board=Board(battery={"mv": 3690, "percent": 12}))
    assert v["battery"] == {"percent": 12, "text": "Battery low (12%): charge or replace it "
                            "soon. The panel now updates every 30 min."}
    assert w.seconds == 30 * MIN
    nl = config(locale__language="nl")
    nl["schedule"]["low_battery_refresh_min"] = 60
    v, w, _ = run(g, cfg=nl, board=Board(battery={"mv": 3690, "percent": 12}))
    assert v["battery"]["text"].startswith("Batterij bijna leeg (12%)") and w.seconds == 60 * MIN
    # Above the threshold, or with the threshold at 0 (never): nothing said, the usual refresh.
    v, w, _ = run(g, board=Board(battery={"mv": 3950, "percent": 71}))
    assert v["battery"] is None and w.seconds == 5 * MIN
    off = config()
    off["schedule"]["low_battery_percent"] = 0
    v, w, _ = run(g, cfg=off, board=Board(battery={"mv": 3690, "percent": 12}))
    assert v["battery"] is None and w.seconds == 5 * MIN


def test_an_empty_battery_shows_its_screen_and_stays_off_the_network():
    fresh()
    board = Board(battery={"mv": 3380, "percent": 1})
    w = wake.Wake(board, config(), {})
    # No join_wifi on this board: a wake that tried the radio would fail here.
    assert w.run() == wake.EMPTY_SLEEP_S
    assert board.shown == [{"screen": "battery", "language": "en", "room": {
        "name": "Boardroom 4.12", "address": ROOM}, "percent": 1,
        "words": "The battery is empty", "action": "Charge or replace the battery. The panel "
        "shows the room again by itself when it has power."}]


# -- redraws ----------------------------------------------------------------------------------

def clock_shown():
    """The configuration with the time of day on every panel's screen: a new minute, a new
    view."""
    cfg = config()
    cfg["schedule"]["show_time"] = "always"
    return cfg


def test_the_screen_is_redrawn_only_when_the_view_changes():
    fresh()
    g = Graph(event(60, 30))
    board, memory, cfg = Board(), {}, clock_shown()
    run(g, now=NOON + 5, cfg=cfg, board=board, memory=memory)
    assert len(board.shown) == 1 and len(memory["shown"]) == 12
    run(g, now=NOON + 50, cfg=cfg, board=board, memory=memory)  # the same minute and calendar
    assert len(board.shown) == 1
    run(g, now=NOON + 65, cfg=cfg, board=board, memory=memory)  # the clock shows 12:01 now
    assert len(board.shown) == 2 and board.shown[-1]["time"] == "12:01"
    g.events[0]["subject"] = "Planning, moved"
    run(g, now=NOON + 70, cfg=cfg, board=board, memory=memory)  # a change in the calendar
    assert len(board.shown) == 3
    # A deep sleep keeps the picture: a new process after one skips the redraw...
    fresh()
    run(g, now=NOON + 80, cfg=cfg, board=board, memory=memory)
    assert len(board.shown) == 3
    # ... a reset does not.
    fresh()
    board.cause = "software reset"
    run(g, now=NOON + 90, cfg=cfg, board=board, memory=memory)
    assert len(board.shown) == 4


def test_a_battery_panel_shows_no_clock_so_an_unchanged_calendar_draws_nothing():
    fresh()
    g = Graph(event(60, 30))
    board, memory = Board(), {}
    for minute in range(0, 30, 5):  # six wakes, five minutes apart
        run(g, now=NOON + minute * MIN + 5, board=board, memory=memory)
    assert len(board.shown) == 1
    assert board.shown[0]["time"] is None and board.shown[0]["date"] == "Wednesday 25 November"
    g.events[0]["subject"] = "Planning, moved"
    run(g, now=NOON + 30 * MIN, board=board, memory=memory)
    assert len(board.shown) == 2
    # A mains panel shows the clock by default; "never" takes it off there too.
    fresh()
    mains = Board(battery_powered=False)
    run(g, now=NOON + 5, board=mains, memory={})
    assert mains.shown[-1]["time"] == "12:00"
    cfg = config()
    cfg["schedule"]["show_time"] = "never"
    fresh()
    run(g, now=NOON + 5, cfg=cfg, board=mains, memory={})
    assert mains.shown[-1]["time"] is None


def test_the_buttons_drawn_are_kept_for_the_taps_of_later_wakes():
    fresh()
    g = Graph()
    board, memory, cfg = Board(), {}, clock_shown()
    board.hits = [["book", 20, 364, 245, 108]]
    run(g, now=NOON + 5, cfg=cfg, board=board, memory=memory)
    assert memory["hits"] == board.hits
    fresh()  # a deep sleep: the screen and its buttons stay, the process is new
    board.hits = None
    run(g, now=NOON + 20, cfg=cfg, board=board, memory=memory)  # not redrawn: the kept buttons
    assert board.hits_given == [["book", 20, 364, 245, 108]] and len(board.shown) == 1
    # A screen with more buttons than RTC memory can keep: taps on it are ignored.
    board.hits = [["service:catering:%d" % i, 20, 100 + i, 760, 1] for i in range(40)]
    run(g, now=NOON + 65, cfg=cfg, board=board, memory=memory)
    assert len(board.shown) == 2 and memory["hits"] is None


def test_a_press_notice_is_drawn_and_goes_with_the_next_wake():
    fresh()
    g = Graph()
    board, memory = Board(), {}
    run(g, now=NOON, board=board, memory=memory)
    run(g, ["book:60"], now=NOON + 20, board=board, memory=memory)
    run(g, ["book:60"], now=NOON + 30, board=board, memory=memory)
    assert [v["notice"] for v in board.shown] == [
        None, "Booked until 13:00", "The room is in use until 13:00: find another room."]
    run(g, now=NOON + 40, board=board, memory=memory)
    assert len(board.shown) == 4 and board.shown[-1]["notice"] is None


def test_the_next_wake_comes_at_the_next_status_change():
    fresh()
    g = Graph(event(30, 30))  # 12:30-13:00; check-in 12:25-12:40, release 12:40
    w = wake.Wake(Board(), config(booking__auto_release_min=10, schedule__refresh_min=60), {})
    events = []
    g.calendar_view(ROOM, 0, NOON * 2, events.append)
    assert w._next_wake(events, NOON - 60 * MIN) == 60 * MIN  # refresh_min
    assert w._next_wake(events, NOON + 18 * MIN) == 2 * MIN  # starting soon at 12:20
    assert w._next_wake(events, NOON + 21 * MIN) == 4 * MIN  # check-in opens at 12:25
    assert w._next_wake(events, NOON + 42 * MIN) == 8 * MIN  # ending soon at 12:50


def test_a_battery_panel_sleeps_through_the_night_and_a_mains_panel_does_not():
    fresh()
    evening = clock.timegm(2026, 11, 25, 18, 30)  # Wednesday 19:30 in Amsterdam
    morning = clock.timegm(2026, 11, 26, 6)  # Thursday 07:00
    late = event(9 * 60, 30)  # 21:00-21:30, booked for the evening
    w = wake.Wake(Board(), config(), {})
    assert w._next_wake([], evening) == morning - evening
    assert w._next_wake([late], evening) == late["start"] - room.SOON_S - evening
    w = wake.Wake(Board(battery_powered=False), config(), {})
    assert w._next_wake([], evening) == 5 * MIN


def test_every_tenth_redraw_is_a_full_refresh_and_the_first_after_power_on():
    fresh()
    g = Graph()
    board, memory = Board(), {}
    for minute in range(12):
        run(g, now=NOON + minute * MIN, cfg=clock_shown(), board=board, memory=memory)
    assert board.refreshes == ["full"] + ["partial"] * 9 + ["full", "partial"]
    cfg = clock_shown()
    cfg["schedule"]["full_refresh_every"] = 1
    board, memory = Board(), {}
    for minute in range(3):
        run(g, now=NOON + minute * MIN, cfg=cfg, board=board, memory=memory)
    assert board.refreshes == ["full"] * 3


def test_the_clock_follows_the_servers_date_header_beyond_two_seconds():
    class Session:
        date = None

    board = Board()
    board.set_clock = lambda t: board.clocks.append(t)
    board.clocks = []
    w = wake.Wake(board, config(), {})
    w.session = Session()
    clock.now = lambda: NOON
    try:
        assert not w._sync_clock()  # no answer yet
        Session.date = "Wed, 25 Nov 2026 11:00:02 GMT"  # NOON + 2 s: close enough
        assert not w._sync_clock()
        Session.date = "Wed, 25 Nov 2026 10:48:20 GMT"  # the panel is 11 min 40 s ahead
        assert w._sync_clock() and board.clocks == [NOON - 700]
        Session.date = "25 Nov 2026 10:48:20"  # not a Date header: the clock stays
        assert not w._sync_clock() and len(board.clocks) == 1
    finally:
        clock.now = _real_now


# -- wakes between reads -----------------------------------------------------------------------

def between(now, cfg, board, memory):
    """A timer wake at `now`, the moment it slept for, that may stay off the network: (seconds
    to sleep, or None when it must go online; the Wake)."""
    memory["wake_at"] = now
    w = wake.Wake(board, cfg, memory)
    clock.now = lambda: now
    try:
        return w._between_reads(), w
    finally:
        clock.now = _real_now


def test_a_boundary_between_reads_is_drawn_from_the_kept_calendar_without_the_radio():
    fresh()
    cfg = config(schedule__refresh_min=30)
    g = Graph(event(20, 30), event(90, 60, "Review"))
    board, memory = KeptBoard(), {}
    run(g, now=NOON, cfg=cfg, board=board, memory=memory)
    assert memory["read_due"] == NOON + 30 * MIN and board.shown[-1]["status"] == "free"
    # 12:10, "starting soon": no read due until 12:30, so the kept calendar, and no Graph.
    seconds, w = between(NOON + 10 * MIN, cfg, board, memory)
    assert seconds == 5 * MIN  # to 12:15, when its check-in window opens
    assert w.radio_from is None and w.stats is None and len(board.shown) == 2
    local = board.shown[-1]
    assert local["status"] == "starting_soon" and local["account"]["upn"].startswith("lintel.")
    # The same screen an online wake would have drawn: that wake then draws nothing new.
    _, _, online = run(g, now=NOON + 10 * MIN, cfg=cfg, board=KeptBoard(), memory=dict(memory))
    assert online.shown == []
    # With the read due within a third of the refresh interval, the wake reads instead.
    assert between(NOON + 20 * MIN - 5, cfg, board, memory)[0] is not None
    assert between(NOON + 20 * MIN + 5, cfg, board, memory)[0] is None
    assert between(NOON + 30 * MIN, cfg, board, memory)[0] is None
    # So does one the wake button started: someone is at the door.
    board.woken_by_button = lambda: True
    assert between(NOON + 15 * MIN, cfg, board, memory)[0] is None
    board.woken_by_button = lambda: False
    # And one that came long before the moment it slept for (an emulator's shortened sleep).
    w = wake.Wake(board, cfg, dict(memory, wake_at=NOON + 15 * MIN))
    clock.now = lambda: NOON + 11 * MIN
    try:
        assert w._between_reads() is None
    finally:
        clock.now = _real_now


def test_a_wake_between_reads_goes_online_to_release_a_no_show_and_after_a_problem():
    fresh()
    cfg = config(schedule__refresh_min=60, booking__auto_release_min=10)
    g = Graph(event(20, 60))
    board, memory = KeptBoard(), {}
    run(g, now=NOON, cfg=cfg, board=board, memory=memory)  # the next read at 13:00
    assert between(NOON + 25 * MIN, cfg, board, memory)[0] is not None
    assert board.shown[-1]["status"] == "awaiting_checkin"
    # 12:30, ten minutes in and nobody checked in: releasing it takes the calendar server.
    assert between(NOON + 30 * MIN, cfg, board, memory)[0] is None
    # Checked in: nothing to release; the kept calendar knows the meeting by its key.
    memory["checked_in"] = [room.event_key(g.events[0])]
    assert between(NOON + 30 * MIN, cfg, board, memory)[0] is not None
    assert board.shown[-1]["status"] == "busy" and board.shown[-1]["checked_in"]
    # A wake that did not end on the room (a fault, a picker) leaves no read due.
    del memory["read_due"]
    assert between(NOON + 32 * MIN, cfg, board, memory)[0] is None


def test_the_calendar_is_kept_with_the_radio_off_as_the_wake_ends_with_it():
    # Sealing and writing the kept copy needs no network: it waits until the radio is off,
    # and keeps the calendar the wake ends with (here after a release), once. The next read
    # of the same calendar writes nothing, and says the copy is right as of then.
    fresh()
    g = Graph(event(-10, 60), event(90, 30, "Review"))
    board, memory, order = KeptBoard(), {}, []
    board.radio_off = lambda: order.append("radio off")
    write = board.write_file

    def writing(path, data):
        order.append("write")
        write(path, data)

    board.write_file = writing
    cfg = config(booking__auto_release_min=10)
    run(g, now=NOON, cfg=cfg, board=board, memory=memory, online=True)
    assert [c[0] for c in g.calls] == ["decline"]
    assert order == ["radio off", "write"]
    kept = wake.Wake(board, cfg, memory)._kept_schedule()
    assert [e["subject"] for e in kept["events"]] == ["Review"] and memory["read_at"] == NOON
    run(g, now=NOON + 5 * MIN, cfg=cfg, board=board, memory=memory, online=True)
    assert order == ["radio off", "write", "radio off"]
    assert memory["read_at"] == NOON + 5 * MIN


def test_a_mains_panel_never_waits_between_reads():
    fresh()
    board, memory = KeptBoard(battery_powered=False), {}
    run(Graph(event(20, 30)), now=NOON, board=board, memory=memory)
    assert "read_due" not in memory
