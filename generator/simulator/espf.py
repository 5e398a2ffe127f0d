"""The simulator's ESPF side: each change made through the API is posted to the user's receiver as
the provisioning event PortaBilling would send, in order of change, retried with backoff until the
receiver answers `200` (a bounded number of attempts, then the delivery is kept as failed).

A body is `{"event_type": "Subscriber/Created", "variables": {"i_event": "1001", "i_account":
"42"}}` (ids as text, as PortaBilling's own example sends them), with a `Date` header and the
configured `Authorization`: Basic, a custom header value, or none. ESPF's third method,
`Signature keyId=...`, is not offered: PortaBilling's public documents name it but do not define
its signing string, so a receiver checks it with a verifier of its own.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

import httpx

DeliveryState = Literal["pending", "delivered", "failed"]
# how an injected delivery fault behaves: "refused" never reaches the receiver; "timeout" reaches
# it, but its answer is lost (so the retry is a repeat of work the receiver has done); "500"
# answers as a receiver error would, without reaching it
DeliveryFault = Literal["refused", "timeout", "500"]


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery: when, the HTTP status (None: no answer) and the answer's text."""

    at: float
    status: int | None
    answer: str


@dataclass
class Delivery:
    i_event: int
    event_type: str
    variables: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    state: DeliveryState = "pending"

    def body(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "variables": {"i_event": str(self.i_event), **self.variables},
        }

    def summary(self) -> str:
        answers = ", ".join(
            str(a.status) if a.status is not None else a.answer for a in self.attempts
        )
        return f"event {self.i_event} {self.event_type} {self.state} after [{answers}]"


@dataclass(frozen=True)
class EventAuth:
    """How the sender authenticates: `basic(user, password)`, `header(value, name)` or `none()`."""

    kind: Literal["basic", "header", "none"] = "none"
    user: str = ""
    secret: str = field(default="", repr=False)
    header: str = "Authorization"

    @classmethod
    def basic(cls, user: str, password: str) -> EventAuth:
        if not user or not password:
            raise ValueError("Basic authentication needs a user and a password")
        return cls("basic", user, password)

    @classmethod
    def custom(cls, value: str, header: str = "Authorization") -> EventAuth:
        if not value:
            raise ValueError("custom-header authentication needs the header's value")
        return cls("header", "", value, header)

    @classmethod
    def none(cls) -> EventAuth:
        return cls()

    def headers(self) -> dict[str, str]:
        if self.kind == "basic":
            pair = f"{self.user}:{self.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if self.kind == "header":
            return {self.header: self.secret}
        return {}


def post_event(
    url: str,
    body: dict[str, Any],
    auth: EventAuth,
    *,
    timeout: float = 10.0,
    http: httpx.Client | None = None,
) -> httpx.Response:
    """POST one event as ESPF does (JSON body, `Date` header, the configured authorization)."""
    headers = {"Date": formatdate(usegmt=True), **auth.headers()}
    if http is not None:
        return http.post(url, json=body, headers=headers, timeout=timeout)
    with httpx.Client(timeout=timeout) as client:
        return client.post(url, json=body, headers=headers)


# fresh event ids across restarts of the simulator, so a receiver's store that outlives one run
# never takes a new event for a repeat of an old one
_NEXT_EVENT = itertools.count(int(time.time() * 1000) % 10**12 * 10)


def fresh_event_id() -> int:
    return next(_NEXT_EVENT)


class EventSender:
    """Posts events to one receiver from a worker thread, one at a time, in order of change."""

    def __init__(
        self,
        url: str,
        auth: EventAuth | None = None,
        *,
        max_attempts: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        on_done: Callable[[Delivery], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.auth = auth or EventAuth.none()
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.on_done = on_done
        self.deliveries: list[Delivery] = []
        self._queue: deque[Delivery] = deque()
        self._faults: deque[DeliveryFault] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._http = httpx.Client(timeout=timeout)
        self._thread = threading.Thread(target=self._run, name="sim-espf", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"EventSender({self.url!r}, {self.auth.kind})"

    # ---- what the dispatcher and tests call ----------------------------------------------------

    def emit(self, event_type: str, **ids: object) -> Delivery:
        """Queue the event a change makes (ids are sent as text)."""
        delivery = Delivery(fresh_event_id(), event_type, {k: str(v) for k, v in ids.items()})
        return self._enqueue(delivery)

    def redeliver(self, i_event: int) -> Delivery:
        """Send an event again with its `i_event`, as ESPF does when a `200` was lost."""
        old = next((d for d in self.deliveries if d.i_event == i_event), None)
        if old is None:
            raise KeyError(f"no event {i_event} was sent")
        return self._enqueue(Delivery(old.i_event, old.event_type, dict(old.variables)))

    def fail_next(self, attempts: int, how: DeliveryFault = "refused") -> None:
        """Make the next `attempts` delivery attempts fail `how` (see DeliveryFault)."""
        with self._cond:
            self._faults.extend([how] * attempts)

    def failed(self) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries if d.state == "failed"]

    def delivered(self) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries if d.state == "delivered"]

    def wait_idle(self, timeout: float = 15.0) -> list[Delivery]:
        """Wait until every queued event is delivered or failed; returns all deliveries."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    pending = [d.summary() for d in self._queue]
                    raise TimeoutError(f"events still pending after {timeout}s: {pending}")
                self._cond.wait(left)
            return list(self.deliveries)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=self.timeout + 5)
        self._http.close()

    # ---- the worker ----------------------------------------------------------------------------

    def _enqueue(self, delivery: Delivery) -> Delivery:
        with self._cond:
            if self._closed:
                raise RuntimeError("the event sender is closed")
            self.deliveries.append(delivery)
            self._queue.append(delivery)
            self._cond.notify_all()
        return delivery

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                delivery = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(delivery)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if self.on_done is not None:
                self.on_done(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        wait = self.backoff
        for attempt in range(self.max_attempts):
            result = self._attempt(delivery)
            with self._cond:
                delivery.attempts.append(result)
                if result.status == 200:
                    delivery.state = "delivered"
                    return
                if attempt + 1 == self.max_attempts:
                    delivery.state = "failed"
                    return
                if self._cond.wait_for(lambda: self._closed, timeout=wait):
                    delivery.state = "failed"
                    return
            wait = min(wait * 2, self.max_backoff)

    def _attempt(self, delivery: Delivery) -> Attempt:
        with self._cond:
            fault = self._faults.popleft() if self._faults else None
        now = time.time()
        if fault == "refused":
            return Attempt(now, None, "connection refused (injected)")
        if fault == "500":
            return Attempt(now, 500, "internal server error (injected)")
        try:
            reply = post_event(
                self.url, delivery.body(), self.auth, timeout=self.timeout, http=self._http
            )
        except httpx.HTTPError as exc:
            return Attempt(now, None, f"{type(exc).__name__}: {exc}"[:200])
        if fault == "timeout":
            return Attempt(now, None, "timed out (injected; the receiver got the event)")
        return Attempt(now, reply.status_code, reply.text.strip()[:200])
