# Wall time on the panel: Unix seconds, ISO 8601 as Graph and EWS write it, and the room's
# local time from the POSIX TZ rule of its configuration (docs/config.md, "Time zones"; the host
# evaluates the same rules with lintel.tz.PosixRule, the reference the tests compare against).
#
# Pure and portable: it imports only `time`, and only for now() and the port's epoch. Every
# other computation is integer days-from-civil arithmetic, so the answers do not depend on the
# port's epoch, on gmtime's range, or on the TZ of the machine (the Unix port's mktime and
# localtime follow the host's TZ). Runs on MicroPython and CPython alike.
#
# All instants are ints: seconds since 1970-01-01 00:00 UTC. On a 32-bit port such an int is
# past the small-int range (2**30) and lives on the heap, so a Zone caches each year's changes
# and a lookup is a comparison or two. Messages are plain ASCII.
import time

_DAY = 86400

# Localised names: weekday 0 = Monday (as civil() and time.localtime() count), month 1..12.
WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
MONTH_NAMES = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
}


# --- Days from civil and back (proleptic Gregorian, any year) -----------------------------

def _days(y, m, d):
    """Days from 1970-01-01 to y-m-d; d may run past the month (it carries on linearly)."""
    if m <= 2:
        y -= 1
        m += 9
    else:
        m -= 3
    era = y // 400
    yoe = y - era * 400  # 0..399
    doe = yoe * 365 + yoe // 4 - yoe // 100 + (153 * m + 2) // 5 + d - 1
    return era * 146097 + doe - 719468


def _from_days(z):
    """(year, month, day) of the day z days after 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097  # 0..146096
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365  # 0..399
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # 0..365, from 1 March
    mp = (5 * doy + 2) // 153  # 0..11, March = 0
    d = doy - (153 * mp + 2) // 5 + 1
    if mp < 10:
        return yoe + era * 400, mp + 3, d
    return yoe + era * 400 + 1, mp - 9, d


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _month_days(y, m):
    if m == 2:
        return 29 if _leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def timegm(y, mo, d, h=0, mi=0, s=0):
    """Unix seconds of the UTC time y-mo-d h:mi:s. A month outside 1..12 carries into the year;
    days, hours, minutes and seconds past their range carry on (like calendar.timegm)."""
    if not 1 <= mo <= 12:
        y += (mo - 1) // 12
        mo = (mo - 1) % 12 + 1
    return _days(y, mo, d) * _DAY + h * 3600 + mi * 60 + s


def civil(t):
    """(year, month, mday, hour, minute, second, weekday 0=Monday, yearday 1..366) of Unix t."""
    t = int(t)
    z, s = divmod(t, _DAY)
    y, m, d = _from_days(z)
    return (y, m, d, s // 3600, s // 60 % 60, s % 60, (z + 3) % 7, z - _days(y, 1, 1) + 1)


# The port's epoch in Unix seconds: 0 where time counts from 1970 (the Unix port, CPython),
# 946684800 where it counts from 2000 (MicroPython's bare-metal ports, the esp32 port among
# them, unless built with MICROPY_EPOCH_IS_1970). gmtime(0) names the epoch on every port; the
# bare-metal gmtime is only meant for dates after 2000, so nothing else here relies on it.
EPOCH_OFFSET = timegm(*time.gmtime(0)[:6])


# A clock before this has lost its time: a power cut sets the RTC back to 2000.
LOST_BEFORE = 1767225600  # 2026-01-01


def lost():
    """Whether the clock has lost its time (now() is before LOST_BEFORE)."""
    return now() < LOST_BEFORE


def now():
    """Seconds since 1970-01-01 UTC, an int, whatever the port's epoch."""
    return int(time.time()) + EPOCH_OFFSET


# --- ISO 8601 ----------------------------------------------------------------------------

def _ascii(text):
    """text with anything but printable ASCII as "?": the panel's fonts have no other glyphs."""
    for c in text:
        if not " " <= c <= "~":
            return "".join(c if " " <= c <= "~" else "?" for c in text)
    return text


def _show(value):
    """A value for an error message: repr'd, short, ASCII."""
    text = _ascii(repr(value))
    return text if len(text) <= 48 else text[:45] + "..."


def _num(data, i, n):
    """The int of the n digits at data[i:i+n] (bytes), or -1 if they are not all ASCII digits.
    Bytes, not text: indexing them gives ints, where a str gives a one-character string, which
    made parse_iso twice as slow (half of what each meeting costs to read)."""
    v = 0
    for k in range(i, i + n):
        c = data[k]
        if not 48 <= c <= 57:
            return -1
        v = v * 10 + c - 48
    return v


def parse_iso(text):
    """Unix seconds of an ISO 8601 date and time as Graph and EWS write them:
    2026-11-25T09:00:00[.fraction][Z | +hh:mm | -hh:mm]. No offset means UTC (Graph with
    Prefer: outlook.timezone="UTC"); fractional seconds are truncated. ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected a date and time like 2026-11-25T09:00:00Z, got %s"
                         % _show(text))
    b = text.encode()  # see _num; anything not ASCII fails the checks below as it should
    n = len(b)
    if n < 19 or b[4] != 45 or b[7] != 45 or b[10] != 84 or b[13] != 58 or b[16] != 58:
        raise ValueError("not a date and time like 2026-11-25T09:00:00Z: %s" % _show(text))
    y, mo, d = _num(b, 0, 4), _num(b, 5, 2), _num(b, 8, 2)
    h, mi, s = _num(b, 11, 2), _num(b, 14, 2), _num(b, 17, 2)
    if min(y, mo, d, h, mi, s) < 0:
        raise ValueError("not a date and time like 2026-11-25T09:00:00Z: %s" % _show(text))
    if not (1 <= mo <= 12 and 1 <= d <= _month_days(y, mo) and h <= 23 and mi <= 59
            and s <= 59):
        raise ValueError("no such date or time: %s" % _show(text))
    i = 19
    if i < n and b[i] == 46:  # "."
        i += 1
        while i < n and 48 <= b[i] <= 57:
            i += 1
        if i == 20:
            raise ValueError("no digits after the decimal point: %s" % _show(text))
    off = 0
    if i < n:
        c = b[i]
        if c == 90 and i + 1 == n:  # "Z"
            pass
        elif (c == 43 or c == 45) and n - i == 6 and b[i + 3] == 58:  # "+", "-", ":"
            oh, om = _num(b, i + 1, 2), _num(b, i + 4, 2)
            if oh < 0 or om < 0 or oh > 23 or om > 59:
                raise ValueError("bad UTC offset in %s" % _show(text))
            off = oh * 3600 + om * 60
            if c == 45:
                off = -off
        else:
            raise ValueError("expected Z or a UTC offset like +01:00 after the time: %s"
                             % _show(text))
    return _days(y, mo, d) * _DAY + h * 3600 + mi * 60 + s - off


_HTTP_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec")


def parse_http_date(text):
    """Unix seconds of an HTTP Date header in its preferred form (RFC 9110 section 5.6.7,
    IMF-fixdate: "Wed, 25 Nov 2026 19:39:06 GMT"), or None for anything else: the clock is set
    from it only when it is beyond doubt."""
    if not isinstance(text, str) or len(text) != 29 or text[3:5] != ", " or text[25:] != " GMT":
        return None
    if text[7] != " " or text[11] != " " or text[16] != " " or text[19] != ":" \
            or text[22] != ":":
        return None
    month = text[8:11]
    if month not in _HTTP_MONTHS:
        return None
    mo = _HTTP_MONTHS.index(month) + 1
    b = text.encode()
    y, d = _num(b, 12, 4), _num(b, 5, 2)
    h, mi, s = _num(b, 17, 2), _num(b, 20, 2), _num(b, 23, 2)
    if min(y, d, h, mi, s) < 0 or not (1 <= d <= _month_days(y, mo) and h <= 23 and mi <= 59
                                       and s <= 60):
        return None
    return _days(y, mo, d) * _DAY + h * 3600 + mi * 60 + min(s, 59)


def format_iso(t):
    """2026-11-25T09:00:00: UTC, no offset (Graph request bodies, with "timeZone": "UTC")."""
    return "%04d-%02d-%02dT%02d:%02d:%02d" % civil(t)[:6]


def format_iso_z(t):
    """2026-11-25T09:00:00Z: UTC with its designator (query strings)."""
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % civil(t)[:6]


# --- POSIX TZ rules ----------------------------------------------------------------------

def _alpha(c):
    return "A" <= c <= "Z" or "a" <= c <= "z"


class _Rule:
    """A cursor over a POSIX TZ string; each method reads one part or raises ValueError."""

    def __init__(self, text):
        self.text = text
        self.i = 0

    def fail(self, what):
        raise ValueError('time zone rule "%s": %s' % (_ascii(self.text[:64]), what))

    def more(self):
        return self.i < len(self.text)

    def peek(self):
        return self.text[self.i] if self.i < len(self.text) else ""

    def name(self):
        text, i = self.text, self.i
        if self.peek() == "<":
            j = text.find(">", i)
            if j < 0:
                self.fail('"<" without its ">"')
            name = text[i + 1:j]
            for c in name:
                if not (_alpha(c) or "0" <= c <= "9" or c == "+" or c == "-"):
                    self.fail("a quoted name may hold letters, digits, + and - only")
            self.i = j + 1
        else:
            j = i
            while j < len(text) and _alpha(text[j]):
                j += 1
            name = text[i:j]
            self.i = j
        if len(name) < 3:
            self.fail("expected a zone name of 3 or more letters (like CET or <+0530>) at "
                      "position %d" % (i + 1))
        return name

    def number(self, digits, what):
        text, i = self.text, self.i
        j = i
        while j < len(text) and j - i < digits and "0" <= text[j] <= "9":
            j += 1
        if j == i:
            self.fail("expected %s at position %d" % (what, i + 1))
        self.i = j
        return int(text[i:j])

    def seconds(self, max_hours, what):
        """[+-]hh[:mm[:ss]] in seconds, sign included."""
        sign = 1
        c = self.peek()
        if c == "+" or c == "-":
            sign = -1 if c == "-" else 1
            self.i += 1
        h = self.number(3, what)
        if h > max_hours:
            self.fail("%s of %d hours (at most %d)" % (what, h, max_hours))
        v = h * 3600
        for scale in (60, 1):
            if self.peek() != ":":
                break
            self.i += 1
            x = self.number(2, "minutes or seconds")
            if x > 59:
                self.fail("%d minutes or seconds in %s (at most 59)" % (x, what))
            v += x * scale
        return sign * v

    def date(self):
        """(kind, a, b, c): (0, n) Jn, (1, n) n, (2, month, week, weekday) Mm.w.d."""
        c = self.peek()
        if c == "J":
            self.i += 1
            n = self.number(3, "a day 1-365 after J")
            if not 1 <= n <= 365:
                self.fail("day J%d out of range (J1 to J365)" % n)
            return (0, n, 0, 0)
        if c == "M":
            self.i += 1
            m = self.number(2, "a month after M")
            w = d = -1
            if self.peek() == ".":
                self.i += 1
                w = self.number(1, "a week 1-5")
                if self.peek() == ".":
                    self.i += 1
                    d = self.number(1, "a weekday 0-6")
            if d < 0:
                self.fail("expected a date like M3.5.0 (month.week.weekday)")
            if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6):
                self.fail("date M%d.%d.%d out of range (month 1-12, week 1-5, weekday 0-6)"
                          % (m, w, d))
            return (2, m, w, d)
        n = self.number(3, "a date (Jn, n or Mm.w.d)")
        if n > 365:
            self.fail("day %d out of range (0 to 365)" % n)
        return (1, n, 0, 0)

    def change(self):
        """A date and the time of day of the change, default 02:00."""
        date = self.date()
        at = 7200
        if self.peek() == "/":
            self.i += 1
            at = self.seconds(167, "a transition time")
        return date, at


def _day_of_year(date, y):
    """Days after 1 January of year y on which the rule's date falls."""
    kind, a, w, wd = date
    if kind == 0:  # Jn: 1..365, 29 February never counted
        return a - 1 + (1 if a >= 60 and _leap(y) else 0)
    if kind == 1:  # n: 0..365, 29 February counted
        return a
    first = _days(y, a, 1)
    sunday0 = (first + 4) % 7  # weekday of the 1st, 0 = Sunday (1970-01-01 was a Thursday)
    day = 1 + (wd - sunday0) % 7 + 7 * (w - 1)
    last = _month_days(y, a)
    while day > last:  # week 5 is "the last"
        day -= 7
    return first - _days(y, 1, 1) + day - 1


class Zone:
    """The local time of a POSIX TZ rule, e.g. Zone("CET-1CEST,M3.5.0,M10.5.0/3").

    Attributes: rule (the text), std and dst (names; dst None without DST), std_utcoff and
    dst_utcoff (seconds east of UTC). The transitions of each year are computed once and
    cached (a few years at a time), so a lookup costs a comparison or two."""

    def __init__(self, rule):
        if not isinstance(rule, str):
            raise ValueError("a time zone rule is text like CET-1CEST,M3.5.0,M10.5.0/3, not %s"
                             % _show(rule))
        p = _Rule(rule)
        self.rule = rule
        self.std = p.name()
        if not p.more():
            p.fail("no UTC offset after %s (like CET-1 or UTC0)" % self.std)
        self.std_utcoff = -p.seconds(24, "a UTC offset")  # POSIX offsets are west of UTC
        self.dst = self.dst_utcoff = self._start = self._end = None
        if p.more():
            self.dst = p.name()
            self.dst_utcoff = self.std_utcoff + 3600
            c = p.peek()
            if c and c != ",":
                self.dst_utcoff = -p.seconds(24, "a UTC offset")
            if p.more():
                if p.peek() != ",":
                    p.fail("expected , and the start of daylight time at position %d"
                           % (p.i + 1))
                p.i += 1
                self._start = p.change()
                if p.peek() != ",":
                    p.fail("expected , and the end of daylight time at position %d"
                           % (p.i + 1))
                p.i += 1
                self._end = p.change()
            else:  # POSIX leaves the dates open; the C libraries use the US rules
                self._start, self._end = ((2, 3, 2, 0), 7200), ((2, 11, 1, 0), 7200)
            if p.more():
                p.fail("unexpected %s at position %d" % (_show(rule[p.i:]), p.i + 1))
        self._years = {}  # year -> span, see _span()
        self._last = None  # the span asked for last

    def __repr__(self):
        return "Zone(%r)" % self.rule

    def transitions(self, year):
        """(start, end) of daylight time in year, Unix seconds; None for a zone without DST.
        The start is in standard time, the end in daylight time, as the rule says."""
        if self.dst is None:
            return None
        jan1 = _days(year, 1, 1)
        (sdate, stime), (edate, etime) = self._start, self._end
        start = (jan1 + _day_of_year(sdate, year)) * _DAY + stime - self.std_utcoff
        end = (jan1 + _day_of_year(edate, year)) * _DAY + etime - self.dst_utcoff
        return start, end

    def _span(self, t):
        """(lo, hi, dst at lo, ((instant, dst), ...)) of the UTC year holding t: the changes in
        [lo, hi) in order. Like lintel.tz.PosixRule: the changes of the year before, the year
        and the year after, sorted, an end before a start at the same instant (so DST all
        year stays DST)."""
        y = _from_days(t // _DAY)[0]
        span = self._years.get(y)
        if span is None:
            lo, hi = _days(y, 1, 1) * _DAY, _days(y + 1, 1, 1) * _DAY
            events = []
            for yy in (y - 1, y, y + 1):
                start, end = self.transitions(yy)
                events.append((end, False))
                events.append((start, True))
            events.sort()
            first, inside = False, []
            for at, on in events:
                if at <= lo:
                    first = on
                elif at < hi:
                    inside.append((at, on))
            span = (lo, hi, first, tuple(inside))
            if len(self._years) >= 6:
                self._years = {}
            self._years[y] = span
        self._last = span
        return span

    def is_dst(self, t):
        """True if daylight time is in force at Unix time t."""
        if self.dst is None:
            return False
        span = self._last
        if span is None or not span[0] <= t < span[1]:
            span = self._span(t)
        on = span[2]
        for at, v in span[3]:
            if at > t:
                break
            on = v
        return on

    def utcoff(self, t):
        """Seconds east of UTC at Unix time t (3600 for CET, 7200 for CEST)."""
        return self.dst_utcoff if self.is_dst(t) else self.std_utcoff

    def abbrev(self, t):
        """The zone's name at t: "CET", "CEST", "+1030" (the rule's <> dropped)."""
        return self.dst if self.is_dst(t) else self.std

    def local(self, t):
        """civil() of the local time at Unix time t."""
        return civil(t + self.utcoff(t))

    def _wall(self, w):
        """Unix seconds of local wall time w (seconds since 1970-01-01 00:00 on the wall).

        In a gap (the clock jumps forward over w) the later instant: w read with the offset
        before the jump, so 02:30 on the morning Amsterdam skips 02:00-03:00 is 03:30 CEST.
        In an overlap (the clock goes back and shows w twice) the first occurrence: 02:30 on
        the morning Amsterdam repeats 02:00-03:00 is 02:30 CEST, not 02:30 CET."""
        a = w - self.std_utcoff
        if self.dst is None:
            return a
        b = w - self.dst_utcoff
        a_ok = not self.is_dst(a)
        b_ok = self.is_dst(b)
        if a_ok and b_ok:
            return a if a < b else b
        if a_ok:
            return a
        if b_ok:
            return b
        return a if a > b else b

    def to_utc(self, y, mo, d, h=0, mi=0, s=0):
        """Unix seconds of the local wall time y-mo-d h:mi:s. A wall time the clock skips (a
        DST gap) is moved forward by the gap (later instant); a wall time the clock shows
        twice (the hour after DST ends) is its first occurrence. Values carry like timegm()."""
        return self._wall(timegm(y, mo, d, h, mi, s))

    def midnight(self, t):
        """Unix seconds of the local midnight that starts the day holding t: the first instant
        of that local date (if the clock skips midnight, the moment it lands on the day)."""
        return self._wall((t + self.utcoff(t)) // _DAY * _DAY)

    def day_bounds(self, t, days=1):
        """(start, end): from the local midnight of the day holding t to the local midnight
        `days` days later. A day may last 23, 24 or 25 hours (or 23.5 and 24.5 at Lord Howe)."""
        w = (t + self.utcoff(t)) // _DAY * _DAY
        return self._wall(w), self._wall(w + days * _DAY)

    def at(self, t, minutes):
        """Unix seconds of the local wall time `minutes` after midnight on the local day holding
        t (office hours: at(t, 420) is 07:00; 1440 is the next midnight). Gaps and overlaps as
        in to_utc()."""
        return self._wall((t + self.utcoff(t)) // _DAY * _DAY + minutes * 60)


UTC = Zone("UTC0")


# --- For the screen ----------------------------------------------------------------------

def _names(table, language):
    # A language the firmware has no words for falls back to English rather than failing.
    return table.get(language) or table["en"]


def weekday_name(weekday, language="en"):
    """The name of weekday 0 (Monday) .. 6 (Sunday): "Wednesday", "woensdag"."""
    return _names(WEEKDAY_NAMES, language)[weekday]


def month_name(month, language="en"):
    """The name of month 1..12: "November", "november"."""
    return _names(MONTH_NAMES, language)[month - 1]


def hhmm(t, zone, clock=24):
    """The local time of day at t: "09:30" (clock=24) or "9:30 AM" (clock=12)."""
    lt = zone.local(t)
    h, mi = lt[3], lt[4]
    if clock == 24:
        return "%02d:%02d" % (h, mi)
    if clock == 12:
        return "%d:%02d %s" % (h % 12 or 12, mi, "AM" if h < 12 else "PM")
    raise ValueError("clock must be 12 or 24, not %s" % _show(clock))


def date_line(t, zone, language="en"):
    """The local date at t for the screen: "Wednesday 25 November", "woensdag 25 november"."""
    lt = zone.local(t)
    return "%s %d %s" % (weekday_name(lt[6], language), lt[2], month_name(lt[1], language))
