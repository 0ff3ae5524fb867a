# The emulated panel's screen and touch, as the host sees them (docs/emulator.md, "Screen and
# presses"): the view model the app shows goes to the state file "view.json" for the host's
# renderer and `lintel emulate --dump-view`; presses arrive as action ids, one per line, in the
# state file "presses". Only the emulated board has this module; hardware.py works without it.
import chip


def show(view_json):
    chip.write_state("view.json", view_json)


def take_presses():
    return [line.strip() for line in chip.take_state("presses").decode().splitlines()
            if line.strip()]
