"""SOAP against SOAP::Lite itself: what it refuses, what it sends, and the odd replies it writes.

Live cases go through the SOAP::Lite front of the simulator; the handcrafted envelopes are the
SOAP-ENC constructs a SOAP::Lite server produces that the simulator data does not reach
(namespace-qualified gensym accessors, a repeated element sent once, fault details).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ENV = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
    "<soap:Body>{}</soap:Body></soap:Envelope>"
)


def _reply(body: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=ENV.format(body).encode(), headers={"Content-Type": "text/xml"}
    )


def _soap_client() -> Any:
    from portabilling import AdminClient

    return AdminClient("http://pbx.invalid", transport="soap", session_id="s")


def test_soaplite_rejects_any_other_soapaction(sim: Any) -> None:
    from portabilling.admin.customer import GET_CUSTOMER_LIST
    from portabilling.types import GetCustomerListRequest

    client = _soap_client()
    request = client.build_request(GET_CUSTOMER_LIST, GetCustomerListRequest(limit=1))
    assert (
        request.headers["SOAPAction"]
        == '"http://portaone.com/Porta/SOAP/Customer#get_customer_list"'
    )
    headers = dict(request.headers)
    headers["SOAPAction"] = '"http://portaone.com/Porta/SOAP/Customer/get_customer_list"'
    reply = httpx.post(
        sim.soap_url + "/Porta/SOAP/Customer", content=request.content, headers=headers
    )
    assert reply.status_code == 500 and b"SOAPAction shall match" in reply.content
    from portabilling import Fault

    with pytest.raises(Fault, match="SOAPAction shall match") as err:
        client.decode_response(GET_CUSTOMER_LIST, reply)
    assert err.value.faultcode == "Client"


def test_soaplite_multiref_reply_is_followed(sim: Any) -> None:
    from portabilling import AdminClient

    shared = {"__ref__": "a", "i_account": 7, "id": "shared", "i_customer": 1, "iso_4217": "USD"}
    sim.sim.replies[("Account", "get_account_list")] = lambda call: {
        "account_list": [shared, shared],
        "total": 2,
    }
    raw: list[bytes] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        raw.append(response.content)

    http = httpx.Client(event_hooks={"response": [keep]})
    with AdminClient(
        sim.url, transport="soap", login="admin", password="secret", http_client=http
    ) as c:
        result = c.account.get_account_list()
    http.close()
    (listing,) = [r for r in raw if b"get_account_listResponse" in r]
    assert b'href="#' in listing and b' id="' in listing  # SOAP::Lite wrote a multi-ref
    assert [a.id for a in result.account_list] == ["shared", "shared"]
    assert result.account_list[0] == result.account_list[1]


def test_unknown_fields_and_any_field_order_from_soaplite(sim: Any) -> None:
    from portabilling import AdminClient

    sim.sim.replies[("Customer", "get_customer_info")] = lambda call: {
        "customer_info": {"name": "n", "from_mr200": {"x": [1, 2]}, "i_customer": 5, "balance": 3},
        "extra_top_level": "ignored",
    }
    with AdminClient(sim.url, transport="soap", login="admin", password="secret") as c:
        info = c.customer.get_customer_info(i_customer=5).customer_info
    assert info.i_customer == 5 and info.name == "n" and info.balance == 3.0


def test_qualified_gensym_accessor_and_repeated_element_once() -> None:
    from portabilling.admin.custom_fields import GET_CUSTOM_FIELD_INFO

    body = (
        '<ns1:get_custom_field_infoResponse xmlns:ns1="http://portaone.com/Porta/SOAP/CustomFields">'
        '<ns1:c-gensym5 xsi:type="ns2:GetCustomFieldInfoResponse" xmlns:ns2="x">'
        '<custom_field_info><option xsi:type="xsd:string">only</option>'
        '<name xsi:type="xsd:string">colour</name><object>account</object></custom_field_info>'
        "</ns1:c-gensym5></ns1:get_custom_field_infoResponse>"
    )
    result = _soap_client().decode_response(GET_CUSTOM_FIELD_INFO, _reply(body))
    assert result.custom_field_info.option == ["only"]
    assert result.custom_field_info.name == "colour"


def test_array_sent_as_repeated_elements_and_multidimensional() -> None:
    from portabilling.admin.account import GET_ACCOUNT_LIST

    body = (
        '<get_account_listResponse xmlns="http://portaone.com/Porta/SOAP/Account"><r>'
        "<account_list><i_account>1</i_account><id>a</id><i_customer>1</i_customer><iso_4217>USD</iso_4217></account_list>"
        "<account_list><i_account>2</i_account><id>b</id><i_customer>1</i_customer><iso_4217>USD</iso_4217></account_list>"
        '<total xsi:type="xsd:int">2</total></r></get_account_listResponse>'
    )
    result = _soap_client().decode_response(GET_ACCOUNT_LIST, _reply(body))
    assert [a.id for a in result.account_list] == ["a", "b"] and result.total == 2


def test_fault_with_detail_and_prefixed_code() -> None:
    from portabilling import AuthError
    from portabilling.admin.customer import GET_CUSTOMER_LIST

    body = (
        "<soap:Fault><faultcode>soap:Server.Session.check_auth.auth_failed</faultcode>"
        "<faultstring>Session expired</faultstring>"
        '<detail><reason xsi:type="xsd:string">idle</reason><ids soapenc:arrayType="xsd:int[2]" '
        'xsi:type="soapenc:Array"><i>1</i><i>2</i></ids></detail></soap:Fault>'
    )
    with pytest.raises(AuthError) as err:
        _soap_client().decode_response(GET_CUSTOMER_LIST, _reply(body, 500))
    assert err.value.faultcode == "Server.Session.check_auth.auth_failed"
    assert err.value.detail == {"reason": "idle", "ids": ["1", "2"]}
    assert err.value.operation == "Customer.get_customer_list"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "unexpected HTTP reply"),
        (b"", "unexpected HTTP reply"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><soap:Envelope/>', "DTD"),
        (
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>",
            "malformed",
        ),
        (b"<Envelope><Body/></Envelope>", "not a SOAP envelope"),
        (
            b"<soap:Body xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><Envelope/></soap:Body>",
            "not a SOAP",
        ),
        (
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
            b"<soap:Header/></soap:Envelope>",
            "has no Body",
        ),
        (  # a Body of the other SOAP version is no Body of this envelope
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
            b"<b:Body xmlns:b='http://www.w3.org/2003/05/soap-envelope'/></soap:Envelope>",
            "has no Body",
        ),
        (
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
            b"<soap:Body><!-- nothing --></soap:Body></soap:Envelope>",
            "Body is empty",
        ),
    ],
)
def test_broken_replies_are_clear_errors(content: bytes, message: str) -> None:
    from portabilling import TransportError
    from portabilling.admin.customer import GET_CUSTOMER_LIST

    reply = httpx.Response(200, content=content, headers={"Content-Type": "text/xml"})
    with pytest.raises(TransportError, match=message):
        _soap_client().decode_response(GET_CUSTOMER_LIST, reply)


def test_soap12_fault_and_fault_named_element_outside_soap() -> None:
    from portabilling import Fault
    from portabilling.admin.customer import GET_CUSTOMER_LIST

    content = (
        b"<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'><e:Body><e:Fault>"
        b"<e:Code><e:Value>e:Server.Busy</e:Value></e:Code>"
        b"<e:Reason><e:Text>try later</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"
    )
    reply = httpx.Response(500, content=content, headers={"Content-Type": "text/xml"})
    with pytest.raises(Fault) as err:
        _soap_client().decode_response(GET_CUSTOMER_LIST, reply)
    assert (err.value.faultcode, str(err.value.faultstring)) == ("Server.Busy", "try later")
    # an element named Fault in another namespace is the reply's part, not a fault
    result = _soap_client().decode_response(
        GET_CUSTOMER_LIST, _reply('<Fault xmlns="urn:x"><r><total>3</total></r></Fault>')
    )
    assert result.total == 3


def test_unsendable_values_fail_before_sending() -> None:
    from portabilling import EncodeError
    from portabilling.admin.customer import UPDATE_CUSTOMER
    from portabilling.types import CustomerInfo, UpdateCustomerRequest

    client = _soap_client()
    bad = UpdateCustomerRequest(customer_info=CustomerInfo(i_customer=1, name="bell\x07"))
    with pytest.raises(
        EncodeError, match=r"customer_info\.name: contains characters XML 1.0 cannot carry"
    ):
        client.build_request(UPDATE_CUSTOMER, bad)
    # the same request is refused over JSON too: what one transport cannot carry, neither sends
    json_client = type(client)("http://pbx.invalid", transport="json", session_id="s")
    with pytest.raises(EncodeError, match=r"customer_info\.name: contains characters XML 1.0"):
        json_client.build_request(UPDATE_CUSTOMER, bad)


def test_json_only_field_is_refused_over_soap() -> None:
    import msgspec
    from portabilling import EncodeError
    from portabilling.admin.ua import UPDATE_UA
    from portabilling.types import UAInfo, UpdateUaRequest

    json_only = [f.name for f in msgspec.structs.fields(UAInfo) if f.encode_name[0].isdigit()]
    assert json_only == ["field_3pcc_enabled"]
    info = UAInfo(i_ua=1, mac="00:11", i_ua_type=2, field_3pcc_enabled="Y")
    with pytest.raises(
        EncodeError, match=r"ua_info\.field_3pcc_enabled: this field exists only in the JSON API"
    ):
        _soap_client().build_request(UPDATE_UA, UpdateUaRequest(ua_info=info))
    json_client = type(_soap_client())("http://pbx.invalid", transport="json", session_id="s")
    assert (
        b"3pcc_enabled"
        in json_client.build_request(UPDATE_UA, UpdateUaRequest(ua_info=info)).content
    )


@pytest.mark.parametrize("referenced", [True, False])
def test_soap_with_attachments_fills_the_file_field(referenced: bool, importer: Any) -> None:
    """SOAP::Lite 1.27's HTTP server cannot send MIME parts, so this reply is written by hand:
    a multipart/related message whose root is the envelope and whose second part is the PDF,
    pointed at by `href="cid:..."` or left for the bytes field to take."""
    from .conftest import ROOT

    importer(ROOT / "generated", "portabilling")
    from portabilling.admin.invoice import GET_INVOICE_PDF

    pdf = b"%PDF-1.4 \x00\x01\x02 binary"
    file_el = '<file href="cid:pdf-1"/>' if referenced else ""
    envelope = ENV.format(
        '<get_invoice_pdfResponse xmlns="http://portaone.com/Porta/SOAP/Invoice"><s-gensym3>'
        f'{file_el}<file_name xsi:type="xsd:string">inv.pdf</file_name></s-gensym3>'
        "</get_invoice_pdfResponse>"
    ).encode()
    body = (
        b"--b1\r\nContent-Type: text/xml; charset=utf-8\r\nContent-ID: <root>\r\n\r\n"
        + envelope
        + b"\r\n--b1\r\nContent-Type: application/pdf\r\nContent-ID: <pdf-1>\r\n"
        b"Content-Transfer-Encoding: binary\r\n"
        b'Content-Disposition: attachment; filename="inv.pdf"\r\n\r\n' + pdf + b"\r\n--b1--\r\n"
    )
    reply = httpx.Response(
        200,
        content=body,
        headers={
            "Content-Type": 'multipart/related; boundary=b1; type="text/xml"; start="<root>"'
        },
    )
    result = _soap_client().decode_response(GET_INVOICE_PDF, reply)
    assert result.file == pdf and result.file_name == "inv.pdf"
    if not referenced:
        assert result.mime_type == "application/pdf"
