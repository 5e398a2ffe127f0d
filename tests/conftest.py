"""Shared helpers: generate packages into temporary folders and import them in isolation."""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Everything the suite needs is in the repository: both releases in wsdl_cache/ (mr105 is also
# the bundled snapshot that `make generate` renders), the true drift between them and the real
# server's replies in tests/fixtures/. The test data kept beside the repository (`../shared`, as
# CI lays it) is used in addition when it is there: the bundled copies are checked against it
# (tests/test_bundled_data.py), and the other vendors' WSDLs, which are not ours to copy, are
# read from it (tests/test_realworld.py skips without them).
RELEASES = ROOT / "wsdl_cache"
EXPECTED_DRIFT = FIXTURES / "drift" / "mr100__mr105.json"
REALDATA = FIXTURES / "realdata" / "portabilling-objects"
SHARED = ROOT.parent / "shared" / "wsdl"

# the committed package is what the runtime tests exercise
if str(ROOT / "generated") not in sys.path:
    sys.path.insert(0, str(ROOT / "generated"))


def plugin_args() -> list[str]:
    """`-p generator.pytest_plugin` where pytest does not load it from the installed entry point
    (an install that predates it, or PYTEST_DISABLE_PLUGIN_AUTOLOAD); loading it twice fails."""
    from importlib.metadata import entry_points

    installed = any(ep.value == "generator.pytest_plugin" for ep in entry_points(group="pytest11"))
    if installed and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    return ["-p", "generator.pytest_plugin"]


# the simulator's fixtures (portabilling_client, ...), as a user's project gets them
pytest_plugins = ["pytester", *plugin_args()[1:]]
# README's sample user test suite: run by tests/test_readme_integration.py through pytester
collect_ignore = ["readme/tests"]


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


@pytest.fixture(scope="session")
def generated_once(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`generated_once(package, *source)`: `generate` run once per test run for each package and
    shared by every test (and xdist worker) that only reads it, so the same input is not
    generated again for each test. The package is alone in its folder (`.parent`, for sys.path);
    callers must not change it. The run's own temporary folder holds it: nothing outlives a run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "generated-once"
    root.mkdir(exist_ok=True)

    def get(package: str, *source: str) -> Path:
        out, done = root / package, root / f"{package}.done"
        with open(root / f"{package}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the same package
            if not done.exists():
                shutil.rmtree(out, ignore_errors=True)
                generate(out, package, *source)
                done.write_text("\n".join(source))
        assert done.read_text() == "\n".join(source), f"{package}: generated from other input"
        return out / package

    return get


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
