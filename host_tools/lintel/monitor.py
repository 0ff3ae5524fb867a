"""`lintel monitor`: a panel's console, line by line, with anything secret-shaped blanked.

The firmware never prints a secret; this is the second line of defence for logs that get
pasted into tickets: the values in the given panel.toml files, bearer tokens, JWTs, and
key-shaped hex are replaced by [redacted].
"""

import re
import time
from pathlib import Path

import serial

from lintel import configfile
from lintel.errors import LintelError
from lintel.link import find_port

REDACTED = "[redacted]"
_PATTERNS = [
    re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),  # a JWT (access or id token)
    re.compile(r"(?i)(bearer\s+)[\w\-.~+/]+=*"),
    re.compile(r"(?i)((?:password|passwd|psk|secret|token|api[_-]?key)\w*[\"']?\s*[=:]\s*[\"']?)"
               r"[^\s\"',;]+"),
    re.compile(r"\b[0-9a-fA-F]{64}\b"),  # a 256-bit key written in hex
]


class Redactor:
    def __init__(self, secrets: list[str]):
        # Longest first, so a secret containing another is blanked whole.
        self.secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            line = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, line)
        return line


def add_arguments(p) -> None:
    p.add_argument("--port", help="the panel's serial port (default: the only panel on USB)")
    p.add_argument("--config", type=Path, action="append", default=[], metavar="PANEL_TOML",
                   help="also blank every secret value of this panel.toml (repeatable)")
    p.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")


def run(args) -> int:
    secrets = []
    for path in args.config:
        secrets += configfile.secrets(configfile.load(path))
    redact = Redactor(secrets)
    port = find_port(args.port)
    try:
        link = serial.serial_for_url(port, baudrate=115200, timeout=0.2)
    except (serial.SerialException, OSError) as e:
        raise LintelError(f"cannot open {port}: {e}") from None
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    pending = b""
    with link:
        while deadline is None or time.monotonic() < deadline:
            try:
                pending += link.read(4096)
            except (serial.SerialException, OSError) as e:
                raise LintelError(f"{port}: the panel went away ({e})") from None
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace").rstrip("\r")
                print(redact(text), flush=True)
    if pending:
        print(redact(pending.decode("utf-8", "replace")), flush=True)
    return 0
