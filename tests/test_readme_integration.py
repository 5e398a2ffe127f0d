"""README's "Testing your integration", to the letter: its code blocks are the files of the sample
user project in tests/readme/ (a handler module and three test files), and pytester runs those
tests with the plugin in a fresh pytest process, as a user's project runs them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator.simulator import soap_lite_missing

from .conftest import plugin_args

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "readme"
FILES = [
    "tests/test_accounts.py",
    "myapp/provisioning.py",
    "tests/test_provisioning.py",
    "tests/test_faults.py",
]


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Testing your integration") : text.index("## This repository")]


def test_the_readme_blocks_are_the_sample_project() -> None:
    blocks = re.findall(r"```python\n(.*?)```\n", _section(), re.S)
    assert blocks == [(EXAMPLE / name).read_text() for name in FILES]


def test_pytester_runs_the_sample_suite_with_the_plugin(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLE / "myapp", pytester.path / "myapp")
    shutil.copytree(EXAMPLE / "tests", pytester.path / "tests")
    pytester.makepyprojecttoml(f"""
        [tool.portabilling-gen]
        package = "portabilling"

        [tool.pytest.ini_options]
        pythonpath = [".", "{ROOT / "generated"}"]  # the bindings, as the user's project has them
        portabilling_cache = "{ROOT / "wsdl_cache" / "mr105"}"
        """)
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-rs")
    per_transport = 2 if soap_lite_missing() is None else 1  # five tests, each per transport
    result.assert_outcomes(passed=5 * per_transport, skipped=5 * (2 - per_transport))
    assert "portabilling_client" not in result.stdout.str()  # no fixture went missing
