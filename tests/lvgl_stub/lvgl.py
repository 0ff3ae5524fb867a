# A stand-in for the LVGL binding, for running firmware/app/ui inside the Unix-port
# MicroPython (which has no LVGL): every widget call is accepted and does nothing, text is
# measured as half its font size per character. It shows that the screens' code runs under
# MicroPython's language and library, and that it computes the same hit areas there as on
# CPython with real LVGL (tests/test_render.py).


class _Enum:
    def __init__(self, *names):
        for i, name in enumerate(names):
            setattr(self, name, i)


class _Font:
    def __init__(self, size):
        self.size = size
        self.line_height = size + size // 10
        self.base_line = size // 5


class obj:
    FLAG = _Enum("SCROLLABLE", "CLICKABLE")

    def __init__(self, parent=None):
        self.parent = parent
        self.text = ""
        self.width = 0
        self.height = 0
        self.font = _Font(14)

    def __getattr__(self, name):
        def call(*args):
            return None
        return call

    def set_size(self, w, h=None):
        self.width = w
        if h is not None:
            self.height = h

    def set_width(self, w):
        self.width = w

    def set_text(self, text):
        self.text = text

    def set_style_text_font(self, font, selector):
        self.font = font

    def get_height(self):
        per_line = max(1, self.width // max(1, self.font.size // 2))
        lines = 0
        for line in self.text.split("\n"):
            lines += 1 + len(line) // per_line
        return lines * self.font.line_height


class label(obj):
    LONG_MODE = _Enum("WRAP", "DOTS", "SCROLL", "SCROLL_CIRCULAR", "CLIP")


class qrcode(obj):
    pass


class point_t:
    def __init__(self):
        self.x = 0
        self.y = 0


TEXT_ALIGN = _Enum("AUTO", "LEFT", "CENTER", "RIGHT")
TEXT_FLAG = _Enum("NONE", "EXPAND", "FIT", "BREAK_ALL", "RECOLOR")
OPA = _Enum("TRANSP")
OPA.COVER = 255
COORD = _Enum()
COORD.MAX = (1 << 29) - 1

font_montserrat_14 = _Font(14)
font_montserrat_16 = _Font(16)
font_montserrat_24 = _Font(24)
font_montserrat_32 = _Font(32)
font_montserrat_40 = _Font(40)

_screen = obj()


def screen_active():
    return _screen


def color_hex(value):
    return value


def text_get_size(size, text, font, letter_space, line_space, max_width, flag):
    size.x = len(text) * font.size // 2
    size.y = font.line_height
