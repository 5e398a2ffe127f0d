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
    """The server refused the call (SOAP fault, or JSON API HTTP 500 with faultcode/faultstring).

    PortaBilling's codes are dotted: `Server.Account.add_account.duplicate_id` reads as `side`
    ("Server" or "Client"), `service` ("Account"), `method` ("add_account") and `reason`
    ("duplicate_id"); shorter codes leave the parts they lack empty. Codes of the families
    callers branch on raise a subclass (`AuthError`, `PermissionDenied`, `NotFound`,
    `IntegrityError`); any other code arrives as `Fault` itself.
    """

    def __init__(self, faultcode: str, faultstring: str, *, operation: str, detail: object = None):
        self.faultcode = faultcode
        faultstring = redact_text(faultstring)  # servers echo what they were sent
        self.faultstring = faultstring
        self.operation = operation
        self.detail = redact_data(detail)
        self.side, self.service, self.method, self.reason = parse_code(faultcode)
        super().__init__(f"{operation}: {faultcode}: {faultstring}")


class AuthError(Fault):
    """Authentication: the session or credentials were refused (also after logging in again once)."""


class PermissionDenied(Fault):
    """The caller's permissions (ACL) do not allow this call or this record."""


class NotFound(Fault):
    """The record the call names does not exist (or is not visible to the caller)."""


class IntegrityError(Fault):
    """An integrity check refused the change: a duplicate, a record still in use, a conflict."""


def parse_code(code: str) -> tuple[str, str, str, str]:
    """`(side, service, method, reason)` of a dotted fault code; parts it lacks are "".

    Services are capitalised (`Account`), methods are not (`add_account`), which tells
    `Server.Session.alert_...` (service, reason) from `Client.check_auth.envelope_missed`
    (method, reason).
    """
    parts = [p for p in code.split(".") if p]
    side = parts.pop(0) if parts and parts[0] in ("Server", "Client") else ""
    service = parts.pop(0) if len(parts) > 1 and parts[0][:1].isupper() else ""
    method = parts.pop(0) if len(parts) > 1 else ""
    return side, service, method, ".".join(parts)


# The families, by the words PortaBilling's codes use for them (first match wins). The session
# codes of AUTH_FAULTS are authentication whatever their wording.
_FAMILIES: tuple[tuple[type[Fault], list[str]], ...] = (
    (
        AuthError,
        ["auth_failed", "login_failed", "failed_to_login", "wrong_password", "invalid_login"],
    ),
    (AuthError, ["password_expired", "must_change_password"]),
    (
        PermissionDenied,
        ["access_denied", "denied", "permission", "not_allowed", "forbidden", "acl"],
    ),
    (NotFound, ["not_found", "notfound", "no_such", "not_exist"]),
    (
        IntegrityError,
        ["duplicate", "already", "exists", "in_use", "integrity", "constraint", "conflict"],
    ),
    (IntegrityError, ["has_", "still_"]),
)


def fault_class(faultcode: str) -> type[Fault]:
    """The exception class for a fault code: a family where the code names one, else `Fault`."""
    if faultcode in AUTH_FAULTS:
        return AuthError
    _side, service, method, reason = parse_code(faultcode)
    session = method == "check_auth" or (service == "Session" and method in ("", "login"))
    if session and reason:
        return AuthError
    words = reason.lower()
    if not words or not (service or method):
        return Fault  # `Client.NoSuchMethod` and the like: about the call, not a record
    for cls, markers in _FAMILIES:
        if any(m in words for m in markers):
            return cls
    return Fault


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
