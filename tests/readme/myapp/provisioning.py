# myapp/provisioning.py
from portabilling.events import Client, CustomerEvent, Router, SubscriberEvent
from portabilling.types import AccountInfo, CustomerInfo

router = Router()
provisioned: list[str] = []  # stands in for your provisioning target


@router.on("Customer/Created")
def customer_created(event: CustomerEvent, client: Client) -> None:
    info = client.customer.get_customer_info(i_customer=event.i_customer).customer_info
    assert isinstance(info, CustomerInfo)
    provisioned.append(f"customer {info.name}")


@router.on("Subscriber/Created")
def account_created(event: SubscriberEvent, client: Client) -> None:
    info = client.account.get_account_info(i_account=event.i_account).account_info
    assert isinstance(info, AccountInfo)
    provisioned.append(f"account {info.id} of customer {info.i_customer}")
