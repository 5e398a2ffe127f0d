"""Request encoding: an operation and its request struct as a SOAP 1.1 envelope, in bytes.

The envelope is written as text, walking each struct with its schema plan (`soap.plan`): every
value gets the `xsi:type` its schema names (simple types are sent as their XSD base, which is all
SOAP::Lite understands), lists become SOAP-ENC arrays or repeated elements as the schema says,
`None` becomes `xsi:nil`, unset fields are left out.

Most structs go out through the compiled render of a cached layout (`soap.layout`); what a
render declines takes the slower paths here, down to the careful one, which checks every value
and names the field of a bad one. All must write the same bytes (tests compare them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from ..errors import EncodeError
from ..operation import Operation
from ..struct import UNSET
from ..validate import check_kinds, check_list, check_request
from .layout import MAX_LAYOUTS as _MAX_LAYOUTS  # noqa: F401 (the tests read the cap here)
from .layout import Encoder, Layout, filled_slowly, make_layout
from .plan import (
    ANY_TYPE,
    FIXED_PREFIXES,
    PREFIXES,
    SOAP_ENC,
    EncodeField,
    Spec,
    StructPlan,
    plan_for,
    prefixed,
)
from .text import (
    FAST_TEXT,
    NEEDS_CARE,
    UNKNOWN,
    Unsendable,
    learn,
    text,
    xsd_type_of,
)

_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")  # a dict key written as an element name


class _Writer:
    __slots__ = ("careful", "out", "used", "where")

    def __init__(self, where: str, careful: bool = False) -> None:
        self.out: list[str] = []
        self.used: set[str] = set()  # namespaces to declare on the envelope
        self.where = where
        self.careful = careful  # every struct field by field, no layouts (the reference path)

    def name(self, clark: str) -> str:
        """`{ns}local` as `prefix:local`, declaring the namespace on the envelope."""
        name, ns = prefixed(clark)
        self.used.add(ns)
        return name

    def fail(self, path: str, message: str) -> EncodeError:
        return EncodeError(f"{path}: {message}", operation=self.where)

    def text(self, value: Any, path: str) -> str:
        try:
            return text(value)
        except Unsendable as exc:
            raise self.fail(path, str(exc)) from None


# ---- values -------------------------------------------------------------------------------------


def _field(w: _Writer, tag: str, value: Any, spec: Spec, path: str) -> None:
    if type(spec) is tuple and spec[0] == "*":
        if value is None:
            _value(w, tag, None, spec[1], path)
            return
        if not isinstance(value, (list, tuple)):
            raise w.fail(path, f"expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _value(w, tag, item, spec[1], f"{path}[{i}]")
        return
    _value(w, tag, value, spec, path)


def _value(w: _Writer, tag: str, value: Any, spec: Spec, path: str) -> None:
    out = w.out
    if value is None:
        out.append(f'<{tag} xsi:type="{_declared_type(w, spec)}" xsi:nil="true"/>')
        return
    if type(spec) is tuple:
        if not isinstance(value, (list, tuple)):
            raise w.fail(path, f"expected a list, got {type(value).__name__}")
        _array(w, tag, value, spec, path)
        return
    if isinstance(value, msgspec.Struct):
        _struct(w, tag, value, path)
        return
    if spec == ANY_TYPE:
        _any(w, tag, value, path)
        return
    out.append(f'<{tag} xsi:type="{w.name(spec)}">{w.text(value, path)}</{tag}>')


def _array(
    w: _Writer, tag: str, items: list[Any] | tuple[Any, ...], spec: Spec, path: str
) -> None:
    """A SOAP-ENC array; items that are structs skip the per-value dispatch."""
    w.out.append(
        f'<{tag} xsi:type="soapenc:Array" soapenc:arrayType="{_array_type(w, spec, len(items))}">'
    )
    item_spec = spec[1]
    for i, item in enumerate(items):
        if isinstance(item, msgspec.Struct):
            _struct(w, "item", item, path, i)
        else:
            _value(w, "item", item, item_spec, f"{path}[{i}]")
    w.out.append(f"</{tag}>")


def _any(w: _Writer, tag: str, value: Any, path: str) -> None:
    """`xsd:anyType`: the type follows the Python value, as SOAP::Lite's autotyping does."""
    if isinstance(value, dict):
        w.out.append(f"<{tag}>")
        for k, v in value.items():
            if not isinstance(k, str) or not _NCNAME.match(k):
                raise w.fail(path, f"key {k!r} cannot be an XML element name")
            _any(w, k, v, f"{path}.{k}")
        w.out.append(f"</{tag}>")
    elif isinstance(value, (list, tuple)):
        _value(w, tag, value, ("[]", ANY_TYPE), path)
    elif value is None:
        w.out.append(f'<{tag} xsi:nil="true"/>')
    else:
        w.out.append(f'<{tag} xsi:type="xsd:{xsd_type_of(value)}">{w.text(value, path)}</{tag}>')


def _declared_type(w: _Writer, spec: Spec) -> str:
    if type(spec) is tuple:
        return "soapenc:Array"
    return w.name(spec)


_ARRAY_TYPES: dict[Spec, tuple[str, str]] = {}  # array spec -> (`prefix:Item[]...`, namespace)


def _array_type(w: _Writer, spec: Spec, n: int) -> str:
    """SOAP-ENC arrayType: `xsd:int[3]`, and for arrays of arrays `xsd:int[][3]`."""
    found = _ARRAY_TYPES.get(spec)
    if found is None:
        ranks = ""
        item = spec[1]
        while type(item) is tuple and item[0] == "[]":
            ranks += "[]"
            item = item[1]
        if type(item) is tuple:  # repeated inside an array cannot occur in a schema; be generic
            item = ANY_TYPE
        name, ns = prefixed(item)
        found = _ARRAY_TYPES[spec] = (name + ranks, ns)
    w.used.add(found[1])
    return f"{found[0]}[{n}]"


# ---- structs ------------------------------------------------------------------------------------


def _struct(w: _Writer, tag: str, value: msgspec.Struct, path: str, index: int = -1) -> None:
    """`value` as `<tag>`; `index`: its position in the list at `path` (the path of an item is
    written only if needed: most structs need none)."""
    plan = plan_for(type(value))
    w.used.update(plan.namespaces)
    if w.careful:
        w.out.append(f'<{tag} xsi:type="{plan.xsi_type}">')
        _struct_careful(w, _astuple(value), plan, _at(path, index), type(value))
    else:
        encoder = plan.encoder or _Hooks.encoder(type(value))
        w.out += (f'<{tag} xsi:type="{plan.xsi_type}">', encoder(w, value, path, index))
    w.out.append(f"</{tag}>")  # apart: `_encode` inserts extra parameters before it


def _at(path: str, index: int) -> str:
    return f"{path}[{index}]" if index >= 0 else path


class _Hooks:
    """What the compiled layouts (`soap.layout`) call back into."""

    @staticmethod
    def encoder(cls: type) -> Encoder:
        """`cls`'s encoder: its cached layout's render, or the slow path, for the inside of a
        struct (the caller writes its tags and adds `plan.namespaces`)."""
        plan = plan_for(cls)
        if plan.encoder is not None:
            encoder: Encoder = plan.encoder
            return encoder
        find = plan.layouts.get

        def encode(w: _Writer, value: Any, path: str, index: int) -> str:
            values = _astuple(value)
            layout = find(tuple(map(type, values)))
            if layout is not None:
                rendered = layout.render(values, w, path, index)
                if rendered is not None:
                    return rendered  # type: ignore[no-any-return]
            return _slowly(w, values, layout, plan, cls, path, index)

        plan.encoder = encode
        return encode

    @staticmethod
    def piece(
        w: _Writer, plan: StructPlan, cls: type, i: int, values: tuple[Any, ...], path: str
    ) -> str:
        saved, w.out = w.out, []
        try:
            _write_field(w, plan, plan.fields[i], values, path, cls)
            return "".join(w.out)
        finally:
            w.out = saved

    @staticmethod
    def constant(wire: str, value: Any, spec: Spec) -> tuple[str, frozenset[str]]:
        w = _Writer("")
        _field(w, wire, value, spec, wire)
        return "".join(w.out), frozenset(w.used)

    @staticmethod
    def array_type(spec: Spec) -> tuple[str, str]:
        w = _Writer("")
        name = _array_type(w, spec, 0).removesuffix("[0]")
        return name, next(iter(w.used))


def _slowly(
    w: _Writer,
    values: tuple[Any, ...],
    layout: Layout | None,
    plan: StructPlan,
    cls: type,
    path: str,
    index: int,
) -> str:
    """The inside of a struct when its layout is new or declined to render: the kinds checked
    on a new layout, strings escaped where needed, other fields written one by one, and the
    careful path for what none of that can write (it names the field)."""
    saved, w.out = w.out, []
    try:
        if layout is None:  # a new combination of value types: checked against the declared ones
            check_kinds(cls, tuple(map(type, values)), values, _at(path, index), w.where)
            layout = make_layout(plan, cls, tuple(map(type, values)), _Hooks)
            if layout is not None:
                rendered = layout.render(values, w, path, index)
                if rendered is not None:
                    return rendered
        filled = None if layout is None else filled_slowly(layout, values)
        if layout is None or filled is None:
            _struct_careful(w, values, plan, _at(path, index), cls)
            return "".join(w.out)
        here = _at(path, index)
        done = 0
        for markup, start, _ in layout.pieces:
            if markup is not None:
                w.out.append(filled[done])
                done += 1
            else:
                _write_field(w, plan, plan.fields[start], values, here, cls)
        return "".join(w.out)
    finally:
        w.out = saved


def _write_field(
    w: _Writer, plan: StructPlan, field: EncodeField, values: tuple[Any, ...], path: str, cls: type
) -> None:
    """One field that is not a simple slot of its layout, checked as it is written."""
    v = values[field.position]
    where = f"{path}.{plan.attrs[field.position]}"
    if type(v) is list:
        check_list(cls, field.position, v, where, w.where)
        if type(field.spec) is tuple and field.spec[0] == "[]":
            _array(w, field.wire, v, field.spec, where)
            return
    _field(w, field.wire, v, field.spec, where)


_astuple = msgspec.structs.astuple


def _struct_careful(
    w: _Writer, values: tuple[Any, ...], plan: StructPlan, path: str, cls: type
) -> None:
    """The inside of a struct field by field: checks and escapes every value, names the field
    of any bad one (the reference the layouts must match)."""
    check_kinds(cls, tuple(map(type, values)), values, path, w.where)
    for i in plan.json_only:
        if values[i] is not UNSET:
            raise w.fail(
                f"{path}.{plan.attrs[i]}",
                "this field exists only in the JSON API; use transport='json'",
            )
    out = w.out
    fast_text = FAST_TEXT
    needs_care = NEEDS_CARE.search
    field: EncodeField
    for field in plan.fields:
        index, wire, spec, open_tag, close_tag, expected, convert = field
        v = values[index]
        if v is UNSET:
            continue
        if open_tag:  # a simple-typed field: most values take one of these two paths
            if type(v) is expected:
                if isinstance(v, str):
                    if needs_care(v) is None:
                        out.append(open_tag + v + close_tag)
                        continue
                else:
                    as_text = convert(v)
                    if as_text is not None:
                        out.append(open_tag + as_text + close_tag)
                        continue
            else:
                convert = fast_text.get(type(v), UNKNOWN)
                if convert is UNKNOWN:
                    convert = learn(type(v))
                if convert is not None:
                    as_text = convert(v)
                    if as_text is not None:
                        out.append(open_tag + as_text + close_tag)
                        continue
        where = f"{path}.{plan.attrs[index]}"
        if isinstance(v, list | tuple):
            check_list(cls, index, v, where, w.where)
        _field(w, wire, v, spec, where)


# ---- document/literal ---------------------------------------------------------------------------


def _literal(w: _Writer, tag: str, value: msgspec.Struct, path: str) -> None:
    """document/literal: elements as the schema declares them, no xsi:type, no SOAP-ENC."""
    plan = plan_for(type(value))
    qualified = plan.qualified or {}
    out = w.out
    out.append(f"<{tag}>")
    for attr, wire, spec in plan.encode:
        v = getattr(value, attr)
        if v is UNSET:
            continue
        ns = qualified.get(wire)
        name = w.name(f"{{{ns}}}{wire}") if ns else wire
        repeated = type(spec) is tuple
        for i, item in enumerate(v if repeated and isinstance(v, list) else [v]):
            where = f"{path}.{attr}" + (f"[{i}]" if repeated else "")
            if item is None:
                out.append(f'<{name} xsi:nil="true"/>')
            elif isinstance(item, msgspec.Struct):
                _literal(w, name, item, where)
            elif isinstance(item, datetime):  # ISO 8601 here: PortaBilling's format is its own
                out.append(f"<{name}>{item.isoformat()}</{name}>")
            else:
                out.append(f"<{name}>{w.text(item, where)}</{name}>")
    out.append(f"</{tag}>")


def _extra(w: _Writer, extra: dict[str, Any] | None) -> None:
    for name, value in (extra or {}).items():
        _any(w, name, value, name)


def _literal_body(w: _Writer, op: Operation[Any, Any], request: Any) -> None:
    if request is None:
        return
    if not op.body_element:
        raise w.fail(type(request).__name__, "the WSDL gives no body element for this operation")
    check_request(request, w.where)  # the literal walk is generic: the checks run first
    _literal(w, w.name(op.body_element), request, type(request).__name__)


# ---- the envelope -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    """The parts of an operation's envelope that never change, rendered once."""

    method_open: str
    method_close: str
    header_open: str
    header_close: str
    namespaces: frozenset[str]


_frames: dict[tuple[str, str, tuple[str, str]], _Frame] = {}
_declarations: dict[tuple[frozenset[str], bool], str] = {}


def _frame(op: Operation[Any, Any]) -> _Frame:
    key = (op.namespace, op.name, op.auth_header)  # by value: ids of unloaded modules recur
    frame = _frames.get(key)
    if frame is None:
        method, method_ns = prefixed(f"{{{op.namespace}}}{op.name}")
        header, header_type = op.auth_header
        tag, _ = prefixed(f"{{{op.namespace}}}{header}")
        used = {method_ns}
        type_attr = ""
        if header_type:
            name, ns = prefixed(header_type)
            type_attr = f' xsi:type="{name}"'
            used.add(ns)
        frame = _Frame(
            f"<soap:Body><{method}>",
            f"</{method}></soap:Body></soap:Envelope>",
            f"<soap:Header><{tag}{type_attr}>",
            f"</{tag}></soap:Header>",
            frozenset(used),
        )
        _frames[key] = frame
    return frame


def _envelope_open(used: set[str], encoded: bool = True) -> str:
    key = (frozenset(used), encoded)
    head = _declarations.get(key)
    if head is None:
        names = (*FIXED_PREFIXES, *sorted(key[0] - set(FIXED_PREFIXES) - {""}))
        declarations = " ".join(f'xmlns:{PREFIXES[ns]}="{ns}"' for ns in names)
        style = f' soap:encodingStyle="{SOAP_ENC}"' if encoded else ""
        head = _declarations[key] = (
            f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope {declarations}{style}>'
        )
    return head


def encode_envelope(
    op: Operation[Any, Any],
    request: Any,
    auth_info: dict[str, str],
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The request envelope for `op`; `auth_info` goes in the header when the operation has one.
    `extra` (checked by `service.check_extra`) adds undeclared parameters to the request struct,
    typed by their Python values as SOAP::Lite types its own."""
    return _encode(op, request, auth_info, careful=False, extra=extra)


def _encode(
    op: Operation[Any, Any],
    request: Any,
    auth_info: dict[str, str],
    careful: bool,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """`careful` writes every struct field by field: the reference the layouts must match."""
    w = _Writer(op.qualified_name, careful)
    frame = _frame(op)  # first, as it always was: prefixes are numbered in order of first use
    out = w.out
    if op.soap_style == "document/literal":
        if extra:
            raise w.fail(op.qualified_name, "extra parameters go over rpc/encoded SOAP or JSON")
        out.append("<soap:Body>")
        _literal_body(w, op, request)
        out.append("</soap:Body></soap:Envelope>")
        return (_envelope_open(w.used, encoded=False) + "".join(out)).encode("utf-8")
    w.used.update(frame.namespaces)
    if op.auth and auth_info:
        out.append(frame.header_open)
        for key, val in auth_info.items():
            out.append(f'<{key} xsi:type="xsd:string">{w.text(val, key)}</{key}>')
        out.append(frame.header_close)
    out.append(frame.method_open)
    if request is not None:
        if op.request_wrapped:
            cls = type(request)
            plan = plan_for(cls)
            values = msgspec.structs.astuple(request)
            check_kinds(cls, tuple(map(type, values)), values, cls.__name__, w.where)
            for attr, wire, spec in plan.encode:
                v = getattr(request, attr)
                if v is not UNSET:
                    where = f"{cls.__name__}.{attr}"
                    if isinstance(v, list | tuple):
                        check_list(cls, plan.position[attr], v, where, w.where)
                    _field(w, wire, v, spec, where)
            _extra(w, extra)  # further parts
        else:
            part = op.parts[0] if op.parts else "request"
            _struct(w, part, request, type(request).__name__)
            if extra:  # inside the request struct, before it closes
                close = out.pop()
                _extra(w, extra)
                out.append(close)
    out.append(frame.method_close)
    return (_envelope_open(w.used) + "".join(out)).encode("utf-8")
