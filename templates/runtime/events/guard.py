"""The receiver's sockets: every connection bounded before the application sees a byte of it.

An event receiver faces the internet before anyone has authenticated, so what a client may cost
is bounded here, in the HTTP protocol `serve` runs uvicorn with: uvicorn's httptools protocol
when httptools is installed (`GuardedHttpToolsProtocol` in `guard_httptools`: llhttp, the C
parser, at a fraction of h11's CPU per request), its h11 protocol otherwise (`GuardedProtocol`),
both with the same bounds:

- the request head (request line and headers) at `max_head` bytes, answered 431 once that much
  of it has arrived without its end, and at `max_headers` header lines, answered 431;
- the time to read one request, head and body, at `read_timeout` seconds from the connection's
  first byte (or from its opening: a connection that sends nothing is closed too), answered 408;
- an idle kept-alive connection at `keep_alive` seconds (uvicorn's `timeout_keep_alive`);
- open connections at `max_connections`: a new one beyond it closes the connection that has
  waited longest without a request in progress (idle, or still sending its head), so a flood of
  idle or slow connections cannot lock real deliveries out; only when every connection is busy
  with a request is the new one refused.

Bodies are bounded by the receiver's `max_body`. Behind nginx or a load balancer, bound the same
things there (nginx: `client_header_timeout`, `client_body_timeout`, `keepalive_timeout`,
`large_client_header_buffers`, `client_max_body_size`, `limit_conn`), and keep these limits as a
second line: the proxy's connections count against `max_connections` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11  # httpx's own dependency, so always there
from uvicorn.protocols.http.h11_impl import (  # type: ignore[import-not-found, unused-ignore]
    H11Protocol,  # optional: `serve` imports this module only once uvicorn is there
)

from .bounds import ConnectionLimits

Scope = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class Guard:
    """What both guarded protocols share: the read timer, the eviction of the longest-idle
    connection, the refusal without the parser. The protocol says when it is `_idle` and whether
    an answer can still be written (`_may_answer`)."""

    limits = ConnectionLimits()
    # set by the uvicorn protocol this is mixed into
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]
    app: App
    _read_timer: asyncio.TimerHandle | None
    _since: float  # when this connection last started waiting for a request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = count_headers(self.app, self.limits.max_headers)
        self._read_timer = None
        self._since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _started(self) -> None:
        """Bytes arrived: the read timer runs from the first of a request (or from the opening)."""
        if self._read_timer is None:
            self._since = self.loop.time()
            self._arm()

    def _idle(self) -> bool:
        raise NotImplementedError

    def _may_answer(self) -> bool:
        raise NotImplementedError

    def _request_over(self) -> bool:
        """True once the response to the request read last is complete (or there was none)."""
        raise NotImplementedError

    def _opened(self) -> None:
        self._since = self.loop.time()
        self._arm()
        if len(self.connections) > self.limits.max_connections:
            idle = [c for c in self.connections if isinstance(c, Guard) and c._idle()]
            oldest = min((c for c in idle if c is not self), key=lambda c: c._since, default=None)
            (oldest or self).transport.close()

    def _arm(self) -> None:
        self._read_timer = self.loop.call_later(self.limits.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._request_over():
            self._refuse(408)  # nothing answered yet: say why
        else:
            self.transport.close()  # the application is reading the body: it sees a disconnect

    def _refuse(self, status: int) -> None:
        """Answer `status` without the parser (whose state may be an error by now) and close."""
        if self._may_answer():
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
                % (status, _REASONS[status])
            )
        self.transport.close()


class GuardedProtocol(Guard, H11Protocol):  # type: ignore[misc, unused-ignore]  # Any without uvicorn
    """uvicorn's h11 protocol with the bounds of `limits` (set by `guarded_protocol`)."""

    def data_received(self, data: bytes) -> None:
        self._started()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the request is read (or the connection is over)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        received = len(self.conn.trailing_data[0])
        if received > self.limits.max_head and self.conn.their_state is h11.ERROR:
            self._refuse(431)
        else:
            super().send_400_response(msg)

    def _idle(self) -> bool:
        """No request in progress: the head not complete yet, or kept alive between requests."""
        return self.conn.their_state is h11.IDLE and self._request_over()

    def _request_over(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _may_answer(self) -> bool:
        return self.conn.our_state is h11.IDLE or self.conn.our_state is h11.SEND_RESPONSE


def count_headers(app: App, most: int) -> App:
    async def counted(scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and len(scope.get("headers", ())) > most:
            body = b"too many header fields\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return counted
