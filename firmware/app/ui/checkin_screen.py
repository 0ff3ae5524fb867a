# A room waiting for someone to check in, and this panel can take the check-in
# (docs/view-model.md, "room" with status awaiting_checkin and "checkin" in its actions;
# screens.build picks this layout). Whoever stands at the door came for that one button: the
# band says what is asked and until when, the button is the largest thing to touch, and the
# room screen's other buttons are a row of smaller ones below.
#
#   +--------------------------------------------------+
#   | Focus room 4.03                        9:02 AM   |
#   |                              Thursday 26 Nov     |
#   |--------------------------------------------------|
#   | Please check in                                  |
#   | Check in by 9:10 AM or the room is released      |
#   |--------------------------------------------------|
#   | Now 9:00 AM - 9:45 AM      | +-----------------+ |
#   | Onboarding                 | |    Check in     | |
#   | Lena Virtanen              | +-----------------+ |
#   | [notice] [battery]         |                     |
#   | [Extend 15 min]   [End now]   [Find a room]      |
#   +--------------------------------------------------+
from app.ui import kit, room_screen
from app.ui.labels import text
from app.ui.screens import header

_BAND = 132  # the band in the check-in tone under the header
_BUTTON_W = 300  # the check-in button's width
_ROW_H = 72  # a row of the other buttons


def check(view):
    room_screen.check(view)


def draw(scr, view, layout, hits):
    c = layout.colours
    top = header(scr, layout, view["room"]["name"], view.get("time"), view.get("date"))
    w = layout.width - 40
    # The band: the status as large as fits, and the deadline under it.
    word = view.get("status_text") or text("awaiting_checkin", view.get("language", "en"))
    kit.box(scr, 0, top, layout.width, _BAND, bg=c["checkin_bg"])
    size = kit.fit(word, w, 80, 40)
    kit.text(scr, word, 20, top + 76 - kit.ascent(size), w, size, c["checkin_fg"])
    deadline = view.get("checkin_text")
    if deadline:
        size = kit.fit(deadline, w, 32, 24)
        kit.text(scr, deadline, 20, top + 116 - kit.ascent(size), w, size, c["checkin_fg"])
    body = top + _BAND + 12
    others = [a for a in view["actions"] if a != "checkin"]
    place, size, bottom = _row(others, view, layout)
    # The check-in button on the right, as tall as the body allows (up to 170 px).
    x = layout.width - 20 - _BUTTON_W
    place["checkin"] = (x, body, _BUTTON_W, min(170, bottom - 12 - body))
    # Hit areas in the view's order (docs/render.md), wherever each button sits.
    for action in view["actions"]:
        bx, by, bw, bh = place[action]
        big = action == "checkin"
        kit.button(scr, hits, action, room_screen.caption(action, view), bx, by, bw, bh, layout,
                   48 if big else size, primary=big or room_screen.primary(action))
    _meeting(scr, view, layout, 20, body, x - 40, bottom - 12)


def _row(actions, view, layout):
    """Where the other buttons go: rows along the bottom (one up to four, two up to eight),
    in one caption size, 32 or 24 px. Returns {action: (x, y, w, h)}, the size, and the y
    where the rows begin."""
    if not actions:
        return {}, 24, layout.height - 8
    rows = 1 if len(actions) <= 4 else 2 if len(actions) <= 8 else 3
    cols = (len(actions) + rows - 1) // rows
    gap = 12
    w = (layout.width - 40 - (cols - 1) * gap) // cols
    h = _ROW_H if rows == 1 else 56 if rows == 2 else 48
    top = layout.height - 8 - rows * h - (rows - 1) * 8
    size = 32 if rows == 1 and cols <= 3 else 24
    for action in actions:
        size = min(size, kit.fit(room_screen.caption(action, view), w - 20, size, 24))
    place = {}
    for i, action in enumerate(actions):
        row, col = i // cols, i % cols
        place[action] = (20 + col * (w + gap), top + row * (h + 8), w, h)
    return place, size, top


def _meeting(scr, view, layout, x, top, w, bottom):
    """The meeting (now, else next) in the left column, the boxes (notice, battery, offline)
    at its foot; the meeting's lines stop where the boxes begin."""
    c = layout.colours
    bottom = room_screen.boxes(scr, view, layout, x + 8, w - 16, bottom, top, checkin=False,
                               fitted=True)
    meeting = view.get("current") or view.get("next")
    if meeting is None:
        return
    when = (room_screen.meeting_line(view), 24)
    title = (meeting["title"], 40)
    organizer = (meeting.get("organizer"), 24)
    # Short of room, the organizer goes first, then the time: the title says which meeting.
    for shown in ((when, title, organizer), (when, title), (title,), (when,)):
        shown = [line for line in shown if line[0]]
        if top + 4 + sum(kit.line_height(size) + 6 for _, size in shown) - 6 <= bottom:
            break
    else:
        return
    y = top + 4
    for words_, size in shown:
        kit.text(scr, words_, x, y, w, size, c["fg"])
        y += kit.line_height(size) + 6
