"""Access tokens as releases since about MR114 hand them out: `Session.login` returns a JWT-shaped
`access_token` (`exp`, `iat`, `login` in its payload), `expires_at`, a `refresh_token` and a
`session_id`; `Session.refresh_access_token {refresh_token}` renews the token (and rotates the
refresh token). Off until a lifetime is set (`tokens:lifetime=SECONDS`, or `use_tokens`): the
server then hands out session ids only, as older releases do."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from .calls import Session, SimFault

REFRESH_FAULT = "Server.Session.refresh_access_token.invalid_refresh_token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Tokens:
    """The token side of the simulated server's sessions; `sessions` is the dispatcher's."""

    def __init__(self, sessions: dict[str, Session]) -> None:
        self.sessions = sessions
        self.lifetime: float | None = None  # None: session ids only
        self.refresh_lifetime = 86400.0
        self.refresh_tokens: dict[str, tuple[Session, float]] = {}
        self.refreshes = 0  # refresh_access_token calls that renewed a token

    def clear(self) -> None:
        self.lifetime = None
        self.refresh_tokens.clear()
        self.refreshes = 0

    def grant(self, session: Session, session_id: str) -> dict[str, Any]:
        """Login's reply in token mode: the session id and a fresh token pair."""
        return {"session_id": session_id, **self._pair(session)}

    def refresh(self, params: Any) -> dict[str, Any]:
        """Session.refresh_access_token: a known, unexpired refresh token buys a new pair (the
        old access token stays valid until its own `exp`)."""
        if isinstance(params, list):  # SOAP parts, by position
            params = params[0] if params else {}
        token = params.get("refresh_token") if isinstance(params, dict) else None
        held = self.refresh_tokens.pop(str(token), None) if token else None
        if held is None or held[1] < time.time():
            raise SimFault(REFRESH_FAULT, "Refresh token is invalid or expired")
        self.refreshes += 1
        return self._pair(held[0])

    def invalidate(self) -> None:
        """Every refresh token gone (the sessions are expired by the dispatcher)."""
        self.refresh_tokens.clear()

    def _pair(self, session: Session) -> dict[str, Any]:
        assert self.lifetime is not None
        now = time.time()
        expires = now + self.lifetime
        claims = {"login": session.user, "iat": int(now), "exp": int(now) + self.lifetime}
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        access = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(os.urandom(16))}"
        refresh = os.urandom(16).hex()
        self.sessions[access] = Session(session.user, expires, session.reseller)
        self.refresh_tokens[refresh] = (session, now + self.refresh_lifetime)
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return {"access_token": access, "expires_at": when, "refresh_token": refresh}
