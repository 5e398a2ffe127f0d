"""CLI behaviour: check mode, clear errors with exit 2, atomic writes, determinism, vendoring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIXTURES, ROOT, generate, run_cli

EDGE = FIXTURES / "edge" / "EdgeAdminService.wsdl"


def _tree(path: Path) -> dict[str, bytes]:
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_check_detects_stale_output(tmp_path: Path) -> None:
    pkg = generate(tmp_path, "pkg", "--wsdl", str(EDGE))
    args = ("generate", "--wsdl", str(EDGE), "--out", str(tmp_path), "--package", "pkg")
    assert run_cli(*args, "--check").returncode == 0
    (pkg / "types" / "edge.py").write_text("# edited by hand\n")
    result = run_cli(*args, "--check")
    assert result.returncode == 1 and "differs: types/edge.py" in result.stdout


def test_bundled_generated_is_up_to_date() -> None:
    result = run_cli("generate", "--check")
    assert result.returncode == 0, result.stdout[-2000:]


def _bad_input(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / name).write_text(text)
    return run_cli("generate", "--wsdl", str(src), "--out", str(tmp_path / "out"))


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    text = EDGE.read_text().replace("<wsdl:portType", "<wsdl:portType <<", 1)
    line = text[: text.index("<wsdl:portType <<")].count("\n") + 1
    result = _bad_input(tmp_path, "BadAdminService.wsdl", text)
    assert result.returncode == 2
    assert f"BadAdminService.wsdl:{line}" in result.stderr and "malformed XML" in result.stderr
    assert not (tmp_path / "out").exists()


def test_undefined_type_is_reported(tmp_path: Path) -> None:
    text = EDGE.read_text().replace('type="porta:Node"', 'type="porta:Nowhere"', 1)
    result = _bad_input(tmp_path, "BadAdminService.wsdl", text)
    assert result.returncode == 2 and "Nowhere" in result.stderr
    assert "BadAdminService.wsdl:" in result.stderr


def test_network_import_is_refused_with_url_and_referrer(tmp_path: Path) -> None:
    text = EDGE.read_text().replace(
        '<xsd:import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>',
        '<xsd:import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>'
        '<xsd:import namespace="urn:x" schemaLocation="http://evil.example/x.xsd"/>',
    )
    result = _bad_input(tmp_path, "NetAdminService.wsdl", text)
    assert result.returncode == 2
    assert "network access refused: http://evil.example/x.xsd" in result.stderr
    assert "NetAdminService.wsdl:" in result.stderr


def test_unresolvable_local_import(tmp_path: Path) -> None:
    text = EDGE.read_text().replace(
        '<xsd:import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>',
        '<xsd:import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>'
        '<xsd:include schemaLocation="missing.xsd"/>',
    )
    result = _bad_input(tmp_path, "MissAdminService.wsdl", text)
    assert result.returncode == 2 and "missing.xsd" in result.stderr


def test_dtd_refused(tmp_path: Path) -> None:
    text = EDGE.read_text().replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    )
    result = _bad_input(tmp_path, "DtdAdminService.wsdl", text)
    assert result.returncode == 2 and "DTD refused" in result.stderr


def test_failed_run_leaves_output_untouched(tmp_path: Path) -> None:
    pkg = generate(tmp_path, "pkg", "--wsdl", str(EDGE))
    before = _tree(pkg)
    src = tmp_path / "bad"
    src.mkdir()
    (src / "XAdminService.wsdl").write_text("<not-xml")
    result = run_cli("generate", "--wsdl", str(src), "--out", str(tmp_path), "--package", "pkg")
    assert result.returncode == 2
    assert _tree(pkg) == before
    # no temp dirs left (the format record is the package's sidecar)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pkg.black-record.json", "bad", "pkg"]


def test_output_is_deterministic_across_hash_seeds_and_dir_order(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "edge", src / "admin")
    shutil.copy(EDGE, src / "admin" / "AEdgeCopyAdminService.wsdl")
    outs = []
    for seed in ("0", "12345"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = run_cli("generate", "--wsdl", str(src), "--out", str(out), env=env)
        assert result.returncode == 0, result.stderr
        outs.append(_tree(out))
    assert outs[0] == outs[1]


def test_model_json_dump() -> None:
    import json

    result = run_cli("model", "--json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    customer = next(
        s
        for i in model["interfaces"]
        if i["name"] == "admin"
        for s in i["services"]
        if s["name"] == "Customer"
    )
    ext = next(o for o in customer["operations"] if o["name"] == "get_extended_data_list")
    assert ext["transports"] == "json" and ext["request_type"].endswith("Request")
    info = next(t for t in model["types"] if t["name"] == "UAInfo")
    assert any(f["wire_name"] == "3pcc_enabled" and f["json_only"] for f in info["fields"])


def test_vendored_under_another_package(tmp_path: Path, importer: Any) -> None:
    vendor = tmp_path / "myapp" / "_vendor"
    vendor.mkdir(parents=True)
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (vendor / "__init__.py").write_text("")
    shutil.copytree(ROOT / "generated" / "portabilling", vendor / "portabilling")
    code = (
        "from myapp._vendor.portabilling.admin.account import AccountService\n"
        "from myapp._vendor.portabilling.types import AccountInfo\n"
        "from myapp._vendor.portabilling import AdminClient\n"
        "import sys\n"
        "assert 'portabilling' not in sys.modules\n"
        "print(AccountInfo(i_account=1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "AccountInfo(i_account=1)" in result.stdout


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """stderr a terminal: a progress bar is drawn (and cleared); piped: nothing but the summary."""
    import os
    import pty
    import subprocess
    import sys

    from .conftest import FIXTURES, ROOT

    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "generator", "model", "--wsdl", str(FIXTURES / "edge")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=follower,
        check=False,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"[" in drawn and b"#" in drawn and b"/" in drawn  # [#####.....] done/total label
    piped = run_cli("model", "--wsdl", str(FIXTURES / "edge"))
    assert "#" not in piped.stderr


def test_a_crash_is_exit_3_not_a_finding_and_its_traceback_runs_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug of ours exits 3 (1 is a finding, 2 bad input): `ci` never reads a crash as drift;
    the traceback is printed escaped, so a server's text in an exception message runs nothing."""
    from generator import cli

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\n::add-mask::hunter2\n##[set-output name=x;]y")

    monkeypatch.setattr(cli, "load_model", crash)
    status = cli.main(["model", "--wsdl", str(FIXTURES / "edge")])
    err = capsys.readouterr().err
    assert status == 3 and "internal error (exit 3)" in err and "Traceback" in err
    assert "boom\\n::add-mask::hunter2\\n##\\[set-output" in err
    assert not [line for line in err.splitlines() if line.lstrip().startswith("::")]
    assert "##[" not in err


def test_long_steps_speak_on_a_terminal_and_help_names_the_settings(tmp_path: Path) -> None:
    """generate says when black formats (a first run is tens of seconds); without a terminal
    (CI, and every other test here) it stays quiet."""
    import os
    import pty
    import subprocess
    import sys

    from .conftest import FIXTURES, ROOT

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # nothing cached
    args = [sys.executable, "-m", "generator", "generate", "--wsdl", str(FIXTURES / "edge"),
            "--out", str(tmp_path / "out"), "--package", "ttypkg"]  # fmt: skip
    main, child = pty.openpty()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=child, stderr=child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0, seen
    assert b"formatting " in seen and b"modules with black" in seen, seen
    helps = run_cli("fetch", "--help").stdout + run_cli("drift", "--help").stdout
    assert "the `url` setting of [tool.portabilling-gen]" in " ".join(helps.split())
    assert "(default: url)" not in helps and "(default: cache)" not in helps
