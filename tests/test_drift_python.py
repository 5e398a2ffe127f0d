"""Drift judged by what Python sees: edge-fixture variants over plain WSDL folders, by the CLI."""

from __future__ import annotations

from pathlib import Path

from .conftest import FIXTURES, run_cli

EDGE = (FIXTURES / "edge" / "EdgeAdminService.wsdl").read_text()


def _variant(folder: Path, *edits: tuple[str, str]) -> Path:
    text = EDGE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "admin").mkdir(parents=True)
    (folder / "admin" / "EdgeAdminService.wsdl").write_text(text)
    return folder


def test_same_python_type_is_info_and_request_arrays_judged_like_scalars(tmp_path: Path) -> None:
    old = _variant(tmp_path / "old")
    new = _variant(
        tmp_path / "new",
        # response scalar: int -> long (Python: int both)
        (
            '<xsd:element name="total" type="xsd:int" minOccurs="0"/>',
            '<xsd:element name="total" type="xsd:long" minOccurs="0"/>',
        ),
        # array items: int -> long (Python: int both), reached from a response
        ('wsdl:arrayType="xsd:int[,]"', 'wsdl:arrayType="xsd:long[,]"'),
        # request scalar: int -> string (Python: int -> str) is breaking
        (
            '<xsd:element name="offset" type="xsd:int" minOccurs="0"/>',
            '<xsd:element name="offset" type="xsd:string" minOccurs="0"/>',
        ),
    )
    result = run_cli("drift", str(old), str(new), "--fail-on", "breaking")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    total = next(line for line in lines if "GetOddListResponse.total" in line)
    assert total.startswith("INFO") and "from int to long; Python sees int either way" in total
    grid = next(line for line in lines if "field-array-item-changed" in line)
    assert grid.startswith("INFO") and "Python sees int either way" in grid
    offset = next(line for line in lines if "GetOddListRequest.offset" in line)
    assert offset.startswith("BREAKING")

    github = run_cli("drift", str(old), str(new), "--format", "github", "--fail-on", "never")
    assert github.returncode == 0
    rows = github.stdout.splitlines()
    error = next(r for r in rows if r.startswith("::error "))
    assert "file=" in error and "EdgeAdminService.wsdl,line=" in error
    line = int(error.split("line=")[1].split(",")[0])
    wsdl_lines = (old / "admin" / "EdgeAdminService.wsdl").read_text().splitlines()
    assert 'name="offset"' in wsdl_lines[line - 1]


def test_plain_folders_and_a_clean_comparison(tmp_path: Path) -> None:
    old = _variant(tmp_path / "old")
    same = _variant(tmp_path / "same")
    clean = run_cli("drift", str(old), str(same))
    assert clean.returncode == 0, clean.stderr
    assert "0 breaking, 0 warnings, 0 info" in clean.stdout
    ignore = tmp_path / "ignore"
    ignore.write_text("method-renamd\n")
    bad = run_cli("drift", str(old), str(same), "--ignore", str(ignore))
    assert bad.returncode == 2 and f"{ignore}:1" in bad.stderr and "method-renamd" in bad.stderr


def test_an_enum_member_renamed_by_its_documentation_is_breaking(tmp_path: Path) -> None:
    documented = '<xsd:enumeration value="-1"><xsd:annotation><xsd:documentation>{}</xsd:documentation></xsd:annotation></xsd:enumeration>'
    old = _variant(
        tmp_path / "old", ('<xsd:enumeration value="-1"/>', documented.format("unlimited"))
    )
    new = _variant(
        tmp_path / "new", ('<xsd:enumeration value="-1"/>', documented.format("no limit"))
    )
    result = run_cli("drift", str(old), str(new), "--format", "json", "--fail-on", "breaking")
    assert result.returncode == 1, result.stderr
    import json

    [change] = [
        c for c in json.loads(result.stdout)["changes"] if c["rule"] == "enum-member-renamed"
    ]
    assert (change["type"], change["old"], change["new"], change["severity"]) == (
        "Level",
        "UNLIMITED",
        "NO_LIMIT",
        "breaking",
    )
    same = run_cli("drift", str(old), str(old), "--format", "json")
    assert "enum-member-renamed" not in same.stdout


def test_a_renamed_method_is_located_where_the_old_name_stands(tmp_path: Path) -> None:
    import json

    old = _variant(tmp_path / "old")
    text = EDGE.replace('name="old_login"', 'name="legacy_login"').replace(
        "#old_login", "#legacy_login"
    )
    (tmp_path / "new" / "admin").mkdir(parents=True)
    (tmp_path / "new" / "admin" / "EdgeAdminService.wsdl").write_text(text)
    result = run_cli("drift", str(old), str(tmp_path / "new"), "--format", "json")
    [renamed] = [c for c in json.loads(result.stdout)["changes"] if c["rule"] == "method-renamed"]
    assert (renamed["old"], renamed["new"]) == ("old_login", "legacy_login")
    line = Path(renamed["file"]).read_text().splitlines()[renamed["line"] - 1]
    assert 'name="old_login"' in line, (renamed["line"], line)
