"""A handler module for the hostile receiver tests: every event is recorded, no API needed."""

from __future__ import annotations

import os

from portabilling.events import Event, Router

router = Router()


@router.on("*")
def record(event: Event, client: object) -> None:
    fd = os.open(os.environ["EVENTS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"done {event.i_event}\n".encode())
    finally:
        os.close(fd)
