# tests/test_accounts.py
from portabilling import AdminClient
from portabilling.types import AccountInfo, CustomerInfo


def test_an_account_belongs_to_its_customer(portabilling_client: AdminClient) -> None:
    acme = CustomerInfo(name="acme")
    i_customer = portabilling_client.customer.add_customer(customer_info=acme).i_customer
    account = AccountInfo(id="acme-1", i_customer=i_customer)
    i_account = portabilling_client.account.add_account(account_info=account).i_account
    info = portabilling_client.account.get_account_info(i_account=i_account).account_info
    assert isinstance(info, AccountInfo) and info.i_customer == i_customer
