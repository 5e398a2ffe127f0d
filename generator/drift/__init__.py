"""API drift between two releases, read from two neutral models.

`rules` compares (every rule: would a client generated from OLD break against a NEW server?),
`view` is one model as the rules see it, `locate` finds a change's file and line in the parsed
XML, `ignore` reads drift-ignore files, `formats` renders a report (text, JSON, markdown, GitHub
annotations, JUnit), `changes` holds the vocabulary they share.
"""

from __future__ import annotations

from .changes import RULES, Change, Direction, Progress, Report, Severity
from .formats import FORMATS, exit_code, render
from .ignore import apply_ignore, load_ignore
from .rules import compare

__all__ = [
    "FORMATS",
    "RULES",
    "Change",
    "Direction",
    "Progress",
    "Report",
    "Severity",
    "apply_ignore",
    "compare",
    "exit_code",
    "load_ignore",
    "render",
]
