"""The JSON API's wire format: `params` as JSON, datetimes as the server writes them.

msgspec encodes and decodes straight into the generated structs; the only help it needs is for
datetimes, which PortaBilling writes as `YYYY-MM-DD HH:MM:SS` (UTC) rather than RFC 3339.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import msgspec

from .errors import DecodeError, TransportError, fault_class
from .operation import Operation
from .soap import server_datetime

_encoder = msgspec.json.Encoder(decimal_format="number")  # amounts as JSON numbers


def encode_params(request: Any) -> bytes:
    """`params` for `request`: unset fields left out, `None` sent as null, `{}` for no request."""
    if request is None:
        return b"{}"
    if not _has_datetime(type(request)):
        return _encoder.encode(request)
    data = msgspec.to_builtins(request, builtin_types=(datetime,))
    return _encoder.encode(_fix_datetimes(data))


def encode_auth(auth: dict[str, str]) -> str:
    return json.dumps(auth, separators=(",", ":"))


def _fix_datetimes(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fix_datetimes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix_datetimes(v) for v in data]
    if isinstance(data, datetime):
        return server_datetime(data)
    return data


def _has_datetime(cls: type) -> bool:
    found = _datetime_types.get(cls)
    if found is None:
        found = _datetime_types[cls] = _scan_datetime(cls)
    return found


_datetime_types: dict[type, bool] = {}
_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def _scan_datetime(cls: type) -> bool:
    """Whether a struct can hold a datetime anywhere; most cannot and take the fast path."""
    seen: set[type] = set()
    stack: list[Any] = [msgspec.inspect.type_info(cls)]
    while stack:
        t = stack.pop()
        if isinstance(t, msgspec.inspect.DateTimeType | msgspec.inspect.AnyType):
            return True
        if isinstance(t, msgspec.inspect.StructType):
            if t.cls in seen:
                continue
            seen.add(t.cls)
            stack.extend(f.type for f in t.fields)
        elif isinstance(t, msgspec.inspect.UnionType):
            stack.extend(t.types)
        elif isinstance(t, msgspec.inspect.ListType | msgspec.inspect.TupleType):
            stack.append(getattr(t, "item_type", msgspec.inspect.AnyType()))
        elif isinstance(t, msgspec.inspect.DictType):
            stack.extend((t.key_type, t.value_type))
    return False


def _decoder(cls: type) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls, strict=False)
    return decoder


def decode_reply(op: Operation[Any, Any], response: httpx.Response) -> Any:
    """HTTP 200 with the result, HTTP 500 with `{faultcode, faultstring}`, anything else an error."""
    where = op.qualified_name
    body = response.content
    if response.status_code == 500:
        fault = _fault(body)
        if fault is not None:
            code, text = fault
            raise fault_class(code)(code, text, operation=where)
    if response.status_code != 200:
        raise TransportError(
            "unexpected HTTP status",
            operation=where,
            status=response.status_code,
            excerpt=_excerpt(body),
        )
    if op.response is None:
        return None
    try:
        return _decoder(op.response).decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(
            f"reply does not match {op.response.__name__}: {exc}",
            operation=where,
            status=200,
            excerpt=_excerpt(body),
        ) from None


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
