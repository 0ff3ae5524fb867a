"""panel.toml: the file a technician writes for a panel, read, checked and resolved.

`load(path)` parses and validates the file into a `Config`, or raises `ConfigErrors` listing
every problem at once, each naming the dotted key and the line it is on
(`panel.toml:12: wifi.psk: must be 8 to 63 characters`). `resolve(config)` turns a Config into
the JSON document the panel receives before sealing: plain values only, the time zone resolved
to a POSIX TZ rule, mailboxes parsed, extra CA certificates read in. `secrets(config)` lists
the secret values so logs can be redacted. Every key, and the resolved document, is described
in docs/config.md.

This module is a library; `lintel config check|push` (lintel/config.py) is the command.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
import sys
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lintel import tz
from lintel.errors import LintelError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FORMAT = 1  # the resolved document's "format"; the panel refuses formats it does not know

DEFAULT_SCOPES = ("offline_access", "Calendars.ReadWrite.Shared", "Mail.Send", "Place.Read.All",
                  "User.ReadBasic.All")
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_HOST = "https://graph.microsoft.com"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = MicroPython's weekday
LANGUAGES = ("en", "nl")
PRIVACY = ("subject", "organizer", "busy")
EWS_AUTH = ("ntlm", "basic")
MAX_CA_CERTS = 10
MAX_CA_BYTES = 32 * 1024
TZ_LOOKAHEAD_DAYS = 5 * 366  # warn when the POSIX rule disagrees with tzdata this soon

# The keys of each table. Tables marked required must be present.
SCHEMA: dict[str, tuple[str, ...]] = {
    "panel": ("name", "device"),
    "wifi": ("ssid", "psk", "address", "gateway", "dns", "bssid", "channel", "country",
             "hostname", "keep_address_min"),
    "proxy": ("url", "user", "password", "no_proxy"),
    "backend": ("type", "tenant", "client_id", "scopes", "authority_host", "graph_host",
                "url", "account", "password", "auth"),
    "room": ("mailbox", "room_list", "alternatives"),
    "locale": ("timezone", "clock", "language"),
    "privacy": ("show",),
    "booking": ("allowed", "durations", "check_in", "auto_release_min"),
    "booking.check_in": ("enabled", "window_before_min", "window_after_min"),
    "service": ("recipient", "catering", "support"),
    "schedule": ("refresh_min", "office_hours", "office_days", "full_refresh_every",
                 "low_battery_percent", "low_battery_refresh_min", "listen_s", "show_time"),
    "tls": ("extra_ca",),
}
REQUIRED_TABLES = ("wifi", "backend", "room", "locale")
# Whether the room screen shows the time of day (docs/config.md, [schedule] show_time).
SHOW_TIME = ("mains", "always", "never")
GRAPH_KEYS = ("tenant", "client_id", "scopes", "authority_host", "graph_host")
EWS_KEYS = ("url", "account", "password", "auth")


# --- problems ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    key: str  # dotted key, e.g. "wifi.psk" or "room.alternatives[1]"; "" for the whole file
    line: int | None  # 1-based line in the file, None when the key is not in it
    message: str

    def format(self, filename: str = "panel.toml") -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigErrors(LintelError):
    """A panel.toml with problems: one line per problem in str()."""

    def __init__(self, filename: str, problems: list[Problem]):
        self.filename = filename
        self.problems = list(problems)
        super().__init__("\n".join(p.format(filename) for p in self.problems))


# --- mailboxes ---------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+"
_LOCAL = re.compile(rf"{_ATEXT}(\.{_ATEXT})*")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9\-]{1,59}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str | None = None  # the display name override, None to use the directory's

    def __str__(self) -> str:
        if not self.name:
            return self.address
        name = self.name
        if re.search(r'[",<>@()\\;:]', name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{self.address}>"

    def as_dict(self) -> dict:
        return {"address": self.address, "name": self.name}


def check_domain(domain: str) -> str:
    """A DNS domain name with at least two labels, lower-cased; ValueError otherwise."""
    labels = domain.split(".")
    if (len(domain) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels)
            or not _TLD.fullmatch(labels[-1])):
        raise ValueError(f'"{domain}" is not a domain name like contoso.com')
    return domain.lower()


def check_address(text: str) -> str:
    """An e-mail address (local@domain), domain lower-cased; ValueError with words otherwise."""
    if not isinstance(text, str) or text.count("@") != 1:
        raise ValueError(f'"{text}" is not an e-mail address like room@contoso.com')
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise ValueError(f'"{text}" is not an e-mail address like room@contoso.com '
                         "(the part before @ has a character an address cannot have)")
    try:
        domain = check_domain(domain)
    except ValueError:
        raise ValueError(f'"{text}" is not an e-mail address like room@contoso.com '
                         f'("{domain}" is not a domain name)') from None
    return f"{local}@{domain}"


def parse_mailbox(text: str) -> Mailbox:
    """`Name <address>`, `"Quoted, Name" <address>`, `<address>` or a bare address."""
    if not isinstance(text, str):
        raise ValueError("must be text like \"Room Name <room@contoso.com>\"")
    text = text.strip()
    if not text:
        raise ValueError("is empty; give an address like room@contoso.com")
    if "<" not in text and ">" not in text:
        return Mailbox(check_address(text))
    m = re.fullmatch(r"(.*?)\s*<([^<>]*)>", text, re.S)
    if not m:
        raise ValueError(f'"{text}" is not "Name <address>": put the address last, '
                         "in one pair of angle brackets")
    name, address = m[1].strip(), m[2].strip()
    if name.startswith('"'):
        q = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', name, re.S)
        if not q:
            raise ValueError(f"the name {name} has an unclosed or stray quote")
        name = re.sub(r"\\(.)", r"\1", q[1]).strip()
    elif '"' in name:
        raise ValueError(f'the name {name} has a stray quote; quote the whole name or none of it')
    if _CONTROL.search(name):
        raise ValueError("the name has a control character")
    if len(name) > 64:
        raise ValueError(f"the name is {len(name)} characters; at most 64 fit the screen")
    return Mailbox(check_address(address), name or None)


# --- where each key is: a small TOML scanner -------------------------------------------

KeyPath = tuple  # a key path: str parts for keys, int parts for array indices


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if re.fullmatch(r"[A-Za-z0-9_\-]+", part) else json.dumps(part)
            out += ("." if out else "") + text
    return out


class _Scanner:
    """Maps every key path of a TOML document to the line it is defined on.

    The text has already been parsed by tomllib, so it is valid TOML; this only follows the
    structure: table headers, arrays of tables, dotted keys, inline tables, arrays (each
    element gets its own path), strings of every kind, comments.
    """

    def __init__(self, text: str):
        self.t = text
        self.i = 0
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.explicit: dict[KeyPath, int] = {}
        self.implicit: dict[KeyPath, int] = {}
        self.aot: dict[KeyPath, int] = {}

    def line(self) -> int:
        return bisect_right(self.starts, self.i)

    def define(self, path: KeyPath, line: int) -> None:
        self.explicit.setdefault(path, line)
        for n in range(1, len(path)):
            self.implicit.setdefault(path[:n], line)

    def peek(self, s: str) -> bool:
        return self.t.startswith(s, self.i)

    def skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.t):
            c = self.t[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#" and newlines:
                end = self.t.find("\n", self.i)
                self.i = len(self.t) if end < 0 else end
            else:
                break

    def document(self) -> dict[KeyPath, int]:
        prefix: KeyPath = ()
        while True:
            self.skip_blank(True)
            if self.i >= len(self.t):
                break
            line = self.line()
            if self.peek("[["):
                self.i += 2
                path = self.table_path(self.key(), array=True)
                self.skip_blank(False)
                self.i += 2
                n = self.aot.get(path, -1) + 1
                self.aot[path] = n
                prefix = path + (n,)
                self.define(prefix, line)
            elif self.peek("["):
                self.i += 1
                prefix = self.table_path(self.key())
                self.skip_blank(False)
                self.i += 1
                self.define(prefix, line)
            else:
                self.keyval(prefix)
        lines = dict(self.implicit)
        lines.update(self.explicit)
        return lines

    def table_path(self, key: list[str], array: bool = False) -> KeyPath:
        """The path a header names: [a.b] under the last [[a]] is a[n].b; [[a]] itself is a."""
        path: KeyPath = ()
        for n, part in enumerate(key):
            path += (part,)
            if path in self.aot and not (array and n == len(key) - 1):
                path += (self.aot[path],)
        return path

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_blank(False)
            if self.peek('"') or self.peek("'"):
                start = self.i
                self.string()
                parts.append(next(iter(tomllib.loads(self.t[start:self.i] + " = 0"))))
            else:
                m = re.compile(r"[A-Za-z0-9_\-]+").match(self.t, self.i)
                if not m:
                    raise ValueError("key expected")
                parts.append(m[0])
                self.i = m.end()
            self.skip_blank(False)
            if not self.peek("."):
                return parts
            self.i += 1

    def keyval(self, prefix: KeyPath) -> None:
        line = self.line()
        path = prefix + tuple(self.key())
        self.skip_blank(False)
        self.i += 1  # "="
        self.skip_blank(False)
        self.define(path, line)
        self.value(path)

    def string(self) -> None:
        quote = self.t[self.i]
        if self.peek(quote * 3):
            self.i += 3
            while not self.peek(quote * 3):
                self.i += 2 if quote == '"' and self.peek("\\") else 1
                if self.i >= len(self.t):
                    raise ValueError("unterminated string")
            self.i += 3
            for _ in range(2):  # up to two quotes may end the content: """a"""""
                if self.peek(quote):
                    self.i += 1
            return
        self.i += 1
        while not self.peek(quote):
            self.i += 2 if quote == '"' and self.peek("\\") else 1
            if self.i >= len(self.t):
                raise ValueError("unterminated string")
        self.i += 1

    def value(self, path: KeyPath) -> None:
        if self.peek('"') or self.peek("'"):
            self.string()
        elif self.peek("["):
            self.i += 1
            index = 0
            while True:
                self.skip_blank(True)
                if self.peek("]"):
                    self.i += 1
                    return
                self.define(path + (index,), self.line())
                self.value(path + (index,))
                self.skip_blank(True)
                if self.peek(","):
                    self.i += 1
                index += 1
        elif self.peek("{"):
            self.i += 1
            while True:
                self.skip_blank(True)
                if self.peek("}"):
                    self.i += 1
                    return
                self.keyval(path)
                self.skip_blank(True)
                if self.peek(","):
                    self.i += 1
        else:
            m = re.compile(r"[^,\]}#\r\n]*").match(self.t, self.i)
            self.i = m.end() if m else self.i + 1


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every key path of a valid TOML text and the line it is defined on (best effort)."""
    scanner = _Scanner(text)
    try:
        return scanner.document()
    except (ValueError, IndexError, tomllib.TOMLDecodeError):
        lines = dict(scanner.implicit)
        lines.update(scanner.explicit)
        return lines


# --- the configuration -------------------------------------------------------------------

@dataclass
class Config:
    path: Path  # the panel.toml, as given
    settings: dict  # validated; same tables and keys as panel.toml, defaults filled in
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> line
    warnings: list[Problem] = field(default_factory=list)  # worth saying, not worth refusing

    @property
    def name(self) -> str:
        return self.settings["panel"]["name"]

    @property
    def device(self) -> str | None:
        """The panel id (12 lower-case hex digits) this file is for, or None for any panel."""
        return self.settings["panel"]["device"]

    @property
    def room(self) -> Mailbox:
        return self.settings["room"]["mailbox"]

    @property
    def backend(self) -> str:
        return self.settings["backend"]["type"]


_BAD = object()  # a value with a problem already reported
_TYPE_WORDS = {str: "text (in quotes)", int: "a whole number", bool: "true or false",
               list: "a list [...]", dict: "a table"}
_REQUIRED = object()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


class _Checker:
    def __init__(self, doc: dict, lines: dict[KeyPath, int], base: Path):
        self.doc = doc
        self.lines = lines
        self.base = base
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.bad: set[KeyPath] = set()  # paths with a problem
        self.suggested: set[KeyPath] = set()  # keys a "did you mean" named: not also "missing"

    # where and what

    def line(self, path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def problem(self, path: KeyPath, message: str) -> object:
        self.problems.append(Problem(dotted(path), self.line(path), message))
        self.bad.add(path)
        return _BAD

    def failed(self, path: KeyPath) -> bool:
        """Whether a problem was reported at path or under it."""
        return any(p[:len(path)] == path for p in self.bad)

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(Problem(dotted(path), self.line(path), message))

    def raw(self, path: KeyPath) -> Any:
        node: Any = self.doc
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node

    # tables and unknown keys

    def table(self, name: str, required: bool, check_keys: bool = True) -> dict:
        path = tuple(name.split("."))
        value = self.raw(path)
        if value is None:
            if required:
                self.problem(path, f"missing: panel.toml needs a [{name}] table")
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a table ([{name}]), not {_kind(value)}")
            return {}
        if check_keys:
            self.unknown(path, value, SCHEMA[name])
        return value

    def unknown(self, path: KeyPath, table: dict, known: tuple[str, ...]) -> None:
        for key in table:
            if key in known:
                continue
            self.problem(path + (key,), "unknown key" + self.suggest(path, key, known))

    def suggest(self, path: KeyPath, key: str, known: tuple[str, ...]) -> str:
        folded = {k.casefold(): k for k in known}
        close = [folded[key.casefold()]] if key.casefold() in folded else \
            difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            self.suggested.add(path + (close[0],))
            return f'; did you mean "{close[0]}"?'
        elsewhere = [t for t, keys in SCHEMA.items() if key in keys and tuple(t.split(".")) != path]
        if elsewhere:
            return f"; it belongs in [{elsewhere[0]}]"
        return ""

    # plain values

    def get(self, path: KeyPath, default: Any, kind: type, what: str,
            type_words: str | None = None) -> Any:
        """The value at path if it has the right type; default if absent; else _BAD.

        `what` completes "missing; ..." when a required value is absent.
        """
        value = self.raw(path)
        if value is None:
            if default is _REQUIRED:
                if not isinstance(self.raw(path[:-1]), dict) or path in self.suggested:
                    return _BAD  # reported once already: the missing table, or a typo
                return self.problem(path, f"missing; {what}")
            return default
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is int)
        if not ok:
            words = type_words or _TYPE_WORDS[kind]
            return self.problem(path, f"must be {words}, not {_kind(value)}")
        return value

    def text(self, path: KeyPath, default: Any = _REQUIRED, what: str = "text (in quotes)",
             max_len: int = 200) -> Any:
        value = self.get(path, default, str, what)
        if isinstance(value, str) and value is not default:
            if not value.strip():
                return self.problem(path, "is empty")
            if _CONTROL.search(value):
                return self.problem(path, "has a control character (a tab or line break?)")
            if len(value) > max_len:
                return self.problem(path, f"is {len(value)} characters; at most {max_len}")
        return value

    def number(self, path: KeyPath, default: Any, lo: int, hi: int, what: str = "") -> Any:
        value = self.get(path, default, int, what or f"a whole number from {lo} to {hi}",
                         f"a whole number from {lo} to {hi}")
        if isinstance(value, int) and value is not default and not lo <= value <= hi:
            return self.problem(path, f"must be from {lo} to {hi}, not {value}")
        return value

    def flag(self, path: KeyPath, default: bool) -> Any:
        return self.get(path, default, bool, "true or false")

    def choice(self, path: KeyPath, choices: tuple, default: Any = _REQUIRED) -> Any:
        words = " or ".join(json.dumps(c) for c in choices)
        value = self.raw(path)
        if value is None:
            if default is _REQUIRED:
                if not isinstance(self.raw(path[:-1]), dict) or path in self.suggested:
                    return _BAD
                return self.problem(path, f"missing; one of {words}")
            return default
        if isinstance(value, bool) or value not in choices:
            hint = ""
            if isinstance(value, str):
                close = difflib.get_close_matches(value.lower(), [str(c) for c in choices], 1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
            shown = json.dumps(value, default=str, ensure_ascii=False)
            return self.problem(path, f"must be {words}, not {shown}{hint}")
        return value

    def items(self, path: KeyPath, default: Any, kind: type, what: str, one: str) -> Any:
        """default if absent, _BAD if not a list, else (index, item) for the items of type
        `kind` (the others are reported; check failed(path) after checking the items)."""
        value = self.get(path, default, list, f"a list of {what}", f"a list of {what}")
        if not isinstance(value, list) or value is default:
            return value
        good = []
        for i, item in enumerate(value):
            if not isinstance(item, kind) or isinstance(item, bool) and kind is int:
                self.problem(path + (i,), f"must be {one}, not {_kind(item)}")
            else:
                good.append((i, item))
        return good

    def mailbox(self, path: KeyPath, required: bool = False) -> Any:
        value = self.text(path, _REQUIRED if required else None,
                          'an address like "Room Name <room@contoso.com>"', 400)
        if not isinstance(value, str):
            return value
        try:
            return parse_mailbox(value)
        except ValueError as e:
            return self.problem(path, str(e))

    def mailboxes(self, path: KeyPath) -> Any:
        found = self.items(path, [], str, "addresses", "an address (text in quotes)")
        if found is _BAD:
            return _BAD
        out, seen = [], {}
        for i, text in found:
            try:
                box = parse_mailbox(text)
            except ValueError as e:
                self.problem(path + (i,), str(e))
                continue
            if box.address.casefold() in seen:
                self.problem(path + (i,), f"{box.address} is already item "
                                          f"{seen[box.address.casefold()]} of this list")
                continue
            seen[box.address.casefold()] = i
            out.append(box)
        return _BAD if self.failed(path) else out


def _ok(*values: Any) -> bool:
    return all(v is not _BAD for v in values)


# --- the tables --------------------------------------------------------------------------

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9\-]{0,30}[a-z0-9])?")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def _panel(c: _Checker) -> dict:
    c.table("panel", False)
    name = c.text(("panel", "name"), None, max_len=64)
    device = c.text(("panel", "device"), None, 'the panel\'s id, 12 hex digits like "7cdfa1000001"')
    if isinstance(device, str):
        digits = re.sub(r"[:\-]", "", device)
        if not re.fullmatch(r"[0-9a-fA-F]{12}", digits) or (digits != device
                                                               and len(device) != 17):
            device = c.problem(("panel", "device"),
                               f'"{device}" is not a panel id: 12 hex digits like "7cdfa1000001" '
                               "(the panel shows its id when it has no configuration)")
        else:
            device = digits.lower()
    return {"name": name, "device": device}


def _ipv4(c: _Checker, path: KeyPath, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return c.problem(path, f'"{text}" is not an IPv4 address like 10.0.0.1')


def _interface(c: _Checker, path: KeyPath, text: str) -> Any:
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        iface = None
    if iface is None or "/" not in text:
        return c.problem(path, f'"{text}" is not an address with prefix length, '
                               'like "10.0.0.23/24"')
    net = iface.network
    if not 8 <= net.prefixlen <= 30:
        return c.problem(path, "the prefix length must be from 8 to 30")
    if iface.ip in (net.network_address, net.broadcast_address):
        which = "network" if iface.ip == net.network_address else "broadcast"
        return c.problem(path, f"{iface.ip} is the {which} address of {net}; "
                               "give the panel's own address")
    return iface


def _wifi(c: _Checker) -> dict:
    c.table("wifi", True)
    p = ("wifi",)
    ssid = c.text(p + ("ssid",), _REQUIRED, 'the network\'s name, e.g. ssid = "office-iot"')
    if isinstance(ssid, str) and not 1 <= len(ssid.encode()) <= 32:
        ssid = c.problem(p + ("ssid",), "must be 1 to 32 bytes (UTF-8)")
    psk = c.get(p + ("psk",), _REQUIRED, str,
                'the WPA2 passphrase, or psk = "" for an open network')
    if isinstance(psk, str) and psk:
        if re.fullmatch(r"[0-9a-fA-F]{64}", psk):
            pass  # a raw 256-bit PSK
        elif not all(" " <= ch <= "~" for ch in psk):
            psk = c.problem(p + ("psk",), "must be printable ASCII characters")
        elif not 8 <= len(psk) <= 63:
            psk = c.problem(p + ("psk",), "must be 8 to 63 characters (or 64 hex digits)")
    elif psk == "":
        c.warn(p + ("psk",), "is empty: the panel joins an open network")

    address = c.text(p + ("address",), None, 'an address with prefix length, like "10.0.0.23/24"')
    gateway = _ipv4(c, p + ("gateway",), c.text(p + ("gateway",), None, "an IPv4 address"))
    dns_items = c.items(p + ("dns",), None, str, "IPv4 addresses", "an IPv4 address in quotes")
    dns: Any = dns_items
    if isinstance(dns_items, list):
        dns = [_ipv4(c, p + ("dns", i), d) for i, d in dns_items]
        if not 1 <= len(c.raw(p + ("dns",))) <= 3:
            dns = c.problem(p + ("dns",), "must list 1 to 3 DNS servers")
        elif c.failed(p + ("dns",)):
            dns = _BAD
    static: Any = None
    if isinstance(address, str):
        iface = _interface(c, p + ("address",), address)
        if gateway is None:
            c.problem(p + ("gateway",), "missing; a static address (wifi.address) needs a gateway")
        elif isinstance(iface, ipaddress.IPv4Interface) and isinstance(
                gateway, ipaddress.IPv4Address):
            if gateway not in iface.network:
                c.problem(p + ("gateway",), f"{gateway} is not in {iface.network}")
            elif gateway == iface.ip:
                c.problem(p + ("gateway",), "is the panel's own address")
        static = _BAD
        if gateway is not None and not c.failed(p + ("address",)) and not c.failed(
                p + ("gateway",)) and dns is not _BAD:
            static = {"address": iface, "gateway": gateway, "dns": dns or [gateway]}
    elif address is None:
        for key, value in (("gateway", gateway), ("dns", dns)):
            if value is not None and value is not _BAD:
                c.problem(p + (key,), "is used only with a static address (wifi.address)")

    bssid = c.text(p + ("bssid",), None, 'the access point\'s MAC, like "aa:bb:cc:dd:ee:ff"')
    if isinstance(bssid, str):
        if re.fullmatch(r"[0-9a-fA-F]{2}([:\-][0-9a-fA-F]{2}){5}", bssid):
            bssid = bssid.replace("-", ":").lower()
        else:
            bssid = c.problem(p + ("bssid",), f'"{bssid}" is not a MAC address like '
                                              '"aa:bb:cc:dd:ee:ff"')
    channel = c.number(p + ("channel",), None, 1, 14)
    country = c.text(p + ("country",), None, 'a two-letter country code like "NL"')
    if isinstance(country, str):
        if re.fullmatch(r"[A-Za-z]{2}", country):
            country = country.upper()
        else:
            country = c.problem(p + ("country",), f'"{country}" is not a two-letter country '
                                                  'code like "NL"')
    hostname = c.text(p + ("hostname",), None, 'a host name like "panel-4-12"')
    if isinstance(hostname, str):
        if _HOSTNAME.fullmatch(hostname.lower()):
            hostname = hostname.lower()
        else:
            hostname = c.problem(p + ("hostname",), "must be 1 to 32 letters, digits and "
                                 "hyphens, not starting or ending with a hyphen")
    keep = c.number(p + ("keep_address_min",), 60, 0, 1440)
    if address is not None and c.raw(p + ("keep_address_min",)) is not None:
        c.problem(p + ("keep_address_min",), "is for an address from DHCP; a static one "
                  "(wifi.address) is always kept")
    return {"ssid": ssid, "psk": psk, "static": static, "bssid": bssid, "channel": channel,
            "country": country, "hostname": hostname, "keep_address_min": keep}


def _host_port(text: str) -> tuple[str, int | None] | None:
    """(host, port) of "host", "host:port", "[v6]:port"; None if neither."""
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(\d{1,5}))?", text)
    if not m:
        return None
    host = m[1].lower()
    try:
        if host.startswith("["):
            ipaddress.IPv6Address(host[1:-1])
        elif re.fullmatch(r"[\d.]+", host):
            ipaddress.IPv4Address(host)
        elif not all(_LABEL.fullmatch(x) for x in host.split(".")):
            return None
    except ValueError:
        return None
    port = int(m[2]) if m[2] else None
    if port is not None and not 1 <= port <= 65535:
        return None
    return host, port


def _url(c: _Checker, path: KeyPath, value: Any, schemes: tuple[str, ...], path_allowed: bool,
         example: str) -> Any:
    """Checks a URL; returns (scheme, host, port, path) or _BAD."""
    if not isinstance(value, str):
        return value
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?", value)
    if not m:
        return c.problem(path, f'"{value}" is not a URL like {example}')
    scheme, authority, rest = m[1].lower(), m[2], m[3]
    if scheme not in schemes:
        return c.problem(path, f"must start with {' or '.join(s + '://' for s in schemes)}, "
                               f"like {example}")
    if "@" in authority:
        return c.problem(path, "must not contain a user name or password; use the separate "
                               "keys for them")
    hp = _host_port(authority)
    if hp is None:
        return c.problem(path, f'"{authority}" is not a host name or address')
    if m[4] or m[5]:
        return c.problem(path, "must not have a query (?...) or fragment (#...)")
    if not path_allowed and rest not in ("", "/"):
        return c.problem(path, f"must be the server only, like {example}, without a path")
    return scheme, hp[0], hp[1], rest


def _proxy(c: _Checker) -> Any:
    table = c.table("proxy", False)
    if not table:
        return None
    p = ("proxy",)
    url = _url(c, p + ("url",), c.text(p + ("url",), _REQUIRED,
                                       'the proxy, like "http://proxy.example.com:3128"'),
               ("http",), False, "http://proxy.example.com:3128")
    if isinstance(url, tuple) and url[2] is None:
        url = c.problem(p + ("url",), "give the port, like http://proxy.example.com:3128")
    user = c.text(p + ("user",), None, "the proxy user name", 128)
    if isinstance(user, str) and (not user or ":" in user):
        user = c.problem(p + ("user",), "must be a non-empty user name without a colon")
    password = c.get(p + ("password",), None, str, "the proxy password (text in quotes)")
    if isinstance(password, str) and not password:
        password = c.problem(p + ("password",), "is empty")
    if user is None and isinstance(password, str):
        c.problem(p + ("user",), "missing; proxy.password is set, so the proxy needs a user")
    if isinstance(user, str) and password is None:
        c.problem(p + ("password",), "missing; proxy.user is set, so it needs a password")
    patterns = c.items(p + ("no_proxy",), [], str, "host names", "a host name in quotes")
    no_proxy: Any = []
    for i, pattern in patterns if isinstance(patterns, list) else ():
        host = pattern.lower().removeprefix("*")
        if _host_port(host.lstrip(".")) or _cidr(host):
            no_proxy.append(host)
        else:
            c.problem(p + ("no_proxy", i), f'"{pattern}" is not a host, ".domain" or '
                                           "network like 10.0.0.0/8")
    if c.failed(p):
        return _BAD
    return {"host": url[1], "port": url[2], "user": user, "password": password,
            "no_proxy": no_proxy}


def _cidr(text: str) -> bool:
    try:
        ipaddress.IPv4Network(text)
        return "/" in text
    except ValueError:
        return False


def _backend(c: _Checker) -> dict:
    table = c.table("backend", True, False)  # unknown keys are checked per type below
    p = ("backend",)
    kind = c.choice(p + ("type",), ("graph", "ews")) if table else _BAD
    own = GRAPH_KEYS if kind == "graph" else EWS_KEYS if kind == "ews" else SCHEMA["backend"]
    for key in table:
        if key == "type" or key in own:
            continue
        if key in SCHEMA["backend"]:
            other = "an ews" if kind == "graph" else "a graph"
            c.problem(p + (key,), f"is not used by {'an' if kind == 'ews' else 'a'} {kind} "
                                  f"backend (it is {other} key)")
        else:
            c.problem(p + (key,), "unknown key" + c.suggest(p, key, ("type",) + own))
    if kind == "graph":
        return _graph(c, p)
    if kind == "ews":
        return _ews(c, p)
    return {"type": _BAD}


def _graph(c: _Checker, p: KeyPath) -> dict:
    tenant = c.text(p + ("tenant",), _REQUIRED,
                    'the tenant id (a GUID) or a domain, like "contoso.onmicrosoft.com"')
    if isinstance(tenant, str):
        if _GUID.fullmatch(tenant) or tenant.lower() == "organizations":
            tenant = tenant.lower()
        elif tenant.lower() in ("common", "consumers"):
            tenant = c.problem(p + ("tenant",), f'"{tenant}" would allow personal accounts; '
                               "give the tenant id or domain (or \"organizations\")")
        else:
            try:
                tenant = check_domain(tenant)
            except ValueError:
                tenant = c.problem(p + ("tenant",), f'"{tenant}" is neither a tenant id '
                                   '(a GUID) nor a domain like "contoso.onmicrosoft.com"')
    client_id = c.text(p + ("client_id",), _REQUIRED,
                       "the app registration's Application (client) ID, a GUID")
    if isinstance(client_id, str):
        if _GUID.fullmatch(client_id):
            client_id = client_id.lower()
        else:
            client_id = c.problem(p + ("client_id",), f'"{client_id}" is not a GUID like '
                                  '"00000000-0000-0000-0000-000000000000"')
    found = c.items(p + ("scopes",), None, str, "scopes", "a scope in quotes")
    scopes: Any = list(DEFAULT_SCOPES) if found is None else []
    for i, scope in found if isinstance(found, list) else ():
        if not scope or re.search(r"\s", scope):
            c.problem(p + ("scopes", i), f'"{scope}" is not a scope: one name, no spaces')
        elif scope.casefold() in (x.casefold() for x in scopes):
            c.problem(p + ("scopes", i), f'"{scope}" is listed twice')
        else:
            scopes.append(scope)
    if c.failed(p + ("scopes",)):
        scopes = _BAD
    elif found is not None:
        if "offline_access" not in scopes:
            scopes = c.problem(p + ("scopes",), "must include offline_access, or the panel "
                               "must be signed in again every hour")
    hosts = {}
    for key, default in (("authority_host", DEFAULT_AUTHORITY_HOST),
                         ("graph_host", DEFAULT_GRAPH_HOST)):
        value = c.text(p + (key,), default, f'a URL like "{default}"')
        if value is not default:
            parsed = _url(c, p + (key,), value, ("https",), False, default)
            value = value.rstrip("/") if isinstance(parsed, tuple) else _BAD
        hosts[key] = value
    return {"type": "graph", "tenant": tenant, "client_id": client_id, "scopes": scopes,
            **hosts}


def _ews(c: _Checker, p: KeyPath) -> dict:
    example = "https://mail.contoso.com/EWS/Exchange.asmx"
    url = c.text(p + ("url",), _REQUIRED, f'the EWS address, like "{example}"', 400)
    parsed = _url(c, p + ("url",), url, ("https",), True, example)
    if isinstance(parsed, tuple) and parsed[3] in ("", "/"):
        parsed = c.problem(p + ("url",), f"give the whole EWS address, like {example}")
    if not isinstance(parsed, tuple):
        url = _BAD
    account = c.text(p + ("account",), _REQUIRED,
                     'the service account, like "CONTOSO\\\\svc-panels" or '
                     '"svc-panels@contoso.com"', 256)
    user = domain = ""
    if isinstance(account, str):
        if account.count("\\") == 1 and all(account.split("\\")):
            domain, user = account.split("\\")
        elif "\\" in account or not account.strip() or " " in account.strip():
            account = c.problem(p + ("account",), f'"{account}" is not an account like '
                                'DOMAIN\\user or user@domain (in TOML, write "DOMAIN\\\\user")')
        else:
            user = account
    password = c.get(p + ("password",), _REQUIRED, str, "the service account's password")
    if password == "":
        password = c.problem(p + ("password",), "is empty")
    auth = c.choice(p + ("auth",), EWS_AUTH, "ntlm")
    return {"type": "ews", "url": url, "account": account, "user": user, "domain": domain,
            "password": password, "auth": auth}


def _room(c: _Checker) -> dict:
    c.table("room", True)
    p = ("room",)
    mailbox = c.mailbox(p + ("mailbox",), True)
    room_list = c.mailbox(p + ("room_list",))
    alternatives = c.mailboxes(p + ("alternatives",))
    if isinstance(mailbox, Mailbox) and isinstance(alternatives, list):
        for i, box in enumerate(alternatives):
            if box.address.casefold() == mailbox.address.casefold():
                c.problem(p + ("alternatives", i), "is this panel's own room (room.mailbox)")
                alternatives = _BAD
                break
    if isinstance(mailbox, Mailbox) and isinstance(room_list, Mailbox) and \
            room_list.address.casefold() == mailbox.address.casefold():
        room_list = c.problem(p + ("room_list",), "is the room's own mailbox; give the room "
                              "list's address (Get-DistributionGroup -RecipientTypeDetails "
                              "RoomList)")
    return {"mailbox": mailbox, "room_list": room_list, "alternatives": alternatives}


def _locale(c: _Checker) -> dict:
    c.table("locale", True)
    p = ("locale",)
    name = c.text(p + ("timezone",), _REQUIRED, 'an IANA time zone like "Europe/Amsterdam"')
    posix: Any = _BAD
    if isinstance(name, str):
        try:
            posix = tz.posix_tz(name)
        except LintelError as e:
            name = c.problem(p + ("timezone",), str(e))
        else:
            now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
            try:
                differs = tz.rule_differs(name, now, now + TZ_LOOKAHEAD_DAYS * 86400)
            except ValueError:
                differs = []
            if differs:
                day = datetime.datetime.fromtimestamp(differs[0].at, datetime.timezone.utc)
                c.warn(p + ("timezone",), f"{name}: the panel's rule ({posix}) misses a change "
                       f"the tz database has on {day:%Y-%m-%d}; push the configuration again "
                       "before then")
    clock = c.choice(p + ("clock",), (12, 24), 24)
    language = c.choice(p + ("language",), LANGUAGES, "en")
    return {"timezone": name, "posix_tz": posix, "clock": clock, "language": language}


def _privacy(c: _Checker) -> dict:
    c.table("privacy", False)
    return {"show": c.choice(("privacy", "show"), PRIVACY, "subject")}


def _booking(c: _Checker) -> dict:
    c.table("booking", False)
    p = ("booking",)
    allowed = c.flag(p + ("allowed",), True)
    found = c.items(p + ("durations",), None, int, "minutes", "a whole number of minutes")
    durations: Any = [15, 30, 60] if found is None else []
    seen: dict[int, int] = {}
    for i, minutes in found if isinstance(found, list) else ():
        if not 5 <= minutes <= 480:
            c.problem(p + ("durations", i), f"must be from 5 to 480 minutes, not {minutes}")
        elif minutes in seen:
            c.problem(p + ("durations", i), f"{minutes} is listed twice (also item "
                                            f"{seen[minutes]})")
        else:
            seen[minutes] = i
            durations.append(minutes)
    if c.failed(p + ("durations",)):
        durations = _BAD
    elif not 1 <= len(durations) <= 6:
        durations = c.problem(p + ("durations",), "must list 1 to 6 durations")
    else:
        durations.sort()
    check_in_table = c.table("booking.check_in", False)
    q = p + ("check_in",)
    check_in = {
        "enabled": c.flag(q + ("enabled",), False),
        "window_before_min": c.number(q + ("window_before_min",), 5, 0, 60),
        "window_after_min": c.number(q + ("window_after_min",), 10, 0, 60),
    }
    if check_in_table and "enabled" not in check_in_table:
        c.warn(q, "has no enabled = true: check-in is off")
    release = c.number(p + ("auto_release_min",), 0, 0, 120)
    if isinstance(release, int) and release > 0 and check_in["enabled"] is False:
        c.problem(p + ("auto_release_min",), "needs check-in: a meeting is released when "
                  "nobody checks in, so set booking.check_in.enabled = true (or 0 here)")
    elif isinstance(release, int) and isinstance(check_in["window_after_min"], int) and \
            release > check_in["window_after_min"]:
        c.problem(p + ("auto_release_min",), f"is {release} minutes, but check-in closes "
                  f"{check_in['window_after_min']} minutes after the start; make "
                  f"booking.check_in.window_after_min at least {release}")
    return {"allowed": allowed, "durations": durations, "check_in": check_in,
            "auto_release_min": release}


def _subjects(c: _Checker, path: KeyPath) -> Any:
    found = c.items(path, [], str, "texts", "text in quotes")
    if not isinstance(found, list):
        return found
    out: Any = []
    seen: dict[str, int] = {}
    for i, subject in found:
        s = subject.strip()
        if not 1 <= len(s) <= 60 or _CONTROL.search(s):
            c.problem(path + (i,), "must be 1 to 60 characters on one line")
        elif s.casefold() in seen:
            c.problem(path + (i,), f'"{s}" is listed twice (also item {seen[s.casefold()]})')
        else:
            seen[s.casefold()] = i
            out.append(s)
    if c.failed(path):
        out = _BAD
    elif len(out) > 8:
        out = c.problem(path, f"has {len(out)} entries; at most 8 fit the screen")
    return out


def _service(c: _Checker) -> dict:
    c.table("service", False)
    p = ("service",)
    recipient = c.mailbox(p + ("recipient",))
    catering = _subjects(c, p + ("catering",))
    support = _subjects(c, p + ("support",))
    if recipient is None and (catering or support) and _ok(catering, support):
        c.problem(p + ("recipient",), "missing; catering and support requests are mailed to it")
    return {"recipient": recipient, "catering": catering, "support": support}


def _time_of_day(text: str, end: bool) -> int | None:
    m = _TIME.fullmatch(text.strip())
    if not m:
        return None
    h, mi = int(m[1]), int(m[2])
    if (h, mi) == (24, 0) and end:
        return 1440
    return h * 60 + mi if h < 24 and mi < 60 else None


def _schedule(c: _Checker) -> dict:
    c.table("schedule", False)
    p = ("schedule",)
    refresh = c.number(p + ("refresh_min",), 5, 1, 240)
    hours = c.text(p + ("office_hours",), "07:00-19:00", 'a range like "07:00-19:00"')
    office_hours: Any = (7 * 60, 19 * 60)
    if isinstance(hours, str):
        parts = hours.split("-")
        if len(parts) != 2:
            office_hours = c.problem(p + ("office_hours",), f'"{hours}" is not a range of '
                                     'times like "07:00-19:00"')
        else:
            start, end = _time_of_day(parts[0], False), _time_of_day(parts[1], True)
            if start is None or end is None:
                bad = parts[0] if start is None else parts[1]
                office_hours = c.problem(p + ("office_hours",), f'"{bad.strip()}" is not a time '
                                         'of day from 00:00 to 24:00 (HH:MM)')
            elif start >= end:
                office_hours = c.problem(p + ("office_hours",), f'"{hours}" is reversed or '
                                         "empty: the start must come before the end")
            else:
                office_hours = (start, end)
    elif hours is _BAD:
        office_hours = _BAD
    found = c.items(p + ("office_days",), None, str, "days", 'a day like "mon" in quotes')
    days: Any = [0, 1, 2, 3, 4] if found is None else []
    for i, day in found if isinstance(found, list) else ():
        d = day.strip().lower()
        if d in _FULL_DAYS:
            d = d[:3]
        if d not in DAYS:
            c.problem(p + ("office_days", i), f'"{day}" is not a day: '
                      + ", ".join(f'"{x}"' for x in DAYS))
        elif DAYS.index(d) in days:
            c.problem(p + ("office_days", i), f'"{day}" is listed twice')
        else:
            days.append(DAYS.index(d))
    if c.failed(p + ("office_days",)):
        days = _BAD
    elif not days:
        days = c.problem(p + ("office_days",), "is empty; the panel would never wake")
    else:
        days.sort()
    full = c.number(p + ("full_refresh_every",), 10, 1, 1000)
    low = c.number(p + ("low_battery_percent",), 15, 0, 50)
    low_refresh = c.number(p + ("low_battery_refresh_min",), 30, 1, 1440)
    if isinstance(refresh, int) and isinstance(low_refresh, int) and low_refresh < refresh:
        c.problem(p + ("low_battery_refresh_min",), f"is {low_refresh}, shorter than "
                  f"schedule.refresh_min ({refresh}); on a low battery the panel wakes less often")
    listen = c.number(p + ("listen_s",), 30, 5, 300)
    show_time = c.choice(p + ("show_time",), SHOW_TIME, "mains")
    return {"refresh_min": refresh, "office_hours": office_hours, "office_days": days,
            "full_refresh_every": full, "low_battery_percent": low,
            "low_battery_refresh_min": low_refresh, "listen_s": listen, "show_time": show_time}


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.S)


def _tls(c: _Checker) -> dict:
    c.table("tls", False)
    path = ("tls", "extra_ca")
    value = c.raw(path)
    if value is None:
        return {"extra_ca": []}
    if isinstance(value, str):
        files = [(path, value)]
    elif not isinstance(value, list):
        c.problem(path, f"must be a file name or a list of file names, not {_kind(value)}")
        return {"extra_ca": _BAD}
    else:
        found = c.items(path, None, str, "file names", "a file name in quotes")
        if not isinstance(found, list):
            return {"extra_ca": _BAD}
        files = [(path + (i,), name) for i, name in found]
        if c.failed(path):
            return {"extra_ca": _BAD}
    from cryptography import x509  # only when there are certificates to read

    pems: list[str] = []
    bad = False
    now = datetime.datetime.now(datetime.timezone.utc)
    for where, name in files:
        if not name.strip():
            c.problem(where, "is empty; give the name of a PEM file")
            bad = True
            continue
        file = c.base / Path(name).expanduser()
        try:
            text = file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as e:
            why = "not a PEM text file" if isinstance(e, UnicodeDecodeError) else \
                (e.strerror or str(e)).lower()
            c.problem(where, f"cannot read {file}: {why}")
            bad = True
            continue
        if "PRIVATE KEY-----" in text:
            c.problem(where, f"{file} holds a private key; give the CA certificate only, "
                             "and keep the key off the panel")
            bad = True
            continue
        found_pems = _PEM_CERT.findall(text)
        if not found_pems:
            c.problem(where, f"{file} has no PEM certificate (-----BEGIN CERTIFICATE-----)")
            bad = True
            continue
        for n, pem in enumerate(found_pems, 1):
            try:
                cert = x509.load_pem_x509_certificate(pem.encode())
            except ValueError:
                c.problem(where, f"certificate {n} in {file} is damaged")
                bad = True
                continue
            subject = cert.subject.rfc4514_string() or "(no subject)"
            if cert.not_valid_after_utc < now:
                c.problem(where, f"certificate {n} in {file} ({subject}) expired on "
                                 f"{cert.not_valid_after_utc:%Y-%m-%d}")
                bad = True
                continue
            if cert.not_valid_before_utc > now:
                c.warn(where, f"certificate {n} in {file} ({subject}) is valid only from "
                              f"{cert.not_valid_before_utc:%Y-%m-%d}")
            pems.append(pem.replace("\r\n", "\n") + "\n")
    if bad:
        return {"extra_ca": _BAD}
    if len(pems) > MAX_CA_CERTS or sum(map(len, pems)) > MAX_CA_BYTES:
        c.problem(path, f"{len(pems)} certificates, {sum(map(len, pems))} bytes: at most "
                        f"{MAX_CA_CERTS} certificates and {MAX_CA_BYTES // 1024} KiB fit a panel")
        return {"extra_ca": _BAD}
    unique = list(dict.fromkeys(pems))
    return {"extra_ca": unique}


def _syntax_problem(e: tomllib.TOMLDecodeError) -> Problem:
    text = str(e)
    m = re.search(r"\(at line (\d+), column (\d+)\)", text)
    line = int(m[1]) if m else getattr(e, "lineno", None)
    return Problem("", line, f"not valid TOML: {text}")


def loads(text: str, path: str | Path = "panel.toml") -> Config:
    """Parse and validate panel.toml text; `path` names it in problems and anchors tls files."""
    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigErrors(str(path), [_syntax_problem(e)]) from None
    lines = key_lines(text)
    c = _Checker(doc, lines, path.parent)
    for key, value in doc.items():
        if key not in SCHEMA:
            what = "table" if isinstance(value, dict) else "key"
            tables = tuple(k for k in SCHEMA if "." not in k)
            c.problem((key,), f"unknown {what}" + c.suggest((), key, tables))
    settings = {
        "wifi": _wifi(c), "proxy": _proxy(c), "backend": _backend(c), "room": _room(c),
        "locale": _locale(c), "privacy": _privacy(c), "booking": _booking(c),
        "service": _service(c), "schedule": _schedule(c), "tls": _tls(c),
    }
    settings["panel"] = _panel(c)
    if c.problems:
        c.problems.sort(key=lambda pr: (pr.line is None, pr.line or 0))
        raise ConfigErrors(str(path), c.problems)
    if settings["panel"]["name"] is None:
        room = settings["room"]["mailbox"]
        settings["panel"]["name"] = room.name or room.address
    by_line = sorted(lines.items(), key=lambda kv: kv[1])
    return Config(path, settings, {dotted(k): v for k, v in by_line}, c.warnings)


def load(path: str | Path) -> Config:
    """Read, parse and validate a panel.toml; ConfigErrors lists every problem."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigErrors(str(path), [Problem("", None, f"cannot read: "
                                               f"{(e.strerror or str(e)).lower()}")]) from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise ConfigErrors(str(path), [Problem("", line, "not valid TOML: the file is not "
                                               "UTF-8 text")]) from None
    return loads(text, path)


def check(path: str | Path) -> list[Problem]:
    """Every problem of a panel.toml (empty when it is fine)."""
    try:
        load(path)
    except ConfigErrors as e:
        return e.problems
    return []


# --- what the panel gets -----------------------------------------------------------------

def _box(value: Mailbox | None) -> dict | None:
    return value.as_dict() if value is not None else None


def resolve(config: Config) -> dict:
    """The document the panel receives (before sealing): JSON-serialisable, docs/config.md."""
    s = config.settings
    wifi = s["wifi"]
    static = wifi["static"]
    backend = dict(s["backend"])
    if backend["type"] == "ews":
        backend = {k: backend[k] for k in ("type", "url", "auth", "account", "user", "domain",
                                           "password")}
    else:
        backend["scopes"] = list(backend["scopes"])
    return {
        "format": FORMAT,
        "panel": {"name": s["panel"]["name"], "device": s["panel"]["device"]},
        "wifi": {
            "ssid": wifi["ssid"], "psk": wifi["psk"],
            "static": None if static is None else {
                "address": str(static["address"].ip),
                "netmask": str(static["address"].netmask),
                "gateway": str(static["gateway"]),
                "dns": [str(d) for d in static["dns"]],
            },
            "bssid": wifi["bssid"], "channel": wifi["channel"], "country": wifi["country"],
            "hostname": wifi["hostname"], "keep_address_min": wifi["keep_address_min"],
        },
        "proxy": None if s["proxy"] is None else dict(s["proxy"]),
        "backend": backend,
        "room": {
            "mailbox": _box(s["room"]["mailbox"]),
            "room_list": _box(s["room"]["room_list"]),
            "alternatives": [b.as_dict() for b in s["room"]["alternatives"]],
        },
        "locale": dict(s["locale"]),
        "privacy": dict(s["privacy"]),
        "booking": {**s["booking"], "durations": list(s["booking"]["durations"]),
                    "check_in": dict(s["booking"]["check_in"])},
        "service": {"recipient": _box(s["service"]["recipient"]),
                    "catering": list(s["service"]["catering"]),
                    "support": list(s["service"]["support"])},
        "schedule": {**s["schedule"], "office_hours": list(s["schedule"]["office_hours"]),
                     "office_days": list(s["schedule"]["office_days"])},
        "tls": {"extra_ca": list(s["tls"]["extra_ca"])},
    }


def encode(document: dict) -> bytes:
    """The resolved document as compact UTF-8 JSON, the bytes that are sealed."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def secrets(config: Config) -> list[str]:
    """Every secret value in the configuration, for redacting logs (longest first)."""
    s = config.settings
    found = [s["wifi"]["psk"], (s["proxy"] or {}).get("password"),
             s["backend"].get("password")]
    return sorted({v for v in found if v}, key=len, reverse=True)


def check_device(config: Config, device_id: str) -> None:
    """Refuse a panel other than the one the file names in panel.device (if it names one)."""
    if config.device and config.device != device_id.lower().replace(":", ""):
        line = config.lines.get("panel.device")
        where = f"{config.path}:{line}" if line else str(config.path)
        raise LintelError(f"{where}: panel.device: this file is for panel {config.device}, "
                          f"but the panel on this port is {device_id.lower()}")
