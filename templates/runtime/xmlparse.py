"""The one way the runtime parses XML: no DTDs, no entities, no network, bounded size and depth.

A billing reply is data from the network; a DOCTYPE in it is either an attack (billion laughs,
external entities reading local files) or a broken proxy, so it is refused rather than parsed.
"""

from __future__ import annotations

import threading

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from .limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from .limits import Limits

# The caps are `limits.Limits` (which started here as XmlLimits: the old name stays).
XmlLimits = Limits


class XmlRefused(ValueError):
    """The document is not acceptable; the message says why."""


def _parser(huge: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_local = threading.local()  # lxml parser objects must not be shared between threads


def _parser_for(huge: bool) -> etree.XMLParser:
    parsers: dict[bool, etree.XMLParser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(huge)
    if parser is None:
        parser = parsers[huge] = _parser(huge)
    return parser


def check_size_and_doctype(content: bytes, limits: Limits) -> None:
    if len(content) > limits.max_bytes:
        raise XmlRefused(
            f"document of {len(content)} bytes exceeds the limit of {limits.max_bytes} "
            "(limit max_bytes)"
        )
    # the first 4 KiB, searched in place (a copy, even stripped, costs more than the search)
    if content.find(b"<!DOCTYPE", 0, 4096) >= 0 or content.find(b"<!ENTITY", 0, 4096) >= 0:
        raise XmlRefused("document type declarations (DTD) are refused")


def parse(content: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    check_size_and_doctype(content, limits)
    try:
        root = etree.fromstring(content, _parser_for(limits.huge_text))
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"malformed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr, unused-ignore]
        raise XmlRefused("document type declarations (DTD) are refused")
    check_depth(root, limits)
    return root


# libxml2 refuses documents nested deeper than this by itself (2048 with huge_tree)
_LIBXML2_DEPTH = 256


def check_depth(root: etree._Element, limits: Limits) -> None:
    """Elements nested deeper than `max_xml_depth`: refused. libxml2 stops at 256 levels by
    itself; below that (or with `huge_text`, which lifts it to 2048) one XPath query asks."""
    depth = limits.max_xml_depth
    if depth >= (2048 if limits.huge_text else _LIBXML2_DEPTH):
        return
    if root.xpath("boolean(/*" + "/*" * depth + ")"):
        raise XmlRefused(f"the document nests deeper than {depth} levels (limit max_xml_depth)")


_BELOW: dict[int, etree.XPath] = {}


def depth_unchecked(limits: Limits) -> bool:
    """Whether libxml2 enforces `max_xml_depth` by itself (the defaults): no query needed."""
    return limits.max_xml_depth >= (2048 if limits.huge_text else _LIBXML2_DEPTH)


def check_depth_below(el: etree._Element, level: int, limits: Limits) -> None:
    """`check_depth` for the subtree of `el`, which sits at `level` (the root is level 1): for
    streamed array items, which leave the tree before the whole document can be checked."""
    depth = limits.max_xml_depth
    if depth_unchecked(limits):
        return
    below = depth - level + 1  # levels below `el` that would be one too many
    if below > 0:
        query = _BELOW.get(below)
        if query is None:
            query = _BELOW[below] = etree.XPath("boolean(" + "/".join(["*"] * below) + ")")
        if not query(el):
            return
    raise XmlRefused(f"the document nests deeper than {depth} levels (limit max_xml_depth)")
