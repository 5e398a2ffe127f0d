"""README's "Searching customers" section, to the letter: its module is the file
tests/readme/myapp/crm.py (which `make lint` type-checks with mypy --strict), and each of its
questions runs here against the simulator and finds exactly the customers or accounts it asks for.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "readme"
ADMIN = {"login": "admin", "password": "secret"}


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Searching customers") : text.index("## Provisioning events")]


@pytest.fixture
def crm() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import myapp.crm

        yield myapp.crm
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [m for m in sys.modules if m.split(".")[0] == "myapp"]:
            del sys.modules[name]


def test_the_module_is_the_one_readme_shows() -> None:
    blocks = re.findall(r"```python\n(.*?)```\n", _section(), re.S)
    assert blocks == [(EXAMPLE / "myapp" / "crm.py").read_text()]


def _customer(c: Any, name: str, city: str, *products: int, balance: float = 0.0) -> int:
    from portabilling.types import AccountInfo, CustomerInfo

    info = CustomerInfo(name=name, iso_4217="CAD", city=city)
    i_customer: int = c.customer.add_customer(customer_info=info).i_customer
    for n, i_product in enumerate(products):
        account = AccountInfo(
            id=f"{name}-{n}",
            i_customer=i_customer,
            i_product=i_product,
            iso_4217="CAD",
            balance=balance + n,
        )
        c.account.add_account(account_info=account)
    return i_customer


def _products(c: Any, *names: str) -> dict[str, int]:
    from portabilling.types import ProductInfo

    return {
        n: c.product.add_product(product_info=ProductInfo(name=n, iso_4217="CAD")).i_product
        for n in names
    }


def test_the_seed_question(sim: Any, crm: Any) -> None:
    from portabilling import AdminClient

    with AdminClient(sim.url, **ADMIN) as c:
        p = _products(c, "EasyCall", "SuperCall", "Basic")
        _customer(c, "north", "Toronto", p["EasyCall"])
        _customer(c, "south", "Toronto", p["Basic"], p["SuperCall"])
        _customer(c, "east", "Toronto", p["Basic"])
        _customer(c, "west", "Ottawa", p["EasyCall"])
        found = crm.toronto_on_easycall_or_supercall(c)
    assert sorted(r.customer_info.name for r in found) == ["north", "south"]
    assert [len(r.accounts) for r in found] == [1, 2]


def test_accounts_over_100_on_a_product(sim: Any, crm: Any) -> None:
    from portabilling import AdminClient

    with AdminClient(sim.url, **ADMIN) as c:
        p = _products(c, "EasyCall", "Basic")
        _customer(c, "rich", "Toronto", p["EasyCall"], p["Basic"], balance=150.0)
        _customer(c, "poor", "Toronto", p["EasyCall"], balance=99.5)
        _customer(c, "rich-elsewhere", "Ottawa", p["Basic"], balance=500.0)
        _customer(c, "edge", "Ottawa", p["EasyCall"], balance=100.0)
        found = crm.accounts_over_100(c, p["EasyCall"])
    assert [(a.id, a.balance) for a in found] == [("rich-0", 150.0)]


def test_customers_with_an_unpaid_invoice_older_than_a_date(sim: Any, crm: Any) -> None:
    from portabilling import AdminClient

    with AdminClient(sim.url, **ADMIN) as c:
        late = _customer(c, "late", "Toronto")
        paid = _customer(c, "paid", "Toronto")
        recent = _customer(c, "recent", "Toronto")
        sim.sim.add_invoice(late, due_date="2024-02-01", amount_due="12.50")
        sim.sim.add_invoice(late, due_date="2024-04-01", amount_due="0.00")
        sim.sim.add_invoice(paid, due_date="2024-01-01", amount_due="0.00")
        sim.sim.add_invoice(recent, due_date="2024-03-15", amount_due="40.00")
        found = crm.unpaid_before(c, date(2024, 3, 1))
    assert [info.name for info in found] == ["late"]
    (call,) = [x for x in sim.sim.calls if x.method == "get_extended_data_list"]
    assert call.params["invoice_filter"] == [
        {"field": "amount_due", "op": "gt", "value": ["0"]},
        {"field": "due_date", "op": "lt", "value": ["2024-03-01"]},
    ]
