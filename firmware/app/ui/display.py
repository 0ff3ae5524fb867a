# LVGL's display for a board's screen: the one the panel draws with and the one `lintel render`
# draws with on the host (docs/render.md, "The flush path").
#
#   display = Display(width, height, mono, sink)
#   hits = display.draw(view, layout)
#
# One draw buffer of the whole screen in LVGL's DIRECT render mode: the buffer always holds the
# complete frame, and a refresh redraws only what was invalidated into it. Mono (e-paper) is
# LVGL's I1, one bit a pixel, rows MSB first, 1 = white; invalidated areas are widened to whole
# bytes (multiples of 8 pixels), which is what an e-paper controller's partial window takes.
# Colour is RGB565. After each refresh the sink hears once:
#
#   sink(frame, stride, (x, y, w, h))
#
# frame: the pixels (a buffer the next refresh overwrites; no I1 palette), stride: bytes a row,
# and the bounding box of what LVGL redrew this time, byte-aligned on mono.
import lvgl as lv

from app.ui import screens

_I1_PALETTE = 8  # an I1 buffer starts with its two colours, 4 bytes each


class Display:
    def __init__(self, width, height, mono, sink):
        self.width, self.height, self.mono = width, height, mono
        self._sink = sink
        fmt = lv.COLOR_FORMAT.I1 if mono else lv.COLOR_FORMAT.RGB565
        self.display = lv.display_create(width, height)
        lv.display_set_color_format(self.display, fmt)
        self._buffer = lv.draw_buf_create(width, height, fmt, 0)
        self.stride = self._buffer.header.stride
        self._offset = _I1_PALETTE if mono else 0
        self._size = self._offset + self.stride * height
        lv.display_set_draw_buffers(self.display, self._buffer, None)
        lv.display_set_render_mode(self.display, lv.DISPLAY_RENDER_MODE.DIRECT)
        lv.display_set_flush_cb(self.display, self._flush)
        if mono:
            lv.display_add_event_cb(self.display, self._whole_bytes, lv.EVENT.INVALIDATE_AREA,
                                    None)
        self._box = None  # (x1, y1, x2, y2) flushed so far in this refresh

    def draw(self, view, layout):
        """Build `view` on this display and refresh it now; the buttons' hit areas."""
        lv.display_set_default(self.display)
        hits = screens.build(view, layout)
        lv.refr_now(self.display)
        return hits

    def _flush(self, display, area, pixels):
        box = (area.x1, area.y1, area.x2, area.y2)
        if self._box is not None:
            b = self._box
            box = (min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3]))
        self._box = box
        last = lv.display_flush_is_last(display)
        lv.display_flush_ready(display)
        if not last:
            return
        self._box = None
        # DIRECT mode: the pointer is the buffer's start whatever the area.
        frame = memoryview(pixels.__dereference__(self._size))[self._offset:]
        self._sink(frame, self.stride, (box[0], box[1], box[2] - box[0] + 1,
                                        box[3] - box[1] + 1))

    def _whole_bytes(self, event):
        area = lv.event_get_invalidated_area(event)
        area.x1 = area.x1 & ~7
        area.x2 = min(area.x2 | 7, self.width - 1)
