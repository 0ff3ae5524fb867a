"""The panel's app/clock.py under CPython, against the host's references: lintel.tz.PosixRule,
zoneinfo (the pinned tzdata) and the C library's gmtime/timegm.

tests/firmware/test_clock.py runs the same module inside MicroPython with hand-worked values;
here every zone of the tz database is checked, hourly around each change of 2026-2040 and at
random instants.
"""

import ast
import bisect
import calendar
import datetime
import importlib
import io
import random
import sys
import time
import zoneinfo

import pytest

from lintel import FIRMWARE_DIR, tz

if str(FIRMWARE_DIR) not in sys.path:
    sys.path.append(str(FIRMWARE_DIR))

from app import clock  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1)
START = calendar.timegm((2026, 1, 1, 0, 0, 0))
END = calendar.timegm((2041, 1, 1, 0, 0, 0))
H = 3600


DOC_ZONES = ["Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Lord_Howe",
             "America/Nuuk", "Asia/Gaza"]


def _zones():
    """One name per distinct zone file (a link's file is a copy of its target's): the zones of
    docs/config.md's table first, then the others in order."""
    seen, names = set(), []
    for name in DOC_ZONES + sorted(zoneinfo.available_timezones()):
        data = tz.zone_file(name)
        if data not in seen:
            seen.add(data)
            names.append(name)
    return names


ZONES = _zones()


def _offset(zone, t):
    return int(datetime.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


def test_many_zones():
    assert len(ZONES) > 300
    assert set(DOC_ZONES) <= set(ZONES)


def _contradicted(transitions, zone, rule, ours):
    """[from, to) spans, two days wider each way, in which the tz database gives another offset
    than the zone's rule: a rule is exact only from the zone's last explicit transition on
    (docs/config.md). Both are constant between changes, so they are compared at each change
    of either (and where the range starts); a disagreement rules out the database's period
    holding it. In this tzdata: Morocco until September 2026, western Canada until March
    2026, Cuba's winter 2026-27, Palestine's Ramadan rules from 2036."""
    explicit = [c.at for c in transitions]
    changes = {START - 400 * 86400}
    changes.update(at for at in explicit if START - 400 * 86400 <= at < END)
    for year in range(2025, 2042):
        changes.update(ours.transitions(year) or ())
    spans = []
    for at in sorted(changes):
        if rule.utcoffset(at) != _offset(zone, at):
            i = bisect.bisect_right(explicit, at)
            lo = explicit[i - 1] if i else at
            hi = explicit[i] if i < len(explicit) else END
            spans.append((lo - 2 * 86400, hi + 2 * 86400))
    return spans


@pytest.mark.parametrize("name", ZONES)
def test_zone_agrees(name):
    """utcoff(), is_dst() and abbrev() equal PosixRule's everywhere in 2026-2040; utcoff(),
    local(), to_utc() and midnight() equal zoneinfo's except where the tz database contradicts
    the rule (_contradicted): hourly from 2 days before to 2 days after each change (the
    rule's and the database's), one second either side of it, and at 300 random instants.
    zoneinfo's fold=0 reads a skipped wall time with the offset before the jump (our "later
    instant") and a repeated one as its first occurrence, as to_utc() does."""
    data = tz.zone_file(name)
    tzif = tz.parse_tzif(data)
    if not tzif.footer:
        pytest.skip(f"{name} has no POSIX TZ rule")
    zone = zoneinfo.ZoneInfo.from_file(io.BytesIO(data))
    ours = clock.Zone(tzif.footer)
    ref = tz.PosixRule.parse(tzif.footer)
    contradicted = _contradicted(tzif.transitions, zone, ref, ours)

    changes = [c.at for c in tzif.transitions if START <= c.at < END]
    for year in range(2026, 2041):
        changes += ours.transitions(year) or ()
    instants = set()
    for at in changes:
        instants.update(range(at - 48 * H, at + 48 * H + 1, H))
        instants.update((at - 1, at, at + 1))
    rng = random.Random(f"lintel-clock-{name}")
    instants.update(rng.randrange(START, END) for _ in range(300))

    compared = 0
    for t in sorted(instants):
        assert (ours.utcoff(t), ours.is_dst(t), ours.abbrev(t)) == ref.lookup(t), (name, t)
        if any(lo <= t < hi for lo, hi in contradicted):
            continue
        compared += 1
        assert ours.utcoff(t) == _offset(zone, t), (name, t)
        local = datetime.datetime.fromtimestamp(t, zone)
        lt = ours.local(t)
        assert lt[:7] == local.timetuple()[:7], (name, t)
        # Whole and half hours of the wall clock, through gaps and overlaps.
        wall = datetime.datetime(local.year, local.month, local.day, local.hour,
                                 local.minute // 30 * 30, tzinfo=zone)
        assert ours.to_utc(wall.year, wall.month, wall.day, wall.hour,
                           wall.minute) == int(wall.timestamp()), (name, t, wall)
        day = datetime.datetime(local.year, local.month, local.day, tzinfo=zone)
        assert ours.midnight(t) == int(day.timestamp()), (name, t)
    assert compared >= 200, (name, contradicted)  # the random ones at least


@pytest.mark.parametrize("name", DOC_ZONES)
def test_doc_zones_wall_clock(name):
    """Every quarter hour of every wall-clock day of 2026 (docs/config.md's zones): to_utc()
    as zoneinfo's fold=0, and day_bounds() as zoneinfo's midnights."""
    rule = tz.posix_tz(name)
    zone = zoneinfo.ZoneInfo(name)
    ours = clock.Zone(rule)
    day = datetime.date(2026, 1, 1)
    while day.year == 2026:
        nxt = day + datetime.timedelta(days=1)
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        end = datetime.datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).timestamp()
        noon = ours.to_utc(day.year, day.month, day.day, 12)
        assert ours.day_bounds(noon) == (int(start), int(end)), (name, day)
        assert ours.day_bounds(noon, 2)[1] == ours.day_bounds(int(end))[1], (name, day)
        for minute in range(0, 1440, 15):
            wall = datetime.datetime(day.year, day.month, day.day, minute // 60, minute % 60,
                                     tzinfo=zone)
            assert ours.to_utc(day.year, day.month, day.day, minute // 60,
                               minute % 60) == int(wall.timestamp()), (name, wall)
            assert ours.at(noon, minute) == int(wall.timestamp()), (name, wall)
        day = nxt


def _posix_offset(seconds_east):
    """A POSIX offset (west of UTC) for seconds east: 19800 -> "-5:30"."""
    west = -seconds_east
    h, rest = divmod(abs(west), 3600)
    text = ("-" if west < 0 else "") + str(h)
    if rest:
        text += f":{rest // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
    return text


def test_random_rules_against_posixrule():
    """Rules no zone has yet: every date form (Jn, n, Mm.w.d), transition times from -167 to
    167 hours, DST offsets of -1, +0:30, +1 and +2 hours, both hemispheres. utcoff(), is_dst()
    and abbrev() equal PosixRule's at random instants and around each change."""
    rng = random.Random(8536)

    def date():
        kind = rng.randrange(3)
        if kind == 0:
            return f"J{rng.randint(1, 365)}"
        if kind == 1:
            return str(rng.randint(0, 365))
        return f"M{rng.randint(1, 12)}.{rng.randint(1, 5)}.{rng.randint(0, 6)}"

    def when():
        return _posix_offset(-(rng.randint(-167, 167) * 3600 + rng.choice((0, 0, 1800, 45))))

    for i in range(400):
        std = rng.randrange(-12 * 3600, 14 * 3600 + 1, 900)
        dst = std + rng.choice((3600, 3600, 1800, 7200, -3600))
        rule = (f"<S{i:03d}>{_posix_offset(std)}<D{i:03d}>{_posix_offset(dst)},"
                f"{date()}/{when()},{date()}/{when()}")
        ours = clock.Zone(rule)
        ref = tz.PosixRule.parse(rule)
        assert (ours.std_utcoff, ours.dst_utcoff) == (std, dst), rule
        instants = [rng.randrange(START, END) for _ in range(100)]
        for year in (2026, 2028, 2040):
            for at in ours.transitions(year):
                instants += [at - 3601, at - 1, at, at + 1, at + 3600]
        for t in instants:
            assert (ours.utcoff(t), ours.is_dst(t), ours.abbrev(t)) == ref.lookup(t), (rule, t)


def test_civil_and_timegm_against_the_c_library():
    rng = random.Random(20261125)
    lo = calendar.timegm((1, 1, 1, 0, 0, 0))
    hi = calendar.timegm((9999, 12, 31, 23, 59, 59))
    samples = [rng.randrange(lo, hi) for _ in range(20000)]
    samples += [rng.randrange(-86400 * 366, 86400 * 366) for _ in range(2000)]
    samples += [calendar.timegm((y, m, d, 0, 0, 0)) + s
                for y in (1600, 1700, 1900, 1970, 2000, 2024, 2100, 2400)
                for m, d in ((1, 1), (2, 28), (3, 1), (12, 31)) for s in (-1, 0, 1)]
    for t in samples:
        g = time.gmtime(t)
        assert clock.civil(t) == tuple(g[:8]), t
        assert clock.timegm(*g[:6]) == calendar.timegm(g) == t
        assert clock.format_iso(t) == (EPOCH + datetime.timedelta(seconds=t)).isoformat()
        assert clock.parse_iso(clock.format_iso(t)) == t


def test_parse_iso_against_datetime():
    rng = random.Random(7)
    for _ in range(5000):
        t = rng.randrange(START - 60 * 365 * 86400, END)
        off = rng.choice((0, 3600, -18000, 19800, 37800, -12600, 45900, -43200, 50400))
        frac = rng.choice(("", ".0000000", ".5", ".123", ".9999999"))
        local = datetime.datetime.fromtimestamp(t, datetime.timezone(
            datetime.timedelta(seconds=off)))
        iso = local.isoformat()  # 2026-11-25T10:00:00+01:00
        text = iso[:19] + frac + (iso[19:] if off else "")
        truth = datetime.datetime.fromisoformat(local.isoformat()).timestamp()
        assert clock.parse_iso(text) == t == truth, text
        if not off:
            assert clock.parse_iso(text + "Z") == t, text


def test_epoch_2000_port(monkeypatch):
    """On a port counting from 2000 (gmtime(0) is 2000-01-01), EPOCH_OFFSET is 946684800."""

    class Port2000:
        @staticmethod
        def gmtime(t=0):
            return (2000, 1, 1, 0, 0, 0, 5, 1)

        @staticmethod
        def time():
            return 848912400  # 2026-11-25 09:00 UTC, counted from 2000

    monkeypatch.setattr(sys.modules["app"], "clock", clock)  # undo() puts it back
    monkeypatch.setitem(sys.modules, "time", Port2000)
    monkeypatch.delitem(sys.modules, "app.clock")
    other = importlib.import_module("app.clock")
    monkeypatch.undo()
    assert sys.modules["app.clock"] is clock and sys.modules["app"].clock is clock
    assert other.EPOCH_OFFSET == 946684800
    assert other.now() == calendar.timegm((2026, 11, 25, 9, 0, 0))
    assert clock.EPOCH_OFFSET == 0 and abs(clock.now() - time.time()) < 2


def test_imports_only_time():
    """The module stays pure: no machine, network, esp32, micropython or re."""
    tree = ast.parse((FIRMWARE_DIR / "app" / "clock.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"time"}


@pytest.mark.parametrize("rule", [
    "", "CET", "CET-25", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
    "CET-1CEST,J366,J1", "12", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0/168,M10.5.0",
])
def test_refuses_what_posixrule_refuses(rule):
    with pytest.raises(ValueError):
        tz.PosixRule.parse(rule)
    with pytest.raises(ValueError, match="time zone rule"):
        clock.Zone(rule)
