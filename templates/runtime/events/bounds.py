"""What one client may cost the event receiver before it has authenticated: the bounds `guard`
enforces on every connection (kept apart so the command line can show the defaults without
importing uvicorn)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client may cost the receiver before it has authenticated (see `guard`)."""

    max_head: int = 8 * 1024  # nginx's large_client_header_buffers size; ESPF sends under 1 KiB
    max_headers: int = 100  # Apache's LimitRequestFields
    read_timeout: float = 10.0  # 64 KiB (the default max_body) at 6.5 KB/s still fits
    keep_alive: int = 5  # uvicorn's default; ESPF posts ~10/s, so a live connection stays used
    max_connections: int = 256  # well under the usual 1024 file descriptors

    def __post_init__(self) -> None:
        for name, least in (("max_head", 1024), ("max_headers", 16), ("max_connections", 2)):
            number = getattr(self, name)
            if not isinstance(number, int) or number < least:
                raise ValueError(f"{name} must be a whole number of at least {least}")
        limits: tuple[tuple[str, float, float], ...] = (
            ("read_timeout", 0.1, 3600.0),
            ("keep_alive", 1, 3600),
        )
        for name, low, high in limits:
            value = getattr(self, name)
            if not low <= value <= high:  # False for NaN too
                raise ValueError(f"{name} must be between {low:g} and {high:g} seconds")
