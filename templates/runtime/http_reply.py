"""What the decoders read of an HTTP reply (`Reply`): an `httpx.Response` has it, and so has the
client's `WholeReply`, a reply the pool read whole, handed over without the cost of building an
`httpx.Response` (~10 µs a call, most of what a decoded small reply costs)."""

from __future__ import annotations

from typing import Protocol

import httpx


class Reply(Protocol):
    """The status, the headers and the (decoded) body: all a decoder reads."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> httpx.Headers: ...

    @property
    def content(self) -> bytes: ...


class WholeReply:
    """A reply read whole, its body decoded: the headers as they arrived, less the framing ones,
    plus the body's `Content-Length`, as `httpx.Response(content=...)` would hold them."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: httpx.Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def __repr__(self) -> str:
        return f"<WholeReply [{self.status_code}]>"
