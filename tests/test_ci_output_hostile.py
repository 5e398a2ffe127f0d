"""CI output is not a channel for the server: a server on loopback publishes a release string and
enum values that hold workflow commands, HTML, mentions and line breaks; `drift` (every format)
and `ci` (log, annotations, pull-request report, job summary) print them only as data, and a bad
service name is a clear error (exit 2), never a traceback that `ci` would read as drift (1)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from .conftest import FIXTURES, ROOT, run_cli
from .hostile_server import Hostile, Request, hostile, reply

EDGE = (FIXTURES / "edge" / "EdgeAdminService.wsdl").read_text()
RELEASE = "mr2\n::add-mask::hunter2\n##[set-output name=ok;]forged\n<!-- No changes. -->"
ENUMS = [
    "::error file=x::forged",
    "a&#10;::warning::forged on its own line",
    "##[add-mask]hunter2",
    "&lt;img src=x onerror=alert(1)&gt;",
    "@octocat",
    "&lt;!-- No changes. --&gt;",
]


def _new_wsdl() -> str:
    values = "".join(f'<xsd:enumeration value="{v}"/>' for v in ENUMS)
    return EDGE.replace('<xsd:enumeration value="dark-blue"/>', values)


def _site(files: dict[str, bytes]) -> Iterator[Hostile]:
    def script(request: Request) -> Iterable[bytes]:
        body = files.get(request.path)
        yield reply(body or b"", 200 if body is not None else 404)

    with hostile() as server:
        server.script = script
        yield server


def _openapi(release: str, *services: str) -> bytes:
    paths = {f"/{s}/get_odd_list": {} for s in services}
    return json.dumps({"openapi": "3.0.0", "info": {"version": release}, "paths": paths}).encode()


@pytest.fixture
def server() -> Iterator[tuple[Hostile, dict[str, bytes]]]:
    files = {
        "/doc/api/AdminInterface.json": _openapi(RELEASE, "Edge"),
        "/wsdl/EdgeAdminService.wsdl": _new_wsdl().encode(),
    }
    for site in _site(files):
        yield site, files


def _old_cache(root: Path) -> Path:
    (root / "admin").mkdir(parents=True)
    (root / "admin" / "EdgeAdminService.wsdl").write_text(EDGE)
    body = EDGE.encode()
    manifest = {
        "release": "mr1",
        "interfaces": ["admin"],
        "files": [
            {
                "path": "admin/EdgeAdminService.wsdl",
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
            }
        ],
    }
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


_ANNOTATION = re.compile(r"::(error|warning|notice) (file=[^,:]*,)?(line=\d+,)?title=[a-z-]+::")


def _commands(output: str) -> list[str]:
    """Lines GitHub Actions would run as workflow commands, other than our own annotations."""
    return [
        line
        for line in re.split(r"\r\n|\r|\n", output)
        if (line.lstrip().startswith("::") and not _ANNOTATION.match(line)) or "##[" in line
    ]


def _elements(markdown: str) -> set[str]:
    rendered = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    assert "<!--" not in rendered
    assert not re.search(r"(?<![\w`])@octocat", re.sub(r"<code>.*?</code>", "", rendered))
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered))


_OUR_ELEMENTS = {"h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "code"}


@pytest.mark.parametrize("fmt", ["text", "github", "markdown", "json", "junit"])
def test_drift_prints_what_the_server_wrote_as_data(
    server: tuple[Hostile, dict[str, bytes]], tmp_path: Path, fmt: str
) -> None:
    site, _ = server
    old = _old_cache(tmp_path / "old")
    result = run_cli("drift", str(old), site.url, "--format", fmt, "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not _commands(out + result.stderr), _commands(out + result.stderr)
    if fmt == "text":
        assert out.splitlines()[0].startswith("API drift mr1 -> mr2\\n::add-mask::hunter2\\n##\\[")
    if fmt == "github":
        assert out and all(_ANNOTATION.match(line) for line in out.splitlines())
        assert "gained 'a\\n::warning::forged on its own line'" in out  # shown, as data
    if fmt == "markdown":
        assert _elements(out) <= _OUR_ELEMENTS | {"details", "summary"}, out
        assert out.startswith("### PortaBilling API drift: mr1 → mr2 ::add-mask::hunter2 ##\\[")
    if fmt == "json":
        assert json.loads(out)["new"] == RELEASE  # JSON keeps everything, exactly
    if fmt == "junit":
        from lxml import etree

        assert etree.fromstring(out.encode()).get("name").endswith(RELEASE)  # exactly


def _project(root: Path, url: str) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.portabilling-gen]\nurl = "{url}"\ncache = "cache"\nout = "vendor"\n'
        'package = "edgepkg"\nfail-on = "any"\n'
    )
    return root


def _ci(project: Path, summary: Path, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", "ci", "--annotations", "--report", str(report)],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_ci_log_annotations_and_report_hold_no_command_html_or_mention(
    server: tuple[Hostile, dict[str, bytes]], tmp_path: Path
) -> None:
    site, files = server
    project = _project(tmp_path / "proj", site.url)
    served = dict(files)
    files["/doc/api/AdminInterface.json"] = _openapi("mr1", "Edge")
    files["/wsdl/EdgeAdminService.wsdl"] = EDGE.encode()
    for step in ("fetch", "generate"):
        done = subprocess.run(
            [sys.executable, "-m", "generator", step],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    files.update(served)  # the server moves to the hostile release
    summary, report = tmp_path / "summary.md", tmp_path / "report.md"
    gate = _ci(project, summary, report)
    assert gate.returncode == 1, gate.stdout + gate.stderr  # drift found (fail-on = "any")
    assert "Traceback" not in gate.stderr
    assert not _commands(gate.stdout + gate.stderr), _commands(gate.stdout + gate.stderr)
    assert summary.read_text() == report.read_text()
    assert _elements(report.read_text()) <= _OUR_ELEMENTS | {"details", "summary"}
    assert "No changes." not in report.read_text().replace("&lt;!-- No changes. --&gt;", "")


def test_a_service_name_with_a_newline_is_bad_input_not_drift(tmp_path: Path) -> None:
    files = {
        "/doc/api/AdminInterface.json": _openapi("mr2", "Edge\n"),
        "/wsdl/EdgeAdminService.wsdl": EDGE.encode(),
    }
    for site in _site(files):
        old = _old_cache(tmp_path / "old")
        result = run_cli("drift", str(old), site.url)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "service name 'Edge\\n' is not a PortaBilling service name" in result.stderr
        project = _project(tmp_path / "proj", site.url)
        _old_cache(project / "cache")
        gate = _ci(project, tmp_path / "summary.md", tmp_path / "report.md")
        # the package is stale (never generated) but a bad server must not read as drift
        assert gate.returncode == 2, gate.stdout + gate.stderr
        assert "service name 'Edge\\n'" in gate.stderr and "Traceback" not in gate.stderr
