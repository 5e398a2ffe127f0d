"""What drift reports: the rule ids, one change (its severity, direction and place), a report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Progress = Callable[[str, int, int], None]

Severity = Literal["breaking", "warning", "info"]
Direction = Literal["request", "response", "both", "none"]

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
    "enum-member-renamed": "An enum member's Python name changed (its documentation changed).",
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
    file: str = ""  # where it is: the WSDL/XSD file (OLD's when it exists there) ...
    line: int = 0  # ... and line (0: unknown)

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

    @property
    def where(self) -> str:
        """`admin/AccountAdminService.wsdl:120` (the file alone when the line is unknown)."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Report:
    old: str
    new: str
    changes: list[Change]
    # interfaces one side did not fetch: not compared, never reported as removed
    not_compared: list[str] = field(default_factory=list)
    ignored: int = 0  # changes an ignore file left out: said in every format, never silent

    def counts(self) -> dict[str, int]:
        out = {"breaking": 0, "warning": 0, "info": 0}
        for c in self.changes:
            out[c.severity] += 1
        return out
