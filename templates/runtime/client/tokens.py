"""Access tokens: what a login or a refresh returned, when the token runs out, and the
`Session.refresh_access_token` operation that renews it.

Since about MR114 `Session.login` returns `access_token` (a JWT carrying `exp` and `iat`),
`expires_at`, `refresh_token` and `session_id`; the bindings of older releases declare only
`session_id`, so the session reads these fields from the reply's plain data. A token's lifetime is
the server's (`exp - iat`), counted from the moment this client received it: a clock that differs
from the server's does not make every token look expired.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from ..operation import Operation, ServiceSpec


class Grant(NamedTuple):
    """What a login or a refresh granted. No repr of it is ever shown: it holds secrets."""

    session_id: str | None
    access_token: str | None
    refresh_token: str | None
    expires: float | None  # this machine's clock (time.time()) when the access token runs out
    lifetime: float | None  # seconds the server granted it for

    def __repr__(self) -> str:
        return "Grant(...)"


def read_grant(data: Any, now: float | None = None) -> Grant:
    """The grant in a login's or a refresh's reply as plain data (a bare string is a session id,
    as the mr100 release answers its login)."""
    if isinstance(data, str):
        return Grant(data or None, None, None, None, None)
    if not isinstance(data, dict):
        return Grant(None, None, None, None, None)
    session_id = _text(data.get("session_id"))
    access_token = _text(data.get("access_token"))
    refresh_token = _text(data.get("refresh_token"))
    now = time.time() if now is None else now
    lifetime = None
    if access_token is not None:
        lifetime = _jwt_lifetime(access_token)
        if lifetime is None:
            at = _expires_at(data.get("expires_at"))
            lifetime = at - now if at is not None else None
    if lifetime is not None and lifetime <= 0:
        lifetime = None  # nothing sensible to plan a refresh by: the server's faults decide
    expires = now + lifetime if lifetime is not None else None
    return Grant(session_id, access_token, refresh_token, expires, lifetime)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _jwt_lifetime(token: str) -> float | None:
    """`exp - iat` of a JWT's payload (read, not verified: the server verifies it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict):
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    numbers = (int, float)
    if isinstance(exp, numbers) and isinstance(iat, numbers) and not isinstance(exp, bool):
        return float(exp) - float(iat)
    if isinstance(exp, numbers) and not isinstance(exp, bool):
        return float(exp) - time.time()
    return None


def _expires_at(value: Any) -> float | None:
    """`expires_at` as PortaBilling writes it: `2024-05-01 12:00:00` in UTC (or ISO 8601)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class RefreshAccessTokenRequest(msgspec.Struct, kw_only=True):
    """Parameters of Session.refresh_access_token."""

    refresh_token: str

    def __repr__(self) -> str:
        return "RefreshAccessTokenRequest(refresh_token=...)"


class RefreshAccessTokenResponse(msgspec.Struct, kw_only=True):
    """Result of Session.refresh_access_token; the session reads the grant from the raw reply."""

    access_token: str | None = None

    def __repr__(self) -> str:
        return "RefreshAccessTokenResponse(...)"


def refresh_operation(login: Operation[Any, Any]) -> Operation[Any, Any]:
    """Session.refresh_access_token beside the interface's Session.login: the bindings of the
    releases bundled here do not declare it. It takes no auth_info: the refresh token is the
    credential, and the access token it renews may have run out already."""
    spec = ServiceSpec(
        login.service,
        namespace=login.namespace,
        endpoint_path=login.endpoint_path,
        auth_header=login.auth_header,
    )
    return Operation(
        spec,
        "refresh_access_token",
        RefreshAccessTokenRequest,
        RefreshAccessTokenResponse,
        auth=False,
        # only rpc/encoded SOAP is written without a schema element; else over the JSON API
        json_only=login.soap_style != "rpc/encoded",
    )
