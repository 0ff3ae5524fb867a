# One wake of a room panel on Microsoft 365 (../shared/DESIGN.md, "One wake of a battery
# panel"): join Wi-Fi, one kept-alive HTTPS session, sign in or refresh, act on presses, read
# the room's calendar for today and tomorrow, release no-shows, show the view model, and say
# how long to sleep. Every failure becomes a problem screen with what an admin should do; the
# next wake tries again by itself.
import gc
import json
import time

from app import clock, http_tls, room
from app.entra import REFRESH_MARGIN, Entra, SignInError, SignInRequired
from app.graph import Graph, GraphError
from app.http import Session
from app.http_errors import HttpError
from app.tokens import TokenStore

MIN_SLEEP_S = 30  # never wake more often than this for a boundary
RETRY_S = 60  # after a fault, look again this soon (or as Retry-After says)
SIGNIN_CODES = 4  # device codes offered in one wake (Entra's last 15 minutes each)
SIGNIN_RETRY_S = 30 * 60  # then sleep, and offer a new one on the next wake
FIND_WINDOW_S = 60 * 60  # "find a room": free now, and for how long in the next hour
FIND_INTERVAL_MIN = 15
BOOKED_SUBJECT = {"en": "Booked at the door", "nl": "Geboekt bij de deur"}
REQUEST_TEXT = "Requested at the door panel of %s <%s> at %s.\r\nMeeting in the room: %s\r\n"


class Auth:
    """The access token for Graph, refreshed shortly before it expires or after a 401; every
    new refresh token is stored at once (Entra rotates them)."""

    def __init__(self, entra, store, tokens):
        self.entra, self.store, self.tokens = entra, store, tokens

    def bearer(self):
        if self.tokens["expires_at"] - REFRESH_MARGIN <= clock.now():
            self.renew()
        return "Bearer " + self.tokens["access_token"]

    def renew(self):
        tokens = self.entra.refresh(self.tokens["refresh_token"])
        tokens["account"] = tokens["account"] or self.tokens.get("account")
        self.store.save(tokens)
        self.tokens = tokens


class Wake:
    def __init__(self, board, config, memory):
        # memory: what one wake tells the next (RTC memory, a dict); checked_in lives there
        self.board, self.config, self.memory = board, config, memory
        self.zone = clock.Zone(config["locale"]["posix_tz"])
        self.mailbox = config["room"]["mailbox"]
        self.checked_in = memory.setdefault("checked_in", [])
        self.notice = None
        self.stats = None

    # -- the wake ----------------------------------------------------------------------------

    def run(self):
        """Do this wake's work; return the seconds to sleep."""
        problem = self.board.join_wifi(self.config["wifi"])
        if problem is not None:
            return self._problem(problem[0], problem[1], "Check that the network %s is up "
                                 "and that [wifi] in panel.toml is right."
                                 % self.config["wifi"]["ssid"])
        try:
            cadata = http_tls.ca_bundle((self.config.get("tls") or {}).get("extra_ca"))
        except HttpError as e:
            return self._network_problem(e)
        with Session(cadata=cadata, proxy=self.config.get("proxy"), timeout=(15, 30)) as session:
            try:
                return self._online(session)
            except GraphError as e:
                return self._graph_problem(e)
            except SignInError as e:
                return self._problem("signin_service", e.words, "The panel tries again by "
                                     "itself; check the [backend] tenant and client_id.",
                                     e.retry_after)
            except HttpError as e:
                return self._network_problem(e)
            finally:
                self.stats = session.stats

    def _online(self, session):
        backend = self.config["backend"]
        store = TokenStore(self.board, backend)
        entra = Entra(session, backend)
        tokens = store.load()
        reason = store.problem or "this panel has not been signed in yet"
        auth = Auth(entra, store, tokens)
        graph = Graph(session, backend["graph_host"], auth)
        while True:
            if auth.tokens is None:
                self.board.take_presses()  # a touch on the sign-in screen only woke it
                auth.tokens = self._sign_in(entra, reason)
                if auth.tokens is None:
                    return SIGNIN_RETRY_S
                store.save(auth.tokens)
            try:
                return self._room(graph, auth.tokens.get("account"))
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
        words = "nobody signed in with the last %d codes; a new one at %s, or touch the " \
            "screen for one now" % (SIGNIN_CODES, clock.hhmm(clock.now() + SIGNIN_RETRY_S,
                                                              self.zone))
        print("sign in: waiting | " + words)
        self._show({"screen": "signin", "room": self._room_label(), "signin": None,
                    "reason": words})
        return None

    def _show_sign_in(self, code, reason):
        sign_in = code.view(clock.now())
        print("sign in: open %s and enter %s (code valid %d min) | %s" % (
            sign_in["verification_uri"], sign_in["user_code"], sign_in["expires_in"] // 60,
            reason))
        self._show({"screen": "signin", "room": self._room_label(), "signin": sign_in,
                    "reason": reason})

    # -- the room ----------------------------------------------------------------------------

    def _room(self, graph, account):
        now = clock.now()
        events = self._events(graph, now)
        presses = self.board.take_presses()
        find = False
        for press in presses:
            outcome = self._act(graph, press, events, now)
            if outcome == "find":
                find = True
            elif outcome == "changed":
                events = self._events(graph, now)
        released = room.no_shows(events, now, self.config, self.checked_in,
                                 self.memory.get("watching_since"))
        for e in released:
            graph.decline(self.mailbox["address"], e["id"], "Released by the door panel: "
                          "nobody checked in within %d minutes of the start."
                          % self.config["booking"]["auto_release_min"])
            print("released: the meeting of %s-%s (nobody checked in)" % (
                clock.hhmm(e["start"], self.zone), clock.hhmm(e["end"], self.zone)))
        if released:
            events = self._events(graph, now)
        if find:
            self._show(self._find_view(graph, now))
            return MIN_SLEEP_S * 2
        view = room.view(events, now, self.config, self.zone, self.checked_in, account)
        view["notice"] = self.notice
        self._show(view)
        return self._next_wake(events, now)

    def _events(self, graph, now):
        start = self.zone.midnight(now)
        end = self.zone.midnight(self.zone.midnight(start + 36 * 3600) + 36 * 3600)
        events = []
        graph.calendar_view(self.mailbox["address"], start, end,
                            lambda e: events.append(room.all_day_in(e, self.zone)))
        gc.collect()
        # From the first calendar read on (until a power cycle), the panel offers check-in.
        self.memory.setdefault("watching_since", now)
        return events

    def _act(self, graph, press, events, now):
        offered = room.actions(events, now, self.config, self.checked_in)
        if press not in offered:
            print("press: %s is not offered now; ignored" % press)
            return None
        current = room.current_and_next(events, now)[0]
        name, _, arg = press.partition(":")
        address = self.mailbox["address"]
        if name == "book":
            subject = BOOKED_SUBJECT.get(self.config["locale"].get("language"), "Booked")
            graph.create_event(address, subject, now, now + int(arg) * 60,
                               "Booked at the room's door panel.")
            print("booked: %s min from %s" % (arg, clock.hhmm(now, self.zone)))
            return "changed"
        if name == "extend":
            graph.move_end(address, current["id"], current["end"] + int(arg) * 60)
            print("extended: %s min" % arg)
            return "changed"
        if name == "end":
            # Graph wants the end after the start; a meeting ended in the second it began keeps
            # one second.
            graph.move_end(address, current["id"], max(now, current["start"] + 1))
            print("ended early at %s" % clock.hhmm(now, self.zone))
            return "changed"
        if name == "checkin":
            soon = current or room.current_and_next(events, now)[1]
            self.checked_in.append(room.event_key(soon))
            del self.checked_in[:-room.CHECKED_IN_MAX]
            print("checked in")
            return "local"
        if name == "service":
            kind, _, index = arg.partition(":")
            what = self.config["service"][kind][int(index)]
            meeting = room.title(current, self.config["privacy"]["show"]) if current else "none"
            graph.send_mail(self.config["service"]["recipient"], what, REQUEST_TEXT % (
                self._room_label()["name"], address, clock.hhmm(now, self.zone), meeting))
            self.notice = "Request sent: %s" % what
            print("service request sent: %s" % what)
            return "local"
        return "find"

    def _find_view(self, graph, now):
        """Other rooms (the room list's and the alternatives), free now or not."""
        cfg_room = self.config["room"]
        names = {}
        if cfg_room.get("room_list"):
            graph.rooms_in(cfg_room["room_list"]["address"],
                           lambda r: names.setdefault(r["address"], r["name"]))
        for alt in cfg_room.get("alternatives") or ():
            names[alt["address"]] = alt["name"] or names.get(alt["address"]) or alt["address"]
        names.pop(self.mailbox["address"], None)
        rooms = []
        if names:
            graph.schedule(list(names), now, now + FIND_WINDOW_S, FIND_INTERVAL_MIN, rooms.append)
        out = []
        for r in rooms:
            view = r["view"] or ""
            free_slots = 0
            while free_slots < len(view) and view[free_slots] == "0":
                free_slots += 1
            out.append({"name": names.get(r["address"], r["address"]), "address": r["address"],
                        "free": bool(view) and free_slots > 0 and r["error"] is None,
                        "free_for_min": free_slots * FIND_INTERVAL_MIN if r["error"] is None
                        else None})
        out.sort(key=lambda r: (not r["free"], r["name"]))
        return {"screen": "rooms", "room": self._room_label(), "rooms": out,
                "time": clock.hhmm(now, self.zone, self.config["locale"].get("clock", 24))}

    def _next_wake(self, events, now):
        """The earliest of the refresh interval and the next moment the screen changes."""
        cfg = self.config
        wait = cfg["schedule"]["refresh_min"] * 60
        window = cfg["booking"]["check_in"]
        release = cfg["booking"].get("auto_release_min") or 0
        for e in events:
            if not room.busy(e) or e["all_day"]:
                continue
            moments = [e["start"], e["end"]]
            if window["enabled"]:
                moments.append(e["start"] - window["window_before_min"] * 60)
                moments.append(e["start"] + window["window_after_min"] * 60)
                if release:
                    moments.append(e["start"] + release * 60)
            for t in moments:
                if t > now:
                    wait = min(wait, t - now)
        return max(MIN_SLEEP_S, wait)

    # -- problems and the screen -------------------------------------------------------------

    def _graph_problem(self, e):
        address = self.mailbox["address"]
        if e.kind == "forbidden":
            # Declining a no-show answers for the room: only a delegate may (Graph, "Share or
            # delegate a calendar in Outlook"); booking, extending and ending need Editor.
            delegate = " -SharingPermissionFlags Delegate" if self.config["booking"].get(
                "auto_release_min") else ""
            return self._problem("forbidden", e.words, "In Exchange Online PowerShell: "
                                 "Add-MailboxFolderPermission -Identity %s:\\Calendar -User %s "
                                 "-AccessRights Editor%s" % (address, self._account_upn(),
                                                            delegate))
        if e.kind == "not_found":
            return self._problem("not_found", "Graph does not know the mailbox %s" % address,
                                 "Check [room] mailbox in panel.toml and push it again.")
        if e.kind in ("throttled", "unavailable"):
            return self._problem(e.kind, e.words, "Nothing to do: the panel tries again by "
                                 "itself.", e.retry_after)
        return self._problem(e.kind, e.words, "The panel tries again by itself; if this "
                             "stays, look at the panel's console log.")

    def _account_upn(self):
        store = TokenStore(self.board, self.config["backend"])
        tokens = store.load() or {}
        return (tokens.get("account") or {}).get("upn") or "<service account>"

    def _network_problem(self, e):
        reason = e.reason
        if reason == "tls" or reason in ("unknown_ca", "hostname", "expired", "not_yet_valid",
                                         "bad_certificate", "no_ca", "bad_ca", "handshake"):
            action = ("If a proxy or firewall inspects TLS, add its CA certificate to [tls] "
                      "extra_ca in panel.toml and push the configuration again.")
            return self._problem("tls", str(e), action)
        if reason == "proxy":
            return self._problem("proxy", str(e), "Check [proxy] url, user and password in "
                                 "panel.toml.")
        if reason in ("bad_json", "item_too_large", "protocol", "too_large"):
            return self._problem("bad_response", str(e), "The panel tries again by itself; if "
                                 "this stays, a proxy or firewall may be altering the answers.")
        return self._problem("network", str(e), "Check the network and firewall: the panel "
                             "needs HTTPS (port 443) to its Microsoft 365 hosts.")

    def _problem(self, kind, words, action, retry_after=None):
        wait = int(retry_after) if retry_after else RETRY_S
        wait = max(MIN_SLEEP_S, min(wait, self.config["schedule"]["refresh_min"] * 60))
        print("problem: %s | %s | %s" % (kind, words, action))
        self._show({"screen": "problem", "room": self._room_label(),
                    "problem": {"kind": kind, "words": words, "action": action,
                                "retry_in_s": wait}})
        return wait

    def _room_label(self):
        return {"name": self.mailbox.get("name") or self.mailbox["address"],
                "address": self.mailbox["address"]}

    def _show(self, view):
        data = json.dumps(view).encode()
        self.board.show(data)
        if view["screen"] == "room":
            print("screen: room | %s%s | %d today, %d tomorrow" % (
                view["status"], " until " + view["until"] if view["until"] else "",
                len(view["agenda"]["today"]), len(view["agenda"]["tomorrow"])))
        elif view["screen"] == "rooms":
            print("screen: rooms | %d free of %d" % (
                sum(1 for r in view["rooms"] if r["free"]), len(view["rooms"])))


def report(wake, started_ms):
    """One console line of what the wake cost, for the technician and `make bench`. The heap
    figure is what stays live after a collection; the smallest heap a wake fits in is found by
    `make bench` (-X heapsize)."""
    s = wake.stats or {}
    gc.collect()
    print("wake: %d requests, %d connections, %d TLS handshakes, %d B sent, %d B received, "
          "%d ms, heap %d B live of %d B" % (
              s.get("requests", 0), s.get("connections", 0), s.get("tls_handshakes", 0),
              s.get("bytes_sent", 0), s.get("bytes_received", 0),
              time.ticks_diff(time.ticks_ms(), started_ms), gc.mem_alloc(),
              gc.mem_alloc() + gc.mem_free()))
