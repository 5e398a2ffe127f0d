"""The drift rules: every one answers whether a client generated from OLD breaks against NEW.

A change is `breaking`, `warning` (breaks strict clients, not these bindings) or `info`, and says
which direction it touches: `request` (what clients send), `response` (what they receive),
`both`, or `none`. Rule ids are stable; `docs/drift.md` lists them. One module though over 500
lines: every rule reads the same two views and the renames found first, so they are one job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ..model import Field, Model, Operation, TypeDef
from .changes import Change, Direction, Progress, Report, Severity
from .locate import locate
from .view import View, builtin, direction_of

# (widened-from, widened-to): safe for values a client sends, not for values it receives
_WIDENING = {
    ("int", "long"),
    ("short", "int"),
    ("short", "long"),
    ("float", "double"),
    ("int", "integer"),
}


class Differ:
    def __init__(
        self,
        old: Model,
        new: Model,
        scope: set[str] | None = None,
        progress: Progress | None = None,
        bases: tuple[str, str] = ("", ""),
    ) -> None:
        self.a = View(old, scope, bases[0])
        self.b = View(new, scope, bases[1])
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
        located = (locate(c, self.a, self.b, self.renamed) for c in self.out)
        return sorted(located, key=_order)

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

    # -- types --

    def _type_ref(self, view: View, ref: str) -> str:
        """A field's type as comparable text, old names mapped through detected renames."""
        b = builtin(ref)
        if b is not None:
            return b
        name = view.key(ref)
        return self.renamed.get(name, name) if view is self.a else name

    def _shape(self, view: View, t: TypeDef) -> tuple[Any, ...]:
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
                direction_of(ways),
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
                direction_of(self.a.direction(name)),
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
                direction_of(self.b.direction(name)),
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
        direction = direction_of(ways)
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
            old_names = dict(zip(old.enum_values, old.enum_names, strict=False))
            new_names = dict(zip(new.enum_values, new.enum_names, strict=False))
            for value in sorted(before & after):
                was, now = old_names.get(value), new_names.get(value)
                if was and now and was != now:  # named after its documentation, which changed
                    self.add(
                        "enum-member-renamed",
                        "breaking",
                        direction,
                        f"enum {name}: the member for {value!r} is now {now} (was {was}, its "
                        f"documentation changed): code naming {name}.{was} fails",
                        type=name,
                        old=was,
                        new=now,
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
        direction = direction_of(ways)
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
                f"{name}.{wire} was removed" + self.a.searches_on(name, wire),
                field=wire,
                old=self._field_info(self.a, a[wire]),
                **keys,
            )
        for wire in [w for w in a if w in b]:
            self._field_changes(a[wire], b[wire], name, ways)

    def _field_info(self, view: View, f: Field) -> dict[str, Any]:
        return {
            "type": (
                self._type_ref(view, f.type)
                if view is self.b
                else builtin(f.type) or view.key(f.type)
            ),
            "min_occurs": f.min_occurs,
            "max_occurs": "unbounded" if f.max_occurs is None else str(f.max_occurs),
            "nillable": f.nillable,
            "json_only": f.json_only,
        }

    def _field_changes(self, fa: Field, fb: Field, name: str, ways: set[str]) -> None:
        direction = direction_of(ways)
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

    def _kind(self, view: View, ref: str) -> str:
        t = view.by_id.get(ref)
        return t.kind if t is not None else "builtin"

    # -- services and methods --

    def _signature(self, view: View, op: Operation) -> dict[str, Any]:
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

    def _shape_of_op(self, view: View, op: Operation) -> tuple[Any, ...]:
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
    changes = Differ(old, new, scope, progress, bases).run()
    return Report(old.release or "old", new.release or "new", changes, sorted(a ^ b))
