"""Clients: `Client` (sync) and `AsyncClient` share one core that builds and decodes requests.

The core is pure (operation + request -> `httpx.Request`; `httpx.Response` -> typed result), and
both clients drive the one call flow of `flow.py`, so they only differ in how they send, wait and
lock, and users can inspect requests without sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal, Self, TypeVar, overload

import httpx

from ..errors import Fault, PortaBillingError, TransportError
from ..http_reply import Reply, WholeReply
from ..limits import BodyReader, Deadline, DeadlineExceeded, Limits, whole_body, within
from ..operation import Operation
from ..redact import scrub_exception
from . import pool, wire
from .core import Core
from .flow import BodyRefused, Flow, LogIn, Wait, call_flow, login_flow, plain_send
from .options import DEFAULT_OPTIONS, CallOptions
from .session import Session
from .transport import Outgoing

Req = TypeVar("Req")
Resp = TypeVar("Resp")
R = TypeVar("R")


class Client(Core):
    """Synchronous client; one session for all calls, logged out on `close()`."""

    def __init__(
        self, base_url: str, *, http_client: httpx.Client | None = None, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._http = http_client or pool.default_client()
        self._owns_http = http_client is None
        self._direct: pool.PooledTransport | None = (
            pool.direct(self._http) if self._owns_http else None
        )
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, op: Operation[Req, Resp], request: Req | None, options: CallOptions) -> Resp:
        try:
            first = plain_send(self, self._session, op, request, options)
            if first is None:
                return self._drive(call_flow(self, self._session, op, request, options))
            try:  # the common case, without the flow's generator
                reply = self._read(first.outgoing, first.deadline, self.xml_limits)
            except Exception as exc:
                first.error = exc
            else:
                if first.settle(self, op, reply, options):
                    return first.result  # type: ignore[no-any-return]
            return self._drive(call_flow(self, self._session, op, request, options, first))
        except PortaBillingError as exc:
            scrub_exception(exc, self._secrets())  # no chained request, no echoed secret
            raise

    def _drive(self, flow: Flow[R]) -> R:
        """Runs `flow`: sends its requests, sleeps its waits, logs in under the lock."""
        reply: Reply | None = None
        error: Exception | None = None
        while True:
            try:
                step = flow.throw(error) if error else flow.send(reply)
            except StopIteration as done:
                result: R = done.value
                return result
            reply = error = None
            try:
                if isinstance(step, Wait):
                    time.sleep(step.seconds)
                elif isinstance(step, LogIn):
                    with self._lock, _store_lock(self._session, step.deadline):
                        self._drive(login_flow(self, self._session, *step))
                else:
                    reply = self._read(*step)
            except Exception as exc:
                error = exc

    def _read(self, out: Outgoing, deadline: Deadline, limits: Limits) -> Reply:
        """Send, and read the body as it streams, within the limits and the deadline."""
        if self._direct is not None and not self._http.is_closed:
            try:
                reply = self._direct.send(out)
            except (ValueError, DeadlineExceeded) as exc:
                raise BodyRefused(exc) from None
            except httpx.TransportError as exc:
                exc.request = out.http()  # as httpx.Client.send tells it
                raise
            if reply is not None:
                return _direct_reply(self._http, reply, out, deadline, limits)
        try:
            response = self._http.send(out.http(), stream=True)
        except (ValueError, DeadlineExceeded) as exc:  # raised by the pool while it read
            raise BodyRefused(exc) from None
        try:
            reader = _reader(response, deadline, limits)
            try:
                if response.is_stream_consumed:  # read already, by an event hook of `http_client`
                    reader.feed(response.content)
                else:
                    for chunk in response.iter_raw():
                        reader.feed(chunk)
            except (ValueError, DeadlineExceeded) as exc:
                raise BodyRefused(exc) from None
            return _buffered(response, reader, out)
        finally:
            response.close()

    def close(self) -> None:
        try:
            session = self._session
            if session.owned and session.credential():
                logout = session.operations().logout
                if logout is not None:
                    with contextlib.suppress(Fault, TransportError):
                        self.call(logout, session.logout_request(logout), DEFAULT_OPTIONS)
                session.forget()
        finally:
            if self._owns_http:
                self._http.close()


class AsyncClient(Core):
    """Asynchronous client; concurrent calls share one session and one re-login."""

    def __init__(
        self, base_url: str, *, http_client: httpx.AsyncClient | None = None, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._http = http_client or pool.default_async_client()
        self._owns_http = http_client is None
        self._direct: pool.AsyncPooledTransport | None = (
            pool.direct(self._http) if self._owns_http else None
        )
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp:
        try:
            first = plain_send(self, self._session, op, request, options)
            if first is None:
                return await self._drive(call_flow(self, self._session, op, request, options))
            try:  # the common case, without the flow's generator
                reply = await self._read(first.outgoing, first.deadline, self.xml_limits)
            except Exception as exc:
                first.error = exc
            else:
                if first.settle(self, op, reply, options):
                    return first.result  # type: ignore[no-any-return]
            return await self._drive(call_flow(self, self._session, op, request, options, first))
        except PortaBillingError as exc:
            scrub_exception(exc, self._secrets())  # no chained request, no echoed secret
            raise

    async def _drive(self, flow: Flow[R]) -> R:
        """Runs `flow`: sends its requests, sleeps its waits, logs in under the lock."""
        reply: Reply | None = None
        error: Exception | None = None
        while True:
            try:
                step = flow.throw(error) if error else flow.send(reply)
            except StopIteration as done:
                result: R = done.value
                return result
            reply = error = None
            try:
                if isinstance(step, Wait):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, LogIn):
                    async with self._lock, _async_store_lock(self._session, step.deadline):
                        await self._drive(login_flow(self, self._session, *step))
                else:
                    reply = await self._read(*step)
            except Exception as exc:
                error = exc

    async def _read(self, out: Outgoing, deadline: Deadline, limits: Limits) -> Reply:
        """Send, and read the body as it streams, within the limits and the deadline."""
        if self._direct is not None and not self._http.is_closed:
            try:
                reply = await self._direct.send(out)
            except (ValueError, DeadlineExceeded) as exc:
                raise BodyRefused(exc) from None
            except httpx.TransportError as exc:
                exc.request = out.http()  # as httpx.AsyncClient.send tells it
                raise
            if reply is not None:
                return _direct_reply(self._http, reply, out, deadline, limits)
        try:
            response = await self._http.send(out.http(), stream=True)
        except (ValueError, DeadlineExceeded) as exc:  # raised by the pool while it read
            raise BodyRefused(exc) from None
        try:
            reader = _reader(response, deadline, limits)
            try:
                if response.is_stream_consumed:  # read already, by an event hook of `http_client`
                    reader.feed(response.content)
                else:
                    async for chunk in response.aiter_raw():
                        reader.feed(chunk)
            except (ValueError, DeadlineExceeded) as exc:
                raise BodyRefused(exc) from None
            return _buffered(response, reader, out)
        finally:
            await response.aclose()

    @overload
    async def bulk(
        self,
        method: Callable[..., Awaitable[R]],
        requests: Iterable[Any],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> list[R]: ...

    @overload
    async def bulk(
        self,
        method: Callable[..., Awaitable[R]],
        requests: Iterable[Any],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> list[R | BaseException]: ...

    @overload
    async def bulk(
        self,
        method: Callable[..., Awaitable[R]],
        requests: Iterable[Any],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
    ) -> list[R] | list[R | BaseException]: ...

    async def bulk(
        self,
        method: Callable[..., Awaitable[R]],
        requests: Iterable[Any],
        *,
        concurrency: int = 20,
        return_exceptions: bool = False,
    ) -> list[R] | list[R | BaseException]:
        """Call `method` once per request (a struct, or a dict of keyword arguments), at most
        `concurrency` at a time; results come back in request order. The first failure is raised,
        or with `return_exceptions=True` returned in its place."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        gate = asyncio.Semaphore(concurrency)

        async def one(item: Any) -> R:
            async with gate:
                if isinstance(item, dict):
                    return await method(**item)
                return await method(item)

        return await asyncio.gather(
            *(one(item) for item in requests), return_exceptions=return_exceptions
        )

    async def aclose(self) -> None:
        try:
            session = self._session
            if session.owned and session.credential():
                logout = session.operations().logout
                if logout is not None:
                    with contextlib.suppress(Fault, TransportError):
                        await self.call(logout, session.logout_request(logout), DEFAULT_OPTIONS)
                session.forget()
        finally:
            if self._owns_http:
                await self._http.aclose()


@contextlib.contextmanager
def _store_lock(session: Session, deadline: Deadline | None) -> Iterator[None]:
    """The session store's lock on this session (other processes wait), if there is a store;
    waited for no longer than the call may take (see `_enter`)."""
    if session.store is None:
        yield
        return
    held = session.store.lock(session.store_key)
    _enter(held, deadline)
    try:
        yield
    finally:
        held.__exit__(None, None, None)


def _enter(held: contextlib.AbstractContextManager[object], deadline: Deadline | None) -> None:
    """Take a store's lock within the call's deadline: `FileSessionStore` reads it (another
    process stuck holding the lock costs this call its timeout, not for ever); a lock of the
    user's own store bounds its wait itself."""
    try:
        with within(deadline):
            held.__enter__()
    except DeadlineExceeded:
        raise TransportError(
            "timed out waiting for the session store's lock (another process holds it)",
            operation="Session.login",
        ) from None


@contextlib.asynccontextmanager
async def _async_store_lock(session: Session, deadline: Deadline | None) -> AsyncIterator[None]:
    """The store's lock, waited for in a worker thread (taken and released there: some locks,
    like redis-py's, belong to the thread that took them)."""
    if session.store is None:
        yield
        return
    held = session.store.lock(session.store_key)
    await asyncio.to_thread(_enter, held, deadline)
    try:
        yield
    finally:
        await asyncio.to_thread(held.__exit__, None, None, None)


def _reader(response: httpx.Response, deadline: Deadline, limits: Limits) -> BodyReader:
    coding = "" if response.is_stream_consumed else response.headers.get("content-encoding", "")
    try:
        return BodyReader(coding, limits, deadline)
    except ValueError as exc:  # a Content-Encoding this client did not ask for
        raise BodyRefused(exc) from None


_LOG = logging.getLogger("httpx")
_FRAMING = (b"content-encoding", b"content-length", b"transfer-encoding")


def _direct_reply(
    http: httpx.Client | httpx.AsyncClient,
    reply: wire.Reply,
    out: Outgoing,
    deadline: Deadline,
    limits: Limits,
) -> Reply:
    """A reply the pool read whole, as `httpx.Client.send` would have left it: decoded within
    the limits, its cookies kept, its line logged at INFO. Without cookies to keep, it goes to
    the decoders as a `WholeReply`, not an `httpx.Response`."""
    coding = b", ".join(reply.codings).decode("latin-1") if reply.codings else ""
    try:
        body = whole_body(b"".join(reply.body), coding, limits, deadline)
    except (ValueError, DeadlineExceeded) as exc:
        raise BodyRefused(exc) from None
    response: Reply
    if reply.cookies:
        response = _response(reply.status, reply.headers, body, out)
        http.cookies.extract_cookies(response)
    else:
        response = WholeReply(
            reply.status,
            [*reply.kept, (b"Content-Length", b"%d" % len(body))],
            body,
            reply.names_seen() + b"content-length\n",
        )
    if _LOG.isEnabledFor(logging.INFO):
        _LOG.info(
            'HTTP Request: %s %s "%s %d %s"',
            out.method,
            out.url,
            "HTTP/1.1",
            response.status_code,
            httpx.codes.get_reason_phrase(response.status_code),
        )
    return response


def _buffered(response: httpx.Response, reader: BodyReader, out: Outgoing) -> httpx.Response:
    return _response(response.status_code, response.headers.raw, reader.body(), out)


def _response(
    status: int, raw: list[tuple[bytes, bytes]], body: bytes, out: Outgoing
) -> httpx.Response:
    """The reply with its decoded body, as the decoders take it. Headers are copied as the
    bytes that arrived: a value that is not ASCII (a UTF-8 file name, a Latin-1 boundary) must
    reach the decoders, which refuse or read it, rather than fail to be copied."""
    headers = [(k, v) for k, v in raw if k.lower() not in _FRAMING]
    return httpx.Response(status, headers=headers, content=body, request=out.http())
