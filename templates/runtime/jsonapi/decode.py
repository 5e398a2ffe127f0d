"""The JSON API's reply side: the result (or the fault) of an HTTP reply, decoded by msgspec
straight into the generated structs, and repaired (see `tolerant`) when it does not fit.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .. import tolerant
from ..errors import DecodeError, TransportError, fault_class
from ..http_reply import Reply
from ..limits import DEFAULT_LIMITS, Limits, json_depth_exceeds
from ..operation import Operation

_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def _decoder(cls: type) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls, strict=False)
    return decoder


def decode_reply(
    op: Operation[Any, Any],
    response: Reply,
    limits: Limits = DEFAULT_LIMITS,
    strict: bool = False,
) -> tuple[Any, tolerant.DecodeReport | None]:
    """HTTP 200 with the result, `{faultcode, faultstring}` (HTTP 500, or 200 from servers that
    send faults that way) a `Fault`, anything else an error.

    A result that does not fit its types is repaired (see `tolerant`), or refused when `strict`.
    """
    where = op.qualified_name
    body = response.content
    status = response.status_code
    if len(body) > limits.max_bytes:
        raise DecodeError(
            f"the reply is larger than {limits.max_bytes} bytes (limit max_bytes)",
            operation=where,
            status=status,
        )
    if (
        op.response is not None
        and _unbounded(op.response)
        and json_depth_exceeds(body, limits.max_json_depth)
    ):
        raise DecodeError(
            f"the reply nests deeper than {limits.max_json_depth} levels (limit max_json_depth)",
            operation=where,
            status=status,
            excerpt=_excerpt(body),
        )
    if status == 500 or (status == 200 and b'"faultcode"' in body):
        fault = _fault(body)
        if fault is not None:
            code, text = fault
            raise fault_class(code)(code, text, operation=where)
    if status != 200:
        raise TransportError(
            "unexpected HTTP status", operation=where, status=status, excerpt=_excerpt(body)
        )
    if op.response is None:
        return None, None
    cls = op.response

    def fail(message: str) -> DecodeError:
        return DecodeError(message, operation=where, status=200, excerpt=_excerpt(body))

    def plain() -> Any:
        try:
            return msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            # (invalid UTF-8 is not a msgspec.DecodeError; RecursionError: nested past Python's
            # limit)
            raise fail(f"reply does not match {cls.__name__}: {exc}") from None

    result, report = tolerant.decode(
        where, cls, lambda: _decoder(cls).decode(body), plain, fail, strict=strict
    )
    return result, report


_UNBOUNDED: dict[type, bool] = {}


def _unbounded(cls: type) -> bool:
    """Whether decoding into `cls` can nest deeper than its schema: untyped fields (`Any`,
    dicts) or a type that contains itself. Other types bound the depth of what is built, and
    what they skip (unknown fields) msgspec passes over, stopping at Python's recursion limit
    (a DecodeError); so only these replies need the depth scan."""
    found = _UNBOUNDED.get(cls)
    if found is None:
        found = _UNBOUNDED[cls] = _open_or_recursive(msgspec.inspect.type_info(cls), set())
    return found


def _open_or_recursive(t: Any, path: set[type]) -> bool:
    mi = msgspec.inspect
    if isinstance(t, mi.AnyType | mi.DictType):
        return True
    if isinstance(t, mi.UnionType):
        return any(_open_or_recursive(x, path) for x in t.types)
    if isinstance(t, mi.ListType | mi.TupleType | mi.VarTupleType | mi.SetType):
        return _open_or_recursive(getattr(t, "item_type", mi.AnyType()), path)
    if isinstance(t, mi.StructType):
        if t.cls in path:
            return True
        inner = path | {t.cls}
        return any(_open_or_recursive(f.type, inner) for f in t.fields)
    return False


def _fault(body: bytes) -> tuple[str, str] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("faultcode"), str):
        return data["faultcode"], str(data.get("faultstring", ""))
    return None


def _excerpt(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")
