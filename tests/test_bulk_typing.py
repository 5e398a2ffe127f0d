"""`bulk()` is typed by its `return_exceptions` flag; `make lint` runs mypy --strict on this file.

`assert_type` is checked by mypy and returns its argument at run time, so the same lines check
both the static types and what bulk really returns.
"""

from __future__ import annotations

import asyncio
from typing import assert_type

import pytest
from portabilling import AsyncAdminClient
from portabilling.admin.customer import AsyncCustomerService


async def _double(n: int) -> int:
    if n < 0:
        raise ValueError(n)
    return 2 * n


def test_bulk_raises_by_default_and_returns_only_results() -> None:
    async def scenario() -> None:
        async with AsyncAdminClient("http://127.0.0.1:9") as client:
            results = assert_type(await client.bulk(_double, [1, 2, 3]), list[int])
            assert results == [2, 4, 6]
            same = await client.bulk(_double, [1], return_exceptions=False)
            assert assert_type(same, list[int]) == [2]
            with pytest.raises(ValueError):
                await client.bulk(_double, [1, -1])

    asyncio.run(scenario())


def test_bulk_with_return_exceptions_returns_them_in_place() -> None:
    async def scenario() -> None:
        async with AsyncAdminClient("http://127.0.0.1:9") as client:
            results = await client.bulk(_double, [1, -1, 3], return_exceptions=True)
            assert_type(results, list[int | BaseException])
            assert results[0] == 2 and results[2] == 6
            assert isinstance(results[1], ValueError)

    asyncio.run(scenario())


def test_bulk_over_a_generated_stub_keeps_its_reply_type() -> None:
    """Typing only: the stub's reply type flows through (the call itself is never awaited)."""

    async def typed(customers: AsyncCustomerService) -> None:
        from portabilling.types.customer import GetCustomerInfoResponse

        replies = await AsyncAdminClient("http://127.0.0.1:9").bulk(
            customers.get_customer_info, [{"i_customer": 1}]
        )
        assert_type(replies, list[GetCustomerInfoResponse])

    assert asyncio.iscoroutinefunction(typed)
