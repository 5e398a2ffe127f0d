"""The session of one client: its credentials, the session id or access token they bought, and
the decisions the call flow asks before and after a call (log in first? again? how?).

The state changes only through the methods here: the call flow (`flow.py`) reads and records,
as httpx's `Auth` flows do, and never reaches inside. Nothing here sends: logging in and out are
steps of the call flow, with the requests this session builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import AuthError
from ..operation import Operation
from .service import request_struct


class SessionOperations(NamedTuple):
    """The interface's Session.login and Session.logout, handed over by its generated client."""

    login: Operation[Any, Any] | None
    logout: Operation[Any, Any] | None


class Session:
    """Credentials and the session they open; one per client, shared by its concurrent calls."""

    __slots__ = (
        "_operations",
        "access_token",
        "failure",
        "generation",
        "login",
        "owned",
        "password",
        "session_id",
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
    ) -> None:
        """`operations` names the interface's Session.login and .logout: asked when first
        needed, as it imports the Session service."""
        self._operations = operations
        self.login = login
        self.password = password
        self.token = token
        self.session_id = session_id
        self.access_token = access_token
        self.owned = False  # opened by this client's login: closed by its logout
        self.generation = 0  # logins tried so far (concurrent calls share one attempt)
        self.failure: AuthError | None = None  # how the last one failed, if it did

    def __repr__(self) -> str:
        # never the credentials, the session id or a token
        state = "open" if self.credential() else "closed"
        return f"Session({state})"

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in an exception or a log line."""
        found = (self.password, self.token, self.session_id, self.access_token)
        return tuple(v for v in found if v)

    def operations(self) -> SessionOperations:
        return self._operations()

    def auth_info(self) -> dict[str, str]:
        """The session (or access token); login and password only for an interface without
        Session.login, never as a fallback when a session is lost or a login failed."""
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

    def logged_in(self, result: Any) -> None:
        """Session.login's result: the session id or access token it carries becomes this
        session's. The calls that waited for this login see its outcome through `generation`."""
        session_id = getattr(result, "session_id", None)
        access_token = getattr(result, "access_token", None)
        if isinstance(result, str):  # a bare session id, should a release return one
            session_id = result
        if not isinstance(access_token, str) or not access_token:
            access_token = None
        if not isinstance(session_id, str) or not session_id:
            session_id = None
        self.generation += 1  # counted once done: the calls that waited see the outcome
        self.failure = None
        if session_id is None and access_token is None:
            raise AuthError(
                "Session.login", "login returned no session_id", operation="Session.login"
            )
        self.session_id = session_id
        self.access_token = access_token
        self.owned = True

    def login_failed(self, failure: AuthError) -> None:
        """The login was refused: the calls that waited for it fail with it too."""
        self.generation += 1
        self.failure = failure

    def forget(self) -> None:
        """The session is over (logged out, or about to log in again)."""
        self.session_id = None
        self.access_token = None
