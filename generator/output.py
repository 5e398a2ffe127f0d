"""Rendered files -> disk: black (cached by content, spread over cores), the format record, the
atomic swap into place, and the diff `generate --check` reports.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import black
from black.mode import Mode, TargetVersion
from black.parsing import InvalidInput

from .errors import GeneratorError
from .filemodes import as_created


@dataclass
class RenderedFile:
    path: str  # relative to the package directory
    content: str


_MODE = Mode(line_length=99, target_versions={TargetVersion.PY311})
_BLACK_VERSION = version("black")


FORMAT_RECORD = ".black-record.json"


def format_files(
    files: list[RenderedFile], cache_dir: Path | None = None, previous: Path | None = None
) -> list[RenderedFile]:
    """black every .py file: cached by content (like black's own cache) and spread over cores.

    The first line (the header naming the source hash) is kept out of the formatted body, so a
    new release only re-formats the modules whose code really changed. The output records, per
    file, the key of what black was given and the hash of what it returned
    (`FORMAT_RECORD`); regenerating over `previous` (the committed package) reuses every file
    whose input is unchanged and whose text is untouched, so a fresh clone needs no black run.
    """
    cache = cache_dir if cache_dir is not None else _default_cache()
    earlier = _read_record(previous)
    todo: dict[str, str] = {}
    results: dict[str, str] = {}
    keys: dict[str, tuple[str, str]] = {}  # path -> (header, record key)
    cache_keys: dict[str, str] = {}  # record key -> the per-user cache's key
    for f in files:
        if not f.path.endswith(".py"):
            continue
        header, _, body = f.content.partition("\n")
        # The record's key leaves black's version out: a committed file black was given exactly
        # this body for is reused whatever black is installed (black is a range, not a pin, so it
        # cannot clash in a user's venv). The per-user cache keys by version: a cache miss is
        # formatted by the black at hand.
        key = _record_key(body)
        keys[f.path] = (header, key)
        versioned = hashlib.sha256(f"{_BLACK_VERSION}|{_MODE!r}|{body}".encode()).hexdigest()
        cached = _previous_output(previous, f.path, (key, versioned), earlier) or _cache_get(
            cache, versioned
        )
        if cached is None:
            todo[key] = body
        else:
            results[key] = cached
        cache_keys[key] = versioned
    if todo:
        if sys.stderr.isatty():  # a first run takes tens of seconds: say so on a terminal
            print(
                f"formatting {len(todo)} modules with black (once: the format record beside the "
                "package keeps them for the next run) ...",
                file=sys.stderr,
                flush=True,
            )
        results.update(_black_many(todo))
        for key in todo:
            _cache_put(cache, cache_keys[key], results[key])
    out = []
    record: dict[str, list[str]] = {}
    for f in files:
        if not f.path.endswith(".py"):
            out.append(f)
            continue
        header, key = keys[f.path]
        formatted = results[key]
        if isinstance(formatted, BaseException):
            raise GeneratorError(
                f"rendered code is not valid Python (a template bug): {formatted}", file=f.path
            )
        out.append(RenderedFile(f.path, header + "\n" + formatted))
        record[f.path] = [key, hashlib.sha256(formatted.encode()).hexdigest()]
    text = json.dumps({"files": record}, indent=0, sort_keys=True)
    out.append(RenderedFile(FORMAT_RECORD, text + "\n"))
    return out


def record_path(package_dir: Path) -> Path:
    """Where the format record of a package lives: a sidecar beside it, never inside it (the
    vendored folder carries only code). Losing it costs one black run, nothing else."""
    return package_dir.parent / f".{package_dir.name}{FORMAT_RECORD}"


def _read_record(previous: Path | None) -> dict[str, list[str]]:
    if previous is None:
        return {}
    try:
        data = json.loads(record_path(previous).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _record_key(body: str) -> str:
    return hashlib.sha256(f"{_MODE!r}|{body}".encode()).hexdigest()


def _previous_output(
    previous: Path | None, path: str, accepted: tuple[str, str], earlier: dict[str, list[str]]
) -> str | None:
    """The committed file's body, if black was given exactly this and nobody edited it since
    (`accepted`: the record's key, and the older key that named black's version too)."""
    entry = earlier.get(path)
    if previous is None or not isinstance(entry, list) or len(entry) != 2:
        return None
    if entry[0] not in accepted:
        return None
    try:
        text = (previous / path).read_text(encoding="utf-8")
    except OSError:
        return None
    body = text.partition("\n")[2]
    return body if hashlib.sha256(body.encode()).hexdigest() == entry[1] else None


# black takes tens of seconds on a multi-megabyte module (a WSDL with 1 500 operations in one
# service); past this size the template's own layout is kept, after a syntax check.
BLACK_LIMIT = 400_000


def _format_one(body: str) -> str:
    if len(body) > BLACK_LIMIT:
        ast.parse(body)
        return body
    return black.format_str(body, mode=_MODE)


def _black_many(bodies: dict[str, str]) -> dict[str, str]:
    keys = sorted(bodies, key=lambda k: -len(bodies[k]))  # big files first: better balance
    workers = min(len(keys), os.cpu_count() or 1)
    if workers <= 1 or sum(len(b) for b in bodies.values()) < 200_000:
        return {k: _format_or_error(bodies[k]) for k in keys}
    ctx = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        formatted = list(pool.map(_format_or_error, [bodies[k] for k in keys], chunksize=1))
    return dict(zip(keys, formatted, strict=True))


def _format_or_error(body: str) -> Any:
    try:
        return _format_one(body)
    except (InvalidInput, SyntaxError) as exc:
        return GeneratorError(str(exc))


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "portabilling-gen" / "black"


def _cache_get(cache: Path, key: str) -> str | None:
    try:
        return (cache / key[:2] / key).read_text(encoding="utf-8")
    except OSError:
        return None


def _cache_put(cache: Path, key: str, value: Any) -> None:
    if not isinstance(value, str):
        return
    try:
        path = cache / key[:2] / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(value, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs speed


def write_atomic(files: list[RenderedFile], target: Path) -> None:
    """Write into a sibling temp dir, then swap: a failed run leaves `target` as it was."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        as_created(tmp)  # mkdtemp makes 0700: the package folder gets the umask's mode
        for f in files:
            path = tmp / f.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.content, encoding="utf-8", newline="\n")
        verify_package(tmp, target.name, files)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old.{os.getpid()}"
            os.rename(target, old)
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# Imports every module of the package from where it was written, as `package` (the folder's own
# name is a temporary one); prints the failing module and the error's last line.
_IMPORT_ALL = """
import importlib, importlib.util, sys, traceback
folder, package, modules = sys.argv[1], sys.argv[2], sys.argv[3:]
spec = importlib.util.spec_from_file_location(
    package, folder + "/__init__.py", submodule_search_locations=[folder]
)
root = importlib.util.module_from_spec(spec)
sys.modules[package] = root
for name in [package, *modules]:
    try:
        if name == package:
            spec.loader.exec_module(root)
        else:
            importlib.import_module(name)
    except BaseException as exc:
        print(name, "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1])
        sys.exit(1)
"""


def verify_package(folder: Path, package: str, files: list[RenderedFile]) -> None:
    """Import every module of the freshly written package in a separate interpreter (no
    bytecode left behind): a package that does not import never replaces the old one."""
    modules = sorted(
        f"{package}." + f.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for f in files
        if f.path.endswith(".py") and f.path != "__init__.py"
    )
    result = subprocess.run(
        [sys.executable, "-B", "-c", _IMPORT_ALL, str(folder), package, *modules],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if result.returncode != 0:
        where, _, message = (result.stdout.strip() or result.stderr.strip()).partition(" ")
        raise GeneratorError(
            f"the generated package does not import ({message or result.stderr[-300:]}); "
            "nothing was written",
            file=where.replace(".", "/") + ".py",
        )


def diff_against(files: list[RenderedFile], target: Path) -> list[str]:
    """Paths that differ between the rendered files and what is on disk (for --check)."""
    wanted = {f.path: f.content for f in files}
    present: dict[str, str] = {}
    if target.exists():
        for p in sorted(target.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                present[p.relative_to(target).as_posix()] = p.read_text(encoding="utf-8")
    report: list[str] = []
    for path in sorted(set(wanted) | set(present)):
        if path not in present:
            report.append(f"missing: {path}")
        elif path not in wanted:
            report.append(f"extra: {path}")
        elif wanted[path] != present[path]:
            diff = difflib.unified_diff(
                present[path].splitlines(),
                wanted[path].splitlines(),
                f"{path} (on disk)",
                f"{path} (generated)",
                lineterm="",
                n=1,
            )
            report.append(f"differs: {path}\n" + "\n".join(list(diff)[:40]))
    return report
