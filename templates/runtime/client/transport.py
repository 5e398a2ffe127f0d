"""The two ways a call goes over the wire, one object each with the same small interface:
`http_request` (operation + request -> the exact `httpx.Request`) and `decode` (`httpx.Response`
-> `(result, report)`, or the exception the reply carries). The core picks one per operation and
never asks which it holds; the codecs (`soap`, `jsonapi`) do the encoding and decoding.
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
from ..limits import Limits
from ..operation import Operation
from ..soap.encode import encode_envelope
from ..soap.reply import decode_reply as decode_soap_reply
from ..tolerant import DecodeReport
from .session import Session

TransportName = Literal["json", "soap"]
JsonStyle = Literal["form", "bearer"]

# What this runtime decompresses itself, bounded (see limits.BodyReader): never br or zstd.
ACCEPT_ENCODING = "gzip, deflate"


class Endpoint:
    """The server's base URL, parsed once per path, and the proxy credentials its userinfo
    carries: they go in an `Authorization: Basic` header, never in a request's URL, which httpx
    logs at INFO."""

    __slots__ = ("_urls", "base_url", "basic_auth", "password")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._urls: dict[str, httpx.URL] = {}
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


class Transport(Protocol):
    """What the core asks of a transport."""

    def http_request(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        extensions: dict[str, Any],
    ) -> httpx.Request:
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

    def http_request(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        extensions: dict[str, Any],
    ) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.endpoint.url(op.endpoint_path),
            content=encode_envelope(op, request, auth, extra),
            headers=self.endpoint.headers(
                {
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": f'"{op.soap_action or f"{op.namespace}#{op.name}"}"',
                    "Accept-Encoding": ACCEPT_ENCODING,
                }
            ),
            extensions=extensions,
        )

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

    def http_request(
        self,
        op: Operation[Any, Any],
        request: Any,
        auth: dict[str, str],
        extra: dict[str, Any] | None,
        extensions: dict[str, Any],
    ) -> httpx.Request:
        url = self.endpoint.url(f"/rest/{op.service}/{op.name}")
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
            return _post(url, self.endpoint.headers(headers), body, [], extensions)
        # the form httpx would encode from `data={"params": ..., "auth_info": ...}`
        form = "params=" + form_quote(params)
        if op.auth:
            last, field = self._auth_form
            if auth != last:
                field = "&auth_info=" + form_quote(encode_auth(auth).encode("utf-8"))
                self._auth_form = (auth, field)
            form += field
        headers = self.endpoint.headers({"Accept-Encoding": ACCEPT_ENCODING})
        return _post(url, headers, form.encode("ascii"), [_FORM], extensions)

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


def _post(
    url: httpx.URL,
    headers: dict[str, str],
    body: bytes,
    after: list[tuple[bytes, bytes]],
    extensions: dict[str, Any],
) -> httpx.Request:
    """`httpx.Request("POST", url, content=body, headers=headers)` holding the headers httpx
    would give it (Host first, then `headers`, then Content-Length and `after`), built in one
    go: given its body as a stream, httpx takes the headers as they are instead of normalizing
    and merging them twice (most of what a small call's request cost)."""
    raw = [(b"Host", url.netloc)]
    raw += [(k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()]
    raw.append((b"Content-Length", b"%d" % len(body)))
    raw += after
    request = httpx.Request(
        "POST", url, headers=raw, stream=httpx.ByteStream(body), extensions=extensions
    )
    request.read()  # as `content=` leaves it: the body at hand, the stream consumed
    return request


def _check_auth(auth: dict[str, str], op: Operation[Any, Any]) -> None:
    """auth_info over JSON: what SOAP refuses (characters XML 1.0 cannot carry), JSON does not
    send either; the same client must behave the same on both transports."""
    for key, value in auth.items():
        if NOT_XML.search(value):
            raise EncodeError(f"{key}: {not_xml(value)}", operation=op.qualified_name)
