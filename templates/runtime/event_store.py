"""Where the receiver remembers events by `i_event`: a claim with a lease, then a done mark.

One row per event. `claim` inserts it as `working` with a lease (an expiry), or takes over a
`working` row whose lease ran out (its receiver died or gave up), in one atomic statement, so two
deliveries of one event can never both win. The winner runs the handler, renews the lease while
it runs, and marks the row `done` only after the handler returned; a failure clears the lease so
the next retry runs it again. The methods block: the receiver calls them from its own threads,
unless the store is also an `AsyncEventStore` (the same methods, awaitable, prefixed `a`), which
the receiver drives from its event loop instead.

`SqliteStore` (embedded, a file; the default) is here; `PostgresStore` (several receivers behind a
load balancer) is in `event_pg`. `open_store(url)` picks one from a URL.
"""

from __future__ import annotations

import contextlib
import enum
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TABLE = "portabilling_events"
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Claim(enum.Enum):
    NEW = "new"  # ours to handle (first delivery, or a retry after a failure or a dead receiver)
    DONE = "done"  # handled before: answer 200, do nothing
    BUSY = "busy"  # another delivery holds a live lease: answer "later"


@dataclass(frozen=True)
class Claimed:
    state: Claim
    token: str = ""  # proves ownership to renew/complete/release; only set for NEW
    attempts: int = 0  # deliveries that ran the handler, this one included (NEW only)
    retry_after: float = 0.0  # seconds until a BUSY row's lease runs out


class EventStore(Protocol):
    """What the receiver needs from a store; every method may block."""

    threads: int  # how many threads may use the store at once

    def open(self) -> None:
        """Create the table if missing; called once before the first claim."""

    def claim(self, i_event: int, event_type: str, lease: float) -> Claimed: ...

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        """Push the lease `lease` seconds ahead; False when the claim is no longer ours."""
        ...

    def complete(self, i_event: int, token: str) -> bool:
        """Mark the event handled; False when the claim is no longer ours."""
        ...

    def release(self, i_event: int, token: str, error: str) -> None:
        """Give the claim up after a failure, so the next retry runs the handler again."""

    def purge(self, older_than: float) -> int:
        """Forget events handled more than `older_than` seconds ago; how many went."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncEventStore(Protocol):
    """`EventStore`'s methods for an event loop: a store with these is driven without threads."""

    async def aopen(self) -> None: ...

    async def aclaim(self, i_event: int, event_type: str, lease: float) -> Claimed: ...

    async def arenew(self, i_event: int, token: str, lease: float) -> bool: ...

    async def acomplete(self, i_event: int, token: str) -> bool: ...

    async def arelease(self, i_event: int, token: str, error: str) -> None: ...

    async def aclose(self) -> None: ...


def check_table(table: str) -> str:
    if not _IDENT.fullmatch(table):
        raise ValueError(f"table name {table!r}: use lower-case letters, digits and _")
    return table


def new_token() -> str:
    return uuid.uuid4().hex


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


def redact(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def open_store(url: str, *, table: str = TABLE) -> EventStore:
    """A store from a URL: `sqlite:///relative.db`, `sqlite:////absolute.db` (`?synchronous=full`
    to sync every commit), or `postgresql://user@host:5432/dbname` (password from PGPASSWORD or
    ~/.pgpass, or in the URL; `?synchronous_commit=on` to flush every mark; other parameters go
    to libpq)."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError(
                f"store URL {url!r}: write sqlite:///relative.db or sqlite:////abs.db"
            )
        path, _, query = rest[1:].partition("?")
        options = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ValueError(f"store URL {url!r}: unknown option(s) {', '.join(sorted(unknown))}")
        return SqliteStore(path, table=table, synchronous=options.get("synchronous", "NORMAL"))
    if scheme in ("postgresql", "postgres"):
        from .event_pg import PostgresStore

        parts = urlsplit(url)
        params = parse_qsl(parts.query, keep_blank_values=True)
        sync = [value for key, value in params if key == "synchronous_commit"]
        libpq = urlencode([(key, value) for key, value in params if key != "synchronous_commit"])
        rest = urlunsplit(parts._replace(query=libpq))
        return PostgresStore(rest, table=table, synchronous_commit=(sync or ["off"])[-1])
    raise ValueError(f"store URL {redact(url)!r}: the scheme must be sqlite:// or postgresql://")
