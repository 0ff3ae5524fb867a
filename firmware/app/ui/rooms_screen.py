# Find a room (docs/view-model.md, "rooms"): the other rooms, free ones first, each with how
# long it stays free; a Back button returns to the room (action id "back").
from app import words
from app.ui import kit
from app.ui.labels import text
from app.ui.screens import header

_ROW = 64
_PILL = 300  # the status on the right of a row, px wide


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    rooms = kit.need(view, "rooms", "")
    if not isinstance(rooms, list):
        raise kit.ViewError("'rooms' must be a list")
    for i, room in enumerate(rooms):
        for key in ("name", "free"):
            kit.need(room, key, "rooms[%d]" % i)


def draw(scr, view, layout, hits):
    c = layout.colours
    language = view.get("language", "en")
    title = view.get("heading") or text("other_rooms", language)
    y = header(scr, layout, title, view.get("time")) + 6
    back_top = layout.height - 88
    kit.button(scr, hits, "back", text("action:back", language), 20, back_top, 260, 80,
               layout, 32)
    rooms = view["rooms"]
    if not rooms:
        kit.text(scr, text("no_find", language), 20, y + 20, layout.width - 40, 32, c["fg"],
                 wrap=True, lines=2)
        return
    fit = (back_top - 8 - y) // _ROW
    shown = len(rooms) if len(rooms) <= fit else fit - 1
    says = [room.get("status_text") or _status_text(room, language) for room in rooms[:shown]]
    size = 32  # one size for every row's status: the largest they all fit in
    for words_ in says:
        size = min(size, kit.fit(words_, _PILL - 16, size, 24))
    for i in range(shown):
        _row(scr, rooms[i], says[i], size, layout, y)
        y += _ROW
    if shown < len(rooms):
        kit.text(scr, text("and_more", language, len(rooms) - shown), 20, y + 16,
                 layout.width - 40, 24, c["fg"])


def _status_text(room, language):
    minutes = room.get("free_for_min")
    if room["free"]:
        if minutes is not None and minutes >= 60:
            return text("free_hour", language)
        return text("free_for", language, words.duration(minutes or 0, language))
    return text("unknown" if minutes is None else "busy", language)


def _row(scr, room, says, size, layout, y):
    c = layout.colours
    w = layout.width
    kit.text(scr, room["name"], 20, y + 12, w - 60 - _PILL, 32, c["fg"])
    if room["free"]:
        bg, fg, outlined = c["free_bg"], c["free_fg"], layout.mono
    elif room.get("free_for_min") is None:
        bg, fg, outlined = c["bg"], c["fg"], True  # Graph could not say
    else:
        bg, fg, outlined = c["busy_bg"], c["busy_fg"], False
    kit.box(scr, w - 20 - _PILL, y + 6, _PILL, _ROW - 12, bg=bg,
            border=c["fg"] if outlined else None, border_width=3, radius=8)
    kit.text(scr, says, w - 20 - _PILL + 8, y + 6 + (_ROW - 12 - kit.line_height(size)) // 2,
             _PILL - 16, size, fg, align="center")
    kit.hline(scr, 20, y + _ROW - 1, w - 40, layout, 1)
