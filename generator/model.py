"""The neutral model: plain data that parsing produces and rendering, drift and tests all read.

Type references are strings: `{namespace}local` for XSD built-ins, or the `id` of a `TypeDef`
(which is its qualified name, made unique when two different definitions share one).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

XSD_NS = "http://www.w3.org/2001/XMLSchema"

TypeKind = Literal["struct", "array", "enum", "alias"]
Transports = Literal["soap+json", "json"]


@dataclass
class Field:
    wire_name: str
    python_name: str
    type: str
    min_occurs: int = 0
    max_occurs: int | None = 1  # None: unbounded
    nillable: bool = False
    documentation: str = ""
    json_only: bool = False  # present only in the OpenAPI document (e.g. `3pcc_enabled`)
    namespace: str = ""  # the element's namespace when qualified (document/literal schemas)

    @property
    def repeated(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1

    @property
    def required(self) -> bool:
        return self.min_occurs > 0


@dataclass
class TypeDef:
    id: str
    name: str  # local name in the schema
    namespace: str
    kind: TypeKind
    python_name: str = ""
    module: str = ""
    base: str | None = None  # struct: the extended type; enum/alias: the simple base type
    fields: list[Field] = field(default_factory=list)
    item_type: str | None = None  # array
    dimensions: int = 1  # array: soapenc arrayType rank, `T[][]` or `T[,]`
    enum_values: list[str] = field(default_factory=list)
    enum_docs: list[str] = field(default_factory=list)
    enum_names: list[str] = field(default_factory=list)  # Python member names, one per value
    documentation: str = ""
    origin: str = ""  # file:line of the definition
    synthetic: bool = False  # made by the generator (multi-part messages), not in the schema

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.name}"

    @property
    def enum_members(self) -> list[tuple[str, str, str]]:
        """(member name, value, documentation) per enum value."""
        docs = self.enum_docs or ["" for _ in self.enum_values]
        return list(zip(self.enum_names, self.enum_values, docs, strict=False))


@dataclass
class Part:
    name: str
    type: str  # a type id or an XSD built-in
    element: str | None = None  # document/literal: the element's qualified name


@dataclass
class Operation:
    name: str
    python_name: str = ""
    const_name: str = ""  # the module constant holding the operation's spec
    iter_name: str = ""  # pageable: the iterator method next to the get_*_list one
    iter_keywords: str = ""  # pageable: the TypedDict of the iterator's keyword arguments
    documentation: str = ""
    deprecated: bool = False
    style: str = "rpc"
    use: str = "encoded"
    soap_action: str = ""
    namespace: str = ""  # rpc body namespace: SOAP::Lite picks the handler class from it
    transports: Transports = "soap+json"
    header_parts: list[Part] = field(default_factory=list)
    input_parts: list[Part] = field(default_factory=list)
    output_parts: list[Part] = field(default_factory=list)
    request_type: str | None = None  # the one struct the stub takes (a part's type or synthetic)
    response_type: str | None = None
    request_wrapped: bool = False  # True: the request struct's fields are the message parts
    response_wrapped: bool = False
    pageable: bool = False  # get_*_list with limit/offset: the stub also gets an iterator
    page_field: str | None = None  # the response field that holds the page's items


@dataclass
class Service:
    name: str
    python_name: str = ""
    async_python_name: str = ""
    module: str = ""
    wsdl: str = ""  # file the service came from, relative to the cache
    namespace: str = ""
    endpoint: str = ""
    endpoint_path: str = ""  # the endpoint's path, rebased by clients onto their base URL
    soap_version: str = "1.1"
    documentation: str = ""
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Interface:
    name: str  # admin, customer, reseller, account, or a folder name for plain WSDL sets
    python_name: str = ""  # the subpackage
    client_class: str = ""
    async_client_class: str = ""
    default_port: int | None = None
    services: list[Service] = field(default_factory=list)


@dataclass
class Model:
    release: str = ""
    source_hash: str = ""  # sha256 over the manifest (or the input files): goes in every header
    interfaces: list[Interface] = field(default_factory=list)
    types: list[TypeDef] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def type_index(self) -> dict[str, TypeDef]:
        return {t.id: t for t in self.types}

    def graph(self) -> TypeGraph:
        return TypeGraph(self.type_index())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def xsd(local: str) -> str:
    return f"{{{XSD_NS}}}{local}"


# ---- the type graph -----------------------------------------------------------------------------


def references(t: TypeDef) -> Iterator[str]:
    """The type references one definition makes: its base, its array item, its fields' types."""
    if t.base:
        yield t.base
    if t.item_type:
        yield t.item_type
    for f in t.fields:
        yield f.type


class TypeGraph:
    """Types by reference, and the two walks every stage needs: along bases, and reachability.

    Works on any index (the model's ids, or one parsed file's qualified names); a reference the
    index does not hold (an XSD built-in, an unresolved name) is a leaf.
    """

    def __init__(self, index: Mapping[str, TypeDef]) -> None:
        self.index = index

    def get(self, ref: str | None) -> TypeDef | None:
        return self.index.get(ref) if ref else None

    def base_chain(self, t: TypeDef) -> list[TypeDef]:
        """`t`, its base, the base's base...: most derived first, cycles cut."""
        chain: list[TypeDef] = []
        cur: TypeDef | None = t
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = self.get(cur.base)
        return chain

    def all_fields(self, t: TypeDef | str | None) -> list[Field]:
        """Every field of a struct along its base chain, the root's first (wire order)."""
        found = self.get(t) if isinstance(t, str) or t is None else t
        if found is None:
            return []
        return [f for c in reversed(self.base_chain(found)) for f in c.fields]

    def underlying(self, ref: str, kinds: Container[str], missing: str = "") -> str:
        """Where `ref` leads along the bases of types of `kinds` (an enum's or alias's
        restriction, say): the first reference the index does not hold as one of `kinds` (a
        base left out reads as `missing`; cycles cut at the repeated reference)."""
        seen: set[str] = set()
        while (t := self.get(ref)) is not None and t.kind in kinds and ref not in seen:
            seen.add(ref)
            ref = t.base or missing
        return ref

    def reachable(self, starts: Iterable[str]) -> set[str]:
        """The references of the index that `starts` lead to (themselves included)."""
        seen: set[str] = set()
        stack = list(starts)
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            t = self.index.get(ref)
            if t is None:
                continue
            seen.add(ref)
            stack.extend(references(t))
        return seen
