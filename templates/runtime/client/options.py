"""Per-call settings (`CallOptions`), and the check of parameters the bindings do not declare."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import Any

from ..errors import EncodeError
from ..operation import Operation
from ..struct import UNSET, UnsetType
from ..validate import check_untyped


class CallOptions:
    """Per-call settings; `with_options()` returns a service bound to them."""

    __slots__ = ("extra_params", "retry", "strict", "timeout")

    def __init__(
        self,
        timeout: float | UnsetType | None = UNSET,
        retry: bool | None = None,
        strict: bool | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        self.timeout = timeout  # UNSET: the client's timeout
        self.retry = retry  # None: reads retry on connection errors, writes never
        self.strict = strict  # None: the client's choice; True refuses deviating replies
        # parameters the bindings do not declare, sent as given (see `check_extra`)
        self.extra_params = extra_params

    def __repr__(self) -> str:
        extra = sorted(self.extra_params) if self.extra_params else None
        return (
            f"CallOptions(timeout={self.timeout!r}, retry={self.retry!r}, "
            f"strict={self.strict!r}, extra_params={extra!r})"
        )


DEFAULT_OPTIONS = CallOptions()


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_EXTRA_SCALARS = (str, int, float, Decimal, date, time, bool)


def check_extra(op: Operation[Any, Any], extra: dict[str, Any]) -> None:
    """Undeclared parameters must be plain names and values, and not a declared parameter."""
    declared = set(getattr(op.request, "__struct_encode_fields__", ()))
    for name, value in extra.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise EncodeError(
                f"extra parameter {name!r} is not a parameter name", operation=op.qualified_name
            )
        if name in declared:
            raise EncodeError(
                f"extra parameter {name!r} is declared: set it on the request instead",
                operation=op.qualified_name,
            )
        _check_value(op, value, name, 0)
        # the value checks of request fields too: over JSON a NaN would go out as `null`
        check_untyped(value, f"extra parameter {name}", op.qualified_name)


def _check_value(op: Operation[Any, Any], value: Any, path: str, depth: int) -> None:
    if depth > 16:
        raise EncodeError(
            f"extra parameter {path}: nested too deeply", operation=op.qualified_name
        )
    if value is None or isinstance(value, _EXTRA_SCALARS):
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(op, item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not _NAME.match(key):
                raise EncodeError(
                    f"extra parameter {path}: key {key!r} is not a name",
                    operation=op.qualified_name,
                )
            _check_value(op, item, f"{path}.{key}", depth + 1)
        return
    raise EncodeError(
        f"extra parameter {path}: cannot send a {type(value).__name__}",
        operation=op.qualified_name,
    )
