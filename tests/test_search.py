"""Typed extended searches (`portabilling.search`) against the simulator: the seed's question,
paging, every operator positive and negated, values on the wire, and errors before sending."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from .test_simulator_e2e import ADMIN, aw, run

# ---- the seed's question: customers in Toronto on EasyCall or SuperCall ------------------------


def _fill_seed(c: Any) -> dict[str, int]:
    from portabilling.types import AccountInfo, CustomerInfo, ProductInfo

    products = {
        name: c.product.add_product(product_info=ProductInfo(name=name, iso_4217="CAD")).i_product
        for name in ("EasyCall", "SuperCall", "Basic")
    }
    ids = {}
    for name, city, product in (
        ("north", "Toronto", "EasyCall"),
        ("south", "Toronto", "SuperCall"),
        ("east", "Toronto", "Basic"),
        ("west", "Ottawa", "EasyCall"),
    ):
        info = CustomerInfo(name=name, iso_4217="CAD", city=city)
        ids[name] = c.customer.add_customer(customer_info=info).i_customer
        account = AccountInfo(
            id=f"{name}-1", i_customer=ids[name], i_product=products[product], iso_4217="CAD"
        )
        c.account.add_account(account_info=account)
    return ids


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_seed_question_returns_exactly_the_two_customers_typed(sim: Any, kind: str) -> None:
    from portabilling import AdminClient
    from portabilling.search import Customer, Product
    from portabilling.types import AccountInfo, ExtendedDataRecord, ProductInfo

    with AdminClient(sim.url, **ADMIN) as c:
        _fill_seed(c)

    async def question(c: Any) -> list[ExtendedDataRecord]:
        return list(
            await aw(
                c.customer.search(
                    Customer.city == "Toronto", Product.name.in_(["EasyCall", "SuperCall"])
                )
            )
        )

    records = run(kind, "json", sim.url, question, **ADMIN)
    assert sorted(r.customer_info.name for r in records) == ["north", "south"]
    for r in records:
        assert isinstance(r, ExtendedDataRecord)
        assert [type(a) for a in r.accounts] == [AccountInfo]
        assert [type(p) for p in r.products] == [ProductInfo]
        assert r.products[0].name in ("EasyCall", "SuperCall")
        assert r.accounts[0].i_customer == r.customer_info.i_customer
    # what went out: each condition under its entity's filter, in the server's terms
    (call,) = [x for x in sim.sim.calls if x.method == "get_extended_data_list"]
    assert call.params["customer_filter"] == [{"field": "city", "op": "eq", "value": ["Toronto"]}]
    assert call.params["product_filter"] == [{"field": "name", "in": ["EasyCall", "SuperCall"]}]
    assert set(call.params) == {"customer_filter", "product_filter"}


def test_soap_client_refuses_the_json_only_search(sim: Any) -> None:
    from portabilling import AdminClient, UnsupportedOperation
    from portabilling.search import Customer

    with AdminClient(sim.url, transport="soap", **ADMIN) as c:
        _fill_seed(c)
        with pytest.raises(UnsupportedOperation, match="get_extended_data_list"):
            c.customer.search(Customer.city == "Toronto")
    assert not [x for x in sim.sim.calls if x.method == "get_extended_data_list"]
    with AdminClient(sim.url, transport="soap", json_only_over_json=True, **ADMIN) as c:
        found = c.customer.search(Customer.city == "Ottawa")
    assert [r.customer_info.name for r in found] == ["west"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_paging_250_matches_by_100_yields_each_once(sim: Any, kind: str) -> None:
    for i in range(260):
        sim.sim.customers[i] = {
            "i_customer": i,
            "name": f"c{i:03}",
            "city": "Toronto" if i < 250 else "Ottawa",
        }

    async def scan(c: Any) -> list[int]:
        from portabilling.search import Customer

        pages = c.customer.iter_search(Customer.city == "Toronto", page_size=100)
        if kind == "async":
            return [r.customer_info.i_customer async for r in pages]
        return [r.customer_info.i_customer for r in pages]

    assert run(kind, "json", sim.url, scan, **ADMIN) == list(range(250))
    calls = [x.params for x in sim.sim.calls if x.method == "get_extended_data_list"]
    assert [(p["limit"], p["offset"]) for p in calls] == [(100, 0), (100, 100), (100, 200)]


def test_flags_reach_the_request_include_addons_matches_addon_products(sim: Any) -> None:
    from portabilling import AdminClient
    from portabilling.search import Product
    from portabilling.types import AccountInfo, AddonInfo, CustomerInfo, ProductInfo

    with AdminClient(sim.url, **ADMIN) as c:
        main = c.product.add_product(product_info=ProductInfo(name="Main", iso_4217="USD"))
        extra = c.product.add_product(product_info=ProductInfo(name="Roaming", iso_4217="USD"))
        i_customer = c.customer.add_customer(
            customer_info=CustomerInfo(name="a", iso_4217="USD")
        ).i_customer
        c.account.add_account(
            account_info=AccountInfo(
                id="a1",
                i_customer=i_customer,
                i_product=main.i_product,
                iso_4217="USD",
                assigned_addons=[AddonInfo(i_product=extra.i_product, name="Roaming")],
            )
        )
        assert c.customer.search(Product.name == "Roaming") == []
        found = c.customer.search(Product.name == "Roaming", include_addons=1)
        assert [p.name for p in found[0].products] == ["Main", "Roaming"]
        assert c.customer.search(limit=1, offset=1) == []
    sent = [x.params for x in sim.sim.calls if x.method == "get_extended_data_list"]
    assert sent[1]["include_addons"] == 1 and sent[2] == {"limit": 1, "offset": 1}


# ---- every operator, positive and negated ------------------------------------------------------

ROWS: dict[str, dict[str, Any]] = {
    "a": {"name": "ACME Ltd", "balance": 50.0, "i_customer_class": 7},
    "b": {"name": "Acme_2", "balance": 150.0, "i_customer_class": 8},
    "c": {"name": "Bolt", "balance": 100.0, "i_customer_class": 7, "blocked": "Y"},
}
INVOICES: dict[str, dict[str, Any]] = {
    "a": {"due_date": "2024-01-10", "issue_date": "2024-01-01 09:00:00", "amount_due": "10.50"},
    "b": {"due_date": "2024-03-10", "issue_date": "2024-03-01 09:00:00", "amount_due": "0.00"},
    "c": {"due_date": "2024-02-10", "issue_date": "2024-02-01 09:00:00", "amount_due": "99.99"},
}


ACCOUNTS = {"a": 10.0, "b": 30.0}  # `c` has no account
CLASSES = {7: "Gold", 8: "Silver"}


def _conditions() -> list[tuple[str, Any, set[str]]]:
    from portabilling.search import Account, Customer, CustomerClass, Invoice
    from portabilling.types import YesNo

    return [
        ("account >", Account.balance > 20, {"b"}),
        ("account <=", Account.balance <= 20, {"a"}),
        ("class ==", CustomerClass.name == "Gold", {"a", "c"}),
        ("class like", CustomerClass.name.like("S%"), {"b"}),
        ("text ==", Customer.name == "Bolt", {"c"}),
        ("text !=", Customer.name != "Bolt", {"a", "b"}),
        ("text in_", Customer.name.in_(["Bolt", "ACME Ltd"]), {"a", "c"}),
        ("like %", Customer.name.like("AC%"), {"a"}),
        ("like _", Customer.name.like("Acme__"), {"b"}),
        ("like escaped _", Customer.name.like("Acme\\_%"), {"b"}),
        ("float <", Customer.balance < 100, {"a"}),
        ("float >", Customer.balance > 100.0, {"b"}),
        ("float <=", Customer.balance <= 100, {"a", "c"}),
        ("float >=", Customer.balance >= 100, {"b", "c"}),
        ("int ==", Customer.i_customer_class == 7, {"a", "c"}),
        ("int in_", Customer.i_customer_class.in_([8, 9]), {"b"}),
        ("enum ==", Customer.blocked == YesNo.YES, {"c"}),
        ("date <", Invoice.due_date < date(2024, 2, 10), {"a"}),
        ("date >=", Invoice.due_date >= date(2024, 2, 10), {"b", "c"}),
        ("datetime >", Invoice.issue_date > datetime(2024, 1, 1, 9), {"b", "c"}),
        ("datetime ==", Invoice.issue_date == datetime(2024, 2, 1, 9), {"c"}),
        ("decimal >", Invoice.amount_due > Decimal("10.5"), {"c"}),
        ("decimal ==", Invoice.amount_due == 0, {"b"}),
        ("decimal <=", Invoice.amount_due <= Decimal("10.50"), {"a", "b"}),
    ]


def _fill_rows(sim: Any) -> None:
    for n, (key, row) in enumerate(sorted(ROWS.items())):
        sim.sim.customers[n] = {"i_customer": n, **row}
        sim.sim.add_invoice(n, **INVOICES[key])
        if key in ACCOUNTS:
            sim.sim.accounts[100 + n] = {
                "i_account": 100 + n,
                "i_customer": n,
                "balance": ACCOUNTS[key],
            }
    for i, name in CLASSES.items():
        sim.sim.customer_classes[i] = {"i_customer_class": i, "name": name}


def test_every_operator_positive_and_negated(sim: Any) -> None:
    """Negated, a condition keeps the customers with a value that fails it: SQL's NOT, under
    which a null (`a` and `b` have no `blocked`) meets neither side, and a customer with no
    account meets no account condition."""
    from portabilling import AdminClient

    _fill_rows(sim)
    names = {str(n): key for n, key in enumerate(sorted(ROWS))}
    with AdminClient(sim.url, **ADMIN) as c:
        for label, cond, expected in _conditions():
            got = {names[str(r.customer_info.i_customer)] for r in c.customer.search(cond)}
            assert got == expected, label
            held = {"c"} if label.startswith("enum") else set(ROWS)
            held = set(ACCOUNTS) if label.startswith("account") else held
            negated = {names[str(r.customer_info.i_customer)] for r in c.customer.search(~cond)}
            assert negated == held - expected, f"~({label})"
            assert {
                names[str(r.customer_info.i_customer)] for r in c.customer.search(~~cond)
            } == expected


def test_values_go_out_in_portabilling_formats(sim: Any) -> None:
    from portabilling import AdminClient
    from portabilling.search import Account, Customer, Invoice
    from portabilling.types import YesNo

    with AdminClient(sim.url, **ADMIN) as c:
        c.customer.search(
            Invoice.issue_date < datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
            Invoice.due_date >= date(2024, 4, 1),
            Invoice.amount_due > Decimal("1E+2"),
            Account.balance > 0.5,
            Customer.blocked.in_([YesNo.NO]),
            ~Customer.name.like("Test%"),
        )
    (sent,) = [x.params for x in sim.sim.calls if x.method == "get_extended_data_list"]
    assert sent["invoice_filter"] == [
        {"field": "issue_date", "op": "lt", "value": ["2024-05-01 12:30:00"]},
        {"field": "due_date", "op": "lt", "value": ["2024-04-01"], "not": 1},
        {"field": "amount_due", "op": "gt", "value": ["100"]},
    ]
    assert sent["account_filter"] == [{"field": "balance", "op": "gt", "value": ["0.5"]}]
    assert sent["customer_filter"] == [
        {"field": "blocked", "in": ["N"]},
        {"field": "name", "op": "like", "value": ["Test%"], "not": 1},
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda S: S.Customer.city == 5,
            r"customer_filter condition on 'city' needs a str, not int",
        ),
        (
            lambda S: S.Account.balance > "100",
            r"'balance' needs a number \(int or float\), not str",
        ),
        (lambda S: S.Customer.balance < True, r"'balance' needs a number"),
        (lambda S: S.Account.balance > float("nan"), r"'balance' needs a number"),
        (
            lambda S: S.Invoice.due_date < datetime(2024, 1, 1),
            r"'due_date' needs a date \(not a datetime\)",
        ),
        (
            lambda S: S.Invoice.amount_due > 1.5,
            r"'amount_due' needs a Decimal \(or int\), not float",
        ),
        (lambda S: S.Customer.blocked == "Y", r"'blocked' needs a YesNo, not str"),
        (lambda S: S.Account.password == 42, r"'password' needs a str, not int"),
    ],
)
def test_wrong_value_type_raises_encode_error_before_sending(
    sim: Any, make: Any, message: str
) -> None:
    import portabilling.search as S
    from portabilling import AdminClient, EncodeError

    with AdminClient(sim.url, **ADMIN) as c, pytest.raises(EncodeError, match=message) as caught:
        c.customer.search(make(S))
    assert "Customer.get_extended_data_list" in str(caught.value)
    assert not [x for x in sim.sim.calls if x.method == "get_extended_data_list"]


def test_misuse_is_refused_with_a_clear_error() -> None:
    from portabilling.search import EXTENDED_DATA, Customer, Product
    from portabilling.types import SearchCondition

    with pytest.raises(TypeError, match="no truth value"):
        bool(Customer.city == "a")
    with pytest.raises(TypeError, match=r"Customer\.filter\(\) takes conditions on Customer"):
        Customer.filter(Product.name == "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="conditions must be on fields of Customer, Account"):
        EXTENDED_DATA.request(["city = 'a'"], {})  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of values, not one string"):
        Customer.city.in_("Toronto")
    with pytest.raises(TypeError, match="namespace of fields"):
        Customer()
    assert Customer.filter(~Customer.city.in_(["a", "b"])) == [
        SearchCondition(field_="city", in_=["a", "b"], not_=1)
    ]
    cond = Customer.password == "hunter2"
    assert "hunter2" not in repr(cond) and repr(Customer.city != "x") == (
        "Condition(Customer.city != 'x')"
    )


def test_plain_request_struct_keeps_working_with_typed_filters(sim: Any) -> None:
    from portabilling import AdminClient
    from portabilling.search import Customer, Product
    from portabilling.types import GetCustomerExtendedDataListRequest, SearchCondition

    with AdminClient(sim.url, **ADMIN) as c:
        _fill_seed(c)
        by_hand = c.customer.get_extended_data_list(
            GetCustomerExtendedDataListRequest(
                customer_filter=[SearchCondition(field_="city", op="eq", value=["Toronto"])],
                product_filter=Product.filter(Product.name.like("%Call")),
            )
        )
        typed = c.customer.search(Customer.city == "Toronto", Product.name.like("%Call"))
    assert by_hand.total == 2 and by_hand.records == typed


def test_the_simulator_refuses_an_unknown_field(sim: Any) -> None:
    from portabilling import AdminClient, Fault
    from portabilling.types import SearchCondition

    with AdminClient(sim.url, **ADMIN) as c, pytest.raises(Fault, match="citty"):
        c.customer.get_extended_data_list(
            customer_filter=[SearchCondition(field_="citty", op="eq", value=["Toronto"])]
        )


def test_async_search_on_the_async_client(sim: Any) -> None:
    from portabilling import AsyncAdminClient
    from portabilling.search import Customer

    sim.sim.customers[1] = {"i_customer": 1, "name": "x", "city": "Toronto"}

    async def main() -> list[str]:
        async with AsyncAdminClient(sim.url, **ADMIN) as c:
            return [r.customer_info.name for r in await c.customer.search(Customer.name == "x")]

    assert asyncio.run(main()) == ["x"]
