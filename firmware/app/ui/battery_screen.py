# The battery is (nearly) empty (docs/view-model.md, "battery"): the panel draws this and
# sleeps until it has power again. An e-paper panel keeps showing it without any, so it says
# nothing that goes stale (no clock, no meeting) and offers nothing to press; it must be read
# from across the corridor: the words in a high-contrast band, a battery drawn with boxes
# (no image to store) showing how little is left, and what to do.
#
#   +--------------------------------------------------+
#   | Boardroom 4.12                                   |
#   |--------------------------------------------------|
#   | The battery is empty                  (alert)    |
#   |--------------------------------------------------|
#   |  +------------+-+   Charge or replace the        |
#   |  |#    2%     | |   battery. The panel shows     |
#   |  +------------+-+   the room again by itself ... |
#   +--------------------------------------------------+
from app.ui import kit
from app.ui.screens import header

_BODY_W = 280  # the battery symbol's body
_BODY_H = 150
_NUB_W = 24  # the terminal on its right
_EDGE = 10  # its outline


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    for key in ("words", "action"):
        kit.need(view, key, "")


def draw(scr, view, layout, hits):
    c = layout.colours
    top = header(scr, layout, view["room"]["name"])
    w = layout.width - 40
    kit.box(scr, 0, top, layout.width, 96, bg=c["alert_bg"])
    size = kit.fit(view["words"], w, 64, 32)
    kit.text(scr, view["words"], 20, top + 48 - kit.line_height(size) // 2, w, size,
             c["alert_fg"])
    body = top + 96
    y = body + (layout.height - body - _BODY_H) // 2
    _battery(scr, view.get("percent"), layout, 20, y)
    x = 20 + _BODY_W + _NUB_W + 36
    tw = layout.width - 20 - x
    # The action in 32 px, or smaller when it would not fit beside the symbol.
    room = layout.height - body - 32
    size = 32
    while size > 24 and kit.lines(view["action"], size, tw) * kit.line_height(size) > room:
        size -= 8
    rows = min(kit.lines(view["action"], size, tw), room // kit.line_height(size))
    kit.text(scr, view["action"], x, body + (layout.height - body - rows *
             kit.line_height(size)) // 2, tw, size, c["fg"], wrap=True, lines=rows)


def _battery(scr, percent, layout, x, y):
    """The outline, the charge left as a bar from its left end, and the percent inside."""
    c = layout.colours
    kit.box(scr, x, y, _BODY_W, _BODY_H, border=c["fg"], border_width=_EDGE, radius=14)
    kit.box(scr, x + _BODY_W, y + _BODY_H // 2 - 35, _NUB_W, 70, bg=c["fg"], radius=6)
    if percent is None or isinstance(percent, bool):
        return
    percent = int(percent)
    inner = _BODY_W - 4 * _EDGE
    level = inner * max(0, min(100, percent)) // 100
    if percent > 0:
        level = max(level, 8)  # a sliver, still visible from afar
        kit.box(scr, x + 2 * _EDGE, y + 2 * _EDGE, level, _BODY_H - 4 * _EDGE,
                bg=c["alert_bg"] if percent <= 20 else c["fg"], radius=4)
    kit.text(scr, "%d%%" % percent, x + 2 * _EDGE + level + 8,
             y + (_BODY_H - kit.line_height(64)) // 2, inner - level - 8, 64, c["fg"],
             align="center")
