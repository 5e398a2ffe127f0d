"""A hostile HTTP server on loopback: it answers each request with whatever a test scripts,
byte by byte if need be (drips, endless chunked bodies, bombs, lies in headers).

A script is `script(request) -> Iterable[bytes | float]`: bytes are written as they come, a
float sleeps that many seconds; a script that yields nothing closes the connection unanswered.
`reply(...)` builds an ordinary HTTP/1.1 answer.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Script = Callable[[Request], Iterable[bytes | float]]


@dataclass
class Hostile:
    url: str
    script: Script | None = None
    requests: list[Request] = field(default_factory=list)


def reply(
    body: bytes, status: int = 200, ctype: str = "application/json", **headers: str
) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


@contextmanager
def hostile() -> Iterator[Hostile]:
    state = Hostile(url="")

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(30)
            try:
                while True:
                    request = _read_request(conn)
                    if request is None:
                        return
                    state.requests.append(request)
                    script = state.script
                    if script is None:
                        return
                    answered = False
                    for piece in script(request):
                        answered = True
                        if isinstance(piece, float | int):
                            time.sleep(piece)
                        else:
                            conn.sendall(piece)
                    if not answered:  # a script with nothing to say closes the connection
                        return
            except OSError:
                return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    # a short poll: `shutdown()` waits for the loop to notice, 0.5 s per test by default
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
