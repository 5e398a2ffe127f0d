"""The two ways a call goes over the wire, one object each with the same small interface:
`prepare` (operation + request -> the exact request, an `Outgoing` that becomes the
`httpx.Request` on demand) and `decode` (`httpx.Response` -> `(result, report)`, or the exception
the reply carries). The core picks one per operation and never asks which it holds; the codecs
(`soap`, `jsonapi`) do the encoding and decoding.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal, Protocol

import httpx

from ..chars import NOT_XML, not_xml
from ..errors import EncodeError
from ..http_reply import Reply
from ..jsonapi.decode import decode_reply as decode_json_reply
from ..jsonapi.encode import encode_auth, encode_params
from ..limits import Deadline, Limits
from ..operation import Operation
from ..soap.encode import encode_envelope
from ..soap.reply import decode_reply as decode_soap_reply
from ..tolerant import DecodeReport
from . import wire
from .session import Session

TransportName = Literal["json", "soap"]
JsonStyle = Literal["form", "bearer"]

# What this runtime decompresses itself, bounded (see limits.BodyReader): never br or zstd.
ACCEPT_ENCODING = "gzip, deflate"


class Endpoint:
    """The server's base URL, parsed once per path, and the proxy credentials its userinfo
    carries: they go in an `Authorization: Basic` header, never in a request's URL, which httpx
    logs at INFO."""

    __slots__ = ("_heads", "_urls", "base_url", "basic_auth", "password")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._urls: dict[str, httpx.URL] = {}
        self._heads: dict[tuple[Any, ...], Head] = {}
        userinfo = httpx.URL(base_url)
        self.password = userinfo.password  # a secret, like the session's
        self.basic_auth: str | None = None
        if userinfo.userinfo:
            pair = f"{userinfo.username}:{userinfo.password}".encode()
            self.basic_auth = "Basic " + base64.b64encode(pair).decode("ascii")

    def url(self, path: str) -> httpx.URL:
        """Parsed once per endpoint: httpx parses a string URL on every request (~40 µs)."""
        text = f"{self.base_url}{path}"
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= 4096:
                self._urls.clear()
            url = httpx.URL(text)
            if url.userinfo:  # sent as `Authorization: Basic` instead (see above)
                url = url.copy_with(userinfo=b"")
            self._urls[text] = url
        return url

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        """`headers` with the proxy's `Authorization: Basic`, unless they carry their own."""
        if self.basic_auth is not None and "Authorization" not in headers:
            headers["Authorization"] = self.basic_auth
        return headers

    def post(
        self, path: str, headers: dict[str, str], body: bytes, form: bool, timeout: float | None
    ) -> Outgoing:
        """A POST of `body` to `path` with `headers` (and the proxy's `Authorization: Basic`),
        the form's Content-Type after Content-Length if `form`: its head is built (and checked)
        once per path and headers, not per call."""
        headers = self.headers(headers)
        key = (path, form, *headers.items())
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= 4096:
                self._heads.clear()
            head = self._heads[key] = Head(self.url(path), headers, [_FORM] if form else [])
        return Outgoing(head, body, timeout)


class Head:
    """What every request to one URL with the same headers shares: the URL, the headers httpx
    would hold before and after Content-Length (Host first), and the head as the pools' fast path
    writes it (`wire.head`: checked as h11 checks headers; None when one cannot be sent, and
    httpx's path then refuses it as before)."""

    __slots__ = ("after", "before", "url", "wire")

    def __init__(
        self, url: httpx.URL, headers: dict[str, str], after: list[tuple[bytes, bytes]]
    ) -> None:
        self.url = url
        self.before = [(b"Host", url.netloc)]
        self.before += [(k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()]
        self.after = after
        self.wire = wire.head(b"POST", url, self.before, after)


class Outgoing:
    """One request as the call flow sends it: `Head` and body, the timeout, and the bounds of its
    reply (the wire-size limit and the call's deadline). The pools' fast path writes `wire()`;
    `http()` is the `httpx.Request` (`Core.build_request`'s), built only when asked for."""

    __slots__ = ("_request", "body", "bounds", "head", "timeout")

    def __init__(self, head: Head, body: bytes, timeout: float | None) -> None:
        self.head = head
        self.body = body
        self.timeout = timeout
        self.bounds: tuple[int, Deadline] | None = None
        self._request: httpx.Request | None = None

    method = "POST"

    @property
    def url(self) -> httpx.URL:
        return self.head.url

    def timeouts(self) -> dict[str, float | None]:
        """`httpx.Timeout(timeout).as_dict()`, as `http()` carries it."""
        t = self.timeout
        return {"connect": t, "read": t, "write": t, "pool": t}

    def wire(self) -> wire.Wire | None:
        """The request as the fast path writes it, or None (see `Head`)."""
        found = self.head.wire
        if found is None:
            return None
        prefix, suffix, origin = found
        return b"".join((prefix, b"%d" % len(self.body), suffix, self.body)), origin

    def http(self) -> httpx.Request:
        """`httpx.Request("POST", url, content=body, headers=...)` holding the headers httpx
        would give it (Host first, then the headers, then Content-Length and the form's
        Content-Type), built in one go: given its body as a stream, httpx takes the headers as
        they are instead of normalizing and merging them twice. Built once."""
        request = self._request
        if request is None:
            head = self.head
            raw = [*head.before, (b"Content-Length", b"%d" % len(self.body)), *head.after]
            extensions: dict[str, Any] = {"timeout": httpx.Timeout(self.timeout).as_dict()}
            if self.bounds is not None:
                extensions[BODY_BOUNDS] = self.bounds
            request = httpx.Request(
                "POST", head.url, headers=raw, stream=httpx.ByteStream(self.body),
                extensions=extensions,
            )  # fmt: skip
            request.read()  # as `content=` leaves it: the body at hand, the stream consumed
            self._request = request
        return request


# Set by the client's call flow: (most bytes the body may have on the wire, the call's deadline).
BODY_BOUNDS = "portabilling.body"


class Transport(Protocol):
    """What the core asks of a transport."""

    def prepare(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        timeout: float | None,
    ) -> Outgoing:
        """The exact HTTP request for `op`, `auth` (the session's `auth_info`, or nothing for an
        operation without auth) and `extra` (undeclared parameters, checked)."""
        ...

    def decode(
        self, op: Operation[Any, Any], response: Reply, limits: Limits, strict: bool
    ) -> tuple[Any, DecodeReport | None]:
        """The typed result of `op` and the report of its reply (None without a result), or
        the exception the reply carries."""
        ...


class SoapTransport:
    """rpc/encoded or document/literal SOAP 1.1, POSTed to the operation's endpoint."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def prepare(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        timeout: float | None,
    ) -> Outgoing:
        # the headers `httpx.Request(content=..., headers=...)` holds: Host, these, Content-Length
        body = encode_envelope(op, request, auth, extra)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{op.soap_action or f"{op.namespace}#{op.name}"}"',
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        return self.endpoint.post(op.endpoint_path, headers, body, False, timeout)

    def decode(
        self, op: Operation[Any, Any], response: Reply, limits: Limits, strict: bool
    ) -> tuple[Any, DecodeReport | None]:
        return decode_soap_reply(op, response, limits, strict)


_BEARER = re.compile(r"[!-~]+\Z")  # what an Authorization header can carry as it is


class JsonTransport:
    """The JSON API (`/rest/Service/method`): form fields `params` and `auth_info`, or with
    `style="bearer"` a JSON body and `Authorization: Bearer` once an access token is known."""

    __slots__ = ("_auth_form", "endpoint", "session", "style")

    def __init__(self, endpoint: Endpoint, session: Session, style: JsonStyle) -> None:
        self.endpoint = endpoint
        self.session = session
        self.style: JsonStyle = style
        # the last auth_info and its form field: the same for every call of a session
        self._auth_form: tuple[dict[str, str], str] = ({}, "")

    def prepare(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        timeout: float | None,
    ) -> Outgoing:
        path = op.rest_path
        params = encode_params(request, op.qualified_name, extra)
        _check_auth(auth, op)
        access_token = self.session.access_token
        # Bearer when asked for, or when the server's login returned an access token
        bearer = self.style == "bearer" or self.session.bearer
        if bearer and (access_token or not op.auth):
            headers = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
            if op.auth and access_token:
                if not _BEARER.match(access_token):
                    raise EncodeError(
                        "access_token: an Authorization header takes printable ASCII without blanks",
                        operation=op.qualified_name,
                    )
                headers["Authorization"] = f"Bearer {access_token}"
            body = b'{"params":' + params + b"}"
            return self.endpoint.post(path, headers, body, False, timeout)
        # the form httpx would encode from `data={"params": ..., "auth_info": ...}`
        form = "params=" + form_quote(params)
        if op.auth:
            last, field = self._auth_form
            if auth != last:
                field = "&auth_info=" + form_quote(encode_auth(auth).encode("utf-8"))
                self._auth_form = (auth, field)
            form += field
        headers = {"Accept-Encoding": ACCEPT_ENCODING}
        return self.endpoint.post(path, headers, form.encode("ascii"), True, timeout)

    def decode(
        self, op: Operation[Any, Any], response: Reply, limits: Limits, strict: bool
    ) -> tuple[Any, DecodeReport | None]:
        return decode_json_reply(op, response, limits, strict)


_FORM = (b"Content-Type", b"application/x-www-form-urlencoded")
# `urllib.parse.quote_plus` byte by byte, as `urlencode` (and so httpx's `data=`) writes a value
_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_QUOTED = [chr(b) if b in _SAFE else "+" if b == 32 else f"%{b:02X}" for b in range(256)]


def form_quote(value: bytes) -> str:
    """A form field's UTF-8 `value` as `quote_plus` quotes it, without a Python loop per byte."""
    return "".join(map(_QUOTED.__getitem__, value))


def _check_auth(auth: dict[str, str], op: Operation[Any, Any]) -> None:
    """auth_info over JSON: what SOAP refuses (characters XML 1.0 cannot carry), JSON does not
    send either; the same client must behave the same on both transports."""
    for key, value in auth.items():
        if NOT_XML.search(value):
            raise EncodeError(f"{key}: {not_xml(value)}", operation=op.qualified_name)
