"""SOAP 1.1 rpc/encoded, as PortaBilling's SOAP::Lite server accepts and sends it.

Encoding writes the envelope as text, walking each struct with the schema table the generator
emitted next to its types (`types/_xsd/`): every value gets the `xsi:type` its schema names (simple
types are sent as their XSD base, which is all SOAP::Lite understands), lists become SOAP-ENC
arrays or repeated elements as the schema says, `None` becomes `xsi:nil`, unset fields are left out.

Decoding trusts the document over the schema where they disagree, as SOAP::Lite replies demand:
parts are matched by position (accessors are `s-gensym3`), struct fields by name in any order,
`href`/`id` multi-refs are followed, a SOAP-ENC array may stand where the schema says repeated
element (and the reverse), and a repeated element seen once is still a list. The result is plain
data that one `msgspec.convert` call turns into the generated types, so XML text such as "5",
"true" or "2024-01-02 10:00:00" gets exactly the JSON transport's conversions.
"""

from __future__ import annotations

import base64
import importlib
import math
import operator
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec
from lxml import etree

from .errors import DecodeError, EncodeError, Fault
from .formats import server_datetime
from .operation import Operation
from .struct import UNSET, UnsetType
from .xmlparse import DEFAULT_LIMITS, XmlLimits, XmlRefused, parse

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

_XSI_TYPE = f"{{{XSI}}}type"
_XSI_NIL = f"{{{XSI}}}nil"
_ARRAY_TYPE = f"{{{SOAP_ENC}}}arrayType"
_ANY_TYPE = f"{{{XSD}}}anyType"
_FIXED_PREFIXES = {SOAP_ENV: "soap", SOAP_ENC: "soapenc", XSD: "xsd", XSI: "xsi"}

# Characters XML 1.0 cannot carry at all, even escaped: such a string cannot go over SOAP.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", '"': "&quot;"})

Spec = Any  # a Clark name "{ns}local", or ("[]", Spec) / ("*", Spec); see types/_xsd/


# ---- schema tables ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Fields:
    """One struct class as the SOAP transport sees it."""

    qname: str
    encode: tuple[tuple[str, str, Spec], ...]  # (attribute, wire name, spec) in schema order
    json_only: tuple[int, ...]  # positions of attributes that exist only in the JSON API
    decode: dict[str, tuple[str, Spec, Any]]  # wire name -> (wire, spec, decode plan)
    by_tag: dict[str, tuple[str, Spec, Any] | None]  # element tag as lxml gives it -> entry
    # (position in astuple, wire, spec, open tag, close tag, expected Python type, its converter)
    fast: tuple[tuple[int, str, Spec, str, str, type | None, Any], ...] = ()
    attrs: tuple[str, ...] = ()
    xsi_type: str = ""  # the struct's own `prefix:Name`
    qualified: dict[str, str] | None = None  # document/literal: wire name -> element namespace
    namespaces: frozenset[str] = frozenset()  # what the pre-rendered tags' prefixes stand for
    layouts: dict[tuple[type, ...], _Layout] = field(default_factory=dict)  # see _layout

    def lookup(self, tag: str) -> tuple[str, Spec, Any] | None:
        """A namespace-qualified (or unknown) tag, resolved once and remembered."""
        entry = self.decode.get(tag.rpartition("}")[2]) if isinstance(tag, str) else None
        if len(self.by_tag) < 4096:  # a hostile reply must not grow it without bound
            self.by_tag[tag] = entry
        return entry


_plans: dict[type, _Fields] = {}
_plans_lock = threading.Lock()


def _fields_of(cls: type) -> _Fields:
    plan = _plans.get(cls)
    if plan is None:
        with _plans_lock:
            plan = _plans.get(cls) or _build_fields(cls)
    return plan


def _build_fields(cls: type) -> _Fields:
    package, _, module = cls.__module__.rpartition(".")
    try:
        table = importlib.import_module(f"{package}._xsd.{module}").TYPES
        qname, specs, qualified = table[cls.__name__]
    except (ImportError, AttributeError, KeyError):
        raise EncodeError(
            f"{cls.__module__}.{cls.__name__} has no SOAP schema table; regenerate the bindings",
            operation="",
        ) from None
    attrs = dict(zip(cls.__struct_encode_fields__, cls.__struct_fields__, strict=True))  # type: ignore[attr-defined]
    plan = _Fields(qname, (), (), {}, {})
    plan.qualified = qualified
    _plans[cls] = plan  # before recursing: types may refer to themselves
    plan.encode = tuple((attrs[w], w, spec) for w, spec in specs.items() if w in attrs)
    order = {a: i for i, a in enumerate(cls.__struct_fields__)}  # type: ignore[attr-defined]
    plan.json_only = tuple(order[a] for w, a in attrs.items() if w not in specs)
    hints = {f.encode_name: f.type for f in msgspec.inspect.type_info(cls).fields}  # type: ignore[attr-defined]
    plan.decode = {w: (w, spec, _plan_of(hints[w])) for w, spec in specs.items() if w in hints}
    plan.by_tag = dict(plan.decode)
    fast = []
    namespaces = set()
    plan.attrs = tuple(cls.__struct_fields__)  # type: ignore[attr-defined]
    position = {a: i for i, a in enumerate(plan.attrs)}
    for attr, wire, spec in plan.encode:
        head = tail = ""
        expected: type | None = None
        if type(spec) is str and spec != _ANY_TYPE:
            prefixed, ns = _prefixed(spec)
            namespaces.add(ns)
            head, tail = f'<{wire} xsi:type="{prefixed}">', f"</{wire}>"
            expected = _PY_OF_XSD.get(spec)
        convert = _FAST_TEXT.get(expected) if expected is not None else None
        fast.append((position[attr], wire, spec, head, tail, expected, convert))
    plan.fast = tuple(fast)
    plan.xsi_type, own_ns = _prefixed(qname)
    namespaces.add(own_ns)
    plan.namespaces = frozenset(namespaces)
    return plan


def _plan_of(t: msgspec.inspect.Type) -> Any:
    """None for a scalar, a struct class, ("list", item plan), or "any" for untyped data."""
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        t = inner[0] if len(inner) == 1 else msgspec.inspect.AnyType()
    if isinstance(t, msgspec.inspect.StructType):
        return t.cls
    if isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.TupleType)):
        item = getattr(t, "item_type", msgspec.inspect.AnyType())
        return ("list", _plan_of(item))
    if isinstance(t, (msgspec.inspect.AnyType, msgspec.inspect.DictType)):
        return "any"
    return None


# ---- encoding -----------------------------------------------------------------------------------


# One prefix per namespace for the life of the process, so tags can be rendered once per field.
_PREFIXES: dict[str, str] = dict(_FIXED_PREFIXES)
_NAMES: dict[str, tuple[str, str]] = {}  # "{ns}local" -> ("prefix:local", ns)
_names_lock = threading.Lock()


def _prefixed(clark: str) -> tuple[str, str]:
    found = _NAMES.get(clark)
    if found is None:
        ns, _, local = clark[1:].partition("}")
        with _names_lock:
            prefix = _PREFIXES.get(ns)
            if prefix is None:
                prefix = _PREFIXES[ns] = f"ns{len(_PREFIXES) - len(_FIXED_PREFIXES) + 1}"
            found = _NAMES[clark] = (f"{prefix}:{local}", ns)
    return found


class _Writer:
    __slots__ = ("careful", "out", "strings", "used", "where")

    def __init__(self, where: str, careful: bool = False) -> None:
        self.out: list[str] = []
        self.used: set[str] = set()  # namespaces to declare on the envelope
        self.where = where
        # strings written unescaped, checked at once when the envelope is done; if one needs
        # escaping the envelope is written again with `careful` set, checking field by field
        self.strings: list[str] = []
        self.careful = careful

    def name(self, clark: str) -> str:
        """`{ns}local` as `prefix:local`, declaring the namespace on the envelope."""
        prefixed, ns = _prefixed(clark)
        self.used.add(ns)
        return prefixed

    def fail(self, path: str, message: str) -> EncodeError:
        return EncodeError(f"{path}: {message}", operation=self.where)


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
    if spec == _ANY_TYPE:
        _any(w, tag, value, path)
        return
    out.append(f'<{tag} xsi:type="{w.name(spec)}">{_text(w, value, path)}</{tag}>')


def _struct(w: _Writer, tag: str, value: msgspec.Struct, path: str) -> None:
    plan = _plans.get(type(value)) or _fields_of(type(value))
    values = msgspec.structs.astuple(value)
    if w.careful:
        _struct_careful(w, tag, values, plan, path)
        return
    kinds = tuple(map(type, values))
    layout = plan.layouts.get(kinds) or _layout(plan, kinds)
    args = None if layout is None else _slots(layout, values)
    if layout is None or args is None:  # too many type combinations seen, or a NaN
        _struct_careful(w, tag, values, plan, path)
        return
    w.strings += layout.strings(values)
    out = w.out
    out.append(f'<{tag} xsi:type="{plan.xsi_type}">')
    w.used.update(plan.namespaces)
    for markup, start, stop in layout.pieces:
        if markup is not None:
            out.append(markup % args[start:stop])
            continue
        _, wire, spec, *_rest = plan.fast[start]
        v = values[start]
        if type(v) is list and type(spec) is tuple and spec[0] == "[]":
            _array(w, wire, v, spec, f"{path}.{plan.attrs[start]}")
        else:
            _field(w, wire, v, spec, f"{path}.{plan.attrs[start]}")
    out.append(f"</{tag}>")


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
            _struct(w, "item", item, f"{path}[{i}]")
        else:
            _value(w, "item", item, item_spec, f"{path}[{i}]")
    w.out.append(f"</{tag}>")


@dataclass(frozen=True, slots=True)
class _Layout:
    """How a struct class renders for one combination of value types (most requests repeat a
    few). Simple fields become `%s` slots in pre-rendered markup that one C-level `%` fills;
    lists, nested structs and nil take the careful path in between, in schema order."""

    pick: Any  # values -> the values of all slots, in order
    strings: Any  # values -> the str values among them (see _Writer.strings)
    convert: tuple[tuple[int, Any], ...]  # slot -> text, where `%s` would misprint the value
    # (markup, first slot, end slot), or (None, field index, 0) for a careful-path field
    pieces: tuple[tuple[str | None, int, int], ...]


# `%s` prints these exactly as XSD wants them (str(date) is its ISO form); exact types only
_DIRECT = frozenset({str, int, Decimal, date, time})
_MAX_LAYOUTS = 64  # per class: odd inputs must not grow the cache without bound


def _layout(plan: _Fields, kinds: tuple[type, ...]) -> _Layout | None:
    if len(plan.layouts) >= _MAX_LAYOUTS or any(kinds[i] is not UnsetType for i in plan.json_only):
        return None  # the careful path refuses JSON-only fields by name
    slots: list[int] = []
    strings: list[int] = []
    convert: list[tuple[int, Any]] = []
    pieces: list[tuple[str | None, int, int]] = []
    markup: list[str] = []
    first = 0
    for index, _wire, _spec, head, tail, _expected, _convert in plan.fast:
        kind = kinds[index]
        if kind is UnsetType:
            continue
        text = None
        if head and kind not in _DIRECT:
            text = _FAST_TEXT.get(kind, _UNKNOWN)
            if text is _UNKNOWN:
                text = _learn(kind)
        if head and (kind in _DIRECT or text is not None):
            if kind is str:
                strings.append(index)
            elif text is not None:
                convert.append((len(slots), text))
            slots.append(index)
            markup.append(head.replace("%", "%%") + "%s" + tail.replace("%", "%%"))
            continue
        if markup:
            pieces.append(("".join(markup), first, len(slots)))
            markup, first = [], len(slots)
        pieces.append((None, index, 0))
    if markup:
        pieces.append(("".join(markup), first, len(slots)))
    layout = _Layout(_getter(slots), _getter(strings), tuple(convert), tuple(pieces))
    plan.layouts[kinds] = layout
    return layout


def _getter(indices: list[int]) -> Any:
    """A C-level `values -> tuple of values[i]`; itemgetter alone returns a bare item for one."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    if indices:
        return lambda values, i=indices[0]: (values[i],)
    return lambda values: ()


def _slots(layout: _Layout, values: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The slot values, as text where needed; None sends the struct down the careful path."""
    args = layout.pick(values)
    if layout.convert:
        texts = list(args)
        for slot, text in layout.convert:
            texts[slot] = text(texts[slot])
            if texts[slot] is None:
                return None
        args = tuple(texts)
    return args  # type: ignore[no-any-return]


def _struct_careful(
    w: _Writer, tag: str, values: tuple[Any, ...], plan: _Fields, path: str
) -> None:
    """Field by field: checks and escapes every value, names the field of any bad one."""
    for i in plan.json_only:
        if values[i] is not UNSET:
            raise w.fail(
                f"{path}.{plan.attrs[i]}",
                "this field exists only in the JSON API; use transport='json'",
            )
    out = w.out
    out.append(f'<{tag} xsi:type="{plan.xsi_type}">')
    w.used.update(plan.namespaces)
    fast_text = _FAST_TEXT
    careful = _CAREFUL.search
    for index, wire, spec, head, tail, expected, convert in plan.fast:
        v = values[index]
        if v is UNSET:
            continue
        if head:  # a simple-typed field: most values take one of these two paths
            if type(v) is expected:
                if isinstance(v, str):
                    if careful(v) is None:
                        out.append(head + v + tail)
                        continue
                else:
                    text = convert(v)
                    if text is not None:
                        out.append(head + text + tail)
                        continue
            else:
                convert = fast_text.get(type(v), _UNKNOWN)
                if convert is _UNKNOWN:
                    convert = _learn(type(v))
                if convert is not None:
                    text = convert(v)
                    if text is not None:
                        out.append(head + text + tail)
                        continue
        _field(w, wire, v, spec, f"{path}.{plan.attrs[index]}")
    out.append(f"</{tag}>")


# Text by exact type; anything else (None, lists, structs, odd values) takes the careful path.
_CAREFUL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _plain_str(value: str) -> str | None:
    return value if _CAREFUL.search(value) is None else None


def _finite_float(value: float) -> str | None:
    return repr(value) if math.isfinite(value) else None


_FAST_TEXT: dict[type, Any] = {
    str: _plain_str,
    int: str,
    float: _finite_float,
    bool: lambda v: "true" if v else "false",
    Decimal: str,
    date: date.isoformat,
    time: time.isoformat,
}


_UNKNOWN = object()
_PY_OF_XSD: dict[str, type] = {
    **{f"{{{XSD}}}{n}": str for n in ("string", "anyURI", "QName", "duration", "token")},
    **{
        f"{{{XSD}}}{n}": int
        for n in (
            "int",
            "long",
            "integer",
            "short",
            "byte",
            "unsignedInt",
            "unsignedLong",
            "unsignedShort",
            "unsignedByte",
            "nonNegativeInteger",
            "positiveInteger",
            "negativeInteger",
            "nonPositiveInteger",
        )
    },
    **{f"{{{XSD}}}{n}": float for n in ("float", "double")},
    f"{{{XSD}}}boolean": bool,
    f"{{{XSD}}}date": date,
    f"{{{XSD}}}dateTime": datetime,
    f"{{{XSD}}}time": time,
    f"{{{XSD}}}decimal": Decimal,
    f"{{{XSD}}}base64Binary": bytes,
}


def _learn(kind: type) -> Any:
    """Enums write their value; other types (None, lists, structs) take the careful path."""
    convert = None
    if issubclass(kind, Enum):
        for base in kind.__mro__:
            inner = _FAST_TEXT.get(base)
            if inner is not None and inner is not _UNKNOWN:
                convert = _enum_text(inner)
                break
    _FAST_TEXT[kind] = convert
    return convert


def _enum_text(inner: Any) -> Any:
    return lambda member: inner(member._value_)


def _any(w: _Writer, tag: str, value: Any, path: str) -> None:
    """`xsd:anyType`: the type follows the Python value, as SOAP::Lite's autotyping does."""
    if isinstance(value, dict):
        w.out.append(f"<{tag}>")
        for k, v in value.items():
            _any(w, str(k), v, f"{path}.{k}")
        w.out.append(f"</{tag}>")
    elif isinstance(value, (list, tuple)):
        _value(w, tag, value, ("[]", _ANY_TYPE), path)
    elif value is None:
        w.out.append(f'<{tag} xsi:nil="true"/>')
    else:
        out_type = _python_xsd(value)
        w.out.append(f'<{tag} xsi:type="xsd:{out_type}">{_text(w, value, path)}</{tag}>')


def _python_xsd(value: Any) -> str:
    for kind, name in _PY_XSD:
        if isinstance(value, kind):
            return name
    return "string"


_PY_XSD: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (Enum, "string"),
    (int, "long"),
    (float, "double"),
    (Decimal, "decimal"),
    (datetime, "dateTime"),
    (date, "date"),
    (time, "time"),
    (bytes, "base64Binary"),
)


def _declared_type(w: _Writer, spec: Spec) -> str:
    if type(spec) is tuple:
        return "soapenc:Array"
    return w.name(spec)


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
            item = _ANY_TYPE
        prefixed, ns = _prefixed(item)
        found = _ARRAY_TYPES[spec] = (prefixed + ranks, ns)
    w.used.add(found[1])
    return f"{found[0]}[{n}]"


_ARRAY_TYPES: dict[Spec, tuple[str, str]] = {}  # array spec -> (`prefix:Item[]...`, namespace)


def _text(w: _Writer, value: Any, path: str) -> str:
    if isinstance(value, str):
        if _NOT_XML.search(value):
            raise w.fail(path, "contains characters XML 1.0 cannot carry (control characters)")
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _text(w, value.value, path)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return repr(value)
    if isinstance(value, datetime):
        return server_datetime(value)
    if isinstance(value, (date, time, Decimal)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    raise w.fail(path, f"cannot send a {type(value).__name__} value")


_FAST_TEXT[datetime] = server_datetime
_FAST_TEXT[bytes] = lambda v: base64.b64encode(v).decode("ascii")


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
        method, method_ns = _prefixed(f"{{{op.namespace}}}{op.name}")
        header, header_type = op.auth_header
        tag, _ = _prefixed(f"{{{op.namespace}}}{header}")
        used = {method_ns}
        type_attr = ""
        if header_type:
            prefixed, ns = _prefixed(header_type)
            type_attr = f' xsi:type="{prefixed}"'
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
        names = (*_FIXED_PREFIXES, *sorted(key[0] - set(_FIXED_PREFIXES) - {""}))
        declarations = " ".join(f'xmlns:{_PREFIXES[ns]}="{ns}"' for ns in names)
        style = f' soap:encodingStyle="{SOAP_ENC}"' if encoded else ""
        head = _declarations[key] = (
            f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope {declarations}{style}>'
        )
    return head


def _literal(w: _Writer, tag: str, value: msgspec.Struct, path: str) -> None:
    """document/literal: elements as the schema declares them, no xsi:type, no SOAP-ENC."""
    plan = _fields_of(type(value))
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
                out.append(f"<{name}>{_text(w, item, where)}</{name}>")
    out.append(f"</{tag}>")


def _literal_body(w: _Writer, op: Operation[Any, Any], request: Any) -> None:
    if request is None:
        return
    if not op.body_element:
        raise w.fail(type(request).__name__, "the WSDL gives no body element for this operation")
    _literal(w, w.name(op.body_element), request, type(request).__name__)


def encode_envelope(op: Operation[Any, Any], request: Any, auth_info: dict[str, str]) -> bytes:
    """The request envelope for `op`; `auth_info` goes in the header when the operation has one."""
    envelope, w = _encode(op, request, auth_info, careful=False)
    if w.strings and _CAREFUL.search("".join(w.strings)) is not None:
        envelope, w = _encode(op, request, auth_info, careful=True)
    return envelope


def _encode(
    op: Operation[Any, Any], request: Any, auth_info: dict[str, str], careful: bool
) -> tuple[bytes, _Writer]:
    w = _Writer(op.qualified_name, careful)
    frame = _frame(op)
    out = w.out
    if op.soap_style == "document/literal":
        out.append("<soap:Body>")
        _literal_body(w, op, request)
        out.append("</soap:Body></soap:Envelope>")
        return (_envelope_open(w.used, encoded=False) + "".join(out)).encode("utf-8"), w
    w.used.update(frame.namespaces)
    if op.auth and auth_info:
        out.append(frame.header_open)
        for key, val in auth_info.items():
            out.append(f'<{key} xsi:type="xsd:string">{_text(w, val, key)}</{key}>')
        out.append(frame.header_close)
    out.append(frame.method_open)
    if request is not None:
        if op.request_wrapped:
            plan = _fields_of(type(request))
            for attr, wire, spec in plan.encode:
                v = getattr(request, attr)
                if v is not UNSET:
                    _field(w, wire, v, spec, attr)
        else:
            part = op.parts[0] if op.parts else "request"
            _struct(w, part, request, type(request).__name__)
    out.append(frame.method_close)
    return (_envelope_open(w.used) + "".join(out)).encode("utf-8"), w


# ---- decoding -----------------------------------------------------------------------------------
#
# The walk is the hot path of every SOAP call: per leaf element it reads the tag, the text and the
# child count, and nothing else. Attributes matter only on elements without text (xsi:nil, href),
# and base64-typed strings are found once per document by an XPath query run in C.

_BASE64_XPATH = etree.XPath("//*[contains(@xsi:type, 'base64')]", namespaces={"xsi": XSI})


class _Doc:
    """Per-reply decoding state: `href="#id"` targets (indexed on first use), MIME attachments,
    and the elements SOAP::Lite typed as base64."""

    __slots__ = ("attachments", "base64", "body", "index", "streamed", "used")

    def __init__(
        self,
        body: etree._Element | None,
        attachments: dict[str, tuple[bytes, str | None, str]] | None = None,
        scan_base64: bool = True,
    ) -> None:
        self.body = body
        self.index: dict[str, etree._Element] | None = None
        self.attachments = attachments or {}
        self.used: set[str] = set()
        self.streamed: dict[Any, list[Any]] = {}  # arrays decoded while parsing (large replies)
        self.base64: set[Any] = set()
        if scan_base64 and body is not None:  # most replies have none; the query costs a walk
            found = _BASE64_XPATH(body)
            self.base64 = set(found) if isinstance(found, list) else set()

    def attachment(self, href: str) -> bytes:
        """`href="cid:..."`: a MIME part of a SOAP-with-Attachments reply."""
        cid = href[4:]
        found = self.attachments.get(cid)
        if found is None:
            raise ValueError(f"href {href!r} names no attachment")
        self.used.add(cid)
        return found[0]

    def resolve(self, href: str) -> etree._Element:
        if self.index is None:
            self.index = {}
            for e in self.body.iter(etree.Element) if self.body is not None else ():
                ref_id = e.get("id")
                if ref_id is not None:
                    self.index[ref_id] = e
        for _ in range(64):
            target = self.index.get(href.removeprefix("#"))
            if target is None:
                raise ValueError(f"href {href!r} points to no element")
            href = target.get("href") or ""
            if not href:
                return target
        raise ValueError("href chain does not end")


def _is_array(el: etree._Element) -> bool:
    if _ARRAY_TYPE in el.attrib:
        return True
    xsi_type = el.get(_XSI_TYPE)
    return xsi_type is not None and xsi_type.rpartition(":")[2] == "Array"


def _is_array_here(el: etree._Element, spec: Spec, item_plan: Any) -> bool:
    """A list field's element: the whole array, or one occurrence of a repeated element?

    SOAP-ENC markers decide when present. Without them the schema's word is taken, unless the
    element plainly is one item (a struct item whose fields it holds, a scalar with no children):
    servers send arrays both ways whatever the schema says.
    """
    if _is_array(el):
        return True
    if not (type(spec) is tuple and spec[0] == "[]"):
        return False
    if isinstance(item_plan, type):
        known = _fields_of(item_plan).decode
        first = next(el.iterchildren(etree.Element), None)
        return first is None or etree.QName(first).localname not in known
    return (item_plan is None and len(el) > 0) or type(item_plan) is tuple


def _empty(el: etree._Element, spec: Spec, plan: Any, doc: _Doc, blank: Any = "") -> Any:
    """An element without text: nil, a reference, `blank` (an empty string, list or struct), or
    a struct where a scalar belongs (which `msgspec.convert` then reports)."""
    href = el.get("href")
    if href is not None:
        if href.startswith("cid:"):
            return doc.attachment(href)
        return _decode(doc.resolve(href), spec, plan, doc)
    nil = el.get(_XSI_NIL)
    if nil == "true" or nil == "1":
        return None
    if len(el):
        return _generic(el, doc)
    return blank


def _scalar(el: etree._Element, spec: Spec, doc: _Doc) -> Any:
    text = el.text
    if text is None:
        return _empty(el, spec, None, doc)
    if doc.base64 and el in doc.base64 and not _is_base64(spec):
        return _base64_text(text)
    return text


def _decode(el: etree._Element, spec: Spec, plan: Any, doc: _Doc) -> Any:
    if plan is None:
        return _scalar(el, spec, doc)
    if doc.streamed:
        items = doc.streamed.get(el)
        if items is not None:
            return items
    if el.text is None and not len(el):
        return _empty(el, spec, plan, doc, [] if type(plan) is tuple else {})
    href = el.get("href")
    if href is not None:
        return _empty(el, spec, plan, doc)
    if type(plan) is tuple:  # a list
        item_spec = spec[1] if type(spec) is tuple else spec
        if _is_array_here(el, spec, plan[1]):
            return _array_items(el, item_spec, plan[1], doc)
        return [_decode(el, item_spec, plan[1], doc)]
    if plan == "any":
        return _generic(el, doc)
    return _struct_data(el, _fields_of(plan), doc)


def _is_base64(xsd_type: Any) -> bool:
    return isinstance(xsd_type, str) and xsd_type.endswith(("base64Binary", "base64"))


def _base64_text(text: str) -> str:
    """SOAP::Lite sends any non-ASCII string as `xsd:base64Binary`; the schema says string."""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"base64Binary value is not UTF-8 text: {text[:40]!r}") from None


def _struct_data(el: etree._Element, fields: _Fields, doc: _Doc) -> dict[str, Any]:
    data: dict[str, Any] = {}
    by_tag = fields.by_tag
    base64 = doc.base64
    for child in el:
        entry = by_tag.get(child.tag)
        if entry is None:
            entry = fields.lookup(child.tag)
            if entry is None:
                continue  # a field these bindings do not know: newer server, ignored
        wire, spec, plan = entry
        if plan is None:  # scalars: most of every reply
            text = child.text
            data[wire] = _scalar(child, spec, doc) if text is None or base64 else text
        elif type(plan) is tuple:
            item_spec = spec[1] if type(spec) is tuple else spec
            if _is_array_here(child, spec, plan[1]):
                data[wire] = _whole_array(child, spec, plan, item_spec, doc)
                continue
            value = _decode(child, item_spec, plan[1], doc)  # one occurrence of a repeated element
            existing = data.get(wire)
            if type(existing) is list:
                existing.append(value)
            else:
                data[wire] = [value]
        else:
            data[wire] = _decode(child, spec, plan, doc)
    return data


def _whole_array(el: etree._Element, spec: Spec, plan: Any, item_spec: Spec, doc: _Doc) -> Any:
    """A list field's element already known to hold the whole list (see `_is_array_here`)."""
    if doc.streamed:
        items = doc.streamed.get(el)
        if items is not None:
            return items
    if not len(el):
        return _empty(el, spec, plan, doc, [])  # nil, a reference, or an empty array
    return _array_items(el, item_spec, plan[1], doc)


def _array_items(el: etree._Element, item_spec: Spec, item_plan: Any, doc: _Doc) -> list[Any]:
    if isinstance(item_plan, type):  # the common case, lists of structs: skip the dispatch
        fields = _fields_of(item_plan)
        items = [
            (
                _struct_data(c, fields, doc)
                if c.text is not None or len(c)
                else _decode(c, item_spec, item_plan, doc)
            )
            for c in el
        ]
    else:
        items = [c.text for c in el] if item_plan is None and not doc.base64 else [None]
        if None in items:  # not all plain text: nil, references, base64, nested items
            items = [_decode(c, item_spec, item_plan, doc) for c in el]
    array_type = el.get(_ARRAY_TYPE)
    if array_type and "," in array_type:  # `T[2,3]`: rows of a rectangular array, sent flat
        shape = _array_shape(array_type)
        if shape:
            return _reshape(items, shape)
    return items


def _array_shape(array_type: str | None) -> list[int] | None:
    if not array_type or not array_type.endswith("]"):
        return None
    dims = array_type[array_type.rfind("[") + 1 : -1]
    if "," not in dims:
        return None
    try:
        return [int(d) for d in dims.split(",")]
    except ValueError:
        return None


def _reshape(items: list[Any], shape: list[int]) -> list[Any]:
    if len(shape) == 1:
        return items
    step = math.prod(shape[1:])
    return [_reshape(items[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _generic(el: etree._Element, doc: _Doc) -> Any:
    """Untyped data (`xsd:anyType`, SOAPStruct): arrays as lists, structs as dicts."""
    href = el.get("href")
    if href is not None:
        el = doc.resolve(href) if not href.startswith("cid:") else el
        if href.startswith("cid:"):
            return doc.attachment(href)
    nil = el.get(_XSI_NIL)
    if nil == "true" or nil == "1":
        return None
    if _is_array(el):
        return _array_items(el, _ANY_TYPE, "any", doc)
    if not len(el):
        if _is_base64(el.get(_XSI_TYPE)):
            raw = base64.b64decode(el.text or "")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw
        return el.text or ""
    data: dict[str, Any] = {}
    for child in el:
        tag = etree.QName(child).localname
        value = _generic(child, doc)
        if tag in data:
            existing = data[tag]
            data[tag] = [*existing, value] if type(existing) is list else [existing, value]
        else:
            data[tag] = value
    return data


# ---- large replies -------------------------------------------------------------------------------
#
# A full lxml tree costs libxml2 some 250 bytes per element, several times the text of a
# SOAP::Lite field. Above STREAM_ABOVE bytes the reply is parsed incrementally instead: each item
# of a SOAP-ENC array of structs is decoded the moment its end tag is read, then dropped from the
# tree, so memory follows the decoded data rather than the document. What remains of the tree is
# decoded as usual, with those arrays already filled in. Replies with multi-refs or base64 values
# (which need the whole document) take the ordinary path.

STREAM_ABOVE = 8 * 1024 * 1024


def _parse_streaming(
    op: Operation[Any, Any], content: bytes, limits: XmlLimits
) -> tuple[etree._Element, dict[Any, list[Any]]]:
    import io

    from .xmlparse import check_size_and_doctype

    check_size_and_doctype(content, limits)
    # SOAP-ENC array items are `<item>` (SOAP::Lite, and most servers); only their end tags
    # reach Python, so the parse itself stays in C
    events = etree.iterparse(
        io.BytesIO(content),
        events=("end",),
        tag="{*}item",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=limits.huge_text,
        remove_comments=True,
        remove_pis=True,
    )
    doc = _Doc(None, scan_base64=False)  # no multi-refs, no base64: the ordinary path takes those
    arrays: dict[Any, tuple[type | None, list[Any]]] = {}
    try:
        for _, el in events:
            parent = el.getparent()
            if parent is None:
                continue
            found = arrays.get(parent)
            if found is None:
                outer = parent.getparent()
                if outer is not None and outer.tag.rpartition("}")[2] == "item":
                    continue  # an array inside an array item: decoded with that item
                found = arrays[parent] = (_streamable_item(op, parent), [])
            item_class, items = found
            if item_class is None:
                continue
            # typed at once, so only one item's plain data is alive at a time
            items.append(
                msgspec.convert(
                    _struct_data(el, _fields_of(item_class), doc), item_class, strict=False
                )
            )
            el.clear()
            parent.remove(el)
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"malformed XML: {exc}") from None
    streamed = {array: items for array, (cls, items) in arrays.items() if cls is not None}
    return events.root, streamed


def _streamable_item(op: Operation[Any, Any], array: etree._Element) -> type | None:
    """The struct class of `array`'s items if it is a marked SOAP-ENC array of structs reached
    through struct fields only (not inside another array's item, which is decoded whole)."""
    if op.response is None or not _is_array(array) or "," in (array.get(_ARRAY_TYPE) or ""):
        return None
    path = [array, *array.iterancestors()]  # array ... part, response, Body, Envelope
    if len(path) < 5:
        return None
    response, part = path[-3], path[-4]
    position = list(response).index(part)
    if op.response_wrapped:
        entries = list(_fields_of(op.response).decode.values())
        if position >= len(entries):
            return None
        plan: Any = entries[position][2]
    elif position == 0:
        plan = op.response
    else:
        return None
    for el in reversed(path[:-4]):  # from the part's first child down to the array
        if not isinstance(plan, type):
            return None
        entry = _fields_of(plan).lookup(el.tag)
        if entry is None:
            return None
        plan = entry[2]
    if type(plan) is tuple and isinstance(plan[1], type):
        return plan[1]
    return None


def decode_envelope(
    op: Operation[Any, Any],
    content: bytes,
    limits: XmlLimits = DEFAULT_LIMITS,
    attachments: dict[str, tuple[bytes, str | None, str]] | None = None,
) -> Any:
    """The typed response of `op` from a SOAP reply, or the `Fault` it carries."""
    where = op.qualified_name
    streamed: dict[Any, list[Any]] = {}
    try:
        if len(content) > STREAM_ABOVE and b'href="' not in content and b"base64" not in content:
            root, streamed = _parse_streaming(op, content, limits)
        else:
            root = parse(content, limits)
    except XmlRefused as exc:
        raise DecodeError(str(exc), operation=where, excerpt=_excerpt(content)) from None
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        raise DecodeError(
            f"reply does not match {op.response.__name__ if op.response else 'None'}: {exc}",
            operation=where,
            excerpt=_excerpt(content),
        ) from None
    body = _body(root, where, content)
    first = next(body.iterchildren(etree.Element), None)
    if first is None:
        raise DecodeError("the SOAP Body is empty", operation=where, excerpt=_excerpt(content))
    if etree.QName(first).localname == "Fault" and etree.QName(first).namespace in (
        SOAP_ENV,
        SOAP12_ENV,
    ):
        raise _fault(first, where)
    if op.response is None:
        return None
    parts = list(first.iterchildren(etree.Element))
    try:
        doc = _Doc(body, attachments, scan_base64=b"base64" in content)
        doc.streamed = streamed
        if op.soap_style == "document/literal":
            data: Any = _decode(first, None, op.response, doc)  # the part's element itself
        elif op.response_wrapped:
            fields = _fields_of(op.response)
            data = {}
            for (wire, spec, plan), part in zip(fields.decode.values(), parts, strict=False):
                data[wire] = _decode(part, spec, plan, doc)
        elif parts:
            data = _decode(parts[0], None, op.response, doc)
        else:
            data = {}
        unused = [a for cid, a in doc.attachments.items() if cid not in doc.used]
        if unused:
            from .files import add_unreferenced

            data = add_unreferenced(op, data, unused[0])
        return msgspec.convert(data, op.response, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        raise DecodeError(
            f"reply does not match {op.response.__name__}: {exc}",
            operation=where,
            status=200,
            excerpt=_excerpt(content),
        ) from None


def _body(root: etree._Element, where: str, content: bytes) -> etree._Element:
    ns = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or ns not in (SOAP_ENV, SOAP12_ENV):
        raise DecodeError(
            "the reply is not a SOAP envelope", operation=where, excerpt=_excerpt(content)
        )
    body = root.find(f"{{{ns}}}Body")
    if body is None:
        raise DecodeError(
            "the SOAP envelope has no Body", operation=where, excerpt=_excerpt(content)
        )
    return body


def _fault(el: etree._Element, where: str) -> Fault:
    """A SOAP 1.1 (or 1.2) fault with PortaBilling's dotted code, the envelope prefix dropped."""
    from .errors import fault_class

    ns = etree.QName(el).namespace
    if ns == SOAP12_ENV:
        code = el.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        text = el.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        detail_el = el.find(f"{{{ns}}}Detail")
    else:
        code = el.findtext("faultcode") or el.findtext(f"{{{ns}}}faultcode") or ""
        text = el.findtext("faultstring") or el.findtext(f"{{{ns}}}faultstring") or ""
        detail_el = el.find("detail")
    code = code.strip()
    if ":" in code:
        code = code.split(":", 1)[1]
    detail = _generic(detail_el, _Doc(el)) if detail_el is not None else None
    return fault_class(code)(code, text.strip(), operation=where, detail=detail)


def _excerpt(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")
