"""Real receivers for the event tests: `python -m portabilling.events serve` processes, uvicorn in
a thread for in-process apps, and a throw-away PostgreSQL server on loopback."""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BASIC_USER, BASIC_PASSWORD = "porta", "s3cret-events-pw"
AUTH = "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()


def event(event_type: str, i_event: int | str, **variables: Any) -> dict[str, Any]:
    return {"event_type": event_type, "variables": {"i_event": i_event, **variables}}


# one pool for every test request: httpx.post() builds a client (and an SSL context) each call
HTTP = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=64))


def post(url: str, body: Any, *, auth: str | None = AUTH) -> httpx.Response:
    headers = {"Authorization": auth} if auth else {}
    return HTTP.post(url, json=body, headers=headers)


def lines(log: Path, prefix: str) -> list[str]:
    if not log.exists():
        return []
    return [ln for ln in log.read_text().splitlines() if ln.startswith(prefix + " ")]


def wait_for(check: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class ReceiverProcess:
    """One `serve` process; `url` takes events, `kill()` is SIGKILL (a crash, not a shutdown)."""

    proc: subprocess.Popen[bytes]
    url: str
    stderr: Path

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def start_receiver(
    tmp: Path,
    store: str,
    api_url: str,
    *extra: str,
    log: Path | None = None,
    module: str = "tests.event_handlers",
    path: tuple[Path, ...] = (),
    env_extra: dict[str, str] | None = None,
) -> ReceiverProcess:
    env = {
        **os.environ,
        **(env_extra or {}),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "generated"), str(ROOT), *map(str, path)]),
        "PORTABILLING_EVENTS_PASSWORD": BASIC_PASSWORD,
        "PORTABILLING_API_URL": api_url,
        "PORTABILLING_API_LOGIN": "admin",
        "PORTABILLING_API_PASSWORD": "secret",
        "EVENTS_LOG": str(log or tmp / "effects.log"),
        "EVENTS_OUTAGE": str(tmp / "outage"),
    }
    fd, name = tempfile.mkstemp(prefix="receiver-", suffix=".log", dir=tmp)
    os.close(fd)
    stderr = Path(name)
    cmd = [sys.executable, "-m", "portabilling.events", "serve", module]
    cmd += ["--port", "0", "--store", store, "--no-access-log"]
    if not {"--verifier", "--header-auth", "--no-auth"} & set(extra):
        cmd += ["--basic-user", BASIC_USER]
    with stderr.open("wb") as err:
        proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, env=env, stderr=err)
    try:
        found = wait_for(
            lambda: proc.poll() is not None
            or re.search(r"listening on ([\d.]+):(\d+)", stderr.read_text()),
            what="the receiver to listen",
        )
        assert proc.poll() is None, stderr.read_text()
        url = f"http://{found.group(1)}:{found.group(2)}/events"
        # ready once uvicorn answers (lifespan startup has opened the store by then)
        wait_for(lambda: _answers(url), what="the receiver to answer")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return ReceiverProcess(proc, url, stderr)


def _answers(url: str) -> bool:
    try:
        HTTP.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port from a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# ---- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


POSTMASTERS: list[int] = []  # pids of the servers started, for the benchmark's CPU figures


@contextlib.contextmanager
def postgres_server(durable: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL cluster in a temporary directory on a free loopback port; yields its
    URL. As root, the server runs as the `postgres` user (it refuses to run as root). Tests run
    it with fsync off; `durable=True` (the benchmark) keeps PostgreSQL's defaults."""
    bindir = postgres_bin()
    assert bindir is not None
    user: str | None = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_name  # Debian's package makes this user
        except KeyError:
            user = "nobody"
    data = Path(tempfile.mkdtemp(prefix="pb-events-pg-"))
    if user:
        shutil.chown(data, user)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run: dict[str, Any] = {"user": user, "check": True, "capture_output": True}
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data / "db"),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        **run,
    )
    server = subprocess.Popen(
        [
            str(bindir / "postgres"),
            "-D",
            str(data / "db"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            f"fsync={'on' if durable else 'off'}",
            "-c",
            "max_connections=50",
        ],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    POSTMASTERS.append(server.pid)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        def up() -> bool:
            try:
                psycopg.connect(url, connect_timeout=1).close()
            except psycopg.OperationalError:
                return False
            return True

        wait_for(lambda: server.poll() is not None or up(), timeout=30, what="postgres")
        assert server.poll() is None, "postgres exited at start"
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data, ignore_errors=True)
        POSTMASTERS.remove(server.pid)
