# The panel's HTTP client (app/http.py) against tests/http_server.py, which conftest starts once
# per session (LINTEL_HTTP_TEST names its configuration: ports and CA files).
import binascii
import gc
import hashlib
import json
import time

from http_helpers import cfg, port, raises, read, server_stats, session, url

from app import http, http_tls

SECRET = "Bearer not-a-real-token-0123456789"


def sha256_hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def elapsed_ms(start):
    return time.ticks_diff(time.ticks_ms(), start)


# --- requests and bodies ----------------------------------------------------------------------


def test_methods_with_json_bodies():
    with session() as s:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            body = None if method == "GET" else {"method": method, "n": [1, 2], "text": "caf\xe9"}
            r = s.request(method, url("/echo?a=1&b=two"), json=body)
            assert r.status_code == 200 and r.reason == "OK", r.status_code
            doc = r.json()
            assert doc["method"] == method and doc["path"] == "/echo"
            assert doc["query"] == {"a": "1", "b": "two"}
            assert doc["json"] == body
            if body is not None:
                assert doc["headers"]["content-type"] == "application/json"
                assert int(doc["headers"]["content-length"]) == len(json.dumps(body).encode())
            assert doc["headers"]["connection"] == "keep-alive"
            assert doc["headers"]["user-agent"].startswith("Lintel/")
            assert r.headers["content-type"] == "application/json"
        assert s.get(url("/echo")).json()["n"] == 6  # all on one connection
        assert s.post(url("/echo")).json()["headers"]["content-length"] == "0"
        for fn, method in ((s.get, "GET"), (s.post, "POST"), (s.put, "PUT"),
                           (s.patch, "PATCH"), (s.delete, "DELETE")):
            assert fn(url("/echo")).json()["method"] == method


def test_form_data_headers_and_basic_auth():
    with session() as s:
        doc = s.post(url("/echo"), data={"grant_type": "device_code", "scope": "a b/c&d=e"},
                     headers={"X-Panel": "room-1"}, auth=("user", "pw")).json()
        assert doc["body"] == "grant_type=device_code&scope=a%20b%2Fc%26d%3De"
        assert doc["headers"]["content-type"] == "application/x-www-form-urlencoded"
        assert doc["headers"]["x-panel"] == "room-1"
        assert doc["headers"]["authorization"] == "Basic dXNlcjpwdw=="
        doc = s.post(url("/echo"), data=b"raw bytes",
                     headers={"Content-Type": "text/plain"}).json()
        assert doc["body"] == "raw bytes" and doc["headers"]["content-type"] == "text/plain"
        raises(ValueError, s.get, url("/echo"), headers={"X-Bad": "a\r\nInjected: 1"})


def test_content_length_and_chunked_bodies():
    with session() as s:
        r = s.get(url("/bytes?n=5000&seed=3"))
        assert len(r.content) == 5000
        assert sha256_hex(r.content) == r.headers["x-body-sha256"]
        for query in ("n=5000&size=700", "n=5000&size=700&ext=1&trailers=1", "n=1&size=1",
                      "n=0&size=10&trailers=1", "n=20000&size=16384&ext=1"):
            r = s.get(url("/chunked?" + query))
            assert r.headers["transfer-encoding"] == "chunked"
            assert sha256_hex(r.content) == r.headers["x-body-sha256"], query
        assert len(s.get(url("/bytes?n=0")).content) == 0
        r = s.head(url("/bytes?n=5000"))
        assert r.headers["content-length"] == "5000" and r.content == b""
        assert s.get(url("/status?code=204")).content == b""
        assert s.stats["connections"] == 1  # every framing above left the connection usable
        r = s.get(url("/close-delimited?n=3000"))
        assert sha256_hex(r.content) == r.headers["x-body-sha256"]
        r = s.get(url("/http10?n=300"))
        assert len(r.content) == 300
        assert s.get(url("/echo")).status_code == 200
        assert s.stats["connections"] == 3  # neither of those two could be kept
        assert s.get(url("/echo")).text.startswith('{"method": "GET"')


def test_a_request_is_one_write():
    writes = []

    class Counting:
        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            writes.append(len(data))
            return self.stream.write(data)

        def readinto(self, buf):
            return self.stream.readinto(buf)

        def close(self):
            self.stream.close()

    with session() as s:
        s.get(url("/echo"))
        conn = list(s._pool.values())[0]
        conn.stream = Counting(conn.stream)
        body = {"subject": "x" * 3000}
        s.post(url("/echo"), json=body)
        s.get(url("/echo"))
        assert len(writes) == 2, writes
        assert writes[0] > 3000


# --- keep-alive -------------------------------------------------------------------------------


def test_twenty_requests_one_tls_handshake():
    before = server_stats("https")
    with session() as s:
        conns = set()
        for i in range(20):
            doc = s.get(url("/echo?i=%d" % i)).json()
            conns.add(doc["conn"])
        assert s.stats["requests"] == 20 and s.stats["tls_handshakes"] == 1
        assert s.stats["connections"] == 1 and len(conns) == 1
        assert s.stats["bytes_sent"] > 20 * 50 and s.stats["bytes_received"] > 20 * 200
    after = server_stats("https")
    assert after["tls_handshakes"] - before.get("tls_handshakes", 0) == 1
    assert after["requests"] - before.get("requests", 0) == 20


def test_network_time_counts_the_handshake_and_the_waits_for_answers():
    # stats["network_ms"]: connecting, the handshake and waiting for the server, which the
    # energy benchmark replaces by the field's figures.
    with session() as s:
        s.get(url("/echo")).close()
        first = s.stats["network_ms"]
        assert first > 0  # the handshake: a few ms of mbedTLS here
        started = time.ticks_ms()
        s.get(url("/slow?delay=0.3")).close()
        waited = s.stats["network_ms"] - first
        elapsed = time.ticks_diff(time.ticks_ms(), started)
    assert 280 <= waited <= elapsed, (waited, elapsed)


def test_server_closing_an_idle_connection_is_reconnected_transparently():
    with session() as s:
        assert s.get(url("/close-after")).status_code == 200
        time.sleep_ms(50)  # the server's FIN arrives
        assert s.get(url("/echo")).json()["n"] == 1
        assert s.stats["reconnects"] == 1 and s.stats["tls_handshakes"] == 2
        # The server closes while the request is on its way: idempotent methods go again.
        s.get(url("/drop-next"))
        assert s.get(url("/echo")).json()["n"] == 1
        assert s.stats["reconnects"] == 2 and s.stats["tls_handshakes"] == 3
        s.get(url("/drop-next"))
        e = raises(http.ConnectionClosed, s.post, url("/echo"), json={"book": 1})
        assert "localhost" in str(e) and e.sent
        assert s.stats["reconnects"] == 2  # a POST is never sent twice
        assert s.get(url("/echo")).status_code == 200


def test_an_unread_response_is_finished_before_the_next_request():
    with session() as s:
        r = s.get(url("/bytes?n=3000"), stream=True)
        assert r.status_code == 200
        assert s.get(url("/echo")).json()["n"] == 2  # the short rest was read away
        r = s.get(url("/bytes?n=100000"), stream=True)
        assert s.get(url("/echo")).json()["n"] == 1  # too long: that connection was dropped
        e = raises(http.HttpError, r.readinto, bytearray(10))
        assert "closed" in str(e)
        r = s.get(url("/chunked?n=2000&size=100"), stream=True)
        r.close()
        assert s.get(url("/echo")).json()["n"] == 3
        assert s.stats["connections"] == 2


# --- TLS --------------------------------------------------------------------------------------


def test_tls_accepts_the_right_ca_in_every_form():
    for name in ("ca_pem", "ca_der", "bundle_pem", "bundle_der"):
        with session(cadata=read(name)) as s:
            assert s.get(url("/echo")).status_code == 200, name
    pem = read("ca_pem")
    with session(cadata=[read("other_ca_pem"), pem.decode()]) as s:
        assert s.ca_count == 2
        assert s.get(url("/echo")).status_code == 200
    import tls

    assert session()._ctx.verify_mode == tls.CERT_REQUIRED
    assert len(http_tls.der_certificates(read("bundle_pem"))) == 2
    assert http_tls.der_certificates(read("bundle_der")) == http_tls.der_certificates(
        read("bundle_pem"))


def test_tls_refuses_another_ca_a_wrong_host_name_and_an_expired_or_future_certificate():
    with session() as s:
        for server, reason, words in (("other_ca", "unknown_ca", "not signed by a CA"),
                                      ("wrong_host", "hostname", "another host name"),
                                      ("expired", "expired", "has expired"),
                                      ("future", "not_yet_valid", "clock set")):
            e = raises(http.TlsError, s.get, url("/echo", server))
            assert e.reason == reason, (server, e.reason, str(e))
            assert words in str(e) and "localhost" in str(e) and e.host == "localhost"
        assert s._pool == {}
    with session(cadata=read("other_ca_pem")) as s:
        assert raises(http.TlsError, s.get, url("/echo")).reason == "unknown_ca"
    stats = server_stats("wrong_host")
    assert stats["tls_failures"] >= 1 and "tls_handshakes" not in stats


def test_https_needs_a_ca_and_a_valid_bundle():
    with http.Session() as s:
        e = raises(http.TlsError, s.get, url("/echo"))
        assert e.reason == "no_ca" and "localhost" in str(e)
    for bad in (b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n",
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                b"\x30\x82\x01", b""):
        assert raises(http.TlsError, http.Session, cadata=bad).reason == "bad_ca", bad


def test_a_handshake_that_never_completes_is_a_connect_timeout():
    with session(timeout=(0.4, 10)) as s:
        start = time.ticks_ms()
        e = raises(http.ConnectTimeout, s.get, url("/echo", "silent"))
        assert isinstance(e, http.TimeoutError) and isinstance(e, http.HttpError)
        assert "TLS handshake" in str(e) and elapsed_ms(start) < 3000


# --- proxies ----------------------------------------------------------------------------------


def test_connect_proxy_without_auth():
    before = server_stats("proxy").get("tunnels", 0)
    proxy = "http://127.0.0.1:%d" % port("proxy")
    with session(proxy=proxy) as s:
        for _ in range(3):
            assert s.get(url("/echo")).json()["server"] == "https"
        assert s.get(url("/echo", "http")).json()["server"] == "http"
        assert s.stats["tls_handshakes"] == 1 and s.stats["connections"] == 2
    assert server_stats("proxy")["tunnels"] - before == 2
    with session(proxy=proxy) as s:
        e = raises(http.ProxyError, s.get, "https://blocked.example/echo")
        assert e.status == 403 and "blocked.example:443" in str(e)


def test_connect_proxy_with_basic_auth():
    c = cfg()
    proxy = {"host": "127.0.0.1", "port": port("proxy_auth"), "user": c["proxy_user"],
             "password": c["proxy_password"], "no_proxy": []}
    with session(proxy=proxy) as s:
        assert s.get(url("/echo")).json()["server"] == "https"
    with session(proxy="http://127.0.0.1:%d" % port("proxy_auth")) as s:
        e = raises(http.ProxyError, s.get, url("/echo"))
        assert e.status == 407 and "requires authentication" in str(e)
    with session(proxy="http://127.0.0.1:%d" % port("proxy_auth"), proxy_user=c["proxy_user"],
                 proxy_password="wrong-password") as s:
        e = raises(http.ProxyError, s.get, url("/echo"))
        assert e.status == 407 and "wrong-password" not in str(e)
    with session(proxy="http://127.0.0.1:%d" % port("silent"), timeout=(0.4, 0.4)) as s:
        e = raises(http.TimeoutError, s.get, url("/echo"))
        assert "the proxy 127.0.0.1" in str(e)
    with session(proxy="http://127.0.0.1:%d" % cfg()["closed_port"]) as s:
        e = raises(http.ConnectError, s.get, url("/echo"))
        assert str(e).startswith("the proxy 127.0.0.1:") and "refused" in str(e)


def test_no_proxy_bypasses_the_proxy():
    before = server_stats("proxy").get("tunnels", 0)
    proxy = "http://127.0.0.1:%d" % port("proxy")
    with session(proxy=proxy, no_proxy=["localhost"]) as s:
        assert s.get(url("/echo")).status_code == 200
    with session(proxy=proxy, no_proxy=["127.0.0.0/8"]) as s:
        assert s.get(url("/echo", host="127.0.0.1")).status_code == 200
    assert server_stats("proxy").get("tunnels", 0) == before
    from app.http_proxy import bypass

    assert bypass("graph.contoso.example", [".contoso.example"])
    assert bypass("a.b.contoso.example", ["*.contoso.example"])
    assert not bypass("contoso.example.evil", [".contoso.example"])
    assert not bypass("graph.microsoft.com", [".contoso.example", "10.0.0.0/8"])
    assert bypass("10.1.2.3", ["10.0.0.0/8"]) and not bypass("11.1.2.3", ["10.0.0.0/8"])
    assert bypass("Mail.Contoso.Example", ["mail.contoso.example"])
    assert bypass("192.168.1.20", ["192.168.1.20"]) and bypass("x", ["*"])
    raises(ValueError, http.Session, proxy="http://user:pw@proxy:3128")
    raises(ValueError, http.Session, proxy="http://proxy")


# --- redirects --------------------------------------------------------------------------------


def test_redirects_follow_the_rules():
    with session() as s:
        for code, method, body in ((301, "GET", None), (302, "GET", None), (303, "GET", None),
                                   (307, "POST", {"x": 1}), (308, "POST", {"x": 1})):
            r = s.post(url("/redirect?code=%d&to=/echo" % code), json={"x": 1})
            doc = r.json()
            assert (doc["method"], doc["json"]) == (method, body), code
            assert r.url.endswith("/echo")
        assert s.get(url("/redirect?to=echo%3Fq%3D1")).json()["query"] == {"q": "1"}
        assert s.get(url("/redirect-chain?n=5")).json()["path"] == "/echo"
        e = raises(http.TooManyRedirects, s.get, url("/redirect-chain?n=6"))
        assert "more than 5" in str(e)
        r = s.get(url("/redirect?code=302&to=/echo"), allow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "/echo"
        assert s.stats["connections"] == 1
    with session(max_redirects=1) as s:
        raises(http.TooManyRedirects, s.get, url("/redirect-chain?n=2"))


def test_authorization_is_not_forwarded_to_another_host():
    with session() as s:
        same = url("/echo", "http")
        other = url("/echo", "http", host="127.0.0.1")
        doc = s.get(url("/redirect?to=" + same, "http"), headers={"Authorization": SECRET}).json()
        assert doc["headers"]["authorization"] == SECRET
        doc = s.get(url("/redirect?to=" + other, "http"),
                    headers={"Authorization": SECRET, "X-Keep": "1"}).json()
        assert "authorization" not in doc["headers"] and doc["headers"]["x-keep"] == "1"


# --- failures ---------------------------------------------------------------------------------


def test_read_timeout():
    with session(timeout=(10, 0.3)) as s:
        start = time.ticks_ms()
        e = raises(http.ReadTimeout, s.get, url("/slow?delay=3"))
        assert isinstance(e, http.TimeoutError) and "localhost" in str(e)
        assert elapsed_ms(start) < 2500
        r = s.get(url("/slow?delay=3&phase=body"), stream=True)
        buf = bytearray(4000)
        assert r.readinto(buf) == 1000
        raises(http.ReadTimeout, r.readinto, buf)
        assert s.get(url("/echo"), timeout=10).status_code == 200  # a fresh connection


def test_connect_refused_and_dns_failures():
    free_port = cfg()["closed_port"]
    with session(timeout=(2, 2)) as s:
        e = raises(http.ConnectError, s.get, "https://127.0.0.1:%d/" % free_port)
        assert "refused" in str(e)
        e = raises(http.DnsError, s.get, "https://no-such-host.invalid/")
        assert "no-such-host.invalid" in str(e)
        e = raises(http.ConnectError, s.get, "https://localhost:%d/"
                   % free_port, headers={"Authorization": SECRET})
        assert SECRET not in str(e)


def test_truncated_bodies():
    with session() as s:
        e = raises(http.TruncatedBody, s.get, url("/truncated?n=1000&send=500"))
        assert str(e) == "localhost closed the connection after 500 of 1000 bytes of the body"
        r = s.get(url("/truncated?n=3000&send=1500"), stream=True)
        buf = memoryview(bytearray(256))
        got = 0
        try:
            while True:
                n = r.readinto(buf)
                assert n
                got += n
        except http.TruncatedBody:
            pass
        assert got == 1500
        raises(http.TruncatedBody, s.get, url("/truncated-chunked"))
        assert s.get(url("/echo")).status_code == 200


def test_connection_reset():
    with session() as s:
        e = raises(http.ConnectionClosed, s.get, url("/reset"))
        assert e.reset and "reset" in str(e) and "localhost" in str(e)
        s.get(url("/echo"))
        raises(http.ConnectionClosed, s.get, url("/reset"))  # retried once, reset again
        assert s.stats["reconnects"] == 1


def test_a_5xx_is_an_answer_not_an_error():
    with session() as s:
        r = s.get(url("/status?code=503"))
        assert r.status_code == 503 and not r.ok and r.headers["retry-after"] == "2"
        assert r.text == "status 503\n"
        r = s.get(url("/status?code=500"))
        assert r.status_code == 500
        assert s.get(url("/echo")).json()["n"] == 3


def test_malformed_answers_are_protocol_errors():
    with session() as s:
        for kind in ("status", "header", "chunk", "long-header", "not-http"):
            e = raises(http.ProtocolError, s.get, url("/malformed?kind=" + kind))
            assert "localhost" in str(e) and "aaaa" not in str(e), kind
        assert raises(http.JsonError, s.get(url("/bytes?n=10")).json).reason == "bad_json"


def test_a_body_too_large_for_content_is_refused():
    with session(max_content=10000) as s:
        e = raises(http.BodyTooLarge, s.get, url("/bytes?n=10001"))
        assert "10001" in str(e) and "stream" in str(e)
        raises(http.BodyTooLarge, s.get, url("/chunked?n=10001&size=3000"))
        raises(http.BodyTooLarge, s.get, url("/close-delimited?n=10001"))
        assert len(s.get(url("/bytes?n=10000")).content) == 10000
        assert len(s.get(url("/bytes?n=20000"), max_content=20000).content) == 20000
        r = s.get(url("/bytes?n=50000"), stream=True)
        raises(http.BodyTooLarge, lambda: r.content)


# --- streaming --------------------------------------------------------------------------------


def test_streaming_200_kb_with_a_small_buffer():
    with session() as s:
        for path in ("/bytes?n=204800&seed=7", "/chunked?n=204800&size=8000&ext=1&seed=7"):
            r = s.get(url(path), stream=True)
            h = hashlib.sha256()
            buf = memoryview(bytearray(512))
            total = 0
            while True:
                n = r.readinto(buf)
                if not n:
                    break
                h.update(buf[:n])
                total += n
            assert total == 204800
            assert binascii.hexlify(h.digest()).decode() == r.headers["x-body-sha256"], path
        r = s.get(url("/bytes?n=204800&seed=8"), stream=True)
        h = hashlib.sha256()
        for piece in r.iter_content(700):
            h.update(piece)
        assert binascii.hexlify(h.digest()).decode() == r.headers["x-body-sha256"]
        r = s.get(url("/bytes?n=3000"), stream=True)
        assert len(r.read(1000)) == 1000 and len(r.raw.read(5000)) == 2000 and r.read(10) == b""
        assert s.stats["connections"] == 1


def test_heap_stays_bounded_while_streaming():
    with session() as s:
        for path in ("/bytes?n=204800", "/chunked?n=204800&size=4096"):
            r = s.get(url(path), stream=True)
            buf = memoryview(bytearray(1024))
            gc.collect()
            base = gc.mem_alloc()
            peak = total = 0
            while True:
                n = r.readinto(buf)
                if not n:
                    break
                total += n
                peak = max(peak, gc.mem_alloc() - base)
            assert total == 204800
            assert peak < 16384, (path, peak)  # garbage included, far below the body's size


# --- errors keep secrets, helpers, module functions ------------------------------------------


def test_no_secret_in_errors_or_trace():
    lines = []
    with session(trace=lines.append, headers={"Authorization": SECRET}) as s:
        s.get(url("/echo?token=not-in-trace"))
        for path in ("/reset", "/truncated", "/malformed?kind=header", "/bytes?n=50000"):
            try:
                s.get(url(path), max_content=1000)
            except http.HttpError as e:
                assert SECRET not in str(e) and "not-a-real" not in str(e)
    text = "\n".join(lines)
    assert "> GET https://localhost:%d/echo" % port("https") in text
    assert "not-a-real" not in text and "not-in-trace" not in text


def test_url_helpers():
    assert http.split_url("https://Graph.Microsoft.com/v1.0/me?x=1#frag") == (
        "https", "graph.microsoft.com", 443, "/v1.0/me?x=1")
    assert http.split_url("http://h:8080") == ("http", "h", 8080, "/")
    assert http.split_url("https://h?q") == ("https", "h", 443, "/?q")
    assert http.split_url("https://[::1]:8443/p") == ("https", "::1", 8443, "/p")
    for bad in ("ftp://h/", "h/path", "https://u:p@h/", "https://h:99999/", "https:///p"):
        raises(ValueError, http.split_url, bad)
    base = "https://h:8443/a/b/c?x=1"
    assert http.join_url(base, "/d") == "https://h:8443/d"
    assert http.join_url(base, "d?y") == "https://h:8443/a/b/d?y"
    assert http.join_url(base, "?y=2") == "https://h:8443/a/b/c?y=2"
    assert http.join_url(base, "//other/x") == "https://other/x"
    assert http.join_url(base, "http://other/x") == "http://other/x"
    assert http.urlencode({"a": "x y", "b": "\xe9/"}) == "a=x%20y&b=%C3%A9%2F"


def test_module_functions_use_a_default_session():
    http.configure(cadata=read("ca_der"), timeout=10)
    try:
        assert http.get(url("/echo")).json()["method"] == "GET"
        assert http.post(url("/echo"), json={"a": 1}).json()["json"] == {"a": 1}
        assert http.patch(url("/echo")).json()["method"] == "PATCH"
        assert http.put(url("/echo")).json()["method"] == "PUT"
        assert http.delete(url("/echo")).json()["method"] == "DELETE"
        assert http.request("GET", url("/echo")).json()["n"] == 6
        assert http.session().stats["tls_handshakes"] == 1
    finally:
        http.close()
    assert http.session()._pool == {}


def test_a_proxy_url_with_an_ipv6_literal_names_the_address():
    from app import http_proxy

    assert http_proxy._parse_url("http://[::1]:3128") == ("::1", 3128)
    assert http_proxy._parse_url("http://proxy.contoso.example:3128/") == (
        "proxy.contoso.example", 3128)
