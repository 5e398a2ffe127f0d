"""Base classes for generated types.

Unset and null are different on the wire: an unset field is not sent at all, `None` is sent as
`xsi:nil` / JSON `null` (which, for example, resets `credit_limit` to unlimited).

Reprs mask secrets: fields whose names say they hold one (see `redact.is_secret_name`: password,
token, session_id, pin, ...) show as `'***'` in `repr()`, `str()` and rich's pretty printer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .redact import MASK, is_secret_name

__all__ = ["UNSET", "OpenIntEnum", "OpenStrEnum", "Struct", "UnsetType"]


class Struct(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """Keyword-only; unknown wire fields are ignored so newer servers do not break decoding."""

    def __repr__(self) -> str:
        secret = _secret_fields(type(self))
        if not secret:
            return msgspec.Struct.__repr__(self)
        shown = ", ".join(f"{name}={value!r}" for name, value in _shown(self, secret))
        return f"{type(self).__name__}({shown})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return list(_shown(self, _secret_fields(type(self))))


class _Masked:
    """Stands for a secret value in reprs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


_MASKED = _Masked()
_secrets: dict[type, frozenset[str]] = {}


def _secret_fields(cls: type) -> frozenset[str]:
    """Attributes of `cls` that hold secrets, by their Python or wire name."""
    found = _secrets.get(cls)
    if found is None:
        names = zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True)  # type: ignore[attr-defined]
        found = _secrets[cls] = frozenset(
            attr for attr, wire in names if is_secret_name(attr) or is_secret_name(wire)
        )
    return found


def _shown(value: msgspec.Struct, secret: frozenset[str]) -> Iterator[tuple[str, Any]]:
    """(field, value) as the repr shows them: defaults left out, secrets masked."""
    defaults = _defaults(type(value))
    for name, v in zip(value.__struct_fields__, msgspec.structs.astuple(value), strict=True):
        default = defaults.get(name, _NO_DEFAULT)
        if default is not _NO_DEFAULT and (v is default or v == default):
            continue
        yield name, _MASKED if name in secret and _plain(v) else v


def _plain(value: Any) -> bool:
    """A value a mask stands for: not None, not a struct (or list of them), whose repr masks."""
    if value is None or isinstance(value, msgspec.Struct):
        return False
    if isinstance(value, list | tuple) and value:
        return not all(isinstance(v, msgspec.Struct) for v in value)
    return True


_NO_DEFAULT = object()
_defaults_of: dict[type, dict[str, Any]] = {}


def _defaults(cls: type) -> dict[str, Any]:
    found = _defaults_of.get(cls)
    if found is None:
        fields = cls.__struct_fields__  # type: ignore[attr-defined]
        values = cls.__struct_defaults__  # type: ignore[attr-defined]
        found = _defaults_of[cls] = dict(
            zip(fields[len(fields) - len(values) :], values, strict=True)
        )
    return found


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
