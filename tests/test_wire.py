"""The pools' fast path (`wire`, llhttp) against httpcore's, on the same raw replies: both read
the same bodies and refuse the same broken replies with the same httpx errors."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from portabilling._runtime.client import wire
from portabilling._runtime.client.pool import AsyncPooledTransport, PooledTransport

from tests.raw_http import read_request


class Raw:
    """Answers every request on a connection with `reply`, then hangs up if `close`."""

    def __init__(self) -> None:
        self.reply = b""
        self.close = False
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/x"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while (request := read_request(conn, buf)) is not None:
                buf = request[2]
                conn.sendall(self.reply)
                if self.close:
                    return


@pytest.fixture
def raw() -> Iterator[Raw]:
    s = Raw()
    yield s
    s._sock.close()


@pytest.fixture(params=["wire", "httpcore"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "wire" and not wire.FAST:
        pytest.skip("httptools is not installed")
    if request.param == "httpcore":
        monkeypatch.setattr(wire, "FAST", False)
    return str(request.param)


def _both(url: str) -> tuple[httpx.Response, httpx.Response]:
    with httpx.Client(transport=PooledTransport()) as client:
        sync = client.post(url, content=b"q")

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncPooledTransport()) as client:
            return await client.post(url, content=b"q")

    return sync, asyncio.run(run())


GOOD = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", False),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
        b"hello",
        False,
    ),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", b"until the end", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Odd: a\x01b\r\n\r\nok", b"ok", False),
]


@pytest.mark.parametrize(("reply", "body", "close"), GOOD)
def test_replies_read_alike(raw: Raw, path: str, reply: bytes, body: bytes, close: bool) -> None:
    raw.reply, raw.close = reply, close
    for response in _both(raw.url):
        assert response.status_code == 200 and response.content == body


BAD = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # hangs up mid-body
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok",  # two lengths
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # not a chunk size
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",  # head over 100 KiB
    b"NOT HTTP AT ALL\r\n\r\n",
]


@pytest.mark.parametrize("reply", BAD, ids=["short", "two-lengths", "chunk", "big-head", "junk"])
def test_broken_replies_are_protocol_errors_alike(raw: Raw, path: str, reply: bytes) -> None:
    raw.reply, raw.close = reply, True
    with pytest.raises(httpx.RemoteProtocolError), httpx.Client(transport=PooledTransport()) as c:
        c.post(raw.url, content=b"q")

    async def run() -> None:
        async with httpx.AsyncClient(transport=AsyncPooledTransport()) as client:
            await client.post(raw.url, content=b"q")

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(run())


def test_a_header_that_could_split_the_request_is_never_sent(raw: Raw) -> None:
    request = httpx.Request("POST", raw.url, content=b"q", headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(httpx.LocalProtocolError):
        wire.request_bytes(request)


class Varied(Raw):
    """Answers the n-th request on a connection with REPLIES[n % 3] (one connection kept)."""

    REPLIES = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a=1\r\nX-One: 1\r\n\r\none",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
        b"X-Two: 2\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nthree",
    )

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while (request := read_request(conn, buf)) is not None:
                _, body, buf = request
                conn.sendall(self.REPLIES[int(body) % 3])


EXPECTED = [(200, b"one", {"x-one", "set-cookie"}), (201, b"two", {"x-two"}), (404, b"three", set())]


def _seen(reply: wire.Reply) -> tuple[int, bytes, set[str]]:
    names = {k.decode().lower() for k, _ in reply.kept}
    return reply.status, b"".join(reply.body), names


@pytest.mark.skipif(not wire.FAST, reason="httptools is not installed")
def test_one_parser_per_connection_keeps_replies_apart() -> None:
    """Replies parsed one after another on one kept-alive connection (one llhttp parser): none
    carries what an earlier one had (headers, cookies, framing), and a reply taken earlier is
    left as it was while the connection parses the next ones, in threads sharing the pool."""
    server = Varied()
    try:
        transport = PooledTransport()
        host, port = server.url.removeprefix("http://").split("/")[0].split(":")
        key = (b"http", host.encode(), int(port), True)

        def one(n: int) -> wire.Reply:
            data = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%d" % (
                len(b"%d" % n),
                n,
            )
            return transport._exchange(key, data, {}, (0, None), None)

        taken = [one(n) for n in range(6)]
        assert [_seen(r) for r in taken] == EXPECTED * 2
        results: dict[int, wire.Reply] = {}

        def work(start: int) -> None:
            for n in range(start, 60, 4):
                results[n] = one(n)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(_seen(results[n]) == EXPECTED[n % 3] for n in range(60))
        assert [_seen(r) for r in taken] == EXPECTED * 2
        transport.close()

        async def run() -> list[wire.Reply]:
            pool = AsyncPooledTransport()
            out = []
            for n in range(6):
                data = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%d" % (
                    len(b"%d" % n),
                    n,
                )
                out.append(await pool._exchange(key, data, {}, (0, None), None))
            await pool.aclose()
            return out

        assert [_seen(r) for r in asyncio.run(run())] == EXPECTED * 2
    finally:
        server._sock.close()
