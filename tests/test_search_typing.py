"""Typed searches are checked by mypy before they reach the server: mypy --strict over snippets.

One mypy run over a module of search expressions (`portabilling.search` and the service's
`search` / `iter_search`, sync and async), each line its own case: a misspelt field, a value of
the wrong type, ordering or `like` where the field's kind has none, a condition of one entity in
another entity's filter, a flag of the wrong type, and `limit` to the pager are errors on their
line; every correct expression passes with its type (`assert_type`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .typing_snippets import Snippet

ROOT = Path(__file__).resolve().parent.parent

# (case id, statement, a substring of the expected error or None for a correct one); `s` is the
# customer service of an AdminClient in the "sync" cases, of an AsyncAdminClient in the "async"
SYNC = [
    # the vocabulary: fields and their operators
    (
        "seed",
        'assert_type(s.search(Customer.city == "Toronto", EASY_OR_SUPER), list[Record])',
        None,
    ),
    ("all-entities", "s.search(Account.balance > 100, CustomerClass.name == 'Gold', OLD)", None),
    (
        "text-ops",
        's.search(Customer.name != "a", Customer.name.like("A%"), ~Customer.zip.in_([]))',
        None,
    ),
    (
        "number-ops",
        "s.search(Account.balance >= 1, Account.balance <= 2.5, Customer.i_customer < 9)",
        None,
    ),
    ("decimal", 's.search(Invoice.amount_due > Decimal("9.99"), Invoice.amount_due == 0)', None),
    (
        "datetime",
        "s.search(Invoice.issue_date > datetime(2024, 1, 1), Account.last_usage < NOW)",
        None,
    ),
    (
        "enum",
        "s.search(Customer.blocked == YesNo.NO, Invoice.status.in_([InvoiceStatus.OPEN]))",
        None,
    ),
    ("flags", "s.search(Customer.city == 'a', include_addons=1, limit=10, offset=20)", None),
    ("cond-type", 'assert_type(Customer.city == "x", Condition[Customer])', None),
    ("unknown-field", 's.search(Customer.citty == "Toronto")', 'has no attribute "citty"'),
    ("unknown-field-product", 's.search(Product.nmae == "x")', 'has no attribute "nmae"'),
    ("wrong-value-text", "s.search(Customer.city == 5)", 'incompatible type "bool"'),
    ("wrong-value-number", 's.search(Account.balance > "100")', "Unsupported operand types"),
    ("wrong-value-in", 's.search(Account.balance.in_(["1"]))', '"str"; expected "float"'),
    ("wrong-value-date", 's.search(Invoice.due_date < "2024-01-01")', "Unsupported operand"),
    ("wrong-value-decimal", "s.search(Invoice.amount_due > 1.5)", "Unsupported operand"),
    ("wrong-value-enum", 's.search(Customer.blocked == "Y")', 'incompatible type "bool"'),
    ("wrong-value-like", "s.search(Customer.name.like(5))", 'incompatible type "int"'),
    ("ordering-on-text", 's.search(Customer.city > "M")', "Unsupported operand types"),
    ("ordering-on-enum", "s.search(Customer.blocked < YesNo.NO)", "Unsupported operand types"),
    ("like-on-number", 's.search(Account.balance.like("1%"))', 'has no attribute "like"'),
    ("other-entity-filter", 'Customer.filter(Product.name == "x")', '"Condition[Product]"'),
    ("other-entity-filter-2", "Invoice.filter(Customer.balance > 1)", '"Condition[Customer]"'),
    ("own-entity-filter", 'Customer.filter(Customer.city == "x", ~Customer.zip.like("1%"))', None),
    ("not-a-condition", 's.search("city = Toronto")', 'incompatible type "str"'),
    ("wrong-flag", 's.search(include_addons="yes")', 'incompatible type "str"'),
    ("unknown-flag", "s.search(include_adons=1)", 'argument "include_adons"'),
    ("iter-ok", "assert_type(s.iter_search(OLD, page_size=50), Iterator[Record])", None),
    ("iter-limit", "s.iter_search(OLD, limit=5)", 'argument "limit"'),
    ("iter-wrong-field", "s.iter_search(Invoice.amount > 1)", 'has no attribute "amount"'),
]
ASYNC = [
    ("seed", "assert_type(await s.search(EASY_OR_SUPER), list[Record])", None),
    ("iter-ok", "assert_type(s.iter_search(OLD), AsyncIterator[Record])", None),
    ("unknown-field", 'await s.search(Customer.citty == "x")', 'has no attribute "citty"'),
    ("ordering-on-text", 'await s.search(Customer.city < "x")', "Unsupported operand types"),
    ("wrong-value", 'await s.search(Account.balance == "x")', 'incompatible type "bool"'),
]

HEAD = """\
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import assert_type

from portabilling import AdminClient, AsyncAdminClient
from portabilling._runtime.search import Condition
from portabilling.search import Account, Customer, CustomerClass, Invoice, Product
from portabilling.types import ExtendedDataRecord as Record
from portabilling.types import InvoiceStatus, YesNo

EASY_OR_SUPER = Product.name.in_(["EasyCall", "SuperCall"])
OLD = Invoice.due_date < date(2024, 1, 1)
NOW = datetime.now(UTC)
"""


SNIPPET = Snippet(
    HEAD,
    [
        ("sync", "def sync_search(c: AdminClient) -> None:", "s = c.customer", SYNC),
        ("async", "async def async_search(c: AsyncAdminClient) -> None:", "s = c.customer", ASYNC),
    ],
)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    """mypy --strict's errors over the snippet, by line (one run for every case)."""
    return SNIPPET.mypy_errors(tmp_path_factory.mktemp("search_typing"), "search_calls")


def test_no_error_outside_the_cases(mypy_errors: dict[int, list[str]]) -> None:
    """Imports and set-up type-check, so no case is an error for a reason of its own."""
    assert SNIPPET.outside_cases(mypy_errors) == {}


@pytest.mark.parametrize("case", sorted(SNIPPET.case_lines))
def test_search_expression(case: str, mypy_errors: dict[int, list[str]]) -> None:
    SNIPPET.check(case, mypy_errors)
