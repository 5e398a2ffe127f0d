"""Drift knows the search vocabulary: a field a release removes from a searched record is
reported as breaking the searches that filter on it, and the vocabulary regenerated from the new
release makes mypy (and `drift --impact`) flag the user's stale query on its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cache import open_cache
from generator.drift import compare
from generator.impact import analyse
from generator.pipeline import load_model

from .conftest import RELEASES

pytest.importorskip("mypy")

APP = '''\
from pb.search import Account, Customer


def stale(client: object) -> object:
    return Customer.i_template == 3


def fine() -> object:
    return [Customer.city == "Toronto", Account.balance > 100]
'''


def test_removed_field_breaks_the_searches_using_it_and_mypy_flags_the_query(
    tmp_path: Path,
) -> None:
    old = load_model(open_cache(str(RELEASES / "mr100")))
    new = load_model(open_cache(str(RELEASES / "mr105")))
    drift = compare(old, new)
    removed = {
        c.path: c for c in drift.changes if c.rule == "field-removed" and c.type == "CustomerInfo"
    }
    change = removed["CustomerInfo.i_template"]
    assert change.severity == "breaking" and change.direction == "both"
    assert change.message.endswith("searches filtering on it break (search.Customer.i_template)")

    root = tmp_path / "proj"
    (root / "pb").mkdir(parents=True)
    app = root / "app.py"
    app.write_text(APP)
    report = analyse(old, new, drift, project=root, package_dir=root / "pb", paths=[app])
    assert [(i.line, i.code) for i in report.impacts] == [(5, "attr-defined")]
    (impact,) = report.impacts
    assert "i_template" in impact.message
    assert [(c.rule, c.path) for c in impact.changes] == [
        ("field-removed", "CustomerInfo.i_template")
    ]
