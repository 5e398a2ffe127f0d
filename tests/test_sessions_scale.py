"""Sessions at scale, over sockets against the simulator (JSON directly, SOAP through SOAP::Lite):
access tokens renewed once for 50 threads or 50 tasks, a refused renewal or an early invalidation
healed by one login, one login for 8 processes sharing a file store, and paging over a list that
changes while it is read."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

ADMIN = {"login": "admin", "password": "secret"}
TRANSPORTS = ["json", "soap"]


def _threads(n: int, work: Any) -> list[Any]:
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run() -> None:
        start.wait()
        try:
            results.append(work())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    return results


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_50_threads_across_a_tokens_expiry_renew_it_once(sim: Any, transport: str) -> None:
    from portabilling import AdminClient

    sim.use_tokens(3.0)
    # renewed once 80% remains (after 0.6 s): 2.4 s of margin before the token dies, so a
    # loaded machine's slow calls still meet a live token (at 50% a run under load once saw it die)
    with AdminClient(sim.url, transport=transport, refresh_fraction=0.8, **ADMIN) as client:
        assert client.customer.get_customer_list().total == 0  # logged in: a 3 s token
        sim.use_tokens(60)  # the renewed token lives long: one renewal is the right answer
        until = time.monotonic() + 3.2  # past the first token's expiry

        def work() -> int:
            calls = 0
            while time.monotonic() < until:
                assert client.customer.get_customer_list().total == 0
                calls += 1
            return calls

        answered = sum(_threads(50, work))
        listed = [c for c in sim.sim.calls if c.method == "get_customer_list"]
        assert len(listed) == answered + 1  # each call answered once: none was refused
        assert (sim.logins, sim.refreshes) == (1, 1)
        assert "Bearer" not in repr(client) and client._session.access_token not in repr(client)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_50_tasks_across_a_tokens_expiry_renew_it_once(sim: Any, transport: str) -> None:
    from portabilling import AsyncAdminClient

    sim.use_tokens(1.0)

    async def main() -> int:
        async with AsyncAdminClient(
            sim.url, transport=transport, refresh_fraction=0.3, **ADMIN
        ) as client:
            await client.customer.get_customer_list()
            sim.use_tokens(60)
            await asyncio.sleep(0.8)  # inside the last 30% of its lifetime
            results = await asyncio.gather(
                *(client.customer.get_customer_list() for _ in range(50))
            )
            return len(results)

    assert asyncio.run(main()) == 50
    assert (sim.logins, sim.refreshes) == (1, 1)
    assert [c.method for c in sim.sim.calls].count("get_customer_list") == 51


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_refresh_logs_in_once(sim: Any, transport: str) -> None:
    from portabilling import AdminClient

    sim.use_tokens(0.6)
    with AdminClient(sim.url, transport=transport, refresh_fraction=0.5, **ADMIN) as client:
        client.customer.get_customer_list()
        sim.use_tokens(60)  # the token of the healing login lives long
        sim.faults.fault(
            "Session.refresh_access_token", "Server.Session.refresh_access_token.expired"
        )
        time.sleep(0.4)
        _threads(50, lambda: client.customer.get_customer_list().total)
    assert (sim.logins, sim.refreshes) == (2, 0)
    assert [c.method for c in sim.sim.calls].count("refresh_access_token") == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_token_invalidated_early_logs_in_again_once(sim: Any, transport: str) -> None:
    from portabilling import AdminClient

    sim.use_tokens(600)
    with AdminClient(sim.url, transport=transport, **ADMIN) as client:
        client.customer.get_customer_list()
        sim.expire_sessions()  # inactivity: the server drops the token before `exp`
        answered = _threads(50, lambda: client.customer.get_customer_list().total)
    assert answered == [0] * 50
    assert (sim.logins, sim.refreshes) == (2, 0)
    refused = [c for c in sim.sim.calls if c.method == "get_customer_list"]
    assert len(refused) - 1 <= 100  # each call sent at most twice: refused once, answered once


def test_servers_without_tokens_keep_session_ids(sim: Any) -> None:
    from portabilling import AdminClient

    with AdminClient(sim.url, **ADMIN) as client:
        client.customer.get_customer_list()
        assert not client._session.bearer
    call = next(c for c in sim.sim.calls if c.method == "get_customer_list")
    assert list(call.auth_info) == ["session_id"]
    assert not call.content_type.startswith("application/json")


def test_no_token_in_logs_reprs_or_exceptions(sim: Any, caplog: Any) -> None:
    from portabilling import AdminClient, Fault

    sim.use_tokens(0.5)
    caplog.set_level(logging.DEBUG)
    with AdminClient(sim.url, refresh_fraction=0.5, strict=True, **ADMIN) as client:
        client.customer.get_customer_list()
        session = client._session
        secrets = [session.access_token, session.refresh_token, session.session_id]
        time.sleep(0.3)
        client.customer.get_customer_list()  # renewed
        secrets += [session.access_token, session.refresh_token]
        sim.faults.fault("Customer.get_customer_list", "Server.Customer.oops", text=str(secrets))
        with pytest.raises(Fault) as caught:
            client.customer.get_customer_list()
        shown = [repr(client), repr(session), str(caught.value), repr(caught.value), caplog.text]
        shown += [repr(session.grant()), str(list(client.deviations))]
    assert sim.refreshes == 1
    for secret in filter(None, secrets):
        assert [i for i, text in enumerate(shown) if secret in text] == [], secrets.index(secret)


# ---- one session for many processes --------------------------------------------------------------

WORKER = """
import sys, time
sys.path.insert(0, {generated!r})
from portabilling import AdminClient, FileSessionStore
store = FileSessionStore({store!r})
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
with AdminClient({url!r}, transport={transport!r}, login="admin", password="secret",
                 session_store=store) as client:
    for _ in range({calls}):
        client.customer.get_customer_list()
    print("ok")
"""


def _workers(sim: Any, store: Path, transport: str, calls: int, n: int = 8) -> list[str]:
    script = WORKER.format(
        generated=str(ROOT / "generated"),
        store=str(store),
        url=sim.url,
        transport=transport,
        calls=calls,
    )
    start = str(time.time() + 1.5)  # all 8 started before any logs in
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    return [p.communicate(timeout=120)[0].strip() for p in procs]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_8_processes_with_one_file_store_log_in_once(
    sim: Any, tmp_path: Path, transport: str
) -> None:
    sim.use_tokens(600)
    assert _workers(sim, tmp_path / "store", transport, calls=5) == ["ok"] * 8
    assert sim.logins == 1
    files = list((tmp_path / "store").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o700
    assert not any(b"secret" in f.read_bytes() for f in files)  # no password kept


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_a_damaged_store_is_healed_by_one_login(sim: Any, tmp_path: Path, damage: str) -> None:
    store = tmp_path / "store"
    assert _workers(sim, store, "json", calls=1) == ["ok"] * 8
    assert sim.logins == 1
    for f in store.glob("*.session"):
        if damage == "deleted":
            f.unlink()
        else:
            f.write_bytes(b"\x00{not json")
    sim.expire_sessions()  # and the session the processes held is refused
    assert _workers(sim, store, "json", calls=1) == ["ok"] * 8
    assert sim.logins == 2


def test_a_refused_stored_session_is_healed_by_one_login(sim: Any, tmp_path: Path) -> None:
    from portabilling import AdminClient, FileSessionStore

    store = FileSessionStore(tmp_path)
    clients = [AdminClient(sim.url, session_store=store, **ADMIN) for _ in range(4)]
    for c in clients:
        c.customer.get_customer_list()
    sim.expire_sessions()
    for c in clients:
        c.customer.get_customer_list()
    for c in clients:
        c.close()  # a shared session is not logged out
    assert sim.logins == 2
    assert [c.method for c in sim.sim.calls].count("logout") == 0


# ---- paging you can trust ---------------------------------------------------------------------


@pytest.fixture
def churned(sim: Any) -> Any:
    sim.seed(customers=50, accounts=2500)
    sim.churn_accounts(inserts=100, closes=100, per_page=10)
    return sim


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_paging_a_changing_list_yields_no_record_twice(
    churned: Any, transport: str, caplog: Any
) -> None:
    from portabilling import AdminClient

    with AdminClient(churned.url, transport=transport, **ADMIN) as client:
        ids = [a.i_account for a in client.account.iter_account_list(page_size=250)]
        deviations = [d for d in client.deviations if d.outcome == "incomplete"]
    assert len(ids) == len(set(ids))
    total = len(churned.sim.accounts)
    assert total == 2500  # 100 added, 100 closed
    missing = total - len(ids)
    assert missing > 0
    assert len(deviations) == 1
    assert deviations[0].declared == f"{total} records (total)"
    assert deviations[0].arrived.startswith(f"{len(ids)} records, ")
    assert f"(shortfall {missing})" in caplog.text
    listed = [c for c in churned.sim.calls if c.method == "get_account_list"]
    assert all(str(c.params.get("get_total", "")) == "1" for c in listed if transport == "json")


def test_paging_a_changing_list_in_strict_mode_raises(churned: Any) -> None:
    from portabilling import AsyncAdminClient, DecodeError

    async def main() -> list[int]:
        got: list[int] = []
        async with AsyncAdminClient(churned.url, strict=True, **ADMIN) as client:
            with pytest.raises(DecodeError, match=r"yielded \d+ records of a total of 2500"):
                async for a in client.account.iter_account_list(page_size=500):
                    got.append(a.i_account)
        return got

    got = asyncio.run(main())
    assert len(got) == len(set(got))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_page_size_above_the_cap_is_refused_before_sending(sim: Any, transport: str) -> None:
    from portabilling import AdminClient, Fault

    sim.sim.real_server = True
    with AdminClient(sim.url, transport=transport, **ADMIN) as client:
        with pytest.raises(ValueError, match="page_size 5000 is above the server's cap of 1000"):
            next(client.account.iter_account_list(page_size=5000))
        assert sim.sim.calls == []
        with pytest.raises(Fault, match="limit_exceeded"):  # the server's own refusal
            client.account.get_account_list(limit=5000)
    with (
        AdminClient(sim.url, max_page_size=5000, **ADMIN) as client,
        pytest.raises(Fault, match="limit_exceeded"),
    ):
        next(client.account.iter_account_list(page_size=5000))


def test_a_stable_list_is_paged_without_a_deviation(sim: Any) -> None:
    from portabilling import AdminClient

    sim.seed(customers=5, accounts=1200)
    with AdminClient(sim.url, **ADMIN) as client:
        ids = [a.i_account for a in client.account.iter_account_list(page_size=1000)]
        assert len(ids) == len(set(ids)) == 1200
        assert not client.deviations


def test_the_store_key_names_neither_server_nor_login(tmp_path: Path) -> None:
    from portabilling import FileSessionStore
    from portabilling._runtime.client.store import store_key

    key = store_key("https://pb.example:8443", "admin")
    assert "admin" not in key and "example" not in key
    assert key != store_key("https://pb.example:8443", "other")
    store = FileSessionStore(tmp_path / "s")
    with store.lock(key):
        store.save(key, b"{}")
    assert store.load(key) == b"{}" and store.load("missing") is None
    assert os.stat(store.path(key)).st_mode & 0o077 == 0


def test_a_store_lock_held_elsewhere_costs_the_call_its_timeout_not_more(
    sim: Any, tmp_path: Path
) -> None:
    """Another process stuck while holding the file store's lock: the waiting call gives up at
    its own timeout with a TransportError, sync and async; an unreadable stored session is none."""
    import fcntl

    from portabilling import AdminClient, AsyncAdminClient, FileSessionStore, TransportError
    from portabilling._runtime.client.store import store_key

    store = FileSessionStore(tmp_path / "sessions")
    (tmp_path / "sessions").mkdir()
    key = store_key(sim.url, "admin")
    fd = os.open(tmp_path / "sessions" / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, as by a stopped process
    try:
        started = time.monotonic()
        with (
            AdminClient(sim.url, session_store=store, timeout=0.5, **ADMIN) as client,
            pytest.raises(TransportError, match="session store's lock"),
        ):
            client.customer.get_customer_list()

        async def one() -> None:
            async with AsyncAdminClient(
                sim.url, session_store=store, timeout=0.5, **ADMIN
            ) as client:
                with pytest.raises(TransportError, match="session store's lock"):
                    await client.customer.get_customer_list()

        asyncio.run(one())
        assert time.monotonic() - started < 5
        assert sim.logins == 0
    finally:
        os.close(fd)
    (tmp_path / "sessions" / f"{key}.session").mkdir()  # unreadable as a file: no session
    assert store.load(key) is None
