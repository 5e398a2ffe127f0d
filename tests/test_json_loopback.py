"""A generated stub called through the client over a real socket (JSON API)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from .conftest import ROOT

SEEN: list[tuple[str, dict[str, Any], dict[str, Any]]] = []


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        params = json.loads(form["params"])
        auth = json.loads(form.get("auth_info", "{}"))
        SEEN.append((self.path, params, auth))
        if self.path == "/rest/Session/login":
            reply: Any = {"session_id": "sess-1"}
        elif auth.get("session_id") != "sess-1":
            self._send(
                500, {"faultcode": "Server.Session.check_auth.auth_failed", "faultstring": "x"}
            )
            return
        elif self.path == "/rest/Account/get_account_info":
            reply = {
                "account_info": {
                    "i_account": params["i_account"],
                    "id": "12345",
                    "credit_limit": None,
                    "blocked": "Q",
                    "activation_date": "2024-01-31",
                    "issue_date": "2024-01-31 10:00:00",
                    "from_a_newer_release": [1, 2],
                }
            }
        elif self.path == "/rest/Account/terminate_account":
            time.sleep(1.0)  # slower than the per-call timeout the test sets
            reply = {"success": 1}
        elif self.path == "/rest/Session/logout":
            reply = {"success": 1}
        else:
            self._send(500, {"faultcode": "Server.NoSuchMethod", "faultstring": self.path})
            return
        self._send(200, reply)

    def _send(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_sync_call_logs_in_once_and_decodes(server: str, importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")
    from portabilling import AdminClient, Fault
    from portabilling.types import YesNo

    with AdminClient(server, login="admin", password="s3cret") as client:
        assert "s3cret" not in repr(client)
        info = client.account.get_account_info(i_account=7).account_info
        again = client.account.get_account_info(i_account=8).account_info
        with pytest.raises(Fault) as err:
            client.account.get_account_list(i_customer=1)
    assert info is not None and again is not None
    assert info.i_account == 7 and info.credit_limit is None and info.blocked == YesNo("Q")
    assert str(info.activation_date) == "2024-01-31" and info.issue_date.hour == 10  # type: ignore[union-attr]
    assert err.value.faultcode == "Server.NoSuchMethod" and "s3cret" not in str(err.value)
    paths = [p for p, _, _ in SEEN]
    assert paths.count("/rest/Session/login") == 1 and paths[-1] == "/rest/Session/logout"
    assert SEEN[0][1] == {"login": "admin", "password": "s3cret"}


async def _async_calls(server: str) -> list[int]:
    from portabilling import AsyncAdminClient

    async with AsyncAdminClient(server, login="admin", password="pw") as client:
        import asyncio

        replies = await asyncio.gather(
            *(client.account.get_account_info(i_account=i) for i in range(10))
        )
    return [r.account_info.i_account for r in replies if r.account_info]  # type: ignore[misc]


def test_async_calls_share_one_login(server: str, importer: Any) -> None:
    import asyncio

    importer(ROOT / "generated", "portabilling")
    assert sorted(asyncio.run(_async_calls(server))) == list(range(10))
    assert [p for p, _, _ in SEEN].count("/rest/Session/login") == 1


def test_build_request_is_the_exact_wire_request(importer: Any) -> None:
    """README "Inspecting requests": the request is built, not sent, in the server's formats."""
    from datetime import datetime

    importer(ROOT / "generated", "portabilling")
    from portabilling import AdminClient
    from portabilling.admin.account import GET_XDR_LIST
    from portabilling.types import GetAccountXdrListRequest

    client = AdminClient("https://pbx.invalid", session_id="sid-9")
    request = GetAccountXdrListRequest(
        i_account=5, from_date=datetime(2024, 3, 1, 7, 8, 9), limit=10
    )
    built = client.build_request(GET_XDR_LIST, request)
    assert built.method == "POST"
    assert str(built.url) == "https://pbx.invalid/rest/Account/get_xdr_list"
    form = {k: v[0] for k, v in parse_qs(built.content.decode()).items()}
    assert json.loads(form["auth_info"]) == {"session_id": "sid-9"}
    assert json.loads(form["params"]) == {
        "i_account": 5,
        "from_date": "2024-03-01 07:08:09",
        "limit": 10,
    }
    client.close()


def test_built_request_is_what_httpx_would_build(importer: Any) -> None:
    """The JSON transport builds its `httpx.Request` headers in one go; they must be the very
    ones (names, order, bytes) and the body the very form httpx makes from `data=`/`content=`,
    with a proxy's credentials, non-ASCII text and the bearer style too."""
    importer(ROOT / "generated", "portabilling")
    from portabilling import AdminClient
    from portabilling.admin.account import GET_ACCOUNT_INFO
    from portabilling.types import GetAccountInfoRequest

    request = GetAccountInfoRequest(id='ü +&=%/ ~"', i_account=7)
    for base, style, token in (
        ("https://pbx.invalid:8443", "form", None),
        ("https://proxy:se%20cret@pbx.invalid", "form", None),
        ("http://pbx.invalid", "bearer", "tok.en-1"),
    ):
        auth: dict[str, Any] = {"access_token": token} if token else {"session_id": "sid 9+ü"}
        client = AdminClient(base, json_style=style, **auth)  # type: ignore[arg-type]
        built = client.build_request(GET_ACCOUNT_INFO, request)
        params = built.content.decode()
        headers = {k.decode(): v.decode() for k, v in built.headers.raw if k != b"Host"}
        headers.pop("Content-Length")
        if style == "bearer":
            expected = httpx.Request("POST", built.url, content=built.content, headers=headers)
        else:
            form = {k: v[0] for k, v in parse_qs(params, keep_blank_values=True).items()}
            headers.pop("Content-Type")
            expected = httpx.Request("POST", built.url, data=form, headers=headers)
        assert built.headers.raw == expected.headers.raw, base
        assert built.content == expected.content, base
        client.close()


def test_form_quote_is_quote_plus(importer: Any) -> None:
    """The JSON transport's form quoting writes what `urlencode` (httpx's `data=`) writes."""
    from urllib.parse import quote_plus

    importer(ROOT / "generated", "portabilling")
    from portabilling._runtime.client.transport import form_quote

    texts = [chr(c) for c in range(0x800)] + ["", "a b+c", "ü€𝄞 %~_.-", '{"k":"v w"}' * 3]
    for text in texts:
        assert form_quote(text.encode("utf-8")) == quote_plus(text), repr(text)


def test_per_call_timeout_is_honoured(server: str, importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")
    from portabilling import AdminClient, TransportError

    with AdminClient(server, session_id="sess-1", timeout=10) as client:
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            client.account.with_options(timeout=0.2).terminate_account(i_account=1)
        assert time.monotonic() - started < 0.9
        assert client.account.terminate_account(i_account=1).success == 1
