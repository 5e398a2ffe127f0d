"""The call flow's own request path (issue 26): what the pools write for a call is, byte for
byte, what `build_request` describes; the read timeout still holds per exchange with one timer
per connection; a reply's headers still read as httpx reads them. Over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from portabilling import AdminClient, AsyncAdminClient, TransportError
from portabilling._runtime.client import wire
from portabilling._runtime.http_reply import WholeReply, header
from portabilling.admin.account import GET_ACCOUNT_INFO
from portabilling.types import GetAccountInfoRequest

from tests.raw_http import read_request

JSON_REPLY = b'{"account_info": {"i_account": 7, "id": "a7"}}'
SOAP_REPLY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soap:Body><get_account_infoResponse><account_info><i_account>7</i_account>"
    b"<id>a7</id></account_info></get_account_infoResponse></soap:Body></soap:Envelope>"
)


class Capture:
    """Records each request as it arrived (head and body) and answers it; `stall` requests
    (counted from 1) are answered after `delay` seconds."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self.stall: set[int] = set()
        self.delay = 0.0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while (request := read_request(conn, buf)) is not None:
                head, body, buf = request
                self.requests.append(head + b"\r\n\r\n" + body)
                if len(self.requests) in self.stall:
                    time.sleep(self.delay)
                soap = head.startswith(b"POST /Porta")
                body = SOAP_REPLY if soap else JSON_REPLY
                ctype = b"text/xml; charset=utf-8" if soap else b"application/json"
                try:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                        b"X-Odd: caf\xc3\xa9\r\n\r\n%s" % (ctype, len(body), body)
                    )
                except OSError:
                    return


@pytest.fixture
def server() -> Iterator[Capture]:
    s = Capture()
    yield s
    s._sock.close()


def _expected(client: AdminClient | AsyncAdminClient) -> bytes:
    request = client.build_request(GET_ACCOUNT_INFO, GetAccountInfoRequest(i_account=7))
    data = wire.request_bytes(request)
    assert data is not None
    return data


@pytest.mark.skipif(not wire.FAST, reason="httptools is not installed")
@pytest.mark.parametrize("transport", ["json", "soap"])
@pytest.mark.parametrize("style", ["form", "bearer"])
@pytest.mark.parametrize("userinfo", ["", "proxyuser:s3cret@"])
def test_what_is_written_is_what_build_request_describes(
    server: Capture, transport: str, style: str, userinfo: str
) -> None:
    url = server.url.replace("http://", f"http://{userinfo}")
    kwargs = {"session_id": "s-1"} if style == "form" else {"access_token": "tok-1"}
    with AdminClient(url, transport=transport, json_style=style, **kwargs) as client:  # type: ignore[arg-type]
        for _ in range(2):
            client.account.get_account_info(i_account=7)
        expected = _expected(client)

    async def run() -> bytes:
        async with AsyncAdminClient(url, transport=transport, json_style=style, **kwargs) as c:  # type: ignore[arg-type]
            for _ in range(2):
                await c.account.get_account_info(i_account=7)
            return _expected(c)

    assert asyncio.run(run()) == expected
    assert server.requests == [expected] * 4
    assert server.connections == 2  # one kept-alive connection per client


@pytest.mark.skipif(not wire.FAST, reason="httptools is not installed")
def test_the_read_timeout_holds_when_a_connection_serves_calls_with_shorter_timeouts(
    server: Capture,
) -> None:
    """The first exchange arms its connection's timer for 20 s; the next, on the same
    connection with a 0.3 s timeout, must still time out after ~0.3 s, not 20."""
    server.stall, server.delay = {2}, 3.0

    async def run() -> float:
        async with AsyncAdminClient(server.url, session_id="s-1", timeout=20, retries=0) as c:
            info = (await c.account.get_account_info(i_account=7)).account_info
            assert info is not None and info.id == "a7"
            start = time.monotonic()
            with pytest.raises(TransportError, match="timed out"):
                await c.account.with_options(timeout=0.3).get_account_info(i_account=7)
            return time.monotonic() - start

    assert asyncio.run(run()) < 2.0
    assert server.connections == 1


@pytest.mark.skipif(not wire.FAST, reason="httptools is not installed")
def test_the_read_timeout_holds_on_a_connection_whose_timer_lapsed(server: Capture) -> None:
    """A connection idle past its last timer: the next exchange arms a new one."""
    server.stall, server.delay = {3}, 3.0

    async def run() -> float:
        async with AsyncAdminClient(server.url, session_id="s-1", timeout=0.4, retries=0) as c:
            await c.account.get_account_info(i_account=7)
            await asyncio.sleep(0.6)  # the first exchange's timer fires, finds nobody waiting
            await c.account.get_account_info(i_account=7)
            start = time.monotonic()
            with pytest.raises(TransportError, match="timed out"):
                await c.account.get_account_info(i_account=7)
            return time.monotonic() - start

    assert asyncio.run(run()) < 2.0


def test_reply_headers_read_as_httpx_reads_them() -> None:
    raw = [
        (b"Content-Type", b"text/xml"),
        (b"X-Odd", "café".encode()),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]
    names = b"\n" + b"\n".join(k.lower() for k, _ in raw) + b"\n"
    for reply in (WholeReply(200, raw, b""), WholeReply(200, raw, b"", names)):
        theirs = httpx.Headers(raw)
        for name in ("content-type", "x-odd", "set-cookie", "content-disposition"):
            assert header(reply, name) == theirs.get(name, "")
        assert reply.headers.raw == theirs.raw
    response = httpx.Response(200, headers=raw)
    assert header(response, "x-odd") == response.headers.get("x-odd")
