"""The fake tenant's state: one SQLite file (`tenant.db` in the state folder).

One connection, shared by the server's threads behind a lock; every change runs in a transaction.
The store itself owns two tables: `meta` (JSON values by key: the tenant, the settings, the seed's
digest) and `requests` (the request log, no secrets). Each tenant module (identity, later Graph)
creates its own tables through `ensure_schema()` from its `init_store(store)`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lintel.errors import LintelError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id        INTEGER PRIMARY KEY,
    time      REAL NOT NULL,
    conn      INTEGER,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    query     TEXT,
    form      TEXT,
    status    INTEGER,
    ms        REAL,
    bytes_in  INTEGER,
    bytes_out INTEGER,
    fault     TEXT,
    error     TEXT,
    tls_resumed INTEGER
);
"""

REQUEST_LOG_KEEP = 50_000  # the log keeps the newest rows; a bench run stays far below this


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False,
                                      isolation_level=None, timeout=10)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise LintelError(f"{self.path}: cannot open the tenant's state ({e})") from e
        self.lock = threading.RLock()
        self._depth = 0

    # -- transactions and queries ------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (nested calls join the outer one)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.db
            except BaseException:
                self._depth -= 1
                if outer:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.db.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, params)

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self.lock:
            return self.db.execute(sql, params).fetchone()

    def ensure_schema(self, ddl: str) -> None:
        """Create a module's tables (CREATE TABLE IF NOT EXISTS ...)."""
        with self.lock:
            self.db.executescript(ddl)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, json.dumps(value, sort_keys=True)))

    # -- the request log ------------------------------------------------------------------------

    def log_request(self, entry: dict) -> None:
        row = dict(entry)
        for k in ("query", "form"):
            row[k] = json.dumps(row[k]) if row.get(k) is not None else None
        cols = ("time", "conn", "method", "path", "query", "form", "status", "ms", "bytes_in",
                "bytes_out", "fault", "error", "tls_resumed")
        with self.tx() as db:
            cur = db.execute(f"INSERT INTO requests({', '.join(cols)}) "
                             f"VALUES({', '.join('?' for _ in cols)})",
                             tuple(row.get(c) for c in cols))
            if cur.lastrowid and cur.lastrowid % 1000 == 0:
                db.execute("DELETE FROM requests WHERE id <= ?",
                           (cur.lastrowid - REQUEST_LOG_KEEP,))

    def requests(self, since: int = 0, limit: int | None = None) -> list[dict]:
        """The request log, oldest first (newest last), after id `since`."""
        sql = "SELECT * FROM requests WHERE id > ? ORDER BY id"
        params: tuple = (since,)
        if limit is not None:
            # The newest `limit` rows, still oldest first.
            sql = f"SELECT * FROM ({sql} DESC LIMIT ?) ORDER BY id"
            params = (since, limit)
        out = []
        for r in self.all(sql, params):
            d = dict(r)
            for k in ("query", "form"):
                d[k] = json.loads(d[k]) if d[k] is not None else None
            d["tls_resumed"] = None if d["tls_resumed"] is None else bool(d["tls_resumed"])
            out.append(d)
        return out

    def clear_requests(self) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM requests")
