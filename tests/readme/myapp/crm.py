# myapp/crm.py
from datetime import date

from portabilling import AdminClient
from portabilling.search import Account, Customer, Invoice, Product
from portabilling.types import AccountInfo, CustomerInfo, ExtendedDataRecord


def toronto_on_easycall_or_supercall(client: AdminClient) -> list[ExtendedDataRecord]:
    """The API guide's example: customers in Toronto who use EasyCall or SuperCall."""
    return client.customer.search(
        Customer.city == "Toronto", Product.name.in_(["EasyCall", "SuperCall"])
    )


def accounts_over_100(client: AdminClient, i_product: int) -> list[AccountInfo]:
    """Accounts on product `i_product` with a balance over 100. The server finds the customers
    who hold one; a record lists all of its customer's accounts, so they are picked again."""
    return [
        account
        for record in client.customer.iter_search(
            Account.balance > 100, Account.i_product == i_product, page_size=500
        )
        for account in record.accounts or []
        if account.i_product == i_product and (account.balance or 0) > 100
    ]


def unpaid_before(client: AdminClient, day: date) -> list[CustomerInfo]:
    """Customers with an invoice still owing money that was due before `day`."""
    records = client.customer.search(Invoice.amount_due > 0, Invoice.due_date < day)
    return [record.customer_info for record in records]
