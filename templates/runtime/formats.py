"""PortaBilling's wire formats that both transports share."""

from __future__ import annotations

from datetime import UTC, datetime


def server_datetime(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC, no `T`: aware datetimes are converted, naive ones taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if type(value) is datetime and not value.microsecond:
        return str(value)  # the same text, without parsing isoformat's arguments
    return value.isoformat(" ", "seconds")
