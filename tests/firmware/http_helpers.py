# Shared by the firmware test modules that talk to tests/http_server.py (conftest starts it
# once per session; LINTEL_HTTP_TEST names its configuration: ports and CA files), and the
# `raises` every firmware test module uses.
import json
import os

from app import http

_cfg = None


def cfg():
    global _cfg
    if _cfg is None:
        with open(os.getenv("LINTEL_HTTP_TEST")) as f:
            _cfg = json.load(f)
    return _cfg


def read(name):
    with open(cfg()[name], "rb") as f:
        return f.read()


def port(name):
    return cfg()["ports"][name]


def url(path, server="https", host="localhost"):
    scheme = "http" if server == "http" else "https"
    return "%s://%s:%d%s" % (scheme, host, port(server), path)


def session(**kw):
    kw.setdefault("cadata", read("ca_pem"))
    kw.setdefault("timeout", (10, 10))  # generous: two busy cores
    return http.Session(**kw)


def server_stats(name):
    with http.Session(timeout=10) as s:
        return s.get(url("/_stats", "http")).json().get(name, {})


def raises(kind, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except kind as e:
        return e
    raise AssertionError("%s was not raised" % kind.__name__)
