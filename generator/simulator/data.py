"""Server data as the JSON API writes it, and the paging and filters of the list methods."""

from __future__ import annotations

import base64
import fnmatch
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


def matches(row: dict[str, Any], conditions: Any) -> bool:
    if not isinstance(conditions, list):
        return True
    for cond in conditions:
        value: Any = row.get(cond.field_)
        op = cond.op if isinstance(cond.op, str) else "eq"
        wanted = list(cond.value) if isinstance(cond.value, list) else []
        if isinstance(cond.in_, list):
            ok = str(value) in [str(v) for v in cond.in_]
        elif op == "like":
            ok = any(like(value, w) for w in wanted)
        elif op in ("lt", "gt"):
            try:
                ok = any(
                    (float(value) < float(w)) if op == "lt" else (float(value) > float(w))
                    for w in wanted
                )
            except (TypeError, ValueError):
                ok = False
        else:
            ok = any(str(value) == str(w) for w in wanted)
            ok = not ok if op == "ne" else ok
        if cond.not_ == 1:
            ok = not ok
        if not ok:
            return False
    return True


def like(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and fnmatch.fnmatchcase(
        value, pattern.replace("%", "*").replace("_", "?")
    )


def page(rows: list[Any], p: Any, name: str) -> dict[str, Any]:
    offset = p.offset if isinstance(getattr(p, "offset", None), int) else 0
    limit = p.limit if isinstance(getattr(p, "limit", None), int) else None
    page = rows[offset : offset + limit if limit is not None else None]
    return {name: page, "total": len(rows)}
