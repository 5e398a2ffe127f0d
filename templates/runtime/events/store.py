"""What the receiver needs from a store (`EventStore`, `AsyncEventStore`) and what every store
shares: the claim states, the table name check, claim tokens.

One row per event. `claim` inserts it as `working` with a lease (an expiry), or takes over a
`working` row whose lease ran out (its receiver died or gave up), in one atomic statement, so two
deliveries of one event can never both win. The winner runs the handler, renews the lease while
it runs, and marks the row `done` only after the handler returned; a failure clears the lease so
the next retry runs it again. The methods block: the receiver calls them from its own threads,
unless the store is also an `AsyncEventStore` (the same methods, awaitable, prefixed `a`), which
the receiver drives from its event loop instead.

`SqliteStore` (embedded, a file; the default) is in `sqlite`, `PostgresStore` (several receivers
behind a load balancer) in `pg`; `open_store(url)` (the package's) picks one from a URL.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

TABLE = "portabilling_events"
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Claim(enum.Enum):
    NEW = "new"  # ours to handle (first delivery, or a retry after a failure or a dead receiver)
    DONE = "done"  # handled before: answer 200, do nothing
    BUSY = "busy"  # another delivery holds a live lease: answer "later"


@dataclass(frozen=True)
class Claimed:
    state: Claim
    token: str = ""  # proves ownership to renew/complete/release; only set for NEW
    attempts: int = 0  # deliveries that ran the handler, this one included (NEW only)
    retry_after: float = 0.0  # seconds until a BUSY row's lease runs out


class EventStore(Protocol):
    """What the receiver needs from a store; every method may block."""

    threads: int  # how many threads may use the store at once

    def open(self) -> None:
        """Create the table if missing; called once before the first claim."""

    def claim(self, i_event: int, event_type: str, lease: float) -> Claimed: ...

    def renew(self, i_event: int, token: str, lease: float) -> bool:
        """Push the lease `lease` seconds ahead; False when the claim is no longer ours."""
        ...

    def complete(self, i_event: int, token: str) -> bool:
        """Mark the event handled; False when the claim is no longer ours."""
        ...

    def release(self, i_event: int, token: str, error: str) -> None:
        """Give the claim up after a failure, so the next retry runs the handler again."""

    def purge(self, older_than: float) -> int:
        """Forget events handled more than `older_than` seconds ago; how many went."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncEventStore(Protocol):
    """`EventStore`'s methods for an event loop: a store with these is driven without threads."""

    async def aopen(self) -> None: ...

    async def aclaim(self, i_event: int, event_type: str, lease: float) -> Claimed: ...

    async def arenew(self, i_event: int, token: str, lease: float) -> bool: ...

    async def acomplete(self, i_event: int, token: str) -> bool: ...

    async def arelease(self, i_event: int, token: str, error: str) -> None: ...

    async def aclose(self) -> None: ...


def check_table(table: str) -> str:
    if not _IDENT.fullmatch(table):
        raise ValueError(f"table name {table!r}: use lower-case letters, digits and _")
    return table


def new_token() -> str:
    return os.urandom(16).hex()  # 128 random bits, 32 hex digits (as uuid4().hex, cheaper)
