"""The uvicorn settings that put the receiver's connections under `ConnectionLimits`: the guarded
protocol of `guard` on httptools (`guard_httptools`) when it is installed, on h11 otherwise."""

from __future__ import annotations

from typing import Any

from .bounds import ConnectionLimits
from .guard import Guard, GuardedProtocol


def guarded_protocol(limits: ConnectionLimits, http: str = "auto") -> type[Guard]:
    """The protocol class for `uvicorn.Config(http=...)` that enforces `limits`: on httptools
    (`http="httptools"`, or "auto" when it is installed) or on h11 (`http="h11"`)."""
    if http not in ("auto", "httptools", "h11"):
        raise ValueError(f"http must be auto, httptools or h11, not {http!r}")
    base: type[Guard] = GuardedProtocol
    if http != "h11":
        try:
            from .guard_httptools import GuardedHttpToolsProtocol
        except ImportError:
            if http == "httptools":
                raise
        else:
            base = GuardedHttpToolsProtocol
    return type(base.__name__, (base,), {"limits": limits})


def server_options(limits: ConnectionLimits, http: str = "auto") -> dict[str, Any]:
    """The `uvicorn.Config` keyword arguments that apply `limits`: the guarded protocol, h11's
    head bound, and the kept-alive timeout. uvicorn's own `limit_concurrency` is left off: it
    counts idle connections, so a flood of them would make it answer real deliveries 503."""
    return {
        "http": guarded_protocol(limits, http),
        "h11_max_incomplete_event_size": limits.max_head,
        "timeout_keep_alive": limits.keep_alive,
    }
