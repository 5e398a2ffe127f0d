# tests/test_provisioning.py
from myapp import provisioning
from portabilling import AdminClient
from portabilling.types import AccountInfo, CustomerInfo

from generator.pytest_plugin import EventLoops


def test_new_customers_and_accounts_are_provisioned(
    portabilling_client: AdminClient, portabilling_events: EventLoops
) -> None:
    events = portabilling_events(provisioning.router)  # a real receiver, wired to the simulator
    provisioning.provisioned.clear()
    acme = CustomerInfo(name="acme")
    i_customer = portabilling_client.customer.add_customer(customer_info=acme).i_customer
    account = AccountInfo(id="acme-1", i_customer=i_customer)
    portabilling_client.account.add_account(account_info=account)
    events.wait()  # Customer/Created and Subscriber/Created handled (answered 200)
    assert provisioning.provisioned == [
        "customer acme",
        f"account acme-1 of customer {i_customer}",
    ]
    assert events.failed() == []
