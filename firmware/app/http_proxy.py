# HTTP CONNECT proxies for the HTTP client (docs/http.md): which hosts bypass the proxy
# (no_proxy), and opening a tunnel through it, with optional Basic proxy authentication.
# The proxy settings are the resolved configuration's `proxy` section (docs/config.md) or a
# URL "http://host:port" with the credentials given apart. bypass() has no I/O: it also runs
# under CPython.
import binascii

from app.http_errors import ConnectionClosed, ProtocolError, ProxyError

_MAX_HEADERS = 64


class Proxy:
    def __init__(self, host, port, user=None, password=None, no_proxy=()):
        if not host or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("a proxy needs a host and a port")
        if (user is None) != (password is None):
            raise ValueError("a proxy user and password go together")
        self.host = host.lower()
        self.port = port
        self.no_proxy = [entry.lower() for entry in no_proxy or ()]
        self._auth = None
        if user is not None:
            token = binascii.b2a_base64(("%s:%s" % (user, password)).encode()).strip()
            self._auth = b"Proxy-Authorization: Basic " + token + b"\r\n"

    def bypass(self, host):
        return bypass(host, self.no_proxy)

    def tunnel(self, conn, host, port, timeout_ms):
        """On conn (already connected to the proxy): CONNECT host:port and read the answer.
        Returns when the tunnel is open; raises ProxyError if the proxy says no."""
        # An IPv6 literal goes in brackets (RFC 9110 authority-form), or "::1:443" is ambiguous.
        target = (("[%s]:%d" if ":" in host else "%s:%d") % (host, port)).encode()
        request = b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n"
        if self._auth is not None:
            request += self._auth
        conn.send(request + b"\r\n", timeout_ms)
        where = "%s:%d" % (self.host, self.port)
        conn.label = "the proxy " + where
        status_line = conn.readline(timeout_ms, "proxy status line")
        if status_line is None:
            raise ConnectionClosed("the proxy %s closed the connection instead of answering "
                                   "CONNECT" % where, self.host)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("the proxy %s did not answer CONNECT with HTTP" % where,
                                self.host)
        status = int(parts[1])
        reason = _ascii(parts[2]) if len(parts) > 2 else ""
        for _ in range(_MAX_HEADERS + 1):
            line = conn.readline(timeout_ms, "proxy header line")
            if not line:
                break
        else:
            raise ProtocolError("the proxy %s sent too many header lines" % where, self.host)
        if status == 407:
            if self._auth is None:
                raise ProxyError("the proxy %s requires authentication (407): set the proxy "
                                 "user and password" % where, self.host, status)
            raise ProxyError("the proxy %s refused the proxy user name or password (407)"
                             % where, self.host, status)
        if not 200 <= status < 300:
            raise ProxyError("the proxy %s refused the tunnel to %s:%d: %d %s"
                             % (where, host, port, status, reason), self.host, status)
        if conn.pos != conn.end:
            raise ProtocolError("the proxy %s sent data before the tunnel opened" % where,
                                self.host)
        conn.label = conn.host


def make_proxy(proxy, user=None, password=None, no_proxy=None):
    """A Proxy from "http://host:port", from a config section {"host", "port", "user",
    "password", "no_proxy"} (or {"url", ...}), or None for no proxy."""
    if proxy is None or isinstance(proxy, Proxy):
        return proxy
    if isinstance(proxy, dict):
        section = proxy
        if "url" in section:
            host, port = _parse_url(section["url"])
        else:
            host, port = section.get("host"), section.get("port")
        return Proxy(host, port, section.get("user", user), section.get("password", password),
                     section.get("no_proxy", no_proxy))
    host, port = _parse_url(proxy)
    return Proxy(host, port, user, password, no_proxy)


def _parse_url(url):
    if not url.startswith("http://"):
        raise ValueError("a proxy URL is http://host:port")
    rest = url[7:].rstrip("/")
    if "@" in rest or "/" in rest:
        raise ValueError("a proxy URL is http://host:port, credentials apart")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("a proxy URL needs its port: http://host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # http://[::1]:3128: the address itself, for getaddrinfo
    return host, int(port)


def bypass(host, no_proxy):
    """True if host is reached directly: it equals an entry, ends with a ".domain" entry
    (any host under that domain), or is an IPv4 address inside an "a.b.c.d/n" entry."""
    host = host.lower().rstrip(".")
    ip = _ipv4(host)
    for entry in no_proxy:
        if entry == "*" or entry == host:
            return True
        if entry.startswith("*."):
            entry = entry[1:]
        if entry.startswith(".") and host.endswith(entry):
            return True
        if ip is not None and "/" in entry:
            net, _, bits = entry.partition("/")
            base = _ipv4(net)
            if base is not None and bits.isdigit() and int(bits) <= 32:
                mask = (0xFFFFFFFF << (32 - int(bits))) & 0xFFFFFFFF
                if ip & mask == base & mask:
                    return True
    return False


def _ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or int(part) > 255:
            return None
        value = (value << 8) | int(part)
    return value


def _ascii(data):
    try:
        text = str(data, "utf-8")
    except UnicodeError:
        return "?"
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:60]

