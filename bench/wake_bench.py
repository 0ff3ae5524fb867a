"""Per-wake figures of the emulated panel against the fake tenant (issue 4, point 6).

One lab (lintel.emulator.lab: the fake tenant and an emulated e-paper panel set up as a
technician would) runs the scenarios below; the figures come from the panel's own `wake:`
console line (firmware/app/wake.py `report`), the median of several wakes per scenario, and the
request count and bytes are checked against the tenant's request log (`/_admin/requests`, one
TLS connection per `conn`); the same room and press on the tenant's Exchange Web Services
(issue 7) give the EWS rows. Then the signed-in panel's flash runs single wakes under smaller and
smaller MicroPython heaps (`lintel emulate --once --heap N`), and CPython compares Graph's
calendarView/delta with the full calendarView the panel reads.

`python bench/wake_bench.py` runs it alone (prints its tables, writes nothing); bench/run.py
calls run() and puts the result under "wake" in bench/results/latest.json.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from lintel.emulator.lab import GRAPH_BACKEND
from lintel.tenant.seed import DEFAULT_SEED

ROOT = Path(__file__).resolve().parents[1]
BOARD = "esp32s3-epd75"
ROOM = "room-4.12@contoso.example"  # the demo office's busy room (Boardroom 4.12)
ORGANIZER = "amara.okafor@contoso.example"
OFFICE_ZONE = "Europe/Amsterdam"  # the lab panel's [locale] timezone
RUNS = 5  # wakes per steady scenario
SIGNIN_RUNS = 3  # sign-in wakes (each after a configuration push that needs a new sign-in)
CHECK_IN_RUNS = 3  # each is followed by listen_s (30 s) of listening for the next tap
FORTY = 40
THIRTY = 30  # rooms in the room list of "find a room" (issue 6, point 5)
ROOM_LIST_30 = "rooms-hq@contoso.example"
HEAP_LO_K, HEAP_HI_K, HEAP_STEP_K = 32, 512, 4
WAKE_TIMEOUT = 90
REPL_BANNER = 'Type "help()" for more information.'
# The panel refreshes an access token 300 s before it expires (app/tokens.py REFRESH_MARGIN):
# tokens of 300 s are inside that margin from the moment they are issued, so every wake
# refreshes (301 s would leave a 1 s window, and wakes here come about a second apart).
TOKEN_LIFETIME_S = 300
# A configuration for another app registration (client id) makes the stored sign-in unusable:
# the panel signs in again. The lab's panel.toml names LAB_CLIENT.
LAB_CLIENT = re.search(r'^client_id = "([^"]+)"', GRAPH_BACKEND, re.M).group(1)
# The panel's `wake:` line (firmware/app/wake.py report); bench/energy_bench.py reads it too.
WAKE_LINE = re.compile(
    r"wake: (\d+) requests, (\d+) connections, (\d+) TLS handshakes, (\d+) B sent, (\d+) B "
    r"received, (\d+) ms, heap (\d+) B live of (\d+) B, radio on (\d+) ms \(network (\d+) "
    r"ms\), display (\d+) ms, (\d+) B kept")
FIELDS = ("requests", "connections", "tls_handshakes", "bytes_sent", "bytes_received", "ms",
          "heap_live", "heap_total", "radio_ms", "network_ms", "display_ms", "kept_bytes")
COLUMNS = (("requests", "req"), ("connections", "conn"), ("tls_handshakes", "TLS"),
           ("bytes_sent", "sent B"), ("bytes_received", "recv B"), ("ms", "wall ms"),
           ("heap_live", "heap live B"))


def firmware_constant(name: str, path: str = "app/graph.py") -> str:
    """A constant of firmware/`path`, read from its source (host code does not import the
    firmware), so a bench asks and counts exactly what the panel does."""
    text = (ROOT / "firmware" / path).read_text()
    m = re.search(rf"^{name} = (\S+)", text, re.M)
    if not m:
        raise SystemExit(f"bench: {name} not found in firmware/{path}")
    return m.group(1).strip('"')


# -- the panel's console and the tenant's request log -----------------------------------------

class Wake:
    """One wake: its console text (banner to `wake:` line), the figures of its `wake:` line,
    and the tenant's log rows of its connections."""

    def __init__(self, text: str, figures: dict):
        self.text, self.figures, self.rows = text, figures, []

    def logged(self) -> dict:
        return {"requests": len(self.rows),
                "bytes_sent": sum(r["bytes_in"] or 0 for r in self.rows),
                "bytes_received": sum(r["bytes_out"] or 0 for r in self.rows)}


def _wakes_in(text: str) -> list[Wake]:
    """The complete wakes in console text: from a `Lintel ` banner line to its `wake:` line."""
    wakes, start = [], None
    lines = text.split("\n")[:-1]  # the last piece is an unfinished line (or empty)
    pos = 0
    for line in lines:
        if line.startswith("Lintel "):
            start = pos
        elif line.startswith("wake: ") and start is not None:
            m = WAKE_LINE.match(line)
            if not m:
                raise SystemExit(f"bench: unexpected wake line: {line!r}")
            wakes.append(Wake(text[start:pos + len(line)],
                              dict(zip(FIELDS, map(int, m.groups()), strict=True))))
            start = None
        pos += len(line) + 1
    return wakes


class Console:
    """Wakes of the lab panel, synchronised with the tenant's request log."""

    def __init__(self, lab):
        self.lab = lab

    def log_id(self) -> int:
        rows = self.lab.admin("GET", "requests?limit=1")
        return rows[-1]["id"] if rows else 0

    def sync(self) -> tuple[int, int]:
        """Wait for the end of a wake; (console mark, log id) just after it. A panel asleep
        makes no requests, and the next wake needs a process start and a Wi-Fi join (hundreds
        of ms) before its first one, so every log row after the id belongs to a later wake."""
        panel = self.lab.panel
        mark = panel.mark()
        text = panel.wait_for("\nwake: ", timeout=WAKE_TIMEOUT, since=mark)
        line = mark + text.index("\nwake: ") + 1
        text = panel.wait_for("\n", since=line)
        return line + text.index("\n") + 1, self.log_id()

    def collect(self, mark: int, log_id: int, want: int, keep=lambda w: True,
                timeout: float = WAKE_TIMEOUT) -> list[Wake]:
        """Wakes that began after mark; wait until `want` of them pass `keep`; give each its
        connections' log rows (connections in order, as many as its `wake:` line counts)."""
        deadline = time.monotonic() + timeout
        while True:
            wakes = _wakes_in(self.lab.panel.console_text()[mark:])
            if sum(1 for w in wakes if keep(w)) >= want:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: waited {timeout} s for {want} wakes; the console:\n"
                                 + self.lab.panel.console_text()[mark:][-3000:])
            time.sleep(0.05)
        time.sleep(0.3)  # the tenant logs a request as it finishes answering it
        self.assign(wakes, self.lab.admin("GET", f"requests?since={log_id}"))
        return [w for w in wakes if keep(w)][:want]

    @staticmethod
    def assign(wakes: list[Wake], rows: list[dict]) -> None:
        conns: dict[int, list[dict]] = {}
        for r in rows:
            conns.setdefault(r["conn"], []).append(r)
        order = list(conns.values())
        for w in wakes:
            for _ in range(w.figures["connections"]):
                if order:
                    w.rows.extend(order.pop(0))


def _summary(name: str, wakes: list[Wake], note: str) -> dict:
    row = {"scenario": name, "runs": len(wakes), "note": note}
    for key in FIELDS:
        row[key] = statistics.median(w.figures[key] for w in wakes)
        if row[key] == int(row[key]):
            row[key] = int(row[key])
    mismatches = [(w.figures["requests"], w.logged()["requests"]) for w in wakes
                  if w.figures["requests"] != w.logged()["requests"]]
    row["log_requests"] = [w.logged()["requests"] for w in wakes]
    # The panel counts HTTP bytes (request line, headers, body) as the tenant's log does; the
    # log counts each request header line with LF where the panel sent CRLF (one byte less).
    diff = {key: statistics.median(w.figures[key] - w.logged()[key] for w in wakes)
            for key in ("bytes_sent", "bytes_received")}
    row["panel_minus_log"] = diff
    row["log_check"] = ("requests ok" if not mismatches else
                        f"requests: {len(mismatches)} differ {mismatches}") + \
        f"; bytes vs log: sent {diff['bytes_sent']:+g}, received {diff['bytes_received']:+g}"
    row["requests_made"] = _requests_made(wakes[0])
    row["screen"] = next((line for line in wakes[0].text.split("\n")
                          if line.startswith("screen: ")), None)
    row["each"] = [w.figures for w in wakes]
    return row


def _requests_made(wake: Wake) -> list[str]:
    out = []
    for r in wake.rows:
        path = r["path"]
        if "/oauth2/" in path:
            form = r.get("form") or {}
            grant = form.get("grant_type", "")
            what = "devicecode" if path.endswith("devicecode") else (
                "token (refresh)" if grant == "refresh_token" else "token (device code)")
        elif path.endswith(".asmx"):  # EWS: the SOAP operation, or NTLM's first leg
            what = (r.get("form") or {}).get("operation") or "(NTLM negotiate)"
        else:
            what = path.rsplit("/", 1)[-1]
        out.append(f"{r['method']} {what} {r['status']}")
    return out


# -- the scenarios ---------------------------------------------------------------------------

def fresh_room(lab, *events: dict) -> None:
    lab.admin("DELETE", f"events?room={ROOM}")
    for e in events:
        lab.admin("POST", "events", dict(e, room=ROOM))


def forty_events(first_in_min: int) -> dict:
    """FORTY meetings, 25 minutes every 30, all in the future and within today + tomorrow
    (the agenda drops meetings that ended): invitations the room processes, as in the field."""
    return {"start": {"in_min": first_in_min}, "minutes": 25, "organizer": ORGANIZER,
            "subject": "Project sync", "repeat": {"count": FORTY, "every_min": 30}}


def push_signin(lab, client: str) -> int:
    """Push the lab's panel.toml for app registration `client`: the stored sign-in belongs to
    another one, so the panel shows a new device code. The console mark before the push."""
    path = lab.panel_toml()
    path.write_text(path.read_text().replace(LAB_CLIENT, client))
    mark = lab.panel.mark()
    lab.lintel("config", "push", path, "--port", lab.panel.link)
    return mark


def bench_sign_in(lab, console: Console) -> list[Wake]:
    wakes = []
    for n in range(SIGNIN_RUNS):
        # The first push is the panel's first configuration; each later one names another app
        # registration, so the stored sign-in no longer fits and the panel signs in again.
        log_id = console.log_id()
        mark = push_signin(lab, LAB_CLIENT if n == 0 else
                           f"00000000-0000-0000-0000-0000000b{n:04d}")
        code = lab.sign_in_code(since=mark, timeout=WAKE_TIMEOUT)
        lab.approve(code)  # at once: the panel's first poll, one interval later, succeeds
        (wake,) = console.collect(mark, log_id, 1, lambda w: "signed in as " in w.text)
        # The push interrupts whatever wake was running: keep only the sign-in's connection.
        rows = lab.admin("GET", f"requests?since={log_id}")
        conn = next(r["conn"] for r in rows if r["path"].endswith("/devicecode"))
        wake.rows = [r for r in rows if r["conn"] == conn]
        wakes.append(wake)
    return wakes


def bench_steady(lab, console: Console) -> list[Wake]:
    mark, log_id = console.sync()  # ends a wake that may have begun before the change
    return console.collect(mark, log_id, RUNS)


def bench_refresh(lab, console: Console) -> list[Wake]:
    # The panel declares continuous access evaluation (app/entra.py): its tokens are CAE ones.
    lifetime = lab.admin("GET", "settings")["cae_access_token_lifetime"]
    lab.admin("POST", "settings", {"cae_access_token_lifetime": TOKEN_LIFETIME_S})
    # The stored token still has an hour: one 401 makes the panel refresh now and get a short
    # token; from then on every wake finds its token inside the refresh margin and refreshes.
    lab.admin("POST", "faults", {"path": "/v1.0/users/*/calendar/calendarView", "status": 401})
    deadline = time.monotonic() + WAKE_TIMEOUT
    while any(f["remaining"] for f in lab.admin("GET", "faults")):
        if time.monotonic() > deadline:
            raise SystemExit("bench: the panel never met the 401")
        time.sleep(0.1)
    lab.admin("DELETE", "faults")
    wakes = bench_steady(lab, console)
    lab.admin("POST", "settings", {"cae_access_token_lifetime": lifetime})
    console.sync()
    console.sync()  # this wake began after the change: its refresh brought a long token
    return wakes


def _refreshes(w: Wake) -> bool:
    return any((r.get("form") or {}).get("grant_type") == "refresh_token" for r in w.rows)


def bench_press(lab, console: Console) -> list[Wake]:
    wakes = []
    for _ in range(RUNS):
        # A free room (the first of the 40 meetings an hour away), so book:15 is offered.
        fresh_room(lab, forty_events(60))
        mark, _ = console.sync()
        lab.panel.press("book")  # "Book now" opens the durations: the wake measured is next
        text = lab.panel.wait_for("screen: book | redrawn", timeout=WAKE_TIMEOUT, since=mark)
        picker = mark + text.index("screen: book | redrawn")
        text = lab.panel.wait_for("\nwake: ", timeout=WAKE_TIMEOUT, since=picker)
        end = picker + text.index("\nwake: ") + 1
        mark = end + lab.panel.wait_for("\n", since=end).index("\n") + 1
        log_id = console.log_id()
        # While the panel listens for the next tap (listen_s), before the picker times out.
        lab.panel.press("book:15")
        (wake,) = console.collect(mark, log_id, 1, lambda w: "booked: 15 min" in w.text)
        wakes.append(wake)
    return wakes


def bench_check_in(lab, console: Console) -> list[Wake]:
    wakes = []
    for _ in range(CHECK_IN_RUNS):
        # The first of the 40 meetings starts in 2 minutes: inside the check-in window (the
        # lab's panel.toml opens it 5 minutes before), so the room shows "Check in".
        fresh_room(lab, forty_events(2))
        console.sync()
        console.sync()  # this wake began after the change
        deadline = time.monotonic() + WAKE_TIMEOUT
        while "checkin" not in lab.panel.buttons():
            if time.monotonic() > deadline:
                raise SystemExit("bench: the room never offered a check-in")
            time.sleep(0.05)
        log_id = console.log_id()
        mark = lab.panel.mark()
        # Someone at the door: the wake button, then the tap (the panel asleep: one wake).
        lab.panel.press("checkin")
        (wake,) = console.collect(mark, log_id, 1, lambda w: "checked in: " in w.text)
        wakes.append(wake)
    return wakes


def push_ews(lab, auth: str) -> None:
    """Put the lab panel on the tenant's EWS (docs/ews.md) with `auth`; return once a wake of
    that configuration has shown the room."""
    mark = lab.panel.mark()
    lab.lintel("config", "push", lab.panel_toml(ews=auth), "--port", lab.panel.link)
    text = lab.panel.wait_for("backend ews", timeout=WAKE_TIMEOUT, since=mark)
    lab.panel.wait_for("screen: room", timeout=WAKE_TIMEOUT, since=mark + text.index(
        "backend ews"))


def ews_scenarios(lab, console: Console) -> list[dict]:
    """The same room and presses on Exchange Web Services: what the backend costs a wake."""
    rows = []
    fresh_room(lab, forty_events(10))
    for auth in ("ntlm", "basic"):
        push_ews(lab, auth)
        rows.append(_summary(f"EWS ({auth}): {FORTY} events today + tomorrow",
                             bench_steady(lab, console),
                             "FindItem with a CalendarView; NTLM signs in the wake's connection "
                             "first (NEGOTIATE with an empty body, then the request with "
                             "AUTHENTICATE)" if auth == "ntlm" else
                             "FindItem; Basic credentials on each request"))
    push_ews(lab, "ntlm")
    rows.append(_summary(f"EWS (ntlm): press book:15, {FORTY}-event room",
                         bench_press(lab, console),
                         "FindItem, CreateItem, FindItem again (41 events), on the connection "
                         "NTLM signed in at the start of the wake"))
    return rows


def run_scenarios(lab, console: Console, image: Path) -> list[dict]:
    rows = []
    lab.admin("POST", "settings", {"poll_interval": 1})
    lab.start_panel(image)
    lab.lintel("provision", "--port", lab.panel.link)
    rows.append(_summary("sign-in: device code, approved at once", bench_sign_in(lab, console),
                         "tenant poll_interval 1 s (Entra's is 5 s): the panel waits one "
                         "interval before its first poll; config pushed for a new client id"))
    rows.append(_summary("steady: the demo office's busy room", bench_steady(lab, console),
                         "token valid; the typical wake"))
    fresh_room(lab, forty_events(10))
    rows.append(_summary(f"steady: {FORTY} events today + tomorrow",
                         bench_steady(lab, console), "token valid"))
    refresh = bench_refresh(lab, console)
    if not all(_refreshes(w) for w in refresh):
        raise SystemExit("bench: a wake of the refresh scenario did not refresh")
    rows.append(_summary(f"token refresh, {FORTY}-event room", refresh,
                         f"cae_access_token_lifetime {TOKEN_LIFETIME_S} s: every wake refreshes; "
                         "in the lab the identity host is the Graph host, so the refresh shares "
                         "the wake's TLS session (in the field: a second host, a second "
                         "handshake)"))
    rows.append(_summary(f"press book:15, {FORTY}-event room", bench_press(lab, console),
                         "the tap on the picker's 15 min, while the panel listens after "
                         "showing it (no boot): calendarView, POST event, calendarView again "
                         "(41 events)"))
    rows.append(_summary(f"press check-in, {FORTY}-event room", bench_check_in(lab, console),
                         "the wake button and a tap on Check in, the panel asleep: one wake "
                         "reads the calendar, checks in (no write: the panel keeps it) and "
                         "redraws; then it listens listen_s for the next tap (not in the row)"))
    rows += ews_scenarios(lab, console)
    return rows


# -- the smallest heap -----------------------------------------------------------------------

def room_list_seed(tmp: Path) -> Path:
    """The demo seed plus a room list of THIRTY rooms beside Boardroom 4.12 (Contoso HQ's
    floors 1 to 3), for the heap of a "find a room" wake."""
    seed = json.loads(DEFAULT_SEED.read_text())
    known = {r["address"] for r in seed["rooms"]}
    extra = [f"room-{1 + i // 10}.{50 + i % 10}@contoso.example" for i in range(THIRTY)]
    for address in extra:
        if address not in known:
            seed["rooms"].append({"address": address, "name": "Room " + address[5:9],
                                  "capacity": 6})
    seed["room_lists"].append({"address": ROOM_LIST_30, "name": "Contoso HQ, all floors",
                               "rooms": [ROOM, *extra]})
    path = tmp / "seed-30-rooms.json"
    path.write_text(json.dumps(seed))
    return path


def one_wake(lab, flash: Path, heap_k: int, work: Path, events: int, find: bool = False) -> dict:
    """One wake of a copy of the signed-in flash under -X heapsize=heap_k K; it fits when it
    shows the room with `events` meetings in the agenda (with `find`: the wake after it, which
    a tap on "find a room" with the wake button starts, shows the rooms screen with the THIRTY
    others), and met no MemoryError."""
    from lintel.emulator.background import button_middle, tap
    from lintel.errors import LintelError

    folder = work / f"heap-{heap_k}k"
    state = folder / "state"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = folder / "flash.bin"
    shutil.copyfile(flash, copy)
    log = folder / "console.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lintel", "emulate", "--flash", str(copy), "--heap",
         f"{heap_k}K", "--state", str(state), "--log", str(log), "--mac", "7c:df:a1:00:00:4c",
         *([] if find else ["--once", "--dump-view"])],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=lab.env)
    # An exception that escapes the app (a MemoryError while importing it, say) leaves the
    # firmware at the REPL, awake: end the run once the REPL's banner shows.
    deadline, at_repl, tapped = time.monotonic() + 60, False, False
    while proc.poll() is None:
        text = log.read_text(errors="replace") if log.exists() else ""
        at_repl = REPL_BANNER in text
        wakes = text.count("\nwake: ")
        if find and not tapped and wakes == 1 and "deep sleep for" in text:
            # The room is shown and the panel asleep: someone taps "find a room".
            tapped = True
            try:
                tap(state, *button_middle(state, "find"))
            except LintelError:  # the room was not drawn: this heap does not fit
                proc.terminate()
                break
            proc.send_signal(signal.SIGUSR1)
        if at_repl or time.monotonic() > deadline or (find and wakes >= 2):
            proc.terminate()
            break
        time.sleep(0.1)
    stdout = proc.communicate(timeout=30)[0]
    console = log.read_text(errors="replace") if log.exists() else ""
    view = None
    if find:
        stdout = "\n" + ((state / "view.json").read_text() if (state / "view.json").exists()
                         else "")
    if "\n{" in stdout:
        try:
            view = json.loads(stdout[stdout.index("\n{") + 1:])
        except ValueError:
            view = None
    agenda = 0
    if view and view.get("screen") == "room":
        agenda = len(view["agenda"]["today"]) + len(view["agenda"]["tomorrow"]) + sum(
            view["agenda"].get("more", {}).values())
    memory_error = "MemoryError" in console or "memory allocation failed" in console
    found = list(WAKE_LINE.finditer(console))
    m = found[-1] if found else None  # with find, the find wake's
    shutil.rmtree(folder, ignore_errors=True)
    # Where it ran out: the innermost frames of the traceback, or the panel's problem line.
    lines = [x.strip() for x in console.splitlines()]
    where = [x for x in lines if x.startswith("File ") or "MemoryError" in x
             or x.startswith("problem: ")][-3:] if memory_error else []
    if find:
        shown = view is not None and view.get("screen") == "rooms" and len(
            view["rooms"]) == THIRTY
    else:
        shown = view is not None and view.get("screen") == "room" and agenda == events
    fits = shown and not memory_error and m is not None
    return {"heap_k": heap_k, "fits": fits,
            "screen": view and view.get("screen"), "agenda": agenda,
            "memory_error": memory_error, "where": where, "stuck_at_repl": at_repl,
            "wake": dict(zip(FIELDS, map(int, m.groups()), strict=True)) if m else None}


def ews_heap(lab, console: Console, flash: Path, tmp: Path) -> dict:
    """The smallest heap of a wake with FORTY events on EWS (NTLM): the provisioned flash with
    the EWS configuration pushed."""
    fresh_room(lab, forty_events(10))
    lab.start_panel(flash)
    push_ews(lab, "ntlm")
    ews_flash = lab.panel.flash
    lab.panel.stop()
    lab.panel = None
    copy = tmp / "ews.bin"
    shutil.copyfile(ews_flash, copy)
    return smallest_heap(lab, copy, tmp, FORTY)


def smallest_heap(lab, flash: Path, work: Path, events: int, hi_k: int = HEAP_HI_K,
                  find: bool = False) -> dict:
    """Bisect -X heapsize between HEAP_LO_K and hi_k (which must fit) in HEAP_STEP_K steps,
    then make sure of it: near the edge the fit is not monotonic (whether a 4 KB block is still
    free depends on where the heap fragments: one run fitted 388K and 412K but not 396K or
    404K), so the figure is the smallest size that fits with the next two steps fitting too."""
    top = one_wake(lab, flash, hi_k, work, events, find)
    if not top["fits"]:
        raise SystemExit(f"bench: a wake with {events} events does not fit even in {hi_k}K: "
                         f"{top}")
    tried = [top]
    runs = {hi_k: top}

    def wake_at(k: int) -> dict:
        if k not in runs:
            runs[k] = one_wake(lab, flash, k, work, events, find)
            tried.append(runs[k])
        return runs[k]

    lo, hi = HEAP_LO_K - HEAP_STEP_K, hi_k  # lo: taken as too small
    while hi - lo > HEAP_STEP_K:
        mid = (lo + hi) // 2 // HEAP_STEP_K * HEAP_STEP_K
        if mid <= lo:
            mid = lo + HEAP_STEP_K
        if wake_at(mid)["fits"]:
            hi = mid
        else:
            lo = mid
    while hi < hi_k and not all(wake_at(min(hi + i * HEAP_STEP_K, hi_k))["fits"] for i in (1, 2)):
        hi += HEAP_STEP_K
        while not wake_at(hi)["fits"]:
            hi += HEAP_STEP_K
    best = runs[hi]
    return {"events": events, "smallest_heap_k": hi, "at_smallest": best["wake"],
            f"at_{hi_k}k": top["wake"],
            "tried": [{k: t[k] for k in ("heap_k", "fits", "screen", "agenda", "memory_error",
                                         "where", "stuck_at_repl")} for t in tried]}


# What stays in the heap whatever the wake does: loaded code. The image's own .mpy files
# (compiled as lintel build compiles them) imported from a ROMFS in the Unix port, beside the
# emulator's stand-ins for machine/network/esp32 (Python here, C on the chip).
CODE_SCRIPT = """
import gc, sys, vfs
gc.collect(); a = gc.mem_alloc()
import esp32, machine, network, host_link, chip, console
gc.collect(); b = gc.mem_alloc()
with open(sys.argv[1], "rb") as f:
    image = f.read()
vfs.mount(vfs.VfsRom(image), "/rom")
sys.path.insert(0, "/rom")
gc.collect(); c = gc.mem_alloc()
import app.main, hardware, app.wake
gc.collect(); d = gc.mem_alloc()
print("@@", b - a, d - c)
"""


def code_heap(tmp: Path) -> dict:
    """The heap the app's code takes once imported from its ROMFS, as the panel runs it (the
    image itself is mapped flash there; here it is a heap block, left out of the figure)."""
    from lintel import boards, image, mpy
    from lintel.build import FIRMWARE_DIR, collect_sources

    board = boards.load(BOARD)
    to_compile, _ = collect_sources(FIRMWARE_DIR)
    compiled = mpy.compile_tree(mpy.find_compiler(None), to_compile,
                                board.firmware["mpy_version"])
    romfs = tmp / "app.romfs"
    romfs.write_bytes(image.build_romfs(compiled, board.romfs.size))
    script = tmp / "code_heap.py"
    script.write_text(CODE_SCRIPT)
    state = tmp / "code-state"
    state.mkdir()
    (tmp / "none.bin").write_bytes(b"")  # no flash: nothing here reads it
    env = {"MICROPYPATH": str(ROOT / "board" / "unix"), "LINTEL_STATE": str(state),
           "LINTEL_FLASH": str(tmp / "none.bin"), "LINTEL_MAC": "7c:df:a1:00:00:4c",
           "LINTEL_AP_SSID": "lintel-lab", "LINTEL_AP_PSK": "not-a-real-psk",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(Path(sys.executable).parent / "micropython"), "-X",
                           f"heapsize={512 * 1024 + romfs.stat().st_size}", str(script),
                           str(romfs)], capture_output=True,
                          text=True, timeout=60, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("@@ ")), None)
    if line is None:
        raise SystemExit(f"bench: measuring the code's heap failed:\n{proc.stdout}{proc.stderr}")
    stand_ins, app = map(int, line.split()[1:])
    return {"app_code_bytes": app, "stand_in_code_bytes": stand_ins,
            "mpy_file_bytes": sum(len(d) for n, d in compiled.items()
                                  if n.startswith("app/") and "/ui/" not in n)}


# -- delta query against the full calendarView (CPython) --------------------------------------

def _window() -> tuple[str, str]:
    """Local midnight today to local midnight after tomorrow, in UTC: the panel's window."""
    zone = ZoneInfo(OFFICE_ZONE)
    today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = (today + timedelta(days=2, hours=12)).replace(hour=0)
    end = datetime(end.year, end.month, end.day, tzinfo=zone)

    def z(t: datetime) -> str:
        return t.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")

    return z(today), z(end)


def delta_vs_full(lab) -> dict:
    import requests

    s = requests.Session()
    s.trust_env = False
    s.verify = str(lab.ca)
    base = lab.base_url
    client = "6731de76-14a6-49ae-97bc-6eba6914391e"
    flow = s.post(f"{base}/{lab.domain}/oauth2/v2.0/devicecode", data={
        "client_id": client, "scope": "offline_access Calendars.ReadWrite.Shared"}).json()
    lab.approve(flow["user_code"])
    time.sleep(flow["interval"])
    token = s.post(f"{base}/{lab.domain}/oauth2/v2.0/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": client,
        "device_code": flow["device_code"]}).json()["access_token"]
    prefer = 'outlook.timezone="UTC"'
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
               "Prefer": prefer}
    start, end = _window()
    mailbox = ROOM.replace("@", "%40")
    calls: list[dict] = []

    def get(url: str, extra: dict | None = None) -> dict:
        r = s.get(url, headers={**headers, **(extra or {})})
        r.raise_for_status()
        calls.append({"body": len(r.content)})
        return r.json()

    def read(url: str, extra: dict | None = None) -> tuple[list, str | None, list[dict]]:
        first, items = len(calls), []
        while url:
            doc = get(url, extra)
            items += doc["value"]
            url, last = doc.get("@odata.nextLink"), doc.get("@odata.deltaLink")
        return items, last, calls[first:]

    log_id = lab.admin("GET", "requests?limit=1")[-1]["id"]
    query = urlencode({"startDateTime": start, "endDateTime": end,
                       "$select": firmware_constant("EVENT_FIELDS"),
                       "$orderby": "start/dateTime", "$top": firmware_constant("PAGE_SIZE")})
    full, _, full_calls = read(f"{base}/v1.0/users/{mailbox}/calendar/calendarView?{query}")
    window = urlencode({"startDateTime": start, "endDateTime": end})
    delta_url = f"{base}/v1.0/users/{mailbox}/calendar/calendarView/delta?{window}"
    pages = {"Prefer": f"{prefer}, odata.maxpagesize=50"}  # as few pages as Graph allows
    initial, link, initial_calls = read(delta_url, pages)
    unchanged, link2, unchanged_calls = read(link, pages)
    # One change: a meeting's end moves (what "extend" does), through Graph as the panel would.
    later = datetime.fromisoformat(full[0]["end"]["dateTime"][:19]) + timedelta(minutes=5)
    s.patch(f"{base}/v1.0/users/{mailbox}/events/{full[0]['id']}", headers=headers, json={
        "end": {"dateTime": later.isoformat(), "timeZone": "UTC"}}).raise_for_status()
    calls.append({"body": 0})
    changed, link3, changed_calls = read(link2, pages)
    rows = lab.admin("GET", f"requests?since={log_id}")
    if len(rows) != len(calls):
        raise SystemExit(f"bench: delta: {len(calls)} calls but {len(rows)} logged")
    for c, r in zip(calls, rows, strict=True):
        c["received"], c["sent"] = r["bytes_out"], r["bytes_in"]

    def total(cs: list[dict], items: list) -> dict:
        return {"requests": len(cs), "items": len(items),
                "body_bytes": sum(c["body"] for c in cs),
                "bytes_received": sum(c["received"] for c in cs),
                "bytes_sent": sum(c["sent"] for c in cs)}

    return {"full": total(full_calls, full), "delta_initial": total(initial_calls, initial),
            "delta_unchanged": total(unchanged_calls, unchanged),
            "delta_one_change": total(changed_calls, changed),
            "delta_link_chars": len(link), "delta_link_chars_after": len(link3 or ""),
            "full_event_bytes": sum(c["body"] for c in full_calls) // max(1, len(full)),
            "counted": "bytes_received/bytes_sent: the tenant's log (status or request line, "
                       "headers and body; TLS records not counted); body_bytes: the response "
                       "bodies alone"}


# -- the whole bench -------------------------------------------------------------------------

def run() -> dict:
    from lintel.build import build
    from lintel.emulator.lab import Lab

    with tempfile.TemporaryDirectory(prefix="lintel-wake-bench-") as name:
        tmp = Path(name)
        build(BOARD, tmp / "build")
        image = tmp / "build" / "flash.bin"
        code = code_heap(tmp)
        with Lab(tmp / "lab", seed=room_list_seed(tmp)) as lab:
            console = Console(lab)
            scenarios = run_scenarios(lab, console, image)
            # The 40 meetings again, in the future (the token is an hour's again), and the
            # 30-room list for "find a room".
            fresh_room(lab, forty_events(10))
            mark = lab.panel.mark()
            lab.lintel("config", "push", lab.panel_toml(room_list=ROOM_LIST_30), "--port",
                       lab.panel.link)
            log_id = console.log_id()
            # The sign-in scenarios left it signed in for another app registration.
            lab.sign_in(since=mark, timeout=WAKE_TIMEOUT)
            console.collect(mark, log_id, 1, lambda w: "screen: room" in w.text)
            flash = lab.panel.flash
            lab.panel.stop()
            lab.panel = None
            signed_in = tmp / "signed-in.bin"
            shutil.copyfile(flash, signed_in)
            heap = smallest_heap(lab, signed_in, tmp, FORTY)
            fresh_room(lab)  # the same wake with nothing to show: what the 40 meetings add
            heap["empty_room"] = smallest_heap(lab, signed_in, tmp, 0, heap["smallest_heap_k"])
            heap["find_30_rooms"] = smallest_heap(lab, signed_in, tmp, 0, find=True)
            heap["ews_40"] = ews_heap(lab, console, signed_in, tmp)
            fresh_room(lab, forty_events(10))
            delta = delta_vs_full(lab)
    heap.update(code)
    return {"scenarios": scenarios, "heap": heap, "delta": delta, "notes": NOTES}


NOTES = [
    "per wake: the figures of the panel's `wake:` console line, median of the runs; requests "
    "and bytes checked against the tenant's request log (`log`); both count HTTP bytes "
    "(request or status line, headers, body), not TLS records",
    "wall ms is the firmware's own, from the start of the app to the end of the wake; the "
    "emulated Wi-Fi join is 800 ms of it (a full scan: the lab's panel.toml names no bssid; "
    "160 ms with one); the TLS handshake here is the host's, about 1 s on an ESP32",
    "sign-in: the tenant's poll_interval is 1 s (Entra's is 5 s: about 4 s more per sign-in), "
    "approved through the admin API as soon as the code shows",
    "token refresh: in the lab the identity host is the Graph host, so the refresh rides the "
    "wake's one TLS session; in the field login.microsoftonline.com is a second host, a second "
    "handshake (about once an hour)",
    "the bearer token is about 2 KB of every request's bytes sent",
    "heap: the Unix port is 64-bit (objects about twice their ESP32-S3 size), so heap figures "
    "are upper bounds for the chip; the MicroPython heap only (mbedTLS allocates outside it); "
    "'heap live' is gc.mem_alloc() after gc.collect() at the end of the wake and includes the "
    "loaded code (the app's .mpy, the emulated board's stand-ins: the heap rows of the table)",
    "smallest heap: `lintel emulate --once --heap N` on a copy of the signed-in flash, bisected "
    "in 4K steps, then the smallest size whose next two steps fit too (near the edge the fit is "
    "not monotonic: fragmentation decides whether a 4 KB block is free); a run fits when it "
    "shows the room with every meeting in the agenda and no MemoryError; "
    "just below it the wake runs out in wake._show (the view model as JSON, then as bytes); "
    "far below, in the TLS context or while importing the app, which leaves the firmware at "
    "its REPL, awake",
    "delta: bytes as the tenant logs them (status line, headers, body; for sent, the request "
    "line, headers, body, its header lines counted a byte short: LF, not CRLF); Graph's delta "
    "takes no $select, so its items are whole events; one change = one meeting's end moved",
]

DELTA_ROWS = (("full", "full calendarView ($select, $top 50)"),
              ("delta_initial", "calendarView/delta, first round (whole events)"),
              ("delta_unchanged", "calendarView/delta, a round with nothing changed"),
              ("delta_one_change", "calendarView/delta, a round after one change"))


def table_rows(result: dict) -> list[dict]:
    """The heap and delta figures as rows of bench/run.py's table (figure, value, unit, runs)."""
    h, d = result["heap"], result["delta"]
    rows = [
        {"figure": f"smallest MicroPython heap for a full wake with {FORTY} events (-X "
                   f"heapsize, {HEAP_STEP_K}K steps)", "value": h["smallest_heap_k"],
         "unit": "KiB", "runs": len(h["tried"])},
        {"figure": "heap live at the end of that wake", "value": h["at_smallest"]["heap_live"],
         "unit": "B", "runs": 1},
        {"figure": "  of it: the app's code (imported from its ROMFS)",
         "value": h["app_code_bytes"], "unit": "B", "runs": 1},
        {"figure": "  of it: the emulated board's stand-ins (machine, network, esp32, host link)",
         "value": h["stand_in_code_bytes"], "unit": "B", "runs": 1},
        {"figure": "smallest MicroPython heap for a full wake, the room empty",
         "value": h["empty_room"]["smallest_heap_k"], "unit": "KiB",
         "runs": len(h["empty_room"]["tried"])},
        {"figure": f"smallest MicroPython heap for a 'find a room' wake, {THIRTY} rooms in the "
                   "list", "value": h["find_30_rooms"]["smallest_heap_k"], "unit": "KiB",
         "runs": len(h["find_30_rooms"]["tried"])},
        {"figure": f"smallest MicroPython heap for a full wake with {FORTY} events on EWS "
                   "(NTLM)", "value": h["ews_40"]["smallest_heap_k"], "unit": "KiB",
         "runs": len(h["ews_40"]["tried"])},
    ]
    for key, label in DELTA_ROWS:
        t = d[key]
        rows.append({"figure": f"{label}, {FORTY} events: bytes received",
                     "value": t["bytes_received"], "unit": "B", "runs": 1})
    rows.append({"figure": "calendarView/delta: the delta link the panel would keep",
                 "value": d["delta_link_chars"], "unit": "char", "runs": 1})
    return rows


def print_wake_table(result: dict) -> None:
    rows = result["scenarios"]
    title = "per wake, against the fake tenant"
    width = max(len(title), *(len(r["scenario"]) for r in rows))
    head = "  ".join(f"{label:>{max(len(label), 7)}}" for _, label in COLUMNS)
    print(f"{title:<{width}}  {head}  runs  log")
    for r in rows:
        cells = "  ".join(f"{r[key]:>{max(len(label), 7)}}" for key, label in COLUMNS)
        print(f"{r['scenario']:<{width}}  {cells}  {r['runs']:>4}  {r['log_check']}")


def main() -> None:
    result = run()
    rows = table_rows(result)
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>9}  unit  runs")
    for r in rows:
        print(f"{r['figure']:<{width}}  {r['value']:>9}  {r['unit']:<4}  {r['runs']}")
    print()
    print_wake_table(result)
    print()
    for note in result["notes"]:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
