"""Wire details of the two encoders, checked on exact bytes."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import ROOT
from .strategies import XML_TEXT


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


def test_json_datetimes_in_server_format_and_lookalike_strings_untouched() -> None:
    from portabilling._runtime.jsonapi.encode import encode_params
    from portabilling.types import AccountInfo, AddAccountRequest

    info = AccountInfo(
        note='"first_usage":"2024-01-02T03:04:05"',  # a string that looks like a datetime field
        first_usage=datetime(2024, 1, 2, 3, 4, 5, 678000),
        last_usage=datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        issue_date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    data = json.loads(encode_params(AddAccountRequest(account_info=info)))["account_info"]
    assert data["first_usage"] == "2024-01-02 03:04:05"
    assert data["last_usage"] == "2024-01-02 03:04:05"  # converted to UTC
    assert data["issue_date"] == "2024-01-02 03:04:05"
    assert data["note"] == '"first_usage":"2024-01-02T03:04:05"'


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    text=XML_TEXT,  # characters XML cannot carry are refused on both transports (test_validation)
)
def test_json_datetimes_match_the_value_by_value_path(moment: datetime, text: str) -> None:
    import msgspec
    from portabilling._runtime.formats import server_datetime
    from portabilling._runtime.jsonapi.encode import _encoder, _fix_datetimes, encode_params
    from portabilling.types import AccountInfo, AddAccountRequest

    request = AddAccountRequest(
        account_info=AccountInfo(first_usage=moment, note=text, login=text)
    )
    try:
        moment.astimezone(UTC)
    except OverflowError:  # no such moment in UTC: refused before encoding (test_validation)
        return
    slow = _encoder.encode(_fix_datetimes(msgspec.to_builtins(request, builtin_types=(datetime,))))
    assert encode_params(request) == slow
    assert json.loads(slow)["account_info"]["first_usage"] == server_datetime(moment)


def test_soap_envelope_exact() -> None:
    from portabilling._runtime.soap.encode import encode_envelope
    from portabilling.admin.customer import UPDATE_CUSTOMER
    from portabilling.types import CustomerInfo, UpdateCustomerRequest, YesNo

    request = UpdateCustomerRequest(
        customer_info=CustomerInfo(
            i_customer=7, name="A&B <co>", credit_limit=None, blocked=YesNo.NO
        )
    )
    body = encode_envelope(UPDATE_CUSTOMER, request, {"session_id": "s1"}).decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap=')
    assert '<session_id xsi:type="xsd:string">s1</session_id>' in body
    assert ':auth_info xsi:type="' in body and 'AuthInfoStructure"><session_id' in body
    assert '<i_customer xsi:type="xsd:int">7</i_customer>' in body
    assert '<name xsi:type="xsd:string">A&amp;B &lt;co&gt;</name>' in body
    assert '<credit_limit xsi:type="xsd:double" xsi:nil="true"/>' in body
    assert '<blocked xsi:type="xsd:string">N</blocked>' in body
    assert "balance" not in body  # unset: not sent


@pytest.mark.parametrize(
    ("stem", "field", "module", "const"),
    [
        ("account_list_1000", "account_list", "account", "GET_ACCOUNT_LIST"),
        ("customer_list_1000", "customer_list", "customer", "GET_CUSTOMER_LIST"),
    ],
)
def test_streaming_decode_of_large_replies_equals_the_tree_walk(
    monkeypatch: pytest.MonkeyPatch, stem: str, field: str, module: str, const: str
) -> None:
    import importlib
    import sys

    sys.path.insert(0, str(ROOT))
    from portabilling._runtime.soap import stream as soap_stream
    from portabilling._runtime.soap.reply import decode_envelope

    from tests.bench.fixtures import soap_list

    op = getattr(importlib.import_module(f"portabilling.admin.{module}"), const)
    body = soap_list(300, stem, field)
    whole, _ = decode_envelope(op, body)
    monkeypatch.setattr(soap_stream, "STREAM_ABOVE", 0)
    streamed: list[Any] = []
    original = soap_stream.parse_streaming

    def spy(*args: Any) -> Any:
        root, arrays = original(*args)
        streamed.extend(arrays.values())
        return root, arrays

    monkeypatch.setattr(soap_stream, "parse_streaming", spy)
    assert decode_envelope(op, body)[0] == whole
    assert [len(items) for items in streamed] == [300]  # the outer list only; nested ones whole
    records = getattr(whole, field)
    assert len(records) == 300 and records[0].service_features
    if field == "customer_list":  # generated with arrays three levels down
        assert records[0].service_features[0].attributes[1].values


def _soap_operations() -> list[Any]:
    from generator.introspect import operations_by_key

    ops = operations_by_key("portabilling").values()
    return sorted(
        (op for op in ops if op.request is not None and not op.json_only),
        key=lambda op: op.qualified_name,
    )


def _encoded(op: Any, request: Any, auth: dict[str, str], careful: bool) -> Any:
    """The envelope, or the message of the error that refused it."""
    from portabilling._runtime.errors import EncodeError
    from portabilling._runtime.soap import encode as soap_encode

    try:
        return soap_encode._encode(op, request, auth, careful=careful)
    except EncodeError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=st.sampled_from(["plain", "markup", "unsendable"]))
def test_soap_layouts_write_what_the_careful_path_writes(data: st.DataObject, text: str) -> None:
    """Structs go out through cached `%s` layouts, escaping only the strings that need it; the
    careful path writes field by field. Both must agree byte for byte, errors included."""
    from portabilling._runtime.soap import encode as soap_encode

    from .strategies import MARKUP_TEXT, UNSENDABLE_TEXT, XML_TEXT, struct_of

    strings = {"plain": XML_TEXT, "markup": MARKUP_TEXT, "unsendable": UNSENDABLE_TEXT}[text]
    op = data.draw(st.sampled_from(_soap_operations()))
    request = data.draw(struct_of(op.request, text=strings))
    auth = {"session_id": data.draw(strings)}
    slow = _encoded(op, request, auth, careful=True)
    assert _encoded(op, request, auth, careful=False) == slow
    if isinstance(slow, bytes):
        assert soap_encode.encode_envelope(op, request, auth) == slow


def test_soap_layout_after_a_json_only_field_names_the_right_element(monkeypatch: Any) -> None:
    """A nil (careful-path) field placed after a JSON-only attribute keeps its own tag (the
    layout once took the field at the attribute's position in schema order: the next one).
    No such field is nillable in the schema, so type validation is off for this layout test."""
    from portabilling._runtime.soap import encode as soap_encode
    from portabilling._runtime.soap.encode import encode_envelope

    monkeypatch.setattr(soap_encode, "check_kinds", lambda *args: None)
    from portabilling._runtime.soap.plan import plan_for
    from portabilling.admin.ua import UPDATE_UA
    from portabilling.types.ua import IPPhoneInfo, UpdateUaRequest

    plan = plan_for(IPPhoneInfo)
    assert plan.json_only and max(f.position for f in plan.fields) > plan.json_only[0]
    later = next(f for f in plan.fields if f.position > plan.json_only[0] and f.open_tag)
    attr = plan.attrs[later.position]
    info = IPPhoneInfo(mac="m", i_ua_type=1, **{attr: None})
    body = encode_envelope(UPDATE_UA, UpdateUaRequest(ua_info=info), {}).decode()
    assert body.count('xsi:nil="true"') == 1
    assert f'<{later.wire} xsi:type="' in body and 'xsi:nil="true"/>' in body


def test_soap_layout_escapes_one_string_without_the_careful_path(monkeypatch: Any) -> None:
    from portabilling._runtime.soap import encode as soap_encode
    from portabilling.admin.customer import UPDATE_CUSTOMER
    from portabilling.types import CustomerInfo, UpdateCustomerRequest

    def refused(*args: Any) -> None:
        raise AssertionError("escaping a string must not take the careful path")

    monkeypatch.setattr(soap_encode, "_struct_careful", refused)
    info = CustomerInfo(i_customer=7, name="A&B <co>", companyname='"x"\r')
    body = soap_encode.encode_envelope(
        UPDATE_CUSTOMER, UpdateCustomerRequest(customer_info=info), {}
    ).decode()
    assert '<name xsi:type="xsd:string">A&amp;B &lt;co&gt;</name>' in body
    assert '<companyname xsi:type="xsd:string">&quot;x&quot;&#13;</companyname>' in body


def test_soap_layout_cache_is_bounded(monkeypatch: Any) -> None:
    """Layouts per class are capped; nil in every field makes the type combinations (with type
    validation off: most of these fields are not nillable)."""
    from portabilling._runtime.soap import encode as soap_encode

    monkeypatch.setattr(soap_encode, "check_kinds", lambda *args: None)
    from portabilling._runtime.soap.plan import plan_for
    from portabilling.admin.customer import UPDATE_CUSTOMER
    from portabilling.types import CustomerInfo, UpdateCustomerRequest

    plan = plan_for(CustomerInfo)
    plan.layouts.clear()
    names = [f for f in CustomerInfo.__struct_fields__ if f != "i_customer"][:80]
    bodies = set()
    for i in range(len(names)):  # one more type combination per request
        info = CustomerInfo(i_customer=i, **{n: None for n in names[:i]})
        body = soap_encode.encode_envelope(
            UPDATE_CUSTOMER, UpdateCustomerRequest(customer_info=info), {}
        )
        assert f'<i_customer xsi:type="xsd:int">{i}</i_customer>' in body.decode()
        assert body.decode().count('xsi:nil="true"') == i
        bodies.add(body)
    assert len(bodies) == len(names) > soap_encode._MAX_LAYOUTS
    assert len(plan.layouts) == soap_encode._MAX_LAYOUTS


def test_json_requests_without_datetimes_are_encoded_as_they_are() -> None:
    """No copy unless a datetime is set somewhere below (copies cost more than the encode)."""
    from portabilling._runtime.jsonapi.encode import _server_view
    from portabilling.types import AccountInfo, AddAccountRequest, AddonInfo

    bare = AddAccountRequest(
        account_info=AccountInfo(login="a", assigned_addons=[AddonInfo(i_product=1)])
    )
    assert _server_view(bare) is bare
    dated = AddAccountRequest(
        account_info=AccountInfo(
            login="a",
            assigned_addons=[
                AddonInfo(i_product=1),
                AddonInfo(i_product=2, addon_effective_from=datetime(2024, 5, 6, 7, 8, 9)),
            ],
        )
    )
    view = _server_view(dated)
    addons = view.account_info.assigned_addons
    assert addons[0] is dated.account_info.assigned_addons[0]
    assert addons[1].addon_effective_from == "2024-05-06 07:08:09"
    assert dated.account_info.assigned_addons[1].addon_effective_from == datetime(
        2024, 5, 6, 7, 8, 9
    )


class Inner(msgspec.Struct, kw_only=True):
    at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    many: list[datetime] | msgspec.UnsetType = msgspec.UNSET


class Outer(msgspec.Struct, kw_only=True):
    inner: Inner | msgspec.UnsetType | None = msgspec.UNSET
    other: Inner | msgspec.UnsetType = msgspec.UNSET


Wide = msgspec.defstruct(  # more places for a datetime than one probe reads
    "Wide",
    [(f"at{i}", datetime | msgspec.UnsetType, msgspec.UNSET) for i in range(70)],
    kw_only=True,
)


class HoldsWide(msgspec.Struct, kw_only=True):
    wide: Wide | msgspec.UnsetType = msgspec.UNSET  # type: ignore[valid-type]
    inner: Inner | msgspec.UnsetType = msgspec.UNSET


def test_json_datetime_probe_of_a_parent_covers_a_child_too_wide_to_probe() -> None:
    from portabilling._runtime.jsonapi.encode import _plan_of, _server_view, encode_params

    moment = datetime(2024, 5, 6, 7, 8, 9)
    assert _plan_of(Wide).probe is None  # type: ignore[union-attr]
    assert _plan_of(HoldsWide).paths == ("wide", "inner.at", "inner.many")  # type: ignore[union-attr]
    empty = HoldsWide(wide=Wide(), inner=Inner())
    assert _server_view(empty) == empty
    last = HoldsWide(wide=Wide(at69=moment))
    assert json.loads(encode_params(last))["wide"]["at69"] == "2024-05-06 07:08:09"


def test_json_datetime_probe_agrees_with_the_walk() -> None:
    """The dotted-path probe may skip a walk only when nothing below holds a datetime."""
    from portabilling._runtime.jsonapi.encode import _server_view

    moment = datetime(2024, 5, 6, 7, 8, 9)
    for same in (Outer(), Outer(inner=None), Outer(inner=Inner(), other=Inner(many=[]))):
        assert _server_view(same) is same
    view = _server_view(Outer(inner=Inner(at=moment), other=Inner(many=[moment])))
    assert view.inner.at == "2024-05-06 07:08:09"
    assert view.other.many == ["2024-05-06 07:08:09"]
    kept = Inner()
    view = _server_view(Outer(inner=kept, other=Inner(at=moment)))
    assert view.inner is kept and view.other.at == "2024-05-06 07:08:09"
    view = _server_view(Outer(inner=None, other=Inner(at=moment)))  # probe fails on None
    assert view.inner is None and view.other.at == "2024-05-06 07:08:09"


def test_runtime_state_leaves_the_service_attributes_alone() -> None:
    """The client's session state, endpoint and transports are not attributes a service
    could be named (`client.session` is the Session service, as generated)."""
    from portabilling import AdminClient, AsyncAdminClient
    from portabilling.admin.session import AsyncSessionService, SessionService

    client = AdminClient("http://127.0.0.1:9", login="u", password="pw-Xq81")
    assert isinstance(client.session, SessionService)
    assert isinstance(AsyncAdminClient("http://127.0.0.1:9").session, AsyncSessionService)
    assert "pw-Xq81" not in repr(client) and "pw-Xq81" not in repr(client._session)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:8444", "is not an http(s) URL: give it as https://HOST[:PORT]"),
        ("pbx.example.com", "is not an http(s) URL"),
        ("ftp://pbx.example.com", "is not an http(s) URL"),
        ("https://", "is not an http(s) URL"),
        ("https://api:hunter2@[::1", "is not a URL"),
    ],
)
def test_a_base_url_without_scheme_or_host_is_refused_in_the_constructor(
    url: str, why: str
) -> None:
    from portabilling import AdminClient, AsyncAdminClient

    for cls in (AdminClient, AsyncAdminClient):
        with pytest.raises(ValueError, match=re.escape(why)) as info:
            cls(url, login="api", password="secret")
        assert "hunter2" not in str(info.value)


def test_a_base_url_that_is_not_text_is_a_type_error() -> None:
    from portabilling import AdminClient

    with pytest.raises(TypeError, match="must be a str"):
        AdminClient(b"https://pbx.example.com", login="api", password="x")  # type: ignore[arg-type]


def _add_account(features: list[Any], **fields: Any) -> Any:
    from portabilling.types import AccountInfo, AddAccountRequest

    return AddAccountRequest(account_info=AccountInfo(service_features=features, **fields))


def _feature(name: str, **fields: Any) -> Any:
    from portabilling.types import ServiceFeatureInfo

    return ServiceFeatureInfo(name=name, **fields)


def _attribute(name: str, values: Any = msgspec.UNSET) -> Any:
    from portabilling.types import ServiceAttributeInfo

    return ServiceAttributeInfo(name=name, values=values)


_NUMBERS: dict[str, Any] = {
    "i_account": 7,
    "i_customer": -3,
    "activation_date": date(2024, 5, 6),
    "first_usage": datetime(2024, 5, 6, 7, 8, 9),
    "issue_date": datetime(2024, 12, 31, 23, 59, 59),
}
_AWARE = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=3)))
_FRACTION = datetime(2024, 5, 6, 7, 8, 9, 250)
_OLD_AND_HUGE: dict[str, Any] = {
    "i_account": 10**30,
    "i_customer": -(2**70),
    "activation_date": date(9, 1, 2),
    "first_usage": datetime(99, 1, 2, 3, 4, 5),
}

_COMPILED_CASES: list[tuple[str, Any]] = [
    ("empty arrays", lambda: _add_account([], assigned_addons=[])),
    ("nil array", lambda: _add_account([_feature("a", attributes=None)])),
    ("items", lambda: _add_account([_feature("a", locked=1), _feature("b", flag_value="Y")])),
    ("nested arrays", lambda: _add_account([_feature("a", attributes=[_attribute("x", ["1"])])])),
    ("item to escape", lambda: _add_account([_feature("a"), _feature("A&B <co>")])),
    ("nested to escape", lambda: _add_account([_feature("a", attributes=[_attribute('"q"')])])),
    ("item unsendable", lambda: _add_account([_feature("a"), _feature("bad\x01")])),
    ("deep unsendable", lambda: _add_account([_feature("a", attributes=[_attribute("\x02")])])),
    ("wrong item class", lambda: _add_account([_feature("a"), _attribute("not a feature")])),
    ("nil item", lambda: _add_account([_feature("a"), None])),
    ("tuple of items", lambda: _add_account((_feature("a"), _feature("b")))),  # type: ignore[arg-type]
    ("struct to escape", lambda: _add_account([_feature("a")], login="<me>")),
    ("nil and nested", lambda: _add_account([_feature("a", locked=None, attributes=[])])),
    ("numbers", lambda: _add_account([], **_NUMBERS)),
    ("aware datetime", lambda: _add_account([], **_NUMBERS, last_usage=_AWARE)),
    ("fraction", lambda: _add_account([], **_NUMBERS, last_usage=_FRACTION)),
    ("old and huge", lambda: _add_account([], **_OLD_AND_HUGE)),
]


_ERRORS = {
    "item unsendable": "service_features[1].name: contains characters XML 1.0 cannot carry",
    "deep unsendable": "service_features[0].attributes[0].name: contains characters XML 1.0",
    "wrong item class": "service_features[1]: expected ServiceFeatureInfo, got ServiceAttr",
    "nil item": "service_features[1]: is not nillable",
}
_WARM = ("empty arrays", "nil array", "items", "nested arrays", "nil and nested", "numbers")


@pytest.mark.parametrize(("label", "make"), _COMPILED_CASES, ids=[c[0] for c in _COMPILED_CASES])
def test_soap_compiled_layouts_write_what_the_careful_path_writes(
    monkeypatch: pytest.MonkeyPatch, label: str, make: Any
) -> None:
    """Nested structs and arrays of structs are written by the compiled layouts, which call the
    encoder of the items' class directly and decline (to the slow path) what they cannot write:
    warm or cold, the bytes (or the error) are the careful path's."""
    from portabilling._runtime.soap import encode as soap_encode
    from portabilling.admin.account import ADD_ACCOUNT

    auth = {"session_id": "s"}
    careful = _encoded(ADD_ACCOUNT, make(), auth, careful=True)
    for _ in range(3):  # the first encode makes the layouts, the others use them
        for _label, other in _COMPILED_CASES:  # layouts made for other values first
            _encoded(ADD_ACCOUNT, other(), auth, careful=False)
        assert _encoded(ADD_ACCOUNT, make(), auth, careful=False) == careful
    if label in _ERRORS:
        assert isinstance(careful, str) and _ERRORS[label] in careful
    else:
        assert isinstance(careful, bytes) and b"<service_features" in careful
    if label == "numbers":
        assert b'<i_customer xsi:type="xsd:int">-3</i_customer>' in careful
        assert b'<activation_date xsi:type="xsd:date">2024-05-06</activation_date>' in careful
        assert b'<issue_date xsi:type="xsd:dateTime">2024-12-31 23:59:59</issue_date>' in careful
    if label == "aware datetime":
        assert b'<last_usage xsi:type="xsd:dateTime">2024-05-06 04:08:09</last_usage>' in careful
    if label in _WARM:  # warm layouts write these without the slow path

        def refused(*args: Any) -> None:
            raise AssertionError("a warm layout must write this itself")

        monkeypatch.setattr(soap_encode, "_slowly", refused)
        assert _encoded(ADD_ACCOUNT, make(), auth, careful=False) == careful
