"""Tolerant decoding: a reply that does not fit its types is repaired, not refused.

The typed decode (msgspec, in C) is always tried first, so replies that fit cost nothing extra.
Only when it fails does `decode` take the reply as plain data (dicts, lists, scalars) and walk it
beside the response type: a value that does not fit is converted where the meaning is
unambiguous (date-only text for a datetime and the reverse, 0/1 for a 'Y'/'N' flag and the
reverse, a number for text, one item for a list of one, `[]` for an empty object), otherwise it is
left out of the typed result (still in `DecodeReport.raw` and `.dropped`). Each case is a
`Deviation`; the repaired data is then decoded again. A reply decodes unless it is not this
operation's reply at all (not an object, or a required field missing).

Strict mode (for a user's CI against their staging server) raises `DecodeError` on the first
deviation instead, undeclared fields included.
"""

from __future__ import annotations

import contextlib
import math
import operator
import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi

from .deviations import (
    ABSENT,
    CONVERTED,
    DROPPED,
    UNDECLARED,
    Deviation,
    describe,
    log,
    printable,
)
from .limits import current_deadline

_DROP: Any = object()  # the value does not fit and is left out
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
_PY: dict[type, type] = {
    mi.IntType: int,
    mi.FloatType: float,
    mi.StrType: str,
    mi.BoolType: bool,
    mi.DateTimeType: datetime,
    mi.DateType: date,
    mi.TimeType: time,
    mi.DecimalType: Decimal,
    mi.BytesType: bytes,
}
_infos: dict[type, mi.Type] = {}
_fields: dict[type, dict[str, mi.Field]] = {}


class DecodeReport:
    """What one reply carried beyond its typed result.

    `deviations` are known at once. `raw` (the whole reply as plain data), `undeclared` (fields
    the bindings do not declare, by path) and `dropped` (values left out of the typed result, by
    path) are worked out when first read: a reply that fits is never walked in Python unless
    asked, so the report keeps the reply's bytes until then.
    """

    __slots__ = ("_dropped", "_plain", "_raw", "_undeclared", "cls", "deviations", "operation")

    def __init__(
        self,
        operation: str,
        cls: type | None,
        deviations: tuple[Deviation, ...] = (),
        plain: Callable[[], Any] | None = None,
        walk: _Walk | None = None,
        raw: Any = None,
    ) -> None:
        self.operation = operation
        self.cls = cls
        self.deviations = deviations
        self._plain = plain
        self._raw = raw
        self._undeclared = walk.undeclared if walk is not None else None
        self._dropped = walk.dropped if walk is not None else None

    def __repr__(self) -> str:
        return f"DecodeReport({self.operation}, {len(self.deviations)} deviations)"

    @property
    def raw(self) -> Any:
        """The reply as plain data, every field the server sent included."""
        if self._raw is None and self._plain is not None:
            self._raw = self._plain()
            self._plain = None
        return self._raw

    @property
    def undeclared(self) -> dict[str, Any]:
        """Fields the bindings do not declare, by path: `{"account_info.iso_639_1": "en"}`."""
        if self._undeclared is None:
            self._audit()
        return self._undeclared or {}

    @property
    def dropped(self) -> dict[str, Any]:
        """Values that fit no declared type and are not in the typed result, by path."""
        if self._dropped is None:
            self._audit()
        return self._dropped or {}

    def _audit(self) -> None:
        walk = audit(self.raw, self.cls, self.operation)
        self._undeclared, self._dropped = walk.undeclared, walk.dropped


def audit(data: Any, cls: type | None, operation: str) -> _Walk:
    """Walk `data` beside `cls` recording everything, undeclared fields as deviations too."""
    walk = _Walk(operation, undeclared_deviations=True)
    if cls is not None:
        # nested deeper than Python recurses: the report keeps what was found so far
        with contextlib.suppress(RecursionError):
            walk.value(data, _info(cls), "", "")
    return walk


def decode(
    operation: str,
    cls: type,
    typed: Callable[[], Any],
    plain: Callable[[], Any],
    fail: Callable[[str], Exception],
    *,
    strict: bool = False,
) -> tuple[Any, DecodeReport]:
    """The typed result of a reply and its report.

    `typed()` is the fast decode (raises msgspec's errors, ValueError or TypeError when the reply
    does not fit), `plain()` the reply as plain data with every field (raises `fail`'s exception
    when the reply is not data at all), `fail(message)` makes the exception to raise.
    """
    try:
        result = typed()
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError) as exc:
        first_error = str(exc)  # (RecursionError: nested past Python's limit; plain() says so)
    else:
        if strict:
            walk = audit(plain(), cls, operation)
            _refuse(walk.deviations, fail)
        report = DecodeReport(operation, cls, (), plain)
        if _may_miss_containers(result, cls):
            # a declared list/struct of the reply is absent: was it sent under another name?
            walk = audit(report.raw, cls, operation)
            absent = tuple(d for d in walk.deviations if d.outcome == ABSENT)
            report = DecodeReport(operation, cls, absent, walk=walk, raw=report.raw)
            log(absent)
        return result, report
    data = plain()
    walk = _Walk(operation, undeclared_deviations=strict)
    try:
        fixed = walk.value(data, _info(cls), "", "")
    except RecursionError:
        raise fail(f"reply does not match {cls.__name__}: nested too deeply") from None
    if strict:
        _refuse(walk.deviations, fail)
    if fixed is _DROP:
        raise fail(f"reply does not match {cls.__name__}: {printable(first_error)}")
    try:
        result = msgspec.convert(fixed, cls, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        raise fail(f"reply does not match {cls.__name__}: {exc}") from None
    deviations = tuple(walk.deviations)
    log(deviations)
    return result, DecodeReport(operation, cls, deviations, walk=walk, raw=data)


def _refuse(deviations: list[Deviation], fail: Callable[[str], Exception]) -> None:
    if deviations:
        more = f" (and {len(deviations) - 1} more)" if len(deviations) > 1 else ""
        first = deviations[0]
        raise fail(
            f"strict decoding: {printable(first.path)}: declared {first.declared}, got "
            f"{printable(first.arrived)} ({first.outcome}){more}"
        )


def _may_miss_containers(result: Any, cls: type) -> bool:
    """True when the response declares lists or structs and none arrived (cheap: attributes
    only); the audit then tells an empty answer from one sent under other names."""
    probe = _containers.get(cls)
    if probe is None:
        info = _info(cls)
        fields = info.fields if isinstance(info, mi.StructType) else ()
        names = [f.name for f in fields if _is_container(f.type)]
        probe = _containers[cls] = _probe(names)
    return probe(result)


def _probe(names: list[str]) -> Callable[[Any], bool]:
    unset = msgspec.UNSET
    if not names:
        return lambda result: False
    if len(names) == 1:
        get = operator.attrgetter(names[0])
        return lambda result: get(result) is unset
    get_all = operator.attrgetter(*names)
    return lambda result: all(v is unset for v in get_all(result))


_containers: dict[type, Callable[[Any], bool]] = {}


def convert_item(data: Any, cls: type, operation: str, path: str, into: list[Deviation]) -> Any:
    """One item of a list decoded on its own (the SOAP streaming path): typed at once, repaired
    and its deviations added to `into` when it does not fit."""
    try:
        return msgspec.convert(data, cls, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError):
        pass
    walk = _Walk(operation)
    walk.owner = cls.__name__
    fixed = walk.value(data, _info(cls), path, "")
    into.extend(walk.deviations)
    return msgspec.convert({} if fixed is _DROP else fixed, cls, strict=False)


# ---- the walk -----------------------------------------------------------------------------------


def _info(cls: type) -> mi.Type:
    info = _infos.get(cls)
    if info is None:
        info = _infos[cls] = mi.type_info(cls)
    return info


def _field_map(t: mi.StructType) -> dict[str, mi.Field]:
    found = _fields.get(t.cls)
    if found is None:
        found = _fields[t.cls] = {f.encode_name: f for f in t.fields}
    return found


def _is_container(t: mi.Type) -> bool:
    if isinstance(t, mi.UnionType):
        return any(_is_container(x) for x in t.types)
    return isinstance(t, mi.StructType | mi.ListType | mi.TupleType | mi.VarTupleType)


def type_name(t: mi.Type) -> str:
    """A declared type as the deviation names it: `int`, `datetime`, `YesNo`, `list[str]`."""
    if isinstance(t, mi.UnionType):
        return " | ".join(type_name(x) for x in t.types)
    if isinstance(t, mi.StructType | mi.EnumType):
        return t.cls.__name__
    if isinstance(t, mi.ListType | mi.VarTupleType):
        return f"list[{type_name(t.item_type)}]"
    if isinstance(t, mi.NoneType):
        return "None"
    py = _PY.get(type(t))
    return py.__name__ if py is not None else type(t).__name__.removesuffix("Type").lower()


class _Walk:
    """One repair (or audit) of plain data against a type; collects what it finds."""

    __slots__ = (
        "deadline",
        "deviations",
        "dropped",
        "operation",
        "owner",
        "steps",
        "undeclared",
        "undeclared_deviations",
    )

    def __init__(self, operation: str, undeclared_deviations: bool = False) -> None:
        self.operation = operation
        self.deviations: list[Deviation] = []
        self.undeclared: dict[str, Any] = {}
        self.dropped: dict[str, Any] = {}
        self.undeclared_deviations = undeclared_deviations
        self.owner = ""  # the struct being walked
        self.deadline = current_deadline()  # the call's timeout holds while a reply is repaired
        self.steps = 0

    def note(self, path: str, t: mi.Type | str, value: Any, outcome: str, name: str) -> None:
        declared = t if isinstance(t, str) else type_name(t)
        self.deviations.append(
            Deviation(
                self.operation,
                path or "(reply)",
                declared,
                describe(value, name),
                outcome,
                self.owner,
            )
        )

    def drop(self, path: str, t: mi.Type, value: Any, name: str) -> Any:
        self.note(path, t, value, DROPPED, name)
        self.dropped[path] = value
        return _DROP

    def value(self, v: Any, t: mi.Type, path: str, name: str) -> Any:
        self.steps += 1
        if not self.steps & 1023 and self.deadline is not None:
            self.deadline.check()  # DeadlineExceeded: the call's flow reports it as a timeout
        if isinstance(t, mi.UnionType):
            return self.union(v, t, path, name)
        if isinstance(t, mi.AnyType | mi.DictType | mi.RawType):
            return v
        if v is None:
            return v if isinstance(t, mi.NoneType) else self.drop(path, t, v, name)
        if isinstance(t, mi.StructType):
            return self.struct(v, t, path, name)
        if isinstance(t, mi.ListType | mi.VarTupleType):
            return self.list(v, t, path, name)
        return self.scalar(v, t, path, name)

    def union(self, v: Any, t: mi.UnionType, path: str, name: str) -> Any:
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        nullable = len(inner) < len(t.types)
        if v is None:
            return None if nullable else self.drop(path, t, v, name)
        if v == "" and nullable and not any(_takes_text(x) for x in inner):
            self.note(path, t, v, CONVERTED, name)  # an empty element for a missing value
            return None
        if len(inner) == 1:
            return self.value(v, inner[0], path, name)
        for x in inner:
            if _fits(v, x):
                return v
        for x in inner:
            trial = _Walk(self.operation, self.undeclared_deviations)
            fixed = trial.value(v, x, path, name)
            if fixed is not _DROP:
                self.deviations += trial.deviations
                self.undeclared.update(trial.undeclared)
                self.dropped.update(trial.dropped)
                return fixed
        return self.drop(path, t, v, name)

    def struct(self, v: Any, t: mi.StructType, path: str, name: str) -> Any:
        if isinstance(v, list):
            if not v:  # PHP and Perl write an empty object as []
                self.note(path, t, v, CONVERTED, name)
                v = {}
            elif len(v) == 1 and isinstance(v[0], dict):  # a list of one for one object
                self.note(path, t, v, CONVERTED, name)
                v = v[0]
        if not isinstance(v, dict):
            return self.drop(path, t, v, name)
        fields = _field_map(t)
        out: dict[str, Any] = {}
        carriers: list[str] = []
        prefix = f"{path}." if path else ""
        outer, self.owner = self.owner, t.cls.__name__
        for key, item in v.items():
            where = f"{prefix}{key}"
            f = fields.get(key)
            if f is None:
                self.undeclared[where] = item
                if self.undeclared_deviations:
                    self.note(where, "(not declared)", item, UNDECLARED, key)
                if isinstance(item, list | dict) and item:
                    carriers.append(key)
                continue
            fixed = self.value(item, f.type, where, key)
            if fixed is not _DROP:
                out[key] = fixed
        if carriers:
            absent = [f for k, f in fields.items() if k not in out and _is_container(f.type)]
            if absent and not any(_is_container(f.type) for k, f in fields.items() if k in out):
                names = ", ".join(carriers)
                for f in absent:
                    self.note(
                        f"{prefix}{f.encode_name}",
                        f.type,
                        None,
                        ABSENT,
                        f.encode_name,
                    )
                    last = self.deviations[-1]
                    self.deviations[-1] = last._replace(
                        arrived=f"nothing; undeclared fields carry data: {names}"
                    )
        self.owner = outer
        return out

    def list(self, v: Any, t: mi.ListType | mi.VarTupleType, path: str, name: str) -> Any:
        if not isinstance(v, list):
            if isinstance(v, dict) and not v:  # an empty object for an empty list
                self.note(path, t, v, CONVERTED, name)
                return []
            self.note(path, t, v, CONVERTED, name)  # one item where a list is declared
            v = [v]
        out = []
        for i, item in enumerate(v):
            fixed = self.value(item, t.item_type, f"{path}[{i}]", name)
            if fixed is not _DROP:
                out.append(fixed)
        return out

    def scalar(self, v: Any, t: mi.Type, path: str, name: str) -> Any:
        if _fits(v, t):
            return v
        fixed = _fix(v, t)
        if fixed is not _DROP and _fits(fixed, t):
            self.note(path, t, v, CONVERTED, name)
            return fixed
        return self.drop(path, t, v, name)


def _python_type(t: mi.Type) -> Any:
    if isinstance(t, mi.EnumType | mi.StructType):
        return t.cls
    if isinstance(t, mi.LiteralType):
        return Any
    return _PY.get(type(t), Any)


def _fits(v: Any, t: mi.Type) -> bool:
    """Whether msgspec's own conversion (the one the final decode uses) accepts `v` as `t`."""
    if isinstance(t, mi.StructType | mi.ListType | mi.UnionType):
        return False  # decided by the walk, never by a trial conversion
    try:
        msgspec.convert(v, _python_type(t), strict=False)
    except (msgspec.ValidationError, ValueError, TypeError):
        return False
    return True


def _takes_text(t: mi.Type) -> bool:
    if isinstance(t, mi.StrType | mi.AnyType):
        return True
    return isinstance(t, mi.EnumType) and any(isinstance(m.value, str) for m in t.cls)


def _fix(v: Any, t: mi.Type) -> Any:
    """`v` converted to `t` where the meaning is unambiguous, else _DROP."""
    if isinstance(t, mi.DateTimeType):
        if isinstance(v, str) and _DATE_ONLY.match(v.strip()):
            return f"{v.strip()} 00:00:00"
    elif isinstance(t, mi.DateType):
        if isinstance(v, str) and _DATETIME.match(v.strip()):
            return v.strip()[:10]
    elif isinstance(t, mi.EnumType):
        values = {m.value for m in t.cls}
        if {"Y", "N"} <= values:
            if v in (1, "1", True) and not isinstance(v, float):
                return "Y"
            if v in (0, "0", False) and not isinstance(v, float):
                return "N"
        elif all(isinstance(x, int) for x in values):
            return _number(v, int)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            return str(v)
    elif isinstance(t, mi.IntType):
        return _number(v, int)
    elif isinstance(t, mi.FloatType | mi.DecimalType):
        return _number(v, float)
    elif isinstance(t, mi.StrType):
        if isinstance(v, int | float | Decimal) and not isinstance(v, bool):
            return str(v)
    elif isinstance(t, mi.BoolType):
        flags = {"Y": True, "N": False, "y": True, "n": False}
        if isinstance(v, str) and v.strip() in flags:
            return flags[v.strip()]
    return _DROP


def _number(v: Any, kind: type) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str):
        text = v.strip()
        if text in ("Y", "N"):
            return 1 if text == "Y" else 0
        try:
            v = float(text)
        except ValueError:
            return _DROP
    if isinstance(v, float | Decimal) and kind is int:
        if not math.isfinite(v) or v != int(v):
            return _DROP
        return int(v)
    return v if isinstance(v, int | float | Decimal) else _DROP
