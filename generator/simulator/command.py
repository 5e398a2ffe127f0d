"""`portabilling-gen simulate CACHE`: serve a WSDL cache as a PortaBilling server on loopback.

The typed package is rendered from the cache into a temporary folder (unformatted: nobody reads
it) and imported under a private name; the simulator answers every operation of the cache with
schema-valid data (and keeps customers, accounts and products it is given), over the JSON API
directly and over SOAP through a real SOAP::Lite front when perl has it.
"""

from __future__ import annotations

import importlib
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from ..cache import InputSet
from ..output import write_atomic
from ..pipeline import load_model
from ..render import Renderer
from .calls import Users
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
) -> int:
    """Serve until SIGINT/SIGTERM (or `stop`). `soap=None`: SOAP when SOAP::Lite is usable."""
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
                _announce(
                    running.url, with_soap, login, password, token, cache, model, real_server
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
