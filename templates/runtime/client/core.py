"""The clients' shared core: transport-independent state and pure request/response handling.

Operation + request -> `httpx.Request`; `httpx.Response` -> typed result (or the matching
exception). The wire format is the transport's (`transport.py`), the credentials and the session
the `Session`'s (`session.py`); `clients.py` drives the call flow (`flow.py`) over this core.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

import httpx

from ..deviations import Deviation
from ..errors import UnsupportedOperation
from ..files import file_response, is_attachment
from ..http_reply import Reply
from ..limits import Limits
from ..operation import Operation
from ..redact import mask_url
from ..struct import UNSET
from ..tolerant import DecodeReport
from ..xmlparse import DEFAULT_LIMITS, XmlLimits
from .options import DEFAULT_OPTIONS, CallOptions, check_extra
from .session import Session, SessionOperations
from .store import SessionStore
from .transport import (
    Endpoint,
    JsonStyle,
    JsonTransport,
    Outgoing,
    SoapTransport,
    Transport,
    TransportName,
)

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Core:
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
        on_reply: Callable[[DecodeReport], None] | None = None,
        refresh_fraction: float = 0.25,
        session_store: SessionStore | None = None,
        max_page_size: int = 1000,
    ) -> None:
        """`json_style="bearer"` sends `application/json` with `Authorization: Bearer` once an
        access token is known (newer releases); `json_only_over_json` lets a SOAP client send
        JSON-only methods over the JSON API instead of refusing them; `transport` defaults to
        the class's `default_transport`. `limits` bound what a reply may cost (see
        `limits.Limits`; `xml_limits` is its old name); `timeout` is the whole call's, from
        connecting to the decoded result, retries and re-login included. `strict=True` refuses
        replies that deviate from the bindings (`DecodeError`) instead of repairing them;
        `on_reply` is called with the `DecodeReport` of every decoded reply.

        When the login returns an access token the client sends it (Bearer on the JSON API,
        `access_token` in SOAP's auth_info) and renews it with Session.refresh_access_token once
        no more than `refresh_fraction` of its lifetime remains; `session_store` (see
        `FileSessionStore`) shares one session with the other processes using the same server
        and login, which then log in once between them. `iter_*` refuses a `page_size` above
        `max_page_size`, the server's cap on `limit` (1000 on PortaBilling)."""
        if transport is None:
            transport = self.default_transport
        if transport not in ("json", "soap"):
            raise ValueError(f"transport must be 'json' or 'soap', not {transport!r}")
        if type(max_page_size) is not int or max_page_size < 1:
            raise ValueError(f"max_page_size must be a positive integer, not {max_page_size!r}")
        if json_style not in ("form", "bearer"):
            raise ValueError(f"json_style must be 'form' or 'bearer', not {json_style!r}")
        self.base_url = self._with_default_port(_checked_base_url(base_url).rstrip("/"))
        self.transport: TransportName = transport
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.json_style: JsonStyle = json_style
        self.json_only_over_json = json_only_over_json
        self.xml_limits: Limits = limits or xml_limits
        self.strict = strict
        self.on_reply = on_reply
        self.max_page_size = max_page_size
        # the latest deviations of this client's replies, oldest first
        self.deviations: deque[Deviation] = deque(maxlen=1000)
        self._last_reply: ContextVar[DecodeReport | None] = ContextVar("last_reply", default=None)
        self._session = Session(
            self._session_operations,
            login=login,
            password=password,
            token=token,
            session_id=session_id,
            access_token=access_token,
            refresh_fraction=refresh_fraction,
            store=session_store,
            base_url=self.base_url,
        )
        self._endpoint = Endpoint(self.base_url)
        self._transports: dict[TransportName, Transport] = {
            "soap": SoapTransport(self._endpoint),
            "json": JsonTransport(self._endpoint, self._session, json_style),
        }

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
        userinfo = self._endpoint.password
        return (*self._session.secrets(), userinfo) if userinfo else self._session.secrets()

    def _session_operations(self) -> SessionOperations:
        """Overridden by each generated client class with its interface's Session operations."""
        return SessionOperations(login=None, logout=None)

    # ---- request building ----------------------------------------------------------------------

    def auth_info(self) -> dict[str, str]:
        """The session (or access token); login and password only for an interface without
        Session.login, never as a fallback when a session is lost or a login failed."""
        return self._session.auth_info()

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

    def build_request(
        self, op: Operation[Any, Any], request: Any, options: CallOptions = DEFAULT_OPTIONS
    ) -> httpx.Request:
        """The exact HTTP request for `op`, without sending it (see README, Inspecting requests)."""
        return self.outgoing(op, request, options).http()

    def transport_of(self, op: Operation[Any, Any]) -> Transport:
        """The transport object `op` goes over (`transport_for(op)`'s): it writes the request
        and decodes the reply."""
        return self._transports[self.transport_for(op)]

    def outgoing(
        self,
        op: Operation[Any, Any],
        request: Any,
        options: CallOptions = DEFAULT_OPTIONS,
        transport: Transport | None = None,
    ) -> Outgoing:
        """`build_request`'s request before it becomes an `httpx.Request`: what the call flow
        sends (see `transport.Outgoing`), over `transport` (`transport_of(op)` if not given)."""
        if transport is None:
            transport = self.transport_of(op)
        timeout = self.timeout if options.timeout is UNSET else options.timeout
        auth = self._session.auth_info() if op.auth else {}
        extra = options.extra_params
        if extra:
            check_extra(op, extra)
        return transport.prepare(op, request, auth, extra, timeout)

    def decode_response(
        self,
        op: Operation[Any, Resp],
        response: Reply,
        options: CallOptions = DEFAULT_OPTIONS,
        transport: Transport | None = None,
    ) -> Resp:
        """The typed result of `op` from an HTTP reply, or the matching exception; decoded by
        `transport` (`transport_of(op)` if not given)."""
        if transport is None:
            transport = self.transport_of(op)
        if response.status_code == 200 and is_attachment(response):
            return file_response(op, response)  # type: ignore[no-any-return]
        strict = self.strict if options.strict is None else options.strict
        result, report = transport.decode(op, response, self.xml_limits, strict)
        if report is not None:
            self._last_reply.set(report)
            self.deviations.extend(report.deviations)
            if self.on_reply is not None:
                self.on_reply(report)
        return result  # type: ignore[no-any-return]

    def clear_last_reply(self) -> None:
        self._last_reply.set(None)

    @property
    def last_reply(self) -> DecodeReport | None:
        """The `DecodeReport` of this client's last reply in the current thread or task:
        its deviations, and (decoded on demand) its undeclared fields and raw data."""
        return self._last_reply.get()


def _checked_base_url(base_url: object) -> str:
    """`https://HOST[:PORT]` (or http): anything else is refused here, naming the URL (without
    its password), not at the first call with a raw error from the HTTP library."""
    shown = mask_url(base_url)
    if not isinstance(base_url, str):
        raise TypeError(f"the base URL must be a str, not {type(base_url).__name__}")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"base URL {shown!r} is not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"base URL {shown!r} is not an http(s) URL: give it as https://HOST[:PORT]"
        )
    return base_url
