"""Stand-in for the provisioning target of README's handler example: appends each call to the
file named in HSS_LOG."""

from __future__ import annotations

import os


async def provision(account_id: str, *, blocked: bool) -> None:
    with open(os.environ["HSS_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{account_id} blocked={blocked}\n")
