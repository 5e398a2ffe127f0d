"""Replies captured from a real PortaBilling server (tests/fixtures/realdata/, bundled from the
test data beside the repository) decode with the bundled bindings, end to end through the
simulator: deviations recorded, undeclared fields reachable, strict mode refusing each of them."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from .conftest import REALDATA as REAL

ADMIN = {"login": "admin", "password": "secret"}


def _load(name: str) -> Any:
    return json.loads((REAL / name).read_text())


# file -> (service, method, reply as the server sent it, request keywords); the two files that
# are one item of a reply are wrapped the way the README says
CASES: dict[str, tuple[str, str, Any, dict[str, Any]]] = {
    "account_2984.json": ("Account", "get_account_info", _load, {"i_account": 2984}),
    "customer_444.json": ("Customer", "get_customer_info", _load, {"i_customer": 444}),
    "account_subscriptions_2984.json": ("Account", "get_subscriptions", _load, {"i_account": 2984}),
    "addon.json": (
        "Account",
        "get_account_info",
        lambda n: {"account_info": {"i_account": 2984, "assigned_addons": [_load(n)]}},
        {"i_account": 2984},
    ),
    "subscription_state_86.json": (
        "Account",
        "get_subscriptions",
        lambda n: {"subscriptions": [_load(n)]},
        {"i_account": 2984},
    ),
}


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    """Deviations are logged once per process and path; each test starts afresh."""
    from portabilling._runtime import deviations

    deviations._logged.clear()


def _as_soap(value: Any) -> Any:
    """What SOAP::Lite can tell of `value`: scalars as text, an empty object as empty text."""
    if isinstance(value, dict):
        return {k: _as_soap(v) for k, v in value.items()} if value else ""
    if isinstance(value, list):
        return [_as_soap(v) for v in value]
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return value if value is None or isinstance(value, str) else str(value)


def _call(client: Any, service: str, method: str, kwargs: dict[str, Any]) -> Any:
    return getattr(getattr(client, service.lower()), method)(**kwargs)


def _walk(value: Any, path: str) -> Any:
    """The value at a report path (`a.b[0].c`) of plain data."""
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            value = value[int(part[1:-1])]
        elif part:
            value = value[part]
    return value


@pytest.mark.parametrize("transport", ["json", "soap"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_real_reply_decodes_with_deviations_and_undeclared_fields(
    sim: Any, transport: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from portabilling import AdminClient, DecodeError

    service, method, make, kwargs = CASES[name]
    reply = make(name)
    sim.sim.replies[(service, method)] = lambda call: reply
    reports: list[Any] = []
    with (
        caplog.at_level(logging.INFO, logger="portabilling"),
        AdminClient(sim.url, transport=transport, on_reply=reports.append, **ADMIN) as client,
    ):
        result = _call(client, service, method, kwargs)
        report = client.last_reply
        assert report is not None and report.operation == f"{service}.{method}"
        assert reports[-1] is report
        assert (
            list(client.deviations)[-len(report.deviations) :]
            == list(report.deviations)[-len(client.deviations) :]
        )
        # every undeclared field is reachable, by path, with the value the server sent (over
        # SOAP as SOAP::Lite writes it), and the raw reply is all there
        same = _as_soap if transport == "soap" else (lambda v: v)
        assert report.undeclared
        for path, value in report.undeclared.items():
            assert same(value) == same(_walk(reply, path))
        assert same(report.raw) == same(json.loads(json.dumps(reply)))
        # dropped values are recorded as deviations, by path
        dropped_paths = {d.path for d in report.deviations if d.outcome == "dropped"}
        assert set(report.dropped) == dropped_paths
        # the typed result holds what the server sent where it fits
        top = next(iter(reply))
        assert getattr(result, top) is not None
        # strict mode, per call and per client, refuses the same reply naming operation and path
        svc = getattr(client, service.lower()).with_options(strict=True)
        with pytest.raises(DecodeError) as err:
            getattr(svc, method)(**kwargs)
        assert f"{service}.{method}" in str(err.value) and "strict decoding" in str(err.value)
    with (
        AdminClient(sim.url, transport=transport, strict=True, **ADMIN) as strict_client,
        pytest.raises(DecodeError),
    ):
        _call(strict_client, service, method, kwargs)
    # no secret reaches a log line
    assert "26I7jw" not in caplog.text


def test_account_2984_deviations_are_the_real_ones(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import datetime

    from portabilling import AdminClient

    reply = _load("account_2984.json")
    sim.sim.replies[("Account", "get_account_info")] = lambda call: reply
    with (
        caplog.at_level(logging.WARNING, logger="portabilling"),
        AdminClient(sim.url, **ADMIN) as client,
    ):
        info = client.account.get_account_info(i_account=2984).account_info
        report = client.last_reply
        client.account.get_account_info(i_account=2984)  # the same deviations: logged once
    by_path = {d.path: d for d in report.deviations}
    # date-only text in a datetime field, converted
    assert info.first_usage == datetime(2023, 5, 11)
    assert by_path["account_info.first_usage"].outcome == "converted"
    assert by_path["account_info.first_usage"].arrived == "'2023-05-11'"
    # null arrives as None: optional fields admit it, so it is no deviation
    assert info.life_time is None
    # a scalar array's null item cannot be typed: left out, recorded, kept in `dropped`
    nulls = [p for p, d in by_path.items() if p.endswith("values[0]") and d.arrived == "null"]
    assert nulls and all(report.dropped[p] is None for p in nulls)
    # undeclared fields
    assert report.undeclared["account_info.iso_639_1"] == "en"
    assert report.undeclared["account_info.product_visible_name"] == "PTWaves mobile for residents"
    # WARNING once per operation and path (list indexes folded)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len({(d.operation, _fold(d.path)) for d in report.deviations})
    assert all("Account.get_account_info" in r.getMessage() for r in warnings)


def _fold(path: str) -> str:
    import re

    return re.sub(r"\[\d+\]", "[]", path)


def test_customer_444_flags_as_numbers(sim: Any) -> None:
    from portabilling import AdminClient
    from portabilling.types.common import YesNo

    reply = _load("customer_444.json")
    sim.sim.replies[("Customer", "get_customer_info")] = lambda call: reply
    with AdminClient(sim.url, **ADMIN) as client:
        info = client.customer.get_customer_info(i_customer=444).customer_info
        report = client.last_reply
    assert reply["customer_info"]["credit_exceed"] == 0
    assert info.credit_exceed == YesNo.NO
    assert {d.path for d in report.deviations} >= {"customer_info.credit_exceed"}


def test_renamed_list_is_a_warning_naming_the_fields(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from portabilling import UNSET, AdminClient, DecodeError

    item = _load("subscription_state_86.json")
    sim.sim.replies[("Account", "get_subscriptions")] = lambda call: {"subscription_list": [item]}
    with (
        caplog.at_level(logging.WARNING, logger="portabilling"),
        AdminClient(sim.url, **ADMIN) as client,
    ):
        result = client.account.get_subscriptions(i_account=2984)
        report = client.last_reply
        with pytest.raises(DecodeError, match="subscriptions"):
            client.account.with_options(strict=True).get_subscriptions(i_account=2984)
    assert result.subscriptions is UNSET
    (absent,) = [d for d in report.deviations if d.outcome == "absent"]
    assert absent.path == "subscriptions" and "subscription_list" in absent.arrived
    assert "subscription_list" in caplog.text and "WARNING" in caplog.text
    assert report.undeclared["subscription_list"][0]["i_account"] == item["i_account"]


def test_secret_values_are_never_described() -> None:
    from portabilling._runtime.deviations import describe

    assert describe("26I7jw", "h323_password") == "str (hidden)"
    assert describe("abc", "session_id") == "str (hidden)"
    assert describe("en", "iso_639_1") == "'en'"
    assert describe(None, "password") == "null"


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_real_server_mode_same_typed_result_with_deviations(
    sim: Any, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator in real-server mode: the typed result is the one the WSDL mode gives, the
    differences are deviations, the undeclared fields are reachable; the renamed list warns."""
    from datetime import datetime

    from portabilling import UNSET, AdminClient
    from portabilling.types import AccountInfo, CustomerInfo
    from portabilling.types.common import YesNo

    with AdminClient(sim.url, transport=transport, **ADMIN) as client:
        i_customer = client.customer.add_customer(customer_info=CustomerInfo(name="R")).i_customer
        info = AccountInfo(
            id="r1", i_customer=i_customer, blocked=YesNo.NO, issue_date=datetime(2024, 1, 2)
        )
        i_account = client.account.add_account(account_info=info).i_account
        plain = client.account.get_account_info(i_account=i_account)
        sim.sim.real_server = True
        with caplog.at_level(logging.WARNING, logger="portabilling"):
            real = client.account.get_account_info(i_account=i_account)
            report = client.last_reply
            subscriptions = client.account.get_subscriptions(i_account=i_account)
            renamed = client.last_reply
    assert real == plain
    assert real.account_info.blocked == YesNo.NO
    assert real.account_info.issue_date == datetime(2024, 1, 2)
    outcomes = {d.path: d.outcome for d in report.deviations}
    assert outcomes["account_info.blocked"] == "converted"
    assert outcomes["account_info.issue_date"] == "converted"
    assert report.undeclared["account_info.iso_639_1"] == "en"
    assert str(report.undeclared["account_info.is_active"]) == "1"
    assert subscriptions.subscriptions is UNSET
    (absent,) = [d for d in renamed.deviations if d.outcome == "absent"]
    assert "subscription_list" in absent.arrived and "subscription_list" in caplog.text
    assert renamed.undeclared["subscription_list"]


def test_streamed_items_are_repaired_one_by_one(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large SOAP replies are decoded while parsing, item by item: a deviating item is repaired
    on its own, and its deviations carry the item's path."""
    from portabilling import AdminClient
    from portabilling._runtime.soap import stream as soap_stream
    from portabilling.types import AccountInfo, CustomerInfo
    from portabilling.types.common import YesNo

    with AdminClient(sim.url, transport="soap", **ADMIN) as client:
        i_customer = client.customer.add_customer(customer_info=CustomerInfo(name="S")).i_customer
        for n in range(3):
            info = AccountInfo(id=f"s{n}", i_customer=i_customer, blocked=YesNo.NO)
            client.account.add_account(account_info=info)
        whole = client.account.get_account_list(i_customer=i_customer)
        sim.sim.real_server = True
        monkeypatch.setattr(soap_stream, "STREAM_ABOVE", 100)  # every reply streams
        streamed = client.account.get_account_list(i_customer=i_customer)
        report = client.last_reply
    assert streamed == whole and [a.blocked for a in streamed.account_list] == [YesNo.NO] * 3
    paths = [d.path for d in report.deviations]
    assert paths == [f"account_list[{n}].blocked" for n in range(3)]
    assert report.undeclared["account_list[2].iso_639_1"] == "en"
