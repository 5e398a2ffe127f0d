"""WSDL/XSD -> neutral model, through zeep.

zeep loads and resolves every document (imports, includes, cycles, references) and gives the
binding layer and each complex type's resolved elements. What zeep discards (documentation,
enumeration facets, soapenc `arrayType`, extension bases) is read from the same parsed bytes that
the offline transport handed to zeep. Nothing from zeep leaves this module, which is why it is
one job over 500 lines: splitting it would pass zeep's objects between modules.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import zeep.exceptions
from lxml import etree
from zeep.settings import Settings
from zeep.wsdl import Document
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding
from zeep.xsd.elements import Any as ZeepAny
from zeep.xsd.elements import Element as ZeepElement
from zeep.xsd.elements.indicators import Choice as ZeepChoice

from .errors import GeneratorError
from .model import XSD_NS, Field, Operation, Part, Service, TypeDef, xsd
from .offline import SOAP12_ENC_NS, SOAP_ENC_NS, WSDL_NS, OfflineTransport

XSD = "{%s}" % XSD_NS
WSDL = "{%s}" % WSDL_NS
_BUNDLED_NAMESPACES = {
    SOAP_ENC_NS,
    SOAP12_ENC_NS,
    WSDL_NS,
    "http://www.w3.org/XML/1998/namespace",
    XSD_NS,
}
_ARRAY_BASES = {f"{{{SOAP_ENC_NS}}}Array", f"{{{SOAP12_ENC_NS}}}Array"}
_ARRAY_TYPE_RE = re.compile(r"(?P<item>[^\[]+)(?P<dims>(\[[,\s]*\])+)")  # fullmatch
# forbid_external stays off: the offline transport is the gate, and it serves bundled schemas.
_SETTINGS = Settings(strict=True, forbid_dtd=True, forbid_entities=True)


@dataclass
class ParsedWsdl:
    """One WSDL file: its services and the types it can see, keyed by qualified name."""

    path: str
    display: str
    services: list[Service] = field(default_factory=list)
    types: dict[str, TypeDef] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _SchemaNode:
    node: etree._Element
    file: str


class _XmlIndex:
    """Named schema components by (file, namespace, name), from the trees the transport parsed."""

    def __init__(self, transport: OfflineTransport) -> None:
        self.transport = transport
        self._by_file: dict[tuple[str, str, str], etree._Element] = {}
        self._any: dict[tuple[str, str], _SchemaNode] = {}
        self._seen: set[str] = set()

    def refresh(self) -> None:
        for path, tree in self.transport.trees.items():
            if path in self._seen:
                continue
            self._seen.add(path)
            for schema in _schemas(tree.getroot()):
                tns = schema.get("targetNamespace", "")
                for child in schema:
                    name = child.get("name")
                    if name and child.tag in (XSD + "complexType", XSD + "simpleType"):
                        self._by_file.setdefault((path, tns, name), child)
                        self._any.setdefault((tns, name), _SchemaNode(child, path))

    def find(self, location: str | None, qname: str) -> _SchemaNode | None:
        ns, _, local = qname[1:].partition("}")
        if location:
            real = os.path.realpath(location)
            node = self._by_file.get((real, ns, local))
            if node is not None:
                return _SchemaNode(node, real)
        return self._any.get((ns, local))

    def locate(self, word: str) -> str | None:
        """file:line of the first reference to `word` (a type or element name), for errors."""
        local = word.rpartition("}")[2].rpartition(":")[2]
        for path, tree in self.transport.trees.items():
            for el in tree.iter():
                if not isinstance(el.tag, str):
                    continue
                for attr in ("type", "base", "ref", "element", "message", "binding"):
                    value = el.get(attr)
                    if value and value.rpartition(":")[2] == local:
                        return f"{self.transport.display(path)}:{el.sourceline}"
        return None


def _schemas(root: etree._Element) -> Iterator[etree._Element]:
    if root.tag == XSD + "schema":
        yield root
    elif root.tag == WSDL + "definitions":
        for types in root.findall(WSDL + "types"):
            yield from types.findall(XSD + "schema")


def _line(node: etree._Element) -> int | None:
    line = node.sourceline
    return line if isinstance(line, int) else None


def _doc(node: etree._Element | None) -> str:
    """Documentation text of a schema or WSDL node, whitespace folded."""
    if node is None:
        return ""
    texts: list[str] = []
    for ann in node.findall(XSD + "annotation"):
        for d in ann.findall(XSD + "documentation"):
            texts.append("".join(str(x) for x in d.itertext()))
    for d in node.findall(WSDL + "documentation"):
        texts.append("".join(str(x) for x in d.itertext()))
    return " ".join(" ".join(t.split()) for t in texts if t.strip())


def _resolve_prefixed(node: etree._Element, value: str) -> str:
    prefix, _, local = value.rpartition(":")
    ns = node.nsmap.get(prefix or None)
    if ns is None:
        if not prefix:
            return local  # no default namespace: an unqualified name
        raise GeneratorError(
            f"undeclared namespace prefix {prefix!r} in {value!r}",
            file=None,
            line=_line(node),
            element=etree.QName(node).localname,
        )
    return f"{{{ns}}}{local}"


def _qname_text(obj: Any) -> str | None:
    q = getattr(obj, "qname", None)
    if q is None:
        return None
    return q.text if hasattr(q, "text") else str(q)


def _builtin_of(ztype: Any) -> str:
    """The XSD built-in a zeep simple type derives from (for anonymous restrictions)."""
    for cls in type(ztype).__mro__:
        q = cls.__dict__.get("_default_qname")
        if q is not None:
            return q.text if hasattr(q, "text") else str(q)
    return xsd("string")


class WsdlParser:
    """Parses WSDL files that share one offline transport, so shared XSDs are read once."""

    def __init__(self, root: str, url_map: dict[str, str] | None = None) -> None:
        self.transport = OfflineTransport(root, url_map)
        self.index = _XmlIndex(self.transport)

    def files_read(self) -> list[str]:
        """Every WSDL/XSD file the parses so far have read (for hashing inputs without a manifest)."""
        return list(self.transport.trees)

    def parse(self, path: str, interface: str) -> ParsedWsdl:
        display = self.transport.display(path)
        result = ParsedWsdl(path=path, display=display)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                document = Document(
                    os.path.realpath(path), self.transport, settings=_SETTINGS  # type: ignore[arg-type]
                )
            # zeep drops what it cannot build (a part naming a missing element, an operation
            # whose messages failed) with a warning: the user must hear about it
            result.warnings.extend(f"{display}: {w.message}" for w in caught)
        except GeneratorError:
            raise
        except zeep.exceptions.XMLParseError as exc:
            file = (exc.filename and self.transport.display(exc.filename)) or display
            raise GeneratorError(str(exc.message), file=file, line=exc.sourceline) from None
        except zeep.exceptions.LookupError as exc:
            self.index.refresh()
            where = self.index.locate(str(exc.qname or exc.item_name or ""))
            file, _, line = (where or display).partition(":")
            raise GeneratorError(
                f"undefined reference: {exc}", file=file, line=int(line) if line else None
            ) from None
        except zeep.exceptions.Error as exc:
            self.index.refresh()
            named = re.search(r"\{[^}]*\}[\w.-]+", str(exc))
            where = self.index.locate(named.group(0).rstrip(".")) if named else None
            file, _, line = (where or display).partition(":")
            raise GeneratorError(
                f"unsupported: {exc}", file=file, line=int(line) if line else None
            ) from None
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise GeneratorError(
                f"invalid WSDL ({type(exc).__name__}: {exc})", file=display
            ) from None
        self.index.refresh()
        builder = _TypeBuilder(self, result)
        builder.collect_schema_types(document)
        tree = self.transport.trees[os.path.realpath(path)]
        result.services = self._services(document, tree.getroot(), builder, interface)
        return result

    def _services(
        self,
        document: Any,
        root: etree._Element,
        builder: _TypeBuilder,
        interface: str,
    ) -> list[Service]:
        docs = _WsdlDocs(root)
        services: list[Service] = []
        for svc_name, zsvc in document.services.items():
            port = _pick_port(zsvc)
            if port is None:
                builder.result.warnings.append(
                    f"{builder.result.display}: service {svc_name} has no SOAP port; skipped"
                )
                continue
            binding = port.binding
            namespace = root.get("targetNamespace", "")
            service = Service(
                name=_service_name(svc_name, interface),
                wsdl=builder.result.display,
                namespace=namespace,
                endpoint=port.binding_options.get("address", ""),
                soap_version="1.2" if isinstance(binding, Soap12Binding) else "1.1",
                documentation=docs.service(svc_name) or docs.definitions,
            )
            for op_name in sorted(binding._operations, key=docs.order):
                service.operations.append(
                    self._operation(binding._operations[op_name], docs, builder, namespace)
                )
            services.append(service)
        return services

    def _operation(
        self, zop: Any, docs: _WsdlDocs, builder: _TypeBuilder, default_ns: str
    ) -> Operation:
        body_in = zop.input
        documentation = docs.operation(zop.name)
        style = zop.style or "document"
        namespace = getattr(body_in, "namespace", None) or default_ns
        use = docs.body_use(zop.name)
        op = Operation(
            name=zop.name,
            documentation=documentation,
            deprecated=documentation.lower().startswith("deprecated"),
            style=style,
            use=use,
            soap_action=zop.soapaction or "",
            namespace=namespace if style == "rpc" else "",
        )
        abstract = zop.abstract
        header_names = set()
        header = getattr(body_in, "header", None)
        if header is not None and getattr(header, "type", None) is not None:
            for _, el in header.type.elements:
                op.header_parts.append(Part(name=el.name, type=builder.ref(el.type, el.name)))
                header_names.add(el.name)
        if abstract.input_message is not None:
            op.input_parts = builder.parts(abstract.input_message.parts, skip=header_names)
        if abstract.output_message is not None:
            op.output_parts = builder.parts(abstract.output_message.parts, skip=set())
        return op


def _pick_port(zsvc: Any) -> Any:
    """A SOAP 1.1 port if there is one (PortaBilling speaks 1.1), else SOAP 1.2."""
    ports = [p for _, p in sorted(zsvc.ports.items())]
    for cls in (Soap11Binding, Soap12Binding):
        for port in ports:
            if isinstance(port.binding, cls):
                return port
    return None


_INTERFACE_SUFFIXES = ("Admin", "Customer", "Reseller", "Account", "Vendor", "Distributor")


def _service_name(wsdl_service: str, interface: str) -> str:
    """`AccountAdminService` -> `Account`; other vendors' names lose only a `Service` suffix."""
    name = wsdl_service
    if name.endswith("Service") and len(name) > len("Service"):
        name = name[: -len("Service")]
    suffix = interface[:1].upper() + interface[1:]
    if suffix in _INTERFACE_SUFFIXES and name.endswith(suffix) and len(name) > len(suffix):
        name = name[: -len(suffix)]
    return name


class _WsdlDocs:
    """Documentation, declared order and `use` of operations, read from the WSDL XML."""

    def __init__(self, root: etree._Element) -> None:
        self.definitions = _doc(root)
        self._ops: dict[str, str] = {}
        self._order: dict[str, int] = {}
        self._use: dict[str, str] = {}
        self._services: dict[str, str] = {}
        for pt in root.findall(WSDL + "portType"):
            for i, op in enumerate(pt.findall(WSDL + "operation")):
                name = op.get("name", "")
                self._ops.setdefault(name, _doc(op))
                self._order.setdefault(name, i)
        for b in root.findall(WSDL + "binding"):
            for op in b.findall(WSDL + "operation"):
                for body in op.iterfind(f"{WSDL}input/*"):
                    if etree.QName(body).localname == "body":
                        self._use.setdefault(op.get("name", ""), body.get("use", "literal"))
        for s in root.findall(WSDL + "service"):
            self._services[s.get("name", "")] = _doc(s)

    def operation(self, name: str) -> str:
        return self._ops.get(name, "")

    def order(self, name: str) -> tuple[int, str]:
        return (self._order.get(name, 1 << 30), name)

    def body_use(self, name: str) -> str:
        return self._use.get(name, "literal")

    def service(self, name: str) -> str:
        return self._services.get(name, "")


class _TypeBuilder:
    """Turns zeep types into TypeDefs (with what zeep drops read from XML)."""

    def __init__(self, parser: WsdlParser, result: ParsedWsdl) -> None:
        self.parser = parser
        self.result = result
        self.types = result.types
        self._location: dict[str, str | None] = {}
        self.schema: Any = None
        self._anonymous_seen: dict[int, str] = {}

    def collect_schema_types(self, document: Any) -> None:
        self.schema = document.types
        for doc in document.types.documents:
            if doc._target_namespace in _BUNDLED_NAMESPACES:
                continue
            for qname in doc._types:
                self._location.setdefault(qname, doc._location)
        for doc in document.types.documents:
            if doc._target_namespace in _BUNDLED_NAMESPACES:
                continue
            for qname in sorted(doc._types):
                self.ref(doc._types[qname], qname)

    def parts(self, parts: dict[str, Any], skip: set[str]) -> list[Part]:
        out = []
        for name, part in parts.items():
            if name in skip:
                continue
            if part.element is not None:
                el = part.element
                out.append(
                    Part(
                        name=name,
                        type=self.ref(el.type, el.name),
                        element=_qname_text(el),
                    )
                )
            else:
                out.append(Part(name=name, type=self.ref(part.type, name)))
        return out

    def ref(self, ztype: Any, context: str) -> str:
        """The model reference for a zeep type, converting named user types on first sight."""
        ztype = getattr(ztype, "_resolved", None) or ztype
        qname = _qname_text(ztype)
        if qname is None:
            return self._anonymous(ztype, context)
        if getattr(ztype, "is_global", True) is False and not qname.startswith("{" + XSD_NS + "}"):
            # zeep names an element's inline type after the element, which may clash with a
            # complexType of the same name (<element name="country"> vs <complexType name="country">)
            return self._anonymous(ztype, context)
        if qname.startswith("{" + XSD_NS + "}"):
            return qname
        if qname.startswith(("{" + SOAP_ENC_NS + "}", "{" + SOAP12_ENC_NS + "}")):
            # soapenc:string and friends are the XSD built-ins with id/href; soapenc:Array untyped
            local = qname.rpartition("}")[2]
            return xsd("anyType") if local in ("Array", "Struct") else xsd(local)
        if qname not in self.types:
            self._convert(ztype, qname)
        return qname

    def _anonymous(self, ztype: Any, context: str) -> str:
        if not hasattr(ztype, "elements"):
            return _builtin_of(ztype)
        qname = "{%s}%s" % (
            getattr(ztype, "_anon_ns", "") or "",
            _anon_name(context),
        )
        known = self._anonymous_seen.get(id(ztype))
        if known is not None:
            return known
        base = qname
        n = 2
        while qname in self.types:
            qname = f"{base}{n}"
            n += 1
        self._anonymous_seen[id(ztype)] = qname  # zeep keeps the object alive: id is stable
        self._convert(ztype, qname, anonymous=True)
        return qname

    def _convert(self, ztype: Any, qname: str, anonymous: bool = False) -> None:
        ns, _, local = qname[1:].partition("}")
        found = None if anonymous else self.parser.index.find(self._location.get(qname), qname)
        node = found.node if found else None
        origin = (
            f"{self.parser.transport.display(found.file)}:{node.sourceline}"
            if found and node is not None
            else self.result.display
        )
        tdef = TypeDef(
            id=qname,
            name=local,
            namespace=ns,
            kind="struct",
            documentation=_doc(node),
            origin=origin,
        )
        self.types[qname] = tdef  # before recursing: recursive types refer back to it
        if not hasattr(ztype, "elements"):
            self._simple(tdef, ztype, node)
            return
        array = self._array_info(node)
        if array is not None or getattr(ztype, "_array_type", None) is not None:
            self._array(tdef, ztype, node, array)
            return
        if node is not None:
            content = node.find(XSD + "simpleContent")
            if content is not None:
                ext = content[0] if len(content) else None
                base = ext.get("base") if ext is not None else None
                tdef.kind = "alias"
                tdef.base = self._simple_base(node, base) if base else xsd("string")
                self.result.warnings.append(
                    f"{origin}: {local} has simple content with attributes; attributes are dropped"
                )
                return
        self._struct(tdef, ztype, node, origin)

    def _simple(self, tdef: TypeDef, ztype: Any, node: etree._Element | None) -> None:
        restriction = node.find(XSD + "restriction") if node is not None else None
        if node is not None and restriction is None:
            construct = "list" if node.find(XSD + "list") is not None else "union"
            tdef.kind = "alias"
            tdef.base = xsd("string")
            self.result.warnings.append(
                f"{tdef.origin}: {tdef.name} is an xsd:{construct}; typed as string"
            )
            return
        base_attr = restriction.get("base") if restriction is not None else None
        base = self._simple_base(node, base_attr) if node is not None and base_attr else None
        if base is None:
            base = _builtin_of(ztype)
        enums = restriction.findall(XSD + "enumeration") if restriction is not None else []
        if enums:
            tdef.kind = "enum"
            tdef.base = base
            tdef.enum_values = [e.get("value", "") for e in enums]
            tdef.enum_docs = [_doc(e) for e in enums]
        else:
            tdef.kind = "alias"
            tdef.base = base

    def _simple_base(self, node: etree._Element, value: str) -> str:
        base_q = _resolve_prefixed(node, value)
        if base_q.startswith("{" + XSD_NS + "}"):
            return base_q
        return self._named_ref(
            base_q,
            self.types.get(base_q)
            or TypeDef(
                id=base_q, name=base_q, namespace="", kind="alias", origin=self.result.display
            ),
        )

    def _array_info(self, node: etree._Element | None) -> tuple[str, int] | None:
        """(item type, dimensions) of a soapenc:Array restriction, from wsdl:arrayType."""
        if node is None:
            return None
        restriction = node.find(f"{XSD}complexContent/{XSD}restriction")
        if restriction is None:
            return None
        base = restriction.get("base", "")
        if _resolve_prefixed(restriction, base) not in _ARRAY_BASES:
            return None
        for attr in restriction.iter(XSD + "attribute"):
            value = attr.get(WSDL + "arrayType")
            if value:
                m = _ARRAY_TYPE_RE.fullmatch(value.strip())
                if not m:
                    raise GeneratorError(
                        f"malformed wsdl:arrayType {value!r}",
                        file=self.result.display,
                        line=_line(attr),
                        element="attribute",
                    )
                dims = sum(g.count(",") + 1 for g in re.findall(r"\[[^\]]*\]", m["dims"]))
                return _resolve_prefixed(attr, m["item"].strip()), dims
        # Axis/.NET style: a restriction that declares the item element instead
        for el in restriction.iter(XSD + "element"):
            type_attr = el.get("type")
            if type_attr:
                return _resolve_prefixed(el, type_attr), 1
        return (xsd("anyType"), 1)

    def _array(
        self,
        tdef: TypeDef,
        ztype: Any,
        node: etree._Element | None,
        info: tuple[str, int] | None,
    ) -> None:
        tdef.kind = "array"
        if info is None:
            restrict = getattr(getattr(ztype, "_array_type", None), "array_type", None)
            item = _qname_text(restrict) if restrict is not None else None
            info = (item or xsd("anyType"), 1)
        item_q, dims = info
        tdef.dimensions = dims
        tdef.item_type = self._named_ref(item_q, tdef)

    def _named_ref(self, qname: str, owner: TypeDef) -> str:
        if qname.startswith("{" + XSD_NS + "}"):
            return qname
        if qname.startswith(("{" + SOAP_ENC_NS + "}", "{" + SOAP12_ENC_NS + "}")):
            local = qname.rpartition("}")[2]
            return xsd("anyType") if local in ("Array", "Struct") else xsd(local)
        if qname in self.types:
            return qname
        zt = self._lookup_any(qname)
        if zt is None:
            line = owner.origin.rpartition(":")[2]
            raise GeneratorError(
                f"undefined type {qname} (array item of {owner.name})",
                file=owner.origin.rpartition(":")[0] or self.result.display,
                line=int(line) if line.isdigit() else None,
                element="complexType",
            )
        return self.ref(zt, qname.rpartition("}")[2])

    def _lookup_any(self, qname: str) -> Any:
        try:
            return self.schema.get_type(qname)
        except (zeep.exceptions.LookupError, zeep.exceptions.NamespaceError):
            return None

    def _struct(self, tdef: TypeDef, ztype: Any, node: etree._Element | None, origin: str) -> None:
        docs = _field_docs(node)
        elements = list(_flat_elements(ztype))
        base_count = 0
        ext = node.find(f"{XSD}complexContent/{XSD}extension") if node is not None else None
        if ext is not None and ext.get("base"):
            base_q = _resolve_prefixed(ext, ext.get("base", ""))
            base_z = self._lookup_any(base_q)
            if base_z is not None and hasattr(base_z, "elements"):
                tdef.base = self.ref(base_z, base_q.rpartition("}")[2])
                base_count = len(list(_flat_elements(base_z)))
        for el, in_choice in elements[base_count:]:
            if isinstance(el, ZeepAny):
                self.result.warnings.append(
                    f"{origin}: {tdef.name} has xsd:any content; it is not mapped to a field"
                )
                continue
            max_occurs = el.max_occurs
            tdef.fields.append(
                Field(
                    wire_name=el.name,
                    python_name="",
                    type=self.ref(el.type, f"{tdef.name}_{el.name}"),
                    min_occurs=0 if in_choice else int(el.min_occurs),
                    max_occurs=None if max_occurs == "unbounded" else int(max_occurs),
                    nillable=bool(el.nillable),
                    documentation=docs.get(el.name, ""),
                    namespace=etree.QName(el.qname).namespace or "" if el.qname else "",
                )
            )


def _flat_elements(ztype: Any) -> Iterator[tuple[Any, bool]]:
    """Every element of a complex type in order, flagged when it sits inside an xsd:choice."""

    def walk(item: Any, in_choice: bool) -> Iterator[tuple[Any, bool]]:
        if isinstance(item, ZeepElement | ZeepAny):
            yield item, in_choice
            return
        choice = in_choice or isinstance(item, ZeepChoice)
        for sub in item:
            sub_item = sub[1] if isinstance(sub, tuple) else sub
            yield from walk(sub_item, choice)

    for _, item in ztype.elements_nested:
        yield from walk(item, False)


def _field_docs(node: etree._Element | None) -> dict[str, str]:
    if node is None:
        return {}
    out: dict[str, str] = {}
    for el in node.iter(XSD + "element"):
        name = el.get("name")
        if name and name not in out:
            out[name] = _doc(el)
    return out


def _anon_name(context: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", context)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Anonymous"
