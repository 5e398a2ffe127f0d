"""The repair pass on its own: what it converts, what it drops, what it records; and fault codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
import pytest


def _decode(cls: type, data: Any, strict: bool = False) -> tuple[Any, Any]:
    from portabilling._runtime import tolerant

    body = msgspec.json.encode(data)
    return tolerant.decode(  # type: ignore[no-any-return]
        "Test.op",
        cls,
        lambda: msgspec.json.Decoder(cls, strict=False).decode(body),
        lambda: msgspec.json.decode(body),
        ValueError,
        strict=strict,
    )


@pytest.mark.parametrize(
    ("field", "sent", "expected"),
    [
        ("first_usage", "2023-05-11", datetime(2023, 5, 11)),  # date-only for a datetime
        ("activation_date", "2023-05-12 10:11:12", date(2023, 5, 12)),  # and the reverse
        ("blocked", 1, "Y"),  # 0/1 for a 'Y'/'N' flag
        ("blocked", 0, "N"),
        ("blocked", "1", "Y"),
        ("i_customer", "Y", 1),  # and the reverse
        ("id", 6808881050, "6808881050"),  # a number for text
        ("balance", "20.5", 20.5),  # numeric text for a number (msgspec's own lax mode)
        ("i_product", True, 1),
    ],
)
def test_unambiguous_values_are_converted(field: str, sent: Any, expected: Any) -> None:
    from portabilling.types import AccountInfo, GetAccountInfoResponse

    result, report = _decode(GetAccountInfoResponse, {"account_info": {field: sent}})
    assert isinstance(result.account_info, AccountInfo)
    assert getattr(result.account_info, field) == expected
    if field != "balance":  # "20.5" fits msgspec's lax mode: no repair, no deviation
        (d,) = report.deviations
        assert (d.path, d.outcome, d.operation) == (f"account_info.{field}", "converted", "Test.op")


@pytest.mark.parametrize(
    ("field", "sent"),
    [("first_usage", "next tuesday"), ("i_customer", "many"), ("blocked", 7), ("balance", [1])],
)
def test_values_that_fit_nothing_are_dropped_and_kept(field: str, sent: Any) -> None:
    from portabilling import UNSET
    from portabilling.types import GetAccountInfoResponse

    result, report = _decode(GetAccountInfoResponse, {"account_info": {field: sent, "id": "a"}})
    assert getattr(result.account_info, field) is UNSET
    assert result.account_info.id == "a"  # the rest of the record survives
    assert report.dropped == {f"account_info.{field}": sent}
    (d,) = report.deviations
    assert d.outcome == "dropped" and d.path == f"account_info.{field}"


def test_one_item_and_list_of_one_and_empty_objects() -> None:
    from portabilling.types import GetAccountInfoResponse, GetAccountListResponse

    one = {"account_list": {"i_account": 1}, "total": 1}  # one item where a list is declared
    result, report = _decode(GetAccountListResponse, one)
    assert [a.i_account for a in result.account_list] == [1]
    assert [d.outcome for d in report.deviations] == ["converted"]
    # a list of one where one object is declared; `[]` (PHP's empty object) for an object
    result, _ = _decode(GetAccountInfoResponse, {"account_info": [{"i_account": 2}]})
    assert result.account_info.i_account == 2
    result, report = _decode(GetAccountInfoResponse, {"account_info": []})
    assert result.account_info.i_account is msgspec.UNSET
    assert report.deviations[0].path == "account_info"


def test_null_items_of_a_scalar_list_are_dropped() -> None:
    from portabilling.types import GetAccountListResponse

    data = {"account_list": [None, {"i_account": 3}], "total": 1}
    result, report = _decode(GetAccountListResponse, data)
    assert [a.i_account for a in result.account_list] == [3]
    assert report.dropped == {"account_list[0]": None}


def test_not_the_operations_reply_is_still_an_error() -> None:
    from portabilling.types import GetAccountInfoResponse

    with pytest.raises(ValueError, match="does not match GetAccountInfoResponse"):
        _decode(GetAccountInfoResponse, [1, 2, 3])
    with pytest.raises(ValueError, match="does not match"):
        _decode(GetAccountInfoResponse, "text")


def test_strict_refuses_with_operation_and_path() -> None:
    from portabilling.types import GetAccountInfoResponse

    with pytest.raises(ValueError, match=r"account_info\.first_usage: declared datetime"):
        _decode(GetAccountInfoResponse, {"account_info": {"first_usage": "2023-05-11"}}, True)
    with pytest.raises(ValueError, match=r"account_info\.shoe_size.*undeclared"):
        _decode(GetAccountInfoResponse, {"account_info": {"shoe_size": 44}}, True)
    result, _ = _decode(GetAccountInfoResponse, {"account_info": {"i_account": 1}}, True)
    assert result.account_info.i_account == 1


def test_fitting_reply_takes_the_fast_path_and_audits_on_demand() -> None:
    from portabilling.types import GetAccountInfoResponse

    _, report = _decode(GetAccountInfoResponse, {"account_info": {"i_account": 1, "x": 2}})
    assert report.deviations == () and report._raw is None  # nothing walked yet
    assert report.undeclared == {"account_info.x": 2}


@pytest.mark.parametrize(
    ("code", "parts", "family"),
    [
        ("Server.Session.check_auth.auth_failed", ("Server", "Session", "check_auth", "auth_failed"), "AuthError"),
        ("Client.check_auth.envelope_missed", ("Client", "", "check_auth", "envelope_missed"), "AuthError"),
        ("Server.Session.alert_You_must_change_password", ("Server", "Session", "", "alert_You_must_change_password"), "AuthError"),
        ("Server.Account.get_account_info.not_found", ("Server", "Account", "get_account_info", "not_found"), "NotFound"),
        ("Server.Account.add_account.customer_not_found", ("Server", "Account", "add_account", "customer_not_found"), "NotFound"),
        ("Server.Account.add_account.duplicate_id", ("Server", "Account", "add_account", "duplicate_id"), "IntegrityError"),
        ("Server.Customer.delete_customer.has_accounts", ("Server", "Customer", "delete_customer", "has_accounts"), "IntegrityError"),
        ("Client.Customer.get_customer_info.access_denied", ("Client", "Customer", "get_customer_info", "access_denied"), "PermissionDenied"),
        ("Server.Account.update_account.permission_error", ("Server", "Account", "update_account", "permission_error"), "PermissionDenied"),
        ("Client.Customer.add_customer.name_required", ("Client", "Customer", "add_customer", "name_required"), "Fault"),
        ("Client.NoSuchMethod", ("Client", "", "", "NoSuchMethod"), "Fault"),
        ("Server.Front", ("Server", "", "", "Front"), "Fault"),
    ],
)  # fmt: skip
def test_fault_codes_read_into_parts_and_families(
    code: str, parts: tuple[str, ...], family: str
) -> None:
    import portabilling
    from portabilling._runtime.errors import fault_class

    cls = fault_class(code)
    assert cls.__name__ == family and issubclass(cls, portabilling.Fault)
    fault = cls(code, "text", operation="X.y")
    assert (fault.side, fault.service, fault.method, fault.reason) == parts
