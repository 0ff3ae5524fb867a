# The panel's HTTP client (docs/http.md): the urequests call style - request/get/post/put/
# patch/delete, Response.status_code/reason/headers/content/text/json()/close() and a raw
# stream - on HTTP/1.1 kept-alive connections, one per (scheme, host, port, proxy), held by a
# Session for one wake. TLS always verifies (CERT_REQUIRED, server_hostname, a CA bundle);
# HTTP CONNECT proxies with Basic auth and no_proxy; connect and read timeouts; redirects.
#
# Memory: a request goes out in one write; a body is read through the connection's fixed
# buffer into the caller's buffer (readinto/iter_content), or whole into one buffer of its
# announced size (content), up to Session.max_content. Nothing grows by concatenation.
# Around this module: app/http_errors.py (the errors), app/http_tls.py (CA bundle, SSLContext),
# app/http_conn.py (one connection), app/http_response.py (an answer and its body) and
# app/http_proxy.py (CONNECT proxies; imported only when a proxy is configured: code loaded
# from .mpy lives in the heap).
import json as _json

from app.http_conn import Conn
from app.http_errors import (  # noqa: F401 -- the errors are part of this module's API
    BodyTooLarge,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DnsError,
    HttpError,
    JsonError,
    ProtocolError,
    ProxyError,
    ReadTimeout,
    TimeoutError,
    TlsError,
    TooManyRedirects,
    TruncatedBody,
)
from app.http_response import Response
from app.http_tls import tls_context
from app.version import VERSION

USER_AGENT = "Lintel/" + VERSION
DEFAULT_TIMEOUT = (15, 30)  # seconds: connect (TCP, proxy and TLS handshake), read (each wait)
_REDIRECTS = (301, 302, 303, 307, 308)
_IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")


class Session:
    # Limits, in bytes unless named otherwise; each can be set per Session in the constructor.
    max_content = 32768  # the largest body read whole (content/text/json()); stream the rest
    buffer_size = 2048  # per connection: bounds one status, header or chunk-size line
    drain_limit = 4096  # an unread rest this small is read away on close() to keep the conn
    max_redirects = 5
    max_headers = 64  # header lines per response

    def __init__(self, cadata=None, proxy=None, proxy_user=None, proxy_password=None,
                 no_proxy=None, timeout=DEFAULT_TIMEOUT, headers=None, max_content=None,
                 buffer_size=None, max_redirects=None, trace=None):
        self._ctx = None
        self.ca_count = 0
        if cadata is not None:
            self._ctx, self.ca_count = tls_context(cadata)
        self.proxy = None
        if proxy is not None:  # app/http_proxy.py is loaded only when a proxy is configured
            from app.http_proxy import make_proxy

            self.proxy = make_proxy(proxy, proxy_user, proxy_password, no_proxy)
        self.timeout = _timeouts(timeout)
        self.headers = dict(headers or {})
        if max_content is not None:
            self.max_content = max_content
        if buffer_size is not None:
            self.buffer_size = buffer_size
        if max_redirects is not None:
            self.max_redirects = max_redirects
        self.trace = trace
        self.stats = {"requests": 0, "connections": 0, "tls_handshakes": 0, "reconnects": 0,
                      "redirects": 0, "bytes_sent": 0, "bytes_received": 0,
                      # Connecting, TLS handshakes and waiting for answers: what the energy
                      # benchmark models with the field's figures, not the lab's.
                      "network_ms": 0}
        self._pool = {}
        self._scratch = None
        # The last answer's Date header, as the server wrote it: the panel sets its clock from
        # it (app/wake.py), as it has no other source of the time.
        self.date = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close every connection (at the end of a wake)."""
        for conn in list(self._pool.values()):
            conn.close()
        self._pool = {}

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def head(self, url, **kw):
        return self.request("HEAD", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)

    def put(self, url, **kw):
        return self.request("PUT", url, **kw)

    def patch(self, url, **kw):
        return self.request("PATCH", url, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)

    def request(self, method, url, data=None, json=None, headers=None, timeout=None,
                stream=False, allow_redirects=True, auth=None, max_content=None):
        """Send one request (following redirects) and return its Response. With stream=False
        the body is read whole now (BodyTooLarge beyond max_content) and the connection is
        free again; with stream=True read it with readinto/iter_content, then close()."""
        method = method.upper()
        body, content_type = _body(data, json)
        connect_ms, read_ms = self.timeout if timeout is None else _timeouts(timeout)
        fields = dict(self.headers)
        if headers:
            fields.update(headers)
        if auth is not None:
            fields["Authorization"] = "Basic " + _b64("%s:%s" % auth)
        if content_type is not None and not _has(fields, "content-type"):
            fields["Content-Type"] = content_type
        hops = 0
        while True:
            resp = self._exchange(method, url, fields, body, connect_ms, read_ms)
            location = resp.headers.get("location")
            if (not allow_redirects or resp.status_code not in _REDIRECTS
                    or location is None):
                break
            resp.close()
            if hops >= self.max_redirects:
                raise TooManyRedirects("%s redirected more than %d times"
                                       % (resp.host, self.max_redirects), resp.host)
            hops += 1
            self.stats["redirects"] += 1
            try:
                new_url = join_url(url, location)
                new = split_url(new_url)
            except ValueError:
                raise ProtocolError("%s redirected to an unsupported URL" % resp.host,
                                    resp.host) from None
            old = split_url(url)
            if new[1] != old[1] or (old[0] == "https" and new[0] == "http"):
                fields = _without(fields, ("authorization", "cookie"))
            if (resp.status_code == 303 and method != "HEAD"
                    or resp.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                fields = _without(fields, ("content-type",))
            url = new_url
        self.date = resp.headers.get("date") or self.date
        if max_content is not None:
            resp.max_content = max_content
        if not stream:
            resp._load()
        return resp

    # one exchange --------------------------------------------------------------------------

    def _exchange(self, method, url, fields, body, connect_ms, read_ms):
        scheme, host, port, target = split_url(url)
        data = _request_bytes(method, host, port, scheme, target, fields, body)
        for attempt in (0, 1):
            conn = self._connection(scheme, host, port, connect_ms)
            reused = conn.served > 0
            self.stats["requests"] += 1
            if self.trace:
                self.trace("> %s %s://%s:%d%s" % (method, scheme, host, port,
                                                  target.split("?")[0]))
            try:
                conn.send(data, connect_ms if conn.handshaking else read_ms)
                resp = self._response(conn, method, url, host, read_ms)
            except ConnectionClosed as e:
                self._drop(conn)
                if reused and attempt == 0 and (method in _IDEMPOTENT or not e.sent):
                    # The server closed the kept-alive connection as the request went out.
                    self.stats["reconnects"] += 1
                    if self.trace:
                        self.trace("  %s closed the kept-alive connection; again" % host)
                    continue
                raise
            except BaseException:
                self._drop(conn)
                raise
            if self.trace:
                self.trace("< %d %s" % (resp.status_code, resp.reason))
            return resp

    def _connection(self, scheme, host, port, connect_ms):
        proxy = self.proxy
        if proxy is not None and proxy.bypass(host):
            proxy = None
        key = "%s://%s:%d" % (scheme, host, port)
        if proxy is not None:
            key += " via %s:%d" % (proxy.host, proxy.port)
        conn = self._pool.get(key)
        if conn is not None:
            if conn.busy is not None:
                conn.busy.close()  # read away a short rest, or drop the connection
            if not conn.closed() and not conn.stale():
                return conn
            if not conn.closed():
                self.stats["reconnects"] += 1
            self._drop(conn)
        if scheme == "https" and self._ctx is None:
            raise TlsError("no CA certificates were given to the HTTP client, so %s cannot be "
                           "checked" % host, host, "no_ca")
        conn = Conn(key, host, port, self.buffer_size, self.stats)
        try:
            if proxy is not None:
                conn.label = "the proxy %s:%d" % (proxy.host, proxy.port)
                conn.open(proxy.host, proxy.port, connect_ms)
                proxy.tunnel(conn, host, port, connect_ms)
            else:
                conn.open(host, port, connect_ms)
            if scheme == "https":
                conn.start_tls(self._ctx)
        except BaseException:
            conn.close()
            raise
        if self.trace:
            self.trace("+ %s" % key)
        self._pool[key] = conn
        return conn

    def _drop(self, conn):
        conn.close()
        if self._pool.get(conn.key) is conn:
            del self._pool[conn.key]

    def _release(self, conn, keep):
        # A response has been read to its end (keep) or given up (not keep).
        conn.busy = None
        if keep and not conn.closed():
            conn.served += 1
        else:
            self._drop(conn)

    def _response(self, conn, method, url, host, read_ms):
        while True:
            line = conn.readline(read_ms, "status line")
            if line is None:
                raise ConnectionClosed("%s closed the connection before answering" % host, host)
            parts = line.split(None, 2)
            if (len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3
                    or not parts[1].isdigit()):
                raise ProtocolError("%s did not answer with an HTTP status line" % host, host)
            status = int(parts[1])
            headers = self._headers(conn, host, read_ms)
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue, 103 Early Hints: the real answer follows
            reason = _text(parts[2]) if len(parts) > 2 else ""
            return Response(self, conn, method, url, host, parts[0] == b"HTTP/1.1", status,
                            reason, headers, read_ms)

    def _headers(self, conn, host, read_ms):
        headers = {}
        for _ in range(self.max_headers + 1):
            line = conn.readline(read_ms, "header line")
            if line is None:
                raise ConnectionClosed("%s closed the connection in the middle of its headers"
                                       % host, host)
            if not line:
                return headers
            colon = line.find(b":")
            if colon <= 0 or line[0] in (32, 9):
                raise ProtocolError("%s sent a malformed header line" % host, host)
            name = _text(line[:colon]).strip().lower()
            value = _text(line[colon + 1:]).strip()
            headers[name] = headers[name] + ", " + value if name in headers else value
        raise ProtocolError("%s sent more than %d header lines" % (host, self.max_headers), host)

    def _scratch_buffer(self):
        if self._scratch is None:
            self._scratch = memoryview(bytearray(512))
        return self._scratch


# ---------------------------------------------------------------------------------------------
# URLs, bodies, headers


def split_url(url):
    """(scheme, host, port, target) of an http:// or https:// URL; ValueError otherwise."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("only http:// and https:// URLs are supported")
    end = len(rest)
    for ch in "/?#":
        at = rest.find(ch)
        if 0 <= at < end:
            end = at
    authority, target = rest[:end], rest[end:].partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if "@" in authority:
        raise ValueError("a URL with credentials is not supported: use auth= or headers")
    port = None
    if authority.startswith("["):
        host, _, after = authority[1:].partition("]")
        if after.startswith(":"):
            port = after[1:]
    else:
        host, sep, port = authority.rpartition(":")
        if not sep:
            host, port = authority, None
    if port is None or port == "":
        port = 443 if scheme == "https" else 80
    elif port.isdigit() and 0 < int(port) < 65536:
        port = int(port)
    else:
        raise ValueError("a URL has an invalid port")
    if not host or " " in host:
        raise ValueError("a URL has no host")
    return scheme, host.lower(), port, target


def join_url(base, location):
    """The absolute URL a Location header points to, seen from base."""
    head = location.split("/", 1)[0]
    if head.endswith(":") and "://" in location:
        return location
    scheme, host, port, target = split_url(base)
    if location.startswith("//"):
        return scheme + ":" + location
    origin = scheme + "://" + _host_port(scheme, host, port)
    if location.startswith("/"):
        return origin + location
    path = target.partition("?")[0]
    if location.startswith("?"):
        return origin + path + location
    return origin + path[:path.rfind("/") + 1] + location


def retry_after(value, cap=None):
    """Seconds from a Retry-After header (whole or decimal seconds; an HTTP date is not worth
    parsing on a panel, so it counts as 'soon'), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 30.0
    seconds = max(0.0, seconds)
    return min(seconds, cap) if cap else seconds


def urlencode(fields):
    """application/x-www-form-urlencoded text of a dict."""
    return "&".join(quote(str(k)) + "=" + quote(str(v)) for k, v in fields.items())


def quote(text):
    out = []
    for byte in text.encode():
        if (48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122
                or byte in (45, 46, 95, 126)):
            out.append(chr(byte))
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def _host_port(scheme, host, port):
    if ":" in host:
        host = "[" + host + "]"
    if port == (443 if scheme == "https" else 80):
        return host
    return "%s:%d" % (host, port)


def _request_bytes(method, host, port, scheme, target, fields, body):
    # The request line, the headers and the body: one buffer, so one write.
    parts = [method, " ", target, " HTTP/1.1\r\nHost: ", _host_port(scheme, host, port), "\r\n"]
    names = set()
    for name, value in fields.items():
        if isinstance(value, bytes):
            value = str(value, "utf-8")
        value = str(value)
        if not name or "\r" in name or "\n" in name or ":" in name or "\r" in value \
                or "\n" in value:
            raise ValueError("header %r has a line break or is empty" % name)
        names.add(name.lower())
        parts += [name, ": ", value, "\r\n"]
    for name, value in (("User-Agent", USER_AGENT), ("Accept-Encoding", "identity"),
                        ("Connection", "keep-alive")):
        if name.lower() not in names:
            parts += [name, ": ", value, "\r\n"]
    if body is not None:
        parts.append("Content-Length: %d\r\n" % len(body))
    elif method in ("POST", "PUT", "PATCH"):
        parts.append("Content-Length: 0\r\n")
    parts.append("\r\n")
    head = "".join(parts).encode()
    return head + body if body else head


def _body(data, json):
    if json is not None:
        return _json.dumps(json).encode(), "application/json"
    if data is None:
        return None, None
    if isinstance(data, dict):
        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    if isinstance(data, str):
        return data.encode(), None
    return bytes(data), None


def _timeouts(timeout):
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if isinstance(timeout, (tuple, list)):
        connect, read = timeout
    else:
        connect = read = timeout
    return int(connect * 1000), int(read * 1000)


def _has(fields, lower_name):
    for name in fields:
        if name.lower() == lower_name:
            return True
    return False


def _without(fields, lower_names):
    return {k: v for k, v in fields.items() if k.lower() not in lower_names}


def _b64(text):
    import binascii

    return str(binascii.b2a_base64(text.encode()).strip(), "ascii")


def b64_json(text):
    """The JSON document in base64 text, standard or URL-safe, padded or not (a JWT's claims,
    a claims challenge); ValueError when it is neither."""
    import binascii

    text = text.replace("-", "+").replace("_", "/")
    return _json.loads(binascii.a2b_base64(text + "=" * (-len(text) % 4)))


def _text(data):
    try:
        return str(data, "utf-8")
    except UnicodeError:  # not UTF-8: keep the ASCII, mark the rest
        return "".join(chr(b) if b < 128 else "?" for b in data)


# ---------------------------------------------------------------------------------------------
# The urequests-style module functions, on one default Session


_default = None


def configure(**kwargs):
    """Replace the default Session used by request()/get()/...: cadata, proxy, timeout..."""
    global _default
    close()
    _default = Session(**kwargs)
    return _default


def session():
    global _default
    if _default is None:
        _default = Session()
    return _default


def close():
    """Close the default Session's connections (call at the end of a wake)."""
    if _default is not None:
        _default.close()


def request(method, url, **kw):
    return session().request(method, url, **kw)


def get(url, **kw):
    return session().request("GET", url, **kw)


def head(url, **kw):
    return session().request("HEAD", url, **kw)


def post(url, **kw):
    return session().request("POST", url, **kw)


def put(url, **kw):
    return session().request("PUT", url, **kw)


def patch(url, **kw):
    return session().request("PATCH", url, **kw)


def delete(url, **kw):
    return session().request("DELETE", url, **kw)
