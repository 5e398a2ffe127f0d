"""Where a change is in the files: the WSDL/XSD file and the line, read from the parsed XML.

OLD's file (the committed cache) where the thing exists there, NEW's otherwise. Lines come from
the element tree (lxml's `sourceline`), never from searching the text.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace

from lxml import etree

from ..errors import GeneratorError
from ..xmlsafe import parse_xml
from .changes import Change
from .view import View


def locate(c: Change, old: View, new: View, renamed: dict[str, str]) -> Change:
    """`c` with the file and line of what changed (unchanged when neither side knows)."""
    if c.service:
        key = (c.interface, c.service)
        view = old if key in old.services else new
        display = view.wsdl.get(key, "")
        if not display:
            return c
        path = _real(view, display)
        method = c.method
        if c.rule == "method-renamed" and view is old and isinstance(c.old, str):
            method = c.old  # OLD's file has the method under its old name
        return replace(c, file=_shown(view, path), line=_operation_line(path, method))
    if c.type:
        old_name = next((o for o, n in renamed.items() if n == c.type), c.type)
        t, view = old.types.get(old_name), old
        if t is None:
            t, view = new.types.get(c.type), new
        if t is not None and t.origin:
            display, _, line = t.origin.rpartition(":")
            if display and line.isdigit():
                path = _real(view, display)
                at = _field_line(path, int(line), c.field) if c.field else int(line)
                return replace(c, file=_shown(view, path), line=at)
    return c


def _real(view: View, display: str) -> str:
    return os.path.join(view.base, display) if view.base else display


def _shown(view: View, path: str) -> str:
    """A path as a report shows it: relative to the working directory when it is below it."""
    if not view.base:
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


@functools.lru_cache(maxsize=64)
def _elements(path: str) -> tuple[etree._Element, ...]:
    """Every element of the file in document order (none when it cannot be read or parsed)."""
    try:
        with open(path, "rb") as handle:
            tree = parse_xml(handle.read(), path)
    except (OSError, GeneratorError):
        return ()
    return tuple(el for el in tree.iter() if isinstance(el.tag, str))


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _line(el: etree._Element) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


def _operation_line(path: str, method: str) -> int:
    """The line of `method`'s first operation element (its portType's comes first), else 1."""
    if not method:
        return 1
    for el in _elements(path):
        if _local(el) == "operation" and el.get("name") == method:
            return _line(el) or 1
    return 1


def _field_line(path: str, type_line: int, name: str) -> int:
    """The line of element `name` among the fields of the type defined at `type_line` (that line
    when it is not there: an inherited field, or a field the other side added)."""
    node = next((el for el in _elements(path) if _line(el) == type_line), None)
    if node is None:
        return type_line
    if _local(node) == "element":  # a named element holding an anonymous complexType
        node = next(
            (c for c in node if isinstance(c.tag, str) and _local(c) == "complexType"), node
        )
    found = _field_in(node, name)
    return found if found is not None else type_line


def _field_in(node: etree._Element, name: str) -> int | None:
    """Depth first through sequences, choices and extensions, not into nested anonymous types."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        local = _local(child)
        if local == "element" and child.get("name") == name:
            return _line(child)
        if local == "complexType":
            continue
        found = _field_in(child, name)
        if found is not None:
            return found
    return None
