"""The session of one client: its credentials, the session id or access token they bought, and
the decisions the call flow asks before and after a call (log in first? again? how?).

The state changes only through the methods here: the call flow (`flow.py`) reads and records,
as httpx's `Auth` flows do, and never reaches inside. Nothing here sends: logging in and out are
steps of the call flow, with the requests this session builds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import AuthError
from ..operation import Operation
from .service import request_struct
from .store import SessionStore, load_grant, save_grant, store_key
from .tokens import Grant, RefreshAccessTokenRequest, read_grant, refresh_operation


class SessionOperations(NamedTuple):
    """The interface's Session.login and Session.logout, handed over by its generated client."""

    login: Operation[Any, Any] | None
    logout: Operation[Any, Any] | None
    refresh: Operation[Any, Any] | None = None  # default: built beside `login` (tokens.py)


class Session:
    """Credentials and the session they open; one per client, shared by its concurrent calls."""

    __slots__ = (
        "_operations",
        "_refresh_op",
        "access_token",
        "bearer",
        "expires",
        "failure",
        "generation",
        "lifetime",
        "login",
        "owned",
        "password",
        "refresh_at",
        "refresh_fraction",
        "refresh_token",
        "retired",
        "session_id",
        "store",
        "store_key",
        "token",
    )

    def __init__(
        self,
        operations: Callable[[], SessionOperations],
        *,
        login: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session_id: str | None = None,
        access_token: str | None = None,
        refresh_fraction: float = 0.25,
        store: SessionStore | None = None,
        base_url: str = "",
    ) -> None:
        """`operations` names the interface's Session.login and .logout: asked when first
        needed, as it imports the Session service. An access token is renewed once no more than
        `refresh_fraction` of its lifetime remains; `store` shares the session with the other
        processes logging in to `base_url` as `login`."""
        if not 0 < refresh_fraction < 1:
            raise ValueError(f"refresh_fraction must be between 0 and 1, not {refresh_fraction!r}")
        self._operations = operations
        self._refresh_op: Operation[Any, Any] | None = None
        self.login = login
        self.password = password
        self.token = token
        self.session_id = session_id
        self.access_token = access_token
        self.refresh_token: str | None = None
        self.retired: tuple[str, ...] = ()  # the last credentials replaced: still secrets
        self.expires: float | None = None  # time.time() when the access token runs out
        self.lifetime: float | None = None  # what the server granted it for, in seconds
        self.refresh_at = float("inf")  # time.time() from which to renew it
        self.refresh_fraction = refresh_fraction
        self.bearer = False  # the login returned an access token: the JSON API gets Bearer
        self.owned = False  # opened by this client's login: closed by its logout
        self.generation = 0  # logins tried so far (concurrent calls share one attempt)
        self.failure: AuthError | None = None  # how the last one failed, if it did
        self.store = store
        self.store_key = store_key(base_url, login or "") if store is not None else ""

    def __repr__(self) -> str:
        # never the credentials, the session id or a token
        state = "open" if self.credential() else "closed"
        return f"Session({state})"

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in an exception or a log line."""
        found = (
            self.password,
            self.token,
            self.session_id,
            self.access_token,
            self.refresh_token,
            *self.retired,
        )
        return tuple(v for v in found if v)

    def operations(self) -> SessionOperations:
        return self._operations()

    def auth_info(self) -> dict[str, str]:
        """The session (or access token); login and password only for an interface without
        Session.login, never as a fallback when a session is lost or a login failed."""
        if self.bearer and self.access_token:
            return {"access_token": self.access_token}
        if self.session_id:
            return {"session_id": self.session_id}
        if self.access_token:
            return {"access_token": self.access_token}
        if self.operations().login is not None:
            return {}
        if self.login and self.token:
            return {"login": self.login, "token": self.token}
        if self.login and self.password:
            return {"login": self.login, "password": self.password}
        return {}

    def credential(self) -> str | None:
        """What the server knows this session by, if it is open."""
        if self.bearer and self.access_token:
            return self.access_token
        return self.session_id or self.access_token

    # ---- what the call flow asks ---------------------------------------------------------------

    def is_logout(self, op: Operation[Any, Any]) -> bool:
        """Logging out never logs in first, nor again after an auth fault."""
        return op.service == "Session" and op.name == "logout"

    def can_login(self) -> bool:
        return bool(self.login) and bool(self.password or self.token)

    def wants_login(self, op: Operation[Any, Any]) -> bool:
        """Before a call: log in first, if it needs a session and none is open."""
        return op.auth and not (self.session_id or self.access_token) and self.can_login()

    def may_relogin(self, op: Operation[Any, Any]) -> bool:
        """After an auth fault: log in again once, if we hold credentials to do it with."""
        return op.auth and self.can_login()

    def wants_refresh(self) -> bool:
        """Before a call: renew the access token first, as little of its lifetime remains."""
        return time.time() >= self.refresh_at

    def refresh_request(self) -> tuple[Operation[Any, Any], Any] | None:
        """Session.refresh_access_token and its request, if there is a refresh token."""
        if not self.refresh_token:
            return None
        op = self.operations().refresh or self._refresh_op
        if op is None:
            login = self.operations().login
            if login is None:
                return None
            op = self._refresh_op = refresh_operation(login)
        return op, RefreshAccessTokenRequest(refresh_token=self.refresh_token)

    def login_request(self, op: Operation[Any, Any]) -> Any:
        """Session.login's request: releases whose login takes a token get it there; the
        others get the password."""
        fields: dict[str, Any] = {"login": self.login}
        if self.token and "token" in getattr(op.request, "__struct_fields__", ()):
            fields["token"] = self.token
        else:
            fields["password"] = self.password
        return request_struct(op, None, fields)

    def logout_request(self, op: Operation[Any, Any]) -> Any:
        """Releases that name the session in the logout request get it there too."""
        fields = getattr(op.request, "__struct_fields__", ())
        session = {"session_id": self.session_id} if "session_id" in fields else {}
        return request_struct(op, None, session)

    # ---- what the call flow records ------------------------------------------------------------

    def logged_in(self, result: Any, raw: Any = None) -> None:
        """Session.login's result (and `raw`, the reply as plain data, for the token fields the
        bindings of older releases do not declare): the session id or access token it carries
        becomes this session's. The calls that waited see its outcome through `generation`."""
        grant = read_grant(raw if isinstance(raw, dict) else None)
        if grant.session_id is None and grant.access_token is None:  # the typed result, then
            names = ("session_id", "access_token", "refresh_token", "expires_at")
            typed = {name: getattr(result, name, None) for name in names}
            grant = read_grant(result if isinstance(result, str) else typed)
        self.generation += 1  # counted once done: the calls that waited see the outcome
        self.failure = None
        if grant.session_id is None and grant.access_token is None:
            raise AuthError(
                "Session.login", "login returned no session_id", operation="Session.login"
            )
        self.adopt(grant)
        self.owned = self.store is None  # a shared session stays open for the other processes

    def refreshed(self, raw: Any) -> bool:
        """Session.refresh_access_token's reply: the renewed token (and the new refresh token,
        when the server rotates them). False when it carries no token."""
        grant = read_grant(raw)
        if grant.access_token is None:
            return False
        self.adopt(
            grant._replace(
                session_id=grant.session_id or self.session_id,
                refresh_token=grant.refresh_token or self.refresh_token,
            )
        )
        return True

    def adopt(self, grant: Grant) -> None:
        """Take over a grant: from a login, a refresh, or the session store."""
        old = (self.session_id, self.access_token, self.refresh_token)
        self.retired = (*(v for v in old if v and v not in grant), *self.retired)[:6]
        self.session_id = grant.session_id
        self.access_token = grant.access_token
        self.refresh_token = grant.refresh_token
        self.expires, self.lifetime = grant.expires, grant.lifetime
        self.bearer = grant.access_token is not None
        self.refresh_at = float("inf")
        if grant.refresh_token and grant.expires is not None and grant.lifetime is not None:
            self.refresh_at = grant.expires - self.refresh_fraction * grant.lifetime

    def grant(self) -> Grant:
        return Grant(
            self.session_id, self.access_token, self.refresh_token, self.expires, self.lifetime
        )

    # ---- the session store ---------------------------------------------------------------------

    def adopt_stored(self, stale: str | None) -> bool:
        """Under the store's lock: take the stored session if another process opened or renewed
        it since this one's `stale` credential was refused or ran low."""
        if self.store is None:
            return False
        grant = load_grant(self.store, self.store_key)
        if grant is None:
            return False
        credential = grant.access_token or grant.session_id
        if credential is None or credential == stale:
            return False
        if grant.expires is not None and grant.expires <= time.time() and not grant.refresh_token:
            return False  # ran out, and nothing to renew it with
        self.adopt(grant)
        return True

    def save(self) -> None:
        """Under the store's lock: share this session with the other processes."""
        if self.store is not None:
            save_grant(self.store, self.store_key, self.grant())

    def login_failed(self, failure: AuthError) -> None:
        """The login was refused: the calls that waited for it fail with it too."""
        self.generation += 1
        self.failure = failure

    def forget(self) -> None:
        """The session is over (logged out, or about to log in again)."""
        self.adopt(Grant(None, None, None, None, None))
