"""`fetch` against a hostile server on a real socket: it never writes outside its output folder.

The server serves a WSDL whose schema location (or OpenAPI document) is chosen to climb out of
the cache; the fetch must refuse it with the file and line of the reference, write nothing
anywhere (no file outside, no staging folder, no half cache) and leave an old cache untouched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator.errors import GeneratorError
from generator.fetch import Fetcher, fetch

from .conftest import FIXTURES, run_cli
from .hostile_server import Hostile, Request, hostile, reply

_TINY = (
    b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:tiny">'
    b'<xsd:complexType name="Thing"><xsd:sequence><xsd:element name="n" type="xsd:int"/>'
    b"</xsd:sequence></xsd:complexType></xsd:schema>"
)


def _wsdl(location: str) -> bytes:
    return f"""<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:svc">
 <wsdl:types><xsd:schema targetNamespace="urn:svc">
  <xsd:import namespace="urn:tiny" schemaLocation="{location}"/></xsd:schema></wsdl:types>
</wsdl:definitions>""".encode()


class _Site(ThreadingHTTPServer):
    files: dict[str, bytes]
    requested: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[_Site]:
    server = _Site(("127.0.0.1", 0), _Handler)
    server.files, server.requested = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(site: _Site) -> str:
    return f"http://127.0.0.1:{site.server_address[1]}"


def _fetch(site: _Site, out: Path, *services: str) -> None:
    url = _url(site)
    fetch(url, out, Fetcher(url, interfaces=["admin"], services=list(services), retries=0))


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


HOSTILE = {
    # absolute, same host, climbing above the root: the case the issue reproduced
    "absolute-dotdot": "{base}/../../../{escape}/evil.xsd",
    "absolute-dotdot-mid": "{base}/xsd/../../../../{escape}/evil.xsd",
    # relative, climbing out of the cache's folders
    "relative-dotdot": "../../../../{escape}/evil.xsd",
    # percent-encoded dots and separators, which decode to the same climb
    "encoded-dots": "{base}/%2e%2e/%2E%2E/{escape}/evil.xsd",
    "encoded-slash": "{base}/..%2F..%2F{escape}%2Fevil.xsd",
    "encoded-backslash": "{base}/..%5C..%5Cevil.xsd",
    "encoded-nul": "{base}/xsd/evil%00.xsd",
    "bad-utf8": "{base}/xsd/%ff%fe.xsd",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_schema_location_that_escapes_is_refused_and_nothing_is_written(
    site: _Site, tmp_path: Path, case: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    escape = (tmp_path / "outside").relative_to("/").as_posix()
    location = HOSTILE[case].format(base=_url(site), escape=escape)
    site.files = {"/wsdl/EvilAdminService.wsdl": _wsdl(location), "/tmp/x/evil.xsd": _TINY}
    site.requested.clear()
    old = work / "cache"
    old.mkdir()
    (old / "keep.txt").write_text("old cache")
    with pytest.raises(GeneratorError) as caught:
        _fetch(site, old, "Evil")
    message = str(caught.value)
    assert message.startswith("admin/EvilAdminService.wsdl:4:"), message  # the import's line
    assert "refused" in message
    assert not (tmp_path / "outside").exists()
    assert _tree(work) == {"cache", "cache/keep.txt"}  # no staging folder, old cache untouched
    assert (old / "keep.txt").read_text() == "old cache"
    assert not [p for p in site.requested if "evil" in p]  # refused before it was fetched


def test_dot_segments_inside_the_root_are_normalised_and_kept(site: _Site, tmp_path: Path) -> None:
    location = f"{_url(site)}/wsdl/./../xsd/tiny.xsd"
    site.files = {"/wsdl/FineAdminService.wsdl": _wsdl(location), "/xsd/tiny.xsd": _TINY}
    out = tmp_path / "cache"
    _fetch(site, out, "Fine")
    port = site.server_address[1]
    assert _tree(out) >= {
        "admin/FineAdminService.wsdl",
        f"_remote/127.0.0.1_{port}/xsd/tiny.xsd",
        "MANIFEST.json",
    }
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert {f["url"] for f in manifest["files"]} >= {location}
    assert _tree(tmp_path) == {"cache", *(f"cache/{p}" for p in _tree(out))}


def test_a_hidden_or_odd_segment_is_renamed_inside_the_cache(site: _Site, tmp_path: Path) -> None:
    location = f"{_url(site)}/.hidden/a%20b.xsd"
    site.files = {"/wsdl/OddAdminService.wsdl": _wsdl(location), "/.hidden/a%20b.xsd": _TINY}
    out = tmp_path / "cache"
    _fetch(site, out, "Odd")
    port = site.server_address[1]
    assert f"_remote/127.0.0.1_{port}/_hidden/a_b.xsd" in _tree(out)


def test_openapi_service_names_cannot_become_paths(site: _Site, tmp_path: Path) -> None:
    doc = {"info": {"version": "x"}, "paths": {"/../../evil/get": {}, "/Account/get": {}}}
    site.files = {"/doc/api/AdminInterface.json": json.dumps(doc).encode()}
    with pytest.raises(GeneratorError, match=r"AdminInterface.json: service name '\.\.'"):
        fetch(_url(site), tmp_path / "c", Fetcher(_url(site), interfaces=["admin"], retries=0))
    assert _tree(tmp_path) == set()


def test_a_malformed_import_fails_before_anything_is_written(site: _Site, tmp_path: Path) -> None:
    """The WSDL is good, the schema it imports is not XML: no file of the set reaches the disk."""
    site.files = {
        "/wsdl/HalfAdminService.wsdl": _wsdl("../xsd/broken.xsd"),
        "/xsd/broken.xsd": b"<xsd:schema",
    }
    with pytest.raises(GeneratorError, match=r"xsd/broken\.xsd:1: malformed XML"):
        _fetch(site, tmp_path / "cache", "Half")
    assert _tree(tmp_path) == set()


def test_drift_against_a_hostile_url_refuses_too(site: _Site, tmp_path: Path) -> None:
    escape = (tmp_path / "outside").relative_to("/").as_posix()
    location = f"{_url(site)}/../../../../{escape}/evil.xsd"
    site.files = {
        "/wsdl/": b'<a href="EvilAdminService.wsdl">Evil</a>',
        "/wsdl/EvilAdminService.wsdl": _wsdl(location),
    }
    # OLD is read before NEW is fetched; a small WSDL folder does (what it holds is not compared)
    old = tmp_path / "old" / "admin"
    old.mkdir(parents=True)
    (old / "EdgeAdminService.wsdl").write_bytes(
        (FIXTURES / "edge" / "EdgeAdminService.wsdl").read_bytes()
    )
    result = run_cli("drift", str(old.parent), _url(site), "--interface", "admin")
    assert result.returncode == 2, result.stderr
    assert "admin/EvilAdminService.wsdl:4:" in result.stderr and "refused" in result.stderr
    assert not (tmp_path / "outside").exists()


def _redirecting(files: dict[str, bytes], moves: dict[str, str]) -> Iterator[Hostile]:
    """A loopback server that answers `moves` with a 302 to their Location, `files` with 200."""

    def script(request: Request) -> Iterable[bytes]:
        if request.path in moves:
            yield reply(b"", 302, Location=moves[request.path])
        else:
            body = files.get(request.path)
            yield reply(body or b"", 200 if body is not None else 404)

    with hostile() as server:
        server.script = script
        yield server


def test_a_redirect_to_another_host_is_refused_and_within_the_host_followed(
    tmp_path: Path,
) -> None:
    """`localhost` and `127.0.0.1` reach the same loopback server but are different hosts: the
    server's own redirects are followed, one to a host not allowed is refused (before it is
    fetched) with both URLs named, and `--allow-host` lets it through."""
    wsdl = _wsdl("../xsd/tiny.xsd")
    for other in _redirecting({}, {}):
        port = other.url.rsplit(":", 1)[1]
        elsewhere = f"http://localhost:{port}/xsd/tiny.xsd"
        other.script = lambda request: [reply(_TINY, 200)]
        files = {"/wsdl/MovedAdminService.wsdl": wsdl, "/xsd/moved.xsd": _TINY}
        moves = {"/xsd/tiny.xsd": elsewhere}
        for site in _redirecting(files, moves):
            with pytest.raises(GeneratorError) as caught:
                fetch(
                    site.url,
                    tmp_path / "c",
                    Fetcher(site.url, interfaces=["admin"], services=["Moved"], retries=0),
                )
            message = str(caught.value)
            assert f"redirect to '{elsewhere}' refused" in message and "--allow-host" in message
            assert "/xsd/tiny.xsd" in message and not other.requests
            assert not (tmp_path / "c").exists()
            # within the server's host: followed
            moves["/xsd/tiny.xsd"] = "/xsd/moved.xsd"
            fetch(
                site.url,
                tmp_path / "c",
                Fetcher(site.url, interfaces=["admin"], services=["Moved"], retries=0),
            )
            assert (tmp_path / "c" / "xsd" / "tiny.xsd").read_bytes() == _TINY
            # another host, allowed
            moves["/xsd/tiny.xsd"] = elsewhere
            fetch(
                site.url,
                tmp_path / "d",
                Fetcher(
                    site.url,
                    interfaces=["admin"],
                    services=["Moved"],
                    retries=0,
                    allow_hosts=["localhost"],
                ),
            )
            assert other.requests


def test_redirect_loops_and_non_http_targets_are_refused(tmp_path: Path) -> None:
    files = {"/wsdl/LoopAdminService.wsdl": _wsdl("../xsd/a.xsd")}
    moves = {"/xsd/a.xsd": "/xsd/b.xsd", "/xsd/b.xsd": "/xsd/a.xsd"}
    for site in _redirecting(files, moves):
        fetcher = Fetcher(site.url, interfaces=["admin"], services=["Loop"], retries=0)
        with pytest.raises(GeneratorError, match="more than 5 redirects"):
            fetch(site.url, tmp_path / "c", fetcher)
        moves["/xsd/a.xsd"] = "file:///etc/passwd"
        fetcher = Fetcher(site.url, interfaces=["admin"], services=["Loop"], retries=0)
        with pytest.raises(GeneratorError, match="file:///etc/passwd' refused: not an http"):
            fetch(site.url, tmp_path / "c", fetcher)
    assert not (tmp_path / "c").exists()


def test_https_never_redirects_down_to_http() -> None:
    fetcher = Fetcher("https://pbx.example.com", interfaces=["admin"])
    with pytest.raises(GeneratorError, match="leaves https for http"):
        fetcher.redirect_target(
            "https://pbx.example.com/wsdl/", "http://pbx.example.com/x", "https://pbx.example.com/"
        )
    fetcher.http.close()


def test_a_service_name_with_a_trailing_newline_is_refused_by_name(
    site: _Site, tmp_path: Path
) -> None:
    doc = {"info": {"version": "x"}, "paths": {"/Account\n/get": {}}}
    site.files = {"/doc/api/AdminInterface.json": json.dumps(doc).encode()}
    with pytest.raises(GeneratorError, match=r"service name 'Account\\n' is not a PortaBilling"):
        fetch(_url(site), tmp_path / "c", Fetcher(_url(site), interfaces=["admin"], retries=0))
    assert _tree(tmp_path) == set()
