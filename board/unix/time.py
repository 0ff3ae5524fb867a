# Stand-in for MicroPython's `time` on the emulated ESP32-S3: the port's own module, with the
# wall clock read from the emulated RTC. On the chip time.time() counts from the RTC, which
# runs on through deep sleep and is set by RTC.datetime(); here it is the host's clock plus
# an offset kept in the emulator's state ("rtc_offset", seconds): machine.RTC().datetime()
# moves it, and an emulator with an emulated clock (lintel emulate --clock-start) moves it on
# by the whole of every deep sleep while the sleep itself lasts ms / --speed. Ticks and sleeps
# are the host's, so a wake's own duration is real.
import sys

import chip

# The port's built-in module: import it with nothing on the path, then put this module back.
_path = sys.path[:]
_self = sys.modules.pop("time")
sys.path[:] = []
try:
    import time as _port
finally:
    sys.path[:] = _path
    sys.modules["time"] = _self

for _name in dir(_port):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_port, _name)

_offset = float(chip.read_state("rtc_offset", b"0") or 0)


def offset():
    return _offset


def set_offset(seconds):
    """Move the emulated RTC: seconds between it and the host's clock (machine.RTC)."""
    global _offset
    _offset = seconds
    chip.write_state("rtc_offset", ("%.3f" % seconds).encode())


def host_time():
    return _port.time()


def time():
    return _port.time() + _offset


def time_ns():
    return _port.time_ns() + int(_offset * 1_000_000_000)


def gmtime(secs=None):
    return _port.gmtime(int(time()) if secs is None else secs)


def localtime(secs=None):
    # The esp32 port has no time zones: its localtime is gmtime, as here.
    return gmtime(secs)
