"""Provisioning events (ESPF) as PortaBilling POSTs them, decoded into typed structs.

A body is `{"event_type": "Group/Action", "variables": {"i_event": 5, ...}}`. The groups with
documented variables get their own struct (`SubscriberEvent.i_account`, `DIDEvent.number`, ...);
any other group still decodes, as the open `Event`. PortaBilling documents the ids as integers but
its own example sends `"i_event": "5"`: ids come as numbers or as digit strings, and both decode.
Every variable, declared or not, is kept in `variables`, so nothing sent is lost.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import msgspec

# "Subscriber/Updated", "Account/Service/QuotaExceeded": a group, then one or more parts
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}(?:/[A-Za-z0-9_.-]{1,64}){1,4}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_MAX_ID = 2**63 - 1


class EventError(ValueError):
    """A body that is not a provisioning event. `reason` is short and safe to answer with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """An event of any group: the open type every typed event extends."""

    event_type: str
    """`Group/Action`, e.g. `Subscriber/Updated`."""
    i_event: int
    """Unique per event; a retry repeats it."""
    variables: dict[str, Any]
    """Every variable as sent, including ones no struct declares."""

    ids: ClassVar[tuple[tuple[str, type], ...]] = ()

    @property
    def group(self) -> str:
        return self.event_type.partition("/")[0]

    @property
    def action(self) -> str:
        return self.event_type.partition("/")[2]


class CustomerEvent(Event, frozen=True, kw_only=True):
    """`Customer/Created`, `Customer/Updated`, `Customer/Deleted`."""

    i_customer: int
    ids = (("i_customer", int),)


class SubscriberEvent(Event, frozen=True, kw_only=True):
    """An account: `Subscriber/Created`, `Subscriber/Updated`, `Subscriber/Deleted`."""

    i_account: int
    ids = (("i_account", int),)


class DIDEvent(Event, frozen=True, kw_only=True):
    """`DID/Created`, `DID/Updated` (also assigned or released), `DID/Deleted`."""

    number: str
    ids = (("number", str),)


class InvoiceEvent(Event, frozen=True, kw_only=True):
    """`Invoice/Created`, `Invoice/Updated` (paid, partly paid or refunded)."""

    i_customer: int
    i_invoice: int
    ids = (("i_customer", int), ("i_invoice", int))


GROUPS: dict[str, type[Event]] = {
    "Customer": CustomerEvent,
    "Subscriber": SubscriberEvent,
    "DID": DIDEvent,
    "Invoice": InvoiceEvent,
}


def _id(value: Any, where: str) -> int:
    """An integer id sent as a number or as digits (never a bool, a fraction or a sign)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise EventError(f"{where} is not an integer id")
    if not 0 < number <= _MAX_ID:
        raise EventError(f"{where} is out of range")
    return number


def _text(value: Any, where: str) -> str:
    """A text value such as a DID number, which some senders write as a JSON number."""
    if isinstance(value, str) and 0 < len(value) <= 256:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    raise EventError(f"{where} is not a text value")


def decode_event(body: bytes) -> Event:
    """The typed event in `body`, or `EventError` saying what is wrong with it."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise EventError("body is not valid JSON") from None
    except RecursionError:  # JSON nested thousands deep
        raise EventError("body nests too deeply") from None
    if not isinstance(raw, dict):
        raise EventError("body is not a JSON object")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise EventError("event_type is missing or not Group/Action")
    variables = raw.get("variables", {})
    if not isinstance(variables, dict):
        raise EventError("variables is not a JSON object")
    # the group pages put i_event among the variables; the overview lists it beside them
    inner, outer = variables.get("i_event"), raw.get("i_event")
    if inner is None and outer is None:
        raise EventError("i_event is missing")
    i_event = _id(inner if inner is not None else outer, "i_event")
    if inner is not None and outer is not None and _id(outer, "i_event") != i_event:
        raise EventError("i_event differs between the body and its variables")
    cls = GROUPS.get(event_type.partition("/")[0], Event)
    fields: dict[str, Any] = {}
    for name, kind in cls.ids:
        value = variables.get(name)
        if value is None:
            raise EventError(f"{event_type} without variables.{name}")
        where = f"variables.{name}"
        fields[name] = _id(value, where) if kind is int else _text(value, where)
    return cls(event_type=event_type, i_event=i_event, variables=variables, **fields)
