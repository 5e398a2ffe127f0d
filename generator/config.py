"""`[tool.portabilling-gen]` in the user's pyproject.toml: the settings every command starts from.

The project root is the folder holding the pyproject.toml that is read (found by walking up from
the working directory, like black and ruff do, or named with `--config`). Paths in the section
are relative to that root and must stay inside it; flags on the command line override any key
(flag paths are taken as given, relative to the working directory).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import GeneratorError
from .interfaces import INTERFACES

SECTION = "portabilling-gen"

FAIL_ON = ("breaking", "warning", "any", "never")
TRANSPORTS = ("json", "soap")


@dataclass(frozen=True)
class Config:
    root: Path  # the project root: paths below are resolved against it
    source: Path | None = None  # the pyproject.toml read (None: no file, defaults only)
    url: str | None = None
    interfaces: tuple[str, ...] = ("admin",)
    cache: Path = field(default=Path("portabilling_wsdl"))
    out: Path = field(default=Path("."))
    package: str = "portabilling"
    drift_ignore: Path = field(default=Path(".portabilling-drift-ignore"))
    fail_on: str = "breaking"
    transport: str = "json"
    distribution: bool = False
    impact: tuple[Path, ...] = ()  # the user's code `ci` checks against the new release
    # keys present in the file (for messages: "from pyproject.toml" vs "default")
    given: frozenset[str] = frozenset()


# key in the file -> (attribute, kind)
_KEYS: dict[str, tuple[str, str]] = {
    "url": ("url", "url"),
    "interfaces": ("interfaces", "interfaces"),
    "cache": ("cache", "path"),
    "out": ("out", "path"),
    "package": ("package", "package"),
    "drift-ignore": ("drift_ignore", "path"),
    "fail-on": ("fail_on", "fail_on"),
    "transport": ("transport", "transport"),
    "distribution": ("distribution", "bool"),
    "impact": ("impact", "paths"),
}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start`; one with our section wins over one without.

    The walk stops at a repository root (a folder with `.git`), so a project never picks up the
    settings of a repository it happens to sit in.
    """
    nearest: Path | None = None
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            if nearest is None:
                nearest = candidate
            if _has_section(candidate):
                return candidate
        if (folder / ".git").exists():
            break
    return nearest


def _has_section(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and SECTION in tool


def load(config_file: Path | None = None, cwd: Path | None = None) -> Config:
    """The project's settings (defaults where the section or the file is absent)."""
    here = (cwd or Path.cwd()).resolve()
    if config_file is not None:
        path: Path | None = config_file.resolve()
        assert path is not None
        if not path.is_file():
            raise GeneratorError("no such file (given with --config)", file=str(config_file))
    else:
        path = find_pyproject(here)
    if path is None:
        return Config(root=here)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeneratorError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GeneratorError(f"not valid TOML: {exc}", file=str(path)) from None
    tool = data.get("tool", {})
    section = tool.get(SECTION) if isinstance(tool, dict) else None
    if section is None:
        return Config(root=path.parent, source=path)
    if not isinstance(section, dict):
        raise GeneratorError(f"[tool.{SECTION}] must be a table", file=str(path))
    return _parse(section, path)


def _parse(section: dict[str, Any], path: Path) -> Config:
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise GeneratorError(
                f"[tool.{SECTION}] has an unknown key {key!r} (known: {known})", file=str(path)
            )
        attr, kind = _KEYS[key]
        values[attr] = _check(kind, key, value, path)
    return Config(root=path.parent, source=path, given=frozenset(section), **values)


def _check(kind: str, key: str, value: Any, path: Path) -> Any:
    where = f"[tool.{SECTION}] {key}"

    def bad(why: str) -> GeneratorError:
        return GeneratorError(f"{where}: {why} (got {value!r})", file=str(path))

    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if not isinstance(value, (str, list)):
        raise bad("must be a string")
    if kind == "paths":  # impact: a list of paths, each checked as a path
        items = value if isinstance(value, list) else [value]
        return tuple(_check("path", key, item, path) for item in items)
    if kind == "interfaces":
        items = [value] if isinstance(value, str) else value
        if not items or not all(isinstance(i, str) and i in INTERFACES for i in items):
            raise bad(f"must be a list of {', '.join(INTERFACES)}")
        return tuple(dict.fromkeys(items))
    if not isinstance(value, str):
        raise bad("must be a string")
    if kind == "url":
        if not value.startswith(("https://", "http://")):
            raise bad("must be an http(s):// URL")
        return value.rstrip("/")
    if kind == "package":
        if not value.isidentifier():
            raise bad("must be a Python package name")
        return value
    if kind == "fail_on":
        if value not in FAIL_ON:
            raise bad(f"must be one of {', '.join(FAIL_ON)}")
        return value
    if kind == "transport":
        if value not in TRANSPORTS:
            raise bad(f"must be one of {', '.join(TRANSPORTS)}")
        return value
    # a path: relative, inside the project root
    if not value or "\\" in value or "\0" in value:
        raise bad("must be a relative path with / separators")
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts:
        raise bad("must be relative to the project root and stay inside it")
    return Path(*pure.parts) if pure.parts else Path(".")


def resolve(config: Config, relative: Path) -> Path:
    """A path of the section, absolute, with symbolic links resolved, and inside the project root.

    The section's text is checked when it is read (`_check`), but the folders it names may be
    symbolic links a repository commits: the containment check is made on the real path, so
    `generate`, `fetch` and `ci` never write (or read) outside the project through one.
    """
    where = config.source or config.root
    try:
        root = config.root.resolve()
        path = (root / relative).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise GeneratorError(f"cannot resolve {relative}: {exc}", file=str(where)) from None
    if path != root and not path.is_relative_to(root):
        raise GeneratorError(
            f"[tool.{SECTION}] path {relative.as_posix()!r} leads to {path}, outside the project "
            f"root {root} (through a symbolic link); point it at a folder inside the project",
            file=str(where),
        )
    return path


def init_text(url: str | None, package: str) -> str:
    """The commented section `portabilling-gen init` adds to pyproject.toml (values TOML-escaped)."""
    import tomlkit

    server = tomlkit.string(url or "https://pbx.example.com").as_string()
    package = tomlkit.string(package).as_string()
    return f"""
[tool.{SECTION}]
# Your PortaBilling server: `portabilling-gen fetch` downloads its WSDL/XSD/OpenAPI set from here
# (admin interface on port 443; customer 8444, reseller 8442, account 8445 unless the URL names
# a port). Credentials, when the server asks for them: PORTABILLING_USER / PORTABILLING_PASSWORD.
url = {server}
# Interfaces to fetch and generate: any of "admin", "customer", "reseller", "account".
interfaces = ["admin"]
# The committed snapshot of the server's files: `generate` reads it, `drift` compares against it.
cache = "portabilling_wsdl"
# Folder that receives the generated package (the package is `out`/`package`); vendor it.
out = "."
package = {package}
# The clients' default transport: "json" (the JSON API) or "soap".
transport = "json"
# Also write a pyproject.toml for the generated package, so it can be pip-installed or published.
distribution = false
# Drift gate: rule ids and/or paths to leave out (a missing file is fine), and the level that
# fails the build: "breaking", "warning", "any" or "never".
drift-ignore = ".portabilling-drift-ignore"
fail-on = "breaking"
# Your code that uses the bindings (folders or files): `ci` type-checks it with mypy against the
# live server's release too and reports the lines the release breaks (needs mypy installed).
# impact = ["src"]
"""
