"""What a transport needs to know about one operation, emitted once per operation by the generator."""

from __future__ import annotations

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


class Operation(Generic[Req, Resp]):
    """Emitted once per operation as a module constant; read-only by convention.

    A plain slotted class rather than a dataclass: `dataclasses` pulls in `inspect`, which would
    double the import time of every service module.
    """

    __slots__ = (
        "auth",
        "auth_header",
        "body_element",
        "deprecated",
        "endpoint_path",
        "json_only",
        "name",
        "namespace",
        "page_field",
        "parts",
        "request",
        "request_wrapped",
        "response",
        "response_wrapped",
        "service",
        "soap_action",
        "soap_style",
    )

    def __init__(
        self,
        *,
        service: str,  # PortaBilling service name: `/rest/{service}/{name}`
        name: str,  # method name on the wire
        namespace: str,  # SOAP body namespace; SOAP::Lite dispatches on it
        soap_action: str,
        endpoint_path: str,  # path of the WSDL soap:address, rebased onto the client's base URL
        request: type[Req] | None,
        response: type[Resp] | None,
        request_wrapped: bool = False,  # the request struct's fields are separate message parts
        response_wrapped: bool = False,
        json_only: bool = False,
        deprecated: bool = False,
        parts: tuple[str, ...] = (),  # SOAP accessor names of the request message parts
        auth: bool = True,  # sends auth_info (all but Session.login / change_password)
        auth_header: tuple[str, str] = ("auth_info", ""),  # SOAP header part and its xsi:type
        page_field: str | None = None,  # get_*_list with limit/offset: the list being paged
        soap_style: str = "rpc/encoded",  # the WSDL binding's style/use
        body_element: str = "",  # document/literal: the request part's element, `{ns}name`
    ) -> None:
        self.service = service
        self.name = name
        self.namespace = namespace
        self.soap_action = soap_action
        self.endpoint_path = endpoint_path
        self.request = request
        self.response = response
        self.request_wrapped = request_wrapped
        self.response_wrapped = response_wrapped
        self.json_only = json_only
        self.deprecated = deprecated
        self.parts = parts
        self.auth = auth
        self.auth_header = auth_header
        self.page_field = page_field
        self.soap_style = soap_style
        self.body_element = body_element

    def __repr__(self) -> str:
        return f"Operation({self.service}.{self.name})"

    @property
    def read_only(self) -> bool:
        """Reads may be retried after a connection error; writes never are, unless asked."""
        return self.name.startswith(_READ_PREFIXES)

    @property
    def qualified_name(self) -> str:
        return f"{self.service}.{self.name}"
