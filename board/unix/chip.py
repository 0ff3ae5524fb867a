# The emulated ESP32-S3's wiring to the host: what the emulator told this boot (environment),
# the host-side state that survives a reset (RTC memory, the watchdog, the access point), and
# the way a reset leaves the process. Shared with host_tools/lintel/emulator/; see
# docs/emulator.md for the environment variables and exit codes.
import os
import vfs

# Exit codes the emulator understands (host_tools/lintel/emulator/board.py has the same).
EXIT_SOFT_RESET = 80  # restart; the console stays in the friendly REPL
EXIT_SOFT_RESET_RAW = 81  # restart; the console stays in the raw REPL (main.py is skipped)
EXIT_HARD_RESET = 82  # machine.reset(): restart as after the reset line
EXIT_DEEP_SLEEP = 83  # machine.deepsleep(ms): the emulator restarts after ms / speed


def _env(name, default=None):
    value = os.getenv("LINTEL_" + name)
    return default if value is None else value


FLASH_PATH = _env("FLASH")
RESET_CAUSE = _env("RESET_CAUSE", "power_on")  # power_on | hard | soft | deep_sleep | wdt
WAKE_REASON = _env("WAKE_REASON", "")  # timer | pin | "" (not a deep-sleep wake)
BOOT = _env("BOOT", "reset")  # reset: the chip was reset | soft: a soft reboot (Ctrl-D)
REPL_MODE = _env("REPL_MODE", "friendly")  # after a soft reboot: friendly | raw
MAC = bytes(int(x, 16) for x in _env("MAC", "7c:df:a1:00:00:01").split(":"))
# The application's ROMFS image in the romfs partition, in bytes: the emulator added that much
# to the heap, which port_main reads it into (0: none).
ROMFS_BYTES = int(_env("ROMFS_BYTES", "0"))
SLEPT_MS = int(_env("SLEPT_MS", "0"))  # how long the last deep sleep lasted, emulated time

# The emulator's per-run folder, reached through a VfsPosix object that is never mounted:
# it opens host paths as given, even after the panel's own filesystem has replaced the host's
# at "/". (An unmounted VfsPosix ignores its root, hence the absolute paths.)
_STATE_DIR = _env("STATE", "/tmp").rstrip("/") + "/"
_host = vfs.VfsPosix()


def read_state(name, default=b""):
    try:
        with _host.open(_STATE_DIR + name, "rb") as f:
            return f.read()
    except OSError:
        return default


def write_state(name, data, replace=True):
    # Write then rename, so the emulator never reads half a file; replace=False writes into
    # the file as it is (a FIFO the emulator reads).
    path = _STATE_DIR + name
    if not replace:
        with _host.open(path, "wb") as f:
            f.write(data)
        return
    with _host.open(path + ".tmp", "wb") as f:
        f.write(data)
    _host.rename(path + ".tmp", path)


def open_state(name, mode="rb"):
    return _host.open(_STATE_DIR + name, mode)


def rename_state(name, new_name):
    """Rename a state file; False when it is not there."""
    try:
        _host.rename(_STATE_DIR + name, _STATE_DIR + new_name)
    except OSError:
        return False
    return True


def has_state(name):
    try:
        _host.stat(_STATE_DIR + name)
    except OSError:
        return False
    return True


def take_state(name, missing=b""):
    # Read and remove in one step (rename first), so what the emulator adds meanwhile is kept
    # for the next reader instead of being lost.
    path = _STATE_DIR + name
    if not rename_state(name, name + ".taken"):
        return missing
    with _host.open(path + ".taken", "rb") as f:
        data = f.read()
    _host.remove(path + ".taken")
    return data


# The emulator reads this FIFO in the state folder, a line a message: "hits" or "frame" (what
# does the view just shown look like? host_link.draw) and "interrupted" (took_interrupt).
_TO_EMULATOR = "to_emulator"


def emulated():
    """True under the emulator (firmware tests run some modules without one)."""
    return has_state(_TO_EMULATOR)


def tell_emulator(message):
    if emulated():
        write_state(_TO_EMULATOR, message + b"\n", replace=False)


def took_interrupt():
    # Called once where each KeyboardInterrupt is handled. The emulator keeps what was typed
    # after a Ctrl-C until then: the REPL here is Python, which a SIGINT interrupts anywhere,
    # even between reading bytes and acting on them (on the chip the REPL is C, and a Ctrl-C at
    # its prompt is only a byte). A Ctrl-C the firmware never took is given to the next boot.
    tell_emulator(b"interrupted")


class Reset(BaseException):
    """Raised to leave the firmware for a reset; port_main turns it into the exit code.

    It derives from BaseException so that application code's `except Exception` does not
    swallow a reset, as none can on the chip.
    """

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def reset(code, note=""):
    if note:
        write_state("reset_note", note.encode())
    raise Reset(code)

# The emulated access point (lintel emulate --ap-ssid/--ap-psk; test values, never real ones).
AP_SSID = _env("AP_SSID", "lintel-lab")
AP_PSK = _env("AP_PSK", "not-a-real-psk")
