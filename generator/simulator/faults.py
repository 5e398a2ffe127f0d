"""Faults on demand: the next N calls of an operation answer with a fault, are delayed, or are
dropped (the connection closed without an answer); written as a rule object from Python or as a
one-line spec from the command line.

Specs: `Account.get_account_info:fault=Server.Account.get_account_info.not_found[:count=N]`,
`Account.*:delay=2.5`, `*:drop:count=3`; plus `sessions:expire` (tokens and refresh tokens too),
`tokens:lifetime=SECONDS|off` (logins hand out access tokens), `accounts:churn=INSERTS,CLOSES`
(accounts added and closed between list pages), `real-server:on|off`,
`events:refused=N`, `events:timeout=N`, `events:500=N` (what `apply_spec` does with a dispatcher).
`count` defaults to 1; `*` matches every service or method.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["fault", "delay", "drop"]


@dataclass
class Rule:
    service: str  # a name or a pattern (`*`)
    method: str
    kind: FaultKind
    count: int = 1  # calls left to affect
    code: str = ""  # fault: the faultcode
    text: str = "injected fault"  # fault: the faultstring
    seconds: float = 0.0  # delay

    def covers(self, service: str, method: str) -> bool:
        return fnmatch.fnmatchcase(service, self.service) and fnmatch.fnmatchcase(
            method, self.method
        )


class Faults:
    """The rules waiting to be used; each matching call uses up one `count` of the first rule."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self._lock = threading.Lock()

    def add(self, rule: Rule) -> Rule:
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        if rule.kind == "fault" and not rule.code:
            raise ValueError("a fault rule needs its faultcode")
        with self._lock:
            self.rules.append(rule)
        return rule

    def fault(
        self, operation: str, code: str, text: str = "injected fault", count: int = 1
    ) -> Rule:
        """The next `count` calls of `operation` ("Service.method", patterns allowed) fail."""
        service, method = _operation(operation)
        return self.add(Rule(service, method, "fault", count, code=code, text=text))

    def delay(self, operation: str, seconds: float, count: int = 1) -> Rule:
        service, method = _operation(operation)
        return self.add(Rule(service, method, "delay", count, seconds=seconds))

    def drop(self, operation: str, count: int = 1) -> Rule:
        """The next `count` calls get no answer: the connection is closed on them."""
        service, method = _operation(operation)
        return self.add(Rule(service, method, "drop", count))

    def take(self, service: str, method: str, kinds: tuple[FaultKind, ...]) -> Rule | None:
        """The first rule of `kinds` covering the call, its count used up by one."""
        with self._lock:
            for rule in self.rules:
                if rule.kind in kinds and rule.covers(service, method):
                    rule.count -= 1
                    if rule.count == 0:
                        self.rules.remove(rule)
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()


def _operation(text: str) -> tuple[str, str]:
    service, dot, method = text.partition(".")
    if text == "*":
        return "*", "*"
    if not dot or not service or not method:
        raise ValueError(f"operation {text!r}: write it Service.method (patterns: Account.*, *)")
    return service, method


@dataclass(frozen=True)
class Spec:
    """A parsed command-line spec: `target` is an operation, `sessions`, `real-server` or
    `events`; `kind` what to do; `value` its argument; `count` how many calls or attempts."""

    target: str
    kind: str
    value: str
    count: int


def parse_spec(text: str) -> Spec:
    """`TARGET:KIND[=VALUE][:count=N]` (see the module docstring); ValueError names the part."""
    target, *parts = text.split(":")
    if not target or not parts:
        raise ValueError(f"fault spec {text!r}: write TARGET:KIND[=VALUE][:count=N]")
    kind, _, value = parts[0].partition("=")
    count = 1
    for extra in parts[1:]:
        name, _, number = extra.partition("=")
        if name != "count" or not number.isdigit() or int(number) < 1:
            raise ValueError(f"fault spec {text!r}: {extra!r} is not count=N (N >= 1)")
        count = int(number)
    known = {
        "sessions": {"expire"},
        "tokens": {"lifetime", "off"},
        "accounts": {"churn"},
        "real-server": {"on", "off"},
        "events": {"refused", "timeout", "500"},
    }
    if target in known:
        if kind not in known[target]:
            raise ValueError(f"fault spec {text!r}: {target} takes {sorted(known[target])}")
        if target == "tokens" and kind == "lifetime":
            try:
                if float(value) <= 0:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"fault spec {text!r}: lifetime=SECONDS needs a number > 0"
                ) from None
        if target == "accounts":
            numbers = value.split(",")
            if not 1 <= len(numbers) <= 2 or not all(n.isdigit() for n in numbers):
                raise ValueError(f"fault spec {text!r}: churn=INSERTS,CLOSES needs two counts")
        if target == "events":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"fault spec {text!r}: events:{kind}=N needs N >= 1")
            count = int(value)
        return Spec(target, kind, value, count)
    _operation(target)
    if kind == "fault" and not value:
        raise ValueError(f"fault spec {text!r}: fault=FAULTCODE needs the code")
    if kind == "delay":
        try:
            if float(value) < 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"fault spec {text!r}: delay=SECONDS needs a number >= 0") from None
    if kind not in ("fault", "delay", "drop"):
        raise ValueError(f"fault spec {text!r}: {kind!r} is not fault, delay or drop")
    return Spec(target, kind, value, count)
