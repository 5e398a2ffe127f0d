"""pytest fixtures for testing an integration against the simulator: installed with the generator
(entry point `pytest11`, so nothing is added to the generated package or its dependencies), and
inert until a test asks for one of them.

- `portabilling_simulator` (session): the simulator for the project's own bindings, on a free
  loopback port; SOAP through SOAP::Lite when perl has it.
- `portabilling_sim`: the same simulator with a fresh state for this test (no customers, no
  faults, no event sender); `.faults`, `.expire_sessions()`, `.seed(...)`, `.sim` (the dispatcher).
- `portabilling_transport`: "json" and "soap" (a test using it runs once per transport; SOAP is
  skipped with the reason when SOAP::Lite is missing). `portabilling_transports` in the ini
  settings narrows the list.
- `portabilling_client`: a logged-in `AdminClient` on that transport; `portabilling_async_client`:
  an `AsyncAdminClient` to open in the test (`async with portabilling_async_client as client:`).
- `portabilling_events(router)`: the user's `Router` served by a real receiver (uvicorn, a SQLite
  store in the test's tmp_path, Basic authentication) with the simulator posting every change to
  it; `.wait()` returns once each event is handled (or has failed).

The bindings are found from `[tool.portabilling-gen]` (package, out, cache) of the project's
pyproject.toml; the ini settings `portabilling_package`, `portabilling_path` (the folder holding
the package) and `portabilling_cache` override it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .simulator.espf import Delivery, EventSender
    from .simulator.server import Running

LOGIN, PASSWORD = "admin", "secret"  # the simulator's one user (its defaults)
TRANSPORTS = ("json", "soap")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("portabilling_package", "the generated package (default: from pyproject)")
    parser.addini("portabilling_path", "the folder holding it (default: `out` from pyproject)")
    parser.addini("portabilling_cache", "the cache served at /wsdl/ (default: from pyproject)")
    parser.addini("portabilling_transports", "transports portabilling_transport runs", type="args")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "portabilling_transport" in metafunc.fixturenames:
        chosen = metafunc.config.getini("portabilling_transports") or list(TRANSPORTS)
        unknown = [t for t in chosen if t not in TRANSPORTS]
        if unknown:
            raise pytest.UsageError(f"portabilling_transports: {unknown} (json, soap)")
        metafunc.parametrize("portabilling_transport", chosen, indirect=True)


@dataclass(frozen=True)
class Bindings:
    package: str
    path: Path | None  # added to sys.path when the package is not importable as it is
    cache: Path | None


def bindings(config: pytest.Config) -> Bindings:
    """Which package the simulator serves: the ini settings, else `[tool.portabilling-gen]`."""
    from .config import load, resolve

    project = load(cwd=config.rootpath)
    package = config.getini("portabilling_package") or project.package
    path_ini = config.getini("portabilling_path")
    cache_ini = config.getini("portabilling_cache")
    path = config.rootpath / path_ini if path_ini else resolve(project, project.out)
    cache = config.rootpath / cache_ini if cache_ini else resolve(project, project.cache)
    return Bindings(package, path, cache if cache.is_dir() else None)


@pytest.fixture(scope="session")
def portabilling_simulator(pytestconfig: pytest.Config) -> Iterator[Running]:
    from .simulator import serve, soap_lite_missing

    found = bindings(pytestconfig)
    if found.path is not None and str(found.path) not in sys.path:
        sys.path.insert(0, str(found.path))
    try:
        importlib.import_module(found.package)
    except ImportError as exc:
        raise pytest.UsageError(
            f"portabilling: cannot import the bindings {found.package!r} ({exc}); generate them "
            "or name them with the ini settings portabilling_package / portabilling_path"
        ) from None
    with serve(found.package, found.cache, soap=soap_lite_missing() is None) as running:
        yield running


@pytest.fixture
def portabilling_sim(portabilling_simulator: Running) -> Running:
    portabilling_simulator.sim.reset()
    portabilling_simulator.server.inject = None
    return portabilling_simulator


@pytest.fixture
def portabilling_transport(request: pytest.FixtureRequest, portabilling_simulator: Running) -> str:
    transport: str = getattr(request, "param", "json")
    if transport == "soap" and not portabilling_simulator.soap_url:
        from .simulator import soap_lite_missing

        pytest.skip(f"SOAP transport: {soap_lite_missing() or 'the simulator serves JSON only'}")
    return transport


def _package(running: Running) -> Any:
    return importlib.import_module(running.sim.package)


@pytest.fixture
def portabilling_client(portabilling_sim: Running, portabilling_transport: str) -> Iterator[Any]:
    client_class = _package(portabilling_sim).AdminClient
    with client_class(
        portabilling_sim.url, transport=portabilling_transport, login=LOGIN, password=PASSWORD
    ) as client:
        yield client


@pytest.fixture
def portabilling_async_client(portabilling_sim: Running, portabilling_transport: str) -> Any:
    return _package(portabilling_sim).AsyncAdminClient(
        portabilling_sim.url, transport=portabilling_transport, login=LOGIN, password=PASSWORD
    )


class EventLoop:
    """The user's router in a real receiver, fed by the simulator's ESPF sender."""

    def __init__(self, url: str, sender: EventSender) -> None:
        self.url = url
        self.sender = sender

    def wait(self, timeout: float = 15.0) -> list[Delivery]:
        """Every event posted so far handled (answered 200) or failed; all deliveries."""
        return self.sender.wait_idle(timeout)

    def failed(self) -> list[Delivery]:
        return self.sender.failed()


class EventLoops:
    """`portabilling_events(router, attempts=5, backoff=0.05)` starts one receiver."""

    def __init__(self, running: Running, folder: Path) -> None:
        self.running = running
        self.folder = folder
        self.stack = contextlib.ExitStack()

    def __call__(self, router: Any, *, attempts: int = 5, backoff: float = 0.05) -> EventLoop:
        from .simulator.espf import EventAuth, EventSender

        events = importlib.import_module(f"{self.running.sim.package}.events")
        password = secrets.token_urlsafe(16)
        receiver = events.Receiver(
            router,
            store=f"sqlite:///{self.folder / f'events-{id(router)}.db'}",
            auth=events.BasicAuth("portabilling", password),
            client=events.Client(self.running.url, login=LOGIN, password=PASSWORD),
            async_client=events.AsyncClient(self.running.url, login=LOGIN, password=PASSWORD),
        )
        url = self.stack.enter_context(_uvicorn_thread(receiver)) + "/events"
        if self.running.sim.events is not None:
            self.running.sim.events.close()
        sender = EventSender(
            url,
            EventAuth.basic("portabilling", password),
            max_attempts=attempts,
            backoff=backoff,
            timeout=10.0,
        )
        self.running.sim.events = sender
        return EventLoop(url, sender)


@pytest.fixture
def portabilling_events(portabilling_sim: Running, tmp_path: Path) -> Iterator[EventLoops]:
    loops = EventLoops(portabilling_sim, tmp_path)
    try:
        yield loops
    finally:
        if portabilling_sim.sim.events is not None:
            portabilling_sim.sim.events.close()
            portabilling_sim.sim.events = None
        loops.stack.close()


@contextlib.contextmanager
def _uvicorn_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port from a thread."""
    try:
        import uvicorn
    except ImportError:
        pytest.fail("portabilling_events serves the receiver with uvicorn: pip install uvicorn")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        if not server.started:
            raise RuntimeError("the event receiver did not start (see the log above)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
