"""What the generator reads: a cache directory (with MANIFEST.json), a plain directory, or one WSDL.

The cache layout is documented in docs/cache-format.md. The hash of what the server served (the
release, what was asked for, and each file's path and sha256; not when or from which address it
was fetched) goes into every generated file's header, so a regenerated package names the exact
snapshot it came from, and fetching an unchanged server again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import GeneratorError
from .interfaces import WSDL_SUFFIXES

MANIFEST = "MANIFEST.json"


@dataclass
class InputSet:
    root: str
    release: str = ""
    manifest_hash: str = ""  # empty for inputs without a manifest: hashed from files read
    wsdls: list[tuple[str, str]] = field(default_factory=list)  # (interface, path), sorted
    openapi: dict[str, str] = field(default_factory=dict)  # interface -> path
    url_map: dict[str, str] = field(default_factory=dict)  # absolute schema URL -> cached file

    def display(self, path: str) -> str:
        return os.path.relpath(path, os.path.dirname(os.path.realpath(self.root)))


def open_cache(directory: str) -> InputSet:
    """A cache made by `fetch` (or the bundled one): verified against its manifest."""
    root = os.path.realpath(directory)
    manifest_path = os.path.join(root, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise GeneratorError(
            f"no {MANIFEST} here; use --wsdl for a plain directory of WSDL files", file=directory
        )
    raw = _read(manifest_path)
    try:
        manifest: dict[str, Any] = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GeneratorError(
            f"malformed JSON: {exc.msg}", file=manifest_path, line=exc.lineno
        ) from None
    files = manifest.get("files")
    if not isinstance(files, list):
        raise GeneratorError("manifest has no 'files' list", file=manifest_path)
    for entry in files:
        _verify(root, entry, manifest_path)
    found = _scan(root)
    for entry in files:
        if isinstance(entry.get("url"), str) and str(entry.get("path", "")).startswith("_"):
            found.url_map[entry["url"]] = os.path.join(root, entry["path"])
    found.release = str(manifest.get("release", ""))
    found.manifest_hash = served_hash(manifest)
    return found


# Manifest keys that say when and from where a snapshot was taken, not what the server served.
VOLATILE_KEYS = ("fetched_at", "source")


def served_hash(manifest: dict[str, Any]) -> str:
    """sha256 over a manifest's content without its volatile keys (canonical JSON)."""
    content = {k: v for k, v in manifest.items() if k not in VOLATILE_KEYS}
    files = content.get("files")
    if isinstance(files, list):  # a file's fetch URL carries the host too: path and digest say it
        content["files"] = [
            {k: v for k, v in f.items() if k != "url"} if isinstance(f, dict) else f for f in files
        ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def open_plain(path: str) -> InputSet:
    """A directory of WSDLs (sub-folders name interfaces) or a single WSDL file."""
    if os.path.isfile(path):
        root = os.path.dirname(os.path.realpath(path))
        real = os.path.realpath(path)
        return InputSet(root=root, wsdls=[(_interface_of(os.path.basename(real)), real)])
    if not os.path.isdir(path):
        raise GeneratorError("no such file or directory", file=path)
    found = _scan(os.path.realpath(path))
    if not found.wsdls:
        raise GeneratorError("no .wsdl files found", file=path)
    return found


def _scan(root: str) -> InputSet:
    result = InputSet(root=root)
    for dirpath, dirnames, filenames in os.walk(root):
        # `_remote/`: schemas fetched from absolute URLs, reached only through their imports
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("_"))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if name.lower().endswith(".wsdl"):
                result.wsdls.append((_interface_of(rel), path))
            elif name.endswith("Interface.json") and os.path.basename(dirpath) == "openapi":
                result.openapi[name[: -len("Interface.json")].lower()] = path
    result.wsdls.sort(key=lambda item: (item[0], item[1]))
    return result


_PORTA_FILE = re.compile(rf"[A-Za-z0-9]+?({WSDL_SUFFIXES})Service\.wsdl")  # fullmatch


def _interface_of(rel: str) -> str:
    """The first folder names the interface; a lone `{Service}{Interface}Service.wsdl` says it."""
    parts = rel.replace(os.sep, "/").split("/")
    if len(parts) > 1:
        return parts[0].lower()
    m = _PORTA_FILE.fullmatch(parts[0])
    return m.group(1).lower() if m else "default"


def _verify(root: str, entry: Any, manifest_path: str) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise GeneratorError(f"bad manifest entry {entry!r}", file=manifest_path)
    rel = entry["path"]
    path = os.path.realpath(os.path.join(root, rel))
    if not path.startswith(root + os.sep):
        raise GeneratorError(f"manifest path escapes the cache: {rel}", file=manifest_path)
    if not os.path.isfile(path):
        raise GeneratorError(f"file listed in the manifest is missing: {rel}", file=manifest_path)
    expected = entry.get("sha256")
    if expected:
        digest = hashlib.sha256(_read(path)).hexdigest()
        if digest != expected:
            raise GeneratorError(
                f"sha256 mismatch for {rel}: the file changed since it was fetched",
                file=manifest_path,
            )


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise GeneratorError(f"cannot read: {exc.strerror}", file=path) from None


def files_hash(paths: list[str], root: str) -> str:
    """A stable hash over files (relative name + content), for inputs without a manifest."""
    h = hashlib.sha256()
    for path in sorted(set(paths)):
        h.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
        h.update(b"\0")
        h.update(hashlib.sha256(_read(path)).digest())
    return h.hexdigest()


def fetched_interfaces(directory: str) -> list[str] | None:
    """The interfaces a cache's manifest says were fetched (None: not recorded, or no cache)."""
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    names = data.get("interfaces") if isinstance(data, dict) else None
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return list(names)
    return None
