"""Issue 23's figures: logins per 1 000 calls from 8 worker processes sharing a file session
store (against the same workers each logging in on its own), and the calls/s of the access-token
path against the session-id path on one canned JSON server."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8
CALLS = 1000

_WORKER = """
import sys, time
sys.path.insert(0, {generated!r})
from portabilling import AdminClient, FileSessionStore
store = FileSessionStore(sys.argv[2]) if sys.argv[2] else None
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
with AdminClient({url!r}, login="admin", password="secret", session_store=store) as client:
    for _ in range({calls}):
        client.customer.get_customer_list()
"""


def logins_per_1000_calls(shared: bool) -> float:
    """8 processes started together, 1 000 calls between them, against the simulator handing out
    15-minute access tokens: the logins it counted, per 1 000 calls."""
    from generator.simulator.server import serve

    with serve("portabilling", soap=False) as sim, tempfile.TemporaryDirectory() as store:
        sim.use_tokens(900)
        script = _WORKER.format(
            generated=str(ROOT / "generated"), url=sim.url, calls=CALLS // WORKERS
        )
        start = str(time.time() + 1.0)
        procs = [
            subprocess.Popen([sys.executable, "-c", script, start, store if shared else ""])
            for _ in range(WORKERS)
        ]
        for p in procs:
            assert p.wait(120) == 0
        return sim.logins * 1000 / CALLS


def token_and_session_clients(url: str) -> tuple[Any, Any]:
    """Two clients of one canned server: one holding a renewable access token (Bearer, the
    renewal check on every call), one a session id (form-encoded auth_info)."""
    from portabilling import AdminClient
    from portabilling._runtime.client.tokens import Grant

    token = AdminClient(url, login="admin", password="secret")
    session = token._session
    session.adopt(Grant(None, "a.b.c", "refresh", time.time() + 3600, 3600.0))
    plain = AdminClient(url, session_id="bench")
    return token, plain
