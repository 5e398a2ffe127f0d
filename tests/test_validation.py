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
    from portabilling._runtime import jsonapi, soap_encode
    from portabilling._runtime.operation import Operation, ServiceSpec

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
    from portabilling._runtime.jsonapi import encode_params
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
