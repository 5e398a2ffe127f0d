"""README's "Provisioning events" section, to the letter: its handler module is the file
tests/readme/myapp/handlers.py (which `make lint` type-checks with mypy --strict), and its curl
line, run by a shell against a receiver serving that module, gets the handler to read the account
back through the simulator and provision it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from .events_support import BASIC_PASSWORD, start_receiver, wait_for
from .test_events import add_account

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "readme"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Provisioning events") : text.index("## Testing your integration")]


def test_the_handler_module_is_the_one_readme_shows() -> None:
    blocks = re.findall(r"```python\n(.*?)```\n", _section(), re.S)
    assert blocks[0] == (EXAMPLE / "myapp" / "handlers.py").read_text()


def test_readme_curl_line_reaches_the_readme_handler(sim: Any, tmp_path: Path) -> None:
    i_account = add_account(sim.url, "readme-acc")
    hss_log = tmp_path / "hss.log"
    receiver = start_receiver(
        tmp_path,
        f"sqlite:///{tmp_path / 'events.db'}",
        sim.url,
        module="myapp.handlers",
        path=(EXAMPLE,),
        env_extra={"HSS_LOG": str(hss_log)},
    )
    try:
        curl = next(b for b in re.findall(r"```sh\n(.*?)```\n", _section(), re.S) if "curl" in b)
        assert "http://127.0.0.1:8080/" in curl and '"i_account": "42"' in curl
        line = curl.replace("http://127.0.0.1:8080/", receiver.url).replace(
            '"i_account": "42"', f'"i_account": "{i_account}"'
        )
        done = subprocess.run(
            ["bash", "-c", line.rstrip() + " -w ' %{http_code}'"],
            env={"PORTABILLING_EVENTS_PASSWORD": BASIC_PASSWORD, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.stdout == "handled\n 200", (done.stdout, done.stderr, receiver.log())
        wait_for(hss_log.exists, what="the handler to provision")
        assert hss_log.read_text() == "readme-acc blocked=False\n"
    finally:
        receiver.stop()
