"""Permissions of what the generator writes: what the user's umask gives any new file or folder.

Writing through `tempfile` (a temp file or folder beside the target, then a rename, so a failed
run never leaves half a file) creates owner-only entries (0600 / 0700); renamed into place they
would stay that way, and a container built as root and run as an application user could not read
the vendored package. Every writer passes its temp entries through here before the rename.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def umask() -> int:
    """The process umask, read without changing it where /proc says it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: the classic read (set and restore), once per process
    os.umask(current)
    return current


def file_mode() -> int:
    return 0o666 & ~umask()


def dir_mode() -> int:
    return 0o777 & ~umask()


def as_created(path: Path, keep: Path | None = None) -> None:
    """Give `path` the mode a new entry gets from the umask, or the mode `keep` has if it exists.

    A folder gets the folder mode and so does every folder below it; files below it are written
    with `open()` and already have the umask's mode.
    """
    if keep is not None:
        try:
            os.chmod(path, keep.stat().st_mode & 0o7777)
            return
        except FileNotFoundError:
            pass
    if path.is_dir():
        os.chmod(path, dir_mode())
    else:
        os.chmod(path, file_mode())
