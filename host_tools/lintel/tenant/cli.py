"""`lintel tenant`: a local fake Microsoft 365 tenant (Entra ID v2 today, Graph next) over
HTTPS, for the emulated panel, MSAL and the tests. docs/tenant.md describes it."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from lintel.errors import LintelError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, required=True, metavar="P",
                   help="serve HTTPS on 127.0.0.1:P (0: any free port; the ready line says which)")
    p.add_argument("--seed", type=Path, metavar="FILE",
                   help="the tenant's users, token lifetimes (and later rooms and events) "
                        "(default: the built-in demo office)")
    p.add_argument("--state", type=Path, metavar="DIR",
                   help="folder for the SQLite state, the CA and the keys "
                        "(default: a temporary folder, removed at exit)")
    p.add_argument("--ca-out", type=Path, metavar="FILE",
                   help="write the local CA's certificate (PEM) here for configurations and tests")


def run(args) -> int:
    from lintel.tenant import server

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
    try:
        info = running.tenant.store.get_meta("tenant")
        print(f"tenant: {running.base_url}", flush=True)
        print(f"tenant: CA certificate {running.ca_path}", flush=True)
        print(f"tenant: authority {running.base_url}/{info['id']} ({info['domain']}); "
              f"admin API {running.base_url}/_admin/", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
    return 0
