"""The one call flow that `Client` and `AsyncClient` both drive.

As in httpx's auth flows, the flow is a generator: it yields what to do next and receives the
outcome. A step is an `httpx.Request` to send (the driver sends back the `httpx.Response`, or
throws in the `httpx.HTTPError`), a `Wait` to sleep through, or a `LogIn` to perform under the
client's lock (the driver runs `login_flow` there). Log in once, send, retry reads with backoff,
log in again once after an auth fault: all of it is written here once, so the two clients cannot
drift apart; each only says how it sends, sleeps and locks.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar

import httpx

from .errors import AuthError, TransportError
from .operation import Operation
from .service import CallOptions, build_request

if TYPE_CHECKING:
    from .client import _Core

Resp = TypeVar("Resp")

# Proxies answer these while the server restarts: a read may try again, a write may not.
RETRY_STATUSES = frozenset({502, 503, 504})


class Wait(NamedTuple):
    """Sleep before trying again."""

    seconds: float


class LogIn(NamedTuple):
    """Log in under the client's lock, unless another call replaced the `stale` credential."""

    stale: str | None


Step: TypeAlias = httpx.Request | Wait | LogIn
Flow: TypeAlias = Generator[Step, httpx.Response | None, Resp]


def call_flow(
    core: _Core, op: Operation[Any, Resp], request: Any, options: CallOptions
) -> Flow[Resp]:
    """One call: log in first if needed, send; after an auth fault log in again once and resend."""
    core.transport_for(op)  # refuse before logging in
    if core._wants_login(op):
        yield LogIn(None)
    stale = core._credential()  # read before sending: a fault must not blame a newer session
    try:
        return (yield from send_flow(core, op, request, options))
    except AuthError:
        if not core._may_relogin(op):
            raise
    yield LogIn(stale)
    return (yield from send_flow(core, op, request, options))


def login_flow(core: _Core, stale: str | None) -> Flow[None]:
    """Session.login, unless a concurrent call already replaced the `stale` credential."""
    current = core._credential()
    if current and current != stale:
        return  # another thread or task already logged in
    core._forget()
    op = core._session_operations().login
    if op is None or op.request is None:
        raise TransportError(
            "this interface has no Session.login to log in with", operation="Session.login"
        )
    request = build_request(op, None, core._login_fields(op))
    core._remember((yield from send_flow(core, op, request, CallOptions())))


def send_flow(
    core: _Core, op: Operation[Any, Resp], request: Any, options: CallOptions
) -> Flow[Resp]:
    """Send `request`; reads (or calls with `retry=True`) try again after a backoff."""
    delays = _retry_delays(core, op, options)
    while True:
        http_request = core.build_request(op, request, options)
        try:
            try:
                response = yield http_request
            except httpx.HTTPError as exc:
                raise _connection_error(op, exc) from None
            assert response is not None  # a driver answers a request with its response
            if response.status_code in RETRY_STATUSES and delays:
                raise TransportError(
                    "server unavailable", operation=op.qualified_name, status=response.status_code
                )
            return core.decode_response(op, response, options)
        except TransportError as exc:
            delay = _next_delay(exc, delays)
        yield Wait(delay)


def _retry_delays(core: _Core, op: Operation[Any, Any], options: CallOptions) -> list[float]:
    """Waits before each retry: reads retry by default, writes only when the call opts in."""
    allowed = options.retry if options.retry is not None else op.read_only
    if not allowed:
        return []
    return [core.backoff * (2**n) * (0.5 + random.random()) for n in range(core.retries)]


def _next_delay(exc: TransportError, delays: list[float]) -> float:
    """The wait before trying again, or `exc` re-raised: only connection failures, timeouts and
    proxy 5xx are retried (never a reply that arrived and failed to decode)."""
    retryable = exc.status is None or exc.status in RETRY_STATUSES
    if not delays or not retryable or type(exc) is not TransportError:
        raise exc
    return delays.pop(0)


def _connection_error(op: Operation[Any, Any], exc: httpx.HTTPError) -> TransportError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return TransportError(f"{kind} ({type(exc).__name__})", operation=op.qualified_name)
