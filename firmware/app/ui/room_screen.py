# The room at the door (docs/view-model.md, "room"): name and clock on top; the status block
# (the status in the biggest type that fits, until when, the meeting now or next); the agenda
# of today and tomorrow on the right, with the check-in, the last press's notice and the
# battery's warning below it; the buttons along the bottom. A room waiting for a check-in
# that this panel can take is drawn by checkin_screen instead (screens.build).
#
#   +--------------------------------------------------+
#   | Boardroom 4.12                          09:12    |
#   |                              Wednesday 25 Nov    |
#   |--------------------------------------------------|
#   | BUSY                        | Today              |
#   | until 10:30                 | 10:00 Weekly ...   |
#   | Now 09:00 - 10:00           | Tomorrow           |
#   | Amara Okafor                | 09:00 ...          |
#   |                             | [check-in][notice] |
#   | [Extend 15 min] [End now] [Check in] [Find a room]
#   +--------------------------------------------------+
from app import words
from app.ui import kit
from app.ui.labels import has, text
from app.ui.screens import header

STATUSES = ("free", "busy", "ending_soon", "starting_soon", "awaiting_checkin", "checked_in")
# The status block's colours: the room is free, taken, or waits for someone to check in.
_TONE = {"free": "free", "starting_soon": "free", "busy": "busy", "ending_soon": "busy",
         "checked_in": "busy", "awaiting_checkin": "checkin"}
_BAND = 116  # the buttons' band at the bottom, in px
_SPLIT = 480  # where the status block ends and the agenda begins
_ROW = 30  # an agenda row
_BOX = 70  # a box of words below the agenda


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    kit.need(view, "status", "")  # "time" may be absent or None: a battery panel's
    if view["status"] not in STATUSES:
        raise kit.ViewError("status must be one of %s, not %r" % (", ".join(STATUSES),
                                                                  view["status"]))
    for key in ("current", "next"):
        meeting = view.get(key)
        if meeting is not None:
            kit.need(meeting, "title", key)
    for key in ("offline", "battery"):
        if view.get(key) is not None:
            kit.need(view[key], "text", key)
    for day in ("today", "tomorrow"):
        for i, e in enumerate((view.get("agenda") or {}).get(day) or ()):
            kit.need(e, "title", "agenda.%s[%d]" % (day, i))
            kit.need(e, "start", "agenda.%s[%d]" % (day, i))


def draw(scr, view, layout, hits):
    top = header(scr, layout, view["room"]["name"], view.get("time"), view.get("date"))
    band = layout.height - _BAND
    _status(scr, view, layout, top, band - 8)
    _agenda(scr, view, layout, top + 8, band - 8)
    _buttons(scr, view, layout, hits, band, layout.height - 8)


def _heading(view, key):
    return (view.get("headings") or {}).get(key) or text(key, view.get("language", "en"))


def _when(meeting, language):
    if meeting.get("when"):
        return meeting["when"]
    if meeting.get("all_day"):
        return text("all_day", language)
    return "%s - %s" % (meeting.get("start", ""), meeting.get("end", ""))


def _status(scr, view, layout, top, bottom):
    c = layout.colours
    language = view.get("language", "en")
    status = view["status"]
    tone = _TONE[status]
    fg = c[tone + "_fg"]
    kit.box(scr, 0, top, _SPLIT, bottom - top, bg=c[tone + "_bg"])
    x, w = 24, _SPLIT - 48
    # Baselines stay put whatever the size the words fit in: a longer status is smaller.
    word = view.get("status_text") or text(status, language)
    size = kit.fit(word, w, 144, 40)
    kit.text(scr, word, x, top + 110 - kit.ascent(size), w, size, fg)
    until = view.get("until_text")
    if not until:
        until = text("until", language, view["until"]) if view.get("until") else \
            text("rest_of_day", language)
    size = kit.fit(until, w, 48)
    kit.text(scr, until, x, top + 162 - kit.ascent(size), w, size, fg)
    meeting = view.get("current") or view.get("next")
    if meeting is None:
        kit.text(scr, _heading(view, "nothing_today"), x, top + 176, w, 24, fg)
        return
    kit.text(scr, meeting_line(view), x, top + 176, w, 24, fg)
    kit.text(scr, meeting["title"], x, top + 203, w, 32, fg)
    if meeting.get("organizer"):
        kit.text(scr, meeting["organizer"], x, top + 239, w, 24, fg)


def meeting_line(view):
    """Which meeting the status block names (the one now, else the next), its time and tag:
    "Now 09:00 - 10:00 \u2022 Tentative"."""
    language = view.get("language", "en")
    on = view.get("current")
    meeting = on or view.get("next")
    line = "%s %s" % (_heading(view, "now" if on else "next"), _when(meeting, language))
    if meeting.get("tag"):
        line += " \u2022 " + meeting["tag"]
    if on and view.get("checked_in") and view["status"] != "checked_in":
        line += " \u2022 " + text("checked_in", language)
    return line


def boxes(scr, view, layout, x, w, bottom, top, checkin=True, fitted=False):
    """The view's boxes, stacked up from `bottom`: offline, the last press's notice, the
    check-in (unless `checkin` is False: the check-in screen says it in its band), the
    battery at the top. A box that would reach above `top` is left out; `fitted` boxes are
    only as tall as their words (else all the same height, so that they stay put). Returns
    the y above them."""
    said = []
    offline = view.get("offline")
    if offline:  # the last good schedule: say since when, and why
        said.append((offline["text"], "alert"))
    notice = view.get("notice")
    if notice:
        said.append((notice, "alert" if view.get("notice_kind") == "refused" else "notice"))
    if checkin and view.get("checkin_text"):
        said.append((view["checkin_text"], "checkin"))
    battery = view.get("battery")
    if battery:  # for whoever looks after the panel: charge it before it goes dark
        said.append((battery["text"], "alert"))
    for words_, kind in said:
        size, rows = _box_size(words_, w)
        h = rows * kit.line_height(size) + 16 if fitted else _BOX
        if bottom - h < top:
            break
        bottom = _box(scr, words_, layout, kind, x, w, bottom, h)
    return bottom


def _agenda(scr, view, layout, top, bottom):
    x = _SPLIT + 20
    w = layout.width - 20 - x
    bottom = boxes(scr, view, layout, x, w, bottom, top)
    agenda = view.get("agenda") or {}
    today = [e for e in agenda.get("today") or () if not e.get("now")]
    tomorrow = agenda.get("tomorrow") or []
    times = [e["start"] for e in today + tomorrow]
    clock_w = 116 if [t for t in times if len(t) > 5] else 80  # "9:30 AM" needs more room
    # Today first; tomorrow (its heading and at least one row) only below a complete today.
    y, complete = _day(scr, view, layout, "today", today, x, top, w, clock_w, bottom)
    if complete and y + 6 + 22 + _ROW <= bottom:
        _day(scr, view, layout, "tomorrow", tomorrow, x, y + 6, w, clock_w, bottom)


def _day(scr, view, layout, day, items, x, y, w, clock_w, bottom):
    """One day's meetings from y down to at most `bottom`: the y below them, and whether
    all of them are shown."""
    c = layout.colours
    kit.text(scr, _heading(view, day), x, y, w, 16, c["muted"])
    y += 22
    if not items:
        empty = _heading(view, "nothing_" + day)
        kit.text(scr, empty, x, y + 4, w, kit.fit(empty, w, 16, 14), c["fg"])
        return y + _ROW, True
    shown = len(items)
    while shown and y + _ROW * shown > bottom:
        shown -= 1
    if shown < len(items) and shown:
        shown -= 1  # the last row says how many more
    for e in items[:shown]:
        if e.get("all_day"):
            kit.text(scr, _when(e, view.get("language", "en")), x, y + 4, clock_w - 6, 16,
                     c["fg"])
        else:
            kit.text(scr, e["start"], x, y, clock_w - 6, 24, c["fg"])
        title = e["title"] + (" \u2022 " + e["tag"] if e.get("tag") else "")
        kit.text(scr, title, x + clock_w, y, w - clock_w, 24, c["fg"])
        y += _ROW
    if shown < len(items):
        kit.text(scr, text("and_more", view.get("language", "en"), len(items) - shown), x,
                 y + 4, w, 16, c["fg"])
        y += _ROW
    return y, shown == len(items)


def _box_size(words_, w):
    """The text size and the lines the words take in a box `w` wide: two of 24 px, else up
    to three of 16 px."""
    rows = kit.lines(words_, 24, w)
    if rows <= 2:
        return 24, rows
    return 16, min(3, kit.lines(words_, 16, w))


def _box(scr, words_, layout, kind, x, w, bottom, h):
    """Words in a coloured box of height `h` ending at `bottom`; the y above it."""
    c = layout.colours
    size = _box_size(words_, w)[0]
    bg, fg = c[kind + "_bg"], c[kind + "_fg"]
    if layout.mono and size == 16:
        # 16 px white on black loses its thin strokes in 1 bit ("12%" reads "12 )"): black
        # on white in a heavy frame instead.
        bg, fg = c["bg"], c["fg"]
    kit.box(scr, x - 8, bottom - h, w + 16, h, bg=bg, border=c["fg"], radius=6,
            border_width=3 if bg == c["bg"] else 0)
    kit.text(scr, words_, x, bottom - h + 8, w, size, fg, wrap=True,
             lines=2 if size == 24 else 3)
    return bottom - h - 8


def _buttons(scr, view, layout, hits, top, bottom):
    actions = view.get("actions") or []
    if not actions:
        return
    rows = 1 if len(actions) <= 4 else 2 if len(actions) <= 10 else 3
    cols = (len(actions) + rows - 1) // rows
    gap = 12
    w = (layout.width - 40 - (cols - 1) * gap) // cols
    h = (bottom - top - (rows - 1) * 8) // rows
    captions = [caption(action, view) for action in actions]
    # One size for all: the largest every caption fits in (a longer one wraps or shortens).
    size = 32 if rows == 1 and cols <= 3 else 24
    for words_ in captions:
        size = min(size, kit.fit(words_, w - 8, size, 24))
    for i, action in enumerate(actions):
        row, col = i // cols, i % cols
        kit.button(scr, hits, action, captions[i], 20 + col * (w + gap),
                   top + row * (h + 8), w, h, layout, size,
                   primary=primary(action))


def primary(action):
    """What most people at the door came for: booking the free room, checking in."""
    return action in ("checkin", "book") or action.startswith("book:")


def caption(action, view):
    """A button's words: the view's `labels`, else made from the action id."""
    given = view.get("labels") or {}
    if given.get(action):
        return given[action]
    language = view.get("language", "en")
    name, _, arg = action.partition(":")
    if name in ("book", "extend", "service") and not arg:  # a menu: it opens a picker
        return text(name + "_menu", language)  # app/words.py's, as the view's labels are
    if name in ("book", "extend") and arg.isdigit():
        return text(name, language, words.duration(int(arg), language))
    if name == "service":
        kind, _, index = arg.partition(":")
        label = text("action:" + kind, language) if has("action:" + kind) else kind
        same = [a for a in view.get("actions") or () if a.startswith("service:%s:" % kind)]
        return label if len(same) == 1 or not index.isdigit() else \
            "%s %d" % (label, int(index) + 1)
    if name in ("end", "checkin", "find"):
        return text(name, language)
    return action
