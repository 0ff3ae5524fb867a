# Something an admin should fix (docs/view-model.md, "problem"): a headline for the kind, the
# words, and the action in full, wrapped (the PowerShell line must be readable to the end).
from app.ui import kit
from app.ui.labels import duration, has, text
from app.ui.screens import header


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    problem = kit.need(view, "problem", "")
    for key in ("kind", "words", "action"):
        kit.need(problem, key, "problem")


def draw(scr, view, layout, hits):
    c = layout.colours
    problem = view["problem"]
    language = view.get("language", "en")
    top = header(scr, layout, view["room"]["name"])
    w = layout.width - 40
    kind = "kind:%s" % problem["kind"]
    headline = text(kind if has(kind) else "kind:", language)
    kit.box(scr, 0, top, layout.width, 64, bg=c["alert_bg"])
    kit.text(scr, headline, 20, top + 10, w, 40, c["alert_fg"])
    y = top + 76
    _, h = kit.text(scr, kit.sentence(problem["words"]), 20, y, w, 32, c["fg"], wrap=True)
    y += h + 14
    kit.text(scr, text("what_to_do", language), 20, y, w, 16, c["muted"])
    y += 22
    kit.text(scr, problem["action"], 20, y, w, 24, c["fg"], wrap=True, spaces=True)
    retry = problem.get("retry_in_s")
    if retry:
        kit.text(scr, text("retry_in", language, duration(retry, language)), 20,
                 layout.height - 30, w, 16, c["fg"])
