"""What travels between the simulator's fronts and its dispatcher: a call, its fault, a download,
and the users and sessions a call is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class SimFault(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code = code
        self.text = text


@dataclass
class Call:
    """One request as the dispatcher received it (for assertions in tests)."""

    transport: str
    service: str
    method: str
    auth_info: dict[str, Any]
    params: Any
    content_type: str = ""


@dataclass
class Session:
    user: str
    expires: float
    reseller: int | None  # i_customer of the reseller, None for the administrator


@dataclass
class Users:
    """login -> (password, API token, reseller i_customer or None)."""

    entries: dict[str, tuple[str, str, int | None]] = field(
        default_factory=lambda: {"admin": ("secret", "tok-admin", None)}
    )


@dataclass
class Download:
    name: str
    content_type: str
    content: bytes
