"""`portabilling-gen simulate CACHE`: serve a WSDL cache as a PortaBilling server on loopback.

The typed package is rendered from the cache into a temporary folder (unformatted: nobody reads
it) and imported under a private name; the simulator answers every operation of the cache with
schema-valid data (and keeps customers, accounts and products it is given), over the JSON API
directly and over SOAP through a real SOAP::Lite front when perl has it. With `--events-to` each
change is posted to the user's receiver as an ESPF event (one line per finished delivery on
stdout); `--inject` applies fault specs at start, `--seed-accounts` serves a seeded data set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ..cache import InputSet
from ..output import write_atomic
from ..pipeline import load_model
from ..render import Renderer
from .calls import Users
from .espf import Delivery, EventAuth, EventSender
from .faults import parse_spec
from .seed import seed_data
from .server import serve
from .soap_lite import soap_lite_missing

PACKAGE = "_portabilling_simulated"


def run(
    inputs: InputSet,
    cache: Path | None,
    *,
    host: str,
    port: int,
    soap: bool | None,
    login: str,
    password: str,
    token: str,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
    real_server: bool = False,
    events: EventOptions | None = None,
    inject: tuple[str, ...] = (),
    seed: tuple[int, int, int] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or `stop`). `soap=None`: SOAP when SOAP::Lite is usable.
    `seed`: (customers, accounts, random seed)."""
    try:
        specs = [parse_spec(text) for text in inject]
    except ValueError as exc:
        print(f"error: --inject: {exc}", file=sys.stderr)
        return 2
    why = soap_lite_missing()
    if soap and why is not None:
        print(f"error: --soap asked for, but {why}", file=sys.stderr)
        return 2
    with_soap = why is None if soap is None else soap
    if soap is None and why is not None:
        print(f"note: JSON API only: {why}", file=sys.stderr)
    model = load_model(inputs)
    with tempfile.TemporaryDirectory(prefix="portabilling-sim-") as tmp:
        write_atomic(Renderer(model, PACKAGE).files(), Path(tmp) / PACKAGE)
        sys.path.insert(0, tmp)
        try:
            importlib.invalidate_caches()
            importlib.import_module(PACKAGE)
            try:
                serving = serve(PACKAGE, cache=cache, host=host, port=port, soap=with_soap)
                running = serving.__enter__()
            except OSError as exc:  # the port: in use, or not ours to bind
                print(
                    f"error: cannot listen on {host}:{port}: {exc.strerror or exc} (give "
                    "another --port, or --port 0 for any free one)",
                    file=sys.stderr,
                )
                return 2
            try:
                running.sim.users = Users({login: (password, token, None)})
                running.sim.real_server = real_server
                if seed is not None:
                    seed_data(running.sim, customers=seed[0], accounts=seed[1], seed=seed[2])
                if events is not None:
                    running.sim.events = events.sender()
                for spec in specs:
                    print(f"injected: {running.sim.apply(spec)}", file=sys.stderr)
                _announce(
                    running.url, with_soap, login, password, token, cache, model, real_server, seed
                )
                if ready is not None:
                    ready.set()
                _wait(stop)
            finally:
                serving.__exit__(None, None, None)
        finally:
            sys.path.remove(tmp)
            for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
                del sys.modules[name]
    print("simulator stopped", file=sys.stderr)
    return 0


def _announce(
    url: str,
    soap: bool,
    login: str,
    password: str,
    token: str,
    cache: Path | None,
    model: object,
    real_server: bool,
    seed: tuple[int, int, int] | None = None,
) -> None:
    interfaces = ", ".join(i.name for i in getattr(model, "interfaces", []))
    print(f"PortaBilling simulator on {url} ({interfaces})")
    print(f"  JSON API: {url}/rest/{{Service}}/{{method}}")
    if soap:
        print(f"  SOAP:     {url}/Porta/SOAP/{{Service}}  (SOAP::Lite)")
    if cache is not None:
        print(f"  WSDLs:    {url}/wsdl/...  (portabilling-gen fetch {url} --out DIR)")
    print(f"  login {login!r}, password {password!r}, API token {token!r}")
    if real_server:
        print("  mode:     real-server replies (0/1 flags, date-only datetimes, [null] lists,")
        print("            undeclared fields, subscription_list), as real PortaBilling servers")
    if seed is not None:
        print(f"  data:     {seed[0]} customers, {seed[1]} accounts (seeded, seed {seed[2]})")
    print("Ctrl-C stops it.", flush=True)


def _wait(stop: threading.Event | None) -> None:
    done = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _stop(signum: int, frame: FrameType | None) -> None:
            done.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    while not done.wait(0.5):
        pass


class EventOptions:
    """Where and how `--events-to` posts events; the secret comes from the environment."""

    def __init__(
        self, url: str, auth: EventAuth, attempts: int, backoff: float, timeout: float
    ) -> None:
        self.url, self.auth = url, auth
        self.attempts, self.backoff, self.timeout = attempts, backoff, timeout

    def sender(self) -> EventSender:
        return EventSender(
            self.url,
            self.auth,
            max_attempts=self.attempts,
            backoff=self.backoff,
            timeout=self.timeout,
            on_done=_print_delivery,
        )


def _print_delivery(delivery: Delivery) -> None:
    print(delivery.summary(), flush=True)


PASSWORD_ENV = "PORTABILLING_EVENTS_PASSWORD"
HEADER_ENV = "PORTABILLING_EVENTS_AUTHORIZATION"


def add_auth_arguments(p: argparse.ArgumentParser) -> None:
    """How events are authenticated (`simulate --events-to` and `events post`)."""
    auth = p.add_mutually_exclusive_group()
    auth.add_argument(
        "--basic-user", metavar="NAME", help=f"Basic authentication; password in ${PASSWORD_ENV}"
    )
    auth.add_argument(
        "--header-auth",
        nargs="?",
        const="Authorization",
        metavar="HEADER",
        help=f"PortaBilling's custom method: HEADER (default Authorization) = ${HEADER_ENV}",
    )
    auth.add_argument("--no-auth", action="store_true", help="send no credentials")


def event_auth(args: argparse.Namespace) -> EventAuth:
    """The authentication the flags name (ValueError when its secret is not in the environment)."""
    if args.basic_user:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise ValueError(f"--basic-user needs the password in ${PASSWORD_ENV}")
        return EventAuth.basic(args.basic_user, password)
    if args.header_auth:
        value = os.environ.get(HEADER_ENV, "")
        if not value:
            raise ValueError(f"--header-auth needs the header's value in ${HEADER_ENV}")
        return EventAuth.custom(value, args.header_auth)
    if args.no_auth:
        return EventAuth.none()
    raise ValueError("say how events are authenticated: --basic-user, --header-auth or --no-auth")


def add_arguments(sub: Any) -> argparse.ArgumentParser:
    """`simulate`'s flags."""
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="serve a cache as a PortaBilling server on loopback (JSON API; SOAP via SOAP::Lite)",
    )
    p.add_argument(
        "cache",
        type=Path,
        nargs="?",
        help="cache (from fetch) or plain WSDL folder (default: the `cache` setting)",
    )
    p.add_argument("--port", type=int, default=8444, help="port to listen on (0: any free)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    soap = p.add_mutually_exclusive_group()
    soap.add_argument(
        "--soap", action="store_true", default=None, help="require SOAP (fail without SOAP::Lite)"
    )
    soap.add_argument("--no-soap", dest="soap", action="store_false", help="JSON API only")
    p.add_argument("--login", default="admin", help="the one user (default admin)")
    p.add_argument("--password", default="secret", help="its password (default secret)")
    p.add_argument("--token", default="tok-admin", help="its API token (default tok-admin)")
    p.add_argument(
        "--real-server",
        action="store_true",
        help="reply as real servers do: 0/1 flags, date-only datetimes, undeclared fields, ...",
    )
    p.add_argument("--events-to", metavar="URL", help="post ESPF events of each change to URL")
    add_auth_arguments(p)
    p.add_argument("--events-attempts", type=int, default=8, help="attempts per event (8)")
    p.add_argument("--events-backoff", type=float, default=1.0, help="first retry wait (1 s)")
    p.add_argument("--events-timeout", type=float, default=10.0, help="per attempt (10 s)")
    p.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault at start, e.g. Account.get_account_info:fault=CODE:count=2 (repeatable)",
    )
    p.add_argument("--seed-customers", type=int, default=0, help="seed this many customers")
    p.add_argument("--seed-accounts", type=int, default=0, help="and this many accounts")
    p.add_argument("--seed", type=int, default=1, help="random seed of the data set (1)")
    p.add_argument(
        "--empty",
        action="store_true",
        help="with --real-server: start with no data (it seeds 3 customers and 8 accounts)",
    )
    return p


def events_from(args: argparse.Namespace) -> EventOptions | None:
    if not args.events_to:
        return None
    return EventOptions(
        args.events_to,
        event_auth(args),
        args.events_attempts,
        args.events_backoff,
        args.events_timeout,
    )
