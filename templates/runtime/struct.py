"""Base classes for generated types.

Unset and null are different on the wire: an unset field is not sent at all, `None` is sent as
`xsi:nil` / JSON `null` (which, for example, resets `credit_limit` to unlimited).
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["UNSET", "OpenIntEnum", "OpenStrEnum", "Struct", "UnsetType"]


class Struct(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """Keyword-only; unknown wire fields are ignored so newer servers do not break decoding."""


class OpenStrEnum(enum.StrEnum):
    """A string enum that keeps values it does not know (the server may be newer); "0"/"1" for
    a 'Y'/'N' enum is not a new value but a flag written the other way, so it is refused here."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if value in ("0", "1") and {"Y", "N"} <= cls._value2member_map_.keys():
            return None  # a 0/1 flag for a 'Y'/'N' one: converted (and recorded) by `tolerant`
        if isinstance(value, str):
            member = str.__new__(cls, value)
            member._name_ = value
            member._value_ = value
            return member
        return None


class OpenIntEnum(enum.IntEnum):
    """An integer enum that keeps values it does not know (the server may be newer)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"VALUE_{value}".replace("-", "MINUS_")
            member._value_ = value
            return member
        return None
