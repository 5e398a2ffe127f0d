"""`portabilling-gen` (or `python -m generator`): init, fetch, generate, drift, ci, simulate,
events, inject, conformance, model.

Exit status: 0 done (clean); 1 a finding (stale bindings, drift or impact at the fail-on level);
2 bad input or usage (one `error:` line); 3 a crash, a bug of ours (the traceback follows), which
CI must never read as a finding. What the server wrote reaches stdout/stderr only through
`escaping.text`. One job over ~500 lines: the command line, each command's arguments and runner.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import __version__, escaping
from .cache import MANIFEST, InputSet, fetched_interfaces, open_cache, open_plain
from .config import Config, resolve
from .config import load as load_config
from .drift import FORMATS, apply_ignore, compare, exit_code, load_ignore, render
from .errors import GeneratorError
from .fetch import Fetcher, fetch, warn_insecure
from .interfaces import INTERFACES
from .model import Model
from .pipeline import Progress, load_model
from .project import Target, generate, init, init_github


def build_parser() -> argparse.ArgumentParser:
    """The `portabilling-gen` command line: one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="portabilling-gen",
        description="PortaBilling typed bindings generator. Settings come from "
        "[tool.portabilling-gen] in your project's pyproject.toml (see `init`); flags override.",
    )
    parser.add_argument("--version", action="version", version=f"portabilling-gen {__version__}")
    parser.add_argument(
        "--config", type=Path, help="the pyproject.toml to read (default: nearest one up)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_arguments in _COMMANDS:
        add_arguments(sub)
    return parser


EXIT_BAD_INPUT = 2
EXIT_CRASH = 3


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace, Config], int] = args.run
    try:
        return run(args, load_config(args.config))
    except GeneratorError as exc:
        print(f"error: {escaping.text(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # the file system said no (a full disk, a permission): not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {escaping.text(where + (exc.strerror or str(exc)))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # a bug of ours: distinct from a finding (1) and from bad input (2)
        print(
            f"internal error (exit {EXIT_CRASH}): portabilling-gen {__version__} crashed; "
            "please report it with the lines below",
            file=sys.stderr,
        )
        sys.stderr.write(escaping.lines(traceback.format_exc()))
        return EXIT_CRASH


def _init_arguments(sub: Any) -> None:
    p = sub.add_parser("init", help="add a commented [tool.portabilling-gen] section")
    p.add_argument("url", nargs="?", help="https://HOST[:PORT] of your PortaBilling server")
    p.add_argument("--package", default="portabilling", help="package name to generate")
    p.add_argument(
        "--github",
        action="store_true",
        help="also write .github/workflows/portabilling.yml and the composite action it runs",
    )
    p.set_defaults(run=_init)


def _generate_arguments(sub: Any) -> None:
    p = sub.add_parser("generate", help="render the typed package from a WSDL cache")
    _add_input(p)
    p.add_argument("--out", type=Path, help="folder that receives the package")
    p.add_argument("--package", help="package name (folder in --out)")
    p.add_argument("--transport", choices=["json", "soap"], help="the clients' default")
    p.add_argument(
        "--distribution",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also write OUT/pyproject.toml so the package can be pip-installed",
    )
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the output is stale"
    )
    p.set_defaults(run=_generate)


def _model_arguments(sub: Any) -> None:
    p = sub.add_parser("model", help="print the neutral model")
    _add_input(p)
    p.add_argument("--json", action="store_true", help="dump the whole model as JSON")
    p.set_defaults(run=_model)


def _fetch_arguments(sub: Any) -> None:
    p = sub.add_parser("fetch", help="download a server's WSDL/XSD/OpenAPI set into a cache")
    p.add_argument(
        "url",
        nargs="?",
        help="https://HOST[:PORT] of the server (default: the `url` setting of [tool.portabilling-gen])",
    )
    p.add_argument(
        "--out", type=Path, help="cache directory to create (default: the `cache` setting)"
    )
    p.add_argument(
        "--interface",
        action="append",
        choices=INTERFACES,
        help="interface(s) to fetch (repeatable; default: the `interfaces` setting)",
    )
    p.add_argument("--services", help="comma-separated service names (default: discover)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--user", default=os.environ.get("PORTABILLING_USER"))
    p.add_argument("--password", default=os.environ.get("PORTABILLING_PASSWORD"))
    p.add_argument(
        "--allow-host", action="append", default=[], help="also follow schema locations to HOST"
    )
    p.set_defaults(run=_fetch)


def _drift_arguments(sub: Any) -> None:
    p = sub.add_parser(
        "drift",
        help="report API changes between two caches (or a cache and a URL)",
        description="OLD and NEW are caches, plain WSDL folders, or (NEW) a server URL. "
        "With one argument it is NEW, and OLD is the project's cache; with none, NEW is the "
        "`url` setting of [tool.portabilling-gen].",
    )
    p.add_argument("sources", nargs="*", metavar="[[OLD] NEW]")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--fail-on", choices=["breaking", "warning", "any", "never"])
    p.add_argument(
        "--ignore", type=Path, help="file of rule ids and/or paths to leave out (drift-ignore)"
    )
    p.add_argument(
        "--interface",
        action="append",
        choices=INTERFACES,
        help="interfaces to fetch when NEW is a URL (default: those in OLD)",
    )
    p.add_argument("--insecure", action="store_true", help="(URL) do not verify TLS certificates")
    p.add_argument(  # impact analysis (generator/impact)
        "--impact",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="type-check your code (files or folders) against NEW's package with mypy and report "
        "the lines it breaks instead of the changes; --fail-on then counts those lines",
    )
    p.set_defaults(run=_drift)


def _ci_arguments(sub: Any) -> None:
    p = sub.add_parser(
        "ci",
        help="CI gate: fail on stale bindings, then on drift against the live server",
        description="1) generate --check against the committed cache (before anything "
        "regenerates); 2) fetch the live server into a temporary cache and drift against the "
        "committed cache. Exit 1 when either fails.",
    )
    p.add_argument(
        "--url", help="server URL (default: the `url` setting of [tool.portabilling-gen])"
    )
    p.add_argument("--fail-on", choices=["breaking", "warning", "any", "never"])
    p.add_argument("--report", type=Path, help="write the markdown report here")
    p.add_argument(
        "--annotations",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print GitHub annotations (default: when GITHUB_ACTIONS is set)",
    )
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--user", default=os.environ.get("PORTABILLING_USER"))
    p.add_argument("--password", default=os.environ.get("PORTABILLING_PASSWORD"))
    p.set_defaults(run=_ci)


def _simulate_arguments(sub: Any) -> None:
    from .simulator.command import add_arguments

    add_arguments(sub).set_defaults(run=_simulate)


def _events_arguments(sub: Any) -> None:
    from .simulator.control import add_arguments

    add_arguments(sub)


def _conformance_arguments(sub: Any) -> None:
    p = sub.add_parser(
        "conformance",
        help="call a server's read-only operations and report how its replies fit the bindings",
    )
    p.add_argument(
        "url",
        nargs="?",
        help="https://HOST[:PORT] of the PortaBilling server "
        "(default: the `url` setting of [tool.portabilling-gen])",
    )
    p.add_argument(
        "--package", help="the generated bindings to use (default: the `package` setting)"
    )
    p.add_argument(
        "--path", type=Path, help="folder holding the bindings (default: the `out` setting)"
    )
    p.add_argument("--interface", choices=INTERFACES, default="admin")
    p.add_argument("--transport", choices=["json", "soap"], default="json")
    p.add_argument("--user", default=os.environ.get("PORTABILLING_USER"))
    p.add_argument("--password", default=os.environ.get("PORTABILLING_PASSWORD"))
    p.add_argument("--token", default=os.environ.get("PORTABILLING_TOKEN"))
    p.add_argument(
        "--operation",
        action="append",
        default=[],
        help="only this operation, e.g. Account.get_account_list (repeatable; get_* only)",
    )
    p.add_argument("--max-calls", type=int, default=200)
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("--output", type=Path, help="write the report here (default stdout)")
    p.set_defaults(run=_conformance)


def _add_input(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--cache", type=Path, help="cache directory (default: the `cache` setting)")
    group.add_argument("--wsdl", type=Path, help="a plain directory of WSDLs, or one WSDL file")


def open_source(path: Path) -> InputSet:
    """A cache (it has a manifest) or a plain folder / WSDL file."""
    if not path.exists():
        raise GeneratorError("no such file or directory", file=str(path))
    if path.is_dir() and (path / MANIFEST).is_file():
        return open_cache(str(path))
    return open_plain(str(path))


def _inputs(args: argparse.Namespace, config: Config) -> InputSet:
    if args.wsdl is not None:
        return open_plain(str(args.wsdl))
    if args.cache is not None:
        return open_cache(str(args.cache))
    cache = resolve(config, config.cache)
    if not cache.exists():
        raise GeneratorError(
            "the project's cache does not exist yet; run `portabilling-gen fetch` first "
            "(or pass --cache / --wsdl)",
            file=str(cache),
        )
    return open_source(cache)


def _load(args: argparse.Namespace, config: Config) -> Model:
    return load_model(
        _inputs(args, config), progress=_progress_bar() if sys.stderr.isatty() else None
    )


def _init(args: argparse.Namespace, config: Config) -> int:
    if args.github and config.source is not None and config.given:
        print(f"keeping [tool.portabilling-gen] in {config.source}")
    else:
        path = init(Path.cwd(), args.url, args.package)
        print(f"wrote [tool.portabilling-gen] into {path}")
    if args.github:
        for written in init_github(Path.cwd()):
            print(f"wrote {written}")
    print("next: portabilling-gen fetch, then portabilling-gen generate")
    return 0


def _target(args: argparse.Namespace, config: Config) -> Target:
    """Where the package goes: flags where given, the project's settings otherwise."""
    out, package = getattr(args, "out", None), getattr(args, "package", None) or config.package
    distribution = getattr(args, "distribution", None)
    if not package.isidentifier():
        raise GeneratorError(f"--package {package!r} is not a valid Python package name")
    if out is None:
        out = resolve(config, config.out)
        resolve(config, config.out / package)  # the package folder may be a symbolic link too
    return Target(
        out=out,
        package=package,
        transport=getattr(args, "transport", None) or config.transport,
        distribution=config.distribution if distribution is None else distribution,
    )


def _generate(args: argparse.Namespace, config: Config) -> int:
    return generate(_load(args, config), _target(args, config), check=args.check)


def _model(args: argparse.Namespace, config: Config) -> int:
    model = _load(args, config)
    if args.json:
        sys.stdout.write(model.to_json())
        return 0
    for iface in model.interfaces:
        print(escaping.text(f"{iface.name}: {len(iface.services)} services"))
        for svc in iface.services:
            json_only = sum(op.transports == "json" for op in svc.operations)
            print(
                escaping.text(f"  {svc.name}: {len(svc.operations)} operations")
                + (f" ({json_only} JSON-only)" if json_only else "")
            )
    print(f"types: {len(model.types)}; warnings: {len(model.warnings)}")
    for w in model.warnings:
        print(f"warning: {escaping.text(w)}")
    return 0


def _fetcher(url: str, args: argparse.Namespace, interfaces: list[str]) -> Fetcher:
    if getattr(args, "insecure", False):
        warn_insecure()
    user, password = getattr(args, "user", None), getattr(args, "password", None)
    services = getattr(args, "services", None)
    return Fetcher(
        url,
        interfaces=interfaces,
        services=[s.strip() for s in services.split(",") if s.strip()] if services else None,
        concurrency=getattr(args, "concurrency", 8),
        retries=getattr(args, "retries", 3),
        verify=not getattr(args, "insecure", False),
        auth=(user, password) if user and password else None,
        allow_hosts=getattr(args, "allow_host", []),
        progress=_progress_bar() if sys.stderr.isatty() else None,
    )


def _fetch(args: argparse.Namespace, config: Config) -> int:
    started = time.perf_counter()
    url = args.url or config.url
    if url is None:
        raise GeneratorError(
            "no server URL: pass one, or set `url` in [tool.portabilling-gen] (portabilling-gen init)"
        )
    out = args.out if args.out is not None else resolve(config, config.cache)
    interfaces = args.interface or list(config.interfaces)
    result = fetch(url, out, _fetcher(url, args, interfaces))
    for name in result.missing:
        print(
            f"warning: {escaping.text(name)}: the server has no WSDL for this service (HTTP 404)",
            file=sys.stderr,
        )
    size = sum(int(str(f["size"])) for f in result.files)
    print(
        f"fetched {len(result.files)} files ({size} bytes) from {url} into {out}"
        f"{' (release ' + escaping.text(result.release) + ')' if result.release else ''} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _drift_source(
    source: str, args: argparse.Namespace, interfaces: list[str], stack: ExitStack
) -> tuple[Model, list[str] | None, str]:
    """The model of a cache, WSDL folder or (fetched into a temporary cache) server URL, the
    interfaces its manifest says were fetched, and the folder its file names are relative to."""
    if "://" in source:
        target = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "new"
        fetch(source, target, _fetcher(source, args, interfaces))
        path = target
    else:
        path = Path(source)
    inputs = open_source(path)
    model = load_model(inputs, progress=_drift_progress(source))
    fetched = fetched_interfaces(inputs.root) if path.is_dir() else None
    return model, fetched, os.path.dirname(inputs.root)


def _drift(args: argparse.Namespace, config: Config) -> int:
    if len(args.sources) > 2:
        raise GeneratorError("drift takes [OLD] NEW: at most two sources")
    if not args.sources:
        if not config.url:
            raise GeneratorError(
                "drift needs NEW: give a cache, a folder or a URL, or set `url` in "
                "[tool.portabilling-gen]"
            )
        old_source, new_source = str(resolve(config, config.cache)), config.url
    elif len(args.sources) == 1:
        old_source, new_source = str(resolve(config, config.cache)), args.sources[0]
    else:
        old_source, new_source = args.sources
    if "://" in old_source:
        raise GeneratorError(f"OLD must be a cache or WSDL folder, not a URL: {old_source}")
    with ExitStack() as stack:
        old, old_fetched, old_base = _drift_source(old_source, args, [], stack)
        interfaces = args.interface or (
            sorted({i.name for i in old.interfaces} & set(INTERFACES)) or ["admin"]
        )
        new, new_fetched, new_base = _drift_source(new_source, args, interfaces, stack)
        if "://" in new_source and args.interface is None:
            new_fetched = interfaces
        report = compare(
            old,
            new,
            old_fetched=old_fetched,
            new_fetched=new_fetched,
            progress=_drift_progress("comparing"),
            bases=(old_base, new_base),
        )
    if args.impact:  # impact analysis (generator/impact): the user's lines the release breaks
        from .impact.command import drift_command

        fail_on = args.fail_on or config.fail_on
        target = _target(args, config)
        return drift_command(
            config, target, old, new, report, args.impact, fmt=args.format, fail_on=fail_on
        )
    ignore = args.ignore if args.ignore is not None else resolve(config, config.drift_ignore)
    if args.ignore is not None or ignore.exists():
        try:
            text = ignore.read_text(encoding="utf-8")
        except OSError as exc:
            raise GeneratorError(
                f"cannot read ignore file: {exc.strerror}", file=str(ignore)
            ) from None
        report = apply_ignore(report, load_ignore(text, source=str(ignore)))
    sys.stdout.write(render(report, args.format))
    return exit_code(report, args.fail_on or config.fail_on)


def _drift_progress(label: str) -> Progress | None:
    return _progress_bar() if sys.stderr.isatty() else None


def _ci(args: argparse.Namespace, config: Config) -> int:
    from .gate import run

    url = args.url or config.url
    if url is None:
        raise GeneratorError("no server URL: pass --url, or set `url` in [tool.portabilling-gen]")
    annotations = (
        args.annotations
        if args.annotations is not None
        else bool(os.environ.get("GITHUB_ACTIONS"))
    )
    return run(
        config,
        _target(args, config),
        lambda path: load_model(open_source(path)),
        lambda source, interfaces: _fetcher(source, args, interfaces),
        url=url,
        fail_on=args.fail_on or config.fail_on,
        report_path=args.report,
        annotations=annotations,
    )


def _simulate(args: argparse.Namespace, config: Config) -> int:
    from .simulator.command import events_from, run

    source = args.cache if args.cache is not None else resolve(config, config.cache)
    if not source.is_dir():
        raise GeneratorError("not a directory (give a cache made by fetch)", file=str(source))
    inputs = open_source(source)
    try:
        events = events_from(args)
    except ValueError as exc:
        raise GeneratorError(str(exc)) from None
    if args.seed_customers < 0 or args.seed_accounts < 0:
        raise GeneratorError("--seed-customers and --seed-accounts must not be negative")
    if args.seed_accounts and not args.seed_customers:
        raise GeneratorError("--seed-accounts needs --seed-customers (the accounts' owners)")
    seed = (args.seed_customers, args.seed_accounts, args.seed) if args.seed_customers else None
    if seed is None and args.real_server and not args.empty:
        seed = REAL_SERVER_SEED  # a real server has data: conformance finds records to read
    return run(
        inputs,
        source,
        host=args.host,
        port=args.port,
        soap=args.soap,
        login=args.login,
        password=args.password,
        token=args.token,
        real_server=args.real_server,
        events=events,
        inject=tuple(args.inject),
        seed=seed,
    )


# customers, accounts, random seed: what `simulate --real-server` serves unless told otherwise
REAL_SERVER_SEED = (3, 8, 1)


def _conformance(args: argparse.Namespace, config: Config) -> int:
    from . import conformance

    url = args.url or config.url
    if not url:
        raise GeneratorError(
            "no server URL: give it as the argument or set `url` in [tool.portabilling-gen]"
        )
    if not args.user or not (args.password or args.token):
        raise GeneratorError(
            "no credentials: set PORTABILLING_USER and PORTABILLING_PASSWORD (or "
            "PORTABILLING_TOKEN) in the environment, or give --user and --password (or --token)"
        )
    credentials = {"login": args.user}
    credentials.update({"token": args.token} if args.token else {"password": args.password})
    folder = str(Path(args.path or resolve(config, config.out)).resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    report = conformance.run(
        url,
        package=args.package or config.package,
        interface=args.interface,
        transport=args.transport,
        credentials=credentials,
        only=args.operation,
        max_calls=args.max_calls,
    )
    text = conformance.write(report, args.format)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if report.calls and not report.answered:
        print(
            f"conformance: none of the {len(report.calls)} calls was answered: nothing was "
            "checked (the first said: " + escaping.text(report.calls[0].outcome) + ")",
            file=sys.stderr,
        )
        return 1
    return 0


def _progress_bar() -> Progress:
    def show(label: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[-40:]:<40}"
        sys.stderr.write(line)
        if done >= total:
            sys.stderr.write("\r" + " " * len(line) + "\r")
        sys.stderr.flush()

    return show


_COMMANDS: tuple[Callable[[Any], None], ...] = (
    _init_arguments,
    _generate_arguments,
    _model_arguments,
    _fetch_arguments,
    _drift_arguments,
    _ci_arguments,
    _simulate_arguments,
    _events_arguments,
    _conformance_arguments,
)


if __name__ == "__main__":
    sys.exit(main())
