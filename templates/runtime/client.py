"""Clients: `Client` (sync) and `AsyncClient` share one core that builds and decodes requests.

The core is pure (operation + request -> `httpx.Request`; `httpx.Response` -> typed result), so
both clients only differ in how they send, and users can inspect requests without sending them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
from datetime import date, datetime
from typing import Any, ClassVar, Literal, Self, TypeVar

import httpx
import msgspec

from .errors import AuthError, DecodeError, Fault, TransportError, UnsupportedOperation
from .operation import Operation
from .service import DEFAULT_OPTIONS, CallOptions
from .struct import UNSET

Req = TypeVar("Req")
Resp = TypeVar("Resp")
TransportName = Literal["json", "soap"]

# Fault codes that mean "the session is gone": log in again once, then retry the call once.
AUTH_FAULTS = frozenset(
    {
        "Server.Session.check_auth.auth_failed",
        "Client.check_auth.envelope_missed",
        "Client.Session.check_auth.failed_to_process_jwt",
        "Client.Session.check_auth.failed_to_process_access_token",
    }
)
_EXCERPT = 200


def _server_time(value: Any) -> Any:
    """PortaBilling's datetime format: `YYYY-MM-DD HH:MM:SS` in UTC, no `T`, no offset."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    raise NotImplementedError(type(value).__name__)


def to_wire(value: Any) -> Any:
    """A request struct as plain data in the server's formats (unset fields left out)."""
    if value is None:
        return {}
    return _fix_datetimes(msgspec.to_builtins(value, builtin_types=(datetime, date)))


def _fix_datetimes(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fix_datetimes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix_datetimes(v) for v in data]
    if isinstance(data, (datetime, date)):
        return _server_time(data)
    return data


class _Core:
    """Transport-independent state and pure request/response handling."""

    interface: ClassVar[str] = ""
    default_port: ClassVar[int | None] = None

    def __init__(
        self,
        base_url: str,
        *,
        transport: TransportName = "json",
        login: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session_id: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        if transport not in ("json", "soap"):
            raise ValueError(f"transport must be 'json' or 'soap', not {transport!r}")
        if transport == "soap":
            raise ValueError("the SOAP transport is not available in this build; use 'json'")
        self.base_url = base_url.rstrip("/")
        self.transport: TransportName = transport
        self.timeout = timeout
        self._login = login
        self._password = password
        self._token = token
        self._session_id = session_id
        self._owns_session = False

    def __repr__(self) -> str:
        # never the credentials or the session id
        return f"{type(self).__name__}({self.base_url!r}, transport={self.transport!r})"

    # ---- request building ----------------------------------------------------------------------

    def auth_info(self) -> dict[str, str]:
        if self._session_id:
            return {"session_id": self._session_id}
        if self._login and self._token:
            return {"login": self._login, "token": self._token}
        if self._login and self._password:
            return {"login": self._login, "password": self._password}
        return {}

    def build_request(
        self, op: Operation[Any, Any], request: Any, options: CallOptions = DEFAULT_OPTIONS
    ) -> httpx.Request:
        """The exact HTTP request for `op`, without sending it (see README, Inspecting requests)."""
        params = to_wire(request)
        data = {"params": json.dumps(params, separators=(",", ":"))}
        if op.auth:
            data["auth_info"] = json.dumps(self.auth_info(), separators=(",", ":"))
        timeout = self.timeout if options.timeout is UNSET else options.timeout
        return httpx.Request(
            "POST",
            f"{self.base_url}/rest/{op.service}/{op.name}",
            data=data,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    def decode_response(self, op: Operation[Any, Resp], response: httpx.Response) -> Resp:
        """The typed result of `op` from an HTTP reply, or the matching exception."""
        where = f"{op.service}.{op.name}"
        body = response.content
        if response.status_code == 500:
            fault = _json_fault(body)
            if fault is not None:
                code, text = fault
                cls = AuthError if code in AUTH_FAULTS else Fault
                raise cls(code, text, operation=where)
        if response.status_code != 200:
            raise TransportError(
                "unexpected HTTP status",
                operation=where,
                status=response.status_code,
                excerpt=_excerpt(body),
            )
        if op.response is None:
            return None  # type: ignore[return-value]
        try:
            return msgspec.json.decode(body, type=op.response, strict=False)
        except msgspec.DecodeError as exc:
            raise DecodeError(
                f"reply does not match {op.response.__name__}: {exc}",
                operation=where,
                status=200,
                excerpt=_excerpt(body),
            ) from None

    def _check(self, op: Operation[Any, Any]) -> None:
        if op.json_only and self.transport != "json":
            raise UnsupportedOperation(
                f"{op.service}.{op.name} exists only in the JSON API; use a client with transport='json'"
            )

    def _can_login(self) -> bool:
        return bool(self._login) and bool(self._password or self._token)

    def _wants_login(self, op: Operation[Any, Any]) -> bool:
        return op.auth and not self._session_id and self._can_login()

    def _may_relogin(self, op: Operation[Any, Any]) -> bool:
        """After an auth fault: log in again once, if we hold credentials to do it with."""
        return op.auth and self._can_login()

    def _login_request(self) -> tuple[Operation[Any, Any], Any]:
        session = getattr(self, "session", None)
        if session is None:
            raise TransportError(
                "this interface has no Session service to log in with", operation="Session.login"
            )
        from .service import build_request

        op = _session_op(session, "LOGIN")
        if op is None:
            raise TransportError(
                "the Session service has no login operation", operation="Session.login"
            )
        fields: dict[str, Any] = {"login": self._login}
        if self._token and "token" in op.request.__struct_fields__:  # type: ignore[union-attr]
            fields["token"] = self._token
        else:
            fields["password"] = self._password
        return op, build_request(op, None, fields)

    def _logout_fields(self, session: Any) -> dict[str, Any]:
        """Releases that name the session in the logout request get it there too."""
        op = _session_op(session, "LOGOUT")
        fields = getattr(getattr(op, "request", None), "__struct_fields__", ())
        return {"session_id": self._session_id} if "session_id" in fields else {}

    def _remember(self, result: Any) -> None:
        session_id = getattr(result, "session_id", None)
        if not isinstance(session_id, str) or not session_id:
            raise AuthError(
                "Session.login", "login returned no session_id", operation="Session.login"
            )
        self._session_id = session_id
        self._owns_session = True


def _session_op(session: Any, const: str) -> Operation[Any, Any] | None:
    """An operation spec (`LOGIN`, `LOGOUT`) from the Session stub's generated module."""
    op = getattr(sys.modules[type(session).__module__], const, None)
    return op if isinstance(op, Operation) else None


def _connection_error(op: Operation[Any, Any], exc: httpx.HTTPError) -> TransportError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return TransportError(f"{kind} ({type(exc).__name__})", operation=f"{op.service}.{op.name}")


def _json_fault(body: bytes) -> tuple[str, str] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and isinstance(data.get("faultcode"), str):
        return data["faultcode"], str(data.get("faultstring", ""))
    return None


def _excerpt(body: bytes) -> str:
    return body[:_EXCERPT].decode("utf-8", "replace")


class Client(_Core):
    """Synchronous client; one session for all calls, logged out on `close()`."""

    def __init__(
        self, base_url: str, *, http_client: httpx.Client | None = None, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._http = http_client or httpx.Client()
        self._owns_http = http_client is None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, op: Operation[Req, Resp], request: Req | None, options: CallOptions) -> Resp:
        self._check(op)
        if self._wants_login(op):
            self._ensure_session(None)
        stale = self._session_id  # read before sending: a fault must not blame a newer session
        try:
            return self._send(op, request, options)
        except AuthError:
            if not self._may_relogin(op):
                raise
            self._ensure_session(stale)
            return self._send(op, request, options)

    def _send(self, op: Operation[Any, Resp], request: Any, options: CallOptions) -> Resp:
        http_request = self.build_request(op, request, options)
        try:
            response = self._http.send(http_request)
        except httpx.HTTPError as exc:
            raise _connection_error(op, exc) from None
        return self.decode_response(op, response)

    def _ensure_session(self, stale: str | None) -> None:
        with self._lock:
            if self._session_id and self._session_id != stale:
                return  # another thread already logged in
            self._session_id = None
            op, req = self._login_request()
            self._remember(self._send(op, req, CallOptions()))

    def close(self) -> None:
        try:
            if self._owns_session and self._session_id:
                session = getattr(self, "session", None)
                if session is not None and hasattr(session, "logout"):
                    with contextlib.suppress(Fault, TransportError):
                        session.logout(**self._logout_fields(session))
                self._session_id = None
        finally:
            if self._owns_http:
                self._http.close()


class AsyncClient(_Core):
    """Asynchronous client; concurrent calls share one session and one re-login."""

    def __init__(
        self, base_url: str, *, http_client: httpx.AsyncClient | None = None, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._http = http_client or httpx.AsyncClient()
        self._owns_http = http_client is None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def call(
        self, op: Operation[Req, Resp], request: Req | None, options: CallOptions
    ) -> Resp:
        self._check(op)
        if self._wants_login(op):
            await self._ensure_session(None)
        stale = self._session_id
        try:
            return await self._send(op, request, options)
        except AuthError:
            if not self._may_relogin(op):
                raise
            await self._ensure_session(stale)
            return await self._send(op, request, options)

    async def _send(self, op: Operation[Any, Resp], request: Any, options: CallOptions) -> Resp:
        http_request = self.build_request(op, request, options)
        try:
            response = await self._http.send(http_request)
        except httpx.HTTPError as exc:
            raise _connection_error(op, exc) from None
        return self.decode_response(op, response)

    async def _ensure_session(self, stale: str | None) -> None:
        async with self._lock:
            if self._session_id and self._session_id != stale:
                return  # another task already logged in
            self._session_id = None
            op, req = self._login_request()
            self._remember(await self._send(op, req, CallOptions()))

    async def aclose(self) -> None:
        try:
            if self._owns_session and self._session_id:
                session = getattr(self, "session", None)
                if session is not None and hasattr(session, "logout"):
                    with contextlib.suppress(Fault, TransportError):
                        await session.logout(**self._logout_fields(session))
                self._session_id = None
        finally:
            if self._owns_http:
                await self._http.aclose()
