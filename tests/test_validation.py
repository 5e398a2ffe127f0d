"""Request validation, property-based: every valid request passes; one bad value anywhere is
refused with an `EncodeError` naming the operation and that field's path, on both encoders.

Over real sockets (nothing reaches the server) in tests/test_hostile.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT
from .strategies import struct_of

mi = msgspec.inspect


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


def _request_classes() -> list[type]:
    import portabilling.types as types

    return sorted(
        (
            c
            for n in dir(types)
            if n.endswith("Request")
            and isinstance(c := getattr(types, n), type)
            and issubclass(c, msgspec.Struct)
        ),
        key=lambda c: c.__name__,
    )


def _encoders() -> list[Any]:
    """Both transports' encoders, as a client calls them for an operation `Op.name`."""
    from portabilling._runtime.jsonapi import encode as jsonapi
    from portabilling._runtime.operation import Operation, ServiceSpec
    from portabilling._runtime.soap import encode as soap_encode

    spec = ServiceSpec("Op", namespace="urn:op", endpoint_path="/")

    def over_soap(request: Any) -> bytes:
        op = Operation(spec, "name", type(request), None, parts=("request",))
        return soap_encode.encode_envelope(op, request, {"session_id": "s"})

    return [lambda request: jsonapi.encode_params(request, "Op.name"), over_soap]


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_SETTINGS
@given(data=st.data())
def test_valid_requests_pass(data: st.DataObject) -> None:
    from portabilling._runtime.validate import check_request

    cls = data.draw(st.sampled_from(_request_classes()))
    request = data.draw(struct_of(cls))
    check_request(request, "Op.name")
    for encode in _encoders():
        encode(request)


class _Other(msgspec.Struct, kw_only=True):
    """A struct no field declares."""

    x: int = 0


def _bad_values(t: Any, required: bool) -> list[tuple[Any, str]]:
    """Values a field of type `t` must refuse, with the words the error must contain."""
    types = list(t.types) if isinstance(t, mi.UnionType) else [t]
    kinds = {type(x) for x in types}
    out: list[tuple[Any, str]] = [(_Other(), "got _Other"), (object(), "got object")]
    if mi.NoneType not in kinds:
        out.append((None, "not nillable"))
    if required:
        out.append((msgspec.UNSET, "required"))
    if not kinds & {mi.StrType, mi.EnumType, mi.AnyType}:
        out.append(("1 OR 1=1", "got str"))
    if mi.FloatType in kinds:
        out += [(float("nan"), "NaN"), (float("inf"), "NaN and infinity"), (True, "got bool")]
    if mi.DecimalType in kinds:
        out += [(Decimal("NaN"), "NaN"), (Decimal("-Infinity"), "NaN")]
    if mi.StrType in kinds:
        out += [("a\x00b", "XML 1.0"), ("lone \ud800", "XML 1.0"), (5, "got int")]
    if mi.IntType in kinds:
        out += [(1.5, "got float"), (True, "got bool")]
    if mi.DateTimeType in kinds:
        moment = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
        out += [(moment, "cannot be expressed in UTC"), ("2024-01-01 00:00:00", "got str")]
    lists = [x for x in types if isinstance(x, mi.ListType)]
    if lists:
        for bad, words in _bad_values(lists[0].item_type, False):
            if bad is not msgspec.UNSET and not (bad is None and words == "not nillable"):
                out.append(([bad], words))
    if any(isinstance(x, mi.AnyType) for x in types):
        out = [(v, w) for v, w in out if w in ("got object", "NaN", "XML 1.0")]
    return out


@_SETTINGS
@given(data=st.data())
def test_one_bad_value_is_refused_with_its_path(data: st.DataObject) -> None:
    """A valid request with one field (at the top or in a nested struct) made bad."""
    from portabilling import EncodeError

    cls = data.draw(st.sampled_from(_request_classes()))
    request = data.draw(struct_of(cls))
    # walk down into a nested struct now and then
    holder, path = request, cls.__name__
    while True:
        nested = [
            (f, getattr(holder, f.name))
            for f in msgspec.structs.fields(holder)
            if isinstance(getattr(holder, f.name), msgspec.Struct)
        ]
        if not nested or not data.draw(st.booleans()):
            break
        f, holder = data.draw(st.sampled_from(nested))
        path += f".{f.name}"
    fields = [f for f in mi.type_info(type(holder)).fields]  # type: ignore[attr-defined]
    if not fields:
        return
    field = data.draw(st.sampled_from(fields))
    choices = _bad_values(field.type, field.required)
    bad, words = data.draw(st.sampled_from(choices))
    msgspec.structs.force_setattr(holder, field.name, bad)
    where = f"{path}.{field.name}"
    for encode in _encoders():
        with pytest.raises(EncodeError) as caught:
            encode(request)
        message = str(caught.value)
        assert message.startswith(f"Op.name: {where}"), (message, where, words)
        assert words in message, (message, words)
        assert "1 OR 1=1" not in message  # values never appear (they may be secrets)


def test_the_issue_cases() -> None:
    from portabilling import EncodeError
    from portabilling._runtime.jsonapi.encode import encode_params
    from portabilling.types import (
        AccountInfo,
        AddAccountRequest,
        CustomerInfo,
        GetAccountInfoRequest,
        UpdateAccountRequest,
    )

    cases = [
        (
            UpdateAccountRequest(account_info=AccountInfo(i_account=1, credit_limit=float("nan"))),
            "UpdateAccountRequest.account_info.credit_limit: NaN and infinity cannot be sent",
        ),
        (
            UpdateAccountRequest(account_info=AccountInfo(i_account=1, credit_limit=float("inf"))),
            "UpdateAccountRequest.account_info.credit_limit: NaN and infinity",
        ),
        (
            GetAccountInfoRequest(i_account="1 OR 1=1"),  # type: ignore[arg-type]
            "GetAccountInfoRequest.i_account: expected int | None, got str",
        ),
        (
            AddAccountRequest(account_info=CustomerInfo(name="x")),  # type: ignore[arg-type]
            "AddAccountRequest.account_info: expected AccountInfo, got CustomerInfo",
        ),
        (
            AddAccountRequest(account_info=None),  # type: ignore[arg-type]
            "AddAccountRequest.account_info: is not nillable",
        ),
    ]
    for request, message in cases:
        with pytest.raises(EncodeError) as caught:
            encode_params(request, "Account.x")
        assert str(caught.value).startswith(f"Account.x: {message}"), str(caught.value)
        assert caught.value.__context__ is None
    # None where the schema allows nil is sent: it resets the value
    ok = encode_params(UpdateAccountRequest(account_info=AccountInfo(credit_limit=None)))
    assert ok == b'{"account_info":{"credit_limit":null}}'


def test_json_strings_are_checked_in_the_output() -> None:
    """The JSON encoder looks for characters XML 1.0 cannot carry in its own output: a hit is
    walked for the field's path, a false hit (an escaped backslash before `u00`) is sent."""
    from portabilling import EncodeError
    from portabilling._runtime.jsonapi.encode import encode_params
    from portabilling.types import AccountInfo, UpdateAccountRequest

    def request(text: str) -> UpdateAccountRequest:
        return UpdateAccountRequest(account_info=AccountInfo(i_account=1, firstname=text))

    for text in ("a\x01b", "form\x0cfeed", "back\x08", "\ufffe", "x\uffffy", "lone \udc80"):
        with pytest.raises(EncodeError) as caught:
            encode_params(request(text), "Account.update_account")
        assert str(caught.value).startswith(
            "Account.update_account: UpdateAccountRequest.account_info.firstname: contains"
        ), str(caught.value)
        assert caught.value.__context__ is None and caught.value.__cause__ is None
    for text in ("C:\\u0001\\bin\\f", 'quote " and \\ and \n\t\r', "\uffef \uf000 \u20ac"):
        sent = encode_params(request(text), "Account.update_account")
        assert msgspec.json.decode(sent)["account_info"]["firstname"] == text


def test_values_of_subclasses_take_the_careful_path() -> None:
    """A struct of a subclass of the declared class is not known to the compiled check of its
    holder: the slow walk decides, and accepts it (SOAP then needs a schema table for it)."""
    from portabilling import EncodeError
    from portabilling.types import AccountInfo, UpdateAccountRequest

    class Info(AccountInfo, kw_only=True):
        pass

    from portabilling._runtime.jsonapi.encode import encode_params
    from portabilling._runtime.validate import check_request

    request = UpdateAccountRequest(account_info=Info(i_account=7, login="x"))
    check_request(request, "Account.update_account")
    assert encode_params(request) == b'{"account_info":{"i_account":7,"login":"x"}}'
    bad = UpdateAccountRequest(account_info=Info(i_account="7"))  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match=r"account_info\.i_account: expected int"):
        encode_params(bad)


def test_compiled_checks_are_made_once_per_class_under_threads() -> None:
    """Many threads asking for a class's check at once get one compiled function."""
    from concurrent.futures import ThreadPoolExecutor

    from portabilling._runtime import validate
    from portabilling.types import CustomerInfo

    validate._CHECK.pop(CustomerInfo, None)
    with ThreadPoolExecutor(8) as pool:
        checks = set(pool.map(lambda _: validate._CHECK[CustomerInfo], range(64)))
    assert len(checks) == 1
    assert checks.pop()(CustomerInfo(name="x")) is True
