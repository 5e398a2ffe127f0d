"""README's "Sessions at scale and lists you can trust", to the letter: its example is the module
tests/readme/myapp/sync.py (type-checked by `make lint`), run here against the simulator with
access tokens and a list that changes while it is read."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "readme"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("### Sessions at scale") : text.index("### Faults\n")]


def test_the_example_is_the_one_readme_shows() -> None:
    blocks = re.findall(r"```python\n(.*?)```\n", _section(), re.S)
    assert blocks[0] == (EXAMPLE / "myapp" / "sync.py").read_text()


def test_the_example_syncs_every_account_with_one_login(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PB_LOGIN", "admin")
    monkeypatch.setenv("PB_PASSWORD", "secret")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    sim.use_tokens(900)
    sim.seed(customers=10, accounts=2500)
    sim.churn_accounts(inserts=100, closes=100)
    from myapp.sync import client, every_account

    try:
        with client(sim.url) as first, client(sim.url) as second:
            accounts = every_account(first)
            assert second.customer.get_customer_list().total == 10
    finally:
        sys.modules.pop("myapp.sync", None)
    assert sorted(accounts) == sorted(sim.sim.accounts)  # every account of the final list
    assert sim.logins == 1  # the second client found the session in the store
    sessions = list((tmp_path / "portabilling" / "sessions").glob("*.session"))
    assert len(sessions) == 1 and sessions[0].stat().st_mode & 0o777 == 0o600
