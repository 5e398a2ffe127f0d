"""XML Schema names of `client.tokens`' structs, as PortaBilling's Session service types them."""

from __future__ import annotations

from typing import Any

NS0 = "{http://schemas.portaone.com/soap}"
XSD = "{http://www.w3.org/2001/XMLSchema}"

TYPES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "RefreshAccessTokenRequest": (
        NS0 + "RefreshAccessTokenRequest",
        {"refresh_token": XSD + "string"},
        {},
    ),
    "RefreshAccessTokenResponse": (
        NS0 + "RefreshAccessTokenResponse",
        {"access_token": XSD + "string"},
        {},
    ),
}
