"""PostgreSQL event store: several receivers behind a load balancer share one table.

One statement, one round trip, per state change, each in autocommit (no BEGIN/COMMIT round
trips) and prepared by the driver after a few uses. The claim is an `INSERT ... ON CONFLICT DO
UPDATE ... WHERE lease ran out`: PostgreSQL makes it atomic (a concurrent insert of the same
`i_event` waits for the first to commit, then sees its row), so the database does all the
coordination. The same statement first looks at the event's row, so a retry of a handled event
(or one whose lease is live) is answered from that look, without writing or locking anything.
Times are the database's clock, so receivers on hosts with skewed clocks agree on when a lease
ran out.

The receiver drives the store from its event loop (`aopen`, `aclaim`, `acomplete`, ... on a small
pool of async connections); the blocking methods (one connection per thread) serve `purge` and
code without a loop. The driver (psycopg 3) is imported on first use: `pip install
"psycopg[binary]"`.
"""

from __future__ import annotations

import asyncio
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


class _Sql:
    """The store's statements for one table."""

    def __init__(self, t: str) -> None:
        self.create = f"""CREATE TABLE IF NOT EXISTS {t} (
            i_event BIGINT PRIMARY KEY,
            event_type TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('working', 'done')),
            token TEXT,
            lease_until TIMESTAMPTZ NOT NULL,
            attempts INTEGER NOT NULL,
            first_seen TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            done_at TIMESTAMPTZ,
            last_error TEXT
        )"""
        self.index = f"CREATE INDEX IF NOT EXISTS {t}_done ON {t} (done_at)"
        # `cur` is the row as the statement's snapshot sees it: done, or under a live lease, the
        # insert is skipped (no row lock, no write) and `cur` answers. Otherwise the insert's
        # ON CONFLICT decides on the latest committed row, as if `cur` were not there.
        self.claim = f"""WITH cur AS (
            SELECT state, lease_until FROM {t} WHERE i_event = %(i)s
        ), won AS (
            INSERT INTO {t} AS t (i_event, event_type, state, token, lease_until, attempts)
            SELECT %(i)s, %(type)s, 'working', %(token)s,
                clock_timestamp() + make_interval(secs => %(lease)s), 1
            WHERE NOT EXISTS (
                SELECT FROM cur WHERE state = 'done' OR lease_until > clock_timestamp()
            )
            ON CONFLICT (i_event) DO UPDATE SET
                token = EXCLUDED.token, lease_until = EXCLUDED.lease_until,
                attempts = t.attempts + 1
            WHERE t.state = 'working' AND t.lease_until <= clock_timestamp()
            RETURNING attempts
        )
        SELECT 'new', attempts, 0::float8 FROM won
        UNION ALL
        SELECT state, 0, EXTRACT(EPOCH FROM lease_until - clock_timestamp())::float8
        FROM cur WHERE NOT EXISTS (SELECT FROM won)"""
        # only when the claim lost to a row committed after its snapshot (a race of deliveries)
        self.look = f"""SELECT state, EXTRACT(EPOCH FROM lease_until - clock_timestamp())::float8
            FROM {t} WHERE i_event = %s"""
        self.renew = (
            f"UPDATE {t} SET lease_until = clock_timestamp() + make_interval(secs => %s) "
            "WHERE i_event = %s AND token = %s AND state = 'working'"
        )
        self.complete = (
            f"UPDATE {t} SET state = 'done', token = NULL, done_at = clock_timestamp(), "
            "last_error = NULL WHERE i_event = %s AND token = %s AND state = 'working'"
        )
        self.release = (
            f"UPDATE {t} SET token = NULL, lease_until = '-infinity', last_error = %s "
            "WHERE i_event = %s AND token = %s AND state = 'working'"
        )
        self.purge = (
            f"DELETE FROM {t} WHERE state = 'done' "
            "AND done_at < clock_timestamp() - make_interval(secs => %s)"
        )

    def claim_args(self, i_event: int, event_type: str, token: str, lease: float) -> Any:
        return {"i": i_event, "type": event_type, "token": token, "lease": lease}


def _claimed(row: tuple[Any, ...] | None, token: str) -> Claimed | None:
    """The claim statement's answer; None when its snapshot did not see the row it lost to."""
    if row is None:
        return None
    if row[0] == "new":
        return Claimed(Claim.NEW, token, int(row[1]))
    if row[0] == "done":
        return Claimed(Claim.DONE)
    return Claimed(Claim.BUSY, retry_after=max(0.0, float(row[2])))


def _looked(row: tuple[Any, ...] | None) -> Claimed:
    if row is None:  # purged in between: let the sender come back
        return Claimed(Claim.BUSY, retry_after=1.0)
    if row[0] == "done":
        return Claimed(Claim.DONE)
    return Claimed(Claim.BUSY, retry_after=max(0.0, float(row[1])))


class PostgresStore:
    """Events in a PostgreSQL table, in autocommit connections: up to `threads` blocking ones
    (one per thread) and up to `pool_size` async ones (the receiver's event loop).

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
        pool_size: int = 4,
    ) -> None:
        if synchronous_commit not in _SYNC:
            raise ValueError(f"synchronous_commit must be one of {', '.join(_SYNC)}")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._url = url
        self.synchronous_commit = synchronous_commit
        self.table = check_table(table)
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self._sql = _Sql(self.table)
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        # async connections; a slot holds an idle connection, or None for one not made yet
        self._slots: asyncio.LifoQueue[psycopg.AsyncConnection[Any] | None] | None = None
        self._async_all: set[psycopg.AsyncConnection[Any]] = set()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self._url)!r}, table={self.table!r})"

    def _connect_args(self) -> dict[str, Any]:
        return {"autocommit": True, "connect_timeout": int(self.connect_timeout)}

    @property
    def _session(self) -> str:
        return f"SET synchronous_commit = {self.synchronous_commit}"

    def _refused(self, exc: Exception) -> ConnectionError:
        # the driver's message may quote the conninfo; name the server, not the password
        return ConnectionError(f"cannot connect to {redact(self._url)}: {type(exc).__name__}")

    # ---- blocking: one connection per thread -----------------------------------------------------

    def _db(self) -> psycopg.Connection[Any]:
        db: psycopg.Connection[Any] | None = getattr(self._local, "db", None)
        if db is None or db.closed:
            psycopg = _psycopg()
            try:
                db = psycopg.connect(self._url, **self._connect_args())
            except psycopg.Error as exc:
                raise self._refused(exc) from None
            db.execute(self._session)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def _run(self, sql: str, args: Any) -> Any:
        db = self._db()
        try:
            return db.execute(sql, args)
        except _psycopg().OperationalError:
            db.close()  # a broken connection is made anew on the next call
            raise

    def open(self) -> None:
        with self._db().transaction():
            # two receivers starting at once would race on CREATE TABLE IF NOT EXISTS
            self._run("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
            self._run(self._sql.create, ())
            self._run(self._sql.index, ())

    def claim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        token = new_token()
        args = self._sql.claim_args(i_event, event_type, token, lease)
        claimed = _claimed(self._run(self._sql.claim, args).fetchone(), token)
        if claimed is None:
            claimed = _looked(self._run(self._sql.look, (i_event,)).fetchone())
        return claimed

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        return bool(self._run(self._sql.renew, (lease, i_event, token)).rowcount == 1)

    def complete(self, i_event: int, token: str) -> bool:
        return bool(self._run(self._sql.complete, (i_event, token)).rowcount == 1)

    def release(self, i_event: int, token: str, error: str) -> None:
        self._run(self._sql.release, (error[:200], i_event, token))

    def purge(self, older_than: float) -> int:
        return int(self._run(self._sql.purge, (older_than,)).rowcount)

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(Exception):
                    db.close()
            self._all.clear()
        self._local = threading.local()

    # ---- async: a pool of connections on the caller's event loop ---------------------------------

    async def _aconnect(self) -> psycopg.AsyncConnection[Any]:
        driver = _psycopg()
        try:
            db: psycopg.AsyncConnection[Any] = await driver.AsyncConnection.connect(
                self._url, **self._connect_args()
            )
        except driver.Error as exc:
            raise self._refused(exc) from None
        self._async_all.add(db)
        await db.execute(self._session)
        return db

    async def _arun(self, sql: str, args: Any) -> Any:
        """Run one statement on a pooled connection; its first row and its row count."""
        if self._slots is None:
            self._slots = asyncio.LifoQueue()
            for _ in range(self.pool_size):
                self._slots.put_nowait(None)
        slots = self._slots
        db = await slots.get()
        try:
            if db is None or db.closed:
                db = await self._aconnect()
            cursor = await db.execute(sql, args)
            row = await cursor.fetchone() if cursor.description is not None else None
            return row, cursor.rowcount
        except _psycopg().OperationalError:
            if db is not None:
                self._async_all.discard(db)
                await db.close()  # a broken connection is made anew on the next call
            db = None
            raise
        finally:
            slots.put_nowait(db)

    async def aopen(self) -> None:
        db = await self._aconnect()
        try:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
                await db.execute(self._sql.create)
                await db.execute(self._sql.index)
        finally:
            self._async_all.discard(db)
            await db.close()

    async def aclaim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        token = new_token()
        args = self._sql.claim_args(i_event, event_type, token, lease)
        claimed = _claimed((await self._arun(self._sql.claim, args))[0], token)
        if claimed is None:
            claimed = _looked((await self._arun(self._sql.look, (i_event,)))[0])
        return claimed

    async def arenew(self, i_event: int, token: str, lease: float) -> bool:
        return bool((await self._arun(self._sql.renew, (lease, i_event, token)))[1] == 1)

    async def acomplete(self, i_event: int, token: str) -> bool:
        return bool((await self._arun(self._sql.complete, (i_event, token)))[1] == 1)

    async def arelease(self, i_event: int, token: str, error: str) -> None:
        await self._arun(self._sql.release, (error[:200], i_event, token))

    async def aclose(self) -> None:
        for db in list(self._async_all):
            with contextlib.suppress(Exception):
                await db.close()
        self._async_all.clear()
        self._slots = None
