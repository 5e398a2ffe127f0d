"""Provisioning events end to end: `python -m portabilling.events serve` (uvicorn) on real
sockets, an SQLite file, handlers that read the entity from the simulator through the typed
client. Retries, parallel duplicates, failures, a SIGKILL mid-handler, bad credentials, bad bodies.
The PostgreSQL tests (two receivers on one database) are in test_events_pg.py."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import logging
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .events_support import (
    AUTH,
    BASIC_PASSWORD,
    HTTP,
    ReceiverProcess,
    event,
    lines,
    post,
    start_receiver,
    uvicorn_thread,
    wait_for,
)

_ids = itertools.count(1000)


def new_id() -> int:
    return next(_ids) * 10 + threading.get_ident() % 7  # distinct per test, per run


def add_account(url: str, name: str) -> int:
    from portabilling import AdminClient
    from portabilling.types import AccountInfo, CustomerInfo

    with AdminClient(url, login="admin", password="secret") as c:
        i_customer = c.customer.add_customer(
            customer_info=CustomerInfo(name=f"cust-{name}", iso_4217="USD")
        ).i_customer
        info = AccountInfo(id=name, i_customer=i_customer, iso_4217="USD")
        return c.account.add_account(account_info=info).i_account


def add_customer(url: str, name: str) -> int:
    from portabilling import AdminClient
    from portabilling.types import CustomerInfo

    with AdminClient(url, login="admin", password="secret") as c:
        return c.customer.add_customer(
            customer_info=CustomerInfo(name=name, iso_4217="USD")
        ).i_customer


def rows(db: Path) -> dict[int, tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT i_event, state, attempts FROM portabilling_events").fetchall()
    return {i: (state, attempts) for i, state, attempts in found}


@pytest.fixture(scope="module")
def receiver(
    _simulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReceiverProcess, Path]]:
    tmp = tmp_path_factory.mktemp("events")
    proc = start_receiver(tmp, f"sqlite:///{tmp / 'events.db'}", _simulator.url, "--lease", "5")
    yield proc, tmp
    proc.stop()


# ---- typed events -------------------------------------------------------------------------------


def test_events_decode_typed_and_tolerant() -> None:
    from portabilling.events import DIDEvent, Event, InvoiceEvent, SubscriberEvent, decode_event

    e = decode_event(
        b'{"event_type":"Subscriber/Created","variables":{"i_event":"5","i_account":"7","extra":1}}'
    )
    assert isinstance(e, SubscriberEvent) and (e.i_event, e.i_account) == (5, 7)
    assert e.variables["extra"] == 1 and (e.group, e.action) == ("Subscriber", "Created")
    d = decode_event(b'{"event_type":"DID/Updated","variables":{"i_event":9,"number":15551234}}')
    assert isinstance(d, DIDEvent) and d.number == "15551234"
    i = decode_event(
        b'{"event_type":"Invoice/Updated","i_event":3,"variables":{"i_customer":1,"i_invoice":2}}'
    )
    assert isinstance(i, InvoiceEvent) and (i.i_event, i.i_customer, i.i_invoice) == (3, 1, 2)
    g = decode_event(
        b'{"event_type":"Account/Service/QuotaExceeded","variables":{"i_event":4,"x":"y"}}'
    )
    assert type(g) is Event and g.group == "Account" and g.variables == {"i_event": 4, "x": "y"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"variables":{"i_event":1}}', "event_type"),
        (b'{"event_type":"../etc","variables":{"i_event":1}}', "event_type"),
        (b'{"event_type":"Customer/Created","variables":{"i_customer":1}}', "i_event is missing"),
        (
            b'{"event_type":"Customer/Created","variables":{"i_event":true,"i_customer":1}}',
            "i_event",
        ),
        (
            b'{"event_type":"Customer/Created","variables":{"i_event":"-1","i_customer":1}}',
            "i_event",
        ),
        (
            b'{"event_type":"Customer/Created","variables":{"i_event":1.5,"i_customer":1}}',
            "i_event",
        ),
        (b'{"event_type":"Customer/Created","variables":{"i_event":0,"i_customer":1}}', "range"),
        (b'{"event_type":"Customer/Created","variables":{"i_event":1}}', "i_customer"),
        (b'{"event_type":"X/Y","i_event":2,"variables":{"i_event":1}}', "differs"),
    ],
)
def test_bad_events_say_what_is_wrong(body: bytes, reason: str) -> None:
    from portabilling.events import EventError, decode_event

    with pytest.raises(EventError, match=reason):
        decode_event(body)


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["event_type", "variables", "i_event", "i_account", "number", "x"]),
            inner,
            max_size=4,
        ),
        max_leaves=12,
    )
)
def test_any_json_decodes_or_is_an_event_error(value: Any) -> None:
    from portabilling.events import Event, EventError, decode_event

    with contextlib.suppress(EventError):
        assert isinstance(decode_event(msgspec.json.encode(value)), Event)


# ---- over real sockets --------------------------------------------------------------------------


def test_event_is_handled_once_and_a_retry_gets_200(sim: Any, receiver: Any) -> None:
    proc, tmp = receiver
    i_account = add_account(sim.url, "once-acc")
    i_event = new_id()
    body = event("Subscriber/Updated", str(i_event), i_account=str(i_account))  # ids as text
    first = post(proc.url, body)
    assert (first.status_code, first.text) == (200, "handled\n")
    retry = post(proc.url, body)
    assert (retry.status_code, retry.text) == (200, "handled before\n")
    done = lines(tmp / "effects.log", f"done {i_event}")
    assert len(done) == 1 and "Subscriber/Updated once-acc" in done[0]
    reads = [c for c in sim.sim.calls if c.method == "get_account_info"]
    assert len(reads) == 1 and reads[0].params["i_account"] == i_account
    assert rows(tmp / "events.db")[i_event] == ("done", 1)


def test_parallel_duplicates_run_the_handler_once(sim: Any, receiver: Any) -> None:
    proc, tmp = receiver
    i_account = add_account(sim.url, "dup-acc")
    ids = [new_id() for _ in range(3)]
    bodies = [event("Subscriber/Updated", i, i_account=i_account, hold=0.4) for i in ids]
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda b: post(proc.url, b), bodies * 8))
    for i in ids:
        mine = [
            a for a, b in zip(answers, bodies * 8, strict=True) if b["variables"]["i_event"] == i
        ]
        codes = sorted(a.status_code for a in mine)
        assert codes.count(200) >= 1 and set(codes) <= {200, 409}, codes
        assert [a.text for a in mine].count("handled\n") == 1
        assert all(int(a.headers["retry-after"]) >= 1 for a in mine if a.status_code == 409)
        # PortaBilling retries the 409s: now they all get 200 without work
        assert (
            post(proc.url, event("Subscriber/Updated", i, i_account=i_account)).text
            == "handled before\n"
        )
        assert len(lines(tmp / "effects.log", f"done {i}")) == 1
        assert len(lines(tmp / "effects.log", f"start {i}")) == 1


def test_failing_handler_answers_500_and_the_retry_runs_it(sim: Any, receiver: Any) -> None:
    proc, tmp = receiver
    i_customer = add_customer(sim.url, "Fail Corp")
    i_event = new_id()
    body = event("Customer/Updated", i_event, i_customer=i_customer)
    (tmp / "outage").touch()
    try:
        failed = post(proc.url, body)
        assert (failed.status_code, failed.text) == (500, "handler failed\n")
        assert rows(tmp / "events.db")[i_event] == ("working", 1)  # claim given up, not done
        assert post(proc.url, body).status_code == 500  # released: the retry ran it again
    finally:
        (tmp / "outage").unlink()
    ok = post(proc.url, body)
    assert (ok.status_code, ok.text) == (200, "handled\n")  # sync handler, sync client
    assert post(proc.url, body).text == "handled before\n"
    assert len(lines(tmp / "effects.log", f"start {i_event}")) == 3
    assert [ln.split()[3:5] for ln in lines(tmp / "effects.log", f"done {i_event}")] == [
        ["Fail", "Corp"]
    ]
    assert rows(tmp / "events.db")[i_event] == ("done", 3)
    assert "RuntimeError: the provisioning target is down" in proc.log()


def test_receiver_killed_mid_handler_runs_it_again_after_the_lease(
    sim: Any, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    first = start_receiver(tmp_path, store, sim.url, "--lease", "2.5")
    i_account = add_account(sim.url, "crash-acc")
    i_event = new_id()
    body = event("Subscriber/Created", i_event, i_account=i_account, hold=30)
    log = tmp_path / "effects.log"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, first.url, body)
        wait_for(lambda: lines(log, f"start {i_event}"), what="the handler to start")
        first.kill()  # SIGKILL mid-handler: no cleanup, no release
        with pytest.raises(httpx.TransportError):
            pending.result()
    second = start_receiver(tmp_path, store, sim.url, "--lease", "2.5")
    try:
        quick = post(second.url, {**body, "variables": {**body["variables"], "hold": 0}})
        if quick.status_code == 409:  # the dead receiver's lease still runs
            assert 1 <= int(quick.headers["retry-after"]) <= 3
            wait_for(
                lambda: post(
                    second.url, event("Subscriber/Created", i_event, i_account=i_account)
                ).status_code
                == 200,
                what="the lease to run out",
            )
        else:
            assert quick.text == "handled\n"
        assert post(second.url, body).text == "handled before\n"
    finally:
        second.stop()
    assert len(lines(log, f"start {i_event}")) == 2  # the killed run and the retry
    assert len(lines(log, f"done {i_event}")) == 1  # but done exactly once
    assert rows(tmp_path / "events.db")[i_event] == ("done", 2)


def test_wrong_credentials_get_401_and_change_nothing(sim: Any, receiver: Any) -> None:
    proc, tmp = receiver
    i_event = new_id()
    body = event("Subscriber/Updated", i_event, i_account=1)
    wrong = "Basic " + __import__("base64").b64encode(b"porta:guess").decode()
    for auth in (None, wrong, "Bearer x", "Basic !!!", AUTH.lower()):
        answer = post(proc.url, body, auth=auth)
        assert answer.status_code == 401 and answer.text == "unauthorized\n"
    assert i_event not in rows(tmp / "events.db")
    assert not lines(tmp / "effects.log", f"start {i_event}")
    assert "bad credentials" in proc.log() and BASIC_PASSWORD not in proc.log()
    assert "guess" not in proc.log()


def test_bad_requests_get_4xx_and_change_nothing(sim: Any, receiver: Any) -> None:
    proc, tmp = receiver
    before = rows(tmp / "events.db")
    h = {"Authorization": AUTH}
    j = {**h, "Content-Type": "application/json"}
    cases = [
        (HTTP.post(proc.url, content=b"{nope", headers=j), 400, "body is not valid JSON"),
        (
            HTTP.post(
                proc.url, json={"event_type": "Subscriber/Created", "variables": {}}, headers=h
            ),
            400,
            "i_event is missing",
        ),
        (
            HTTP.post(proc.url, content=b'{"a":1}', headers={**h, "Content-Type": "text/plain"}),
            415,
            "content type must be application/json",
        ),
        (HTTP.post(proc.url, content=b"{" + b" " * 70000 + b"}", headers=j), 413, "body over"),
        # no Content-Length: the limit holds while reading the stream
        (
            HTTP.post(proc.url, content=iter([b"{" + b" " * 40000] * 3), headers=j),
            413,
            "body over",
        ),
        (HTTP.get(proc.url, headers=h), 405, "only POST"),
    ]
    for answer, status, reason in cases:
        assert answer.status_code == status and answer.text.startswith(reason), answer.text
    assert rows(tmp / "events.db") == before
    # an event type nobody handles is acknowledged, logged, and not retried forever
    unknown = post(proc.url, event("Account/Blocked", new_id(), i_account=1))
    assert (unknown.status_code, unknown.text) == (200, "no handler for Account/Blocked\n")
    assert rows(tmp / "events.db") == before
    assert "no handler for Account/Blocked" in proc.log()


# ---- embedding: other verifiers, the Date window, a Starlette mount ----------------------------


def test_embedded_header_signature_and_date_window(sim: Any, tmp_path: Path, caplog: Any) -> None:
    from portabilling.events import (
        AsyncClient,
        HeaderAuth,
        InboundRequest,
        Receiver,
        Router,
        SubscriberEvent,
    )

    seen: list[str] = []
    router = Router()

    @router.on("Subscriber/Created")
    async def created(event: SubscriberEvent, client: AsyncClient) -> None:
        seen.append(
            (await client.account.get_account_info(i_account=event.i_account)).account_info.id
        )

    key = b"signing-key"

    class Signature:
        needs_body = True

        def __call__(self, request: InboundRequest) -> bool:
            sent = request.headers.get("authorization", "").removeprefix("Signature ")
            good = hmac.new(key, request.body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(sent.encode(), good.encode())

    i_account = add_account(sim.url, "embed-acc")

    def client() -> AsyncClient:  # a receiver closes its clients when it shuts down
        return AsyncClient(sim.url, login="admin", password="secret")

    custom = Receiver(
        router,
        store=f"sqlite:///{tmp_path / 'a.db'}",
        auth=HeaderAuth("Custom t0ken"),
        async_client=client(),
        date_window=60,
    )
    signed = Receiver(
        router, store=f"sqlite:///{tmp_path / 'b.db'}", auth=Signature(), async_client=client()
    )
    body = msgspec.json.encode(event("Subscriber/Created", new_id(), i_account=i_account))
    ctype = {"Content-Type": "application/json"}
    caplog.set_level(logging.INFO, "portabilling.events")
    with uvicorn_thread(custom) as url:
        now = {"Date": formatdate(usegmt=True), **ctype}
        assert (
            HTTP.post(
                url, content=body, headers={**now, "Authorization": "Custom t0ken"}
            ).status_code
            == 200
        )
        assert (
            HTTP.post(
                url, content=body, headers={**now, "Authorization": "Custom t0kem"}
            ).status_code
            == 401
        )
        stale = {
            "Date": formatdate(1_000_000_000, usegmt=True),
            "Authorization": "Custom t0ken",
            **ctype,
        }
        assert HTTP.post(url, content=body, headers=stale).status_code == 401
        assert (
            HTTP.post(
                url, content=body, headers={"Authorization": "Custom t0ken", **ctype}
            ).status_code
            == 401
        )
    with uvicorn_thread(signed) as url:
        sig = hmac.new(key, body, hashlib.sha256).hexdigest()
        assert (
            HTTP.post(
                url, content=body, headers={"Authorization": f"Signature {sig}", **ctype}
            ).status_code
            == 200
        )
        tampered = body.replace(b"Created", b"Deleted")
        assert (
            HTTP.post(
                url, content=tampered, headers={"Authorization": f"Signature {sig}", **ctype}
            ).status_code
            == 401
        )
    assert seen == ["embed-acc", "embed-acc"]  # one store each: the same i_event once per store
    assert "t0ken" not in caplog.text and sig not in caplog.text


def test_mounted_in_starlette(sim: Any, tmp_path: Path) -> None:
    from portabilling.events import BasicAuth, Client, Receiver, Router, SubscriberEvent
    from starlette.applications import Starlette
    from starlette.routing import Mount

    router = Router()
    names: list[str] = []

    @router.on("*")
    def anything(event: SubscriberEvent, client: Client) -> None:
        names.append(client.account.get_account_info(i_account=event.i_account).account_info.id)

    receiver = Receiver(
        router,
        store=f"sqlite:///{tmp_path / 'events.db'}",
        auth=BasicAuth("porta", BASIC_PASSWORD),
        client=Client(sim.url, login="admin", password="secret"),
    )
    app = Starlette(routes=[Mount("/hooks/portabilling", app=receiver)])
    i_account = add_account(sim.url, "mounted-acc")
    with uvicorn_thread(app) as url:
        body = event("Subscriber/Deleted", new_id(), i_account=i_account)
        assert post(f"{url}/hooks/portabilling/", body).text == "handled\n"
        assert post(f"{url}/hooks/portabilling/", body).text == "handled before\n"
    assert names == ["mounted-acc"]


def test_command_refuses_unsafe_or_broken_setups(tmp_path: Path, capsys: Any) -> None:
    from portabilling._runtime.events import cli as event_cli
    from portabilling.events import AsyncClient, Client

    def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        code = event_cli.main(
            list(argv),
            env=env or {},
            prog="portabilling-events",
            client_class=Client,
            async_client_class=AsyncClient,
        )
        captured = capsys.readouterr()
        return code, captured.err + captured.out

    store = f"sqlite:///{tmp_path / 'e.db'}"
    code, out = run("serve", "tests.event_handlers", "--store", store)
    assert code == 2 and "choose --basic-user, --header-auth or --verifier (or --no-auth)" in out
    code, out = run("serve", "tests.event_handlers", "--basic-user", "x")
    assert code == 2 and "--basic-user needs the password in PORTABILLING_EVENTS_PASSWORD" in out
    code, out = run("serve", "tests.no_such_module", "--no-auth")
    assert code == 2 and "cannot import the handler module 'tests.no_such_module'" in out
    code, out = run("serve", "tests.event_handlers", "--no-auth", "--store", "mysql://u:pw@h/db")
    assert code == 2 and "sqlite:// or postgresql://" in out and ":pw@" not in out
    api = {"PORTABILLING_API_URL": "http://127.0.0.1:9", "PORTABILLING_API_LOGIN": "admin"}
    code, out = run("serve", "tests.event_handlers", "--no-auth", env=api)
    assert code == 2 and "PORTABILLING_API_PASSWORD or PORTABILLING_API_TOKEN" in out
    # no API at all: every handler would fail on its first read, so it does not start ...
    code, out = run("serve", "tests.event_handlers", "--no-auth", "--store", store)
    assert code == 2 and "set PORTABILLING_API_URL (or --api-url), or pass --no-api" in out
    assert run("purge", "--store", store) == (0, "forgot 0 handled event(s)\n")


def test_store_urls(tmp_path: Path) -> None:
    from portabilling.events import PostgresStore, SqliteStore, open_store

    rel = open_store("sqlite:///events.db")
    assert isinstance(rel, SqliteStore) and str(rel.path) == "events.db"
    full = open_store(f"sqlite:///{tmp_path}/e.db?synchronous=full")
    assert isinstance(full, SqliteStore) and full.path == tmp_path / "e.db"
    assert full.synchronous == "FULL"
    pg = open_store("postgresql://u:pw@db:5432/app?synchronous_commit=on&sslmode=require")
    assert isinstance(pg, PostgresStore) and pg.synchronous_commit == "on"
    assert (
        repr(pg)
        == "PostgresStore('postgresql://u:***@db:5432/app?sslmode=require', table='portabilling_events')"
    )
    for bad, message in [
        ("sqlite://events.db", "sqlite:///relative.db"),
        ("sqlite:///e.db?journal=off", "unknown option"),
        ("sqlite:///:memory:", "file path"),
        ("postgresql://h/db?synchronous_commit=maybe", "synchronous_commit must be"),
        ("redis://h", "sqlite:// or postgresql://"),
    ]:
        with pytest.raises(ValueError, match=message):
            open_store(bad)


def test_no_api_serves_events_whose_handlers_need_no_client(tmp_path: Path) -> None:
    """`--no-api` is the one way to start without an API: handlers then get client=None."""
    receiver = start_receiver(tmp_path, f"sqlite:///{tmp_path / 'e.db'}", "", "--no-api")
    try:
        answer = post(receiver.url, event("Nobody/Listens", new_id()))
        assert answer.status_code == 200, answer.text
    finally:
        receiver.stop()
