"""The runtime's keep-alive pools, over real sockets against a small HTTP/1.1 server that counts
connections and can misbehave (close idle connections, answer slowly, say `Connection: close`)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from portabilling import AdminClient, AsyncAdminClient
from portabilling._runtime.client import pool
from portabilling._runtime.client.pool import AsyncPooledTransport, PooledTransport


class Server:
    """Thread-per-connection HTTP/1.1 server echoing `path:body`; knobs set per test."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.delay = 0.0
        self.close_after_reply = False  # hang up after each reply, without saying so
        self.connection_close = False  # say `Connection: close` and hang up
        self.gzip = False
        self.accepted = 0
        self.open = 0
        self._lock = threading.Lock()
        self._tls = tls
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                path = lines[0].split()[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                if self.delay:
                    time.sleep(self.delay)
                payload = path + b":" + body
                extra = b""
                if self.gzip:
                    payload = gzip.compress(payload)
                    extra += b"Content-Encoding: gzip\r\n"
                if self.connection_close:
                    extra += b"Connection: close\r\n"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                    % (len(payload), extra, payload)
                )
                if self.connection_close or self.close_after_reply:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()
            with self._lock:
                self.open -= 1

    def wait_open(self, count: int) -> int:
        """The number of open server-side connections once it settles at `count` (or 2 s pass)."""
        deadline = time.monotonic() + 2
        while self.open != count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_sequential_requests_share_one_connection(server: Server) -> None:
    with httpx.Client(transport=PooledTransport()) as client:
        for i in range(50):
            r = client.post(f"{server.url}/n/{i}", content=b"x" * i)
            assert r.status_code == 200
            assert r.content == f"/n/{i}:".encode() + b"x" * i
    assert server.accepted == 1
    assert server.wait_open(0) == 0  # closing the client closes the idle connection


def test_concurrent_async_requests_reuse_at_most_concurrency_connections(server: Server) -> None:
    server.delay = 0.005

    async def run() -> list[bytes]:
        gate = asyncio.Semaphore(20)
        async with httpx.AsyncClient(transport=AsyncPooledTransport()) as client:

            async def one(i: int) -> bytes:
                async with gate:
                    r = await client.post(f"{server.url}/a/{i}", content=str(i).encode())
                    return r.content

            return await asyncio.gather(*(one(i) for i in range(300)))

    bodies = asyncio.run(run())
    assert bodies == [f"/a/{i}:{i}".encode() for i in range(300)]
    assert 2 <= server.accepted <= 20


def test_threads_share_the_sync_pool(server: Server) -> None:
    server.delay = 0.005
    transport = PooledTransport(max_keepalive=8)
    results: dict[int, bytes] = {}
    with httpx.Client(transport=transport) as client:

        def work(t: int) -> None:
            for i in range(20):
                results[t * 100 + i] = client.post(
                    f"{server.url}/t", content=b"%d" % (t * 100 + i)
                ).content

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert results == {k: b"/t:%d" % k for k in results} and len(results) == 160
    assert server.accepted <= 8


def test_connection_the_server_closed_while_idle_is_replaced(server: Server) -> None:
    server.close_after_reply = True
    with httpx.Client(transport=PooledTransport()) as client:
        for i in range(5):
            assert server.wait_open(0) == 0  # the hang-up has reached us
            assert client.post(f"{server.url}/c", content=b"%d" % i).content == b"/c:%d" % i
    assert server.accepted == 5


def test_connection_close_reply_is_not_reused(server: Server) -> None:
    server.connection_close = True

    async def run() -> None:
        async with httpx.AsyncClient(transport=AsyncPooledTransport()) as client:
            for i in range(4):
                reply = await client.post(f"{server.url}/k{i}", content=b"1")
                assert reply.content == b"/k%d:1" % i

    asyncio.run(run())
    assert server.accepted == 4


def test_keepalive_limit_closes_surplus_idle_connections(server: Server) -> None:
    server.delay = 0.2
    transport = PooledTransport(max_keepalive=2)
    client = httpx.Client(transport=transport)
    bodies: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: bodies.append(client.post(f"{server.url}/s").content))
        for _ in range(5)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bodies == [b"/s:"] * 5
    assert server.accepted == 5
    assert server.wait_open(2) == 2
    client.close()
    assert server.wait_open(0) == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_pool_timeout_when_every_connection_is_busy(server: Server, mode: str) -> None:
    server.delay = 0.5
    timeout = httpx.Timeout(5.0, pool=0.1)
    if mode == "sync":
        client = httpx.Client(transport=PooledTransport(max_connections=1), timeout=timeout)
        done: list[bytes] = []
        slow = threading.Thread(
            target=lambda: done.append(client.post(f"{server.url}/slow").content)
        )
        slow.start()
        time.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            client.post(f"{server.url}/second")
        slow.join()
        assert done == [b"/slow:"]  # the request holding the connection was not disturbed
        assert client.post(f"{server.url}/third").content == b"/third:"
        client.close()
    else:

        async def run() -> None:
            transport = AsyncPooledTransport(max_connections=1)
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                slow = asyncio.ensure_future(client.post(f"{server.url}/slow"))
                await asyncio.sleep(0.1)
                with pytest.raises(httpx.PoolTimeout):
                    await client.post(f"{server.url}/second")
                assert (await slow).content == b"/slow:"
                assert (await client.post(f"{server.url}/third")).content == b"/third:"

        asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_errors_are_httpx_errors_and_free_the_slot(server: Server, mode: str) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there
    server.delay = 0.5
    if mode == "sync":
        with httpx.Client(transport=PooledTransport(max_connections=1)) as client:
            with pytest.raises(httpx.ConnectError):
                client.get(dead_url)
            with pytest.raises(httpx.ReadTimeout):
                client.get(server.url, timeout=0.1)
            server.delay = 0
            assert client.get(f"{server.url}/ok").content == b"/ok:"
    else:

        async def run() -> None:
            async with httpx.AsyncClient(
                transport=AsyncPooledTransport(max_connections=1)
            ) as client:
                with pytest.raises(httpx.ConnectError):
                    await client.get(dead_url)
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(server.url, timeout=0.1)
                server.delay = 0
                assert (await client.get(f"{server.url}/ok")).content == b"/ok:"

        asyncio.run(run())


def test_cancelled_request_does_not_leak_its_connection(server: Server) -> None:
    server.delay = 0.3

    async def run() -> None:
        transport = AsyncPooledTransport(max_connections=1)
        async with httpx.AsyncClient(transport=transport) as client:
            task = asyncio.ensure_future(client.post(f"{server.url}/gone"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            server.delay = 0
            r = await asyncio.wait_for(client.post(f"{server.url}/next"), 2)
            assert r.content == b"/next:"

    asyncio.run(run())
    assert server.accepted == 2  # the cancelled request's connection was closed, not pooled


def test_content_encoding_is_decoded(server: Server) -> None:
    server.gzip = True
    with httpx.Client(transport=PooledTransport()) as client:
        r = client.post(f"{server.url}/z", content=b"zipped")
        assert r.content == b"/z:zipped"
        assert r.headers["content-encoding"] == "gzip"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_verifies_against_the_given_context(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    s = Server(tls=server_ctx)
    try:
        with (
            httpx.Client(transport=PooledTransport()) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.get(f"{s.url}/tls")
        trusted = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(transport=PooledTransport(verify=trusted)) as client:
            for _ in range(3):
                assert client.post(f"{s.url}/tls", content=b"secret").content == b"/tls:secret"

        async def run() -> bytes:
            async with httpx.AsyncClient(transport=AsyncPooledTransport(verify=trusted)) as c:
                return (await c.post(f"{s.url}/atls", content=b"s")).content

        assert asyncio.run(run()) == b"/atls:s"
        assert s.accepted == 3  # failed handshake, then one kept-alive connection per client
    finally:
        s.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_default_clients_use_the_pool_unless_a_proxy_is_configured(
    monkeypatch: pytest.MonkeyPatch, server: Server, mode: str
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    make, pooled = (
        (AdminClient, PooledTransport)
        if mode == "sync"
        else (AsyncAdminClient, AsyncPooledTransport)
    )
    direct: Any = make("http://pb.example", transport="soap")
    assert isinstance(direct._http._transport, pooled)
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the echo server plays the proxy
    assert pool.environment_has_proxy()
    proxied: Any = make("http://pb.example", transport="soap")
    if mode == "sync":
        reply = proxied._http.post("http://pb.example/via", content=b"p")
    else:
        reply = asyncio.run(proxied._http.post("http://pb.example/via", content=b"p"))
    assert (
        reply.content == b"http://pb.example/via:p"
    )  # absolute-form target: it went via the proxy


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        PooledTransport(max_connections=0)
