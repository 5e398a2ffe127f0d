"""The suite runs on a clone with nothing beside it: the test data it reads is in the repository.

When the test data kept beside the repository (`../shared`) is there too, the bundled copies must
be exactly its files, so a copy never drifts from its source unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import EXPECTED_DRIFT, FIXTURES, REALDATA, RELEASES, ROOT, SHARED

REALDATA_SOURCE = SHARED.parent / "realdata" / "portabilling-objects"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_bundled_data_is_complete() -> None:
    for release in ("mr100", "mr105"):
        assert (RELEASES / release / "MANIFEST.json").is_file(), release
    assert EXPECTED_DRIFT.is_file()
    assert (REALDATA / "LICENSE").is_file(), "the real replies' MIT licence travels with them"
    assert "portabilling/objects" in (FIXTURES / "realdata" / "README.md").read_text()


def test_only_optional_tests_read_the_data_beside_the_repository() -> None:
    """`SHARED` (and any path to `shared`) is named by conftest, this file, and the tests of the
    other vendors' WSDLs, which skip with the reason when it is absent; nothing else."""
    allowed = {"conftest.py", "test_bundled_data.py", "test_realworld.py"}
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = (
                (isinstance(node, ast.Name) and node.id == "SHARED")
                or (  # `... / "shared"`
                    isinstance(node, ast.BinOp)
                    and isinstance(node.right, ast.Constant)
                    and node.right.value == "shared"
                )
                or (isinstance(node, ast.Constant) and "../shared/" in str(node.value))
            )
            if named:
                offenders.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    assert not offenders, offenders


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside the repository")
@pytest.mark.parametrize("release", ["mr100", "mr105"])
def test_bundled_releases_equal_the_shared_ones(release: str) -> None:
    assert _files(RELEASES / release) == _files(SHARED / "portabilling" / release)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside the repository")
def test_bundled_fixtures_equal_the_shared_ones() -> None:
    expected = SHARED / "portabilling" / "expected" / EXPECTED_DRIFT.name
    assert EXPECTED_DRIFT.read_bytes() == expected.read_bytes()
    assert _files(REALDATA) == _files(REALDATA_SOURCE)
