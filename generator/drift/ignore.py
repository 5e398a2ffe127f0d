"""Drift-ignore files: which rule ids and paths a project chose to leave out of its reports."""

from __future__ import annotations

import fnmatch
import re

from ..errors import GeneratorError
from .changes import RULES, Change, Report

_RULE_LIKE = re.compile(r"[a-z*?\[\]]+(-[a-z*?\[\]]+)+")  # fullmatch


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
        elif _RULE_LIKE.fullmatch(first):
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
    dropped = len(report.changes) - len(kept)
    return Report(report.old, report.new, kept, report.not_compared, report.ignored + dropped)
