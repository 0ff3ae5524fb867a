"""IANA zone names to POSIX TZ rules (from the TZif footer), and the rule evaluator checked
against the tz database's own transitions."""

import calendar
import datetime
import io
import zoneinfo

import pytest

from lintel import tz
from lintel.errors import LintelError


@pytest.mark.parametrize("name, rule", [
    ("Europe/Amsterdam", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("America/New_York", "EST5EDT,M3.2.0,M11.1.0"),
    ("Asia/Kolkata", "IST-5:30"),
    ("UTC", "UTC0"),
    ("Etc/UTC", "UTC0"),
    # Half-hour DST: +10:30 standard, +11 in summer, southern hemisphere (DST over new year).
    ("Australia/Lord_Howe", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"),
    ("Pacific/Chatham", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45"),
    # RFC 8536 extensions: negative transition times, hours past 24.
    ("America/Nuuk", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0"),
    ("Asia/Gaza", "EET-2EEST,M3.4.4/50,M10.4.4/50"),
    ("US/Pacific", "PST8PDT,M3.2.0,M11.1.0"),  # a backward-compatible link
])
def test_posix_tz(name, rule):
    assert tz.posix_tz(name) == rule


@pytest.mark.parametrize("name, hint", [
    ("Europe/Amsterdm", "Europe/Amsterdam"),
    ("europe/amsterdam", "Europe/Amsterdam"),
    ("Amsterdam", "Europe/Amsterdam"),
    ("new york", "America/New_York"),
    ("America/Newyork", "America/New_York"),
])
def test_unknown_zone_suggests(name, hint):
    with pytest.raises(LintelError) as e:
        tz.posix_tz(name)
    assert str(e.value) == f'unknown time zone "{name}"; did you mean "{hint}"?'


@pytest.mark.parametrize("name", [
    "../../etc/passwd", "/etc/localtime", "Europe/../../../etc/passwd", "Europe/./Amsterdam",
    "Europe//Amsterdam", "", "Europe/Amsterdam\n", "zone.tab", "tzdata.zi", "Europe/__init__",
    "Europe", "C:\\Windows", "Mars/Olympus_Mons",
])
def test_not_a_zone(name):
    with pytest.raises(LintelError, match="unknown time zone"):
        tz.posix_tz(name)


def test_zone_file_is_tzif_v2():
    data = tz.zone_file("Europe/Amsterdam")
    assert data[:5] in (b"TZif2", b"TZif3", b"TZif4")
    parsed = tz.parse_tzif(data)
    assert parsed.footer == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert {t.abbr for t in parsed.transitions} >= {"CET", "CEST"}


def test_damaged_tzif():
    data = tz.zone_file("Europe/Amsterdam")
    with pytest.raises(ValueError):
        tz.parse_tzif(data[:-1])  # the footer's last newline gone
    with pytest.raises(ValueError):
        tz.parse_tzif(b"TZif\0" + data[5:])  # version 1 has no footer
    with pytest.raises(ValueError):
        tz.parse_tzif(data[:100])


ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham",
         "America/Nuuk", "America/Santiago", "Europe/Dublin", "Asia/Tehran", "Antarctica/Troll",
         "America/Sao_Paulo"]


@pytest.mark.parametrize("name", ZONES)
def test_rule_agrees_with_the_database(name):
    """The evaluator gives zoneinfo's offsets (the file's explicit transitions up to 2037),
    every three hours of two years, and one second either side of each change."""
    data = tz.zone_file(name)
    zone = zoneinfo.ZoneInfo.from_file(io.BytesIO(data))
    rule = tz.PosixRule.parse(tz.parse_tzif(data).footer)

    def offset(t):
        return int(datetime.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())

    start = calendar.timegm((2028, 1, 1, 0, 0, 0))
    for t in range(start, start + 2 * 366 * 86400, 3 * 3600):
        assert rule.utcoffset(t) == offset(t), (name, t)
    for change in tz.parse_tzif(data).transitions:
        if start <= change.at < start + 2 * 366 * 86400:
            for t in (change.at - 1, change.at, change.at + 1):
                assert rule.utcoffset(t) == offset(t), (name, t)


def test_rule_lookup_names_the_period():
    rule = tz.PosixRule.parse("CET-1CEST,M3.5.0,M10.5.0/3")
    summer = calendar.timegm((2027, 7, 1, 12, 0, 0))
    winter = calendar.timegm((2027, 1, 1, 12, 0, 0))
    assert rule.lookup(summer) == (7200, True, "CEST")
    assert rule.lookup(winter) == (3600, False, "CET")
    # 2027-03-28 01:00 UTC: clocks go from 02:00 CET to 03:00 CEST.
    change = calendar.timegm((2027, 3, 28, 1, 0, 0))
    assert rule.utcoffset(change - 1) == 3600 and rule.utcoffset(change) == 7200


@pytest.mark.parametrize("text, expect", [
    ("UTC0", (0, None)),
    ("<+0530>-5:30", (19800, None)),
    ("EST5EDT", (-18000, -14400)),  # no dates: POSIX implementations use the US rules
    ("<+00>0<+01>-1,0/0,J365/25", (0, 3600)),  # DST all year
])
def test_rule_parse(text, expect):
    rule = tz.PosixRule.parse(text)
    assert (rule.std_utcoff, rule.dst_utcoff) == expect


def test_dst_all_year():
    rule = tz.PosixRule.parse("<+00>0<+01>-1,0/0,J365/25")
    for month in range(1, 13):
        assert rule.utcoffset(calendar.timegm((2027, month, 15, 0, 0, 0))) == 3600
    assert rule.utcoffset(calendar.timegm((2027, 1, 1, 0, 0, 0))) == 3600


@pytest.mark.parametrize("text", ["", "CET", "CET-1CEST,M13.5.0,M10.5.0", "CET-25",
                                  "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,J366,J1", "12"])
def test_rule_parse_refuses(text):
    with pytest.raises(ValueError):
        tz.PosixRule.parse(text)


def test_rule_differs():
    now = calendar.timegm((2027, 1, 1, 0, 0, 0))
    assert tz.rule_differs("Europe/Amsterdam", now, now + 30 * 366 * 86400) == []
    # Palestine's Ramadan rules are explicit transitions the footer does not express.
    assert tz.rule_differs("Asia/Gaza", now, now + 30 * 366 * 86400)
