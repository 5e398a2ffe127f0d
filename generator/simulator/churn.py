"""A list that changes while it is read: between the pages of `Account.get_account_list`, accounts
are added and closed at random places of the list, as a nightly sync meets them on a server whose
list order is not the order of creation. Offset paging over it returns some accounts twice and
skips others. Turned on with `accounts:churn=INSERTS,CLOSES` (or `Running.churn_accounts`)."""

from __future__ import annotations

import random
from typing import Any, Protocol


class Accounts(Protocol):
    """What churn changes of the simulator's state (the dispatcher has it)."""

    accounts: dict[int, dict[str, Any]]
    customers: dict[int, dict[str, Any]]

    def new_id(self) -> int: ...

    def emit(self, event_type: str, **ids: object) -> None: ...


class Churn:
    """`inserts` accounts added and `closes` closed, `per_page` of each after every page served."""

    def __init__(self, inserts: int, closes: int, per_page: int = 10, seed: int = 1) -> None:
        if inserts < 0 or closes < 0 or per_page < 1:
            raise ValueError("churn: counts must not be negative, per_page at least 1")
        self.inserts, self.closes, self.per_page = inserts, closes, per_page
        self.random = random.Random(seed)
        self.inserted: list[int] = []
        self.closed: list[int] = []

    @property
    def done(self) -> bool:
        return len(self.inserted) >= self.inserts and len(self.closed) >= self.closes

    def after_page(self, sim: Accounts) -> None:
        """Called under the dispatcher's lock once a page has been served."""
        rows = list(sim.accounts.items())
        for _ in range(min(self.per_page, self.closes - len(self.closed))):
            if not rows:
                break
            i_account, _ = rows.pop(self.random.randrange(len(rows)))
            self.closed.append(i_account)
            sim.emit("Subscriber/Deleted", i_account=i_account)
        customers = sorted(sim.customers)
        for _ in range(min(self.per_page, self.inserts - len(self.inserted))):
            if not customers:
                break
            i_account = sim.new_id()
            record = {
                "i_account": i_account,
                "id": f"churn{i_account:09d}",
                "i_customer": self.random.choice(customers),
                "balance": 0,
                "blocked": "N",
                "billing_model": 1,
            }
            rows.insert(self.random.randrange(len(rows) + 1), (i_account, record))
            self.inserted.append(i_account)
            sim.emit("Subscriber/Created", i_account=i_account)
        sim.accounts.clear()
        sim.accounts.update(rows)
