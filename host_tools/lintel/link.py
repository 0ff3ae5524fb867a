"""A panel's console as the host tools use it: mpremote's serial transport and raw REPL.

The same code reaches a panel on USB and the emulated panel's pty. Every failure becomes one
LintelError; the panel-side half of the conversation is firmware/service.py, whose calls print
one JSON line each.
"""

import json
import time

import serial
import serial.tools.list_ports
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from lintel.errors import LintelError

# USB identities of an ESP32-S3 panel: the chip's USB-Serial/JTAG (the ROM loader, and
# MicroPython builds whose console is on it) and MicroPython's own TinyUSB CDC console
# (Espressif's USB VID 0x303A; see board.json "console" for the sources).
ESPRESSIF_VID = 0x303A
PANEL_PIDS = {0x1001: "USB-Serial/JTAG", 0x4001: "MicroPython USB CDC"}


def find_port(explicit: str | None) -> str:
    """The port to use: the one given, or the only ESP32-S3 on USB (saying which it chose)."""
    if explicit:
        return explicit
    found = [p for p in serial.tools.list_ports.comports()
             if p.vid == ESPRESSIF_VID and p.pid in PANEL_PIDS]
    if not found:
        raise LintelError("no panel found on USB (looked for Espressif 303A:1001 and 303A:4001); "
                          "plug one in or pass --port")
    if len(found) > 1:
        names = ", ".join(f"{p.device} ({PANEL_PIDS[p.pid]}, serial {p.serial_number})"
                          for p in found)
        raise LintelError(f"several panels on USB: {names}; choose one with --port")
    port = found[0]
    print(f"using {port.device} ({PANEL_PIDS[port.pid]}, serial {port.serial_number})")
    return port.device


class PanelLink:
    """The raw REPL of one panel, entered with a soft reset so the application is not running."""

    def __init__(self, port: str):
        self.port = port
        try:
            self._t = SerialTransport(port, baudrate=115200)
        except (TransportError, serial.SerialException, OSError) as e:
            raise LintelError(f"cannot open {port}: {_words(e)}") from None
        for attempt in (1, 2):
            try:
                self._t.enter_raw_repl(soft_reset=True)
                break
            except (TransportError, serial.SerialException, OSError) as e:
                # A panel caught between a deep sleep and its next wake, or busy starting its
                # Wi-Fi, can miss the first Ctrl-C/Ctrl-A: one more try before giving up.
                if attempt == 2:
                    self.close()
                    raise LintelError(f"{port}: the panel does not answer on its console "
                                      f"({_words(e)}); is it running MicroPython?") from None
                time.sleep(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        t, self._t = getattr(self, "_t", None), None
        if t is None:
            return
        try:
            if t.in_raw_repl:
                t.exit_raw_repl()
        except (TransportError, serial.SerialException, OSError):
            pass
        try:
            t.close()
        except (serial.SerialException, OSError):
            pass

    def exec(self, code: str) -> str:
        try:
            return self._t.exec(code).decode(errors="replace")
        except TransportExecError as e:
            raise LintelError(f"{self.port}: the panel failed: {_last_line(e.error_output)}") \
                from None
        except (TransportError, serial.SerialException, OSError) as e:
            raise LintelError(f"{self.port}: the panel stopped answering ({_words(e)})") from None

    def call(self, function: str, *args) -> dict:
        """Call firmware/service.py and return its JSON answer."""
        code = f"import service\nservice.{function}({', '.join(map(repr, args))})"
        try:
            out = self.exec(code).strip().splitlines()
        except LintelError as e:
            if "no module named 'service'" in str(e):
                raise LintelError(f"{self.port}: the panel runs MicroPython but not Lintel: "
                                  f"flash the whole image first") from None
            raise
        try:
            return json.loads(out[-1])
        except (IndexError, ValueError):
            raise LintelError(f"{self.port}: unexpected answer from the panel to {function}: "
                              f"{out[-1] if out else 'nothing'}") from None

    def write_file(self, path: str, data: bytes, progress=None) -> None:
        try:
            self._t.fs_writefile(path, data, progress_callback=progress)
        except (TransportError, serial.SerialException, OSError) as e:
            raise LintelError(f"{self.port}: writing {path} failed ({_words(e)})") from None

    def reset(self) -> None:
        """Hard-reset the panel (machine.reset) so it starts with what was just written."""
        try:
            self._t.exec_raw_no_follow("import machine\nmachine.reset()")
        except (TransportError, serial.SerialException, OSError) as e:
            raise LintelError(f"{self.port}: could not reset the panel ({_words(e)})") from None
        self._t.in_raw_repl = False


def _words(e: Exception) -> str:
    return str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error text"
