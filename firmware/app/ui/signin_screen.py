# Sign-in (docs/view-model.md, "signin"): the device code, where to enter it and a QR code
# of that address; or, when the panel stopped asking for codes (`signin` is null), why, and
# a button for a new code (action id "signin").
from app.ui import kit
from app.ui.labels import text
from app.ui.screens import header

_QR = 276  # px square


def check(view):
    kit.need(kit.need(view, "room", ""), "name", "room")
    signin = kit.need(view, "signin", "")
    if signin is not None:
        for key in ("user_code", "verification_uri", "qr"):
            kit.need(signin, key, "signin")


def draw(scr, view, layout, hits):
    c = layout.colours
    top = header(scr, layout, view["room"]["name"])
    signin = view["signin"]
    language = view.get("language", "en")
    reason = kit.sentence(view.get("reason") or "")
    if signin is None:
        w = layout.width - 40
        kit.text(scr, text("signin_title", language), 20, top + 12, w, 40, c["fg"])
        kit.text(scr, reason, 20, top + 70, w, 32, c["fg"], wrap=True, lines=4)
        bw = 480
        kit.button(scr, hits, "signin", text("action:signin", language), (layout.width - bw) // 2,
                   layout.height - 128, bw, 100, layout, 32)
        return
    qr_x = layout.width - 20 - _QR
    w = qr_x - 40
    kit.text(scr, text("signin_title", language), 20, top + 10, w, 40, c["fg"])
    kit.text(scr, reason, 20, top + 60, w, 24, c["fg"], wrap=True, lines=2)
    kit.text(scr, text("signin_open", language), 20, top + 124, w, 24, c["fg"])
    kit.text(scr, signin["verification_uri"], 20, top + 154, w, 24, c["fg"], wrap=True,
             lines=2)
    kit.text(scr, text("signin_enter", language), 20, top + 216, w, 24, c["fg"])
    kit.text(scr, signin["user_code"], 20, top + 244, w, 64, c["fg"])
    expires = signin.get("expires_in")
    if expires:
        kit.text(scr, text("signin_expires", language, expires // 60), 20, layout.height - 34, w,
                 16, c["fg"])
    kit.qr(scr, signin["qr"], qr_x, top + 20, _QR, layout)
    kit.text(scr, text("signin_scan", language), qr_x, top + 30 + _QR, _QR, 16, c["fg"],
             align="center")
