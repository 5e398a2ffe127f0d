"""Which drift record explains a new diagnostic: the release's changes, spelled as Python names.

Each record of the drift report becomes the names a user's code would use to touch it, taken from
the two models (the generator's own naming): a removed field is its attribute and keyword name
on its class (and on the `search` entity that filters on it), a renamed or removed method is the stub method (and its `iter_*` pager) on the
service class, a removed service is the client attribute, a type is its class. A diagnostic is
explained by the records whose name it mentions (in mypy's message) or its line uses (in the
user's source), the ones mentioning their class or method too first. A request field that became
required is the one case where the line does not name the field: a call of one of the methods
taking that request (or of its class) that mypy refuses for a missing argument.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..drift import Change
from ..model import Field, Model, Operation, Service, TypeDef, TypeGraph
from ..searches import search_fields
from .checker import Diagnostic

_QUOTED = re.compile(r'"([^"]+)"')
_MISSING_CODES = {"call-arg", "call-overload"}  # a call refused (no overload matches, ...)
# changes that never make the user's code fail to type-check
_QUIET = re.compile(r"-doc-changed\Z|^method-(un)?deprecated\Z|^(service|method|type)-added\Z")


@dataclass(frozen=True)
class _Subject:
    change: Change
    names: frozenset[str]  # what must be mentioned: the attribute, method, class...
    context: frozenset[str]  # what makes it surer: the class or method it belongs to
    missing: frozenset[str]  # a call of these refused for a missing argument (required fields)


class Explainer:
    def __init__(self, changes: Iterable[Change], old: Model, new: Model) -> None:
        self._old, self._new = _Names(old), _Names(new)
        self.subjects = [s for c in changes if (s := self._subject(c)) is not None]

    def explain(self, diagnostic: Diagnostic, source: Path) -> list[Change]:
        """The records that explain `diagnostic`, best first (none: no record matched)."""
        mentioned = _mentioned(diagnostic)
        used = _used(str(source), diagnostic.line)
        for wanted in (("breaking", "warning"), ("info",)):
            scored = [
                (score, s.change)
                for s in self.subjects
                if s.change.severity in wanted
                and (score := _score(s, mentioned, used, diagnostic.code)) > 0
            ]
            if scored:
                best = max(score for score, _ in scored)
                return [c for score, c in scored if score == best]
        return []

    def _subject(self, c: Change) -> _Subject | None:
        if _QUIET.search(c.rule):
            return None
        if c.rule == "field-added" and c.severity != "breaking":
            return None
        sides = (self._old, self._new)
        if c.field:
            names: set[str] = set()
            context: set[str] = set()
            methods: set[str] = set()
            for side in sides:
                t = side.types.get(c.type)
                if t is None:
                    continue
                context.add(t.python_name)
                names.update(f.python_name for f in side.fields(t) if f.wire_name == c.field)
                methods.update(side.taking(c.type))
                for entity, attr in side.searched.get(f"{c.type}.{c.field}", []):
                    context.add(entity)  # `Customer.i_template` in a search
                    names.add(attr)
            names = names or {c.field}
            context |= methods
            required = c.rule == "field-added" or (
                c.rule == "field-min-occurs-changed" and c.new and not c.old
            )
            missing = context if required else set()
            return _Subject(c, frozenset(names), frozenset(context), frozenset(missing))
        if c.method:
            old_name = str(c.old) if c.rule == "method-renamed" else c.method
            op, svc = self._old.operation(c.interface, c.service, old_name)
            names = {old_name} if op is None else {op.python_name, op.iter_name} - {""}
            context = (
                set() if svc is None else {svc.python_name, svc.async_python_name, svc.module}
            )
            return _Subject(c, frozenset(names), frozenset(context), frozenset())
        if c.service:
            svc = self._old.service(c.interface, c.service)
            if svc is None:
                return None
            names = {svc.module, svc.python_name, svc.async_python_name}
            return _Subject(c, frozenset(names), frozenset(), frozenset())
        if c.type:
            old_type = str(c.old) if c.rule == "type-renamed" else c.type
            t = self._old.types.get(old_type)
            if t is None:
                return None
            names = {t.python_name}
            context = set()
            if c.rule == "enum-member-renamed":
                names = {str(c.old)}
                context = {t.python_name}
            elif c.rule.startswith("enum-value"):
                value = c.old if c.rule == "enum-value-removed" else c.new
                names = {n for n, v, _ in t.enum_members if v == value} or {str(value)}
                context = {t.python_name}
            return _Subject(c, frozenset(names), frozenset(context), frozenset())
        return None


def _score(s: _Subject, mentioned: set[str], used: set[str], code: str) -> int:
    context = (2 if s.context & mentioned else 0) + (1 if s.context & used else 0)
    if s.names & mentioned:
        return 4 + context
    if s.names & used:
        return 2 + context
    if s.missing and code in _MISSING_CODES and s.missing & (mentioned | used):
        return 3 if s.missing & mentioned else 1
    return 0


def _mentioned(d: Diagnostic) -> set[str]:
    """Names quoted in mypy's message and notes (`"OddInfo"`, `"get_odd_list" of "EdgeService"`),
    dotted ones also by their last part."""
    found: set[str] = set()
    for text in (d.message, *d.notes):
        for quoted in _QUOTED.findall(text):
            found.add(quoted)
            found.add(quoted.rpartition(".")[2])
    return found


@functools.lru_cache(maxsize=256)
def _tree(path: str) -> ast.AST | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _used(path: str, line: int) -> set[str]:
    """The names the code spanning `line` uses: variables, attributes, keywords, imports."""
    tree = _tree(path)
    found: set[str] = set()
    if tree is None:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.lineno <= line <= (node.end_lineno or 0):
            found.update((node.module or "").split("."))
            found.update(a.name for a in node.names)
            continue
        if not isinstance(node, ast.expr | ast.keyword):
            continue
        if not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name):
                found.add(inner.id)
            elif isinstance(inner, ast.Attribute):
                found.add(inner.attr)
            elif isinstance(inner, ast.keyword) and inner.arg:
                found.add(inner.arg)
    return found


class _Names:
    """One model's Python names, by the schema names drift records use."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.by_id = model.type_index()
        self.graph = TypeGraph(self.by_id)
        self.types: dict[str, TypeDef] = {}
        for t in model.types:
            suffix = t.id.partition("#")[2]
            self.types.setdefault(f"{t.name}#{suffix}" if suffix else t.name, t)
        self._ops: dict[tuple[str, str, str], tuple[Operation, Service]] = {}
        self._services: dict[tuple[str, str], Service] = {}
        self._taking: dict[str, set[str]] = {}
        self.searched = search_fields(model)  # `Type.field` -> search entity, attribute
        for iface in model.interfaces:
            for svc in iface.services:
                self._services[(iface.name, svc.name)] = svc
                for op in svc.operations:
                    self._ops[(iface.name, svc.name, op.name)] = (op, svc)
                    request = self.by_id.get(op.request_type or "")
                    if request is not None:
                        names = {op.python_name, op.iter_name} - {""}
                        self._taking.setdefault(self._key(request), set()).update(names)

    def _key(self, t: TypeDef) -> str:
        suffix = t.id.partition("#")[2]
        return f"{t.name}#{suffix}" if suffix else t.name

    def fields(self, t: TypeDef) -> list[Field]:
        return self.graph.all_fields(t)

    def taking(self, type_name: str) -> set[str]:
        """The stub methods whose request is `type_name` (their keywords are its fields)."""
        return self._taking.get(type_name, set())

    def operation(
        self, interface: str, service: str, method: str
    ) -> tuple[Operation | None, Service | None]:
        found = self._ops.get((interface, service, method))
        if found is None:
            return None, self._services.get((interface, service))
        return found

    def service(self, interface: str, service: str) -> Service | None:
        return self._services.get((interface, service))
