"""The handler module the event tests serve with `python -m portabilling.events serve`.

Each handler reads the changed entity from the simulator through the typed client, then appends
`done <i_event> <what it read>` to the file in EVENTS_LOG (O_APPEND: one write per line, safe
across processes). Test-only variables steer it: `hold` (seconds to work), and the file named in
EVENTS_OUTAGE makes the customer handler fail while it exists.
"""

from __future__ import annotations

import asyncio
import os
import time

from portabilling.events import AsyncClient, Client, CustomerEvent, Router, SubscriberEvent

router = Router()


def record(line: str) -> None:
    fd = os.open(os.environ["EVENTS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line} pid={os.getpid()}\n".encode())
    finally:
        os.close(fd)


@router.on("Subscriber")
async def account_changed(event: SubscriberEvent, client: AsyncClient) -> None:
    record(f"start {event.i_event}")
    info = (await client.account.get_account_info(i_account=event.i_account)).account_info
    await asyncio.sleep(float(event.variables.get("hold", 0)))
    record(f"done {event.i_event} {event.event_type} {info.id}")


@router.on("Customer/Updated")
def customer_changed(event: CustomerEvent, client: Client) -> None:
    record(f"start {event.i_event}")
    if os.path.exists(os.environ.get("EVENTS_OUTAGE", "/nonexistent")):
        raise RuntimeError("the provisioning target is down")
    info = client.customer.get_customer_info(i_customer=event.i_customer).customer_info
    time.sleep(float(event.variables.get("hold", 0)))
    record(f"done {event.i_event} {event.event_type} {info.name}")
