"""`python -m generator`: generate, model (fetch and drift join as sub-commands of their own)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cache import InputSet, open_cache, open_plain
from .errors import GeneratorError
from .model import Model
from .pipeline import Progress, load_model
from .render import Renderer, diff_against, format_files, write_atomic

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

    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
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
    files = format_files(Renderer(model, args.package).files())
    target = args.out / args.package
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
