"""`lintel tenant`: a local fake Microsoft 365 tenant (Entra ID v2 and Graph v1.0) over
HTTPS, for the emulated panel, MSAL and the tests. docs/tenant.md describes it."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from lintel.errors import LintelError

PASSWORD_ENV = "LINTEL_PROXY_PASSWORD"  # the proxy password: never on the command line or printed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, required=True, metavar="P",
                   help="serve HTTPS on 127.0.0.1:P (0: any free port; the ready line says which)")
    p.add_argument("--seed", type=Path, metavar="FILE",
                   help="the tenant's users, token lifetimes, rooms, room lists and events "
                        "(default: the built-in demo office)")
    p.add_argument("--state", type=Path, metavar="DIR",
                   help="folder for the SQLite state, the CA and the keys "
                        "(default: a temporary folder, removed at exit)")
    p.add_argument("--ca-out", type=Path, metavar="FILE",
                   help="write the local CA's certificate (PEM) here for configurations and tests")
    p.add_argument("--proxy-port", type=int, metavar="P",
                   help="also run an HTTP CONNECT proxy on 127.0.0.1:P that tunnels to loopback "
                        "targets only (0: any free port; a ready line says which)")
    p.add_argument("--proxy-user", metavar="USER",
                   help="the proxy requires Basic authentication as USER, with the password "
                        f"from the environment variable {PASSWORD_ENV}")


def _proxy_password(args) -> str | None:
    """The proxy password for --proxy-user (from the environment), checked before starting."""
    if args.proxy_port is None:
        if args.proxy_user is not None:
            raise LintelError("--proxy-user needs --proxy-port")
        return None
    if not 0 <= args.proxy_port <= 65535:
        raise LintelError(f"--proxy-port {args.proxy_port}: not a TCP port (0-65535)")
    if args.proxy_user is None:
        return None
    from lintel.tenant.proxy import check_user

    check_user(args.proxy_user)
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise LintelError(f"--proxy-user {args.proxy_user}: set the proxy password in the "
                          f"environment variable {PASSWORD_ENV} (it is never taken on the "
                          "command line)")
    return password


def run(args) -> int:
    from lintel.tenant import proxy as proxy_mod
    from lintel.tenant import server

    password = _proxy_password(args)
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        running = server.start(args.port, args.seed, args.state, args.ca_out)
    except LintelError:
        raise
    except OSError as e:
        raise LintelError(f"cannot start the tenant: {e.strerror or e}") from e
    proxy = None
    try:
        if args.proxy_port is not None:
            proxy = proxy_mod.start_proxy(args.proxy_port, args.proxy_user, password)
        info = running.tenant.store.get_meta("tenant")
        print(f"tenant: {running.base_url}", flush=True)
        print(f"tenant: CA certificate {running.ca_path}", flush=True)
        print(f"tenant: authority {running.base_url}/{info['id']} ({info['domain']}); "
              f"admin API {running.base_url}/_admin/", flush=True)
        if proxy is not None:
            auth = f"Basic auth as {proxy.user}" if proxy.auth_required else "no auth"
            print(f"tenant: proxy {proxy.url} ({auth})", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        if proxy is not None:
            proxy.stop()
        running.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
    return 0
