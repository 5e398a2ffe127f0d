"""Download a server's WSDL set into a cache laid out like the bundled one, or not at all.

What is fetched: the OpenAPI document of each chosen interface, one WSDL per service (the service
list comes from `--services`, the OpenAPI paths and a `/wsdl/` directory index if the server has
one), and every schema and WSDL those import or include, recursively. Relative locations keep
their layout (`/wsdl/X.wsdl` is stored as `admin/X.wsdl`, so `../xsd/a.xsd` still resolves);
absolute ones on the same host (or an `--allow-host`) go under `_remote/HOST/` and the manifest
maps their URL to the file. The cache appears only when everything arrived.

Redirects are followed by hand (at most `MAX_REDIRECTS`), each only to a host that schema
locations may reach (the server's own or an `--allow-host`) and never from https down to http:
a redirect is the server choosing a URL, so it gets the same rules as a schema location.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .cache import MANIFEST
from .errors import GeneratorError
from .filemodes import as_created
from .interfaces import DEFAULT_PORTS, INTERFACES, WSDL_SUFFIXES
from .xmlsafe import parse_xml

_LOCATION_TAGS = {
    "{http://www.w3.org/2001/XMLSchema}import": "schemaLocation",
    "{http://www.w3.org/2001/XMLSchema}include": "schemaLocation",
    "{http://www.w3.org/2001/XMLSchema}redefine": "schemaLocation",
    "{http://schemas.xmlsoap.org/wsdl/}import": "location",
}
_INDEX_LINK = re.compile(rf'href="([^"]*?([A-Za-z0-9]+?)({WSDL_SUFFIXES})Service\.wsdl)"')
_TRANSIENT = {429, 500, 502, 503, 504}
_SERVICE = re.compile(r"[A-Za-z0-9_]+")  # fullmatch: `$` would let "Account\n" through
_REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
_UNSAFE = re.compile(r"[/\\\x00-\x1f]")  # (decoded) URL path segments that are refused
_ODD = re.compile(r"[^A-Za-z0-9._-]")  # characters a cache file name does not keep

Progress = Callable[[str, int, int], None]


@dataclass
class FetchResult:
    files: list[dict[str, object]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # services that answered 404
    release: str = ""


class Fetcher:
    def __init__(
        self,
        base_url: str,
        *,
        interfaces: list[str],
        services: list[str] | None = None,
        concurrency: int = 8,
        retries: int = 3,
        verify: bool = True,
        auth: tuple[str, str] | None = None,
        allow_hosts: list[str] | None = None,
        timeout: float = 60.0,
        progress: Progress | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GeneratorError(f"not an http(s) URL: {base_url}")
        unknown = [i for i in interfaces if i not in INTERFACES]
        if unknown:
            raise GeneratorError(
                f"unknown interface(s) {', '.join(unknown)}; use {', '.join(INTERFACES)}"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.interfaces = interfaces
        self.services = services
        self.concurrency = max(1, concurrency)
        self.retries = retries
        self.allow_hosts = {self.host, *(h.lower() for h in allow_hosts or [])}
        self.progress = progress
        self.http = httpx.Client(verify=verify, auth=auth, timeout=timeout, follow_redirects=False)
        self.result = FetchResult()
        self._stored: dict[str, str] = {}  # url -> relative path in the cache
        self._paths: set[str] = set()  # the same paths, for the collision check
        self._bodies: dict[str, bytes] = {}  # path -> content, written once all are validated
        self._done = 0

    def base(self, interface: str) -> str:
        """The interface's own port unless the URL named one (then every interface uses it)."""
        port = self.port or DEFAULT_PORTS.get(interface)
        default = 443 if self.scheme == "https" else 80
        netloc = self.host if port in (None, default) else f"{self.host}:{port}"
        return f"{self.scheme}://{netloc}"

    # ---- HTTP -----------------------------------------------------------------------------------

    def get(self, url: str, *, missing_ok: bool = False) -> bytes | None:
        for attempt in range(self.retries + 1):
            try:
                response = self._get_following(url)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
                raise GeneratorError(f"cannot fetch {url!r}: {exc}") from None
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise GeneratorError(
                        f"cannot fetch {url}: {type(exc).__name__}: {exc}"
                    ) from None
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code in _TRANSIENT and attempt < self.retries:
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code in (401, 403):
                raise GeneratorError(
                    f"{url}: HTTP {response.status_code}; pass --user/--password "
                    "(or PORTABILLING_USER / PORTABILLING_PASSWORD)"
                )
            if response.status_code != 200:
                raise GeneratorError(f"{url}: HTTP {response.status_code}")
            return response.content
        raise AssertionError("unreachable")

    def _get_following(self, url: str) -> httpx.Response:
        """GET `url`, following redirects only where `redirect_target` allows."""
        response = self.http.get(url)
        hops = 0
        while response.status_code in _REDIRECTS and "location" in response.headers:
            if hops == MAX_REDIRECTS:
                raise GeneratorError(f"{url}: more than {MAX_REDIRECTS} redirects")
            hops += 1
            target = self.redirect_target(str(response.url), response.headers["location"], url)
            response = self.http.get(target)
        return response

    def redirect_target(self, current: str, location: str, asked: str) -> str:
        """Where a redirect from `current` leads, or a GeneratorError naming both URLs."""
        target = urljoin(current, location.strip())
        parts = urlsplit(target)

        def refuse(why: str) -> GeneratorError:
            return GeneratorError(f"{asked}: redirect to {target!r} refused: {why}")

        if parts.scheme not in ("http", "https"):
            raise refuse("not an http(s) URL")
        if urlsplit(current).scheme == "https" and parts.scheme != "https":
            raise refuse("it leaves https for http")
        if parts.hostname not in self.allow_hosts:
            raise refuse(
                f"host {parts.hostname} is not the server's; pass --allow-host {parts.hostname} "
                "to follow it"
            )
        return target

    # ---- the walk -------------------------------------------------------------------------------

    def run(self) -> FetchResult:
        """Fetch and validate everything, in memory; `write` puts it on disk."""
        plan: list[tuple[str, str, str]] = []  # (interface, service, url)
        for interface in self.interfaces:
            label = interface.capitalize()
            doc_url = f"{self.base(interface)}/doc/api/{label}Interface.json"
            doc = self.get(doc_url, missing_ok=True)
            services = set(self.services or [])
            if doc is not None:
                found = _openapi_services(doc, doc_url)  # also checks that it is JSON
                self._store(doc_url, f"openapi/{label}Interface.json", doc)
                if not self.services:
                    services |= found
                self.result.release = self.result.release or _openapi_release(doc)
            if not self.services:
                index = self.get(f"{self.base(interface)}/wsdl/", missing_ok=True) or b""
                services |= {
                    m.group(2)
                    for m in _INDEX_LINK.finditer(index.decode("utf-8", "replace"))
                    if m.group(3) == label
                }
            for service in sorted(services):
                if not _SERVICE.fullmatch(service):
                    raise GeneratorError(
                        f"service name {service!r} is not a PortaBilling service name "
                        "(letters, digits, underscores)",
                        file=doc_url if service not in (self.services or []) else "--services",
                    )
                plan.append(
                    (
                        interface,
                        service,
                        f"{self.base(interface)}/wsdl/{service}{label}Service.wsdl",
                    )
                )
        if not plan:
            raise GeneratorError(
                "found no services to fetch: the server publishes no OpenAPI document or /wsdl/ index; "
                "name them with --services"
            )
        total = len(plan)
        with ThreadPoolExecutor(self.concurrency) as pool:
            bodies = list(pool.map(lambda item: self.get(item[2], missing_ok=True), plan))
        pending: list[tuple[str, str, bytes]] = []
        for (interface, service, url), body in zip(plan, bodies, strict=True):
            self._tick(url, total)
            if body is None:
                self.result.missing.append(f"{interface}/{service}")
                continue
            rel = f"{interface}/{url.rsplit('/', 1)[1]}"
            self._store(url, rel, body)
            pending.append((url, rel, body))
        self._follow(pending)
        return self.result

    def _follow(self, pending: list[tuple[str, str, bytes]]) -> None:
        """Every import/include location, breadth first, each URL once."""
        while pending:
            wanted: dict[str, str] = {}  # url -> path in the cache
            for url, rel, body in pending:
                tree = parse_xml(body, rel)
                for el in tree.iter():
                    attr = _LOCATION_TAGS.get(el.tag) if isinstance(el.tag, str) else None
                    location = el.get(attr) if attr else None
                    if not location:
                        continue
                    target = urljoin(url, location).split("#", 1)[0]
                    if target in self._stored or target in wanted:
                        continue
                    wanted[target] = self._local_path(target, rel, _line(el), location)
            items = sorted(wanted.items())
            with ThreadPoolExecutor(self.concurrency) as pool:
                bodies = list(pool.map(lambda item: self.get(item[0]), items))
            pending = []
            for (target, local), content in zip(items, bodies, strict=True):
                if content is None:
                    raise GeneratorError(f"{target}: empty reply")
                self._store(target, local, content)
                pending.append((target, local, content))

    def _local_path(self, target: str, referrer_rel: str, line: int | None, location: str) -> str:
        """Where `target` goes in the cache, or a refusal naming the reference by file:line.

        The location is normalised first (dot segments resolved, percent-escapes decoded); a
        reference that would still land outside the cache, or that climbs above the server's
        root to get where it points, is refused: the server does not choose where files go.
        """
        try:
            parts = urlsplit(target)
            _ = parts.port  # raises ValueError on a port that is not a number
        except ValueError as exc:
            raise GeneratorError(
                f"schema location {location!r} is not a URL ({exc})", file=referrer_rel, line=line
            ) from None
        if parts.hostname not in self.allow_hosts:
            raise GeneratorError(
                f"schema location {location} points to host {parts.hostname}; "
                f"pass --allow-host {parts.hostname} to fetch it",
                file=referrer_rel,
                line=line,
            )

        def refuse(why: str) -> GeneratorError:
            return GeneratorError(
                f"schema location {location!r} refused: {why}", file=referrer_rel, line=line
            )

        try:
            segments = _url_segments(parts.path)
        except UnicodeDecodeError:
            raise refuse("its path has percent-escapes that are not UTF-8") from None
        if segments is None:
            raise refuse("its path climbs above the server's root (.. segments)")
        bad = next((s for s in segments if s in (".", "..") or _UNSAFE.search(s)), None)
        if bad is not None:
            raise refuse(f"path segment {bad!r} cannot be a file name in the cache")
        if "://" not in location:
            # relative: keep the layout, so the saved files resolve each other unchanged
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(referrer_rel), location))
            if rel.startswith(("../", "/")) or rel == "..":
                raise refuse("it climbs out of the cache's folders")
            if not rel.startswith("_"):
                return _checked_rel(rel)
        port = f"_{parts.port}" if parts.port else ""
        clean = [
            _ODD.sub("_", s).replace(".", "_", 1) if s[0] == "." else _ODD.sub("_", s)
            for s in segments
        ]
        return _checked_rel(
            "/".join(["_remote", f"{parts.hostname}{port}", *(clean or ["index"])])
        )

    def _store(self, url: str, rel: str, body: bytes) -> None:
        """Remember a validated file; nothing reaches the disk until the whole set is in."""
        rel = _checked_rel(rel)
        if rel in self._paths:
            raise GeneratorError(f"two URLs map to the same cache file {rel} (second: {url})")
        self._bodies[rel] = body
        self._stored[url] = rel
        self._paths.add(rel)
        self.result.files.append(
            {
                "path": rel,
                "url": url,
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
            }
        )

    def write(self, staging: Path) -> None:
        """Every file into `staging`, each path checked again against where it really lands."""
        root = staging.resolve()
        for rel, body in sorted(self._bodies.items()):
            target = (root / rel).resolve()
            if not target.is_relative_to(root) or target == root:
                raise GeneratorError(f"cache path {rel!r} would land outside the cache")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)

    def _tick(self, label: str, total: int) -> None:
        self._done += 1
        if self.progress:
            self.progress(label, self._done, total)


def _url_segments(path: str) -> list[str] | None:
    """The decoded segments of a URL path with dot segments resolved (RFC 3986 5.2.4), or None
    when `..` climbs above the root (which RFC 3986 would silently drop: we refuse instead)."""
    out: list[str] = []
    for raw in path.split("/"):
        if raw in ("", "."):
            continue
        if raw == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(unquote(raw, errors="strict") if "%" in raw else raw)
    return out


def _checked_rel(rel: str) -> str:
    """A cache-relative path that stays inside the cache, or a GeneratorError."""
    pieces = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in pieces):
        raise GeneratorError(f"cache path {rel!r} would land outside the cache")
    return rel


def _line(el: Any) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


def _openapi_services(doc: bytes, url: str) -> set[str]:
    try:
        data = json.loads(doc)
    except ValueError as exc:
        raise GeneratorError(f"{url}: not JSON ({exc})") from None
    paths = data.get("paths", {}) if isinstance(data, dict) else {}
    return {p.strip("/").split("/")[0] for p in paths if p.count("/") >= 2}


def _openapi_release(doc: bytes) -> str:
    try:
        info = json.loads(doc).get("info", {})
    except (ValueError, AttributeError):
        return ""
    return str(info.get("version", "")) if isinstance(info, dict) else ""


def fetch(base_url: str, out: Path, fetcher: Fetcher) -> FetchResult:
    """Fetch into a staging folder beside `out`, then swap it in: never a half cache."""
    out = out.resolve()
    staging: Path | None = None
    try:
        result = fetcher.run()  # everything fetched and validated before anything is written
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        as_created(staging)  # mkdtemp makes 0700: the cache folder gets the umask's mode
        fetcher.write(staging)
        result.files.sort(key=lambda f: str(f["path"]))
        manifest = {
            "release": result.release,
            "source": base_url,
            "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            # what was asked for: drift never reads an interface that was not fetched as removed
            "interfaces": sorted(fetcher.interfaces),
            "services": sorted(fetcher.services) if fetcher.services else None,
            "files": result.files,
            "missing_services": result.missing,
        }
        unchanged = _previous_fetched_at(out, manifest)
        if unchanged is not None:  # the same snapshot again: the manifest stays byte-identical
            manifest["fetched_at"] = unchanged
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}-old-{os.getpid()}")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
        return result
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        fetcher.http.close()


def _previous_fetched_at(out: Path, manifest: dict[str, Any]) -> str | None:
    """The old manifest's `fetched_at` when everything else in it equals `manifest`."""
    try:
        previous = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(previous, dict) or not isinstance(previous.get("fetched_at"), str):
        return None
    rest = {k: v for k, v in previous.items() if k != "fetched_at"}
    if rest != {k: v for k, v in manifest.items() if k != "fetched_at"}:
        return None
    return str(previous["fetched_at"])


def warn_insecure() -> None:
    print(
        "WARNING: TLS certificate verification is OFF (--insecure); anyone on the path can "
        "change the WSDLs you generate code from.",
        file=sys.stderr,
    )
