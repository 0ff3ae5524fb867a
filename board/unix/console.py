# The emulated panel's REPL on its console: the friendly REPL a person types at, and the raw
# REPL and raw-paste protocols that mpremote speaks (documented in MicroPython's "The raw REPL"
# and implemented in its shared/runtime/pyexec.c; this is our own implementation of those
# bytes). The emulator turns a Ctrl-C from the host into SIGINT, which MicroPython raises as
# KeyboardInterrupt wherever the firmware is; one that comes while the REPL waits for input is
# read here as the byte Ctrl-C, as the chip's REPL reads it.
import select
import struct
import sys
from micropython import const

import chip

_CTRL_A = const(1)
_CTRL_B = const(2)
_CTRL_C = const(3)
_CTRL_D = const(4)
_CTRL_E = const(5)
_PASTE_WINDOW = const(256)  # MICROPY_REPL_STDIN_BUFFER_MAX, the raw-paste flow-control window

BANNER = b"MicroPython v1.28.0 on 2026-11-25; ESP32S3 module (Lintel emulated) with ESP32S3\r\n"


class SoftReset(Exception):
    pass


def out(data):
    sys.stdout.buffer.write(data)


def _find_end(data):
    """Where paste modes stop: the first Ctrl-C (cancel) or Ctrl-D (done); -1 if neither."""
    for i in range(len(data)):
        if data[i] in (_CTRL_C, _CTRL_D):
            return i
    return -1


class _Stdin:
    """Blocking reads of whatever has arrived (the emulator makes stdin non-blocking); a Ctrl-C
    meanwhile is read as the byte alone."""

    def __init__(self):
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._buf = bytearray(1024)
        self._pending = b""

    def read(self):
        try:
            if self._pending:
                data, self._pending = self._pending, b""
                return data
            while True:
                n = sys.stdin.buffer.readinto(self._buf)
                if n:
                    return bytes(self._buf[:n])
                if n == 0:
                    raise SystemExit(0)  # the emulator has gone: nothing left to serve
                self._poll.poll(-1)
        except KeyboardInterrupt:
            # What was read with it was typed before it, and is dropped: the emulator sends
            # nothing after a Ctrl-C until this took it, and mpremote sends only a CR before.
            chip.took_interrupt()
            return bytes([_CTRL_C])

    def unread(self, data):
        self._pending = data + self._pending


class Console:
    def __init__(self, namespace):
        self.globals = namespace
        self.stdin = _Stdin()

    def serve(self, mode):
        """Run the REPL until a soft reset; return the mode the console is in at that point."""
        fresh = True
        while True:
            try:
                mode = self.raw(fresh) if mode == "raw" else self.friendly(fresh)
                fresh = True
            except SoftReset:
                return mode
            except KeyboardInterrupt:
                # A Ctrl-C while the REPL was busy with what it had read, not waiting to read:
                # the same REPL goes on, without its banner, as the chip's would.
                chip.took_interrupt()
                fresh = False

    # -- friendly REPL --------------------------------------------------------------------

    def friendly(self, fresh=True):
        out(BANNER + b'Type "help()" for more information.\r\n>>> ' if fresh else b"\r\n>>> ")
        lines = []
        line = bytearray()
        while True:
            data = self.stdin.read()
            for i in range(len(data)):
                c = data[i]
                if c == _CTRL_C:  # cancel everything typed
                    lines, line = [], bytearray()
                    out(b"\r\n>>> ")
                    continue
                if c == _CTRL_A and not line and not lines:
                    out(b"\r\n")
                    self.stdin.unread(data[i + 1:])
                    return "raw"
                if c == _CTRL_B and not line and not lines:
                    out(b"\r\n")
                    self.stdin.unread(data[i + 1:])
                    return "friendly"
                if c == _CTRL_D and not line and not lines:
                    out(b"\r\n")
                    raise SoftReset
                if c == _CTRL_E and not line and not lines:
                    self.stdin.unread(data[i + 1:])
                    self.paste()
                    out(b">>> ")
                    break
                if c in (8, 127):
                    if line:
                        line.pop()
                        out(b"\x08 \x08")
                elif c == 13:
                    out(b"\r\n")
                    lines.append(bytes(line).decode())
                    line = bytearray()
                    if lines == [""]:
                        lines = []
                        out(b">>> ")
                    elif self._needs_more(lines):
                        out(b"... ")
                    else:
                        self.execute("\n".join(lines), "single")
                        lines = []
                        out(b">>> ")
                elif c >= 32 or c == 9:
                    line.append(c)
                    out(bytes([c]))

    @staticmethod
    def _needs_more(lines):
        # MicroPython's REPL asks for more while a compound statement is open or brackets are.
        text = "\n".join(lines)
        if len(lines) > 1:
            return lines[-1].strip() != ""
        depth = sum(text.count(o) - text.count(c) for o, c in ("()", "[]", "{}"))
        return depth > 0 or text.rstrip().endswith((":", "\\"))

    def paste(self):
        out(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
        text = bytearray()
        while True:
            data = self.stdin.read()
            end = _find_end(data)
            chunk = data if end < 0 else data[:end]
            text += chunk
            out(chunk.replace(b"\r", b"\r\n=== "))
            if end >= 0:
                self.stdin.unread(data[end + 1:])
                out(b"\r\n")
                if data[end] == _CTRL_D:
                    self.execute(bytes(text).replace(b"\r", b"\n").decode(), "exec")
                return

    # -- raw REPL -------------------------------------------------------------------------

    def raw(self, fresh=True):
        if fresh:
            out(b"raw REPL; CTRL-B to exit\r\n")
        while True:
            if fresh:
                out(b">")
            fresh = True  # resumed after a Ctrl-C (serve), the prompt was already out
            line = bytearray()
            while True:
                data = self.stdin.read()
                end = -1
                for i in range(len(data)):
                    c = data[i]
                    if c == _CTRL_C:
                        line = bytearray()  # clears what was typed
                        continue
                    if c == _CTRL_A:
                        if len(line) == 2 and line[0] == _CTRL_E:
                            self.stdin.unread(data[i + 1:])
                            self.raw_paste(line[1])
                            end = -2
                            break
                        self.stdin.unread(data[i + 1:])
                        return "raw"
                    if c == _CTRL_B:
                        out(b"\r\n")
                        self.stdin.unread(data[i + 1:])
                        return "friendly"
                    if c == _CTRL_D:
                        end = i
                        break
                    line.append(c)
                if end == -2:
                    break
                if end >= 0:
                    self.stdin.unread(data[end + 1:])
                    out(b"OK")
                    if not line:
                        out(b"\r\n")
                        raise SoftReset
                    self.execute(bytes(line).decode(), "exec", framed=True)
                    break

    def raw_paste(self, request):
        if request != ord("A"):
            out(b"R\x00")  # understood, but only raw-paste "A" exists
            return
        out(b"R\x01" + struct.pack("<H", _PASTE_WINDOW))
        source = bytearray()
        remain = _PASTE_WINDOW
        while True:
            data = self.stdin.read()
            end = _find_end(data)
            chunk = data if end < 0 else data[:end]
            source += chunk
            remain -= len(chunk)
            while remain <= 0:
                out(b"\x01")  # the host may send another window
                remain += _PASTE_WINDOW
            if end >= 0:
                self.stdin.unread(data[end + 1:])
                out(b"\x04")  # end of data acknowledged
                if data[end] == _CTRL_C:
                    out(b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04")
                    return
                self.execute(bytes(source).decode(), "exec", framed=True)
                return

    # -- running code ---------------------------------------------------------------------

    def execute(self, source, mode, framed=False):
        """Compile and run; framed output is the raw REPL's: output, 0x04, error, 0x04."""
        try:
            code = compile(source, "<stdin>", mode)
            exec(code, self.globals)
        except chip.Reset:
            raise
        except SystemExit:
            if framed:
                out(b"\x04\x04")
            raise SoftReset from None
        except BaseException as e:  # noqa: BLE001 -- everything the code raised is reported
            if isinstance(e, KeyboardInterrupt):
                chip.took_interrupt()
            if framed:
                out(b"\x04")
            sys.print_exception(e)
            if framed:
                out(b"\x04")
            return
        if framed:
            out(b"\x04\x04")
