"""uvicorn's httptools protocol (llhttp, the C parser) with the bounds `guard` describes: the
same `ConnectionLimits` as the h11 protocol, at a fraction of its CPU per request. Imported by
`protocols.guarded_protocol` only when httptools is installed (it comes with `uvicorn[standard]`).

llhttp keeps no bound on the head itself (httptools gathers a header's name and value however
long they grow), so the head is fed to it within a budget: while a request head is incomplete,
at most `max_head` bytes of it reach the parser, and a head that has not ended by then is
answered 431 and its connection closed, whatever else arrived with it. (A pipelined request's
head is counted from the first bytes after the ones that ended the request before it, so it may
get in by up to one read's worth more; memory stays bounded by that read.)
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (  # type: ignore[import-not-found, unused-ignore]
    HttpToolsProtocol,  # optional: imported only once uvicorn and httptools are there
)

from .guard import Guard


class GuardedHttpToolsProtocol(Guard, HttpToolsProtocol):  # type: ignore[misc, unused-ignore]
    """uvicorn's httptools protocol with the bounds of `limits` (set by `guarded_protocol`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # waiting for (the rest of) a request head
        self._head = 0  # bytes of the current head fed to the parser
        self._heads = 0  # request heads read on this connection

    def data_received(self, data: bytes) -> None:
        self._started()
        if self._in_head:
            room = self.limits.max_head - self._head
            if len(data) > room:
                self._head = self.limits.max_head
                heads = self._heads
                if room:
                    super().data_received(data[:room])
                if self.transport.is_closing() or self.parser is None:
                    return
                if self._heads == heads:  # the budget is spent and the head has not ended
                    self._refuse(431)
                    return
                self.data_received(data[room:])  # the body, or a pipelined request's head
                return
            self._head += len(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head = 0
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # the request is read
        self._in_head = True  # a pipelined request's head may follow in the same bytes
        self._head = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._since = self.loop.time()

    def _idle(self) -> bool:
        """No request in progress: the head not complete yet, or kept alive between requests."""
        return self._in_head and self._request_over()

    def _request_over(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _may_answer(self) -> bool:
        return (
            self.cycle is None or self.cycle.response_complete or not self.cycle.response_started
        )
