"""PortaBilling's wire formats that both transports share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec


def server_datetime(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC, no `T`: aware datetimes are converted, naive ones taken as UTC."""
    if value.tzinfo is None:
        if not value.microsecond:
            return value.isoformat(" ")  # the usual case: one C call
    else:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")


_encode = msgspec.json.encode
_WIDTH = 22  # `"YYYY-MM-DDTHH:MM:SS",`: how msgspec writes a naive datetime without a fraction


def server_datetimes(values: Sequence[datetime]) -> list[str]:
    """`server_datetime` of each, formatted together: msgspec writes them all in one C call (the
    usual naive, whole-second ones are fixed-width, so the text is split, not parsed); anything
    else (aware, fractions) goes one by one."""
    raw = _encode(values)
    if len(raw) != _WIDTH * len(values) + 1:
        return [server_datetime(v) for v in values]
    return raw[2:-2].decode().replace("T", " ").split('","')  # the separators are the only T
