# The board's push buttons: each to GND with the chip's internal pull-up, so active low
# (board.json pins.buttons, pin_notes.buttons). On the e-paper board the wake button ends a deep
# sleep (ext0: its GT911 is unpowered then, so a finger alone cannot), and pressed again while
# the panel listens it asks for a fresh look at the calendar.
import esp32
import machine
import time
from machine import Pin

DEBOUNCE_MS = 10  # a contact settles within a few ms; a finger's press lasts 100 ms or more


class Buttons:
    def __init__(self, pins):
        """pins: {name: GPIO number}. A button held now (the one that woke the panel) counts
        as pressed only once it has been let go and pressed again."""
        self._pins = {name: Pin(n, Pin.IN, Pin.PULL_UP) for name, n in pins.items()}
        self._down = set(self.held())

    def held(self):
        """The names of the buttons held down now: low at two reads DEBOUNCE_MS apart (a
        bounce or a spike reads low once)."""
        low = [name for name, pin in self._pins.items() if not pin.value()]
        if not low:
            return []
        time.sleep_ms(DEBOUNCE_MS)
        return [name for name in low if not self._pins[name].value()]

    def pressed(self):
        """The names of the buttons pressed since the last look: released then, held now."""
        now = set(self.held())
        new = [name for name in now if name not in self._down]
        self._down = now
        return new

    def arm_wake(self, name):
        """Let this button end the next deep sleep. ext0 watches one RTC GPIO (0-21 on the
        ESP32-S3) for a level, so a button held as the chip goes to sleep wakes it at once."""
        esp32.wake_on_ext0(self._pins[name], esp32.WAKEUP_ALL_LOW)


def woke_the_chip():
    """Whether this boot is a deep-sleep wake by a wake pin (ext0 or ext1)."""
    return machine.reset_cause() == machine.DEEPSLEEP_RESET and \
        machine.wake_reason() in (machine.EXT0_WAKE, machine.EXT1_WAKE)


def from_board(info):
    """The board's buttons (a dict of its board file), or None on a board without any."""
    pins = info["pins"].get("buttons")
    return Buttons(pins) if pins else None
