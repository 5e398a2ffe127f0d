"""API drift between two releases, read from two neutral models (never from the XML text).

Every rule answers one question: would a client generated from OLD break against a NEW server?
A change is `breaking`, `warning` (breaks strict clients, not these bindings) or `info`, and says
which direction it touches: `request` (what clients send), `response` (what they receive),
`both`, or `none`. Rule ids are stable; `docs/drift.md` lists them.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from .errors import GeneratorError
from .model import XSD_NS, Field, Model, Operation, TypeDef, TypeGraph
from .pytypes import _XSD_PY as _PYTHON_OF_XSD

Progress = Callable[[str, int, int], None]

Severity = Literal["breaking", "warning", "info"]
Direction = Literal["request", "response", "both", "none"]

# (widened-from, widened-to): safe for values a client sends, not for values it receives
_WIDENING = {
    ("int", "long"),
    ("short", "int"),
    ("short", "long"),
    ("float", "double"),
    ("int", "integer"),
}

RULES: dict[str, str] = {
    "service-added": "A service appeared.",
    "service-removed": "A service is gone: every call to it fails.",
    "method-added": "A method appeared (JSON-only methods included).",
    "method-removed": "A method is gone.",
    "method-renamed": "A method was renamed (same signature): calls by the old name fail.",
    "method-signature-changed": "A method's request or response type or parts changed.",
    "method-transport-changed": "A method became JSON-only, or gained a SOAP binding.",
    "method-deprecated": "A method is now documented as deprecated.",
    "method-undeprecated": "A method is no longer deprecated.",
    "method-doc-changed": "A method's documentation changed.",
    "type-added": "A type appeared.",
    "type-removed": "A type is gone (generated class names change).",
    "type-renamed": "A type was renamed with the same structure (generated class names change).",
    "type-doc-changed": "A type's documentation changed.",
    "type-base-changed": "A struct extends another base type.",
    "enum-value-added": "An enum gained a value.",
    "enum-value-removed": "An enum lost a value.",
    "field-added": "A struct gained a field.",
    "field-removed": "A struct lost a field.",
    "field-type-changed": "A field's type changed.",
    "field-array-item-changed": "A field's array type (its item type) changed.",
    "field-min-occurs-changed": "A field became required or optional.",
    "field-max-occurs-changed": "A field became repeated or single.",
    "field-nillable-changed": "A field may now, or may no longer, be nil.",
    "field-doc-changed": "A field's documentation changed.",
}


@dataclass(frozen=True)
class Change:
    rule: str
    severity: Severity
    direction: Direction
    interface: str = ""
    service: str = ""
    method: str = ""
    type: str = ""
    field: str = ""
    old: Any = None
    new: Any = None
    message: str = ""
    file: str = ""  # where it is: the WSDL/XSD file (OLD's when it exists there) ...
    line: int = 0  # ... and line (0: unknown)

    @property
    def path(self) -> str:
        """`admin/Account.get_account_list` or `AccountInfo.credit_limit`: for ignore files."""
        if self.method:
            return f"{self.interface}/{self.service}.{self.method}"
        if self.service:
            return f"{self.interface}/{self.service}"
        return f"{self.type}.{self.field}" if self.field else self.type

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path}


@dataclass
class Report:
    old: str
    new: str
    changes: list[Change]
    # interfaces one side did not fetch: not compared, never reported as removed
    not_compared: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"breaking": 0, "warning": 0, "info": 0}
        for c in self.changes:
            out[c.severity] += 1
        return out


# ---- model views --------------------------------------------------------------------------------


class _View:
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
        seen: set[str] = set()
        while ref not in seen:
            seen.add(ref)
            b = _builtin(ref)
            if b is not None:
                return _PYTHON_OF_XSD.get(b, "str")
            t = self.by_id.get(ref)
            if t is None or t.kind != "alias" or not t.base:
                return None
            ref = t.base
        return None

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
        return found

    def direction(self, name: str) -> set[str]:
        return self.directions.get(name, set())

    def all_fields(self, t: TypeDef) -> list[Field]:
        return self.graph.all_fields(t)


def _direction(ways: set[str]) -> Direction:
    if ways == {"in", "out"}:
        return "both"
    if ways == {"in"}:
        return "request"
    if ways == {"out"}:
        return "response"
    return "none"


def _builtin(ref: str) -> str | None:
    return ref.rpartition("}")[2] if ref.startswith("{" + XSD_NS + "}") else None


# ---- comparison ---------------------------------------------------------------------------------


class _Differ:
    def __init__(
        self,
        old: Model,
        new: Model,
        scope: set[str] | None = None,
        progress: Progress | None = None,
        bases: tuple[str, str] = ("", ""),
    ) -> None:
        self.a = _View(old, scope, bases[0])
        self.b = _View(new, scope, bases[1])
        self.out: list[Change] = []
        self.renamed: dict[str, str] = {}  # old type name -> new type name
        self.progress = progress
        self._total = len(self.a.types) + len(self.b.types) + len(self.a.ops) + len(self.b.ops)
        self._done = 0

    def tick(self, label: str, n: int = 1) -> None:
        self._done += n
        if self.progress is not None and (self._done % 200 < n or self._done >= self._total):
            self.progress(label, min(self._done, self._total), self._total)

    def add(
        self, rule: str, severity: Severity, direction: Direction, message: str, **keys: Any
    ) -> None:
        self.out.append(Change(rule, severity, direction, message=message, **keys))

    def _doc(self, rule: str, where: str, old: str, new: str, keys: dict[str, Any]) -> None:
        if old.strip() != new.strip():
            self.add(
                rule, "info", "none", f"documentation of {where} changed", old=old, new=new, **keys
            )

    def run(self) -> list[Change]:
        self._types()
        self._services_and_methods()
        self._fold_removed_services()
        if self.progress is not None:
            self.progress("compared", self._total, self._total)
        return sorted((self._located(c) for c in self.out), key=_order)

    def _fold_removed_services(self) -> None:
        """A removed service is one entry: the types only it used are listed under it."""
        gone = [c for c in self.out if c.rule == "service-removed"]
        if not gone:
            return
        removed_types = {c.type for c in self.out if c.rule == "type-removed"}
        folded: set[str] = set()
        for change in gone:
            key = (change.interface, change.service)
            mine = self.a.reach(
                r for k, op in self.a.ops.items() if k[:2] == key for r in self.a.op_refs(op)
            )
            others = self.a.reach(
                r for k, op in self.a.ops.items() if k[:2] != key for r in self.a.op_refs(op)
            )
            types = sorted((mine - others) & removed_types)
            folded.update(types)
            index = self.out.index(change)
            message = change.message + (f", with its {len(types)} types" if types else "")
            self.out[index] = replace(
                change,
                old={"operations": change.old, "types": types},
                message=message,
            )
        self.out = [c for c in self.out if not (c.rule == "type-removed" and c.type in folded)]

    def _located(self, c: Change) -> Change:
        """The file and line of what changed: OLD's (the committed cache) where it exists."""
        if c.service:
            key = (c.interface, c.service)
            view = self.a if key in self.a.services else self.b
            display = view.wsdl.get(key, "")
            if not display:
                return c
            path = _real(view, display)
            return replace(c, file=_shown(view, path), line=_line_of(path, c.method))
        if c.type:
            old_name = next((o for o, n in self.renamed.items() if n == c.type), c.type)
            t, view = self.a.types.get(old_name), self.a
            if t is None:
                t, view = self.b.types.get(c.type), self.b
            if t is not None and t.origin:
                display, _, line = t.origin.rpartition(":")
                if display and line.isdigit():
                    path = _real(view, display)
                    at = _element_line(path, int(line), c.field) if c.field else int(line)
                    return replace(c, file=_shown(view, path), line=at)
        return c

    # -- types --

    def _type_ref(self, view: _View, ref: str) -> str:
        """A field's type as comparable text, old names mapped through detected renames."""
        b = _builtin(ref)
        if b is not None:
            return b
        name = view.key(ref)
        return self.renamed.get(name, name) if view is self.a else name

    def _shape(self, view: _View, t: TypeDef) -> tuple[Any, ...]:
        fields = tuple(
            (f.wire_name, self._type_ref(view, f.type), f.min_occurs, f.max_occurs, f.nillable)
            for f in view.all_fields(t)
        )
        item = self._type_ref(view, t.item_type) if t.item_type else None
        return (t.kind, fields, item, tuple(t.enum_values), t.dimensions)

    def _types(self) -> None:
        removed = sorted(set(self.a.types) - set(self.b.types))
        added = sorted(set(self.b.types) - set(self.a.types))
        # renames: same structure, one candidate each way; structs first, then what refers to them
        for _ in range(3):
            shapes_new: dict[tuple[Any, ...], list[str]] = {}
            for name in added:
                if name not in self.renamed.values():
                    shapes_new.setdefault(self._shape(self.b, self.b.types[name]), []).append(name)
            shapes_old: dict[tuple[Any, ...], list[str]] = {}
            for name in removed:
                if name not in self.renamed:
                    shapes_old.setdefault(self._shape(self.a, self.a.types[name]), []).append(name)
            found = False
            for shape, olds in shapes_old.items():
                news = shapes_new.get(shape, [])
                distinctive = len(shape[1]) >= 2 or shape[2] is not None or bool(shape[3])
                if len(olds) == 1 and len(news) == 1 and distinctive:
                    self.renamed[olds[0]] = news[0]
                    found = True
            if not found:
                break
        for old, new in sorted(self.renamed.items()):
            ways = self.a.direction(old) | self.b.direction(new)
            self.add(
                "type-renamed",
                "breaking",
                _direction(ways),
                f"type {old} is now called {new}",
                type=new,
                old=old,
                new=new,
            )
        for name in removed:
            if name in self.renamed:
                continue
            t = self.a.types[name]
            self.add(
                "type-removed",
                "breaking",
                _direction(self.a.direction(name)),
                f"{t.kind} type {name} was removed",
                type=name,
                old=t.kind,
            )
        for name in added:
            if name in self.renamed.values():
                continue
            t = self.b.types[name]
            self.add(
                "type-added",
                "info",
                _direction(self.b.direction(name)),
                f"{t.kind} type {name} was added",
                type=name,
                new=t.kind,
            )
        self.tick("types", len(removed) + len(added))
        pairs = [(n, n) for n in sorted(set(self.a.types) & set(self.b.types))]
        for old_name, new_name in [*pairs, *sorted(self.renamed.items())]:
            self._type_changes(self.a.types[old_name], self.b.types[new_name], new_name)
            self.tick("types", 2)

    def _type_changes(self, old: TypeDef, new: TypeDef, name: str) -> None:
        ways = self.a.direction(self.a.key(old.id)) | self.b.direction(name)
        direction = _direction(ways)
        self._doc("type-doc-changed", name, old.documentation, new.documentation, {"type": name})
        if old.kind == "enum" or new.kind == "enum":
            before, after = set(old.enum_values), set(new.enum_values)
            for value in sorted(after - before):
                self.add(
                    "enum-value-added",
                    "warning" if "out" in ways else "info",
                    direction,
                    f"enum {name} gained {value!r}: strict clients reject it in replies; these bindings keep it",
                    type=name,
                    new=value,
                )
            for value in sorted(before - after):
                self.add(
                    "enum-value-removed",
                    "breaking" if "in" in ways else "info",
                    direction,
                    f"enum {name} lost {value!r}: requests that send it fail",
                    type=name,
                    old=value,
                )
        old_base = self._type_ref(self.a, old.base) if old.base and old.kind == "struct" else None
        new_base = self._type_ref(self.b, new.base) if new.base and new.kind == "struct" else None
        if old_base != new_base:
            self.add(
                "type-base-changed",
                "breaking",
                direction,
                f"{name} now extends {new_base}",
                type=name,
                old=old_base,
                new=new_base,
            )
        if old.kind == "struct" and new.kind == "struct":
            self._fields(old, new, name, ways)
        if old.kind == "array" and new.kind == "array" and old.item_type and new.item_type:
            ia, ib = self._type_ref(self.a, old.item_type), self._type_ref(self.b, new.item_type)
            if ia != ib:
                severity, why = self._retyped(old.item_type, new.item_type, ia, ib, ways)
                self.add(
                    "field-array-item-changed",
                    severity,
                    direction,
                    f"array {name} now holds {ib} (was {ia}){why}",
                    type=name,
                    old=ia,
                    new=ib,
                )

    def _retyped(
        self, ref_a: str, ref_b: str, ta: str, tb: str, ways: set[str]
    ) -> tuple[Severity, str]:
        """How much a value's type change matters, by what Python sees, and why."""
        pa, pb = self.a.python_type(ref_a), self.b.python_type(ref_b)
        if pa is not None and pa == pb:
            return "info", f"; Python sees {pa} either way"
        if (ta, tb) in _WIDENING and ways == {"in"}:
            return "info", "; a wider type for a value only sent is safe"
        kind_b = self.b.by_id.get(ref_b)
        if ta == "string" and kind_b is not None and kind_b.kind == "enum" and ways == {"out"}:
            return "info", "; received values stay strings"
        return "breaking", ""

    def _fields(self, old: TypeDef, new: TypeDef, name: str, ways: set[str]) -> None:
        direction = _direction(ways)
        a = {f.wire_name: f for f in old.fields}
        b = {f.wire_name: f for f in new.fields}
        keys = {"type": name}
        for wire in [w for w in b if w not in a]:
            f = b[wire]
            breaking = f.required and "in" in ways
            self.add(
                "field-added",
                "breaking" if breaking else "info",
                direction,
                f"{name}.{wire} was added" + (" as a required request field" if breaking else ""),
                field=wire,
                new=self._field_info(self.b, f),
                **keys,
            )
        for wire in [w for w in a if w not in b]:
            self.add(
                "field-removed",
                "breaking",
                direction,
                f"{name}.{wire} was removed",
                field=wire,
                old=self._field_info(self.a, a[wire]),
                **keys,
            )
        for wire in [w for w in a if w in b]:
            self._field_changes(a[wire], b[wire], name, ways)

    def _field_info(self, view: _View, f: Field) -> dict[str, Any]:
        return {
            "type": (
                self._type_ref(view, f.type)
                if view is self.b
                else _builtin(f.type) or view.key(f.type)
            ),
            "min_occurs": f.min_occurs,
            "max_occurs": "unbounded" if f.max_occurs is None else str(f.max_occurs),
            "nillable": f.nillable,
            "json_only": f.json_only,
        }

    def _field_changes(self, fa: Field, fb: Field, name: str, ways: set[str]) -> None:
        direction = _direction(ways)
        keys = {"type": name, "field": fb.wire_name}
        ta, tb = self._type_ref(self.a, fa.type), self._type_ref(self.b, fb.type)
        if ta != tb:
            kinds = (self._kind(self.a, fa.type), self._kind(self.b, fb.type))
            if kinds == ("array", "array"):
                # judged by the items, like a scalar field (an array of int widened to an
                # array of long is as safe in a request as an int widened to a long)
                item_a = self.a.by_id[fa.type].item_type or ""
                item_b = self.b.by_id[fb.type].item_type or ""
                severity, why = self._retyped(
                    item_a,
                    item_b,
                    self._type_ref(self.a, item_a),
                    self._type_ref(self.b, item_b),
                    ways,
                )
                self.add(
                    "field-array-item-changed",
                    severity,
                    direction,
                    f"{name}.{fb.wire_name} is now an {tb} (was {ta}){why}",
                    old=ta,
                    new=tb,
                    **keys,
                )
            else:
                severity, why = self._retyped(fa.type, fb.type, ta, tb, ways)
                self.add(
                    "field-type-changed",
                    severity,
                    direction,
                    f"{name}.{fb.wire_name} changed type from {ta} to {tb}{why}",
                    old=ta,
                    new=tb,
                    **keys,
                )
        if fa.min_occurs != fb.min_occurs:
            if fa.min_occurs == 0 and fb.min_occurs >= 1:
                breaking, text = "in" in ways, "became required"
            else:
                breaking, text = "out" in ways and fb.min_occurs == 0, "became optional"
            self.add(
                "field-min-occurs-changed",
                "breaking" if breaking else "info",
                direction,
                f"{name}.{fb.wire_name} {text}",
                old=fa.min_occurs,
                new=fb.min_occurs,
                **keys,
            )
        if fa.max_occurs != fb.max_occurs and (fa.repeated != fb.repeated):
            self.add(
                "field-max-occurs-changed",
                "breaking",
                direction,
                f"{name}.{fb.wire_name} is {'now' if fb.repeated else 'no longer'} repeated",
                old=fa.max_occurs,
                new=fb.max_occurs,
                **keys,
            )
        if fa.nillable != fb.nillable:
            breaking = ("out" in ways) if fb.nillable else ("in" in ways)
            self.add(
                "field-nillable-changed",
                "breaking" if breaking else "info",
                direction,
                f"{name}.{fb.wire_name} {'may now' if fb.nillable else 'may no longer'} be nil",
                old=fa.nillable,
                new=fb.nillable,
                **keys,
            )
        self._doc(
            "field-doc-changed", f"{name}.{fb.wire_name}", fa.documentation, fb.documentation, keys
        )

    def _kind(self, view: _View, ref: str) -> str:
        t = view.by_id.get(ref)
        return t.kind if t is not None else "builtin"

    # -- services and methods --

    def _signature(self, view: _View, op: Operation) -> dict[str, Any]:
        def parts(ps: Iterable[Any]) -> list[list[str]]:
            return [[p.name, self._type_ref(view, p.type)] for p in ps]

        wrapped_in = op.request_wrapped or op.request_type is None
        wrapped_out = op.response_wrapped or op.response_type is None
        return {
            "request": None if wrapped_in else self._type_ref(view, op.request_type or ""),
            "response": None if wrapped_out else self._type_ref(view, op.response_type or ""),
            "in_parts": parts(op.input_parts) if wrapped_in else [],
            "out_parts": parts(op.output_parts) if wrapped_out else [],
        }

    def _shape_of_op(self, view: _View, op: Operation) -> tuple[Any, ...]:
        def shape(ref: str | None) -> Any:
            t = view.by_id.get(ref or "")
            return None if t is None else self._shape(view, t)[1]

        return (shape(op.request_type), shape(op.response_type), op.transports)

    def _services_and_methods(self) -> None:
        for skey in sorted(set(self.a.services) - set(self.b.services)):
            self.add(
                "service-removed",
                "breaking",
                "both",
                f"service {skey[1]} was removed from {skey[0]}",
                interface=skey[0],
                service=skey[1],
                old=self.a.services[skey],
            )
        for skey in sorted(set(self.b.services) - set(self.a.services)):
            self.add(
                "service-added",
                "info",
                "none",
                f"service {skey[1]} was added to {skey[0]}",
                interface=skey[0],
                service=skey[1],
                new=self.b.services[skey],
            )
        live = set(self.a.services) & set(self.b.services)
        removed = [k for k in sorted(set(self.a.ops) - set(self.b.ops)) if k[:2] in live]
        added = [k for k in sorted(set(self.b.ops) - set(self.a.ops)) if k[:2] in live]
        renames: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for old in removed:
            shape = self._shape_of_op(self.a, self.a.ops[old])
            matches = [
                n
                for n in added
                if n[:2] == old[:2] and self._shape_of_op(self.b, self.b.ops[n]) == shape
            ]
            back = [
                o
                for o in removed
                if o[:2] == old[:2] and self._shape_of_op(self.a, self.a.ops[o]) == shape
            ]
            if len(matches) == 1 and len(back) == 1 and shape[0] is not None:
                renames[old] = matches[0]
        for old, new in renames.items():
            self.add(
                "method-renamed",
                "breaking",
                "both",
                f"{old[1]}.{old[2]} is now {new[2]}",
                interface=new[0],
                service=new[1],
                method=new[2],
                old=old[2],
                new=new[2],
            )
        for key in removed:
            if key not in renames:
                op = self.a.ops[key]
                self.add(
                    "method-removed",
                    "breaking",
                    "both",
                    f"{key[1]}.{key[2]} was removed",
                    interface=key[0],
                    service=key[1],
                    method=key[2],
                    old=op.transports,
                )
        for key in added:
            if key not in renames.values():
                op = self.b.ops[key]
                self.add(
                    "method-added",
                    "info",
                    "none",
                    f"{key[1]}.{key[2]} was added"
                    + (" (JSON API only)" if op.transports == "json" else ""),
                    interface=key[0],
                    service=key[1],
                    method=key[2],
                    new=op.transports,
                )
        self.tick("methods", len(removed) + len(added))
        for key in sorted(set(self.a.ops) & set(self.b.ops)):
            self._method_changes(key, self.a.ops[key], self.b.ops[key])
            self.tick("methods", 2)

    def _method_changes(self, key: tuple[str, str, str], a: Operation, b: Operation) -> None:
        keys = {"interface": key[0], "service": key[1], "method": key[2]}
        where = f"{key[1]}.{key[2]}"
        sa, sb = self._signature(self.a, a), self._signature(self.b, b)
        if sa != sb:
            self.add(
                "method-signature-changed",
                "breaking",
                "both",
                f"{where} changed its request or response",
                old=sa,
                new=sb,
                **keys,
            )
        if a.transports != b.transports:
            breaking = b.transports == "json"
            self.add(
                "method-transport-changed",
                "breaking" if breaking else "info",
                "both",
                f"{where} is now available over {b.transports}",
                old=a.transports,
                new=b.transports,
                **keys,
            )
        if a.deprecated != b.deprecated:
            rule = "method-deprecated" if b.deprecated else "method-undeprecated"
            self.add(
                rule,
                "info",
                "none",
                f"{where} is {'now' if b.deprecated else 'no longer'} deprecated",
                old=a.deprecated,
                new=b.deprecated,
                **keys,
            )
        self._doc("method-doc-changed", where, a.documentation, b.documentation, keys)


def _order(c: Change) -> tuple[int, str, str, str, str, str]:
    rank = {"breaking": 0, "warning": 1, "info": 2}[c.severity]
    return (rank, c.interface, c.service, c.method or "", c.type, c.field + c.rule)


def compare(
    old: Model,
    new: Model,
    *,
    old_fetched: Iterable[str] | None = None,
    new_fetched: Iterable[str] | None = None,
    progress: Progress | None = None,
    bases: tuple[str, str] = ("", ""),
) -> Report:
    """OLD against NEW. `*_fetched`: the interfaces each cache's manifest says were fetched
    (None: those the model has); an interface one side did not fetch is left out, not removed.
    `bases`: the folders the models' file names are relative to (the caches' parents); with
    them, changes name their file relative to the working directory and the line."""
    a = set(old_fetched) if old_fetched is not None else {i.name for i in old.interfaces}
    b = set(new_fetched) if new_fetched is not None else {i.name for i in new.interfaces}
    scope = None if a == b else a & b
    changes = _Differ(old, new, scope, progress, bases).run()
    return Report(old.release or "old", new.release or "new", changes, sorted(a ^ b))


def _real(view: _View, display: str) -> str:
    return os.path.join(view.base, display) if view.base else display


def _shown(view: _View, path: str) -> str:
    """A path as a report shows it: relative to the working directory when it is below it."""
    if not view.base:
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


@functools.lru_cache(maxsize=64)
def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ""


def _element_line(path: str, type_line: int, name: str) -> int:
    """The line of element `name` in the type defined at `type_line` (that line if not found:
    an inherited field or a field the new side added)."""
    lines = _read(path).splitlines()
    pattern = re.compile(rf"<(?:[\w.-]+:)?element\s[^>]*name=[\"']{re.escape(name)}[\"']")
    end = re.compile(r"</(?:[\w.-]+:)?complexType>")
    for number in range(type_line, len(lines) + 1):
        text = lines[number - 1]
        if pattern.search(text):
            return number
        if end.search(text):
            break
    return type_line


def _line_of(path: str, method: str) -> int:
    """The line of `method`'s operation in the WSDL (its portType comes first), else 1."""
    if not method:
        return 1
    text = _read(path)
    pattern = re.compile(rf"<(?:[\w.-]+:)?operation\s[^>]*name=[\"']{re.escape(method)}[\"']")
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


# ---- ignore files -------------------------------------------------------------------------------


_RULE_LIKE = re.compile(r"^[a-z*?\[\]]+(-[a-z*?\[\]]+)+$")


def load_ignore(text: str, source: str = "ignore file") -> list[tuple[str, str]]:
    """Lines `RULE`, `PATH`, or `RULE PATH` (`*` globs allowed); `#` starts a comment.

    A rule id that names no rule (a typo would silently ignore nothing) is an error, naming the
    file and line."""
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        first, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest:
            _known_rule(first, source, number)
            entries.append((first, rest))
        elif "/" not in first and "." not in first and fnmatch.filter(RULES, first):
            entries.append((first, "*"))
        elif _RULE_LIKE.match(first):
            _known_rule(first, source, number)
        else:
            entries.append(("*", first))
    return entries


def _known_rule(rule: str, source: str, line: int) -> None:
    if not fnmatch.filter(RULES, rule):
        raise GeneratorError(
            f"unknown drift rule id {rule!r}; the rules are listed in docs/drift.md "
            f"({', '.join(sorted(RULES)[:4])}, ...)",
            file=source,
            line=line,
        )


def apply_ignore(report: Report, entries: list[tuple[str, str]]) -> Report:
    def ignored(c: Change) -> bool:
        return any(
            fnmatch.fnmatchcase(c.rule, r) and fnmatch.fnmatchcase(c.path, p) for r, p in entries
        )

    kept = [c for c in report.changes if not ignored(c)]
    return Report(report.old, report.new, kept, report.not_compared)
