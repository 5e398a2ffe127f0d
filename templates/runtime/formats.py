"""PortaBilling's wire formats that both transports share."""

from __future__ import annotations

from datetime import UTC, datetime


def server_datetime(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC, no `T`: aware datetimes are converted, naive ones taken as UTC."""
    if value.tzinfo is None:
        if not value.microsecond:
            return value.isoformat(" ")  # the usual case: one C call
    else:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")
