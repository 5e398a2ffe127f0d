"""The simulator's ESPF events over sockets, written with the pytest plugin's fixtures only: API
changes reach the user's handler as the events PortaBilling would post, retries until 200 run the
handler again only when it failed, and faults on the delivery path behave as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from portabilling import AdminClient
from portabilling.events import Client, CustomerEvent, Event, Router
from portabilling.types import AccountInfo, CustomerInfo, DIDInfo

from generator.pytest_plugin import EventLoops
from generator.simulator import Running
from generator.simulator.espf import EventAuth, EventSender

from .readme.myapp import provisioning

ROOT = Path(__file__).resolve().parent.parent


def add_customer_and_account(client: AdminClient, name: str) -> tuple[int, int]:
    i_customer = client.customer.add_customer(customer_info=CustomerInfo(name=name)).i_customer
    account = AccountInfo(id=f"{name}-1", i_customer=i_customer)
    i_account = client.account.add_account(account_info=account).i_account
    assert isinstance(i_customer, int) and isinstance(i_account, int)
    return i_customer, i_account


def test_the_readme_handlers_read_back_both_entities_typed(
    portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    loop = portabilling_events(provisioning.router)
    provisioning.provisioned.clear()
    i_customer, i_account = add_customer_and_account(portabilling_client, "loop")
    deliveries = loop.wait()
    assert provisioning.provisioned == [
        "customer loop",
        f"account loop-1 of customer {i_customer}",
    ]
    assert [(d.event_type, d.variables, d.state) for d in deliveries] == [
        ("Customer/Created", {"i_customer": str(i_customer)}, "delivered"),
        ("Subscriber/Created", {"i_account": str(i_account)}, "delivered"),
    ]
    assert deliveries[0].i_event < deliveries[1].i_event  # fresh ids, in order of change
    assert loop.failed() == []


class Flaky:
    """A handler that raises the first `failures` times; counts its runs and its work."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.work: list[int] = []

    def __call__(self, event: CustomerEvent, client: Client) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError("provisioning target down")
        self.work.append(event.i_customer)


def flaky_router(failures: int) -> tuple[Router, Flaky]:
    router, handler = Router(), Flaky(failures)
    router.on("Customer/Created")(handler)
    return router, handler


def test_a_receiver_answering_500_twice_gets_the_event_a_third_time(
    portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    router, handler = flaky_router(failures=2)
    loop = portabilling_events(router)
    i_customer = portabilling_client.customer.add_customer(
        customer_info=CustomerInfo(name="flaky")
    ).i_customer
    (delivery,) = loop.wait()
    assert [a.status for a in delivery.attempts] == [500, 500, 200]
    assert delivery.state == "delivered" and handler.work == [i_customer]
    assert loop.failed() == []
    # ESPF repeats an event whose 200 it did not get: the receiver answers 200 and does no work
    loop.sender.redeliver(delivery.i_event)
    repeat = loop.wait()[-1]
    assert repeat.i_event == delivery.i_event and [a.status for a in repeat.attempts] == [200]
    assert handler.runs == 3 and handler.work == [i_customer]


def test_a_lost_answer_is_retried_without_repeating_the_work(
    portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    router, handler = flaky_router(failures=0)
    loop = portabilling_events(router)
    loop.sender.fail_next(1, "timeout")  # the receiver handles it; its 200 never comes back
    portabilling_client.customer.add_customer(customer_info=CustomerInfo(name="lost"))
    (delivery,) = loop.wait()
    assert [a.status for a in delivery.attempts] == [None, 200]
    assert "timed out" in delivery.attempts[0].answer
    assert handler.runs == 1 and len(handler.work) == 1


def test_refused_deliveries_are_retried_then_kept_as_failed(
    portabilling_sim: Running, portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    router, handler = flaky_router(failures=0)
    loop = portabilling_events(router, attempts=3)
    loop.sender.fail_next(2, "refused")
    portabilling_client.customer.add_customer(customer_info=CustomerInfo(name="late"))
    (delivered,) = loop.wait()
    assert [a.status for a in delivered.attempts] == [None, None, 200]
    loop.sender.fail_next(3, "500")
    portabilling_client.customer.add_customer(customer_info=CustomerInfo(name="never"))
    failed = loop.wait()[-1]
    assert failed.state == "failed" and [a.status for a in failed.attempts] == [500, 500, 500]
    assert loop.failed() == [failed] and handler.runs == 1


def test_every_change_posts_its_event(
    portabilling_sim: Running, portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    router = Router()

    @router.on("*")
    def record(event: Event, client: Client) -> None:
        seen.append((event.event_type, dict(event.variables)))

    loop = portabilling_events(router)
    client = portabilling_client
    i_customer, i_account = add_customer_and_account(client, "all")
    client.customer.update_customer(customer_info=CustomerInfo(i_customer=i_customer, name="all2"))
    client.account.update_account(account_info=AccountInfo(i_account=i_account, id="all-2"))
    i_did = client.did.add_number(number_info=DIDInfo(number="15550100")).i_did_number
    assert isinstance(i_did, int)
    client.did.assign_did_to_account(i_did_number=i_did, i_master_account=i_account)
    client.did.delete_number(i_did_number=i_did)
    i_invoice = portabilling_sim.sim.add_invoice(i_customer, amount_net=10.0)
    client.invoice.mark_invoice_paid(i_invoice=i_invoice)
    client.account.delete_account(i_account=i_account)
    client.customer.delete_customer(i_customer=i_customer)
    loop.wait()
    c, a = str(i_customer), str(i_account)
    invoice = {"i_customer": c, "i_invoice": str(i_invoice)}
    assert [(t, {k: v for k, v in vs.items() if k != "i_event"}) for t, vs in seen] == [
        ("Customer/Created", {"i_customer": c}),
        ("Subscriber/Created", {"i_account": a}),
        ("Customer/Updated", {"i_customer": c}),
        ("Subscriber/Updated", {"i_account": a}),
        ("DID/Created", {"number": "15550100"}),
        ("DID/Updated", {"number": "15550100"}),
        ("DID/Deleted", {"number": "15550100"}),
        ("Invoice/Created", invoice),
        ("Invoice/Updated", invoice),
        ("Subscriber/Deleted", {"i_account": a}),
        ("Customer/Deleted", {"i_customer": c}),
    ]
    assert all(isinstance(vs["i_event"], str) and vs["i_event"].isdigit() for _, vs in seen)
    assert loop.failed() == []


# ---- the wire form, seen by a bare HTTP server -------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")


@pytest.fixture
def capture() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/espf", server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_the_wire_form_with_a_custom_authorization_header(
    capture: tuple[str, list[tuple[dict[str, str], Any]]],
) -> None:
    url, seen = capture
    sender = EventSender(url, EventAuth.custom("Token t0p", header="X-Auth"), backoff=0.01)
    try:
        sender.emit("Subscriber/Updated", i_account=42)
        (delivery,) = sender.wait_idle()
    finally:
        sender.close()
    ((headers, body),) = seen
    assert body == {
        "event_type": "Subscriber/Updated",
        "variables": {"i_event": str(delivery.i_event), "i_account": "42"},
    }
    assert headers["X-Auth"] == "Token t0p" and "Authorization" not in headers
    assert headers["Content-Type"] == "application/json" and headers["Date"].endswith(" GMT")
    assert "t0p" not in repr(sender) + repr(sender.auth)


def test_events_post_sends_one_hand_made_event(
    capture: tuple[str, list[tuple[dict[str, str], Any]]],
) -> None:
    url, seen = capture
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PORTABILLING_EVENTS_PASSWORD": "pw"}
    cmd = [sys.executable, "-m", "generator", "events", "post", url, "DID/Updated"]
    done = subprocess.run(
        [*cmd, "number=15550100", "--i-event", "77", "--basic-user", "porta"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "200 ok\n"), done.stderr
    ((headers, body),) = seen
    assert body == {
        "event_type": "DID/Updated",
        "variables": {"i_event": "77", "number": "15550100"},
    }
    assert headers["Authorization"] == "Basic cG9ydGE6cHc="  # porta:pw
    refused = subprocess.run(
        [*cmd, "number=1", "--basic-user", "porta"],
        capture_output=True,
        text=True,
        env={**env, "PORTABILLING_EVENTS_PASSWORD": ""},
        check=False,
    )
    assert refused.returncode == 2 and "PORTABILLING_EVENTS_PASSWORD" in refused.stderr


def test_simulate_events_to_prints_each_delivery(
    capture: tuple[str, list[tuple[dict[str, str], Any]]], tmp_path: Path
) -> None:
    from .test_simulate_cli import small_server

    url, seen = capture
    cache = small_server(tmp_path / "server")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "generator", "simulate", str(cache), "--port", "0"),
            *("--no-soap", "--events-to", url, "--header-auth", "X-Auth"),
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PORTABILLING_EVENTS_AUTHORIZATION": "v4lue"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("PortaBilling simulator on "), first
        with AdminClient(first.split()[3], login="admin", password="secret") as client:
            client.customer.add_customer(customer_info=CustomerInfo(name="cli"))
        while not (line := proc.stdout.readline()).startswith("event "):
            assert line, "the simulator stopped"
        assert line.endswith(" Customer/Created delivered after [200]\n"), line
        ((headers, body),) = seen
        assert headers["X-Auth"] == "v4lue" and body["event_type"] == "Customer/Created"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
