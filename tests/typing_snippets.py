"""Typing tests that run mypy --strict once over a module of snippets: each line a case that must
type-check (error None) or fail with a message containing the expected text."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (case name, statement, None or the text mypy's error must contain)
Case = tuple[str, str, str | None]


@dataclass
class Snippet:
    """`head` (imports and set-up), then per group a function whose body is its cases."""

    head: str
    groups: list[tuple[str, str, str, list[Case]]]  # (kind, def line, first body line, cases)
    text: str = ""
    expect: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # line -> case

    def __post_init__(self) -> None:
        lines = self.head.splitlines()
        for kind, header, first, cases in self.groups:
            lines += ["", "", header, f"    {first}"]
            for name, statement, error in cases:
                lines.append(f"    {statement}")
                self.expect[len(lines)] = (f"{kind}-{name}", error)
        self.text = "\n".join(lines) + "\n"

    @property
    def case_lines(self) -> dict[str, int]:
        return {case: line for line, (case, _) in self.expect.items()}

    def mypy_errors(self, folder: Path, name: str) -> dict[int, list[str]]:
        """mypy --strict's errors over the snippet written as `folder/name.py`, by line."""
        (folder / f"{name}.py").write_text(self.text)
        ran = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict",
             "--config-file", str(ROOT / "pyproject.toml"),  # mypy_path: the generated package
             "--cache-dir", str(folder / "cache"), "--hide-error-context", "--no-pretty",
             str(folder / f"{name}.py")],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        errors: dict[int, list[str]] = {}
        for line in ran.stdout.splitlines():
            found = re.match(rf".*{re.escape(name)}\.py:(\d+): error: (.*)", line)
            if found:
                errors.setdefault(int(found[1]), []).append(found[2])
        assert ran.returncode in (0, 1), ran.stdout + ran.stderr  # 2: mypy itself failed
        return errors

    def outside_cases(self, errors: dict[int, list[str]]) -> dict[int, list[str]]:
        """Errors on lines that are no case: imports and set-up must type-check."""
        return {n: e for n, e in errors.items() if n not in self.expect}

    def check(self, case: str, errors: dict[int, list[str]]) -> None:
        line = self.case_lines[case]
        _, expected = self.expect[line]
        got = errors.get(line, [])
        statement = self.text.splitlines()[line - 1].strip()
        if expected is None:
            assert got == [], f"correct code is refused: {statement}"
        else:
            assert got, f"mypy accepts a mistake: {statement}"
            assert any(expected in message for message in got), (statement, got)
