"""The runtime's exception types. Messages never contain credentials, session ids or tokens."""

from __future__ import annotations


class PortaBillingError(Exception):
    """Base of every error the bindings raise."""


class Fault(PortaBillingError):
    """The server refused the call (SOAP fault, or JSON API HTTP 500 with faultcode/faultstring)."""

    def __init__(self, faultcode: str, faultstring: str, *, operation: str, detail: object = None):
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.operation = operation
        self.detail = detail
        super().__init__(f"{operation}: {faultcode}: {faultstring}")


class AuthError(Fault):
    """The session or credentials were refused, also after logging in again once."""


class TransportError(PortaBillingError):
    """The call did not produce a usable answer: connection failure, timeout, bad HTTP reply."""

    def __init__(
        self, message: str, *, operation: str, status: int | None = None, excerpt: str = ""
    ):
        self.operation = operation
        self.status = status
        self.excerpt = excerpt
        text = f"{operation}: {message}"
        if status is not None:
            text += f" (HTTP {status})"
        if excerpt:
            text += f": {excerpt!r}"
        super().__init__(text)


class DecodeError(TransportError):
    """The reply arrived but does not match the operation's response type."""


class UnsupportedOperation(PortaBillingError):
    """The operation exists only on the other transport (e.g. a JSON-only method over SOAP)."""
