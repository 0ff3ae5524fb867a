# The HTTP client's wire (docs/http.md): one connection - a TCP socket, optionally through an
# HTTP CONNECT proxy (app/http_proxy.py), optionally TLS (app/http_tls.py) - with non-blocking
# I/O under poll deadlines and one preallocated read buffer. app/http.py and
# app/http_response.py build requests and responses on top of it.
import errno
import select
import socket
import time
from micropython import const

from app.http_errors import (
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DnsError,
    HttpError,
    ProtocolError,
    ReadTimeout,
)
from app.http_tls import CONN_EOF, tls_failure

_IPPROTO_TCP = const(6)  # the same numbers on Linux and lwIP; socket does not export them
_TCP_NODELAY = const(1)
_WAIT_SLICE = const(1000)  # ms: poll in slices so a KeyboardInterrupt gets through


def ms_until(deadline):
    return time.ticks_diff(deadline, time.ticks_ms())


class Conn:
    """One connection: TCP, then maybe a CONNECT tunnel, then maybe TLS. Reads go through one
    preallocated buffer of `buf_size` bytes, which bounds a status, header or chunk-size line."""

    def __init__(self, key, host, port, buf_size, stats):
        self.key = key
        self.host = host  # the origin server, for messages and SNI
        self.port = port
        self.label = host  # who the socket talks to, for messages: the host or the proxy
        self.stats = stats
        self.sock = None  # the TCP socket
        self.stream = None  # the socket, or the TLS stream over it
        self.tls = False
        self.handshaking = False
        self.buf = bytearray(buf_size)
        self.mv = memoryview(self.buf)
        self.pos = 0  # unread bytes are buf[pos:end]
        self.end = 0
        self._ls = self._le = 0  # the last line read is buf[_ls:_le]
        self.served = 0  # responses completed on this connection
        self.busy = None  # the Response that still reads from it
        self._poll = None  # polls the socket
        self._hpoll = None  # polls the TLS stream during the handshake

    # opening -----------------------------------------------------------------------------

    def open(self, host, port, timeout_ms):
        """TCP connection to host:port (the origin or the proxy), non-blocking afterwards.
        The DNS lookup is not under the timeout: getaddrinfo blocks on every port."""
        who = "%s:%d" % (host, port) if self.label == self.host else self.label
        began = time.ticks_ms()
        try:
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError:
            infos = None
        if not infos:
            raise DnsError("no address for %s (DNS lookup failed)" % who, host)
        failure = None
        for info in infos:
            sock = socket.socket(info[0], socket.SOCK_STREAM)
            try:
                sock.settimeout(max(timeout_ms, 1) / 1000)
                sock.connect(info[-1])
            except OSError as e:
                sock.close()
                failure = e
                continue
            self.sock = self.stream = sock
            break
        if self.sock is None:
            raise _connect_failure(failure, who, host)
        self.stats["connections"] += 1
        self.stats["network_ms"] += time.ticks_diff(time.ticks_ms(), began)
        self.sock.setblocking(False)
        try:
            self.sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except (OSError, TypeError):
            pass
        self._poll = select.poll()

    def start_tls(self, ctx):
        """Wrap the socket; the handshake runs during the first send (non-blocking)."""
        self.stream = ctx.wrap_socket(self.sock, server_hostname=self.host,
                                      do_handshake_on_connect=False)
        self.tls = True
        self.handshaking = True
        self.stats["tls_handshakes"] += 1

    def close(self):
        self.busy = None
        for s in (self.stream, self.sock):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.stream = self.sock = self._poll = self._hpoll = None
        self.pos = self.end = 0

    def closed(self):
        return self.sock is None

    def stale(self):
        """True if this idle kept-alive connection cannot carry another request: the server
        closed or reset it, or sent something unasked."""
        if self.sock is None or self.pos < self.end:
            return True
        self._poll.register(self.sock, select.POLLIN)
        if not self._poll.poll(0):
            return False
        try:
            n = self.stream.readinto(self.mv[0:1])
        except (OSError, ValueError):
            return True
        # None: only TLS housekeeping (a session ticket) was waiting: still usable.
        return n is not None

    # writing -----------------------------------------------------------------------------

    def send(self, data, timeout_ms):
        """Send data in one write (the kernel gets it whole unless its buffer is full).
        While the TLS handshake is pending it runs here, under the same deadline."""
        began = time.ticks_ms()
        deadline = time.ticks_add(began, timeout_ms)
        mv = memoryview(data)
        done, total = 0, len(data)
        while done < total:
            try:
                n = self.stream.write(mv[done:])
            except (OSError, ValueError) as e:
                raise self._failure(e, "sending the request", done == 0) from None
            if not n:
                self._wait(select.POLLOUT, deadline, "sending the request")
                continue
            done += n
        if self.handshaking:  # its waits are in it (_wait counts only the others)
            self.stats["network_ms"] += time.ticks_diff(time.ticks_ms(), began)
        self.handshaking = False
        self._hpoll = None  # polling the TLS stream is slower (1 ms steps): only for handshakes
        self.stats["bytes_sent"] += total

    # reading -----------------------------------------------------------------------------

    def recv_into(self, dest, timeout_ms):
        """Read what the network has (at least one byte) into dest; 0 at the end of stream."""
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while True:
            try:
                n = self.stream.readinto(dest)
            except (OSError, ValueError) as e:
                if self.tls and e.args and e.args[0] == CONN_EOF:
                    return 0  # TCP closed without a TLS close_notify: an end of stream too
                raise self._failure(e, "reading the answer", False) from None
            if n is None:
                self._wait(select.POLLIN, deadline, "waiting for the answer")
                continue
            self.stats["bytes_received"] += n
            return n

    def readinto(self, dest, timeout_ms):
        """Buffered bytes first, then straight from the network into dest; 0 at the end."""
        avail = self.end - self.pos
        if avail:
            n = min(avail, len(dest))
            dest[0:n] = self.mv[self.pos:self.pos + n]
            self.pos += n
            return n
        return self.recv_into(dest, timeout_ms)

    def readline(self, timeout_ms, what):
        """One line without its CR LF, as bytes; None at a clean end of stream. A line longer
        than the buffer is a ProtocolError: `what` says which line."""
        if not self._next_line(timeout_ms, what):
            return None
        return bytes(self.mv[self._ls:self._le])

    def skip_empty_line(self, timeout_ms, what):
        """Read a line that must be empty (a chunk's CR LF): False if it was not, None at a
        clean end of stream."""
        if not self._next_line(timeout_ms, what):
            return None
        return self._ls == self._le

    def read_chunk_size(self, timeout_ms):
        """The size on a chunk-size line (extensions ignored), parsed in place without
        allocating; -1 if malformed, None at a clean end of stream."""
        if not self._next_line(timeout_ms, "chunk size line"):
            return None
        buf = self.buf
        value = digits = 0
        i = self._ls
        while i < self._le:  # no range object, no tuples: nothing allocated per chunk
            c = buf[i]
            i += 1
            if 48 <= c <= 57:
                value = (value << 4) | (c - 48)
            elif 97 <= c <= 102:
                value = (value << 4) | (c - 87)
            elif 65 <= c <= 70:
                value = (value << 4) | (c - 55)
            elif c in (59, 32, 9):  # ";" starts an extension; whitespace may come before it
                break
            else:
                return -1
            digits += 1
        return value if 0 < digits <= 8 else -1

    def _next_line(self, timeout_ms, what):
        # Find the next line in the buffer, reading more as needed; it is buf[_ls:_le] after.
        buf = self.buf
        while True:
            at = _find_lf(buf, self.pos, self.end)
            if at >= 0:
                self._ls = self.pos
                self._le = at - 1 if at > self.pos and buf[at - 1] == 13 else at
                self.pos = at + 1
                return True
            if self.pos:
                _shift(self.mv, self.pos, self.end)
                self.end -= self.pos
                self.pos = 0
            if self.end == len(buf):
                raise ProtocolError("%s sent a %s longer than %d bytes"
                                    % (self.label, what, len(buf)), self.host)
            n = self.recv_into(self.mv[self.end:], timeout_ms)
            if n == 0:
                if self.end == 0:
                    return False
                raise ConnectionClosed("%s closed the connection in the middle of a %s"
                                       % (self.label, what), self.host)
            self.end += n

    # waiting and errors --------------------------------------------------------------------

    def _wait(self, event, deadline, doing):
        # During the TLS handshake mbedTLS may need the other direction: its stream's poll
        # knows which. Afterwards the socket itself is polled (no 1 ms polling granularity).
        if self.handshaking:
            if self._hpoll is None:
                self._hpoll = select.poll()
            poller = self._hpoll
            poller.register(self.stream, event)
        else:
            poller = self._poll
            poller.register(self.sock, event)
        began = time.ticks_ms()
        while True:
            left = ms_until(deadline)
            if left <= 0:
                if self.handshaking:
                    raise ConnectTimeout("%s did not complete the TLS handshake in time"
                                         % self.host, self.host)
                raise ReadTimeout("%s did not answer in time (%s)" % (self.label, doing),
                                  self.host)
            if poller.poll(min(left, _WAIT_SLICE)):
                if not self.handshaking:
                    self.stats["network_ms"] += time.ticks_diff(time.ticks_ms(), began)
                return

    def _failure(self, e, doing, nothing_sent):
        if self.handshaking:
            tls_error = tls_failure(e, self.host)
            if tls_error is not None:
                return tls_error
        code = e.args[0] if e.args else None
        if code == errno.ECONNRESET:
            return ConnectionClosed("%s reset the connection (%s)" % (self.label, doing),
                                    self.host, reset=True, sent=not nothing_sent)
        if code in _CLOSED_ERRNOS:
            return ConnectionClosed("%s closed the connection (%s)" % (self.label, doing),
                                    self.host, sent=not nothing_sent)
        if code == errno.ETIMEDOUT:
            return ReadTimeout("%s did not answer in time (%s)" % (self.label, doing),
                               self.host)
        return HttpError("network error with %s while %s: %s" % (self.label, doing, _words(e)),
                         self.host)


_CLOSED_ERRNOS = tuple(getattr(errno, n) for n in ("EPIPE", "ENOTCONN", "ECONNABORTED")
                       if hasattr(errno, n)) or (32,)


def _connect_failure(e, where, host):
    code = e.args[0] if e is not None and e.args else None
    if code == errno.ECONNREFUSED:
        return ConnectError("%s refused the connection (nothing listening?)" % where, host)
    if code in (errno.ETIMEDOUT, errno.EINPROGRESS, errno.EAGAIN):
        return ConnectTimeout("%s did not accept the connection in time" % where, host)
    if code == errno.EHOSTUNREACH or code == getattr(errno, "ENETUNREACH", -1):
        return ConnectError("%s is unreachable (no route)" % where, host)
    return ConnectError("cannot connect to %s: %s" % (where, _words(e)), host)


def _words(e):
    if e is None:
        return "unknown error"
    code = e.args[0] if e.args else "?"
    for name in dir(errno):
        if name.startswith("E") and getattr(errno, name) == code:
            return name
    return "error %s" % (code,)


def _find_lf(buf, start, end):
    try:
        return buf.find(b"\n", start, end)
    except AttributeError:  # ports whose bytearray has no find()
        for i in range(start, end):
            if buf[i] == 10:
                return i
        return -1


def _shift(mv, pos, end):
    # Move mv[pos:end] to the front in steps that never overlap (slice copies are memcpy).
    n, done = end - pos, 0
    while done < n:
        step = min(pos, n - done)
        mv[done:done + step] = mv[pos + done:pos + done + step]
        done += step
