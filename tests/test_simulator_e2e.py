"""End to end against the simulator: every feature on both transports and both clients.

Scenarios are written once as coroutines; `aw()` awaits a coroutine from the async client and
passes a sync client's result through, so each runs on `AdminClient` and `AsyncAdminClient`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

TRANSPORTS = ["json", "soap"]
KINDS = ["sync", "async"]


async def aw(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def run(
    kind: str,
    transport: str,
    url: str,
    scenario: Callable[[Any], Coroutine[Any, Any, Any]],
    **kw: Any,
) -> Any:
    from portabilling import AdminClient, AsyncAdminClient

    async def main() -> Any:
        if kind == "sync":
            with AdminClient(url, transport=transport, **kw) as client:
                return await scenario(client)
        async with AsyncAdminClient(url, transport=transport, **kw) as client:
            return await scenario(client)

    return asyncio.run(main())


ADMIN = {"login": "admin", "password": "secret"}


@pytest.fixture(autouse=True, params=["wsdl", "real-server"])
def mode(request: pytest.FixtureRequest, sim: Any) -> str:
    """Every scenario twice: the simulator answering by its WSDL, and as real servers do (0/1
    flags, date-only datetimes, [null] lists, undeclared fields): the typed results must match."""
    sim.sim.real_server = request.param == "real-server"
    return str(request.param)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_crud_paging_nil_and_integrity(sim: Any, transport: str, kind: str) -> None:
    from portabilling import Fault
    from portabilling.types import AccountInfo, CustomerInfo, ProductInfo

    async def scenario(c: Any) -> None:
        i_product = (
            await aw(c.product.add_product(product_info=ProductInfo(name="Basic", iso_4217="USD")))
        ).i_product
        i_customer = (
            await aw(
                c.customer.add_customer(
                    customer_info=CustomerInfo(name="ACME", iso_4217="USD", credit_limit=100.0)
                )
            )
        ).i_customer
        for n in range(5):
            info = AccountInfo(
                id=f"acc{n}", i_customer=i_customer, i_product=i_product, iso_4217="USD"
            )
            await aw(c.account.add_account(account_info=info))
        page = await aw(c.account.get_account_list(i_customer=i_customer, limit=2, offset=2))
        assert page.total == 5 and [a.id for a in page.account_list] == ["acc2", "acc3"]
        if inspect.isasyncgenfunction(c.account.iter_account_list):
            ids = [
                a.id async for a in c.account.iter_account_list(i_customer=i_customer, page_size=2)
            ]
        else:
            ids = [a.id for a in c.account.iter_account_list(i_customer=i_customer, page_size=2)]
        assert ids == [f"acc{n}" for n in range(5)]

        # integrity: an account needs an existing customer; a customer with accounts stays
        with pytest.raises(Fault) as err:
            await aw(
                c.account.add_account(
                    account_info=AccountInfo(id="x", i_customer=999999, iso_4217="USD")
                )
            )
        assert err.value.faultcode == "Server.Account.add_account.customer_not_found"
        assert err.value.operation == "Account.add_account"
        with pytest.raises(Fault, match="has_accounts"):
            await aw(c.customer.delete_customer(i_customer=i_customer))

        # unset leaves a value alone; None (xsi:nil / null) resets it
        await aw(
            c.customer.update_customer(
                customer_info=CustomerInfo(i_customer=i_customer, name="ACME")
            )
        )
        info = (await aw(c.customer.get_customer_info(i_customer=i_customer))).customer_info
        assert info.credit_limit == 100.0
        await aw(
            c.customer.update_customer(
                customer_info=CustomerInfo(i_customer=i_customer, credit_limit=None)
            )
        )
        info = (await aw(c.customer.get_customer_info(i_customer=i_customer))).customer_info
        assert info.credit_limit is None and info.name == "ACME"

    run(kind, transport, sim.url, scenario, **ADMIN)
    methods = [c.method for c in sim.sim.calls]
    assert methods.count("login") == 1 and methods[-1] == "logout"
    assert {c.transport for c in sim.sim.calls} == {transport}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reseller_sees_only_its_own_customers(sim: Any, transport: str) -> None:
    from portabilling import Fault
    from portabilling.types import AccountInfo, CustomerInfo

    async def setup(c: Any) -> tuple[int, int]:
        reseller = (
            await aw(
                c.customer.add_customer(customer_info=CustomerInfo(name="R1", iso_4217="USD"))
            )
        ).i_customer
        mine = (
            await aw(
                c.customer.add_customer(
                    customer_info=CustomerInfo(name="sub", iso_4217="USD", i_parent=reseller)
                )
            )
        ).i_customer
        other = (
            await aw(
                c.customer.add_customer(customer_info=CustomerInfo(name="other", iso_4217="USD"))
            )
        ).i_customer
        await aw(
            c.account.add_account(
                account_info=AccountInfo(id="mine", i_customer=mine, iso_4217="USD")
            )
        )
        theirs = (
            await aw(
                c.account.add_account(
                    account_info=AccountInfo(id="theirs", i_customer=other, iso_4217="USD")
                )
            )
        ).i_account
        return reseller, theirs

    reseller, theirs = run("sync", transport, sim.url, setup, **ADMIN)
    sim.sim.users.entries["r1"] = ("pw", "tok-r1", reseller)

    async def as_reseller(c: Any) -> None:
        names = [x.name for x in (await aw(c.customer.get_customer_list())).customer_list]
        assert names == ["sub"]
        ids = [a.id for a in (await aw(c.account.get_account_list())).account_list]
        assert ids == ["mine"]
        with pytest.raises(Fault, match="not_found"):
            await aw(c.account.get_account_info(i_account=theirs))

    run("async", transport, sim.url, as_reseller, login="r1", token="tok-r1")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_expired_session_logs_in_again_once(sim: Any, transport: str, kind: str) -> None:
    async def scenario(c: Any) -> None:
        assert (await aw(c.customer.get_customer_list(limit=1))) is not None
        sim.sim.expire_sessions()
        assert (await aw(c.customer.get_customer_list(limit=1))) is not None

    run(kind, transport, sim.url, scenario, **ADMIN)
    assert sim.sim.logins == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fifty_concurrent_calls_on_an_expired_session_log_in_once(
    sim: Any, transport: str
) -> None:
    async def scenario(c: Any) -> None:
        await c.customer.get_customer_list(limit=1)
        sim.sim.expire_sessions()
        results = await asyncio.gather(*(c.customer.get_customer_list(limit=1) for _ in range(50)))
        assert len(results) == 50

    run("async", transport, sim.url, scenario, **ADMIN)
    assert sim.sim.logins == 2


def test_fifty_threads_on_an_expired_session_log_in_once(sim: Any) -> None:
    """The sync twin of the test above; JSON only (the flow and its lock do not see the transport,
    and fifty SOAP::Lite round trips cost ten seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    from portabilling import AdminClient

    with AdminClient(sim.url, transport="json", **ADMIN) as c:
        c.customer.get_customer_list(limit=1)
        sim.sim.expire_sessions()
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda _: c.customer.get_customer_list(limit=1), range(50)))
        assert all(r.total is not None for r in results) and len(results) == 50
    assert sim.sim.logins == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_password_is_an_auth_fault_without_the_password(sim: Any, transport: str) -> None:
    from portabilling import Fault

    async def scenario(c: Any) -> None:
        await aw(c.customer.get_customer_list(limit=1))

    with pytest.raises(Fault) as err:
        run("sync", transport, sim.url, scenario, login="admin", password="wrong-pw-123")
    assert "wrong-pw-123" not in str(err.value) and "wrong-pw-123" not in repr(err.value)


def test_json_only_method_json_works_and_soap_refuses_or_routes(sim: Any) -> None:
    from portabilling import UnsupportedOperation
    from portabilling.types import AccountInfo, CustomerInfo, ProductInfo, SearchCondition

    async def fill(c: Any) -> None:
        gold = (
            await aw(c.product.add_product(product_info=ProductInfo(name="Gold", iso_4217="USD")))
        ).i_product
        basic = (
            await aw(c.product.add_product(product_info=ProductInfo(name="Basic", iso_4217="USD")))
        ).i_product
        for name, product, city in (
            ("a", gold, "Kyiv"),
            ("b", basic, "Kyiv"),
            ("c", gold, "Lviv"),
        ):
            i_customer = (
                await aw(
                    c.customer.add_customer(
                        customer_info=CustomerInfo(name=name, iso_4217="USD", city=city)
                    )
                )
            ).i_customer
            await aw(
                c.account.add_account(
                    account_info=AccountInfo(
                        id=f"{name}1", i_customer=i_customer, i_product=product, iso_4217="USD"
                    )
                )
            )
        sim.sim.add_invoice(i_customer, amount_due="10.00")

    run("sync", "json", sim.url, fill, **ADMIN)

    async def query(c: Any) -> list[str]:
        result = await aw(
            c.customer.get_extended_data_list(
                customer_filter=[SearchCondition(field_="city", op="eq", value=["Kyiv"])],
                product_filter=[SearchCondition(field_="name", op="like", value=["Go%"])],
            )
        )
        assert result.total == 1
        return [r.customer_info.name for r in result.records]

    assert run("async", "json", sim.url, query, **ADMIN) == ["a"]
    sim.sim.calls.clear()
    with pytest.raises(UnsupportedOperation, match="get_extended_data_list"):
        run("sync", "soap", sim.url, query, **ADMIN)
    assert not [c for c in sim.sim.calls if c.method == "get_extended_data_list"]
    assert run("sync", "soap", sim.url, query, json_only_over_json=True, **ADMIN) == ["a"]

    async def invoices(c: Any) -> int:
        result = await aw(
            c.customer.get_extended_data_list(
                invoice_filter=[SearchCondition(field_="amount_due", op="gt", value=["5"])]
            )
        )
        return int(result.total)

    assert run("sync", "json", sim.url, invoices, **ADMIN) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_invoice_pdf_comes_back_as_a_typed_file(sim: Any, transport: str, kind: str) -> None:
    from generator.simulator.calls import PDF

    i_invoice = sim.sim.add_invoice(0)
    sim.sim.customers[0] = {"i_customer": 0, "name": "owner"}

    async def scenario(c: Any) -> Any:
        return await aw(c.invoice.get_invoice_pdf(i_invoice=i_invoice))

    result = run(kind, transport, sim.url, scenario, **ADMIN)
    assert result.file == PDF + str(i_invoice).encode()
    assert result.file_name == f"invoice_{i_invoice}.pdf" and result.mime_type == "application/pdf"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_access_token_and_bearer_json(sim: Any, transport: str) -> None:
    from generator.simulator.calls import Session

    sim.sim.sessions["jwt-1"] = Session("admin", 1e12, None)

    async def scenario(c: Any) -> None:
        await aw(c.customer.get_customer_list(limit=1))

    run("sync", transport, sim.url, scenario, access_token="jwt-1", json_style="bearer")
    call = sim.sim.calls[-1]
    assert call.auth_info == {"access_token": "jwt-1"}
    if transport == "json":
        assert call.content_type.startswith("application/json")


def test_bulk_runs_bounded_concurrent_calls(sim: Any) -> None:
    from portabilling.types import CustomerInfo

    async def scenario(c: Any) -> list[Any]:
        requests = [
            {"customer_info": CustomerInfo(name=f"bulk{n}", iso_4217="USD")} for n in range(30)
        ]
        return list(await c.bulk(c.customer.add_customer, requests, concurrency=5))

    results = run("async", "soap", sim.url, scenario, **ADMIN)
    assert len({r.i_customer for r in results}) == 30
    assert sim.sim.logins == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_secrets_in_logs_reprs_or_errors(sim: Any, transport: str, caplog: Any) -> None:
    import logging

    from portabilling import AdminClient, Fault

    caplog.set_level(logging.DEBUG)
    with AdminClient(sim.url, transport=transport, login="admin", password="secret") as c:
        c.customer.get_customer_list()
        sim.sim.expire_sessions()
        c.customer.get_customer_list()
        with pytest.raises(Fault) as err:
            c.account.get_account_info(i_account=424242)
        shown = [repr(c), str(err.value), repr(err.value), repr(c.customer)]
    sessions = [
        c.auth_info.get("session_id") for c in sim.sim.calls if c.auth_info.get("session_id")
    ]
    assert sessions, "the calls carried a session id"
    text = "\n".join([*shown, *(r.getMessage() for r in caplog.records)])
    for secret in ["secret", *sessions]:
        assert secret not in text


def test_interface_selects_its_default_port(importer: Any) -> None:
    from .conftest import ROOT

    importer(ROOT / "generated", "portabilling")
    from portabilling import AccountClient, AdminClient, CustomerClient
    from portabilling.customer.customer import GET_CUSTOMER_INFO
    from portabilling.types import GetCustomerInfoRequest

    assert str(
        CustomerClient("https://pbx.invalid")
        .build_request(GET_CUSTOMER_INFO, GetCustomerInfoRequest())
        .url
    ) == ("https://pbx.invalid:8444/rest/Customer/get_customer_info")
    assert AccountClient("https://pbx.invalid").base_url == "https://pbx.invalid:8445"
    assert AdminClient("https://pbx.invalid").base_url == "https://pbx.invalid"
    assert CustomerClient("https://pbx.invalid:9999").base_url == "https://pbx.invalid:9999"
