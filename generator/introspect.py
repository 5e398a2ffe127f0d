"""What a generated package offers, read from the package itself: its interfaces' operations.

The simulator answers every operation it finds here; the conformance report calls the safe ones.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def operations(package: str, interface: str) -> list[tuple[str, Any]]:
    """(client attribute, Operation) for every operation of `interface` in the bindings, by
    service module name."""
    runtime = importlib.import_module(f"{package}._runtime.operation")
    pkg = importlib.import_module(f"{package}.{interface}")
    found: list[tuple[str, Any]] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{interface}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, runtime.Operation):
                found.append((info.name, value))
    return found


def interfaces(package: str) -> list[str]:
    """The interfaces the package was generated with (its sub-packages), by name."""
    pkg = importlib.import_module(package)
    return sorted(
        info.name
        for info in pkgutil.iter_modules(pkg.__path__)
        if info.ispkg and not info.name.startswith("_") and info.name != "types"
    )


def operations_by_key(package: str) -> dict[tuple[str, str], Any]:
    """Every operation of the package by (service, method); the first interface (by name) that
    has a service of that name wins."""
    ops: dict[tuple[str, str], Any] = {}
    for interface in interfaces(package):
        for _, op in operations(package, interface):
            ops.setdefault((op.service, op.name), op)
    return ops
