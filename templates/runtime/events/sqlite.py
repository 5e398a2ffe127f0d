"""`SqliteStore`: the event store in an SQLite file (embedded; the default)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

from .store import TABLE, Claim, Claimed, check_table, new_token


class SqliteStore:
    """Events in an SQLite file. WAL mode; one connection per thread; claims in BEGIN IMMEDIATE.

    `synchronous="NORMAL"` (the default) survives a crash of the receiver but may lose the last
    marks on power loss, which costs at most a repeated handler run on a later retry; "FULL" syncs
    every commit. Several receiver processes on one host may share the file.
    """

    threads = 2  # SQLite writes one transaction at a time; more threads only queue

    def __init__(
        self,
        path: str | Path,
        *,
        table: str = TABLE,
        synchronous: str = "NORMAL",
        busy_timeout: float = 10.0,
    ) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(
                "SqliteStore needs a file path (each thread would get its own memory)"
            )
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.table = check_table(table)
        self.synchronous = synchronous.upper()
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, table={self.table!r})"

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db().execute(f"""CREATE TABLE IF NOT EXISTS {self.table} (
                i_event INTEGER PRIMARY KEY,
                event_type TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('working', 'done')),
                token TEXT,
                lease_until REAL NOT NULL,
                attempts INTEGER NOT NULL,
                first_seen REAL NOT NULL,
                done_at REAL,
                last_error TEXT
            )""")
        self._db().execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_done ON {self.table} (done_at)"
        )

    def claim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        db = self._db()
        token = new_token()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                f"""INSERT INTO {self.table} AS t
                    (i_event, event_type, state, token, lease_until, attempts, first_seen)
                VALUES (?, ?, 'working', ?, ?, 1, ?)
                ON CONFLICT (i_event) DO UPDATE SET
                    token = excluded.token, lease_until = excluded.lease_until,
                    attempts = t.attempts + 1
                WHERE t.state = 'working' AND t.lease_until <= ?
                RETURNING attempts""",
                (i_event, event_type, token, now + lease, now, now),
            ).fetchone()
            if row is not None:
                claimed = Claimed(Claim.NEW, token, int(row[0]))
            else:
                state, until = db.execute(
                    f"SELECT state, lease_until FROM {self.table} WHERE i_event = ?", (i_event,)
                ).fetchone()
                claimed = (
                    Claimed(Claim.DONE)
                    if state == "done"
                    else Claimed(Claim.BUSY, retry_after=max(0.0, until - now))
                )
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return claimed

    def _update(self, sql: str, args: tuple[object, ...]) -> bool:
        return self._db().execute(sql, args).rowcount == 1

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        return self._update(
            f"UPDATE {self.table} SET lease_until = ? "
            "WHERE i_event = ? AND token = ? AND state = 'working'",
            (time.time() + lease, i_event, token),
        )

    def complete(self, i_event: int, token: str) -> bool:
        return self._update(
            f"UPDATE {self.table} SET state = 'done', token = NULL, done_at = ?, "
            "last_error = NULL WHERE i_event = ? AND token = ? AND state = 'working'",
            (time.time(), i_event, token),
        )

    def release(self, i_event: int, token: str, error: str) -> None:
        self._update(
            f"UPDATE {self.table} SET token = NULL, lease_until = 0, last_error = ? "
            "WHERE i_event = ? AND token = ? AND state = 'working'",
            (error[:200], i_event, token),
        )

    def purge(self, older_than: float) -> int:
        cursor = self._db().execute(
            f"DELETE FROM {self.table} WHERE state = 'done' AND done_at < ?",
            (time.time() - older_than,),
        )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._all.clear()
        self._local = threading.local()
