"""`iter_*` always terminates: against the simulator (JSON directly, SOAP through SOAP::Lite)
made to ignore `offset`, to overrun its own total, and with page sizes that cannot page."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

ADMIN = {"login": "admin", "password": "secret"}


def _account(n: int) -> dict[str, Any]:
    return {"i_account": n, "id": f"acc{n}", "i_customer": 1, "iso_4217": "USD"}


@pytest.mark.parametrize("size", [0, -1, True, 2.5, "10"])
def test_page_size_must_be_a_positive_integer(sim: Any, size: Any) -> None:
    from portabilling import AdminClient

    with (
        AdminClient(sim.url, **ADMIN) as client,
        pytest.raises(ValueError, match="page_size must be a positive integer"),
    ):
        next(client.account.iter_account_list(page_size=size))
    assert [c.method for c in sim.sim.calls] == []  # refused before logging in


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_a_server_that_ignores_offset_is_stopped(sim: Any, transport: str) -> None:
    from portabilling import AdminClient, DecodeError

    sim.sim.replies[("Account", "get_account_list")] = lambda call: {
        "account_list": [_account(1), _account(2)]
    }
    seen: list[str | None] = []
    with (
        AdminClient(sim.url, transport=transport, **ADMIN) as client,
        pytest.raises(DecodeError, match="same page again at offset 2"),
    ):
        seen.extend(a.id for a in client.account.iter_account_list(page_size=2))
    assert seen == ["acc1", "acc2"]
    assert [c.method for c in sim.sim.calls].count("get_account_list") == 2


def test_a_server_that_sends_more_than_its_total_is_stopped(sim: Any) -> None:
    from portabilling import AsyncAdminClient, DecodeError

    counter = itertools.count(1)
    sim.sim.replies[("Account", "get_account_list")] = lambda call: {
        "account_list": [_account(next(counter)), _account(next(counter))],
        "total": 3,
    }

    async def main() -> list[str | None]:
        got: list[str | None] = []
        async with AsyncAdminClient(sim.url, **ADMIN) as client:
            with pytest.raises(DecodeError, match="reports a total of 3"):
                async for a in client.account.iter_account_list(page_size=2):
                    got.append(a.id)
        return got

    assert asyncio.run(main()) == ["acc1", "acc2"]


def test_paging_stops_at_the_total_without_an_empty_call(sim: Any) -> None:
    from portabilling import AdminClient

    rows = [_account(n) for n in range(1, 5)]

    def reply(call: Any) -> dict[str, Any]:
        offset, limit = call.params.get("offset", 0), call.params.get("limit")
        return {"account_list": rows[int(offset) : int(offset) + int(limit)], "total": 4}

    sim.sim.replies[("Account", "get_account_list")] = reply
    with AdminClient(sim.url, **ADMIN) as client:
        ids = [a.i_account for a in client.account.iter_account_list(page_size=2, offset=1)]
    assert ids == [2, 3, 4]
    assert [c.method for c in sim.sim.calls].count("get_account_list") == 2


def test_limit_is_refused_in_iteration(sim: Any) -> None:
    """`limit` is what page_size sets: passing it to iter_* would be silently overridden, so it
    is refused before anything is sent (the typed overloads do not offer it)."""
    from portabilling import AdminClient
    from portabilling.types import GetAccountListRequest

    with AdminClient(sim.url, **ADMIN) as client:
        for call in (
            lambda: client.account.iter_account_list(limit=5),  # type: ignore[call-overload]
            lambda: client.account.iter_account_list(GetAccountListRequest(limit=5)),
        ):
            with pytest.raises(ValueError, match="iterating sets `limit` itself"):
                next(call())
    assert [c.method for c in sim.sim.calls] == []
