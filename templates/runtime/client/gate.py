"""The async pool's gate on its connections: at most `slots` exchanges at once, the others
waiting in the order they came, each no longer than its pool timeout.

`asyncio.Semaphore` does the same, but its `locked()` scans its waiters, and the pool asked it
twice per call; here a free slot is taken with one comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import httpx


class Gate:
    """A FIFO counting gate: `take()` a slot at once if one is free and nobody waits, else
    `wait()` for one; `release()` hands a freed slot to the first waiter still waiting."""

    __slots__ = ("free", "waiters")

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        return False

    async def wait(self, timeout: float | None, request: httpx.Request | None) -> None:
        """A slot, waited for in turn; `httpx.PoolTimeout` after `timeout` seconds."""
        if self.take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self._leave(waiter)
            raise httpx.PoolTimeout(
                "no connection came free within the pool timeout", request=request
            ) from None
        except BaseException:  # cancelled: the slot handed over meanwhile goes on
            self._leave(waiter)
            raise

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self.release()  # it was handed a slot it will not use
        else:
            waiter.cancel()
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)

    def release(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to it
                return
        self.free += 1
