"""What the decoders read of an HTTP reply (`Reply`): an `httpx.Response` has it, and so has the
client's `WholeReply`, a reply the pool read whole, handed over without the cost of building an
`httpx.Response` (~10 µs a call, most of what a decoded small reply costs). Its `httpx.Headers`
are built only when asked for: the decoders read the few headers they need with `header()`."""

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
    """A reply read whole, its body decoded: the headers as they arrived (`raw`), less the
    framing ones, plus the body's `Content-Length`, as `httpx.Response(content=...)` would hold
    them."""

    __slots__ = ("_headers", "content", "names", "raw", "status_code")

    def __init__(
        self,
        status_code: int,
        raw: list[tuple[bytes, bytes]],
        content: bytes,
        names: bytes | None = None,
    ) -> None:
        """`names`, if given: the names in `raw` in lower case, each between line feeds (a
        header not among them is looked up without a pass over `raw`)."""
        self.status_code = status_code
        self.raw = raw
        self.content = content
        self.names = names
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = httpx.Headers(self.raw)
        return headers

    def header(self, name: str) -> str:
        """`headers.get(name, "")` for a lower-case `name`, without building the headers when
        the value is ASCII (which every encoding httpx may pick for them reads alike)."""
        key = name.encode("ascii")
        if self.names is not None and b"\n" + key + b"\n" not in self.names:
            return ""
        values = [v for k, v in self.raw if k.lower() == key]
        if not values:
            return ""
        joined = b", ".join(values)
        if joined.isascii():
            return joined.decode("ascii")
        found: str = self.headers.get(name, "")
        return found

    def __repr__(self) -> str:
        return f"<WholeReply [{self.status_code}]>"


def header(reply: Reply, name: str) -> str:
    """`reply.headers.get(name, "")` (`name` in lower case), read from a `WholeReply` without
    building its `httpx.Headers`."""
    if type(reply) is WholeReply:
        return reply.header(name)
    found: str = reply.headers.get(name, "")
    return found
