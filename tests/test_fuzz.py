"""Malformed and mutated replies, both transports: every one ends in a typed result or one of the
runtime's documented exceptions; never a raw lxml/msgspec/KeyError, never a hang.

`make test` runs FUZZ_EXAMPLES (default 1 000) per transport; `make fuzz` runs 10 000 per transport.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms: a decoder that hangs or explodes fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("FUZZ_RANDOM") is None,
)

SNIPPETS = [
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b"&e;",
    b"<x>",
    b"</y>",
    b"<soap:Fault><faultcode>soap:Server.X</faultcode><faultstring>f</faultstring></soap:Fault>",
    b'<item href="#nowhere"/>',
    b'<a id="r1" href="#r1"/>',
    b'xsi:nil="true"',
    b'xsi:type="xsd:base64Binary"',
    b'soapenc:arrayType="xsd:int[2,x]"',
    b"9" * 400,
    b"-1e999",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"<![CDATA[",
    b"<i>" * 300,
    b'{"faultcode": 5}',
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"null",
    b'"account_info": []',
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
]


def _fixture(name: str) -> bytes:
    from tests.bench.fixtures import load

    return load(name)


def _three_accounts_soap() -> bytes:
    from tests.bench.fixtures import soap_list

    return soap_list(3)


def _three_accounts_json() -> bytes:
    import json

    data = json.loads(_fixture("account_list_10.json.gz"))
    data["account_list"] = data["account_list"][:3]
    return json.dumps(data).encode()


@st.composite
def mutated(draw: Any, seeds: list[bytes]) -> bytes:
    body = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["truncate", "flip", "insert", "delete", "replace_ns", "swap_tag"])
        )
        at = draw(st.integers(0, max(0, len(body) - 1)))
        if kind == "truncate":
            del body[at:]
        elif kind == "flip":
            body[at : at + 1] = bytes([draw(st.integers(0, 255))])
        elif kind == "insert":
            body[at:at] = draw(st.sampled_from(SNIPPETS) | st.binary(max_size=20))
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 200))]
        elif kind == "replace_ns":
            body = bytearray(
                bytes(body).replace(b"http://schemas.xmlsoap.org/soap/envelope/", b"urn:other", 1)
            )
        else:
            body = bytearray(bytes(body).replace(b"<i_account", b"<i_account><x", 1))
    return bytes(body)


_CLIENTS: dict[str, Any] = {}


def _client(transport: str) -> Any:
    """One per transport: building an httpx client (its TLS context) costs more than a decode."""
    if transport not in _CLIENTS:
        from portabilling import AdminClient

        _CLIENTS[transport] = AdminClient(
            "http://pbx.invalid", transport=transport, session_id="s", retries=0
        )
    return _CLIENTS[transport]


def _check(client: Any, op: Any, status: int, body: bytes, ctype: str) -> None:
    from portabilling import PortaBillingError

    response = httpx.Response(status, content=body, headers={"Content-Type": ctype})
    try:
        result = client.decode_response(op, response)
    except PortaBillingError as exc:
        assert str(exc)  # a message, and the right family
        return
    assert op.response is None or isinstance(result, op.response)


@pytest.fixture(scope="module")
def soap_seeds(importer_module: Any) -> list[bytes]:
    return [
        _fixture("account_info.xml.gz"),
        _three_accounts_soap(),
        b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><soap:Fault><faultcode>soap:Server.Session.check_auth.auth_failed</faultcode>"
        b"<faultstring>x</faultstring><detail><a>1</a></detail></soap:Fault></soap:Body></soap:Envelope>",
    ]


@pytest.fixture(scope="module")
def json_seeds(importer_module: Any) -> list[bytes]:
    return [
        _three_accounts_json(),
        b'{"faultcode":"Server.Session.check_auth.auth_failed","faultstring":"x"}',
        b'{"account_info":{"i_account":1,"id":"a","credit_limit":null,"first_usage":"2024-01-02 03:04:05"}}',
    ]


@pytest.fixture(scope="module")
def importer_module() -> Any:
    import sys

    if str(ROOT / "generated") not in sys.path:
        sys.path.insert(0, str(ROOT / "generated"))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return None


@pytest.mark.parametrize(
    ("transport", "ctype", "statuses"),
    [
        ("soap", "text/xml; charset=utf-8", [200, 200, 500, 502]),
        ("json", "application/json", [200, 200, 500, 503]),
    ],
)
@FUZZ
@given(data=st.data())
def test_decoders_survive_mutations(
    soap_seeds: list[bytes],
    json_seeds: list[bytes],
    transport: str,
    ctype: str,
    statuses: list[int],
    data: Any,
) -> None:
    from portabilling.admin.account import GET_ACCOUNT_INFO, GET_ACCOUNT_LIST

    body = data.draw(mutated(soap_seeds if transport == "soap" else json_seeds))
    op = data.draw(st.sampled_from([GET_ACCOUNT_INFO, GET_ACCOUNT_LIST]))
    _check(_client(transport), op, data.draw(st.sampled_from(statuses)), body, ctype)


@settings(max_examples=max(200, EXAMPLES // 5), deadline=2000, derandomize=True)
@given(
    body=st.binary(max_size=300),
    ctype=st.sampled_from(["multipart/related; boundary=b", "application/pdf", "text/html"]),
)
def test_downloads_and_odd_content_types(importer_module: Any, body: bytes, ctype: str) -> None:
    from portabilling.admin.invoice import GET_INVOICE_PDF

    for transport in ("json", "soap"):
        client = _client(transport)
        _check(client, GET_INVOICE_PDF, 200, body, ctype)
        response = httpx.Response(
            200,
            content=body,
            headers={"Content-Type": ctype, "Content-Disposition": 'attachment; filename="x.pdf"'},
        )
        result = client.decode_response(GET_INVOICE_PDF, response)
        assert result.file == body and result.file_name == "x.pdf"


def test_xml_attacks_are_refused_without_reading_files(
    importer_module: Any, tmp_path: Any
) -> None:
    from portabilling import DecodeError
    from portabilling.admin.account import GET_ACCOUNT_INFO

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        "<r><p><account_info><id>{}</id></account_info></p></r></soap:Body></soap:Envelope>"
    )
    attacks = {
        "billion laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">'
            for i in range(1, 10)
        )
        + "]>"
        + envelope.format("&lol9;"),
        "external entity": f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
        + envelope.format("&e;"),
        "external DTD": '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">'
        + envelope.format("x"),
        "parameter entity": f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'
        + envelope.format("x"),
    }
    client = _client("soap")
    for name, text in attacks.items():
        with pytest.raises(DecodeError, match="DTD") as err:
            client.decode_response(GET_ACCOUNT_INFO, httpx.Response(200, content=text.encode()))
        assert "TOP-SECRET" not in str(err.value), name
    deep = envelope.format("<x>" * 5000 + "</x>" * 5000).encode()
    with pytest.raises(DecodeError):
        client.decode_response(GET_ACCOUNT_INFO, httpx.Response(200, content=deep))


def test_size_cap_refuses_oversized_replies(importer_module: Any) -> None:
    from portabilling import AdminClient, DecodeError, XmlLimits
    from portabilling.admin.account import GET_ACCOUNT_LIST

    client = AdminClient(
        "http://pbx.invalid",
        transport="soap",
        session_id="s",
        xml_limits=XmlLimits(max_bytes=1000),
    )
    body = _fixture("account_list_10.xml.gz")
    with pytest.raises(DecodeError, match="exceeds the limit"):
        client.decode_response(GET_ACCOUNT_LIST, httpx.Response(200, content=body))
    roomy = AdminClient("http://pbx.invalid", transport="soap", session_id="s")
    assert (
        len(
            roomy.decode_response(GET_ACCOUNT_LIST, httpx.Response(200, content=body)).account_list
        )
        == 10
    )
