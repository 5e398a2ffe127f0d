"""PortaBilling's interfaces and the port each is served on: the one list every stage reads."""

from __future__ import annotations

# https://HOST:PORT/wsdl/{Service}{Interface}Service.wsdl; 443 is plain https (no port in URLs)
DEFAULT_PORTS: dict[str, int] = {"admin": 443, "customer": 8444, "reseller": 8442, "account": 8445}
INTERFACES: tuple[str, ...] = tuple(DEFAULT_PORTS)

# the `{Interface}` of a WSDL file name, as a regex alternative: `Admin|Customer|...`
WSDL_SUFFIXES = "|".join(name.capitalize() for name in INTERFACES)
