"""`python -m generator`: fetch, generate, model, drift."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .cache import MANIFEST, InputSet, open_cache, open_plain
from .drift import apply_ignore, compare, load_ignore
from .drift_report import FORMATS, exit_code, render
from .errors import GeneratorError
from .fetch import Fetcher, fetch, warn_insecure
from .interfaces import INTERFACES
from .model import Model
from .output import diff_against, format_files, write_atomic
from .pipeline import Progress, load_model
from .render import Renderer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / "wsdl_cache" / "mr105"
DEFAULT_OUT = ROOT / "generated"
DEFAULT_PACKAGE = "portabilling"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m generator", description="PortaBilling typed bindings generator"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="render the typed package from a WSDL cache")
    _add_input(gen)
    gen.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    gen.add_argument("--package", default=DEFAULT_PACKAGE, help="package name (folder in --out)")
    gen.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the output is stale"
    )

    mod = sub.add_parser("model", help="print the neutral model")
    _add_input(mod)
    mod.add_argument("--json", action="store_true", help="dump the whole model as JSON")

    fet = sub.add_parser("fetch", help="download a server's WSDL/XSD/OpenAPI set into a cache")
    fet.add_argument("url", help="https://HOST[:PORT] of the PortaBilling server")
    fet.add_argument("--out", type=Path, required=True, help="cache directory to create")
    fet.add_argument(
        "--interface",
        action="append",
        choices=INTERFACES,
        help="interface(s) to fetch (repeatable; default admin)",
    )
    fet.add_argument("--services", help="comma-separated service names (default: discover)")
    fet.add_argument("--concurrency", type=int, default=8)
    fet.add_argument("--retries", type=int, default=3)
    fet.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    fet.add_argument("--user", default=os.environ.get("PORTABILLING_USER"))
    fet.add_argument("--password", default=os.environ.get("PORTABILLING_PASSWORD"))
    fet.add_argument(
        "--allow-host", action="append", default=[], help="also follow schema locations to HOST"
    )

    dri = sub.add_parser(
        "drift", help="report API changes between two caches (or a cache and a URL)"
    )
    dri.add_argument("old", help="old cache directory")
    dri.add_argument("new", help="new cache directory, or https://HOST[:PORT] to fetch")
    dri.add_argument("--format", choices=FORMATS, default="text")
    dri.add_argument(
        "--fail-on", choices=["breaking", "warning", "any", "never"], default="breaking"
    )
    dri.add_argument("--ignore", type=Path, help="file of rule ids and/or paths to leave out")
    dri.add_argument(
        "--interface",
        action="append",
        choices=INTERFACES,
        help="interfaces to fetch when NEW is a URL (default: those in OLD)",
    )
    dri.add_argument(
        "--insecure", action="store_true", help="(URL) do not verify TLS certificates"
    )

    sim = sub.add_parser(
        "simulate",
        help="serve a cache as a PortaBilling server on loopback (JSON API; SOAP via SOAP::Lite)",
    )
    sim.add_argument("cache", type=Path, help="cache directory (from fetch) or plain WSDL folder")
    sim.add_argument("--port", type=int, default=8444, help="port to listen on (0: any free)")
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    soap = sim.add_mutually_exclusive_group()
    soap.add_argument(
        "--soap", action="store_true", default=None, help="require SOAP (fail without SOAP::Lite)"
    )
    soap.add_argument("--no-soap", dest="soap", action="store_false", help="JSON API only")
    sim.add_argument("--login", default="admin", help="the one user (default admin)")
    sim.add_argument("--password", default="secret", help="its password (default secret)")
    sim.add_argument("--token", default="tok-admin", help="its API token (default tok-admin)")

    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "drift":
            return _drift(args)
        if args.command == "simulate":
            return _simulate(args)
        return _model(args)
    except GeneratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _add_input(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--cache", type=Path, help=f"cache directory (default {DEFAULT_CACHE})")
    group.add_argument("--wsdl", type=Path, help="a plain directory of WSDLs, or one WSDL file")


def _inputs(args: argparse.Namespace) -> InputSet:
    if args.wsdl is not None:
        return open_plain(str(args.wsdl))
    return open_cache(str(args.cache or DEFAULT_CACHE))


def _load(args: argparse.Namespace) -> Model:
    return load_model(_inputs(args), progress=_progress_bar() if sys.stderr.isatty() else None)


def _generate(args: argparse.Namespace) -> int:
    if not args.package.isidentifier():
        raise GeneratorError(f"--package {args.package!r} is not a valid Python package name")
    started = time.perf_counter()
    model = _load(args)
    target = args.out / args.package
    files = format_files(Renderer(model, args.package).files(), previous=target)
    for warning in model.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.check:
        report = diff_against(files, target)
        if report:
            print(f"{target} is stale ({len(report)} files differ); run `make generate`:")
            print("\n".join(report[:20]))
            return 1
        print(f"{target} is up to date")
        return 0
    write_atomic(files, target)
    services = sum(len(i.services) for i in model.interfaces)
    ops = sum(len(s.operations) for i in model.interfaces for s in i.services)
    print(
        f"generated {target}: {len(model.interfaces)} interfaces, {services} services, "
        f"{ops} operations, {len(model.types)} types, {len(files)} files "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _model(args: argparse.Namespace) -> int:
    model = _load(args)
    if args.json:
        sys.stdout.write(model.to_json())
        return 0
    for iface in model.interfaces:
        print(f"{iface.name}: {len(iface.services)} services")
        for svc in iface.services:
            json_only = sum(op.transports == "json" for op in svc.operations)
            print(
                f"  {svc.name}: {len(svc.operations)} operations"
                + (f" ({json_only} JSON-only)" if json_only else "")
            )
    print(f"types: {len(model.types)}; warnings: {len(model.warnings)}")
    for w in model.warnings:
        print(f"warning: {w}")
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


def _fetch(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    interfaces = args.interface or ["admin"]
    result = fetch(args.url, args.out, _fetcher(args.url, args, interfaces))
    for name in result.missing:
        print(
            f"warning: {name}: the server has no WSDL for this service (HTTP 404)", file=sys.stderr
        )
    size = sum(int(str(f["size"])) for f in result.files)
    print(
        f"fetched {len(result.files)} files ({size} bytes) from {args.url} into {args.out}"
        f"{' (release ' + result.release + ')' if result.release else ''} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _drift_model(source: str, args: argparse.Namespace, interfaces: list[str]) -> Model:
    if "://" not in source:
        return load_model(open_cache(source))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "new"
        fetch(source, target, _fetcher(source, args, interfaces))
        return load_model(open_cache(str(target)))


def _drift(args: argparse.Namespace) -> int:
    old = load_model(open_cache(args.old))
    interfaces = (
        args.interface or sorted({i.name for i in old.interfaces} & set(INTERFACES)) or ["admin"]
    )
    new = _drift_model(args.new, args, interfaces)
    report = compare(old, new)
    if args.ignore is not None:
        try:
            text = args.ignore.read_text(encoding="utf-8")
        except OSError as exc:
            raise GeneratorError(
                f"cannot read ignore file: {exc.strerror}", file=str(args.ignore)
            ) from None
        report = apply_ignore(report, load_ignore(text))
    sys.stdout.write(render(report, args.format))
    return exit_code(report, args.fail_on)


def _simulate(args: argparse.Namespace) -> int:
    from .simulator.command import run

    source = args.cache
    if not source.is_dir():
        raise GeneratorError("not a directory (give a cache made by fetch)", file=str(source))
    is_cache = (source / MANIFEST).is_file()
    inputs = open_cache(str(source)) if is_cache else open_plain(str(source))
    return run(
        inputs,
        source,
        host=args.host,
        port=args.port,
        soap=args.soap,
        login=args.login,
        password=args.password,
        token=args.token,
    )


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


if __name__ == "__main__":
    sys.exit(main())
