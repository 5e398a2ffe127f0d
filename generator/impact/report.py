"""An impact report (the user's lines a release breaks) as text, markdown, JSON or annotations.

mypy's messages and the drift records name what the server's documents named: every format
writes them through its function in generator/escaping, as the drift report does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import escaping
from ..drift import Change

SCHEMA_VERSION = 1
_RANK = {"breaking": 0, "warning": 1, "info": 2}
_ICON = {"breaking": "❌", "warning": "⚠️", "info": "ℹ️"}
_UNSEEN = {
    "extra_params": "uses of extra_params (names the bindings do not declare are not checked)",
    "dynamic_access": "attributes reached by a computed name (getattr/setattr/hasattr)",
    "untyped_parameters": "functions with unannotated parameters (calls on them are not checked)",
}


@dataclass(frozen=True)
class Impact:
    """One of the user's lines that type-checks against the current package and not the new."""

    file: str  # the user's file, as the report shows it (relative to the working directory)
    line: int
    column: int
    code: str  # mypy's error code
    message: str  # mypy's message
    changes: tuple[Change, ...]  # the drift records that explain it, best first (may be none)

    @property
    def severity(self) -> str:
        """The gravest explaining record's severity; an unexplained new error is breaking."""
        if not self.changes:
            return "breaking"
        return min((c.severity for c in self.changes), key=_RANK.__getitem__)


@dataclass
class ImpactReport:
    old: str
    new: str
    drift: dict[str, int]  # the drift report's counts (breaking, warning, info)
    impacts: list[Impact]
    files_checked: int
    not_analysed: dict[str, str]  # the user's modules mypy could not analyse -> why
    unseen: dict[str, list[tuple[str, int, str]]]  # kind -> (file, line, what), see _UNSEEN
    mypy: str  # mypy's version
    preexisting: int = 0  # errors of the user's that exist either way: not the release's doing
    seconds: dict[str, float] = field(default_factory=dict)  # render, current, new

    def counts(self) -> dict[str, int]:
        out = {"breaking": 0, "warning": 0, "info": 0}
        for i in self.impacts:
            out[i.severity] += 1
        return out

    def files(self) -> list[str]:
        return sorted({i.file for i in self.impacts})


def render(report: ImpactReport, fmt: str) -> str:
    renderer = _FORMATS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(_FORMATS))}")
    return renderer(report)


def exit_code(report: ImpactReport, fail_on: str) -> int:
    """1 when an impacted call site at or above `fail_on` is present (breaking | warning | any |
    never): what counts is the user's lines, not the release's changes."""
    counts = report.counts()
    if fail_on == "never":
        return 0
    if fail_on == "breaking":
        return 1 if counts["breaking"] else 0
    if fail_on == "warning":
        return 1 if counts["breaking"] or counts["warning"] else 0
    if fail_on == "any":
        return 1 if report.impacts else 0
    raise ValueError(f"--fail-on must be breaking, warning, any or never, not {fail_on!r}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(report: ImpactReport) -> str:
    n, files = len(report.impacts), len(report.files())
    return (
        f"{_plural(n, 'call site')} in {_plural(files, 'file')} of yours "
        f"{'breaks' if n == 1 else 'break'} ({_plural(report.files_checked, 'file')} checked; "
        f"the release has {_plural(report.drift['breaking'], 'breaking change')}, "
        f"{_plural(report.drift['warning'], 'warning')})"
    )


def _record(c: Change) -> str:
    where = f" ({c.file}:{c.line})" if c.file and c.line else ""
    return f"{c.rule} {c.path}: {c.message}{where}"


def _unseen_lines(report: ImpactReport) -> list[str]:
    lines = []
    for kind, text in _UNSEEN.items():
        found = report.unseen.get(kind, [])
        if found:
            lines.append(f"{len(found)} {text}")
    if report.preexisting:
        lines.append(
            f"{_plural(report.preexisting, 'error')} of yours that mypy reports with either "
            "package (not the release's doing; not listed)"
        )
    if report.not_analysed:
        lines.append(
            f"{len(report.not_analysed)} of your modules mypy could not analyse: "
            + ", ".join(f"{f} ({why})" for f, why in sorted(report.not_analysed.items()))
        )
    return lines


def _text(report: ImpactReport) -> str:
    out = [f"Impact of {report.old} -> {report.new} on your code: {_headline(report)}"]
    for name in report.files():
        out.append(name)
        for i in (i for i in report.impacts if i.file == name):
            out.append(f"  {i.line}:{i.column}: {i.message}  [{i.code}]")
            for c in i.changes:
                out.append(f"      {c.severity.upper():8} {_record(c)}")
            if not i.changes:
                out.append("      (no drift record names it: a change the report does not model)")
    unseen = _unseen_lines(report)
    if unseen:
        out.append("Not seen by, or left out of, the analysis:")
        out.extend(f"  {line}" for line in unseen)
    return "".join(escaping.text(line) + "\n" for line in out)


_cell = escaping.markdown


def _markdown(report: ImpactReport) -> str:
    out = [
        f"### PortaBilling {_cell(report.old)} → {_cell(report.new)}: impact on your code",
        "",
        f"**{_headline(report)}.**",
        "",
    ]
    if report.impacts:
        out += ["| where | what mypy says | drift record |", "|---|---|---|"]
        for i in report.impacts:
            records = "<br>".join(
                f"{_ICON[c.severity]} `{c.rule}` {_cell(c.path, code=True)}: {_cell(c.message)}"
                for c in i.changes
            )
            out.append(
                f"| {_cell(f'{i.file}:{i.line}', code=True)} | {_cell(i.message)} "
                f"{_cell(f'[{i.code}]', code=True)} | "
                f"{records or 'no drift record names it'} |"
            )
        out.append("")
    else:
        out.append("None of your lines is affected.")
        out.append("")
    unseen = _unseen_lines(report)
    if unseen:
        out += ["<details><summary>Not seen by, or left out of, the analysis</summary>", ""]
        out += [f"- {_cell(line)}" for line in unseen]
        out += ["", "</details>", ""]
    return "\n".join(out) + "\n"


def _json(report: ImpactReport) -> str:
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "old": report.old,
        "new": report.new,
        "drift": report.drift,
        "summary": {
            **report.counts(),
            "call_sites": len(report.impacts),
            "files": len(report.files()),
            "files_checked": report.files_checked,
            "preexisting": report.preexisting,
        },
        "impacts": [
            {
                "file": i.file,
                "line": i.line,
                "column": i.column,
                "code": i.code,
                "message": i.message,
                "severity": i.severity,
                "changes": [c.to_dict() for c in i.changes],
            }
            for i in report.impacts
        ],
        "not_analysed": [{"file": f, "why": w} for f, w in sorted(report.not_analysed.items())],
        "unseen": {
            kind: [{"file": f, "line": n, "what": w} for f, n, w in report.unseen.get(kind, [])]
            for kind in _UNSEEN
        },
        "mypy": report.mypy,
        "seconds": report.seconds,
    }
    text = escaping.json_text(data, indent=1, ensure_ascii=False, sort_keys=True, default=str)
    return text + "\n"


def _github(report: ImpactReport) -> str:
    level = {"breaking": "error", "warning": "warning", "info": "notice"}
    lines = []
    for i in report.impacts:
        title = i.changes[0].rule if i.changes else "portabilling-impact"
        because = "; ".join(_record(c) for c in i.changes) or "no drift record names it"
        lines.append(
            escaping.command(
                level[i.severity],
                f"{i.message} [{i.code}] <- {because}",
                file=i.file,
                line=i.line,
                col=i.column,
                title=title,
            )
        )
    return "".join(line + "\n" for line in lines)


_FORMATS: dict[str, Callable[[ImpactReport], str]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
    "github": _github,
}
FORMATS = tuple(_FORMATS)
