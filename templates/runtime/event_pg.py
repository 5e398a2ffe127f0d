"""PostgreSQL event store: several receivers behind a load balancer share one table.

The claim is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE lease ran out` statement: PostgreSQL
makes it atomic (a concurrent insert of the same `i_event` waits for the first to commit, then
sees its row), so the database does all the coordination. Times are the database's clock, so
receivers on hosts with skewed clocks agree on when a lease ran out. The driver (psycopg 3) is
imported on first use: `pip install "psycopg[binary]"`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from .event_store import TABLE, Claim, Claimed, check_table, new_token, redact

if TYPE_CHECKING:
    import psycopg


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise RuntimeError(
            'the PostgreSQL event store needs psycopg 3: pip install "psycopg[binary]"'
        ) from None
    return psycopg


_SYNC = ("off", "local", "on", "remote_write", "remote_apply")


class PostgresStore:
    """Events in a PostgreSQL table; one autocommit connection per store thread.

    `synchronous_commit="off"` (the default, set per session) is the same trade as SQLite's
    `synchronous=NORMAL`: marks survive a crash of the receiver, but a crash of the database
    server may forget the last fraction of a second of them, which costs at most a repeated
    handler run on a later retry. "on" flushes the WAL to disk for every mark (two per event).
    """

    threads = 4

    def __init__(
        self,
        url: str,
        *,
        table: str = TABLE,
        connect_timeout: float = 10.0,
        synchronous_commit: str = "off",
    ) -> None:
        if synchronous_commit not in _SYNC:
            raise ValueError(f"synchronous_commit must be one of {', '.join(_SYNC)}")
        self._url = url
        self.synchronous_commit = synchronous_commit
        self.table = check_table(table)
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self._url)!r}, table={self.table!r})"

    def _db(self) -> psycopg.Connection[Any]:
        db: psycopg.Connection[Any] | None = getattr(self._local, "db", None)
        if db is None or db.closed:
            psycopg = _psycopg()
            try:
                db = psycopg.connect(
                    self._url, autocommit=True, connect_timeout=int(self.connect_timeout)
                )
            except psycopg.Error as exc:
                # the driver's message may quote the conninfo; name the server, not the password
                raise ConnectionError(
                    f"cannot connect to {redact(self._url)}: {type(exc).__name__}"
                ) from None
            db.execute(f"SET synchronous_commit = {self.synchronous_commit}")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def _run(self, sql: str, args: tuple[Any, ...]) -> Any:
        db = self._db()
        try:
            return db.execute(sql, args)
        except _psycopg().OperationalError:
            db.close()  # a broken connection is made anew on the next call
            raise

    def open(self) -> None:
        t = self.table
        with self._db().transaction():
            # two receivers starting at once would race on CREATE TABLE IF NOT EXISTS
            self._run("SELECT pg_advisory_xact_lock(hashtext(%s))", (t,))
            self._run(
                f"""CREATE TABLE IF NOT EXISTS {t} (
                    i_event BIGINT PRIMARY KEY,
                    event_type TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('working', 'done')),
                    token TEXT,
                    lease_until TIMESTAMPTZ NOT NULL,
                    attempts INTEGER NOT NULL,
                    first_seen TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                    done_at TIMESTAMPTZ,
                    last_error TEXT
                )""",
                (),
            )
            self._run(f"CREATE INDEX IF NOT EXISTS {t}_done ON {t} (done_at)", ())

    def claim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        token = new_token()
        row = self._run(
            f"""INSERT INTO {self.table} AS t
                (i_event, event_type, state, token, lease_until, attempts)
            VALUES (%s, %s, 'working', %s, clock_timestamp() + make_interval(secs => %s), 1)
            ON CONFLICT (i_event) DO UPDATE SET
                token = EXCLUDED.token, lease_until = EXCLUDED.lease_until,
                attempts = t.attempts + 1
            WHERE t.state = 'working' AND t.lease_until <= clock_timestamp()
            RETURNING attempts""",
            (i_event, event_type, token, lease),
        ).fetchone()
        if row is not None:
            return Claimed(Claim.NEW, token, int(row[0]))
        found = self._run(
            f"""SELECT state, EXTRACT(EPOCH FROM lease_until - clock_timestamp())::float8
            FROM {self.table} WHERE i_event = %s""",
            (i_event,),
        ).fetchone()
        if found is None:  # purged in between: let the sender come back
            return Claimed(Claim.BUSY, retry_after=1.0)
        if found[0] == "done":
            return Claimed(Claim.DONE)
        return Claimed(Claim.BUSY, retry_after=max(0.0, float(found[1])))

    def _update(self, sql: str, args: tuple[Any, ...]) -> bool:
        return bool(self._run(sql, args).rowcount == 1)

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        return self._update(
            f"UPDATE {self.table} SET lease_until = clock_timestamp() + make_interval(secs => %s) "
            "WHERE i_event = %s AND token = %s AND state = 'working'",
            (lease, i_event, token),
        )

    def complete(self, i_event: int, token: str) -> bool:
        return self._update(
            f"UPDATE {self.table} SET state = 'done', token = NULL, done_at = clock_timestamp(), "
            "last_error = NULL WHERE i_event = %s AND token = %s AND state = 'working'",
            (i_event, token),
        )

    def release(self, i_event: int, token: str, error: str) -> None:
        self._update(
            f"UPDATE {self.table} SET token = NULL, lease_until = '-infinity', last_error = %s "
            "WHERE i_event = %s AND token = %s AND state = 'working'",
            (error[:200], i_event, token),
        )

    def purge(self, older_than: float) -> int:
        cursor = self._run(
            f"DELETE FROM {self.table} WHERE state = 'done' "
            "AND done_at < clock_timestamp() - make_interval(secs => %s)",
            (older_than,),
        )
        return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(Exception):
                    db.close()
            self._all.clear()
        self._local = threading.local()
