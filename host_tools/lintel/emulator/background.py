"""`lintel emulate` started in the background, with the unmodified tools pointed at it.

Used by the tests, the benchmarks and the demo: one place that knows how to start an emulated
panel, wait for it, and reach its console (mpremote) and ROM loader (esptool).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lintel.errors import LintelError


class BackgroundEmulator:
    """`lintel emulate` in the background, as a technician would start it."""

    def __init__(self, flash: Path, workdir: Path, *extra: str, speed: float = 1000):
        self.flash, self.workdir = flash, workdir
        self.link = workdir / "console"
        self.log = workdir / "console.log"
        self.state = workdir / "state"
        self.stderr = open(workdir / "emulator.err", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lintel", "emulate", "--flash", str(flash),
             "--console", str(self.link), "--rom-port", "0", "--speed", str(speed),
             "--log", str(self.log), "--state", str(self.state), *extra],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True,
        )
        self.port = self.web_url = None
        for line in self.proc.stdout:
            if line.startswith("rom loader: socket://127.0.0.1:"):
                self.port = int(line.rsplit(":", 1)[1])
            if line.startswith("web: "):
                self.web_url = line[5:].strip()
            if line.startswith("board:"):
                break
        if self.port is None:
            self.stop()
            raise LintelError(f"the emulator did not start: {self.errors().strip()}")

    def errors(self) -> str:
        return (self.workdir / "emulator.err").read_text(errors="replace")

    def console_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def mark(self) -> int:
        """A place in the console's output; wait_for(..., since=mark) looks only after it."""
        return len(self.console_text())

    def wait_for(self, text: str, timeout: float = 30, since: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console_text()[since:]:
                return self.console_text()[since:]
            time.sleep(0.05)
        raise LintelError(f"{text!r} never appeared on the console:\n{self.console_text()}")

    def press(self, *actions: str) -> None:
        """Tap buttons of the screen the panel shows by their action ids (docs/view-model.md):
        each in the middle of its hit area, as the panel last drew it (the state file
        hits.shown). A sleeping panel wakes, as its wake button would wake it."""
        for action in actions:
            x, y = button_middle(self.state, action)
            tap(self.state, x, y)
        self.proc.send_signal(signal.SIGUSR1)

    def buttons(self) -> list[str]:
        """The action ids of the buttons on the panel's screen."""
        return [hit[0] for hit in buttons(self.state)]

    def wake(self) -> None:
        """Press the panel's wake button: a sleeping panel wakes now, one awake carries on."""
        self.proc.send_signal(signal.SIGUSR1)

    def set_battery_mv(self, mv: int) -> None:
        """Set the emulated cell's voltage; the panel reads it at its next wake."""
        set_battery_mv(self.state, mv)

    def view(self) -> dict | None:
        """The view model the panel shows now."""
        try:
            return json.loads((self.state / "view.json").read_bytes())
        except FileNotFoundError:
            return None

    def mpremote(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mpremote", "connect", str(self.link), *args],
                              capture_output=True, text=True, timeout=timeout)

    def esptool(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "esptool", "--chip", "esp32s3", "--port",
             f"socket://127.0.0.1:{self.port}", "--before", "no-reset", "--after", "no-reset",
             *args], capture_output=True, text=True, timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        return self.proc.returncode


def tap(state: Path, x: int, y: int) -> None:
    """A finger on the glass of the emulated panel whose state folder is `state`, at screen
    pixel (x, y): queued for its touch controller's model (board/unix/touch_model.py),
    appended, then renamed into place so that the model never reads half a line."""
    path = state / "touch"
    state.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else ""
    tmp = state / "touch.new"
    tmp.write_text(old + f"{int(x)} {int(y)}\n")
    os.replace(tmp, path)


def buttons(state: Path) -> list[list]:
    """The buttons of the screen the panel drew last, [[action, x, y, w, h], ...]."""
    try:
        return json.loads((state / "hits.shown").read_bytes()) or []
    except (OSError, ValueError):
        return []


def button_middle(state: Path, action: str) -> tuple[int, int]:
    """The middle of the button for `action` on the screen the panel drew last."""
    hits = buttons(state)
    for name, x, y, w, h in hits:
        if name == action:
            return x + w // 2, y + h // 2
    shown = ", ".join(hit[0] for hit in hits) or "none"
    raise LintelError(f"no {action!r} button on the panel's screen (its buttons: {shown})")


def set_battery_mv(state: Path, mv: int) -> None:
    """The emulated cell's voltage for a panel whose state folder is `state` (board/unix's
    battery model reads it through the divider), written whole by a rename."""
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / "battery_mv.new"
    tmp.write_text(str(int(mv)))
    os.replace(tmp, state / "battery_mv")
