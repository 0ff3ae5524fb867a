"""Microsoft Graph v1.0, the calendar half a door panel uses: calendarView (recurring series
expanded, paged with @odata.nextLink, Prefer: outlook.timezone), events (create, update, delete,
accept/decline/cancel), getSchedule, sendMail, places (room lists and rooms), users; room
mailboxes that process invitations as Exchange's Set-CalendarProcessing says; the service
account's rights on each room; and the outbox where sent mail and meeting responses land.

Shapes follow Microsoft's Graph v1.0 reference (event, scheduleInformation, room, roomList,
user, the error response) and what Graph answers in practice (Exchange's error codes such as
ErrorInvalidUser, ErrorItemNotFound, ErrorAccessDenied). docs/tenant.md lists every endpoint and
says where this fake chooses or simplifies.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
import json
import math
import re
import sqlite3
import struct
import sys
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from lintel.errors import LintelError
from lintel.tenant import identity
from lintel.tenant.seed import objects, unknown_keys
from lintel.tenant.server import HttpError, Request, Response, Tenant, json_response

NAME = "graph"
SEED_KEYS = ("timezone", "rooms", "room_lists", "events")

ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
ERROR_JSON = "application/json"
UTC = dt.timezone.utc
NO_END = 253402300799.0  # 9999-12-31T23:59:59Z: the end of a series without an end date
ZERO_TIME = "0001-01-01T00:00:00Z"  # .NET's DateTime.MinValue, as Graph writes "never"
DEFAULT_PAGE = 10  # calendarView and events: Graph's default page size
MAX_PAGE = 1000  # Outlook's largest $top
PLACES_PAGE = 100  # places: "By default, this operation returns 100 places per page."
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
DELEGATE = ("editor", "reviewer", "none")
AVAILABILITY = {"free": "0", "workingElsewhere": "0", "unknown": "0", "tentative": "1",
                "busy": "2", "oof": "3"}  # Graph v1.0: working elsewhere is 0, not 4
ACCESS_DENIED = "Access is denied. Check credentials and try again."
NOT_FOUND = "The specified object was not found in the store."
DIAGNOSTIC = ('{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5",'
              '"ScaleUnit":"004","RoleInstance":"AM4PEPF00012A6B"}}')
ICAL_PREFIX = "040000008200E00074C5B7101A82E008"

# Scopes (lower case) per kind of access.
CAL_READ_OWN = frozenset({"calendars.readbasic", "calendars.read", "calendars.readwrite",
                          "calendars.read.shared", "calendars.readwrite.shared"})
CAL_READ_OTHER = frozenset({"calendars.read.shared", "calendars.readwrite.shared"})
CAL_WRITE_OWN = frozenset({"calendars.readwrite", "calendars.readwrite.shared"})
CAL_WRITE_OTHER = frozenset({"calendars.readwrite.shared"})
MAIL_SEND = frozenset({"mail.send", "mail.send.shared"})
MAIL_SEND_OTHER = frozenset({"mail.send.shared"})
PLACES = frozenset({"place.read.all", "place.readwrite.all"})
USER_SELF = frozenset({"user.read", "user.readwrite", "user.readbasic.all", "user.read.all",
                       "user.readwrite.all", "directory.read.all"})
USER_OTHERS = frozenset({"user.readbasic.all", "user.read.all", "user.readwrite.all",
                         "directory.read.all"})

# -- time zones --------------------------------------------------------------------------------

# Windows time zone names Exchange uses, and an IANA zone with the same rules.
WINDOWS_ZONES = {
    "UTC": "Etc/UTC",
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "GTB Standard Time": "Europe/Bucharest",
    "FLE Standard Time": "Europe/Helsinki",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "Egypt Standard Time": "Africa/Cairo",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Morocco Standard Time": "Africa/Casablanca",
    "Russian Standard Time": "Europe/Moscow",
    "Arabian Standard Time": "Asia/Dubai",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Kolkata",
    "SE Asia Standard Time": "Asia/Bangkok",
    "Singapore Standard Time": "Asia/Singapore",
    "China Standard Time": "Asia/Shanghai",
    "Taipei Standard Time": "Asia/Taipei",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "W. Australia Standard Time": "Australia/Perth",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
IANA_TO_WINDOWS = {v: k for k, v in WINDOWS_ZONES.items()}
for _win, _zones in {
    "UTC": ("UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT"),
    "W. Europe Standard Time": ("Europe/Amsterdam", "Europe/Rome", "Europe/Stockholm",
                                "Europe/Vienna", "Europe/Zurich", "Europe/Oslo",
                                "Europe/Luxembourg", "Europe/Monaco", "Europe/Malta"),
    "Romance Standard Time": ("Europe/Brussels", "Europe/Madrid", "Europe/Copenhagen"),
    "GMT Standard Time": ("Europe/Dublin", "Europe/Lisbon"),
    "Central Europe Standard Time": ("Europe/Prague", "Europe/Belgrade", "Europe/Bratislava",
                                     "Europe/Ljubljana"),
    "Central European Standard Time": ("Europe/Zagreb", "Europe/Sarajevo", "Europe/Skopje"),
    "FLE Standard Time": ("Europe/Kyiv", "Europe/Kiev", "Europe/Riga", "Europe/Tallinn",
                          "Europe/Vilnius", "Europe/Sofia"),
    "GTB Standard Time": ("Europe/Athens",),
    "India Standard Time": ("Asia/Calcutta",),
    "China Standard Time": ("Asia/Hong_Kong",),
    "Eastern Standard Time": ("America/Toronto", "America/Detroit"),
    "Pacific Standard Time": ("America/Vancouver", "America/Tijuana"),
}.items():
    for _zone in _zones:
        IANA_TO_WINDOWS[_zone] = _win
_WINDOWS_LOWER = {k.lower(): k for k in WINDOWS_ZONES}


@dataclass(frozen=True)
class Zone:
    label: str  # as the client spelled it: "UTC", "Europe/Amsterdam", "W. Europe Standard Time"
    tz: dt.tzinfo
    windows: str  # Exchange's name, as originalStartTimeZone and workingHours carry it


@functools.lru_cache(maxsize=256)
def find_zone(name: str) -> Zone | None:
    """A time zone by Windows name (Exchange's) or IANA name; None if this tenant knows none."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        return None
    n = name.strip()
    if n.lower() in ("utc", "etc/utc", "tzone://microsoft/utc"):
        return Zone(n, UTC, "UTC")
    win = _WINDOWS_LOWER.get(n.lower())
    if win:
        return Zone(win, zoneinfo.ZoneInfo(WINDOWS_ZONES[win]), win)
    key = _iana_names().get(n.lower())
    if key is None:
        return None
    return Zone(key, zoneinfo.ZoneInfo(key), IANA_TO_WINDOWS.get(key, key))


@functools.lru_cache(maxsize=1)
def _iana_names() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


UTC_ZONE = Zone("UTC", UTC, "UTC")

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?"
                  r"(Z|[+\- ]\d{2}(?::?\d{2})?)?", re.IGNORECASE)


def parse_iso(text: Any, default: dt.tzinfo = UTC) -> dt.datetime | None:
    """An ISO 8601 date-time (an offset or Z, else in `default`); None if it is not one. A '+'
    that a query string turned into a space still counts as '+'."""
    if not isinstance(text, str):
        return None
    m = _ISO.fullmatch(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        tz = default
        if off:
            if off.upper() == "Z":
                tz = UTC
            else:
                sign = -1 if off[0] == "-" else 1
                digits = off[1:].replace(":", "")
                minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
                tz = dt.timezone(sign * dt.timedelta(minutes=minutes))
        micro = int((frac or "0").ljust(7, "0")[:6])
        return dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                           micro, tzinfo=tz)
    except ValueError:
        return None


def fmt_local(ts: float, tz: dt.tzinfo) -> str:
    """Graph's dateTime: "2026-11-25T09:00:00.0000000" (seven fractional digits, no offset)."""
    d = dt.datetime.fromtimestamp(ts, tz)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond * 10:07d}"


def fmt_utc(ts: float) -> str:
    """Graph's DateTimeOffset: "2026-11-25T08:12:01.1234567Z"."""
    return fmt_local(ts, UTC) + "Z"


def iso_z(ts: float) -> str:
    """Seconds precision, for responseStatus times and the admin API."""
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_ts(day: dt.date, clock: dt.time, tz: dt.tzinfo) -> float:
    return dt.datetime.combine(day, clock, tzinfo=tz).timestamp()


def office_zone(t: Tenant) -> Zone:
    return find_zone((t.store.get_meta("graph") or {}).get("timezone", "UTC")) or UTC_ZONE


# -- the store ---------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_rooms (
    address  TEXT PRIMARY KEY COLLATE NOCASE,
    position INTEGER NOT NULL,
    data     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_room_lists (
    address  TEXT PRIMARY KEY COLLATE NOCASE,
    position INTEGER NOT NULL,
    data     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_events (
    key      TEXT PRIMARY KEY,
    mailbox  TEXT NOT NULL COLLATE NOCASE,
    start    REAL NOT NULL,
    end      REAL NOT NULL,
    last     REAL NOT NULL,
    created  REAL NOT NULL,
    modified REAL NOT NULL,
    version  INTEGER NOT NULL DEFAULT 1,
    seq      INTEGER NOT NULL DEFAULT 0,
    data     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS graph_events_window ON graph_events(mailbox, start);
CREATE TABLE IF NOT EXISTS graph_removed (
    key      TEXT NOT NULL,
    occ      TEXT,
    mailbox  TEXT NOT NULL COLLATE NOCASE,
    start    REAL NOT NULL,
    end      REAL NOT NULL,
    seq      INTEGER NOT NULL,
    row      TEXT
);
CREATE TABLE IF NOT EXISTS graph_outbox (
    id       INTEGER PRIMARY KEY,
    time     REAL NOT NULL,
    data     TEXT NOT NULL
);
"""


def init_store(store) -> None:
    store.ensure_schema(SCHEMA)


def _next_seq(db: sqlite3.Connection) -> int:
    """A tenant-wide change counter (for delta links): the next value, inside a transaction."""
    row = db.execute("SELECT value FROM meta WHERE key = 'graph_seq'").fetchone()
    n = (json.loads(row["value"]) if row else 0) + 1
    db.execute("INSERT INTO meta(key, value) VALUES('graph_seq', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (json.dumps(n),))
    return n


def _current_seq(t: Tenant) -> int:
    return t.store.get_meta("graph_seq") or 0


# -- the seed ----------------------------------------------------------------------------------

_SMTP = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
ROOM_KEYS = {
    "address", "name", "id", "capacity", "building", "floor", "floor_label", "label", "nickname",
    "booking_type", "audio_device", "video_device", "display_device", "wheelchair", "tags",
    "phone", "postal_address", "geo", "room_lists", "delegate", "send_as",
    "add_organizer_to_subject", "delete_subject", "delete_comments", "remove_private_property",
    "working_hours",
}
ROOM_FLAGS = ("send_as", "add_organizer_to_subject", "delete_subject", "delete_comments",
              "remove_private_property", "wheelchair")
ROOM_STRINGS = ("building", "floor_label", "label", "nickname", "audio_device", "video_device",
                "display_device", "phone")
LIST_KEYS = {"address", "name", "id", "rooms", "postal_address", "geo", "phone"}
POSTAL_KEYS = ("street", "city", "state", "postal_code", "country")
EVENT_KEYS = {
    "room", "day", "start", "minutes", "end", "subject", "organizer", "private", "all_day",
    "days", "cancelled", "show_as", "attendees", "recurrence", "body", "online", "importance",
    "categories", "repeat", "location", "sensitivity",
}
RECURRENCE_KEYS = {"pattern", "interval", "days", "count", "until_day"}


def _is_smtp(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 254 and bool(_SMTP.fullmatch(v))


def _is_int(v: Any, lo: int | None = None, hi: int | None = None) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo)
            and (hi is None or v <= hi))


def _check_postal(v: Any, where: str) -> list[str]:
    if not isinstance(v, dict) or any(k not in POSTAL_KEYS or not isinstance(x, str)
                                      for k, x in v.items()):
        return [f"{where}: an object of strings ({', '.join(POSTAL_KEYS)})"]
    return []


def _check_geo(v: Any, where: str) -> list[str]:
    ok = isinstance(v, dict) and set(v) <= {"latitude", "longitude", "altitude"} and \
        {"latitude", "longitude"} <= set(v) and \
        all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v.values())
    return [] if ok else [f"{where}: {{\"latitude\": 52.37, \"longitude\": 4.89}}"]


def _check_working_hours(v: Any, where: str) -> list[str]:
    if not isinstance(v, dict) or not set(v) <= {"days", "start", "end"}:
        return [f"{where}: {{\"days\": [\"monday\", ...], \"start\": \"08:00\", \"end\": "
                f"\"17:00\"}}"]
    problems = []
    days = v.get("days", list(DAYS[:5]))
    if not isinstance(days, list) or not all(d in DAYS for d in days):
        problems.append(f"{where}.days: day names ({', '.join(DAYS)})")
    for k in ("start", "end"):
        if k in v and not (isinstance(v[k], str) and _HHMM.fullmatch(v[k])):
            problems.append(f"{where}.{k}: a time \"HH:MM\"")
    return problems


def _seed_mailboxes(seed: dict) -> set[str]:
    """Lower-case addresses of every mailbox a seed defines (rooms, users' UPNs and mail)."""
    out = set()
    for u in seed.get("users") or []:
        if isinstance(u, dict):
            for k in ("upn", "mail"):
                if isinstance(u.get(k), str):
                    out.add(u[k].lower())
    for r in seed.get("rooms") or []:
        if isinstance(r, dict) and isinstance(r.get("address"), str):
            out.add(r["address"].lower())
    return out


def validate_seed(seed: dict) -> list[str]:
    problems: list[str] = []
    if "timezone" in seed and find_zone(seed["timezone"]) is None:
        problems.append("timezone: the office's time zone, an IANA name such as "
                        "\"Europe/Amsterdam\"")
    rooms = seed.get("rooms", [])
    lists = seed.get("room_lists", [])
    users = {a for a in _seed_mailboxes({"users": seed.get("users")})}
    list_addresses: set[str] = set()
    if not isinstance(lists, list):
        problems.append("room_lists: a list of room lists")
        lists = []
    for rl in lists:
        if isinstance(rl, dict) and isinstance(rl.get("address"), str):
            list_addresses.add(rl["address"].lower())
    room_addresses: set[str] = set()
    if not isinstance(rooms, list):
        problems.append("rooms: a list of rooms")
        rooms = []
    for where, r in objects(rooms, "rooms", sorted(ROOM_KEYS), problems, comments=True):
        addr = r.get("address")
        if not _is_smtp(addr):
            problems.append(f"{where}.address: the room's e-mail address, such as "
                            "\"room-4.12@contoso.example\"")
        elif addr.lower() in room_addresses:
            problems.append(f"{where}.address: {addr} appears twice")
        elif addr.lower() in users or addr.lower() in list_addresses:
            problems.append(f"{where}.address: {addr} is already a user's or a room list's")
        else:
            room_addresses.add(addr.lower())
        if not isinstance(r.get("name"), str) or not r.get("name"):
            problems.append(f"{where}.name: the room's display name (a string)")
        if "id" in r and not identity._is_guid(r["id"]):
            problems.append(f"{where}.id: a GUID (the place id)")
        if "capacity" in r and not _is_int(r["capacity"], 0, 100000):
            problems.append(f"{where}.capacity: a whole number of seats")
        if "floor" in r and not _is_int(r["floor"], -100, 1000):
            problems.append(f"{where}.floor: the floor number (a whole number)")
        for k in ROOM_STRINGS:
            if k in r and not isinstance(r[k], str):
                problems.append(f"{where}.{k}: a string")
        for k in ROOM_FLAGS:
            if k in r and not isinstance(r[k], bool):
                problems.append(f"{where}.{k}: true or false")
        if "booking_type" in r and r["booking_type"] not in ("standard", "reserved"):
            problems.append(f"{where}.booking_type: \"standard\" or \"reserved\"")
        if "delegate" in r and r["delegate"] not in DELEGATE:
            problems.append(f"{where}.delegate: the service account's right on the room's "
                            f"calendar, one of {', '.join(DELEGATE)}")
        if "tags" in r and not (isinstance(r["tags"], list)
                                and all(isinstance(x, str) for x in r["tags"])):
            problems.append(f"{where}.tags: a list of strings")
        if "postal_address" in r:
            problems += _check_postal(r["postal_address"], f"{where}.postal_address")
        if "geo" in r:
            problems += _check_geo(r["geo"], f"{where}.geo")
        if "working_hours" in r:
            problems += _check_working_hours(r["working_hours"], f"{where}.working_hours")
        if "room_lists" in r:
            rls = r["room_lists"]
            if not isinstance(rls, list) or not all(isinstance(x, str) for x in rls):
                problems.append(f"{where}.room_lists: a list of room list addresses")
            else:
                for j, x in enumerate(rls):
                    if x.lower() not in list_addresses:
                        problems.append(f"{where}.room_lists[{j}]: no room list {x} in "
                                        "room_lists")
    seen_lists: set[str] = set()
    for where, rl in objects(lists, "room_lists", sorted(LIST_KEYS), problems, comments=True):
        addr = rl.get("address")
        if not _is_smtp(addr):
            problems.append(f"{where}.address: the room list's e-mail address, such as "
                            "\"rooms-floor-4@contoso.example\"")
        elif addr.lower() in seen_lists:
            problems.append(f"{where}.address: {addr} appears twice")
        elif addr.lower() in users:
            problems.append(f"{where}.address: {addr} is already a user's")
        else:
            seen_lists.add(addr.lower())
        if not isinstance(rl.get("name"), str) or not rl.get("name"):
            problems.append(f"{where}.name: the room list's display name (a string)")
        if "id" in rl and not identity._is_guid(rl["id"]):
            problems.append(f"{where}.id: a GUID (the place id)")
        if "phone" in rl and not isinstance(rl["phone"], str):
            problems.append(f"{where}.phone: a string")
        members = rl.get("rooms", [])
        if not isinstance(members, list) or not all(isinstance(x, str) for x in members):
            problems.append(f"{where}.rooms: a list of room addresses")
        else:
            for j, x in enumerate(members):
                if x.lower() not in room_addresses:
                    problems.append(f"{where}.rooms[{j}]: no room {x} in rooms")
        if "postal_address" in rl:
            problems += _check_postal(rl["postal_address"], f"{where}.postal_address")
        if "geo" in rl:
            problems += _check_geo(rl["geo"], f"{where}.geo")
    events = seed.get("events", [])
    if not isinstance(events, list):
        return problems + ["events: a list of events"]
    known = room_addresses | users
    for i, e in enumerate(events):
        problems += check_event_spec(e, f"events[{i}]", lambda a: a.lower() in known)
    return problems


def _check_when(v: Any, where: str, what: str) -> list[str]:
    if isinstance(v, str) and (_HHMM.fullmatch(v) or parse_iso(v) is not None):
        return []
    if isinstance(v, dict) and set(v) == {"in_min"} and _is_int(v["in_min"], -527040, 527040):
        return []
    return [f"{where}: the {what}: \"HH:MM\" (office time, on \"day\"), an ISO 8601 date-time, "
            f"or {{\"in_min\": minutes from now}}"]


def check_event_spec(e: Any, where: str, mailbox_known: Callable[[str], bool]) -> list[str]:
    """Problems in one seed (or admin API) event, with key paths."""
    if not isinstance(e, dict):
        return [f"{where}: an object"]
    problems = unknown_keys(e, sorted(EVENT_KEYS), where, comments=True)
    room = e.get("room")
    if not isinstance(room, str) or not mailbox_known(room):
        problems.append(f"{where}.room: the address of a room in rooms (or of a user)")
    if "day" in e and not _is_int(e["day"], -3660, 3660):
        problems.append(f"{where}.day: days from today (0 today, 1 tomorrow, -1 yesterday)")
    all_day = e.get("all_day", False)
    if not isinstance(all_day, bool):
        problems.append(f"{where}.all_day: true or false")
    if all_day:
        if "days" in e and not _is_int(e["days"], 1, 366):
            problems.append(f"{where}.days: how many days the all-day event lasts (1 or more)")
        for k in ("minutes", "end"):
            if k in e:
                problems.append(f"{where}.{k}: an all-day event lasts \"days\" (default 1)")
        if "start" in e and not (isinstance(e["start"], str) and parse_iso(e["start"])):
            problems.append(f"{where}.start: an all-day event starts on \"day\" (or an ISO date)")
    else:
        if "days" in e:
            problems.append(f"{where}.days: only for \"all_day\": true")
        if "start" not in e:
            problems.append(f"{where}.start: required, \"HH:MM\" (office time on \"day\"), "
                            f"an ISO 8601 date-time or {{\"in_min\": minutes from now}}")
        else:
            problems += _check_when(e["start"], f"{where}.start", "start")
        if ("minutes" in e) == ("end" in e):
            problems.append(f"{where}: give \"minutes\" or \"end\" (one of them)")
        elif "minutes" in e and not _is_int(e["minutes"], 0, 14 * 1440):
            problems.append(f"{where}.minutes: the length in whole minutes (0 to 20160)")
        elif "end" in e:
            end_problems = _check_when(e["end"], f"{where}.end", "end")
            problems += end_problems
            start, end = e.get("start"), e["end"]
            if not end_problems and not _check_when(start, "", ""):
                if isinstance(start, dict) and isinstance(end, dict):
                    before = end["in_min"] < start["in_min"]
                elif isinstance(start, str) and isinstance(end, str) and \
                        not _HHMM.fullmatch(start) and not _HHMM.fullmatch(end):
                    before = parse_iso(end) < parse_iso(start)
                else:
                    before = False
                if before:
                    problems.append(f"{where}.end: before the start")
    for k in ("subject", "body", "location"):
        if k in e and not isinstance(e[k], str):
            problems.append(f"{where}.{k}: a string")
    for k in ("private", "cancelled", "online"):
        if k in e and not isinstance(e[k], bool):
            problems.append(f"{where}.{k}: true or false")
    if "show_as" in e and e["show_as"] not in SHOW_AS:
        problems.append(f"{where}.show_as: one of {', '.join(SHOW_AS)}")
    if "sensitivity" in e and e["sensitivity"] not in SENSITIVITY:
        problems.append(f"{where}.sensitivity: one of {', '.join(SENSITIVITY)}")
    if "importance" in e and e["importance"] not in IMPORTANCE:
        problems.append(f"{where}.importance: one of {', '.join(IMPORTANCE)}")
    if "categories" in e and not (isinstance(e["categories"], list)
                                  and all(isinstance(x, str) for x in e["categories"])):
        problems.append(f"{where}.categories: a list of strings")
    if "organizer" in e and _person(e["organizer"]) is None:
        problems.append(f"{where}.organizer: a user's UPN or mail, an address, or "
                        f"{{\"name\": \"...\", \"address\": \"...\"}}")
    if "attendees" in e:
        att = e["attendees"]
        if not isinstance(att, list):
            problems.append(f"{where}.attendees: a list of addresses or {{\"name\", \"address\"}}")
        else:
            for j, a in enumerate(att):
                if _person(a) is None or (isinstance(a, dict) and a.get("type", "required")
                                          not in ("required", "optional", "resource")):
                    problems.append(f"{where}.attendees[{j}]: an address or {{\"name\", "
                                    f"\"address\", \"type\"}}")
    if "recurrence" in e:
        problems += _check_recurrence_spec(e["recurrence"], f"{where}.recurrence")
    if "repeat" in e:
        rep = e["repeat"]
        if not (isinstance(rep, dict) and set(rep) <= {"count", "every_min"}
                and _is_int(rep.get("count"), 1, 1000) and _is_int(rep.get("every_min", 1), 1)):
            problems.append(f"{where}.repeat: {{\"count\": N (1-1000), \"every_min\": minutes}} "
                            "(N separate events, one after another)")
        elif "recurrence" in e:
            problems.append(f"{where}.repeat: not together with recurrence")
    return problems


def _check_recurrence_spec(r: Any, where: str) -> list[str]:
    if not isinstance(r, dict):
        return [f"{where}: {{\"pattern\": \"daily\" or \"weekly\", \"days\", \"count\", "
                "\"interval\", \"until_day\"}"]
    problems = unknown_keys(r, sorted(RECURRENCE_KEYS), where)
    if r.get("pattern") not in ("daily", "weekly"):
        problems.append(f"{where}.pattern: \"daily\" or \"weekly\"")
    if "interval" in r and not _is_int(r["interval"], 1, 99):
        problems.append(f"{where}.interval: every N days or weeks (1-99)")
    if "days" in r and not (isinstance(r["days"], list) and r["days"]
                            and all(d in DAYS for d in r["days"])):
        problems.append(f"{where}.days: day names ({', '.join(DAYS)})")
    if "count" in r and not _is_int(r["count"], 1, 999):
        problems.append(f"{where}.count: the number of occurrences (1-999)")
    if "until_day" in r and not _is_int(r["until_day"], -3660, 3660):
        problems.append(f"{where}.until_day: the last day, in days from today")
    if "count" in r and "until_day" in r:
        problems.append(f"{where}: \"count\" or \"until_day\", not both")
    return problems


def _person(v: Any) -> tuple[str | None, str] | None:
    """(name or None, address) of a seed organizer/attendee; None if malformed."""
    if isinstance(v, str):
        return (None, v) if _is_smtp(v) else None
    if isinstance(v, dict) and set(v) <= {"name", "address", "type"} and _is_smtp(v.get("address")):
        name = v.get("name")
        if name is not None and not isinstance(name, str):
            return None
        return name, v["address"]
    return None


# -- applying a seed -------------------------------------------------------------------------


def _place_id(kind: str, address: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lintel-tenant:{kind}:{address.lower()}")).upper()


def _room_record(r: dict) -> dict:
    """A seed room as stored: every place property, the processing flags and the rights."""
    return {
        "address": r["address"], "name": r["name"],
        "place_id": (r.get("id") or _place_id("room", r["address"])).upper(),
        "oid": _place_id("room-user", r["address"]).lower(),
        "capacity": r.get("capacity"), "building": r.get("building"), "floor": r.get("floor"),
        "floor_label": r.get("floor_label"), "label": r.get("label"),
        "nickname": r.get("nickname", r["name"]), "booking_type": r.get("booking_type", "standard"),
        "audio_device": r.get("audio_device"), "video_device": r.get("video_device"),
        "display_device": r.get("display_device"), "wheelchair": r.get("wheelchair", False),
        "tags": r.get("tags", []), "phone": r.get("phone"),
        "postal_address": r.get("postal_address"), "geo": r.get("geo"),
        "delegate": r.get("delegate", "editor"), "send_as": r.get("send_as", False),
        "add_organizer_to_subject": r.get("add_organizer_to_subject", True),
        "delete_subject": r.get("delete_subject", True),
        "delete_comments": r.get("delete_comments", True),
        "remove_private_property": r.get("remove_private_property", True),
        "working_hours": r.get("working_hours"),
    }


def apply_seed(t: Tenant, seed: dict) -> None:
    zone = find_zone(seed.get("timezone", "UTC")) or UTC_ZONE
    t.store.set_meta("graph", {"timezone": zone.label})
    rooms = seed.get("rooms", [])
    lists = seed.get("room_lists", [])
    with t.store.tx() as db:
        for i, r in enumerate(rooms):
            db.execute("INSERT INTO graph_rooms(address, position, data) VALUES(?, ?, ?)",
                       (r["address"], i, json.dumps(_room_record(r))))
        for i, rl in enumerate(lists):
            members: list[str] = []
            for a in rl.get("rooms", []) + [r["address"] for r in rooms if rl["address"].lower()
                                            in {x.lower() for x in r.get("room_lists", [])}]:
                if a.lower() not in {m.lower() for m in members}:
                    members.append(next(r["address"] for r in rooms
                                        if r["address"].lower() == a.lower()))
            data = {"address": rl["address"], "name": rl["name"],
                    "place_id": (rl.get("id") or _place_id("roomlist", rl["address"])).upper(),
                    "rooms": members, "postal_address": rl.get("postal_address"),
                    "geo": rl.get("geo"), "phone": rl.get("phone")}
            db.execute("INSERT INTO graph_room_lists(address, position, data) VALUES(?, ?, ?)",
                       (rl["address"], i, json.dumps(data)))
        now = t.now()
        for i, spec in enumerate(seed.get("events", [])):
            try:
                add_events_from_spec(t, spec, now)
            except ValueError as e:
                raise LintelError(f"--seed: events[{i}]: {e}") from e


# -- mailboxes -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    address: str  # the primary SMTP address: a room's, or a user's mail (else UPN)
    name: str
    oid: str  # the directory object id (GUID)
    upn: str
    room: dict | None = None  # the room's record, for a room mailbox
    user: sqlite3.Row | None = None


def _room_mailbox(r: dict) -> Mailbox:
    return Mailbox(r["address"], r["name"], r["oid"], r["address"], room=r)


def rooms(t: Tenant) -> list[dict]:
    return [json.loads(r["data"]) for r in
            t.store.all("SELECT data FROM graph_rooms ORDER BY position")]


def room_lists(t: Tenant) -> list[dict]:
    return [json.loads(r["data"]) for r in
            t.store.all("SELECT data FROM graph_room_lists ORDER BY position")]


def find_room(t: Tenant, who: str) -> dict | None:
    row = t.store.one("SELECT data FROM graph_rooms WHERE address = ?", (who.strip(),))
    if row:
        return json.loads(row["data"])
    low = who.strip().lower()
    return next((r for r in rooms(t) if low in (r["oid"], r["place_id"].lower())), None)


def find_mailbox(t: Tenant, who: str) -> Mailbox | None:
    """A mailbox by address, UPN or object id: a room's or a user's; None if unknown."""
    w = who.strip()
    if not w:
        return None
    room = find_room(t, w)
    if room:
        return _room_mailbox(room)
    u = t.store.one("SELECT * FROM users WHERE upn = ? OR lower(mail) = lower(?) OR id = ?",
                    (w, w, w.lower()))
    if u is None:
        return None
    return Mailbox(u["mail"] or u["upn"], u["name"], u["id"], u["upn"], user=u)


def user_mailbox(t: Tenant, user: sqlite3.Row) -> Mailbox:
    return Mailbox(user["mail"] or user["upn"], user["name"], user["id"], user["upn"], user=user)


def display_name(t: Tenant, address: str) -> str:
    mb = find_mailbox(t, address)
    return mb.name if mb else address


def rights(t: Tenant, user: sqlite3.Row, mb: Mailbox) -> str:
    """The signed-in user's access to a mailbox's calendar: owner, editor, reviewer or none.
    Each room grants the service account the right its seed says (Add-MailboxFolderPermission);
    nobody has rights on another user's calendar."""
    if mb.oid == user["id"]:
        return "owner"
    if mb.room is not None and user["service_account"]:
        return mb.room.get("delegate", "editor")
    return "none"


# -- stored events -------------------------------------------------------------------------------


def attendee_json(name: str | None, address: str, kind: str = "required", response: str = "none",
              when: str = ZERO_TIME) -> dict:
    return {"type": kind, "status": {"response": response, "time": when},
            "emailAddress": {"name": name or address, "address": address}}


def location_json(name: str | None) -> dict:
    if not name:
        return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown",
                "address": {}, "coordinates": {}}
    return {"displayName": name, "locationType": "default", "uniqueId": name,
            "uniqueIdType": "private"}


def new_event(mb: Mailbox, *, subject: str, body: str = "", body_type: str = "html",
              zone: Zone, end_zone: Zone | None = None, all_day: bool = False,
              organizer: tuple[str, str], attendees: list[dict] | None = None,
              sensitivity: str = "normal", show_as: str = "busy", importance: str = "normal",
              categories: list[str] | None = None, cancelled: bool = False,
              location: dict | None = None, online: bool = False, invite: bool,
              now: float, key: str) -> dict:
    """The stored form of a new event in `mb`'s calendar. `invite`: it arrived as a meeting
    request from `organizer` (a room then processes it as Set-CalendarProcessing says)."""
    org_name, org_address = organizer
    original = subject
    people = list(attendees or [])
    is_organizer = org_address.lower() == mb.address.lower()
    if invite and mb.room is not None:
        room = mb.room
        if room.get("delete_subject", True):
            subject = ""
        if room.get("add_organizer_to_subject", True):
            subject = f"{org_name} {subject}".strip() if subject else org_name
        if room.get("delete_comments", True):
            body = ""
        if room.get("remove_private_property", True) and sensitivity == "private":
            sensitivity = "normal"
        if not any(a["emailAddress"]["address"].lower() == mb.address.lower() for a in people):
            people.append(attendee_json(mb.name, mb.address, "resource", "accepted", iso_z(now)))
    elif invite and not any(a["emailAddress"]["address"].lower() == mb.address.lower()
                            for a in people):
        people.append(attendee_json(mb.name, mb.address))
    if cancelled:
        subject = "Canceled: " + subject
        show_as = "free"
    if location is None:
        location = location_json(mb.name if mb.room is not None else None)
    ical = (ICAL_PREFIX + "00000000" + struct.pack("<Q", int((now + 11644473600) * 1e7)).hex()
            + "0" * 16 + "10000000" + uuid.UUID(key).hex).upper()
    return {
        "subject": subject, "original_subject": original,
        "body": {"contentType": body_type, "content": body},
        "tz": zone.label, "end_tz": (end_zone or zone).label, "all_day": all_day,
        "sensitivity": sensitivity, "show_as": show_as, "intended_show_as": show_as,
        "importance": importance,
        "categories": list(categories or []), "cancelled": cancelled,
        "organizer": {"name": org_name, "address": org_address},
        "attendees": people, "location": location, "is_organizer": is_organizer,
        "response": ({"response": "organizer", "time": ZERO_TIME} if is_organizer else
                     {"response": "accepted" if invite else "none", "time": iso_z(now)}),
        "recurrence": None, "series": None, "exceptions": {},
        "ical": ical, "reminder": 15, "reminder_on": not all_day,
        "response_requested": True, "online": online,
        "join_url": (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{key[:24]}"
                     f"%40thread.v2/0" if online else None),
        "transaction_id": None, "allow_new_time_proposals": True,
    }


def _series_bounds(data: dict, start: float, end: float) -> tuple[float, float]:
    """(first start, last end) of a stored event: its own times, or its series' span."""
    if not data.get("recurrence"):
        return start, end
    rec = data["recurrence"]
    lo, hi = start, end
    rng = rec["range"]
    if rng["type"] == "noEnd" or (rng["type"] == "endDate" and (
            dt.date.fromisoformat(rng["endDate"]) - dt.date.fromisoformat(rng["startDate"])
    ).days > 3660):
        hi = NO_END  # (a series ending in decades is not walked to its end)
    else:
        last = None
        for d in occurrence_dates(rec, dt.date(9999, 12, 30)):
            last = d
        if last is not None:
            s, e = _occurrence_times(data, last)
            hi = max(hi, e)
    for exc in data.get("exceptions", {}).values():
        if "start" in exc:
            lo = min(lo, exc["start"])
            hi = max(hi, exc["end"])
    return lo, hi


def insert_event(db: sqlite3.Connection, mailbox: str, key: str, data: dict, start: float,
                 end: float, now: float) -> None:
    """Store a new event; `start`/`end` are a single event's times or a series' first
    occurrence's (the master's)."""
    db.execute("INSERT INTO graph_events(key, mailbox, start, end, last, created, modified, "
               "version, seq, data) VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
               (key, mailbox, start, end, _series_bounds(data, start, end)[1], now, now,
                _next_seq(db), json.dumps(data)))


def save_event(db: sqlite3.Connection, row: sqlite3.Row, data: dict, start: float, end: float,
               now: float) -> None:
    db.execute("UPDATE graph_events SET start = ?, end = ?, last = ?, modified = ?, "
               "version = version + 1, seq = ?, data = ? WHERE key = ?",
               (start, end, _series_bounds(data, start, end)[1], now, _next_seq(db),
                json.dumps(data), row["key"]))


def remove_event(db: sqlite3.Connection, row: sqlite3.Row, start: float, end: float) -> None:
    """Delete a stored event, leaving a tombstone (with the row, to name a series' occurrences)
    for delta queries."""
    db.execute("DELETE FROM graph_events WHERE key = ?", (row["key"],))
    db.execute("INSERT INTO graph_removed(key, occ, mailbox, start, end, seq, row) "
               "VALUES(?, NULL, ?, ?, ?, ?, ?)",
               (row["key"], row["mailbox"], row["start"], row["last"], _next_seq(db),
                json.dumps(dict(row))))


# -- recurrence ----------------------------------------------------------------------------------


def occurrence_dates(rec: dict, until: dt.date) -> Iterator[dt.date]:
    """The dates of a patternedRecurrence (daily or weekly), in order, up to `until`."""
    pattern, rng = rec["pattern"], rec["range"]
    start = dt.date.fromisoformat(rng["startDate"])
    last = dt.date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else None
    count = rng.get("numberOfOccurrences") if rng["type"] == "numbered" else None
    interval = max(1, int(pattern.get("interval") or 1))
    n = 0

    def done(d: dt.date) -> bool:
        return d > until or (last is not None and d > last) or (count is not None and n >= count)

    if pattern["type"] == "daily":
        d = start
        while not done(d):
            yield d
            n += 1
            d += dt.timedelta(days=interval)
        return
    first = DAYS.index(pattern.get("firstDayOfWeek") or "sunday")
    days = sorted({DAYS.index(x) for x in pattern["daysOfWeek"]}, key=lambda w: (w - first) % 7)
    week = start - dt.timedelta(days=(start.weekday() - first) % 7)
    while True:
        for wd in days:
            d = week + dt.timedelta(days=(wd - first) % 7)
            if d < start:
                continue
            if done(d):
                return
            yield d
            n += 1
        week += dt.timedelta(weeks=interval)


def _occurrence_times(data: dict, d: dt.date) -> tuple[float, float]:
    zone = find_zone(data["tz"]) or UTC_ZONE
    series = data["series"]
    if data.get("all_day"):
        return (local_ts(d, dt.time(0), zone.tz),
                local_ts(d + dt.timedelta(days=series["days"]), dt.time(0), zone.tz))
    start = local_ts(d, dt.time.fromisoformat(series["time"]), zone.tz)
    return start, start + series["seconds"]


def recurrence_json(pattern: str, interval: int, days: list[str], first_day: str,
                    range_type: str, start: dt.date, end: dt.date | None, count: int,
                    zone: Zone) -> dict:
    return {
        "pattern": {"type": pattern, "interval": interval, "month": 0, "dayOfMonth": 0,
                    "daysOfWeek": days if pattern == "weekly" else [],
                    "firstDayOfWeek": first_day, "index": "first"},
        "range": {"type": range_type, "startDate": start.isoformat(),
                  "endDate": end.isoformat() if end else "0001-01-01",
                  "recurrenceTimeZone": zone.windows,
                  "numberOfOccurrences": count if range_type == "numbered" else 0},
    }


def make_series(data: dict, start: float, end: float, rec: dict) -> tuple[float, float]:
    """Turn a stored event into a series master with `rec`; (first start, first end). The
    master's times become its first occurrence's, as Exchange does. ValueError if none."""
    zone = find_zone(data["tz"]) or UTC_ZONE
    local = dt.datetime.fromtimestamp(start, zone.tz)
    if data.get("all_day"):
        days = max(1, round((end - start) / 86400))
        data["series"] = {"time": "00:00:00", "seconds": 0, "days": days}
    else:
        data["series"] = {"time": local.time().replace(microsecond=0).isoformat(),
                          "seconds": end - start, "days": 0}
    data["recurrence"] = rec
    first = next(occurrence_dates(rec, dt.date(9999, 12, 30)), None)
    if first is None:
        raise ValueError("the recurrence has no occurrence")
    return _occurrence_times(data, first)


# -- instances: what a calendar view shows -------------------------------------------------------


@dataclass
class Inst:
    row: sqlite3.Row
    data: dict  # the series' data with this occurrence's exception applied
    start: float
    end: float
    occ: str | None  # an occurrence's original date (series local time), "YYYY-MM-DD"
    kind: str  # singleInstance, occurrence, exception, seriesMaster
    version: int


EXCEPTION_FIELDS = ("subject", "body", "show_as", "intended_show_as", "sensitivity",
                    "importance", "categories", "location", "attendees", "cancelled", "response",
                    "reminder", "reminder_on", "tz", "end_tz")


def expand(row: sqlite3.Row, ws: float, we: float) -> list[Inst]:
    """The instances of one stored event that overlap [ws, we)."""
    data = json.loads(row["data"])
    out = []
    if not data.get("recurrence"):
        inst = Inst(row, data, row["start"], row["end"], None, "singleInstance", row["version"])
        return [inst] if _overlaps(inst.start, inst.end, ws, we) else []
    zone = find_zone(data["tz"]) or UTC_ZONE
    until = (dt.datetime.fromtimestamp(min(we, NO_END - 86400 * 3), zone.tz)
             + dt.timedelta(days=2)).date()
    exceptions = data.get("exceptions", {})
    if exceptions:
        until = max(until, max(dt.date.fromisoformat(k) for k in exceptions))
    for d in occurrence_dates(data["recurrence"], until):
        key = d.isoformat()
        exc = exceptions.get(key)
        if exc and exc.get("deleted"):
            continue
        start, end = _occurrence_times(data, d)
        merged, kind, version = data, "occurrence", row["version"]
        if exc:
            start, end = exc.get("start", start), exc.get("end", end)
            merged = {**data, **{k: exc[k] for k in EXCEPTION_FIELDS if k in exc}}
            kind, version = "exception", exc.get("version", row["version"])
        if _overlaps(start, end, ws, we):
            out.append(Inst(row, merged, start, end, key, kind, version))
    return out


def _overlaps(start: float, end: float, ws: float, we: float) -> bool:
    if end <= start:
        return ws <= start < we
    return start < we and end > ws


def instances(t: Tenant, mailbox: str, ws: float, we: float) -> list[Inst]:
    """Every instance in a mailbox's calendar overlapping [ws, we), by start."""
    rows = t.store.all("SELECT * FROM graph_events WHERE mailbox = ? AND start < ? AND last > ?",
                       (mailbox, we, ws - 1))
    out = [i for r in rows for i in expand(r, ws, we)]
    out.sort(key=lambda i: (i.start, i.end, i.row["created"], i.occ or ""))
    return out


def master_inst(row: sqlite3.Row) -> Inst:
    data = json.loads(row["data"])
    kind = "seriesMaster" if data.get("recurrence") else "singleInstance"
    return Inst(row, data, row["start"], row["end"], None, kind, row["version"])


def occurrence_inst(row: sqlite3.Row, occ: str) -> Inst | None:
    data = json.loads(row["data"])
    if not data.get("recurrence"):
        return None
    try:
        day = dt.date.fromisoformat(occ)
    except ValueError:
        return None
    if day not in set(occurrence_dates(data["recurrence"], day)):
        return None
    exc = data.get("exceptions", {}).get(occ)
    if exc and exc.get("deleted"):
        return None
    start, end = _occurrence_times(data, day)
    if exc:
        merged = {**data, **{k: exc[k] for k in EXCEPTION_FIELDS if k in exc}}
        return Inst(row, merged, exc.get("start", start), exc.get("end", end), occ, "exception",
                    exc.get("version", row["version"]))
    return Inst(row, data, start, end, occ, "occurrence", row["version"])


# -- ids -----------------------------------------------------------------------------------------

_ID_MAGIC = b"\x00\x03\x24\x00"
_ID_LEN = 113
_OCC_LEN = 122


def _b64_id(raw: bytes) -> str:
    return base64.b64encode(raw).decode().translate(str.maketrans("+/", "_-"))


def event_id(mailbox_oid: str, key: str, occ: str | None = None) -> str:
    """An Exchange-looking item id ("AAMkAD..."): the mailbox, a folder, the item key and, for
    an occurrence, its original date. 152 characters (occurrences 164), like Graph's."""
    box = hashlib.sha256(mailbox_oid.lower().encode()).digest()
    item = bytes.fromhex(key)
    raw = (_ID_MAGIC + mailbox_oid.lower().encode() + b"\x00\x46\x00\x00\x00\x00\x00" + box[:16]
           + b"\x07\x00" + box[16:32] + box[:6] + b"\x00\x00" + item
           + hashlib.sha256(item).digest()[:6] + b"\x00\x00")
    if occ:
        d = dt.date.fromisoformat(occ)
        raw += b"\x10" + struct.pack(">HBB", d.year, d.month, d.day) + b"\x00\x00\x00\x00"
    return _b64_id(raw)


def parse_event_id(text: str) -> tuple[str, str, str | None] | None:
    """(mailbox oid, key, occurrence date or None) of an id made by event_id; None if it is
    not one (malformed)."""
    try:
        raw = base64.b64decode(text.translate(str.maketrans("_-", "+/")), validate=True)
        if len(raw) not in (_ID_LEN, _OCC_LEN) or not raw.startswith(_ID_MAGIC):
            return None
        oid = raw[4:40].decode("ascii")
        key = raw[89:105].hex()
        occ = None
        if len(raw) == _OCC_LEN:
            y, m, d = struct.unpack(">HBB", raw[114:118])
            occ = dt.date(y, m, d).isoformat()
        if event_id(oid, key, occ) != text:
            return None
        return oid, key, occ
    except (ValueError, UnicodeDecodeError, struct.error):
        return None


def change_key(key: str, version: int) -> str:
    return base64.b64encode(hashlib.sha256(f"{key}:{version}".encode()).digest()[:16]
                            + b"\x00\x00" + struct.pack(">I", version)).decode()


# -- rendering an event --------------------------------------------------------------------------

EVENT_PROPERTIES = (
    "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "transactionId",
    "originalStartTimeZone", "originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart",
    "isReminderOn", "hasAttachments", "subject", "bodyPreview", "importance", "sensitivity",
    "isAllDay", "isCancelled", "isOrganizer", "responseRequested", "seriesMasterId", "showAs",
    "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting", "onlineMeetingProvider",
    "allowNewTimeProposals", "occurrenceId", "isDraft", "hideAttendees", "responseStatus", "body",
    "start", "end", "location", "locations", "recurrence", "attendees", "organizer",
    "onlineMeeting",
)
_EVENT_LOWER = {p.lower(): p for p in EVENT_PROPERTIES + ("id",)}
_TAG = re.compile(r"<[^>]*>")


@dataclass
class View:
    mailbox: Mailbox
    zone: Zone
    select: tuple[str, ...] | None = None
    text_body: bool = False


def plain_text(content: str, content_type: str) -> str:
    if content_type.lower() != "html":
        return content
    return html.unescape(_TAG.sub(" ", re.sub(r"(?is)<(style|head)[^>]*>.*?</\1>", " ", content)))


def _when(v: View, inst: Inst, which: str) -> dict:
    if inst.data.get("all_day"):
        zone = find_zone(inst.data["tz"]) or UTC_ZONE
        ts = inst.start if which == "start" else inst.end
        day = dt.datetime.fromtimestamp(ts, zone.tz).date()
        return {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": v.zone.label}
    ts = inst.start if which == "start" else inst.end
    return {"dateTime": fmt_local(ts, v.zone.tz), "timeZone": v.zone.label}


def render(v: View, inst: Inst) -> dict:
    """An event as Graph v1.0 writes it (property order included)."""
    d = inst.data
    key = inst.row["key"]
    oid = v.mailbox.oid
    eid = event_id(oid, key, inst.occ)
    master = event_id(oid, key) if inst.occ else None
    ck = change_key(key + (inst.occ or ""), inst.version)
    body = d["body"]
    content, ctype = body["content"], body["contentType"]
    if v.text_body and ctype == "html":
        content, ctype = plain_text(content, ctype).strip(), "text"
    elif ctype == "html" and content and not content.lstrip().lower().startswith("<html"):
        content = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
                   "charset=utf-8\"></head><body>" + content + "</body></html>")
    preview = " ".join(plain_text(body["content"], body["contentType"]).split())[:255]
    zone = find_zone(d["tz"]) or UTC_ZONE
    end_zone = find_zone(d.get("end_tz", d["tz"])) or zone
    ical = d["ical"]
    if inst.occ:
        day = dt.date.fromisoformat(inst.occ)
        ical = ical[:32] + f"{day.year:04X}{day.month:02X}{day.day:02X}" + ical[40:]
    modified = inst.row["modified"]
    props: dict[str, Any] = {
        "createdDateTime": fmt_utc(inst.row["created"]),
        "lastModifiedDateTime": fmt_utc(modified),
        "changeKey": ck,
        "categories": d["categories"],
        "transactionId": d.get("transaction_id"),
        "originalStartTimeZone": zone.windows,
        "originalEndTimeZone": end_zone.windows,
        "iCalUId": ical,
        "reminderMinutesBeforeStart": d["reminder"],
        "isReminderOn": d["reminder_on"],
        "hasAttachments": False,
        "subject": d["subject"],
        "bodyPreview": preview,
        "importance": d["importance"],
        "sensitivity": d["sensitivity"],
        "isAllDay": d["all_day"],
        "isCancelled": d["cancelled"],
        "isOrganizer": d["is_organizer"],
        "responseRequested": d["response_requested"],
        "seriesMasterId": master,
        "showAs": d["show_as"],
        "type": inst.kind,
        "webLink": ("https://outlook.office365.com/owa/?itemid=" + quote(eid, safe="")
                    + "&exvsurl=1&path=/calendar/item"),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": d["online"],
        "onlineMeetingProvider": "teamsForBusiness" if d["online"] else "unknown",
        "allowNewTimeProposals": d["allow_new_time_proposals"],
        "occurrenceId": f"OID.{master}.{inst.occ}" if inst.occ else None,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": d["response"],
        "body": {"contentType": ctype, "content": content},
        "start": _when(v, inst, "start"),
        "end": _when(v, inst, "end"),
        "location": d["location"],
        "locations": [d["location"]] if d["location"].get("displayName") else [],
        "recurrence": d["recurrence"] if inst.kind == "seriesMaster" else None,
        "attendees": d["attendees"],
        "organizer": {"emailAddress": {"name": d["organizer"]["name"],
                                       "address": d["organizer"]["address"]}},
        "onlineMeeting": {"joinUrl": d["join_url"]} if d["online"] else None,
    }
    out: dict[str, Any] = {"@odata.etag": f'W/"{ck}"', "id": eid}
    for name in EVENT_PROPERTIES:
        if v.select is None or name in v.select:
            out[name] = props[name]
    return out


# -- events from a seed or the admin API ---------------------------------------------------------


def _resolve_when(v: Any, day: dt.date, zone: Zone, now: float) -> float:
    if isinstance(v, dict):
        return float(int(now) + v["in_min"] * 60)
    m = _HHMM.fullmatch(v)
    if m:
        return local_ts(day, dt.time(int(m.group(1)), int(m.group(2))), zone.tz)
    return parse_iso(v, UTC).timestamp()


def _recurrence_from_spec(r: dict, first: dt.date, today: dt.date, zone: Zone) -> dict:
    pattern = r["pattern"]
    days = list(r.get("days") or [])
    if pattern == "daily" and days:
        pattern = "weekly"  # "every weekday" is a weekly pattern in Exchange
    if pattern == "weekly" and not days:
        days = [DAYS[first.weekday()]]
    if "count" in r:
        rtype, end, count = "numbered", None, r["count"]
    elif "until_day" in r:
        rtype, end, count = "endDate", today + dt.timedelta(days=r["until_day"]), 0
    else:
        rtype, end, count = "noEnd", None, 0
    return recurrence_json(pattern, r.get("interval", 1), days, "sunday", rtype, first, end,
                           count, zone)


def add_events_from_spec(t: Tenant, spec: dict, now: float) -> tuple[Mailbox, list[str]]:
    """Store the event(s) a checked seed/admin spec describes; (mailbox, keys). Times are
    relative to `now` on the tenant clock, in the office's time zone. ValueError if the times
    do not work out (an end before the start, a recurrence without occurrences)."""
    office = office_zone(t)
    mb = find_mailbox(t, spec["room"])
    if mb is None:
        raise ValueError(f"room: no mailbox {spec['room']}")
    today = dt.datetime.fromtimestamp(now, office.tz).date()
    day = today + dt.timedelta(days=spec.get("day", 0))
    all_day = spec.get("all_day", False)
    if all_day:
        first = parse_iso(spec["start"], office.tz).date() if "start" in spec else day
        start = local_ts(first, dt.time(0), office.tz)
        end = local_ts(first + dt.timedelta(days=spec.get("days", 1)), dt.time(0), office.tz)
    else:
        start = _resolve_when(spec["start"], day, office, now)
        if "minutes" in spec:
            end = start + spec["minutes"] * 60
        else:
            end = _resolve_when(spec["end"], day, office, now)
            if isinstance(spec["end"], str) and _HHMM.fullmatch(spec["end"]) and end <= start:
                end = _resolve_when(spec["end"], day + dt.timedelta(days=1), office, now)
            if end < start:
                raise ValueError("end: before the start")
    if "organizer" in spec:
        name, address = _person(spec["organizer"])
        known = find_mailbox(t, address)
        if known is not None:
            address, name = known.address, name or known.name
        organizer = (name or address, address)
    else:
        organizer = (mb.name, mb.address)
    invite = organizer[1].lower() != mb.address.lower()
    people = []
    for a in spec.get("attendees", []):
        name, address = _person(a)
        known = find_mailbox(t, address)
        people.append(attendee_json(name or (known.name if known else address),
                                known.address if known else address,
                                a.get("type", "required") if isinstance(a, dict) else "required"))
    text = spec.get("body", "")
    sensitivity = spec.get("sensitivity", "private" if spec.get("private") else "normal")
    repeat = spec.get("repeat") or {"count": 1}
    every = repeat.get("every_min", max(1, round((end - start) / 60))) * 60
    keys = []
    with t.store.tx() as db:
        for n in range(repeat["count"]):
            key = uuid.uuid4().hex
            s, e = start + n * every, end + n * every
            data = new_event(
                mb, subject=spec.get("subject", ""),
                body=f"<div>{html.escape(text)}</div>" if text else "", zone=office,
                all_day=all_day, organizer=organizer, attendees=people, sensitivity=sensitivity,
                show_as=spec.get("show_as", "free" if all_day else "busy"),
                importance=spec.get("importance", "normal"), categories=spec.get("categories"),
                cancelled=spec.get("cancelled", False),
                location=location_json(spec["location"]) if "location" in spec else None,
                online=spec.get("online", False), invite=invite, now=now, key=key)
            if "recurrence" in spec:
                first = dt.datetime.fromtimestamp(s, office.tz).date()
                rec = _recurrence_from_spec(spec["recurrence"], first, today, office)
                s, e = make_series(data, s, e, rec)
            insert_event(db, mb.address, key, data, s, e, now)
            keys.append(key)
    return mb, keys


# -- Graph's HTTP: headers, errors, the caller --------------------------------------------------


def _request_ids(req: Request) -> tuple[str, str]:
    """(request-id, client-request-id): Graph echoes the client's id, else repeats its own."""
    ids = req.notes.get("graph_ids")
    if ids is None:
        rid = str(uuid.uuid4())
        cid = (req.headers.get("client-request-id") or "").strip()
        if not cid or len(cid) > 100 or not cid.isprintable():
            cid = rid
        ids = req.notes["graph_ids"] = (rid, cid)
    return ids


def _headers(req: Request, extra: list[tuple[str, str]] | tuple = ()) -> list[tuple[str, str]]:
    rid, cid = _request_ids(req)
    return [("Cache-Control", "private"), ("Vary", "Accept-Encoding"),
            ("Strict-Transport-Security", "max-age=31536000"), ("request-id", rid),
            ("client-request-id", cid), ("x-ms-ags-diagnostic", DIAGNOSTIC),
            ("x-ms-resource-unit", "1"), ("OData-Version", "4.0"), *extra]


def ok(req: Request, obj: Any, status: int = 200,
       extra: list[tuple[str, str]] | tuple = ()) -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, _headers(req, extra), ODATA_JSON)


def no_content(req: Request, status: int) -> Response:
    return Response(status, b"", _headers(req), None)


def graph_error(req: Request, status: int, code: str, message: str,
                extra: list[tuple[str, str]] | tuple = ()) -> Response:
    """Graph's error JSON: {"error": {"code", "message", "innerError": {"date", "request-id",
    "client-request-id"}}}."""
    rid, cid = _request_ids(req)
    date = dt.datetime.fromtimestamp(req.tenant.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": date, "request-id": rid,
                                     "client-request-id": cid}}}
    req.notes["error"] = code
    return Response(status, json.dumps(body, separators=(",", ":")).encode(),
                    _headers(req, extra), ERROR_JSON)


def fail(req: Request, status: int, code: str, message: str,
         extra: list[tuple[str, str]] | tuple = ()) -> HttpError:
    return HttpError(graph_error(req, status, code, message, extra))


def denied(req: Request) -> HttpError:
    return fail(req, 403, "ErrorAccessDenied", ACCESS_DENIED)


def item_not_found(req: Request) -> HttpError:
    return fail(req, 404, "ErrorItemNotFound", NOT_FOUND)


def error_response(req: Request, status: int) -> Response:
    """What an injected status fault carries on a Graph route: Graph's error shape. (A
    `retry_after` in the fault adds Retry-After, as Graph's throttling answers carry.)"""
    mailbox_route = re.search(r"/(me|users/[^/]+)/(calendar|calendarview|events|sendmail)",
                              req.path, re.IGNORECASE) is not None
    if status == 429:
        if mailbox_route:
            return graph_error(req, 429, "ApplicationThrottled",
                               "Application is over its MailboxConcurrency limit.")
        return graph_error(req, 429, "TooManyRequests", "Too many requests.")
    if status == 503:
        return graph_error(req, 503, "serviceNotAvailable", "The service is not available. "
                           "Try the request again after a delay. There may be a Retry-After "
                           "header.")
    if status == 504:
        return graph_error(req, 504, "UnknownError", "The operation timed out.")
    if status >= 500:
        return graph_error(req, status, "generalException", "General exception while "
                           "processing.")
    if status == 401:
        return graph_error(req, 401, "InvalidAuthenticationToken", "Access token has expired "
                           "or is not yet valid.", [("WWW-Authenticate", _www_auth(req))])
    if status == 403:
        return graph_error(req, 403, "ErrorAccessDenied", ACCESS_DENIED)
    if status == 404:
        return graph_error(req, 404, "ErrorItemNotFound", NOT_FOUND)
    return graph_error(req, status, "BadRequest", "The request is malformed or incorrect.")


def _www_auth(req: Request) -> str:
    return (f'Bearer realm="", authorization_uri="{req.tenant.base_url}/common/oauth2/'
            f'authorize", client_id="{identity.GRAPH_APP_ID}"')


@dataclass
class Caller:
    claims: dict
    user: sqlite3.Row
    scopes: frozenset[str]
    mailbox: Mailbox

    @property
    def sa(self) -> bool:
        return bool(self.user["service_account"])


def authenticate(req: Request) -> Caller:
    """The signed-in user of the request's bearer token; 401 InvalidAuthenticationToken."""
    t = req.tenant
    try:
        claims = identity.authenticate(t, req.headers.get("Authorization"))
    except identity.AuthError as e:
        raise fail(req, 401, "InvalidAuthenticationToken", str(e),
                   [("WWW-Authenticate", _www_auth(req))]) from e
    user = t.store.one("SELECT * FROM users WHERE id = ?", (str(claims.get("oid")),))
    if user is None:
        raise fail(req, 401, "InvalidAuthenticationToken", "The token's user does not exist "
                   "in this tenant.", [("WWW-Authenticate", _www_auth(req))])
    event = identity.cae_refusal(t, claims, user)
    if event:
        # The claims challenge of a CAE-enabled API (Microsoft Learn, "Claims challenges,
        # claims requests and client capabilities"): a token issued after now will do.
        asked = {"access_token": {"nbf": {"essential": True, "value": str(int(t.now()))}}}
        raise fail(req, 401, "InvalidAuthenticationToken",
                   f"Continuous access evaluation resulted in challenge with result: "
                   f"InteractionRequired and code: {event}",
                   [("WWW-Authenticate", _www_auth(req) + ', error="insufficient_claims", '
                     f'claims="{base64.b64encode(json.dumps(asked).encode()).decode()}"')])
    scopes = frozenset(s.lower() for s in str(claims.get("scp", "")).split())
    return Caller(claims, user, scopes, user_mailbox(t, user))


def target(req: Request, c: Caller) -> Mailbox:
    """The mailbox a /me/... or /users/{id|upn}/... path names; 404 ErrorInvalidUser."""
    who = req.params.get("user")
    if who is None:
        return c.mailbox
    who = unquote(who)
    mb = find_mailbox(req.tenant, who)
    if mb is None:
        raise fail(req, 404, "ErrorInvalidUser", f"The requested user '{who}' is invalid.")
    return mb


def _segment(req: Request, mb: Mailbox) -> str:
    """The users('...') segment of @odata.context: the path's own spelling, or /me's id."""
    who = req.params.get("user")
    return quote(unquote(who), safe="") if who is not None else mb.oid


def need_calendar(req: Request, c: Caller, write: bool) -> tuple[Mailbox, str]:
    """The path's mailbox, if the token's scopes and the user's rights on it allow reading
    (or writing) its calendar: 403 ErrorAccessDenied, 404 ErrorInvalidUser."""
    if not c.scopes & (CAL_WRITE_OWN if write else CAL_READ_OWN):
        raise denied(req)
    mb = target(req, c)
    own = mb.oid == c.user["id"]
    wanted = (CAL_WRITE_OWN if own else CAL_WRITE_OTHER) if write else \
        (CAL_READ_OWN if own else CAL_READ_OTHER)
    if not c.scopes & wanted:
        raise denied(req)
    right = rights(req.tenant, c.user, mb)
    if right == "none" or (write and right == "reviewer"):
        raise denied(req)
    return mb, right


def prefer(req: Request) -> dict[str, str]:
    """The Prefer header(s): preference name (lower case) -> value, quotes removed."""
    out: dict[str, str] = {}
    for h in req.headers.get_all("Prefer") or []:
        for part in re.findall(r'(?:[^,"]|"[^"]*")+', h):
            k, _, v = part.strip().partition("=")
            if k.strip():
                out[k.strip().lower()] = v.strip().strip('"')
    return out


def out_zone(req: Request, prefs: dict[str, str], applied: list[str]) -> Zone:
    """The response's time zone: Prefer: outlook.timezone, else UTC; 400 if unsupported."""
    name = prefs.get("outlook.timezone")
    if name is None:
        return UTC_ZONE
    z = find_zone(name)
    if z is None:
        raise fail(req, 400, "TimeZoneNotSupportedException", "A valid TimeZone value must be "
                   f"specified. The following TimeZone value is not supported: '{name}'.")
    applied.append(f'outlook.timezone="{name}"')
    return Zone(name.strip(), z.tz, z.windows)


def _applied(applied: list[str]) -> list[tuple[str, str]]:
    return [("Preference-Applied", ", ".join(applied))] if applied else []


def qarg(req: Request, name: str) -> str | None:
    """A query parameter, its name matched case-insensitively (Graph's are)."""
    low = name.lower()
    for k, v in req.query.items():
        if k.lower() == low and v:
            return v[0]
    return None


def _count_option(req: Request, name: str, lo: int = 0) -> int | None:
    raw = qarg(req, name)
    if raw is None:
        return None
    if not re.fullmatch(r"\s*\d{1,9}\s*", raw) or int(raw) < lo:
        raise fail(req, 400, "BadRequest", f"Invalid value '{raw}' for the query option "
                   f"'{name}'.")
    return int(raw)


def parse_select(req: Request, raw: str | None, names: dict[str, str],
                 type_name: str) -> tuple[str, ...] | None:
    """The canonical property names of a $select value (None: no $select); 400 for a name the
    type does not have."""
    if raw is None:
        return None
    out = []
    for part in raw.split(","):
        p = part.strip()
        if not p:
            continue
        canon = names.get(p.lower())
        if canon is None:
            raise fail(req, 400, "RequestBroker--ParseUri",
                       f"Could not find a property named '{p}' on type '{type_name}'.")
        out.append(canon)
    return tuple(out)


ORDER_KEYS = {"start/datetime": "start", "end/datetime": "end", "subject": "subject",
              "createddatetime": "created", "lastmodifieddatetime": "modified",
              "start": "start", "end": "end"}


def parse_orderby(req: Request, raw: str | None) -> list[tuple[str, bool]]:
    """[(key, descending)] of $orderby (start/dateTime, end/dateTime, subject, created/
    lastModifiedDateTime); 400 for anything else."""
    if not raw:
        return []
    out = []
    for part in raw.split(","):
        words = part.split()
        if not words:
            continue
        key = ORDER_KEYS.get(words[0].lower())
        desc = len(words) > 1 and words[1].lower() == "desc"
        if key is None or len(words) > 2 or (len(words) == 2 and words[1].lower()
                                             not in ("asc", "desc")):
            raise fail(req, 400, "BadRequest", f"The $orderby expression '{part.strip()}' is "
                       "not supported.")
        out.append((key, desc))
    return out


def sort_instances(insts: list[Inst], order: list[tuple[str, bool]]) -> list[Inst]:
    def value(i: Inst, key: str) -> Any:
        if key == "subject":
            return i.data["subject"].lower()
        if key in ("created", "modified"):
            return i.row[key]
        return getattr(i, key)

    for key, desc in reversed(order):  # a stable sort per key, last key first
        insts = sorted(insts, key=lambda i, k=key: value(i, k), reverse=desc)
    return insts


def _pack(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()
                                    ).decode().rstrip("=")


def _unpack(req: Request, token: str, name: str) -> dict:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(state, dict):
            return state
    except ValueError:
        pass
    raise fail(req, 400, "BadRequest", f"The {name} value is not valid.")


def read_json(req: Request, what: str) -> dict:
    """The request's JSON object: 400 BadRequest (empty, not application/json) or
    RequestBodyRead (not JSON, not an object)."""
    if not req.body.strip():
        raise fail(req, 400, "BadRequest", "Empty Payload. JSON content expected.")
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise fail(req, 400, "BadRequest", "Unable to read JSON request payload. Please ensure "
                   "Content-Type header is set and payload is of valid JSON format.")
    try:
        obj = json.loads(req.body)
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        raise fail(req, 400, "RequestBodyRead", f"Invalid JSON. {msg} at position "
                   f"{getattr(e, 'pos', 0)} of the request body.") from e
    if not isinstance(obj, dict):
        raise fail(req, 400, "RequestBodyRead", f"Invalid JSON. A JSON object was expected for "
                   f"{what}.")
    return obj


def _lower_keys(req: Request, obj: dict, known: dict[str, str], what: str,
                ignored: frozenset[str] = frozenset()) -> dict[str, Any]:
    """obj's keys matched case-insensitively to their canonical names; 400 RequestBodyRead for
    an unknown one (annotations and read-only properties in `ignored` are skipped)."""
    out = {}
    for k, v in obj.items():
        low = k.lower()
        if low.startswith("@odata.") or low in ignored:
            continue
        if low not in known:
            raise fail(req, 400, "RequestBodyRead", what.format(name=k))
        out[known[low]] = v
    return out


def _bad_value(req: Request, name: str, value: Any, type_name: str) -> HttpError:
    text = json.dumps(value) if not isinstance(value, str) else value
    return fail(req, 400, "RequestBodyRead", f"Cannot convert the literal '{text[:80]}' to the "
                f"expected type '{type_name}' (property '{name}').")


# -- event bodies (create and update) ------------------------------------------------------------

EVENT_WRITABLE = {p.lower(): p for p in (
    "subject", "body", "start", "end", "isAllDay", "showAs", "sensitivity", "importance",
    "categories", "location", "locations", "attendees", "isReminderOn",
    "reminderMinutesBeforeStart", "responseRequested", "recurrence", "transactionId",
    "isOnlineMeeting", "onlineMeetingProvider", "allowNewTimeProposals", "hideAttendees")}
EVENT_IGNORED = frozenset(p.lower() for p in EVENT_PROPERTIES + ("id", "organizer")
                          if p.lower() not in EVENT_WRITABLE)
NO_SUCH_EVENT_PROPERTY = ("The property '{name}' does not exist on type 'microsoft.graph.event'. "
                          "Make sure to only use property names that are defined by the type or "
                          "mark the type as open type.")
VALIDATION = "At least one property failed validation."
BOOLEAN_FIELDS = {"isAllDay": "all_day", "isReminderOn": "reminder_on",
                  "responseRequested": "response_requested", "isOnlineMeeting": "online",
                  "allowNewTimeProposals": "allow_new_time_proposals", "hideAttendees": None}
ENUM_FIELDS = {"showAs": ("show_as", SHOW_AS, "microsoft.graph.freeBusyStatus"),
               "sensitivity": ("sensitivity", SENSITIVITY, "microsoft.graph.sensitivity"),
               "importance": ("importance", IMPORTANCE, "microsoft.graph.importance")}


def _parse_dtz(req: Request, name: str, v: Any) -> tuple[float, Zone]:
    if not isinstance(v, dict):
        raise _bad_value(req, name, v, "microsoft.graph.dateTimeTimeZone")
    low = {str(k).lower(): x for k, x in v.items()}
    tzname = low.get("timezone")
    zone = find_zone(tzname) if isinstance(tzname, str) else None
    if zone is None:
        shown = tzname if isinstance(tzname, str) else ""
        raise fail(req, 400, "TimeZoneNotSupportedException", "A valid TimeZone value must be "
                   f"specified. The following TimeZone value is not supported: '{shown}'.")
    d = parse_iso(low.get("datetime"), zone.tz)
    if d is None:
        raise fail(req, 400, "UnableToDeserializePostBody", "were unable to deserialize ")
    return d.timestamp(), zone


def _parse_people(req: Request, name: str, v: Any) -> list[dict]:
    """Attendees as Graph takes them; a name left out is the directory's."""
    if not isinstance(v, list):
        raise _bad_value(req, name, v, "Collection(microsoft.graph.attendee)")
    out = []
    for a in v:
        email = a.get("emailAddress") if isinstance(a, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(address, str) or not address:
            raise _bad_value(req, name, a, "microsoft.graph.attendee")
        kind = str(a.get("type") or "required").lower()
        if kind not in ("required", "optional", "resource"):
            raise _bad_value(req, name, a.get("type"), "microsoft.graph.attendeeType")
        out.append(attendee_json(email.get("name") or display_name(req.tenant, address), address,
                             kind))
    return out


def _parse_recurrence(req: Request, v: Any) -> dict:
    if not isinstance(v, dict) or not isinstance(v.get("pattern"), dict) or \
            not isinstance(v.get("range"), dict):
        raise _bad_value(req, "recurrence", v, "microsoft.graph.patternedRecurrence")
    p, r = v["pattern"], v["range"]
    ptype = str(p.get("type", "")).lower()
    rtype = {"numbered": "numbered", "enddate": "endDate", "noend": "noEnd"}.get(
        str(r.get("type", "")).lower())
    interval = p.get("interval", 1)
    days = [str(x).lower() for x in p.get("daysOfWeek") or []]
    first_day = str(p.get("firstDayOfWeek") or "sunday").lower()
    start = parse_iso(r.get("startDate"))
    end = parse_iso(r.get("endDate")) if rtype == "endDate" else None
    count = r.get("numberOfOccurrences", 0)
    zone = find_zone(r.get("recurrenceTimeZone") or "UTC") or UTC_ZONE
    if ptype not in ("daily", "weekly") or rtype is None or not _is_int(interval, 1, 99) or \
            not all(d in DAYS for d in days) or first_day not in DAYS or start is None or \
            (ptype == "weekly" and not days) or (rtype == "endDate" and end is None) or \
            (rtype == "numbered" and not _is_int(count, 1, 999)):
        raise fail(req, 400, "ErrorPropertyValidationFailure",
                   VALIDATION + " (This tenant expands daily and weekly patterns: give "
                   "pattern.type, interval, daysOfWeek for weekly, and range.type, startDate, "
                   "endDate or numberOfOccurrences.)")
    return recurrence_json(ptype, interval, days, first_day, rtype, start.date(),
                           end.date() if end else None, count if rtype == "numbered" else 0,
                           zone)


def parse_event(req: Request, obj: dict) -> dict[str, Any]:
    """An event body's properties (create or update), checked; keys are Graph's names."""
    fields = _lower_keys(req, obj, EVENT_WRITABLE, NO_SUCH_EVENT_PROPERTY, EVENT_IGNORED)
    out: dict[str, Any] = {}
    for name, v in fields.items():
        if name == "subject":
            if v is not None and not isinstance(v, str):
                raise _bad_value(req, name, v, "Edm.String")
            out[name] = v or ""
        elif name == "body":
            if not isinstance(v, dict):
                raise _bad_value(req, name, v, "microsoft.graph.itemBody")
            low = {str(k).lower(): x for k, x in v.items()}
            ctype = str(low.get("contenttype") or "text").lower()
            content = low.get("content") or ""
            if ctype not in ("text", "html"):
                raise _bad_value(req, name, low.get("contenttype"), "microsoft.graph.bodyType")
            if not isinstance(content, str):
                raise _bad_value(req, name, content, "Edm.String")
            out[name] = {"contentType": ctype, "content": content}
        elif name in ("start", "end"):
            out[name] = _parse_dtz(req, name, v)
        elif name in BOOLEAN_FIELDS:
            if not isinstance(v, bool):
                raise _bad_value(req, name, v, "Edm.Boolean")
            out[name] = v
        elif name in ENUM_FIELDS:
            _, allowed, type_name = ENUM_FIELDS[name]
            match = next((a for a in allowed if isinstance(v, str) and a.lower() == v.lower()),
                         None)
            if match is None:
                raise _bad_value(req, name, v, type_name)
            out[name] = match
        elif name == "categories":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise _bad_value(req, name, v, "Collection(Edm.String)")
            out[name] = v
        elif name in ("location", "locations"):
            loc = v[0] if name == "locations" and isinstance(v, list) and v else v
            if name == "locations" and v == []:
                loc = {}
            if not isinstance(loc, dict) or not isinstance(loc.get("displayName", ""), str):
                raise _bad_value(req, name, v, "microsoft.graph.location")
            if name == "location" or "location" not in fields:
                out["location"] = location_json(loc.get("displayName"))
        elif name == "attendees":
            out[name] = _parse_people(req, name, v)
        elif name == "reminderMinutesBeforeStart":
            if not _is_int(v, 0, 525600):
                raise _bad_value(req, name, v, "Edm.Int32")
            out[name] = v
        elif name == "transactionId":
            if v is not None and not isinstance(v, str):
                raise _bad_value(req, name, v, "Edm.String")
            out[name] = v
        elif name == "recurrence":
            if v is not None:
                out[name] = _parse_recurrence(req, v)
    return out


def apply_changes(target: dict, ch: dict[str, Any]) -> None:
    """Copy parsed changes (not start/end/recurrence) into stored event data (or into an
    occurrence's exception)."""
    if "subject" in ch:
        target["subject"] = ch["subject"]
        target["original_subject"] = ch["subject"]
    if "body" in ch:
        target["body"] = ch["body"]
    for name, internal in BOOLEAN_FIELDS.items():
        if name in ch and internal and name != "isAllDay":
            target[internal] = ch[name]
    if "isOnlineMeeting" in ch:
        target["join_url"] = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
                              f"{uuid.uuid4().hex[:24]}%40thread.v2/0" if ch["isOnlineMeeting"]
                              else None)
    for name, (internal, _, _) in ENUM_FIELDS.items():
        if name in ch:
            target[internal] = ch[name]
    if "showAs" in ch:
        target["intended_show_as"] = ch["showAs"]
    for name, internal in (("categories", "categories"), ("location", "location"),
                           ("attendees", "attendees"), ("reminderMinutesBeforeStart", "reminder"),
                           ("transactionId", "transaction_id")):
        if name in ch:
            target[internal] = ch[name]


class EventError(ValueError):
    """A change the calendar refuses, with Graph's error code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def check_times(start: float, end: float, all_day: bool, zone: Zone, end_zone: Zone) -> None:
    """EventError if an event cannot have these times."""
    if end < start:
        raise EventError("ErrorPropertyValidationFailure", VALIDATION + " (The end is before "
                         "the start.)")
    if all_day:
        s = dt.datetime.fromtimestamp(start, zone.tz)
        e = dt.datetime.fromtimestamp(end, end_zone.tz)
        if s.time() != dt.time(0) or e.time() != dt.time(0) or end <= start:
            raise EventError("ErrorPropertyValidationFailure", VALIDATION + " (An all-day "
                             "event starts and ends at midnight.)")


def _check_times(req: Request, start: float, end: float, all_day: bool, zone: Zone,
                 end_zone: Zone) -> None:
    try:
        check_times(start, end, all_day, zone, end_zone)
    except EventError as e:
        raise fail(req, 400, e.code, e.message) from None


# -- the calendar: calendarView, events ----------------------------------------------------------


def _view(req: Request, mb: Mailbox,
          select: tuple[str, ...] | None = None) -> tuple[View, list[str], dict[str, str]]:
    prefs = prefer(req)
    applied: list[str] = []
    zone = out_zone(req, prefs, applied)
    text = prefs.get("outlook.body-content-type", "").lower() == "text"
    if text:
        applied.append('outlook.body-content-type="text"')
    return View(mb, zone, select, text), applied, prefs


def _page_size(req: Request, top: int | None, prefs: dict[str, str], applied: list[str]) -> int:
    if top is not None:
        return min(top, MAX_PAGE)
    raw = prefs.get("odata.maxpagesize")
    if raw is not None and re.fullmatch(r"\d{1,9}", raw) and int(raw) >= 1:
        size = min(int(raw), MAX_PAGE)
        applied.append(f"odata.maxpagesize={size}")
        return size
    return DEFAULT_PAGE


def _window(req: Request) -> tuple[float, float]:
    s_raw, e_raw = qarg(req, "startDateTime"), qarg(req, "endDateTime")
    if not s_raw or not e_raw:
        raise fail(req, 400, "ErrorInvalidParameter", "This request requires a time window "
                   "specified by the query string parameters StartDateTime and EndDateTime.")
    s, e = parse_iso(s_raw), parse_iso(e_raw)
    for value, name, parsed in ((s_raw, "StartDateTime", s), (e_raw, "EndDateTime", e)):
        if parsed is None:
            raise fail(req, 400, "ErrorInvalidParameter", f"The value '{value}' of parameter "
                       f"'{name}' is invalid.")
    if e < s:
        raise fail(req, 400, "ErrorInvalidParameter", "The value of parameter 'EndDateTime' "
                   "must be later than the value of parameter 'StartDateTime'.")
    return s.timestamp(), e.timestamp()


def calendar_view(req: Request) -> Response:
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=False)
    token = qarg(req, "$skiptoken")
    if token:
        st = _unpack(req, token, "$skiptoken")
        try:
            ws, we, offset = float(st["s"]), float(st["e"]), int(st["n"])
            sel_raw, order_raw, top = st.get("sel"), st.get("o"), st.get("top")
        except (KeyError, TypeError, ValueError):
            raise fail(req, 400, "BadRequest", "The $skiptoken value is not valid.") from None
    else:
        ws, we = _window(req)
        sel_raw, order_raw = qarg(req, "$select"), qarg(req, "$orderby")
        top = _count_option(req, "$top", 1)
        offset = _count_option(req, "$skip") or 0
    select = parse_select(req, sel_raw, _EVENT_LOWER, "microsoft.graph.event")
    order = parse_orderby(req, order_raw)
    view, applied, prefs = _view(req, mb, select)
    size = _page_size(req, top, prefs, applied)
    insts = sort_instances(instances(t, mb.address, ws, we), order)
    page = insts[offset:offset + size]
    context = f"{t.base_url}/v1.0/$metadata#users('{_segment(req, mb)}')/calendarView"
    if select:
        context += f"({','.join(select)})"
    body: dict[str, Any] = {"@odata.context": context, "value": [render(view, i) for i in page]}
    if offset + size < len(insts):
        state = {"s": ws, "e": we, "n": offset + size, "sel": sel_raw, "o": order_raw,
                 "top": top}
        body["@odata.nextLink"] = (f"{t.base_url}{req.path}?startDateTime={quote(iso_z(ws))}"
                                   f"&endDateTime={quote(iso_z(we))}&%24skiptoken={_pack(state)}")
    return ok(req, body, extra=_applied(applied))


def _delta_items(t: Tenant, v: View, ws: float, we: float, since: int | None) -> list[dict]:
    """A delta round's items: every instance in the window (first round), or what changed
    after change number `since`: instances of changed events, and @removed entries."""
    mb = v.mailbox
    if since is None:
        return [render(v, i) for i in instances(t, mb.address, ws, we)]
    rows = t.store.all("SELECT * FROM graph_events WHERE mailbox = ? AND seq > ?",
                       (mb.address, since))
    changed = sorted((i for r in rows for i in expand(r, ws, we)),
                     key=lambda i: (i.start, i.end, i.occ or ""))
    out = [render(v, i) for i in changed]
    gone: list[tuple[str, str | None]] = []
    for r in t.store.all("SELECT * FROM graph_removed WHERE mailbox = ? AND seq > ? AND "
                         "start < ? AND end > ? ORDER BY seq", (mb.address, since, we, ws)):
        old = json.loads(r["row"]) if r["row"] else None
        if r["occ"] is None and old and json.loads(old["data"]).get("recurrence"):
            gone += [(r["key"], i.occ) for i in expand(old, ws, we)]
        else:
            gone.append((r["key"], r["occ"]))
    live = {(r["key"]) for r in rows}
    for key, occ in gone:
        if key not in live or occ is not None:
            out.append({"@odata.type": "#microsoft.graph.event", "id": event_id(mb.oid, key, occ),
                        "@removed": {"reason": "deleted"}})
    return out


def calendar_view_delta(req: Request) -> Response:
    """GET .../calendarView/delta: a first round of every instance in the window, paged
    (Prefer: odata.maxpagesize) and ended by an @odata.deltaLink; that link then returns only
    what changed since (events as a whole, removals as {"id", "@removed"})."""
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=False)
    skip, delta = qarg(req, "$skiptoken"), qarg(req, "$deltatoken")
    try:
        if skip or delta:
            st = _unpack(req, skip or delta, "$skiptoken" if skip else "$deltatoken")
            ws, we = float(st["s"]), float(st["e"])
            if delta:
                since, snap, offset = int(st["q"]), _current_seq(t), 0
            else:
                since = None if st.get("since") is None else int(st["since"])
                snap, offset = int(st["q"]), int(st["n"])
        else:
            ws, we = _window(req)
            since, snap, offset = None, _current_seq(t), 0
    except (KeyError, TypeError, ValueError):
        raise fail(req, 400, "BadRequest", "The delta token is not valid.") from None
    view, applied, prefs = _view(req, mb)
    size = _page_size(req, None, prefs, applied)
    items = _delta_items(t, view, ws, we, since)
    body: dict[str, Any] = {"@odata.context": f"{t.base_url}/v1.0/$metadata#Collection(event)",
                            "value": items[offset:offset + size]}
    if offset + size < len(items):
        state = {"s": ws, "e": we, "since": since, "q": snap, "n": offset + size}
        body["@odata.nextLink"] = f"{t.base_url}{req.path}?%24skiptoken={_pack(state)}"
    else:
        body["@odata.deltaLink"] = (f"{t.base_url}{req.path}?%24deltatoken="
                                    f"{_pack({'s': ws, 'e': we, 'q': snap})}")
    return ok(req, body, extra=_applied(applied))


def list_events(req: Request) -> Response:
    """GET .../events: single events and series masters (no occurrences), paged with $skip."""
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=False)
    select = parse_select(req, qarg(req, "$select"), _EVENT_LOWER, "microsoft.graph.event")
    order = parse_orderby(req, qarg(req, "$orderby"))
    top = _count_option(req, "$top", 1)
    offset = _count_option(req, "$skip") or 0
    view, applied, prefs = _view(req, mb, select)
    size = _page_size(req, top, prefs, applied)
    rows = t.store.all("SELECT * FROM graph_events WHERE mailbox = ? ORDER BY start, created",
                       (mb.address,))
    insts = sort_instances([master_inst(r) for r in rows], order)
    page = insts[offset:offset + size]
    context = f"{t.base_url}/v1.0/$metadata#users('{_segment(req, mb)}')/events"
    if select:
        context += f"({','.join(select)})"
    body: dict[str, Any] = {"@odata.context": context, "value": [render(view, i) for i in page]}
    if offset + size < len(insts):
        keep = [(k, v[0]) for k, v in req.query.items() if k.lower() not in ("$skip", "$top")]
        keep += [("$top", str(size)), ("$skip", str(offset + size))]
        body["@odata.nextLink"] = f"{t.base_url}{req.path}?" + "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in keep)
    return ok(req, body, extra=_applied(applied))


class BadId(ValueError):
    """A text that is not an event id at all (malformed)."""


def lookup_inst(t: Tenant, mb: Mailbox, raw: str) -> Inst:
    """The event (or occurrence) an id names in mailbox `mb`: BadId if it is not an id,
    LookupError if no such event or occurrence is in that mailbox (the EWS side uses it too)."""
    parsed = parse_event_id(raw)
    if parsed is None:
        raise BadId(raw)
    oid, key, occ = parsed
    row = t.store.one("SELECT * FROM graph_events WHERE key = ?", (key,))
    if row is None or oid != mb.oid.lower() or row["mailbox"].lower() != mb.address.lower():
        raise LookupError(raw)
    inst = occurrence_inst(row, occ) if occ else master_inst(row)
    if inst is None:
        raise LookupError(raw)
    return inst


def find_inst(req: Request, mb: Mailbox) -> Inst:
    """The event (or occurrence) the path's id names in mailbox `mb`: 400 ErrorInvalidIdMalformed,
    404 ErrorItemNotFound."""
    try:
        return lookup_inst(req.tenant, mb, unquote(req.params["id"]))
    except BadId:
        raise fail(req, 400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
    except LookupError:
        raise item_not_found(req) from None


def _event_response(req: Request, mb: Mailbox, inst: Inst, status: int = 200,
                    extra: list[tuple[str, str]] | None = None) -> Response:
    view, applied, _ = _view(req, mb, parse_select(req, qarg(req, "$select"), _EVENT_LOWER,
                                                   "microsoft.graph.event"))
    body = {"@odata.context": f"{req.tenant.base_url}/v1.0/$metadata#users('"
                              f"{_segment(req, mb)}')/events/$entity", **render(view, inst)}
    return ok(req, body, status, (extra or []) + _applied(applied))


def get_event(req: Request) -> Response:
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=False)
    return _event_response(req, mb, find_inst(req, mb))


def create_event(req: Request) -> Response:
    """POST .../events: an event the caller writes straight into the calendar. In a room's
    calendar the room is its organizer and nothing is processed: no invitation goes through the
    room's Resource Booking Attendant, so no conflict check and no subject rewriting."""
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=True)
    ch = parse_event(req, read_json(req, "an event"))
    if "start" not in ch or "end" not in ch:
        raise fail(req, 400, "ErrorPropertyValidationFailure", VALIDATION + " (An event needs "
                   "start and end.)")
    (start, zone), (end, end_zone) = ch["start"], ch["end"]
    all_day = ch.get("isAllDay", False)
    _check_times(req, start, end, all_day, zone, end_zone)
    now = t.now()
    key = uuid.uuid4().hex
    body = ch.get("body", {"contentType": "html", "content": ""})
    data = new_event(mb, subject=ch.get("subject", ""), body=body["content"],
                     body_type=body["contentType"], zone=zone, end_zone=end_zone,
                     all_day=all_day, organizer=(mb.name, mb.address),
                     attendees=ch.get("attendees"), location=ch.get("location"),
                     sensitivity=ch.get("sensitivity", "normal"),
                     show_as=ch.get("showAs", "busy"), importance=ch.get("importance", "normal"),
                     categories=ch.get("categories"), online=ch.get("isOnlineMeeting", False),
                     invite=False, now=now, key=key)
    apply_changes(data, {k: v for k, v in ch.items() if k not in ("subject", "body")})
    if "recurrence" in ch:
        try:
            start, end = make_series(data, start, end, ch["recurrence"])
        except ValueError:
            raise fail(req, 400, "ErrorPropertyValidationFailure", VALIDATION) from None
    with t.store.tx() as db:
        insert_event(db, mb.address, key, data, start, end, now)
    row = t.store.one("SELECT * FROM graph_events WHERE key = ?", (key,))
    inst = master_inst(row)
    location = (f"{t.base_url}/v1.0/Users('{mb.oid}')/Events('"
                f"{event_id(mb.oid, key)}')")
    return _event_response(req, mb, inst, 201, [("Location", location)])


def update_event(req: Request) -> Response:
    """PATCH .../events/{id}: an event, a series master, or one occurrence (which becomes an
    exception). 200 with the whole event, a new changeKey."""
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=True)
    inst = find_inst(req, mb)
    ch = parse_event(req, read_json(req, "an event"))
    try:
        fresh = update_instance(t, inst, ch, t.now())
    except EventError as e:
        raise fail(req, 400, e.code, e.message) from None
    return _event_response(req, mb, fresh)


def update_instance(t: Tenant, inst: Inst, ch: dict[str, Any], now: float) -> Inst:
    """Apply parsed changes (parse_event's keys) to an event, a series master or one occurrence
    (which becomes an exception); the instance after the change. EventError if the times do not
    work out. Graph's PATCH and EWS's UpdateItem both come here."""
    with t.store.tx() as db:
        row = db.execute("SELECT * FROM graph_events WHERE key = ?", (inst.row["key"],)
                         ).fetchone()
        data = json.loads(row["data"])
        zone = find_zone(ch["start"][1].label if "start" in ch else inst.data["tz"]) or UTC_ZONE
        end_zone = find_zone(ch["end"][1].label if "end" in ch else
                             inst.data.get("end_tz", inst.data["tz"])) or zone
        start = ch["start"][0] if "start" in ch else inst.start
        end = ch["end"][0] if "end" in ch else inst.end
        all_day = ch.get("isAllDay", inst.data["all_day"]) if not inst.occ else \
            inst.data["all_day"]
        check_times(start, end, all_day, zone, end_zone)
        data["all_day"] = data["all_day"] if inst.occ else all_day
        if inst.occ:
            exc = dict(data.setdefault("exceptions", {}).get(inst.occ, {}))
            apply_changes(exc, ch)
            if "start" in ch or "end" in ch:
                exc.update(start=start, end=end, tz=zone.label, end_tz=end_zone.label)
            exc["version"] = inst.version + 1
            data["exceptions"][inst.occ] = exc
            save_event(db, row, data, row["start"], row["end"], now)
        else:
            apply_changes(data, ch)
            data["tz"], data["end_tz"] = zone.label, end_zone.label
            rec = ch.get("recurrence", data.get("recurrence"))
            if rec and ("start" in ch or "end" in ch or "recurrence" in ch):
                if "recurrence" not in ch and "start" in ch:
                    local = dt.datetime.fromtimestamp(start, zone.tz).date()
                    rec = {**rec, "range": {**rec["range"], "startDate": local.isoformat()}}
                try:
                    start, end = make_series(data, start, end, rec)
                except ValueError:
                    raise EventError("ErrorPropertyValidationFailure", VALIDATION) from None
            save_event(db, row, data, start, end, now)
    row = t.store.one("SELECT * FROM graph_events WHERE key = ?", (inst.row["key"],))
    fresh = occurrence_inst(row, inst.occ) if inst.occ else master_inst(row)
    if fresh is None:
        raise EventError("ErrorItemNotFound", NOT_FOUND)
    return fresh


def _people(d: dict, skip: str) -> list[dict]:
    return [{"name": a["emailAddress"]["name"], "address": a["emailAddress"]["address"]}
            for a in d["attendees"] if a["emailAddress"]["address"].lower() != skip.lower()]


def outbox_add(db: sqlite3.Connection, now: float, **mail: Any) -> None:
    db.execute("INSERT INTO graph_outbox(time, data) VALUES(?, ?)", (now, json.dumps(mail)))


def _remove_instance(db: sqlite3.Connection, inst: Inst, now: float) -> None:
    """Take an event (or one occurrence) out of its calendar."""
    row = db.execute("SELECT * FROM graph_events WHERE key = ?", (inst.row["key"],)).fetchone()
    if row is None:
        return
    if inst.occ:
        data = json.loads(row["data"])
        data.setdefault("exceptions", {})[inst.occ] = {"deleted": True}
        save_event(db, row, data, row["start"], row["end"], now)
        db.execute("INSERT INTO graph_removed(key, occ, mailbox, start, end, seq) "
                   "VALUES(?, ?, ?, ?, ?, ?)", (row["key"], inst.occ, row["mailbox"], inst.start,
                                                inst.end, _next_seq(db)))
    else:
        remove_event(db, row, inst.start, inst.end)


def mail_address(mb: Mailbox) -> dict:
    return {"name": mb.name, "address": mb.address}


def delete_event(req: Request) -> Response:
    """DELETE .../events/{id}: 204. An organizer's meeting with attendees sends them a
    cancellation (into the outbox), as Graph documents."""
    t = req.tenant
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=True)
    inst = find_inst(req, mb)
    delete_instance(t, inst, mb, c.mailbox, t.now())
    return no_content(req, 204)


def delete_instance(t: Tenant, inst: Inst, mb: Mailbox, actor: Mailbox, now: float,
                    notify: bool = True) -> None:
    """Take an event (or one occurrence) out of `mb`'s calendar; an organizer's meeting with
    attendees sends them a cancellation (into the outbox) unless `notify` is false."""
    with t.store.tx() as db:
        _remove_instance(db, inst, now)
        people = _people(inst.data, mb.address)
        if notify and inst.data["is_organizer"] and people and not inst.data["cancelled"]:
            outbox_add(db, now, kind="cancel", **{"from": mail_address(mb)},
                       sender=mail_address(actor), to=people, cc=[], bcc=[],
                       subject="Canceled: " + inst.data["original_subject"], body="",
                       content_type="html", event_id=event_id(mb.oid, inst.row["key"], inst.occ))


RESPONSE_PARAMS = {"comment": "comment", "sendresponse": "sendResponse",
                   "proposednewtime": "proposedNewTime"}


def respond(req: Request) -> Response:
    """POST .../events/{id}/accept|tentativelyAccept|decline|cancel: 202, no body. Declining
    takes the meeting out of the calendar and (sendResponse, default true) tells the organizer;
    cancel is for the organizer and tells the attendees."""
    t = req.tenant
    action = req.params["action"].lower()
    name = {"accept": "accept", "tentativelyaccept": "tentativelyAccept", "decline": "decline",
            "cancel": "cancel"}[action]
    c = authenticate(req)
    mb, _ = need_calendar(req, c, write=True)
    inst = find_inst(req, mb)
    params = _lower_keys(req, read_json(req, name) if req.body.strip() else {},
                         {"comment": "comment", **({} if action == "cancel" else {
                             "sendresponse": "sendResponse",
                             "proposednewtime": "proposedNewTime"})},
                         f"The parameter '{{name}}' in the request payload is not a valid "
                         f"parameter for the operation '{name}'.")
    comment = params.get("comment", "")
    send = params.get("sendResponse", True)
    if not isinstance(comment, str):
        raise _bad_value(req, "comment", comment, "Edm.String")
    if not isinstance(send, bool):
        raise _bad_value(req, "sendResponse", send, "Edm.Boolean")
    d = inst.data
    if action == "cancel":
        if not d["is_organizer"]:
            raise fail(req, 400, "ErrorInvalidRequest", "Your request can't be completed. You "
                       "need to be an organizer to cancel a meeting.")
    elif d["is_organizer"]:
        raise fail(req, 400, "ErrorInvalidRequest", "Your request can't be completed. You can't "
                   "respond to this meeting because you're the meeting organizer.")
    if "proposedNewTime" in params and not send:
        raise fail(req, 400, "ErrorInvalidRequest", "Your request can't be completed. A new "
                   "time can be proposed only with a response (sendResponse true).")
    respond_to(t, inst, mb, c.mailbox, name, comment, send, t.now())
    return no_content(req, 202)


def respond_to(t: Tenant, inst: Inst, mb: Mailbox, actor: Mailbox, action: str, comment: str,
               send: bool, now: float) -> None:
    """`mb`'s answer to a meeting in its calendar, given by `actor` (the signed-in user):
    accept, tentativelyAccept, decline (the meeting leaves the calendar; with `send` the
    organizer gets the response) or cancel (the organizer's: the attendees are told). The
    caller has checked who may do which."""
    action = action.lower()
    name = {"accept": "accept", "tentativelyaccept": "tentativelyAccept", "decline": "decline",
            "cancel": "cancel"}[action]
    d = inst.data
    eid = event_id(mb.oid, inst.row["key"], inst.occ)
    organizer = [dict(d["organizer"])]
    with t.store.tx() as db:
        if action in ("decline", "cancel"):
            _remove_instance(db, inst, now)
        else:
            row = db.execute("SELECT * FROM graph_events WHERE key = ?", (inst.row["key"],)
                             ).fetchone()
            data = json.loads(row["data"])
            change = {"response": {"response": "accepted" if action == "accept" else
                                   "tentativelyAccepted", "time": iso_z(now)},
                      "show_as": d.get("intended_show_as", "busy") if action == "accept" else
                      "tentative"}
            if inst.occ:
                exc = data.setdefault("exceptions", {}).setdefault(inst.occ, {})
                exc.update(change, version=inst.version + 1)
            else:
                data.update(change)
            save_event(db, row, data, row["start"], row["end"], now)
        if action == "cancel":
            people = _people(d, mb.address)
            if people:
                outbox_add(db, now, kind="cancel", **{"from": mail_address(mb)},
                           sender=mail_address(actor), to=people, cc=[], bcc=[],
                           subject="Canceled: " + d["original_subject"], body=comment,
                           content_type="text", event_id=eid)
        elif send:
            prefix = {"accept": "Accepted", "tentativelyaccept": "Tentative",
                      "decline": "Declined"}[action]
            outbox_add(db, now, kind=name, **{"from": mail_address(mb)},
                       sender=mail_address(actor), to=organizer, cc=[], bcc=[],
                       subject=f"{prefix}: {d['original_subject']}", body=comment,
                       content_type="text", event_id=eid)


# -- getSchedule ---------------------------------------------------------------------------------

SCHEDULE_PARAMS = {"schedules": "schedules", "starttime": "startTime", "endtime": "endTime",
                   "availabilityviewinterval": "availabilityViewInterval"}
MAX_SCHEDULES = 100
MAX_SCHEDULE_DAYS = 62


def working_hours(t: Tenant, mb: Mailbox) -> dict:
    office = office_zone(t)
    wh = (mb.room or {}).get("working_hours") or {}
    return {"daysOfWeek": wh.get("days", list(DAYS[:5])),
            "startTime": f"{wh.get('start', '08:00')}:00.0000000",
            "endTime": f"{wh.get('end', '17:00')}:00.0000000",
            "timeZone": {"name": office.windows}}


def get_schedule(req: Request) -> Response:
    """POST .../calendar/getSchedule: free/busy of up to 100 addresses. Subjects and locations
    of others' meetings are shown only where the caller has rights on that calendar (a room's
    delegate right), never for private meetings; an unknown address is an item with `error`."""
    t = req.tenant
    c = authenticate(req)
    if not c.scopes & CAL_READ_OWN:
        raise denied(req)
    mb = target(req, c)
    if mb.oid != c.user["id"] and (not c.scopes & CAL_READ_OTHER
                                   or rights(t, c.user, mb) == "none"):
        raise denied(req)
    p = _lower_keys(req, read_json(req, "getSchedule"), SCHEDULE_PARAMS,
                    "The parameter '{name}' in the request payload is not a valid parameter "
                    "for the operation 'getSchedule'.")
    schedules = p.get("schedules")
    if not isinstance(schedules, list) or not schedules or \
            not all(isinstance(s, str) and s.strip() for s in schedules):
        raise fail(req, 400, "ErrorInvalidParameter", "The parameter 'Schedules' needs at "
                   "least one SMTP address.")
    if len(schedules) > MAX_SCHEDULES:
        raise fail(req, 400, "ErrorInvalidParameter", f"Too many schedules: at most "
                   f"{MAX_SCHEDULES} addresses at once.")
    for name in ("startTime", "endTime"):
        if name not in p:
            raise fail(req, 400, "ErrorInvalidParameter", f"The parameter '{name[0].upper()}"
                       f"{name[1:]}' is required.")
    ws, _ = _parse_dtz(req, "startTime", p["startTime"])
    we, _ = _parse_dtz(req, "endTime", p["endTime"])
    interval = p.get("availabilityViewInterval", 30)
    if isinstance(interval, str) and re.fullmatch(r"\s*\d{1,5}\s*", interval):
        interval = int(interval)
    if not _is_int(interval) or not 5 <= interval <= 1440:
        raise fail(req, 400, "ErrorInvalidParameter", "The value of 'AvailabilityViewInterval' "
                   "must be between 5 and 1440 minutes.")
    if we <= ws:
        raise fail(req, 400, "ErrorInvalidParameter", "The end time must be later than the "
                   "start time.")
    if we - ws >= MAX_SCHEDULE_DAYS * 86400:
        raise fail(req, 400, "ErrorInvalidParameter", f"The time period must be less than "
                   f"{MAX_SCHEDULE_DAYS} days.")
    view, applied, _ = _view(req, mb)
    zone = view.zone
    slot = interval * 60
    slots = math.ceil((we - ws) / slot)
    values = []
    for address in schedules:
        who = find_mailbox(t, address)
        if who is None:
            values.append({"scheduleId": address, "error": {
                "message": f"Unable to resolve e-mail address {address} to an Active Directory "
                           "object.", "responseCode": "5009"}})
            continue
        detail = who.oid == c.user["id"] or rights(t, c.user, who) != "none"
        items, busy = [], []
        for i in instances(t, who.address, ws, we):
            d = i.data
            if d["cancelled"]:
                continue
            private = d["sensitivity"] in ("private", "confidential")
            item: dict[str, Any] = {}
            if detail:
                item["isPrivate"] = private
            item["status"] = d["show_as"]
            if detail and not private:
                item["subject"] = d["subject"]
                item["location"] = d["location"].get("displayName", "")
            item["start"] = {"dateTime": fmt_local(i.start, zone.tz), "timeZone": zone.label}
            item["end"] = {"dateTime": fmt_local(i.end, zone.tz), "timeZone": zone.label}
            items.append(item)
            busy.append((i.start, i.end, AVAILABILITY.get(d["show_as"], "0")))
        view_digits = []
        for n in range(slots):
            s0, s1 = ws + n * slot, min(we, ws + (n + 1) * slot)
            digit = max((code for a, b, code in busy if a < s1 and b > s0), default="0")
            view_digits.append(digit)
        values.append({"scheduleId": address, "availabilityView": "".join(view_digits),
                       "scheduleItems": items, "workingHours": working_hours(t, who)})
    return ok(req, {"@odata.context": f"{t.base_url}/v1.0/$metadata#Collection(microsoft.graph."
                                      "scheduleInformation)", "value": values},
              extra=_applied(applied))


# -- sendMail ------------------------------------------------------------------------------------

SENDMAIL_PARAMS = {"message": "message", "savetosentitems": "saveToSentItems"}
MESSAGE_PROPERTIES = {p.lower(): p for p in (
    "subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from",
    "sender", "importance", "isDeliveryReceiptRequested", "isReadReceiptRequested",
    "internetMessageHeaders", "attachments", "flag", "categories")}
NO_RECIPIENTS = ("At least one recipient isn't valid., A message can't be sent because it "
                 "contains no recipients.")
SEND_AS_DENIED = ("The user account which was used to submit this request does not have the "
                  "right to send mail on behalf of the specified sending account., Cannot "
                  "submit message.")


def _recipients(req: Request, name: str, v: Any) -> list[dict]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise _bad_value(req, name, v, "Collection(microsoft.graph.recipient)")
    out = []
    for r in v:
        email = r.get("emailAddress") if isinstance(r, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not _is_smtp(address):
            raise fail(req, 400, "ErrorInvalidRecipients", "At least one recipient isn't "
                       f"valid., Recipient '{address or ''}' isn't resolved. All recipients "
                       "must be resolved before a message can be submitted.")
        name_ = email.get("name")
        out.append({"name": name_ if isinstance(name_, str) and name_ else address,
                    "address": address})
    return out


def send_mail(req: Request) -> Response:
    """POST .../sendMail: 202; the message lands in the outbox (GET /_admin/outbox). Sending as
    another mailbox takes Mail.Send.Shared and a SendAs right (a room's `send_as`)."""
    t = req.tenant
    c = authenticate(req)
    if not c.scopes & MAIL_SEND:
        raise denied(req)
    mb = target(req, c)
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "text/plain":
        raise fail(req, 400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for "
                   "MIME content. (This tenant takes sendMail as JSON only.)")
    p = _lower_keys(req, read_json(req, "sendMail"), SENDMAIL_PARAMS,
                    "The parameter '{name}' in the request payload is not a valid parameter "
                    "for the operation 'sendMail'.")
    msg = p.get("message")
    if not isinstance(msg, dict):
        raise fail(req, 400, "ErrorInvalidParameter", "The parameter 'Message' is required "
                   "(a message object).")
    m = _lower_keys(req, msg, MESSAGE_PROPERTIES,
                    "The property '{name}' does not exist on type 'microsoft.graph.message'. "
                    "Make sure to only use property names that are defined by the type or mark "
                    "the type as open type.")
    subject = m.get("subject") or ""
    if not isinstance(subject, str):
        raise _bad_value(req, "subject", subject, "Edm.String")
    body = m.get("body") or {}
    if not isinstance(body, dict):
        raise _bad_value(req, "body", body, "microsoft.graph.itemBody")
    low = {str(k).lower(): x for k, x in body.items()}
    content_type = str(low.get("contenttype") or "text").lower()
    content = low.get("content") or ""
    if content_type not in ("text", "html"):
        raise _bad_value(req, "body", low.get("contenttype"), "microsoft.graph.bodyType")
    if not isinstance(content, str):
        raise _bad_value(req, "body", content, "Edm.String")
    to = _recipients(req, "toRecipients", m.get("toRecipients"))
    cc = _recipients(req, "ccRecipients", m.get("ccRecipients"))
    bcc = _recipients(req, "bccRecipients", m.get("bccRecipients"))
    if not (to or cc or bcc):
        raise fail(req, 400, "ErrorInvalidRecipients", NO_RECIPIENTS)
    save = p.get("saveToSentItems", True)
    if isinstance(save, str) and save.lower() in ("true", "false"):
        save = save.lower() == "true"
    if not isinstance(save, bool):
        raise _bad_value(req, "saveToSentItems", save, "Edm.Boolean")
    acting = mb
    if m.get("from") is not None:
        sender = _recipients(req, "from", [m["from"]])[0]
        acting = find_mailbox(t, sender["address"]) or Mailbox(
            sender["address"], sender["name"], "", sender["address"])
    if acting.oid != c.user["id"]:
        if not c.scopes & MAIL_SEND_OTHER:
            raise denied(req)
        if not (c.sa and acting.room is not None and acting.room.get("send_as")):
            raise fail(req, 403, "ErrorSendAsDenied", SEND_AS_DENIED)
    with t.store.tx() as db:
        outbox_add(db, t.now(), kind="mail", **{"from": mail_address(acting)},
                   sender=mail_address(c.mailbox), to=to, cc=cc, bcc=bcc, subject=subject,
                   body=content, content_type=content_type, save_to_sent_items=save,
                   importance=str(m.get("importance") or "normal"))
    return no_content(req, 202)


# -- users ---------------------------------------------------------------------------------------

USER_DEFAULT = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
USER_EXTRA = ("accountEnabled", "department", "companyName", "mailNickname", "userType",
              "usageLocation", "proxyAddresses", "city", "country")
_USER_LOWER = {p.lower(): p for p in USER_DEFAULT + USER_EXTRA}
INSUFFICIENT = "Insufficient privileges to complete the operation."


def user_resource(mb: Mailbox) -> dict:
    u = mb.user
    room = mb.room
    return {
        "businessPhones": [room["phone"]] if room and room.get("phone") else [],
        "displayName": mb.name,
        "givenName": u["given_name"] if u is not None else None,
        "jobTitle": u["job_title"] if u is not None else None,
        "mail": mb.address,
        "mobilePhone": None,
        "officeLocation": room.get("building") if room else None,
        "preferredLanguage": "en-US" if u is not None else None,
        "surname": u["surname"] if u is not None else None,
        "userPrincipalName": mb.upn,
        "id": mb.oid,
        "accountEnabled": u is not None,
        "department": None, "companyName": None,
        "mailNickname": mb.address.split("@")[0],
        "userType": "Member", "usageLocation": None,
        "proxyAddresses": [f"SMTP:{mb.address}"], "city": None, "country": None,
    }


def get_user(req: Request) -> Response:
    """GET /me and /users/{id|upn}: the user resource (default properties, or $select). Room
    mailboxes are users too, as in Entra."""
    t = req.tenant
    c = authenticate(req)
    if not c.scopes & USER_SELF:
        raise fail(req, 403, "Authorization_RequestDenied", INSUFFICIENT)
    who = req.params.get("user")
    mb = c.mailbox if who is None else find_mailbox(t, unquote(who))
    if mb is None:
        raise fail(req, 404, "Request_ResourceNotFound", f"Resource '{unquote(who)}' does not "
                   "exist or one of its queried reference-property objects are not present.")
    if mb.oid != c.user["id"] and not c.scopes & USER_OTHERS:
        raise fail(req, 403, "Authorization_RequestDenied", INSUFFICIENT)
    select = parse_select(req, qarg(req, "$select"), _USER_LOWER,
                          "Microsoft.DirectoryServices.User")
    full = user_resource(mb)
    names = USER_DEFAULT if select is None else [p for p in USER_DEFAULT + USER_EXTRA
                                                 if p in select or p == "id"]
    context = f"{t.base_url}/v1.0/$metadata#users/$entity" if select is None else \
        f"{t.base_url}/v1.0/$metadata#users({','.join(select)})/$entity"
    return ok(req, {"@odata.context": context, **{k: full[k] for k in names}})


# -- places --------------------------------------------------------------------------------------

ROOM_PROPERTIES = ("id", "emailAddress", "displayName", "address", "geoCoordinates", "phone",
                   "nickname", "label", "capacity", "building", "floorLabel", "floorNumber",
                   "isWheelChairAccessible", "bookingType", "tags", "audioDeviceName",
                   "videoDeviceName", "displayDeviceName")
LIST_PROPERTIES = ("id", "displayName", "address", "geoCoordinates", "phone", "emailAddress")


def _postal(v: dict | None) -> dict | None:
    if not v:
        return None
    return {"street": v.get("street"), "city": v.get("city"), "state": v.get("state"),
            "countryOrRegion": v.get("country"), "postalCode": v.get("postal_code")}


def _geo(v: dict | None) -> dict | None:
    if not v:
        return None
    return {"altitude": v.get("altitude"), "latitude": v["latitude"],
            "longitude": v["longitude"], "accuracy": None, "altitudeAccuracy": None}


def room_place(r: dict) -> dict:
    return {"id": r["place_id"], "emailAddress": r["address"], "displayName": r["name"],
            "address": _postal(r.get("postal_address")), "geoCoordinates": _geo(r.get("geo")),
            "phone": r.get("phone"), "nickname": r.get("nickname"), "label": r.get("label"),
            "capacity": r.get("capacity"), "building": r.get("building"),
            "floorLabel": r.get("floor_label"), "floorNumber": r.get("floor"),
            "isWheelChairAccessible": r.get("wheelchair", False),
            "bookingType": r.get("booking_type", "standard"), "tags": r.get("tags", []),
            "audioDeviceName": r.get("audio_device"), "videoDeviceName": r.get("video_device"),
            "displayDeviceName": r.get("display_device")}


def list_place(rl: dict) -> dict:
    return {"id": rl["place_id"], "displayName": rl["name"],
            "address": _postal(rl.get("postal_address")), "geoCoordinates": _geo(rl.get("geo")),
            "phone": rl.get("phone"), "emailAddress": rl["address"]}


def _places_auth(req: Request) -> Caller:
    c = authenticate(req)
    if not c.scopes & PLACES:
        raise denied(req)
    return c


def _place_page(req: Request, items: list[dict], props: tuple[str, ...], type_name: str,
                context: str) -> Response:
    select = parse_select(req, qarg(req, "$select"), {p.lower(): p for p in props}, type_name)
    top = _count_option(req, "$top", 1)
    size = min(top or PLACES_PAGE, MAX_PAGE)
    offset = _count_option(req, "$skip") or 0
    page = items[offset:offset + size]
    if select is not None:
        page = [{k: v for k, v in item.items() if k in select or k == "id"} for item in page]
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if offset + size < len(items):
        keep = [(k, v[0]) for k, v in req.query.items() if k.lower() not in ("$skip", "$top")]
        keep += [("$top", str(size)), ("$skip", str(offset + size))]
        body["@odata.nextLink"] = f"{req.tenant.base_url}{req.path}?" + "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in keep)
    return ok(req, body)


def list_rooms(req: Request) -> Response:
    _places_auth(req)
    t = req.tenant
    return _place_page(req, [room_place(r) for r in rooms(t)], ROOM_PROPERTIES,
                       "microsoft.graph.room",
                       f"{t.base_url}/v1.0/$metadata#places/microsoft.graph.room")


def list_room_lists(req: Request) -> Response:
    _places_auth(req)
    t = req.tenant
    return _place_page(req, [list_place(rl) for rl in room_lists(t)], LIST_PROPERTIES,
                       "microsoft.graph.roomList",
                       f"{t.base_url}/v1.0/$metadata#places/microsoft.graph.roomList")


def _find_list(t: Tenant, who: str) -> dict | None:
    low = who.strip().lower()
    return next((rl for rl in room_lists(t) if low in (rl["address"].lower(),
                                                       rl["place_id"].lower())), None)


def rooms_in_list(req: Request) -> Response:
    """GET /places/{room list address}/microsoft.graph.roomlist/rooms."""
    _places_auth(req)
    t = req.tenant
    who = unquote(req.params["list"])
    rl = _find_list(t, who)
    if rl is None:
        raise item_not_found(req)
    by_address = {r["address"].lower(): r for r in rooms(t)}
    members = [room_place(by_address[a.lower()]) for a in rl["rooms"] if a.lower() in by_address]
    return _place_page(req, members, ROOM_PROPERTIES, "microsoft.graph.room",
                       f"{t.base_url}/v1.0/$metadata#places('{quote(who, safe='')}')/microsoft."
                       "graph.roomList/rooms")


def get_place(req: Request) -> Response:
    """GET /places/{id or address}: one room or room list."""
    _places_auth(req)
    t = req.tenant
    who = unquote(req.params["place"])
    room = find_room(t, who)
    if room is not None:
        body = {"@odata.context": f"{t.base_url}/v1.0/$metadata#places/$entity",
                "@odata.type": "#microsoft.graph.room", **room_place(room)}
        return ok(req, body)
    rl = _find_list(t, who)
    if rl is None:
        raise item_not_found(req)
    body = {"@odata.context": f"{t.base_url}/v1.0/$metadata#places/$entity",
            "@odata.type": "#microsoft.graph.roomList", **list_place(rl)}
    return ok(req, body)


# -- anything else under /v1.0 -------------------------------------------------------------------


def unknown(req: Request) -> Response:
    """A path or method Graph does not have: 405 for a known path, else 400 "Resource not found
    for the segment"."""
    me = sys.modules[__name__]
    allowed = sorted({r.method for r in req.tenant.router.routes
                      if r.module is me and r.handler is not unknown
                      and r.pattern.fullmatch(req.path)})
    if allowed:
        return graph_error(req, 405, "BadRequest", "Specified HTTP method is not allowed for the "
                           "request target.", [("Allow", ", ".join(allowed))])
    segments = [s for s in req.path.split("/") if s]
    segment = unquote(segments[-1]) if len(segments) > 1 else ""
    return graph_error(req, 400, "BadRequest", f"Resource not found for the segment "
                       f"'{segment}'.")


# -- the admin API's Graph part ------------------------------------------------------------------


def _admin_error(status: int, message: str) -> HttpError:
    return HttpError(json_response({"error": message}, status))


def _admin_room(req: Request, who: str | None) -> Mailbox:
    if not who:
        raise _admin_error(400, "give ?room=ADDRESS (a room's or a user's mailbox)")
    mb = find_mailbox(req.tenant, who)
    if mb is None:
        raise _admin_error(404, f"no mailbox {who}")
    return mb


def admin_event(mb: Mailbox, row: sqlite3.Row) -> dict:
    d = json.loads(row["data"])
    return {"id": event_id(mb.oid, row["key"]), "room": mb.address,
            "type": "seriesMaster" if d.get("recurrence") else "singleInstance",
            "subject": d["subject"], "original_subject": d["original_subject"],
            "organizer": d["organizer"], "start": iso_z(row["start"]), "end": iso_z(row["end"]),
            "all_day": d["all_day"], "sensitivity": d["sensitivity"], "show_as": d["show_as"],
            "cancelled": d["cancelled"], "recurrence": d.get("recurrence"),
            "exceptions": sorted(d.get("exceptions", {})),
            "created": iso_z(row["created"]), "modified": iso_z(row["modified"])}


def admin_list_events(req: Request) -> Response:
    mb = _admin_room(req, req.arg("room"))
    rows = req.tenant.store.all("SELECT * FROM graph_events WHERE mailbox = ? "
                                "ORDER BY start, created", (mb.address,))
    return json_response([admin_event(mb, r) for r in rows])


def admin_add_events(req: Request) -> Response:
    """POST /_admin/events: one event spec (the seed's event keys; start may also be ISO or
    {"in_min": n}) or a list of them, all or nothing."""
    t = req.tenant
    body = req.json()
    specs = body if isinstance(body, list) else [body]
    if not specs:
        raise _admin_error(400, "give an event, or a list of events")
    problems = []
    for i, spec in enumerate(specs):
        where = f"events[{i}]" if isinstance(body, list) else "event"
        problems += check_event_spec(spec, where, lambda a: find_mailbox(t, a) is not None)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise _admin_error(400, problems[0] + more)
    now = t.now()
    created = []
    try:
        with t.store.tx():
            for i, spec in enumerate(specs):
                try:
                    mb, keys = add_events_from_spec(t, spec, now)
                except ValueError as e:
                    where = f"events[{i}]" if isinstance(body, list) else "event"
                    raise _admin_error(400, f"{where}: {e}") from e
                created += [(mb, k) for k in keys]
    except sqlite3.Error as e:
        raise _admin_error(400, f"could not store the events: {e}") from e
    out = [admin_event(mb, t.store.one("SELECT * FROM graph_events WHERE key = ?", (k,)))
           for mb, k in created]
    return json_response(out[0] if not isinstance(body, list) and len(out) == 1 else out, 201)


def admin_clear_events(req: Request) -> Response:
    t = req.tenant
    mb = _admin_room(req, req.arg("room"))
    with t.store.tx() as db:
        rows = db.execute("SELECT * FROM graph_events WHERE mailbox = ?", (mb.address,)
                          ).fetchall()
        for r in rows:
            remove_event(db, r, r["start"], r["last"])
    return json_response({"cleared": len(rows)})


def admin_outbox(req: Request) -> Response:
    """GET /_admin/outbox: every sent mail and meeting response, newest last."""
    rows = req.tenant.store.all("SELECT * FROM graph_outbox ORDER BY id")
    return json_response([{"id": r["id"], "time": identity.iso(r["time"]),
                           **json.loads(r["data"])} for r in rows])


def admin_clear_outbox(req: Request) -> Response:
    with req.tenant.store.tx() as db:
        n = db.execute("DELETE FROM graph_outbox").rowcount
    return json_response({"cleared": n})


def _admin_room_json(t: Tenant, r: dict) -> dict:
    return {"address": r["address"], "name": r["name"], "delegate": r["delegate"],
            "send_as": r["send_as"],
            "add_organizer_to_subject": r["add_organizer_to_subject"],
            "delete_subject": r["delete_subject"], "delete_comments": r["delete_comments"],
            "remove_private_property": r["remove_private_property"],
            "room_lists": [rl["address"] for rl in room_lists(t)
                           if r["address"].lower() in {a.lower() for a in rl["rooms"]}]}


def admin_rooms(req: Request) -> Response:
    t = req.tenant
    return json_response({"timezone": office_zone(t).label,
                          "rooms": [_admin_room_json(t, r) for r in rooms(t)],
                          "room_lists": [{"address": rl["address"], "name": rl["name"],
                                          "rooms": rl["rooms"]} for rl in room_lists(t)]})


def admin_set_rights(req: Request) -> Response:
    """POST /_admin/rooms/rights {"room", "delegate"?, "send_as"?}: change the service account's
    rights on a room (what Add-/Remove-MailboxFolderPermission and Add-RecipientPermission
    would)."""
    t = req.tenant
    body = req.json()
    if not isinstance(body, dict):
        raise _admin_error(400, "the body must be a JSON object")
    unknown = sorted(set(body) - {"room", "delegate", "send_as"})
    if unknown:
        raise _admin_error(400, f"unknown key {unknown[0]!r} (known: room, delegate, "
                                "send_as)")
    room = find_room(t, str(body.get("room") or "")) if body.get("room") else None
    if room is None:
        raise _admin_error(404 if body.get("room") else 400,
                           f"no room {body.get('room')}" if body.get("room") else
                           "give {\"room\": ADDRESS, \"delegate\": \"editor\"}")
    if "delegate" in body and body["delegate"] not in DELEGATE:
        raise _admin_error(400, f"\"delegate\" is one of {', '.join(DELEGATE)}")
    if "send_as" in body and not isinstance(body["send_as"], bool):
        raise _admin_error(400, "\"send_as\" is true or false")
    if not {"delegate", "send_as"} & set(body):
        raise _admin_error(400, "give \"delegate\" and/or \"send_as\"")
    room.update({k: body[k] for k in ("delegate", "send_as") if k in body})
    with t.store.tx() as db:
        db.execute("UPDATE graph_rooms SET data = ? WHERE address = ?",
                   (json.dumps(room), room["address"]))
    return json_response(_admin_room_json(t, room))


# -- routes ------------------------------------------------------------------------------------


def register(t: Tenant) -> None:
    me = sys.modules[__name__]
    i = re.IGNORECASE

    def add(method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        t.router.add(method, pattern, handler, me, i)

    mailbox = r"/v1\.0/(?:me|users/(?P<user>[^/]+))"
    calendar = mailbox + r"(?:/calendar)?"
    add("GET", calendar + r"/calendarView", calendar_view)
    add("GET", calendar + r"/calendarView/delta", calendar_view_delta)
    add("GET", calendar + r"/events", list_events)
    add("POST", calendar + r"/events", create_event)
    add("GET", calendar + r"/events/(?P<id>[^/]+)", get_event)
    add("PATCH", calendar + r"/events/(?P<id>[^/]+)", update_event)
    add("DELETE", calendar + r"/events/(?P<id>[^/]+)", delete_event)
    add("POST", calendar + r"/events/(?P<id>[^/]+)/(?P<action>accept|tentativelyAccept|decline|"
                           r"cancel)", respond)
    add("POST", mailbox + r"/calendar/getSchedule", get_schedule)
    add("POST", mailbox + r"/sendMail", send_mail)
    add("GET", r"/v1\.0/me", get_user)
    add("GET", r"/v1\.0/users/(?P<user>[^/]+)", get_user)
    add("GET", r"/v1\.0/places/microsoft\.graph\.room", list_rooms)
    add("GET", r"/v1\.0/places/microsoft\.graph\.roomlist", list_room_lists)
    add("GET", r"/v1\.0/places/(?P<list>[^/]+)/microsoft\.graph\.roomlist/rooms", rooms_in_list)
    add("GET", r"/v1\.0/places/(?P<place>[^/]+)", get_place)
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        add(method, r"/v1\.0(?:/.*)?", unknown)
    t.router.add("GET", r"/_admin/outbox", admin_outbox, me)  # replaces admin.py's stub
    t.router.add("DELETE", r"/_admin/outbox", admin_clear_outbox, me)
    t.router.add("GET", r"/_admin/events", admin_list_events, me)
    t.router.add("POST", r"/_admin/events", admin_add_events, me)
    t.router.add("DELETE", r"/_admin/events", admin_clear_events, me)
    t.router.add("GET", r"/_admin/rooms", admin_rooms, me)
    t.router.add("POST", r"/_admin/rooms/rights", admin_set_rights, me)
