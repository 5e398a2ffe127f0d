"""The PostgreSQL event store's statements, and the group commit that shares them between events.

A claim and a done mark are one statement, and one statement carries any number of them: the
receiver's concurrent requests queue their marks, and while a statement of theirs is on the way
to the database, the next one waits to take everything queued meanwhile (`Marks`). An idle
receiver sends each mark at once, alone; a busy one sends fewer, larger statements, each still
one autocommit transaction. A statement costs the database and the driver far more than a mark
in it, so the fewer statements per event, the less CPU per event: one on its way at a time,
unless it is held up (a row lock another receiver holds): a mark that has waited `HELD_UP`
seconds starts a second one, so a held-up statement holds up only its own marks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .store import Claim, Claimed

LIMIT = 64  # marks in one statement
PARALLEL = 2  # statements on their way at once: one held up (a row lock) holds up only its marks
HELD_UP = 0.05  # seconds a mark waits behind a statement on its way before a second one starts


class Sql:
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
        # `fin` marks events done. A claim inserts its event as `working` under a lease, or
        # takes over a `working` row whose lease ran out: the INSERT's ON CONFLICT decides on the
        # latest committed row, atomically. `cur` is the row as the statement's snapshot sees
        # it: done, or under a live lease, the claim skips the insert (no write, no row lock)
        # and `cur` answers. Claims insert in i_event order, so two receivers' statements lock
        # rows in one order. A statement never holds two marks of one event.
        self.marks = f"""WITH fin AS (
            UPDATE {t} AS t SET state = 'done', token = NULL, done_at = clock_timestamp(),
                last_error = NULL
            FROM unnest(%(fi)s::bigint[], %(ft)s::text[]) AS f(i_event, token)
            WHERE t.i_event = f.i_event AND t.token = f.token AND t.state = 'working'
            RETURNING t.i_event
        ), req AS (
            SELECT * FROM unnest(%(ci)s::bigint[], %(ce)s::text[], %(ct)s::text[],
                %(cl)s::float8[]) AS r(i_event, event_type, token, lease)
        ), cur AS (
            SELECT i_event, t.state, t.lease_until FROM {t} AS t JOIN req USING (i_event)
        ), won AS (
            INSERT INTO {t} AS t (i_event, event_type, state, token, lease_until, attempts)
            SELECT i_event, event_type, 'working', token,
                clock_timestamp() + make_interval(secs => lease), 1
            FROM req WHERE NOT EXISTS (
                SELECT FROM cur WHERE cur.i_event = req.i_event
                AND (cur.state = 'done' OR cur.lease_until > clock_timestamp())
            )
            ORDER BY i_event
            ON CONFLICT (i_event) DO UPDATE SET
                token = EXCLUDED.token, lease_until = EXCLUDED.lease_until,
                attempts = t.attempts + 1
            WHERE t.state = 'working' AND t.lease_until <= clock_timestamp()
            RETURNING t.i_event, t.attempts
        )
        SELECT i_event, 'fin', 0, 0::float8 FROM fin
        UNION ALL
        SELECT i_event, 'new', attempts, 0::float8 FROM won
        UNION ALL
        SELECT i_event, state, 0, EXTRACT(EPOCH FROM lease_until - clock_timestamp())::float8
        FROM cur WHERE i_event NOT IN (SELECT i_event FROM won)"""
        # only for a claim that lost to a row committed after its snapshot (racing deliveries)
        self.look = f"""SELECT i_event, state, 0,
            EXTRACT(EPOCH FROM lease_until - clock_timestamp())::float8
            FROM {t} WHERE i_event = ANY(%s::bigint[])"""
        self.renew = (
            f"UPDATE {t} SET lease_until = clock_timestamp() + make_interval(secs => %s) "
            "WHERE i_event = %s AND token = %s AND state = 'working'"
        )
        self.release = (
            f"UPDATE {t} SET token = NULL, lease_until = '-infinity', last_error = %s "
            "WHERE i_event = %s AND token = %s AND state = 'working'"
        )
        self.purge = (
            f"DELETE FROM {t} WHERE state = 'done' "
            "AND done_at < (SELECT clock_timestamp() - make_interval(secs => %s))"
        )


ClaimArgs = tuple[int, str, str, float]  # i_event, event_type, token, lease
DoneArgs = tuple[int, str]  # i_event, token
Rows = list[tuple[Any, ...]]


def mark_args(claims: list[ClaimArgs], dones: list[DoneArgs]) -> dict[str, str]:
    """The marks as array literals (`{1,2}`), each one text parameter the statement casts: the
    driver sends a text as it is, where a list costs it a conversion per element (once the bulk
    of a statement's CPU on our side)."""
    return {
        "fi": _numbers([d[0] for d in dones]),
        "ft": _texts([d[1] for d in dones]),
        "ci": _numbers([c[0] for c in claims]),
        "ce": _texts([c[1] for c in claims]),
        "ct": _texts([c[2] for c in claims]),
        "cl": _numbers([c[3] for c in claims]),
    }


def _numbers(values: list[int] | list[float]) -> str:
    # repr, not str: a float keeps every digit (and a bool or NaN is no int or lease by now)
    return "{" + ",".join([repr(v) for v in values]) + "}"


def _texts(values: list[str]) -> str:
    """Each text quoted, `\\` and `"` escaped: the array literal's only special characters
    inside quotes (a NUL, which no PostgreSQL text can hold, is refused by the driver)."""
    return (
        '{"'
        + '","'.join([v.replace("\\", "\\\\").replace('"', '\\"') for v in values])
        + '"}'
        if values
        else "{}"
    )


def answers(claims: list[ClaimArgs], rows: Rows, looked: Rows) -> list[Claimed]:
    """Each claim's answer from the rows of `marks` and, for those it had none for, of `look`."""
    by_event = {row[0]: row for row in looked}
    by_event.update((row[0], row) for row in rows if row[1] != "fin")
    out = []
    for i_event, _, token, _ in claims:
        row = by_event.get(i_event)
        if row is None:  # purged in between: let the sender come back
            out.append(Claimed(Claim.BUSY, retry_after=1.0))
        elif row[1] == "new":
            out.append(Claimed(Claim.NEW, token, int(row[2])))
        elif row[1] == "done":
            out.append(Claimed(Claim.DONE))
        else:
            out.append(Claimed(Claim.BUSY, retry_after=max(0.0, float(row[3]))))
    return out


def unanswered(claims: list[ClaimArgs], rows: Rows) -> list[int]:
    seen = {row[0] for row in rows if row[1] != "fin"}
    return [c[0] for c in claims if c[0] not in seen]


Run = Callable[[str, Any], Awaitable[Rows]]


def _futures(
    claims: list[tuple[ClaimArgs, asyncio.Future[Claimed]]],
    dones: list[tuple[DoneArgs, asyncio.Future[bool]]],
) -> list[asyncio.Future[Any]]:
    return [c[1] for c in claims] + [d[1] for d in dones]


class Marks:
    """Group commit of claims and done marks on an event loop: one statement on its way, the
    next one takes everything queued meanwhile; up to `parallel` once marks have waited
    `held_up` seconds behind one. `run(sql, args)` executes one."""

    def __init__(
        self,
        sql: Sql,
        run: Run,
        is_transient: Callable[[Exception], bool],
        parallel: int = PARALLEL,
        held_up: float = HELD_UP,
    ) -> None:
        self._sql = sql
        self.parallel = parallel  # statements on their way at once
        self.held_up = held_up
        self._run = run
        self._transient = is_transient  # the connection failed: no point trying one by one
        self._claims: list[tuple[ClaimArgs, asyncio.Future[Claimed]]] = []
        self._dones: list[tuple[DoneArgs, asyncio.Future[bool]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._taken = 0.0  # when a statement last took the queued marks
        self._timer: asyncio.TimerHandle | None = None  # checks whether marks are held up

    def claim(self, args: ClaimArgs) -> asyncio.Future[Claimed]:
        future: asyncio.Future[Claimed] = asyncio.get_running_loop().create_future()
        self._claims.append((args, future))
        self._kick()
        return future

    def complete(self, args: DoneArgs) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._dones.append((args, future))
        self._kick()
        return future

    async def aclose(self) -> None:
        """Wait for the statement on its way (its marks are being written) and what is queued."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushers:
            await asyncio.wait(self._flushers, timeout=10)

    def _kick(self) -> None:
        if not self._flushers:
            self._start()
        elif self._timer is None and len(self._flushers) < self.parallel:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(self._taken + self.held_up, self._check)

    def _start(self) -> None:
        # a task, not a call now: marks queued by this turn of the loop go together
        loop = asyncio.get_running_loop()
        self._taken = loop.time()  # held up counts from here until it takes its marks
        self._flushers.add(loop.create_task(self._flush_all()))

    def _check(self) -> None:
        """Start another statement if marks have waited `held_up` behind the ones on their way."""
        self._timer = None
        if not (self._claims or self._dones) or len(self._flushers) >= self.parallel:
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= self._taken + self.held_up or not self._flushers:
            self._start()
        else:
            self._timer = loop.call_at(self._taken + self.held_up, self._check)

    async def _flush_all(self) -> None:
        try:
            while self._claims or self._dones:
                dones, self._dones = self._dones[:LIMIT], self._dones[LIMIT:]
                dones.sort(key=lambda d: d[0][0])  # rows locked in one order, as claims do
                taken = {d[0][0] for d in dones}
                claims: list[tuple[ClaimArgs, asyncio.Future[Claimed]]] = []
                later: list[tuple[ClaimArgs, asyncio.Future[Claimed]]] = []
                for item in self._claims:
                    if item[1].done():  # its request went away before the claim was sent
                        continue
                    # one mark per event and statement: a second one waits for the next
                    if item[0][0] in taken or len(claims) + len(dones) >= LIMIT:
                        later.append(item)
                    else:
                        taken.add(item[0][0])
                        claims.append(item)
                self._claims = later
                self._taken = asyncio.get_running_loop().time()
                await self._flush(claims, dones)
        except asyncio.CancelledError:  # the store is closing
            for future in _futures(self._claims, self._dones):
                future.cancel()
            self._claims, self._dones = [], []
            raise
        finally:
            # at once, not in a done callback: a mark queued before that would find no flusher
            me = asyncio.current_task()
            if me is not None:
                self._flushers.discard(me)

    async def _flush(
        self,
        claims: list[tuple[ClaimArgs, asyncio.Future[Claimed]]],
        dones: list[tuple[DoneArgs, asyncio.Future[bool]]],
    ) -> None:
        try:
            results = await self._send([c[0] for c in claims], [d[0] for d in dones])
        except asyncio.CancelledError:
            for future in _futures(claims, dones):
                future.cancel()
            raise
        except Exception as exc:
            if len(claims) + len(dones) > 1 and not self._transient(exc):
                # one bad mark (or a deadlock between receivers) fails the statement, and no
                # part of it was written: send them one by one, so each gets its own answer
                for claim in claims:
                    await self._flush([claim], [])
                for mark in dones:
                    await self._flush([], [mark])
                return
            for future in _futures(claims, dones):
                if not future.done():
                    future.set_exception(exc)
            return
        claimed, finished = results
        for (_, future), answer in zip(claims, claimed, strict=True):
            if not future.done():
                future.set_result(answer)
        for args, marked in dones:
            if not marked.done():
                marked.set_result(args[0] in finished)

    async def _send(
        self, claims: list[ClaimArgs], dones: list[DoneArgs]
    ) -> tuple[list[Claimed], set[int]]:
        rows = await self._run(self._sql.marks, mark_args(claims, dones))
        missing = unanswered(claims, rows)
        looked = await self._run(self._sql.look, (missing,)) if missing else []
        return answers(claims, rows, looked), {row[0] for row in rows if row[1] == "fin"}
