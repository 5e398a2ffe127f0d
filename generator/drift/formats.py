"""A drift report as text, JSON, markdown (pull-request comments), GitHub annotations or JUnit.

Paths, messages and release names hold text from the server's documents: each format writes it
through its function in generator/escaping (never raw), so no report line is a workflow command,
HTML, a mention or a line the server chose.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from .. import escaping
from .changes import Report

SCHEMA_VERSION = 1
_ICON = {"breaking": "❌", "warning": "⚠️", "info": "ℹ️"}


def render(report: Report, fmt: str) -> str:
    renderer = _FORMATS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(_FORMATS))}")
    return renderer(report)


def _text(report: Report) -> str:
    counts = report.counts()
    lines = [
        f"API drift {report.old} -> {report.new}: {counts['breaking']} breaking, "
        f"{counts['warning']} warnings, {counts['info']} info{_ignored(report, ', ')}"
    ]
    if report.not_compared:
        lines.append(f"not compared (fetched on one side only): {', '.join(report.not_compared)}")
    for c in report.changes:
        where = f"  [{c.where}]" if c.where else ""
        lines.append(f"{c.severity.upper():8} {c.rule:28} {c.path}: {c.message}{where}")
    return "".join(escaping.text(line) + "\n" for line in lines)


def _ignored(report: Report, lead: str) -> str:
    """`, 3 ignored (drift-ignore)`: changes an ignore file left out are counted, not hidden."""
    return f"{lead}{report.ignored} ignored (drift-ignore)" if report.ignored else ""


def _json(report: Report) -> str:
    data = {
        "schema_version": SCHEMA_VERSION,
        "old": report.old,
        "new": report.new,
        "summary": report.counts(),
        "ignored": report.ignored,
        "not_compared": report.not_compared,
        "changes": [c.to_dict() for c in report.changes],
    }
    text = escaping.json_text(data, indent=1, ensure_ascii=False, sort_keys=True, default=str)
    return text + "\n"


_cell = escaping.markdown


def _code(text: str) -> str:
    return _cell(text, code=True) if text else ""


def _markdown(report: Report) -> str:
    counts = report.counts()
    out = [
        f"### PortaBilling API drift: {_cell(report.old)} → {_cell(report.new)}",
        "",
        f"**{counts['breaking']} breaking**, {counts['warning']} warnings, {counts['info']} info"
        f"{_ignored(report, ', ')}.",
        "",
    ]
    for severity in ("breaking", "warning", "info"):
        rows = [c for c in report.changes if c.severity == severity]
        if not rows:
            continue
        block = [
            f"{_ICON[severity]} **{severity}** ({len(rows)})",
            "",
            "| rule | where | file:line | direction | change |",
            "|---|---|---|---|---|",
            *(
                f"| `{c.rule}` | {_cell(c.path, code=True)} | {_code(c.where)} | {c.direction} "
                f"| {_cell(c.message)} |"
                for c in rows
            ),
            "",
        ]
        if severity == "info":  # long and rarely read: folded
            block = ["<details><summary>info</summary>", "", *block, "</details>", ""]
        out.extend(block)
    if report.not_compared:
        names = ", ".join(_cell(n) for n in report.not_compared)
        out.append(f"Not compared (fetched on one side only): {names}.")
    if not report.changes:
        out.append("No changes." if not report.ignored else "No changes left after drift-ignore.")
    return "\n".join(out) + "\n"


def _github(report: Report) -> str:
    level = {"breaking": "error", "warning": "warning", "info": "notice"}
    lines = [
        escaping.command(
            level[c.severity],
            f"{c.path}: {c.message}",
            file=c.file,
            line=c.line if c.file and c.line else "",
            title=c.rule,
        )
        for c in report.changes
    ]
    return "".join(line + "\n" for line in lines)


def _junit(report: Report) -> str:
    failures = [c for c in report.changes if c.severity == "breaking"]
    cases = []
    for c in report.changes:
        name = escaping.xml(f"{c.rule} {c.path}", attribute=True)
        body = ""
        if c.severity == "breaking":
            message = escaping.xml(c.message, attribute=True)
            body = f"<failure message={message} type={quoteattr(c.rule)}/>"
        elif c.severity == "warning":
            body = f"<system-out>{escaping.xml(c.message)}</system-out>"
        cases.append(f'  <testcase classname="drift.{c.severity}" name={name}>{body}</testcase>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<testsuite name={escaping.xml(f'api-drift {report.old} -> {report.new}', attribute=True)} "
        f'tests="{len(report.changes)}" failures="{len(failures)}">\n'
        + "\n".join(cases)
        + "\n</testsuite>\n"
    )


_FORMATS: dict[str, Callable[[Report], str]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
    "github": _github,
    "junit": _junit,
}
FORMATS = tuple(_FORMATS)


def exit_code(report: Report, fail_on: str) -> int:
    """1 when a change at or above `fail_on` is present (breaking | warning | any | never)."""
    counts = report.counts()
    if fail_on == "never":
        return 0
    if fail_on == "breaking":
        return 1 if counts["breaking"] else 0
    if fail_on == "warning":
        return 1 if counts["breaking"] or counts["warning"] else 0
    if fail_on == "any":
        return 1 if report.changes else 0
    raise ValueError(f"--fail-on must be breaking, warning, any or never, not {fail_on!r}")


__all__ = ["FORMATS", "exit_code", "render"]
