"""The fake tenant's HTTPS server: TLS, HTTP/1.1 keep-alive, routing, the request log and the
fault-injection hook.

The server knows no endpoint itself. It loads the tenant modules named in `MODULES`; each one is
a Python module with:

    NAME: str                                   "identity", "admin", later "graph"
    SEED_KEYS: tuple[str, ...]                  the seed file's top-level keys it owns
    init_store(store) -> None                   create its tables (store.ensure_schema)
    validate_seed(seed: dict) -> list[str]      problems in its part of a seed ("key: why")
    apply_seed(tenant, seed: dict) -> None      load its part of a seed into a fresh state
    register(tenant) -> None                    tenant.router.add(method, pattern, handler, self)
    error_response(req, status) -> Response     (optional) the body an injected status carries,
                                                in the shape of this module's real errors (the
                                                fault itself is in req.scratch["fault"])
    operation(req) -> str | None                (optional) the operation a request asks for
                                                (EWS: the SOAP operation); faults with an
                                                `operation` match on it
    code_response(req, fault) -> Response       (optional) the answer of a fault of kind `code`:
                                                this module's own error with fault.code

A handler takes a `Request` and returns a `Response`. Every request that is not for `/_admin/`
goes through the fault hook first, so routes added by a later module get fault injection, the
request log and keep-alive without doing anything.
"""

from __future__ import annotations

import fnmatch
import http.server
import importlib
import itertools
import json
import re
import secrets
import shutil
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from lintel.errors import LintelError
from lintel.tenant import ca as ca_mod
from lintel.tenant import seed as seed_mod
from lintel.tenant.store import Store

# The tenant modules, in routing order.
MODULES = ("lintel.tenant.identity", "lintel.tenant.admin", "lintel.tenant.graph",
           "lintel.tenant.ews")

HOST = "127.0.0.1"
MAX_BODY = 4 * 1024 * 1024
KEEP_ALIVE_IDLE = 120  # seconds a kept-alive connection may sit idle before the server closes it
HANDSHAKE_TIMEOUT = 10

# Form fields and query parameters whose values never reach the request log.
SECRET_FIELDS = frozenset({
    "device_code", "code", "user_code", "otc", "refresh_token", "access_token", "id_token",
    "client_secret", "client_assertion", "assertion", "password", "code_verifier", "token",
    "secret", "key", "session_state", "state", "nonce",
})
REDACTED = "[redacted]"


# -- requests and responses ----------------------------------------------------------------------


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None


def json_response(obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None,
                  content_type: str = "application/json; charset=utf-8") -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, list(headers or []), content_type)


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), [("Cache-Control", "no-store")],
                    "text/html; charset=utf-8")


class HttpError(Exception):
    """Raised by a handler to answer with `response` at once."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


@dataclass
class Request:
    tenant: Tenant
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # http.client.HTTPMessage: case-insensitive .get()
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    conn: int = 0
    notes: dict[str, Any] = field(default_factory=dict)  # extra request-log fields (no secrets)
    # State that lives as long as the kept-alive connection (EWS keeps its NTLM handshake and
    # the identity it proved here: NTLM authenticates the connection, not the request).
    connection: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)  # a module's own per-request cache
    _form: dict[str, str] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A query parameter's first value."""
        values = self.query.get(name)
        return values[0] if values else default

    def is_form(self) -> bool:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return ctype == "application/x-www-form-urlencoded"

    def form(self) -> dict[str, str]:
        """The form-encoded body (first value of each field); {} if the body is not a form."""
        if self._form is None:
            self._form = {}
            if self.is_form():
                parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
                self._form = {k: v[0] for k, v in parsed.items()}
        return self._form

    def json(self) -> Any:
        """The JSON body; HttpError 400 (admin-style error) if it is not JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise HttpError(json_response({"error": f"the body is not JSON: {e}"}, 400)) from e


# -- routing -----------------------------------------------------------------------------------


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[[Request], Response]
    module: ModuleType | None


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Callable[[Request], Response],
            module: ModuleType | None = None, flags: int = 0) -> None:
        """Route `method` on paths fully matching the regular expression `pattern` (named groups
        become req.params). A later route with the same method and pattern replaces the earlier
        one (that is how the Graph module takes over the admin outbox stub)."""
        compiled = re.compile(pattern, flags)
        route = Route(method.upper(), compiled, handler, module)
        for i, r in enumerate(self.routes):
            if r.method == route.method and r.pattern.pattern == pattern and \
                    r.pattern.flags == compiled.flags:
                self.routes[i] = route
                return
        self.routes.append(route)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """(route, params, methods allowed on this path when the method is not)."""
        allowed: list[str] = []
        for r in self.routes:
            m = r.pattern.fullmatch(path)
            if m is None:
                continue
            if r.method == method:
                return r, m.groupdict(), []
            allowed.append(r.method)
        return None, {}, allowed

    def module_for(self, path: str) -> ModuleType | None:
        for r in self.routes:
            if r.pattern.fullmatch(path):
                return r.module
        return None


# -- fault injection -------------------------------------------------------------------------

FAULT_KINDS = ("status", "code", "reset", "truncate", "malformed", "delay")


@dataclass
class Fault:
    id: int
    path: str
    method: str = "*"
    kind: str = "status"
    status: int | None = None
    retry_after: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1  # None: until cleared
    skip: int = 0
    keep: int | None = None  # body bytes kept by truncate/malformed (default: half)
    operation: str | None = None  # only requests for this operation (a module's operation())
    code: str | None = None  # kind code: the module's error code; kind status: its fault code
    message: str | None = None  # the error's text instead of the module's own
    back_off_ms: int | None = None  # EWS ErrorServerBusy: the BackOffMilliseconds it carries
    fired: int = 0
    seen: int = 0

    def describe(self) -> dict:
        return {"id": self.id, "path": self.path, "method": self.method, "kind": self.kind,
                "status": self.status, "retry_after": self.retry_after, "body": self.body,
                "headers": self.headers, "delay": self.delay, "times": self.times,
                "skip": self.skip, "keep": self.keep, "operation": self.operation,
                "code": self.code, "message": self.message, "back_off_ms": self.back_off_ms,
                "fired": self.fired,
                "remaining": None if self.times is None else self.times - self.fired}


class Faults:
    """Injected faults, in memory (they are test controls, not tenant state)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.ids = itertools.count(1)

    def add(self, spec: dict) -> Fault:
        """Validate a fault specification (the admin API's JSON); ValueError says what is wrong."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        known = {"path", "method", "kind", "status", "retry_after", "body", "headers", "delay",
                 "times", "skip", "keep", "operation", "code", "message", "back_off_ms"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        path = spec.get("path")
        if not isinstance(path, str) or not path.startswith(("/", "*")):
            raise ValueError("'path' must be a path pattern such as \"/*/oauth2/v2.0/token\"")
        kind = spec.get("kind", "status" if "status" in spec else
                        "code" if "code" in spec else None)
        if kind not in FAULT_KINDS:
            raise ValueError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
        for name in ("operation", "code", "message"):
            value = spec.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip()
                                      or len(value) > 500):
                raise ValueError(f"'{name}' is a non-empty string")
        if kind == "code" and not spec.get("code"):
            raise ValueError("a code fault needs 'code' (such as \"ErrorServerBusy\")")
        if spec.get("code") is not None and kind not in ("code", "status"):
            raise ValueError(f"'code' belongs to kind 'code' or 'status', not {kind!r}")
        back_off = spec.get("back_off_ms")
        if back_off is not None and (isinstance(back_off, bool) or not isinstance(back_off, int)
                                     or not 0 <= back_off <= 86_400_000):
            raise ValueError("'back_off_ms' is milliseconds, 0 to 86400000")
        status = spec.get("status")
        if kind == "status":
            if not isinstance(status, int) or not 100 <= status <= 599:
                raise ValueError("a status fault needs 'status' (100-599)")
        elif status is not None:
            raise ValueError(f"'status' belongs to kind 'status', not {kind!r}")
        retry_after = spec.get("retry_after")
        if retry_after is not None:
            if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float, str)):
                raise ValueError("'retry_after' is seconds (a number) or an HTTP date (a string)")
            retry_after = str(retry_after)
        delay = spec.get("delay", 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 600:
            raise ValueError("'delay' is seconds, 0 to 600")
        if kind == "delay" and not delay:
            raise ValueError("a delay fault needs 'delay' (seconds)")
        times = spec.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                                  or times < 1):
            raise ValueError("'times' is a count of 1 or more, or null for 'until cleared'")
        skip = spec.get("skip", 0)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise ValueError("'skip' is a count of 0 or more")
        keep = spec.get("keep")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            raise ValueError("'keep' is a count of body bytes, 0 or more")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ValueError("'headers' is an object of header names to string values")
        method = str(spec.get("method", "*")).upper()
        with self.lock:
            fault = Fault(next(self.ids), path, method, kind, status, retry_after,
                          spec.get("body"), headers, float(delay), times, skip, keep,
                          spec.get("operation"), spec.get("code"), spec.get("message"),
                          back_off)
            self.faults.append(fault)
        return fault

    def take(self, method: str, path: str,
             operation: Callable[[], str | None] = lambda: None) -> Fault | None:
        """The first live fault matching this request, counted as fired; None if none.
        `operation()` names the request's operation, for faults that name one."""
        lowered = path.lower()
        asked: list[str | None] = []
        with self.lock:
            for f in self.faults:
                if f.method not in ("*", method):
                    continue
                if not fnmatch.fnmatchcase(lowered, f.path.lower()):
                    continue
                if f.operation is not None:
                    if not asked:
                        asked.append(operation())
                    if (asked[0] or "").lower() != f.operation.lower():
                        continue
                if f.times is not None and f.fired >= f.times:
                    continue
                f.seen += 1
                if f.seen <= f.skip:
                    continue
                f.fired += 1
                return f
        return None

    def release(self, fault: Fault) -> None:
        """Hand back a fault that take() gave to a request it does not apply to after all (EWS:
        a request that authentication turned away); the next matching request gets it."""
        with self.lock:
            fault.fired = max(0, fault.fired - 1)
            fault.seen = max(0, fault.seen - 1)

    def list(self) -> list[dict]:
        with self.lock:
            return [f.describe() for f in self.faults]

    def clear(self, fault_id: int | None = None) -> int:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if fault_id is not None and f.id != fault_id]
            return before - len(self.faults)


# -- the tenant: what every handler can reach --------------------------------------------------


class Tenant:
    """The running fake tenant: its state, keys, routes, faults and clock."""

    def __init__(self, store: Store, state_dir: Path, base_url: str, ca_path: Path,
                 signing: ca_mod.KeyPair, modules: list[ModuleType]):
        self.store = store
        self.state_dir = state_dir
        self.base_url = base_url
        self.ca_path = ca_path
        self.signing = signing
        self.modules = modules
        self.router = Router()
        self.faults = Faults()
        self.clock_offset = 0.0
        # A file holding more seconds to add (an emulated panel's rtc_offset): the tenant's
        # clock then follows the panel's emulated one (docs/tenant.md, "Clock").
        self.clock_file: Path | None = None
        self._followed = (None, 0.0)  # (mtime_ns, seconds) of the file when last read
        self.stats = {"connections": 0, "handshakes": 0, "handshakes_resumed": 0,
                      "handshakes_failed": 0}
        self.stats_lock = threading.Lock()

    def now(self) -> float:
        """The tenant's clock: wall time plus the admin API's offset (for expiry tests) plus
        the clock file's (an emulated panel's clock)."""
        return time.time() + self.clock_offset + self._file_offset()

    def _file_offset(self) -> float:
        if self.clock_file is None:
            return 0.0
        try:
            mtime = self.clock_file.stat().st_mtime_ns
            if mtime != self._followed[0]:
                self._followed = (mtime, float(self.clock_file.read_text() or 0))
        except (OSError, ValueError):
            return self._followed[1]  # not there yet, or half written: the last value
        return self._followed[1]

    def count(self, name: str) -> None:
        with self.stats_lock:
            self.stats[name] += 1


def redact(fields: dict[str, str] | dict[str, list[str]] | None) -> dict | None:
    """A copy fit for the request log: secret fields' values replaced, long values shortened."""
    if not fields:
        return None
    out: dict[str, Any] = {}
    for k, v in fields.items():
        values = v if isinstance(v, list) else [v]
        clean = []
        for value in values:
            if not isinstance(value, str):
                clean.append(value)  # a module's own log fields (numbers, None)
            elif k.lower() in SECRET_FIELDS or _looks_like_a_token(value):
                clean.append(REDACTED)
            else:
                clean.append(value if len(value) <= 300 else value[:300] + "...")
        out[k] = clean if isinstance(v, list) else clean[0]
    return out


def _looks_like_a_token(value: str) -> bool:
    return value.startswith("eyJ") and value.count(".") >= 2


# -- HTTP --------------------------------------------------------------------------------------


class _BodyTooLarge(ValueError):
    pass


class _Reset(Exception):
    """The connection was reset on purpose (fault 'reset'): nothing more to write."""


_conn_ids = itertools.count(1)
_local = threading.local()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lintel-tenant"
    sys_version = ""
    timeout = KEEP_ALIVE_IDLE
    server: TenantHTTPServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header is the tenant's clock, which a panel sets its own from.
        return super().date_time_string(self.server.tenant.now() if timestamp is None
                                         else timestamp)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base's name
        pass  # the request log is the tenant's own, in the store

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = do_GET  # noqa: N815

    # -- one request --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    raise _BodyTooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY:
            raise _BodyTooLarge()
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        tenant = self.server.tenant
        path, _, qs = self.path.partition("?")
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True
            self._send(json_response({"error": "request body too large"}, 413), None)
            return
        except (ValueError, OSError):
            self.close_connection = True
            self._send(json_response({"error": "malformed request body"}, 400), None)
            return
        query = parse_qs(qs, keep_blank_values=True)
        req = Request(tenant, self.command, path, query, self.headers, body,
                      conn=getattr(_local, "conn", 0), connection=_connection_state())
        route, params, allowed = tenant.router.match(self.command, path)
        req.params = params
        admin = path.startswith("/_admin/") or path == "/_admin"
        fault = None if admin else tenant.faults.take(self.command, path,
                                                      lambda: _operation(route, req))
        if fault is not None:
            req.scratch["fault"] = fault  # a module may release it (Faults.release)
        status: int | None = None
        bytes_out = 0
        try:
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.kind == "reset":
                self._reset()
            if fault and fault.kind in ("status", "code"):
                resp = self._fault_response(fault, route, req)
            else:
                resp = self._run(route, allowed, req)
            if req.scratch.get("fault_released"):
                fault = None
            if fault and fault.kind == "malformed":
                resp.body = _malformed(resp.body, fault.keep)
            status = resp.status
            bytes_out = self._send(resp, fault)
        except _Reset:
            pass
        except OSError:
            self.close_connection = True  # the client went away mid-response
        if admin:
            return
        head = str(self.headers)  # the header lines and the blank line, each ended by LF only
        header_bytes = len(self.raw_requestline) + len(head) + head.count("\n")  # CRLF
        resumed = getattr(_local, "resumed", None)
        try:
            tenant.store.log_request({
                "time": tenant.now(), "conn": req.conn, "method": self.command, "path": path,
                "query": redact(query), "form": redact(req.form() or req.notes.get("form")),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 3),
                "bytes_in": header_bytes + len(body), "bytes_out": bytes_out,
                "fault": fault.kind if fault else None, "error": req.notes.get("error"),
                "tls_resumed": None if resumed is None else int(resumed),
            })
        except Exception:  # noqa: BLE001 -- the log must never break a response
            if not getattr(self.server, "closing", False):
                traceback.print_exc(file=sys.stderr)

    def _run(self, route: Route | None, allowed: list[str], req: Request) -> Response:
        if route is None:
            if allowed:
                return json_response({"error": "method_not_allowed",
                                      "message": f"{req.method} is not allowed on {req.path}"},
                                     405, [("Allow", ", ".join(sorted(set(allowed))))])
            return json_response({"error": "not_found",
                                  "message": f"no such endpoint: {req.method} {req.path}"}, 404)
        try:
            return route.handler(req)
        except HttpError as e:
            return e.response
        except Exception:  # noqa: BLE001 -- a bug in a handler: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            return json_response({"error": "server_error",
                                  "message": "the fake tenant failed; see its stderr"}, 500)

    def _fault_response(self, fault: Fault, route: Route | None, req: Request) -> Response:
        module = route.module if route else req.tenant.router.module_for(req.path)
        if fault.kind == "code":
            maker = getattr(module, "code_response", None) if module else None
            resp = maker(req, fault) if maker else json_response({"error": fault.code}, 500)
            if not req.scratch.get("fault_released"):
                resp.headers.extend(fault.headers.items())
                req.notes.setdefault("error", fault.code)
            return resp
        status = fault.status or 503
        if fault.body is not None:
            if isinstance(fault.body, str):
                resp = Response(status, fault.body.encode(), [], "text/plain; charset=utf-8")
            else:
                resp = json_response(fault.body, status)
        else:
            maker = getattr(module, "error_response", None) if module else None
            if maker is not None:
                resp = maker(req, status)
                if req.scratch.get("fault_released"):
                    return resp  # the module answered otherwise (EWS: authentication first)
                resp.status = status
            else:
                try:
                    phrase = http.HTTPStatus(status).phrase
                except ValueError:
                    phrase = "error"
                resp = json_response({"error": phrase}, status)
        if fault.retry_after is not None:
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "retry-after"]
            resp.headers.append(("Retry-After", fault.retry_after))
        resp.headers.extend(fault.headers.items())
        req.notes.setdefault("error", f"injected {status}")
        return resp

    def _send(self, resp: Response, fault: Fault | None) -> int:
        body = resp.body if self.command != "HEAD" else b""
        truncate = fault is not None and fault.kind == "truncate"
        length = len(resp.body)
        if truncate:
            keep = fault.keep if fault.keep is not None else len(body) // 2
            if length == 0:
                length = 1  # promise a byte that never comes
            body = body[:min(keep, length - 1)]
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        if self.close_connection or truncate:
            self.send_header("Connection", "close")
        head = sum(len(x) for x in getattr(self, "_headers_buffer", []))
        self.end_headers()
        if body:
            self.wfile.write(body)
        if truncate:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)  # EOF without TLS close_notify
            except OSError:
                pass
        return head + 2 + len(body)

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            # The descriptor really closes (with the RST) when the handler's rfile/wfile close,
            # right after this request: nothing is written in between.
            self.connection.close()
        except OSError:
            pass
        raise _Reset()


def _connection_state() -> dict[str, Any]:
    """The current connection's own dict (Request.connection), made on its first request."""
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = {}
    return state


def _operation(route: Route | None, req: Request) -> str | None:
    """The operation the request asks for, if its module can tell (faults match on it)."""
    module = route.module if route else req.tenant.router.module_for(req.path)
    namer = getattr(module, "operation", None) if module else None
    try:
        return namer(req) if namer else None
    except Exception:  # noqa: BLE001 -- a body the module cannot read has no operation
        return None


def _malformed(body: bytes, keep: int | None) -> bytes:
    """A body that is complete on the wire (Content-Length matches) but not valid JSON (nor
    valid XML: the same cut serves EWS's SOAP bodies)."""
    if not body:
        return b"{"
    cut = body[:keep if keep is not None else max(1, len(body) // 2)]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return cut + b"\x00{"  # a prefix that happened to be valid JSON (e.g. '[]'[:1] is not)


class TenantHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int):
        self.tenant: Tenant | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self.closing = False
        super().__init__((HOST, port), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN (a DNS query): not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        """Per connection, in its own thread: the TLS handshake, then HTTP requests."""
        tenant = self.tenant
        tenant.count("connections")
        # http.server sends the head and the body in two writes; without TCP_NODELAY the second
        # waits for the client's delayed ACK (about 40 ms per kept-alive response).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            tenant.count("handshakes_failed")
            request.close()
            return
        tenant.count("handshakes")
        if tls.session_reused:
            tenant.count("handshakes_resumed")
        _local.conn = next(_conn_ids)
        _local.resumed = bool(tls.session_reused)
        _local.state = {}  # Request.connection: this connection's own state
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that vanished mid-request is not the tenant's problem


# -- starting and stopping ----------------------------------------------------------------------


def load_modules(names: tuple[str, ...] = MODULES) -> list[ModuleType]:
    return [importlib.import_module(n) for n in names]


class RunningTenant:
    """A started tenant: `base_url`, `ca_path`, `tenant`; `stop()` ends it."""

    def __init__(self, httpd: TenantHTTPServer, tenant: Tenant, temp_state: bool):
        self.httpd, self.tenant, self._temp_state = httpd, tenant, temp_state
        self.base_url, self.ca_path = tenant.base_url, tenant.ca_path
        self.thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="lintel-tenant", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.tenant.store.lock:
            self.tenant.store.close()
        if self._temp_state:
            shutil.rmtree(self.tenant.state_dir, ignore_errors=True)


def start(port: int, seed_path: Path | None = None, state_dir: Path | None = None,
          ca_out: Path | None = None, names: tuple[str, ...] = ca_mod.DEFAULT_NAMES,
          modules: tuple[str, ...] = MODULES) -> RunningTenant:
    """Start a fake tenant on 127.0.0.1:port (0: any free port). LintelError on user errors."""
    mods = load_modules(modules)
    seed_path = Path(seed_path) if seed_path else seed_mod.DEFAULT_SEED
    seed = seed_mod.read(seed_path)
    seed_mod.validate(seed, mods, seed_path)
    if not 0 <= port <= 65535:
        raise LintelError(f"--port {port}: not a TCP port (0-65535)")
    try:
        httpd = TenantHTTPServer(port)
    except OSError as e:
        raise LintelError(f"cannot listen on {HOST}:{port}: {e.strerror or e}") from e
    temp_state = state_dir is None
    store: Store | None = None
    try:
        if temp_state:
            state_dir = Path(tempfile.mkdtemp(prefix="lintel-tenant-"))
        state_dir = Path(state_dir)
        fresh = temp_state or not state_dir.exists()
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            probe = state_dir / f".probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise LintelError(f"--state {state_dir}: cannot use it ({e.strerror or e})") from e
        if fresh:
            state_dir.chmod(0o700)  # it holds keys; a folder the user already had is theirs
        store = Store(state_dir / "tenant.db")
        for m in mods:
            m.init_store(store)
        authority = ca_mod.load_or_create_ca(state_dir)
        server_pair = ca_mod.issue_server_certificate(authority, names)
        ca_mod.write_file(state_dir / "server.key", server_pair.key_pem(), 0o600)
        ca_mod.write_file(state_dir / "server.pem",
                          server_pair.cert_pem() + authority.cert_pem(), 0o644)
        ca_path = (ca_mod.write_ca_out(authority, ca_out) if ca_out
                   else (state_dir / "ca.pem").resolve())
        signing = ca_mod.load_or_create_signing_key(state_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(state_dir / "server.pem", state_dir / "server.key")
        base_url = f"https://{HOST}:{httpd.server_address[1]}"
        tenant = Tenant(store, state_dir, base_url, ca_path, signing, mods)
        seed_mod.apply(tenant, seed, seed_path)
        for m in mods:
            m.register(tenant)
        httpd.tenant, httpd.ssl_context = tenant, context
    except BaseException:
        httpd.server_close()
        if store is not None:
            store.close()
        if temp_state and state_dir is not None:
            shutil.rmtree(state_dir, ignore_errors=True)
        raise
    return RunningTenant(httpd, tenant, temp_state)
