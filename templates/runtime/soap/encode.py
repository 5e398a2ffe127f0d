"""Request encoding: an operation and its request struct as a SOAP 1.1 envelope, in bytes.

The envelope is written as text, walking each struct with its schema plan (`soap.plan`): every
value gets the `xsi:type` its schema names (simple types are sent as their XSD base, which is all
SOAP::Lite understands), lists become SOAP-ENC arrays or repeated elements as the schema says,
`None` becomes `xsi:nil`, unset fields are left out.

Most structs go out through a cached layout (see `_Layout`); values a layout cannot write take the
careful path, which checks every value and names the field of a bad one.

One job, one module (over 500 lines): the cached layouts and the careful path must write the very
same bytes for every value (a test compares them), so they are kept side by side.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import msgspec

from ..chars import NOT_XML
from ..errors import EncodeError
from ..operation import Operation
from ..struct import UNSET, UnsetType
from ..validate import check_kinds, check_list, check_request
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


@dataclass(frozen=True, slots=True)
class _Layout:
    """How a struct class renders for one combination of value types (most requests repeat a
    few). Simple fields become `%s` slots in pre-rendered markup that one C-level `%` fills;
    lists, nested structs and nil take the careful path in between, in schema order."""

    pick: Any  # values -> the values of all slots, in order
    strings: Any  # values -> the str values among them, checked together for markup
    string_slots: tuple[int, ...]  # the slots holding those strings
    convert: tuple[tuple[int, Any], ...]  # slot -> text, where `%s` would misprint the value
    # (markup, first slot, end slot), or (None, field, 0) for the careful path's `plan.fields[i]`
    pieces: tuple[tuple[str | None, int, int], ...]
    # values -> the simple pieces' markup, or None: strings to escape or a value to convert
    # that will not (`_filled_slowly` then decides); compiled per layout, see `_compile_fill`
    fill: Any
    whole: bool  # one piece of simple fields: the struct is its open tag, `fill`, its close tag


# `%s` prints these exactly as XSD wants them (str(date) is its ISO form); exact types only
_DIRECT = frozenset({str, int, date, time})  # Decimal is checked for NaN: FAST_TEXT
_MAX_LAYOUTS = 64  # per class: odd inputs must not grow the cache without bound


def _struct(w: _Writer, tag: str, value: msgspec.Struct, path: str, index: int = -1) -> None:
    """`value` as `<tag>`; `index`: its position in the list at `path` (the path of an item is
    written only if needed: most structs need none)."""
    plan = plan_for(type(value))
    values = _astuple(value)
    if w.careful:
        _struct_careful(w, tag, values, plan, _at(path, index), type(value))
        return
    kinds = tuple(map(type, values))
    layout = plan.layouts.get(kinds)
    if layout is None:  # a new combination of value types: checked against the declared ones
        check_kinds(type(value), kinds, values, _at(path, index), w.where)
        layout = _layout(plan, kinds)
    if layout is None:  # too many type combinations seen
        _struct_careful(w, tag, values, plan, _at(path, index), type(value))
        return
    rendered = layout.fill(values)
    if rendered is None:  # strings to escape, or a value only the careful path can name
        rendered = _filled_slowly(layout, values)
        if rendered is None:
            _struct_careful(w, tag, values, plan, _at(path, index), type(value))
            return
    if layout.whole:  # simple fields only: one piece (the close tag apart, as `_encode` wants)
        w.out += (f'<{tag} xsi:type="{plan.xsi_type}">{rendered[0]}', f"</{tag}>")
        w.used.update(plan.namespaces)
        return
    if index >= 0:
        path = f"{path}[{index}]"
    out = w.out
    out.append(f'<{tag} xsi:type="{plan.xsi_type}">')
    w.used.update(plan.namespaces)
    done = 0
    for markup, start, _ in layout.pieces:
        if markup is not None:
            out.append(rendered[done])
            done += 1
            continue
        field = plan.fields[start]
        v = values[field.position]
        where = f"{path}.{plan.attrs[field.position]}"
        if type(v) is list:
            check_list(type(value), field.position, v, where, w.where)
            if type(field.spec) is tuple and field.spec[0] == "[]":
                _array(w, field.wire, v, field.spec, where)
                continue
        _field(w, field.wire, v, field.spec, where)
    out.append(f"</{tag}>")


def _at(path: str, index: int) -> str:
    return f"{path}[{index}]" if index >= 0 else path


def _filled_slowly(layout: _Layout, values: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The simple pieces' markup when `layout.fill` declined: strings escaped where needed,
    or None when a value (a NaN, a string XML cannot carry) needs the careful path."""
    args = layout.pick(values)
    # the struct's strings checked at once; most hold no markup, and the `in` tests and
    # `isprintable` (all C) clear them faster than the regular expression would
    strings = layout.strings(values)
    escape = False
    if strings:
        joined = _join(strings)
        if (
            "&" in joined
            or "<" in joined
            or ">" in joined
            or '"' in joined
            or not joined.isprintable()
        ):
            escape = _needs_care(joined) is not None
    if layout.convert or escape:
        args = _texts(layout, args, escape)
        if args is None:
            return None
    return tuple(
        markup % args[start:stop] for markup, start, stop in layout.pieces if markup is not None
    )


def _layout(plan: StructPlan, kinds: tuple[type, ...]) -> _Layout | None:
    if len(plan.layouts) >= _MAX_LAYOUTS or any(kinds[i] is not UnsetType for i in plan.json_only):
        return None  # the careful path refuses JSON-only fields by name
    slots: list[int] = []
    strings: list[int] = []
    string_slots: list[int] = []
    convert: list[tuple[int, Any]] = []
    pieces: list[tuple[str | None, int, int]] = []
    markup: list[str] = []
    first = 0
    for i, field in enumerate(plan.fields):
        kind = kinds[field.position]
        if kind is UnsetType:
            continue
        as_text = None
        if field.open_tag and kind not in _DIRECT:
            as_text = FAST_TEXT.get(kind, UNKNOWN)
            if as_text is UNKNOWN:
                as_text = learn(kind)
        if field.open_tag and (kind in _DIRECT or as_text is not None):
            if kind is str:
                strings.append(field.position)
                string_slots.append(len(slots))
            elif as_text is not None:
                convert.append((len(slots), as_text))
            slots.append(field.position)
            markup.append(
                field.open_tag.replace("%", "%%") + "%s" + field.close_tag.replace("%", "%%")
            )
            continue
        if markup:
            pieces.append(("".join(markup), first, len(slots)))
            markup, first = [], len(slots)
        pieces.append((None, i, 0))
    if markup:
        pieces.append(("".join(markup), first, len(slots)))
    layout = _Layout(
        _getter(slots),
        _getter(strings),
        tuple(string_slots),
        tuple(convert),
        tuple(pieces),
        _compile_fill(slots, string_slots, convert, pieces),
        len(pieces) == 1 and pieces[0][0] is not None,
    )
    plan.layouts[kinds] = layout
    return layout


def _getter(indices: list[int]) -> Any:
    """A C-level `values -> tuple of values[i]`; itemgetter alone returns a bare item for one."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    if indices:
        return lambda values, i=indices[0]: (values[i],)
    return lambda values: ()


_join = "".join
_needs_care = NEEDS_CARE.search
_astuple = msgspec.structs.astuple


def _compile_fill(
    slots: list[int],
    string_slots: list[int],
    convert: list[tuple[int, Any]],
    pieces: list[tuple[str | None, int, int]],
) -> Any:
    """`values -> (markup of each simple piece, ...)` as straight-line Python: the slots taken
    in C, the strings checked together, each conversion inlined, the markup joined from its
    constant parts and the texts (`str` of an int, date or time is what `%s` prints); None
    where a string needs escaping or a conversion declines (the slow path then decides)."""
    env: dict[str, Any] = {"pick": _getter(slots), "join": _join, "isfinite": math.isfinite}
    names = [f"a{i}" for i in range(len(slots))]
    lines = ["def fill(values):"]
    if slots:
        lines.append(f"    {', '.join(names)}, = pick(values)")
    if string_slots:
        joined = f"join(({', '.join(names[i] for i in string_slots)},))"
        lines += [
            f"    s = {joined if len(string_slots) > 1 else names[string_slots[0]]}",
            "    if '&' in s or '<' in s or '>' in s or '\"' in s or not s.isprintable():",
            "        return None",
        ]
    for slot, as_text in convert:
        env[f"convert{slot}"] = as_text
        n = names[slot]
        if as_text is FAST_TEXT[bool]:
            lines.append(f"    {n} = 'true' if {n} else 'false'")
            continue
        if as_text is FAST_TEXT[float]:
            line = f"    {n} = repr({n}) if isfinite({n}) else None"
        elif as_text is FAST_TEXT[datetime]:  # `server_datetime`'s usual case, inlined
            line = f"    {n} = {n}.isoformat(' ') if {n}.tzinfo is None and not {n}.microsecond else convert{slot}({n})"
        else:
            line = f"    {n} = convert{slot}({n})"
        lines += [line, f"    if {n} is None:", "        return None"]
    texts = [n if slot in string_slots else f"str({n})" for slot, n in enumerate(names)]
    for slot, _ in convert:
        texts[slot] = names[slot]
    rendered = []
    for markup, start, stop in pieces:
        if markup is None:
            continue
        if "%%" in markup:  # a literal `%` in a tag (no XML name has one): formatted as is
            env[f"markup{start}"] = markup
            rendered.append(f"markup{start} % ({''.join(n + ', ' for n in names[start:stop])})")
            continue
        constants = markup.split("%s")  # around each slot: the markup of the tags between
        items = [f"part{start}_0"]
        env[f"part{start}_0"] = constants[0]
        for k, constant in enumerate(constants[1:], 1):
            env[f"part{start}_{k}"] = constant
            items += [texts[start + k - 1], f"part{start}_{k}"]
        rendered.append(f"join(({''.join(i + ', ' for i in items)}))")
    lines.append(f"    return ({''.join(r + ', ' for r in rendered)})")
    exec("\n".join(lines), env)  # names and numbers only: the values stay in `env`
    return env["fill"]


def _texts(layout: _Layout, args: tuple[Any, ...], escape: bool) -> tuple[Any, ...] | None:
    """The slot values as text where `%s` would misprint them, and the strings that need it
    escaped (only those); None sends the struct down the careful path."""
    texts = list(args)
    for slot, as_text in layout.convert:
        texts[slot] = as_text(texts[slot])
        if texts[slot] is None:
            return None
    if escape:
        for slot in layout.string_slots:
            s = texts[slot]
            if NEEDS_CARE.search(s) is not None:
                if NOT_XML.search(s) is not None:
                    return None  # the careful path names the field, in schema order
                texts[slot] = text(s)
    return tuple(texts)


def _struct_careful(
    w: _Writer, tag: str, values: tuple[Any, ...], plan: StructPlan, path: str, cls: type
) -> None:
    """Field by field: checks and escapes every value, names the field of any bad one."""
    check_kinds(cls, tuple(map(type, values)), values, path, w.where)
    for i in plan.json_only:
        if values[i] is not UNSET:
            raise w.fail(
                f"{path}.{plan.attrs[i]}",
                "this field exists only in the JSON API; use transport='json'",
            )
    out = w.out
    out.append(f'<{tag} xsi:type="{plan.xsi_type}">')
    w.used.update(plan.namespaces)
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
    out.append(f"</{tag}>")


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
