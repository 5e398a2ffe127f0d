"""What a transport needs to know about one operation, emitted once per operation by the generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Req = TypeVar("Req")
Resp = TypeVar("Resp")

# Reads by PortaBilling's naming convention: safe to send twice after a connection error.
_READ_PREFIXES = (
    "get_",
    "list_",
    "search_",
    "check_",
    "validate_",
    "ping",
    "estimate_",
    "export_",
)


@dataclass(frozen=True, slots=True)
class Operation(Generic[Req, Resp]):
    service: str  # PortaBilling service name: `/rest/{service}/{name}`
    name: str  # method name on the wire
    namespace: str  # SOAP body namespace; SOAP::Lite dispatches on it
    soap_action: str
    endpoint_path: str  # path of the WSDL soap:address, rebased onto the client's base URL
    request: type[Req] | None
    response: type[Resp] | None
    request_wrapped: bool = False  # the request struct's fields are separate message parts
    response_wrapped: bool = False
    json_only: bool = False
    deprecated: bool = False
    parts: tuple[str, ...] = ()  # SOAP accessor names of the request message parts
    auth: bool = True  # sends auth_info (all but Session.login / change_password)
    auth_header: tuple[str, str] = ("auth_info", "")  # SOAP header part name and its xsi:type
    page_field: str | None = None  # for get_*_list with limit/offset: the list being paged

    @property
    def read_only(self) -> bool:
        """Reads may be retried after a connection error; writes never are, unless asked."""
        return self.name.startswith(_READ_PREFIXES)

    @property
    def qualified_name(self) -> str:
        return f"{self.service}.{self.name}"
