# myapp/handlers.py
from portabilling.events import AsyncClient, Router, SubscriberEvent
from portabilling.types import AccountInfo, YesNo

from myapp import hss  # your provisioning target

router = Router()


@router.on("Subscriber/Updated")
async def account_changed(event: SubscriberEvent, client: AsyncClient) -> None:
    reply = await client.account.get_account_info(i_account=event.i_account)
    account = reply.account_info
    if not isinstance(account, AccountInfo) or not isinstance(account.id, str):
        return  # no such account any more (closed since the event was sent)
    await hss.provision(account.id, blocked=account.blocked == YesNo.YES)
