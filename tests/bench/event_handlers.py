"""The benchmark's handler module: one typed API call to the simulator per event."""

from __future__ import annotations

from portabilling.events import AsyncClient, Router, SubscriberEvent

router = Router()


@router.on("Subscriber")
async def account_changed(event: SubscriberEvent, client: AsyncClient) -> None:
    await client.account.get_account_info(i_account=event.i_account)
