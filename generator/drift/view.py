"""One model as drift sees it: types by schema name, the directions they travel, operations."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import XSD_NS, Field, Model, Operation, TypeDef, TypeGraph
from ..pytypes import XSD_PY
from ..searches import search_fields
from .changes import Direction


class View:
    """One model as drift sees it: types by schema name, directions, operations by key."""

    def __init__(self, model: Model, scope: set[str] | None = None, base: str = "") -> None:
        self.model = model
        self.base = base  # the folder display paths are relative to ("": leave them as they are)
        self.by_id = model.type_index()
        self.graph = TypeGraph(self.by_id)
        self.ops: dict[tuple[str, str, str], Operation] = {}
        self.services: dict[tuple[str, str], int] = {}
        self.wsdl: dict[tuple[str, str], str] = {}  # service -> its file (display path)
        for iface in model.interfaces:
            if scope is not None and iface.name not in scope:
                continue
            for svc in iface.services:
                self.services[(iface.name, svc.name)] = len(svc.operations)
                self.wsdl[(iface.name, svc.name)] = svc.wsdl
                for op in svc.operations:
                    self.ops[(iface.name, svc.name, op.name)] = op
        # `Type.field` -> the (entity class, attribute) of `search` that filter on it
        self.searched = search_fields(model, scope)
        self.directions = self._directions()
        self.types: dict[str, TypeDef] = {}
        for t in model.types:
            # with interfaces left out, only the types the compared ones use are compared
            if not t.synthetic and (scope is None or self.key(t.id) in self.directions):
                self.types.setdefault(self.key(t.id), t)

    def reach(self, refs: Iterable[str]) -> set[str]:
        """Names of the types reachable from `refs` (bases, items, fields)."""
        return {self.key(r) for r in self.graph.reachable(list(refs))}

    def op_refs(self, op: Operation) -> list[str]:
        refs = [p.type for p in (*op.header_parts, *op.input_parts, *op.output_parts)]
        return refs + [r for r in (op.request_type, op.response_type) if r]

    def python_type(self, ref: str) -> str | None:
        """The Python type a value of `ref` has in the bindings (None: a class of its own)."""
        b = builtin(self.graph.underlying(ref, ("alias",)))
        return None if b is None else XSD_PY.get(b, "str")

    def key(self, ref: str) -> str:
        """A type's schema name (a `#N` variant of a clashing name keeps its suffix)."""
        t = self.by_id.get(ref)
        if t is None:
            return ref.rpartition("}")[2]
        suffix = ref.partition("#")[2]
        return f"{t.name}#{suffix}" if suffix else t.name

    def _directions(self) -> dict[str, set[str]]:
        ins: list[str] = []
        outs: list[str] = []
        for op in self.ops.values():
            ins.extend(p.type for p in (*op.header_parts, *op.input_parts))
            ins.extend(r for r in (op.request_type,) if r)
            outs.extend(p.type for p in op.output_parts)
            outs.extend(r for r in (op.response_type,) if r)
        found: dict[str, set[str]] = {}
        for way, starts in (("in", ins), ("out", outs)):
            for ref in self.graph.reachable(starts):
                found.setdefault(self.key(ref), set()).add(way)
        for where in self.searched:  # a searched record's fields are sent, as filter names
            found.setdefault(where.partition(".")[0], set()).add("in")
        return found

    def searches_on(self, type_name: str, wire: str) -> str:
        """`; searches filtering on it break (search.Customer.city)`, or "" when none does."""
        uses = self.searched.get(f"{type_name}.{wire}", [])
        if not uses:
            return ""
        names = ", ".join(f"search.{entity}.{attr}" for entity, attr in uses)
        return f"; searches filtering on it break ({names})"

    def direction(self, name: str) -> set[str]:
        return self.directions.get(name, set())

    def all_fields(self, t: TypeDef) -> list[Field]:
        return self.graph.all_fields(t)


def direction_of(ways: set[str]) -> Direction:
    if ways == {"in", "out"}:
        return "both"
    if ways == {"in"}:
        return "request"
    if ways == {"out"}:
        return "response"
    return "none"


def builtin(ref: str) -> str | None:
    return ref.rpartition("}")[2] if ref.startswith("{" + XSD_NS + "}") else None
