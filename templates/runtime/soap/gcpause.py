"""The cyclic garbage collector held off while a large reply is decoded.

Decoding a large reply creates objects that all survive it (the typed records, their lists),
and no cycles. CPython's collector counts the survivors and, every few hundred, scans them
again; every 25% growth of the old generation it scans the whole heap, the caller's objects
included. At 20 000 accounts that was 18% of the decode's CPU, and the share grows with the
list. Paused, the collector runs once the decode is over, as usual, over what remains.

Pausing is process-wide (the collector is): concurrent decodes share one pause, counted, and
the collector is enabled again only by the decode that disabled it, when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAUSE_ABOVE = 1024 * 1024  # reply bytes: below, the collector costs next to nothing

_lock = threading.Lock()
_active = 0  # decodes in a pause
_disabled_by_us = False


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection while the body runs (callers: replies over PAUSE_ABOVE bytes)."""
    global _active, _disabled_by_us
    with _lock:
        _active += 1
        if _active == 1 and gc.isenabled():
            gc.disable()
            _disabled_by_us = True
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _disabled_by_us:
                _disabled_by_us = False
                gc.enable()
