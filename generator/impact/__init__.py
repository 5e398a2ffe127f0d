"""Impact analysis: the lines of the user's code a new PortaBilling release breaks, and why.

`analyse` renders the package of both releases into a mirror of the user's project
(`workspace`), type-checks the user's files against each with mypy (`checker`, one cache for
both runs), keeps the diagnostics that appear only with the new package, names the drift record
behind each (`explain`) and says what the analysis cannot see (`blind`). `report` renders it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..drift import Report
from ..model import Model
from . import blind, checker, workspace
from .explain import Explainer
from .report import FORMATS, Impact, ImpactReport, exit_code, render

__all__ = ["FORMATS", "Impact", "ImpactReport", "analyse", "exit_code", "render"]


def analyse(
    old: Model,
    new: Model,
    drift: Report,
    *,
    project: Path,
    package_dir: Path,
    paths: list[Path],
    cache: Path | None = None,
    transport: str = "json",
    mypy_cache: Path | None = None,
) -> ImpactReport:
    """The user's files under `paths` (in `project`, which vendors the package at
    `package_dir`; `cache` is the WSDL cache, never searched) checked against OLD's package and
    NEW's. `mypy_cache`: a folder to keep mypy's cache in (default: a temporary one)."""
    version = checker.version()
    project = project.resolve()
    skip = cache if cache is not None else package_dir
    files = workspace.user_files(paths, project, package_dir, skip)
    analysable, unseen = blind.scan(files)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="portabilling-impact-") as tmp:
        started = time.perf_counter()
        space = workspace.build(project, package_dir, old, new, Path(tmp), transport=transport)
        seconds["render"] = time.perf_counter() - started
        mirrored = [space.in_mirror(f) for f in analysable]
        cache_dir = mypy_cache if mypy_cache is not None else Path(tmp) / "mypy-cache"
        runs = []
        for side, label in (("old", "current"), ("new", "new")):
            started = time.perf_counter()
            space.use(side)
            runs.append(
                checker.run(
                    mirrored, cwd=space.mirror, search=[space.search_root], cache=cache_dir
                )
            )
            seconds[label] = time.perf_counter() - started
        before = {d.key for d in runs[0]}
        mine = {str(f) for f in analysable}
        explainer = Explainer(drift.changes, old, new)
        impacts = []
        preexisting = 0
        for d in runs[1]:
            real = space.real(d.file)
            if real not in mine:
                continue
            if d.key in before:
                preexisting += 1
                continue
            changes = explainer.explain(d, Path(real))
            impacts.append(
                Impact(_shown(real), d.line, d.column, d.code, d.message, tuple(changes))
            )
    return ImpactReport(
        old=drift.old,
        new=drift.new,
        drift=drift.counts(),
        impacts=sorted(impacts, key=lambda i: (i.file, i.line, i.column)),
        files_checked=len(files),
        not_analysed={_shown(str(f)): why for f, why in unseen.not_analysed.items()},
        unseen={
            kind: [(_shown(str(s.file)), s.line, s.detail) for s in unseen.spots if s.kind == kind]
            for kind in blind.KINDS
        },
        mypy=version,
        preexisting=preexisting,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def _shown(path: str) -> str:
    """A path as reports show it: relative to the working directory when below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
