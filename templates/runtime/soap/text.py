"""XSD text of Python values: how each value is written, and which strings need escaping.

Shared by the schema plans (each simple-typed field gets its converter once) and the encoder.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from ..chars import NOT_XML, not_xml
from ..formats import server_datetime

XSD = "http://www.w3.org/2001/XMLSchema"

# What a string must not hold to be written as it is: markup, CR, and what XML cannot carry.
NEEDS_CARE = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", '"': "&quot;"})


class Unsendable(ValueError):
    """A value no XSD text can carry; the encoder names the field."""


def text(value: Any) -> str:
    """Any simple value as XSD text, strings escaped; `Unsendable` if it has none."""
    if isinstance(value, str):
        if NOT_XML.search(value):
            raise Unsendable(not_xml(value))
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return text(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise Unsendable("NaN and infinity cannot be sent")
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        as_text = _utc_text(value)
        if as_text is None:
            raise Unsendable("this datetime cannot be expressed in UTC")
        return as_text
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    # worded as `validate` words it for the JSON API
    raise Unsendable(f"expected data both transports can carry, got {type(value).__name__}")


# ---- the fast converters: exact type -> text, or None where the careful `text` must decide ------


def _plain_str(value: str) -> str | None:
    return value if NEEDS_CARE.search(value) is None else None


def _finite_float(value: float) -> str | None:
    return repr(value) if math.isfinite(value) else None


def _finite_decimal(value: Decimal) -> str | None:
    return str(value) if value.is_finite() else None


def _utc_text(value: datetime) -> str | None:
    try:
        return server_datetime(value)
    except OverflowError:  # an aware datetime with no UTC equivalent: `text` says so
        return None


FAST_TEXT: dict[type, Any] = {
    str: _plain_str,
    int: str,
    float: _finite_float,
    bool: lambda v: "true" if v else "false",
    Decimal: _finite_decimal,
    date: date.isoformat,
    time: time.isoformat,
    datetime: _utc_text,
    bytes: lambda v: base64.b64encode(v).decode("ascii"),
}

UNKNOWN = object()  # not yet in FAST_TEXT: ask `learn`


def learn(kind: type) -> Any:
    """Enums write their value; other types (None, lists, structs) take the careful path."""
    convert = None
    if issubclass(kind, Enum):
        for base in kind.__mro__:
            inner = FAST_TEXT.get(base)
            if inner is not None and inner is not UNKNOWN:
                convert = _enum_text(inner)
                break
    FAST_TEXT[kind] = convert
    return convert


def _enum_text(inner: Any) -> Any:
    return lambda member: inner(member._value_)


# ---- XSD types and Python types ------------------------------------------------------------------

PY_OF_XSD: dict[str, type] = {
    **{f"{{{XSD}}}{n}": str for n in ("string", "anyURI", "QName", "duration", "token")},
    **{
        f"{{{XSD}}}{n}": int
        for n in (
            "int",
            "long",
            "integer",
            "short",
            "byte",
            "unsignedInt",
            "unsignedLong",
            "unsignedShort",
            "unsignedByte",
            "nonNegativeInteger",
            "positiveInteger",
            "negativeInteger",
            "nonPositiveInteger",
        )
    },
    **{f"{{{XSD}}}{n}": float for n in ("float", "double")},
    f"{{{XSD}}}boolean": bool,
    f"{{{XSD}}}date": date,
    f"{{{XSD}}}dateTime": datetime,
    f"{{{XSD}}}time": time,
    f"{{{XSD}}}decimal": Decimal,
    f"{{{XSD}}}base64Binary": bytes,
}

_XSD_OF_PY: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (Enum, "string"),
    (int, "long"),
    (float, "double"),
    (Decimal, "decimal"),
    (datetime, "dateTime"),
    (date, "date"),
    (time, "time"),
    (bytes, "base64Binary"),
)


def xsd_type_of(value: Any) -> str:
    """The XSD type an untyped (`xsd:anyType`) value is sent as, as SOAP::Lite autotypes it."""
    for kind, name in _XSD_OF_PY:
        if isinstance(value, kind):
            return name
    return "string"
