"""Where a reply departs from the bindings: the record, the log, and what the caller can inspect.

Real PortaBilling servers do not follow their own WSDL to the letter (date-only text in datetime
fields, 0/1 flags where the schema says 'Y'/'N', undeclared fields). Replies still decode; each
departure becomes a `Deviation`, logged once per operation and path under the `portabilling`
logger, and every reply's `DecodeReport` (see `tolerant.py`) lists them. Values are described, never copied, into
deviations and logs, and fields named like secrets are not described at all.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, NamedTuple

logger = logging.getLogger("portabilling")

# What happened to the value: converted to the declared type, dropped from the typed result (kept
# in `DecodeReport.dropped`), a declared list/struct absent while undeclared fields carry data,
# or a field the bindings do not declare (reported by strict mode and the conformance report);
# INCOMPLETE: a paged list yielded fewer records than its total, or repeated some (`iter_*`).
CONVERTED = "converted"
DROPPED = "dropped"
ABSENT = "absent"
UNDECLARED = "undeclared"
INCOMPLETE = "incomplete"

_SECRET = re.compile(r"pass|secret|token|session_id|api_key|(^|_)pin($|_)|auth", re.IGNORECASE)


class Deviation(NamedTuple):
    """One place where a reply does not fit the bindings."""

    operation: str  # "Account.get_account_info"
    path: str  # "account_info.assigned_addons[0].addon_effective_from"
    declared: str  # the declared type, e.g. "datetime", "YesNo", "list[str]"
    arrived: str  # what arrived, described: "'2023-05-11'", "null", "int 1", "object of 3 fields"
    outcome: str  # CONVERTED, DROPPED, ABSENT, UNDECLARED or INCOMPLETE
    owner: str = ""  # the struct type the field belongs to (or would), e.g. "AccountInfo"

    def __str__(self) -> str:  # the path and what arrived hold the server's names: escaped
        return (
            f"{self.operation}: {printable(self.path)}: declared {self.declared}, "
            f"got {printable(self.arrived)} ({self.outcome})"
        )


# what must not reach a log line or message as it is: control characters (a newline starts a
# forged log line, an escape sequence rewrites the terminal), line and paragraph separators,
# bidirectional controls (text shown in another order than written), and the backslash itself,
# so that an escape the server wrote cannot pass for one made here
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\\\]"
)


def printable(text: str) -> str:
    """Server text as one safe line: see `_UNPRINTABLE` (`\\n`, `\\x1b`, `\\u2028`, `\\\\`)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def describe(value: Any, name: str) -> str:
    """A short description of `value` for a deviation; secrets are named by type only."""
    if value is None:
        return "null"
    kind = type(value).__name__
    if _SECRET.search(name):
        return f"{kind} (hidden)"
    if isinstance(value, dict):
        return f"object of {len(value)} fields"
    if isinstance(value, list):
        return f"list of {len(value)}"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return text if isinstance(value, str) else f"{kind} {text}"


def is_secret(name: str) -> bool:
    return _SECRET.search(name) is not None


_logged: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()
_MAX_LOGGED = 10_000
_INDEX = re.compile(r"\[\d+\]")


def log(deviations: tuple[Deviation, ...] | list[Deviation]) -> None:
    """WARNING once per operation and path (list indexes ignored); undeclared fields at INFO."""
    for d in deviations:
        key = (d.operation, _INDEX.sub("[]", d.path))
        with _logged_lock:
            if key in _logged:
                continue
            if len(_logged) >= _MAX_LOGGED:
                _logged.clear()
            _logged.add(key)
        level = logging.INFO if d.outcome == UNDECLARED else logging.WARNING
        logger.log(level, "reply deviates from the bindings: %s", d)
