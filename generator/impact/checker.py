"""mypy, run on the user's files in the mirror: found, started, and its diagnostics read.

mypy is a development tool the user already runs; the generator does not depend on it and looks
for it only when the impact analysis is asked for. It runs as `python -m mypy` in a child process
(the working directory and MYPYPATH are the mirror's, and the user's own mypy settings apply), with
`--check-untyped-defs` (the bodies of unannotated functions are checked too: more of the user's
code is seen, and only differences between two runs are reported, so nothing is added to the
user's own results) and one cache folder shared by both runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GeneratorError

# file:line:column: severity: message  [code]
_LINE = re.compile(r"(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|note): (?P<msg>.*)")
_CODE = re.compile(r"\s\s\[(?P<code>[a-z0-9-]+)\]\Z")

MISSING = (
    "the impact analysis type-checks your code with mypy, which is not installed where "
    "portabilling-gen runs: `pip install mypy` in that environment "
    "(with pipx: `pipx inject portabilling-bindings mypy`)"
)


@dataclass(frozen=True)
class Diagnostic:
    file: str  # as mypy printed it (absolute, in the mirror)
    line: int
    column: int
    code: str
    message: str
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)


def version() -> str:
    """mypy's version, or a GeneratorError that says how to install it."""
    if importlib.util.find_spec("mypy") is None:
        raise GeneratorError(MISSING)
    from mypy.version import __version__  # imported only for this command

    return __version__


def run(files: list[Path], *, cwd: Path, search: list[Path], cache: Path) -> list[Diagnostic]:
    """mypy's errors on `files` (paths in the mirror), with `search` first on MYPYPATH."""
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join(
        [*(str(p) for p in search), *filter(None, [os.environ.get("MYPYPATH")])]
    )
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--cache-dir",
        str(cache),
        "--check-untyped-defs",
        "--show-column-numbers",
        "--show-error-codes",
        "--show-absolute-path",
        "--hide-error-context",
        "--no-pretty",
        "--no-color-output",
        "--no-error-summary",
        *_user_python(),
        *(str(f) for f in files),
    ]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        # 2: a blocking error (a duplicate module name, a bad setting) or a crash
        out = (done.stdout + done.stderr).strip().splitlines()
        raise GeneratorError(
            "mypy could not check your code (exit "
            f"{done.returncode}): " + " / ".join(out[:6]) + (" ..." if len(out) > 6 else "")
        )
    return parse(done.stdout)


def _user_python() -> list[str]:
    """With a virtual environment active (not the generator's own), mypy reads the packages
    installed there, so the user's imports resolve as they do in their own runs."""
    venv = os.environ.get("VIRTUAL_ENV")
    if not venv or Path(venv).resolve() == Path(sys.prefix).resolve():
        return []
    python = Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return ["--python-executable", str(python)] if python.exists() else []


def parse(output: str) -> list[Diagnostic]:
    """mypy's text output as errors, each with the notes that follow it."""
    found: list[Diagnostic] = []
    for raw in output.splitlines():
        m = _LINE.fullmatch(raw)
        if m is None:
            continue
        message = m["msg"]
        code = _CODE.search(message)
        if code is not None:
            message = message[: code.start()]
        if m["sev"] == "note":
            last = found[-1] if found else None
            if last is not None and last.file == m["file"] and last.line == int(m["line"]):
                found[-1] = Diagnostic(
                    last.file,
                    last.line,
                    last.column,
                    last.code,
                    last.message,
                    (*last.notes, message),
                )
            continue
        found.append(
            Diagnostic(
                m["file"], int(m["line"]), int(m["col"]), code["code"] if code else "", message
            )
        )
    return found
