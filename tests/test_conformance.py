"""The conformance report command against the simulator in real-server mode, over real sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import run_cli

ADMIN = {"login": "admin", "password": "secret"}


def _seed(url: str) -> None:
    from portabilling import AdminClient
    from portabilling.types import AccountInfo, CustomerInfo, ProductInfo
    from portabilling.types.common import YesNo

    with AdminClient(url, **ADMIN) as c:
        i_product = c.product.add_product(product_info=ProductInfo(name="P", iso_4217="USD"))
        i_customer = c.customer.add_customer(customer_info=CustomerInfo(name="C", iso_4217="USD"))
        c.account.add_account(
            account_info=AccountInfo(
                id="a1",
                i_customer=i_customer.i_customer,
                i_product=i_product.i_product,
                blocked=YesNo.NO,
                iso_4217="USD",
            )
        )


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_report_lists_deviations_and_undeclared_fields_per_type(sim: Any, transport: str) -> None:
    _seed(sim.url)
    sim.sim.real_server = True
    sim.sim.calls.clear()
    # over JSON every read-only operation the bindings have; over SOAP (slower) a few of them
    narrow = [] if transport == "json" else [
        "--operation", "Account.get_account_list", "--operation", "Account.get_account_info",
    ]
    result = run_cli(
        "conformance", sim.url, "--user", "admin", "--password", "secret",
        "--transport", transport, "--format", "json", *narrow,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    calls = {c["operation"]: c for c in report["calls"]}
    # lists first with limit=1, then get_*_info with the ids they returned
    assert calls["Account.get_account_list"]["outcome"] == "ok"
    assert calls["Account.get_account_info"]["deviations"] >= 1
    account = {(r["field"], r["outcome"]): r for r in report["types"]["AccountInfo"]}
    blocked = account[("blocked", "converted")]
    # the JSON API writes the number 0; SOAP::Lite writes it as text
    assert blocked["declared"] == "YesNo"
    assert blocked["arrived"] == ("int 0" if transport == "json" else "'0'")
    assert "Account.get_account_info" in blocked["operations"]
    assert account[("iso_639_1", "undeclared")]["count"] >= 2
    # only read-only operations reached the server
    methods = {c.method for c in sim.sim.calls if c.service != "Session"}
    assert methods and all(m.startswith("get_") for m in methods)
    seen_info = [c for c in sim.sim.calls if c.method == "get_account_info"]
    params = seen_info[0].params if transport == "json" else seen_info[0].params[0]
    assert int(params["i_account"]) > 0  # an id the list returned


def test_markdown_report_and_refusal(sim: Any) -> None:
    _seed(sim.url)
    sim.sim.real_server = True
    base = ("conformance", sim.url, "--user", "admin", "--password", "secret")
    result = run_cli(*base, "--operation", "Account.get_account_list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Conformance report")
    assert "| Account.get_account_list | ok |" in result.stdout
    assert "## AccountInfo" in result.stdout and "| iso_639_1 | (not declared) |" in result.stdout
    sim.sim.calls.clear()
    refused = run_cli(*base, "--operation", "Account.add_account")
    assert refused.returncode == 2 and "refused: not read-only" in refused.stderr
    assert sim.sim.calls == []  # refused before anything was sent


def test_the_report_prints_what_the_server_sent_as_data(sim: Any, monkeypatch: Any) -> None:
    """Undeclared field names and values a server sends reach the markdown report (a CI log, a
    job summary) as data: no workflow command, no HTML element, no mention, no forged cell."""
    import re

    import cmarkgfm
    from cmarkgfm.cmark import Options

    from generator.simulator import realistic

    hostile = {
        "a\n::add-mask::hunter2": "x",
        "##[set-output name=x;]y": 1,
        "<img src=x onerror=alert(1)>": "<!-- No changes. -->",
        "@octocat": "| forged | cell |",
    }
    monkeypatch.setattr(realistic, "UNDECLARED", hostile)
    _seed(sim.url)
    sim.sim.real_server = True
    result = run_cli(
        "conformance", sim.url, "--user", "admin", "--password", "secret",
        "--operation", "Account.get_account_list",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "a ::add-mask::hunter2" in out  # the name is there, on the row of its table
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::")]
    assert "##[" not in out
    rendered = cmarkgfm.github_flavored_markdown_to_html(out, options=Options.CMARK_OPT_UNSAFE)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered))
    assert tags <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td"}, tags
    assert "<!--" not in rendered and not re.search(r"(?<![\w`])@octocat", rendered)
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    assert all(row.count("<td>") in (0, 4, 5) for row in rows)  # no cell of the server's


def test_a_refused_login_stops_at_once_with_one_line(sim: Any) -> None:
    sim.sim.calls.clear()
    result = run_cli("conformance", sim.url, "--user", "admin", "--password", "wrong")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "refused the login" in result.stderr and "no operation was called" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert "wrong" not in result.stderr
    # one login was tried, no operation
    assert [c.method for c in sim.sim.calls if c.method != "login"] == []


def test_a_run_where_nothing_answered_fails(sim: Any) -> None:
    from generator.simulator.calls import SimFault

    def broken(call: Any) -> Any:
        raise SimFault("Server.Internal", "the database is down\n::add-mask::hunter2")

    _seed(sim.url)
    sim.sim.replies[("Account", "get_account_list")] = broken
    try:
        result = run_cli(
            "conformance", sim.url, "--user", "admin", "--password", "secret",
            "--operation", "Account.get_account_list",
        )  # fmt: skip
    finally:
        sim.sim.replies.clear()
    assert result.returncode == 1, result.stderr
    assert "none of the 1 calls was answered" in result.stderr
    assert "the database is down" in result.stderr
    # the server's fault text is data: it starts no line, so it runs no workflow command
    assert not [x for x in result.stderr.splitlines() if x.lstrip().startswith("::")]


def test_credentials_come_from_the_environment_and_the_url_from_the_settings(
    sim: Any, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.portabilling-gen]\nurl = "{sim.url}"\n'
    )
    missing = subprocess.run(
        [sys.executable, "-m", "generator", "conformance"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTABILLING_")},
    )  # fmt: skip
    assert missing.returncode == 2
    assert "PORTABILLING_USER and PORTABILLING_PASSWORD" in missing.stderr
    assert "..." not in missing.stderr
    env = {**os.environ, "PORTABILLING_USER": "admin", "PORTABILLING_PASSWORD": "secret"}
    done = subprocess.run(
        [sys.executable, "-m", "generator", "conformance", "--path", str(ROOT / "generated"),
         "--operation", "Account.get_account_list"],
        cwd=tmp_path, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Account.get_account_list" in done.stdout


def test_a_fresh_real_server_simulator_has_data_for_conformance(tmp_path: Any) -> None:
    """`simulate --real-server` seeds a few records, so conformance against it reads real data."""
    import signal
    import subprocess
    import sys

    from .conftest import ROOT

    sim = subprocess.Popen(
        [sys.executable, "-m", "generator", "simulate", str(ROOT / "wsdl_cache" / "mr105"),
         "--port", "0", "--no-soap", "--real-server"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        banner = [sim.stdout.readline() for _ in range(7)]
        assert any("data:     3 customers, 8 accounts" in line for line in banner), banner
        url = banner[0].split()[3]
        result = run_cli(
            "conformance", url, "--user", "admin", "--password", "secret", "--format", "json",
            "--operation", "Account.get_account_list", "--operation", "Account.get_account_info",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert [c["outcome"] for c in report["calls"]] == ["ok", "ok"]
        assert report["types"]["AccountInfo"], "real-server replies deviate: reported per field"
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=30)
