"""OpenAPI (JSON API) document -> methods and TypeDefs in the same neutral form as the WSDL parser.

PortaBilling's OpenAPI documents list every method, including JSON-only ones that no WSDL has;
their schemas become TypeDefs in the SOAP types namespace, so equal names meet equal WSDL types.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import GeneratorError
from .model import Field, TypeDef, xsd

PORTA_NS = "http://schemas.portaone.com/soap"
_REF = "#/components/schemas/"
# fullmatch (`$` also matches before a trailing newline: "/Account/get\n" is not a method path)
_PATH_RE = re.compile(r"(?:/rest)?/(?P<service>[A-Za-z0-9_]+)/(?P<method>[A-Za-z0-9_]+)")

_SCALARS = {
    ("integer", None): "int",
    ("integer", "int32"): "int",
    ("integer", "int64"): "long",
    ("number", None): "double",
    ("number", "float"): "float",
    ("number", "double"): "double",
    ("string", None): "string",
    ("string", "date"): "date",
    ("string", "date-time"): "dateTime",
    ("string", "time"): "time",
    ("string", "byte"): "base64Binary",
    ("string", "binary"): "base64Binary",
    ("boolean", None): "boolean",
}


@dataclass
class OpenApiMethod:
    service: str
    method: str
    documentation: str
    deprecated: bool
    json_only: bool
    request_type: str | None
    response_type: str | None


@dataclass
class ParsedOpenApi:
    path: str
    methods: list[OpenApiMethod] = field(default_factory=list)
    types: dict[str, TypeDef] = field(default_factory=dict)
    release: str = ""


def load_openapi(path: str, display: str) -> ParsedOpenApi:
    try:
        with open(path, "rb") as fh:
            doc = json.loads(fh.read())
    except json.JSONDecodeError as exc:
        raise GeneratorError(f"malformed JSON: {exc.msg}", file=display, line=exc.lineno) from None
    except OSError as exc:
        raise GeneratorError(f"cannot read: {exc.strerror}", file=display) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise GeneratorError("not an OpenAPI document (no 'paths' object)", file=display)
    return _Converter(doc, display).run(path)


class _Converter:
    def __init__(self, doc: dict[str, Any], display: str) -> None:
        self.doc = doc
        self.display = display
        components = doc.get("components", {})
        self.schemas: dict[str, Any] = (
            components.get("schemas", {}) if isinstance(components, dict) else {}
        )
        self.types: dict[str, TypeDef] = {}

    def run(self, path: str) -> ParsedOpenApi:
        result = ParsedOpenApi(path=path, release=str(self.doc.get("info", {}).get("version", "")))
        for url in sorted(self.doc["paths"]):
            m = _PATH_RE.fullmatch(url)
            post = (
                self.doc["paths"][url].get("post")
                if isinstance(self.doc["paths"][url], dict)
                else None
            )
            if not m or not isinstance(post, dict):
                continue
            req_schema = (
                post.get("requestBody", {})
                .get("content", {})
                .get("application/x-www-form-urlencoded", {})
                .get("schema", {})
                .get("properties", {})
                .get("params")
            )
            resp_schema = (
                post.get("responses", {})
                .get("200", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            ctx = f"{m['service']}.{m['method']}"
            result.methods.append(
                OpenApiMethod(
                    service=m["service"],
                    method=m["method"],
                    documentation=" ".join(str(post.get("description", "")).split()),
                    deprecated=bool(post.get("deprecated", False)),
                    json_only=bool(post.get("x-json-only", False)),
                    request_type=self.ref(req_schema, ctx + "Params") if req_schema else None,
                    response_type=self.ref(resp_schema, ctx + "Result") if resp_schema else None,
                )
            )
        result.types = self.types
        return result

    def ref(self, schema: Any, context: str) -> str:
        if not isinstance(schema, dict):
            raise GeneratorError(f"schema of {context} is not an object", file=self.display)
        if "$ref" in schema:
            return self._named(schema["$ref"], context)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self.ref(all_of[0], context)
        if (
            schema.get("enum") is not None
            or schema.get("type") in ("object", "array")
            or ("properties" in schema)
        ):
            qname = self._convert(schema, "{%s}%s" % (PORTA_NS, _anon(context)), context)
            self.types[qname].synthetic = True  # an inline schema: named by us, not the vendor
            return qname
        return self._scalar(schema, context)

    def _named(self, ref: str, context: str) -> str:
        if not ref.startswith(_REF) or ref[len(_REF) :] not in self.schemas:
            raise GeneratorError(f"unresolvable $ref {ref!r} (in {context})", file=self.display)
        name = ref[len(_REF) :]
        qname = "{%s}%s" % (PORTA_NS, name)
        if qname not in self.types:
            self._convert(self.schemas[name], qname, name)
        return qname

    def _scalar(self, schema: dict[str, Any], context: str) -> str:
        kind = schema.get("type")
        fmt = schema.get("format") if isinstance(schema.get("format"), str) else None
        local = _SCALARS.get((str(kind), fmt)) or _SCALARS.get((str(kind), None))
        if local is None:
            return xsd("anyType")
        return xsd(local)

    def _convert(self, schema: dict[str, Any], qname: str, context: str) -> str:
        ns, _, local = qname[1:].partition("}")
        tdef = TypeDef(
            id=qname,
            name=local,
            namespace=ns,
            kind="struct",
            documentation=" ".join(str(schema.get("description", "")).split()),
            origin=f"{self.display}#/components/schemas/{local}",
        )
        self.types[qname] = tdef
        if schema.get("enum") is not None:
            tdef.kind = "enum"
            tdef.base = self._scalar(schema, context)
            tdef.enum_values = [str(v) for v in schema["enum"]]
            tdef.enum_docs = ["" for _ in schema["enum"]]
        elif schema.get("type") == "array":
            tdef.kind = "array"
            tdef.item_type = self.ref(schema.get("items", {}), local + "Item")
        else:
            required = set(schema.get("required", []) or [])
            props = schema.get("properties", {}) or {}
            for name in props:
                prop = props[name]
                nullable = bool(prop.get("nullable")) if isinstance(prop, dict) else False
                tdef.fields.append(
                    Field(
                        wire_name=name,
                        python_name="",
                        type=self.ref(prop, f"{local}_{name}"),
                        min_occurs=1 if name in required else 0,
                        nillable=nullable,
                        documentation=(
                            " ".join(str(prop.get("description", "")).split())
                            if isinstance(prop, dict)
                            else ""
                        ),
                    )
                )
        return qname


def _anon(context: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", context) if p)
