# The few things every screen is made of: a layout (from the board file), its colours, text
# in the sizes a door panel needs, boxes, buttons that report where they are (hit areas), a QR
# code. Widgets are placed at fixed coordinates: the screen is a pure function of the view
# model, its blocks stay put from one wake to the next (partial refresh of an e-paper redraws
# only what changed) and the hit areas are known without asking LVGL.
#
# MicroPython and CPython (pydevices-lvgl) alike: LVGL 9.5 API only, no f-strings.
import lvgl as lv

# The Montserrat sizes the LVGL build has (docs/render.md); bigger type is 40 px scaled up
# with a transform, LVGL's own way to draw a widget larger.
_FONT_SIZES = (40, 32, 24, 16, 14)
_ONE = 256  # LVGL's transform scale for 1:1


class ViewError(Exception):
    """The view model lacks something the screen needs, or names an unknown screen."""


def need(obj, key, where):
    """obj[key], or a ViewError naming the field (`where` is its parent's path)."""
    if not isinstance(obj, dict) or key not in obj:
        raise ViewError("the view has no '%s%s'" % (where + "." if where else "", key))
    return obj[key]


class Layout:
    """What the board file says about the screen: width, height, colour ("mono": 1-bit black
    on white e-paper; "color": the LCD), touch. Built from a dict or any object with those
    attributes."""

    def __init__(self, spec):
        if isinstance(spec, dict):
            get = spec.get
        else:
            def get(key, default=None):
                return getattr(spec, key, default)
        self.width = int(get("width", 800))
        self.height = int(get("height", 480))
        colour = get("colour", None) or get("color", "mono")
        if colour not in ("mono", "color"):
            raise ViewError("layout colour must be 'mono' or 'color', not %r" % (colour,))
        self.mono = colour == "mono"
        self.touch = bool(get("touch", True))
        self.colours = MONO if self.mono else COLOUR


# Colours by role, 0xRRGGBB. E-paper has black and white only: no greys, which a 1-bit panel
# would dither into noise; busy is white on black. The LCD: free green, busy red, both dark
# enough for white type (contrast above 5:1), buttons near-black.
MONO = {
    "bg": 0xFFFFFF, "fg": 0x000000, "line": 0x000000,
    "free_bg": 0xFFFFFF, "free_fg": 0x000000, "busy_bg": 0x000000, "busy_fg": 0xFFFFFF,
    "button_bg": 0xFFFFFF, "button_fg": 0x000000, "button_border": 0x000000,
    "primary_bg": 0x000000, "primary_fg": 0xFFFFFF,
    "notice_bg": 0x000000, "notice_fg": 0xFFFFFF, "alert_bg": 0x000000, "alert_fg": 0xFFFFFF,
    "checkin_bg": 0x000000, "checkin_fg": 0xFFFFFF, "muted": 0x000000,
    "qr_dark": 0x000000, "qr_light": 0xFFFFFF,
}
COLOUR = {
    "bg": 0xFFFFFF, "fg": 0x111111, "line": 0x9AA0A6,
    "free_bg": 0x0B7A3E, "free_fg": 0xFFFFFF, "busy_bg": 0xB3261E, "busy_fg": 0xFFFFFF,
    "button_bg": 0x1F2933, "button_fg": 0xFFFFFF, "button_border": 0x1F2933,
    "primary_bg": 0x0B4F9C, "primary_fg": 0xFFFFFF,
    "notice_bg": 0x0B4F9C, "notice_fg": 0xFFFFFF, "alert_bg": 0xA14600, "alert_fg": 0xFFFFFF,
    "checkin_bg": 0xA14600, "checkin_fg": 0xFFFFFF, "muted": 0x3C4650,
    "qr_dark": 0x000000, "qr_light": 0xFFFFFF,
}


def font(size):
    """The font and transform scale (256 = 1:1) that draw text `size` pixels tall."""
    for base in _FONT_SIZES:
        if base <= size:
            break
    scale = _ONE if size <= _FONT_SIZES[0] else size * _ONE // _FONT_SIZES[0]
    return getattr(lv, "font_montserrat_%d" % base), scale


def line_height(size):
    f, scale = font(size)
    return f.line_height * scale // _ONE


def ascent(size):
    """From the top of a line of `size` text to its baseline."""
    f, scale = font(size)
    return (f.line_height - f.base_line) * scale // _ONE


def lines(s, size, w):
    """How many lines `s` takes, wrapped `w` px wide in `size` text."""
    f, scale = font(size)
    measured = lv.point_t()
    lv.text_get_size(measured, plain(s), f, 0, 0, w * _ONE // scale, lv.TEXT_FLAG.NONE)
    return max(1, measured.y // f.line_height)


def width(s, size):
    """How wide `s` is on one line of `size` text."""
    f, scale = font(size)
    measured = lv.point_t()
    lv.text_get_size(measured, plain(s), f, 0, 0, lv.COORD.MAX, lv.TEXT_FLAG.NONE)
    return measured.x * scale // _ONE


def fit(s, w, largest, smallest=24):
    """The largest text size from `largest` down to `smallest` in which `s` fits on one line
    `w` px wide (`smallest` when none does: the text then ends in "...")."""
    s = plain(s)
    size = lv.point_t()
    if largest > _FONT_SIZES[0]:
        lv.text_get_size(size, s, lv.font_montserrat_40, 0, 0, lv.COORD.MAX,
                         lv.TEXT_FLAG.NONE)
        best = w * _FONT_SIZES[0] // max(1, size.x)
        if best > _FONT_SIZES[0]:
            return min(largest, best)
    for base in _FONT_SIZES:
        if smallest <= base <= largest:
            lv.text_get_size(size, s, font(base)[0], 0, 0, lv.COORD.MAX, lv.TEXT_FLAG.NONE)
            if size.x <= w:
                return base
    return smallest


# The built-in Montserrat fonts have ASCII (and the degree sign and bullet) only; any other
# letter would show as an empty box. Accented Latin letters and typographic punctuation lose
# their marks instead: "Zoë" reads "Zoe".
_FROM = "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝ‘’‚“”„–—\u00a0"
_TO = "aaaaaaceeeeiiiinoooooouuuuyyAAAAAACEEEEIIIINOOOOOOUUUUY'''\"\"\"-- "
_MORE = {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "…": "..."}


def plain(s):
    """`s` in the letters the fonts have."""
    if len(s.encode()) == len(s):
        return s
    out = []
    for ch in s:
        at = _FROM.find(ch)
        out.append(_TO[at] if at >= 0 else _MORE.get(ch, ch))
    return "".join(out)


def sentence(s):
    """The app's words start in lower case (they also end log lines); on screen they open a
    sentence."""
    return s[:1].upper() + s[1:]


def clear(layout):
    """The active screen, emptied and painted in the background colour."""
    scr = lv.screen_active()
    scr.clean()
    scr.remove_style_all()
    scr.set_style_bg_color(lv.color_hex(layout.colours["bg"]), 0)
    scr.set_style_bg_opa(lv.OPA.COVER, 0)
    scr.remove_flag(lv.obj.FLAG.SCROLLABLE)
    return scr


def box(parent, x, y, w, h, bg=None, border=None, border_width=0, radius=0):
    """A plain rectangle; `bg` None leaves it transparent."""
    obj = lv.obj(parent)
    obj.remove_style_all()
    obj.remove_flag(lv.obj.FLAG.SCROLLABLE)
    obj.set_pos(x, y)
    obj.set_size(w, h)
    if bg is not None:
        obj.set_style_bg_color(lv.color_hex(bg), 0)
        obj.set_style_bg_opa(lv.OPA.COVER, 0)
    if border is not None and border_width:
        obj.set_style_border_color(lv.color_hex(border), 0)
        obj.set_style_border_width(border_width, 0)
        obj.set_style_border_opa(lv.OPA.COVER, 0)
    if radius:
        obj.set_style_radius(radius, 0)
    return obj


def _align(name):
    if name == "center":
        return lv.TEXT_ALIGN.CENTER
    if name == "right":
        return lv.TEXT_ALIGN.RIGHT
    return lv.TEXT_ALIGN.LEFT


def text(parent, s, x, y, w, size, colour, align="left", wrap=False, lines=0, spaces=False):
    """A label `size` px tall at (x, y), `w` wide. One line ending in "..." when it does not
    fit, or with `wrap` as many lines as it needs (at most `lines` when given); `spaces`
    breaks lines at spaces only (LVGL also breaks after - . : and the like, which would cut a
    command line where a reader would type a space). Returns the label and the height it
    takes on the screen."""
    if not isinstance(s, str):
        raise ViewError("the view has %r where the screen shows text" % (s,))
    s = plain(s)
    f, scale = font(size)
    if spaces:
        s = _break_at_spaces(s, f, w * _ONE // scale)
    label = lv.label(parent)
    label.remove_style_all()
    label.set_style_text_font(f, 0)
    label.set_style_text_color(lv.color_hex(colour), 0)
    label.set_style_text_align(_align(align), 0)
    width = w * _ONE // scale  # before the transform: the label's own width
    one = f.line_height
    if wrap and not lines:
        label.set_long_mode(lv.label.LONG_MODE.WRAP)
        label.set_width(width)
        label.set_text(s)
        label.update_layout()
        height = label.get_height()
    else:
        label.set_long_mode(lv.label.LONG_MODE.DOTS if not wrap or lines else
                            lv.label.LONG_MODE.WRAP)
        height = one * (lines or 1)
        label.set_size(width, height)
        label.set_text(s)
    label.set_pos(x, y)
    if scale != _ONE:
        label.set_style_transform_pivot_x(0, 0)
        label.set_style_transform_pivot_y(0, 0)
        label.set_style_transform_scale_x(scale, 0)
        label.set_style_transform_scale_y(scale, 0)
    return label, height * scale // _ONE


def _break_at_spaces(s, f, width):
    size = lv.point_t()
    lines, line = [], ""
    for word in s.split(" "):
        trial = line + " " + word if line else word
        lv.text_get_size(size, trial, f, 0, 0, lv.COORD.MAX, lv.TEXT_FLAG.NONE)
        if size.x <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return "\n".join(lines)


def button(parent, hits, action, caption, x, y, w, h, layout, size=24, primary=False,
           detail=None, detail_size=24):
    """A button for `action` (a view-model action id) and its hit area in `hits`. A primary
    button (what most people at the door came for) stands out: filled on e-paper, blue on
    the LCD. A `detail` is a smaller line under the caption ("until 13:22"), the two
    centred together."""
    c = layout.colours
    kind = "primary" if primary else "button"
    obj = box(parent, x, y, w, h, bg=c[kind + "_bg"], border=c["button_border"],
              border_width=3 if layout.mono else 0, radius=10)
    pad = 4
    under = line_height(detail_size) if detail else 0
    rows = 2 if lines(caption, size, w - 2 * pad) > 1 and \
        h >= 2 * line_height(size) + under + 8 else 1
    top = (h - rows * line_height(size) - under) // 2
    text(obj, caption, pad, top, w - 2 * pad, size, c[kind + "_fg"], align="center",
         wrap=rows > 1, lines=rows)
    if detail:
        text(obj, detail, pad, top + rows * line_height(size), w - 2 * pad, detail_size,
             c[kind + "_fg"], align="center")
    hits.append((action, x, y, w, h))
    return obj


def hline(parent, x, y, w, layout, thickness=2):
    return box(parent, x, y, w, thickness, bg=layout.colours["line"])


def qr(parent, data, x, y, size, layout):
    """LVGL's QR code widget, `size` px square, encoding `data`."""
    c = layout.colours
    code = lv.qrcode(parent)
    code.set_size(size)
    code.set_dark_color(lv.color_hex(c["qr_dark"]))
    code.set_light_color(lv.color_hex(c["qr_light"]))
    code.set_pos(x, y)
    data = data.encode()
    code.update(data, len(data))
    return code
