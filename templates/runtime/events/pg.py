"""PostgreSQL event store: several receivers behind a load balancer share one table.

Claims and done marks are one statement (`pg_sql`), in autocommit: no BEGIN/COMMIT round
trips, prepared by the driver after a few uses. The claim is an `INSERT ... ON CONFLICT DO UPDATE
... WHERE lease ran out`: PostgreSQL makes it atomic (a concurrent insert of the same `i_event`
waits for the first to commit, then sees its row), so the database does all the coordination.
Times are the database's clock, so receivers on hosts with skewed clocks agree on when a lease
ran out.

The receiver drives the store from its event loop (`aopen`, `aclaim`, `acomplete`, ... on a small
pool of async connections), where concurrent requests' marks share statements (group commit);
the blocking methods (one connection per thread, one statement per mark) serve `purge` and code
without a loop. The driver (psycopg 3) is imported on first use: `pip install "psycopg[binary]"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any

from ..redact import mask_url
from .pg_sql import Marks, Rows, Sql, answers, mark_args, unanswered
from .store import TABLE, Claimed, check_table, new_token

if TYPE_CHECKING:  # optional: the package type-checks without it (then psycopg is Any)
    import psycopg  # type: ignore[import-not-found, unused-ignore]


def _psycopg() -> Any:
    try:
        import psycopg  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise RuntimeError(
            'the PostgreSQL event store needs psycopg 3: pip install "psycopg[binary]"'
        ) from None
    return psycopg


_SYNC = ("off", "local", "on", "remote_write", "remote_apply")


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
        self._sql = Sql(self.table)
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        # async connections; a slot holds an idle connection, or None for one not made yet
        self._slots: asyncio.LifoQueue[psycopg.AsyncConnection[Any] | None] | None = None
        self._async_all: set[psycopg.AsyncConnection[Any]] = set()
        self._marks: Marks | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({mask_url(self._url)!r}, table={self.table!r})"

    def _connect_args(self) -> dict[str, Any]:
        return {"autocommit": True, "connect_timeout": int(self.connect_timeout)}

    @property
    def _session(self) -> str:
        # The mark statement is planned once per connection (PostgreSQL's default re-plans it at
        # each run, which costs more than running it), and its plan must not depend on the
        # table's size when it was made: started on an empty table, the planner would pick
        # sequential scans and hash joins and keep them as the table grows. Index lookups by
        # i_event are right for any size, since a statement carries at most 64 events (and no
        # JIT compiling for statements this small). These hold only in the store's connections.
        return (
            f"SET synchronous_commit = {self.synchronous_commit}; "
            "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; "
            "SET enable_hashjoin = off; SET enable_mergejoin = off; SET jit = off"
        )

    def _refused(self, exc: Exception) -> ConnectionError:
        # the driver's message may quote the conninfo; name the server, not the password
        return ConnectionError(f"cannot connect to {mask_url(self._url)}: {type(exc).__name__}")

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
        claims = [(i_event, event_type, new_token(), lease)]
        rows = self._run(self._sql.marks, mark_args(claims, [])).fetchall()
        missing = unanswered(claims, rows)
        looked = self._run(self._sql.look, (missing,)).fetchall() if missing else []
        return answers(claims, rows, looked)[0]

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        return bool(self._run(self._sql.renew, (lease, i_event, token)).rowcount == 1)

    def complete(self, i_event: int, token: str) -> bool:
        rows = self._run(self._sql.marks, mark_args([], [(i_event, token)])).fetchall()
        return len(rows) == 1

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

    async def _arun(self, sql: str, args: Any) -> tuple[Rows, int]:
        """Run one statement on a pooled connection: its rows and its row count."""
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
            rows = await cursor.fetchall() if cursor.description is not None else []
            return rows, cursor.rowcount
        except _psycopg().OperationalError:
            if db is not None:
                self._async_all.discard(db)
                await db.close()  # a broken connection is made anew on the next call
            db = None
            raise
        finally:
            slots.put_nowait(db)

    async def _rows(self, sql: str, args: Any) -> Rows:
        return (await self._arun(sql, args))[0]

    def _transient(self, exc: Exception) -> bool:
        return isinstance(exc, _psycopg().OperationalError)

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

    def _group(self) -> Marks:
        if self._marks is None:
            self._marks = Marks(self._sql, self._rows, self._transient)
        return self._marks

    async def aclaim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        return await self._group().claim((i_event, event_type, new_token(), lease))

    async def arenew(self, i_event: int, token: str, lease: float) -> bool:
        return (await self._arun(self._sql.renew, (lease, i_event, token)))[1] == 1

    async def acomplete(self, i_event: int, token: str) -> bool:
        return await self._group().complete((i_event, token))

    async def arelease(self, i_event: int, token: str, error: str) -> None:
        await self._arun(self._sql.release, (error[:200], i_event, token))

    async def aclose(self) -> None:
        if self._marks is not None:
            await self._marks.aclose()
            self._marks = None
        for db in list(self._async_all):
            with contextlib.suppress(Exception):
                await db.close()
        self._async_all.clear()
        self._slots = None
