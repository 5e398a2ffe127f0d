"""What a transport needs to know about one operation, and what a service's operations share."""

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


class ServiceSpec:
    """What the operations of one generated service module share; each may override it.

    A plain slotted class rather than a dataclass: `dataclasses` pulls in `inspect`, which would
    double the import time of every service module.
    """

    __slots__ = ("auth_header", "endpoint_path", "name", "namespace")

    def __init__(
        self,
        name: str,  # PortaBilling service name: `/rest/{name}/{method}`
        *,
        namespace: str,  # SOAP body namespace; SOAP::Lite dispatches on it
        endpoint_path: str,  # path of the WSDL soap:address, rebased onto the client's base URL
        auth_header: tuple[str, str] = ("auth_info", ""),  # SOAP header part and its xsi:type
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.endpoint_path = endpoint_path
        self.auth_header = auth_header

    def __repr__(self) -> str:
        return f"ServiceSpec({self.name})"


class Operation(Generic[Req, Resp]):
    """Emitted once per operation as a module constant; read-only by convention (the names
    derived from its service and name are computed once, here).

    Generated code states only what differs from the service's spec and the defaults below; the
    constructor resolves the rest, so every attribute reads the same for every operation.
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
        "page_key",
        "parts",
        "qualified_name",
        "read_only",
        "request",
        "request_wrapped",
        "response",
        "response_wrapped",
        "rest_path",
        "service",
        "soap_action",
        "soap_style",
    )

    def __init__(
        self,
        spec: ServiceSpec,
        name: str,  # method name on the wire
        request: type[Req] | None,
        response: type[Resp] | None,
        *,
        namespace: str | None = None,  # default: the service's
        soap_action: str = "",  # default: `{namespace}#{name}`
        endpoint_path: str | None = None,  # default: the service's
        request_wrapped: bool = False,  # the request struct's fields are separate message parts
        response_wrapped: bool = False,
        json_only: bool = False,
        deprecated: bool = False,  # calls emit DeprecationWarning
        parts: tuple[str, ...] | None = None,  # SOAP accessors of the request message parts;
        # default: one part named after the request class (none without a request)
        auth: bool = True,  # sends auth_info (all but Session.login / change_password)
        auth_header: tuple[str, str] | None = None,  # default: the service's
        page_field: str | None = None,  # get_*_list with limit/offset: the list being paged
        page_key: str | None = None,  # the attribute naming a paged item: `i_account`
        soap_style: str = "rpc/encoded",  # the WSDL binding's style/use
        body_element: str = "",  # document/literal: the request part's element, `{ns}name`
    ) -> None:
        self.service = spec.name
        self.name = name
        self.qualified_name = f"{spec.name}.{name}"
        # reads may be retried after a connection error; writes never are, unless asked
        self.read_only = name.startswith(_READ_PREFIXES)
        self.rest_path = f"/rest/{spec.name}/{name}"  # the JSON API's
        self.namespace = spec.namespace if namespace is None else namespace
        self.soap_action = soap_action or f"{self.namespace}#{name}"
        self.endpoint_path = spec.endpoint_path if endpoint_path is None else endpoint_path
        self.request = request
        self.response = response
        self.request_wrapped = request_wrapped
        self.response_wrapped = response_wrapped
        self.json_only = json_only
        self.deprecated = deprecated
        if parts is None:
            parts = () if request is None else (request.__name__,)
        self.parts = parts
        self.auth = auth
        self.auth_header = spec.auth_header if auth_header is None else auth_header
        self.page_field = page_field
        self.page_key = page_key
        self.soap_style = soap_style
        self.body_element = body_element

    def __repr__(self) -> str:
        return f"Operation({self.service}.{self.name})"
