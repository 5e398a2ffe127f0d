"""Request values checked against their declared types before anything is sent.

What is refused, on both transports: a value whose type the field does not declare (including
list items and nested structs: a `CustomerInfo` where an `AccountInfo` belongs, `"1 OR 1=1"` for
an `int`), `None` in a field that is not nillable, a required field left unset, NaN or infinity
(JSON would send `null`, which for `credit_limit` means unlimited), a `Decimal` NaN, an aware
datetime that cannot be expressed in UTC, and strings with characters XML 1.0 cannot carry (the
same request must be sendable over either transport). The error is one `EncodeError` naming the
operation and the field path (`AddAccountRequest.account_info.i_account: expected int, got str`);
it never shows the value, which may be a secret.

The checks follow a plan per struct class, made once: for each combination of value types a
class is seen with (`tuple(map(type, values))`, computed in C), the types are checked once and the
positions that need a look at the value itself (numbers, strings, datetimes, lists, nested structs)
are remembered, so a request of an already seen shape costs a dictionary lookup plus those looks.
The SOAP encoder keys its own layouts the same way and calls `check_kinds` when it makes one.
"""

from __future__ import annotations

import enum
import math
import operator
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import chain, repeat
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .errors import EncodeError

# Characters XML 1.0 cannot carry at all, even escaped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NONE = type(None)
_MAX_SHAPES = 256  # per class: odd inputs must not grow the cache without bound

# What a value of each declared scalar type may be (exact types; subclasses take the slow path).
_SCALARS: dict[type, frozenset[type]] = {
    msgspec.inspect.IntType: frozenset({int}),
    msgspec.inspect.FloatType: frozenset({float, int}),
    msgspec.inspect.DecimalType: frozenset({Decimal, int, float}),
    msgspec.inspect.StrType: frozenset({str}),
    msgspec.inspect.BoolType: frozenset({bool}),
    msgspec.inspect.DateType: frozenset({date}),
    msgspec.inspect.DateTimeType: frozenset({datetime}),
    msgspec.inspect.TimeType: frozenset({time}),
    msgspec.inspect.BytesType: frozenset({bytes, bytearray, memoryview}),
    msgspec.inspect.ByteArrayType: frozenset({bytes, bytearray, memoryview}),
    msgspec.inspect.MemoryViewType: frozenset({bytes, bytearray, memoryview}),
    msgspec.inspect.NoneType: frozenset({_NONE}),
}
_NAMES = {int: "int", float: "float", str: "str", bool: "bool", date: "date"}

# how a value is looked at once its type is known to be allowed
_PLAIN, _FLOAT, _DECIMAL, _STRING, _DATETIME, _LIST, _STRUCT, _ANY = range(8)


class Field:
    """What one field (or list item) may hold."""

    __slots__ = ("allowed", "classes", "description", "enums", "item", "literal", "open")

    def __init__(self, t: msgspec.inspect.Type) -> None:
        self.allowed: set[type] = set()  # exact types, checked in C
        self.classes: tuple[type, ...] = ()  # struct classes (subclasses welcome)
        self.enums: tuple[type, ...] = ()  # enum classes (their base values welcome)
        self.item: Field | None = None  # list items
        self.literal: frozenset[Any] | None = None
        self.open = False  # Any / dict: anything that can be sent
        names: list[str] = []
        for member in t.types if isinstance(t, msgspec.inspect.UnionType) else (t,):
            self._add(member, names)
        self.description = " | ".join(dict.fromkeys(names)) or "nothing"

    def _add(self, t: msgspec.inspect.Type, names: list[str]) -> None:
        mi = msgspec.inspect
        scalar = _SCALARS.get(type(t))
        if scalar is not None:
            self.allowed |= scalar
            names.append("None" if isinstance(t, mi.NoneType) else _kind_name(t))
        elif isinstance(t, mi.StructType):
            self.allowed.add(t.cls)
            self.classes += (t.cls,)
            names.append(t.cls.__name__)
        elif isinstance(t, mi.EnumType):
            self.allowed.add(t.cls)
            self.enums += (t.cls,)
            base = str if issubclass(t.cls, str) else int if issubclass(t.cls, int) else None
            if base is not None:  # open enums keep values they do not know
                self.allowed.add(base)
            names.append(t.cls.__name__)
        elif isinstance(t, mi.ListType | mi.TupleType | mi.VarTupleType | mi.SetType):
            self.allowed |= {list, tuple}
            item = getattr(t, "item_type", None)
            self.item = Field(item if item is not None else mi.AnyType())
            names.append(f"list[{self.item.description}]")
        elif isinstance(t, mi.LiteralType):
            self.literal = frozenset(t.values) | (self.literal or frozenset())
            self.allowed |= {type(v) for v in t.values}
            names.append(" | ".join(map(repr, t.values)))
        else:  # Any, dict and anything else msgspec can encode
            self.open = True
            names.append("any")

    def accepts(self, value: Any) -> bool:
        if self.open:
            return True
        kind = type(value)
        if kind in self.allowed:
            return self.literal is None or value in self.literal or kind not in _kinds(self.literal)
        if self.classes and isinstance(value, self.classes):
            return True
        if self.enums and isinstance(value, self.enums):
            return True
        # subclasses of str and int (a user's own enum), never bool for an int
        if str in self.allowed and isinstance(value, str):
            return True
        return int in self.allowed and isinstance(value, int) and kind is not bool

    def look(self, value: Any) -> int:
        """How an accepted value must be looked at beyond its type."""
        if isinstance(value, msgspec.Struct):
            return _STRUCT
        if isinstance(value, list | tuple):
            return _LIST
        if isinstance(value, str):
            return _STRING
        if isinstance(value, float):
            return _FLOAT
        if isinstance(value, Decimal):
            return _DECIMAL
        if isinstance(value, datetime):
            return _DATETIME
        if isinstance(value, dict) or (self.open and value is not None and value is not UNSET):
            return _ANY
        return _PLAIN


def _kinds(values: frozenset[Any]) -> set[type]:
    return {type(v) for v in values}


def _kind_name(t: msgspec.inspect.Type) -> str:
    name = type(t).__name__.removesuffix("Type").lower()
    return {"datetime": "datetime", "decimal": "Decimal"}.get(name, name)


class _Shape:
    """One combination of value types a class was seen with, checked: what to look at."""

    __slots__ = ("datetimes", "decimals", "deep", "floats", "strings")

    def __init__(self, looks: list[int]) -> None:
        def at(*kinds: int) -> tuple[int, ...]:
            return tuple(i for i, k in enumerate(looks) if k in kinds)

        self.floats = _getter(at(_FLOAT))
        self.decimals = _getter(at(_DECIMAL))
        self.strings = _getter(at(_STRING))
        self.datetimes = _getter(at(_DATETIME))
        self.deep = tuple((i, looks[i]) for i in at(_STRUCT, _LIST, _ANY))


def _getter(indices: tuple[int, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A C-level `values -> (values[i], ...)`, or None when there is nothing to pick."""
    if not indices:
        return None
    if len(indices) == 1:
        index = indices[0]

        def one(values: tuple[Any, ...]) -> tuple[Any, ...]:
            return (values[index],)

        return one
    return operator.itemgetter(*indices)


class Plan:
    """A struct class's fields as the checks see them, and the shapes already checked."""

    __slots__ = ("attrs", "cacheable", "fields", "name", "required", "shapes")

    def __init__(self, cls: type) -> None:
        info = msgspec.inspect.type_info(cls)
        fields = info.fields if isinstance(info, msgspec.inspect.StructType) else ()
        self.name = cls.__name__
        self.attrs = tuple(f.name for f in fields)
        self.fields = tuple(Field(f.type) for f in fields)
        for field in self.fields:
            field.allowed.add(UnsetType)  # msgspec.inspect leaves UNSET out of the unions
        self.required = frozenset(i for i, f in enumerate(fields) if f.required)
        self.shapes: dict[tuple[type, ...], _Shape] = {}
        # a shape is a function of the value types alone unless a field is a Literal
        self.cacheable = all(f.literal is None for f in self.fields)

    def learn(self, kinds: tuple[type, ...], values: tuple[Any, ...]) -> _Shape | None:
        """The shape of `kinds` if every field accepts its value, else None."""
        looks = []
        for i, (field, value) in enumerate(zip(self.fields, values, strict=True)):
            if value is UNSET:
                if i in self.required:
                    return None
                looks.append(_PLAIN)
            elif field.accepts(value):
                looks.append(field.look(value))
            else:
                return None
        shape = _Shape(looks)
        if (
            self.cacheable
            and len(self.shapes) < _MAX_SHAPES
            and all(k in f.allowed or f.open for k, f in zip(kinds, self.fields, strict=True))
        ):
            self.shapes[kinds] = shape  # exact types only: subclasses are checked every time
        return shape


_plans: dict[type, Plan] = {}
_lock = threading.Lock()


def plan_of(cls: type) -> Plan:
    plan = _plans.get(cls)
    if plan is None:
        with _lock:
            plan = _plans.get(cls)
            if plan is None:
                plan = _plans[cls] = Plan(cls)
    return plan


def check_request(request: Any, operation: str) -> None:
    """Raise `EncodeError(operation, path: why)` if `request` cannot be sent as it is."""
    if request is None:
        return
    strings: list[str] = []
    if _struct(request, strings) and (not strings or NOT_XML.search("".join(strings)) is None):
        return
    _explain(request, type(request).__name__, operation)


def check_kinds(
    cls: type, kinds: tuple[type, ...], values: tuple[Any, ...], path: str, operation: str
) -> None:
    """The type checks of one struct (not its values or nested structs), for the SOAP encoder
    when it makes a layout for `kinds`: raises EncodeError like `check_request`."""
    plan = _plans.get(cls) or plan_of(cls)
    if kinds not in plan.shapes and plan.learn(kinds, values) is None:
        try:
            _fields(plan, values, path, [])
        except _Bad as bad:
            error = EncodeError(f"{bad.path}: {bad.message}", operation=operation)
        else:
            return
        raise error


def check_list(cls: type, index: int, items: Any, path: str, operation: str) -> None:
    """The item types of list field `index` of `cls`, for the SOAP encoder (which checks the
    values itself as it writes them): raises EncodeError like `check_request`."""
    plan = _plans.get(cls) or plan_of(cls)
    field = plan.fields[index].item
    if field is None or field.open or _item_types_ok(items, field):
        return
    try:
        _explain_items(items, field, path)
    except _Bad as bad:
        error = EncodeError(f"{bad.path}: {bad.message}", operation=operation)
    else:
        return
    raise error


def _item_types_ok(items: Any, field: Field) -> bool:
    kinds = set(map(type, items))
    if not kinds <= field.allowed:
        return False
    if list in kinds or tuple in kinds:
        inner = field.item
        return inner is None or inner.open or all(
            _item_types_ok(v, inner) for v in items if isinstance(v, list | tuple)
        )
    return True


def _explain_items(items: Any, field: Field, path: str) -> None:
    for i, item in enumerate(items):
        if not field.accepts(item):
            raise _Bad(f"{path}[{i}]", _mismatch(field, item))
        if isinstance(item, list | tuple) and field.item is not None and not field.item.open:
            _explain_items(item, field.item, f"{path}[{i}]")


# ---- the fast walk: is everything fine? (no paths, no messages; C-level where it can be) ------


def _struct(value: Any, strings: list[str]) -> bool:
    plan = _plans.get(type(value)) or plan_of(type(value))
    values = msgspec.structs.astuple(value)
    kinds = tuple(map(type, values))
    shape = plan.shapes.get(kinds) or plan.learn(kinds, values)
    if shape is None:
        return False
    if shape.strings is not None:
        strings += shape.strings(values)
    if shape.floats is not None and not all(map(math.isfinite, shape.floats(values))):
        return False
    if shape.decimals is not None and not all(map(Decimal.is_finite, shape.decimals(values))):
        return False
    if shape.datetimes is not None and not _in_utc(shape.datetimes(values)):
        return False
    return not shape.deep or _deep(shape.deep, plan, (values,), strings)


def _deep(deep: tuple[tuple[int, int], ...], plan: Plan, rows: Any, strings: list[str]) -> bool:
    """The nested structs, lists and untyped values at `deep` in each of `rows`."""
    for i, look in deep:
        column = [row[i] for row in rows] if len(rows) > 1 else [rows[0][i]]
        if look == _STRUCT:
            if not all(_struct(v, strings) for v in column):
                return False
        elif look == _LIST:
            item = plan.fields[i].item
            if not all(_list(v, item, strings) for v in column if v):
                return False
        elif not all(_untyped_ok(v, strings) for v in column):
            return False
    return True


def _in_utc(moments: Iterable[datetime]) -> bool:
    try:
        for moment in moments:
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return False
    return True


def _list(items: Any, field: Field | None, strings: list[str]) -> bool:
    if field is None or field.open:
        return _untyped_ok(items, strings)
    if not items:
        return True
    kinds = set(map(type, items))
    if not kinds <= field.allowed:
        return False  # or a subclass: the slow walk decides
    if kinds <= _FLAT:  # ids and flags, most lists of scalars: nothing more to look at
        return True
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            strings += items
            return True
        if kind is float:
            return all(map(math.isfinite, items))
        if kind in field.classes:
            return _rows(items, kind, strings)
    return all(_one(item, field, strings) for item in items)


def _rows(items: Any, cls: type, strings: list[str]) -> bool:
    """A list of structs of one class: when all have the same shape (the usual case), their
    types are checked once and their values picked in C."""
    plan = _plans.get(cls) or plan_of(cls)
    rows = list(map(msgspec.structs.astuple, items))
    shapes = set(map(tuple, map(map, repeat(type), rows)))
    if len(shapes) != 1 or not plan.cacheable:
        return all(_struct(item, strings) for item in items)
    kinds = shapes.pop()
    shape = plan.shapes.get(kinds) or plan.learn(kinds, rows[0])
    if shape is None:
        return False
    if shape.strings is not None:
        strings.extend(chain.from_iterable(map(shape.strings, rows)))
    floats = shape.floats
    if floats is not None and not all(map(math.isfinite, chain.from_iterable(map(floats, rows)))):
        return False
    decimals = shape.decimals
    if decimals is not None and not all(
        map(Decimal.is_finite, chain.from_iterable(map(decimals, rows)))
    ):
        return False
    if shape.datetimes is not None and not _in_utc(
        chain.from_iterable(map(shape.datetimes, rows))
    ):
        return False
    return not shape.deep or _deep(shape.deep, plan, rows, strings)


_FLAT = frozenset({int, bool, date, time, bytes, _NONE})


def _one(value: Any, field: Field, strings: list[str]) -> bool:
    if not field.accepts(value):
        return False
    look = field.look(value)
    if look == _STRUCT:
        return _struct(value, strings)
    if look == _STRING:
        strings.append(value)
    elif look == _FLOAT:
        return math.isfinite(value)
    elif look == _DECIMAL:
        return bool(value.is_finite())
    elif look == _DATETIME:
        return _in_utc((value,))
    elif look == _LIST:
        return _list(value, field.item, strings)
    elif look == _ANY:
        return _untyped_ok(value, strings)
    return True


def _untyped_ok(value: Any, strings: list[str]) -> bool:
    try:
        _untyped(value, "", strings)
    except _Bad:
        return False
    return True


# ---- the slow walk: which field, and why (only after the fast walk found something) ------------


class _Bad(Exception):
    """A bad value, with its path; becomes the EncodeError of the operation."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message


def _explain(request: Any, path: str, operation: str) -> None:
    try:
        _explain_struct(request, path)
    except _Bad as bad:
        error = EncodeError(f"{bad.path}: {bad.message}", operation=operation)
    else:
        return
    raise error  # outside the handler: no chained exception holding the request


def _explain_struct(value: Any, path: str) -> None:
    plan = _plans.get(type(value)) or plan_of(type(value))
    _fields(plan, msgspec.structs.astuple(value), path, None)


def _fields(plan: Plan, values: tuple[Any, ...], path: str, shallow: list[str] | None) -> None:
    """Every field of one struct; with `shallow`, its type checks only."""
    for i, (attr, field, value) in enumerate(zip(plan.attrs, plan.fields, values, strict=True)):
        where = f"{path}.{attr}"
        if value is UNSET:
            if i in plan.required:
                raise _Bad(where, "is required but unset")
            continue
        if not field.accepts(value):
            raise _Bad(where, _mismatch(field, value))
        if shallow is None:
            _explain_value(value, field, where)


def _explain_value(value: Any, field: Field, path: str) -> None:
    look = field.look(value)
    if look == _STRUCT:
        _explain_struct(value, path)
    elif look == _LIST:
        item = field.item
        for i, v in enumerate(value):
            where = f"{path}[{i}]"
            if item is None or item.open:
                _untyped(v, where, [])
            elif not item.accepts(v):
                raise _Bad(where, _mismatch(item, v))
            else:
                _explain_value(v, item, where)
    elif look == _ANY:
        _untyped(value, path, [])
    elif look == _STRING:
        if NOT_XML.search(value):
            raise _Bad(path, "contains characters XML 1.0 cannot carry (control characters)")
    elif look in (_FLOAT, _DECIMAL):
        if not (math.isfinite(value) if look == _FLOAT else value.is_finite()):
            raise _Bad(path, "NaN and infinity cannot be sent")
    elif look == _DATETIME and not _in_utc((value,)):
        raise _Bad(path, "this datetime cannot be expressed in UTC")


def _mismatch(field: Field, value: Any) -> str:
    if value is None:
        return "is not nillable (None is not allowed)"
    if field.literal is not None and type(value) in _kinds(field.literal):
        return f"expected one of {field.description}"
    return f"expected {field.description}, got {type(value).__name__}"


_UNTYPED_SCALARS = (str, int, float, Decimal, bool, date, time, bytes, bytearray, enum.Enum)


def _untyped(value: Any, path: str, strings: list[str], depth: int = 0) -> None:
    """`Any` / dict fields: anything both transports can send, checked the same way."""
    if depth > 64:
        raise _Bad(path, "nested more than 64 levels deep")
    if value is None or value is UNSET:
        return
    if isinstance(value, msgspec.Struct):
        if not _struct(value, strings):
            _explain_struct(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Bad(path, f"keys must be str, got {type(key).__name__}")
            if NOT_XML.search(key):
                raise _Bad(path, "a key contains characters XML 1.0 cannot carry")
            _untyped(item, f"{path}.{key}", strings, depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _untyped(item, f"{path}[{i}]", strings, depth + 1)
    elif isinstance(value, str):
        if NOT_XML.search(value):
            raise _Bad(path, "contains characters XML 1.0 cannot carry (control characters)")
    elif isinstance(value, float | Decimal):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise _Bad(path, "NaN and infinity cannot be sent")
    elif isinstance(value, datetime):
        if not _in_utc((value,)):
            raise _Bad(path, "this datetime cannot be expressed in UTC")
    elif not isinstance(value, _UNTYPED_SCALARS):
        kind = type(value).__name__
        raise _Bad(path, f"expected data both transports can carry, got {kind}")
