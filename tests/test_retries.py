"""Broken networks: reads retry with backoff, writes arrive exactly once unless the call opts in.

The simulator's HTTP server injects the faults (connection reset, 503 from a "proxy", a reply
slower than the timeout) and counts how often each method arrived.
"""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from typing import Any

import pytest

TRANSPORTS = ["json", "soap"]


class Injector:
    """Fails the first `times` arrivals of `method` in the given way, counting every arrival."""

    def __init__(self, method: str, kind: str, times: int = 1) -> None:
        self.method = method
        self.kind = kind
        self.times = times
        self.arrivals: Counter[str] = Counter()

    def __call__(self, handler: Any, path: str, body: bytes) -> bool:
        if path == "/_dispatch" or handler.command != "POST":
            return False
        method = _method_of(path, body)
        self.arrivals[method] += 1
        if method != self.method or self.arrivals[method] > self.times:
            return False
        if self.kind == "reset":
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.close_connection = True
            handler.connection.close()
            handler.wfile = _Sink()
            return True
        if self.kind == "truncate":  # the server dies mid-reply
            handler.send_response(200)
            handler.send_header("Content-Type", "text/xml")
            handler.send_header("Content-Length", "5000")
            handler.end_headers()
            handler.wfile.write(b"<?xml version='1.0'?><soap:Envelope")
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return True
        if self.kind == "503":
            handler._send(503, b"<html><body>Service Unavailable</body></html>", "text/html")
            return True
        if self.kind == "slow":
            time.sleep(0.6)  # the client gave up long ago; answering would leak into later tests
            handler.close_connection = True
            return True
        raise AssertionError(self.kind)


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def _method_of(path: str, body: bytes) -> str:
    if path.startswith("/rest/"):
        return path.rsplit("/", 1)[1]
    # SOAP: the method element follows <soap:Body>
    after = body.split(b"<soap:Body><", 1)[1]
    return after.split(b">", 1)[0].split(b":")[-1].decode()


def _client(sim: Any, transport: str, **kw: Any) -> Any:
    from portabilling import AdminClient

    return AdminClient(
        sim.url, transport=transport, login="admin", password="secret", backoff=0.01, **kw
    )


@pytest.mark.parametrize("kind", ["reset", "503", "truncate"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reads_are_retried(sim: Any, transport: str, kind: str) -> None:
    inject = Injector("get_customer_list", kind, times=2)
    sim.server.inject = inject
    with _client(sim, transport) as c:
        assert c.customer.get_customer_list().total == 0
    assert inject.arrivals["get_customer_list"] == 3


@pytest.mark.parametrize("kind", ["reset", "503", "truncate"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_writes_arrive_exactly_once(sim: Any, transport: str, kind: str) -> None:
    from portabilling import TransportError
    from portabilling.types import CustomerInfo

    inject = Injector("add_customer", kind)
    sim.server.inject = inject
    with _client(sim, transport) as c, pytest.raises(TransportError) as err:
        c.customer.add_customer(customer_info=CustomerInfo(name="once", iso_4217="USD"))
    assert inject.arrivals["add_customer"] == 1
    if kind == "503":
        assert err.value.status == 503 and "Service Unavailable" in str(err.value)
    assert "secret" not in str(err.value)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_write_retries_when_the_call_opts_in(sim: Any, transport: str) -> None:
    from portabilling.types import CustomerInfo

    inject = Injector("add_customer", "503")
    sim.server.inject = inject
    with _client(sim, transport) as c:
        r = c.customer.with_options(retry=True).add_customer(
            customer_info=CustomerInfo(name="twice", iso_4217="USD")
        )
    assert r.i_customer and inject.arrivals["add_customer"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_timeouts_retry_reads_then_fail_clearly(sim: Any, transport: str) -> None:
    """`timeout` is the whole call's: a read that timed out is retried only while time is left
    (here none is: one attempt), and the error says so."""
    from portabilling import TransportError

    inject = Injector("get_customer_list", "slow", times=10)
    sim.server.inject = inject
    with _client(sim, transport, timeout=5, retries=1) as c:
        with pytest.raises(TransportError, match="timed out"):
            c.customer.with_options(timeout=0.2).get_customer_list()
        assert inject.arrivals["get_customer_list"] == 1
        with pytest.raises(TransportError, match="timed out"):
            c.customer.with_options(timeout=0.2, retry=False).get_customer_list()
        assert inject.arrivals["get_customer_list"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_async_write_is_not_retried(sim: Any, transport: str) -> None:
    import asyncio

    from portabilling import AsyncAdminClient, TransportError
    from portabilling.types import CustomerInfo

    inject = Injector("add_customer", "reset")
    sim.server.inject = inject

    async def main() -> None:
        async with AsyncAdminClient(
            sim.url, transport=transport, login="admin", password="secret", backoff=0.01
        ) as c:
            with pytest.raises(TransportError):
                await c.customer.add_customer(
                    customer_info=CustomerInfo(name="once", iso_4217="USD")
                )
            assert (await c.customer.get_customer_list()).total == 0

    asyncio.run(main())
    assert inject.arrivals["add_customer"] == 1
