"""A nightly sync run by many worker processes: one session between them, every account once."""

import os

from portabilling import AdminClient, FileSessionStore
from portabilling.types import AccountInfo


def client(url: str) -> AdminClient:
    return AdminClient(
        url,
        login=os.environ["PB_LOGIN"],
        password=os.environ["PB_PASSWORD"],
        # one login for every process of this user: ~/.local/state/portabilling/sessions,
        # mode 0600, locked while one process logs in or renews the access token
        session_store=FileSessionStore(),
        refresh_fraction=0.25,  # renew an access token in the last quarter of its lifetime
    )


def every_account(client: AdminClient) -> dict[int, AccountInfo]:
    """Every account, though others add and close accounts while it runs: a pass that the
    changes made skip records (a deviation `incomplete`) is followed by another."""
    for _ in range(5):
        client.deviations.clear()
        accounts: dict[int, AccountInfo] = {}
        for account in client.account.iter_account_list(page_size=1000):
            assert isinstance(account.i_account, int)
            accounts[account.i_account] = account
        if not any(d.outcome == "incomplete" for d in client.deviations):
            return accounts
    raise RuntimeError("the account list kept changing; pin it with a filter")
