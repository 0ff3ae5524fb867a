# View model in, widgets out (docs/view-model.md, docs/render.md).
#
#   hits = screens.build(view, layout)
#
# clears LVGL's active screen, builds the widgets of `view` and returns the hit areas of its
# buttons: [(action_id, x, y, w, h), ...], the ids being the view's actions (the choices'
# actions then "back" on the book and service pickers, "back" on the rooms screen, "signin"
# on a sign-in screen that waits, none on the battery screen). Nothing is drawn until LVGL
# next refreshes the display; the caller does that (lv.refr_now on the panel and on the host).
from app.ui import kit

SCREENS = ("room", "rooms", "signin", "problem", "setup", "book", "service", "battery")


def build(view, layout):
    if not isinstance(view, dict):
        raise kit.ViewError("a view model is a JSON object")
    screen = kit.need(view, "screen", "")
    if screen not in SCREENS:
        raise kit.ViewError("unknown screen %r (known: %s)" % (screen, ", ".join(SCREENS)))
    if not isinstance(layout, kit.Layout):
        layout = kit.Layout(layout)
    # Each screen's module is imported when first drawn: the panel keeps in RAM only what it
    # shows.
    if screen == "room" and view.get("status") == "awaiting_checkin" and \
            "checkin" in (view.get("actions") or ()):
        # Someone should check in and can, here: the button to press comes first.
        from app.ui import checkin_screen as module
    elif screen == "room":
        from app.ui import room_screen as module
    elif screen in ("book", "service"):
        from app.ui import choice_screen as module
    elif screen == "battery":
        from app.ui import battery_screen as module
    elif screen == "rooms":
        from app.ui import rooms_screen as module
    elif screen == "signin":
        from app.ui import signin_screen as module
    elif screen == "problem":
        from app.ui import problem_screen as module
    else:
        from app.ui import setup_screen as module
    module.check(view)
    hits = []
    module.draw(kit.clear(layout), view, layout, hits)
    return hits


def header(scr, layout, title, time=None, date=None):
    """The top band every screen shares: a big title (the room's name) and, on the right,
    the clock and the date under it, or the date alone (a battery panel shows no clock).
    Returns the y where the screen's body starts."""
    c = layout.colours
    w = layout.width
    right = 230 if time or date else 0  # the clock's column: "12:59 PM", the date under it
    # The title's room: beside the clock's column, or without a date as far as the time
    # itself leaves free (a picker's long heading).
    title_w = w - 40 - right
    if time and not date:
        title_w = max(title_w, w - 80 - kit.width(time, 48))
    size = kit.fit(title, title_w, 60, 32)
    kit.text(scr, title, 20, 6 + kit.ascent(60) - kit.ascent(size), title_w, size, c["fg"])
    if time:
        kit.text(scr, time, w - 20 - right, 4, right, 48, c["fg"], align="right")
    if date and time:
        kit.text(scr, date, w - 20 - right - 40, 58, right + 40, 16, c["fg"], align="right")
    elif date:
        kit.text(scr, date, w - 20 - right, 26, right, kit.fit(date, right, 24, 16), c["fg"],
                 align="right")
    kit.hline(scr, 0, 82, w, layout, 3 if layout.mono else 2)
    return 86
