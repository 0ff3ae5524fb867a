# The pickers a menu button opens (docs/view-model.md, "book" and "service"): a heading and
# the clock on top, a line saying what the choice is about, the choices as big buttons, and
# Back (action id "back") to return to the room.
#
#   +--------------------------------------------------+        Service: the choices in
#   | Book this room                          13:07    |        their groups, each under
#   |--------------------------------------------------|        its heading:
#   | Free until 14:00                                 |
#   | +------------+ +------------+ +------------+     |        Catering
#   | |   15 min   | |   30 min   | |   1 hour   |     |        [More coffee] [Water] ...
#   | | until 13:22| | until 13:37| | until 14:00|     |        Room support
#   | +------------+ +------------+ +------------+     |        [Projector issue] ...
#   | [Back]                                           |
#   +--------------------------------------------------+
#
# Booking or extending is what the person at the door came for: its choices are primary
# buttons. The service requests are a list of equals: plain buttons.
from app.ui import kit
from app.ui.labels import text
from app.ui.screens import header

_GAP = 12  # between buttons
_BACK_H = 80
_HEADING = 28  # a group's heading above its buttons


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    if view["screen"] == "book":
        _check_choices(kit.need(view, "choices", ""), "choices")
        return
    groups = kit.need(view, "groups", "")
    if not isinstance(groups, list):
        raise kit.ViewError("'groups' must be a list")
    for i, group in enumerate(groups):
        where = "groups[%d]" % i
        _check_choices(kit.need(group, "choices", where), where + ".choices")


def _check_choices(choices, where):
    if not isinstance(choices, list):
        raise kit.ViewError("'%s' must be a list" % where)
    for i, choice in enumerate(choices):
        for key in ("action", "label"):
            kit.need(choice, key, "%s[%d]" % (where, i))


def draw(scr, view, layout, hits):
    c = layout.colours
    language = view.get("language", "en")
    top = header(scr, layout, view.get("heading") or view["room"]["name"], view.get("time"))
    w = layout.width - 40
    # The line in one line as large as fits (40 or 32 px), else in two of 32 px; the buttons
    # take the rest.
    line = view.get("line")
    y = top + 14
    if line:
        size = kit.fit(line, w, 40, 32)
        rows = 2 if kit.lines(line, size, w) > 1 else 1
        _, h = kit.text(scr, line, 20, y, w, size, c["fg"], wrap=rows > 1, lines=rows)
        y += h + 16
    back_top = layout.height - 8 - _BACK_H
    area = (y, back_top - _GAP)
    if view["screen"] == "book":
        _book(scr, view["choices"], layout, hits, area)
    else:
        _service(scr, [g for g in view["groups"] if g["choices"]], layout, hits, area)
    kit.button(scr, hits, "back", view.get("back") or text("action:back", language), 20,
               back_top, 260, _BACK_H, layout, 32)


def _book(scr, choices, layout, hits, area):
    """One row of up to four big buttons, more in two rows (or three), the label large and
    the detail ("until 13:22") under it."""
    if not choices:
        return
    rows = 1 if len(choices) <= 4 else 2 if len(choices) <= 8 else 3
    cols = (len(choices) + rows - 1) // rows
    w = (layout.width - 40 - (cols - 1) * _GAP) // cols
    h = (area[1] - area[0] - (rows - 1) * _GAP) // rows
    if h > 200:  # a row of few choices: buttons, not walls, in the middle of the space
        area = (area[0] + (h - 200) * rows // 2, area[1])
        h = 200
    details = [choice.get("detail") or "" for choice in choices]
    detail_size = 32 if rows == 1 else 24
    for words_ in details:
        detail_size = min(detail_size, kit.fit(words_, w - 16, detail_size, 24))
    # One size for every label, the largest they all fit in; what room the detail leaves.
    size = 56 if rows == 1 else 40
    while size > 32 and kit.line_height(size) + kit.line_height(detail_size) > h - 12:
        size -= 8
    for choice in choices:
        size = min(size, kit.fit(choice["label"], w - 16, size, 32))
    if detail_size >= size:  # the detail stays the smaller line
        detail_size = 24
    for i, choice in enumerate(choices):
        row, col = i // cols, i % cols
        kit.button(scr, hits, choice["action"], choice["label"], 20 + col * (w + _GAP),
                   area[0] + row * (h + _GAP), w, h, layout, size, primary=True,
                   detail=details[i], detail_size=detail_size)


def _service(scr, groups, layout, hits, area):
    """Each group's heading and its buttons, in rows of as many columns as the longest
    group needs (up to four, more only when the rows would get too low to touch)."""
    c = layout.colours
    if not groups:
        return
    longest = max(len(g["choices"]) for g in groups)
    cols = min(4, longest)
    while True:
        rows = 0
        for g in groups:
            rows += (len(g["choices"]) + cols - 1) // cols
        h = (area[1] - area[0] - len(groups) * _HEADING - (rows - len(groups)) * 8 -
             (len(groups) - 1) * _GAP) // rows
        if h >= 60 or cols >= longest or cols >= 6:
            break
        cols += 1
    h = min(h, 100)  # a lone group's buttons stay button-shaped
    w = (layout.width - 40 - (cols - 1) * _GAP) // cols
    # One caption size for all: 32 px when every label fits in it, on two lines where the
    # buttons are tall enough; else the largest every label fits in on one line (a longer
    # one wraps or shortens, as on the room screen's buttons).
    labels = [choice["label"] for g in groups for choice in g["choices"]]
    two = h >= 2 * kit.line_height(32) + 8
    size = 32
    for label in labels:
        if kit.lines(label, 32, w - 8) > (2 if two else 1):
            size = min(size, kit.fit(label, w - 8, 32, 24))
    y = area[0]
    for g in groups:
        if g.get("heading"):
            kit.text(scr, g["heading"], 20, y, layout.width - 40, 24, c["muted"])
        y += _HEADING
        for i, choice in enumerate(g["choices"]):
            row, col = i // cols, i % cols
            kit.button(scr, hits, choice["action"], choice["label"], 20 + col * (w + _GAP),
                       y + row * (h + 8), w, h, layout, size)
        y += ((len(g["choices"]) + cols - 1) // cols) * (h + 8) - 8 + _GAP
