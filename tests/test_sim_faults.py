"""Faults on demand: each injected fault reaches the caller as the typed exception the runtime
documents, over both transports (plugin fixtures); the same from the command line (`simulate
--inject`, `inject`); and a seeded 100 000-account data set pages through in seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from portabilling import (
    AdminClient,
    AuthError,
    DecodeError,
    Fault,
    IntegrityError,
    NotFound,
    PermissionDenied,
    TransportError,
)
from portabilling.types import AccountInfo, CustomerInfo, YesNo

from generator.simulator import Running

from .test_simulate_cli import small_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("Server.Customer.get_customer_info.not_found", NotFound),
        ("Server.Customer.get_customer_info.access_denied", PermissionDenied),
        ("Server.Customer.get_customer_info.duplicate_name", IntegrityError),
        ("Server.Customer.get_customer_info.internal_error", Fault),
    ],
)
def test_an_injected_fault_is_its_typed_exception(
    portabilling_sim: Running, portabilling_client: AdminClient, code: str, raised: type[Fault]
) -> None:
    portabilling_sim.faults.fault("Customer.get_customer_info", code, "made up", count=1)
    with pytest.raises(raised) as caught:
        portabilling_client.customer.get_customer_info(i_customer=1)
    assert type(caught.value) is raised and caught.value.faultcode == code
    assert portabilling_sim.faults.rules == []  # used up: the next call is served as usual
    reply = portabilling_client.customer.get_customer_info(i_customer=1)
    assert not isinstance(reply.customer_info, CustomerInfo)  # no such customer: served as usual


def test_faults_match_patterns_and_count_down(
    portabilling_sim: Running, portabilling_client: AdminClient
) -> None:
    portabilling_sim.faults.fault("Customer.*", "Server.Customer.x.not_found", count=2)
    for _ in range(2):
        with pytest.raises(NotFound):
            portabilling_client.customer.get_customer_list()
    assert portabilling_client.customer.get_customer_list().customer_list == []


def test_expired_sessions_are_renewed_and_a_refused_one_is_an_auth_error(
    portabilling_sim: Running, portabilling_client: AdminClient
) -> None:
    portabilling_client.customer.get_customer_list()
    portabilling_sim.expire_sessions()
    portabilling_client.customer.get_customer_list()  # logged in again once, transparently
    assert portabilling_sim.sim.logins == 2
    code = "Server.Session.check_auth.auth_failed"
    portabilling_sim.faults.fault("Customer.get_customer_list", code, count=2)
    with pytest.raises(AuthError):
        portabilling_client.customer.get_customer_list()
    assert portabilling_sim.sim.logins == 3


def test_delays_and_drops_are_transport_errors(
    portabilling_sim: Running, portabilling_client: AdminClient
) -> None:
    customers = portabilling_client.customer
    portabilling_sim.faults.delay("Customer.get_customer_list", 0.3)
    customers.get_customer_list()  # slow, within the timeout
    portabilling_sim.faults.delay("Customer.add_customer", 3.0)
    started = time.monotonic()
    with pytest.raises(TransportError):
        customers.with_options(timeout=0.5).add_customer(customer_info=CustomerInfo(name="a"))
    assert time.monotonic() - started < 2.5
    portabilling_sim.faults.drop("Customer.add_customer")
    with pytest.raises(TransportError):
        customers.add_customer(customer_info=CustomerInfo(name="b"))  # a write: sent once
    portabilling_sim.faults.drop("Customer.get_customer_list")
    customers.get_customer_list()  # a read is retried (retries=2)
    portabilling_sim.faults.drop("Customer.get_customer_list", count=3)
    with pytest.raises(TransportError):
        customers.get_customer_list()
    assert portabilling_sim.faults.rules == []


def test_real_server_replies_are_repaired_or_refused_in_strict_mode(
    portabilling_sim: Running, portabilling_transport: str
) -> None:
    url = portabilling_sim.url
    with AdminClient(url, transport=portabilling_transport, login="admin", password="secret") as c:
        i_customer = c.customer.add_customer(customer_info=CustomerInfo(name="rs")).i_customer
        account = AccountInfo(id="rs-1", i_customer=i_customer, blocked=YesNo.NO)
        i_account = c.account.add_account(account_info=account).i_account
        portabilling_sim.sim.real_server = True
        info = c.account.get_account_info(i_account=i_account).account_info
        assert isinstance(info, AccountInfo) and info.id == "rs-1"
    strict = AdminClient(
        url, transport=portabilling_transport, login="admin", password="secret", strict=True
    )
    with strict, pytest.raises(DecodeError):
        strict.account.get_account_info(i_account=i_account)


# ---- the command line --------------------------------------------------------------------------


def test_inject_from_the_command_line(tmp_path: Path) -> None:
    cache = small_server(tmp_path / "server", ("Session", "Customer", "Account"))
    spec = "Customer.get_customer_list:fault=Server.Customer.get_customer_list.not_found"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "generator", "simulate", str(cache), "--port", "0"),
            *("--no-soap", "--inject", spec, "--seed-customers", "3", "--seed-accounts", "10"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("PortaBilling simulator on "), first
        url = first.split()[3]
        with AdminClient(url, login="admin", password="secret") as client:
            with pytest.raises(NotFound):
                client.customer.get_customer_list()
            assert client.customer.get_customer_list().total == 3
            assert client.account.get_account_list().total == 10
            done = subprocess.run(
                [sys.executable, "-m", "generator", "inject", url, "Account.*:drop:count=3"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout == "the next 3 calls of Account.*: drop\n"
            with pytest.raises(TransportError):
                client.account.get_account_list()
            bad = subprocess.run(
                [sys.executable, "-m", "generator", "inject", url, "Account.x:explode"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert bad.returncode == 2 and "not fault, delay or drop" in bad.stderr
            listed = httpx.get(url + "/_sim/deliveries")
            assert listed.json() == []  # no --events-to: nothing sent
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- scale -------------------------------------------------------------------------------------


def test_a_seeded_data_set_pages_through_in_seconds(portabilling_sim: Running) -> None:
    portabilling_sim.seed(customers=2000, accounts=100_000, seed=7)
    with AdminClient(portabilling_sim.url, login="admin", password="secret") as client:
        started = time.monotonic()
        ids = [a.i_account for a in client.account.iter_account_list(page_size=1000)]
        took = time.monotonic() - started
        assert len(ids) == len(set(ids)) == 100_000
        assert took < 30, f"paging 100 000 accounts took {took:.1f}s"
        customers = list(client.customer.iter_customer_list(page_size=500))
        assert len(customers) == 2000
        first = customers[0].i_customer
        owned = client.account.get_account_list(i_customer=first)
        assert owned.total == 50  # 100 000 accounts over 2 000 customers, round-robin
    # the same seed gives the same data
    again = [dict(a) for a in list(portabilling_sim.sim.accounts.values())[:5]]
    portabilling_sim.sim.reset()
    portabilling_sim.seed(customers=2000, accounts=100_000, seed=7)
    assert [
        {k: v for k, v in a.items() if k not in ("i_account", "i_customer", "i_product")}
        for a in list(portabilling_sim.sim.accounts.values())[:5]
    ] == [
        {k: v for k, v in a.items() if k not in ("i_account", "i_customer", "i_product")}
        for a in again
    ]
