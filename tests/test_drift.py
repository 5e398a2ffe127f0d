"""Drift mr100 -> mr105 against the ground truth (tests/fixtures/drift, a copy of the test data's expected/)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from generator.cache import open_cache
from generator.drift import RULES, Change, Report, apply_ignore, compare, load_ignore
from generator.drift.formats import exit_code, render
from generator.errors import GeneratorError
from generator.model import Model
from generator.pipeline import load_model

from .conftest import EXPECTED_DRIFT, RELEASES, ROOT, run_cli

# Where our verdict differs from the ground truth on purpose (see docs/drift.md).
DELIBERATE = {"enum-value-added": "warning"}
# int -> long in a reply breaks a client with 32-bit ints; a Python int holds either, so the
# bindings (and this report) call it info and say why
DELIBERATE_CHANGES = {("field-type-changed", "XDRInfo", "charged_quantity"): "info"}

_METHOD_WHAT = {"doc": "method-doc-changed", "signature": "method-signature-changed"}
_TYPE_WHAT = {
    "doc": "type-doc-changed",
    "enum_value_added": "enum-value-added",
    "enum_value_removed": "enum-value-removed",
}
_FIELD_WHAT = {
    "doc": "field-doc-changed",
    "nillable": "field-nillable-changed",
    "type": "field-type-changed",
    "array_item": "field-array-item-changed",
    "min_occurs": "field-min-occurs-changed",
    "max_occurs": "field-max-occurs-changed",
}


@pytest.fixture(scope="module")
def models() -> tuple[Model, Model]:
    old = load_model(open_cache(str(RELEASES / "mr100")))
    new = load_model(open_cache(str(RELEASES / "mr105")))
    return old, new


@pytest.fixture(scope="module")
def report(models: tuple[Model, Model]) -> Report:
    base = str(RELEASES)
    return compare(*models, bases=(base, base))


def _expected() -> dict[tuple[str, ...], bool]:
    """(rule, keys...) -> breaking, from the ground truth file."""
    data = json.loads(EXPECTED_DRIFT.read_text())
    out: dict[tuple[str, ...], bool] = {}
    for kind in ("added", "removed"):
        for s in data["services"][kind]:
            out[(f"service-{kind}", s["interface"].lower(), s["service"])] = s["breaking"]
        for m in data["methods"][kind]:
            out[(f"method-{kind}", m["interface"].lower(), m["service"], m["method"])] = m[
                "breaking"
            ]
        for t in data["types"][kind]:
            out[(f"type-{kind}", t["type"])] = t["breaking"]
        for f in data["fields"][kind]:
            out[(f"field-{kind}", f["type"], f["field"])] = f["breaking"]
    for m in data["methods"]["renamed"]:
        out[("method-renamed", m["interface"].lower(), m["service"], m["new"])] = m["breaking"]
    for m in data["methods"]["changed"]:
        for c in m["changes"]:
            rule = _METHOD_WHAT.get(c["what"]) or (
                "method-deprecated" if c["new"] else "method-undeprecated"
            )
            out[(rule, m["interface"].lower(), m["service"], m["method"])] = c["breaking"]
    for t in data["types"]["renamed"]:
        out[("type-renamed", t["new"])] = t["breaking"]
    for t in data["types"]["changed"]:
        for c in t["changes"]:
            rule = _TYPE_WHAT[c["what"]]
            value = (
                (str(c.get("new") if "added" in c["what"] else c.get("old")),)
                if "enum" in c["what"]
                else ()
            )
            out[(rule, t["type"], *value)] = c["breaking"]
    for f in data["fields"]["changed"]:
        out[(_FIELD_WHAT[f["what"]], f["type"], f["field"])] = f["breaking"]
    return out


def _key(c: Change) -> tuple[str, ...]:
    if c.interface:
        return (c.rule, c.interface, c.service, *((c.method,) if c.method else ()))
    if c.rule.startswith("enum-value"):
        return (c.rule, c.type, str(c.new if c.rule.endswith("added") else c.old))
    return (c.rule, c.type, *((c.field,) if c.field else ()))


def test_finds_every_true_change_with_the_same_verdict_and_nothing_else(report: Report) -> None:
    expected = _expected()
    ours = {_key(c): c for c in report.changes}
    # a removed service carries the types only it used (one entry, its types under it)
    for c in report.changes:
        if c.rule == "service-removed":
            ours.update({("type-removed", t): c for t in c.old["types"]})
    missing = sorted(set(expected) - set(ours))
    spurious = sorted(set(ours) - set(expected))
    assert not missing, f"changes the report misses: {missing}"
    assert not spurious, f"changes that are not in the ground truth: {spurious}"
    wrong = []
    for key, breaking in expected.items():
        c = ours[key]
        want = (
            DELIBERATE_CHANGES.get(key)
            or DELIBERATE.get(c.rule)
            or ("breaking" if breaking else "")
        )
        got = c.severity
        if (want and got != want) or (not want and got == "breaking"):
            wrong.append((key, breaking, got))
    assert not wrong, f"verdicts that differ from the ground truth: {wrong}"
    assert all(c.rule in RULES for c in report.changes)


def test_every_change_names_its_direction_and_path(report: Report) -> None:
    for c in report.changes:
        assert c.direction in ("request", "response", "both", "none")
        assert c.path and c.message
    renamed = next(
        c for c in report.changes if c.rule == "type-renamed" and c.new == "DiscountPlanInfo"
    )
    assert renamed.old == "VDPlanInfo" and renamed.direction == "both"
    required = next(c for c in report.changes if c.path == "VoidInvoiceRequest.reason")
    assert required.severity == "breaking" and required.direction == "request"


def test_formats_and_exit_codes(report: Report, tmp_path: Path) -> None:
    data = json.loads(render(report, "json"))
    schema = json.loads((ROOT / "docs" / "drift-report.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["summary"]["breaking"] == sum(c.severity == "breaking" for c in report.changes)
    md = render(report, "markdown")
    assert md.startswith("### PortaBilling API drift: mr100 → mr105") and "`type-renamed`" in md
    gh = render(report, "github").splitlines()
    assert gh and all(line.startswith(("::error ", "::warning ", "::notice ")) for line in gh)
    from lxml import etree

    junit = etree.fromstring(render(report, "junit").encode())
    assert int(junit.get("failures")) == data["summary"]["breaking"]
    assert exit_code(report, "breaking") == 1 and exit_code(report, "never") == 0
    info_only = Report("a", "b", [c for c in report.changes if c.severity == "info"])
    assert exit_code(info_only, "breaking") == 0 and exit_code(info_only, "warning") == 0
    assert exit_code(info_only, "any") == 1


def test_ignore_file_by_rule_and_path(report: Report) -> None:
    entries = load_ignore(
        "# accepted in review\n"
        "type-added\n"
        "field-removed AccountInfo.*   # gone on purpose\n"
        "admin/CallbackService\n"
    )
    kept = apply_ignore(report, entries)
    assert not [c for c in kept.changes if c.rule == "type-added"]
    assert not [c for c in kept.changes if c.rule == "field-removed" and c.type == "AccountInfo"]
    assert [c for c in kept.changes if c.rule == "field-removed" and c.type == "CustomerInfo"]
    assert not [c for c in kept.changes if c.path == "admin/CallbackService"]


def test_cli_drift_exit_code_and_markdown(tmp_path: Path) -> None:
    ignore = tmp_path / "ignore.txt"
    ignore.write_text(
        "# only the deliberate warning stays\nservice-*\nmethod-*\ntype-*\nfield-*  # all fields\n"
    )
    old, new = str(RELEASES / "mr100"), str(RELEASES / "mr105")
    result = run_cli(
        "drift", old, new, "--format", "markdown", "--ignore", str(ignore), "--fail-on", "warning"
    )
    assert result.returncode == 1, result.stderr
    assert (
        "**0 breaking**, 1 warnings, 0 info, " in result.stdout
        and " ignored (drift-ignore)." in result.stdout  # what the ignore file left out, counted
        and "`enum-value-added`" in result.stdout
    )
    missing = run_cli("drift", str(tmp_path / "nope"), new)
    assert missing.returncode == 2 and "nope: no such file or directory" in missing.stderr


def test_python_verdict_keeps_the_xsd_detail(report: Report) -> None:
    c = next(c for c in report.changes if c.path == "XDRInfo.charged_quantity")
    assert (c.severity, c.old, c.new) == ("info", "int", "long")
    assert "Python sees int either way" in c.message


def test_a_removed_service_is_one_entry_with_its_types(report: Report) -> None:
    gone = next(c for c in report.changes if c.path == "admin/CallbackService")
    assert gone.rule == "service-removed" and gone.severity == "breaking"
    assert "CallbackRequestInfo" in gone.old["types"] and gone.old["operations"] >= 1
    assert not [c for c in report.changes if c.type in gone.old["types"]]


def test_an_interface_not_fetched_is_not_removed(models: tuple[Model, Model]) -> None:
    old, new = models
    admin_only = Model(
        release=new.release,
        interfaces=[i for i in new.interfaces if i.name == "admin"],
        types=new.types,
    )
    report = compare(old, admin_only, new_fetched=["admin"])
    assert report.not_compared == ["account", "customer"]
    assert not [c for c in report.changes if c.interface in ("account", "customer")]
    assert "not compared (fetched on one side only): account, customer" in render(report, "text")
    full = compare(old, new)
    admin = [c for c in full.changes if c.interface in ("", "admin")]
    # what the admin interface uses is compared as before (types only the others use are not)
    assert {c.path for c in report.changes} <= {c.path for c in admin}
    assert len(report.changes) > 0.7 * len(admin)


def test_annotations_name_the_wsdl_file_and_line(report: Report) -> None:
    removed = next(c for c in report.changes if c.rule == "method-removed")
    lines = Path(removed.file).read_text().splitlines()
    assert f'name="{removed.method}"' in lines[removed.line - 1]
    gh = render(Report("a", "b", [removed]), "github")
    assert gh.startswith(f"::error file={removed.file},line={removed.line},title=method-removed::")
    field = next(c for c in report.changes if c.path == "VoidInvoiceRequest.reason")
    assert field.file.endswith(".xsd") or field.file.endswith(".wsdl")
    assert "VoidInvoiceRequest" in Path(field.file).read_text().splitlines()[field.line - 1]


def test_ignore_file_with_an_unknown_rule_is_an_error() -> None:
    with pytest.raises(GeneratorError) as info:
        load_ignore("type-added\n\nfield-remved AccountInfo.*\n", source="drift-ignore")
    assert "drift-ignore:3" in str(info.value) and "field-remved" in str(info.value)
    with pytest.raises(GeneratorError, match="method-remove"):
        load_ignore("method-remove\n")
    assert load_ignore("AccountInfo\nmethod-*\n") == [("*", "AccountInfo"), ("method-*", "*")]


def test_text_and_markdown_name_file_and_line_and_count_the_ignored(report: Report) -> None:
    kept = apply_ignore(report, load_ignore("type-doc-changed\nmethod-doc-changed\n"))
    ignored = len(report.changes) - len(kept.changes)
    assert ignored > 0 and kept.ignored == ignored
    head, *rows = render(kept, "text").splitlines()
    assert head.endswith(f", {ignored} ignored (drift-ignore)")
    located = [r for r in rows if re.search(r"  \[[^\]]+\.(wsdl|xsd|json):\d+\]$", r)]
    assert len(located) > len(rows) // 2, rows[:5]
    md = render(kept, "markdown")
    assert f", {ignored} ignored (drift-ignore)." in md
    assert "| rule | where | file:line | direction | change |" in md
    assert re.search(r"\| `[^`]+\.(wsdl|xsd|json):\d+` \|", md)
    data = json.loads(render(kept, "json"))
    assert data["ignored"] == ignored
    assert not [
        c for c in data["changes"] if c["rule"] in ("type-doc-changed", "method-doc-changed")
    ]


def test_plain_drift_reads_the_url_setting(tmp_path: Path) -> None:
    from generator.simulator.server import serve

    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.portabilling-gen]\ncache = "cache"\nurl = "http://placeholder"\n'
    )
    import shutil

    shutil.copytree(RELEASES / "mr100", tmp_path / "cache")
    with serve("portabilling", cache=RELEASES / "mr105") as server:
        text = (tmp_path / "pyproject.toml").read_text().replace("http://placeholder", server.url)
        (tmp_path / "pyproject.toml").write_text(text)
        done = subprocess.run(
            [sys.executable, "-m", "generator", "drift", "--fail-on", "never"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("API drift mr100 -> mr105:"), done.stdout[:200]
