# The room's state and view model (app/room.py), in the Unix-port MicroPython: what is on now
# and next, what may be done at the door, when a no-show is released, and what privacy hides.
from app import clock, room

ZONE = clock.Zone("CET-1CEST,M3.5.0,M10.5.0/3")
NOON = clock.timegm(2026, 11, 25, 11, 0)  # 12:00 in Amsterdam (UTC+1 in November)
MIN = 60


def config(**changes):
    doc = {
        "room": {"mailbox": {"address": "room-4.12@contoso.example", "name": "Boardroom 4.12"},
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


def event(start_min, minutes, subject="Planning", **kw):
    e = {"id": "AAMkAD-%d-%d" % (start_min, minutes), "start": NOON + start_min * MIN,
         "end": NOON + (start_min + minutes) * MIN, "subject": subject,
         "organizer": "Amara Okafor", "organizer_address": "amara.okafor@contoso.example",
         "private": False, "all_day": False, "cancelled": False, "show_as": "busy"}
    e.update(kw)
    return e


def test_the_meeting_now_and_the_next_one():
    events = [event(-30, 60), event(60, 30, "Review"), event(-600, 1440, "Holiday",
                                                               all_day=True)]
    current, upcoming = room.current_and_next(events, NOON)
    assert current is events[0] and upcoming is events[1]
    assert room.current_and_next(events, NOON + 31 * MIN) == (None, events[1])


def test_cancelled_and_free_meetings_leave_the_room_free():
    events = [event(-30, 60, cancelled=True), event(-10, 60, show_as="free")]
    assert room.current_and_next(events, NOON) == (None, None)
    assert room.free_until(events, NOON, None) is None


def test_back_to_back_meetings_keep_the_room_busy_to_the_end_of_the_chain():
    events = [event(-30, 60), event(30, 30), event(60, 30), event(120, 30)]
    current = room.current_and_next(events, NOON)[0]
    assert room.free_until(events, NOON, current) == NOON + 90 * MIN
    assert room.free_until(events, NOON + 100 * MIN, None) == NOON + 120 * MIN


def test_privacy_decides_what_a_meeting_is_called():
    e = event(0, 30, "Salary review", organizer="Amara Okafor")
    assert room.title(e, "subject") == "Salary review"
    assert room.title(e, "organizer") == "Amara Okafor"
    assert room.title(e, "busy") == "Busy"
    e["private"] = True
    for show in ("subject", "organizer", "busy"):
        assert room.title(e, show) == "Private meeting"
    # A room that replaces the subject by the organizer's name, with the organizer unknown.
    assert room.title(event(0, 30, "", organizer=""), "subject") == "Busy"


def test_book_now_offers_only_durations_that_end_before_the_next_meeting():
    events = [event(40, 30)]
    assert [a for a in room.actions(events, NOON, config(), []) if a.startswith("book")] == \
        ["book:15", "book:30"]
    assert "book:15" not in room.actions([event(10, 30)], NOON, config(), [])
    assert not any(a.startswith("book") for a in room.actions(
        [], NOON, config(booking__allowed=False), []))


def test_a_running_meeting_can_be_extended_up_to_the_next_one_and_ended():
    acts = room.actions([event(-30, 60), event(50, 30)], NOON, config(), [])
    assert "extend:15" in acts and "end" in acts and not any(a.startswith("book") for a in acts)
    # The next meeting starts when this one ends: no extension.
    acts = room.actions([event(-30, 60), event(30, 30)], NOON, config(), [])
    assert not any(a.startswith("extend") for a in acts) and "end" in acts


def test_check_in_is_offered_in_its_window_and_once():
    e = event(3, 30)  # starts in 3 minutes: inside the 5 minutes before
    assert "checkin" in room.actions([e], NOON, config(), [])
    assert "checkin" not in room.actions([e], NOON, config(), [room.event_key(e)])
    assert "checkin" not in room.actions([event(8, 30)], NOON, config(), [])
    assert "checkin" not in room.actions([event(-11, 30)], NOON, config(), [])
    off = config(booking__check_in={"enabled": False, "window_before_min": 5,
                                    "window_after_min": 10})
    assert "checkin" not in room.actions([e], NOON, off, [])


def test_a_no_show_is_released_after_the_configured_minutes_unless_checked_in():
    late = event(-10, 60)
    since = NOON - 60 * MIN  # the panel has shown the room for an hour
    assert room.no_shows([late], NOON, config(), [], since) == [late]
    assert room.no_shows([late], NOON - 1, config(), [], since) == []
    assert room.no_shows([late], NOON, config(), [room.event_key(late)], since) == []
    assert room.no_shows([late], NOON, config(booking__auto_release_min=0), [], since) == []
    assert room.no_shows([event(-10, 60, all_day=True)], NOON, config(), [], since) == []


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


def test_service_and_find_buttons_follow_the_configuration():
    cfg = config(service__catering=["More coffee"], service__support=["Projector issue", "Wi-Fi"],
                 room__room_list={"address": "rooms-floor-4@contoso.example", "name": None})
    acts = room.actions([], NOON, cfg, [])
    assert "find" in acts
    assert [a for a in acts if a.startswith("service")] == [
        "service:catering:0", "service:support:0", "service:support:1"]
    assert "find" not in room.actions([], NOON, config(), [])


def test_the_view_model_is_plain_data_with_local_times():
    import json

    events = [event(-30, 60, "Planning"), event(30, 30, "Review", private=True),
              event(60 * 24, 60, "Tomorrow's meeting"), event(-120, 30, "Over already")]
    view = room.view(events, NOON, config(), ZONE, [], {"name": "Lintel Room Panels",
                                                        "upn": "lintel.panels@contoso.example"})
    assert json.loads(json.dumps(view)) == view
    assert view["screen"] == "room" and view["status"] == "busy"
    assert view["time"] == "12:00" and view["date"] == "Wednesday 25 November"
    assert view["until"] == "13:00"  # Planning runs into Review, back to back
    assert view["current"]["title"] == "Planning" and view["current"]["start"] == "11:30"
    assert view["next"]["title"] == "Private meeting"
    assert [e["title"] for e in view["agenda"]["today"]] == ["Planning", "Private meeting"]
    assert [e["title"] for e in view["agenda"]["tomorrow"]] == ["Tomorrow's meeting"]
    assert view["room"] == {"name": "Boardroom 4.12", "address": "room-4.12@contoso.example"}
    twelve = config(locale__clock=12)
    assert room.view(events, NOON, twelve, ZONE, [])["time"] == "12:00 PM"
