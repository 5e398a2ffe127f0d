"""Base classes of generated service stubs: build the request, hand it to the client, page lists.

Sync and async stubs share `build_request` and `CallOptions`; only the awaiting differs.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, Self, TypeVar

import msgspec

from .operation import Operation
from .struct import UNSET, UnsetType

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class CallOptions:
    """Per-call settings; `with_options()` returns a service bound to them."""

    __slots__ = ("retry", "strict", "timeout")

    def __init__(
        self,
        timeout: float | UnsetType | None = UNSET,
        retry: bool | None = None,
        strict: bool | None = None,
    ) -> None:
        self.timeout = timeout  # UNSET: the client's timeout
        self.retry = retry  # None: reads retry on connection errors, writes never
        self.strict = strict  # None: the client's choice; True refuses deviating replies

    def __repr__(self) -> str:
        return (
            f"CallOptions(timeout={self.timeout!r}, retry={self.retry!r}, "
            f"strict={self.strict!r})"
        )


DEFAULT_OPTIONS = CallOptions()


class Caller(Protocol):
    def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp: ...


class AsyncCaller(Protocol):
    async def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp: ...


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
    ) -> Self:
        """The same service with a per-call timeout, an explicit retry decision, or strict
        decoding (`DecodeError` on any deviation from the bindings) switched on or off."""
        return type(self)(self._caller, CallOptions(timeout=timeout, retry=retry, strict=strict))

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
    ) -> Self:
        """The same service with a per-call timeout, an explicit retry decision, or strict
        decoding (`DecodeError` on any deviation from the bindings) switched on or off."""
        return type(self)(self._caller, CallOptions(timeout=timeout, retry=retry, strict=strict))

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
