"""Impact analysis: the user's lines a new release breaks, each with its drift record.

A throwaway project vendors the edge fixture's package inside its own package (`acme.vendor.pb`)
and uses it; the "new release" is the edge fixture with a field removed, a method renamed, a
request field made required and a field's type changed. Its code marks each line the release
breaks with a comment (`# breaks: RULE PATH`); the report must list exactly those lines with
those records, nothing for the unchanged code, nothing for an error that exists either way.
mypy runs are slow: the project, its fetch from a loopback server and its generated package are
made once for the module.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from generator.cache import open_plain
from generator.drift import compare
from generator.impact import analyse, exit_code, render
from generator.pipeline import load_model

from .conftest import FIXTURES, ROOT

pytest.importorskip("mypy")

EDGE = (FIXTURES / "edge" / "EdgeAdminService.wsdl").read_text()
NEXT_RELEASE = [
    ('<xsd:element name="color" type="porta:Color" minOccurs="0"/>\n', ""),
    ('name="old_login"', 'name="legacy_login"'),
    (
        '<xsd:element name="offset" type="xsd:int" minOccurs="0"/>',
        '<xsd:element name="offset" type="xsd:int" minOccurs="1"/>',
    ),
    (
        '<xsd:element name="amount" type="xsd:decimal" minOccurs="0"/>',
        '<xsd:element name="amount" type="xsd:string" minOccurs="0"/>',
    ),
]

BILLING = '''\
"""Uses the bindings: four lines the next release breaks, the rest untouched."""

from decimal import Decimal

from acme.vendor.pb import AdminClient
from acme.vendor.pb.types import OddInfo


def colour(info: OddInfo) -> str:
    return str(info.color)  # breaks: field-removed OddInfo.color


def login(client: AdminClient) -> str:
    reply = client.edge.old_login(login="a", password="b")  # breaks: method-renamed admin/Edge.legacy_login
    return str(reply.session_id)


def first_page(client: AdminClient) -> int:
    reply = client.edge.get_odd_list(i_base=1, limit=10)  # breaks: field-min-occurs-changed GetOddListRequest.offset
    return len(reply.odd_list or [])


def reprice(info: OddInfo, price: Decimal) -> None:
    info.amount = price  # breaks: field-type-changed OddInfo.amount


def described(info: OddInfo) -> str:
    return f"{info.name} {info.tags} {info.created}"


def wrong_anyway() -> int:
    return "not an int"  # an error of the user's own, with either package
'''

UNCHANGED = '''\
"""Uses only what the next release keeps."""

from acme.vendor.pb import AdminClient
from acme.vendor.pb.types import OddInfo


def total(client: AdminClient) -> int:
    reply = client.edge.get_odd_list(i_base=1, limit=1, offset=0)
    return reply.total if isinstance(reply.total, int) else 0


def name(info: OddInfo) -> str:
    return str(info.name)


def raw(client: AdminClient) -> object:
    return client.edge.with_options(extra_params={"with_x": 1}).get_odd_list(i_base=1, offset=0)
'''

LEGACY = 'print "python 2"\n'  # mypy cannot analyse it: counted, not an error of the run


@dataclass(frozen=True)
class Project:
    root: Path
    new: Path  # the next release, a plain WSDL folder
    url: str  # the loopback server, serving the next release


def _wsdl_folder(folder: Path, text: str) -> Path:
    (folder / "admin").mkdir(parents=True, exist_ok=True)
    (folder / "admin" / "EdgeAdminService.wsdl").write_text(text)
    return folder


def _next_release() -> str:
    text = EDGE
    for old, new in NEXT_RELEASE:
        assert old in text, old
        text = text.replace(old, new)
    return text


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "VIRTUAL_ENV"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The user's project: its cache fetched from a loopback server, its package generated into
    src/acme/vendor/pb; the server then serves the next release."""
    base = tmp_path_factory.mktemp("impact")
    served = base / "server"  # /wsdl/ lists the service, as PortaBilling's index does
    (served / "wsdl").mkdir(parents=True)
    (served / "wsdl" / "EdgeAdminService.wsdl").write_text(EDGE)
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    root = base / "acme"
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "acme"\nversion = "1"\n\n[tool.portabilling-gen]\n'
        f'url = "{url}"\ncache = "wsdl"\nout = "src/acme/vendor"\npackage = "pb"\n'
        'impact = ["src"]\n'
    )
    package = root / "src" / "acme"
    (package / "vendor").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "vendor" / "__init__.py").write_text("")
    (package / "billing.py").write_text(BILLING)
    (package / "unchanged.py").write_text(UNCHANGED)
    (package / "legacy.py").write_text(LEGACY)
    for step in (("fetch",), ("generate",)):
        done = cli(root, *step)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (package / "vendor" / "pb" / "admin" / "edge.py").is_file()

    (served / "wsdl" / "EdgeAdminService.wsdl").write_text(_next_release())
    try:
        yield Project(root, _wsdl_folder(base / "next", _next_release()), url)
    finally:
        server.shutdown()
        server.server_close()


def _marked(text: str) -> dict[int, str]:
    """line -> `RULE PATH` the `# breaks:` comment on it names."""
    return {
        number: line.split("# breaks: ", 1)[1]
        for number, line in enumerate(text.splitlines(), 1)
        if "# breaks: " in line
    }


def test_drift_impact_lists_exactly_the_broken_lines_with_their_records(project: Project) -> None:
    done = cli(project.root, "drift", str(project.new), "--impact", "src", "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr  # fail-on breaking (the default)
    data = json.loads(done.stdout)
    schema = json.loads((ROOT / "docs" / "impact-report.schema.json").read_text())
    jsonschema.validate(data, schema)

    found = {
        (i["file"], i["line"]): f"{i['changes'][0]['rule']} {i['changes'][0]['path']}"
        for i in data["impacts"]
        if i["changes"]
    }
    expected = {("src/acme/billing.py", n): record for n, record in _marked(BILLING).items()}
    assert found == expected
    assert len(data["impacts"]) == len(expected)  # nothing unexplained, nothing for unchanged.py
    for impact in data["impacts"]:
        (change,) = impact["changes"]
        assert change["severity"] == "breaking" and change["file"].endswith(".wsdl")
        assert change["line"] > 1 or change["rule"] == "method-renamed"
    assert data["summary"]["breaking"] == 4 and data["summary"]["files_checked"] == 5
    assert data["summary"]["preexisting"] == 1  # wrong_anyway: seen, not reported
    assert data["not_analysed"] == [
        {
            "file": "src/acme/legacy.py",
            "why": "syntax error at line 1: Missing parentheses in "
            "call to 'print'. Did you mean print(...)?",
        }
    ]
    assert [(s["file"], s["line"]) for s in data["unseen"]["extra_params"]] == [
        ("src/acme/unchanged.py", 17)
    ]


def test_exit_status_follows_fail_on_and_counts_the_users_lines(project: Project) -> None:
    # the release has breaking changes, but this code touches none of them
    clean = cli(project.root, "drift", str(project.new), "--impact", "src/acme/unchanged.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("Impact of ") and "0 call sites in 0 files" in clean.stdout
    assert "4 breaking changes" in clean.stdout
    never = cli(project.root, "drift", str(project.new), "--impact", "src", "--fail-on", "never")
    assert never.returncode == 0, never.stderr
    lines = never.stdout.splitlines()
    at = lines.index("src/acme/billing.py")
    assert lines[at + 1].startswith(f"  {min(_marked(BILLING))}:")
    assert "BREAKING field-removed OddInfo.color" in lines[at + 2]


def test_ci_annotates_the_users_lines(project: Project, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env_report = tmp_path / "report.md"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "ci", "--annotations", "--report", str(env_report)],
        cwd=project.root,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is up to date" in done.stdout  # the vendored package is not what fails
    annotations = [
        line for line in done.stdout.splitlines() if line.startswith("::error file=src/")
    ]
    named = {
        (a.split("file=")[1].split(",")[0], int(a.split("line=")[1].split(",")[0]))
        for a in annotations
    }
    assert named == {("src/acme/billing.py", n) for n in _marked(BILLING)}
    for annotation in annotations:
        rule = annotation.split("title=")[1].split("::")[0]
        line = int(annotation.split("line=")[1].split(",")[0])
        assert _marked(BILLING)[line].startswith(rule)
    markdown = env_report.read_text()
    first = min(_marked(BILLING))
    assert "impact on your code" in markdown and f"`src/acme/billing.py:{first}`" in markdown
    assert summary.read_text() == markdown
    assert "impact: lines of yours break" in done.stdout


def test_distribution_layout_and_the_python_api(tmp_path: Path) -> None:
    """The package in a distribution folder of its own (`bindings/pbdist`, pip-installable),
    imported by top-level modules; the report's formats from the Python API."""
    root = tmp_path / "proj"
    (root / "bindings" / "pbdist").mkdir(parents=True)
    (root / "bindings" / "pyproject.toml").write_text("# Generated by portabilling-gen\n")
    app = root / "app.py"
    app.write_text(
        "from pbdist.types import OddInfo\n\n\n"
        "def colour(info: OddInfo) -> object:\n"
        "    return info.color\n"
    )
    old = load_model(open_plain(str(_wsdl_folder(tmp_path / "old", EDGE))))
    new = load_model(open_plain(str(_wsdl_folder(tmp_path / "new", _next_release()))))
    report = analyse(
        old,
        new,
        compare(old, new),
        project=root,
        package_dir=root / "bindings" / "pbdist",
        paths=[app],
    )
    assert [(i.line, i.code, i.changes[0].rule) for i in report.impacts] == [
        (5, "attr-defined", "field-removed")
    ]
    assert exit_code(report, "breaking") == 1 and exit_code(report, "never") == 0
    text = render(report, "text")
    assert '5:12: "OddInfo" has no attribute "color"  [attr-defined]' in text
    assert "| `" in render(report, "markdown")
    assert render(report, "github").startswith("::error file=")
