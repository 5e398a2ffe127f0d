"""Schema plans: how each generated struct class maps to SOAP elements, built once per class.

The generator emits a schema table next to the types (`types/_xsd/`): per struct its XSD name and,
per field, the wire name and its spec. A plan joins that table with the msgspec class, for the
encoder (fields in schema order, tags pre-rendered) and the decoders (wire name -> plan).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from ..errors import EncodeError
from .text import FAST_TEXT, PY_OF_XSD, XSD

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

XSI_TYPE = f"{{{XSI}}}type"
XSI_NIL = f"{{{XSI}}}nil"
ARRAY_TYPE = f"{{{SOAP_ENC}}}arrayType"
ANY_TYPE = f"{{{XSD}}}anyType"
FIXED_PREFIXES = {SOAP_ENV: "soap", SOAP_ENC: "soapenc", XSD: "xsd", XSI: "xsi"}

Spec = Any  # a Clark name "{ns}local", or ("[]", Spec) / ("*", Spec); see types/_xsd/


# ---- namespace prefixes ---------------------------------------------------------------------------

# One prefix per namespace for the life of the process, so tags can be rendered once per field.
PREFIXES: dict[str, str] = dict(FIXED_PREFIXES)
_NAMES: dict[str, tuple[str, str]] = {}  # "{ns}local" -> ("prefix:local", ns)
_names_lock = threading.Lock()


def prefixed(clark: str) -> tuple[str, str]:
    """`{ns}local` as (`prefix:local`, ns), the prefix fixed for the life of the process."""
    found = _NAMES.get(clark)
    if found is None:
        ns, _, local = clark[1:].partition("}")
        with _names_lock:
            prefix = PREFIXES.get(ns)
            if prefix is None:
                prefix = PREFIXES[ns] = f"ns{len(PREFIXES) - len(FIXED_PREFIXES) + 1}"
            found = _NAMES[clark] = (f"{prefix}:{local}", ns)
    return found


# ---- plans ------------------------------------------------------------------------------------------


class EncodeField(NamedTuple):
    """One field of a struct as the encoder writes it (a plan holds them in schema order)."""

    position: int  # in `msgspec.structs.astuple(value)`
    wire: str
    spec: Spec
    open_tag: str  # `<wire xsi:type="prefix:Type">` for a simple-typed field, else ""
    close_tag: str  # `</wire>`, or ""
    expected: type | None  # the Python type of the field's XSD type
    convert: Any  # `expected` value -> text, None where the careful path must decide


DecodeEntry = tuple[str, Spec, Any]  # (wire name, spec, decode plan: see `decode_plan`)


@dataclass(slots=True)
class StructPlan:
    """One struct class as the SOAP transport sees it."""

    qname: str
    attrs: tuple[str, ...] = ()  # the class's attribute names, in `astuple` order
    position: dict[str, int] = field(default_factory=dict)  # attribute name -> its index there
    encode: tuple[tuple[str, str, Spec], ...] = ()  # (attribute, wire name, spec) in schema order
    fields: tuple[EncodeField, ...] = ()  # the same fields, ready for the encoder
    json_only: tuple[int, ...] = ()  # positions of attributes that exist only in the JSON API
    decode: dict[str, DecodeEntry] = field(default_factory=dict)  # wire name -> entry
    by_tag: dict[str, DecodeEntry | None] = field(default_factory=dict)  # lxml tag -> entry
    xsi_type: str = ""  # the struct's own `prefix:Name`
    qualified: dict[str, str] | None = None  # document/literal: wire name -> element namespace
    namespaces: frozenset[str] = frozenset()  # what the pre-rendered tags' prefixes stand for
    layouts: dict[tuple[type, ...], Any] = field(default_factory=dict)  # the encoder's cache
    encoder: Any = None  # the encoder's function for this class (`soap.encode`)

    def lookup(self, tag: str) -> DecodeEntry | None:
        """A namespace-qualified (or unknown) tag, resolved once and remembered."""
        entry = self.decode.get(tag.rpartition("}")[2]) if isinstance(tag, str) else None
        if len(self.by_tag) < 4096:  # a hostile reply must not grow it without bound
            self.by_tag[tag] = entry
        return entry


_plans: dict[type, StructPlan] = {}
_plans_lock = threading.Lock()


def plan_for(cls: type) -> StructPlan:
    """The plan of a generated struct class; `EncodeError` if the bindings lack its table."""
    plan = _plans.get(cls)
    if plan is None:
        with _plans_lock:
            plan = _plans.get(cls) or _build(cls)
    return plan


def _build(cls: type) -> StructPlan:
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
    plan = StructPlan(qname, qualified=qualified)
    _plans[cls] = plan  # before recursing: types may refer to themselves
    plan.attrs = tuple(cls.__struct_fields__)  # type: ignore[attr-defined]
    position = plan.position = {a: i for i, a in enumerate(plan.attrs)}
    plan.encode = tuple((attrs[w], w, spec) for w, spec in specs.items() if w in attrs)
    plan.json_only = tuple(position[a] for w, a in attrs.items() if w not in specs)
    hints = {f.encode_name: f.type for f in msgspec.inspect.type_info(cls).fields}  # type: ignore[attr-defined]
    plan.decode = {w: (w, spec, decode_plan(hints[w])) for w, spec in specs.items() if w in hints}
    plan.by_tag = dict(plan.decode)
    fields = []
    namespaces = set()
    for attr, wire, spec in plan.encode:
        open_tag = close_tag = ""
        expected: type | None = None
        if type(spec) is str and spec != ANY_TYPE:
            name, ns = prefixed(spec)
            namespaces.add(ns)
            open_tag, close_tag = f'<{wire} xsi:type="{name}">', f"</{wire}>"
            expected = PY_OF_XSD.get(spec)
        convert = FAST_TEXT.get(expected) if expected is not None else None
        fields.append(
            EncodeField(position[attr], wire, spec, open_tag, close_tag, expected, convert)
        )
    plan.fields = tuple(fields)
    plan.xsi_type, own_ns = prefixed(qname)
    namespaces.add(own_ns)
    plan.namespaces = frozenset(namespaces)
    return plan


def decode_plan(t: msgspec.inspect.Type) -> Any:
    """None for a scalar, a struct class, ("list", item plan), or "any" for untyped data."""
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        t = inner[0] if len(inner) == 1 else msgspec.inspect.AnyType()
    if isinstance(t, msgspec.inspect.StructType):
        return t.cls
    if isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.TupleType)):
        item = getattr(t, "item_type", msgspec.inspect.AnyType())
        return ("list", decode_plan(item))
    if isinstance(t, (msgspec.inspect.AnyType, msgspec.inspect.DictType)):
        return "any"
    return None
