# One HTTP answer and its body (docs/http.md): framing by Content-Length, chunked transfer
# coding or the end of the connection; read whole into one buffer (content, bounded by
# max_content) or streamed into the caller's buffer (readinto, iter_content, read). A response
# gives its connection back to the Session when its body has been read to the end, or drops it.
import json as _json
from micropython import const

from app.http_errors import (
    BodyTooLarge,
    ConnectionClosed,
    HttpError,
    JsonError,
    ProtocolError,
    TruncatedBody,
)

_NONE = const(0)  # body framing
_LENGTH = const(1)
_CHUNKED = const(2)
_CLOSE = const(3)
_PIECE = const(4096)  # read size while collecting a body of unknown length


class Response:
    """One answer. status_code, reason, headers (dict, lower-case names), url (after
    redirects). The body: content/text/json() (read whole, bounded), or streamed with
    readinto(buf) / iter_content(n) / read(n); `raw` is this object. close() when done."""

    def __init__(self, session, conn, method, url, host, http11, status, reason, headers,
                 read_ms):
        self._session = session
        self._conn = conn
        self.url = url
        self.host = host
        self.status_code = status
        self.reason = reason
        self.headers = headers
        self.max_content = session.max_content
        self._read_ms = read_ms
        self._content = None
        self._done = False
        self._left = 0  # bytes left: of the body (_LENGTH) or of the current chunk
        self._length = 0  # the announced Content-Length
        self._crlf = False  # a chunk's closing CR LF is still unread
        tokens = headers.get("connection", "").lower()
        self._keep = ("close" not in tokens) if http11 else ("keep-alive" in tokens)
        coding = headers.get("transfer-encoding")
        length = headers.get("content-length")
        conn.busy = self
        if method == "HEAD" or status in (204, 304):
            self._mode = _NONE
        elif coding is not None:
            if coding.lower().split(",")[-1].strip() != "chunked":
                self._abort()
                raise ProtocolError("%s sent a body in an unsupported transfer coding" % host,
                                    host)
            self._mode = _CHUNKED
        elif length is not None:
            self._mode = _LENGTH
            if not length.isdigit():
                self._abort()
                raise ProtocolError("%s sent an invalid Content-Length" % host, host)
            self._left = self._length = int(length)
        else:
            self._mode = _CLOSE  # the body ends when the server closes the connection
            self._keep = False
        if self._mode == _NONE or self._mode == _LENGTH and self._left == 0:
            self._finish()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def raw(self):
        return self

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def content(self):
        """The whole body: a bytearray of the announced length (read in place), else bytes."""
        self._load()
        return self._content

    @property
    def text(self):
        return str(self.content, "utf-8")

    def json(self):
        try:
            return _json.loads(self.content)
        except ValueError:
            raise JsonError("the answer from %s is not valid JSON" % self.host,
                            self.host) from None

    def readinto(self, buf):
        """Read up to len(buf) bytes of the body into buf (a memoryview avoids an allocation
        per call); returns the count, 0 at the end of the body."""
        if self._done:
            return 0
        conn = self._conn
        if conn is None:
            raise HttpError("the response from %s was closed before its body was read"
                            % self.host, self.host)
        if type(buf) is not memoryview:
            buf = memoryview(buf)
        try:
            if self._mode == _CLOSE:
                n = conn.readinto(buf, self._read_ms)
                if n == 0:
                    self._finish()
                return n
            if self._left == 0 and not self._next_chunk():
                return 0
            if len(buf) > self._left:
                buf = buf[:self._left]
            n = conn.readinto(buf, self._read_ms)
            if n == 0:
                raise self._truncated()
            self._left -= n
            if self._mode == _LENGTH and self._left == 0:
                self._finish()
            return n
        except ConnectionClosed:
            self._abort()
            raise self._truncated() from None
        except BaseException:
            self._abort()
            raise

    def read(self, size=-1):
        """size bytes of the body as bytes (fewer only at its end); all of it if size < 0."""
        if size is None or size < 0:
            return bytes(self.content)
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = self.readinto(view[got:])
            if n == 0:
                return bytes(view[:got])
            got += n
        return bytes(buf)

    def iter_content(self, chunk_size=1024):
        """The body in pieces of at most chunk_size bytes. Each piece is a memoryview of ONE
        reused buffer, valid until the next one: hash it, parse it or copy it (bytes(piece))."""
        buf = memoryview(bytearray(chunk_size))
        while True:
            n = self.readinto(buf)
            if n == 0:
                return
            yield buf if n == chunk_size else buf[:n]

    def close(self):
        """Done with this response: a short unread rest is read away so the connection stays
        usable; otherwise the connection is closed."""
        if self._done or self._conn is None:
            self._conn = None
            return
        if self._mode == _CHUNKED or self._mode == _LENGTH and self._left <= \
                self._session.drain_limit:
            scratch = self._session._scratch_buffer()
            budget = self._session.drain_limit
            try:
                while budget > 0 and not self._done:
                    n = self.readinto(scratch)
                    if n == 0:
                        break
                    budget -= n
            except HttpError:
                return
        if not self._done:
            self._abort()

    # internals -----------------------------------------------------------------------------

    def _next_chunk(self):
        # Past a chunk's data: its CR LF, then the next size line (extensions ignored); the
        # last chunk's trailers are read and dropped. False at the end of the body.
        if self._mode != _CHUNKED:
            return False
        conn, ms = self._conn, self._read_ms
        if self._crlf:
            empty = conn.skip_empty_line(ms, "chunk end")
            if empty is None:
                raise TruncatedBody("%s closed the connection after a chunk" % self.host,
                                    self.host)
            if not empty:
                raise ProtocolError("%s sent a chunk longer than announced" % self.host,
                                    self.host)
            self._crlf = False
        size = conn.read_chunk_size(ms)
        if size is None:
            raise TruncatedBody("%s closed the connection before the last chunk" % self.host,
                                self.host)
        if size < 0:
            raise ProtocolError("%s sent a malformed chunk size" % self.host, self.host)
        if size:
            self._left = size
            self._crlf = True
            return True
        for _ in range(self._session.max_headers + 1):
            trailer = conn.readline(ms, "trailer line")
            if trailer is None:
                raise TruncatedBody("%s closed the connection in the trailers" % self.host,
                                    self.host)
            if not trailer:
                self._finish()
                return False
        raise ProtocolError("%s sent too many trailer lines" % self.host, self.host)

    def _load(self):
        if self._content is not None:
            return
        if self._done:
            self._content = b""
            return
        if self._conn is None:
            raise HttpError("the response from %s was closed before its body was read"
                            % self.host, self.host)
        limit = self.max_content
        if self._mode == _LENGTH:
            if self._left > limit:
                size = self._left
                self._abort()
                raise BodyTooLarge("the answer from %s is %d bytes; at most %d are read whole: "
                                   "stream it" % (self.host, size, limit), self.host)
            body = bytearray(self._left)
            view = memoryview(body)
            got = 0
            while got < len(body):
                got += self.readinto(view[got:])
            self._content = body
            return
        pieces, total = [], 0
        buf = memoryview(bytearray(min(_PIECE, limit + 1)))
        while True:
            n = self.readinto(buf)
            if n == 0:
                break
            total += n
            if total > limit:
                self._abort()
                raise BodyTooLarge("the answer from %s is longer than %d bytes, the most read "
                                   "whole: stream it" % (self.host, limit), self.host)
            pieces.append(bytes(buf[:n]))
        self._content = b"".join(pieces)

    def _truncated(self):
        if self._mode == _LENGTH:
            return TruncatedBody("%s closed the connection after %d of %d bytes of the body"
                                 % (self.host, self._length - self._left, self._length),
                                 self.host)
        return TruncatedBody("%s closed the connection before the end of the body" % self.host,
                             self.host)

    def _finish(self):
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            self._session._release(conn, self._keep)

    def _abort(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            self._session._release(conn, False)
