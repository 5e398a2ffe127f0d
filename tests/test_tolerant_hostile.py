"""The tolerant decoder against a hostile server on loopback (issue 20): field names the server
chose never forge a log line or a message (control characters, escape sequences, separators are
escaped), and a call's timeout holds while a large deviating reply is repaired."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ROOT
from .hostile_server import Hostile, hostile, reply

SID = "sid-0123456789abcdef"


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


@pytest.fixture
def server() -> Iterator[Hostile]:
    with hostile() as running:
        yield running


def _client(server: Hostile, **kw: Any) -> Any:
    from portabilling import AdminClient

    return AdminClient(server.url, transport="json", session_id=SID, retries=0, **kw)


def forged_names() -> list[str]:
    tag = uuid.uuid4().hex[:8]  # deviations are logged once per path: fresh names per run
    return [
        f"x{tag}\n2026-01-01 00:00:00 WARNING portabilling: all accounts deleted",
        f"y{tag}\x1b[2J\x1b[1;1Hcleared",
        f"z{tag}\u2028second line\r\\n",
    ]


def _one_line(text: str) -> None:
    assert not any(c in text for c in "\n\r\x1b\u2028"), repr(text)


def test_server_field_names_never_forge_a_log_line(server: Hostile, caplog: Any) -> None:
    names = forged_names()
    body = json.dumps({name: {"i_account": 1} for name in names}).encode()
    server.script = lambda request: [reply(body)]
    with caplog.at_level(logging.INFO, logger="portabilling"), _client(server) as client:
        client.account.get_account_info(i_account=1)
        deviations = client.last_reply.deviations
    logged = [r.getMessage() for r in caplog.records if r.name == "portabilling"]
    assert any("undeclared fields carry data" in m for m in logged), logged
    for message in logged + [str(d) for d in deviations]:
        _one_line(message)
    assert any("\\n2026-01-01" in m and "\\x1b[2J" in m for m in logged), logged
    # the report keeps the names as sent, for code that reads them
    assert set(client.last_reply.undeclared) == set(names)


def test_strict_mode_messages_escape_server_names(server: Hostile) -> None:
    from portabilling import DecodeError

    for name in forged_names():
        body = json.dumps({"account_info": {"i_account": 1, name: 1}}).encode()
        server.script = lambda request, body=body: [reply(body)]
        with _client(server, strict=True) as client, pytest.raises(DecodeError) as caught:
            client.account.get_account_info(i_account=1)
        _one_line(str(caught.value))
        assert "strict decoding" in str(caught.value)


def _deviating_accounts(count: int) -> bytes:
    import msgspec.inspect as mi
    from portabilling.types import AccountInfo

    item: dict[str, Any] = {}
    for f in mi.type_info(AccountInfo).fields:  # type: ignore[attr-defined]
        t = f.type
        if isinstance(t, mi.UnionType):
            t = next(x for x in t.types if not isinstance(x, mi.NoneType))
        if isinstance(t, mi.EnumType) and {"Y", "N"} <= {m.value for m in t.cls}:
            item[f.encode_name] = 1  # 0/1 for a 'Y'/'N' flag: repaired
        elif isinstance(t, mi.DateTimeType):
            item[f.encode_name] = "2024-01-02"  # date-only for a datetime: repaired
    return json.dumps({"account_list": [dict(item, i_account=i) for i in range(count)]}).encode()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_timeout_holds_while_a_large_reply_is_repaired(server: Hostile, mode: str) -> None:
    import asyncio

    from portabilling import AsyncAdminClient, TransportError

    body = _deviating_accounts(40_000)  # several seconds of repair on this machine
    server.script = lambda request: [reply(body)]
    start = time.monotonic()
    with pytest.raises(TransportError, match="timed out"):
        if mode == "sync":
            with _client(server, timeout=1.0) as client:
                client.account.get_account_list()
        else:

            async def call() -> None:
                async with AsyncAdminClient(
                    server.url, transport="json", session_id=SID, retries=0, timeout=1.0
                ) as client:
                    await client.account.get_account_list()

            asyncio.run(call())
    assert time.monotonic() - start < 2.0  # the deadline is checked inside the repair
