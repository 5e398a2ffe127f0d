"""`python -m <package>.events serve myapp.handlers --port 8080 --store sqlite:///events.db`.

Secrets come from the environment, never from the command line (other users can read it):
- the API the handlers call: `PORTABILLING_API_URL`, `PORTABILLING_API_LOGIN` and
  `PORTABILLING_API_PASSWORD` or `PORTABILLING_API_TOKEN` (`--api-url`/`--api-login` override the
  first two);
- what PortaBilling sends: `--basic-user NAME` with `PORTABILLING_EVENTS_PASSWORD`, or
  `--header-auth` with `PORTABILLING_EVENTS_AUTHORIZATION` (the exact header value), or
  `--verifier module:callable`; `--no-auth` only behind a proxy that authenticates.
The ASGI server is uvicorn, imported on first use (`pip install uvicorn`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..redact import mask_url
from . import open_store
from .app import Receiver, Router
from .auth import BasicAuth, HeaderAuth, Verifier
from .bounds import ConnectionLimits

log = logging.getLogger("portabilling.events")


class UsageError(Exception):
    pass


def _import(target: str, what: str) -> tuple[Any, str]:
    module_name, _, attr = target.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the handler module sits in the cwd
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import the {what} module {module_name!r}: {exc}") from None
    return module, attr


def load_router(target: str) -> Router:
    """`module` (its one Router) or `module:name`."""
    module, attr = _import(target, "handler")
    if attr:
        router = getattr(module, attr, None)
        if not isinstance(router, Router):
            raise UsageError(f"{target} is not a Router")
        return router
    found = [v for v in vars(module).values() if isinstance(v, Router)]
    if len(found) != 1:
        raise UsageError(
            f"{module.__name__} has {len(found)} Routers; name one as {module.__name__}:NAME"
        )
    return found[0]


def _auth(args: argparse.Namespace, env: Mapping[str, str]) -> Verifier | None:
    if args.basic_user:
        password = env.get("PORTABILLING_EVENTS_PASSWORD")
        if not password:
            raise UsageError("--basic-user needs the password in PORTABILLING_EVENTS_PASSWORD")
        return BasicAuth(args.basic_user, password)
    if args.header_auth:
        value = env.get("PORTABILLING_EVENTS_AUTHORIZATION")
        if not value:
            raise UsageError("--header-auth needs the value in PORTABILLING_EVENTS_AUTHORIZATION")
        return HeaderAuth(value, args.header_auth)
    if args.verifier:
        module, attr = _import(args.verifier, "verifier")
        verifier = getattr(module, attr or "verify", None)
        if not callable(verifier):
            raise UsageError(f"{args.verifier} is not a callable verifier")
        return verifier  # type: ignore[no-any-return]
    return None


def _clients(
    args: argparse.Namespace, env: Mapping[str, str], client_class: Any, async_class: Any
) -> tuple[Any, Any]:
    url = args.api_url or env.get("PORTABILLING_API_URL")
    if not url:
        if not args.no_api:  # every handler would fail on its first read: say so now
            raise UsageError(
                "no PortaBilling API for the handlers: set PORTABILLING_API_URL (or --api-url), "
                "or pass --no-api if they need no client"
            )
        log.info("--no-api: handlers get client=None")
        return None, None
    if client_class is None:
        log.warning("this package has no admin client: handlers get client=None")
        return None, None
    kw: dict[str, Any] = {"transport": args.transport}
    login = args.api_login or env.get("PORTABILLING_API_LOGIN")
    if login:
        kw["login"] = login
        if env.get("PORTABILLING_API_TOKEN"):
            kw["token"] = env["PORTABILLING_API_TOKEN"]
        elif env.get("PORTABILLING_API_PASSWORD"):
            kw["password"] = env["PORTABILLING_API_PASSWORD"]
        else:
            raise UsageError("set PORTABILLING_API_PASSWORD or PORTABILLING_API_TOKEN")
    return client_class(url, **kw), async_class(url, **kw)


def _uvicorn() -> Any:
    try:
        import uvicorn  # type: ignore[import-not-found, unused-ignore]  # optional
    except ImportError:
        raise UsageError("serving needs an ASGI server: pip install uvicorn") from None
    return uvicorn


def serve(
    args: argparse.Namespace, env: Mapping[str, str], client_class: Any, async_class: Any
) -> int:
    uvicorn = _uvicorn()
    from .protocols import server_options

    limits = ConnectionLimits(
        read_timeout=args.read_timeout,
        keep_alive=args.keep_alive,
        max_connections=args.max_connections,
    )
    router = load_router(args.handlers)
    auth = _auth(args, env)
    if auth is None and not args.no_auth:
        raise UsageError("choose --basic-user, --header-auth or --verifier (or --no-auth)")
    store = open_store(args.store)
    client, async_client = _clients(args, env, client_class, async_class)
    app = Receiver(
        router,
        store=store,
        auth=auth,
        client=client,
        async_client=async_client,
        lease=args.lease,
        date_window=args.date_window,
        max_body=args.max_body,
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=args.lease,
        **server_options(limits, args.http),
    )
    log.info("events on http://%s:%d/ (store %s)", host, port, mask_url(args.store))
    print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def purge(args: argparse.Namespace) -> int:
    if not 0 <= args.older_than <= 36500:  # False for NaN
        raise UsageError("--older-than must be between 0 and 36500 days")
    store = open_store(args.store)
    try:
        store.open()
        count = store.purge(args.older_than * 86400)
    finally:
        store.close()
    print(f"forgot {count} handled event(s)")
    return 0


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return int(text)


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Receive PortaBilling provisioning events.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a handler module (uvicorn)")
    s.add_argument("handlers", help="module with one Router, or module:name")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    s.add_argument(
        "--store",
        default="sqlite:///portabilling-events.db",
        help="sqlite:///file.db or postgresql://user@host/db (default %(default)s)",
    )
    s.add_argument(
        "--lease", type=float, default=30.0, help="seconds a claim outlives a dead receiver"
    )
    s.add_argument(
        "--date-window", type=float, help="refuse a Date header further off than this (s)"
    )
    s.add_argument("--max-body", type=int, default=64 * 1024, help="bytes (default %(default)s)")
    s.add_argument(
        "--max-connections",
        type=int,
        default=ConnectionLimits.max_connections,
        help="open connections; beyond it the longest idle one is closed (default %(default)s)",
    )
    s.add_argument(
        "--read-timeout",
        type=float,
        default=ConnectionLimits.read_timeout,
        help="seconds to read one request, head and body (default %(default)s)",
    )
    s.add_argument(
        "--keep-alive",
        type=int,
        default=ConnectionLimits.keep_alive,
        help="seconds an idle connection is kept open (default %(default)s)",
    )
    s.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="HTTP parser: httptools (C, faster) when installed, else h11 (default %(default)s)",
    )
    a = s.add_mutually_exclusive_group()
    a.add_argument(
        "--basic-user", metavar="NAME", help="Basic auth; password in PORTABILLING_EVENTS_PASSWORD"
    )
    a.add_argument(
        "--header-auth",
        nargs="?",
        const="authorization",
        metavar="HEADER",
        help="a header equal to PORTABILLING_EVENTS_AUTHORIZATION (default Authorization)",
    )
    a.add_argument("--verifier", metavar="MODULE:CALLABLE", help="a callable taking the request")
    a.add_argument("--no-auth", action="store_true", help="accept unauthenticated requests")
    s.add_argument("--api-url", help="PortaBilling API base URL (or PORTABILLING_API_URL)")
    s.add_argument(
        "--no-api", action="store_true", help="the handlers need no API client (client=None)"
    )
    s.add_argument("--api-login", help="API login (or PORTABILLING_API_LOGIN)")
    s.add_argument("--transport", choices=["json", "soap"], default="json")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    g = sub.add_parser("purge", help="forget events handled long ago")
    g.add_argument("--store", required=True)
    g.add_argument("--older-than", type=float, default=30.0, metavar="DAYS")
    return p


def main(
    argv: Sequence[str] | None = None,
    *,
    client_class: Any = None,
    async_client_class: Any = None,
    prog: str | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    if prog is None:
        prog = os.path.basename(sys.argv[0]) or "portabilling-events"
    args = parser(prog).parse_args(argv)
    env = os.environ if env is None else env
    logging.basicConfig(
        level=getattr(args, "log_level", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "purge":
            return purge(args)
        return serve(args, env, client_class, async_client_class)
    except (UsageError, ValueError, OSError, RuntimeError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
