"""API drift between two releases, read from two neutral models (never from the XML text).

Every rule answers one question: would a client generated from OLD break against a NEW server?
A change is `breaking`, `warning` (breaks strict clients, not these bindings) or `info`, and says
which direction it touches: `request` (what clients send), `response` (what they receive),
`both`, or `none`. Rule ids are stable; `docs/drift.md` lists them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .model import XSD_NS, Field, Model, Operation, TypeDef, TypeGraph

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

    def counts(self) -> dict[str, int]:
        out = {"breaking": 0, "warning": 0, "info": 0}
        for c in self.changes:
            out[c.severity] += 1
        return out


# ---- model views --------------------------------------------------------------------------------


class _View:
    """One model as drift sees it: types by schema name, directions, operations by key."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.by_id = model.type_index()
        self.graph = TypeGraph(self.by_id)
        self.types: dict[str, TypeDef] = {}
        for t in model.types:
            if not t.synthetic:
                self.types.setdefault(self.key(t.id), t)
        self.ops: dict[tuple[str, str, str], Operation] = {}
        self.services: dict[tuple[str, str], int] = {}
        for iface in model.interfaces:
            for svc in iface.services:
                self.services[(iface.name, svc.name)] = len(svc.operations)
                for op in svc.operations:
                    self.ops[(iface.name, svc.name, op.name)] = op
        self.directions = self._directions()

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
    def __init__(self, old: Model, new: Model) -> None:
        self.a = _View(old)
        self.b = _View(new)
        self.out: list[Change] = []
        self.renamed: dict[str, str] = {}  # old type name -> new type name

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
        return sorted(self.out, key=_order)

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
        pairs = [(n, n) for n in sorted(set(self.a.types) & set(self.b.types))]
        for old_name, new_name in [*pairs, *sorted(self.renamed.items())]:
            self._type_changes(self.a.types[old_name], self.b.types[new_name], new_name)

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
                self.add(
                    "field-array-item-changed",
                    "breaking",
                    direction,
                    f"{name}.{fb.wire_name} is now an {tb} (was {ta})",
                    old=ta,
                    new=tb,
                    **keys,
                )
            else:
                safe = ((ta, tb) in _WIDENING and ways == {"in"}) or (
                    ta == "string" and kinds[1] == "enum" and ways == {"out"}
                )
                self.add(
                    "field-type-changed",
                    "info" if safe else "breaking",
                    direction,
                    f"{name}.{fb.wire_name} changed type from {ta} to {tb}",
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
        for key in sorted(set(self.a.ops) & set(self.b.ops)):
            self._method_changes(key, self.a.ops[key], self.b.ops[key])

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


def compare(old: Model, new: Model) -> Report:
    return Report(old.release or "old", new.release or "new", _Differ(old, new).run())


# ---- ignore files -------------------------------------------------------------------------------


def load_ignore(text: str) -> list[tuple[str, str]]:
    """Lines `RULE`, `PATH`, or `RULE PATH` (`*` globs allowed); `#` starts a comment."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        first, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest:
            entries.append((first, rest))
        elif "/" not in first and "." not in first and fnmatch.filter(RULES, first):
            entries.append((first, "*"))
        else:
            entries.append(("*", first))
    return entries


def apply_ignore(report: Report, entries: list[tuple[str, str]]) -> Report:
    def ignored(c: Change) -> bool:
        return any(
            fnmatch.fnmatchcase(c.rule, r) and fnmatch.fnmatchcase(c.path, p) for r, p in entries
        )

    return Report(report.old, report.new, [c for c in report.changes if not ignored(c)])
