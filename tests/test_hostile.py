"""Hostile servers and careless callers over real sockets (issue 13's cases, as regression tests).

The server is tests/hostile_server.py: it answers with whatever a test scripts. Every failure
must be one of the package's own exceptions, name what went wrong, and carry no secret.
"""

from __future__ import annotations

import json
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


def _json(data: Any, status: int = 200) -> Any:
    body = json.dumps(data).encode()
    return lambda request: [reply(body, status)]


def _client(server: Hostile, transport: str = "json", **kw: Any) -> Any:
    from portabilling import AdminClient

    kw.setdefault("session_id", SID)
    kw.setdefault("retries", 0)
    return AdminClient(server.url, transport=transport, **kw)


# ---- item 4: never an empty success ------------------------------------------------------------


def test_json_200_with_a_fault_is_a_fault(server: Hostile) -> None:
    from portabilling import AuthError, Fault, NotFound

    server.script = _json({"faultcode": "Server.Account.not_found", "faultstring": "no such"})
    with _client(server) as client, pytest.raises(Fault) as caught:
        client.account.get_account_info(i_account=1)
    assert caught.value.faultcode == "Server.Account.not_found"
    assert type(caught.value) is NotFound  # the family of its dotted code (a Fault)
    server.script = _json({"faultcode": "Server.Session.check_auth.auth_failed"})
    with _client(server) as client, pytest.raises(AuthError):
        client.account.get_account_info(i_account=1)


def test_json_reply_to_another_method_is_not_a_success(server: Hostile) -> None:
    from portabilling import DecodeError
    from portabilling.types import GetAccountInfoResponse

    # None of its fields known: with the client's default tolerance that is the deviation of a
    # declared struct absent while undeclared fields carry data (issue 12: a renamed list looks
    # the same), recorded and logged, never a silent success; strict mode refuses it.
    server.script = _json({"customer_info": {"i_customer": 5, "name": "ACME"}})
    with _client(server) as client:
        assert client.account.get_account_info(i_account=1) == GetAccountInfoResponse()
        report = client.last_reply
        assert report is not None and report.deviations
        assert "customer_info" in str(report.deviations)
    with _client(server, strict=True) as client, pytest.raises(DecodeError):
        client.account.get_account_info(i_account=1)
    server.script = _json({})  # an empty object is an empty result, not a foreign one
    with _client(server) as client:
        assert client.account.get_account_info(i_account=1) == GetAccountInfoResponse()


@pytest.mark.parametrize("status", [400, 404, 502, 503])
def test_json_http_errors_are_transport_errors(server: Hostile, status: int) -> None:
    from portabilling import TransportError

    server.script = _json({"account_info": {"i_account": 1}}, status)
    with _client(server) as client, pytest.raises(TransportError) as caught:
        client.account.get_account_info(i_account=1)
    assert caught.value.status == status


@pytest.mark.parametrize("where", ["typed", "unknown", "untyped"])
def test_json_nested_deep_is_a_decode_error(server: Hostile, where: str) -> None:
    from portabilling import DecodeError

    deep = "[" * 1000 + "]" * 1000
    if where == "untyped":  # an `Any` field: bounded by max_json_depth
        body, call = '{"result": %s}' % deep, "generic"
    else:
        body = '{"account_info": %s}' % deep if where == "typed" else '{"x": %s}' % deep
        call = "account"
    server.script = lambda request: [reply(body.encode())]
    with _client(server) as client, pytest.raises(DecodeError) as caught:
        if call == "generic":
            client.generic.call_custom_hook(name="x")
        else:
            client.account.get_account_info(i_account=1)
    if where == "untyped":
        assert "max_json_depth" in str(caught.value)


# ---- item 2: nothing is sent for a bad request ------------------------------------------------


@pytest.mark.parametrize("transport", ["json"])
def test_bad_requests_are_refused_before_sending(server: Hostile, transport: str) -> None:
    from portabilling import EncodeError
    from portabilling.types import AccountInfo, CustomerInfo

    server.script = _json({})
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("update_account", {"account_info": AccountInfo(credit_limit=float("nan"))}, "NaN"),
        ("get_account_info", {"i_account": "1 OR 1=1"}, "expected int | None, got str"),
        ("add_account", {"account_info": CustomerInfo(name="x")}, "got CustomerInfo"),
        ("add_account", {"account_info": None}, "not nillable"),
        ("update_account", {"account_info": AccountInfo(note="a\udc00")}, "XML 1.0"),
    ]
    with _client(server, transport) as client:
        for method, fields, words in bad:
            with pytest.raises(EncodeError) as caught:
                getattr(client.account, method)(**fields)
            assert str(caught.value).startswith(f"Account.{method}: "), str(caught.value)
            assert words in str(caught.value)
    assert [r for r in server.requests if "/rest/" in r.path] == []


# ---- SOAP replies: references, arrays, faults, foreign replies ---------------------------------

_ENV = (
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
    'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{}</soap:Body></soap:Envelope>'
)


def _soap(body: str, status: int = 200) -> Any:
    data = _ENV.format(body).encode()
    return lambda request: [reply(data, status, "text/xml; charset=utf-8")]


def _fault_xml(detail: str) -> str:
    return (
        "<soap:Fault><faultcode>soap:Server.Account.x</faultcode><faultstring>refused"
        f"</faultstring><detail>{detail}</detail></soap:Fault>"
    )


def _amplifier(levels: int, width: int) -> str:
    """`levels` lists of `width` references each, every one to the next list: width**levels
    elements once expanded, a few KB as written."""
    parts = []
    for n in range(levels):
        refs = "".join(f'<item href="#l{n + 1}"/>' for _ in range(width))
        parts.append(f'<m id="l{n}" soapenc:arrayType="xsd:anyType[{width}]">{refs}</m>')
    parts.append(f'<m id="l{levels}" xsi:type="xsd:string">x</m>')
    return "".join(parts)


def test_multiref_amplification_is_bounded(server: Hostile) -> None:
    from portabilling import DecodeError

    body = (
        '<ns:call_custom_hookResponse xmlns:ns="urn:x"><r><result href="#l0"/></r>'
        "</ns:call_custom_hookResponse>" + _amplifier(8, 8)  # 8**8 = 16 M elements
    )
    assert len(body) < 4000
    server.script = _soap(body)
    with _client(server, "soap") as client, pytest.raises(DecodeError, match="max_ref_objects"):
        client.generic.call_custom_hook(name="x")
    # the same shape, small, decodes: references are followed, not refused
    server.script = _soap(
        '<ns:call_custom_hookResponse xmlns:ns="urn:x"><r><result href="#l0"/></r>'
        "</ns:call_custom_hookResponse>" + _amplifier(2, 3)
    )
    with _client(server, "soap") as client:
        assert client.generic.call_custom_hook(name="x").result == [["x"] * 3] * 3


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ('<a href="#nowhere"/>', None),  # a dangling reference
        ('<a xsi:type="xsd:base64Binary">!!not base64!!</a>', None),
        ('<a id="me"><b href="#me"/></a>', None),  # a reference to itself
        ("<code>42</code>", {"code": "42"}),
        (  # a declared size far beyond the items present: one row, nothing allocated
            '<m soapenc:arrayType="xsd:int[1000000000,1]"><i>1</i></m>',
            {"m": [["1"]]},
        ),
    ],
)
def test_fault_details_never_escape_the_fault(server: Hostile, detail: str, expected: Any) -> None:
    from portabilling import Fault

    server.script = _soap(_fault_xml(detail), 500)
    with _client(server, "soap") as client, pytest.raises(Fault) as caught:
        client.account.get_account_info(i_account=1)
    assert caught.value.faultcode == "Server.Account.x" and caught.value.detail == expected


def test_array_ranks_are_bounded(server: Hostile) -> None:
    from portabilling import DecodeError

    dims = ",".join(["1"] * 40)
    server.script = _soap(
        '<ns:call_custom_hookResponse xmlns:ns="urn:x">'
        f'<r><result soapenc:arrayType="xsd:int[{dims}]"><i>1</i></result></r>'
        "</ns:call_custom_hookResponse>"
    )
    with _client(server, "soap") as client, pytest.raises(DecodeError, match="max_array_dims"):
        client.generic.call_custom_hook(name="x")


def test_soap_reply_to_another_method_is_not_a_success(server: Hostile) -> None:
    from portabilling import DecodeError

    server.script = _soap(
        '<ns:get_customer_infoResponse xmlns:ns="urn:x"><customer_info>'
        "<i_customer>5</i_customer></customer_info></ns:get_customer_infoResponse>"
    )
    with _client(server, "soap") as client, pytest.raises(DecodeError, match="another method"):
        client.account.get_account_info(i_account=1)
    server.script = _soap(
        '<ns:get_account_infoResponse xmlns:ns="urn:x"><r><customer_info>'
        "<i_customer>5</i_customer></customer_info></r></ns:get_account_infoResponse>"
    )
    # the right method with none of its fields: a deviation (see the JSON case); strict refuses
    with _client(server, "soap", strict=True) as client, pytest.raises(DecodeError):
        client.account.get_account_info(i_account=1)


# ---- item 3: what a reply may cost, over the wire ----------------------------------------------


def _gzip(data: bytes, layers: int = 1) -> bytes:
    import gzip

    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


@pytest.mark.parametrize("layers", [1, 2])
def test_gzip_bombs_stop_at_max_bytes(server: Hostile, layers: int) -> None:
    import time

    from portabilling import DecodeError, Limits

    bomb = _gzip(b"[" + b" " * (200 * 1024 * 1024) + b"]", layers)  # 200 MB of blanks
    coding = ", ".join(["gzip"] * layers)
    server.script = lambda request: [reply(bomb, 200, "application/json", Content_Encoding=coding)]
    started = time.perf_counter()
    with (
        _client(server, limits=Limits(max_bytes=4 * 1024 * 1024)) as client,
        pytest.raises(DecodeError, match="max_bytes"),
    ):
        client.account.get_account_info(i_account=1)
    assert time.perf_counter() - started < 20


def test_an_endless_chunked_body_stops_at_max_wire_bytes(server: Hostile) -> None:
    from portabilling import DecodeError, Limits

    def endless(request: Any) -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"x" * 65536
        while True:
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)

    server.script = endless
    with (
        _client(server, limits=Limits(max_wire_bytes=2 * 1024 * 1024)) as client,
        pytest.raises(DecodeError, match="max_wire_bytes"),
    ):
        client.account.get_account_info(i_account=1)


def test_timeout_is_the_whole_call_even_for_a_drip(server: Hostile) -> None:
    """A server sending a byte every 0.2 s never trips a per-read timeout; the call's does."""
    import time

    from portabilling import TransportError

    def drip(request: Any) -> Iterator[bytes | float]:
        body = json.dumps({"account_info": {"i_account": 1, "id": "x" * 100}}).encode()
        yield reply(body)[: -len(body)]
        for byte in body:
            yield bytes([byte])
            yield 0.2

    server.script = drip
    started = time.perf_counter()
    with (
        _client(server, timeout=1.5) as client,
        pytest.raises(TransportError, match="timed out"),
    ):
        client.account.get_account_info(i_account=1)
    assert time.perf_counter() - started < 5


def test_retry_after_is_honoured_on_503(server: Hostile) -> None:
    import time

    answers = iter([reply(b"busy", 503, "text/plain", Retry_After="1")])

    def script(request: Any) -> list[bytes]:
        return [next(answers, reply(json.dumps({"account_info": {"i_account": 1}}).encode()))]

    server.script = script
    started = time.perf_counter()
    with _client(server, retries=2, backoff=0.01) as client:
        assert client.account.get_account_info(i_account=1).account_info.i_account == 1
    assert time.perf_counter() - started >= 1.0
    assert len(server.requests) == 2
    # a Retry-After beyond the call's timeout fails at once, naming it
    from portabilling import TransportError

    server.script = lambda request: [reply(b"busy", 503, "text/plain", Retry_After="30")]
    with (
        _client(server, timeout=2, retries=2) as client,
        pytest.raises(TransportError, match="retry after 30 s"),
    ):
        client.account.get_account_info(i_account=1)


# ---- item 5: sessions -------------------------------------------------------------------------


def _session_script(state: dict[str, Any]) -> Any:
    """Login refused (or accepted with `state["sid"]`); other calls answer auth faults unless
    they carry the session id; every request is recorded."""

    def script(request: Any) -> list[bytes]:
        text = request.body.decode("utf-8", "replace")
        if "/Session/login" in request.path:
            state["logins"] += 1
            if state.get("sid"):
                return [reply(json.dumps({"session_id": state["sid"]}).encode())]
            fault = {"faultcode": "Server.Session.login.wrong_password", "faultstring": "no"}
            return [reply(json.dumps(fault).encode(), 500)]
        if "/Session/logout" in request.path:
            state["logouts"] += 1
        if state.get("sid") and state["sid"] in text:
            return [reply(json.dumps({"account_info": {"i_account": 1}}).encode())]
        fault = {"faultcode": "Server.Session.check_auth.auth_failed", "faultstring": "gone"}
        return [reply(json.dumps(fault).encode(), 500)]

    return script


def test_wrong_password_under_60_concurrent_calls_is_one_login_and_auth_error(
    server: Hostile,
) -> None:
    import asyncio

    from portabilling import AsyncAdminClient, AuthError

    state = {"logins": 0, "logouts": 0}
    server.script = _session_script(state)

    async def main() -> list[Any]:
        async with AsyncAdminClient(server.url, login="api", password="wrong-pw-1234") as c:
            calls = [c.account.get_account_info(i_account=n) for n in range(60)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, AuthError) for r in results), {type(r) for r in results}
    assert state["logins"] == 1
    assert not [r for r in server.requests if b"wrong-pw-1234" in r.body and "login" not in r.path]


def test_no_credentials_per_call_after_a_failed_relogin(server: Hostile) -> None:
    from portabilling import AuthError

    state = {"logins": 0, "logouts": 0}
    server.script = _session_script(state)
    with (
        _client(server, session_id=None, login="api", password="pw-secret-99") as client,
        pytest.raises(AuthError),
    ):
        client.account.get_account_info(i_account=1)
    ordinary = [r for r in server.requests if "/Session/" not in r.path]
    assert ordinary == [] or all(b"pw-secret-99" not in r.body for r in ordinary)
    assert all(b"pw-secret-99" not in r.body for r in server.requests if "login" not in r.path)


def test_close_after_expiry_does_not_log_in_to_log_out(server: Hostile) -> None:
    state = {"logins": 0, "logouts": 0, "sid": "sid-first-0001"}
    server.script = _session_script(state)
    client = _client(server, session_id=None, login="api", password="pw")
    assert client.account.get_account_info(i_account=1).account_info.i_account == 1
    state["sid"] = "sid-other-0002"  # the server forgot our session
    state["logins_before_close"] = state["logins"]
    client.close()
    assert state["logins"] == state["logins_before_close"] == 1
    assert state["logouts"] == 1


# ---- item 6: secrets over the wire -------------------------------------------------------------


def test_secrets_stay_out_of_reprs_messages_and_chained_exceptions(server: Hostile) -> None:
    from portabilling import AdminClient, TransportError

    client = AdminClient("https://api:URL-PW-42@pbx.example.invalid")
    assert "URL-PW-42" not in repr(client) and "api:***@" in repr(client)
    client.close()
    # a 400 page that echoes the password it was sent, with a session id in it too
    page = b"<html>bad request: password=pw-echo-77 session_id: " + SID.encode() + b"</html>"
    server.script = lambda request: [reply(page, 400, "text/html")]
    with (
        _client(server, transport="soap") as client,
        pytest.raises(TransportError) as caught,
    ):
        client.account.get_account_info(i_account=1)
    error = caught.value
    for text in (str(error), repr(error), error.excerpt):
        assert "pw-echo-77" not in text and SID not in text
    assert error.__context__ is None and error.__cause__ is None
    # a connection failure: the chained httpx error (holding the request) is dropped
    server.script = lambda request: []  # close without answering
    with _client(server) as client, pytest.raises(TransportError) as caught:
        client.account.get_account_info(i_account=1)
    assert caught.value.__context__ is None
