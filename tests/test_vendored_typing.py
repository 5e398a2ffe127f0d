"""The vendored package passes mypy --strict in a user's project that has only its run-time
dependencies (httpx, msgspec, lxml), with and without lxml-stubs: the optional parts (uvicorn and
psycopg for the event receiver, the stubs) are not needed to type-check code that imports it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT

RUNTIME_DEPS = (
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "idna",
    "certifi",
    "sniffio",
    "msgspec",
    "lxml",
)

USER_CODE = """\
from portabilling import AdminClient
from portabilling.events import AsyncClient, Router, SubscriberEvent, open_store
from portabilling.types import AccountInfo

router = Router()


@router.on("Subscriber/Updated")
async def changed(event: SubscriberEvent, client: AsyncClient) -> None:
    reply = await client.account.get_account_info(i_account=event.i_account)
    if isinstance(reply.account_info, AccountInfo):
        print(reply.account_info.id)


def main() -> None:
    with AdminClient("https://pbx.example.com", login="api", password="x") as client:
        print(client.account.get_account_info(i_account=1))
    open_store("postgresql://db/events")
"""


def _site(venv: Path) -> Path:
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return Path(purelib)


def _installed(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin) if spec.origin else None


def _env(tmp: Path, with_stubs: bool) -> Path:
    """A venv whose site-packages has only the package's run-time dependencies (links to this
    interpreter's copies), and lxml-stubs when asked."""
    venv = tmp / ("with-stubs" if with_stubs else "bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = _site(venv)
    names = [*RUNTIME_DEPS, "typing_extensions"]
    for name in names:
        found = _installed(name)
        if found is not None:
            (site / found.name).symlink_to(found)
    if with_stubs:
        stubs = Path(sysconfig.get_paths()["purelib"]) / "lxml-stubs"
        assert stubs.is_dir(), "the dev dependencies bring lxml-stubs"
        (site / "lxml-stubs").symlink_to(stubs)
    for absent in ("uvicorn", "psycopg", "lxml-stubs" if not with_stubs else "uvicorn"):
        assert not (site / absent).exists()
    return venv


@pytest.mark.parametrize("with_stubs", [False, True], ids=["no-stubs", "lxml-stubs"])
def test_the_vendored_package_type_checks_with_only_its_dependencies(
    tmp_path: Path, with_stubs: bool
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "generated" / "portabilling", project / "portabilling")
    (project / "app.py").write_text(USER_CODE)
    venv = _env(tmp_path, with_stubs)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable",
         str(venv / "bin" / "python"), "--cache-dir", str(tmp_path / "cache"), "app.py"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
