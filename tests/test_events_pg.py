"""Two receiver processes behind one PostgreSQL database, the way users scale out: every event
delivered to both at once still runs its handler once, and a receiver killed mid-handler leaves
the event to the other once the lease runs out. PostgreSQL runs from a temporary directory on a
loopback port (`make test` installs the binaries when missing)."""

from __future__ import annotations

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
