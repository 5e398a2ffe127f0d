"""Request values checked against their declared types before anything is sent.

What is refused, on both transports: a value whose type the field does not declare (including
list items and nested structs: a `CustomerInfo` where an `AccountInfo` belongs, `"1 OR 1=1"` for
an `int`), `None` in a field that is not nillable, a required field left unset, NaN or infinity
(JSON would send `null`, which for `credit_limit` means unlimited), a `Decimal` NaN, an aware
datetime that cannot be expressed in UTC, and strings with characters XML 1.0 cannot carry (the
same request must be sendable over either transport). The error is one `EncodeError` naming the
operation and the field path (`AddAccountRequest.account_info.i_account: expected int, got str`);
it never shows the value, which may be a secret.

The checks follow a plan per struct class, made once and compiled into one small function
(`_compile`): unpack the struct's values in C, compare each value's exact class with the set its
field allows, and look further only where a class needs it (a float's finiteness, a nested
struct, a list's items). A request of the usual kinds costs about one comparison a field; a
value of an unusual class (a subclass, say) makes the fast check answer "not sure", and the slow
walk that names the field decides. The SOAP encoder checks the kinds of a struct once per layout
it makes (`check_kinds`) and the characters of strings as it writes them; the JSON encoder looks
for those characters in its own output (`suspect_json`).

One job, one module (over 500 lines): the compiled fast check and the slow walk that names the
field apply the same rules, and must agree on every value, so they are kept side by side.
"""

from __future__ import annotations

import enum
import math
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .chars import NOT_XML, not_xml
from .errors import EncodeError

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
            return (
                self.literal is None or value in self.literal or kind not in _kinds(self.literal)
            )
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


class Plan:
    """A struct class's fields as the checks see them, and the kinds already found good."""

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
        self.shapes: set[tuple[type, ...]] = set()
        # good kinds are a function of the value types alone unless a field is a Literal
        self.cacheable = all(f.literal is None for f in self.fields)

    def learn(self, kinds: tuple[type, ...], values: tuple[Any, ...]) -> bool:
        """Whether every field accepts its value (not looking into it); remembered by kinds."""
        for i, (field, value) in enumerate(zip(self.fields, values, strict=True)):
            if value is UNSET:
                if i in self.required:
                    return False
            elif not field.accepts(value):
                return False
        if (
            self.cacheable
            and len(self.shapes) < _MAX_SHAPES
            and all(k in f.allowed or f.open for k, f in zip(kinds, self.fields, strict=True))
        ):
            self.shapes.add(kinds)  # exact types only: subclasses are checked every time
        return True


_plans: dict[type, Plan] = {}
_lock = threading.RLock()  # compiling a check makes plans too


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


def check_types(request: Any, operation: str) -> None:
    """`check_request` without the look at the characters of strings, for an encoder that looks
    at its own output instead (`suspect_json`): types, required fields, NaN, infinity and UTC."""
    if request is not None and not _struct(request, None):
        _explain(request, type(request).__name__, operation)


# In JSON text a character XML 1.0 cannot carry is either escaped (`\u0001`, `\b`, `\f`: msgspec
# escapes every control character) or written as itself (U+FFFE, U+FFFF: UTF-8 EF BF BE/BF); lone
# surrogates cannot be encoded at all. Most requests hold no backslash and no EF byte, which two
# C-level byte searches tell; the rest are searched, and a hit has the request walked for the path.
_JSON_ESCAPE = re.compile(rb"\\(?:u00[01]|[bf])")


def suspect_json(text: bytes) -> bool:
    """Whether JSON `text` may carry a character XML 1.0 cannot (false hits are possible: an
    escaped backslash before `u00`; `check_request` then decides)."""
    if text.find(b"\\") >= 0 and _JSON_ESCAPE.search(text) is not None:
        return True
    return text.find(b"\xef") >= 0 and (
        text.find(b"\xef\xbf\xbe") >= 0 or text.find(b"\xef\xbf\xbf") >= 0
    )


def check_untyped(value: Any, path: str, operation: str) -> None:
    """The checks of an untyped (`Any`) field for a value no struct declares, such as an extra
    parameter: NaN, infinity, characters XML 1.0 cannot carry, datetimes UTC cannot express."""
    try:
        _untyped(value, path, [])
    except _Bad as bad:
        error = EncodeError(f"{bad.path}: {bad.message}", operation=operation)
    else:
        return
    raise error  # outside the handler: no chained exception holding the value


def check_kinds(
    cls: type, kinds: tuple[type, ...], values: tuple[Any, ...], path: str, operation: str
) -> None:
    """The type checks of one struct (not its values or nested structs), for the SOAP encoder
    when it makes a layout for `kinds`: raises EncodeError like `check_request`."""
    plan = _plans.get(cls) or plan_of(cls)
    if kinds not in plan.shapes and not plan.learn(kinds, values):
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
        return (
            inner is None
            or inner.open
            or all(_item_types_ok(v, inner) for v in items if isinstance(v, list | tuple))
        )
    return True


def _explain_items(items: Any, field: Field, path: str) -> None:
    for i, item in enumerate(items):
        if not field.accepts(item):
            raise _Bad(f"{path}[{i}]", _mismatch(field, item))
        if isinstance(item, list | tuple) and field.item is not None and not field.item.open:
            _explain_items(item, field.item, f"{path}[{i}]")


# ---- the fast check: is everything fine? (no paths, no messages) -------------------------------


class _Checkers(dict[type, Callable[..., bool]]):
    """struct class -> its compiled check, made on first use: `(value) -> bool`, or with
    `collect`, `(value, strings) -> bool` gathering the str values for one search at the end."""

    def __init__(self, collect: bool) -> None:
        super().__init__()
        self.collect = collect

    def __missing__(self, cls: type) -> Callable[..., bool]:
        with _lock:
            check = self.get(cls)
            if check is None:
                check = self[cls] = _compile(cls, self)
        return check


def _compile(cls: type, table: _Checkers) -> Callable[..., bool]:
    """The check of one struct class as Python source. False means "not sure" (a bad value, or
    one of a class the lines do not know): the slow walk then decides.

    A class with many fields is checked by the tuple of its value types, looked up among those
    already found good (a set, in C), and only the fields that need a look at their value have a
    line; a small class, or the variant that gathers strings, has lines for every field."""
    plan = _plans.get(cls) or plan_of(cls)
    collect = table.collect
    env: dict[str, Any] = {
        "astuple": msgspec.structs.astuple,
        "type": type,
        "map": map,
        "tuple": tuple,
        "isfinite": math.isfinite,
        "Decimal": Decimal,
        "datetime": datetime,
        "UNSET": UNSET,
        "CHECK": table,
        "GOOD": plan.shapes,
        "learn": plan.learn,
        "in_utc": _in_utc,
        "items_ok": _list,
        "one_ok": _one,
        "untyped_ok": _untyped_ok,
    }
    by_kinds = not collect and plan.cacheable and len(plan.fields) >= _BY_KINDS
    names = "".join(f"x{i}, " for i in range(len(plan.fields)))
    if by_kinds:
        head = [
            f"{names}= t = astuple(v)",
            "k = tuple(map(type, t))",
            "if k not in GOOD and not (learn(k, t) and k in GOOD): return False",
        ]
    else:
        head = [f"{names}= astuple(v)"] if plan.fields else []
    lines = []
    for i, field in enumerate(plan.fields):
        x = f"x{i}"
        env[f"F{i}"] = field
        if field.open or field.literal is not None:
            lines.append(_unusual_line(i, field, i in plan.required, collect))
            continue
        allowed = field.allowed - ({UnsetType} if i in plan.required else set())
        env[f"A{i}"] = frozenset(allowed)
        looks = _looks(i, field, allowed, collect, env)
        if not by_kinds:
            lines += [f"c = type({x})", f"if c not in A{i}: return False", *looks]
        elif looks:  # the kinds are known good: only the looks at values remain
            lines += [f"c = k[{i}]", *looks]
    source = "\n    ".join(
        [f"def check(v{', S' if collect else ''}):", *head, *lines, "return True"]
    )
    exec(compile(source, f"<check {plan.name}>", "exec"), env)  # our own source, from the plan
    check: Callable[..., bool] = env["check"]
    return check


_BY_KINDS = 12  # fields from which one lookup of all value types beats a line a field


def _unusual_line(i: int, field: Field, required: bool, collect: bool) -> str:
    """Any, dict and Literal fields: the generic look, never a lookup by kinds alone."""
    strings = "S" if collect else "None"
    ok = f"untyped_ok(x{i}, {strings})" if field.open else f"one_ok(x{i}, F{i}, {strings})"
    return f"if not ({'False' if required else 'True'} if x{i} is UNSET else {ok}): return False"


def _looks(
    i: int, field: Field, allowed: set[type], collect: bool, env: dict[str, Any]
) -> list[str]:
    """The lines that look at the value `x{i}` of class `c`, once `c` is known to be allowed."""
    x = f"x{i}"
    lines = []
    if float in allowed:
        lines.append(f"if c is float and not isfinite({x}): return False")
    if Decimal in allowed:
        lines.append(f"if c is Decimal and not {x}.is_finite(): return False")
    if datetime in allowed:
        lines.append(f"if c is datetime and {x}.tzinfo and not in_utc(({x},)): return False")
    if collect and str in allowed:
        lines.append(f"if c is str: S.append({x})")
    for j, struct in enumerate(field.classes):
        env[f"C{i}_{j}"] = struct
        call = f"CHECK[c]({x}, S)" if collect else f"CHECK[c]({x})"
        lines.append(f"if c is C{i}_{j} and not {call}: return False")
    if list in allowed:
        item = field.item
        if item is not None and len(item.classes) == 1 and item.allowed == {item.classes[0]}:
            # a list of one struct class, the usual kind: its items checked right here
            env[f"I{i}"] = item.classes[0]
            call = "check(y, S)" if collect else "check(y)"
            lines += [
                f"if (c is list or c is tuple) and {x}:",
                f"    check = CHECK[I{i}]",
                f"    for y in {x}:",
                f"        if type(y) is not I{i} or not {call}: return False",
            ]
        else:
            strings = "S" if collect else "None"
            lines.append(
                f"if (c is list or c is tuple) and {x} and"
                f" not items_ok({x}, F{i}.item, {strings}): return False"
            )
    return lines


_CHECK = _Checkers(collect=False)
_COLLECT = _Checkers(collect=True)


def _struct(value: Any, strings: list[str] | None) -> bool:
    if strings is None:
        return _CHECK[type(value)](value)
    return _COLLECT[type(value)](value, strings)


def _in_utc(moments: Iterable[datetime]) -> bool:
    try:
        for moment in moments:
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return False
    return True


def _list(items: Any, field: Field | None, strings: list[str] | None) -> bool:
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
            if strings is not None:
                strings += items
            return True
        if kind is float:
            return all(map(math.isfinite, items))
        if kind in field.classes:
            if strings is None:
                return all(map(_CHECK[kind], items))
            check = _COLLECT[kind]
            return all(check(item, strings) for item in items)
    return all(_one(item, field, strings) for item in items)


_FLAT = frozenset({int, bool, date, time, bytes, _NONE})


def _one(value: Any, field: Field, strings: list[str] | None) -> bool:
    if not field.accepts(value):
        return False
    look = field.look(value)
    if look == _STRUCT:
        return _struct(value, strings)
    if look == _STRING:
        if strings is not None:
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


def _untyped_ok(value: Any, strings: list[str] | None) -> bool:
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
            raise _Bad(path, not_xml(value))
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


def _untyped(value: Any, path: str, strings: list[str] | None, depth: int = 0) -> None:
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
            raise _Bad(path, not_xml(value))
    elif isinstance(value, float | Decimal):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise _Bad(path, "NaN and infinity cannot be sent")
    elif isinstance(value, datetime):
        if not _in_utc((value,)):
            raise _Bad(path, "this datetime cannot be expressed in UTC")
    elif not isinstance(value, _UNTYPED_SCALARS):
        kind = type(value).__name__
        raise _Bad(path, f"expected data both transports can carry, got {kind}")
