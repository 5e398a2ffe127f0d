"""A PortaBilling simulator for local integration tests: `portabilling-gen simulate CACHE`.

`serve()` starts it in-process (tests, scripts); `command.run()` is the CLI behind `simulate`.
"""

from __future__ import annotations

from .server import (
    PDF,
    Call,
    Dispatcher,
    Running,
    Session,
    SimFault,
    Users,
    default_instance,
    serve,
    soap_lite_missing,
)

__all__ = [
    "PDF",
    "Call",
    "Dispatcher",
    "Running",
    "Session",
    "SimFault",
    "Users",
    "default_instance",
    "serve",
    "soap_lite_missing",
]
