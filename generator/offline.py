"""zeep transport that never touches the network.

Schema locations resolve only to files under the input root; the well-known schemas WSDLs import
without a location (SOAP-ENC, the WSDL namespace, xml:) are bundled. Every document is parsed once
here, safely, and kept so the parser can read what zeep discards (documentation, enumerations,
soapenc array item types) from the same bytes zeep saw.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from urllib.parse import unquote, urlparse

from lxml import etree
from zeep.transports import Transport

from .errors import GeneratorError
from .xmlsafe import parse_xml

SOAP_ENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
SOAP12_ENC_NS = "http://www.w3.org/2003/05/soap-encoding"

_BUNDLED = {
    SOAP_ENC_NS: "soap-encoding.xsd",
    SOAP_ENC_NS.rstrip("/"): "soap-encoding.xsd",
    WSDL_NS: "wsdl.xsd",
    WSDL_NS.rstrip("/"): "wsdl.xsd",
    SOAP12_ENC_NS: "soap12-encoding.xsd",
    XML_NS: "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
}


# Toolkits of the early 2000s (Apache SOAP, Axis 1) wrote schemas in the XML Schema drafts'
# namespaces; their constructs are the 2001 ones, so they are read as such (same byte offsets,
# same line numbers). The one renamed built-in, timeInstant, became dateTime.
_OLD_XSD = (b"http://www.w3.org/1999/XMLSchema", b"http://www.w3.org/2000/10/XMLSchema")


def _modern_xsd(content: bytes) -> bytes:
    for old in _OLD_XSD:
        if old in content:
            content = content.replace(old, b"http://www.w3.org/2001/XMLSchema")
            content = content.replace(b":timeInstant", b":dateTime")
    if b"2003/05/soap-encoding" in content:
        content = _LOCATIONLESS_IMPORT.sub(_bundled_location, content)
    return content


# zeep loads a location-less import only for the SOAP 1.1 namespaces it knows; pointing the SOAP
# 1.2 encoding import at its namespace lets the transport serve the bundled copy (the text stays
# on the same line, so error positions do not move).
_LOCATIONLESS_IMPORT = re.compile(
    rb'(<(?:[\w.-]+:)?import\b(?:(?!schemaLocation)[^>])*?namespace="(http://www\.w3\.org/2003/05/soap-encoding)")'
    rb"(?![^>]*schemaLocation)"
)


def _bundled_location(m: re.Match[bytes]) -> bytes:
    return m.group(1) + b' schemaLocation="' + m.group(2) + b'"'


def _bundled(name: str) -> bytes:
    return resources.files("generator").joinpath("schemas", name).read_bytes()


def to_path(url: str) -> str | None:
    """A local path for a plain path or file: URL, else None."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        return unquote(parsed.path) if parsed.scheme == "file" else url
    return None


class OfflineTransport(Transport):
    """Serves files from under `root` and the bundled schemas; refuses everything else."""

    def __init__(self, root: str, url_map: dict[str, str] | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.root = os.path.realpath(root)
        self.url_map = url_map or {}  # absolute URLs `fetch` saved under the cache
        self.trees: dict[str, etree._ElementTree] = {}
        self._bytes: dict[str, bytes] = {}

    def load(self, url: str) -> bytes:
        if url in _BUNDLED:
            return _bundled(_BUNDLED[url])
        path = self.url_map.get(url) or to_path(url)
        if path is None:
            raise GeneratorError(
                f"network access refused: {url} (only files under {self.root} are read)",
                file=self._referrer(url),
            )
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise GeneratorError(
                f"schema location outside the input directory refused: {path}",
                file=self._referrer(url),
            )
        if real in self._bytes:
            return self._bytes[real]
        try:
            with open(real, "rb") as fh:
                content = fh.read()
        except OSError as exc:
            raise GeneratorError(
                f"cannot read {path}: {exc.strerror}", file=self._referrer(url)
            ) from None
        content = _modern_xsd(content)
        self.trees[real] = parse_xml(content, self.display(real))
        self._bytes[real] = content
        return content

    def display(self, path: str) -> str:
        """A path relative to the input root, for messages that stay readable."""
        real = os.path.realpath(path)
        if real.startswith(self.root + os.sep):
            return os.path.relpath(real, os.path.dirname(self.root))
        return path

    def _referrer(self, url: str) -> str | None:
        """The loaded file (and line) whose import/include/location points at `url`."""
        target = url.rstrip("/")
        for path, tree in self.trees.items():
            for el in tree.iter():
                if not isinstance(el.tag, str):
                    continue
                for attr in ("schemaLocation", "location", "namespace"):
                    value = el.get(attr)
                    if not value:
                        continue
                    absolute = (
                        value if "://" in value else os.path.join(os.path.dirname(path), value)
                    )
                    if (
                        os.path.normpath(absolute).rstrip("/")
                        == os.path.normpath(target).rstrip("/")
                        or value.rstrip("/") == target
                    ):
                        return f"{self.display(path)}:{el.sourceline}"
        return None
