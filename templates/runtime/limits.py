"""Bounds on what one reply may cost, and the reader that enforces them while the reply streams.

Every resource a reply can consume has a cap here, configurable per client (`limits=Limits(...)`)
and named in the error that exceeding it raises:

| limit | default | why this default |
|---|---|---|
| `max_wire_bytes` | 512 MiB | bytes on the wire; a 100 000-account SOAP list is ~650 MB, which belongs in pages |
| `max_bytes` | 512 MiB | after decompression: a 1 MB gzip bomb stops here, not at 2 GB |
| `max_json_depth` | 64 | PortaBilling's deepest reply nests ~12 levels; room for untyped data |
| `max_xml_depth` | 256 | libxml2's own default; the envelope adds 4 levels to a ~12-level reply |
| `max_ref_objects` | 1 000 000 | elements materialised through SOAP multi-refs (`href`): legit replies expand each once |
| `max_array_dims` | 32 | `soapenc:arrayType` ranks; real arrays have 1 or 2 |
| `max_parts` | 64 | top-level MIME parts of a SOAP-with-Attachments reply; a download has one or two |
| `huge_text` | False | libxml2 refuses text nodes over 10 MB unless lifted |

The overall deadline of a call is its `timeout` (the client's, or `with_options(timeout=...)`):
connect, every retry and its wait, the re-login, reading and decoding all share it.

Decompression is done here rather than by httpx, bounded per step (`zlib` with `max_length`), so
a reply that expands a thousandfold per layer (gzip inside gzip) is stopped after `max_bytes`
of output instead of expanding a whole network chunk first.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what a reply may be and cost; raise them for very large list replies."""

    max_bytes: int = 512 * MiB  # the reply after decompression
    max_wire_bytes: int = 512 * MiB  # the reply as it arrives
    max_json_depth: int = 64
    max_xml_depth: int = 256
    max_ref_objects: int = 1_000_000
    max_array_dims: int = 32
    max_parts: int = 64
    huge_text: bool = False  # libxml2 then lifts its caps: 256 levels deep, 10 MB per text node

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if name != "huge_text" and (type(value) is not int or value < 1):
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = Limits()


class LimitExceeded(ValueError):
    """A reply went past one of the limits; the message names it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(f"{message} (limit {limit})")
        self.limit = limit


class DeadlineExceeded(TimeoutError):
    """The call's overall timeout passed."""


class Deadline:
    """The one point in time a call must be done by (`None`: no timeout)."""

    __slots__ = ("at", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a timeout."""
        if self.at is None:
            return None
        return max(0.0, self.at - time.monotonic())

    def check(self) -> None:
        if self.at is not None and time.monotonic() >= self.at:
            raise DeadlineExceeded(f"the call took longer than its timeout of {self.timeout} s")


_CURRENT: ContextVar[Deadline | None] = ContextVar("portabilling_deadline", default=None)


class within:  # lower case: used as the function it was, `with within(deadline):`
    """Work done in this block (decoding and repairing a reply) checks `deadline` as it goes:
    see `current_deadline`. (A class, not a generator: it is entered once per call.)"""

    __slots__ = ("deadline", "token")

    def __init__(self, deadline: Deadline | None) -> None:
        self.deadline = deadline

    def __enter__(self) -> None:
        self.token = _CURRENT.set(self.deadline)

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self.token)


def current_deadline() -> Deadline | None:
    """The deadline of the call whose reply is being decoded in this thread or task, if any."""
    return _CURRENT.get()


# ---- reading a body -----------------------------------------------------------------------------

_STEP = 256 * 1024  # most output one decompression step may produce


class _Inflate:
    """One content-coding layer (gzip or deflate), producing at most `_STEP` bytes per step."""

    __slots__ = ("coding", "seen", "z")

    def __init__(self, coding: str) -> None:
        self.coding = coding
        # gzip: the gzip header; deflate: zlib-wrapped as the RFC says (raw deflate, which some
        # servers send, is tried when that fails before any output)
        self.z = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding != "deflate" else zlib.MAX_WBITS)
        self.seen: bytes | None = (
            b"" if coding == "deflate" else None
        )  # input until the first output

    def steps(self, data: bytes) -> Iterator[bytes]:
        if self.seen is not None:
            self.seen += data
        while data and not self.z.eof:
            try:
                chunk = self.z.decompress(data, _STEP)
            except zlib.error as exc:
                if self.seen is not None:  # not zlib-wrapped: raw deflate, from the start
                    self.z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.coding = "raw deflate"
                    data, self.seen = self.seen, None
                    continue
                raise ValueError(f"the {self.coding} content is corrupt: {exc}") from None
            data = self.z.unconsumed_tail
            if chunk:
                self.seen = None
                yield chunk


class BodyReader:
    """Counts a reply's bytes as they arrive, decompresses them in bounded steps, and stops at
    the first limit or at the deadline. Feed raw chunks (`iter_raw`), then take `body()`.

    Each decompressed step goes through the next layer before the following step is made, so
    at any time at most one step per layer is held beyond the body itself."""

    __slots__ = ("deadline", "layers", "limits", "parts", "size", "wire")

    def __init__(self, content_encoding: str, limits: Limits, deadline: Deadline) -> None:
        self.limits = limits
        self.deadline = deadline
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        self.layers: list[_Inflate] = []
        for coding in reversed(codings):  # the last coding applied is undone first
            if coding == "identity":
                continue
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise ValueError(f"unsupported Content-Encoding {coding!r}")
            self.layers.append(_Inflate(coding))
        self.wire = 0
        self.size = 0
        self.parts: list[bytes] = []

    def feed(self, raw: bytes) -> None:
        self.deadline.check()
        self.wire += len(raw)
        if self.wire > self.limits.max_wire_bytes:
            raise LimitExceeded(
                "max_wire_bytes",
                f"the reply is larger than {self.limits.max_wire_bytes} bytes on the wire",
            )
        self._push(0, raw)

    def _push(self, level: int, data: bytes) -> None:
        if level == len(self.layers):
            self.size += len(data)
            if self.size > self.limits.max_bytes:
                raise LimitExceeded(
                    "max_bytes",
                    f"the reply is larger than {self.limits.max_bytes} bytes"
                    + (" after decompression" if self.layers else ""),
                )
            self.parts.append(data)
            return
        for chunk in self.layers[level].steps(data):
            self._push(level + 1, chunk)

    def body(self) -> bytes:
        self.deadline.check()
        body = b"".join(self.parts)
        self.parts = [body]
        return body


def whole_body(raw: bytes, content_encoding: str, limits: Limits, deadline: Deadline) -> bytes:
    """`raw`, a body read whole, decoded as a `BodyReader` fed it at once decodes it (the same
    limits, the same errors); without a coding and within the limits, without one."""
    if content_encoding or len(raw) > limits.max_wire_bytes or len(raw) > limits.max_bytes:
        reader = BodyReader(content_encoding, limits, deadline)
        reader.feed(raw)
        return reader.body()
    deadline.check()
    return raw


# ---- JSON depth ---------------------------------------------------------------------------------

_DROP = bytes(range(256)).translate(None, b'[]{}"\\')  # all bytes but brackets, quotes, backslash
_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_ROUND = bytes.maketrans(b"[{]}", b"(())")


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """True when `body` nests arrays/objects deeper than `max_depth` (strings ignored). In C:
    everything but brackets and string quotes is deleted, strings removed, then innermost pairs
    peeled `max_depth` times; a pair still left nests deeper."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    skeleton = body.translate(None, _DROP)
    if b"\\" in skeleton:
        skeleton = _ESCAPED.sub(b"", skeleton)
    # what is left of most strings is `""`: dropping those pairs first (in C, no regex) is safe,
    # as it removes an empty string or joins two adjacent ones
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _STRING.sub(b"", skeleton)
    skeleton = skeleton.translate(_ROUND)  # one kind of pair: each replace peels one level
    for _ in range(max_depth):
        peeled = skeleton.replace(b"()", b"")
        if not peeled or len(peeled) == len(skeleton):
            return False  # done (or does not balance: the decoder reports that)
        skeleton = peeled
    return b"()" in skeleton
