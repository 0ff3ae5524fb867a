"""A host-side HTTP/HTTPS test server for the panel's HTTP client (firmware/app/http.py).

Used by tests/firmware/test_http.py (started once per session by tests/firmware/conftest.py)
and by bench/http_bench.py. Everything listens on 127.0.0.1:

  https        TLS, leaf for localhost/127.0.0.1 <- intermediate <- the test root CA
  http         the same routes in plain HTTP
  wrong_host   TLS, a leaf from the test root CA for "wrong.example" only
  other_ca     TLS, a leaf for localhost from another, untrusted root CA
  expired      TLS, a leaf from the test root CA that expired 30 days ago
  future       TLS, a leaf from the test root CA valid only from 30 days on
  silent       accepts TCP connections and never says a word (handshake timeouts)
  proxy        an HTTP CONNECT proxy, no authentication
  proxy_auth   the same with Basic authentication (PROXY_USER / PROXY_PASSWORD)

Keys and certificates are generated at start with `cryptography` into a temporary folder;
none are committed. `TestServer.config()` is what the tests read: ports, CA file names and
the proxy credentials.

Routes (any server but the proxies and silent):
  /echo                  JSON: method, path, query, headers (lower-cased), body, conn, n
  /bytes?n=N&seed=S      N deterministic bytes with Content-Length; X-Body-Sha256 header
  /chunked?n=N&size=K&ext=1&trailers=1   the same bytes chunked, optional extensions/trailers
  /calendar?events=E&bytes=B   a Graph-shaped calendarView of E events, padded to B bytes
  /close-delimited?n=N   no Content-Length, no chunking: the body ends when the server closes
  /http10?n=N            an HTTP/1.0 response (not kept alive)
  /redirect?code=C&to=U  a redirect; /redirect-chain?n=N: N redirects, then /echo
  /slow?delay=S&phase=head|body   wait before the head, or after half the body
  /truncated?n=N&send=M  Content-Length N, M bytes, close; /truncated-chunked likewise
  /reset                 a TCP reset instead of an answer
  /status?code=C         that status with a short text body
  /close-after           a normal answer, then the server closes the idle connection
  /drop-next             a normal answer; the next request on this connection gets a close
  /malformed?kind=status|header|chunk|long-header
  /ews?kind=html|bad-challenge|no-ntlm|close-challenge   an odd EWS server's answer
  /_stats                counters per server (connections, tls_handshakes, requests, ...)
  /_reset                zero the counters

Run it by hand: `python tests/http_server.py` prints the configuration and serves until ^C.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import random
import socket
import ssl
import struct
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PROXY_USER = "panel"
PROXY_PASSWORD = "not-a-real-proxy-password"
IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may sit idle before the server closes it
MAX_HEAD = 65536


# ---------------------------------------------------------------------------------------------
# Certificates


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lintel tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str | None, issuer_key, *, ca: bool, path_len=None,
          sans: tuple[str, ...] = (), days: tuple[int, int] = (-1, 30)) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(_name(issuer or subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False), critical=True)
    else:
        names = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Pki:
    """A test root CA with an intermediate, and another root nobody trusts; files in folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = _cert("Lintel Test Root CA", root_key, None, None, ca=True, path_len=1)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter = _cert("Lintel Test Issuing CA", inter_key, "Lintel Test Root CA", root_key,
                      ca=True, path_len=0)
        other_key = ec.generate_private_key(ec.SECP256R1())
        other = _cert("Some Other Root CA", other_key, None, None, ca=True, path_len=0)
        self.root, self.other = root, other
        self.files = {
            "ca_pem": self._write("ca.pem", _pem(root)),
            "ca_der": self._write("ca.der", root.public_bytes(serialization.Encoding.DER)),
            "other_ca_pem": self._write("other-ca.pem", _pem(other)),
            # A bundle as a config carries it: an unrelated root first, then ours.
            "bundle_pem": self._write("bundle.pem", _pem(other) + _pem(root)),
            "bundle_der": self._write(
                "bundle.der", other.public_bytes(serialization.Encoding.DER)
                + root.public_bytes(serialization.Encoding.DER)),
        }
        self.chains = {
            "good": self._leaf("good", ("localhost", "127.0.0.1"), inter, inter_key,
                               "Lintel Test Issuing CA"),
            "wrong_host": self._leaf("wrong-host", ("wrong.example",), inter, inter_key,
                                     "Lintel Test Issuing CA"),
            "other_ca": self._leaf("other-ca", ("localhost", "127.0.0.1"), None, other_key,
                                   "Some Other Root CA"),
            "expired": self._leaf("expired", ("localhost", "127.0.0.1"), inter, inter_key,
                                  "Lintel Test Issuing CA", days=(-60, -30)),
            "future": self._leaf("future", ("localhost", "127.0.0.1"), inter, inter_key,
                                 "Lintel Test Issuing CA", days=(30, 60)),
        }

    def _write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)

    def _leaf(self, name, sans, inter, issuer_key, issuer_cn, days=(-1, 30)) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(sans[0], key, issuer_cn, issuer_key, ca=False, sans=sans, days=days)
        chain = _pem(leaf) + (_pem(inter) if inter is not None else b"")
        return (self._write(name + ".pem", chain), self._write(name + ".key", _key_pem(key)))

    def server_context(self, which: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.chains[which])
        return ctx


# ---------------------------------------------------------------------------------------------
# Counters


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.data: dict[str, dict[str, int]] = {}

    def add(self, server: str, key: str, n: int = 1) -> int:
        with self.lock:
            bucket = self.data.setdefault(server, {})
            bucket[key] = bucket.get(key, 0) + n
            return bucket[key]

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.data))

    def reset(self) -> None:
        with self.lock:
            self.data.clear()


# ---------------------------------------------------------------------------------------------
# One HTTP connection (server side)


class Closed(Exception):
    """The client went away."""


class Conn:
    def __init__(self, sock: socket.socket, server: str, serial: int, stats: Stats, routes):
        self.sock, self.server, self.serial, self.stats, self.routes = (
            sock, server, serial, stats, routes)
        self.buf = b""
        self.n = 0
        self.drop_next = False

    def read_head(self) -> bytes:
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise Closed()
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_body(self, headers: dict) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.read_line().split(b";")[0], 16)
                if size == 0:
                    while self.read_line():
                        pass
                    return out
                out += self.read_exact(size)
                self.read_line()
        return self.read_exact(int(headers.get("content-length", "0")))

    def serve(self) -> None:
        self.sock.settimeout(IDLE_TIMEOUT)
        try:
            while True:
                head = self.read_head()
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = self.read_body(headers)
                self.n += 1
                self.stats.add(self.server, "requests")
                if self.drop_next:
                    self.stats.add(self.server, "dropped")
                    return
                req = Request(self, method, target, version, headers, body)
                keep = self.routes.dispatch(req)
                connection = headers.get("connection", "").lower()
                if not keep or connection == "close" or (
                        version == "HTTP/1.0" and connection != "keep-alive"):
                    return
        except (Closed, OSError, ValueError):
            return
        finally:
            try:
                self.sock.close()
            except OSError:
                pass


class Request:
    def __init__(self, conn: Conn, method, target, version, headers, body):
        self.conn, self.method, self.target, self.version = conn, method, target, version
        self.headers, self.body = headers, body
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}

    def arg(self, name: str, default):
        value = self.query.get(name)
        return type(default)(value) if value is not None else default

    def send(self, data: bytes) -> None:
        self.conn.sock.sendall(data)

    def respond(self, status: int, body: bytes = b"", headers=(), reason: str | None = None,
                version: str = "HTTP/1.1") -> None:
        lines = [f"{version} {status} {reason or REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if status in (204, 304) or 100 <= status < 200:
            body = b""  # these answers have no body
        else:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.send(data + (b"" if self.method == "HEAD" else body))


REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
           400: "Bad Request", 404: "Not Found", 407: "Proxy Authentication Required",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def body_bytes(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def calendar_view(events: int, size: int) -> bytes:
    """A Graph-shaped calendarView page (every field, no $select) padded to exactly `size`
    bytes if it is shorter: the body the panel's baselines were measured on."""
    rnd = random.Random(events)
    items = []
    for i in range(events):
        start = datetime.datetime(2025, 3, 3, 7, 0) + datetime.timedelta(minutes=30 * i)
        ident = base64.b64encode(rnd.randbytes(114)).decode()
        people = [{"type": "required",
                   "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                   "emailAddress": {"name": f"Person {i}-{j}",
                                    "address": f"person{i}.{j}@contoso.example"}}
                  for j in range(3)]
        items.append({
            "@odata.etag": 'W/"' + base64.b64encode(rnd.randbytes(24)).decode() + '"',
            "id": ident, "createdDateTime": "2025-02-20T09:12:01.1234567Z",
            "lastModifiedDateTime": "2025-02-21T10:00:00.7654321Z",
            "changeKey": base64.b64encode(rnd.randbytes(24)).decode(), "categories": [],
            "transactionId": None, "originalStartTimeZone": "W. Europe Standard Time",
            "originalEndTimeZone": "W. Europe Standard Time",
            "iCalUId": rnd.randbytes(56).hex().upper(), "reminderMinutesBeforeStart": 15,
            "isReminderOn": True, "hasAttachments": False, "subject": f"Meeting {i}",
            "bodyPreview": "Agenda: " + "status, plans, questions. " * 6, "importance": "normal",
            "sensitivity": "normal", "isAllDay": False, "isCancelled": False,
            "isOrganizer": False, "responseRequested": True, "seriesMasterId": None,
            "showAs": "busy", "type": "singleInstance",
            "webLink": "https://outlook.office365.com/owa/?itemid=" + ident + "&exvsurl=1",
            "onlineMeetingUrl": None, "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown", "allowNewTimeProposals": True,
            "occurrenceId": None, "isDraft": False, "hideAttendees": False,
            "responseStatus": {"response": "accepted", "time": "2025-02-20T09:12:01Z"},
            "body": {"contentType": "html", "content": "<html><body><p>Agenda</p></body></html>"},
            "start": {"dateTime": start.isoformat() + ".0000000", "timeZone": "UTC"},
            "end": {"dateTime": (start + datetime.timedelta(minutes=30)).isoformat() + ".0000000",
                    "timeZone": "UTC"},
            "location": {"displayName": "Room 4.01", "locationType": "default",
                         "uniqueId": "Room 4.01", "uniqueIdType": "private"},
            "locations": [{"displayName": "Room 4.01", "locationType": "default",
                           "uniqueId": "Room 4.01", "uniqueIdType": "private"}],
            "recurrence": None, "attendees": people,
            "organizer": {"emailAddress": {"name": f"Organizer {i}",
                                           "address": f"organizer{i}@contoso.example"}},
            "onlineMeeting": None})
    doc = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('room')/"
                             "calendarView", "value": items}
    body = json.dumps(doc).encode()
    if len(body) < size:  # pad the last event's HTML body
        items[-1]["body"]["content"] += " " * (size - len(body))
        body = json.dumps(doc).encode()
    return body


# ---------------------------------------------------------------------------------------------
# Routes


class Routes:
    def __init__(self, server: TestServer):
        self.server = server

    def dispatch(self, req: Request) -> bool:
        """Answer one request; False closes the connection afterwards."""
        name = "r_" + req.path.strip("/").replace("-", "_").replace("/", "_")
        handler = getattr(self, name, None)
        if handler is None:
            req.respond(404, b"no such route\n")
            return True
        result = handler(req)
        return result is not False

    def r_echo(self, req: Request):
        try:
            parsed = json.loads(req.body) if req.body else None
        except ValueError:
            parsed = None
        doc = {"method": req.method, "path": req.path, "query": req.query,
               "headers": req.headers, "body": req.body.decode("latin-1"), "json": parsed,
               "conn": req.conn.serial, "n": req.conn.n, "server": req.conn.server}
        req.respond(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])

    def r_bytes(self, req: Request):
        body = body_bytes(req.arg("n", 1000), req.arg("seed", 1))
        req.respond(200, body, [("Content-Type", "application/octet-stream"),
                                ("X-Body-Sha256", hashlib.sha256(body).hexdigest())])

    def r_chunked(self, req: Request):
        body = body_bytes(req.arg("n", 1000), req.arg("seed", 1))
        size, ext, trailers = req.arg("size", 1000), req.arg("ext", 0), req.arg("trailers", 0)
        head = ["HTTP/1.1 200 OK", "Content-Type: application/octet-stream",
                "Transfer-Encoding: chunked", "X-Body-Sha256: " + hashlib.sha256(body).hexdigest()]
        if trailers:
            head.append("Trailer: X-Trailer-One, X-Trailer-Two")
        out = [("\r\n".join(head) + "\r\n\r\n").encode()]
        for i in range(0, len(body), size):
            piece = body[i:i + size]
            extension = f';chunk={i // size};note="a;b"' if ext else ""
            out.append(b"%X%s\r\n%s\r\n" % (len(piece), extension.encode(), piece))
        out.append(b"0" + (b";last=1" if ext else b"") + b"\r\n")
        if trailers:
            out.append(b"X-Trailer-One: 1\r\nX-Trailer-Two: two\r\n")
        out.append(b"\r\n")
        req.send(b"".join(out))

    def r_calendar(self, req: Request):
        body = calendar_view(req.arg("events", 40), req.arg("bytes", 123866))
        req.respond(200, body, [("Content-Type", "application/json; odata.metadata=minimal"),
                                ("X-Body-Sha256", hashlib.sha256(body).hexdigest())])

    def r_close_delimited(self, req: Request):
        body = body_bytes(req.arg("n", 1000))
        req.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Body-Sha256: %s\r\n\r\n%s"
                 % (hashlib.sha256(body).hexdigest().encode(), body))
        return False

    def r_http10(self, req: Request):
        body = body_bytes(req.arg("n", 100))
        req.respond(200, body, version="HTTP/1.0")
        return False

    def r_redirect(self, req: Request):
        req.respond(req.arg("code", 302), b"moved\n", [("Location", req.arg("to", "/echo"))])

    def r_redirect_chain(self, req: Request):
        n = req.arg("n", 1)
        to = "/echo" if n <= 1 else f"/redirect-chain?n={n - 1}"
        req.respond(req.arg("code", 302), b"", [("Location", to)])

    def r_slow(self, req: Request):
        delay, phase = req.arg("delay", 1.0), req.arg("phase", "head")
        body = body_bytes(2000)
        if phase == "head":
            time.sleep(delay)
            req.respond(200, body)
        else:
            req.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:1000]))
            time.sleep(delay)
            req.send(body[1000:])

    def r_truncated(self, req: Request):
        n, send = req.arg("n", 1000), req.arg("send", 500)
        req.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (n, body_bytes(send)))
        return False

    def r_truncated_chunked(self, req: Request):
        req.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 100
                 + b"\r\n64\r\n" + b"y" * 30)
        return False

    def r_reset(self, req: Request):
        req.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def r_status(self, req: Request):
        code = req.arg("code", 503)
        headers = [("Retry-After", "2")] if code in (429, 503) else []
        req.respond(code, b"status %d\n" % code, headers)

    def r_close_after(self, req: Request):
        req.respond(200, b"bye\n")
        return False

    def r_drop_next(self, req: Request):
        req.respond(200, b"the next request on this connection is dropped\n")
        req.conn.drop_next = True

    def r_malformed(self, req: Request):
        kind = req.arg("kind", "status")
        if kind == "status":
            req.send(b"HTTP/1.1 two-hundred OK\r\nContent-Length: 0\r\n\r\n")
        elif kind == "header":
            req.send(b"HTTP/1.1 200 OK\r\nThis line has no colon\r\nContent-Length: 0\r\n\r\n")
        elif kind == "chunk":
            req.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        elif kind == "long-header":
            req.send(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n")
        elif kind == "not-http":
            req.send(b"SSH-2.0-OpenSSH_9.6\r\n")
        return False

    def r_ews(self, req: Request):
        """What an odd EWS server does (tests/firmware/test_http_ews.py): kind=html a 200 web
        page; bad-challenge / no-ntlm / close-challenge the 401 to an NTLM NEGOTIATE with a
        challenge that is not base64, with Basic only, or with a challenge and a close."""
        kind = req.arg("kind", "html")
        if kind == "html":
            req.respond(200, b"<html><body>Sign in to the proxy</body></html>",
                        [("Content-Type", "text/html")])
            return True
        if kind == "bad-challenge":
            req.respond(401, b"", [("WWW-Authenticate", "NTLM not*base64")])
            return True
        if kind == "no-ntlm":
            req.respond(401, b"", [("WWW-Authenticate", 'Basic realm="mail"')])
            return True
        # A well-formed CHALLENGE (MS-NLMP 2.2.1.2): no target name, flags UNICODE | NTLM |
        # TARGET_INFO, a server challenge, TargetInfo holding only MsvAvEOL, then a close.
        info = b"\x00\x00\x00\x00"
        challenge = (b"NTLMSSP\x00" + struct.pack("<I", 2) + struct.pack("<HHI", 0, 0, 56)
                     + struct.pack("<I", 0x00800201) + b"\x01\x23\x45\x67\x89\xab\xcd\xef"
                     + bytes(8) + struct.pack("<HHI", len(info), len(info), 56) + bytes(8)
                     + info)
        req.respond(401, b"", [("WWW-Authenticate", "NTLM " + base64.b64encode(
            challenge).decode()), ("Connection", "close")])
        return False

    def r__stats(self, req: Request):
        req.respond(200, json.dumps(self.server.stats.snapshot()).encode(),
                    [("Content-Type", "application/json")])

    def r__reset(self, req: Request):
        self.server.stats.reset()
        req.respond(204)


# ---------------------------------------------------------------------------------------------
# Listeners


class Listener:
    def __init__(self, name: str, handler, stats: Stats):
        self.name, self.handler, self.stats = name, handler, stats
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, name="http-test-" + name, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            serial = self.stats.add(self.name, "connections")
            threading.Thread(target=self.handler, args=(sock, self.name, serial),
                             daemon=True).start()

    def close(self) -> None:
        self.sock.close()


class TestServer:
    """All listeners of the test server; start() them, read config(), stop() at the end."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: str | Path | None = None):
        self._tmp = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lintel-http-test-")
            folder = self._tmp.name
        self.folder = Path(folder)
        self.stats = Stats()
        self.routes = Routes(self)
        self.listeners: dict[str, Listener] = {}

    def start(self) -> TestServer:
        self.pki = Pki(self.folder)
        contexts = {"https": "good", "wrong_host": "wrong_host", "other_ca": "other_ca",
                    "expired": "expired", "future": "future"}
        for name, chain in contexts.items():
            ctx = self.pki.server_context(chain)
            self.listeners[name] = Listener(
                name, lambda s, n, i, ctx=ctx: self._tls(ctx, s, n, i), self.stats)
        self.listeners["http"] = Listener("http", self._plain, self.stats)
        self.listeners["silent"] = Listener("silent", self._silent, self.stats)
        self.listeners["proxy"] = Listener("proxy", self._proxy, self.stats)
        self.listeners["proxy_auth"] = Listener(
            "proxy_auth", lambda s, n, i: self._proxy(s, n, i, auth=True), self.stats)
        with socket.socket() as probe:  # a port nothing listens on: connections are refused
            probe.bind(("127.0.0.1", 0))
            self.closed_port = probe.getsockname()[1]
        return self

    def config(self) -> dict:
        doc = {"host": "127.0.0.1", "ports": {n: lis.port for n, lis in self.listeners.items()},
               "closed_port": self.closed_port, "proxy_user": PROXY_USER,
               "proxy_password": PROXY_PASSWORD}
        doc.update(self.pki.files)
        return doc

    def write_config(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.config(), indent=1))

    def stop(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # connection handlers -------------------------------------------------------------------

    def _plain(self, sock, name, serial) -> None:
        Conn(sock, name, serial, self.stats, self.routes).serve()

    def _tls(self, ctx: ssl.SSLContext, sock, name, serial) -> None:
        sock.settimeout(IDLE_TIMEOUT)
        try:
            tls = ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            self.stats.add(name, "tls_failures")
            sock.close()
            return
        self.stats.add(name, "tls_handshakes")
        Conn(tls, name, serial, self.stats, self.routes).serve()

    def _silent(self, sock, name, serial) -> None:
        try:
            sock.settimeout(IDLE_TIMEOUT)
            while sock.recv(4096):
                pass
        except OSError:
            pass
        finally:
            sock.close()

    def _proxy(self, sock, name, serial, auth: bool = False) -> None:
        conn = Conn(sock, name, serial, self.stats, None)
        sock.settimeout(IDLE_TIMEOUT)
        try:
            head = conn.read_head().decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            if method != "CONNECT":
                sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            if auth:
                expected = "Basic " + base64.b64encode(
                    f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
                if headers.get("proxy-authorization") != expected:
                    self.stats.add(name, "auth_refused")
                    body = b"proxy authentication required\n"
                    sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Proxy-Authenticate: Basic realm=\"lintel\"\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    return
            host, _, port = target.rpartition(":")
            if host not in ("localhost", "127.0.0.1"):
                self.stats.add(name, "refused")
                sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
            except OSError:
                sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.stats.add(name, "tunnels")
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if conn.buf:
                upstream.sendall(conn.buf)
            _pump(sock, upstream)
        except (Closed, OSError, ValueError):
            pass
        finally:
            sock.close()


def _pump(a: socket.socket, b: socket.socket) -> None:
    def one_way(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    other = threading.Thread(target=one_way, args=(b, a), daemon=True)
    other.start()
    one_way(a, b)
    other.join(IDLE_TIMEOUT)
    b.close()


if __name__ == "__main__":
    server = TestServer().start()
    print(json.dumps(server.config(), indent=1), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
