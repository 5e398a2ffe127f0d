"""The conformance report: how well generated bindings fit a live server, before trusting them.

It calls a safe set of read-only operations (every `get_*_list` that pages, with `limit=1`; then
`get_*_info` with the ids those lists returned), decodes each reply tolerantly, audits it against
the response type, and writes per type every deviation and every undeclared field, with counts.
Only `get_*` operations are ever called; naming any other refuses the run before a call is made.
What the server sent (field names, values, error replies) is written through generator/escaping.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import escaping
from .errors import GeneratorError
from .interfaces import INTERFACES
from .introspect import operations

READ_ONLY_PREFIX = "get_"


@dataclass
class CallResult:
    operation: str
    outcome: str  # "ok", or the exception's class and message
    deviations: int = 0
    undeclared: int = 0


@dataclass
class Finding:
    """One (type, field, outcome) with how often and an example of what arrived."""

    owner: str
    name: str
    declared: str
    outcome: str
    example: str
    count: int = 0
    operations: set[str] = field(default_factory=set)


@dataclass
class Report:
    url: str
    interface: str
    transport: str
    release: str
    calls: list[CallResult] = field(default_factory=list)
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(1 for c in self.calls if c.outcome == "ok")

    def add(self, deviation: Any) -> None:
        name = deviation.path.rpartition(".")[2].split("[")[0] or deviation.path
        key = (deviation.owner or "(reply)", name, deviation.outcome)
        found = self.findings.get(key)
        if found is None:
            found = self.findings[key] = Finding(
                key[0], name, deviation.declared, deviation.outcome, deviation.arrived
            )
        found.count += 1
        found.operations.add(deviation.operation)

    def as_json(self) -> dict[str, Any]:
        by_type: dict[str, list[dict[str, Any]]] = {}
        for f in sorted(self.findings.values(), key=lambda f: (f.owner, f.name, f.outcome)):
            by_type.setdefault(f.owner, []).append(
                {
                    "field": f.name,
                    "declared": f.declared,
                    "outcome": f.outcome,
                    "arrived": f.example,
                    "count": f.count,
                    "operations": sorted(f.operations),
                }
            )
        return {
            "server": self.url,
            "interface": self.interface,
            "transport": self.transport,
            "bindings": self.release,
            "calls": [vars(c) for c in self.calls],
            "types": by_type,
        }

    def as_markdown(self) -> str:
        answered = self.answered
        kinds: dict[str, int] = {}
        for f in self.findings.values():
            kinds[f.outcome] = kinds.get(f.outcome, 0) + f.count
        lines = [
            "# Conformance report",
            "",
            f"Server {_cell(self.url)} ({self.interface} interface, {self.transport}), "
            f"bindings {_cell(self.release)}: {len(self.calls)} read-only calls, "
            f"{answered} answered; "
            + (", ".join(f"{n} {_cell(k)}" for k, n in sorted(kinds.items())) or "no deviations")
            + ".",
            "",
            "## Calls",
            "",
            "| operation | result | deviations | undeclared fields |",
            "|---|---|---|---|",
        ]
        clean = [
            c.operation
            for c in self.calls
            if (c.outcome, c.deviations, c.undeclared) == ("ok", 0, 0)
        ]
        lines += [
            f"| {_cell(c.operation)} | {_cell(c.outcome)} | {c.deviations} | {c.undeclared} |"
            for c in self.calls
            if c.operation not in clean
        ]
        if clean:
            lines += [
                "",
                f"{len(clean)} more answered with nothing to report: "
                f"{', '.join(_cell(c) for c in clean)}.",
            ]
        for owner, rows in self.as_json()["types"].items():
            lines += [
                "",
                f"## {_cell(owner)}",
                "",
                "| field | declared | arrived (example) | outcome | count |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {_cell(r['field'])} | {_cell(r['declared'])} | {_cell(r['arrived'])} "
                f"| {_cell(r['outcome'])} | {r['count']} |"
                for r in rows
            ]
        return "\n".join(lines) + "\n"


_cell = escaping.markdown


def is_read_only(op: Any) -> bool:
    return bool(op.name.startswith(READ_ONLY_PREFIX))


def _request(op: Any, fields: dict[str, Any]) -> Any:
    """The request struct, or None when it needs more than `fields` gives."""
    try:
        return op.request(**fields)
    except TypeError:
        return None


def _ids(value: Any, into: dict[str, set[int]]) -> None:
    """Every `i_*` integer of a decoded result (items of its lists included)."""
    import msgspec

    if isinstance(value, list):
        for item in value[:5]:
            _ids(item, into)
        return
    if not isinstance(value, msgspec.Struct):
        return
    for name in value.__struct_fields__:
        v = getattr(value, name)
        if name.startswith("i_") and isinstance(v, int) and not isinstance(v, bool):
            into.setdefault(name, set()).add(v)
        elif isinstance(v, list | msgspec.Struct):
            _ids(v, into)


def run(
    url: str,
    *,
    package: str = "portabilling",
    interface: str = "admin",
    transport: str = "json",
    credentials: dict[str, str],
    only: Iterable[str] = (),
    max_calls: int = 200,
    client_options: dict[str, Any] | None = None,
) -> Report:
    """Call the safe operations against `url` and report what their replies carry."""
    if interface not in INTERFACES:
        raise GeneratorError(f"unknown interface {interface!r}")
    try:
        pkg = importlib.import_module(package)
    except ImportError as exc:
        raise GeneratorError(f"cannot import the bindings {package!r}: {exc}") from None
    tolerant = importlib.import_module(f"{package}._runtime.tolerant")
    errors = importlib.import_module(f"{package}._runtime.errors")
    ops = operations(package, interface)
    wanted = set(only)
    if wanted:
        known = {op.qualified_name: (attr, op) for attr, op in ops}
        refused = sorted(n for n in wanted if n in known and not is_read_only(known[n][1]))
        unknown = sorted(n for n in wanted if n not in known)
        if refused:
            raise GeneratorError(
                f"refused: not read-only (only {READ_ONLY_PREFIX}* operations are called): "
                + ", ".join(refused)
            )
        if unknown:
            raise GeneratorError("no such operation in the bindings: " + ", ".join(unknown))
        ops = [known[n] for n in sorted(wanted)]
    ops = [(a, op) for a, op in ops if is_read_only(op)]
    lists = [
        (a, op)
        for a, op in ops
        if op.name.endswith("_list")
        and op.request is not None
        and "limit" in op.request.__struct_fields__
    ]
    infos = [(a, op) for a, op in ops if op.name.endswith("_info")]
    client_cls = getattr(pkg, f"{interface.capitalize()}Client")
    report = Report(url, interface, transport, str(getattr(pkg, "RELEASE", "")))
    service = importlib.import_module(f"{package}._runtime.client.options")
    ids: dict[str, set[int]] = {}
    reports: list[Any] = []
    options = {"json_only_over_json": True, **(client_options or {})}
    with client_cls(
        url, transport=transport, on_reply=reports.append, **credentials, **options
    ) as client:

        def call(op: Any, request: Any) -> Any:
            reports.clear()
            try:
                result = client.call(op, request, service.CallOptions(retry=False))
            except errors.AuthError as exc:  # the login itself: no other call can fare better
                raise GeneratorError(
                    f"the server refused the login ({type(exc).__name__}: {exc}); "
                    "no operation was called"
                ) from None
            except errors.PortaBillingError as exc:
                report.calls.append(CallResult(op.qualified_name, f"{type(exc).__name__}: {exc}"))
                return None
            audit = tolerant.audit(reports[-1].raw, op.response, op.qualified_name)
            # deviations as the decode found them (repairs), undeclared fields from the audit
            undeclared = [d for d in audit.deviations if d.outcome == "undeclared"]
            found = [*reports[-1].deviations, *undeclared]
            for d in found:
                report.add(d)
            report.calls.append(
                CallResult(
                    op.qualified_name,
                    "ok",
                    sum(1 for d in found if d.outcome != "undeclared"),
                    len(audit.undeclared),
                )
            )
            return result

        for _, op in lists:
            if len(report.calls) >= max_calls:
                break
            fields = {"limit": 1}
            if "offset" in op.request.__struct_fields__:
                fields["offset"] = 0
            request = _request(op, fields)
            if request is not None:
                _ids(call(op, request), ids)
        for _, op in infos:
            if len(report.calls) >= max_calls or op.request is None:
                continue
            key = "i_" + op.name.removeprefix("get_").removesuffix("_info")
            if key not in op.request.__struct_fields__ or key not in ids:
                continue
            request = _request(op, {key: min(ids[key])})
            if request is not None:
                call(op, request)
    return report


def write(report: Report, fmt: str) -> str:
    if fmt == "json":
        return escaping.json_text(report.as_json(), indent=2, sort_keys=True) + "\n"
    return report.as_markdown()


__all__ = ["Report", "is_read_only", "operations", "run", "write"]
