"""Base classes of generated service stubs: build the request, hand it to the client, page lists.

Sync and async stubs share `request_struct` and `CallOptions`; only the awaiting differs. Each
stub method has one signature at run time (`request` or `**fields`); `fields_of` and `paged` tell
type checkers the two forms it accepts, so the request's fields are written once, in its struct.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, ParamSpec, Protocol, Self, TypeVar, cast, overload

import msgspec

from ..deviations import INCOMPLETE, Deviation, logger
from ..errors import DecodeError
from ..operation import Operation
from ..struct import UNSET, UnsetType
from .options import DEFAULT_OPTIONS, CallOptions

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Fields = ParamSpec("Fields")
ReqIn = TypeVar("ReqIn", contravariant=True)
Out = TypeVar("Out", covariant=True)


class Stub(Protocol[ReqIn, Fields, Out]):
    """A stub method as type checkers see it: the request struct alone, or its fields as keywords
    (`Fields`: the struct's own keyword-only constructor, so a misspelt or mistyped field or a
    missing required one is an error at the call site). Both together are refused at run time."""

    @overload
    def __call__(self, request: ReqIn, /) -> Out: ...

    @overload
    def __call__(self, *args: Fields.args, **kwargs: Fields.kwargs) -> Out: ...


class PagedStub(Protocol[ReqIn, Fields, Out]):
    """An `iter_*` method as type checkers see it: the request struct and `page_size`, or the
    keywords of the operation's `Iter...Keywords` TypedDict (`page_size` and every field but
    `limit`, which paging sets)."""

    @overload
    def __call__(self, request: ReqIn, /, *, page_size: int = 100) -> Out: ...

    @overload
    def __call__(self, *args: Fields.args, **kwargs: Fields.kwargs) -> Out: ...


def _unchanged(method: Any) -> Any:
    return method


def fields_of(
    request: Callable[Fields, Req],
) -> Callable[[Callable[..., Resp]], Stub[Req, Fields, Resp]]:
    """Decorates a stub method that takes `request` or its fields; the method stays as it is."""
    return cast("Callable[[Callable[..., Resp]], Stub[Req, Fields, Resp]]", _unchanged)


def paged(
    request: type[Req], keywords: Callable[Fields, object]
) -> Callable[[Callable[..., Resp]], PagedStub[Req, Fields, Resp]]:
    """Decorates an `iter_*` method; the method stays as it is."""
    return cast("Callable[[Callable[..., Resp]], PagedStub[Req, Fields, Resp]]", _unchanged)


class Caller(Protocol):
    def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp: ...


class AsyncCaller(Protocol):
    async def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp: ...


def request_struct(
    op: Operation[Req, Any], request: Req | None, fields: Mapping[str, Any]
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


class _Pager:
    """The paging of one `iter_*` call, shared by the sync and async stubs.

    It refuses a `page_size` above the server's cap before anything is sent; stops when a page
    comes back short or the reported total is reached, and refuses to loop on a server that
    ignores `offset` (a page seen before) or sends more than the total it reports. Offset paging
    over a list that changes while it is read returns some records twice and skips others: a
    record already yielded (by its own id, `op.page_key`) is dropped, and at the end what was
    yielded is compared with the total (asked for with `get_total` where the method has it).
    """

    __slots__ = (
        "base",
        "dropped",
        "keys",
        "offset",
        "op",
        "seen",
        "size",
        "start",
        "totals",
        "yielded",
    )

    def __init__(
        self,
        op: Operation[Any, Any],
        request: Any,
        fields: Mapping[str, Any],
        size: int,
        cap: int = 1000,
    ) -> None:
        if type(size) is not int or size < 1:
            raise ValueError(
                f"{op.qualified_name}: page_size must be a positive integer, not {size!r}"
            )
        if size > cap:
            raise ValueError(
                f"{op.qualified_name}: page_size {size} is above the server's cap of {cap} "
                "records per request (PortaBilling refuses a larger `limit`); use at most "
                f"{cap}, or raise the client's max_page_size if this server allows more"
            )
        base = request_struct(op, request, fields)
        if base is None:
            raise TypeError(f"{op.service}.{op.name} takes no request; it cannot be paged")
        if getattr(base, "limit", UNSET) not in (UNSET, None):
            raise ValueError(
                f"{op.qualified_name}: iterating sets `limit` itself (to page_size); pass "
                "page_size, or call the get_* method for one page of `limit` items"
            )
        offset = getattr(base, "offset", UNSET)
        if offset is UNSET or offset is None:
            offset = 0
        if type(offset) is not int or offset < 0:
            raise ValueError(f"{op.qualified_name}: offset must be a non-negative integer")
        if getattr(base, "get_total", None) is UNSET:
            base = msgspec.structs.replace(base, get_total=1)  # to compare with at the end
        self.op, self.base, self.size = op, base, size
        self.start = self.offset = offset
        self.seen: set[bytes] = set()  # digests of the pages so far
        self.keys: set[Any] = set()  # the ids (or digests) of the records yielded
        self.totals: list[int] = []  # the totals the pages reported
        self.yielded = self.dropped = 0

    def request(self) -> Any:
        return msgspec.structs.replace(self.base, limit=self.size, offset=self.offset)

    def take(self, response: Any) -> tuple[list[Any], bool]:
        """The page's records not yielded before, and whether that was the last page."""
        items = getattr(response, self.op.page_field or "", None)
        items = list(items) if isinstance(items, list) else []
        if not items:
            return items, True
        digest = hashlib.blake2b(_ENCODER.encode(items), digest_size=16).digest()
        if digest in self.seen:
            raise DecodeError(
                f"the server sent the same page again at offset {self.offset} (it ignores "
                "offset); stopped instead of looping",
                operation=self.op.qualified_name,
            )
        self.seen.add(digest)
        self.offset += len(items)
        fresh = self._fresh(items)
        total = getattr(response, "total", None)
        if type(total) is int:
            self.totals.append(total)
            if self.offset > total and self.totals[0] == total:
                raise DecodeError(
                    f"the server sent {self.offset - self.start} items from offset "
                    f"{self.start} but reports a total of {total}; stopped",
                    operation=self.op.qualified_name,
                )
            if self.offset >= total:  # reached, or the list shrank while it was read
                return fresh, True
        return fresh, len(items) < self.size

    def _fresh(self, items: list[Any]) -> list[Any]:
        key = self.op.page_key
        fresh = []
        for item in items:
            ident = getattr(item, key, None) if key else None
            if ident is None or isinstance(ident, UnsetType):
                ident = hashlib.blake2b(_ENCODER.encode(item), digest_size=16).digest()
            if ident in self.keys:
                self.dropped += 1
                continue
            self.keys.add(ident)
            fresh.append(item)
        self.yielded += len(fresh)
        return fresh

    def finish(self, caller: Any, options: CallOptions) -> None:
        """At the end: a shortfall against the last total, or duplicates dropped, is a recorded
        deviation (WARNING under `portabilling`, in the client's `deviations`); strict mode
        raises `DecodeError` naming the counts instead."""
        expected = self.totals[-1] - self.start if self.totals else None
        short = expected - self.yielded if expected is not None else 0
        if short <= 0 and not self.dropped:
            return
        changed = ""
        if len(set(self.totals)) > 1:
            changed = (
                f"; the total changed from {self.totals[0]} to {self.totals[-1]} while it was read"
            )
        declared = f"{expected} records (total)" if expected is not None else "no duplicates"
        arrived = f"{self.yielded} records, {self.dropped} duplicates dropped"
        found = Deviation(
            self.op.qualified_name, self.op.page_field or "", declared, arrived, INCOMPLETE
        )
        text = (
            f"paging yielded {self.yielded} records of a total of {expected} (shortfall "
            f"{max(short, 0)}) and dropped {self.dropped} duplicates{changed}: the list changed "
            "while it was read (see README, Sessions at scale and lists you can trust)"
        )
        strict = options.strict if options.strict is not None else getattr(caller, "strict", False)
        if strict:
            raise DecodeError(text, operation=self.op.qualified_name)
        deviations = getattr(caller, "deviations", None)
        if deviations is not None:
            deviations.append(found)
        logger.warning("%s: %s", self.op.qualified_name, text)


_ENCODER = msgspec.msgpack.Encoder()


def _cap(caller: object) -> int:
    """The client's `max_page_size`: the server's cap on `limit`."""
    cap = getattr(caller, "max_page_size", 1000)
    return cap if type(cap) is int else 1000


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

    def _call(
        self, op: Operation[Req, Resp], request: Req | None, fields: Mapping[str, Any]
    ) -> Resp:
        if op.deprecated:
            _warn_deprecated(op)
        return self._caller.call(op, request_struct(op, request, fields), self._options)

    def _pages(
        self, op: Operation[Req, Any], request: Req | None, fields: Mapping[str, Any], size: int
    ) -> Iterator[Any]:
        if op.deprecated:
            _warn_deprecated(op)
        pager = _Pager(op, request, fields, size, _cap(self._caller))
        while True:
            items, last = pager.take(self._caller.call(op, pager.request(), self._options))
            yield from items
            if last:
                pager.finish(self._caller, self._options)
                return


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
        self, op: Operation[Req, Resp], request: Req | None, fields: Mapping[str, Any]
    ) -> Resp:
        if op.deprecated:
            _warn_deprecated(op)
        return await self._caller.call(op, request_struct(op, request, fields), self._options)

    async def _pages(
        self, op: Operation[Req, Any], request: Req | None, fields: Mapping[str, Any], size: int
    ) -> AsyncIterator[Any]:
        if op.deprecated:
            _warn_deprecated(op)
        pager = _Pager(op, request, fields, size, _cap(self._caller))
        while True:
            items, last = pager.take(await self._caller.call(op, pager.request(), self._options))
            for item in items:
                yield item
            if last:
                pager.finish(self._caller, self._options)
                return
