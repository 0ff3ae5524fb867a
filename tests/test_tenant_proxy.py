"""`lintel tenant --proxy-port`: the CONNECT proxy a panel reaches the fake tenant through, with
and without Basic proxy auth; its refusals (400, 403, 405, 407, 501, 502, 503); tunnels that
half-close and carry bytes both ways; the log without credentials; the command line."""

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lintel.errors import LintelError
from lintel.tenant import server
from lintel.tenant.proxy import start_proxy

DOMAIN = "contoso.onmicrosoft.com"
DISCOVERY = f"/{DOMAIN}/v2.0/.well-known/openid-configuration"
USER = "panels"
PASSWORD = "not-a-real-password"
LINTEL = Path(sys.executable).with_name("lintel")


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def tenant():
    running = server.start(0, None, None, None)
    running.port = int(running.base_url.rsplit(":", 1)[1])
    yield running
    running.stop()


@pytest.fixture
def proxy():
    with start_proxy() as p:
        yield p


@pytest.fixture
def auth_proxy():
    with start_proxy(0, USER, PASSWORD) as p:
        yield p


def https_via(proxy_port, tenant, proxy_headers=None, host="127.0.0.1"):
    """An HTTPS connection to the tenant tunnelled through the proxy (opened lazily)."""
    context = ssl.create_default_context(cafile=str(tenant.ca_path))
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=context, timeout=10)
    conn.set_tunnel(host, tenant.port, headers=proxy_headers)
    return conn


def discover(conn):
    conn.request("GET", DISCOVERY)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def raw(proxy_port, head: bytes):
    """Send a request head to the proxy; read its answer to the end (it closes after a
    refusal): (status, headers with lower-case names, body text)."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_text, _, body = data.partition(b"\r\n\r\n")
    lines = head_text.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    assert lines[0].startswith("HTTP/1.1 "), data
    status = int(lines[0].split()[1])
    if "content-length" in headers:
        assert int(headers["content-length"]) == len(body)
    return status, headers, body.decode()


def connect_head(target, *headers):
    return (f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n" + "".join(
        h + "\r\n" for h in headers) + "\r\n").encode()


def refused(status, headers, body):
    """A refusal: words, and the connection closes."""
    assert headers["connection"] == "close"
    assert headers["content-type"].startswith("text/plain")
    assert len(body.strip()) > 10
    return status


# -- tunnels ---------------------------------------------------------------------------------


def test_tunnel_without_auth(tenant, proxy):
    conn = https_via(proxy.port, tenant)
    try:
        for _ in range(2):  # kept alive: one tunnel, one TLS session, two requests
            status, doc = discover(conn)
            assert status == 200
            assert doc["token_endpoint"].startswith(tenant.base_url + "/")
    finally:
        conn.close()
    assert proxy.wait_idle()
    [entry] = proxy.log
    assert entry["method"] == "CONNECT" and entry["target"] == f"127.0.0.1:{tenant.port}"
    assert entry["status"] == 200 and entry["auth"] == "none"
    assert entry["bytes_up"] > 500 and entry["bytes_down"] > 2000 and entry["ms"] is not None
    assert entry["client"].startswith("127.0.0.1:") and entry["error"] is None
    stats = proxy.stats
    assert stats["tunnels"] == 1 and stats["connections"] == 1 and stats["active"] == 0
    assert stats["bytes_up"] == entry["bytes_up"] and stats["bytes_down"] == entry["bytes_down"]


def test_tunnel_with_auth(tenant, auth_proxy):
    conn = https_via(auth_proxy.port, tenant, {"Proxy-Authorization": basic(USER, PASSWORD)})
    try:
        assert discover(conn)[0] == 200
    finally:
        conn.close()
    # localhost is a loopback target too (tried as 127.0.0.1 first)
    conn = https_via(auth_proxy.port, tenant, {"Proxy-Authorization": basic(USER, PASSWORD)},
                     host="localhost")
    try:
        assert discover(conn)[0] == 200
    finally:
        conn.close()
    assert auth_proxy.wait_idle()
    assert [(e["status"], e["auth"]) for e in auth_proxy.log] == [(200, "accepted")] * 2
    assert auth_proxy.stats["tunnels"] == 2


def test_auth_required(tenant, auth_proxy):
    with pytest.raises(OSError, match="407"):
        discover(https_via(auth_proxy.port, tenant))
    with pytest.raises(OSError, match="407"):
        discover(https_via(auth_proxy.port, tenant,
                           {"Proxy-Authorization": basic(USER, "wrong")}))
    target = f"127.0.0.1:{tenant.port}"
    for header, words in [
        (None, "requires"),
        (f"Proxy-Authorization: {basic('someone', PASSWORD)}", "wrong"),
        (f"Proxy-Authorization: {basic(USER, PASSWORD + 'x')}", "wrong"),
        ("Proxy-Authorization: Basic !!not base64!!", "wrong"),
        (f"Proxy-Authorization: Bearer {PASSWORD}", "wrong"),
        (f"Authorization: {basic(USER, PASSWORD)}", "requires"),  # the origin's header: no
    ]:
        status, headers, body = raw(auth_proxy.port, connect_head(target, *filter(None,
                                                                                 [header])))
        assert refused(status, headers, body) == 407, body
        assert headers["proxy-authenticate"] == 'Basic realm="lintel-tenant"'
        assert words in body
    # the scheme name is case-insensitive, as HTTP says
    conn = https_via(auth_proxy.port, tenant,
                     {"Proxy-Authorization": "basic " + basic(USER, PASSWORD).split()[1]})
    try:
        assert discover(conn)[0] == 200
    finally:
        conn.close()
    assert auth_proxy.wait_idle()
    stats = auth_proxy.stats
    assert stats["refused_auth"] == 8 and stats["tunnels"] == 1
    assert [e["auth"] for e in auth_proxy.log] == ["none", "rejected", "none"] + [
        "rejected"] * 4 + ["none", "accepted"]


def test_log_has_no_credentials(tenant, auth_proxy):
    good, bad = basic(USER, PASSWORD), basic(USER, "another-secret")
    for value in (good, bad):
        conn = https_via(auth_proxy.port, tenant, {"Proxy-Authorization": value})
        try:
            discover(conn)
        except OSError:
            pass
        finally:
            conn.close()
    raw(auth_proxy.port, connect_head("example.com:443", f"Proxy-Authorization: {good}"))
    assert auth_proxy.wait_idle()
    text = json.dumps([auth_proxy.log, auth_proxy.stats])
    for secret in (PASSWORD, "another-secret", good.split()[1], bad.split()[1]):
        assert secret not in text
    assert [e["auth"] for e in auth_proxy.log] == ["accepted", "rejected", "accepted"]


def test_half_close_and_bytes_both_ways(proxy):
    """The client sends, then shuts its sending side; the target answers after reading to the
    end and closes. Both halves pass through, and the counts are exact."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def target():
            conn, _ = listener.accept()
            with conn:
                got = b""
                while chunk := conn.recv(65536):
                    got += chunk
                conn.sendall(b"got %d bytes" % len(got) + b"." * 300_000)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        payload = os.urandom(200_000)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
            s.sendall(connect_head(f"127.0.0.1:{listener.getsockname()[1]}") + payload[:1000])
            s.sendall(payload[1000:])
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        thread.join(10)
    head, _, reply = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert reply == b"got 200000 bytes" + b"." * 300_000
    assert proxy.wait_idle()
    [entry] = proxy.log
    assert (entry["bytes_up"], entry["bytes_down"]) == (200_000, len(reply))
    assert entry["error"] is None


def test_both_ways_at_once(proxy):
    """An echo target and a client that writes 4 MB before reading: neither direction may
    wait for the other (no deadlock when both sides' buffers fill)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def echo():
            conn, _ = listener.accept()
            with conn:
                while chunk := conn.recv(65536):
                    conn.sendall(chunk)

        threading.Thread(target=echo, daemon=True).start()
        payload = os.urandom(4 << 20)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
            s.sendall(connect_head(f"127.0.0.1:{listener.getsockname()[1]}"))
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 200 ")
            received = bytearray()

            def reader():
                while chunk := s.recv(1 << 20):
                    received.extend(chunk)

            read_thread = threading.Thread(target=reader, daemon=True)
            read_thread.start()
            time.sleep(0.2)  # let both directions' buffers fill before the reader catches up
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            read_thread.join(10)
    assert bytes(received) == payload
    assert proxy.wait_idle()
    assert proxy.log[0]["bytes_up"] == proxy.log[0]["bytes_down"] == len(payload)


def test_a_reset_is_passed_on_as_a_reset(proxy):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def resetting_target():
            conn, _ = listener.accept()
            conn.recv(100)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

        thread = threading.Thread(target=resetting_target, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
            s.sendall(connect_head(f"127.0.0.1:{listener.getsockname()[1]}"))
            assert s.recv(1000).startswith(b"HTTP/1.1 200 ")
            s.sendall(b"hello")
            with pytest.raises(ConnectionResetError):
                s.recv(100)
        thread.join(10)
    assert proxy.wait_idle()
    assert proxy.log[0]["error"] == "the target reset the connection"


# -- refusals -------------------------------------------------------------------------------


def test_only_loopback_targets(tenant, proxy, auth_proxy):
    for target in ("example.com:443", "10.0.0.1:443", "192.168.1.1:3128", "127.0.0.2:443",
                   "graph.microsoft.com:443", "[2001:db8::1]:443"):
        status, headers, body = raw(proxy.port, connect_head(target))
        assert refused(status, headers, body) == 403, body
        assert "loopback" in body
    status, headers, body = raw(auth_proxy.port, connect_head(
        "example.com:443", f"Proxy-Authorization: {basic(USER, PASSWORD)}"))
    assert refused(status, headers, body) == 403
    assert proxy.stats["refused_target"] == 6 and proxy.stats["tunnels"] == 0


def test_unreachable_target(proxy):
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{closed.getsockname()[1]}"
        status, headers, body = raw(proxy.port, connect_head(target))
        assert refused(status, headers, body) == 502
        assert target in body and "refused" in body
        status, _, _ = raw(proxy.port, connect_head(f"[::1]:{closed.getsockname()[1]}"))
        assert status == 502
    assert proxy.stats["bad_gateway"] == 2
    assert [e["status"] for e in proxy.log] == [502, 502]


def test_methods_and_malformed_requests(proxy):
    status, headers, body = raw(proxy.port, b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused(status, headers, body) == 405
    assert headers["allow"] == "CONNECT" and "CONNECT" in body
    status, headers, body = raw(proxy.port, b"BREW /pot HTTP/1.1\r\n\r\n")
    assert refused(status, headers, body) == 501
    for head in [b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",  # no port
                 b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n",
                 b"CONNECT 127.0.0.1:0 HTTP/1.1\r\n\r\n",
                 b"CONNECT user@127.0.0.1:443 HTTP/1.1\r\n\r\n",
                 b"CONNECT 127.0.0.1:443 HTTP/2.0\r\n\r\n",
                 b"CONNECT 127.0.0.1:443\r\n\r\n",
                 b"hello\r\n\r\n",
                 b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nno colon here\r\n\r\n",
                 b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n"]:
        status, headers, body = raw(proxy.port, head)
        assert refused(status, headers, body) == 400, head[:60]
    assert proxy.stats["not_allowed"] == 2 and proxy.stats["bad_request"] == 9


def test_refusing_and_recovery(tenant, proxy):
    def attempt():
        conn = https_via(proxy.port, tenant)
        try:
            return discover(conn)[0]
        finally:
            conn.close()

    assert attempt() == 200
    proxy.set_refusing(True)
    with pytest.raises(OSError, match="503"):
        attempt()
    status, headers, body = raw(proxy.port, connect_head(f"127.0.0.1:{tenant.port}"))
    assert refused(status, headers, body) == 503
    proxy.set_refusing(True, how="close")
    with pytest.raises(http.client.RemoteDisconnected):
        attempt()
    proxy.set_refusing(True, how="reset")
    with pytest.raises(ConnectionResetError) as info:
        attempt()
    assert not isinstance(info.value, http.client.RemoteDisconnected)  # a reset, not a close
    with pytest.raises(ValueError):
        proxy.set_refusing(True, how="sometimes")
    proxy.set_refusing(False)
    assert attempt() == 200
    assert proxy.wait_idle()
    assert proxy.stats["refused"] == 4 and proxy.stats["tunnels"] == 2
    assert [e["status"] for e in proxy.log] == [200, 503, 503, None, None, 200]


def test_stop_ends_open_tunnels_promptly(tenant):
    p = start_proxy()
    conn = https_via(p.port, tenant)
    assert discover(conn)[0] == 200  # the tunnel stays open, kept alive
    idle = socket.create_connection(("127.0.0.1", p.port))  # a client that sends nothing
    time.sleep(0.1)
    assert p.stats["active"] == 2
    began = time.monotonic()
    p.stop()
    assert time.monotonic() - began < 1.5
    assert p.stats["active"] == 0
    assert idle.recv(100) == b""
    idle.close()
    with pytest.raises(OSError):
        discover(conn)
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p.port), timeout=2)
    p.stop()  # twice is harmless


def test_api_errors():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(LintelError, match=f"127.0.0.1:{port}"):
            start_proxy(port)
    with pytest.raises(LintelError, match="':'"):
        start_proxy(0, "a:b", "pw")
    with pytest.raises(LintelError, match="go together"):
        start_proxy(0, USER)


# -- the command line -----------------------------------------------------------------------


def lintel_tenant(*args, password=PASSWORD):
    env = {k: v for k, v in os.environ.items() if k != "LINTEL_PROXY_PASSWORD"}
    if password is not None:
        env["LINTEL_PROXY_PASSWORD"] = password
    return [str(LINTEL), "tenant", "--port", "0", *map(str, args)], env


def test_cli_proxy():
    argv, env = lintel_tenant("--proxy-port", 0, "--proxy-user", USER)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("tenant: https://127.0.0.1:"), (lines, proc.stderr)
        base = lines[0].split()[1]
        ca = lines[1].removeprefix("tenant: CA certificate ").strip()
        assert lines[2].startswith("tenant: authority ")
        words = lines[3].split()
        assert words[:2] == ["tenant:", "proxy"] and words[2].startswith("http://127.0.0.1:")
        assert lines[3].rstrip("\n").endswith(f"(Basic auth as {USER})")
        proxy_port = int(words[2].rsplit(":", 1)[1])
        tenant = SimpleNamespace(port=int(base.rsplit(":", 1)[1]), ca_path=ca)
        conn = https_via(proxy_port, tenant, {"Proxy-Authorization": basic(USER, PASSWORD)})
        try:
            status, doc = discover(conn)
            assert status == 200 and doc["issuer"].startswith(base + "/")
        finally:
            conn.close()
        with pytest.raises(OSError, match="407"):
            discover(https_via(proxy_port, tenant))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == ""
    assert PASSWORD not in "".join(lines) + out + err


def test_cli_proxy_without_auth():
    argv, env = lintel_tenant("--proxy-port", 0, password=None)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[3].startswith("tenant: proxy http://127.0.0.1:")
        assert lines[3].rstrip("\n").endswith("(no auth)")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == ""


def _one_line_error(argv, env):
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_cli_errors():
    line = _one_line_error(*lintel_tenant("--proxy-port", 0, "--proxy-user", USER,
                                          password=None))
    assert "LINTEL_PROXY_PASSWORD" in line
    line = _one_line_error(*lintel_tenant("--proxy-user", USER))
    assert "--proxy-port" in line
    line = _one_line_error(*lintel_tenant("--proxy-port", 70000))
    assert "70000" in line
    line = _one_line_error(*lintel_tenant("--proxy-port", 0, "--proxy-user", "a:b"))
    assert "--proxy-user" in line
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        line = _one_line_error(*lintel_tenant("--proxy-port", port))
        assert f"127.0.0.1:{port}" in line and "proxy" in line
