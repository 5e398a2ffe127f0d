"""The JSON API's request side: `params` as JSON, datetimes as the server writes them.

msgspec encodes straight from the generated structs; the only help it needs is for datetimes,
which PortaBilling writes as `YYYY-MM-DD HH:MM:SS` (UTC) rather than RFC 3339.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from ..errors import EncodeError
from ..formats import server_datetime, server_datetimes
from ..struct import UNSET
from ..validate import check_request, check_types, suspect_json

_encoder = msgspec.json.Encoder(decimal_format="number")  # amounts as JSON numbers


def encode_params(request: Any, operation: str = "", extra: dict[str, Any] | None = None) -> bytes:
    """`params` for `request`: unset fields left out, `None` sent as null, `{}` for no request;
    `extra` (checked by `service.check_extra`) adds undeclared parameters beside the others.

    The request is checked first (see `validate`): a value that does not match its declared
    type raises `EncodeError` naming `operation` and the field, and nothing is sent."""
    if request is not None:
        check_types(request, operation)
    try:
        if request is None:
            params = b"{}"
        else:
            view = _server_view(request) if _may_hold_datetimes(request) else request
            params = _encoder.encode(view)
        if extra:
            params = _encoder.encode({**msgspec.json.decode(params), **_fix_datetimes(extra)})
    except (msgspec.EncodeError, OverflowError, TypeError, ValueError) as exc:
        error = EncodeError(f"cannot be sent as JSON: {exc}", operation=operation)
    else:
        if suspect_json(params):
            check_request(request, operation)  # raises, naming the field, unless a false hit
        return params
    # outside the handler: nothing of the request chained to it
    check_request(request, operation)  # a lone surrogate, say: the error names its field
    raise error


def encode_auth(auth: dict[str, str]) -> str:
    return json.dumps(auth, separators=(",", ":"))


# msgspec writes datetimes as RFC 3339; PortaBilling wants `YYYY-MM-DD HH:MM:SS`. Before encoding,
# the datetime fields of a request become strings in a shallow copy (msgspec encodes a struct
# field by its value, not its annotation), following a per-class plan of where datetimes can be.
# Structs without any datetime set (most requests) are encoded as they are.
class _Plan:
    __slots__ = ("datetimes", "others", "paths", "pick", "probe")

    def __init__(
        self,
        datetimes: tuple[str, ...],
        others: tuple[tuple[str, str], ...],
        paths: tuple[str, ...] = (),
    ) -> None:
        self.datetimes = datetimes  # attributes typed datetime
        # their values at once, always as a tuple
        self.pick: Callable[[Any], tuple[Any, ...]] | None = (
            None
            if not datetimes
            else (
                operator.attrgetter(*datetimes)
                if len(datetimes) > 1
                else lambda v, attr=datetimes[0]: (getattr(v, attr),)
            )
        )
        self.others = others  # (attribute, "nested" | "list" | "any"): where more can hide
        # every place below where a datetime can be, as dotted paths read at once in C: when all
        # are unset the struct is sent as it is, without walking it
        self.paths = paths
        self.probe = operator.attrgetter(*paths) if len(paths) > 1 else None


_plans: dict[type, _Plan | None] = {}
_NOT_SET = frozenset({type(UNSET), type(None)})
_PLANNING = _Plan((), ())  # marks a class whose plan is being made (or not yet made)
_MAX_PATHS = 64


def _may_hold_datetimes(request: Any) -> bool:
    """False when the probe finds nothing set where a datetime could be (most requests)."""
    plan = _plan_of(type(request))
    if plan is None:
        return False
    if plan.probe is None:
        return True
    try:
        found = plan.probe(request)
    except AttributeError:  # a struct on the way is unset or None: walk instead
        return True
    return any(found)  # UNSET, None, [] and {} are all false; a datetime never is


def _plan_of(cls: type) -> _Plan | None:
    plan = _plans.get(cls, _PLANNING)
    return _plan(cls) if plan is _PLANNING else plan


def _server_view(value: Any) -> Any:
    plan = _plan_of(type(value))
    if plan is None:
        return value
    changes: dict[str, Any] = {}
    if plan.pick is not None:
        found = plan.pick(value)
        kinds = set(map(type, found))
        if kinds == {datetime}:  # all set: formatted together, all in C but one call
            changes = dict(zip(plan.datetimes, server_datetimes(found), strict=True))
        elif not kinds <= _NOT_SET:  # some set, or a subclass: one by one
            for attr, v in zip(plan.datetimes, found, strict=True):
                if isinstance(v, datetime):
                    changes[attr] = server_datetime(v)
    for attr, kind in plan.others:
        v = getattr(value, attr)
        if v is UNSET or v is None:
            continue
        if kind == "nested":
            new = _server_view(v)
        elif kind == "list":
            new = [
                _server_view(x) if isinstance(x, msgspec.Struct) else _fix_datetimes(x) for x in v
            ]
            if all(map(operator.is_, new, v)):
                continue
        else:
            new = _fix_datetimes(msgspec.to_builtins(v, builtin_types=(datetime,)))
        if new is not v:
            changes[attr] = new
    return msgspec.structs.replace(value, **changes) if changes else value


def _fix_datetimes(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fix_datetimes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix_datetimes(v) for v in data]
    if isinstance(data, datetime):
        return server_datetime(data)
    return data


def _plan(cls: type) -> _Plan | None:
    mi = msgspec.inspect
    info = mi.type_info(cls)
    _plans[cls] = _PLANNING
    datetimes: list[str] = []
    others: list[tuple[str, str]] = []
    paths: list[str] = []
    for f in info.fields if isinstance(info, mi.StructType) else ():
        kind = _kind(f.type)
        if kind == "datetime":
            datetimes.append(f.name)
        elif kind is not None:
            others.append((f.name, kind))
        if kind is not None:
            paths.extend(_paths(f.name, kind, f.type))
    plan = None
    if datetimes or others:
        # too many paths: no probe here, and a parent probes the field holding this class itself
        plan = _Plan(
            tuple(datetimes), tuple(others), tuple(paths) if len(paths) <= _MAX_PATHS else ()
        )
    _plans[cls] = plan
    return plan


def _paths(attr: str, kind: str, t: Any) -> list[str]:
    """Where a field's datetimes are: itself, or the paths of the one struct type it holds."""
    mi = msgspec.inspect
    if kind != "nested":
        return [attr]
    classes = [x.cls for x in getattr(t, "types", (t,)) if isinstance(x, mi.StructType)]
    nested = _plans.get(classes[0]) if len(classes) == 1 else _PLANNING
    if nested is None or nested is _PLANNING or not nested.paths:
        return [attr]  # several struct types, or one that contains itself
    return [f"{attr}.{p}" for p in nested.paths]


def _kind(t: Any) -> str | None:
    """Where a datetime can hide in a field of type `t`."""
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        kinds = {_kind(x) for x in t.types} - {None}
        return kinds.pop() if len(kinds) == 1 else ("any" if kinds else None)
    if isinstance(t, mi.DateTimeType):
        return "datetime"
    if isinstance(t, mi.StructType):
        if t.cls in _plans:
            plan = _plans[t.cls]
            if plan is _PLANNING:
                return "nested"  # a type that contains itself: decided at run time
        else:
            plan = _plan(t.cls)
        return "nested" if plan is not None else None
    if isinstance(t, mi.ListType | mi.TupleType):
        return "list" if _kind(getattr(t, "item_type", mi.AnyType())) else None
    if isinstance(t, mi.AnyType | mi.DictType):
        return "any"
    return None
