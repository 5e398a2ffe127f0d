"""The reply limits' own parts, property-based: the bounded body reader, the JSON depth scan and
the multipart splitter.

Over real sockets (a server sending bombs, drips and endless bodies) in tests/test_hostile.py.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from .conftest import ROOT


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


def _read(body: bytes, encoding: str, chunk: int = 16 * 1024, **limits: Any) -> bytes:
    from portabilling._runtime.limits import BodyReader, Deadline, Limits

    reader = BodyReader(encoding, Limits(**limits), Deadline(None))
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    return reader.body()


def _encode(data: bytes, codings: list[str], level: int = 1) -> bytes:
    for coding in codings:
        if coding == "gzip":
            data = gzip.compress(data, compresslevel=level)
        elif coding == "deflate":
            data = zlib.compress(data, level)
        elif coding == "raw":
            c = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            data = c.compress(data) + c.flush()
    return data


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=5000).map(lambda b: b * 20),
    codings=st.lists(st.sampled_from(["gzip", "deflate", "raw"]), max_size=3),
    chunk=st.integers(1, 4096),
)
def test_the_reader_returns_what_was_encoded(data: bytes, codings: list[str], chunk: int) -> None:
    header = ", ".join("deflate" if c == "raw" else c for c in codings)
    if "raw" in codings[1:]:  # raw deflate is only recognised as the outermost coding sent
        codings = [c if c != "raw" else "deflate" for c in codings]
        header = ", ".join(codings)
    assert _read(_encode(data, codings), header, chunk) == data


@pytest.mark.parametrize("layers", [["gzip"], ["gzip", "gzip"], ["deflate", "gzip", "gzip"]])
def test_decompression_bombs_stop_at_the_limit_and_early(layers: list[str]) -> None:
    from portabilling._runtime.limits import LimitExceeded

    bomb = _encode(b"\0" * (64 * 1024 * 1024), layers, 9)  # 64 MiB of zeros, <= 64 KB on the wire
    assert len(bomb) < 70_000
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match="max_bytes") as caught:
        _read(bomb, ", ".join(layers), max_bytes=1024 * 1024)
    assert caught.value.limit == "max_bytes"
    assert time.perf_counter() - started < 5  # it did not expand all of it first


def test_wire_bytes_and_corrupt_and_unknown_codings() -> None:
    from portabilling._runtime.limits import LimitExceeded

    with pytest.raises(LimitExceeded, match="on the wire"):
        _read(b"x" * 10_000, "", chunk=100, max_wire_bytes=5_000)
    with pytest.raises(ValueError, match="gzip content is corrupt"):
        _read(b"not gzip at all", "gzip")
    with pytest.raises(ValueError, match="unsupported Content-Encoding 'br'"):
        _read(b"x", "br")


def test_the_deadline_stops_a_slow_body() -> None:
    from portabilling._runtime.limits import BodyReader, Deadline, DeadlineExceeded, Limits

    reader = BodyReader("", Limits(), Deadline(0.05))
    reader.feed(b"a")
    time.sleep(0.06)
    with pytest.raises(DeadlineExceeded):
        reader.feed(b"b")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_JSON = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(alphabet='[]{}"\\ab', max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, limit=st.integers(1, 8))
def test_the_json_depth_scan_agrees_with_the_data(value: Any, limit: int) -> None:
    from portabilling._runtime.limits import json_depth_exceeds

    body = json.dumps(value).encode()
    assert json_depth_exceeds(body, limit) == (_depth(value) > limit)


def test_the_json_depth_scan_on_a_deep_document() -> None:
    from portabilling._runtime.limits import json_depth_exceeds

    deep = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert json_depth_exceeds(deep, 64) and not json_depth_exceeds(deep, 1001)
    assert not json_depth_exceeds(b'{"a":"[[[[[[[[[[[[[[["}', 3)


def test_limits_refuse_nonsense() -> None:
    from portabilling._runtime.limits import Limits

    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        Limits(max_bytes=0)


# ---- multipart parts ----------------------------------------------------------------------------

_PART = st.binary(max_size=300) | st.lists(
    st.sampled_from([b"--", b"--b1", b"--b1--", b"\r\n", b"\n", b"\r", b"x", b" ", b"\x00"]),
    max_size=30,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(_PART, max_size=6),
    newline=st.sampled_from([b"\r\n", b"\n"]),
    preamble=_PART,
    epilogue=_PART,
    padding=st.sampled_from([b"", b" ", b"\t "]),
    max_parts=st.integers(1, 7),
)
def test_multipart_bodies_split_into_exactly_their_parts(
    parts: list[bytes],
    newline: bytes,
    preamble: bytes,
    epilogue: bytes,
    padding: bytes,
    max_parts: int,
) -> None:
    """Whatever the parts hold (binary, line ends, text like the boundary), the top level
    splits into exactly them, or None past `max_parts`; preamble and epilogue are dropped."""

    from portabilling._runtime.soap.reply import _mime_parts

    def has_delimiter(data: bytes) -> bool:  # a delimiter line inside a part ends it: RFC 2046
        # (a trailing CR counts as a line end: the newline the body adds after it completes it)
        lines = data.replace(b"\r\n", b"\n").split(b"\n")
        return any(
            line.rstrip(b" \t\r").startswith(b"--b1")
            and line.rstrip(b" \t\r")[4:] in (b"", b"--")
            for line in lines
        )

    assume(not any(has_delimiter(p) for p in [preamble, *parts]))
    if newline == b"\n":  # with bare LF, a part's own trailing CR would read as CRLF
        assume(not any(p.endswith(b"\r") for p in parts))
    body = (
        preamble
        + b"".join(newline + b"--b1" + padding + newline + p for p in parts)
        + newline
        + b"--b1--"
        + padding
        + newline
        + epilogue
    )
    found = _mime_parts(body, b"b1", max_parts)
    assert found == (parts if len(parts) <= max_parts else None)
