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
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec
from lxml import etree

from .errors import DecodeError, EncodeError, Fault
from .operation import Operation
from .struct import UNSET
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
    json_only: tuple[str, ...]  # attributes that exist only in the JSON API
    decode: dict[str, tuple[Spec, Any]]  # wire name -> (spec, decode plan of the field's type)


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
        qname, specs = table[cls.__name__]
    except (ImportError, AttributeError, KeyError):
        raise EncodeError(
            f"{cls.__module__}.{cls.__name__} has no SOAP schema table; regenerate the bindings",
            operation="",
        ) from None
    attrs = dict(zip(cls.__struct_encode_fields__, cls.__struct_fields__, strict=True))  # type: ignore[attr-defined]
    plan = _Fields(qname, (), (), {})
    _plans[cls] = plan  # before recursing: types may refer to themselves
    plan.encode = tuple((attrs[w], w, spec) for w, spec in specs.items() if w in attrs)
    plan.json_only = tuple(a for w, a in attrs.items() if w not in specs)
    hints = {f.encode_name: f.type for f in msgspec.inspect.type_info(cls).fields}  # type: ignore[attr-defined]
    plan.decode = {w: (spec, _plan_of(hints[w])) for w, spec in specs.items() if w in hints}
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


class _Writer:
    __slots__ = ("out", "prefixes", "where")

    def __init__(self, where: str) -> None:
        self.out: list[str] = []
        self.prefixes: dict[str, str] = dict(_FIXED_PREFIXES)
        self.where = where

    def name(self, clark: str) -> str:
        """`{ns}local` as `prefix:local`, declaring the namespace on the envelope."""
        ns, _, local = clark[1:].partition("}")
        prefix = self.prefixes.get(ns)
        if prefix is None:
            prefix = self.prefixes[ns] = f"ns{len(self.prefixes) - len(_FIXED_PREFIXES) + 1}"
        return f"{prefix}:{local}"

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
        out.append(
            f'<{tag} xsi:type="soapenc:Array" soapenc:arrayType="{_array_type(w, spec, len(value))}">'
        )
        item_spec = spec[1]
        for i, item in enumerate(value):
            _value(w, "item", item, item_spec, f"{path}[{i}]")
        out.append(f"</{tag}>")
        return
    if isinstance(value, msgspec.Struct):
        _struct(w, tag, value, path)
        return
    if spec == _ANY_TYPE:
        _any(w, tag, value, path)
        return
    out.append(f'<{tag} xsi:type="{w.name(spec)}">{_text(w, value, path)}</{tag}>')


def _struct(w: _Writer, tag: str, value: msgspec.Struct, path: str) -> None:
    plan = _fields_of(type(value))
    for attr in plan.json_only:
        if getattr(value, attr) is not UNSET:
            raise w.fail(
                f"{path}.{attr}", "this field exists only in the JSON API; use transport='json'"
            )
    w.out.append(f'<{tag} xsi:type="{w.name(plan.qname)}">')
    for attr, wire, spec in plan.encode:
        v = getattr(value, attr)
        if v is not UNSET:
            _field(w, wire, v, spec, f"{path}.{attr}")
    w.out.append(f"</{tag}>")


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
    ranks = ""
    item = spec[1]
    while type(item) is tuple and item[0] == "[]":
        ranks += "[]"
        item = item[1]
    if type(item) is tuple:  # repeated inside an array cannot occur in a schema; be generic
        item = _ANY_TYPE
    return f"{w.name(item)}{ranks}[{n}]"


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


def server_datetime(value: datetime) -> str:
    """PortaBilling's format on both transports: `YYYY-MM-DD HH:MM:SS`, UTC, no `T`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def encode_envelope(op: Operation[Any, Any], request: Any, auth_info: dict[str, str]) -> bytes:
    """The request envelope for `op`; `auth_info` goes in the header when the operation has one."""
    w = _Writer(op.qualified_name)
    out = w.out
    method = w.name(f"{{{op.namespace}}}{op.name}")
    if op.auth and auth_info:
        header, header_type = op.auth_header
        tag = w.name(f"{{{op.namespace}}}{header}")
        type_attr = f' xsi:type="{w.name(header_type)}"' if header_type else ""
        out.append(f"<soap:Header><{tag}{type_attr}>")
        for key, val in auth_info.items():
            out.append(f'<{key} xsi:type="xsd:string">{_text(w, val, key)}</{key}>')
        out.append(f"</{tag}></soap:Header>")
    out.append(f"<soap:Body><{method}>")
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
    out.append(f"</{method}></soap:Body></soap:Envelope>")
    declarations = " ".join(f'xmlns:{p}="{ns}"' for ns, p in w.prefixes.items())
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope {declarations} soap:encodingStyle="{SOAP_ENC}">'
    )
    return (head + "".join(out)).encode("utf-8")


# ---- decoding -----------------------------------------------------------------------------------


class _Refs:
    """`href="#id"` targets, indexed on first use (most replies have none)."""

    __slots__ = ("attachments", "body", "index", "used")

    def __init__(
        self,
        body: etree._Element,
        attachments: dict[str, tuple[bytes, str | None, str]] | None = None,
    ) -> None:
        self.body = body
        self.index: dict[str, etree._Element] | None = None
        self.attachments = attachments or {}
        self.used: set[str] = set()

    def attachment(self, href: str) -> bytes:
        """`href="cid:..."`: a MIME part of a SOAP-with-Attachments reply."""
        cid = href[4:]
        found = self.attachments.get(cid)
        if found is None:
            raise ValueError(f"href {href!r} names no attachment")
        self.used.add(cid)
        return found[0]

    def resolve(self, el: etree._Element, href: str) -> etree._Element:
        if self.index is None:
            self.index = {}
            for e in self.body.iter(etree.Element):
                ref_id = e.get("id")
                if ref_id is not None:
                    self.index[ref_id] = e
        seen = 0
        while href:
            target = self.index.get(href.removeprefix("#"))
            if target is None:
                raise ValueError(f"href {href!r} points to no element")
            el = target
            href = el.get("href") or ""
            seen += 1
            if seen > 64:
                raise ValueError("href chain does not end")
        return el


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


def _decode(el: etree._Element, spec: Spec, plan: Any, refs: _Refs) -> Any:
    attrib = el.attrib
    if attrib:
        href = attrib.get("href")
        if href is not None:
            if href.startswith("cid:"):
                return refs.attachment(href)
            el = refs.resolve(el, href)
            attrib = el.attrib
        nil = attrib.get(_XSI_NIL)
        if nil == "true" or nil == "1":
            return None
    if plan is None:
        if len(el):
            return _generic(el, refs)  # a struct where a scalar belongs: convert will say so
        text = el.text or ""
        if attrib and _is_base64(attrib.get(_XSI_TYPE)) and not _is_base64(spec):
            return _base64_text(text)
        return text
    if type(plan) is tuple:  # a list
        item_spec = spec[1] if type(spec) is tuple else spec
        if _is_array_here(el, spec, plan[1]):
            return _array_items(el, item_spec, plan[1], refs)
        return [_decode(el, item_spec, plan[1], refs)]
    if plan == "any":
        return _generic(el, refs)
    return _struct_data(el, _fields_of(plan), refs)


def _is_base64(xsd_type: Any) -> bool:
    return isinstance(xsd_type, str) and xsd_type.endswith(("base64Binary", "base64"))


def _base64_text(text: str) -> str:
    """SOAP::Lite sends any non-ASCII string as `xsd:base64Binary`; the schema says string."""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"base64Binary value is not UTF-8 text: {text[:40]!r}") from None


def _struct_data(el: etree._Element, fields: _Fields, refs: _Refs) -> dict[str, Any]:
    data: dict[str, Any] = {}
    decode = fields.decode
    for child in el.iterchildren(etree.Element):
        tag: str = child.tag
        if tag[0] == "{":
            tag = tag.rpartition("}")[2]
        entry = decode.get(tag)
        if entry is None:
            continue  # a field these bindings do not know: newer server, ignored
        spec, plan = entry
        if type(plan) is tuple and not _is_array_here(child, spec, plan[1]):
            # one occurrence of a repeated element
            item_spec = spec[1] if type(spec) is tuple else spec
            value = _decode(child, item_spec, plan[1], refs)
            existing = data.get(tag)
            if type(existing) is list:
                existing.append(value)
            else:
                data[tag] = [value]
            continue
        data[tag] = _decode(child, spec, plan, refs)
    return data


def _array_items(el: etree._Element, item_spec: Spec, item_plan: Any, refs: _Refs) -> list[Any]:
    items = [_decode(c, item_spec, item_plan, refs) for c in el.iterchildren(etree.Element)]
    shape = _array_shape(el.get(_ARRAY_TYPE))
    if shape and len(shape) > 1:  # `T[2,3]`: rows of a rectangular array, sent flat
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


def _generic(el: etree._Element, refs: _Refs) -> Any:
    """Untyped data (`xsd:anyType`, SOAPStruct): arrays as lists, structs as dicts."""
    attrib = el.attrib
    if attrib:
        href = attrib.get("href")
        if href is not None:
            el = refs.resolve(el, href)
        nil = el.get(_XSI_NIL)
        if nil == "true" or nil == "1":
            return None
        if _is_array(el):
            return _array_items(el, _ANY_TYPE, "any", refs)
    if not len(el):
        if _is_base64(el.get(_XSI_TYPE)):
            raw = base64.b64decode(el.text or "")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw
        return el.text or ""
    data: dict[str, Any] = {}
    for child in el.iterchildren(etree.Element):
        tag = etree.QName(child).localname
        value = _generic(child, refs)
        if tag in data:
            existing = data[tag]
            data[tag] = [*existing, value] if type(existing) is list else [existing, value]
        else:
            data[tag] = value
    return data


def decode_envelope(
    op: Operation[Any, Any],
    content: bytes,
    limits: XmlLimits = DEFAULT_LIMITS,
    attachments: dict[str, tuple[bytes, str | None, str]] | None = None,
) -> Any:
    """The typed response of `op` from a SOAP reply, or the `Fault` it carries."""
    where = op.qualified_name
    try:
        root = parse(content, limits)
    except XmlRefused as exc:
        raise DecodeError(str(exc), operation=where, excerpt=_excerpt(content)) from None
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
    refs = _Refs(body, attachments)
    parts = list(first.iterchildren(etree.Element))
    try:
        if op.response_wrapped:
            fields = _fields_of(op.response)
            data: Any = {}
            for (wire, (spec, plan)), part in zip(fields.decode.items(), parts, strict=False):
                data[wire] = _decode(part, spec, plan, refs)
        elif parts:
            data = _decode(parts[0], None, op.response, refs)
        else:
            data = {}
        unused = [a for cid, a in refs.attachments.items() if cid not in refs.used]
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
    detail = _generic(detail_el, _Refs(el)) if detail_el is not None else None
    return fault_class(code)(code, text.strip(), operation=where, detail=detail)


def _excerpt(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")
