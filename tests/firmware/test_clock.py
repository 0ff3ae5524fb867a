# app.clock on the panel: civil arithmetic, ISO 8601 as Graph writes it, and every zone of
# docs/config.md's table at instants around its changes. Expected values are worked out by hand
# from the rules (the comments say how); tests/test_clock_cpython.py checks the same code against
# lintel.tz.PosixRule and zoneinfo for every zone of the pinned tzdata.
import sys
import time

from app import clock

AMSTERDAM = "CET-1CEST,M3.5.0,M10.5.0/3"
NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"
KOLKATA = "IST-5:30"
UTC = "UTC0"
LORD_HOWE = "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"
NUUK = "<-02>2<-01>,M3.5.0/-1,M10.5.0/0"
GAZA = "EET-2EEST,M3.4.4/50,M10.4.4/50"
ALL_YEAR = "EST5EDT,0/0,J365/25"
DOC_ZONES = (AMSTERDAM, NEW_YORK, KOLKATA, UTC, LORD_HOWE, NUUK, GAZA)

H = 3600
DAY = 86400


def _z(text):
    return clock.parse_iso(text)


def _raises(fn, *args):
    # The ValueError fn(*args) raises; its message must have words, in ASCII.
    try:
        fn(*args)
    except ValueError as e:
        text = str(e)
        assert len(text) > 10, text
        assert all(ord(c) < 128 for c in text), text
        return text
    raise AssertionError("no ValueError for %r" % (args,))


# --- the port's clock ---------------------------------------------------------------------

def test_epoch_offset_and_now():
    # The Unix port counts from 1970; time.time() is a float there (an int on the ESP32).
    assert time.gmtime(0)[:6] == (1970, 1, 1, 0, 0, 0)
    assert clock.EPOCH_OFFSET == 0
    t = clock.now()
    assert type(t) is int
    assert abs(t - time.time()) < 2
    assert t > clock.timegm(2024, 1, 1)


def test_epoch_2000_port():
    # A port whose epoch is 2000 (gmtime(0) is 2000-01-01, a Saturday): now() adds 946684800.
    class Port2000:
        @staticmethod
        def gmtime(t=0):
            return (2000, 1, 1, 0, 0, 0, 5, 1)

        @staticmethod
        def time():
            return 848912400  # 2026-11-25 09:00:00 UTC counted from 2000

    saved_time, saved_clock = sys.modules.get("time"), sys.modules.get("app.clock")
    sys.modules["time"] = Port2000
    del sys.modules["app.clock"]
    try:
        import app.clock as other
    finally:
        sys.modules["time"] = saved_time
        sys.modules["app.clock"] = saved_clock
        sys.modules["app"].clock = saved_clock
    assert other is not clock and sys.modules["app"].clock is clock
    assert other.EPOCH_OFFSET == 946684800
    assert other.now() == 1795597200
    assert other.format_iso_z(other.now()) == "2026-11-25T09:00:00Z"


# --- civil and timegm ---------------------------------------------------------------------

def test_timegm_known_instants():
    assert clock.timegm(1970, 1, 1) == 0
    assert clock.timegm(2000, 1, 1) == 946684800  # the esp32 port's epoch
    assert clock.timegm(2000, 2, 29) == 946684800 + 59 * DAY  # 31 + 28 days after 1 Jan
    assert clock.timegm(2024, 1, 1) == 1704067200
    assert clock.timegm(2024, 2, 29) == 1704067200 + 59 * DAY
    assert clock.timegm(2100, 1, 1) == 4102444800
    # 2100 is no leap year: 29 February carries into 1 March.
    assert clock.timegm(2100, 2, 29) == clock.timegm(2100, 3, 1) == 4102444800 + 59 * DAY
    assert clock.timegm(2038, 1, 19, 3, 14, 8) == 2 ** 31
    assert clock.timegm(1969, 12, 31, 23, 59, 59) == -1
    assert clock.timegm(2026, 11, 25, 9, 30, 15) == 1795597200 + 30 * 60 + 15
    # Months carry into years, everything else carries on linearly.
    assert clock.timegm(2026, 13, 1) == clock.timegm(2027, 1, 1)
    assert clock.timegm(2026, 0, 1) == clock.timegm(2025, 12, 1)
    assert clock.timegm(2026, -11, 1) == clock.timegm(2025, 1, 1)
    assert clock.timegm(2026, 12, 32) == clock.timegm(2027, 1, 1)
    assert clock.timegm(2026, 3, 1, -1) == clock.timegm(2026, 2, 28, 23)
    assert clock.timegm(2026, 3, 1, 0, 0, 86400) == clock.timegm(2026, 3, 2)


def test_civil_leap_years():
    # (y, mo, d, h, mi, s, weekday 0=Monday, yearday). 2000-01-01 was a Saturday, 2024-01-01 a
    # Monday, 2100-01-01 a Friday; 59 days (3 weeks and 3 days) later is 29 Feb / 1 Mar.
    assert clock.civil(0) == (1970, 1, 1, 0, 0, 0, 3, 1)
    assert clock.civil(-1) == (1969, 12, 31, 23, 59, 59, 2, 365)
    assert clock.civil(946684800) == (2000, 1, 1, 0, 0, 0, 5, 1)
    assert clock.civil(946684800 + 59 * DAY) == (2000, 2, 29, 0, 0, 0, 1, 60)
    assert clock.civil(946684800 + 60 * DAY - 1) == (2000, 2, 29, 23, 59, 59, 1, 60)
    assert clock.civil(clock.timegm(2000, 12, 31)) == (2000, 12, 31, 0, 0, 0, 6, 366)
    assert clock.civil(1704067200 + 59 * DAY) == (2024, 2, 29, 0, 0, 0, 3, 60)
    assert clock.civil(clock.timegm(2024, 12, 31, 12)) == (2024, 12, 31, 12, 0, 0, 1, 366)
    assert clock.civil(4102444800 + 58 * DAY) == (2100, 2, 28, 0, 0, 0, 6, 59)
    assert clock.civil(4102444800 + 59 * DAY) == (2100, 3, 1, 0, 0, 0, 0, 60)
    assert clock.civil(clock.timegm(2100, 12, 31)) == (2100, 12, 31, 0, 0, 0, 4, 365)
    assert clock.civil(2 ** 31) == (2038, 1, 19, 3, 14, 8, 1, 19)
    assert clock.civil(1795597200.75) == (2026, 11, 25, 9, 0, 0, 2, 329)


def test_civil_every_day_1899_to_2101():
    # Day by day through three century years (1900 and 2100 not leap, 2000 leap): civil() and
    # timegm() invert each other, days follow each other, weekdays cycle.
    t = clock.timegm(1899, 12, 25, 13, 7, 9)
    prev = clock.civil(t - DAY)
    end = clock.timegm(2101, 1, 8)
    while t < end:
        c = clock.civil(t)
        assert clock.timegm(c[0], c[1], c[2], c[3], c[4], c[5]) == t, c
        assert c[6] == (prev[6] + 1) % 7, c
        if c[1:3] == (1, 1):
            assert prev[1:3] == (12, 31) and c[0] == prev[0] + 1 and c[7] == 1, c
        else:
            assert c[2] == 1 or c[2] == prev[2] + 1, c
            assert c[7] == prev[7] + 1, c
        if c[1:3] == (2, 29):
            assert c[0] % 4 == 0 and c[0] != 1900 and c[0] != 2100, c
        prev = c
        t += DAY


def test_civil_against_the_ports_gmtime():
    # The Unix port's gmtime is the C library's (64-bit, epoch 1970): a reference here.
    seed = 12345
    for _ in range(3000):
        seed = (seed * 1103515245 + 12345) % 2147483648
        t = seed * 3 - 1000000000  # 1938 .. 2140
        assert clock.civil(t) == tuple(time.gmtime(t)[:8]), t


# --- ISO 8601 -----------------------------------------------------------------------------

def test_parse_iso_graph_forms():
    t = 1795597200  # 2026-11-25 09:00:00 UTC
    assert _z("2026-11-25T09:00:00.0000000") == t  # Graph, Prefer: outlook.timezone="UTC"
    assert _z("2026-11-25T09:00:00") == t
    assert _z("2026-11-25T09:00:00Z") == t  # EWS, query strings
    assert _z("2026-11-25T09:00:00.9999999Z") == t  # fractions are truncated
    assert _z("2026-11-25T09:00:00.5") == t
    assert _z("2026-11-25T10:00:00+01:00") == t
    assert _z("2026-11-25T04:00:00-05:00") == t
    assert _z("2026-11-25T14:30:00.000+05:30") == t
    assert _z("2026-11-25T09:00:00+00:00") == t
    assert _z("2026-11-25T09:00:00-00:00") == t
    assert _z("2026-11-25T00:30:00+10:30") == clock.timegm(2026, 11, 24, 14)
    assert _z("2026-11-25T00:00:00+10:30") == clock.timegm(2026, 11, 24, 13, 30)
    assert _z("2024-02-29T23:59:59Z") == clock.timegm(2024, 3, 1) - 1
    assert _z("1970-01-01T00:00:00Z") == 0
    assert _z("1969-12-31T23:59:59.9Z") == -1


def test_parse_iso_refuses():
    for text in ("", "2026-11-25", "2026-11-25T09:00", "2026-11-25 09:00:00",
                 "2026-11-25t09:00:00", "2026/11/25T09:00:00", "26-11-25T09:00:00Z",
                 " 2026-11-25T09:00:00", "2026-11-25T09:00:00 ", "+026-11-25T09:00:00",
                 "2026-1a-25T09:00:00", "2026-11-25T09:0x:00", "2026-13-01T00:00:00",
                 "2026-00-10T00:00:00", "2026-11-00T00:00:00", "2026-11-31T00:00:00",
                 "2026-02-29T00:00:00", "2100-02-29T00:00:00", "2026-11-25T24:00:00",
                 "2026-11-25T09:60:00", "2026-11-25T09:00:60", "2026-11-25T09:00:00.",
                 "2026-11-25T09:00:00.Z", "2026-11-25T09:00:00ZZ", "2026-11-25T09:00:00z",
                 "2026-11-25T09:00:00+0100", "2026-11-25T09:00:00+01", "2026-11-25T09:00:00+1:00",
                 "2026-11-25T09:00:00+01:00Z", "2026-11-25T09:00:00+24:00",
                 "2026-11-25T09:00:00+01:60", "2026-11-25T09:00:00 UTC",
                 "2026-11-25T09:00:00.0000000+", "2026-11-25T09:00:00.12a",
                 "2026-11-25T09:00:00\u00e9", "\u0662026-11-25T09:00:00"):
        _raises(clock.parse_iso, text)
    for value in (None, 1795597200, b"2026-11-25T09:00:00Z", ["2026-11-25T09:00:00Z"]):
        _raises(clock.parse_iso, value)
    # Long junk is cut short in the message.
    assert len(_raises(clock.parse_iso, "x" * 500)) < 120


def test_format_iso():
    t = 1795597200 + 30 * 60 + 5
    assert clock.format_iso(t) == "2026-11-25T09:30:05"
    assert clock.format_iso_z(t) == "2026-11-25T09:30:05Z"
    assert clock.format_iso(0) == "1970-01-01T00:00:00"
    assert clock.format_iso_z(-1) == "1969-12-31T23:59:59Z"
    assert clock.format_iso(clock.timegm(2100, 3, 1)) == "2100-03-01T00:00:00"


def test_iso_round_trips():
    seed = 7
    for _ in range(2000):
        seed = (seed * 1103515245 + 12345) % 2147483648
        t = seed * 2  # 1970 .. 2106
        assert clock.parse_iso(clock.format_iso(t)) == t
        assert clock.parse_iso(clock.format_iso_z(t)) == t
        assert clock.parse_iso(clock.format_iso(t) + ".0000000") == t
        assert clock.format_iso(clock.parse_iso(clock.format_iso(t) + "+01:00")) \
            == clock.format_iso(t - H)


# --- POSIX TZ rules -----------------------------------------------------------------------

def test_rule_parse_forms():
    def parts(rule):
        z = clock.Zone(rule)
        return (z.std, z.std_utcoff, z.dst, z.dst_utcoff)

    assert parts(AMSTERDAM) == ("CET", 3600, "CEST", 7200)  # offsets are west: CET-1 is +1
    assert parts(NEW_YORK) == ("EST", -18000, "EDT", -14400)
    assert parts(KOLKATA) == ("IST", 19800, None, None)
    assert parts(UTC) == ("UTC", 0, None, None)
    assert parts(LORD_HOWE) == ("+1030", 37800, "+11", 39600)  # DST is half an hour more
    assert parts(NUUK) == ("-02", -7200, "-01", -3600)  # DST offset absent: std + 1 hour
    assert parts(GAZA) == ("EET", 7200, "EEST", 10800)
    assert parts("<+0530>-5:30") == ("+0530", 19800, None, None)
    assert parts("<-0330>+3:30") == ("-0330", -12600, None, None)
    assert parts("LMT-0:17:30") == ("LMT", 1050, None, None)
    assert parts("XXX+24") == ("XXX", -86400, None, None)
    assert parts("EST5EDT") == ("EST", -18000, "EDT", -14400)
    assert parts("IST-1GMT0,M10.5.0,M3.5.0/1") == ("IST", 3600, "GMT", 0)  # Dublin: DST < std
    # No dates: the US rules, as the C libraries (and lintel.tz) do.
    assert clock.Zone("EST5EDT").transitions(2026) == clock.Zone(NEW_YORK).transitions(2026)
    assert clock.Zone(KOLKATA).transitions(2026) is None
    assert repr(clock.Zone(UTC)) == "Zone('UTC0')"


def test_rule_refuses():
    for rule in ("", "CET", "CE-1", "12", "-1", "CET-25", "CET-1:60", "CET-1CEST,", "CET-1C",
                 "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,", "CET-1CEST;M3.5.0,M10.5.0",
                 "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M0.5.0,M10.5.0",
                 "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.0.0,M10.5.0",
                 "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,M3.5,M10.5.0", "CET-1CEST,M3,M10.5.0",
                 "CET-1CEST,J366,J1", "CET-1CEST,J0,J1", "CET-1CEST,366,1",
                 "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0/-168,M10.5.0",
                 "CET-1CEST,M3.5.0/2:60,M10.5.0", "CET-1CEST,M3.5.0,M10.5.0/",
                 "CET-1CEST,M3.5.0,M10.5.0,", "CET-1CEST,M3.5.0,M10.5.0 ", " CET-1",
                 "<+1030-10:30", "<+1030>", "<+10:30>-10:30", "<+1>-1", "CET-1CEST-2-3",
                 "C\u00e9T-1", "CET-1CEST,M3.5.0,M10.5.0/3x"):
        _raises(clock.Zone, rule)
    _raises(clock.Zone, None)
    _raises(clock.Zone, b"CET-1")


def test_rule_limits():
    # Transition times run from -167 to 167 hours (RFC 8536), offsets to 24 hours.
    z = clock.Zone("AAA0BBB,M3.5.0/167,M10.5.0/-167")
    start, end = z.transitions(2026)
    assert start == clock.timegm(2026, 3, 29) + 167 * H  # Sunday 29 March + 167 h
    assert end == clock.timegm(2026, 10, 25) - 167 * H - H  # end in daylight time (+1)
    assert clock.Zone("AAA-24").std_utcoff == 86400
    assert clock.Zone("AAA24:00:00").std_utcoff == -86400


def test_rule_dates_j_n_m():
    # Jn counts 1..365 and never 29 February; n counts 0..365 and does.
    j = clock.Zone("AAA0BBB,J60/0,J365/0")
    n = clock.Zone("AAA0BBB,59/0,365/0")
    assert j.transitions(2026) == (clock.timegm(2026, 3, 1), clock.timegm(2026, 12, 31) - H)
    assert j.transitions(2024) == (clock.timegm(2024, 3, 1), clock.timegm(2024, 12, 31) - H)
    assert n.transitions(2026)[0] == clock.timegm(2026, 3, 1)
    assert n.transitions(2024) == (clock.timegm(2024, 2, 29), clock.timegm(2024, 12, 31) - H)
    assert clock.Zone("AAA0BBB,J1/0,0/0").transitions(2026)[0] == clock.timegm(2026, 1, 1)
    # Mm.w.d: week 5 is the last one, week 1 the first; weekday 0 is Sunday.
    m = clock.Zone("AAA0BBB,M2.5.0/0,M2.5.1/0")
    assert m.transitions(2026)[0] == clock.timegm(2026, 2, 22)  # Feb 2026 has 4 Sundays
    assert m.transitions(2026)[1] == clock.timegm(2026, 2, 23) - H
    assert m.transitions(2032)[0] == clock.timegm(2032, 2, 29)  # 1 Feb 2032 is a Sunday
    m = clock.Zone("AAA0BBB,M1.1.4/0,M12.1.3/0")
    assert m.transitions(2026)[0] == clock.timegm(2026, 1, 1)  # a Thursday
    assert m.transitions(2026)[1] == clock.timegm(2026, 12, 2) - H  # first Wednesday


def _check(rule, rows):
    # rows: (UTC time, seconds east of UTC, DST?, abbreviation, local "HH:MM", local date)
    z = clock.Zone(rule)
    for when, off, dst, name, hm, date in rows:
        t = _z(when)
        got = (z.utcoff(t), z.is_dst(t), z.abbrev(t), clock.hhmm(t, z),
               "%04d-%02d-%02d" % z.local(t)[:3])
        assert got == (off, dst, name, hm, date), (rule, when, got)


def test_amsterdam():
    # Last Sunday of March 2026 is the 29th (1 March is a Sunday): 02:00 CET = 01:00 UTC.
    # Last Sunday of October 2026 is the 25th (1 Oct is a Thursday): 03:00 CEST = 01:00 UTC.
    _check(AMSTERDAM, (
        ("2026-01-15T12:00:00Z", 3600, False, "CET", "13:00", "2026-01-15"),
        ("2026-03-29T00:59:59Z", 3600, False, "CET", "01:59", "2026-03-29"),
        ("2026-03-29T01:00:00Z", 7200, True, "CEST", "03:00", "2026-03-29"),
        ("2026-07-01T22:30:00Z", 7200, True, "CEST", "00:30", "2026-07-02"),
        ("2026-10-25T00:59:59Z", 7200, True, "CEST", "02:59", "2026-10-25"),
        ("2026-10-25T01:00:00Z", 3600, False, "CET", "02:00", "2026-10-25"),
        ("2026-12-31T23:30:00Z", 3600, False, "CET", "00:30", "2027-01-01"),
        # 2028: 26 March (1 March a Wednesday) and 29 October (a fifth Sunday exists).
        ("2028-03-26T00:59:59Z", 3600, False, "CET", "01:59", "2028-03-26"),
        ("2028-03-26T01:00:00Z", 7200, True, "CEST", "03:00", "2028-03-26"),
        ("2028-10-29T00:59:59Z", 7200, True, "CEST", "02:59", "2028-10-29"),
        ("2028-10-29T01:00:00Z", 3600, False, "CET", "02:00", "2028-10-29"),
    ))
    z = clock.Zone(AMSTERDAM)
    assert z.transitions(2026) == (_z("2026-03-29T01:00:00Z"), _z("2026-10-25T01:00:00Z"))


def test_new_york():
    # Second Sunday of March 2026: the 8th, 02:00 EST = 07:00 UTC. First Sunday of November
    # 2026: the 1st, 02:00 EDT = 06:00 UTC.
    _check(NEW_YORK, (
        ("2026-03-08T06:59:59Z", -18000, False, "EST", "01:59", "2026-03-08"),
        ("2026-03-08T07:00:00Z", -14400, True, "EDT", "03:00", "2026-03-08"),
        ("2026-11-01T05:59:59Z", -14400, True, "EDT", "01:59", "2026-11-01"),
        ("2026-11-01T06:00:00Z", -18000, False, "EST", "01:00", "2026-11-01"),
        ("2026-11-25T03:00:00Z", -18000, False, "EST", "22:00", "2026-11-24"),
    ))


def test_kolkata_and_utc():
    _check(KOLKATA, (
        ("2026-11-25T09:00:00Z", 19800, False, "IST", "14:30", "2026-11-25"),
        ("2026-06-30T18:29:59Z", 19800, False, "IST", "23:59", "2026-06-30"),
        ("2026-06-30T18:30:00Z", 19800, False, "IST", "00:00", "2026-07-01"),
    ))
    _check(UTC, (
        ("2026-03-29T01:00:00Z", 0, False, "UTC", "01:00", "2026-03-29"),
        ("2026-11-25T23:59:59Z", 0, False, "UTC", "23:59", "2026-11-25"),
    ))
    assert clock.UTC.utcoff(0) == 0 and clock.UTC.local(0) == clock.civil(0)


def test_lord_howe():
    # Southern hemisphere, half-hour DST. DST ends on the first Sunday of April 2026, the 5th,
    # at 02:00 +11 = 4 April 15:00 UTC; starts on the first Sunday of October 2026, the 4th, at
    # 02:00 +10:30 = 3 October 15:30 UTC.
    _check(LORD_HOWE, (
        ("2026-01-15T00:00:00Z", 39600, True, "+11", "11:00", "2026-01-15"),
        ("2026-04-04T14:59:59Z", 39600, True, "+11", "01:59", "2026-04-05"),
        ("2026-04-04T15:00:00Z", 37800, False, "+1030", "01:30", "2026-04-05"),
        ("2026-07-01T00:00:00Z", 37800, False, "+1030", "10:30", "2026-07-01"),
        ("2026-10-03T15:29:59Z", 37800, False, "+1030", "01:59", "2026-10-04"),
        ("2026-10-03T15:30:00Z", 39600, True, "+11", "02:30", "2026-10-04"),
        ("2026-12-31T13:00:00Z", 39600, True, "+11", "00:00", "2027-01-01"),
    ))
    start, end = clock.Zone(LORD_HOWE).transitions(2026)
    assert end < start  # southern: the year starts and ends in daylight time
    assert (start, end) == (_z("2026-10-03T15:30:00Z"), _z("2026-04-04T15:00:00Z"))


def test_nuuk():
    # Negative transition time: last Sunday of March at -1:00 is Saturday 28 March 23:00 -02
    # = 29 March 01:00 UTC (the clock goes 23:00 -> 00:00). Last Sunday of October 2026 at
    # 00:00 -01 = 25 October 01:00 UTC (the clock goes back to Saturday 23:00).
    _check(NUUK, (
        ("2026-03-29T00:59:59Z", -7200, False, "-02", "22:59", "2026-03-28"),
        ("2026-03-29T01:00:00Z", -3600, True, "-01", "00:00", "2026-03-29"),
        ("2026-10-25T00:59:59Z", -3600, True, "-01", "23:59", "2026-10-24"),
        ("2026-10-25T01:00:00Z", -7200, False, "-02", "23:00", "2026-10-24"),
        ("2026-10-25T02:00:00Z", -7200, False, "-02", "00:00", "2026-10-25"),
    ))


def test_gaza():
    # Hours past 24: the fourth Thursday of March 2026 (the 26th) at 50:00 is Saturday 28
    # March 02:00 EET = 00:00 UTC; the fourth Thursday of October 2026 (the 22nd) at 50:00 is
    # Saturday 24 October 02:00 EEST = 23 October 23:00 UTC.
    _check(GAZA, (
        ("2026-03-27T23:59:59Z", 7200, False, "EET", "01:59", "2026-03-28"),
        ("2026-03-28T00:00:00Z", 10800, True, "EEST", "03:00", "2026-03-28"),
        ("2026-10-23T22:59:59Z", 10800, True, "EEST", "01:59", "2026-10-24"),
        ("2026-10-23T23:00:00Z", 7200, False, "EET", "01:00", "2026-10-24"),
    ))


def test_dst_all_year():
    # Starts 1 January 00:00 EST, ends 31 December 25:00 EDT = 1 January 00:00 EST of the next
    # year: the end and the next start are one instant, so daylight time never stops.
    z = clock.Zone(ALL_YEAR)
    for year in (2025, 2026, 2027, 2028):
        jan1 = clock.timegm(year, 1, 1, 5)  # 00:00 EST
        for t in (jan1 - 1, jan1, jan1 + 1, clock.timegm(year, 7, 1), jan1 + 365 * DAY - 1):
            assert z.utcoff(t) == -14400 and z.is_dst(t) and z.abbrev(t) == "EDT", t
    t = _z("2026-06-15T12:00:00Z")
    assert z.day_bounds(t) == (_z("2026-06-15T04:00:00Z"), _z("2026-06-16T04:00:00Z"))
    assert z.to_utc(2026, 1, 1, 0, 30) == _z("2026-01-01T04:30:00Z")


def test_dublin_negative_dst():
    # Europe/Dublin: "IST" (+1) is standard time, "GMT" (+0) the winter "daylight" time.
    z = clock.Zone("IST-1GMT0,M10.5.0,M3.5.0/1")
    assert z.utcoff(_z("2026-07-01T12:00:00Z")) == 3600
    assert z.abbrev(_z("2026-07-01T12:00:00Z")) == "IST"
    assert z.utcoff(_z("2026-01-15T12:00:00Z")) == 0 and z.is_dst(_z("2026-01-15T12:00:00Z"))
    # Clocks go forward at 01:00 GMT on 29 March 2026 and back at 02:00 IST on 25 October.
    assert z.utcoff(_z("2026-03-29T00:59:59Z")) == 0
    assert z.utcoff(_z("2026-03-29T01:00:00Z")) == 3600
    assert z.utcoff(_z("2026-10-25T00:59:59Z")) == 3600
    assert z.utcoff(_z("2026-10-25T01:00:00Z")) == 0
    assert z.to_utc(2026, 3, 29, 1, 30) == _z("2026-03-29T01:30:00Z")  # gap: later instant
    assert z.to_utc(2026, 10, 25, 1, 30) == _z("2026-10-25T00:30:00Z")  # overlap: first


# --- local days ----------------------------------------------------------------------------

def _bounds(rule, inside):
    z = clock.Zone(rule)
    t = _z(inside)
    start, end = z.day_bounds(t)
    assert z.midnight(t) == start
    assert start <= t < end
    return start, end


def test_midnight_on_change_days():
    # Amsterdam: 29 March 2026 runs from 00:00 CET (28 Mar 23:00Z) to 00:00 CEST (29 Mar
    # 22:00Z): 23 hours. 25 October: 00:00 CEST (24 Oct 22:00Z) to 00:00 CET (25 Oct 23:00Z):
    # 25 hours.
    assert _bounds(AMSTERDAM, "2026-03-29T12:00:00Z") == (
        _z("2026-03-28T23:00:00Z"), _z("2026-03-29T22:00:00Z"))
    assert _bounds(AMSTERDAM, "2026-10-25T12:00:00Z") == (
        _z("2026-10-24T22:00:00Z"), _z("2026-10-25T23:00:00Z"))
    assert _bounds(AMSTERDAM, "2026-10-25T00:30:00Z") == _bounds(AMSTERDAM, "2026-10-25T01:30:00Z")
    # New York: 8 March 2026 is 23 hours (05:00Z to 04:00Z), 1 November 25 (04:00Z to 05:00Z).
    assert _bounds(NEW_YORK, "2026-03-08T12:00:00Z") == (
        _z("2026-03-08T05:00:00Z"), _z("2026-03-09T04:00:00Z"))
    assert _bounds(NEW_YORK, "2026-11-01T12:00:00Z") == (
        _z("2026-11-01T04:00:00Z"), _z("2026-11-02T05:00:00Z"))
    # Lord Howe: 4 October 2026 is 23.5 hours (00:00 +10:30 to 00:00 +11), 5 April 24.5.
    assert _bounds(LORD_HOWE, "2026-10-04T00:00:00Z") == (
        _z("2026-10-03T13:30:00Z"), _z("2026-10-04T13:00:00Z"))
    assert _bounds(LORD_HOWE, "2026-04-05T00:00:00Z") == (
        _z("2026-04-04T13:00:00Z"), _z("2026-04-05T13:30:00Z"))
    # Nuuk: Saturday 28 March 2026 ends at 23:00 -02 (= 00:00 -01): 23 hours. Saturday 24
    # October runs 00:00 -01 to 00:00 -02 (25 hours); its repeated 23:00-24:00 is both times
    # in that day.
    assert _bounds(NUUK, "2026-03-28T12:00:00Z") == (
        _z("2026-03-28T02:00:00Z"), _z("2026-03-29T01:00:00Z"))
    sat = (_z("2026-10-24T01:00:00Z"), _z("2026-10-25T02:00:00Z"))
    assert _bounds(NUUK, "2026-10-24T12:00:00Z") == sat
    assert _bounds(NUUK, "2026-10-25T00:30:00Z") == sat  # 23:30 -01
    assert _bounds(NUUK, "2026-10-25T01:30:00Z") == sat  # 23:30 -02, the second time
    # Gaza: Saturday 28 March 2026 is 23 hours (00:00 EET to 00:00 EEST).
    assert _bounds(GAZA, "2026-03-28T12:00:00Z") == (
        _z("2026-03-27T22:00:00Z"), _z("2026-03-28T21:00:00Z"))
    # An ordinary day, and Kolkata's.
    assert _bounds(AMSTERDAM, "2026-11-25T09:00:00Z") == (
        _z("2026-11-24T23:00:00Z"), _z("2026-11-25T23:00:00Z"))
    assert _bounds(KOLKATA, "2026-11-25T20:00:00Z") == (
        _z("2026-11-25T18:30:00Z"), _z("2026-11-26T18:30:00Z"))


def test_midnight_skipped():
    # A rule whose clock jumps from 00:00 to 01:00 (Brazil until 2019): the day starts at the
    # jump, 01:00 local. First Sunday of October 2026 (the 4th) at 00:00 -03 = 03:00 UTC.
    z = clock.Zone("<-03>3<-02>,M10.1.0/0,M2.3.0/0")
    t = _z("2026-10-04T15:00:00Z")
    assert z.midnight(t) == _z("2026-10-04T03:00:00Z")
    assert clock.hhmm(z.midnight(t), z) == "01:00"
    assert z.day_bounds(t) == (_z("2026-10-04T03:00:00Z"), _z("2026-10-05T02:00:00Z"))
    assert z.to_utc(2026, 10, 4) == _z("2026-10-04T03:00:00Z")


def test_day_bounds_two_days():
    # "Today and tomorrow" in Amsterdam across the October change: 25 + 24 hours.
    z = clock.Zone(AMSTERDAM)
    t = _z("2026-10-25T09:00:00Z")
    assert z.day_bounds(t, 2) == (_z("2026-10-24T22:00:00Z"), _z("2026-10-26T23:00:00Z"))
    # Across a year end and a month end.
    t = _z("2026-12-31T12:00:00Z")
    assert z.day_bounds(t, 2) == (_z("2026-12-30T23:00:00Z"), _z("2027-01-01T23:00:00Z"))
    t = _z("2028-02-28T12:00:00Z")
    assert z.day_bounds(t, 2) == (_z("2028-02-27T23:00:00Z"), _z("2028-02-29T23:00:00Z"))


def test_to_utc_gaps_and_overlaps():
    z = clock.Zone(AMSTERDAM)
    # 29 March 2026: 02:00-03:00 does not exist; 02:30 moves forward to 03:30 CEST.
    assert z.to_utc(2026, 3, 29, 1, 59) == _z("2026-03-29T00:59:00Z")
    assert z.to_utc(2026, 3, 29, 2, 0) == _z("2026-03-29T01:00:00Z")
    assert z.to_utc(2026, 3, 29, 2, 30) == _z("2026-03-29T01:30:00Z")
    assert clock.hhmm(z.to_utc(2026, 3, 29, 2, 30), z) == "03:30"
    assert z.to_utc(2026, 3, 29, 3, 0) == _z("2026-03-29T01:00:00Z")
    # 25 October 2026: 02:00-03:00 happens twice; the first time (CEST) is taken.
    assert z.to_utc(2026, 10, 25, 1, 59) == _z("2026-10-24T23:59:00Z")
    assert z.to_utc(2026, 10, 25, 2, 0) == _z("2026-10-25T00:00:00Z")
    assert z.to_utc(2026, 10, 25, 2, 30) == _z("2026-10-25T00:30:00Z")
    assert z.to_utc(2026, 10, 25, 2, 59, 59) == _z("2026-10-25T00:59:59Z")
    assert z.to_utc(2026, 10, 25, 3, 0) == _z("2026-10-25T02:00:00Z")
    assert z.to_utc(2026, 11, 25, 9, 30) == _z("2026-11-25T08:30:00Z")
    z = clock.Zone(NEW_YORK)
    assert z.to_utc(2026, 3, 8, 2, 30) == _z("2026-03-08T07:30:00Z")  # 03:30 EDT
    assert z.to_utc(2026, 11, 1, 1, 30) == _z("2026-11-01T05:30:00Z")  # 01:30 EDT
    z = clock.Zone(LORD_HOWE)
    assert z.to_utc(2026, 10, 4, 2, 15) == _z("2026-10-03T15:45:00Z")  # 02:45 +11
    assert z.to_utc(2026, 4, 5, 1, 45) == _z("2026-04-04T14:45:00Z")  # 01:45 +11
    assert z.to_utc(2026, 4, 5, 2, 0) == _z("2026-04-04T15:30:00Z")
    z = clock.Zone(NUUK)
    assert z.to_utc(2026, 3, 28, 23, 30) == _z("2026-03-29T01:30:00Z")  # 00:30 -01
    assert z.to_utc(2026, 10, 24, 23, 30) == _z("2026-10-25T00:30:00Z")  # 23:30 -01
    assert clock.Zone(KOLKATA).to_utc(2026, 11, 25, 14, 30) == _z("2026-11-25T09:00:00Z")
    assert clock.Zone(UTC).to_utc(2026, 11, 25, 9) == _z("2026-11-25T09:00:00Z")


def test_office_hours_at():
    # Office hours are minutes after local midnight, on the wall clock: 07:00 is 07:00 CEST
    # on the short day, 1440 is the next midnight.
    z = clock.Zone(AMSTERDAM)
    t = _z("2026-03-29T10:00:00Z")
    assert z.at(t, 420) == _z("2026-03-29T05:00:00Z")
    assert z.at(t, 1440) == z.day_bounds(t)[1]
    assert z.at(t, 0) == z.midnight(t)
    t = _z("2026-11-25T09:00:00Z")
    assert (z.at(t, 420), z.at(t, 1140)) == (_z("2026-11-25T06:00:00Z"),
                                             _z("2026-11-25T18:00:00Z"))


def test_hour_by_hour_2026():
    # Every hour of 2026 in every zone of the table: the offset is one of the rule's, local
    # time maps back (except the repeated hour's second time), the day holds the instant and
    # starts at 00:00 local, and days last 23 to 25 hours.
    for rule in DOC_ZONES:
        z = clock.Zone(rule)
        offs = (z.std_utcoff, z.dst_utcoff)
        t = clock.timegm(2026, 1, 1) - 12 * H
        end = clock.timegm(2027, 1, 1) + 12 * H
        while t < end:
            off = z.utcoff(t)
            assert off in offs, (rule, t)
            lt = z.local(t)
            back = z.to_utc(lt[0], lt[1], lt[2], lt[3], lt[4], lt[5])
            if back != t:  # only the second pass of an overlap
                assert back < t and z.utcoff(back) != off and z.local(back) == lt, (rule, t)
            start, stop = z.day_bounds(t)
            assert start <= t < stop, (rule, t)
            assert z.local(start)[2:6] == (lt[2], 0, 0, 0), (rule, t)
            assert 23 * H <= stop - start <= 25 * H, (rule, t)
            t += H


def test_cache_stays_small_and_right():
    z = clock.Zone(AMSTERDAM)
    years = [2026, 1999, 2040, 2026, 2100, 1970, 2027, 2026, 2038, 2001, 2026]
    for y in years:
        t = clock.timegm(y, 7, 1)
        assert z.utcoff(t) == 7200 and z.utcoff(clock.timegm(y, 1, 1)) == 3600, y
        assert len(z._years) <= 6
    # Year boundaries in UTC and in local time.
    assert z.local(_z("2026-12-31T23:00:00Z"))[:4] == (2027, 1, 1, 0)
    assert z.local(_z("2026-12-31T22:59:59Z"))[:4] == (2026, 12, 31, 23)


# --- for the screen -----------------------------------------------------------------------

def test_hhmm_12_and_24():
    z = clock.Zone(AMSTERDAM)
    for when, h24, h12 in (("2026-11-25T08:30:00Z", "09:30", "9:30 AM"),
                           ("2026-11-24T23:00:00Z", "00:00", "12:00 AM"),
                           ("2026-11-24T23:05:00Z", "00:05", "12:05 AM"),
                           ("2026-11-25T10:59:59Z", "11:59", "11:59 AM"),
                           ("2026-11-25T11:00:00Z", "12:00", "12:00 PM"),
                           ("2026-11-25T12:07:00Z", "13:07", "1:07 PM"),
                           ("2026-11-25T22:59:00Z", "23:59", "11:59 PM")):
        t = _z(when)
        assert clock.hhmm(t, z) == h24, when
        assert clock.hhmm(t, z, 24) == h24, when
        assert clock.hhmm(t, z, clock=12) == h12, when
    assert clock.hhmm(_z("2026-11-25T09:00:00Z"), clock.Zone(KOLKATA), 12) == "2:30 PM"
    _raises(clock.hhmm, 0, z, 13)
    _raises(clock.hhmm, 0, z, "24")


def test_names_and_date_line():
    assert clock.weekday_name(0) == "Monday" and clock.weekday_name(6, "nl") == "zondag"
    assert clock.month_name(1, "en") == "January" and clock.month_name(12, "nl") == "december"
    assert [clock.month_name(m, "nl") for m in (3, 5, 8)] == ["maart", "mei", "augustus"]
    assert len(clock.WEEKDAY_NAMES["nl"]) == 7 and len(clock.MONTH_NAMES["nl"]) == 12
    z = clock.Zone(AMSTERDAM)
    t = _z("2026-11-25T09:00:00Z")
    assert clock.date_line(t, z) == "Wednesday 25 November"
    assert clock.date_line(t, z, "en") == "Wednesday 25 November"
    assert clock.date_line(t, z, "nl") == "woensdag 25 november"
    # Local, not UTC: 23:30 UTC is already Thursday in Amsterdam, still Wednesday in New York.
    t = _z("2026-11-25T23:30:00Z")
    assert clock.date_line(t, z, "nl") == "donderdag 26 november"
    assert clock.date_line(t, clock.Zone(NEW_YORK)) == "Wednesday 25 November"
    assert clock.date_line(_z("2026-03-01T12:00:00Z"), z, "nl") == "zondag 1 maart"
    # A language the firmware has no words for falls back to English.
    assert clock.date_line(t, z, "de") == "Thursday 26 November"


def test_http_dates_set_the_clock_only_in_their_preferred_form():
    assert clock.parse_http_date("Wed, 25 Nov 2026 19:39:06 GMT") == \
        clock.timegm(2026, 11, 25, 19, 39, 6)
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777  # RFC 9110
    assert clock.parse_http_date("Tue, 29 Feb 2028 00:00:00 GMT") == clock.timegm(2028, 2, 29)
    for bad in ("Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                "Wed, 25 Nov 2026 19:39:06 UTC", "Wed, 31 Nov 2026 19:39:06 GMT",
                "Wed, 25 Noz 2026 19:39:06 GMT", "Wed, 25 Nov 2026 24:39:06 GMT",
                "Wed, 25 Nov 2026 19:39 GMT", "", None, "Wed, 2x Nov 2026 19:39:06 GMT"):
        assert clock.parse_http_date(bad) is None, bad
