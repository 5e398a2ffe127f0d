"""Who may post events: checked before the receiver reads, parses or stores anything.

PortaBilling's `Authorization` header carries the method it is configured with: `Basic` (the
default), a custom value, or a signature. `BasicAuth` and `HeaderAuth` compare in constant time;
anything else (a signature over the body, an allow-list) is a `Verifier`: any callable taking the
`InboundRequest` and returning True to let it in. A verifier that reads the body says so with a
`needs_body = True` attribute; the body it gets is already bounded by the receiver's size limit.
No verifier, message or log line here ever holds a credential.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol


@dataclass(frozen=True)
class InboundRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # b"" for verifiers that do not need it
    client: str  # "host:port" of the peer, for logs

    def __repr__(self) -> str:  # the headers hold the credentials
        return f"InboundRequest({self.method} {self.path!r} from {self.client})"


class Verifier(Protocol):
    def __call__(self, request: InboundRequest, /) -> bool: ...


class BasicAuth:
    """`Authorization: Basic base64(user:password)`; both parts compared in constant time."""

    needs_body = False

    def __init__(self, username: str, password: str) -> None:
        if not username or not password:
            raise ValueError("BasicAuth needs a user name and a password")
        self._user = username.encode()
        self._password = password.encode()

    def __repr__(self) -> str:
        return "BasicAuth(***)"

    def __call__(self, request: InboundRequest, /) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = decoded.partition(b":")
        same_user = hmac.compare_digest(user, self._user)
        same_password = hmac.compare_digest(password, self._password)  # always both compares
        return bool(colon) and same_user and same_password


class HeaderAuth:
    """A header (by default `Authorization`) that must equal a configured value exactly: for
    PortaBilling's custom authorization method, or a shared token a proxy adds."""

    needs_body = False

    def __init__(self, value: str, header: str = "authorization") -> None:
        if not value:
            raise ValueError("HeaderAuth needs the expected value")
        self.header = header.lower()
        self._value = value.encode()

    def __repr__(self) -> str:
        return f"HeaderAuth({self.header!r}, ***)"

    def __call__(self, request: InboundRequest, /) -> bool:
        sent = request.headers.get(self.header, "").encode("latin-1", "replace")
        return hmac.compare_digest(sent, self._value)


def fresh_date(headers: Mapping[str, str], window: float, now: float | None = None) -> bool:
    """True when the `Date` header is an HTTP date within `window` seconds of now (either side):
    an old request replayed later is refused."""
    value = headers.get("date")
    if not value or len(value) > 64:
        return False
    try:  # a year like 99999 overflows: any date that cannot be a real one is refused
        sent = parsedate_to_datetime(value)
        if sent.tzinfo is None:
            return False
        return abs((time.time() if now is None else now) - sent.timestamp()) <= window
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
