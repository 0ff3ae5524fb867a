# A panel without a usable configuration (docs/view-model.md, "setup"): its device id, large,
# for the technician to match to a panel.toml; what is wrong; what to do.
from app.ui import kit
from app.ui.labels import text
from app.ui.screens import header


def check(view):
    for key in ("device", "words", "action"):
        kit.need(view, key, "")


def draw(scr, view, layout, hits):
    c = layout.colours
    language = view.get("language", "en")
    top = header(scr, layout, text("setup_title", language))
    w = layout.width - 40
    kit.text(scr, text("device", language), 20, top + 14, w, 24, c["fg"])
    kit.text(scr, view["device"], 20, top + 40, w, 80, c["fg"])
    y = top + 140
    _, h = kit.text(scr, view["words"], 20, y, w, 32, c["fg"], wrap=True)
    y += h + 14
    kit.text(scr, view["action"], 20, y, w, 24, c["fg"], wrap=True)
    if view.get("version"):
        kit.text(scr, text("version", language, view["version"]), 20, layout.height - 30, w, 16,
                 c["fg"])
