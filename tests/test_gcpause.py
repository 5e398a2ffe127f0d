"""The garbage collector paused while a large SOAP reply is decoded, and restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from portabilling._runtime.soap import gcpause


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_then_enabled_again() -> None:
    with gcpause.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_enabled_again_after_an_error() -> None:
    with pytest.raises(ValueError), gcpause.paused():
        raise ValueError("decode failed")
    assert gc.isenabled()


def test_overlapping_pauses_end_with_the_last() -> None:
    first = gcpause.paused()
    second = gcpause.paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the other decode still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled() -> None:
    gc.disable()
    with gcpause.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_large_reply_decoded_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    from portabilling._runtime.soap import reply

    seen: list[bool] = []

    def decode(*args: object) -> tuple[None, None]:
        seen.append(gc.isenabled())
        return None, None

    monkeypatch.setattr(reply, "_decode_envelope", decode)
    reply.decode_envelope(None, b"<x/>")  # type: ignore[arg-type]
    reply.decode_envelope(None, b"<x/>" + b" " * gcpause.PAUSE_ABOVE)  # type: ignore[arg-type]
    assert seen == [True, False]
    assert gc.isenabled()
