"""The user's workflow end to end, from the wheel, in a project that is not this repository.

Build the wheel; install it into a fresh virtual environment; in a throwaway project (its own
pyproject.toml and git root) run `portabilling-gen init`, `fetch` from the simulator (itself
started with the installed `portabilling-gen simulate`), `generate`, import the vendored package
and call the simulator with it; then a hand-edited package makes `generate --check` and `ci`
fail, a breaking server change makes `drift --fail-on breaking` fail, and a clean server passes.

Speed: the wheel is installed with `--no-deps`, and the fresh environment borrows the already
installed dependencies through a `.pth` line to this checkout's site-packages (pip would fetch
the same versions); the editable install of this checkout is not visible there (a `.pth` line
adds a folder, not the `.pth` files in it), which the test asserts. E2E_FULL_INSTALL=1 installs
the wheel with its dependencies from the index instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator import __version__

ROOT = Path(__file__).resolve().parent.parent
MR105 = ROOT / "wsdl_cache" / "mr105"
SERVICES = ("Session", "Customer")


def _server_folder(folder: Path) -> Path:
    """A small PortaBilling server's files: two admin services of the bundled mr105 set, the
    schemas, and an OpenAPI document listing just those services (it names the release)."""
    (folder / "admin").mkdir(parents=True)
    for name in SERVICES:
        wsdl = f"{name}AdminService.wsdl"
        shutil.copy(MR105 / "admin" / wsdl, folder / "admin" / wsdl)
    shutil.copytree(MR105 / "xsd", folder / "xsd")
    doc = json.loads((MR105 / "openapi" / "AdminInterface.json").read_text())
    doc["paths"] = {k: v for k, v in doc["paths"].items() if k.split("/")[1] in SERVICES}
    (folder / "openapi").mkdir()
    (folder / "openapi" / "AdminInterface.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh venv with the wheel installed; the environment to run it in."""
    base = tmp_path_factory.mktemp("e2e")
    dist = base / "dist"
    source = base / "source"  # a copy: building never writes into this checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("generator", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*build, "-w", str(dist), str(source)],
        cwd=base,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("portabilling_bindings-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(f"portabilling_bindings-{__version__}.dist-info/METADATA").decode()
    assert "generator/templates/package_init.py.jinja" in names
    assert "generator/templates/runtime/client/clients.py" in names  # the wings travel too
    assert "generator/simulator/soap_front.pl" in names
    assert "generator/ci/action.yml" in names
    for dep in ("jinja2", "zeep", "lxml", "black", "httpx", "msgspec"):
        assert f"Requires-Dist: {dep}" in metadata

    venv = base / "venv"
    full = bool(os.environ.get("E2E_FULL_INSTALL"))
    subprocess.run(
        [sys.executable, "-m", "venv", *([] if full else ["--without-pip"]), str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    if full:
        cmd = [str(python), "-m", "pip", "install", "--quiet", str(wheel)]
    else:
        cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        cmd += ["--no-deps", str(wheel)]
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    yield {**env, "_VENV": str(venv), "_BASE": str(base)}


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in env.items() if not k.startswith("_")}
    return subprocess.run(
        ["portabilling-gen", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def server(fresh: dict[str, str]) -> Iterator[tuple[str, Path, bool]]:
    """`portabilling-gen simulate` from the fresh install, serving the small server folder."""
    base = Path(fresh["_BASE"])
    folder = _server_folder(base / "server")
    clean = {k: v for k, v in fresh.items() if not k.startswith("_")}
    proc = subprocess.Popen(
        ["portabilling-gen", "simulate", str(folder), "--port", "0"],
        cwd=base,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        assert lines[0].startswith("PortaBilling simulator on http://"), lines[0] + (
            proc.stderr.read() if proc.stderr else ""
        )
        while not lines[-1].startswith("Ctrl-C"):
            lines.append(proc.stdout.readline())
        soap = any("SOAP::Lite" in line for line in lines)
        yield lines[0].split()[3], folder, soap
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_user_workflow_from_the_wheel(
    fresh: dict[str, str], server: tuple[str, Path, bool], tmp_path: Path
) -> None:
    url, served, soap = server
    project = tmp_path / "acme-billing"
    (project / ".git").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "acme-billing"\nversion = "1"\n')

    version = _run(fresh, project, "--version")
    assert version.stdout.strip() == f"portabilling-gen {__version__}"
    where = subprocess.run(
        [
            str(Path(fresh["_VENV"]) / "bin" / "python"),
            "-c",
            "import generator, generator.resources as r; print(generator.__file__); print(r.TEMPLATES)",
        ],
        cwd=project,
        env={k: v for k, v in fresh.items() if not k.startswith("_")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(p.startswith(fresh["_VENV"]) for p in where), where  # never this checkout

    step = _run(fresh, project, "init", url, "--github")
    assert step.returncode == 0, step.stderr
    assert (project / ".github" / "workflows" / "portabilling.yml").is_file()
    action = (project / ".github" / "actions" / "portabilling-gen" / "action.yml").read_text()
    assert "portabilling-gen" in action and "__VERSION__" not in action

    step = _run(fresh, project, "fetch")
    assert step.returncode == 0, step.stderr
    manifest = json.loads((project / "portabilling_wsdl" / "MANIFEST.json").read_text())
    assert manifest["release"] == "mr105" and manifest["interfaces"] == ["admin"]

    step = _run(fresh, project, "generate")
    assert step.returncode == 0, step.stderr
    package = project / "portabilling"
    assert (package / "admin" / "customer.py").is_file()
    assert not (package / ".black-record.json").exists()

    # vendored: the user's code imports it and talks to the server
    script = (
        "import portabilling\n"
        "from portabilling import AdminClient\n"
        "from portabilling.types import CustomerInfo\n"
        "print(portabilling.__version__)\n"
        "for t in TRANSPORTS:\n"
        "    with AdminClient(URL, transport=t, login='admin', password='secret') as c:\n"
        "        i = c.customer.add_customer(customer_info=CustomerInfo(name='acme-' + t)).i_customer\n"
        "        print(t, c.customer.get_customer_info(i_customer=i).customer_info.name)\n"
    )
    transports = ("json", "soap") if soap else ("json",)
    used = subprocess.run(
        [
            str(Path(fresh["_VENV"]) / "bin" / "python"),
            "-c",
            f"URL = {url!r}\nTRANSPORTS = {transports!r}\n" + script,
        ],
        cwd=project,
        env={k: v for k, v in fresh.items() if not k.startswith("_")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert used.returncode == 0, used.stderr[-3000:]
    out = used.stdout.splitlines()
    assert out[0] == f"{__version__}+mr105"
    assert out[1:] == [f"{t} acme-{t}" for t in transports]

    # the CI gate on a clean project and an unchanged server
    gate = _run(fresh, project, "ci", "--report", str(tmp_path / "drift.md"))
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "up to date" in gate.stdout and "0 breaking" in (tmp_path / "drift.md").read_text()

    # a hand-edited vendored package is stale: --check and the gate fail
    edited = package / "admin" / "customer.py"
    original = edited.read_text()
    edited.write_text(original + "# a quick fix\n")
    stale = _run(fresh, project, "generate", "--check")
    assert stale.returncode == 1 and "differs: admin/customer.py" in stale.stdout
    assert _run(fresh, project, "ci").returncode == 1
    edited.write_text(original)

    # a breaking server change (a method renamed): drift against the live server fails, and its
    # annotations point at the committed cache's file and line
    wsdl = served / "admin" / "CustomerAdminService.wsdl"
    before = wsdl.read_text()
    wsdl.write_text(before.replace('name="get_customer_info"', 'name="get_customer_details"'))
    try:
        broken = _run(fresh, project, "drift", url, "--format", "github", "--fail-on", "breaking")
    finally:
        wsdl.write_text(before)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    # the OpenAPI document still lists get_customer_info: it is now JSON-only, which breaks SOAP
    error = next(line for line in broken.stdout.splitlines() if line.startswith("::error "))
    assert "file=portabilling_wsdl/admin/CustomerAdminService.wsdl,line=" in error
    assert "admin/Customer.get_customer_info" in error
    line = int(error.split("line=")[1].split(",")[0])
    committed = project / "portabilling_wsdl" / "admin" / "CustomerAdminService.wsdl"
    assert 'name="get_customer_info"' in committed.read_text().splitlines()[line - 1]

    # the same server, unchanged: clean
    clean = _run(fresh, project, "drift", url, "--fail-on", "breaking")
    assert clean.returncode == 0, clean.stdout + clean.stderr
