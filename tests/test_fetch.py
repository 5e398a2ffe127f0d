"""`fetch` against the simulator serving the bundled mr100 and mr105 sets over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import RELEASES, ROOT, run_cli


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import sys

    if str(ROOT / "generated") not in sys.path:
        sys.path.insert(0, str(ROOT / "generated"))
    from generator.simulator.server import serve

    with (
        serve("portabilling", cache=RELEASES / "mr100") as old,
        serve("portabilling", cache=RELEASES / "mr105") as new,
    ):
        yield {"mr100": old, "mr105": new}


@pytest.mark.parametrize("release", ["mr100", "mr105"])
def test_fetch_is_byte_identical_with_a_correct_manifest(
    served: Any, release: str, tmp_path: Path
) -> None:
    source = RELEASES / release
    out = tmp_path / release
    result = run_cli(
        "fetch",
        served[release].url,
        "--out",
        str(out),
        "--interface",
        "admin",
        "--interface",
        "customer",
        "--interface",
        "account",
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["release"] == release and manifest["source"] == served[release].url
    assert manifest["fetched_at"].endswith("Z") and manifest["missing_services"] == []
    wanted = sorted(
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    )
    assert sorted(f["path"] for f in manifest["files"]) == wanted
    for entry in manifest["files"]:
        body = (out / entry["path"]).read_bytes()
        assert body == (source / entry["path"]).read_bytes(), entry["path"]
        assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["size"] == len(body)
        assert entry["url"].startswith(served[release].url)
    # what was fetched generates
    check = run_cli("model", "--cache", str(out))
    assert check.returncode == 0, check.stderr


def test_missing_services_are_reported_and_hosts_are_guarded(served: Any, tmp_path: Path) -> None:
    result = run_cli(
        "fetch",
        served["mr105"].url,
        "--out",
        str(tmp_path / "some"),
        "--services",
        "Account,NoSuchThing",
    )
    assert result.returncode == 0, result.stderr
    assert "admin/NoSuchThing" in result.stderr and "404" in result.stderr
    manifest = json.loads((tmp_path / "some" / "MANIFEST.json").read_text())
    assert manifest["missing_services"] == ["admin/NoSuchThing"]
    assert "admin/AccountAdminService.wsdl" in {f["path"] for f in manifest["files"]}


def test_absolute_locations_same_host_cached_other_host_refused(
    served: Any, tmp_path: Path
) -> None:
    """A WSDL importing a schema by absolute URL: stored under _remote/ and resolved offline;
    pointing at another host stops the fetch (no half cache) unless --allow-host."""
    running = served["mr105"]
    cache = Path(running.server.cache)
    site = tmp_path / "site"
    (site / "admin").mkdir(parents=True)
    (site / "xsd").mkdir()
    (site / "openapi").mkdir()
    (site / "xsd" / "tiny.xsd").write_text(
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:tiny">'
        '<xsd:complexType name="Thing"><xsd:sequence><xsd:element name="n" type="xsd:int"/>'
        "</xsd:sequence></xsd:complexType></xsd:schema>"
    )

    def wsdl(location: str) -> str:
        return f"""<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
 xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:t="urn:tiny" xmlns:tns="urn:svc" targetNamespace="urn:svc">
 <wsdl:types><xsd:schema targetNamespace="urn:svc">
  <xsd:import namespace="urn:tiny" schemaLocation="{location}"/></xsd:schema></wsdl:types>
 <wsdl:message name="In"><wsdl:part name="thing" type="t:Thing"/></wsdl:message>
 <wsdl:portType name="P"><wsdl:operation name="get_thing"><wsdl:input message="tns:In"/>
  <wsdl:output message="tns:In"/></wsdl:operation></wsdl:portType>
 <wsdl:binding name="B" type="tns:P"><soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="get_thing"><soap:operation soapAction="urn:svc#get_thing"/>
  <wsdl:input><soap:body use="encoded" namespace="urn:svc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></wsdl:input>
  <wsdl:output><soap:body use="encoded" namespace="urn:svc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></wsdl:output>
 </wsdl:operation></wsdl:binding>
 <wsdl:service name="S"><wsdl:port name="p" binding="tns:B"><soap:address location="http://x/Porta/SOAP/Tiny"/></wsdl:port></wsdl:service>
</wsdl:definitions>"""

    (site / "admin" / "TinyAdminService.wsdl").write_text(wsdl(f"{running.url}/xsd/tiny.xsd"))
    (site / "admin" / "FarAdminService.wsdl").write_text(wsdl("http://elsewhere.invalid/tiny.xsd"))
    running.server.cache = site
    try:
        good = run_cli("fetch", running.url, "--out", str(tmp_path / "good"), "--services", "Tiny")
        assert good.returncode == 0, good.stderr
        manifest = json.loads((tmp_path / "good" / "MANIFEST.json").read_text())
        remote = [f for f in manifest["files"] if f["path"].startswith("_remote/")]
        assert [f["url"] for f in remote] == [f"{running.url}/xsd/tiny.xsd"]
        model = run_cli("model", "--cache", str(tmp_path / "good"))
        assert model.returncode == 0, model.stderr

        far = run_cli("fetch", running.url, "--out", str(tmp_path / "far"), "--services", "Far")
        assert far.returncode == 2
        assert "elsewhere.invalid" in far.stderr and "--allow-host" in far.stderr
        assert "admin/FarAdminService.wsdl:5:" in far.stderr  # the import, by line
        assert not (tmp_path / "far").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".far")]
    finally:
        running.server.cache = cache


def test_server_without_any_service_list_asks_for_services(served: Any, tmp_path: Path) -> None:
    result = run_cli(
        "fetch", served["mr105"].url, "--out", str(tmp_path / "x"), "--interface", "reseller"
    )
    assert result.returncode == 2 and "--services" in result.stderr
    assert not (tmp_path / "x").exists()


def test_credentials_and_transient_errors(served: Any, tmp_path: Path) -> None:
    """A server that protects /wsdl with basic auth and answers 503 once per file."""
    import base64
    import os

    running = served["mr105"]
    seen: dict[str, int] = {}
    good = "Basic " + base64.b64encode(b"wsdl:pw").decode()

    def guard(handler: Any, path: str, body: bytes) -> bool:
        if handler.command != "GET":
            return False
        if handler.headers.get("Authorization") != good:
            handler._send(401, b"auth", "text/plain")
            return True
        seen[path] = seen.get(path, 0) + 1
        if seen[path] == 1:
            handler._send(503, b"busy", "text/plain")
            return True
        return False

    running.server.inject = guard
    try:
        denied = run_cli(
            "fetch", running.url, "--out", str(tmp_path / "a"), "--services", "Account"
        )
        assert denied.returncode == 2 and "HTTP 401" in denied.stderr and "--user" in denied.stderr
        env = {**os.environ, "PORTABILLING_USER": "wsdl", "PORTABILLING_PASSWORD": "pw"}
        from .conftest import run_cli as cli

        ok = cli(
            "fetch", running.url, "--out", str(tmp_path / "b"), "--services", "Account", env=env
        )
        assert ok.returncode == 0, ok.stderr
        assert seen and all(n == 2 for n in seen.values())  # each file: one 503, one success
        assert "pw" not in ok.stdout + ok.stderr
    finally:
        running.server.inject = None


def test_drift_against_a_live_server(served: Any, tmp_path: Path) -> None:
    """`drift OLD URL` fetches NEW first: the server serving mr105 against the mr100 cache."""
    result = run_cli(
        "drift",
        str(RELEASES / "mr100"),
        served["mr105"].url,
        "--format",
        "json",
        "--fail-on",
        "never",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["old"] == "mr100" and report["new"] == "mr105"
    # 32 true breaking changes; a removed service carries its 7 types, and int -> long is info
    assert report["summary"]["breaking"] >= 20
    assert any(c["rule"] == "method-renamed" for c in report["changes"])


def test_refetching_an_unchanged_server_changes_nothing_in_git(
    served: Any, tmp_path: Path
) -> None:
    """fetch + generate, commit; fetch + generate again from the same server: git sees nothing.
    The source hash in every generated header covers what was served, not when."""
    project = tmp_path / "proj"
    project.mkdir()
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    cache, out = project / "cache", project / "out"

    def fetch_and_generate() -> None:
        got = run_cli("fetch", served["mr105"].url, "--out", str(cache), "--services", "Account")
        assert got.returncode == 0, got.stderr
        made = run_cli("generate", "--cache", str(cache), "--out", str(out), "--package", "pbx")
        assert made.returncode == 0, made.stderr

    fetch_and_generate()
    mask = os.umask(0o022)
    os.umask(mask)
    assert cache.stat().st_mode & 0o777 == 0o777 & ~mask  # not tempfile's owner-only 0700
    first = json.loads((cache / "MANIFEST.json").read_text())
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    time.sleep(1.1)  # a fetch a second later: `fetched_at` would differ
    fetch_and_generate()
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == "", status.stdout
    # a changed snapshot does change the manifest, its time and the hash in the headers
    header = (out / "pbx" / "__init__.py").read_text().splitlines()[0]
    assert "source sha256" in header
    del first["fetched_at"]
    first["files"][0]["sha256"] = "0" * 64
    from generator.cache import served_hash

    assert served_hash(first) != served_hash(json.loads((cache / "MANIFEST.json").read_text()))


def test_the_source_hash_ignores_when_and_where_it_was_fetched() -> None:
    from generator.cache import served_hash

    manifest = json.loads((RELEASES / "mr105" / "MANIFEST.json").read_text())
    moved = {
        **manifest,
        "fetched_at": "2030-01-01T00:00:00Z",
        "source": "https://other.example.com",
    }
    assert served_hash(moved) == served_hash(manifest)
    assert served_hash({**manifest, "release": "mr106"}) != served_hash(manifest)
