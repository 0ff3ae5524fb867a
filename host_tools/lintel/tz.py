"""IANA time zone names to the POSIX TZ rule a panel runs on (it has no tz database).

A TZif file of version 2 or later ends with a footer: a newline, a POSIX TZ string, a newline
(RFC 8536, section 3.3). That string describes the zone's clock for every instant after the
file's last explicit transition, which for nearly every zone is already in the past. Zone files
come from the pinned `tzdata` package first, so the rule a panel gets does not depend on the
technician's computer, and from the system's zoneinfo folders second.

`PosixRule` evaluates such a string (with RFC 8536's extensions: transition hours from -167 to
167, DST all year), so tests on the host can check the panel's clock arithmetic against it.
"""

from __future__ import annotations

import calendar
import difflib
import functools
import importlib.resources
import re
import struct
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from lintel.errors import LintelError

# Zone names are path components of letters, digits, "_", "+" and "-" (tz's theory.html):
# no dots, so no "..", no absolute paths, no hidden files.
_NAME = re.compile(r"[A-Za-z0-9_+\-]{1,64}(/[A-Za-z0-9_+\-]{1,64}){0,3}")
_HEADER = struct.Struct(">4sc15x6l")  # magic, version, unused, six counts


@dataclass(frozen=True)
class Transition:
    at: int  # seconds since 1970-01-01 UTC
    utcoff: int  # seconds east of UTC from then on
    isdst: bool
    abbr: str


@dataclass(frozen=True)
class TZif:
    transitions: tuple[Transition, ...]  # the version 2+ data block's, oldest first
    footer: str  # the POSIX TZ string; "" if the file has none


def zone_names() -> set[str]:
    """Every zone name known here (tzdata package and system zoneinfo)."""
    return set(zoneinfo.available_timezones())


def suggest(name: str) -> str | None:
    """The zone a technician most likely meant by `name`, or None."""
    names = sorted(zone_names())
    folded = {n.casefold(): n for n in names}
    if name.casefold() in folded:
        return folded[name.casefold()]
    # "Amsterdam", "new york": the last component alone.
    want = name.casefold().replace(" ", "_")
    by_city = [n for n in names if n.rsplit("/", 1)[-1].casefold() == want]
    if by_city:
        return by_city[0]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        return close[0]
    close = difflib.get_close_matches(want, list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _unknown(name: str) -> LintelError:
    hint = suggest(name) if _NAME.fullmatch(name) or len(name) < 100 else None
    more = f'; did you mean "{hint}"?' if hint else " (use an IANA name like Europe/Amsterdam)"
    return LintelError(f'unknown time zone "{name}"{more}')


def _read_tzif(path) -> bytes | None:
    try:
        if not path.is_file():
            return None
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    return data if data[:4] == b"TZif" else None


def zone_file(name: str) -> bytes:
    """The TZif bytes of zone `name`; LintelError (with a suggestion) if there is no such zone."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _unknown(str(name))
    parts = name.split("/")
    try:
        data = _read_tzif(importlib.resources.files("tzdata.zoneinfo").joinpath(*parts))
    except ModuleNotFoundError:
        data = None
    if data is None:
        for folder in zoneinfo.TZPATH:
            data = _read_tzif(Path(folder).joinpath(*parts))
            if data is not None:
                break
    if data is None:
        raise _unknown(name)
    return data


def parse_tzif(data: bytes) -> TZif:
    """The transitions and footer of a TZif file (RFC 8536), version 2 or later."""
    try:
        magic, version, *counts = _HEADER.unpack_from(data, 0)
        if magic != b"TZif" or version == b"\0":
            raise ValueError("not a TZif file of version 2 or later")
        isut, isstd, leap, timecnt, typecnt, charcnt = counts
        # Skip the version 1 block (32-bit times) to the version 2 header.
        offset = _HEADER.size + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
        magic, _, *counts = _HEADER.unpack_from(data, offset)
        if magic != b"TZif":
            raise ValueError("no version 2 header")
        isut, isstd, leap, timecnt, typecnt, charcnt = counts
        p = offset + _HEADER.size
        times = struct.unpack_from(f">{timecnt}q", data, p)
        p += timecnt * 8
        indices = data[p:p + timecnt]
        p += timecnt
        types = [struct.unpack_from(">lBB", data, p + 6 * i) for i in range(typecnt)]
        p += typecnt * 6
        chars = data[p:p + charcnt]
        p += charcnt + leap * 12 + isstd + isut
        footer = data[p:]
        if not (footer.startswith(b"\n") and footer.endswith(b"\n") and footer.count(b"\n") == 2):
            raise ValueError("no footer")
        footer_text = footer[1:-1].decode("ascii")
    except (struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"damaged TZif file: {e}") from None

    def abbr(i: int) -> str:
        return chars[i:chars.index(b"\0", i)].decode("ascii", "replace")

    transitions = tuple(
        Transition(t, types[i][0], bool(types[i][1]), abbr(types[i][2]))
        for t, i in zip(times, indices, strict=True))
    return TZif(transitions, footer_text)


def posix_tz(name: str) -> str:
    """The POSIX TZ rule for IANA zone `name`, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"."""
    try:
        footer = parse_tzif(zone_file(name)).footer
    except ValueError as e:
        raise LintelError(f'time zone "{name}": {e}') from None
    if not footer:
        raise LintelError(f'time zone "{name}" has no POSIX TZ rule in its zone file '
                          "(a panel cannot follow it); choose a neighbouring zone")
    return footer


def rule_differs(name: str, start: int, end: int) -> list[Transition]:
    """The zone's explicit transitions in [start, end) where its POSIX rule gives another offset.

    Empty for nearly every zone: its last explicit transition is in the past, or the rule
    agrees with it. A non-empty answer means a panel running the rule alone will be off then.
    """
    tzif = parse_tzif(zone_file(name))
    rule = PosixRule.parse(tzif.footer)
    return [t for t in tzif.transitions
            if start <= t.at < end and rule.utcoffset(t.at) != t.utcoff]


# --- POSIX TZ strings --------------------------------------------------------------------

_ABBR = r"(?:<[A-Za-z0-9+\-]{3,}>|[A-Za-z]{3,})"
_OFFSET = r"[+\-]?\d{1,3}(?::\d{1,2}){0,2}"
_DATE = r"(?:J\d{1,3}|\d{1,3}|M\d{1,2}\.\d\.\d)"
_RULE = re.compile(
    rf"(?P<std>{_ABBR})(?P<stdoff>{_OFFSET})"
    rf"(?:(?P<dst>{_ABBR})(?P<dstoff>{_OFFSET})?"
    rf"(?:,(?P<start>{_DATE})(?:/(?P<starttime>{_OFFSET}))?"
    rf",(?P<end>{_DATE})(?:/(?P<endtime>{_OFFSET}))?)?)?")


def _seconds(text: str, limit: int) -> int:
    sign = -1 if text.startswith("-") else 1
    fields = [int(f) for f in text.lstrip("+-").split(":")]
    if fields[0] > limit or any(f > 59 for f in fields[1:]):
        raise ValueError(f"offset {text} out of range")
    fields += [0] * (3 - len(fields))
    return sign * (fields[0] * 3600 + fields[1] * 60 + fields[2])


def _day_of_year(date: str, year: int) -> int:
    """Days after 1 January of `year` (0-based) on which the rule `date` falls."""
    leap = calendar.isleap(year)
    if date.startswith("J"):  # J1..J365, 29 February never counted
        n = int(date[1:])
        if not 1 <= n <= 365:
            raise ValueError(f"day {date} out of range")
        return n - 1 + (1 if leap and n >= 60 else 0)
    if date.startswith("M"):
        month, week, weekday = (int(x) for x in date[1:].split("."))
        if not (1 <= month <= 12 and 1 <= week <= 5 and 0 <= weekday <= 6):
            raise ValueError(f"date {date} out of range")
        first = (calendar.weekday(year, month, 1) + 1) % 7  # 0 = Sunday, as POSIX counts
        day = 1 + (weekday - first) % 7 + 7 * (week - 1)
        days_in_month = calendar.monthrange(year, month)[1]
        while day > days_in_month:  # week 5 is "the last"
            day -= 7
        return sum(calendar.monthrange(year, m)[1] for m in range(1, month)) + day - 1
    n = int(date)
    if not 0 <= n <= 365:
        raise ValueError(f"day {date} out of range")
    return n


@dataclass(frozen=True)
class PosixRule:
    std: str
    std_utcoff: int  # seconds east of UTC (a POSIX offset is west, so the sign flips)
    dst: str | None = None
    dst_utcoff: int | None = None
    start: tuple[str, int] | None = None  # (date, seconds after local midnight, standard time)
    end: tuple[str, int] | None = None  # (date, seconds after local midnight, daylight time)

    @classmethod
    def parse(cls, text: str) -> PosixRule:
        m = _RULE.fullmatch(text)
        if not m:
            raise ValueError(f'"{text}" is not a POSIX TZ rule')
        std_utcoff = -_seconds(m["stdoff"], 24)
        if not m["dst"]:
            return cls(m["std"].strip("<>"), std_utcoff)
        dst_utcoff = -_seconds(m["dstoff"], 24) if m["dstoff"] else std_utcoff + 3600
        start, end = m["start"] or "M3.2.0", m["end"] or "M11.1.0"  # POSIX leaves it open
        start_time = _seconds(m["starttime"], 167) if m["starttime"] else 7200
        end_time = _seconds(m["endtime"], 167) if m["endtime"] else 7200
        rule = cls(m["std"].strip("<>"), std_utcoff, m["dst"].strip("<>"), dst_utcoff,
                   (start, start_time), (end, end_time))
        rule._transitions(2000)  # dates out of range fail here, not at first use
        return rule

    def _transitions(self, year: int) -> tuple[int, int]:
        """DST start and end of `year` in UTC seconds."""
        assert self.start and self.end and self.dst_utcoff is not None
        midnight = calendar.timegm((year, 1, 1, 0, 0, 0))
        start = (midnight + _day_of_year(self.start[0], year) * 86400 + self.start[1]
                 - self.std_utcoff)
        end = midnight + _day_of_year(self.end[0], year) * 86400 + self.end[1] - self.dst_utcoff
        return start, end

    def lookup(self, t: int) -> tuple[int, bool, str]:
        """(seconds east of UTC, DST?, abbreviation) at `t`, seconds since 1970 UTC."""
        if self.dst is None:
            return self.std_utcoff, False, self.std
        year = time.gmtime(t).tm_year
        dst = False
        for at, on in _events(self, year):
            if at > t:
                break
            dst = bool(on)
        if dst:
            return self.dst_utcoff, True, self.dst  # type: ignore[return-value]
        return self.std_utcoff, False, self.std

    def utcoffset(self, t: int) -> int:
        return self.lookup(t)[0]


@functools.lru_cache(maxsize=64)
def _events(rule: PosixRule, year: int) -> tuple[tuple[int, int], ...]:
    """DST starts (1) and ends (0) in UTC for the years around `year`, in order."""
    events = []
    for y in (year - 1, year, year + 1):
        start, end = rule._transitions(y)
        events += [(end, 0), (start, 1)]  # at a tie, the start wins (DST all year)
    return tuple(sorted(events))
