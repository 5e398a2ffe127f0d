"""Provisioning-event throughput (issue 15): `python -m portabilling.events serve` with the SQLite
store and with the PostgreSQL store, against a bare ASGI endpoint that makes the same typed call
without store, authentication or duplicate detection. Every server is uvicorn in its own process;
each event's handler reads the account from the simulator (its own process) with one typed call.
The load: 16 requests in flight, one request in five a duplicate of a recent event (a retry of a
handled one, or a delivery of one still being handled), as PortaBilling's retries would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 16
EVENTS = int(os.environ.get("BENCH_EVENTS", "1500"))  # requests per measured run
ROUNDS = 3

_SIM = """
import sys
sys.path[:0] = [{generated!r}, {root!r}]
from portabilling import AdminClient
from portabilling.types import AccountInfo, CustomerInfo
from generator.simulator.server import serve
with serve("portabilling") as sim:
    with AdminClient(sim.url, login="admin", password="secret") as c:
        i_customer = c.customer.add_customer(
            customer_info=CustomerInfo(name="bench", iso_4217="USD")).i_customer
        i_account = c.account.add_account(account_info=AccountInfo(
            id="bench-acc", i_customer=i_customer, iso_4217="USD")).i_account
    print(sim.url, i_account, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def simulator() -> Iterator[tuple[str, int]]:
    code = _SIM.format(generated=str(ROOT / "generated"), root=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url, i_account = proc.stdout.readline().split()
        yield url, int(i_account)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """User + system CPU of a live process (and of its live children: PostgreSQL's backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(entry.name) == pid or (with_children and int(fields[1]) == pid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def bare_endpoint(api_url: str) -> Iterator[tuple[str, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "generated"), str(ROOT)]),
        "PORTABILLING_API_URL": api_url,
        "PORTABILLING_API_LOGIN": "admin",
        "PORTABILLING_API_PASSWORD": "secret",
    }
    cmd = [sys.executable, "-m", "uvicorn", "tests.bench.bare_events:app", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        from tests.events_support import _answers, wait_for

        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _answers(url), what="the bare endpoint")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def requests(i_account: int, first: int, count: int, seed: int) -> list[bytes]:
    """`count` bodies: new events from `first` on, every fifth one a repeat of a recent one."""
    rng = random.Random(seed)
    out: list[bytes] = []
    sent: list[int] = []
    n = first
    while len(out) < count:
        if len(out) % 5 == 4:
            i_event = rng.choice(sent[-40:])
        else:
            i_event, n = n, n + 1
            sent.append(i_event)
        out.append(
            b'{"event_type":"Subscriber/Updated","variables":{"i_event":%d,"i_account":%d}}'
            % (i_event, i_account)
        )
    return out


async def _load(url: str, bodies: list[bytes]) -> tuple[float, list[float], dict[int, int]]:
    import httpx
    from portabilling import AsyncPooledTransport

    from tests.events_support import AUTH

    headers = {"Content-Type": "application/json", "Authorization": AUTH}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    todo = iter(bodies)
    async with httpx.AsyncClient(transport=AsyncPooledTransport(), timeout=60) as http:

        async def worker() -> None:
            for body in todo:
                start = time.perf_counter()
                answer = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    return len(bodies) / elapsed, latencies, statuses


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if q < 100 else max(xs)


def measure(api: str, i_account: int) -> dict[str, Any]:
    """Per server kind: events/s of each round, all latencies, status counts, rows stored; the
    handlers call `api` (the simulator, or a canned server) for account `i_account`."""
    from tests.events_support import POSTMASTERS, postgres_server, start_receiver

    results: dict[str, Any] = {
        k: {"rates": [], "lat": [], "statuses": {}, "cpu": [], "cpu_own": []} for k in KINDS
    }
    with tempfile.TemporaryDirectory() as tmp, postgres_server(durable=True) as pg:
        sqlite_db = Path(tmp) / "events.db"
        servers: dict[str, str] = {}
        pids: dict[str, int] = {}
        with contextlib.ExitStack() as stack:
            extra = ("--log-level", "warning")
            module = "tests.bench.event_handlers"
            for kind, store in (("sqlite", f"sqlite:///{sqlite_db}"), ("postgresql", pg)):
                proc = start_receiver(Path(tmp), store, api, *extra, module=module)
                stack.callback(proc.stop)
                servers[kind], pids[kind] = proc.url, proc.proc.pid
            servers["bare"], pids["bare"] = stack.enter_context(bare_endpoint(api))

            def cpu(kind: str) -> tuple[float, float]:
                """(CPU of the server process, and of the database too: a store's cost)."""
                own = cpu_seconds(pids[kind])
                db = cpu_seconds(POSTMASTERS[-1], True) if kind == "postgresql" else 0.0
                return own, own + db

            unique: dict[str, set[int]] = {k: set() for k in KINDS}
            for round_no in range(-1, ROUNDS):  # round -1 warms every server up
                for k, kind in enumerate(KINDS):
                    first = (round_no + 2) * 10_000_000 + k * 1_000_000
                    count = EVENTS if round_no >= 0 else 200
                    bodies = requests(i_account, first, count, seed=round_no * 7 + k)
                    unique[kind].update(
                        int(b.split(b'"i_event":')[1].split(b",")[0]) for b in bodies
                    )
                    before = cpu(kind)
                    rate, lat, statuses = asyncio.run(_load(servers[kind], bodies))
                    if round_no < 0:
                        continue
                    r = results[kind]
                    after = cpu(kind)
                    r["cpu_own"].append((after[0] - before[0]) / count)
                    r["cpu"].append((after[1] - before[1]) / count)
                    r["rates"].append(rate)
                    r["lat"].extend(lat)
                    for code, n in statuses.items():
                        r["statuses"][code] = r["statuses"].get(code, 0) + n
                    print(
                        f"  events {kind} round {round_no}: {rate:.0f}/s {statuses}",
                        file=sys.stderr,
                    )
        # exactly once: one done row per unique event, nothing left working
        with sqlite3.connect(sqlite_db) as db:
            results["sqlite"]["rows"] = db.execute(
                "SELECT state, count(*) FROM portabilling_events GROUP BY state"
            ).fetchall()
        import psycopg

        with psycopg.connect(pg) as db:
            results["postgresql"]["rows"] = db.execute(
                "SELECT state, count(*) FROM portabilling_events GROUP BY state"
            ).fetchall()
        for kind in ("sqlite", "postgresql"):
            rows = dict(results[kind]["rows"])
            assert rows == {"done": len(unique[kind])}, (kind, rows, len(unique[kind]))
    return results


KINDS = ("sqlite", "postgresql", "bare")
