# The status LED: a discrete RGB LED on three GPIOs (board.json pins.led; on the e-paper board
# common anode, so active low: pins.led.active_low). Colours by what the room is, as door signs use
# them: free green, busy red, a problem or a wait for a check-in amber (red and green).
from machine import Pin

COLOURS = {
    "off": (0, 0, 0),
    "free": (0, 1, 0),
    "busy": (1, 0, 0),
    "attention": (1, 1, 0),
}


class Led:
    def __init__(self, red, green, blue, active_low=False):
        """red, green, blue: GPIO numbers; active_low: a pin driven low lights its colour."""
        self._off = 1 if active_low else 0
        self._pins = [Pin(n, Pin.OUT, value=self._off) for n in (red, green, blue)]
        self.colour = "off"

    def show(self, colour):
        """Light one of COLOURS ("off" puts it out)."""
        lit = COLOURS[colour]
        for i in range(3):
            self._pins[i].value(self._off ^ lit[i])
        self.colour = colour


def from_board(info):
    """The LED as the board file (a dict) wires it, or None on a board without one."""
    pins = info["pins"].get("led")
    if not pins:
        return None
    return Led(pins["red"], pins["green"], pins["blue"], pins.get("active_low", False))
