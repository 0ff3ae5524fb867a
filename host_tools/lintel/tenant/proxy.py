"""The fake tenant's HTTP CONNECT proxy: what a panel behind a corporate proxy goes through.

It listens on 127.0.0.1 and does one thing: `CONNECT host:port HTTP/1.1`, optionally behind
Basic proxy authentication, then copies bytes both ways until both sides have closed (TLS to the
origin runs inside the tunnel; the proxy never sees into it). It tunnels only to loopback
targets (127.0.0.1, localhost, ::1), so it can never serve as an open proxy. Every answer other
than `200` carries words and `Connection: close`, and the connection then ends:

    400  a request line or header the proxy cannot parse (or a head longer than 8 KiB)
    403  a target that is not a loopback address
    405  a method HTTP knows other than CONNECT (`Allow: CONNECT`); 501 for an unknown method
    407  no valid `Proxy-Authorization: Basic ...` when a user is set
    408  no complete request head within HEAD_TIMEOUT seconds
    502  nothing listening at the target (or another connect failure); 504 a connect timeout
    503  while refusing (set_refusing(True)); or the connection is closed or reset unanswered

`start_proxy()` returns a `RunningProxy` with the request log and counters for tests. The log
never holds a credential: only whether one was presented, and whether it was accepted.
docs/tenant.md ("The CONNECT proxy") describes it for users.
"""

from __future__ import annotations

import base64
import binascii
import collections
import errno
import hmac
import itertools
import re
import selectors
import socket
import socketserver
import struct
import threading
import time
from typing import Any

from lintel.errors import LintelError

HOST = "127.0.0.1"
REALM = "lintel-tenant"
MAX_HEAD = 8192  # bytes: the request line and headers together
HEAD_TIMEOUT = 10.0  # seconds for a client to send its whole request head
CONNECT_TIMEOUT = 5.0  # seconds to connect to the target
LINGER = 1.0  # seconds to let a client read an error answer before the connection closes
CHUNK = 65536  # bytes read at a time, and the most buffered per direction
LOG_LIMIT = 1000  # the log keeps the newest entries

# The only targets: a host name (lower case, no trailing dot) -> the addresses tried, in order.
LOOPBACK = {"127.0.0.1": ("127.0.0.1",), "localhost": ("127.0.0.1", "::1"), "::1": ("::1",)}

REFUSE_MODES = ("503", "close", "reset")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"})
REASONS = {200: "Connection established", 400: "Bad Request", 403: "Forbidden",
           405: "Method Not Allowed", 407: "Proxy Authentication Required",
           408: "Request Timeout", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
STAT_KEYS = ("connections", "tunnels", "refused_auth", "refused_target", "refused",
             "bad_request", "not_allowed", "bad_gateway", "bytes_up", "bytes_down")

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/1\.[01]")


class _Answer(Exception):
    """Ends a request with an HTTP answer (or, with status None, no answer)."""

    def __init__(self, status: int | None, words: str, counter: str | None,
                 headers: tuple[tuple[str, str], ...] = (), how: str = "answer"):
        super().__init__(words)
        self.status, self.words, self.counter = status, words, counter
        self.headers, self.how = headers, how


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _printable(text: str, limit: int = 200) -> str:
    """A client-supplied string made safe for the log and for words sent back."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


def parse_target(target: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host lower case, port). ValueError if it is neither.
    An IPv6 address without brackets (`::1:443`) is taken apart at its last colon, because
    the panel's client sends it that way."""
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(target)
        port_text = rest[1:]
    else:
        host, sep, port_text = target.rpartition(":")
        if not sep:
            raise ValueError(target)
    if not host or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise ValueError(target)
    port = int(port_text)
    if not 0 < port < 65536 or any(c in host for c in "/@ \t"):
        raise ValueError(target)
    return host.lower().rstrip("."), port


def _linger_zero(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class _Broken(Exception):
    """A tunnel's socket failed: `side` ("client" or "target") and the OSError."""

    def __init__(self, side: str, error: OSError):
        super().__init__(side)
        self.side, self.error = side, error

    def words(self) -> str:
        if self.error.errno in (errno.ECONNRESET, errno.ENOTCONN, errno.EPIPE):
            return f"the {self.side} reset the connection"
        return f"the {self.side}'s connection failed: {self.error.strerror or self.error}"


class _Flow:
    """One direction of a tunnel: bytes read from src wait in buf until dst takes them."""

    def __init__(self, src: socket.socket, dst: socket.socket, name: str, pending: bytes = b""):
        self.src, self.dst, self.name = src, dst, name
        self.src_side, self.dst_side = ("client", "target") if name == "up" else ("target",
                                                                                    "client")
        self.buf = bytearray(pending)
        self.eof = False  # src has closed its sending side
        self.done = False  # ... and dst has been told (its sending side shut down)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int, proxy: RunningProxy):
        self.proxy = proxy
        super().__init__((HOST, port), socketserver.BaseRequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.proxy._serve(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        request.close()  # _serve has closed it already, gracefully or with a reset

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that vanished mid-request is not the proxy's problem


class RunningProxy:
    """A started proxy: `url`, `port`, `log`, `stats`; `set_refusing()`, `stop()`."""

    def __init__(self, port: int, user: str | None, password: str | None):
        if (user is None) != (password is None):
            raise LintelError("a proxy user and its password go together")
        self.user = user
        self._expected = None if user is None else f"{user}:{password}".encode()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_LIMIT)
        self._ids = itertools.count(1)
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self._socks: set[socket.socket] = set()
        self._active = 0
        self._refusing: str | None = None
        self._closing = False
        try:
            self._server = _Server(port, self)
        except OSError as e:
            raise LintelError(f"the proxy cannot listen on {HOST}:{port}: "
                              f"{e.strerror or e}") from e
        self.port: int = self._server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="lintel-tenant-proxy", daemon=True)
        self._thread.start()

    # -- what tests read and switch ---------------------------------------------------------

    @property
    def auth_required(self) -> bool:
        return self._expected is not None

    @property
    def log(self) -> list[dict[str, Any]]:
        """The newest LOG_LIMIT requests, oldest first (copies; a running tunnel's byte counts
        grow until it ends, when `ms` is set)."""
        with self._lock:
            return [dict(e) for e in self._log]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def stats(self) -> dict[str, Any]:
        """The counters since start, plus `active` (connections open now) and `refusing`."""
        with self._lock:
            return {**self._stats, "active": self._active, "refusing": self._refusing}

    def set_refusing(self, refusing: bool = True, how: str = "503") -> None:
        """While refusing, every request is answered 503 (how="503"), or its connection is
        closed ("close") or reset ("reset") without an answer. Tunnels already open stay."""
        if how not in REFUSE_MODES:
            raise ValueError(f"how: one of {', '.join(REFUSE_MODES)}")
        with self._lock:
            self._refusing = how if refusing else None

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is open (every log entry is final). False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def stop(self) -> None:
        """Stop listening and end every open connection and tunnel."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            socks = list(self._socks)
        self._server.shutdown()
        self._server.server_close()
        for s in socks:  # wakes their threads: a shut-down socket reads as closed
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.wait_idle(2.0)

    def __enter__(self) -> RunningProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection, in its own thread ---------------------------------------------------

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._socks.add(sock)
            return True

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _note(self, entry: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            entry.update(fields)

    def _serve(self, client: socket.socket, address: Any) -> None:
        started = time.time()
        entry: dict[str, Any] = {
            "id": 0, "time": _iso(started), "client": f"{address[0]}:{address[1]}",
            "method": None, "target": None, "status": None, "auth": "none",
            "bytes_up": 0, "bytes_down": 0, "ms": None, "error": None}
        with self._lock:
            self._active += 1
            self._stats["connections"] += 1
            entry["id"] = next(self._ids)
            self._log.append(entry)
        target_sock = None
        try:
            if not self._track(client):
                client.close()
                return
            try:
                head, rest = self._read_head(client)
                target_sock = self._open(head, entry)
            except _Answer as a:
                self._finish(client, a, entry)
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n"
                           b"Proxy-Agent: lintel-tenant\r\n\r\n")
            self._count("tunnels")
            self._note(entry, status=200)
            self._tunnel(client, target_sock, rest, entry)
        except OSError as e:
            self._note(entry, error=entry["error"] or f"client: {e.strerror or e}")
            _linger_zero(client)
        finally:
            for s in (client, target_sock):
                if s is not None:
                    s.close()
                    with self._lock:
                        self._socks.discard(s)
            with self._idle:
                entry["ms"] = round((time.time() - started) * 1000, 3)
                self._active -= 1
                self._idle.notify_all()

    def _read_head(self, client: socket.socket) -> tuple[bytes, bytes]:
        """The request head (up to the blank line) and whatever came after it."""
        deadline = time.monotonic() + HEAD_TIMEOUT
        data = bytearray()
        while True:
            ends = [(at, len(end)) for end in (b"\r\n\r\n", b"\n\n")
                    if (at := data.find(end)) >= 0]
            if ends and min(ends)[0] <= MAX_HEAD:
                at, size = min(ends)
                return bytes(data[:at]), bytes(data[at + size:])
            if len(data) > MAX_HEAD:
                raise _Answer(400, f"the request head is longer than {MAX_HEAD} bytes",
                              "bad_request")
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Answer(408, f"no complete request within {HEAD_TIMEOUT:g} s",
                              "bad_request")
            client.settimeout(left)
            try:
                chunk = client.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                raise _Answer(None, "the client closed the connection before a complete "
                              "request" if data else "the client sent nothing", None,
                              how="close")
            data += chunk

    def _open(self, head: bytes, entry: dict[str, Any]) -> socket.socket:
        """Check the request; connect to its target. Raises _Answer for every refusal."""
        lines = re.split(rb"\r?\n", head)
        request_line = lines[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) == 3 and _TOKEN.fullmatch(parts[0]):
            self._note(entry, method=_printable(parts[0], 20), target=_printable(parts[1]))
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _VERSION.fullmatch(parts[2]):
            raise _Answer(400, "this proxy understands only \"CONNECT host:port HTTP/1.1\"",
                          "bad_request")
        method, target, _ = parts
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            line = raw.decode("latin-1")
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name):
                raise _Answer(400, "a header line is not \"Name: value\"", "bad_request")
            headers.setdefault(name.lower(), value.strip(" \t"))
        if "proxy-authorization" in headers:
            self._note(entry, auth="presented")
        if method != "CONNECT":
            if method in KNOWN_METHODS:
                raise _Answer(405, f"this proxy only tunnels with CONNECT, not {method}",
                              "not_allowed", (("Allow", "CONNECT"),))
            raise _Answer(501, f"this proxy does not know the method {_printable(method, 20)}; "
                          "it only tunnels with CONNECT", "not_allowed")
        try:
            host, port = parse_target(target)
        except ValueError:
            raise _Answer(400, "the CONNECT target must be host:port (or [IPv6]:port), "
                          f"not {_printable(target)}", "bad_request") from None
        with self._lock:
            refusing = self._refusing
        if refusing is not None:
            raise _Answer(503, "the proxy is refusing connections for now (a test switched "
                          "refusing on)", "refused", how=refusing)
        if self._expected is not None:
            if not self._credentials_ok(headers.get("proxy-authorization")):
                presented = "proxy-authorization" in headers
                self._note(entry, auth="rejected" if presented else "none")
                words = ("the proxy user name or password is wrong" if presented else
                         "this proxy requires Basic authentication (Proxy-Authorization)")
                raise _Answer(407, words, "refused_auth",
                              (("Proxy-Authenticate", f'Basic realm="{REALM}"'),))
            self._note(entry, auth="accepted")
        if host not in LOOPBACK:
            raise _Answer(403, "this proxy only tunnels to loopback targets (127.0.0.1, "
                          f"localhost, ::1), not {_printable(host)}", "refused_target")
        return self._connect(host, port, target)

    def _credentials_ok(self, value: str | None) -> bool:
        if value is None or self._expected is None:
            return False
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            presented = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(presented, self._expected)

    def _connect(self, host: str, port: int, target: str) -> socket.socket:
        failure = ""
        timed_out = False
        for address in LOOPBACK[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            if not self._track(sock):
                sock.close()
                raise _Answer(503, "the proxy is stopping", "refused")
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect((address, port))
            except OSError as e:
                sock.close()
                with self._lock:
                    self._socks.discard(sock)
                timed_out = timed_out or isinstance(e, TimeoutError)
                failure = ("connection refused: nothing listens there"
                           if isinstance(e, ConnectionRefusedError) else
                           f"no answer within {CONNECT_TIMEOUT:g} s"
                           if isinstance(e, TimeoutError) else (e.strerror or str(e)))
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise _Answer(504 if timed_out else 502,
                      f"the proxy cannot reach {_printable(target)}: {failure}", "bad_gateway")

    def _finish(self, client: socket.socket, a: _Answer, entry: dict[str, Any]) -> None:
        """End a connection that gets no tunnel: an answer, a plain close, or a reset."""
        if a.counter:
            self._count(a.counter)
        if a.how == "reset":
            self._note(entry, error="reset while refusing")
            _linger_zero(client)
            return
        if a.how == "close" or a.status is None:
            self._note(entry, error=a.words if a.status is None else "closed while refusing")
        else:
            body = (a.words + "\n").encode()
            head = [f"HTTP/1.1 {a.status} {REASONS[a.status]}", *(f"{k}: {v}" for k, v in
                                                                   a.headers),
                    "Content-Type: text/plain; charset=utf-8",
                    f"Content-Length: {len(body)}", "Connection: close", "", ""]
            self._note(entry, status=a.status, error=a.words)
            client.sendall("\r\n".join(head).encode() + body)
        # Close gently: send FIN, then read away what the client still sends until it closes
        # (a close with unread bytes would be a reset, which can destroy the answer in flight).
        try:
            client.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER
            drained = 0
            while drained < CHUNK and (left := deadline - time.monotonic()) > 0:
                client.settimeout(left)
                chunk = client.recv(4096)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    # -- the tunnel ------------------------------------------------------------------------

    def _tunnel(self, client: socket.socket, target: socket.socket, pending: bytes,
                entry: dict[str, Any]) -> None:
        """Copy bytes both ways until both directions have ended. A side's close (FIN) is
        passed on as a half-close; a reset or error on either side resets both."""
        up = _Flow(client, target, "up", pending)
        down = _Flow(target, client, "down")
        if pending:
            self._bytes(entry, up, len(pending))
        client.setblocking(False)
        target.setblocking(False)
        wanted: dict[socket.socket, int] = {}
        with selectors.DefaultSelector() as sel:
            try:
                while not (up.done and down.done):
                    for sock, out, inc in ((client, up, down), (target, down, up)):
                        events = 0
                        if not out.eof and len(out.buf) < CHUNK:
                            events |= selectors.EVENT_READ
                        if inc.buf:
                            events |= selectors.EVENT_WRITE
                        old = wanted.get(sock, 0)
                        if events != old:
                            if not old:
                                sel.register(sock, events)
                            elif not events:
                                sel.unregister(sock)
                            else:
                                sel.modify(sock, events)
                            wanted[sock] = events
                    if not any(wanted.values()):
                        break  # cannot happen: a flow not done wants to read or write
                    for key, mask in sel.select():
                        sock = key.fileobj
                        if mask & selectors.EVENT_READ:
                            self._pull(up if sock is client else down, entry)
                        if mask & selectors.EVENT_WRITE:
                            self._push(down if sock is client else up)
            except _Broken as e:
                if (up if e.side == "client" else down).eof:
                    # That side had closed already: a peer that closes completely (not half)
                    # answers what still comes with a reset. A normal end: the other side's
                    # close follows.
                    return
                self._note(entry, error=e.words())
                _linger_zero(client)  # pass a reset on as a reset
                _linger_zero(target)

    def _bytes(self, entry: dict[str, Any], flow: _Flow, n: int) -> None:
        key = "bytes_up" if flow.name == "up" else "bytes_down"
        with self._lock:
            entry[key] += n
            self._stats[key] += n

    def _pull(self, flow: _Flow, entry: dict[str, Any]) -> None:
        try:
            data = flow.src.recv(CHUNK - len(flow.buf))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            raise _Broken(flow.src_side, e) from e
        if data:
            flow.buf += data
            self._bytes(entry, flow, len(data))
        else:
            flow.eof = True
            self._push(flow)

    def _push(self, flow: _Flow) -> None:
        try:
            if flow.buf:
                try:
                    sent = flow.dst.send(flow.buf)
                except (BlockingIOError, InterruptedError):
                    return
                del flow.buf[:sent]
            if flow.eof and not flow.buf and not flow.done:
                flow.dst.shutdown(socket.SHUT_WR)
                flow.done = True
        except OSError as e:
            raise _Broken(flow.dst_side, e) from e


def start_proxy(port: int = 0, user: str | None = None,
                password: str | None = None) -> RunningProxy:
    """Start a CONNECT proxy on 127.0.0.1:port (0: any free port), with Basic proxy
    authentication when user and password are given. LintelError when it cannot listen."""
    if not 0 <= port <= 65535:
        raise LintelError(f"--proxy-port {port}: not a TCP port (0-65535)")
    if user is not None:
        check_user(user)
    return RunningProxy(port, user, password)


def check_user(user: str) -> None:
    """LintelError unless user can be a Basic proxy user name (printable ASCII, no ':')."""
    if not user or ":" in user or any(not " " < c <= "~" for c in user):
        raise LintelError(f"--proxy-user {_printable(user)!r}: a user name of printable "
                          "characters without ':' or spaces")
