"""Keep-alive connection pools behind the default clients.

httpcore 1.0's own pool re-examines every open connection several times per request (quadratic in
open connections, and every check asks anyio for a fresh dict of socket attributes). With 20
concurrent calls that costs ~4 ms of CPU per request, more than building and decoding the call.
These pools hand each request a connection of its own from a newest-first stack of idle ones and
leave the protocol, TLS and timeouts to httpcore's connection classes, so behaviour on the wire is
httpx's. The default clients use them unless the environment configures a proxy; `http_client=`
takes any httpx client instead.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from ..limits import Deadline, LimitExceeded
from . import wire
from .gate import Gate
from .transport import BODY_BOUNDS, Outgoing

# Most specific first: httpx users catch httpx's exceptions, whatever pool sits underneath.
_MAPPED_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)

# httpcore's DEBUG trace comes from its connections: while it is on, requests take that path
_TRACE = logging.getLogger("httpcore")

_Key = wire.Key


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _MAPPED_ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc) or type(exc).__name__, request=request) from exc
        raise


def environment_has_proxy() -> bool:
    """httpx routes through HTTP(S)_PROXY/ALL_PROXY by itself; these pools do not do proxies."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class _Pool:
    """The bookkeeping both pools share: limits, idle stacks per origin, the TLS context."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        max_keepalive: int = 20,
        keepalive_expiry: float = 5.0,
    ) -> None:
        """httpx's defaults; `verify` takes an `ssl.SSLContext` for your own CA or client cert."""
        if max_connections < 1 or max_keepalive < 0:
            raise ValueError("max_connections must be at least 1 and max_keepalive at least 0")
        self._verify = verify
        self._ssl: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[_Key, list[Any]] = {}
        self._idle_count = 0
        self._closed = False
        self._gate = self._new_gate(max_connections)
        self._lock = threading.Lock()  # guards the idle stacks across threads (sync pool)

    @staticmethod
    def _new_gate(slots: int) -> Any:
        """At most `slots` requests hold a connection: a thread or an asyncio semaphore."""
        raise NotImplementedError

    def _core_request(self, request: httpx.Request) -> httpcore.Request:
        url = request.url
        return httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )

    def _ssl_context(self, origin: httpcore.Origin) -> ssl.SSLContext | None:
        return self._tls(origin.scheme)

    def _tls(self, scheme: bytes) -> ssl.SSLContext | None:
        # built on the first https request: loading the CA bundle costs ~20 ms
        if scheme == b"https" and self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self._verify)
        return self._ssl

    def _pop_idle(self, key: _Key, stale: list[Any]) -> Any | None:
        """The newest idle connection to `key` still usable; expired ones go to `stale`."""
        stack = self._idle.get(key)
        while stack:
            conn = stack.pop()
            self._idle_count -= 1
            if conn.is_idle() and not conn.has_expired():
                return conn
            stale.append(conn)
        return None

    def _push_idle(self, key: _Key, conn: Any) -> bool:
        """Keep `conn` for reuse if it can take another request and there is room."""
        if self._closed or not conn.is_idle() or self._idle_count >= self._max_keepalive:
            return False
        self._idle.setdefault(key, []).append(conn)
        self._idle_count += 1
        return True

    def _drain(self) -> list[Any]:
        self._closed = True
        conns = [conn for stack in self._idle.values() for conn in stack]
        self._idle.clear()
        self._idle_count = 0
        return conns

    @staticmethod
    def _response(core: httpcore.Response, body: bytes) -> httpx.Response:
        # a stream, not `content=`: httpx would decompress `content` at once, unbounded; the
        # client decompresses it in bounded steps (limits.BodyReader)
        return httpx.Response(
            core.status,
            headers=core.headers,
            stream=httpx.ByteStream(body),
            extensions=core.extensions,
        )


def _bounds(request: httpx.Request) -> tuple[int, Deadline | None]:
    bounds = request.extensions.get(BODY_BOUNDS)
    return bounds if bounds is not None else (0, None)


def _take(parts: list[bytes], chunk: bytes, size: int, limit: int, deadline: Any) -> int:
    size += len(chunk)
    if limit and size > limit:
        raise LimitExceeded(
            "max_wire_bytes", f"the reply is larger than {limit} bytes on the wire"
        )
    if deadline is not None:
        deadline.check()
    parts.append(chunk)
    return size


def _read(chunks: Iterator[bytes], request: httpx.Request) -> bytes:
    """The body as it arrives, stopped at the wire-size limit or the call's deadline."""
    limit, deadline = _bounds(request)
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size = _take(parts, chunk, size, limit, deadline)
    return b"".join(parts)


async def _aread(chunks: AsyncIterator[bytes], request: httpx.Request) -> bytes:
    limit, deadline = _bounds(request)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size = _take(parts, chunk, size, limit, deadline)
    return b"".join(parts)


def _key(origin: httpcore.Origin) -> _Key:
    return (origin.scheme, origin.host, origin.port, False)


def _fast(request: httpx.Request) -> tuple[_Key, bytes] | None:
    """The pool key and the bytes of `request` when a `wire` connection can carry it."""
    if not wire.FAST or _TRACE.isEnabledFor(logging.DEBUG):
        return None
    url = request.url
    scheme = url.raw_scheme
    if scheme not in (b"http", b"https"):
        return None  # httpcore refuses it with httpx's error
    data = wire.request_bytes(request)
    if data is None:
        return None
    port = url.port or (443 if scheme == b"https" else 80)
    return (scheme, url.raw_host, port, True), data


def _fast_outgoing(out: Outgoing) -> wire.Wire | None:
    """`_fast` of the `httpx.Request` that `out` stands for, from its head built once."""
    if not wire.FAST or _TRACE.isEnabledFor(logging.DEBUG):
        return None
    return out.wire()


class PooledTransport(_Pool, httpx.BaseTransport):
    """Sync HTTP/1.1 transport: `httpx.Client(transport=PooledTransport(verify=ctx))`."""

    @staticmethod
    def _new_gate(slots: int) -> threading.BoundedSemaphore:
        return threading.BoundedSemaphore(slots)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = self.exchange(request)
        return self._handle_core(request) if reply is None else reply.response()

    def exchange(self, request: httpx.Request) -> wire.Reply | None:
        """The whole reply to `request` on the fast path, or None when it cannot take it."""
        fast = _fast(request)
        if fast is None:
            return None
        timeouts = request.extensions.get("timeout", {})
        return self._exchange(fast[0], fast[1], timeouts, _bounds(request), request)

    def send(self, out: Outgoing) -> wire.Reply | None:
        """`exchange(out.http())`, without building the `httpx.Request`."""
        fast = _fast_outgoing(out)
        if fast is None:
            return None
        return self._exchange(fast[1], fast[0], out.timeouts(), out.bounds or (0, None), None)

    def _exchange(
        self,
        key: _Key,
        data: bytes,
        timeouts: dict[str, float | None],
        bounds: tuple[int, Deadline | None],
        request: httpx.Request | None,
    ) -> wire.Reply:
        if not self._gate.acquire(timeout=timeouts.get("pool")):
            raise httpx.PoolTimeout(
                "no connection came free within the pool timeout", request=request
            )
        try:
            stale: list[Any] = []
            with self._lock:
                conn = self._pop_idle(key, stale)
            for old in stale:
                old.close()
            if conn is None:
                conn = wire.Connection(
                    key[1].decode("ascii"),
                    key[2],
                    self._tls(key[0]),
                    timeouts.get("connect"),
                    self._expiry,
                )
            try:
                reply, reusable = conn.exchange(timeouts, data, *bounds)
            except BaseException:
                conn.close()
                raise
            with self._lock:
                kept = reusable and self._push_idle(key, conn)
            if not kept:
                conn.close()
        finally:
            self._gate.release()
        return reply

    def _handle_core(self, request: httpx.Request) -> httpx.Response:
        core = self._core_request(request)
        origin = core.url.origin
        wait = request.extensions.get("timeout", {}).get("pool")
        if not self._gate.acquire(timeout=wait):
            raise httpx.PoolTimeout(
                "no connection came free within the pool timeout", request=request
            )
        try:
            stale: list[Any] = []
            with self._lock:
                conn = self._pop_idle(_key(origin), stale)
            for old in stale:
                old.close()
            if conn is None:
                conn = httpcore.HTTPConnection(
                    origin, ssl_context=self._ssl_context(origin), keepalive_expiry=self._expiry
                )
            with _httpx_errors(request):
                try:
                    response = conn.handle_request(core)
                    body = _read(response.iter_stream(), request)
                    response.close()
                except BaseException:
                    conn.close()
                    raise
            with self._lock:
                kept = self._push_idle(_key(origin), conn)
            if not kept:
                conn.close()
        finally:
            self._gate.release()
        return self._response(response, body)

    def close(self) -> None:
        with self._lock:
            conns = self._drain()
        for conn in conns:
            conn.close()


class AsyncPooledTransport(_Pool, httpx.AsyncBaseTransport):
    """Async HTTP/1.1 transport (asyncio): `httpx.AsyncClient(transport=AsyncPooledTransport())`."""

    @staticmethod
    def _new_gate(slots: int) -> Gate:
        return Gate(slots)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reply = await self.exchange(request)
        return await self._handle_core(request) if reply is None else reply.response()

    async def exchange(self, request: httpx.Request) -> wire.Reply | None:
        """The whole reply to `request` on the fast path, or None when it cannot take it."""
        fast = _fast(request)
        if fast is None:
            return None
        timeouts = request.extensions.get("timeout", {})
        return await self._exchange(fast[0], fast[1], timeouts, _bounds(request), request)

    async def send(self, out: Outgoing) -> wire.Reply | None:
        """`exchange(out.http())`, without building the `httpx.Request`."""
        fast = _fast_outgoing(out)
        if fast is None:
            return None
        return await self._exchange(
            fast[1], fast[0], out.timeouts(), out.bounds or (0, None), None
        )

    async def _exchange(
        self,
        key: _Key,
        data: bytes,
        timeouts: dict[str, float | None],
        bounds: tuple[int, Deadline | None],
        request: httpx.Request | None,
    ) -> wire.Reply:
        gate = self._gate
        if not gate.take():  # a slot is free: taken at once
            await gate.wait(timeouts.get("pool"), request)
        try:
            stale: list[Any] = []
            conn = self._pop_idle(key, stale)
            for old in stale:
                old.close()
            if conn is None:
                conn = await wire.AsyncConnection.open(
                    key[1].decode("ascii"),
                    key[2],
                    self._tls(key[0]),
                    timeouts.get("connect"),
                    self._expiry,
                )
            try:
                reply, reusable = await conn.exchange(timeouts, data, *bounds)
            except BaseException:
                conn.close()
                raise
            if not (reusable and self._push_idle(key, conn)):
                conn.close()
        finally:
            self._gate.release()
        return reply

    async def _handle_core(self, request: httpx.Request) -> httpx.Response:
        core = self._core_request(request)
        origin = core.url.origin
        wait = request.extensions.get("timeout", {}).get("pool")
        await self._gate.wait(wait, request)
        try:
            stale: list[Any] = []
            conn = self._pop_idle(_key(origin), stale)
            for old in stale:
                await old.aclose()
            if conn is None:
                conn = httpcore.AsyncHTTPConnection(
                    origin, ssl_context=self._ssl_context(origin), keepalive_expiry=self._expiry
                )
            with _httpx_errors(request):
                try:
                    response = await conn.handle_async_request(core)
                    body = await _aread(response.aiter_stream(), request)
                    await response.aclose()
                except BaseException:
                    await conn.aclose()
                    raise
            if not self._push_idle(_key(origin), conn):
                await conn.aclose()
        finally:
            self._gate.release()
        return self._response(response, body)

    async def aclose(self) -> None:
        for conn in self._drain():
            await conn.aclose()


def direct(http: httpx.Client | httpx.AsyncClient) -> Any:
    """The pool behind a client that `default_client`/`default_async_client` made, which the
    clients then call directly: nothing of `httpx.Client.send` applies to such a client (no auth,
    hooks, redirects or mounts), and cookies are kept as `send` keeps them. None otherwise."""
    transport = getattr(http, "_transport", None)
    if (
        isinstance(transport, (PooledTransport, AsyncPooledTransport))
        and not http.event_hooks.get("response")
        and not http.event_hooks.get("request")
        and http.auth is None
    ):
        return transport
    return None


def default_client() -> httpx.Client:
    """What `Client` talks through when not given one."""
    if environment_has_proxy():
        return httpx.Client()
    return httpx.Client(transport=PooledTransport())


def default_async_client() -> httpx.AsyncClient:
    """What `AsyncClient` talks through when not given one."""
    if environment_has_proxy():
        return httpx.AsyncClient()
    return httpx.AsyncClient(transport=AsyncPooledTransport())
