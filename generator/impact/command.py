"""The impact analysis as `drift --impact PATH...` and the `ci` step run it: settings to report."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import Config, resolve
from ..drift import Report
from ..errors import GeneratorError
from ..model import Model
from ..project import Target
from . import FORMATS, ImpactReport, analyse, exit_code, render


def run(
    config: Config,
    target: Target,
    old: Model,
    new: Model,
    drift: Report,
    paths: list[Path],
) -> ImpactReport:
    """The impact of OLD -> NEW on `paths` (as given: relative to the working directory), in the
    project the settings describe, whose package `target` places."""
    package_dir = target.package_dir
    if not package_dir.is_dir():
        print(
            f"note: no vendored package at {package_dir}: the impact analysis places it there",
            file=sys.stderr,
        )
    report = analyse(
        old,
        new,
        drift,
        project=config.root,
        package_dir=package_dir,
        paths=paths,
        cache=resolve(config, config.cache),
        transport=target.transport,
    )
    seconds = report.seconds
    print(
        f"impact: {report.files_checked} files checked with mypy {report.mypy} in "
        f"{sum(seconds.values()):.1f}s (render {seconds.get('render', 0):.1f}s, current "
        f"{seconds.get('current', 0):.1f}s, new {seconds.get('new', 0):.1f}s)",
        file=sys.stderr,
    )
    return report


def drift_command(
    config: Config,
    target: Target,
    old: Model,
    new: Model,
    drift: Report,
    paths: list[Path],
    *,
    fmt: str,
    fail_on: str,
) -> int:
    """`drift ... --impact PATH...`: the impact report replaces the drift report on stdout, and
    the exit status counts impacted call sites at the `fail-on` level."""
    if fmt not in FORMATS:
        raise GeneratorError(f"--impact writes {', '.join(FORMATS)}, not --format {fmt}")
    report = run(config, target, old, new, drift, paths)
    sys.stdout.write(render(report, fmt))
    return exit_code(report, fail_on)


def ci_paths(config: Config) -> list[Path]:
    """`impact = [...]` of the settings, as paths."""
    return [resolve(config, p) for p in config.impact]
