"""The generator never exits 0 with output that does not import: names that collide with stub
parameters, keywords or imports are renamed, text from the input placed in code is escaped, and
the written package is compiled and imported before it replaces the old one."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES, run_cli

_DOC = 'A colour """ with \\N{x} and \\x and {{ x }} and \'\'\' and a\nnewline and """'


def _wsdl() -> str:
    src = (FIXTURES / "edge" / "EdgeAdminService.wsdl").read_text().replace("Edge", "Hostile")
    src = src.replace(
        """          <xsd:element name="i_base" type="xsd:int" minOccurs="1"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="GetOddListResponse">""",
        """          <xsd:element name="i_base" type="xsd:int" minOccurs="1"/>
          <xsd:element name="request" type="xsd:int" minOccurs="0"/>
          <xsd:element name="self" type="xsd:int" minOccurs="0"/>
          <xsd:element name="fields" type="xsd:int" minOccurs="0"/>
          <xsd:element name="page_size" type="xsd:int" minOccurs="0"/>
          <xsd:element name="datetime" type="porta:datetime" minOccurs="0"/>
          <xsd:element name="svc" type="porta:HostileService" minOccurs="0"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="HostileService">
        <xsd:sequence><xsd:element name="x" type="xsd:int" minOccurs="0"/></xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="datetime">
        <xsd:sequence><xsd:element name="UNSET" type="xsd:int" minOccurs="0"/></xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="GetOddListResponse">""",
    )
    doc = _DOC.replace("&", "&amp;").replace("<", "&lt;")
    src = src.replace("A colour.", doc)
    src = src.replace(
        '<xsd:enumeration value="dark-blue"/>',
        '<xsd:enumeration value="dark-blue"/><xsd:enumeration value="it&apos;s &quot;x&quot; \\"/>',
    )
    return src


def _cache(root: Path, release: str) -> Path:
    (root / "admin").mkdir(parents=True)
    wsdl = root / "admin" / "HostileAdminService.wsdl"
    wsdl.write_text(_wsdl())
    body = wsdl.read_bytes()
    manifest = {
        "release": release,
        "files": [
            {
                "path": "admin/HostileAdminService.wsdl",
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
            }
        ],
    }
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


def test_hostile_names_and_texts_generate_a_package_that_imports_and_works(tmp_path: Path) -> None:
    release = 'mr1\nimport os; os.system("echo pwned") # """ \\'
    cache = _cache(tmp_path / "cache", release)
    out = tmp_path / "out"
    result = run_cli("generate", "--cache", str(cache), "--out", str(out), "--package", "hostpkg")
    assert result.returncode == 0, result.stderr
    script = """
import inspect, hostpkg
from hostpkg.admin.hostile import HostileService
from hostpkg.types import Color, GetOddListRequest, HostileService_2
assert HostileService.get_odd_list and HostileService_2.__struct_fields__ == ("x",)
assert hostpkg.RELEASE == %r, hostpkg.RELEASE
assert %r in (Color.__doc__ or "") or %r in inspect.getsource(Color)
assert "it's \\"x\\" \\\\" in {c.value for c in Color}
names = set(GetOddListRequest.__struct_encode_fields__)
assert {"request", "self", "fields", "page_size", "datetime"} <= names, names
sig = inspect.signature(HostileService.get_odd_list)
print("ok", sorted(sig.parameters))
""" % (release, "with \\N{x}", "with \\\\N{x}")
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=out, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert "pwned" not in ran.stdout + ran.stderr


def test_a_package_that_does_not_import_never_replaces_the_old_one(tmp_path: Path) -> None:
    """Code that compiles but fails at import (here: a name no module defines) stops the write
    with the module named; the old package stays as it was and no temporary folder is left."""
    import pytest

    from generator.errors import GeneratorError
    from generator.output import RenderedFile, write_atomic

    target = tmp_path / "pkg"
    good = [RenderedFile("__init__.py", "X = 1\n"), RenderedFile("a.py", "Y = 2\n")]
    write_atomic(good, target)
    bad = [RenderedFile("__init__.py", "X = 1\n"), RenderedFile("a.py", "Y = undefined_name\n")]
    with pytest.raises(GeneratorError, match="does not import") as caught:
        write_atomic(bad, target)
    assert "pkg/a.py" in str(caught.value) and "undefined_name" in str(caught.value)
    assert (target / "a.py").read_text() == "Y = 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]
    assert not list(target.rglob("__pycache__"))
