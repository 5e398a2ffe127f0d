"""The generated stubs keep catching mistakes at the call site: mypy --strict over snippets.

Each stub method has one signature at run time; `fields_of` / `paged` give type checkers its two
forms (the request struct, or its fields as keywords). This runs mypy once over calls of
`admin/account.py` in both forms, sync and async, `get_*` and `iter_*`, and asserts that every
mistake is an error on its own line (a misspelt field, a wrong value type, a missing required
field, a struct of another operation, a struct and keywords together, `limit` to an iterator)
and that every correct call passes with its result type (`assert_type`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .typing_snippets import Snippet

ROOT = Path(__file__).resolve().parent.parent

# (case id, statement, a substring of the expected error or None for a correct call); `a` is the
# account service of an AdminClient in the "sync" cases, of an AsyncAdminClient in the "async"
# ones. In it get_account_info and iter_account_list have only optional fields; get_alias_list
# and iter_alias_list require `i_master_account: int`.
SYNC = [
    # keyword form
    ("kw-ok", "assert_type(a.get_alias_list(i_master_account=1), AliasListResponse)", None),
    ("kw-ok-optional", "assert_type(a.get_account_info(), GetAccountInfoResponse)", None),
    ("kw-ok-all", "a.get_alias_list(i_master_account=1, limit=5, offset=2)", None),
    ("kw-wrong-name", "a.get_account_info(i_acount=1)", 'argument "i_acount"'),
    ("kw-wrong-name-required", "a.get_alias_list(i_master_acount=1)", '"i_master_acount"'),
    ("kw-wrong-type", 'a.get_alias_list(i_master_account="1")', 'argument type "str"'),
    ("kw-wrong-type-optional", 'a.get_account_info(i_account="1")', 'type "str"'),
    ("kw-missing-required", "a.get_alias_list(offset=2)", "No overload variant"),
    ("kw-missing-all", "a.get_alias_list()", "require at least one argument"),
    ("kw-positional-field", "a.get_alias_list(1)", "No overload variant"),
    # struct form
    ("struct-ok", "assert_type(a.get_alias_list(ALIAS_LIST), AliasListResponse)", None),
    ("struct-wrong-op", "a.get_alias_list(GetAccountInfoRequest())", "No overload"),
    ("struct-and-keywords", "a.get_alias_list(ALIAS_LIST, offset=2)", "No overload"),
    ("struct-wrong-name", "GetAccountAliasListRequest(i_master_account=1, ofset=2)", '"ofset"'),
    ("struct-wrong-type", 'GetAccountAliasListRequest(i_master_account="1")', '"str"'),
    ("struct-missing-required", "GetAccountAliasListRequest(offset=2)", '"i_master_account"'),
    # iter_*: page_size and the fields but limit, or the struct and page_size
    ("iter-ok", "list(a.iter_alias_list(i_master_account=1, offset=5, page_size=3))", None),
    ("iter-ok-optional", "assert_type(a.iter_account_list(), Iterator[AccountInfo])", None),
    ("iter-ok-struct", "list(a.iter_alias_list(ALIAS_LIST, page_size=3))", None),
    ("iter-wrong-name", "a.iter_account_list(i_custmer=1)", '"i_custmer"'),
    ("iter-wrong-type", 'a.iter_alias_list(i_master_account="1")', 'type "str"'),
    ("iter-wrong-page-size", 'a.iter_alias_list(ALIAS_LIST, page_size="3")', "No overload"),
    ("iter-missing-required", "a.iter_alias_list(page_size=3)", "No overload variant"),
    ("iter-limit", "a.iter_account_list(limit=5)", 'argument "limit"'),
    ("iter-struct-and-keywords", "a.iter_alias_list(ALIAS_LIST, offset=1)", "No overload"),
]
ASYNC = [
    ("kw-ok", "assert_type(await a.get_alias_list(i_master_account=1), AliasListResponse)", None),
    ("kw-ok-optional", "assert_type(await a.get_account_info(), GetAccountInfoResponse)", None),
    ("kw-wrong-name", "await a.get_account_info(i_acount=1)", 'argument "i_acount"'),
    ("kw-wrong-type", 'await a.get_alias_list(i_master_account="1")', 'type "str"'),
    ("kw-missing-required", "await a.get_alias_list(offset=2)", "No overload variant"),
    ("struct-ok", "assert_type(await a.get_alias_list(ALIAS_LIST), AliasListResponse)", None),
    ("struct-wrong-op", "await a.get_alias_list(GetAccountInfoRequest())", "No overload"),
    ("struct-and-keywords", "await a.get_alias_list(ALIAS_LIST, offset=2)", "No overload"),
    ("iter-ok", "[a async for a in a.iter_alias_list(i_master_account=1, page_size=3)]", None),
    ("iter-ok-struct", "[a async for a in a.iter_alias_list(ALIAS_LIST, page_size=3)]", None),
    ("iter-ok-type", "assert_type(a.iter_account_list(), AsyncIterator[AccountInfo])", None),
    ("iter-wrong-name", "a.iter_account_list(i_custmer=1)", '"i_custmer"'),
    ("iter-wrong-type", 'a.iter_alias_list(i_master_account="1")', 'type "str"'),
    ("iter-missing-required", "a.iter_alias_list(page_size=3)", "No overload variant"),
    ("iter-limit", "a.iter_account_list(limit=5)", 'argument "limit"'),
]

HEAD = """\
from collections.abc import AsyncIterator, Iterator
from typing import assert_type

from portabilling import AdminClient, AsyncAdminClient
from portabilling.types.account import GetAccountAliasListRequest, GetAccountInfoRequest
from portabilling.types.account import GetAccountAliasListResponse as AliasListResponse
from portabilling.types.account import GetAccountInfoResponse
from portabilling.types.common import AccountInfo

ALIAS_LIST = GetAccountAliasListRequest(i_master_account=1)
"""


SNIPPET = Snippet(
    HEAD,
    [
        ("sync", "def sync_calls(c: AdminClient) -> None:", "a = c.account", SYNC),
        ("async", "async def async_calls(c: AsyncAdminClient) -> None:", "a = c.account", ASYNC),
    ],
)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    """mypy --strict's errors over the snippet, by line (one run for every case)."""
    return SNIPPET.mypy_errors(tmp_path_factory.mktemp("stub_typing"), "stub_calls")


def test_no_error_outside_the_cases(mypy_errors: dict[int, list[str]]) -> None:
    """Imports and set-up type-check, so no case is an error for a reason of its own."""
    assert SNIPPET.outside_cases(mypy_errors) == {}


@pytest.mark.parametrize("case", sorted(SNIPPET.case_lines))
def test_call(case: str, mypy_errors: dict[int, list[str]]) -> None:
    SNIPPET.check(case, mypy_errors)
