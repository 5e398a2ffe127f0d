"""How model types are spelled in Python: annotations, enum bases, the names a module imports,
sorted the way isort (ruff's `I` rules) sorts them, and the SOAP schema names of each type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import GeneratorError
from .model import XSD_NS, Field, TypeDef, TypeGraph

# the Python type each XSD built-in reads as (a missing name reads as str)
XSD_PY: dict[str, str] = {
    "string": "str",
    "normalizedString": "str",
    "token": "str",
    "anyURI": "str",
    "QName": "str",
    "NOTATION": "str",
    "Name": "str",
    "NCName": "str",
    "ID": "str",
    "IDREF": "str",
    "IDREFS": "str",
    "ENTITY": "str",
    "ENTITIES": "str",
    "NMTOKEN": "str",
    "NMTOKENS": "str",
    "language": "str",
    "duration": "str",
    "gYear": "str",
    "gYearMonth": "str",
    "gMonth": "str",
    "gMonthDay": "str",
    "gDay": "str",
    "int": "int",
    "integer": "int",
    "long": "int",
    "short": "int",
    "byte": "int",
    "nonNegativeInteger": "int",
    "nonPositiveInteger": "int",
    "positiveInteger": "int",
    "negativeInteger": "int",
    "unsignedLong": "int",
    "unsignedInt": "int",
    "unsignedShort": "int",
    "unsignedByte": "int",
    "float": "float",
    "double": "float",
    "decimal": "Decimal",
    "boolean": "bool",
    "date": "date",
    "dateTime": "datetime",
    "time": "time",
    "base64Binary": "bytes",
    "hexBinary": "bytes",
    "base64": "bytes",
    "anyType": "Any",
    "anySimpleType": "Any",
}
# the standard-library module each non-builtin annotation name comes from
_STDLIB = {
    "date": "datetime",
    "datetime": "datetime",
    "time": "datetime",
    "Decimal": "decimal",
    "Any": "typing",
}
_INT_BASES = {k for k, v in XSD_PY.items() if v == "int"}
_STR_BASES = {k for k, v in XSD_PY.items() if v == "str"}
_STRING = "{%s}string" % XSD_NS


class PySpelling:
    """Annotations and imports for model references, over one model's type graph."""

    def __init__(self, graph: TypeGraph) -> None:
        self.graph = graph

    def py_type(self, ref: str | None, module: str | None = None) -> str:
        if ref is None:
            return "None"
        if ref.startswith("{" + XSD_NS + "}"):
            return XSD_PY.get(ref.rpartition("}")[2], "str")
        t = self.graph.get(ref)
        if t is None:
            raise GeneratorError(f"undefined type {ref} (referenced from module {module})")
        if t.kind == "struct" or (t.kind == "enum" and self.enum_base(t) is not None):
            return t.python_name
        if t.kind == "array":
            inner = self.py_type(t.item_type, module)
            for _ in range(t.dimensions):
                inner = f"list[{inner}]"
            return inner
        return self.py_type(t.base or _STRING, module)

    def annotation(self, f: Field, module: str | None = None) -> str:
        base = self.py_type(f.type, module)
        if f.repeated:
            base = f"list[{base}]"
        # Servers send null for optional fields whatever the schema says, so every optional
        # field admits None; a required one only when nillable. Unset (not sent) stays distinct.
        if f.nillable or not f.required:
            base += " | None"
        if not f.required:
            base += " | UnsetType"
        return base

    def enum_base(self, t: TypeDef) -> str | None:
        """`OpenStrEnum` / `OpenIntEnum`, or None when the enum's base maps to neither."""
        base = self.graph.underlying(t.base or "", ("alias", "enum"))
        local = base.rpartition("}")[2]
        if local in _INT_BASES and all(_is_int(v) for v in t.enum_values):
            return "OpenIntEnum"
        if local in _STR_BASES or not base:
            return "OpenStrEnum"
        return None

    def enum_kind(self, t: TypeDef) -> str | None:
        return self.enum_base(t) if t.kind == "enum" else None

    def is_class(self, t: TypeDef) -> bool:
        """Whether the type becomes a generated class (a struct, or an enum with a Python base)."""
        return t.kind == "struct" or self.enum_kind(t) is not None

    def names_used(self, refs: Iterable[str]) -> tuple[set[str], set[str]]:
        """(generated class ids, stdlib names) that annotations of `refs` mention."""
        classes: set[str] = set()
        stdlib: set[str] = set()
        seen: set[str] = set()
        stack = list(refs)
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if ref.startswith("{" + XSD_NS + "}"):
                name = XSD_PY.get(ref.rpartition("}")[2], "str")
                if name in _STDLIB:
                    stdlib.add(name)
                continue
            t = self.graph.index[ref]
            if self.is_class(t):
                classes.add(ref)
            elif t.kind == "array":
                stack.append(t.item_type or "")
            else:
                stack.append(t.base or _STRING)
        return classes, stdlib

    def add_imports(self, imports: Imports, refs: Iterable[str], module: str, prefix: str) -> None:
        """What annotations of `refs` need in `module`: stdlib names, generated classes."""
        classes, stdlib = self.names_used(refs)
        for name in stdlib:
            imports.add(_STDLIB[name], name)
        for ref in classes:
            t = self.graph.index[ref]
            if t.module != module:
                imports.add(prefix + t.module, t.python_name)

    def wire_qname(self, ref: str) -> str:
        """The `xsi:type` of a part: a type's schema name (its id may carry a `#N` variant)."""
        t = self.graph.get(ref)
        if t is None:
            return ref
        return t.qname if t.kind == "struct" else self.simple_base(ref)

    def simple_base(self, ref: str) -> str:
        """The XSD built-in an enum or alias restricts: SOAP::Lite rejects unknown simple types."""
        ref = self.graph.underlying(ref, ("enum", "alias"), _STRING)
        return ref if ref.startswith("{" + XSD_NS + "}") else _STRING


# ---- imports, sorted as isort / ruff's `I` rules sort them ---------------------------------------

THIRD_PARTY = frozenset({"msgspec", "httpx", "lxml"})
_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.lower()))


def member_key(name: str) -> tuple[object, ...]:
    """CONSTANTS, then Classes, then the rest; case-insensitive, numbers in natural order."""
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, _natural(name), name)


def isort_names(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=member_key)


def _module_key(module: str) -> tuple[object, ...]:
    level = len(module) - len(module.lstrip("."))
    return (-level, _natural(module.lstrip(".")), module)  # furthest relative first


def import_key(module: str, name: str) -> tuple[object, ...]:
    """Where `from module import name` goes among one-name-per-line imports."""
    return (_module_key(module), member_key(name))


class Imports:
    """`from module import name` lines for one module, emitted in isort's sections and order."""

    def __init__(self) -> None:
        self.froms: dict[str, set[str]] = {}

    def add(self, module: str, *names: str) -> Imports:
        self.froms.setdefault(module, set()).update(names)
        return self

    def lines(self) -> list[str]:
        """Sections (standard library, third party, relative) separated by one blank line."""
        sections: list[list[str]] = [[], [], []]
        for module in sorted(self.froms, key=_module_key):
            top = module.split(".")[0]
            index = 2 if module.startswith(".") else 1 if top in THIRD_PARTY else 0
            names = ", ".join(isort_names(self.froms[module]))
            sections[index].append(f"from {module} import {names}")
        out: list[str] = []
        for section in sections:
            if section:
                if out:
                    out.append("")
                out.extend(section)
        return out


# String-derived XSD built-ins that SOAP::Lite's deserializer does not know ("Unrecognized
# type"): their text is a string's, so they travel as xsd:string.
_STRING_LIKE = {
    "normalizedString",
    "token",
    "Name",
    "NCName",
    "NMTOKEN",
    "NMTOKENS",
    "ID",
    "IDREF",
    "IDREFS",
    "ENTITY",
    "ENTITIES",
    "NOTATION",
}


def _wire_builtin(ref: str) -> str:
    if ref.startswith("{" + XSD_NS + "}") and ref.rpartition("}")[2] in _STRING_LIKE:
        return "{%s}string" % XSD_NS
    return ref


class XsdTable:
    """Writes type references as `PREFIX + "local"` expressions, one constant per namespace."""

    def __init__(self, spelling: PySpelling) -> None:
        self.spelling = spelling
        self.names: dict[str, str] = {}

    def prefixes(self) -> list[tuple[str, str]]:
        return sorted((name, ns) for ns, name in self.names.items())

    def qname(self, qname: str) -> str:
        ns, _, local = qname[1:].partition("}") if qname.startswith("{") else ("", "", qname)
        name = self.names.get(ns)
        if name is None:
            name = "XSD" if ns == XSD_NS else f"NS{len([n for n in self.names if n != XSD_NS])}"
            self.names[ns] = name
        return f"{name} + {local!r}"

    def type_spec(self, ref: str) -> str:
        t = self.spelling.graph.get(ref)
        if t is None:
            return self.qname(_wire_builtin(ref))
        if t.kind == "struct":
            return self.qname(t.qname)
        if t.kind == "array":
            spec = self.type_spec(t.item_type or "{%s}anyType" % XSD_NS)
            for _ in range(t.dimensions):
                spec = f'("[]", {spec})'
            return spec
        return self.qname(_wire_builtin(self.spelling.simple_base(ref)))

    def spec(self, f: Field) -> str:
        spec = self.type_spec(f.type)
        return f'("*", {spec})' if f.repeated else spec


def _is_int(v: str) -> bool:
    try:
        int(v)
    except ValueError:
        return False
    return True
