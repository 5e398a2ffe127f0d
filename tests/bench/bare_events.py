"""The benchmark's baseline: a bare ASGI endpoint that decodes the event and makes the same typed
call as the receiver's handler, with no store, no authentication and no duplicate detection.
Served by `uvicorn tests.bench.bare_events:app`; the API comes from PORTABILLING_API_*."""

from __future__ import annotations

import os
from typing import Any

from portabilling.events import AsyncClient, SubscriberEvent, decode_event

client: AsyncClient | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global client
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                client = AsyncClient(
                    os.environ["PORTABILLING_API_URL"],
                    login=os.environ["PORTABILLING_API_LOGIN"],
                    password=os.environ["PORTABILLING_API_PASSWORD"],
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if client is not None:
                    await client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["method"] != "POST":  # the readiness probe
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    event = decode_event(body)
    assert isinstance(event, SubscriberEvent) and client is not None
    await client.account.get_account_info(i_account=event.i_account)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"handled\n"})
