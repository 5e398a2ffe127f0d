"""The event receiver: a plain ASGI application, no web framework needed.

Per request, in this order: authentication (401, nothing read further), method (405), size
(413, bounded while reading), a body verifier if configured (401), content type (415), the
event itself (400). Then the event is claimed in the store by `i_event` and its handler runs
once: a handled event answers 200 without running again, one being handled right now by another
delivery answers 409 with Retry-After (never 200 before the work is done), a failing handler
answers 500 and gives the claim up so PortaBilling's retry runs it again. An event type without a
handler is acknowledged (200) and logged, so it never loops.

Handlers get `(event, client)`: async handlers the async client, sync handlers (run in threads)
the sync one; both are ready clients of the package, logged in on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from . import open_store
from .auth import InboundRequest, Verifier, fresh_date
from .store import AsyncEventStore, Claim, Claimed, EventStore
from .types import Event, EventError, decode_event

log = logging.getLogger("portabilling.events")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
H = TypeVar("H", bound=Callable[..., Any])

MAX_LEASE = 86400  # a day: longer is no lease (and overflows the stores' date arithmetic)
MAX_BODY = 64 * 1024 * 1024
_PATTERN = re.compile(r"\*|[A-Za-z][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*")


class _ClientGone(Exception):
    pass


class Router:
    """Handlers by event type: `on("Subscriber/Updated")`, a group `on("Subscriber")`, or every
    event `on("*")`. An event goes to the most specific match only."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[..., Any]] = {}

    def on(self, pattern: str = "*") -> Callable[[H], H]:
        def register(handler: H) -> H:
            self.add(pattern, handler)
            return handler

        return register

    def add(self, pattern: str, handler: Callable[..., Any]) -> None:
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"handler pattern {pattern!r}: write Group/Action, Group or *")
        if pattern in self._handlers:
            raise ValueError(f"a handler for {pattern!r} is registered already")
        if not callable(handler):
            raise TypeError(f"the handler for {pattern!r} is not callable")
        self._handlers[pattern] = handler

    def handler_for(self, event_type: str) -> Callable[..., Any] | None:
        h = self._handlers
        return h.get(event_type) or h.get(event_type.partition("/")[0]) or h.get("*")

    @property
    def patterns(self) -> list[str]:
        return sorted(self._handlers)


class _Threaded:
    """A blocking store seen as an `AsyncEventStore`: each call runs in the store's threads."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(store.threads, "pb-events-store")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def aopen(self) -> None:
        await self._call(self.store.open)

    async def aclaim(self, i_event: int, event_type: str, lease: float) -> Claimed:
        claimed: Claimed = await self._call(self.store.claim, i_event, event_type, lease)
        return claimed

    async def arenew(self, i_event: int, token: str, lease: float) -> bool:
        return bool(await self._call(self.store.renew, i_event, token, lease))

    async def acomplete(self, i_event: int, token: str) -> bool:
        return bool(await self._call(self.store.complete, i_event, token))

    async def arelease(self, i_event: int, token: str, error: str) -> None:
        await self._call(self.store.release, i_event, token, error)

    async def aclose(self) -> None:
        await self._call(self.store.close)
        self.pool.shutdown(wait=False)


def _is_async(handler: Callable[..., Any]) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004  # an object with async __call__
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


class Receiver:
    """The ASGI app. Give it the router, a store (object or URL), the authentication, and the
    clients handlers get; `auth=None` turns authentication off (only behind a proxy that does
    it). Mounted in a framework that does not pass lifespan events on, it starts on the first
    request; call `aclose()` on shutdown."""

    def __init__(
        self,
        router: Router,
        *,
        store: EventStore | str,
        auth: Verifier | None,
        client: Any = None,
        async_client: Any = None,
        lease: float = 30.0,
        date_window: float | None = None,
        max_body: int = 64 * 1024,
        handler_threads: int = 16,
    ) -> None:
        if not 1 <= lease <= MAX_LEASE:  # False for NaN: a NaN lease would answer 503 for ever
            raise ValueError(f"lease must be between 1 and {MAX_LEASE} seconds")
        if date_window is not None and not 0 < date_window <= MAX_LEASE:
            raise ValueError(f"date_window must be between 0 and {MAX_LEASE} seconds")
        if not isinstance(max_body, int) or not 256 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be between 256 and {MAX_BODY} bytes")
        if not isinstance(handler_threads, int) or handler_threads < 1:
            raise ValueError("handler_threads must be at least 1")
        self.router = router
        self.store = open_store(store) if isinstance(store, str) else store
        # a store with async methods runs on the event loop; a blocking one in its own threads
        self._store: AsyncEventStore = (
            self.store if isinstance(self.store, AsyncEventStore) else _Threaded(self.store)
        )
        self.auth = auth
        self.client = client
        self.async_client = async_client
        self.lease = lease
        self.date_window = date_window
        self.max_body = max_body
        self._handler_pool = ThreadPoolExecutor(handler_threads, "pb-events-handler")
        self._started = False
        self._start_lock = asyncio.Lock()
        self._unknown: set[str] = set()
        # id of a handler (the router keeps it alive): whether it is a coroutine function
        self._async: dict[int, bool] = {}
        self._releasing: set[asyncio.Task[None]] = set()  # claims given up at shutdown

    # ---- lifecycle -----------------------------------------------------------------------------

    async def startup(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self._store.aopen()
                self._started = True
                log.info(
                    "receiving events; store %r; handlers %s", self.store, self.router.patterns
                )

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        if self.async_client is not None:
            with contextlib.suppress(Exception):
                await self.async_client.aclose()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self._handler_pool, self.client.close)
        self._handler_pool.shutdown(wait=False)
        if self._releasing:
            await asyncio.wait(self._releasing, timeout=5)
        await self._store.aclose()
        self._started = False

    # ---- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the event receiver serves HTTP, not {scope['type']}")
        status, reason, headers = await self._respond(scope, receive)
        body = reason.encode() + b"\n"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("event receiver cannot start: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _respond(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, str, list[tuple[bytes, bytes]]]:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        peer = scope.get("client") or ("?", 0)
        request = InboundRequest(
            scope["method"], scope["path"], headers, b"", f"{peer[0]}:{peer[1]}"
        )
        body_verifier = self.auth is not None and getattr(self.auth, "needs_body", False)
        if self.auth is not None and not body_verifier and not self._verify(request):
            return 401, "unauthorized", [(b"www-authenticate", b'Basic realm="events"')]
        if self.date_window is not None and not fresh_date(headers, self.date_window):
            log.warning("refused a request from %s: Date header missing or stale", request.client)
            return 401, "Date header missing or outside the allowed window", []
        if scope["method"] != "POST":
            return 405, "only POST", [(b"allow", b"POST")]
        declared = headers.get("content-length", "")
        if declared and not (declared.isascii() and declared.isdigit()):
            return 400, "Content-Length is not a number", []
        if declared and (len(declared) > 18 or int(declared) > self.max_body):
            return 413, f"body over {self.max_body} bytes", []
        try:
            body = await self._read(receive)
        except _ClientGone:
            return 400, "the client left before the body's end", []
        if body is None:
            return 413, f"body over {self.max_body} bytes", []
        if body_verifier:
            request = InboundRequest(request.method, request.path, headers, body, request.client)
            if not self._verify(request):
                return 401, "unauthorized", []
        ctype = headers.get("content-type", "").partition(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, "content type must be application/json", []
        try:
            if not self._started:  # once: startup() checks again under its lock
                await self.startup()
        except Exception as exc:
            log.error("event store unavailable: %s", exc)
            return 503, "event store unavailable", [(b"retry-after", b"5")]
        try:
            event = decode_event(body)
        except EventError as exc:
            log.warning("refused a body from %s: %s", request.client, exc.reason)
            return 400, exc.reason, []
        return await self._dispatch(event)

    def _verify(self, request: InboundRequest) -> bool:
        assert self.auth is not None
        try:
            ok = bool(self.auth(request))
        except Exception as exc:  # a verifier bug must not let a request through
            log.error("the verifier failed (%s); refusing the request", type(exc).__name__)
            ok = False
        if not ok:
            log.warning("refused a request from %s: bad credentials", request.client)
        return ok

    async def _read(self, receive: Receive) -> bytes | None:
        """The body, or None as soon as it grows past `max_body` (the rest is never read), or
        `_ClientGone` when the client disconnects (or is timed out) before its end: a cut body is
        never taken for a whole one."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # ---- exactly once --------------------------------------------------------------------------

    async def _dispatch(self, event: Event) -> tuple[int, str, list[tuple[bytes, bytes]]]:
        handler = self.router.handler_for(event.event_type)
        if handler is None:
            level = logging.DEBUG if event.event_type in self._unknown else logging.WARNING
            self._unknown.add(event.event_type)
            log.log(
                level,
                "no handler for %s (i_event %d): acknowledged",
                event.event_type,
                event.i_event,
            )
            return 200, f"no handler for {event.event_type}", []
        try:
            claim = await self._store.aclaim(event.i_event, event.event_type, self.lease)
        except Exception as exc:
            log.error("event store unavailable: %s", exc)
            return 503, "event store unavailable", [(b"retry-after", b"5")]
        if claim.state is Claim.DONE:
            log.info("%s i_event %d: handled before", event.event_type, event.i_event)
            return 200, "handled before", []
        if claim.state is Claim.BUSY:
            wait = str(max(1, min(int(claim.retry_after + 0.999), 3600))).encode()
            return 409, "being handled by another delivery", [(b"retry-after", wait)]
        token = claim.token
        beat = _Lease(self, event.i_event, token)
        try:
            await self._run(handler, event)
        except Exception as exc:
            beat.stop()
            log.exception(
                "%s i_event %d: handler failed (attempt %d)",
                event.event_type,
                event.i_event,
                claim.attempts,
            )
            with contextlib.suppress(Exception):
                await self._store.arelease(event.i_event, token, type(exc).__name__)
            return 500, "handler failed", []
        except BaseException:
            beat.stop()  # shut down mid-handler: give the claim up without waiting
            task = asyncio.get_running_loop().create_task(
                self._store.arelease(event.i_event, token, "cancelled")
            )
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)
            raise
        beat.stop()
        try:
            mine = await self._store.acomplete(event.i_event, token)
        except Exception as exc:
            # done but not recorded: answering an error would make the retry run it again
            log.error(
                "%s i_event %d: handled, but not recorded: %s",
                event.event_type,
                event.i_event,
                exc,
            )
            return 200, "handled", []
        if not mine:
            log.warning(
                "%s i_event %d: handled, but its lease of %gs ran out before a renewal (store "
                "unreachable or the process stalled): another delivery may have run it too",
                event.event_type,
                event.i_event,
                self.lease,
            )
        log.info("%s i_event %d: handled", event.event_type, event.i_event)
        return 200, "handled", []

    async def _run(self, handler: Callable[..., Any], event: Event) -> None:
        is_async = self._async.get(id(handler))  # by id: a callable object may not hash
        if is_async is None:
            is_async = self._async[id(handler)] = _is_async(handler)
        if is_async:
            await handler(event, self.async_client)
        else:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._handler_pool, partial(handler, event, self.client))

    async def _heartbeat(self, i_event: int, token: str) -> None:
        """Keep the lease while the handler runs, so only a dead receiver loses it."""
        while True:
            try:
                if not await self._store.arenew(i_event, token, self.lease):
                    log.warning("i_event %d: the lease was taken over", i_event)
                    return
            except Exception as exc:
                log.warning("i_event %d: cannot renew the lease: %s", i_event, exc)
            await asyncio.sleep(self.lease / 3)


class _Lease:
    """Renews a claim every third of the lease while its handler runs: a timer, and a renewing
    task only once the handler outlives the first third, so a short handler costs no renewal."""

    def __init__(self, receiver: Receiver, i_event: int, token: str) -> None:
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(
            receiver.lease / 3, self._start, receiver, i_event, token
        )

    def _start(self, receiver: Receiver, i_event: int, token: str) -> None:
        self._task = asyncio.get_running_loop().create_task(receiver._heartbeat(i_event, token))

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
