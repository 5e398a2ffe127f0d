"""Server data as the JSON API writes it, and the paging and filters of the list methods."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec


def to_wire(value: Any) -> Any:
    """Server data as the JSON API writes it (datetimes without `T`)."""
    data = msgspec.to_builtins(value, builtin_types=(datetime, date, Decimal))
    return _fix(data)


def _fix(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fix(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix(v) for v in data]
    if isinstance(data, datetime):
        return data.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(data, date):
        return data.isoformat()
    if isinstance(data, Decimal):
        return str(data)
    if isinstance(data, bytes):
        return base64.b64encode(data).decode()
    return data


def field_kinds(struct: Any) -> dict[str, type]:
    """A generated struct's single scalar fields by wire name, each with the Python type its
    values compare as: int, float and Decimal as Decimal, date, datetime, else str."""
    info = msgspec.inspect.type_info(struct)
    out: dict[str, type] = {}
    for f in getattr(info, "fields", ()):
        kinds = [_KINDS.get(type(t)) for t in members(f.type)]
        found = [k for k in kinds if k is not None]
        if found:
            out[f.encode_name] = found[0]
    return out


def members(t: Any) -> list[Any]:
    return list(t.types) if isinstance(t, msgspec.inspect.UnionType) else [t]


_KINDS: dict[type, type] = {
    msgspec.inspect.IntType: Decimal,
    msgspec.inspect.FloatType: Decimal,
    msgspec.inspect.DecimalType: Decimal,
    msgspec.inspect.DateType: date,
    msgspec.inspect.DateTimeType: datetime,
    msgspec.inspect.StrType: str,
    msgspec.inspect.EnumType: str,
    msgspec.inspect.BoolType: str,
}


class FilterError(ValueError):
    """A condition the server refuses (an unknown field or operator, an unreadable value)."""


def check_filter(conditions: Any, kinds: dict[str, type]) -> None:
    """Refuses a filter on a field the records do not have, whether or not any row is read."""
    for cond in conditions if isinstance(conditions, list) else []:
        if cond.field_ not in kinds:
            raise FilterError(f"cannot filter on {cond.field_!r}: no such field")


def matches(row: dict[str, Any], conditions: Any, kinds: dict[str, type] | None = None) -> bool:
    """Whether `row` meets every SearchCondition, compared as the server's SQL does: by the
    field's type (`kinds`: numbers as numbers, dates as dates), a missing or null value meeting
    no condition, negated or not. Without `kinds`, values compare as text."""
    if not isinstance(conditions, list):
        return True
    for cond in conditions:
        name = cond.field_
        kind = str if kinds is None else kinds.get(name)
        if kind is None:
            raise FilterError(f"cannot filter on {name!r}: no such field")
        stored = row.get(name)
        if stored is None:
            return False
        value = _read(kind, stored, name)
        if isinstance(cond.in_, list):
            ok = value in [_read(kind, w, name) for w in cond.in_]
        else:
            op = cond.op if isinstance(cond.op, str) else "eq"
            wanted = [_read(kind, w, name) for w in cond.value or []]
            if not wanted:
                raise FilterError(f"condition on {name!r} has no value")
            ok = any(_compare(op, value, w, name) for w in wanted)
        if cond.not_ == 1:
            ok = not ok
        if not ok:
            return False
    return True


def _read(kind: type, raw: Any, name: str) -> Any:
    try:
        if kind is Decimal:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ValueError(raw)
            number = Decimal(str(raw))
            if not number.is_finite():
                raise ValueError(raw)
            return number
        if kind is datetime:
            return datetime.fromisoformat(str(raw).replace("T", " ")).replace(tzinfo=None)
        if kind is date:
            return date.fromisoformat(str(raw)[:10])
    except (ValueError, ArithmeticError):
        raise FilterError(f"{name!r}: cannot read {str(raw)[:40]!r} as {kind.__name__}") from None
    return str(raw)


def _compare(op: str, value: Any, wanted: Any, name: str) -> bool:
    if op == "eq":
        return bool(value == wanted)
    if op == "ne":
        return bool(value != wanted)
    if op == "lt":
        return bool(value < wanted)
    if op == "gt":
        return bool(value > wanted)
    if op == "like":
        if not isinstance(value, str):
            raise FilterError(f"like on {name!r}, which is not text")
        return like(value, wanted)
    raise FilterError(f"unknown operator {op!r} (on {name!r})")


def like(value: Any, pattern: str) -> bool:
    """SQL LIKE: `%` any run of characters, `_` one character, `\\` escapes the next one."""
    if not isinstance(value, str):
        return False
    parts: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


def page(rows: list[Any], p: Any, name: str) -> dict[str, Any]:
    offset = p.offset if isinstance(getattr(p, "offset", None), int) else 0
    limit = p.limit if isinstance(getattr(p, "limit", None), int) else None
    page = rows[offset : offset + limit if limit is not None else None]
    return {name: page, "total": len(rows)}
