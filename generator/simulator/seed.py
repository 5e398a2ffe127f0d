"""A seeded data set of the size a user names (`--seed-accounts 100000 --seed-customers 2000`):
the same seed gives the same customers, accounts and products, so a test or a benchmark can name
what it expects. Seeding posts no events: it is the server's state before the test begins."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dispatch import Dispatcher

PRODUCTS = ("Residential", "Business", "SIP trunk", "Mobile")
CURRENCIES = ("USD", "EUR", "GBP")


def seed_data(sim: Dispatcher, *, customers: int, accounts: int, seed: int = 1) -> None:
    """Add `customers` customers and `accounts` accounts spread over them (round-robin, so each
    customer gets `accounts // customers` or one more), plus a few products."""
    if customers < 1 and accounts > 0:
        raise ValueError("accounts need at least one customer")
    if customers < 0 or accounts < 0:
        raise ValueError("sizes must not be negative")
    rnd = random.Random(seed)
    with sim.lock:
        product_ids = []
        for name in PRODUCTS:
            i_product = sim.new_id()
            sim.products[i_product] = {"i_product": i_product, "name": name, "iso_4217": "USD"}
            product_ids.append(i_product)
        customer_ids = []
        for n in range(customers):
            i_customer = sim.new_id()
            sim.customers[i_customer] = {
                "i_customer": i_customer,
                "name": f"seed-customer-{n:06d}",
                "iso_4217": rnd.choice(CURRENCIES),
                "balance": round(rnd.uniform(-500, 500), 2),
                "blocked": "N",
            }
            customer_ids.append(i_customer)
        for n in range(accounts):
            i_account = sim.new_id()
            sim.accounts[i_account] = {
                "i_account": i_account,
                "id": f"seed{n:09d}",
                "i_customer": customer_ids[n % customers],
                "i_product": rnd.choice(product_ids),
                "balance": round(rnd.uniform(0, 100), 2),
                "blocked": "Y" if rnd.random() < 0.05 else "N",
                "billing_model": 1,
            }
