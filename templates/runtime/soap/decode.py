"""Tree decoding: a parsed SOAP reply's elements as plain data for one `msgspec.convert`.

Decoding trusts the document over the schema where they disagree, as SOAP::Lite replies demand:
struct fields are matched by name in any order, `href`/`id` multi-refs are followed, a SOAP-ENC
array may stand where the schema says repeated element (and the reverse), and a repeated element
seen once is still a list. The result is plain data that one `msgspec.convert` call turns into the
generated types, so XML text such as "5", "true" or "2024-01-02 10:00:00" gets exactly the JSON
transport's conversions.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from ..limits import DEFAULT_LIMITS, LimitExceeded, Limits
from .plan import ANY_TYPE, ARRAY_TYPE, XSI, XSI_NIL, XSI_TYPE, Spec, StructPlan, plan_for

# The walk is the hot path of every SOAP call: per leaf element it reads the tag, the text and the
# child count, and nothing else. Attributes matter only on elements without text (xsi:nil, href),
# and base64-typed strings are found once per document by an XPath query run in C.

_BASE64_XPATH = etree.XPath("//*[contains(@xsi:type, 'base64')]", namespaces={"xsi": XSI})


class Doc:
    """Per-reply decoding state: `href="#id"` targets (indexed on first use), MIME attachments,
    and the elements SOAP::Lite typed as base64."""

    __slots__ = (
        "active",
        "attachments",
        "base64",
        "body",
        "expanded",
        "index",
        "keep_unknown",
        "limits",
        "sizes",
        "streamed",
        "used",
    )

    def __init__(
        self,
        body: etree._Element | None,
        attachments: dict[str, tuple[bytes, str | None, str]] | None = None,
        scan_base64: bool = True,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.body = body
        self.limits = limits
        self.expanded = 0  # elements materialised by following references
        self.active: set[Any] = set()  # references being followed: one seen again is a cycle
        self.sizes: dict[Any, int] = {}
        self.index: dict[str, etree._Element] | None = None
        self.attachments = attachments or {}
        self.used: set[str] = set()
        self.streamed: dict[Any, list[Any]] = {}  # arrays decoded while parsing (large replies)
        self.keep_unknown = False  # keep undeclared fields as plain data (DecodeReport.raw)
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

    def follow(self, href: str, decode: Any) -> Any:
        """`decode(target)` for the element `href` points to, counting what that materialises
        (multi-refs can multiply: a reference inside a referenced list is expanded each time)
        and refusing a reference to an element that is being expanded (a cycle)."""
        target = self.resolve(href)
        if target in self.active:
            raise ValueError(f"href {href!r} refers to an element that contains it (a cycle)")
        size = self.sizes.get(target)
        if size is None:
            size = self.sizes[target] = sum(1 for _ in target.iter())
        self.expanded += size
        if self.expanded > self.limits.max_ref_objects:
            raise LimitExceeded(
                "max_ref_objects",
                f"multi-ref expansion materialises more than {self.limits.max_ref_objects} "
                "elements",
            )
        self.active.add(target)
        try:
            return decode(target)
        finally:
            self.active.discard(target)


def is_array(el: etree._Element) -> bool:
    """Marked as a SOAP-ENC array (by `arrayType`, or an `xsi:type` of `...:Array`)."""
    if ARRAY_TYPE in el.attrib:
        return True
    xsi_type = el.get(XSI_TYPE)
    return xsi_type is not None and xsi_type.rpartition(":")[2] == "Array"


def _is_array_here(el: etree._Element, spec: Spec, item_plan: Any) -> bool:
    """A list field's element: the whole array, or one occurrence of a repeated element?

    SOAP-ENC markers decide when present. Without them the schema's word is taken, unless the
    element plainly is one item (a struct item whose fields it holds, a scalar with no children):
    servers send arrays both ways whatever the schema says.
    """
    if is_array(el):
        return True
    if not (type(spec) is tuple and spec[0] == "[]"):
        return False
    if isinstance(item_plan, type):
        known = plan_for(item_plan).decode
        first = next(el.iterchildren(etree.Element), None)
        return first is None or etree.QName(first).localname not in known
    return (item_plan is None and len(el) > 0) or type(item_plan) is tuple


def _is_nil(el: etree._Element) -> bool:
    return el.get(XSI_NIL) in ("true", "1") and not len(el)


def _empty(el: etree._Element, spec: Spec, plan: Any, doc: Doc, blank: Any = "") -> Any:
    """An element without text: nil, a reference, `blank` (an empty string, list or struct), or
    a struct where a scalar belongs (which `msgspec.convert` then reports)."""
    href = el.get("href")
    if href is not None:
        if href.startswith("cid:"):
            return doc.attachment(href)
        return doc.follow(href, lambda target: decode(target, spec, plan, doc))
    nil = el.get(XSI_NIL)
    if nil == "true" or nil == "1":
        return None
    if len(el):
        return generic(el, doc)
    return blank


def _scalar(el: etree._Element, spec: Spec, doc: Doc) -> Any:
    text = el.text
    if text is None:
        return _empty(el, spec, None, doc)
    if doc.base64 and el in doc.base64 and not _is_base64(spec):
        return _base64_text(text)
    return text


def decode(el: etree._Element, spec: Spec, plan: Any, doc: Doc) -> Any:
    """One element as plain data, by its decode plan (see `plan.decode_plan`)."""
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
        return [decode(el, item_spec, plan[1], doc)]
    if plan == "any":
        return generic(el, doc)
    return struct_data(el, plan_for(plan), doc)


def _is_base64(xsd_type: Any) -> bool:
    return isinstance(xsd_type, str) and xsd_type.endswith(("base64Binary", "base64"))


def _base64_text(text: str) -> str:
    """SOAP::Lite sends any non-ASCII string as `xsd:base64Binary`; the schema says string."""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"base64Binary value is not UTF-8 text: {text[:40]!r}") from None


def struct_data(el: etree._Element, fields: StructPlan, doc: Doc) -> dict[str, Any]:
    """A struct's element as a dict by wire name; fields these bindings do not know are skipped."""
    data: dict[str, Any] = {}
    by_tag = fields.by_tag
    base64 = doc.base64
    for child in el:
        entry = by_tag.get(child.tag)
        if entry is None:
            entry = fields.lookup(child.tag)
            if entry is None:  # a field these bindings do not know: only the plain data keeps it
                if doc.keep_unknown and isinstance(child.tag, str):
                    keep(data, etree.QName(child).localname, generic(child, doc))
                continue
        wire, spec, plan = entry
        if plan is None:  # scalars: most of every reply
            text = child.text
            data[wire] = _scalar(child, spec, doc) if text is None or base64 else text
        elif type(plan) is tuple:
            item_spec = spec[1] if type(spec) is tuple else spec
            if _is_array_here(child, spec, plan[1]):
                data[wire] = _whole_array(child, spec, plan, item_spec, doc)
                continue
            value = decode(child, item_spec, plan[1], doc)  # one occurrence of a repeated element
            if value is None and wire not in data and _is_nil(child):
                data[wire] = None  # the list itself is nil (Perl undef), not a list of one nil
                continue
            existing = data.get(wire)
            if type(existing) is list:
                existing.append(value)
            else:
                data[wire] = [value]
        else:
            data[wire] = decode(child, spec, plan, doc)
    return data


def keep(data: dict[str, Any], name: str, value: Any) -> None:
    """An undeclared field into plain data; repeated ones become a list."""
    if name not in data:
        data[name] = value
    elif type(data[name]) is list:
        data[name].append(value)
    else:
        data[name] = [data[name], value]


def _whole_array(el: etree._Element, spec: Spec, plan: Any, item_spec: Spec, doc: Doc) -> Any:
    """A list field's element already known to hold the whole list (see `_is_array_here`)."""
    if doc.streamed:
        items = doc.streamed.get(el)
        if items is not None:
            return items
    if not len(el):
        return _empty(el, spec, plan, doc, [])  # nil, a reference, or an empty array
    return _array_items(el, item_spec, plan[1], doc)


def _array_items(el: etree._Element, item_spec: Spec, item_plan: Any, doc: Doc) -> list[Any]:
    if isinstance(item_plan, type):  # the common case, lists of structs: skip the dispatch
        fields = plan_for(item_plan)
        items = [
            (
                struct_data(c, fields, doc)
                if c.text is not None or len(c)
                else decode(c, item_spec, item_plan, doc)
            )
            for c in el
        ]
    else:
        items = [c.text for c in el] if item_plan is None and not doc.base64 else [None]
        if None in items:  # not all plain text: nil, references, base64, nested items
            items = [decode(c, item_spec, item_plan, doc) for c in el]
    array_type = el.get(ARRAY_TYPE)
    if array_type and "," in array_type:  # `T[2,3]`: rows of a rectangular array, sent flat
        shape = _array_shape(array_type)
        if shape:
            if len(shape) > doc.limits.max_array_dims:
                raise LimitExceeded(
                    "max_array_dims",
                    f"soapenc:arrayType with more than {doc.limits.max_array_dims} dimensions",
                )
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
    """Rows of the declared shape, as many as the items fill: a declared size is a claim of
    the document, never a reason to allocate (`T[1000000000,2]` with one item is one row)."""
    if len(shape) == 1 or any(d < 1 for d in shape):
        return items
    step = math.prod(shape[1:])
    rows = min(shape[0], -(-len(items) // step))
    return [_reshape(items[i * step : (i + 1) * step], shape[1:]) for i in range(rows)]


def generic(el: etree._Element, doc: Doc) -> Any:
    """Untyped data (`xsd:anyType`, SOAPStruct): arrays as lists, structs as dicts."""
    href = el.get("href")
    if href is not None:
        if href.startswith("cid:"):
            return doc.attachment(href)
        return doc.follow(href, lambda target: generic(target, doc))
    nil = el.get(XSI_NIL)
    if nil == "true" or nil == "1":
        return None
    if is_array(el):
        return _array_items(el, ANY_TYPE, "any", doc)
    if not len(el):
        if _is_base64(el.get(XSI_TYPE)):
            raw = base64.b64decode(el.text or "")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw
        return el.text or ""
    data: dict[str, Any] = {}
    for child in el:
        tag = etree.QName(child).localname
        value = generic(child, doc)
        if tag in data:
            existing = data[tag]
            data[tag] = [*existing, value] if type(existing) is list else [existing, value]
        else:
            data[tag] = value
    return data
