"""The async pool's gate (`client/gate.py`): slots taken in the order asked, a pool timeout,
and a slot never lost when a waiter times out or is cancelled."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from portabilling._runtime.client.gate import Gate


def test_slots_go_in_order_and_come_back() -> None:
    async def run() -> list[int]:
        gate = Gate(2)
        order: list[int] = []

        async def one(n: int) -> None:
            await gate.wait(None, None)
            order.append(n)
            await asyncio.sleep(0.01)
            gate.release()

        await asyncio.gather(*(one(n) for n in range(8)))
        assert gate.free == 2 and not gate.waiters
        return order

    assert asyncio.run(run()) == list(range(8))


def test_pool_timeout_and_cancel_lose_no_slot() -> None:
    async def run() -> None:
        gate = Gate(1)
        assert gate.take() and not gate.take()
        with pytest.raises(httpx.PoolTimeout):
            await gate.wait(0.05, None)
        assert not gate.waiters
        waiting = asyncio.ensure_future(gate.wait(None, None))
        await asyncio.sleep(0)
        gate.release()  # handed to `waiting`, which is cancelled before it runs
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert gate.free == 1 and not gate.waiters  # the slot came back
        assert gate.take()
        later = asyncio.ensure_future(gate.wait(1.0, None))
        await asyncio.sleep(0)
        assert not gate.take()  # a waiter is first in line
        gate.release()
        await later
        gate.release()
        assert gate.free == 1

    asyncio.run(run())
