"""What the type checker cannot see in the user's code, found by reading it (never by running it).

A module that does not parse, or that tells mypy to ignore its errors, is not analysed at all.
Inside the analysed ones, three things escape the types: parameters extra_params sends (names the
bindings do not declare, by design), attributes reached by a computed name (getattr, setattr,
hasattr), and parameters without annotations (mypy takes them as Any, so a stub method called on
them is never checked).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

_IGNORE_ALL = re.compile(r"#\s*mypy:\s*ignore-errors\b|^#\s*type:\s*ignore\b")
_DYNAMIC = {"getattr", "setattr", "hasattr", "delattr"}
KINDS = ("extra_params", "dynamic_access", "untyped_parameters")


@dataclass(frozen=True)
class Spot:
    file: Path
    line: int
    kind: str  # one of KINDS
    detail: str


@dataclass
class BlindSpots:
    not_analysed: dict[Path, str] = field(default_factory=dict)  # file -> why
    spots: list[Spot] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(s.kind == kind for s in self.spots)


def scan(files: list[Path]) -> tuple[list[Path], BlindSpots]:
    """The files mypy can analyse, and what it will not see (in those and the others)."""
    found = BlindSpots()
    analysable = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            found.not_analysed[path] = f"unreadable: {exc}"
            continue
        except SyntaxError as exc:
            found.not_analysed[path] = f"syntax error at line {exc.lineno}: {exc.msg}"
            continue
        analysable.append(path)
        if _ignores_all(text):
            found.not_analysed[path] = "its errors are ignored (# mypy: ignore-errors)"
            continue
        found.spots.extend(_spots(path, tree))
    return analysable, found


def _ignores_all(text: str) -> bool:
    """`# mypy: ignore-errors` anywhere in the leading comments, or `# type: ignore` first."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return False
        if _IGNORE_ALL.search(stripped):
            return True
    return False


def _spots(path: Path, tree: ast.AST) -> list[Spot]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "extra_params":
                    out.append(Spot(path, kw.value.lineno, "extra_params", "extra_params=..."))
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            if name in _DYNAMIC and len(node.args) >= 2:
                attr = node.args[1]
                if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                    out.append(
                        Spot(path, node.lineno, "dynamic_access", f"{name}(..., <computed>)")
                    )
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            bare = [a.arg for a in params if a.annotation is None and a.arg not in ("self", "cls")]
            if bare:
                out.append(
                    Spot(
                        path, node.lineno, "untyped_parameters", f"{node.name}({', '.join(bare)})"
                    )
                )
    return sorted(out, key=lambda s: (s.line, s.kind))
