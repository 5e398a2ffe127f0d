"""A PostgreSQL store URL's password never reaches a line (issue 20): the redactor reads a URL
as libpq does (`#`, `?`, `:` and `%` belong to the password; a raw `@` or `/` is refused), so
start-up INFO lines, connection ERROR lines and `purge` show `***`, against a real PostgreSQL
server and a port where none listens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .events_support import ROOT, event, post, postgres_server, start_receiver

PASSWORDS = ["S3cr#tpw", "S3cr?tpw", "S3cr:tpw", "S3cr%25tpw", "S3#c?r:e%25t/pw", "#S3cr@tpw"]


def url_with(password: str, netloc: str = "127.0.0.1:9", db: str = "postgres") -> str:
    return f"postgresql://postgres:{password}@{netloc}/{db}?connect_timeout=2"


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_redactor_reads_store_urls_as_libpq_does(password: str) -> None:
    from portabilling._runtime.redact import mask_url
    from psycopg.conninfo import conninfo_to_dict

    url = url_with(password)
    masked = mask_url(url)
    assert "S3" not in masked and "pw" not in masked, masked
    if "@" in password[1:] or "/" in password:
        return  # libpq itself misreads it: open_store refuses it (below)
    libpq = conninfo_to_dict(url)
    assert libpq["password"] in password.replace("%25", "%")
    # the masked URL names the same server and database, with the password as ***
    again = conninfo_to_dict(masked)
    assert again == {**libpq, "password": "***"}


def test_conninfo_strings_and_query_passwords_are_masked() -> None:
    from portabilling._runtime.redact import mask_url

    assert mask_url("host=db user=u password='S3 #cr\\' t' port=5") == (
        "host=db user=u password=*** port=5"
    )
    assert mask_url("host=db password=S3\\ cr sslpassword=k3y") == (
        "host=db password=*** sslpassword=***"
    )
    assert mask_url("postgresql://h/db?password=S3cr&sslmode=require") == (
        "postgresql://h/db?password=***&sslmode=require"
    )


@pytest.mark.parametrize("password", ["S3c@rpw", "S3c/rpw"])
def test_a_password_libpq_would_misread_is_refused_unechoed(password: str) -> None:
    from portabilling.events import open_store

    with pytest.raises(ValueError, match="percent-encode") as err:
        open_store(url_with(password))
    assert "S3" not in str(err.value) and "rpw" not in str(err.value)


def run_command(tmp: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}",
        "PORTABILLING_EVENTS_PASSWORD": "x",
        "EVENTS_LOG": str(tmp / "effects.log"),
    }
    cmd = [sys.executable, "-m", "portabilling.events", *argv]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_no_store_password_in_start_up_error_or_purge_lines(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port where no database listens
        s.bind(("127.0.0.1", 0))
        netloc = f"127.0.0.1:{s.getsockname()[1]}"
    for password in PASSWORDS:
        store = url_with(password, netloc)
        served = run_command(
            tmp_path,
            "serve",
            "tests.event_handlers_record",
            "--port",
            "0",
            "--store",
            store,
            "--basic-user",
            "u",
            "--no-api",
            "--log-level",
            "debug",
        )
        assert served.returncode != 0
        misread = "@" in password or "/" in password
        said = "percent-encode" if misread else "cannot connect to postgresql://postgres:***@"
        assert said in served.stderr, served.stderr
        purged = run_command(tmp_path, "purge", "--store", store)
        assert purged.returncode == 2 and "postgresql://postgres:***@" in purged.stderr
        for out in (served.stderr, served.stdout, purged.stderr, purged.stdout):
            assert "S3" not in out and "pw" not in out, out


def test_a_receiver_on_a_real_database_logs_no_password(tmp_path: Path) -> None:
    with postgres_server() as url:  # trust authentication: any password connects
        netloc = url.removeprefix("postgresql://postgres@").partition("/")[0]
        store = url_with("S3#c?r:e%25tpw", netloc)
        proc = start_receiver(
            tmp_path,
            store,
            "http://127.0.0.1:9",
            "--log-level",
            "debug",
            module="tests.event_handlers_record",
        )
        try:
            assert post(proc.url, event("Subscriber/Updated", 77, i_account=1)).status_code == 200
        finally:
            proc.stop()
        log = proc.log()
        assert "postgresql://postgres:***@" in log and "receiving events" in log, log
        assert "S3" not in log and "tpw" not in log, log
