"""Hypothesis strategies for any generated struct, read from its msgspec type information.

Values stay inside what both transports can carry: XML 1.0 characters, naive datetimes to the
second (the server's precision), decimals with cents, 32-bit ids. A repeated element (schema
`maxOccurs="unbounded"`) is never an empty list: SOAP has no way to send one.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime, time
from enum import Enum
from typing import Any

import msgspec
from hypothesis import strategies as st

mi = msgspec.inspect

XML_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\ufffe\uffff",
        min_codepoint=0x09,
    ).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20),
    max_size=12,
)
# strings that need escaping in XML: markup characters, quotes and CR among plain letters
MARKUP_TEXT = st.text(alphabet="ab &<>\"'\r\n\t", max_size=6)
# and some that XML cannot carry at all (a control character): every encoder must refuse them
UNSENDABLE_TEXT = st.text(alphabet="ab&<\x01", max_size=4)


def _table(cls: type) -> dict[str, Any]:
    package, _, module = cls.__module__.rpartition(".")
    table: dict[str, Any] = importlib.import_module(f"{package}._xsd.{module}").TYPES
    return table[cls.__name__][1]


def _scalar(t: Any, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any] | None:
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        return st.integers(-(2**31), 2**31 - 1)
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if isinstance(t, mi.StrType):
        return text
    if isinstance(t, mi.BytesType):
        return st.binary(max_size=16)
    if isinstance(t, mi.DecimalType):
        return st.decimals(min_value=-(10**9), max_value=10**9, places=2)
    if isinstance(t, mi.DateTimeType):
        return st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=0)
        )
    if isinstance(t, mi.DateType):
        return st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1))
    if isinstance(t, mi.TimeType):
        return st.times().map(lambda x: time(x.hour, x.minute, x.second))
    if isinstance(t, mi.EnumType):
        members: list[Enum] = list(t.cls)
        known = st.sampled_from(members) if members else st.nothing()
        sample = members[0].value if members else ""
        unknown = (
            st.integers(1000, 2000)
            if isinstance(sample, int)
            else st.text("xyz", min_size=4, max_size=6)
        ).map(t.cls)
        return st.one_of(known, unknown)
    if isinstance(t, mi.AnyType):
        return text
    return None


def value_of(
    t: Any, depth: int, repeated: bool = False, text: st.SearchStrategy[str] = XML_TEXT
) -> st.SearchStrategy[Any]:
    """Values of type `t`; strings (and untyped values) drawn from `text`."""
    if isinstance(t, mi.UnionType):
        options = [x for x in t.types if not isinstance(x, mi.NoneType)]
        inner = value_of(options[0], depth, repeated, text)
        if len(options) < len(t.types):
            return st.one_of(st.none(), inner)
        return inner
    if isinstance(t, mi.StructType):
        cls = t.cls
        # types may contain themselves
        return st.deferred(lambda: struct_of(cls, depth + 1, text))
    if isinstance(t, (mi.ListType, mi.TupleType)):
        item = value_of(getattr(t, "item_type", mi.AnyType()), depth, text=text)
        if depth > 3:
            return st.just([]) if not repeated else st.lists(item, min_size=1, max_size=1)
        return st.lists(item, min_size=1 if repeated else 0, max_size=3)
    found = _scalar(t, text)
    if found is None:
        raise NotImplementedError(f"no strategy for {t}")
    return found


def struct_of(
    cls: type, depth: int = 0, text: st.SearchStrategy[str] = XML_TEXT
) -> st.SearchStrategy[Any]:
    """Instances of the generated struct `cls`, their strings drawn from `text`."""
    key = (cls, min(depth, 5), text)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _struct_of(cls, depth, text)
    return found


_cache: dict[tuple[type, int, st.SearchStrategy[str]], st.SearchStrategy[Any]] = {}


def _struct_of(cls: type, depth: int, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    specs = _table(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in info.fields:
        spec = specs.get(f.encode_name)
        if spec is None:  # JSON-only field (no XML name): SOAP cannot send it
            continue
        repeated = isinstance(spec, tuple) and spec[0] == "*"
        value = value_of(f.type, depth, repeated, text)
        if f.required:
            fields[f.name] = value
        elif depth > 3:
            continue
        else:
            fields[f.name] = st.one_of(st.just(msgspec.UNSET), value)
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))
