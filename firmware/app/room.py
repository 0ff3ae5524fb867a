# The room's state at a moment, from its events and the configuration: free or busy, the
# meeting now and next, what may be done at the door (and, in words, why not), and the view
# model the screen draws (docs/view-model.md). Pure: no I/O, so it runs under CPython's tests
# too.
#
# Events are what graph.compact_event makes of Graph's (all-day ones moved to local midnights by
# all_day_in): {"id", "start", "end" (Unix seconds, end exclusive), "subject", "organizer",
# "organizer_address", "private", "all_day", "cancelled", "show_as"}. A moment belongs to a
# meeting when start <= moment < end, so a meeting ending at 10:00 is over at 10:00:00.
from app import clock, words

CHECKED_IN_MAX = 16  # check-ins remembered (RTC memory is small); older ones are not needed
AGENDA_MAX = 8  # meetings a day in the view model; the room screen lists about six
SOON_S = 10 * 60  # ending_soon / starting_soon: within this of the change
EXTEND_MIN_S = 5 * 60  # "extend until the next meeting" is offered for a gap this long or more
STATUSES = ("free", "busy", "ending_soon", "starting_soon", "awaiting_checkin", "checked_in")
NOT_BLOCKING = ("free", "workingElsewhere")
# Presses that open a picker screen of their kind's choices (book:N, extend:N, service:K:I).
MENUS = ("book", "extend", "service")


def busy(event):
    """Whether an event takes the room: not cancelled, and shown as busy, tentative, away
    (oof) or unknown. Tentative counts as busy (the organizer may still come); free and
    workingElsewhere leave the room free. All-day events follow the same rule."""
    return not event["cancelled"] and event["show_as"] not in NOT_BLOCKING


def _later(a, b):
    """Of two meetings on at once, the one the screen calls "the meeting now": a timed one
    before an all-day one, then the one that began last (its people are the ones at the door),
    then the one that ends last."""
    if a["all_day"] != b["all_day"]:
        return b if a["all_day"] else a
    if a["start"] != b["start"]:
        return a if a["start"] > b["start"] else b
    return a if a["end"] >= b["end"] else b


def current_and_next(events, now):
    """The meeting in the room at `now` (or None) and the next one to start after `now` (or
    None). Only events that take the room count (busy())."""
    current = upcoming = None
    for e in events:
        if not busy(e):
            continue
        if e["start"] <= now < e["end"]:
            current = e if current is None else _later(current, e)
        elif e["start"] > now and (upcoming is None or e["start"] < upcoming["start"] or (
                e["start"] == upcoming["start"] and upcoming["all_day"] and not e["all_day"])):
            upcoming = e
    return current, upcoming


def free_until(events, now, current):
    """Busy (current not None): when the room frees up, the end of the union of the meetings on
    now and every meeting that overlaps or follows on without a gap. Free: when the room is next
    taken (a meeting's start), or None: free for the rest of the window."""
    if current is not None:
        end = current["end"]
        changed = True
        while changed:
            changed = False
            for e in events:
                if busy(e) and e["start"] <= end < e["end"]:
                    end, changed = e["end"], True
        return end
    starts = [e["start"] for e in events if busy(e) and e["start"] > now]
    return min(starts) if starts else None


def _same(a, b):
    return a.strip().lower() == b.strip().lower()


def names(event, show, room_address=None, language="en"):
    """(title, organizer) of a meeting as the panel may show it: the organizer is None when the
    title already names them or privacy hides them.

    - private meetings: "Private meeting", no organizer, whatever privacy.show says;
    - show = "busy": "Busy"; show = "organizer": the organizer's name as the title;
    - show = "subject": the subject and the organizer, except that a subject that is the
      organizer's name (a room with AddOrganizerToSubject and DeleteSubject) or is empty gives
      the organizer as the title, once; a subject that begins with the organizer's name
      (AddOrganizerToSubject without DeleteSubject: "Amara Okafor Planning") loses that prefix.
    An organizer that is the room itself (a booking made in its own calendar, e.g. at the
    panel) is no organizer; a booking made at the panel keeps its subject in every mode."""
    if event["private"]:
        return words.word("private_meeting", language), None
    subject = event["subject"].strip()
    organizer = event["organizer"].strip()
    address = event.get("organizer_address") or ""
    if room_address and address and _same(address, room_address):
        organizer = ""
        for lang in words.LANGUAGES:
            if subject == words.word("booked_subject", lang):
                return subject, None
    fallback = words.word("busy_meeting", language)
    if show == "busy":
        return fallback, None
    if show == "organizer":
        return organizer or fallback, None
    if not subject or (organizer and _same(subject, organizer)):
        return organizer or fallback, None
    if organizer and len(subject) > len(organizer) + 1 and _same(
            subject[:len(organizer)], organizer) and subject[len(organizer)] == " ":
        return subject[len(organizer) + 1:].strip(), organizer
    return subject, organizer or None


def title(event, show, room_address=None, language="en"):
    """The one line naming a meeting (a service mail, the console): names() joined."""
    head, organizer = names(event, show, room_address, language)
    return head if organizer is None else "%s (%s)" % (head, organizer)


def event_key(event):
    """A short number for an event, for the check-in memory (Graph ids are 150 bytes). The
    kept calendar (app/wake.py, _keep) stores it as "key" in place of the id."""
    if "key" in event:
        return event["key"]
    h = 5381
    for ch in event["id"].encode():
        h = (h * 33 + ch) & 0x7FFFFFFF
    return h


def all_day_in(event, zone, moments=False):
    """An all-day event's start and end as local midnights. Graph gives its dates as they are
    (as UTC midnights), whatever time zone was asked for; EWS (moments) gives the moments of
    the mailbox's midnights, which are the nearest local ones."""
    if event["all_day"]:
        for key in ("start", "end"):
            if moments:
                event[key] = zone.midnight(event[key] + 12 * 3600)
            else:
                y, mo, d = clock.civil(event[key])[:3]
                event[key] = zone.to_utc(y, mo, d)
    return event


# -- check-in -------------------------------------------------------------------------------

def check_in_window(event, config):
    """(opens, closes) of a meeting's check-in window, closes exclusive; None for an all-day
    event or with check-in off."""
    window = config["booking"]["check_in"]
    if not window["enabled"] or event is None or event["all_day"]:
        return None
    return (event["start"] - window["window_before_min"] * 60,
            event["start"] + window["window_after_min"] * 60)


def check_in_open(event, now, config):
    w = check_in_window(event, config)
    return w is not None and w[0] <= now < w[1]


def check_in_target(now, config, current, upcoming):
    """The meeting a check-in at `now` is for: the meeting now if its window is open, else the
    next one if its window is open, else None."""
    for e in (current, upcoming):
        if check_in_open(e, now, config):
            return e
    return None


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


# -- the state at a moment, and what may be done ----------------------------------------------

class State:
    """Everything the rules say at `now`: current, upcoming (see current_and_next), until
    (free_until), target (the meeting a check-in is for), status (one of STATUSES), offered
    (every action id a press may carry now, in screen order), buttons (those the room screen
    shows) and, per offered book/extend id, the end it would give (ends)."""

    def __init__(self, events, now, config, checked_in):
        self.events, self.now, self.config, self.checked_in = events, now, config, checked_in
        current, upcoming = current_and_next(events, now)
        self.current, self.upcoming = current, upcoming
        self.until = free_until(events, now, current)
        target = check_in_target(now, config, current, upcoming)
        self.target = target
        self.target_checked = target is not None and event_key(target) in checked_in
        self.status = self._status()
        self.ends = {}
        self.offered = self._offers()
        self.buttons = _buttons(self.offered)

    def _status(self):
        current, target, now = self.current, self.target, self.now
        if current is not None:
            if target is current and not self.target_checked:
                return "awaiting_checkin"
            if self.until - now <= SOON_S:
                return "ending_soon"
            if target is current:
                return "checked_in"
            return "busy"
        if target is not None:
            return "checked_in" if self.target_checked else "awaiting_checkin"
        if self.upcoming is not None and self.upcoming["start"] - now <= SOON_S:
            return "starting_soon"
        return "free"

    def book_start(self):
        """Where a booking made now begins: the start of this minute, or the end of a meeting
        that ended earlier in it (so the booking does not overlap it)."""
        start = self.now - self.now % 60
        for e in self.events:
            if busy(e) and start < e["end"] <= self.now:
                start = e["end"]
        return start

    def extend_limit(self):
        """The latest end the meeting now may be given: the next meeting's start, or None."""
        return self.upcoming["start"] if self.upcoming is not None else None

    def _offers(self):
        out = []
        config, current = self.config, self.current
        booking = config["booking"]
        if booking["allowed"]:
            if current is None:
                start = self.book_start()
                limit = self.upcoming["start"] if self.upcoming is not None else None
                for minutes in booking["durations"]:
                    end = start + minutes * 60
                    if limit is None or end <= limit:
                        self.ends["book:%d" % minutes] = end
                        out.append("book:%d" % minutes)
            elif not current["all_day"]:
                limit = self.extend_limit()
                for minutes in booking["durations"]:
                    end = current["end"] + minutes * 60
                    if limit is None or end <= limit:
                        self.ends["extend:%d" % minutes] = end
                        out.append("extend:%d" % minutes)
                if not out and limit is not None and limit - current["end"] >= EXTEND_MIN_S:
                    # No configured duration fits: exactly up to the next meeting.
                    minutes = (limit - current["end"]) // 60
                    self.ends["extend:%d" % minutes] = current["end"] + minutes * 60
                    out.append("extend:%d" % minutes)
                out.append("end")
        if self.target is not None and not self.target_checked:
            out.append("checkin")
        room = config["room"]
        if room.get("room_list") or room.get("alternatives"):
            out.append("find")
        service = config["service"]
        if service.get("recipient"):
            for kind in ("catering", "support"):
                for i in range(len(service.get(kind) or ())):
                    out.append("service:%s:%d" % (kind, i))
        # A picker opens whenever one of its choices is offered (a press from a screen drawn
        # when there were more); the room screen shows it only for two or more (_buttons).
        for menu in MENUS:
            if _kind(out, menu):
                out.append(menu)
        return out

    # -- why not ------------------------------------------------------------------------------

    def refusal(self, press, zone, language="en", clock_style=24):
        """The words for a press that is not offered now (docs/view-model.md, "Refusals")."""
        name, _, arg = press.partition(":")
        config, current, now = self.config, self.current, self.now
        booking = config["booking"]

        def at(t):
            return moment(t, now, zone, clock_style, language)

        minutes = _minutes(arg)
        if name == "book" and arg and minutes not in booking["durations"]:
            return words.word("no_such_button", language)

        if name in ("book", "extend", "end") and not booking["allowed"]:
            return words.word("no_booking", language)
        if name == "book":
            if current is not None:
                return words.say("no_book_busy", language,
                                 until_words(self.until, now, zone, clock_style, language))
            if self.upcoming is not None:
                fits = any(k.startswith("book:") for k in self.offered)
                return words.say("no_book_until" if fits else "no_book_at_all", language,
                                 at(self.upcoming["start"]))
        elif name in ("extend", "end"):
            if current is None:
                return words.word("no_extend_nothing" if name == "extend" else "no_end_nothing",
                                  language)
            if current["all_day"]:
                return words.word("no_change_all_day", language)
            limit = self.extend_limit()
            if name == "extend" and limit is not None:
                fits = any(k.startswith("extend:") for k in self.offered)
                return words.say("no_extend_until" if fits else "no_extend_at_all", language,
                                 at(limit))
        elif name == "checkin":
            if not booking["check_in"]["enabled"]:
                return words.word("no_checkin_off", language)
            if self.target is not None:
                return words.word("no_checkin_again", language)
            window = check_in_window(current, config) if current is not None else None
            if window is not None and now >= window[1]:
                return words.say("no_checkin_closed", language, at(window[1]))
            window = check_in_window(self.upcoming, config)
            if window is not None:
                return words.say("no_checkin_yet", language, at(window[0]))
            return words.word("no_checkin_nothing", language)
        elif name == "service":
            return words.word("no_service", language)
        elif name == "find":
            return words.word("no_find", language)
        return words.word("no_such_button", language)

    def label(self, action, zone, language="en", clock_style=24):
        """The words on the button of an offered action id."""
        name, _, arg = action.partition(":")
        if name in MENUS and not arg:
            return words.word(name + "_menu", language)
        if name == "book":
            return words.say("book", language, words.duration(int(arg), language))
        if name == "extend":
            minutes = int(arg)
            if minutes in self.config["booking"]["durations"]:
                return words.say("extend", language, words.duration(minutes, language))
            return words.say("extend_until", language, moment(
                self.ends[action], self.now, zone, clock_style, language))
        if name == "service":
            kind, _, index = arg.partition(":")
            return self.config["service"][kind][int(index)]
        return words.word(name, language)


def _kind(actions, name):
    """The choices of one picker among action ids: book -> ["book:15", "book:30"]."""
    prefix = name + ":"
    return [a for a in actions if a.startswith(prefix)]


def _buttons(offered):
    """The room screen's buttons: a kind with two or more choices (durations to book or to
    extend by, service requests) is one button opening its picker; a single choice is its own
    button, one press from done."""
    out = []
    for action in offered:
        name, _, arg = action.partition(":")
        if name not in MENUS:
            out.append(action)
        elif not arg:
            continue  # the picker itself: its button stands where its first choice would
        elif len(_kind(offered, name)) < 2:
            out.append(action)
        elif name not in out:
            out.append(name)
    return out


def _minutes(arg):
    try:
        minutes = int(arg)
    except ValueError:
        return None
    return minutes if minutes > 0 else None


def actions(events, now, config, checked_in):
    """What the buttons on the screen may do now, as action ids (docs/view-model.md)."""
    return State(events, now, config, checked_in).offered


def status(events, now, config, checked_in):
    return State(events, now, config, checked_in).status


# -- times in words ---------------------------------------------------------------------------

def _day_words(t, day, now, zone, language):
    """None when t is on the local day holding `day` (or on today's); else the day in words,
    seen from `now`: "tomorrow", "yesterday" or the date ("Friday 27 November")."""
    for d in (day, now):
        d0, d1 = zone.day_bounds(d)
        if d0 <= t < d1:
            return None
    day0, day1 = zone.day_bounds(now)
    if day1 <= t < zone.day_bounds(day1)[1]:
        return "tomorrow"
    if zone.day_bounds(day0 - 1)[0] <= t < day0:
        return "yesterday"
    return clock.date_line(t, zone, language)


def moment(t, now, zone, style=24, language="en", day=None):
    """A moment as the screen says it, seen from `now`: "10:30" today, "tomorrow 09:00",
    "yesterday 23:00", "Friday 27 November 09:00" further off. Listed under another day (the
    agenda's tomorrow), a moment on that `day` is its time alone."""
    time = clock.hhmm(t, zone, style)
    other = _day_words(t, now if day is None else day, now, zone, language)
    if other is None:
        return time
    if other in ("tomorrow", "yesterday"):
        return words.say(other + "_at", language, time)
    return words.say("day_at", language, other, time)


def until_words(t, now, zone, style=24, language="en"):
    """How long the status lasts, when it changes at t (None: not in the window): "until
    10:30", "until tomorrow 09:00", "for the rest of the day" (t is tonight's midnight or
    None), "through tomorrow", "through Friday 27 November" (t a later midnight), or "until
    Friday 27 November 09:00"."""
    day0, day1 = zone.day_bounds(now)
    if t is None or t == day1:
        return words.word("rest_of_day", language)
    if t < day1:
        return words.say("until", language, clock.hhmm(t, zone, style))
    day2 = zone.day_bounds(day1)[1]
    if t < day2:
        return words.say("until_tomorrow", language, clock.hhmm(t, zone, style))
    if t == day2:
        return words.word("through_tomorrow", language)
    if zone.midnight(t) == t:
        return words.say("through_day", language, clock.date_line(t - 1, zone, language))
    return words.say("until_day", language, clock.date_line(t, zone, language),
                     clock.hhmm(t, zone, style))


def when_words(event, day, now, zone, style=24, language="en"):
    """A meeting's time as the screen lists it under the local day holding `day` (the agenda's
    today or tomorrow; the meeting now and next: today), days named as seen from `now`:
    "09:00 - 10:00", "tomorrow 09:00 - 10:00", "23:00 - tomorrow 01:00", "yesterday 22:00 -
    01:00", "09:00 - 24:00" (12 h clock: "9:00 AM - midnight"), "All day", "Tomorrow, all
    day", "All day, through tomorrow", "All day, through Friday 27 November"."""
    start, end = event["start"], event["end"]
    if event["all_day"]:
        day1 = zone.day_bounds(day)[1]
        if start >= day1:
            return words.word("all_day_tomorrow", language)
        if end <= day1:
            return words.word("all_day", language)
        if end == zone.day_bounds(zone.day_bounds(now)[1])[1]:
            return words.word("all_day_through_tomorrow", language)
        return words.say("all_day_through", language, clock.date_line(end - 1, zone, language))
    first = moment(start, now, zone, style, language, day)
    s0, s1 = zone.day_bounds(start)
    if s0 <= end < s1:
        last = clock.hhmm(end, zone, style)  # the same day as the start: its day said once
    elif end == s1:
        last = "24:00" if style == 24 else words.word("midnight", language)
    else:
        last = moment(end, now, zone, style, language, day)
    return "%s - %s" % (first, last)


# -- the view model ---------------------------------------------------------------------------

def view(events, now, config, zone, checked_in, account=None, notice=None, notice_kind=None,
         show_time=True):
    """The room screen's view model (docs/view-model.md): plain data, every word ready. Without
    `show_time` its "time" is None: a view that does not change with the minute."""
    locale, show = config["locale"], config["privacy"]["show"]
    style = locale.get("clock", 24)
    language = locale.get("language") or "en"
    address = config["room"]["mailbox"]["address"]
    state = State(events, now, config, checked_in)
    current, upcoming, until = state.current, state.upcoming, state.until
    tomorrow = zone.day_bounds(now)[1]
    after = zone.day_bounds(tomorrow)[1]

    def item(e, day):
        head, organizer = names(e, show, address, language)
        tag = None
        if not busy(e):
            tag = words.word("stays_free", language)
        elif e["show_as"] == "tentative":
            tag = words.word("tentative", language)
        return {"start": clock.hhmm(e["start"], zone, style),
                "end": clock.hhmm(e["end"], zone, style),
                "when": when_words(e, day, now, zone, style, language),
                "title": head, "organizer": organizer, "private": e["private"],
                "all_day": e["all_day"], "now": busy(e) and e["start"] <= now < e["end"],
                "free": not busy(e), "tentative": e["show_as"] == "tentative", "tag": tag}

    # At most AGENDA_MAX meetings a day: more than a screen can list, and a view whose size
    # does not grow with a busy calendar (the panel's heap); `more` counts the rest.
    agenda = {"today": [], "tomorrow": [], "more": {"today": 0, "tomorrow": 0}}
    for e in events:
        if e["cancelled"] or e["end"] <= now or e["start"] >= after:
            continue
        day = "today" if e["start"] < tomorrow else "tomorrow"
        if len(agenda[day]) < AGENDA_MAX:
            agenda[day].append(item(e, now if day == "today" else tomorrow))
        else:
            agenda["more"][day] += 1
    checkin_text = None
    if state.target is not None and not state.target_checked:
        release = config["booking"].get("auto_release_min") or 0
        if release:
            checkin_text = words.say("checkin_or_release", language, moment(
                state.target["start"] + release * 60, now, zone, style, language))
        else:
            checkin_text = words.say("checkin_by", language, moment(
                check_in_window(state.target, config)[1], now, zone, style, language))
    return {
        "screen": "room",
        "language": language,
        "room": _room_label(config),
        "time": clock.hhmm(now, zone, style) if show_time else None,
        "date": clock.date_line(now, zone, language),
        "status": state.status,
        "status_text": words.word(state.status, language),
        "until": clock.hhmm(until, zone, style) if until is not None and until < tomorrow
        else None,
        "until_text": until_words(until, now, zone, style, language),
        "current": item(current, now) if current else None,
        "next": item(upcoming, now) if upcoming else None,
        "checked_in": bool(current and event_key(current) in checked_in),
        "checkin_text": checkin_text,
        "agenda": agenda,
        "headings": {key: words.word(key, language) for key in (
            "now", "next", "today", "tomorrow", "nothing_today", "nothing_tomorrow")},
        "actions": state.buttons,
        "labels": {a: state.label(a, zone, language, style) for a in state.buttons},
        "account": account,
        "notice": notice,
        "notice_kind": notice_kind if notice else None,
        "battery": None,
    }


def _room_label(config):
    mailbox = config["room"]["mailbox"]
    return {"name": mailbox.get("name") or mailbox["address"], "address": mailbox["address"]}


def picker_view(state, menu, zone, language="en", style=24):
    """The picker a menu press opens (docs/view-model.md, "book" and "service"): the choices of
    its kind offered now, or None when there are none left."""
    config, now = state.config, state.now
    choices = _kind(state.offered, menu)
    if not choices:
        return None
    view = {"screen": "service" if menu == "service" else "book", "language": language,
            "room": _room_label(config), "time": clock.hhmm(now, zone, style),
            "heading": words.word(menu + "_heading", language),
            "back": words.word("back", language)}
    if menu == "service":
        recipient = config["service"]["recipient"]
        view["line"] = words.say("service_line", language,
                                 recipient.get("name") or recipient["address"])
        view["groups"] = []
        for kind in ("catering", "support"):
            mine = [{"action": a, "label": state.label(a, zone, language, style)}
                    for a in _kind(choices, "service:" + kind)]
            if mine:
                view["groups"].append({"heading": words.word("service_" + kind, language),
                                       "choices": mine})
        return view
    if menu == "book":
        view["line"] = words.say("book_line", language, until_words(state.until, now, zone,
                                                                    style, language))
    else:
        current = state.current
        line = words.say("extend_line", language, names(current, config["privacy"]["show"],
                                                        _room_label(config)["address"],
                                                        language)[0],
                         until_words(current["end"], now, zone, style, language))
        if state.upcoming is not None:
            line += words.say("extend_next", language, moment(state.upcoming["start"], now,
                                                              zone, style, language))
        view["line"] = line
    view["choices"] = [{"action": a, "label": words.duration(int(a[len(menu) + 1:]), language),
                        "detail": until_words(state.ends[a], now, zone, style, language)}
                       for a in choices]
    return view
