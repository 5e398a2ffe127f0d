"""Shared helpers: generate packages into temporary folders and import them in isolation."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "wsdl"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# the committed package is what the runtime tests exercise
if str(ROOT / "generated") not in sys.path:
    sys.path.insert(0, str(ROOT / "generated"))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def generate(out: Path, package: str, *source: str) -> Path:
    result = run_cli("generate", *source, "--out", str(out), "--package", package)
    assert result.returncode == 0, result.stderr
    return out / package


@pytest.fixture
def importer() -> Iterator[object]:
    """Import a generated package from a folder, and forget it afterwards."""
    added: list[str] = []

    def load(folder: Path, name: str) -> object:
        sys.path.insert(0, str(folder))
        added.append(str(folder))
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield load
    for folder in added:
        sys.path.remove(folder)
    for mod in [
        m for m in sys.modules if m.split(".")[0] in {"edgepkg", "pb100", "pb105", "myapp"}
    ]:
        del sys.modules[mod]


@pytest.fixture(scope="session")
def edge_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edge")
    return generate(out, "edgepkg", "--wsdl", str(FIXTURES / "edge"))


@pytest.fixture(scope="session")
def _simulator() -> Iterator[Any]:
    if str(ROOT / "generated") not in sys.path:
        sys.path.insert(0, str(ROOT / "generated"))
    from generator.simulator.server import serve

    with serve("portabilling", cache=ROOT / "wsdl_cache" / "mr105") as running:
        yield running


@pytest.fixture
def sim(_simulator: Any) -> Any:
    """The PortaBilling simulator (JSON + SOAP::Lite), reset for each test."""
    _simulator.sim.reset()
    _simulator.server.inject = None
    return _simulator
