# One wake of a room panel on Microsoft 365 or Exchange on premises (../shared/DESIGN.md, "One
# wake of a battery panel"): join Wi-Fi, one kept-alive HTTPS session, sign in or refresh
# (Graph; EWS signs in with the service account's password), act on presses, read
# the room's calendar for today and tomorrow, release no-shows, show the view model, and say
# how long to sleep. Every failure becomes a problem screen with what an admin should do; the
# next wake tries again by itself.
import binascii
import gc
import hashlib
import json
import time

from app import clock, power, room, seal, words
from app.backend import BackendError, SignInError, SignInRequired
from app.http_errors import HttpError, TlsError

SCHEDULE_FILE = "/cfg/schedule.sealed"  # the last calendar read, for the offline screen
# Problems that leave the last good schedule on screen (with a line saying so): the room's
# meetings are still worth showing. Problems an admin must fix get their own screen.
OFFLINE_KINDS = ("wifi_not_found", "wifi_timeout", "wifi_refused", "network", "throttled",
                 "unavailable", "bad_response", "signin_service")
MIN_SLEEP_S = power.MIN_SLEEP_S
ALWAYS = {"office_hours": [0, 1440], "office_days": [0, 1, 2, 3, 4, 5, 6]}
RETRY_S = 60  # after a fault, look again this soon (or as Retry-After says)
SIGNIN_CODES = 4  # device codes offered in one wake (Entra's last 15 minutes each)
SIGNIN_RETRY_S = 30 * 60  # then sleep, and offer a new one on the next wake
FIND_WINDOW_S = 60 * 60  # "find a room": free now, and for how long in the next hour
FIND_INTERVAL_MIN = 15
PICKER_S = 60  # a picker or the rooms screen stays this long without a press, then the room
EMPTY_PERCENT = 2  # at or below this charge the panel says so and stops going online
EMPTY_SLEEP_S = 60 * 60  # then it looks once an hour whether it has been charged
LOW_BATTERY_PERCENT = 15  # the configuration's defaults (docs/config.md, [schedule])
LOW_BATTERY_REFRESH_MIN = 30
FULL_REFRESH_EVERY = 10
# The screen's buttons kept in RTC memory (2 KiB, shared with the rest of `memory`); a picker of
# twelve buttons takes about 500 bytes.
HITS_MAX_B = 768
# A boundary wake reads the calendar when its next read is due within the refresh interval
# divided by this; later reads stay where they are, and the boundary is drawn without the radio.
# (A read made early moves the ones after it earlier: on average early / refresh of a read
# more, against a wake saved; a wake without the radio costs about a third of one with it.)
READ_EARLY_DIVISOR = 3
CLOCK_SLACK_S = 2  # a Date header has whole seconds, and the answer takes its time
_drawn = False  # this process has put a screen on the display (a later one may skip a redraw)


class Wake:
    def __init__(self, board, config, memory):
        # memory: what one wake tells the next (RTC memory, a dict); checked_in lives there
        self.board, self.config, self.memory = board, config, memory
        self.zone = clock.Zone(config["locale"]["posix_tz"])
        self.mailbox = config["room"]["mailbox"]
        self.checked_in = memory.setdefault("checked_in", [])
        locale = config["locale"]
        self.language = locale.get("language") or "en"
        self.style = locale.get("clock", 24)
        self.notice = self.notice_kind = None
        self.stats = None
        self.account = None  # the signed-in account, once known: its UPN goes into advice
        self.low_battery = None  # the battery reading when it is low: longer sleeps, a line
        self.radio_from = None  # ticks_ms when the radio started
        self.radio_ms = None  # how long it was on, once it is off (_radio_off)
        self.session = None  # this wake's HTTPS session, whose answers carry the time
        # Read while the radio joins (_while_joining): the trust roots (or why they cannot be
        # used), and on Microsoft 365 the token store and what it holds.
        self.cadata = self.store = self.stored = None
        self.attended = False  # someone pressed a button: they may press another
        # The time of day on the room screen: on a battery panel it would change the screen at
        # every wake, each a redraw; without it an unchanged calendar draws nothing.
        show = config["schedule"].get("show_time", "mains")
        self.show_time = show == "always" or (show == "mains" and not board.battery_powered)

    # -- the wake ----------------------------------------------------------------------------

    def run(self):
        """Do this wake's work; return the seconds to sleep."""
        if self._battery_empty():
            return EMPTY_SLEEP_S
        seconds = self._between_reads()
        if seconds is not None:
            return seconds
        self.memory.pop("read_due", None)  # set again once this wake has shown the room
        self.radio_from = time.ticks_ms()
        problem = self.board.join_wifi(self.config["wifi"], self.memory, self._while_joining)
        if problem is not None:
            return self._problem(problem[0], problem[1], "Check that the network %s is up "
                                 "and that [wifi] in panel.toml is right."
                                 % self.config["wifi"]["ssid"])
        if isinstance(self.cadata, HttpError):
            return self._network_problem(self.cadata)
        from app.http import Session  # loaded by _while_joining

        with Session(cadata=self.cadata, proxy=self.config.get("proxy"),
                     timeout=(15, 30)) as session:
            self.session = session
            try:
                return self._online(session)
            except BackendError as e:
                return self._backend_problem(e)
            except SignInError as e:
                return self._problem("signin_service", e.words, "The panel tries again by "
                                     "itself; check the [backend] tenant and client_id.",
                                     e.retry_after)
            except HttpError as e:
                return self._network_problem(e)
            finally:
                self.stats = session.stats

    def _while_joining(self):
        """What going online needs from flash, done while the radio associates (on the S3
        about as long as the join itself): the HTTP client's and the backend's code, the trust
        roots (or the HttpError that says why not), the stored sign-in; and the touch
        controller's start-up when someone pressed the wake button. A wake that stays offline
        loads none of it."""
        self.board.start_touch()
        import app.http  # noqa: F401 -- for run()
        from app import http_tls

        try:
            self.cadata = http_tls.ca_bundle((self.config.get("tls") or {}).get("extra_ca"))
        except HttpError as e:
            self.cadata = e
        backend = self.config["backend"]
        if backend["type"] == "ews":
            import app.ews  # noqa: F401 -- for _online
        else:
            import app.graph  # noqa: F401 -- for _online
            from app.tokens import TokenStore

            self.store = TokenStore(self.board, backend)
            self.stored = self.store.load()

    def _online(self, session):
        backend = self.config["backend"]
        if clock.lost():
            # Tokens' lifetimes and the calendar's window need the time, and so does TLS: the
            # esp32 port's mbedTLS checks certificate dates. The last time this panel read the
            # calendar is a time the certificates were valid at; then any answer has the time.
            self._restore_clock()
            session.head(backend["url"] if backend["type"] == "ews" else
                         backend["graph_host"] + "/v1.0/").close()
            self._sync_clock()
        if backend["type"] == "ews":
            # Exchange on premises: the service account's own credentials, no sign-in flow.
            from app.ews import Ews

            self.account = {"upn": backend["account"]}
            return self._room(Ews(session, backend), self.account)
        # Microsoft 365 (its code loaded by _while_joining: an EWS panel holds none of it).
        from app.graph import Graph
        from app.tokens import Auth

        store = self.store
        auth = Auth(session, backend, store, self.stored)
        reason = store.problem or "this panel has not been signed in yet"
        graph = Graph(session, backend["graph_host"], auth)
        while True:
            if auth.tokens is None:
                self.board.take_presses()  # a touch on the sign-in screen only woke it
                auth.tokens = self._sign_in(auth.entra(), reason)
                if auth.tokens is None:
                    return SIGNIN_RETRY_S
                store.save(auth.tokens)
            self.account = auth.tokens.get("account")
            try:
                return self._room(graph, self.account)
            except SignInRequired as e:
                print("sign-in lost: %s" % e.words)
                store.clear()
                auth.tokens, reason = None, e.words

    # -- sign-in -----------------------------------------------------------------------------

    def _sign_in(self, entra, reason):
        """Offer device codes until the admin signs in (the tokens) or SIGNIN_CODES expire
        (None). The panel stays awake meanwhile: a sign-in happens once, with someone there."""
        for _ in range(SIGNIN_CODES):
            code = entra.start()
            self._show_sign_in(code, reason)
            while clock.now() < code.expires_at:
                self.board.wait(code.interval * 1000)
                try:
                    tokens = entra.poll(code)
                except SignInError as e:
                    if e.error in ("authorization_declined", "expired_token",
                                   "bad_verification_code"):
                        reason = e.words + "; here is a new code"
                        break
                    if not e.transient:
                        raise
                    self.board.wait(int(min(e.retry_after or RETRY_S, RETRY_S) * 1000))
                    continue
                except HttpError as e:
                    print("sign-in: polling failed (%s); trying again" % e.reason)
                    continue
                if tokens is not None:
                    account = tokens.get("account") or {}
                    print("signed in as %s" % (account.get("upn") or "the service account"))
                    return tokens
            else:
                reason = "the code expired before anyone signed in; here is a new code"
        text = "nobody signed in with the last %d codes; a new one at %s, or touch the " \
            "screen for one now" % (SIGNIN_CODES, clock.hhmm(clock.now() + SIGNIN_RETRY_S,
                                                              self.zone))
        print("sign in: waiting | " + text)
        self._show({"screen": "signin", "language": self.language, "room": self._room_label(),
                    "signin": None, "reason": text})
        return None

    def _show_sign_in(self, code, reason):
        sign_in = code.view(clock.now())
        print("sign in: open %s and enter %s (code valid %d min) | %s" % (
            sign_in["verification_uri"], sign_in["user_code"], sign_in["expires_in"] // 60,
            reason))
        self._show({"screen": "signin", "language": self.language, "room": self._room_label(),
                    "signin": sign_in, "reason": reason})

    # -- the room ----------------------------------------------------------------------------

    def _room(self, graph, account):
        now = clock.now()
        events = self._events(graph, now)
        if self._sync_clock():
            # The clock was off: read again if that moved the calendar's window (a new day).
            then, now = now, clock.now()
            if self.zone.midnight(then) != self.zone.midnight(now):
                events = self._events(graph, now)
        presses = self.board.take_presses(self.memory.get("hits"))
        self.attended = bool(presses)
        after = None  # the screen the last press asked for instead of the room's: find, menu:*
        for press in presses:
            outcome = self._act(graph, press, events, now)
            after = outcome if outcome == "find" or str(outcome).startswith("menu:") else None
            if outcome == "changed":
                events = self._events(graph, now)
        released = room.no_shows(events, now, self.config, self.checked_in,
                                 self.memory.get("watching_since"))
        for e in released:
            graph.decline(self.mailbox["address"], e["id"], words.say(
                "release_comment", self.language, self.config["booking"]["auto_release_min"]))
            span = "%s-%s" % (self._hhmm(e["start"]), self._hhmm(e["end"]))
            print("released: the meeting of %s (nobody checked in)" % span)
            self._notice("done", words.say("did_release", self.language, span))
        if released:
            events = self._events(graph, now)
            after = None  # the room, where the release is said
        find = self._find_view(graph, now) if after == "find" else None
        self._radio_off()  # nothing more to fetch: the screen is built and drawn without it
        self._keep(events, now)
        if find is not None:
            self._show(find)
            return PICKER_S
        if after is not None:
            picker = room.picker_view(room.State(events, now, self.config, self.checked_in),
                                      after[5:], self.zone, self.language, self.style)
            if picker is not None:
                self._show(picker)
                return PICKER_S
        self._show(room.view(events, now, self.config, self.zone, self.checked_in, account,
                             self.notice, self.notice_kind, self.show_time))
        if self.board.battery_powered:
            # Until then a timer wake (a meeting boundary) needs no radio: _between_reads.
            self.memory["read_due"] = power.next_read(now, self.zone, self.config["schedule"],
                                                      self._refresh_s())
            self.memory["account"] = account
        return self._next_wake(events, now)

    def _between_reads(self):
        """A battery panel woken by its timer before its next calendar read is due (for a
        meeting boundary: a status, a check-in window) draws the room from the calendar it
        kept, with no radio: seconds to sleep. None when this wake goes online: a read is due,
        a no-show is to be released, someone woke it, it woke before the moment it slept for,
        the last wake did not show the room, or no calendar is kept."""
        due, planned = self.memory.get("read_due"), self.memory.get("wake_at")
        if due is None or planned is None or clock.lost() or self.board.woken_by_button() or \
                self.board.reset_cause() != "deep-sleep wake":
            return None
        now = clock.now()
        # Not before the moment it slept for (the RTC times the sleep and keeps the clock, so
        # on a panel they agree; an emulator's shortened sleeps without an emulated clock do
        # not). And a read due soon is made now instead: it replaces that read, and the reads
        # go on from here, one wake fewer for the cost of reading a little early.
        early = max(MIN_SLEEP_S, self._refresh_s() // READ_EARLY_DIVISOR)
        if now < planned - MIN_SLEEP_S or now >= due - early:
            return None
        doc = self._kept_schedule()
        if doc is None or not doc["window"][0] <= now < doc["window"][1]:
            return None
        events = doc["events"]
        if room.no_shows(events, now, self.config, self.checked_in,
                         self.memory.get("watching_since")):
            return None
        print("calendar: as read at %s; the next read at %s" % (
            self._hhmm(self.memory["read_at"]), self._hhmm(due)))
        self._show(room.view(events, now, self.config, self.zone, self.checked_in,
                             self.memory.get("account"), show_time=self.show_time))
        return self._next_wake(events, now, due)

    def _radio_off(self):
        """A battery panel's radio goes off once the wake has nothing more to fetch: building
        and drawing the screen costs the CPU's current, not the receiver's. The report's "radio
        on" ends here. A mains panel keeps its link for the next refresh."""
        if self.radio_from is None or self.radio_ms is not None:
            return
        if self.session is not None:
            self.session.close()
        if self.board.battery_powered:
            self.board.radio_off()
        self.radio_ms = time.ticks_diff(time.ticks_ms(), self.radio_from)

    def _sync_clock(self):
        """Set the RTC from the last answer's Date header when they differ by more than
        CLOCK_SLACK_S: after a power cut, and the drift of its slow clock through deep sleep.
        True when it was set."""
        server = clock.parse_http_date(self.session.date) if self.session else None
        if server is None:
            return False
        drift = server - clock.now()
        if -CLOCK_SLACK_S <= drift <= CLOCK_SLACK_S:
            return False
        self.board.set_clock(server)
        print("clock: set to %s from the server's Date header (%+d s)" % (
            clock.format_iso_z(server), drift))
        return True

    def _restore_clock(self):
        """Set a lost clock to when the calendar was last read, if it ever was."""
        schedule = self._kept_schedule()
        if schedule is not None:
            self.board.set_clock(schedule["read_at"])
            print("clock: lost; set to %s, when the calendar was last read"
                  % clock.format_iso_z(schedule["read_at"]))

    def _window(self, now):
        """(start, end) of the calendar the panel reads: today and tomorrow, local."""
        start = self.zone.midnight(now)
        return start, self.zone.midnight(self.zone.midnight(start + 36 * 3600) + 36 * 3600)

    def _events(self, graph, now):
        start, end = self._window(now)
        events = []
        graph.calendar_view(self.mailbox["address"], start, end,
                            lambda e: events.append(room.all_day_in(e, self.zone,
                                                                    graph.all_day_moments)))
        # From the first calendar read on (until a power cycle), the panel offers check-in.
        self.memory.setdefault("watching_since", now)
        return events

    def _keep(self, events, now):
        """Seal the calendar read at `now` into the cfg partition when it changed since the
        last kept (a few writes a day), for the offline screen and the wakes between reads;
        "read_at" in memory says as of when the kept copy is right. With the radio off: none
        of it needs the network."""
        try:
            self._seal_schedule(events, now)
        except MemoryError:
            # The offline copy is a comfort, not the job: the wake goes on without it.
            print("note: no memory to keep an offline copy of the schedule")

    def _seal_schedule(self, events, now):
        key = self.board.device_key()
        if key is None:
            return  # not provisioned: nothing to seal with
        # The digest is taken field by field: no text of the whole list just to compare it.
        h = hashlib.sha256()
        for e in events:
            for k in ("id", "subject", "organizer", "start", "end", "show_as", "private",
                      "cancelled", "all_day"):
                h.update(str(e.get(k)))
        digest = _short(h)
        if self.memory.get("kept") != digest:
            gc.collect()  # the read's garbage, before the copy and its sealed text
            # Without Graph's 150-character ids (nothing can be done offline): about half the
            # size.
            slim = []
            for e in events:
                e = dict(e)
                e["key"] = room.event_key(e)
                e["id"] = ""
                e.pop("organizer_address", None)
                slim.append(e)
            doc = json.dumps({"read_at": now, "window": list(self._window(now)),
                              "events": slim})
            slim = None
            gc.collect()
            self.board.write_file(SCHEDULE_FILE, seal.seal(key[0], key[1], seal.KIND_SCHEDULE,
                                                           doc.encode()))
            self.memory["kept"] = digest
        self.memory["read_at"] = now

    def _offline(self, kind, text):
        """The room from the last good schedule, with a line saying since when it is not
        updated and why; None without a schedule for now."""
        doc = self._kept_schedule()
        if doc is None:
            return None
        now = clock.now()
        if not doc["window"][0] <= now < doc["window"][1]:
            return None
        read_at = self.memory.get("read_at") or doc["read_at"]
        view = room.view(doc["events"], now, self.config, self.zone, self.checked_in,
                         show_time=self.show_time)
        view["actions"], view["labels"] = [], {}  # nothing can be done without Graph
        view["offline"] = {"kind": kind, "since": self._hhmm(read_at), "text": words.say(
            "offline", self.language, self._hhmm(read_at), text)}
        return view

    def _kept_schedule(self):
        """The last calendar kept (_keep), or None."""
        data, key = self.board.read_file(SCHEDULE_FILE), self.board.device_key()
        if data is None or key is None:
            return None
        try:
            return json.loads(seal.open_sealed(key[0], key[1], seal.KIND_SCHEDULE, data))
        except (seal.SealError, ValueError):
            return None

    def _hhmm(self, t):
        return clock.hhmm(t, self.zone, self.style)

    def _notice(self, kind, text):
        self.notice, self.notice_kind = text, kind

    def _act(self, graph, press, events, now):
        """Do what a press asks, if the rules allow it now; else say why not (a notice on the
        screen and a console line). "changed" (the calendar changed: read it again), "local",
        "find", "menu:book" (and the other pickers: room.MENUS) or None (refused)."""
        if press in ("back", "signin"):
            # The rooms screen's way back, or a touch meant for a sign-in screen gone since:
            # the room screen, nothing to refuse.
            print("press: %s | the room screen" % press)
            return None
        state = room.State(events, now, self.config, self.checked_in)
        lang = self.language
        if press not in state.offered:
            why = state.refusal(press, self.zone, lang, self.style)
            print("press: %s refused | %s" % (press, why))
            self._notice("refused", why)
            return None
        current = state.current
        name, _, arg = press.partition(":")
        if name in room.MENUS and not arg:
            print("press: %s | its picker" % press)
            return "menu:" + name
        address = self.mailbox["address"]
        if name == "book":
            start, end = state.book_start(), state.ends[press]
            booked = graph.create_event(address, words.word("booked_subject", lang), start, end,
                                        words.word("booked_body", lang))
            # Booked by someone at the door: they are there, so it needs no check-in.
            self._checked_in(booked)
            print("booked: %s min from %s" % (arg, self._hhmm(start)))
            self._notice("done", words.say("did_book", lang, self._hhmm(end)))
            return "changed"
        if name == "extend":
            end = state.ends[press]
            graph.move_end(address, current["id"], end)
            print("extended: %s min, until %s" % (arg, self._hhmm(end)))
            self._notice("done", words.say("did_extend", lang, room.moment(
                end, now, self.zone, self.style, lang)))
            return "changed"
        if name == "end":
            # Graph wants the end after the start; a meeting ended in the second it began keeps
            # one second.
            graph.move_end(address, current["id"], max(now, current["start"] + 1))
            print("ended early at %s" % self._hhmm(now))
            self._notice("done", words.word("did_end", lang))
            return "changed"
        if name == "checkin":
            self._checked_in(state.target)
            print("checked in: the meeting of %s" % self._hhmm(state.target["start"]))
            self._notice("done", words.word("did_checkin", lang))
            return "local"
        if name == "service":
            kind, _, index = arg.partition(":")
            service = self.config["service"]
            what = service[kind][int(index)]
            meeting = room.title(current, self.config["privacy"]["show"], address, lang) \
                if current else words.word("mail_none", lang)
            graph.send_mail(service["recipient"], what, words.say(
                "mail_body", lang, self._room_label()["name"], address, self._hhmm(now),
                meeting))
            print("service request sent: %s" % what)
            self._notice("done", words.say("did_request", lang, what))
            return "local"
        return "find"

    def _checked_in(self, event):
        key = room.event_key(event)
        if key not in self.checked_in:
            self.checked_in.append(key)
            del self.checked_in[:-room.CHECKED_IN_MAX]

    def _find_view(self, graph, now):
        """Other rooms (the room list's and the alternatives), free now or not."""
        cfg_room = self.config["room"]
        names = {}
        if cfg_room.get("room_list"):
            graph.rooms_in(cfg_room["room_list"]["address"],
                           lambda r: r["address"] and names.setdefault(r["address"], r["name"]))
        for alt in cfg_room.get("alternatives") or ():
            names[alt["address"]] = alt["name"] or names.get(alt["address"]) or alt["address"]
        own = self.mailbox["address"].lower()
        for address in list(names):
            if address.lower() == own:
                del names[address]
        rooms = []
        if names:
            graph.schedule(list(names), now, now + FIND_WINDOW_S, FIND_INTERVAL_MIN, rooms.append)
        out = []
        lang, slots = self.language, FIND_WINDOW_S // 60 // FIND_INTERVAL_MIN
        for r in rooms:
            view = r["view"] or ""
            free_slots = 0
            while free_slots < len(view) and view[free_slots] == "0":
                free_slots += 1
            known = r["error"] is None and bool(view)
            free = known and free_slots > 0
            if not known:
                text = words.word("unknown", lang)
            elif not free:
                text = words.word("busy", lang)
            elif free_slots >= slots:
                text = words.word("free_hour", lang)
            else:
                text = words.say("free_for", lang, words.duration(free_slots * FIND_INTERVAL_MIN,
                                                                   lang))
            out.append({"name": names.get(r["address"], r["address"]), "address": r["address"],
                        "free": free, "free_for_min": free_slots * FIND_INTERVAL_MIN if known
                        else None, "status_text": text})
        out.sort(key=lambda r: (not r["free"], r["name"]))
        return {"screen": "rooms", "language": lang, "room": self._room_label(),
                "heading": words.word("other_rooms", lang), "rooms": out,
                "time": self._hhmm(now)}

    def _next_wake(self, events, now, read_due=None):
        """Seconds to sleep: to the next moment the screen changes, the refresh interval (or
        the read already due at `read_due`), or, on a battery board outside office hours, the
        next start of office hours (app/power)."""
        cfg = self.config
        window = cfg["booking"]["check_in"]
        release = cfg["booking"].get("auto_release_min") or 0
        moments = []
        for e in events:
            if not room.busy(e):
                continue
            # Its start and end, the "soon" statuses before them, its check-in window, the
            # release of a no-show.
            moments += (e["start"], e["end"], e["start"] - room.SOON_S, e["end"] - room.SOON_S)
            if window["enabled"] and not e["all_day"]:
                moments.append(e["start"] - window["window_before_min"] * 60)
                moments.append(e["start"] + window["window_after_min"] * 60)
                if release:
                    moments.append(e["start"] + release * 60)
        schedule = cfg["schedule"]
        if not self.board.battery_powered:
            schedule = ALWAYS  # mains power: the refresh interval day and night
        refresh_s = self._refresh_s() if read_due is None else read_due - now
        return power.next_wake(now, self.zone, schedule, moments, refresh_s)

    # -- problems and the screen -------------------------------------------------------------

    def _backend_problem(self, e):
        address = self.mailbox["address"]
        ews = self.config["backend"]["type"] == "ews"
        user = (self.account or {}).get("upn") or "<service account>"
        release = self.config["booking"].get("auto_release_min")
        if e.kind == "forbidden" and ews:
            # Exchange Server: PublishingEditor to read and write the room's calendar; declining
            # a no-show answers for the room, which a delegate does (Send on Behalf).
            delegate = "; and Set-Mailbox -Identity %s -GrantSendOnBehalfTo @{Add=\"%s\"}" % (
                address, user) if release else ""
            return self._problem("forbidden", e.words, "In the Exchange Management Shell: "
                                 "Add-MailboxFolderPermission -Identity %s:\\Calendar -User %s "
                                 "-AccessRights PublishingEditor%s" % (address, user, delegate))
        if e.kind == "forbidden":
            # Declining a no-show answers for the room: only a delegate may (Graph, "Share or
            # delegate a calendar in Outlook"); booking, extending and ending need Editor.
            delegate = " -SharingPermissionFlags Delegate" if release else ""
            return self._problem("forbidden", e.words, "In Exchange Online PowerShell: "
                                 "Add-MailboxFolderPermission -Identity %s:\\Calendar -User %s "
                                 "-AccessRights Editor%s" % (address, user, delegate))
        if e.code == "no_ews":
            return self._problem("not_found", e.words, "Check [backend] url in panel.toml (it "
                                 "ends in /EWS/Exchange.asmx) and push it again.")
        if e.kind == "not_found":
            return self._problem("not_found", "%s does not know the mailbox %s" % (
                "Exchange" if ews else "Graph", address), "Check [room] mailbox in panel.toml "
                "and push it again.")
        if e.kind == "credentials":
            action = "Check [backend] account and password in panel.toml and push it again " \
                "(lintel config push); a locked-out account needs unlocking in Active Directory."
            if e.code == "no_ntlm":
                action = "Enable Windows authentication on the EWS virtual directory, or set " \
                    "[backend] auth = \"basic\" in panel.toml and push it again."
            return self._problem("credentials", e.words, action)
        if e.kind in ("throttled", "unavailable"):
            return self._problem(e.kind, e.words, "Nothing to do: the panel tries again by "
                                 "itself.", e.retry_after)
        return self._problem(e.kind, e.words, "The panel tries again by itself; if this "
                             "stays, look at the panel's console log.")

    def _network_problem(self, e):
        reason = e.reason
        if isinstance(e, TlsError):
            action = ("If a proxy or firewall inspects TLS, add its CA certificate to [tls] "
                      "extra_ca in panel.toml and push the configuration again.")
            return self._problem("tls", str(e), action)
        if reason == "proxy":
            return self._problem("proxy", str(e), "Check [proxy] url, user and password in "
                                 "panel.toml.")
        if reason in ("bad_json", "item_too_large", "protocol", "too_large"):
            return self._problem("bad_response", str(e), "The panel tries again by itself; if "
                                 "this stays, a proxy or firewall may be altering the answers.")
        # The address the board kept from DHCP (RTC memory "ip", hardware.Board.join_wifi) may
        # be the cause: the next join asks DHCP again.
        self.memory.pop("ip", None)
        return self._problem("network", str(e), "Check the network and firewall: the panel "
                             "needs HTTPS (port 443) to its %s." % (
                                 "Exchange server" if self.config["backend"]["type"] == "ews"
                                 else "Microsoft 365 hosts"))

    def _problem(self, kind, text, action, retry_after=None):
        wait = int(retry_after) if retry_after else RETRY_S
        wait = max(MIN_SLEEP_S, min(wait, self._refresh_s()))
        print("problem: %s | %s | %s" % (kind, text, action))
        self._radio_off()
        offline = self._offline(kind, text) if kind in OFFLINE_KINDS else None
        if offline is not None:
            self._show(offline)
            return wait
        self._show({"screen": "problem", "language": self.language, "room": self._room_label(),
                    "problem": {"kind": kind, "words": text, "action": action,
                                "retry_in_s": wait}})
        return wait

    def _room_label(self):
        return {"name": self.mailbox.get("name") or self.mailbox["address"],
                "address": self.mailbox["address"]}

    # -- the battery -------------------------------------------------------------------------

    def _refresh_s(self):
        """The refresh interval: the configured one, or the longer low-battery one."""
        schedule = self.config["schedule"]
        minutes = schedule["refresh_min"]
        if self.low_battery is not None:
            minutes = max(minutes, schedule.get("low_battery_refresh_min",
                                                LOW_BATTERY_REFRESH_MIN))
        return minutes * 60

    def _battery_empty(self):
        """Read the battery (before the radio: a cell under a Wi-Fi burst reads low). Low:
        longer sleeps and a line on the room screen. Empty: its own screen and True, with no
        radio at all; an e-paper panel keeps that screen without power, so the door says why
        the panel is blank rather than showing a stale schedule."""
        battery = self.board.battery()
        if battery is None:
            return False
        percent = battery["percent"]
        print("battery: %d mV, %d %%" % (battery["mv"], percent))
        if percent > EMPTY_PERCENT:
            if percent < self.config["schedule"].get("low_battery_percent", LOW_BATTERY_PERCENT):
                self.low_battery = battery
            return False
        print("problem: battery | %d %% left | charge or replace the battery" % percent)
        self._show({"screen": "battery", "language": self.language, "room": self._room_label(),
                    "percent": percent, "words": words.word("battery_empty", self.language),
                    "action": words.word("battery_action", self.language)})
        return True

    def _show(self, view):
        """Put a view model on the screen, unless the screen already shows exactly it: the
        digest of its JSON is kept in RTC memory ("shown"), and a panel whose display kept its
        picture (this process drew it, or a deep sleep since; not a reset) skips the redraw.
        Everything in the view is visible, so nothing is left out of the comparison; with the
        clock on it (show_time), a room view changes once a minute."""
        global _drawn
        if view["screen"] == "room" and self.low_battery is not None:
            percent = self.low_battery["percent"]
            view["battery"] = {"percent": percent, "text": words.say(
                "battery_low", self.language, percent, words.duration(self._refresh_s() // 60,
                                                                      self.language))}
        data = json.dumps(view)  # str: hashlib and files take it as it is, no second copy
        digest = _short(hashlib.sha256(data))
        same = self.memory.get("shown") == digest and (
            _drawn or self.board.reset_cause() == "deep-sleep wake")
        drawn = "unchanged, not redrawn"
        if not same:
            refresh = self.board.show(data, self._full_refresh())
            if refresh != "failed":  # else the next wake tries again
                self.memory["shown"] = digest
                # Its buttons, for the taps of the wakes to come (a deep sleep loses the
                # screen's widgets): a few hundred bytes of RTC memory's 2 KiB.
                hits = getattr(self.board, "hits", None)
                if hits and len(json.dumps(hits)) > HITS_MAX_B:
                    print("problem: touch | the %s screen has too many buttons to keep; "
                          "taps on it are ignored" % view["screen"])
                    hits = None
                self.memory["hits"] = hits
                _drawn = True
            drawn = "redrawn (no pixel changed)" if refresh == "none" else \
                "redrawn (%s refresh)" % refresh if refresh else "redrawn"
        screen = view["screen"]
        if screen == "room":
            print("screen: room%s | %s%s | %d today, %d tomorrow | %s" % (
                ", offline" if view.get("offline") else "", view["status"],
                " until " + view["until"] if view["until"] else "",
                len(view["agenda"]["today"]), len(view["agenda"]["tomorrow"]), drawn))
        elif screen == "rooms":
            print("screen: rooms | %d free of %d | %s" % (
                sum(1 for r in view["rooms"] if r["free"]), len(view["rooms"]), drawn))
        else:
            print("screen: %s | %s" % (screen, drawn))


    def _full_refresh(self):
        """Whether this redraw should be a full refresh: an e-paper panel's partial refreshes
        leave ghosts that a full one clears. Every `full_refresh_every`-th redraw is full, and
        the first after a power-on (the count lives in RTC memory)."""
        every = self.config["schedule"].get("full_refresh_every", FULL_REFRESH_EVERY)
        count = self.memory.get("partials")
        if count is None or count + 1 >= every:
            self.memory["partials"] = 0
            return True
        self.memory["partials"] = count + 1
        return False


def _short(h):
    """Twelve hex digits of a hash: enough to tell one schedule or screen from the next."""
    return binascii.hexlify(h.digest()[:6]).decode()


def report(wake, started_ms):
    """One console line of what the wake cost, for the technician and `make bench`. The heap
    figure is what stays live after a collection; the smallest heap a wake fits in is found by
    `make bench` (-X heapsize). The radio is on from the start of the Wi-Fi join until the
    wake has fetched all it needs (Wake._radio_off), or else to here, and "network" is the part
    of it spent connecting, in TLS handshakes and waiting for answers; "display" is the time
    spent drawing and refreshing the screen (on the emulated board: the host drawing, the
    driver, the panel model's BUSY), which the energy benchmark models on its own; "kept" the
    bytes of the e-paper's picture written to flash (drivers/last_frame.py)."""
    s = wake.stats or {}
    gc.collect()
    now = time.ticks_ms()
    radio = wake.radio_ms
    if radio is None:
        radio = time.ticks_diff(now, wake.radio_from) if wake.radio_from is not None else 0
    print("wake: %d requests, %d connections, %d TLS handshakes, %d B sent, %d B received, "
          "%d ms, heap %d B live of %d B, radio on %d ms (network %d ms), display %d ms, "
          "%d B kept" % (
              s.get("requests", 0), s.get("connections", 0), s.get("tls_handshakes", 0),
              s.get("bytes_sent", 0), s.get("bytes_received", 0),
              time.ticks_diff(now, started_ms), gc.mem_alloc(), gc.mem_alloc() + gc.mem_free(),
              radio, s.get("network_ms", 0), getattr(wake.board, "display_ms", 0),
              getattr(wake.board, "kept_bytes", 0)))
    wake.board.display_ms = wake.board.kept_bytes = 0
