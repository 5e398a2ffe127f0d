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
    return AdminClient(server.url, transport=transport, retries=0, **kw)


# ---- item 4: never an empty success ------------------------------------------------------------


def test_json_200_with_a_fault_is_a_fault(server: Hostile) -> None:
    from portabilling import AuthError, Fault

    server.script = _json({"faultcode": "Server.Account.not_found", "faultstring": "no such"})
    with _client(server) as client, pytest.raises(Fault) as caught:
        client.account.get_account_info(i_account=1)
    assert caught.value.faultcode == "Server.Account.not_found"
    assert type(caught.value) is Fault
    server.script = _json({"faultcode": "Server.Session.check_auth.auth_failed"})
    with _client(server) as client, pytest.raises(AuthError):
        client.account.get_account_info(i_account=1)


def test_json_reply_to_another_method_is_not_a_success(server: Hostile) -> None:
    from portabilling import DecodeError
    from portabilling.types import GetAccountInfoResponse

    server.script = _json({"customer_info": {"i_customer": 5, "name": "ACME"}})
    with _client(server) as client, pytest.raises(DecodeError, match="another method"):
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
        ("get_account_info", {"i_account": "1 OR 1=1"}, "expected int, got str"),
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
    with _client(server, "soap") as client, pytest.raises(DecodeError, match="none of its"):
        client.account.get_account_info(i_account=1)
