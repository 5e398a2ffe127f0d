"""The clients' shared core: transport-independent state and pure request/response handling.

Operation + request -> `httpx.Request`; `httpx.Response` -> typed result (or the matching
exception); the session's state and its login/logout requests. `client.py` drives it.
"""

from __future__ import annotations

import base64
import re
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

import httpx

from . import jsonapi, soap_encode, soap_reply, tolerant
from .deviations import Deviation
from .errors import AuthError, EncodeError, UnsupportedOperation
from .files import file_response, is_attachment
from .flow import BodyRefused, Send
from .limits import BodyReader, Limits
from .operation import Operation
from .redact import mask_url
from .service import DEFAULT_OPTIONS, CallOptions, build_request, check_extra
from .soap_text import NOT_XML, not_xml
from .struct import UNSET
from .xmlparse import DEFAULT_LIMITS, XmlLimits

Req = TypeVar("Req")
Resp = TypeVar("Resp")
TransportName = Literal["json", "soap"]
JsonStyle = Literal["form", "bearer"]


class SessionOperations(NamedTuple):
    """The interface's Session.login and Session.logout, handed over by its generated client."""

    login: Operation[Any, Any] | None
    logout: Operation[Any, Any] | None


# What this runtime decompresses itself, bounded (see limits.BodyReader): never br or zstd.
_ACCEPT_ENCODING = "gzip, deflate"


def _reader(response: httpx.Response, step: Send) -> BodyReader:
    coding = "" if response.is_stream_consumed else response.headers.get("content-encoding", "")
    try:
        return BodyReader(coding, step.limits, step.deadline)
    except ValueError as exc:  # a Content-Encoding this client did not ask for
        raise BodyRefused(exc) from None


def _buffered(response: httpx.Response, reader: BodyReader, step: Send) -> httpx.Response:
    """The reply with its decoded body, as the decoders take it. Headers are copied as the
    bytes that arrived: a value that is not ASCII (a UTF-8 file name, a Latin-1 boundary) must
    reach the decoders, which refuse or read it, rather than fail to be copied."""
    headers = [
        (k, v)
        for k, v in response.headers.raw
        if k.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=reader.body(), request=step.request
    )


_BEARER = re.compile(r"[!-~]+\Z")  # what an Authorization header can carry as it is


def _check_auth(auth: dict[str, str], op: Operation[Any, Any]) -> None:
    """auth_info over JSON: what SOAP refuses (characters XML 1.0 cannot carry), JSON does not
    send either; the same client must behave the same on both transports."""
    for key, value in auth.items():
        if NOT_XML.search(value):
            raise EncodeError(f"{key}: {not_xml(value)}", operation=op.qualified_name)


class _Core:
    """Transport-independent state and pure request/response handling."""

    interface: ClassVar[str] = ""
    default_port: ClassVar[int | None] = None
    default_transport: ClassVar[TransportName] = "json"  # set by the generator's `transport`

    def __init__(
        self,
        base_url: str,
        *,
        transport: TransportName | None = None,
        login: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session_id: str | None = None,
        access_token: str | None = None,
        timeout: float | None = 30.0,
        retries: int = 2,
        backoff: float = 0.2,
        json_style: JsonStyle = "form",
        json_only_over_json: bool = False,
        limits: Limits | None = None,
        xml_limits: XmlLimits = DEFAULT_LIMITS,
        strict: bool = False,
        on_reply: Callable[[tolerant.DecodeReport], None] | None = None,
    ) -> None:
        """`json_style="bearer"` sends `application/json` with `Authorization: Bearer` once an
        access token is known (newer releases); `json_only_over_json` lets a SOAP client send
        JSON-only methods over the JSON API instead of refusing them; `transport` defaults to
        the class's `default_transport`. `limits` bound what a reply may cost (see
        `limits.Limits`; `xml_limits` is its old name); `timeout` is the whole call's, from
        connecting to the decoded result, retries and re-login included. `strict=True` refuses
        replies that deviate from the bindings (`DecodeError`) instead of repairing them;
        `on_reply` is called with the `DecodeReport` of every decoded reply."""
        if transport is None:
            transport = self.default_transport
        if transport not in ("json", "soap"):
            raise ValueError(f"transport must be 'json' or 'soap', not {transport!r}")
        if json_style not in ("form", "bearer"):
            raise ValueError(f"json_style must be 'form' or 'bearer', not {json_style!r}")
        self.base_url = self._with_default_port(base_url.rstrip("/"))
        self.transport: TransportName = transport
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.json_style: JsonStyle = json_style
        self.json_only_over_json = json_only_over_json
        self.xml_limits: Limits = limits or xml_limits
        self._login_generation = 0  # logins tried so far (concurrent calls share one attempt)
        self._login_failure: AuthError | None = None  # how the last one failed, if it did
        self.strict = strict
        self.on_reply = on_reply
        # the latest deviations of this client's replies, oldest first
        self.deviations: deque[Deviation] = deque(maxlen=1000)
        self._last_reply: ContextVar[tolerant.DecodeReport | None] = ContextVar(
            "last_reply", default=None
        )
        self._login = login
        self._password = password
        self._token = token
        self._session_id = session_id
        self._access_token = access_token
        self._owns_session = False
        self._urls: dict[str, httpx.URL] = {}
        # credentials in the URL (a proxy's basic auth) go in a header, never in the request's
        # URL, which httpx logs at INFO
        userinfo = httpx.URL(self.base_url)
        self._basic_auth: str | None = None
        if userinfo.userinfo:
            pair = f"{userinfo.username}:{userinfo.password}".encode()
            self._basic_auth = "Basic " + base64.b64encode(pair).decode("ascii")

    @classmethod
    def _with_default_port(cls, base_url: str) -> str:
        """`https://HOST` of a customer client means port 8444 (8442, 8445 for the others)."""
        url = httpx.URL(base_url)
        if (
            url.port is None
            and cls.default_port
            and url.scheme == "https"
            and cls.default_port != 443
        ):
            return str(url.copy_with(port=cls.default_port)).rstrip("/")
        return base_url

    def __repr__(self) -> str:
        # never the credentials, the session id or a token (nor a password in the URL)
        return f"{type(self).__name__}({mask_url(self.base_url)!r}, transport={self.transport!r})"

    def _secrets(self) -> tuple[str, ...]:
        """What must never appear in an exception this client raises."""
        found = (self._password, self._token, self._session_id, self._access_token)
        userinfo = httpx.URL(self.base_url).password
        return tuple(v for v in (*found, userinfo) if v)

    # ---- request building ----------------------------------------------------------------------

    def auth_info(self) -> dict[str, str]:
        """The session (or access token); login and password only for an interface without
        Session.login, never as a fallback when a session is lost or a login failed."""
        if self._session_id:
            return {"session_id": self._session_id}
        if self._access_token:
            return {"access_token": self._access_token}
        if self._session_operations().login is not None:
            return {}
        if self._login and self._token:
            return {"login": self._login, "token": self._token}
        if self._login and self._password:
            return {"login": self._login, "password": self._password}
        return {}

    def transport_for(self, op: Operation[Any, Any]) -> TransportName:
        """The transport `op` goes over: JSON-only methods never silently vanish on SOAP."""
        if (
            self.transport == "soap"
            and op.soap_style not in ("rpc/encoded", "document/literal")
            and not op.json_only
        ):
            raise UnsupportedOperation(
                f"{op.qualified_name} is bound as {op.soap_style} SOAP; this runtime speaks "
                "rpc/encoded and document/literal SOAP, and the JSON API"
            )
        if op.json_only and self.transport == "soap":
            if not self.json_only_over_json:
                raise UnsupportedOperation(
                    f"{op.qualified_name} exists only in the JSON API; use transport='json' "
                    "or json_only_over_json=True"
                )
            return "json"
        return self.transport

    def _url(self, path: str) -> httpx.URL:
        """Parsed once per endpoint: httpx parses a string URL on every request (~40 µs)."""
        text = f"{self.base_url}{path}"
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= 4096:
                self._urls.clear()
            url = httpx.URL(text)
            if url.userinfo:  # sent as `Authorization: Basic` instead (see __init__)
                url = url.copy_with(userinfo=b"")
            self._urls[text] = url
        return url

    def _with_basic_auth(self, headers: dict[str, str]) -> dict[str, str]:
        if self._basic_auth is not None and "Authorization" not in headers:
            headers["Authorization"] = self._basic_auth
        return headers

    def build_request(
        self, op: Operation[Any, Any], request: Any, options: CallOptions = DEFAULT_OPTIONS
    ) -> httpx.Request:
        """The exact HTTP request for `op`, without sending it (see README, Inspecting requests)."""
        timeout = self.timeout if options.timeout is UNSET else options.timeout
        extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        auth = self.auth_info() if op.auth else {}
        extra = options.extra_params
        if extra:
            check_extra(op, extra)
        if self.transport_for(op) == "soap":
            return httpx.Request(
                "POST",
                self._url(op.endpoint_path),
                content=soap_encode.encode_envelope(op, request, auth, extra),
                headers=self._with_basic_auth(
                    {
                        "Content-Type": "text/xml; charset=utf-8",
                        "SOAPAction": f'"{op.soap_action or f"{op.namespace}#{op.name}"}"',
                        "Accept-Encoding": _ACCEPT_ENCODING,
                    }
                ),
                extensions=extensions,
            )
        url = self._url(f"/rest/{op.service}/{op.name}")
        params = jsonapi.encode_params(request, op.qualified_name, extra)
        _check_auth(auth, op)
        if self.json_style == "bearer" and (self._access_token or not op.auth):
            headers = {"Content-Type": "application/json", "Accept-Encoding": _ACCEPT_ENCODING}
            if op.auth and self._access_token:
                if not _BEARER.match(self._access_token):
                    raise EncodeError(
                        "access_token: an Authorization header takes printable ASCII without blanks",
                        operation=op.qualified_name,
                    )
                headers["Authorization"] = f"Bearer {self._access_token}"
            return httpx.Request(
                "POST",
                url,
                content=b'{"params":' + params + b"}",
                headers=self._with_basic_auth(headers),
                extensions=extensions,
            )
        data = {"params": params.decode("utf-8")}
        if op.auth:
            data["auth_info"] = jsonapi.encode_auth(auth)
        return httpx.Request(
            "POST",
            url,
            data=data,
            headers=self._with_basic_auth({"Accept-Encoding": _ACCEPT_ENCODING}),
            extensions=extensions,
        )

    def decode_response(
        self,
        op: Operation[Any, Resp],
        response: httpx.Response,
        options: CallOptions = DEFAULT_OPTIONS,
    ) -> Resp:
        """The typed result of `op` from an HTTP reply, or the matching exception."""
        if response.status_code == 200 and is_attachment(response):
            return file_response(op, response)  # type: ignore[no-any-return]
        strict = self.strict if options.strict is None else options.strict
        tolerant.publish(None)
        if self.transport_for(op) == "soap":
            result = soap_reply.decode_reply(op, response, self.xml_limits, strict)
        else:
            result = jsonapi.decode_reply(op, response, self.xml_limits, strict)
        report = tolerant.last_report()
        if report is not None:
            self._last_reply.set(report)
            self.deviations.extend(report.deviations)
            if self.on_reply is not None:
                self.on_reply(report)
        return result  # type: ignore[no-any-return]

    @property
    def last_reply(self) -> tolerant.DecodeReport | None:
        """The `DecodeReport` of this client's last reply in the current thread or task:
        its deviations, and (decoded on demand) its undeclared fields and raw data."""
        return self._last_reply.get()

    # ---- session decisions (the call flow in flow.py asks them) -------------------------------

    def _session_operations(self) -> SessionOperations:
        """Overridden by each generated client class with its interface's Session operations."""
        return SessionOperations(login=None, logout=None)

    def _is_logout(self, op: Operation[Any, Any]) -> bool:
        """Logging out never logs in first, nor again after an auth fault."""
        return op.service == "Session" and op.name == "logout"

    def _can_login(self) -> bool:
        return bool(self._login) and bool(self._password or self._token)

    def _wants_login(self, op: Operation[Any, Any]) -> bool:
        return op.auth and not (self._session_id or self._access_token) and self._can_login()

    def _may_relogin(self, op: Operation[Any, Any]) -> bool:
        """After an auth fault: log in again once, if we hold credentials to do it with."""
        return op.auth and self._can_login()

    def _credential(self) -> str | None:
        return self._session_id or self._access_token

    def _login_fields(self, op: Operation[Any, Any]) -> dict[str, Any]:
        """Releases whose login takes a token get it there; the others get the password."""
        fields: dict[str, Any] = {"login": self._login}
        if self._token and "token" in getattr(op.request, "__struct_fields__", ()):
            fields["token"] = self._token
        else:
            fields["password"] = self._password
        return fields

    def _logout_request(self, op: Operation[Any, Any]) -> Any:
        """Releases that name the session in the logout request get it there too."""
        fields = getattr(op.request, "__struct_fields__", ())
        session = {"session_id": self._session_id} if "session_id" in fields else {}
        return build_request(op, None, session)

    def _remember(self, result: Any) -> None:
        session_id = getattr(result, "session_id", None)
        access_token = getattr(result, "access_token", None)
        if isinstance(result, str):  # a bare session id, should a release return one
            session_id = result
        if not isinstance(access_token, str) or not access_token:
            access_token = None
        if not isinstance(session_id, str) or not session_id:
            session_id = None
        if session_id is None and access_token is None:
            raise AuthError(
                "Session.login", "login returned no session_id", operation="Session.login"
            )
        self._session_id = session_id
        self._access_token = access_token
        self._owns_session = True

    def _forget(self) -> None:
        self._session_id = None
        self._access_token = None


