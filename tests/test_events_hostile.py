"""The receiver's sockets and answers under hostile clients, on real sockets against real
`serve` processes (issue 20): the request head bounded in bytes and lines (431, flat memory),
connections that send nothing or trickle closed (408), open connections bounded by closing the
longest idle one, and real events still answered within a second under a header flood and 200
idle connections. Raw exceptions turned into 4xx or start-up errors."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .events_support import AUTH, ROOT, ReceiverProcess, event, post, start_receiver

MODULE = "tests.event_handlers_record"


@pytest.fixture(params=["httptools", "h11"])
def http(request: pytest.FixtureRequest) -> str:
    """Each guarded protocol `serve` may run: httptools (when installed) and h11."""
    return str(request.param)


def serve(tmp: Path, *extra: str, http: str = "auto") -> ReceiverProcess:
    store = f"sqlite:///{tmp / 'events.db'}"
    return start_receiver(tmp, store, "http://127.0.0.1:9", "--http", http, *extra, module=MODULE)


@pytest.fixture
def receiver(tmp_path: Path, http: str) -> Iterator[ReceiverProcess]:
    proc = serve(tmp_path, "--read-timeout", "1.5", "--max-connections", "300", http=http)
    yield proc
    proc.stop()


@pytest.fixture
def plain_receiver(tmp_path: Path, http: str) -> Iterator[ReceiverProcess]:
    """A receiver with the default limits."""
    proc = serve(tmp_path, http=http)
    yield proc
    proc.stop()


def address(url: str) -> tuple[str, int]:
    host, _, rest = url.removeprefix("http://").partition(":")
    return host, int(rest.partition("/")[0])


def rss_kib(proc: ReceiverProcess) -> int:
    for line in Path(f"/proc/{proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    out = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            out += chunk
    return out


_ids = iter(range(7_000_000, 8_000_000))


def real_event(url: str) -> float:
    """Seconds a real, authenticated delivery takes to be answered 200."""
    start = time.monotonic()
    answer = post(url, event("Subscriber/Updated", next(_ids), i_account=1))
    assert answer.status_code == 200, answer.text
    return time.monotonic() - start


def header_flood(url: str, stop: threading.Event, answers: list[bytes], megabytes: int) -> None:
    """Header lines without end on one connection; the first bytes the receiver answers."""
    line = b"X-Flood: " + b"a" * 50 + b"\r\n"
    with socket.create_connection(address(url)) as sock:
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        try:
            while not stop.is_set() and sent < megabytes << 20:
                sock.sendall(line * 100)
                sent += len(line) * 100
        except OSError:
            pass
        answers.append(read_all(sock))


def test_an_endless_head_is_refused_431_with_flat_memory(
    plain_receiver: ReceiverProcess,
) -> None:
    receiver = plain_receiver
    real_event(receiver.url)
    before = rss_kib(receiver)
    answers: list[bytes] = []
    header_flood(receiver.url, threading.Event(), answers, 64)
    assert answers[0].startswith(b"HTTP/1.1 431 "), answers[0][:200]
    assert rss_kib(receiver) - before < 16 * 1024  # today: the head was kept, tens of MiB
    # many short header lines under the byte bound: refused by count
    with socket.create_connection(address(receiver.url)) as sock:
        head = b"POST /events HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 500 + b"\r\n"
        sock.sendall(head)
        assert read_all(sock).startswith(b"HTTP/1.1 431 ")
    real_event(receiver.url)


def test_silent_and_trickling_connections_are_closed(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    host_port = address(receiver.url)
    silent = socket.create_connection(host_port)
    trickle = socket.create_connection(host_port)
    body_trickle = socket.create_connection(host_port)
    start = time.monotonic()
    body_trickle.sendall(
        f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
    )
    trickle.settimeout(0.2)
    closed = False
    for byte in b"POST /events HTTP/1.1\r\nHost: x\r\n" * 10:
        try:
            trickle.sendall(bytes([byte]))
            time.sleep(0.05)
        except OSError:
            closed = True
            break
        if time.monotonic() - start > 5:
            break
    assert read_all(silent).startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - start < 5, "the silent connection was held past the read timeout"
    assert closed or read_all(trickle, 3).startswith(b"HTTP/1.1 408 ")
    assert read_all(body_trickle, 5) == b""  # cut mid-body: closed, no event taken
    for sock in (silent, trickle, body_trickle):
        sock.close()
    effects = tmp_path / "effects.log"
    assert not effects.exists() or "done" not in effects.read_text()


def test_a_full_house_of_idle_connections_closes_the_oldest(tmp_path: Path, http: str) -> None:
    proc = serve(tmp_path, "--max-connections", "20", "--read-timeout", "60", http=http)
    try:
        idle = [socket.create_connection(address(proc.url)) for _ in range(40)]
        time.sleep(0.3)
        assert real_event(proc.url) < 1.0
        closed = 0
        for sock in idle:
            sock.settimeout(0.01)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed += 1
        assert closed >= 20  # the oldest ones made room; today none is ever closed
        for sock in idle:
            sock.close()
    finally:
        proc.stop()


def test_real_events_are_answered_under_a_header_flood_and_200_idle_connections(
    plain_receiver: ReceiverProcess,
) -> None:
    receiver = plain_receiver
    idle = [socket.create_connection(address(receiver.url)) for _ in range(200)]
    stop = threading.Event()
    answers: list[bytes] = []
    flooders = [
        threading.Thread(target=header_flood, args=(receiver.url, stop, answers, 64))
        for _ in range(4)
    ]
    for t in flooders:
        t.start()
    try:
        time.sleep(0.2)
        took = [real_event(receiver.url) for _ in range(20)]
        assert max(took) < 1.0, took
    finally:
        stop.set()
        for t in flooders:
            t.join(30)
        for sock in idle:
            sock.close()
    assert answers and all(a.startswith(b"HTTP/1.1 431 ") for a in answers), answers


# ---- raw exceptions ------------------------------------------------------------------------------


def raw_post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(address(url)) as sock:
        sock.sendall(
            f"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}"
            "Connection: close\r\n\r\n".encode("latin-1")
            + body
        )
        answer = read_all(sock)
    return int(answer.split(b" ", 2)[1]), answer


def test_absurd_dates_and_deep_json_get_4xx_not_500(tmp_path: Path) -> None:
    verifier = tmp_path / "body_verifier.py"
    verifier.write_text(
        "def verify(request):\n    return request.body.startswith(b'{')\nverify.needs_body = True\n"
    )
    store = f"sqlite:///{tmp_path / 'events.db'}"
    proc = start_receiver(
        tmp_path,
        store,
        "http://127.0.0.1:9",
        "--date-window",
        "300",
        module=MODULE,
        path=(tmp_path,),
    )
    body_proc = None
    try:
        json = {"Content-Type": "application/json", "Authorization": AUTH}
        ok = b'{"event_type": "Subscriber/Updated", "variables": {"i_event": 1, "i_account": 2}}'
        for date in (
            "Mon, 01 Jan 9999999999999999999999 00:00:00 GMT",
            "Mon, 01 Jan 2020 99999999999999999999:00:00 GMT",
            "Mon, 01 Jan 9999 23:59:59 -9999",
        ):
            status, answer = raw_post(proc.url, {**json, "Date": date}, ok)
            assert status == 401, answer
        deep = b'{"event_type": "Subscriber/Updated", "variables": ' + b"[" * 100_000
        deep += b"]" * 100_000 + b"}"
        from email.utils import formatdate

        now = formatdate(usegmt=True)
        status, answer = raw_post(proc.url, {**json, "Date": now}, deep[:60_000])
        assert status == 400, answer
        for length in ("\u00b2", "9" * 5000):
            status, answer = raw_post(proc.url, {**json, "Content-Length": length}, b"")
            assert status in (400, 413), answer
        # a verifier that reads the body: the Date check runs before it, still no traceback
        body_proc = start_receiver(
            tmp_path,
            store,
            "http://127.0.0.1:9",
            "--verifier",
            "body_verifier",
            "--date-window",
            "300",
            module=MODULE,
            path=(tmp_path,),
        )
        status, answer = raw_post(
            body_proc.url,
            {
                "Content-Type": "application/json",
                "Date": "Mon, 01 Jan 9999999999999999999999 00:00:00 GMT",
            },
            ok,
        )
        assert status == 401, answer
    finally:
        proc.stop()
        if body_proc is not None:
            body_proc.stop()
    logs = proc.log() + (body_proc.log() if body_proc else "")
    assert "Traceback" not in logs and "OverflowError" not in logs, logs


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lease", "nan"], "lease must be between 1 and 86400 seconds"),
        (["--lease", "inf"], "lease must be between 1 and 86400 seconds"),
        (["--date-window", "nan"], "date_window must be between"),
        (["--date-window", "-1"], "date_window must be between"),
        (["--max-body", "99999999999999"], "max_body must be between"),
        (["--read-timeout", "nan"], "read_timeout must be between"),
        (["--keep-alive", "0"], "keep_alive must be between"),
        (["--max-connections", "1"], "max_connections must be"),
        (["--port", "99999"], "not a port number"),
    ],
)
def test_absurd_settings_are_start_up_errors(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    cmd = [sys.executable, "-m", "portabilling.events", "serve", MODULE, "--no-auth", "--no-api"]
    cmd += ["--store", f"sqlite:///{tmp_path / 'e.db'}", "--port", "0", *argv]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}"}
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=20, text=True)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{argv} started a receiver instead of refusing") from None
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_purge_refuses_a_non_finite_age(tmp_path: Path, capsys: Any) -> None:
    from portabilling._runtime.events import cli as event_cli

    store = f"sqlite:///{tmp_path / 'e.db'}"
    for age in ("nan", "inf", "-1"):
        code = event_cli.main(["purge", "--store", store, "--older-than", age], env={}, prog="p")
        assert code == 2 and "--older-than must be between" in capsys.readouterr().err


# ---- the two guarded protocols -------------------------------------------------------------------


def test_serve_guards_httptools_when_installed_and_h11_on_request() -> None:
    pytest.importorskip("httptools")
    from portabilling._runtime.events.bounds import ConnectionLimits
    from portabilling._runtime.events.protocols import guarded_protocol, server_options
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    limits = ConnectionLimits(max_head=2048)
    auto = server_options(limits)["http"]
    assert issubclass(auto, HttpToolsProtocol) and auto.limits is limits
    assert issubclass(guarded_protocol(limits, "h11"), H11Protocol)
    with pytest.raises(ValueError, match="http must be"):
        guarded_protocol(limits, "h2")


def _request(i_event: int, head_size: int = 0, last: bool = False) -> bytes:
    body = (
        b'{"event_type":"Subscriber/Updated","variables":{"i_event":%d,"i_account":1}}' % i_event
    )
    head = (
        f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        + ("Connection: close\r\n" if last else "")
    ).encode()
    if head_size:  # padded with one header to exactly `head_size` bytes, the blank line included
        head += b"X-Pad: " + b"p" * (head_size - len(head) - len(b"X-Pad: \r\n\r\n")) + b"\r\n"
    return head + b"\r\n" + body


def test_heads_near_the_bound_and_pipelined_requests_are_answered(
    plain_receiver: ReceiverProcess, http: str
) -> None:
    """A head just under `max_head` with its body in the same read, and two requests sent in one
    write (the second's head after the first's body), are served; a head over the bound that
    arrives whole in one read is refused on httptools (h11 bounds only an incomplete head)."""
    host_port = address(plain_receiver.url)
    n = next(_ids)
    with socket.create_connection(host_port) as sock:
        sock.sendall(_request(n, head_size=8 * 1024 - 1, last=True))
        assert read_all(sock).startswith(b"HTTP/1.1 200 ")
    with socket.create_connection(host_port) as sock:
        sock.sendall(_request(n + 1, head_size=5000) + _request(n + 2, head_size=5000, last=True))
        answers = read_all(sock)
        assert answers.count(b"HTTP/1.1 200 ") == 2, answers
    if http == "httptools":
        with socket.create_connection(host_port) as sock:
            sock.sendall(_request(n + 3, head_size=8 * 1024 + 100, last=True))
            assert read_all(sock).startswith(b"HTTP/1.1 431 ")
    real_event(plain_receiver.url)
