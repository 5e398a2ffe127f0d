"""The neutral model: plain data that parsing produces and rendering, drift and tests all read.

Type references are strings: `{namespace}local` for XSD built-ins, or the `id` of a `TypeDef`
(which is its qualified name, made unique when two different definitions share one).
"""

from __future__ import annotations

import dataclasses
import json
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
    documentation: str = ""
    origin: str = ""  # file:line of the definition
    synthetic: bool = False  # made by the generator (multi-part messages), not in the schema

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.name}"


@dataclass
class Part:
    name: str
    type: str  # a type id or an XSD built-in
    element: str | None = None  # document/literal: the element's qualified name


@dataclass
class Operation:
    name: str
    python_name: str = ""
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
    module: str = ""
    wsdl: str = ""  # file the service came from, relative to the cache
    namespace: str = ""
    endpoint: str = ""
    soap_version: str = "1.1"
    documentation: str = ""
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Interface:
    name: str  # admin, customer, reseller, account, or a folder name for plain WSDL sets
    python_name: str = ""
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def xsd(local: str) -> str:
    return f"{{{XSD_NS}}}{local}"

