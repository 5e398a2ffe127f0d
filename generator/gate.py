"""`portabilling-gen ci`: the CI gate, in the order that makes it able to fail.

1. The vendored package must be what the committed cache generates (`generate --check`): it runs
   first, before anything could regenerate the package, so stale bindings always fail.
2. The live server's files are fetched into a temporary cache (never over the committed one) and
   compared with the committed cache: the markdown report goes to `--report` (the pull-request
   comment) and to `$GITHUB_STEP_SUMMARY` when set, GitHub annotations to stdout under GitHub
   Actions, and changes at the `fail-on` level fail the gate.
3. With `impact` set, the user's code is type-checked against the live release's package too
   (generator/impact): its report follows, and the lines it breaks decide instead of the changes.

Exit 0: clean; 1: stale bindings and/or drift at the fail-on level; 2: bad input and 3: a crash
(both from the CLI). What the server wrote is printed only through generator/escaping.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .cache import fetched_interfaces
from .config import Config, resolve
from .drift import apply_ignore, compare, exit_code, load_ignore, render
from .errors import GeneratorError
from .fetch import Fetcher, fetch
from .model import Model
from .project import Target, generate


def run(
    config: Config,
    target: Target,
    load: Callable[[Path], Model],
    make_fetcher: Callable[[str, list[str]], Fetcher],
    *,
    url: str,
    fail_on: str,
    report_path: Path | None,
    annotations: bool,
) -> int:
    cache = resolve(config, config.cache)
    if not cache.is_dir():
        raise GeneratorError(
            "the committed cache is missing; run `portabilling-gen fetch`", file=str(cache)
        )
    print(f"== 1/2 vendored package against the committed cache ({cache})", flush=True)
    old = load(cache)
    stale = generate(old, target, check=True)
    print(f"== 2/2 API drift: committed cache -> {url}", flush=True)
    interfaces = fetched_interfaces(str(cache)) or sorted({i.name for i in old.interfaces})
    with tempfile.TemporaryDirectory(prefix="portabilling-live-") as tmp:
        live = Path(tmp) / "live"
        fetch(url, live, make_fetcher(url, interfaces))
        new = load(live)
        report = compare(
            old,
            new,
            old_fetched=fetched_interfaces(str(cache)),
            new_fetched=fetched_interfaces(str(live)),
            bases=(str(cache.parent), str(live.parent)),
        )
    impact = None
    if config.impact:  # impact analysis (generator/impact): the user's lines the release breaks
        from . import impact as impacts
        from .impact.command import ci_paths
        from .impact.command import run as run_impact

        print("== impact of the live release on your code (mypy)", flush=True)
        impact = run_impact(config, target, old, new, report, ci_paths(config))
    ignore = resolve(config, config.drift_ignore)
    if ignore.exists():
        report = apply_ignore(report, load_ignore(ignore.read_text(encoding="utf-8"), str(ignore)))
    markdown = render(report, "markdown")
    if impact is not None:
        markdown += "\n" + impacts.render(impact, "markdown")
    if stale:
        markdown += (
            "\n**The vendored package is stale**: run `portabilling-gen generate` and commit it.\n"
        )
    if report_path is not None:
        report_path.write_text(markdown, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    sys.stdout.write(render(report, "github" if annotations else "text"))
    if impact is not None:  # with impact configured, the lines it breaks decide, not the changes
        sys.stdout.write(impacts.render(impact, "github" if annotations else "text"))
        drift = impacts.exit_code(impact, fail_on)
        if drift:
            print(f"impact: lines of yours break at or above {fail_on!r}; fix them")
        return 1 if stale or drift else 0
    drift = exit_code(report, fail_on)
    if drift:
        print(f"drift: changes at or above {fail_on!r}; accept them in {ignore.name} or fix")
    return 1 if stale or drift else 0
