"""The runtime's exception types. Messages never contain credentials, session ids or tokens."""

from __future__ import annotations

from .redact import redact_data, redact_text

# Fault codes that mean "the session is gone": log in again once, then retry the call once.
AUTH_FAULTS = frozenset(
    {
        "Server.Session.check_auth.auth_failed",
        "Client.check_auth.envelope_missed",
        "Client.Session.check_auth.failed_to_process_jwt",
        "Client.Session.check_auth.failed_to_process_access_token",
    }
)


class PortaBillingError(Exception):
    """Base of every error the bindings raise."""


class Fault(PortaBillingError):
    """The server refused the call (SOAP fault, or JSON API HTTP 500 with faultcode/faultstring)."""

    def __init__(self, faultcode: str, faultstring: str, *, operation: str, detail: object = None):
        self.faultcode = faultcode
        faultstring = redact_text(faultstring)  # servers echo what they were sent
        self.faultstring = faultstring
        self.operation = operation
        self.detail = redact_data(detail)
        super().__init__(f"{operation}: {faultcode}: {faultstring}")


class AuthError(Fault):
    """The session or credentials were refused, also after logging in again once."""


def fault_class(faultcode: str) -> type[Fault]:
    return AuthError if faultcode in AUTH_FAULTS else Fault


class TransportError(PortaBillingError):
    """The call did not produce a usable answer: connection failure, timeout, bad HTTP reply."""

    def __init__(
        self, message: str, *, operation: str, status: int | None = None, excerpt: str = ""
    ):
        self.operation = operation
        self.status = status
        excerpt = redact_text(excerpt)  # an error page may echo the request it refused
        self.excerpt = excerpt
        text = f"{operation}: {message}" if operation else message
        if status is not None:
            text += f" (HTTP {status})"
        if excerpt:
            text += f": {excerpt!r}"
        super().__init__(text)


class DecodeError(TransportError):
    """The reply arrived but does not match the operation's response type."""


class EncodeError(PortaBillingError, ValueError):
    """The request cannot be sent as given (e.g. a control character over SOAP); nothing was sent."""

    def __init__(self, message: str, *, operation: str):
        self.operation = operation
        super().__init__(f"{operation}: {message}" if operation else message)


class UnsupportedOperation(PortaBillingError):
    """The operation exists only on the other transport (e.g. a JSON-only method over SOAP)."""
