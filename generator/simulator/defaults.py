"""A schema-valid default value of any generated type: what the simulator answers when an
operation has no business logic of its own."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec


def default_instance(cls: Any) -> Any:
    """A schema-valid value of a response type: required fields filled, the rest unset."""
    return _default(msgspec.inspect.type_info(cls), set())


def _default(t: Any, seen: set[Any]) -> Any:
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        for x in t.types:
            if isinstance(x, mi.NoneType):
                return None
        return _default(t.types[0], seen)
    if isinstance(t, mi.StructType):
        if t.cls in seen:
            return None
        seen = seen | {t.cls}
        kwargs = {f.name: _default(f.type, seen) for f in t.fields if f.required}
        return t.cls(**kwargs)
    if isinstance(t, (mi.ListType, mi.TupleType)):
        return []
    if isinstance(t, mi.EnumType):
        return next(iter(t.cls))
    samples = {
        mi.IntType: 0,
        mi.FloatType: 0.0,
        mi.StrType: "",
        mi.BoolType: False,
        mi.BytesType: b"",
        mi.DecimalType: Decimal(0),
        mi.DateTimeType: datetime(2000, 1, 1),
        mi.DateType: date(2000, 1, 1),
    }
    for kind, value in samples.items():
        if isinstance(t, kind):
            return value
    return None
