"""Base classes of generated service stubs: build the request, hand it to the client, page lists.

Sync and async stubs share `build_request` and `CallOptions`; only the awaiting differs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import date, time
from decimal import Decimal
from typing import Any, Protocol, Self, TypeVar

import msgspec

from .errors import EncodeError
from .operation import Operation
from .struct import UNSET, UnsetType

Req = TypeVar("Req")
Resp = TypeVar("Resp")


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


class Caller(Protocol):
    def call(self, op: Operation[Req, Resp], request: Req | None, options: CallOptions) -> Resp: ...


class AsyncCaller(Protocol):
    async def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp: ...


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


def _check_value(op: Operation[Any, Any], value: Any, path: str, depth: int) -> None:
    if depth > 16:
        raise EncodeError(f"extra parameter {path}: nested too deeply", operation=op.qualified_name)
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
        f"extra parameter {path}: cannot send a {type(value).__name__}", operation=op.qualified_name
    )


def build_request(
    op: Operation[Req, Any], request: Req | None, fields: dict[str, Any]
) -> Req | None:
    """The request struct from either a struct or keyword arguments (never both)."""
    if op.request is None:
        return None
    if request is not None:
        if fields:
            raise TypeError(
                f"{op.service}.{op.name}: pass a request struct or keyword arguments, not both"
            )
        if not isinstance(request, op.request):
            raise TypeError(
                f"{op.service}.{op.name}: expected {op.request.__name__}, "
                f"got {type(request).__name__}"
            )
        return request
    try:
        return op.request(**fields)
    except TypeError as exc:
        raise TypeError(f"{op.service}.{op.name}: {exc}") from None


def _warn_deprecated(op: Operation[Any, Any]) -> None:
    """Once per call of a deprecated operation, pointing at the caller's line."""
    # stack: caller -> generated method -> ServiceBase._call / _pages -> here
    warnings.warn(f"{op.qualified_name} is deprecated", DeprecationWarning, stacklevel=4)


def _page_request(
    op: Operation[Req, Any], request: Req | None, fields: dict[str, Any], size: int
) -> tuple[Req, int]:
    base = build_request(op, request, fields)
    if base is None:
        raise TypeError(f"{op.service}.{op.name} takes no request; it cannot be paged")
    offset = getattr(base, "offset", UNSET)
    return base, (offset if isinstance(offset, int) else 0)


def _items(op: Operation[Any, Any], response: Any) -> list[Any]:
    items = getattr(response, op.page_field or "", None)
    return list(items) if isinstance(items, list) else []


class ServiceBase:
    __slots__ = ("_caller", "_options")

    def __init__(self, caller: Caller, options: CallOptions = DEFAULT_OPTIONS) -> None:
        self._caller = caller
        self._options = options

    def with_options(
        self,
        *,
        timeout: float | UnsetType | None = UNSET,
        retry: bool | None = None,
        strict: bool | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> Self:
        """The same service with a per-call timeout, an explicit retry decision, strict
        decoding (`DecodeError` on any deviation from the bindings) switched on or off, or
        parameters the bindings do not declare (`extra_params={"with_customer_info": 1}`),
        sent over either transport beside the declared ones."""
        options = CallOptions(timeout, retry, strict, dict(extra_params) if extra_params else None)
        return type(self)(self._caller, options)

    def _call(self, op: Operation[Req, Resp], request: Req | None, fields: dict[str, Any]) -> Resp:
        if op.deprecated:
            _warn_deprecated(op)
        return self._caller.call(op, build_request(op, request, fields), self._options)

    def _pages(
        self, op: Operation[Req, Any], request: Req | None, fields: dict[str, Any], size: int
    ) -> Iterator[Any]:
        if op.deprecated:
            _warn_deprecated(op)
        base, offset = _page_request(op, request, fields, size)
        while True:
            page = msgspec.structs.replace(base, limit=size, offset=offset)  # type: ignore[type-var]
            items = _items(op, self._caller.call(op, page, self._options))
            yield from items
            if len(items) < size:
                return
            offset += len(items)


class AsyncServiceBase:
    __slots__ = ("_caller", "_options")

    def __init__(self, caller: AsyncCaller, options: CallOptions = DEFAULT_OPTIONS) -> None:
        self._caller = caller
        self._options = options

    def with_options(
        self,
        *,
        timeout: float | UnsetType | None = UNSET,
        retry: bool | None = None,
        strict: bool | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> Self:
        """The same service with a per-call timeout, an explicit retry decision, strict
        decoding (`DecodeError` on any deviation from the bindings) switched on or off, or
        parameters the bindings do not declare (`extra_params={"with_customer_info": 1}`),
        sent over either transport beside the declared ones."""
        options = CallOptions(timeout, retry, strict, dict(extra_params) if extra_params else None)
        return type(self)(self._caller, options)

    async def _call(
        self, op: Operation[Req, Resp], request: Req | None, fields: dict[str, Any]
    ) -> Resp:
        if op.deprecated:
            _warn_deprecated(op)
        return await self._caller.call(op, build_request(op, request, fields), self._options)

    async def _pages(
        self, op: Operation[Req, Any], request: Req | None, fields: dict[str, Any], size: int
    ) -> AsyncIterator[Any]:
        if op.deprecated:
            _warn_deprecated(op)
        base, offset = _page_request(op, request, fields, size)
        while True:
            page = msgspec.structs.replace(base, limit=size, offset=offset)  # type: ignore[type-var]
            items = _items(op, await self._caller.call(op, page, self._options))
            for item in items:
                yield item
            if len(items) < size:
                return
            offset += len(items)
