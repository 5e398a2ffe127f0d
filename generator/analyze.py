"""Parsed files -> one Model: merge types, settle names and modules, decide each stub's shape.

Deterministic by construction: every collection is sorted by stable keys before names are handed
out, so output never depends on file-system order or hash seeds; that ordering is shared by every
step here, so the merge and the naming are one job (a little over 500 lines).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlparse

from .errors import GeneratorError
from .interfaces import DEFAULT_PORTS
from .model import (
    XSD_NS,
    Field,
    Interface,
    Model,
    Operation,
    Part,
    Service,
    TypeDef,
    TypeGraph,
    xsd,
)
from .naming import (
    CLIENT_ATTRS,
    attr_name,
    class_name,
    constant_name,
    member_name_from_doc,
    method_name,
    module_name,
    operation_constant,
)
from .parse_openapi import PORTA_NS, ParsedOpenApi
from .parse_wsdl import ParsedWsdl

COMMON_MODULE = "common"
SERVICE_SPEC = "SERVICE"  # the constant of a service module holding its service-wide spec
_UNUSED = "\0unused"  # pseudo-service: types no operation reaches


def build_model(
    parsed: list[tuple[str, ParsedWsdl]],
    openapi: dict[str, ParsedOpenApi],
    *,
    release: str,
    source_hash: str,
) -> Model:
    model = Model(release=release, source_hash=source_hash)
    merger = _TypeMerger()
    interfaces: dict[str, Interface] = {}
    for interface_name, pw in parsed:
        model.warnings.extend(pw.warnings)
        mapping = merger.add(pw.display, pw.types)
        iface = interfaces.setdefault(interface_name, Interface(name=interface_name))
        for svc in pw.services:
            for op in svc.operations:
                for part in (*op.header_parts, *op.input_parts, *op.output_parts):
                    part.type = mapping.get(part.type, part.type)
            iface.services.append(svc)
    for interface_name in sorted(openapi):
        _join_openapi(model, interfaces, interface_name, openapi[interface_name], merger)
    model.types = merger.result(model.warnings)
    for name in sorted(interfaces):
        if not interfaces[name].services:
            model.warnings.append(
                f"interface {name} has no usable service; no client is generated"
            )
    model.interfaces = [interfaces[k] for k in sorted(interfaces) if interfaces[k].services]
    _settle(model)
    return model


def _fingerprint(t: TypeDef) -> str:
    """Structure only: documentation and origin may differ between copies of one type."""
    data = {
        "kind": t.kind,
        "base": t.base,
        "item": t.item_type,
        "dims": t.dimensions,
        "enum": t.enum_values,
        "fields": [
            (f.wire_name, f.type, f.min_occurs, f.max_occurs, f.nillable, f.json_only)
            for f in t.fields
        ],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class _TypeMerger:
    """Identical definitions of a qualified name become one type; different ones get variants.

    Each source file's types are merged as a unit: a reference inside a file points at that file's
    definition, so a variant is recognised by its deep structure (its own and what it references).
    """

    def __init__(self) -> None:
        self.variants: dict[str, list[tuple[str, TypeDef, list[str]]]] = defaultdict(list)

    def add(self, source: str, types: dict[str, TypeDef]) -> dict[str, str]:
        deep = _deep_fingerprints(types)
        mapping: dict[str, str] = {}
        for qname in sorted(types):
            variants = self.variants[qname]
            for i, (fp, _, sources) in enumerate(variants):
                if fp == deep[qname]:
                    sources.append(source)
                    mapping[qname] = qname if i == 0 else f"{qname}#{i + 1}"
                    break
            else:
                variants.append((deep[qname], types[qname], [source]))
                idx = len(variants)
                mapping[qname] = qname if idx == 1 else f"{qname}#{idx}"
        for qname in sorted(types):
            t = types[qname]
            if mapping[qname] == _variant_id(self.variants[qname], t):
                _retarget(t, mapping)
                t.id = mapping[qname]
        return mapping

    def has(self, qname: str) -> bool:
        return qname in self.variants

    def primary(self, qname: str) -> TypeDef:
        return self.variants[qname][0][1]

    def result(self, warnings: list[str]) -> list[TypeDef]:
        out: list[TypeDef] = []
        for qname in sorted(self.variants):
            variants = self.variants[qname]
            if len(variants) > 1:
                where = "; ".join(
                    f"variant {i + 1}: {', '.join(sorted(srcs)[:3])}"
                    + (f" (+{len(srcs) - 3})" if len(srcs) > 3 else "")
                    for i, (_, _, srcs) in enumerate(variants)
                )
                warnings.append(
                    f"type {qname} has {len(variants)} different definitions; "
                    f"they get distinct names ({where})"
                )
            out.extend(t for _, t, _ in variants)
        return out


def _variant_id(variants: list[tuple[str, TypeDef, list[str]]], t: TypeDef) -> str | None:
    for i, (_, v, _) in enumerate(variants):
        if v is t:
            return v.qname if i == 0 else f"{v.qname}#{i + 1}"
    return None


def _retarget(t: TypeDef, mapping: dict[str, str]) -> None:
    if t.base in mapping:
        t.base = mapping[t.base]
    if t.item_type in mapping:
        t.item_type = mapping[t.item_type]
    for f in t.fields:
        f.type = mapping.get(f.type, f.type)


def _deep_fingerprints(types: dict[str, TypeDef]) -> dict[str, str]:
    """A type's fingerprint folded with those of every type it reaches (cycles cut by name)."""
    shallow = {q: _fingerprint(t) for q, t in types.items()}
    graph = TypeGraph(types)
    out: dict[str, str] = {}
    for qname in types:
        parts = [q + "=" + shallow[q] for q in graph.reachable([qname])]
        out[qname] = hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()
    return out


def _join_openapi(
    model: Model,
    interfaces: dict[str, Interface],
    name: str,
    doc: ParsedOpenApi,
    merger: _TypeMerger,
) -> None:
    """JSON-only methods join as operations; WSDL/OpenAPI disagreements become warnings."""
    iface = interfaces.setdefault(name, Interface(name=name))
    services = {s.name: s for s in iface.services}
    new_types = {q: t for q, t in doc.types.items() if not merger.has(q)}
    if new_types:
        merger.add(doc.path, new_types)
    for q, t in sorted(doc.types.items()):
        if q not in new_types:
            _compare_types(model, merger.primary(q), t, doc.path)
    for m in doc.methods:
        svc = services.get(m.service)
        op = next((o for o in svc.operations if o.name == m.method), None) if svc else None
        if op is not None:
            continue
        if not m.json_only:
            model.warnings.append(
                f"{doc.path}: {m.service}.{m.method} is in the OpenAPI document but in no WSDL; "
                "added as a JSON-only operation"
            )
        if svc is None:
            svc = Service(
                name=m.service,
                wsdl="",
                namespace=f"http://portaone.com/Porta/SOAP/{m.service}",
                documentation=f"{m.service} methods served only by the JSON API.",
            )
            services[m.service] = svc
            iface.services.append(svc)
        svc.operations.append(
            Operation(
                name=m.method,
                documentation=m.documentation,
                deprecated=m.deprecated or m.documentation.lower().startswith("deprecated"),
                style="json",
                use="json",
                namespace=svc.namespace,
                transports="json",
                header_parts=(
                    [Part("auth_info", "{%s}AuthInfoStructure" % PORTA_NS)]
                    if merger.has("{%s}AuthInfoStructure" % PORTA_NS)
                    else []
                ),
                input_parts=[Part("params", m.request_type)] if m.request_type else [],
                output_parts=[Part("result", m.response_type)] if m.response_type else [],
            )
        )


def _compare_types(model: Model, wsdl_t: TypeDef, api_t: TypeDef, path: str) -> None:
    """OpenAPI is lossy (enums become strings), so only names and shapes are compared."""
    if wsdl_t.kind != api_t.kind and {wsdl_t.kind, api_t.kind} != {"enum", "alias"}:
        model.warnings.append(
            f"{path}: {wsdl_t.name} is a {wsdl_t.kind} in the WSDL but a {api_t.kind} in OpenAPI"
        )
        return
    if wsdl_t.kind != "struct":
        return
    wsdl_fields = {f.wire_name for f in wsdl_t.fields}
    for f in api_t.fields:
        if f.wire_name in wsdl_fields:
            continue
        if not _is_xml_name(f.wire_name):
            # Only the JSON API can carry it (`3pcc_enabled`): a JSON-only field of the struct.
            wsdl_t.fields.append(
                Field(
                    wire_name=f.wire_name,
                    python_name="",
                    type=f.type if f.type.startswith("{" + XSD_NS) else _api_scalar(f.type),
                    min_occurs=0,
                    nillable=f.nillable,
                    documentation=f.documentation,
                    json_only=True,
                )
            )
        else:
            model.warnings.append(
                f"{path}: {wsdl_t.name}.{f.wire_name} is in OpenAPI but not in the WSDL type"
            )


def _api_scalar(ref: str) -> str:
    return ref if ref.startswith("{http://schemas.portaone.com/soap}") else xsd("string")


def _is_xml_name(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_")


def _settle(model: Model) -> None:
    """Names, modules, stub shapes: the decisions rendering must not make on its own."""
    types = model.type_index()
    for iface in model.interfaces:
        iface.default_port = DEFAULT_PORTS.get(iface.name)
        iface.services.sort(key=lambda s: s.name)
        _dedupe_service_names(model, iface)
        for svc in iface.services:
            for op in svc.operations:
                _shape_operation(op, svc, types, model)
    # synthetic wrappers were added to the model; refresh the index
    types = model.type_index()
    # a type must not take the name of a service class that a service module defines
    _name_types(
        model,
        {
            f"{prefix}{class_name(svc.name)}Service"
            for iface in model.interfaces
            for svc in iface.services
            for prefix in ("", "Async")
        },
    )
    _assign_modules(model, types)
    _name_members(model, types)
    model.types.sort(key=lambda t: (t.module, t.python_name))
    _name_enum_members(model)
    # upper-case class names could meet an operation constant in a service module's namespace
    constants_taken = {SERVICE_SPEC} | {
        t.python_name for t in model.types if t.python_name.isupper()
    }
    type_names = {t.python_name for t in model.types}
    iface_taken: set[str] = set()
    for iface in model.interfaces:
        iface.python_name = module_name(iface.name, iface_taken)
        iface.client_class = iface.python_name.capitalize() + "Client"
        iface.async_client_class = "Async" + iface.client_class
        svc_taken: set[str] = set(CLIENT_ATTRS)
        for svc in iface.services:
            svc.module = module_name(svc.name, svc_taken)
            svc.python_name = class_name(svc.name) + "Service"
            svc.async_python_name = "Async" + svc.python_name
            svc.endpoint_path = (
                urlparse(svc.endpoint).path if svc.endpoint else f"/Porta/SOAP/{svc.name}"
            )
            op_taken: set[str] = set()
            const_taken = set(constants_taken)
            for op in svc.operations:
                op.python_name = method_name(op.name, op_taken)
                op.const_name = operation_constant(op.python_name, const_taken)
            for op in svc.operations:
                if op.pageable:
                    op.iter_name = method_name(
                        "iter_" + op.python_name.replace("get_", "", 1), op_taken
                    )
            # the iterators' keyword TypedDicts share the module's namespace with imported types
            class_taken = type_names | {svc.python_name, svc.async_python_name}
            for op in svc.operations:
                if op.iter_name:
                    op.iter_keywords = class_name(op.iter_name + "_keywords", class_taken)


def _dedupe_service_names(model: Model, iface: Interface) -> None:
    seen: dict[str, int] = {}
    for svc in iface.services:
        if svc.name in seen:
            seen[svc.name] += 1
            new = f"{svc.name}{seen[svc.name]}"
            model.warnings.append(
                f"{svc.wsdl}: service {svc.name} appears twice in interface {iface.name}; "
                f"the second is named {new}"
            )
            svc.name = new
        else:
            seen[svc.name] = 1


def _shape_operation(op: Operation, svc: Service, types: dict[str, TypeDef], model: Model) -> None:
    """One request struct and one response struct per stub, wrapping parts when needed."""

    def single_struct(parts: list[Part]) -> str | None:
        if len(parts) == 1 and parts[0].type in types and types[parts[0].type].kind == "struct":
            return parts[0].type
        return None

    def wrapper(parts: list[Part], suffix: str) -> str | None:
        if not parts:
            return None
        name = class_name(svc.name) + class_name(op.name) + suffix
        qname = "{%s}%s" % (svc.namespace, name)
        if qname in types:
            return qname
        t = TypeDef(
            id=qname,
            name=name,
            namespace=svc.namespace,
            kind="struct",
            documentation=f"The parts of {svc.name}.{op.name}'s {suffix.lower()} message.",
            origin=svc.wsdl,
            synthetic=True,
            fields=[
                Field(wire_name=p.name, python_name="", type=p.type, min_occurs=1) for p in parts
            ],
        )
        types[qname] = t
        model.types.append(t)
        return qname

    op.request_type = single_struct(op.input_parts)
    if op.request_type is None:
        op.request_type = wrapper(op.input_parts, "Input")
        op.request_wrapped = op.request_type is not None
    op.response_type = single_struct(op.output_parts)
    if op.response_type is None:
        op.response_type = wrapper(op.output_parts, "Output")
        op.response_wrapped = op.response_type is not None
    _detect_paging(op, types)


def _detect_paging(op: Operation, types: dict[str, TypeDef]) -> None:
    if not (op.name.startswith("get_") and op.name.endswith("_list")):
        return
    req = types.get(op.request_type or "")
    resp = types.get(op.response_type or "")
    if req is None or resp is None:
        return
    graph = TypeGraph(types)
    names = {f.wire_name for f in graph.all_fields(req)}
    if not {"limit", "offset"} <= names:
        return
    lists = [
        f
        for f in graph.all_fields(resp)
        if f.repeated or (f.type in types and types[f.type].kind == "array")
    ]
    if len(lists) == 1:
        op.pageable = True
        op.page_field = lists[0].wire_name


def _name_types(model: Model, services: set[str]) -> None:
    """Class names: the plain name for the first definition, `{Name}{N}` for other variants;
    never the name of a service class (`services`)."""
    taken: set[str] = set(services)
    ordered = sorted(model.types, key=lambda t: ("#" in t.id, t.name, t.id))
    for t in ordered:
        t.python_name = class_name(t.name, taken)


def _assign_modules(model: Model, types: dict[str, TypeDef]) -> None:
    """A type used by one service lives in that service's module; shared types in `common`.

    Usage flows from operations to everything their types reach, so a service module only ever
    imports `common`, and `common` imports nothing generated: no import cycles.
    """
    users: dict[str, set[str]] = defaultdict(set)
    graph = TypeGraph(types)
    for iface in model.interfaces:
        for svc in iface.services:
            for ref in graph.reachable(r for op in svc.operations for r in _op_refs(op)):
                users[ref].add(svc.name)
    for t in sorted(model.types, key=lambda t: t.id):
        if not users[t.id]:
            for ref in graph.reachable([t.id]):
                users[ref].add(_UNUSED)
    service_modules: dict[str, str] = {}
    taken = {COMMON_MODULE}
    for name in sorted({s for u in users.values() for s in u} - {_UNUSED}):
        service_modules[name] = module_name(name, taken)
    for t in model.types:
        u = users[t.id]
        t.module = (
            service_modules[next(iter(u))] if len(u) == 1 and _UNUSED not in u else (COMMON_MODULE)
        )


def _op_refs(op: Operation) -> Iterable[str]:
    for part in (*op.header_parts, *op.input_parts, *op.output_parts):
        yield part.type
    if op.request_type:
        yield op.request_type
    if op.response_type:
        yield op.response_type


def _check_wire_name(t: TypeDef, f: Field) -> None:
    if (
        not f.wire_name
        or any(c in f.wire_name for c in '\\"')
        or any(ord(c) < 0x20 for c in f.wire_name)
    ):
        raise GeneratorError(
            f"field name {f.wire_name!r} of {t.name} cannot be carried on the wire "
            "(empty, or a quote, backslash or control character)",
            file=t.origin.rpartition(":")[0] or t.origin,
        )


def _name_members(model: Model, types: dict[str, TypeDef]) -> None:
    """Field names unique along the inheritance chain and distinct from class names."""
    class_names = {t.python_name for t in model.types}
    done: set[str] = set()

    def visit(t: TypeDef) -> set[str]:
        inherited: set[str] = set()
        if t.base and t.base in types and types[t.base].kind == "struct":
            base = types[t.base]
            inherited = visit(base) if base.id not in done else _names(base, types)
        if t.id in done:
            return _names(t, types)
        done.add(t.id)
        taken = set(inherited) | class_names
        for f in t.fields:
            _check_wire_name(t, f)
            f.python_name = attr_name(f.wire_name, taken)
        return inherited | {f.python_name for f in t.fields}

    for t in sorted(model.types, key=lambda t: t.id):
        if t.kind == "struct":
            visit(t)


def _names(t: TypeDef, types: dict[str, TypeDef]) -> set[str]:
    return {f.python_name for f in TypeGraph(types).all_fields(t)}


def _name_enum_members(model: Model) -> None:
    """Enum member names: what the schema's documentation calls a value (`-1` documented as
    "debit account" -> `DEBIT_ACCOUNT`), else the value as UPPER_SNAKE; `_2`, `_3`... where
    two meet. Drift reports a member whose name changes (`enum-member-renamed`)."""
    for t in model.types:
        if t.kind != "enum":
            continue
        taken: set[str] = set()
        t.enum_names = []
        docs = t.enum_docs or ["" for _ in t.enum_values]
        named = [member_name_from_doc(doc) for doc in docs]
        # a documented name two values share names neither: both keep their value's name
        shared = {n for n in named if n is not None and named.count(n) > 1}
        for v, from_doc in zip(t.enum_values, named, strict=False):
            name = (
                from_doc if from_doc is not None and from_doc not in shared else constant_name(v)
            )
            n = 2
            base = name
            while name in taken:
                name = f"{base}_{n}"
                n += 1
            taken.add(name)
            t.enum_names.append(name)
