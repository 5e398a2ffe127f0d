"""A PortaBilling simulator for local integration tests: `portabilling-gen simulate CACHE`.

`serve()` starts it in-process (tests, scripts); `command.run()` is the CLI behind `simulate`.
`dispatch` is the server's state and business logic, `calls` what reaches it, `data` the wire form
and paging, `defaults` the default replies, `server` the HTTP server, `soap_lite` the SOAP::Lite
front (`soap_front.pl`).
"""

from __future__ import annotations

from .calls import PDF, Call, Session, SimFault, Users
from .defaults import default_instance
from .dispatch import Dispatcher
from .server import Running, serve
from .soap_lite import soap_lite_missing

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
