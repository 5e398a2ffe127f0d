"""The one way the generator parses XML: no DTDs, no entities, no network; errors name file and line."""

from __future__ import annotations

from lxml import etree

from .errors import GeneratorError

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    huge_tree=False,
)


def parse_xml(content: bytes, source: str) -> etree._ElementTree:
    """Parse one document, refusing DTDs outright (they are how entity attacks start)."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise GeneratorError(f"malformed XML: {exc.msg}", file=source, line=line) from None
    tree = root.getroottree()
    if getattr(tree.docinfo, "doctype", ""):
        raise GeneratorError(
            "DTD refused (documents with <!DOCTYPE> are not loaded)", file=source, line=1
        )
    return tree
