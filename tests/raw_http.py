"""Reading requests off a socket for the tests' own loopback servers (no HTTP library between
the client under test and the bytes it wrote)."""

from __future__ import annotations

import socket


def read_request(conn: socket.socket, buf: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The next request on `conn` after `buf` (bytes read already): (head, body, the bytes after
    it), the body by its Content-Length; None once the client has closed the connection."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(buf) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return head, buf[:length], buf[length:]
