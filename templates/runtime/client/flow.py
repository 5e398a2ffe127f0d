"""The one call flow that `Client` and `AsyncClient` both drive.

As in httpx's auth flows, the flow is a generator: it yields what to do next and receives the
outcome. A step is a request to send (`Send`) (the driver sends back the reply, or
throws in the `httpx.HTTPError`), a `Wait` to sleep through, or a `LogIn` to perform under the
client's lock (the driver runs `login_flow` there). Log in once, send, retry reads with backoff,
log in again once after an auth fault: all of it is written here once, so the two clients cannot
drift apart; each only says how it sends, sleeps and locks.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeAlias, TypeVar

import httpx

from ..errors import AuthError, DecodeError, Fault, TransportError
from ..http_reply import Reply, header
from ..limits import Deadline, DeadlineExceeded, LimitExceeded, Limits, within
from ..operation import Operation
from ..struct import UnsetType
from .core import Core
from .options import CallOptions
from .session import Session
from .transport import Outgoing, Transport

Resp = TypeVar("Resp")

# Proxies answer these while the server restarts: a read may try again, a write may not.
RETRY_STATUSES = frozenset({502, 503, 504})


class Wait(NamedTuple):
    """Sleep before trying again."""

    seconds: float


class LogIn(NamedTuple):
    """Log in (or with `refresh`, renew the access token) under the client's lock and the session
    store's, unless another call replaced the `stale` credential or tried to log in since
    `generation` (then its outcome is this call's too)."""

    stale: str | None
    generation: int = 0
    deadline: Deadline | None = None
    refresh: bool = False


class Send(NamedTuple):
    """Send `request` and read its reply within `limits`, by `deadline`."""

    request: Outgoing
    deadline: Deadline
    limits: Limits


class BodyRefused(Exception):
    """The driver's report that a reply's body went past a limit or the deadline."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


Step: TypeAlias = Send | Wait | LogIn
Flow: TypeAlias = Generator[Step, Reply | None, Resp]


class First:
    """A call's first request, sent by the driver itself in the common case (see `plain_send`),
    and what came of it: a reply (`reply`, and `failed` if decoding it raised) or the error the
    sending raised (`error`). The general flow takes it from there, so nothing goes out twice."""

    __slots__ = (
        "deadline", "error", "failed", "generation", "outgoing", "reply", "result", "stale",
        "transport",
    )  # fmt: skip

    def __init__(
        self,
        transport: Transport,
        outgoing: Outgoing,
        deadline: Deadline,
        stale: str | None,
        generation: int,
    ) -> None:
        self.transport = transport  # the one `op` goes over
        self.outgoing = outgoing
        self.deadline = deadline
        self.stale = stale  # the credential it was sent with (see `call_flow`)
        self.generation = generation
        self.reply: Reply | None = None
        self.error: Exception | None = None
        self.failed: Exception | None = None
        self.result: Any = None

    def settle(self, core: Core, op: Operation[Any, Any], reply: Reply, options: CallOptions) -> bool:
        """True with `result` decoded from a 200 `reply`; False when `call_flow(first=)` must go
        on from it (another status, or decoding it raised: kept as `failed`)."""
        if reply.status_code == 200:
            try:
                with within(self.deadline):
                    self.result = core.decode_response(op, reply, options, self.transport)
                    return True
            except Exception as exc:
                self.failed = exc
        self.reply = reply
        return False


def plain_send(
    core: Core, session: Session, op: Operation[Any, Any], request: Any, options: CallOptions
) -> First | None:
    """The common call's one request, or None when `call_flow` must run from its start (a
    logout, a login or a token renewal due first, a deadline already past). A driver sends
    it, decodes a 200 reply itself, and hands anything else to `call_flow(..., first=)`."""
    if session.is_logout(op) or (
        op.auth and (session.wants_login(op) or session.wants_refresh())
    ):
        return None
    timeout = core.timeout if isinstance(options.timeout, UnsetType) else options.timeout
    deadline = Deadline(timeout)
    transport = core.transport_of(op)  # an unsupported `op` refused first
    outgoing = core.outgoing(op, request, options, transport)
    at = deadline.at
    if at is not None:
        remaining = at - time.monotonic()
        if remaining <= 0:
            return None
        outgoing.timeout = remaining
    outgoing.bounds = (core.xml_limits.max_wire_bytes, deadline)
    return First(transport, outgoing, deadline, session.credential(), session.generation)


def call_flow(
    core: Core,
    session: Session,
    op: Operation[Any, Resp],
    request: Any,
    options: CallOptions,
    first: First | None = None,
) -> Flow[Resp]:
    """One call: log in first if needed, send; after an auth fault log in again once and resend.
    The whole call, logins and retries included, shares one deadline: its timeout. With
    `first`, the call's first request was sent already (see `plain_send`): the flow goes on
    from what came of it."""
    if first is not None:
        try:
            return (yield from send_flow(core, op, request, options, first.deadline, first))
        except AuthError:
            if not session.may_relogin(op):
                raise
        yield LogIn(first.stale, first.generation, first.deadline)
        return (yield from send_flow(core, op, request, options, first.deadline))
    core.transport_for(op)  # refuse before logging in
    timeout = core.timeout if isinstance(options.timeout, UnsetType) else options.timeout
    deadline = Deadline(timeout)
    if session.is_logout(op):  # never log in only to log out
        return (yield from send_flow(core, op, request, options, deadline))
    if session.wants_login(op):
        # a request that cannot be sent is refused before it costs a login (nothing goes out)
        core.outgoing(op, request, options)
        yield LogIn(None, session.generation, deadline)
    elif op.auth and session.wants_refresh():
        yield LogIn(session.credential(), session.generation, deadline, refresh=True)
    stale = session.credential()  # read before sending: a fault must not blame a newer session
    generation = session.generation
    try:
        return (yield from send_flow(core, op, request, options, deadline))
    except AuthError:
        if not session.may_relogin(op):
            raise
    yield LogIn(stale, generation, deadline)
    return (yield from send_flow(core, op, request, options, deadline))


def login_flow(
    core: Core,
    session: Session,
    stale: str | None,
    generation: int = 0,
    deadline: Deadline | None = None,
    refresh: bool = False,
) -> Flow[None]:
    """Session.login, unless a concurrent call (or, through the session store, another process)
    already replaced the `stale` credential, or already tried since this call looked (then its
    failure is this call's: one attempt for all the calls waiting, not one each). With `refresh`,
    the access token is renewed instead, and a refused renewal logs in. A login the server
    refuses is an `AuthError`."""
    deadline = deadline or Deadline(core.timeout)
    session.adopt_stored(stale)
    current = session.credential()
    if current and current != stale:
        if not session.wants_refresh():
            return  # another thread, task or process already logged in or renewed the token
        refresh, stale = True, current  # what the store held needs renewing too
    elif session.generation != generation and session.failure is not None:
        failed = session.failure
        raise AuthError(failed.faultcode, failed.faultstring, operation=failed.operation)
    renewal = session.refresh_request() if refresh else None
    if renewal is not None:
        renew, renew_request = renewal
        core.clear_last_reply()
        try:
            yield from send_flow(core, renew, renew_request, _SESSION_OPTIONS, deadline)
        except Fault:
            pass  # the refresh token was refused too: log in
        else:
            if session.refreshed(_raw_reply(core)):
                session.save()
                return
    session.forget()
    op = session.operations().login
    if op is None or op.request is None:
        raise TransportError(
            "this interface has no Session.login to log in with", operation="Session.login"
        )
    request = session.login_request(op)
    core.clear_last_reply()
    try:
        result = yield from send_flow(core, op, request, _SESSION_OPTIONS, deadline)
    except Fault as exc:  # wrong credentials, whatever code this release uses for them
        failure = AuthError(exc.faultcode, exc.faultstring, operation=op.qualified_name)
    else:
        session.logged_in(result, _raw_reply(core))
        session.save()
        return
    session.login_failed(failure)
    raise failure


# Logins and renewals are decoded leniently whatever the client's strictness: the token fields
# of newer releases are undeclared in older bindings, and the session reads them itself.
_SESSION_OPTIONS = CallOptions(strict=False)


def _raw_reply(core: Core) -> Any:
    """The last reply as plain data, read in the thread or task that just received it."""
    report = core.last_reply
    return report.raw if report is not None else None


def send_flow(
    core: Core,
    op: Operation[Any, Resp],
    request: Any,
    options: CallOptions,
    deadline: Deadline,
    first: First | None = None,
) -> Flow[Resp]:
    """Send `request`; reads (or calls with `retry=True`) try again after a backoff, or after
    what a 503's `Retry-After` asks, as long as the deadline allows. With `first`, the first
    request was sent already: its outcome is taken instead of sending it."""
    delays: _Delays | None = None  # made when first asked for: most calls never are
    limits = core.xml_limits
    while True:
        if first is None:
            remaining = deadline.remaining()
            if remaining is not None and remaining <= 0:
                raise _timed_out(op, deadline)
            outgoing = core.outgoing(op, request, options)
            if remaining is not None:
                outgoing.timeout = remaining
            outgoing.bounds = (limits.max_wire_bytes, deadline)
        asked: float | None = None
        refused: TransportError | None = None
        failed: Exception | None = None
        try:
            try:
                if first is None:
                    response = yield Send(outgoing, deadline, limits)
                else:
                    taken, first = first, None
                    if taken.error is not None:
                        raise taken.error
                    response, failed = taken.reply, taken.failed
            except httpx.HTTPError as exc:
                raise _connection_error(op, exc) from None
            except BodyRefused as exc:
                refused = _refused(op, exc.cause)
            else:
                assert response is not None  # a driver answers a request with its response
                if response.status_code in RETRY_STATUSES and delays is None:
                    delays = _retry_delays(core, op, options)
                if response.status_code in RETRY_STATUSES and delays:
                    asked = _retry_after(response)
                    raise TransportError(
                        "server unavailable",
                        operation=op.qualified_name,
                        status=response.status_code,
                    )
                try:
                    with within(deadline):  # a long repair stops at the deadline too
                        if failed is not None:  # decoded by the driver already
                            raise failed
                        return core.decode_response(op, response, options)
                except DeadlineExceeded:
                    raise _timed_out(op, deadline) from None
        except TransportError as exc:
            if delays is None:
                delays = _retry_delays(core, op, options)
            delay = _next_delay(exc, delays)
            if asked is not None:
                delay = max(delay, asked)
            remaining = deadline.remaining()
            if remaining is not None and delay >= remaining:
                if asked is None:
                    raise _timed_out(op, deadline) from None
                raise TransportError(
                    f"server unavailable; it asks to retry after {asked:g} s, beyond the "
                    "call's timeout",
                    operation=op.qualified_name,
                    status=exc.status,
                ) from None
        if refused is not None:
            raise refused  # a limit or the deadline: never retried
        yield Wait(delay)


def _retry_after(response: Reply) -> float | None:
    """A 503's `Retry-After`, in seconds or as an HTTP date."""
    text = header(response, "retry-after").strip() if response.status_code == 503 else ""
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _timed_out(op: Operation[Any, Any], deadline: Deadline) -> TransportError:
    return TransportError(
        f"timed out: the call took longer than its timeout of {deadline.timeout} s",
        operation=op.qualified_name,
    )


def _refused(op: Operation[Any, Any], cause: Exception) -> TransportError:
    if isinstance(cause, DeadlineExceeded):
        return _timed_out_text(op, str(cause))
    if isinstance(cause, LimitExceeded):
        return DecodeError(str(cause), operation=op.qualified_name)
    return DecodeError(f"the reply cannot be read: {cause}", operation=op.qualified_name)


def _timed_out_text(op: Operation[Any, Any], text: str) -> TransportError:
    return TransportError(f"timed out: {text}", operation=op.qualified_name)


class _Delays:
    """The waits before each retry, drawn as they are needed: `backoff * 2**n`, jittered by
    0.5-1.5x, at most `retries` of them (none when the call may not retry)."""

    __slots__ = ("backoff", "n", "retries")

    def __init__(self, backoff: float, retries: int) -> None:
        self.backoff = backoff
        self.retries = retries
        self.n = 0

    def __bool__(self) -> bool:
        return self.n < self.retries

    def pop(self) -> float:
        delay: float = self.backoff * (2**self.n) * (0.5 + random.random())
        self.n += 1
        return delay


def _retry_delays(core: Core, op: Operation[Any, Any], options: CallOptions) -> _Delays:
    """Waits before each retry: reads retry by default, writes only when the call opts in."""
    allowed = options.retry if options.retry is not None else op.read_only
    return _Delays(core.backoff, core.retries if allowed else 0)


def _next_delay(exc: TransportError, delays: _Delays) -> float:
    """The wait before trying again, or `exc` re-raised: only connection failures, timeouts and
    proxy 5xx are retried (never a reply that arrived and failed to decode)."""
    retryable = exc.status is None or exc.status in RETRY_STATUSES
    if not delays or not retryable or type(exc) is not TransportError:
        raise exc
    return delays.pop()


def _connection_error(op: Operation[Any, Any], exc: httpx.HTTPError) -> TransportError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return TransportError(f"{kind} ({type(exc).__name__})", operation=op.qualified_name)
