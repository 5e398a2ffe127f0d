"""Session stores: one session shared by every process that logs in to the same server as the
same user, so 20 workers or a cron job every minute log in once, not once each.

A store keeps bytes under a key and locks a key across processes; the session decides what to
keep (`save_grant`, `load_grant`). `FileSessionStore` is the default kind: one file per server
and login in a per-user directory, mode 0600, locked with `fcntl.flock`. Any other store (Redis,
a database) implements the three methods of `SessionStore`; README shows a Redis one. A stored
session that cannot be read (deleted, truncated, written by something else) counts as none: the
next process to need a session logs in and writes it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import msgspec

from ..limits import current_deadline
from .tokens import Grant


class SessionStore(Protocol):
    """Where the processes of one deployment keep their shared session."""

    def load(self, key: str) -> bytes | None:
        """The bytes saved under `key`, or None."""
        ...

    def save(self, key: str, data: bytes) -> None:
        """Keep `data` under `key`, replacing what was there."""
        ...

    def lock(self, key: str) -> AbstractContextManager[object]:
        """Held while one process logs in or renews the session of `key`: the others wait, then
        find the new session saved."""
        ...


def store_key(base_url: str, login: str) -> str:
    """The key of a server and a login (hashed: neither appears in a file name or a log)."""
    return hashlib.sha256(f"{base_url}\0{login}".encode()).hexdigest()[:32]


_FIELDS = ("session_id", "access_token", "refresh_token", "expires", "lifetime")


def save_grant(store: SessionStore, key: str, grant: Grant) -> None:
    store.save(key, msgspec.json.encode(dict(zip(_FIELDS, grant, strict=True))))


def load_grant(store: SessionStore, key: str) -> Grant | None:
    """The stored grant, or None when there is none or it cannot be read."""
    data = store.load(key)
    if not data:
        return None
    try:
        record = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    if not isinstance(record, dict):
        return None
    values: list[Any] = []
    for name in _FIELDS:
        value = record.get(name)
        wanted = str if name in _FIELDS[:3] else (int, float)
        if value is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
            return None
        values.append(float(value) if isinstance(value, int) else value)
    return Grant(*values)


def default_directory() -> Path:
    """`$XDG_STATE_HOME/portabilling/sessions`, by default `~/.local/state/portabilling/sessions`."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "portabilling" / "sessions"


class FileSessionStore:
    """One file per server and login in `directory` (made 0700 if missing), each 0600."""

    __slots__ = ("directory",)

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()

    def __repr__(self) -> str:
        return f"FileSessionStore({str(self.directory)!r})"

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.session"

    def load(self, key: str) -> bytes | None:
        try:
            with open(self.path(key), "rb") as f:
                return f.read(65536)
        except OSError:  # missing, a folder, not ours to read: no session, the caller logs in
            return None

    def save(self, key: str, data: bytes) -> None:
        """Written whole or not at all: a reader never sees half a session."""
        self._directory()
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, self.path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        import fcntl  # POSIX; imported here so the runtime still imports elsewhere

        self._directory()
        fd = os.open(self.directory / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = current_deadline()  # the waiting call's: a stuck holder costs its timeout
            while deadline is not None and deadline.remaining() is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    deadline.check()
                    time.sleep(0.02)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the file releases its lock

    def _directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
