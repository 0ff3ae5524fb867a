# The room's state and view model (app/room.py), in the Unix-port MicroPython: what is on now
# and next, the status at every minute boundary, what may be done at the door and the words
# for what may not, names and privacy, time zones and DST, 12 h clocks, English and Dutch.
import json

from app import clock, room

ZONE = clock.Zone("CET-1CEST,M3.5.0,M10.5.0/3")
NOON = clock.timegm(2026, 11, 25, 11, 0)  # 12:00 in Amsterdam (UTC+1 in November)
MIN = 60
ROOM = "room-4.12@contoso.example"
NO_CHECK_IN = {"enabled": False, "window_before_min": 5, "window_after_min": 10}


def config(**changes):
    doc = {
        "room": {"mailbox": {"address": ROOM, "name": "Boardroom 4.12"},
                 "room_list": None, "alternatives": []},
        "locale": {"posix_tz": "CET-1CEST,M3.5.0,M10.5.0/3", "clock": 24, "language": "en"},
        "privacy": {"show": "subject"},
        "booking": {"allowed": True, "durations": [15, 30, 60],
                    "check_in": {"enabled": True, "window_before_min": 5,
                                 "window_after_min": 10},
                    "auto_release_min": 10},
        "service": {"recipient": None, "catering": [], "support": []},
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        doc[section][name] = value
    return doc


def plain(**changes):
    """The configuration without check-in: the statuses free/busy/soon alone."""
    changes.setdefault("booking__check_in", NO_CHECK_IN)
    return config(**changes)


def event(start_min, minutes, subject="Planning", **kw):
    """A meeting start_min minutes after 12:00 (Amsterdam, 25 November 2026)."""
    e = {"id": "AAMkAD-%d-%d-%s" % (start_min, minutes, subject),
         "start": NOON + start_min * MIN, "end": NOON + (start_min + minutes) * MIN,
         "subject": subject, "organizer": "Amara Okafor",
         "organizer_address": "amara.okafor@contoso.example", "private": False,
         "all_day": False, "cancelled": False, "show_as": "busy"}
    e.update(kw)
    return e


def all_day(first, days=1, subject="Room closed", **kw):
    """An all-day event from local midnight of 25 November + first days, as all_day_in makes
    it."""
    e = event(0, 0, subject, all_day=True, **kw)
    e["start"], e["end"] = clock.timegm(2026, 11, 25 + first), clock.timegm(
        2026, 11, 25 + first + days)
    return room.all_day_in(e, ZONE)


def at(hh, mm, ss=0, day=25, month=11):
    """Unix time of a local time in Amsterdam."""
    return ZONE.to_utc(2026, month, day, hh, mm, ss)


def state(events, now, cfg=None, checked_in=()):
    return room.State(events, now, cfg or config(), list(checked_in))


def status(events, now, cfg=None, checked_in=()):
    return state(events, now, cfg or plain(), checked_in).status


def view(events, now, cfg=None, checked_in=(), **kw):
    v = room.view(events, now, cfg or config(), ZONE, list(checked_in), **kw)
    assert json.loads(json.dumps(v)) == v
    return v


# -- events: now, next, until -----------------------------------------------------------------

def test_the_meeting_now_and_the_next_one():
    events = [event(-30, 60), event(60, 30, "Review"), all_day(0, show_as="free")]
    current, upcoming = room.current_and_next(events, NOON)
    assert current is events[0] and upcoming is events[1]
    assert room.current_and_next(events, NOON + 31 * MIN) == (None, events[1])


def test_cancelled_free_and_working_elsewhere_leave_the_room_free():
    events = [event(-30, 60, cancelled=True), event(-10, 60, show_as="free"),
              event(-5, 60, show_as="workingElsewhere")]
    assert room.current_and_next(events, NOON) == (None, None)
    assert room.free_until(events, NOON, None) is None
    v = view(events, NOON, plain())
    assert v["status"] == "free" and v["until_text"] == "for the rest of the day"
    # Cancelled meetings leave the agenda; the others stay, marked as leaving the room free.
    assert [(e["title"], e["free"], e["tag"]) for e in v["agenda"]["today"]] == [
        ("Planning", True, "Room stays free"), ("Planning", True, "Room stays free")]


def test_tentative_and_away_meetings_take_the_room_and_say_tentative():
    v = view([event(-10, 30, show_as="tentative")], NOON, plain())
    assert v["status"] == "busy" and v["current"]["tentative"] is True
    assert v["current"]["tag"] == "Tentative" and v["current"]["free"] is False
    assert status([event(-10, 30, show_as="oof")], NOON) == "busy"
    assert status([event(-10, 30, show_as="unknown")], NOON) == "busy"


def test_back_to_back_meetings_keep_the_room_busy_to_the_end_of_the_chain():
    events = [event(-30, 60), event(30, 30), event(60, 30), event(120, 30)]
    current = room.current_and_next(events, NOON)[0]
    assert room.free_until(events, NOON, current) == NOON + 90 * MIN
    assert room.free_until(events, NOON + 100 * MIN, None) == NOON + 120 * MIN
    v = view(events, NOON, plain())
    assert v["until"] == "13:30" and v["until_text"] == "until 13:30"
    assert v["next"]["start"] == "12:30"
    # 13:20: the chain ends in ten minutes and 13:30-14:00 is free: ending soon.
    assert status(events, at(13, 20)) == "ending_soon"
    # 12:25: Planning ends in five minutes, but the next meeting follows on: busy.
    assert status(events, at(12, 25)) == "busy"


def test_overlapping_meetings_keep_the_room_busy_until_the_end_of_their_union():
    first, second = event(-30, 75, "Planning"), event(15, 60, "Review")  # 11:30-12:45, 12:15-13:15
    events = [first, second]
    current = room.current_and_next(events, at(12, 20))[0]
    assert current is second  # the one that began last is "the meeting now"
    assert room.free_until(events, at(12, 20), current) == at(13, 15)
    v = view(events, at(12, 20), plain())
    assert v["until"] == "13:15" and v["current"]["title"] == "Review"
    assert [e["now"] for e in v["agenda"]["today"]] == [True, True]
    # A long meeting with a short one inside it: busy to the end of the long one.
    events = [event(-60, 180, "Offsite"), event(0, 30, "Call")]
    current = room.current_and_next(events, NOON + 5 * MIN)[0]
    assert current["subject"] == "Call"
    assert room.free_until(events, NOON + 5 * MIN, current) == NOON + 120 * MIN
    assert status(events, NOON + 25 * MIN) == "busy"  # Call ends, Offsite goes on


def test_an_all_day_booking_takes_the_room_and_a_multi_day_one_says_through_when():
    closed = all_day(0, days=2, subject="Renovation")  # today and tomorrow
    v = view([closed], NOON, plain())
    assert v["status"] == "busy" and v["until"] is None
    assert v["until_text"] == "through tomorrow"
    assert v["current"]["when"] == "All day, through tomorrow"
    assert v["current"]["all_day"] is True
    # No button changes an all-day booking.
    assert not [a for a in v["actions"] if a.split(":")[0] in ("book", "extend", "end")]
    week = all_day(-1, days=4, subject="Trade fair")  # Tuesday 24 to Friday 27 November
    v = view([week], NOON, plain())
    assert v["until_text"] == "through Friday 27 November"
    assert v["current"]["when"] == "All day, through Friday 27 November"
    today = all_day(0)
    v = view([today], NOON, plain())
    assert v["until_text"] == "for the rest of the day" and v["current"]["when"] == "All day"
    assert status([today], at(23, 50)) == "ending_soon"
    # A timed meeting during an all-day booking is the meeting now.
    meeting = event(-10, 30, "Call")
    assert room.current_and_next([today, meeting], NOON)[0] is meeting
    # An all-day notice shown as free (the usual kind) leaves the room free.
    assert status([all_day(0, show_as="free")], NOON) == "free"
    # Tomorrow's all-day booking: free until midnight.
    v = view([all_day(1)], NOON, plain())
    assert v["status"] == "free" and v["until_text"] == "for the rest of the day"
    assert v["next"]["when"] == "Tomorrow, all day"
    assert v["agenda"]["tomorrow"][0]["when"] == "All day"


def test_a_meeting_across_midnight():
    late = event(11 * 60, 120, "Launch")  # 23:00 to 01:00 the next day
    v = view([late], at(23, 30), plain())
    assert v["status"] == "busy" and v["until"] is None
    assert v["until_text"] == "until tomorrow 01:00"
    assert v["current"]["when"] == "23:00 - tomorrow 01:00"
    v = view([late], at(0, 30, day=26), plain())
    assert v["status"] == "busy" and v["until"] == "01:00"
    assert v["current"]["when"] == "yesterday 23:00 - 01:00"
    assert [e["title"] for e in v["agenda"]["today"]] == ["Launch"]
    assert status([late], at(0, 50, day=26)) == "ending_soon"
    assert status([late], at(1, 0, day=26)) == "free"
    # A meeting ending at midnight ends "24:00"; tomorrow's meetings are listed as tomorrow's.
    v = view([event(11 * 60, 60, "Late"), event(22 * 60, 60, "Early")], at(22, 0), plain())
    assert v["agenda"]["today"][0]["when"] == "23:00 - 24:00"
    assert v["agenda"]["tomorrow"][0]["when"] == "10:00 - 11:00"
    assert v["next"]["when"] == "23:00 - 24:00"
    v = view([event(22 * 60, 60, "Early")], at(22, 0), plain())
    assert v["next"]["when"] == "tomorrow 10:00 - 11:00"
    assert v["until_text"] == "until tomorrow 10:00" and v["until"] is None


# -- the status at every boundary -------------------------------------------------------------

def test_status_free_starting_soon_busy_ending_soon_free_at_the_minute():
    events = [event(30, 60)]  # 12:30-13:30
    expected = [
        ((12, 19, 0), "free"), ((12, 19, 59), "free"), ((12, 20, 0), "starting_soon"),
        ((12, 21, 0), "starting_soon"), ((12, 29, 59), "starting_soon"), ((12, 30, 0), "busy"),
        ((12, 31, 0), "busy"), ((13, 19, 0), "busy"), ((13, 19, 59), "busy"),
        ((13, 20, 0), "ending_soon"), ((13, 21, 0), "ending_soon"),
        ((13, 29, 59), "ending_soon"), ((13, 30, 0), "free"), ((13, 31, 0), "free"),
    ]
    for (h, m, s), want in expected:
        got = status(events, at(h, m, s))
        assert got == want, "%02d:%02d:%02d: %s, not %s" % (h, m, s, got, want)


def test_a_meeting_ending_at_ten_is_not_shown_at_ten():
    events = [event(-180, 60, "Stand-up")]  # 09:00-10:00
    assert view(events, at(9, 59), plain())["current"]["title"] == "Stand-up"
    assert view(events, at(9, 59, 59), plain())["agenda"]["today"] != []
    v = view(events, at(10, 0), plain())
    assert v["current"] is None and v["agenda"]["today"] == [] and v["status"] == "free"
    # ... and a meeting starting at ten is on at ten, not before.
    events = [event(-120, 60)]  # 10:00-11:00
    assert view(events, at(9, 59, 59), plain())["current"] is None
    assert view(events, at(10, 0), plain())["current"]["start"] == "10:00"


def test_check_in_statuses_follow_the_window_to_the_minute():
    events = [event(30, 60)]  # 12:30-13:30; the window is 12:25 to 12:40
    expected = [((12, 24), "starting_soon"), ((12, 25), "awaiting_checkin"),
                ((12, 29), "awaiting_checkin"), ((12, 30), "awaiting_checkin"),
                ((12, 39), "awaiting_checkin"), ((12, 40), "busy"), ((13, 20), "ending_soon")]
    for (h, m), want in expected:
        got = status(events, at(h, m), config())
        assert got == want, "%02d:%02d: %s, not %s" % (h, m, got, want)
    key = [room.event_key(events[0])]
    expected = [((12, 24), "starting_soon"), ((12, 25), "checked_in"), ((12, 31), "checked_in"),
                ((12, 39, 59), "checked_in"), ((12, 40), "busy")]
    for hms, want in expected:
        got = status(events, at(*hms), config(), key)
        assert got == want, "%s: %s, not %s" % (hms, got, want)
    # A ten-minute meeting: waiting for a check-in comes before "ending soon".
    short = [event(30, 10)]
    assert status(short, at(12, 30), config()) == "awaiting_checkin"
    assert status(short, at(12, 30), config(), [room.event_key(short[0])]) == "ending_soon"


def test_check_in_is_offered_in_its_window_and_once():
    e = event(3, 30)  # starts in 3 minutes: inside the 5 minutes before
    assert "checkin" in room.actions([e], NOON, config(), [])
    assert "checkin" not in room.actions([e], NOON, config(), [room.event_key(e)])
    assert "checkin" not in room.actions([event(8, 30)], NOON, config(), [])
    assert "checkin" in room.actions([event(5, 30)], NOON, config(), [])  # opens at 12:00
    assert "checkin" in room.actions([event(-9, 30)], NOON, config(), [])
    assert "checkin" not in room.actions([event(-10, 30)], NOON, config(), [])  # closed 12:00
    assert "checkin" not in room.actions([e], NOON, plain(), [])
    assert "checkin" not in room.actions([all_day(0)], NOON, config(), [])
    # During a meeting whose window has closed, the next one's window counts.
    chain = [event(-30, 33), event(3, 30, "Review")]
    s = state(chain, NOON)
    assert s.target is chain[1] and "checkin" in s.offered and s.status == "busy"


# -- time zones: DST, 12 h --------------------------------------------------------------------

def test_a_meeting_across_the_spring_change_shows_its_local_times():
    # Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    start, end = clock.timegm(2026, 3, 29, 0, 30), clock.timegm(2026, 3, 29, 1, 30)
    e = event(0, 0, "Night shift", start=start, end=end)
    now = clock.timegm(2026, 3, 29, 0, 45)  # 01:45 CET
    v = view([e], now, plain())
    assert v["current"]["start"] == "01:30" and v["current"]["end"] == "03:30"
    assert v["time"] == "01:45" and v["until_text"] == "until 03:30"
    assert v["date"] == "Sunday 29 March"
    assert status([e], clock.timegm(2026, 3, 29, 1, 19)) == "busy"  # 03:19 CEST
    assert status([e], clock.timegm(2026, 3, 29, 1, 20)) == "ending_soon"  # 03:20 CEST
    assert status([e], clock.timegm(2026, 3, 29, 1, 30)) == "free"  # 03:30 CEST
    # After the change: 09:00 local is 07:00 UTC, and the statuses switch then.
    nine = event(0, 0, "Stand-up", start=clock.timegm(2026, 3, 29, 7),
                 end=clock.timegm(2026, 3, 29, 8))
    assert status([nine], clock.timegm(2026, 3, 29, 6, 59, 59)) == "starting_soon"
    assert status([nine], clock.timegm(2026, 3, 29, 7)) == "busy"
    assert view([nine], clock.timegm(2026, 3, 29, 6), plain())["next"]["when"] == "09:00 - 10:00"
    # Seen the day before, it is tomorrow's, at 09:00 too (a 23-hour night away).
    v = view([nine], clock.timegm(2026, 3, 28, 11), plain())
    assert v["agenda"]["tomorrow"][0]["when"] == "09:00 - 10:00"
    assert v["until_text"] == "until tomorrow 09:00"


def test_a_meeting_across_the_autumn_change_shows_its_local_times():
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-03:00 twice.
    start, end = clock.timegm(2026, 10, 25, 0, 30), clock.timegm(2026, 10, 25, 1, 30)
    e = event(0, 0, "Night shift", start=start, end=end)
    v = view([e], clock.timegm(2026, 10, 25, 0, 45), plain())
    assert v["current"]["when"] == "02:30 - 02:30" and v["time"] == "02:45"
    v = view([e], clock.timegm(2026, 10, 25, 1, 5), plain())  # 02:05 CET, the second time
    assert v["time"] == "02:05" and v["until_text"] == "until 02:30"
    assert v["status"] == "busy"
    assert status([e], clock.timegm(2026, 10, 25, 1, 20)) == "ending_soon"
    # 09:00 local is 08:00 UTC after the change; the day has 25 hours, so 23:30 is today's.
    nine = event(0, 0, "Stand-up", start=clock.timegm(2026, 10, 25, 8),
                 end=clock.timegm(2026, 10, 25, 9))
    late = event(0, 0, "Late", start=clock.timegm(2026, 10, 25, 22, 30),
                 end=clock.timegm(2026, 10, 25, 23))
    assert status([nine], clock.timegm(2026, 10, 25, 7, 59)) == "starting_soon"
    assert status([nine], clock.timegm(2026, 10, 25, 8)) == "busy"
    v = view([nine, late], clock.timegm(2026, 10, 25, 7), plain())
    assert [x["when"] for x in v["agenda"]["today"]] == ["09:00 - 10:00", "23:30 - 24:00"]
    assert v["agenda"]["tomorrow"] == [] and v["until_text"] == "until 09:00"


def test_a_twelve_hour_clock():
    cfg = plain(locale__clock=12)
    events = [event(-30, 60), event(90, 60, "Review"), event(11 * 60, 60, "Late")]
    v = view(events, NOON, cfg)
    assert v["time"] == "12:00 PM" and v["until"] == "12:30 PM"
    assert v["until_text"] == "until 12:30 PM"
    assert v["current"]["when"] == "11:30 AM - 12:30 PM"
    assert v["agenda"]["today"][2]["when"] == "11:00 PM - midnight"
    assert v["labels"]["extend"] == "Extend"
    picker = room.picker_view(state(events, NOON, cfg), "extend", ZONE, "en", 12)
    assert picker["choices"][0] == {"action": "extend:15", "label": "15 min",
                                    "detail": "until 12:45 PM"}
    v = view([event(-30, 60), event(40, 30)], NOON, cfg)  # 10 minutes after the meeting
    assert v["labels"] == {"extend:10": "Extend until 12:40 PM", "end": "End now"}


# -- names and privacy ------------------------------------------------------------------------

def test_privacy_decides_what_a_meeting_is_called():
    e = event(0, 30, "Salary review", organizer="Amara Okafor")
    assert room.names(e, "subject") == ("Salary review", "Amara Okafor")
    assert room.names(e, "organizer") == ("Amara Okafor", None)
    assert room.names(e, "busy") == ("Busy", None)
    assert room.title(e, "subject") == "Salary review (Amara Okafor)"
    e["private"] = True
    for show in ("subject", "organizer", "busy"):
        assert room.names(e, show) == ("Private meeting", None)
        assert room.names(e, show, ROOM, "nl") == ("Besloten vergadering", None)
    assert room.names(event(0, 30, "", organizer=""), "subject") == ("Busy", None)
    assert room.names(event(0, 30, "Planning", organizer=""), "organizer") == ("Busy", None)


def test_the_organizer_is_shown_once_when_the_room_put_their_name_in_the_subject():
    # AddOrganizerToSubject with DeleteSubject: the subject is the organizer's name.
    assert room.names(event(0, 30, "Amara Okafor"), "subject") == ("Amara Okafor", None)
    assert room.names(event(0, 30, " amara okafor "), "subject") == ("Amara Okafor", None)
    # An empty subject: the organizer, once.
    assert room.names(event(0, 30, ""), "subject") == ("Amara Okafor", None)
    # AddOrganizerToSubject without DeleteSubject: "Amara Okafor Planning".
    assert room.names(event(0, 30, "Amara Okafor Planning"), "subject") == (
        "Planning", "Amara Okafor")
    # A subject that merely starts with the same letters keeps them.
    assert room.names(event(0, 30, "Amara Okaforia"), "subject") == (
        "Amara Okaforia", "Amara Okafor")


def test_a_booking_in_the_rooms_own_calendar_has_no_organizer_line():
    own = event(0, 15, "Booked at the panel", organizer="Boardroom 4.12",
                organizer_address=ROOM.upper())
    for show in ("subject", "organizer", "busy"):
        assert room.names(own, show, ROOM) == ("Booked at the panel", None)
    nl = event(0, 15, "Geboekt via het paneel", organizer="Boardroom 4.12",
               organizer_address=ROOM)
    assert room.names(nl, "busy", ROOM, "en") == ("Geboekt via het paneel", None)
    direct = event(0, 15, "Team sync", organizer="Boardroom 4.12", organizer_address=ROOM)
    assert room.names(direct, "subject", ROOM) == ("Team sync", None)
    assert room.names(direct, "organizer", ROOM) == ("Busy", None)


def test_privacy_applies_to_the_meeting_now_the_next_and_the_agenda():
    events = [event(-30, 60, "Salary review"), event(30, 30, "Amara Okafor"),
              event(24 * 60, 30, "Strategy", organizer="Omar Haddad")]
    for show, want in (("subject", ["Salary review", "Amara Okafor", "Strategy"]),
                       ("organizer", ["Amara Okafor", "Amara Okafor", "Omar Haddad"]),
                       ("busy", ["Busy", "Busy", "Busy"])):
        v = view(events, NOON, config(privacy__show=show))
        shown = v["agenda"]["today"] + v["agenda"]["tomorrow"]
        assert [e["title"] for e in shown] == want
        assert v["current"]["title"] == want[0] and v["next"]["title"] == want[1]
        text = json.dumps(v)
        if show != "subject":
            assert "Salary" not in text and "Strategy" not in text
        if show == "busy":
            assert "Okafor" not in text and "Haddad" not in text
    v = view(events, NOON, config())
    assert v["current"]["organizer"] == "Amara Okafor" and v["next"]["organizer"] is None


def test_the_room_is_called_by_its_override_else_its_address():
    assert view([], NOON)["room"] == {"name": "Boardroom 4.12", "address": ROOM}
    cfg = config(room__mailbox={"address": ROOM, "name": None})
    assert view([], NOON, cfg)["room"] == {"name": ROOM, "address": ROOM}


# -- actions and refusals ---------------------------------------------------------------------

def test_book_now_offers_only_durations_that_end_before_the_next_meeting():
    events = [event(40, 30)]
    assert [a for a in room.actions(events, NOON, config(), []) if a.startswith("book:")] == \
        ["book:15", "book:30"]
    assert "book:15" not in room.actions([event(10, 30)], NOON, config(), [])
    assert not any(a.startswith("book") for a in room.actions(
        [], NOON, config(booking__allowed=False), []))
    # A booking starts at the minute: at 12:00:40, 30 minutes still fit before 12:30.
    s = state([event(30, 30)], NOON + 40, plain())
    assert "book:30" in s.offered and s.ends["book:30"] == NOON + 30 * MIN
    assert s.book_start() == NOON
    # ... or where a meeting ended early within that minute.
    s = state([event(-30, 0, end=NOON + 20)], NOON + 40, plain())
    assert s.book_start() == NOON + 20


def test_book_refusals_say_why_in_words():
    def why(events, press, cfg=None, now=NOON, lang="en"):
        s = state(events, now, cfg or plain())
        assert press not in s.offered
        return s.refusal(press, ZONE, lang)

    assert why([event(30, 60)], "book:60") == \
        "The room is booked from 12:30: book until then or find another room."
    assert why([event(10, 60)], "book:15") == "The room is booked from 12:10: find another room."
    assert why([event(-10, 30)], "book:15") == "The room is in use until 12:20: find another room."
    assert why([], "book:15", plain(booking__allowed=False)) == \
        "Booking at this panel is turned off."
    assert why([], "book:45") == "That is not possible right now."
    assert why([event(12 * 60 + 15, 60)], "book:60", now=at(23, 30)) == \
        "The room is booked from tomorrow 00:15: book until then or find another room."
    assert why([event(30, 60)], "book:60", lang="nl") == \
        "De ruimte is geboekt vanaf 12:30: boek tot dan of zoek een andere ruimte."


def test_extend_up_to_the_next_meeting_at_most():
    acts = room.actions([event(-30, 60), event(50, 30)], NOON, config(), [])
    assert "extend:15" in acts and "end" in acts and not any(a.startswith("book") for a in acts)
    s = state([event(-30, 60), event(60, 30)], NOON, plain())  # 12:30, next at 13:00
    assert [a for a in s.offered if a.startswith("extend:")] == ["extend:15", "extend:30"]
    assert s.ends["extend:30"] == NOON + 60 * MIN
    assert s.label("extend:30", ZONE) == "Extend 30 min"
    # Shorter than every duration: exactly until the next meeting, if 5 minutes or more.
    s = state([event(-30, 60), event(40, 30)], NOON, plain())
    assert [a for a in s.offered if a.startswith("extend:")] == ["extend:10"]
    assert s.ends["extend:10"] == NOON + 40 * MIN
    assert s.label("extend:10", ZONE) == "Extend until 12:40"
    s = state([event(-30, 60), event(34, 30)], NOON, plain())
    assert not [a for a in s.offered if a.startswith("extend:")] and "end" in s.offered
    # Back to back: no extension; nothing after: every duration.
    acts = room.actions([event(-30, 60), event(30, 30)], NOON, config(), [])
    assert not any(a.startswith("extend") for a in acts) and "end" in acts
    acts = room.actions([event(-30, 60)], NOON, plain(), [])
    assert [a for a in acts if a.startswith("extend:")] == ["extend:15", "extend:30", "extend:60"]


def test_extend_and_end_refusals_say_why_in_words():
    def why(events, press, lang="en"):
        s = state(events, NOON, plain())
        assert press not in s.offered
        return s.refusal(press, ZONE, lang)

    assert why([event(-30, 60), event(60, 30)], "extend:60") == \
        "The room is booked from 13:00: extend until then at most."
    assert why([event(-30, 60), event(30, 30)], "extend:15") == \
        "The room is booked from 12:30: the meeting cannot be extended."
    assert why([], "extend:15") == "There is no meeting on to extend."
    assert why([], "end") == "There is no meeting on to end."
    assert why([event(-30, 0, end=NOON)], "end") == "There is no meeting on to end."
    assert why([all_day(0)], "extend:15") == "An all-day booking cannot be changed at the panel."
    assert why([all_day(0)], "end") == "An all-day booking cannot be changed at the panel."
    assert why([], "end", "nl") == "Er loopt geen vergadering om te stoppen."


def test_check_in_refusals_say_why_in_words():
    def why(events, now=NOON, cfg=None, checked_in=()):
        s = state(events, now, cfg or config(), checked_in)
        assert "checkin" not in s.offered
        return s.refusal("checkin", ZONE)

    assert why([event(30, 30)]) == "Check-in opens at 12:25."
    assert why([event(-30, 60)]) == "Check-in closed at 11:40."
    assert why([]) == "There is no meeting to check in to."
    assert why([event(3, 30)], cfg=plain()) == "Check-in is not used at this panel."
    e = event(3, 30)
    assert why([e], checked_in=[room.event_key(e)]) == "You are already checked in."
    assert why([event(24 * 60, 30)]) == "Check-in opens at tomorrow 11:55."


def test_service_and_find_buttons_follow_the_configuration():
    facilities = {"address": "facilities@contoso.example", "name": "Facilities"}
    cfg = config(service__catering=["More coffee"], service__support=["Projector issue", "Wi-Fi"],
                 service__recipient=facilities,
                 room__room_list={"address": "rooms-floor-4@contoso.example", "name": None})
    s = state([], NOON, cfg)
    assert "find" in s.offered
    assert [a for a in s.offered if a.startswith("service:")] == [
        "service:catering:0", "service:support:0", "service:support:1"]
    assert s.label("service:support:1", ZONE) == "Wi-Fi"
    assert s.label("find", ZONE) == "Find a room"
    s = state([], NOON, config())
    assert "find" not in s.offered
    assert s.refusal("find", ZONE) == "No other rooms are set up at this panel."
    # Requests without anyone to send them to: no buttons, and a press says so.
    s = state([], NOON, config(service__catering=["More coffee"]))
    assert not [a for a in s.offered if a.startswith("service")]
    assert s.refusal("service", ZONE) == "Service requests are not set up at this panel."
    assert s.refusal("service:catering:0", ZONE) == \
        "Service requests are not set up at this panel."
    assert s.refusal("dance", ZONE, "nl") == "Dat kan nu niet."


def test_two_or_more_choices_share_one_button_that_opens_their_picker():
    facilities = {"address": "facilities@contoso.example", "name": "Facilities"}
    cfg = plain(service__catering=["More coffee", "Water"], service__recipient=facilities,
                room__room_list={"address": "rooms-floor-4@contoso.example", "name": None})
    v = view([event(40, 30)], NOON, cfg)
    assert v["actions"] == ["book", "find", "service"]
    assert v["labels"] == {"book": "Book now", "find": "Find a room",
                           "service": "Request service"}
    # One choice left: its own button, one press from done; the picker still opens for a
    # press from a screen drawn when there were more.
    s = state([event(20, 30)], NOON, cfg)
    assert s.buttons == ["book:15", "find", "service"] and "book" in s.offered
    s = state([event(-30, 60), event(40, 30)], NOON, cfg)
    assert s.buttons == ["extend:10", "end", "find", "service"]
    s = state([event(-30, 60)], NOON, cfg)
    assert s.buttons[:2] == ["extend", "end"]
    # Nothing of a kind: no button and, pressed from an old screen, a refusal in words.
    s = state([event(10, 60)], NOON, cfg)
    assert "book" not in s.offered
    assert s.refusal("book", ZONE) == "The room is booked from 12:10: find another room."
    s = state([event(-30, 60), event(30, 30)], NOON, cfg)
    assert s.refusal("extend", ZONE) == \
        "The room is booked from 12:30: the meeting cannot be extended."
    assert state([], NOON, plain(booking__allowed=False)).refusal("book", ZONE) == \
        "Booking at this panel is turned off."


def test_the_book_picker_offers_what_fits_and_says_until_when():
    s = state([event(40, 30, "Review")], NOON, plain())
    v = room.picker_view(s, "book", ZONE)
    assert v["screen"] == "book" and v["heading"] == "Book this room"
    assert v["line"] == "Free until 12:40" and v["back"] == "Back"
    assert v["choices"] == [{"action": "book:15", "label": "15 min", "detail": "until 12:15"},
                            {"action": "book:30", "label": "30 min", "detail": "until 12:30"}]
    assert room.picker_view(state([], NOON, plain()), "book", ZONE, "nl")["choices"][2] == \
        {"action": "book:60", "label": "1 uur", "detail": "tot 13:00"}
    assert room.picker_view(state([event(10, 60)], NOON, plain()), "book", ZONE) is None


def test_the_extend_picker_names_the_meeting_as_privacy_allows():
    events = [event(-30, 60, private=True), event(90, 30)]
    v = room.picker_view(state(events, NOON, plain()), "extend", ZONE)
    assert v["screen"] == "book" and v["heading"] == "Extend the meeting"
    assert v["line"] == "Private meeting, until 12:30. Booked again from 13:30"
    assert [c["action"] for c in v["choices"]] == ["extend:15", "extend:30", "extend:60"]
    assert v["choices"][2]["detail"] == "until 13:30"
    v = room.picker_view(state([event(-30, 60)], NOON, plain(privacy__show="busy")), "extend",
                         ZONE, "nl")
    assert v["line"] == "Bezet, tot 12:30" and v["heading"] == "De vergadering verlengen"


def test_the_service_picker_groups_the_requests_by_kind():
    facilities = {"address": "facilities@contoso.example", "name": "Facilities"}
    cfg = plain(service__catering=["More coffee", "Water"], service__support=["Projector issue"],
                service__recipient=facilities)
    v = room.picker_view(state([], NOON, cfg), "service", ZONE)
    assert v["screen"] == "service" and v["line"] == "Your request goes to Facilities by e-mail"
    assert v["groups"] == [
        {"heading": "Catering", "choices": [
            {"action": "service:catering:0", "label": "More coffee"},
            {"action": "service:catering:1", "label": "Water"}]},
        {"heading": "Room support", "choices": [
            {"action": "service:support:0", "label": "Projector issue"}]}]
    cfg["service"]["recipient"] = {"address": "facilities@contoso.example", "name": None}
    cfg["service"]["support"] = []
    v = room.picker_view(state([], NOON, cfg), "service", ZONE, "nl")
    assert v["line"] == "Je verzoek gaat per e-mail naar facilities@contoso.example"
    assert [g["heading"] for g in v["groups"]] == ["Catering"]
    assert json.loads(json.dumps(v)) == v


def test_a_no_show_is_released_after_the_configured_minutes_unless_checked_in():
    late = event(-10, 60)
    since = NOON - 60 * MIN  # the panel has shown the room for an hour
    assert room.no_shows([late], NOON, config(), [], since) == [late]
    assert room.no_shows([late], NOON - 1, config(), [], since) == []
    assert room.no_shows([late], NOON, config(), [room.event_key(late)], since) == []
    assert room.no_shows([late], NOON, config(booking__auto_release_min=0), [], since) == []
    assert room.no_shows([event(-10, 60, all_day=True)], NOON, config(), [], since) == []
    assert room.no_shows([event(-10, 60, show_as="free")], NOON, config(), [], since) == []


def test_a_panel_that_could_not_offer_check_in_releases_nothing():
    late = event(-10, 60)
    # Switched on (or signed in) after the check-in window opened at 11:45: nobody could
    # check in at this panel, so the meeting stays.
    assert room.no_shows([late], NOON, config(), [], NOON - 14 * MIN) == []
    assert room.no_shows([late], NOON, config(), [], NOON - 15 * MIN) == [late]
    assert room.no_shows([late], NOON, config(), [], None) == []


def test_all_day_events_run_from_local_midnight_to_local_midnight():
    # Graph writes an all-day event's dates as they are: 2026-11-25T00:00 to 11-26T00:00.
    e = event(0, 0, all_day=True)
    e["start"], e["end"] = clock.timegm(2026, 11, 25), clock.timegm(2026, 11, 26)
    room.all_day_in(e, ZONE)
    assert e["start"] == clock.timegm(2026, 11, 24, 23) and e["end"] == clock.timegm(
        2026, 11, 25, 23)
    timed = event(0, 30)
    assert room.all_day_in(dict(timed), ZONE) == timed
    # EWS gives the moments of the mailbox's midnights (here the panel's zone: 23:00 UTC the
    # day before), a day across a DST change included; a mailbox an hour off still lands on
    # the same days.
    for start, end in ((clock.timegm(2026, 11, 24, 23), clock.timegm(2026, 11, 25, 23)),
                       (clock.timegm(2026, 11, 25, 0), clock.timegm(2026, 11, 26, 0)),
                       (clock.timegm(2026, 11, 24, 22), clock.timegm(2026, 11, 25, 22))):
        e["start"], e["end"] = start, end
        room.all_day_in(e, ZONE, moments=True)
        assert (e["start"], e["end"]) == (clock.timegm(2026, 11, 24, 23),
                                          clock.timegm(2026, 11, 25, 23)), (start, e)
    e["start"], e["end"] = clock.timegm(2026, 10, 24, 22), clock.timegm(2026, 10, 25, 23)
    room.all_day_in(e, ZONE, moments=True)  # Sunday 25 October: summer time ends
    assert (e["start"], e["end"]) == (clock.timegm(2026, 10, 24, 22),
                                      clock.timegm(2026, 10, 25, 23))


# -- the view model ---------------------------------------------------------------------------

def test_the_view_model_is_plain_data_with_local_times():
    events = [event(-30, 60, "Planning"), event(30, 30, "Review", private=True),
              event(60 * 24, 60, "Tomorrow's meeting"), event(-120, 30, "Over already")]
    v = view(events, NOON, config(), account={"name": "Lintel Room Panels",
                                              "upn": "lintel.panels@contoso.example"})
    assert v["screen"] == "room" and v["status"] == "busy" and v["language"] == "en"
    assert v["status_text"] == "Busy"
    assert v["time"] == "12:00" and v["date"] == "Wednesday 25 November"
    assert v["until"] == "13:00" and v["until_text"] == "until 13:00"  # back to back
    assert v["current"]["title"] == "Planning" and v["current"]["start"] == "11:30"
    assert v["current"]["organizer"] == "Amara Okafor"
    assert v["current"]["when"] == "11:30 - 12:30"
    assert v["next"]["title"] == "Private meeting" and v["next"]["organizer"] is None
    assert [e["title"] for e in v["agenda"]["today"]] == ["Planning", "Private meeting"]
    assert [e["title"] for e in v["agenda"]["tomorrow"]] == ["Tomorrow's meeting"]
    assert v["room"] == {"name": "Boardroom 4.12", "address": ROOM}
    assert v["headings"]["today"] == "Today" and v["headings"]["next"] == "Next"
    assert set(v["labels"]) == set(v["actions"])
    assert v["labels"]["end"] == "End now"
    assert v["notice"] is None and v["notice_kind"] is None and v["checkin_text"] is None
    assert view(events, NOON, config(locale__clock=12))["time"] == "12:00 PM"
    v = view([], NOON, notice="Request sent: Water", notice_kind="done")
    assert v["notice"] == "Request sent: Water" and v["notice_kind"] == "done"
    assert v["labels"] == {"book": "Book now"} and v["battery"] is None
    assert view([event(20, 30)], NOON)["labels"] == {"book:15": "Book 15 min"}


def test_the_view_asks_for_a_check_in_and_says_until_when():
    e = event(3, 30)
    v = view([e], NOON)
    assert v["status"] == "awaiting_checkin" and v["status_text"] == "Please check in"
    assert v["checkin_text"] == "Check in by 12:13 or the room is released"
    assert v["labels"]["checkin"] == "Check in"
    v = view([e], NOON, config(booking__auto_release_min=0))
    assert v["checkin_text"] == "Check in by 12:13"
    v = view([e], NOON + 4 * MIN, checked_in=[room.event_key(e)])
    assert v["status"] == "checked_in" and v["checked_in"] is True
    assert v["checkin_text"] is None and "checkin" not in v["actions"]


def test_dutch_words_everywhere():
    cfg = config(locale__language="nl", service__catering=["Koffie"],
                 service__recipient={"address": "facilities@contoso.example", "name": None},
                 room__alternatives=[{"address": "room-4.03@contoso.example", "name": None}])
    events = [event(-30, 60, "Planning"), event(60, 30, "Review", private=True),
              all_day(1, days=2, subject="Beurs")]
    v = view(events, NOON, cfg)
    assert v["language"] == "nl" and v["status_text"] == "Bezet"
    assert v["date"] == "woensdag 25 november" and v["until_text"] == "tot 12:30"
    assert v["next"]["title"] == "Besloten vergadering"
    assert v["agenda"]["tomorrow"][0]["when"] == "Hele dag, t/m vrijdag 27 november"
    assert v["agenda"]["tomorrow"][0]["title"] == "Beurs"
    assert v["labels"] == {"extend": "Verlengen", "end": "Nu stoppen",
                           "find": "Zoek een ruimte", "service:catering:0": "Koffie"}
    assert view([event(-30, 60), event(45, 30)], NOON, cfg)["labels"]["extend:15"] == \
        "Verleng 15 min"
    assert v["headings"]["tomorrow"] == "Morgen"
    v = view([], NOON, cfg)
    assert v["status_text"] == "Vrij" and v["until_text"] == "de rest van de dag"
    assert v["labels"]["book"] == "Nu boeken"
    assert view([event(20, 30)], NOON, cfg)["labels"]["book:15"] == "Boek 15 min"
    assert view([event(3, 30)], NOON, cfg)["checkin_text"] == \
        "Check in voor 12:13, anders komt de ruimte vrij"
    assert view([event(8, 30)], NOON, cfg)["status_text"] == "Begint zo"
    assert view([event(-25, 30)], NOON, cfg)["status_text"] == "Bijna vrij"
    # A language the panel does not speak: English.
    assert view([], NOON, config(locale__language="fr"))["status_text"] == "Free"
