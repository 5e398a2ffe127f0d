"""Realistic benchmark data, seeded: full AccountInfo records (all 70 fields, nested lists), and
customer and xDR records with every field set."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

import msgspec

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "kyiv", "lviv", "odesa", "sip", "pbx"]


def full_account(i: int, rnd: random.Random) -> Any:
    """An AccountInfo with every field set, as a get_account_info reply would carry it."""
    from portabilling.types import (
        AccountInfo,
        AddonInfo,
        CustomFieldsValuesInfo,
        ServiceFeatureInfo,
    )

    values: dict[str, Any] = {}
    for f in msgspec.structs.fields(AccountInfo):
        values[f.name] = _value(f.name, f.type, i, rnd)
    values["service_features"] = [
        ServiceFeatureInfo(
            **{
                g.name: _value(g.name, g.type, n, rnd)
                for g in msgspec.structs.fields(ServiceFeatureInfo)
            }
        )
        for n in range(3)
    ]
    values["assigned_addons"] = [
        AddonInfo(
            **{g.name: _value(g.name, g.type, n, rnd) for g in msgspec.structs.fields(AddonInfo)}
        )
        for n in range(2)
    ]
    values["custom_fields_values"] = [
        CustomFieldsValuesInfo(
            **{
                g.name: _value(g.name, g.type, n, rnd)
                for g in msgspec.structs.fields(CustomFieldsValuesInfo)
            }
        )
        for n in range(2)
    ]
    return AccountInfo(**values)


def _value(name: str, t: Any, i: int, rnd: random.Random) -> Any:
    text = str(t)
    if "list[" in text:
        return []
    if text.startswith(("str", "<class 'str'>")):
        if "email" in name:
            return f"user{i}@example.com"
        return f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i}"
    if text.startswith(("int", "<class 'int'>")):
        return i * 7 + rnd.randrange(1000)
    if "float" in text:
        return round(rnd.uniform(-500, 5000), 2)
    if "datetime.datetime" in text:
        return datetime(
            2024,
            1 + rnd.randrange(12),
            1 + rnd.randrange(28),
            rnd.randrange(24),
            rnd.randrange(60),
            0,
        )
    if "datetime.date" in text:
        return date(2024, 1 + rnd.randrange(12), 1 + rnd.randrange(28))
    if "Decimal" in text:
        from decimal import Decimal

        return Decimal(f"{rnd.uniform(0, 999):.2f}")
    if "YesNo" in text:
        from portabilling.types import YesNo

        return rnd.choice(list(YesNo))
    if "BillingModel" in text:
        from portabilling.types import BillingModel

        return rnd.choice(list(BillingModel))
    if "bool" in text:
        return rnd.random() < 0.5
    if name == "email" or name == "subscriber_email":
        return f"user{i}@example.com"
    return f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i}"


def accounts(n: int, seed: int = 105) -> list[Any]:
    rnd = random.Random(seed)
    return [full_account(i + 1, rnd) for i in range(n)]


def full(cls: type, i: int, rnd: random.Random, depth: int = 0) -> Any:
    """A `cls` record with every field set: nested structs filled in, lists of structs with two
    items (empty below the second level, as servers send them)."""
    import enum

    values: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        inner = [t for t in _options(f.type) if t is not type(None) and t is not msgspec.UnsetType]
        kind = inner[0] if inner else str
        item = getattr(kind, "__args__", (None,))[0] if "list[" in str(kind) else None
        if isinstance(item, type) and issubclass(item, msgspec.Struct):
            count = 2 if depth < 2 else 0
            values[f.name] = [full(item, n, rnd, depth + 1) for n in range(count)]
        elif item in (str, int):
            values[f.name] = [_value(f.name, item, i + n, rnd) for n in range(2)]
        elif isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            values[f.name] = full(kind, i, rnd, depth + 1)
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            values[f.name] = rnd.choice(list(kind))
        else:
            values[f.name] = _value(f.name, kind, i, rnd)
    return cls(**values)


def _options(t: Any) -> tuple[Any, ...]:
    args = getattr(t, "__args__", None)
    return (
        tuple(args) if args and type(t).__name__ in ("UnionType", "_UnionGenericAlias") else (t,)
    )


def customers(n: int, seed: int = 105) -> list[Any]:
    from portabilling.types import CustomerInfo

    rnd = random.Random(seed)
    return [full(CustomerInfo, i + 1, rnd) for i in range(n)]


def xdrs(n: int, seed: int = 105) -> list[Any]:
    from portabilling.types import XDRInfo

    rnd = random.Random(seed)
    return [full(XDRInfo, i + 1, rnd) for i in range(n)]
