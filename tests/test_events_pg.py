"""Two receiver processes behind one PostgreSQL database, the way users scale out: every event
delivered to both at once still runs its handler once, and a receiver killed mid-handler leaves
the event to the other once the lease runs out. PostgreSQL runs from a temporary directory on a
loopback port (`make test` installs the binaries when missing)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .events_support import (
    ReceiverProcess,
    event,
    lines,
    post,
    postgres_bin,
    postgres_server,
    start_receiver,
    wait_for,
)
from .test_events import add_account, add_customer, new_id


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (make test installs the postgresql package)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


def rows(pg_url: str) -> dict[int, tuple[str, int]]:
    import psycopg

    with psycopg.connect(pg_url) as db:
        found = db.execute("SELECT i_event, state, attempts FROM portabilling_events").fetchall()
    return {i: (state, attempts) for i, state, attempts in found}


def deliver(url: str, body: dict[str, Any], deadline: float = 20.0) -> list[int]:
    """What PortaBilling does: post, and post again after Retry-After until the answer is 200."""
    codes = []
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        answer = post(url, body)
        codes.append(answer.status_code)
        if answer.status_code == 200:
            return codes
        time.sleep(min(float(answer.headers.get("retry-after", "0.2")), 2.0) / 4)
    raise AssertionError(f"no 200 for {body} within {deadline}s: {codes}")


def test_store_session_settings(pg_url: str) -> None:
    from portabilling.events import open_store

    for url, expected in ((pg_url, "off"), (f"{pg_url}?synchronous_commit=on", "on")):
        store: Any = open_store(url)
        try:
            store.open()
            assert store._db().execute("SHOW synchronous_commit").fetchone() == (expected,)
        finally:
            store.close()


def test_two_receivers_one_database(sim: Any, pg_url: str, tmp_path: Path) -> None:
    # a lease outlives the longest pause a loaded 2-core test machine puts between renewals
    a = start_receiver(tmp_path, pg_url, sim.url, "--lease", "4")
    b = start_receiver(tmp_path, pg_url, sim.url, "--lease", "4")
    try:
        duplicates_to_both_run_once(sim, a, b, pg_url, tmp_path / "effects.log")
        failing_handler_is_not_marked(sim, a, b, pg_url, tmp_path)
        killed_mid_handler_the_other_takes_over(sim, a, b, pg_url, tmp_path / "effects.log")
    finally:
        a.stop()
        b.stop()


def duplicates_to_both_run_once(
    sim: Any, a: ReceiverProcess, b: ReceiverProcess, pg_url: str, log: Path
) -> None:
    i_account = add_account(sim.url, "pg-acc")
    i_customer = add_customer(sim.url, "PG Corp")
    bodies = []
    for n in range(12):
        if n % 2:
            bodies.append(event("Subscriber/Updated", new_id(), i_account=i_account, hold=0.2))
        else:
            bodies.append(
                event("Customer/Updated", str(new_id()), i_customer=i_customer, hold=0.2)
            )
    jobs = [(r.url, body) for body in bodies for r in (a, b, b, a)]
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda job: deliver(*job), jobs))
    assert all(codes[-1] == 200 for codes in answers)
    assert any(409 in codes for codes in answers)  # the duplicates did overlap
    table = rows(pg_url)
    for body in bodies:
        i_event = int(body["variables"]["i_event"])
        assert len(lines(log, f"start {i_event}")) == 1, a.log() + b.log()
        assert len(lines(log, f"done {i_event}")) == 1
        assert table[i_event] == ("done", 1)
    pids = {ln.rpartition("pid=")[2] for ln in lines(log, "done")}
    assert pids <= {str(a.proc.pid), str(b.proc.pid)}


def failing_handler_is_not_marked(
    sim: Any, a: ReceiverProcess, b: ReceiverProcess, pg_url: str, tmp: Path
) -> None:
    i_customer = add_customer(sim.url, "PG Fail Corp")
    i_event = new_id()
    body = event("Customer/Updated", i_event, i_customer=i_customer)
    (tmp / "outage").touch()
    try:
        assert post(a.url, body).status_code == 500
        assert rows(pg_url)[i_event] == ("working", 1)  # given up, not done
        assert post(b.url, body).status_code == 500  # released: the other one runs it at once
    finally:
        (tmp / "outage").unlink()
    assert post(a.url, body).text == "handled\n"
    assert post(b.url, body).text == "handled before\n"
    assert len(lines(tmp / "effects.log", f"start {i_event}")) == 3
    assert len(lines(tmp / "effects.log", f"done {i_event}")) == 1
    assert rows(pg_url)[i_event] == ("done", 3)


def killed_mid_handler_the_other_takes_over(
    sim: Any, a: ReceiverProcess, b: ReceiverProcess, pg_url: str, log: Path
) -> None:
    i_account = add_account(sim.url, "pg-crash")
    i_event = new_id()
    body = event("Subscriber/Created", i_event, i_account=i_account, hold=30)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, a.url, body)
        wait_for(lambda: lines(log, f"start {i_event}"), what="the handler to start")
        a.kill()  # SIGKILL: no cleanup, the claim stays until its lease runs out
        with pytest.raises(httpx.TransportError):
            pending.result()
    quick = {**body, "variables": {**body["variables"], "hold": 0}}
    codes = deliver(b.url, quick)
    assert codes[-1] == 200 and set(codes[:-1]) <= {409}
    assert post(b.url, body).text == "handled before\n"
    assert len(lines(log, f"start {i_event}")) == 2
    done = lines(log, f"done {i_event}")
    assert len(done) == 1 and done[0].endswith(f"pid={b.proc.pid}")
    assert rows(pg_url)[i_event] == ("done", 2)


def test_concurrent_marks_share_statements(pg_url: str) -> None:
    """The receiver's group commit, on one store: marks queued together go in one statement,
    deliveries of one event in one batch still get one claim, and a mark the database refuses
    fails alone."""
    from portabilling.events import Claim, PostgresStore

    store = PostgresStore(pg_url, table="marks_test")
    statements: list[int] = []
    run = store._rows

    async def counted(sql: str, args: Any) -> Any:
        statements.append(len(args["ci"]) + len(args["fi"]) if isinstance(args, dict) else 0)
        return await run(sql, args)

    store._rows = counted  # type: ignore[method-assign]
    base = new_id() * 100

    async def scenario() -> None:
        await store.aopen()
        ids = [base + n % 20 for n in range(60)]  # each event delivered three times at once
        claims = await asyncio.gather(*(store.aclaim(i, "Subscriber/Updated", 30) for i in ids))
        won = {i: c for i, c in zip(ids, claims, strict=True) if c.state is Claim.NEW}
        assert sorted(won) == sorted(set(ids))
        assert all(c.state is Claim.BUSY for c in claims if c not in won.values())
        done = store.acomplete
        marks = await asyncio.gather(
            *(done(i, c.token) for i, c in won.items()),
            store.aclaim(base + 99, "Subscriber/Updated", 30),
            store.aclaim(base + 98, "Bad\x00Type", 30),  # text PostgreSQL cannot hold
            return_exceptions=True,
        )
        assert marks[:20] == [True] * 20
        assert not isinstance(marks[20], BaseException) and marks[20].state is Claim.NEW
        assert isinstance(marks[21], Exception)
        again = await asyncio.gather(*(store.aclaim(i, "Subscriber/Updated", 30) for i in won))
        assert {c.state for c in again} == {Claim.DONE}
        await store.aclose()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    assert len(statements) < 60 + 22 + 20  # fewer statements than marks: they were shared
    assert max(statements) > 1


def test_marks_share_one_statement_unless_it_is_held_up(pg_url: str) -> None:
    """One statement on its way at a time (the next one takes what queued meanwhile), but a
    statement held up by a row lock (another receiver's insert of the same event, not committed
    yet) does not hold up the marks of other events for longer than `HELD_UP`; literal arrays
    carry any text."""
    import psycopg
    from portabilling._runtime.events.pg_sql import HELD_UP
    from portabilling.events import Claim, PostgresStore

    store = PostgresStore(pg_url, table="held_up_test")
    base = new_id() * 100
    odd = 'Sub"scriber\\/{Up,dated} NULL é'

    async def scenario() -> None:
        await store.aopen()
        with psycopg.connect(pg_url) as other:  # a transaction: its row stays locked
            other.execute(
                "INSERT INTO held_up_test (i_event, event_type, state, token, lease_until, "
                "attempts) VALUES (%s, 'x', 'working', 'theirs', now(), 1)",
                (base,),
            )
            blocked = asyncio.ensure_future(store.aclaim(base, "Subscriber/Updated", 30))
            await asyncio.sleep(0.2)
            assert not blocked.done()  # waits for the other transaction's row
            began = time.monotonic()
            claim = await asyncio.wait_for(store.aclaim(base + 1, odd, 30), 5)
            took = time.monotonic() - began
            assert claim.state is Claim.NEW and took < HELD_UP + 1.0, took
            assert await store.acomplete(base + 1, claim.token)
            assert not blocked.done()
            other.rollback()  # the other receiver gave up: the blocked claim is ours now
        first = await asyncio.wait_for(blocked, 5)
        assert first.state is Claim.NEW
        await store.aclose()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    with psycopg.connect(pg_url) as db:
        stored = db.execute(
            "SELECT event_type, state FROM held_up_test WHERE i_event = %s", (base + 1,)
        ).fetchone()
    assert stored == (odd, "done")
