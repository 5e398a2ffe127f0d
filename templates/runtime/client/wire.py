"""HTTP/1.1 exchanges on one keep-alive connection, parsed by llhttp (the C parser `httptools`
wraps, which `uvicorn[standard]` brings): the pools' fast path.

httpcore's connection writes the head and the body in two sends and runs every event through h11's
Python state machine: about half of a call's CPU. Here the request goes out in one write and the
reply is parsed in C. What reaches the socket is what httpx would send (the `httpx.Request`'s own
headers, checked as h11 checks them); the reply is held to the same rules as under httpcore (head
size, framing, the wire-size limit and the deadline per chunk), and errors are httpx's. Without
`httptools` (`FAST` is False) the pools use httpcore's connections as before.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import select
import socket
import ssl
import time
from typing import Any

import httpx

from ..limits import LimitExceeded

# optional (a C extension): imported by name, so that the generated package type-checks where
# only its required dependencies are installed
httptools: Any
try:
    httptools = importlib.import_module("httptools")
except ImportError:  # pragma: no cover - the pools fall back to httpcore
    httptools = None

FAST = httptools is not None and hasattr(httptools.HttpResponseParser, "set_dangerous_leniencies")

# h11's rules for what a request may carry (a token for a name; no CR, LF or NUL in a value)
_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+\Z")
_VALUE = re.compile(rb"[^\r\n\x00]*\Z")
# what a reply's reader notes of its headers: the framing ones (not kept) and Set-Cookie
_NOTED = frozenset((b"content-length", b"transfer-encoding", b"content-encoding", b"set-cookie"))
MAX_HEAD = 100 * 1024  # httpcore's limit on a reply's head (h11's max_incomplete_event_size)
_READ = 65536


# the pools' key of a connection: scheme, host, port, whether a `wire` connection
Key = tuple[bytes, bytes, int, bool]
# a request as the fast path writes it, and the key of the connections that can carry it
Wire = tuple[bytes, Key]


def request_bytes(request: httpx.Request) -> bytes | None:
    """The request on the wire in one buffer, or None when its body is a stream (httpcore
    sends those)."""
    body: bytes | None = getattr(request, "_content", None)
    if body is None:
        return None
    method = request.method.encode("ascii")
    lines = [b"%s %s HTTP/1.1" % (method, request.url.raw_path)]
    lines += _header_lines(request.headers.raw)
    lines.append(b"\r\n")
    return b"\r\n".join(lines) + body


def _header_lines(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """`name: value` of each header, refused as h11 refuses what it cannot send."""
    lines = []
    for name, value in headers:
        if not _NAME.match(name) or not _VALUE.match(value):
            raise httpx.LocalProtocolError(f"a request header cannot be sent: {name!r}")
        lines.append(b"%s: %s" % (name, value))
    return lines


def head(
    method: bytes,
    url: httpx.URL,
    before: list[tuple[bytes, bytes]],
    after: list[tuple[bytes, bytes]],
) -> tuple[bytes, bytes, Key] | None:
    """What `request_bytes` writes of a request with these headers before and after its
    Content-Length value, and the pools' key for it; None when a header cannot be sent or the
    URL is not http(s) (httpcore's path then refuses it, as before)."""
    scheme = url.raw_scheme
    if scheme not in (b"http", b"https"):
        return None
    try:
        lines = [b"%s %s HTTP/1.1" % (method, url.raw_path), *_header_lines(before)]
        tail = _header_lines(after)
    except httpx.LocalProtocolError:
        return None
    prefix = b"\r\n".join([*lines, b"Content-Length: "])
    suffix = b"\r\n".join([b"", *tail, b"\r\n"])
    port = url.port or (443 if scheme == b"https" else 80)
    return prefix, suffix, (scheme, url.raw_host, port, True)


class _Done:
    """The parser of a closed connection: more bytes are never parsed into it."""

    def feed_data(self, data: bytes) -> None:
        raise httptools.HttpParserError("bytes after the end of the reply")


_DONE = _Done()


class Reply:
    """One complete reply, copied out of its connection's `Parser` (which goes on to parse the
    next reply on that connection, perhaps in another thread: see the sync pool)."""

    __slots__ = ("body", "codings", "cookies", "headers", "kept", "names", "status")

    def __init__(self, parsed: Parser) -> None:
        self.status = parsed.status
        self.headers = parsed.headers
        self.kept = parsed.kept
        self.names = parsed.names
        self.codings = parsed.codings
        self.cookies = parsed.cookies
        self.body = parsed.body

    def names_seen(self) -> bytes:
        """The names of the headers kept, in lower case, each between line feeds."""
        return b"\n".join(self.names) + b"\n"

    def response(self) -> httpx.Response:
        # a stream, not `content=`: httpx would decompress `content` at once, unbounded
        return httpx.Response(
            self.status,
            headers=self.headers,
            stream=httpx.ByteStream(b"".join(self.body)),
            extensions={"http_version": b"HTTP/1.1"},
        )


class Parser:
    """The replies on one connection as llhttp reports them, one at a time (`start` before
    each); `done` once the current one is complete. One llhttp parser per connection: making
    one per reply costs a tenth of a call."""

    __slots__ = (
        "body", "chunked", "codings", "cookies", "done", "extra", "has_length", "head_bytes",
        "head_done", "headers", "keep", "kept", "names", "parser", "size", "status",
    )  # fmt: skip

    def __init__(self) -> None:
        self.parser: Any = httptools.HttpResponseParser(self)
        # h11 reads any byte but NUL and whitespace in a header value (the decoders judge
        # them): llhttp's lenient value parsing, and nothing else lenient (framing stays strict)
        self.parser.set_dangerous_leniencies(lenient_headers=True)
        self.start()

    def start(self) -> None:
        """Ready for the next reply (new lists: a copied-out `Reply` keeps the old ones)."""
        self.headers: list[tuple[bytes, bytes]] = []
        self.kept: list[tuple[bytes, bytes]] = []  # less the framing ones (see `on_header`)
        self.names = [b""]  # the names kept, in lower case (see `Reply.names_seen`)
        self.codings: list[bytes] = []  # the Content-Encoding values
        self.cookies = False  # whether there is a Set-Cookie
        self.body: list[bytes] = []
        self.size = self.head_bytes = 0
        self.done = self.head_done = self.extra = self.keep = False
        self.has_length = self.chunked = False
        self.status = 0

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True  # bytes after the reply: the connection is not reused

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer
        self.headers.append((name, value))
        lower = name.lower()
        if lower not in _NOTED:
            self.kept.append((name, value))
            self.names.append(lower)
        elif lower == b"content-length":
            self.has_length = True
        elif lower == b"transfer-encoding":
            if b"chunked" in value.lower():
                self.chunked = True
        elif lower == b"content-encoding":
            self.codings.append(value)
        else:  # Set-Cookie
            self.cookies = True
            self.kept.append((name, value))
            self.names.append(lower)

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and the like: skip them
            self.headers, self.kept, self.codings, self.names = [], [], [], [b""]
            self.has_length = self.chunked = self.cookies = False
        else:
            self.status = status
            self.head_done = True

    def on_body(self, chunk: bytes) -> None:
        if not self.extra:
            self.body.append(chunk)
            self.size += len(chunk)

    def on_message_complete(self) -> None:
        if self.head_done:
            self.done = True
            self.keep = bool(self.parser.should_keep_alive())  # llhttp resets it after this

    def feed(self, data: bytes, limit: int, deadline: Any) -> None:
        """Parse `data`; the wire-size limit and the deadline are checked per chunk, as the
        httpcore path checks them per chunk it reads."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.parser = _DONE  # never parsed into again (its connection is closed)
            raise httpx.RemoteProtocolError(f"the reply is not HTTP/1.1: {exc}") from None
        if not self.head_done:
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                raise httpx.RemoteProtocolError("the reply's head is larger than 100 KiB")
        if limit and self.size > limit:
            raise LimitExceeded(
                "max_wire_bytes", f"the reply is larger than {limit} bytes on the wire"
            )
        if deadline is not None:
            deadline.check()

    def eof(self) -> None:
        """The server closed the connection: the end of a body without a length, or an error."""
        if self.done:
            return
        if self.head_done and not self.has_length and not self.chunked:
            self.done = self.extra = True  # complete; the connection is gone anyway
            return
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    def keep_alive(self) -> bool:
        return self.keep and not self.extra

    def close(self) -> None:
        """Its connection is closed: the parser lets go of this object's methods (no cycle
        left for the collector)."""
        self.parser = _DONE


class Connection:
    """A blocking keep-alive connection to one origin."""

    __slots__ = ("expires", "expiry", "parsing", "sock")

    def __init__(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        timeout: float | None,
        expiry: float,
    ) -> None:
        try:
            sock = socket.create_connection((host, port), timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        self.sock: socket.socket = sock
        self.expiry = expiry
        self.expires = 0.0
        self.parsing = Parser()

    def is_idle(self) -> bool:
        return True  # only idle connections are pooled

    def has_expired(self) -> bool:
        """Past its keep-alive expiry, or closed (or written to) by the server meanwhile."""
        return not self.usable()

    def usable(self) -> bool:
        if time.monotonic() > self.expires:
            return False
        poll = select.poll()  # not select.select: it refuses descriptors above 1023
        poll.register(self.sock, select.POLLIN)
        return not poll.poll(0)

    def exchange(
        self, timeouts: dict[str, float | None], wire: bytes, limit: int, deadline: Any
    ) -> tuple[Reply, bool]:
        """Send `wire`, read the reply; (reply, whether the connection may be reused)."""
        sock = self.sock
        try:
            sock.settimeout(timeouts.get("write"))
            sock.sendall(wire)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "write timed out") from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
        parsing = self.parsing
        parsing.start()
        try:
            sock.settimeout(timeouts.get("read"))
            while not parsing.done:
                data = sock.recv(_READ)
                if not data:
                    parsing.eof()
                    break
                parsing.feed(data, limit, deadline)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        self.expires = time.monotonic() + self.expiry
        # copied out before the pool hands the connection (and its parser) to another thread
        return Reply(parsing), parsing.keep_alive()

    def close(self) -> None:
        self.parsing.close()
        self.sock.close()


class _Protocol(asyncio.Protocol):
    """An asyncio connection feeding llhttp as bytes arrive (no streams, no anyio)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parsing = Parser()
        self.reply: Parser | None = None  # `parsing` while an exchange waits for its reply
        self.waiter: asyncio.Future[None] | None = None
        self.limit = 0
        self.deadline: Any = None
        self.lost = False
        self.last = 0.0  # time.monotonic() of the last bytes sent or received
        self.read: float | None = None  # the read timeout of the exchange under way
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0  # time.monotonic() when `timer` fires

    def arm(self, read: float | None) -> None:
        """The read timeout of an exchange that just wrote its request: `expire` runs no later
        than `read` seconds from now. One timer serves the exchanges that follow on this
        connection (each re-arms it only if it would fire too late), not one timer each."""
        self.read = read
        if read is None:
            return
        at = self.last + read
        timer = self.timer
        if timer is not None:
            if self.timer_at <= at:
                return
            timer.cancel()
        self.timer_at = at
        self.timer = asyncio.get_running_loop().call_later(read, self.expire)

    def expire(self) -> None:
        """The read timeout: no bytes for `read` seconds (re-armed while bytes keep arriving,
        or when the exchange waiting began after the timer was set)."""
        self.timer = None
        waiter, read = self.waiter, self.read
        if waiter is None or waiter.done() or read is None:
            return  # no exchange waiting: the next one arms it again
        idle = time.monotonic() - self.last
        if idle < read:
            self.timer_at = self.last + read
            self.timer = asyncio.get_running_loop().call_later(read - idle, self.expire)
            return
        waiter.set_exception(httpx.ReadTimeout("read timed out"))

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reply, waiter = self.reply, self.waiter
        if reply is None or waiter is None or waiter.done():
            self.lost = True  # bytes nobody asked for: never reused
            return
        self.last = time.monotonic()
        try:
            reply.feed(data, self.limit, self.deadline)
        except Exception as exc:
            waiter.set_exception(exc)
            return
        if reply.done:
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self._end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)

    def _end(self, exc: Exception | None) -> None:
        self.lost = True
        self.disarm()
        reply, waiter = self.reply, self.waiter
        if reply is None or waiter is None or waiter.done():
            return
        if exc is not None:
            waiter.set_exception(httpx.ReadError(str(exc) or type(exc).__name__))
            return
        try:
            reply.eof()
        except Exception as err:
            waiter.set_exception(err)
        else:
            waiter.set_result(None)


class AsyncConnection:
    """An asyncio keep-alive connection to one origin."""

    __slots__ = ("expires", "expiry", "protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol, expiry: float) -> None:
        self.transport = transport
        self.protocol = protocol
        self.expiry = expiry
        self.expires = 0.0

    @classmethod
    async def open(
        cls, host: str, port: int, tls: ssl.SSLContext | None, timeout: float | None, expiry: float
    ) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:  # ssl.SSLError included
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return cls(transport, protocol, expiry)

    def is_idle(self) -> bool:
        return True  # only idle connections are pooled

    def has_expired(self) -> bool:
        return not self.usable()

    def usable(self) -> bool:
        return (
            not self.protocol.lost
            and not self.transport.is_closing()
            and time.monotonic() <= self.expires
        )

    async def exchange(
        self, timeouts: dict[str, float | None], wire: bytes, limit: int, deadline: Any
    ) -> tuple[Reply, bool]:
        protocol = self.protocol
        if protocol.lost:
            raise httpx.WriteError("the connection was closed")
        loop = asyncio.get_running_loop()
        parsing = protocol.reply = protocol.parsing
        parsing.start()
        waiter = protocol.waiter = loop.create_future()
        protocol.limit, protocol.deadline = limit, deadline
        self.transport.write(wire)  # buffered by the loop: a write timeout cannot occur here
        protocol.last = time.monotonic()
        protocol.arm(timeouts.get("read"))
        try:
            await waiter
        finally:
            protocol.waiter = protocol.reply = None
        self.expires = protocol.last + self.expiry
        return Reply(parsing), parsing.keep_alive()

    def close(self) -> None:
        self.protocol.disarm()
        self.protocol.parsing.close()
        self.transport.close()

    async def aclose(self) -> None:
        self.close()
