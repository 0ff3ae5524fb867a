# When a battery panel wakes next (../shared/DESIGN.md, "One wake", step 7): the earliest of
# the next moment its screen changes, the refresh interval, and the start of office hours;
# outside office hours only the screen's own changes wake it (nights and weekends asleep).
# A touch or the wake button wakes it whenever. Pure: no I/O, times are Unix seconds.
#
# schedule is the configuration's [schedule] (docs/config.md): office_hours [start, end] in
# minutes after local midnight, office_days 0 = Monday ... 6 = Sunday.
MIN_SLEEP_S = 30  # never wake more often than this for a boundary
MAX_SLEEP_S = 8 * 24 * 3600  # with no office day at all: look once a week and a bit anyway
LISTEN_S = 30  # [schedule] listen_s unless set


def listen_s(config):
    """How long a battery panel stays awake for the next tap after someone pressed its wake
    button or tapped it (its touch controller is off in deep sleep)."""
    return config["schedule"].get("listen_s", LISTEN_S)


def office_open(t, zone, schedule):
    """Whether t falls in office hours."""
    start, end = schedule["office_hours"]
    if zone.local(t)[6] not in schedule["office_days"]:
        return False
    return zone.at(t, start) <= t < zone.at(t, end)


def office_start(t, zone, schedule):
    """The next start of office hours at or after t (t itself when they are on), or None with
    no office days."""
    if office_open(t, zone, schedule):
        return t
    start = schedule["office_hours"][0]
    day = t
    for _ in range(8):  # today, then the next seven days: every weekday once
        if zone.local(day)[6] in schedule["office_days"] and zone.at(day, start) > t:
            return zone.at(day, start)
        day = zone.day_bounds(day)[1]
    return None


def next_read(now, zone, schedule, refresh_s):
    """When the calendar is to be read next: now + refresh_s in office hours, else the next
    start of office hours (None with no office days)."""
    if office_open(now, zone, schedule):
        return now + refresh_s
    return office_start(now, zone, schedule)


def next_wake(now, zone, schedule, moments, refresh_s):
    """Seconds to sleep from now: to the first of `moments` (when the screen changes: meeting
    boundaries, check-in windows) after now, or to the next read (next_read); at least
    MIN_SLEEP_S."""
    at = next_read(now, zone, schedule, refresh_s)
    if at is None:
        at = now + MAX_SLEEP_S
    for t in moments:
        if now < t < at:
            at = t
    return max(MIN_SLEEP_S, at - now)
