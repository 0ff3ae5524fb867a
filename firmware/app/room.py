# The room's state at a moment, from its events and the configuration: free or busy, the
# meeting now and next, what may be done at the door, and the view model the screen draws
# (docs/view-model.md). Pure: no I/O, so it runs under CPython's tests too.
from app import clock

CHECKED_IN_MAX = 16  # check-ins remembered (RTC memory is small); older ones are not needed


def busy(event):
    return not event["cancelled"] and event["show_as"] not in ("free", "workingElsewhere")


def current_and_next(events, now):
    """The meeting in the room at `now` (or None) and the next one to start (or None)."""
    current = upcoming = None
    for e in events:
        if not busy(e) or e["all_day"]:
            continue
        if e["start"] <= now < e["end"]:
            if current is None:
                current = e
        elif e["start"] > now and (upcoming is None or e["start"] < upcoming["start"]):
            upcoming = e
    return current, upcoming


def free_until(events, now, current):
    """When the room is next taken (a meeting's start), or None: free for the rest of the
    window. Back-to-back meetings extend `current` to the end of the chain."""
    if current is not None:
        end = current["end"]
        changed = True
        while changed:
            changed = False
            for e in events:
                if busy(e) and not e["all_day"] and e["start"] <= end < e["end"]:
                    end, changed = e["end"], True
        return end
    starts = [e["start"] for e in events if busy(e) and not e["all_day"] and e["start"] > now]
    return min(starts) if starts else None


def title(event, show):
    """What the panel may show of a meeting (privacy.show; private meetings never more)."""
    if event["private"]:
        return "Private meeting"
    if show == "busy":
        return "Busy"
    if show == "organizer":
        return event["organizer"] or "Busy"
    return event["subject"] or event["organizer"] or "Busy"


def event_key(event):
    """A short number for an event, for the check-in memory (Graph ids are 150 bytes)."""
    h = 5381
    for ch in event["id"].encode():
        h = (h * 33 + ch) & 0x7FFFFFFF
    return h


def no_shows(events, now, config, checked_in, watching_since):
    """Meetings to release: check-in on, auto-release set, started at least that long ago,
    still running, not checked in, and the panel was showing the room (so offering check-in)
    since before the meeting's check-in window opened: a panel just switched on or signed in
    does not release a meeting nobody could check in to."""
    booking = config["booking"]
    minutes = booking.get("auto_release_min") or 0
    window = booking["check_in"]
    if not window["enabled"] or minutes <= 0 or watching_since is None:
        return []
    return [e for e in events if busy(e) and not e["all_day"]
            and e["start"] + minutes * 60 <= now < e["end"] and event_key(e) not in checked_in
            and e["start"] - window["window_before_min"] * 60 >= watching_since]


def all_day_in(event, zone):
    """An all-day event's start and end as local midnights: Graph gives its dates as they are,
    whatever time zone was asked for."""
    if event["all_day"]:
        for key in ("start", "end"):
            y, mo, d = clock.civil(event[key])[:3]
            event[key] = zone.to_utc(y, mo, d)
    return event


def check_in_open(event, now, config):
    window = config["booking"]["check_in"]
    if not window["enabled"] or event is None:
        return False
    return (event["start"] - window["window_before_min"] * 60 <= now
            <= event["start"] + window["window_after_min"] * 60)


def actions(events, now, config, checked_in):
    """What the buttons on the screen may do now, as action ids (docs/view-model.md)."""
    out = []
    current, upcoming = current_and_next(events, now)
    booking = config["booking"]
    if booking["allowed"]:
        if current is None:
            limit = upcoming["start"] if upcoming else None
            for minutes in booking["durations"]:
                if limit is None or now + minutes * 60 <= limit:
                    out.append("book:%d" % minutes)
        else:
            later = [e["start"] for e in events if e is not current and busy(e)
                     and not e["all_day"] and e["start"] >= current["end"]]
            nxt = min(later) if later else None
            for minutes in booking["durations"]:
                if nxt is None or current["end"] + minutes * 60 <= nxt:
                    out.append("extend:%d" % minutes)
                    break
            out.append("end")
    soon = current or (upcoming if upcoming and check_in_open(upcoming, now, config) else None)
    if soon is not None and check_in_open(soon, now, config) \
            and event_key(soon) not in checked_in:
        out.append("checkin")
    room = config["room"]
    if room.get("room_list") or room.get("alternatives"):
        out.append("find")
    service = config["service"]
    for kind in ("catering", "support"):
        for i in range(len(service.get(kind) or ())):
            out.append("service:%s:%d" % (kind, i))
    return out


def view(events, now, config, zone, checked_in, account=None):
    """The room screen's view model."""
    locale, show = config["locale"], config["privacy"]["show"]
    style = locale.get("clock", 24)
    current, upcoming = current_and_next(events, now)
    until = free_until(events, now, current)
    midnight = zone.midnight(now)
    tomorrow = zone.midnight(midnight + 36 * 3600)

    def item(e):
        return {"start": clock.hhmm(e["start"], zone, style), "end": clock.hhmm(e["end"], zone,
                                                                                   style),
                "title": title(e, show), "private": e["private"], "all_day": e["all_day"],
                "now": e is current}

    agenda = {"today": [], "tomorrow": []}
    for e in events:
        if e["cancelled"] or e["end"] <= now:
            continue
        if e["start"] < tomorrow:
            agenda["today"].append(item(e))
        else:
            agenda["tomorrow"].append(item(e))
    mailbox = config["room"]["mailbox"]
    return {
        "screen": "room",
        "room": {"name": mailbox.get("name") or mailbox["address"],
                 "address": mailbox["address"]},
        "time": clock.hhmm(now, zone, style),
        "date": clock.date_line(now, zone, locale.get("language", "en")),
        "status": "busy" if current else "free",
        "until": clock.hhmm(until, zone, style) if until is not None and until < tomorrow
        else None,
        "current": item(current) if current else None,
        "next": item(upcoming) if upcoming else None,
        "checked_in": bool(current and event_key(current) in checked_in),
        "agenda": agenda,
        "actions": actions(events, now, config, checked_in),
        "account": account,
    }
