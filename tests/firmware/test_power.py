# When a battery panel wakes next (app/power.py), in the Unix-port MicroPython: the refresh
# interval in office hours, asleep through nights and weekends, woken early by the screen's own
# changes, through DST changes; and the wake's use of it (mains boards refresh day and night).
from app import clock, power

ZONE = clock.Zone("CET-1CEST,M3.5.0,M10.5.0/3")
OFFICE = {"office_hours": [7 * 60, 19 * 60], "office_days": [0, 1, 2, 3, 4]}
MIN, HOUR = 60, 3600


def at(y, mo, d, hh, mm=0):
    return ZONE.to_utc(y, mo, d, hh, mm)


def wake(now, moments=(), refresh_min=5, schedule=OFFICE):
    return power.next_wake(now, ZONE, schedule, moments, refresh_min * MIN)


def test_in_office_hours_the_refresh_interval():
    assert wake(at(2026, 11, 25, 12)) == 5 * MIN  # Wednesday noon
    assert wake(at(2026, 11, 25, 7)) == 5 * MIN  # the first minute of office hours
    assert wake(at(2026, 11, 25, 18, 58)) == 5 * MIN  # may end past 19:00: one last look


def test_a_boundary_before_the_refresh_comes_first_but_not_too_soon():
    now = at(2026, 11, 25, 12)
    assert wake(now, [now + 2 * MIN, now + 3 * MIN]) == 2 * MIN
    assert wake(now, [now - MIN, now]) == 5 * MIN  # the past and now itself do not count
    assert wake(now, [now + 5]) == power.MIN_SLEEP_S


def test_nights_are_slept_through():
    assert wake(at(2026, 11, 25, 19)) == 12 * HOUR  # Wednesday 19:00 -> Thursday 07:00
    assert wake(at(2026, 11, 26, 3, 30)) == 3 * HOUR + 30 * MIN  # before the start
    assert wake(at(2026, 11, 26, 6, 59)) == MIN


def test_weekends_are_slept_through():
    friday_evening = at(2026, 11, 27, 19)
    assert friday_evening + wake(friday_evening) == at(2026, 11, 30, 7)  # Monday 07:00
    saturday = at(2026, 11, 28, 12)
    assert saturday + wake(saturday) == at(2026, 11, 30, 7)


def test_a_meeting_at_night_still_wakes_the_panel_for_its_changes():
    evening = at(2026, 11, 25, 20)
    meeting = at(2026, 11, 25, 21)
    assert evening + wake(evening, [meeting]) == meeting


def test_office_hours_follow_the_clocks_through_dst():
    # Sunday 29 March 2026 Amsterdam springs forward; Monday's 07:00 is CEST.
    saturday = at(2026, 3, 28, 12)
    assert saturday + wake(saturday) == clock.timegm(2026, 3, 30, 5)  # 07:00 CEST = 05:00 UTC
    # Sunday 25 October 2026 falls back; Monday's 07:00 is CET.
    friday = at(2026, 10, 23, 20)
    assert friday + wake(friday) == clock.timegm(2026, 10, 26, 6)  # 07:00 CET = 06:00 UTC


def test_odd_office_hours_and_days():
    late = {"office_hours": [6 * 60 + 30, 24 * 60], "office_days": [5]}  # Saturdays only
    assert wake(at(2026, 11, 28, 23, 59), schedule=late) == 5 * MIN
    sunday = at(2026, 11, 29, 0, 1)
    assert sunday + wake(sunday, schedule=late) == at(2026, 12, 5, 6, 30)
    assert power.office_open(at(2026, 11, 28, 6, 30), ZONE, late)
    assert not power.office_open(at(2026, 11, 28, 6, 29), ZONE, late)
    nobody = {"office_hours": [7 * 60, 19 * 60], "office_days": []}
    assert wake(at(2026, 11, 25, 12), schedule=nobody) == power.MAX_SLEEP_S
