"""Parsing a SOAP reply: large ones incrementally, their array items decoded as they are read.

A full lxml tree costs libxml2 some 250 bytes per element, several times the text of a
SOAP::Lite field. Above STREAM_ABOVE bytes the reply is parsed incrementally instead: each item
of a SOAP-ENC array of structs is decoded the moment its end tag is read, then dropped from the
tree, so memory follows the decoded data rather than the document. What remains of the tree is
decoded as usual, with those arrays already filled in. Replies with multi-refs or base64 values
(which need the whole document) take the ordinary path.
"""

from __future__ import annotations

import io
from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from .. import tolerant
from ..operation import Operation
from ..xmlparse import (
    XmlLimits,
    XmlRefused,
    check_depth,
    check_depth_below,
    check_size_and_doctype,
    depth_unchecked,
    parse,
)
from .decode import Doc, is_array, struct_data
from .plan import ARRAY_TYPE, plan_for

STREAM_ABOVE = 8 * 1024 * 1024


def parse_reply(
    op: Operation[Any, Any],
    content: bytes,
    limits: XmlLimits,
    deviations: list[Any] | None = None,
) -> tuple[etree._Element, dict[Any, list[Any]]]:
    """The reply's root element, and the arrays already decoded while parsing (element ->
    typed items; empty unless the reply was large enough to stream). `XmlRefused` if refused.
    Streamed items that do not fit are repaired one by one, their deviations added to
    `deviations`; without that list (strict decoding) the reply is not streamed."""
    if (
        deviations is not None
        and len(content) > STREAM_ABOVE
        and b'href="' not in content
        and b"base64" not in content
    ):
        return parse_streaming(op, content, limits, deviations)
    return parse(content, limits), {}


def parse_streaming(
    op: Operation[Any, Any], content: bytes, limits: XmlLimits, deviations: list[Any]
) -> tuple[etree._Element, dict[Any, list[Any]]]:
    check_size_and_doctype(content, limits)
    # SOAP-ENC array items are `<item>` (SOAP::Lite, and most servers); only their end tags
    # reach Python, so the parse itself stays in C
    events = etree.iterparse(
        io.BytesIO(content),
        events=("end",),
        tag="{*}item",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=limits.huge_text,
        remove_comments=True,
        remove_pis=True,
    )
    doc = Doc(None, scan_base64=False)  # no multi-refs, no base64: the ordinary path takes those
    arrays: dict[Any, tuple[type | None, list[Any]]] = {}
    paths: dict[Any, str] = {}  # array -> its field path (for deviations), found once
    levels: dict[Any, int] = {}  # array -> the level of its items (the root is level 1)
    done: dict[Any, list[Any]] = {}  # array -> items decoded, still in the tree
    unchecked = depth_unchecked(limits)  # libxml2 enforces the depth: items leave at once
    try:
        for _, el in events:
            parent = el.getparent()
            if parent is None:
                continue
            found = arrays.get(parent)
            if found is None:
                outer = parent.getparent()
                if outer is not None and outer.tag.rpartition("}")[2] == "item":
                    continue  # an array inside an array item: decoded with that item
                found = arrays[parent] = (_streamable_item(op, parent), [])
                paths[parent] = _path_of(parent)
                levels[parent] = sum(1 for _ in parent.iterancestors()) + 2  # the items' level
            item_class, items = found
            if item_class is None:
                continue
            # typed at once, so only one item's plain data is alive at a time; an item that
            # does not fit is repaired on its own
            items.append(
                tolerant.convert_item(
                    struct_data(el, plan_for(item_class), doc),
                    item_class,
                    op.qualified_name,
                    f"{paths[parent]}[{len(items)}]",
                    deviations,
                )
            )
            if unchecked:  # the usual case: the item leaves the tree while still in cache
                el.clear()
                parent.remove(el)
                continue
            batch = done.setdefault(parent, [])
            batch.append(el)
            if len(batch) >= _BATCH:
                _drop(parent, batch, levels[parent], limits)
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"malformed XML: {exc}") from None
    for array, batch in done.items():
        _drop(array, batch, levels[array], limits)
    streamed = {array: items for array, (cls, items) in arrays.items() if cls is not None}
    check_depth(events.root, limits)
    return events.root, streamed


# Decoded items leave the tree in batches, each batch depth-checked first (the final check of
# the whole tree cannot see them): one query per batch, as a query costs some µs however small.
# Small batches: items kept in the tree longer are freed cold and mix libxml2's memory with the
# results, a cost that grows with the list (CPU at 100 000 accounts with huge_text: 27.7 s with
# batches of 64, 22.3 s with 8, 23.8 s with a query per item; 17-18 s without any check)
_BATCH = 8


def _drop(array: etree._Element, batch: list[Any], level: int, limits: XmlLimits) -> None:
    """Check the depth of `array`'s decoded items (at `level`), then drop them from the tree."""
    check_depth_below(array, level - 1, limits)
    for el in batch:
        el.clear()
        array.remove(el)
    batch.clear()


def _path_of(array: etree._Element) -> str:
    """The field path of a streamed array, from the response part down (for deviations)."""
    names = [etree.QName(e).localname for e in [array, *array.iterancestors()]][:-4]
    return ".".join(reversed(names))


def _streamable_item(op: Operation[Any, Any], array: etree._Element) -> type | None:
    """The struct class of `array`'s items if it is a marked SOAP-ENC array of structs reached
    through struct fields only (not inside another array's item, which is decoded whole)."""
    if op.response is None or not is_array(array) or "," in (array.get(ARRAY_TYPE) or ""):
        return None
    path = [array, *array.iterancestors()]  # array ... part, response, Body, Envelope
    if len(path) < 5:
        return None
    response, part = path[-3], path[-4]
    position = list(response).index(part)
    if op.response_wrapped:
        entries = list(plan_for(op.response).decode.values())
        if position >= len(entries):
            return None
        plan: Any = entries[position][2]
    elif position == 0:
        plan = op.response
    else:
        return None
    for el in reversed(path[:-4]):  # from the part's first child down to the array
        if not isinstance(plan, type):
            return None
        entry = plan_for(plan).lookup(el.tag)
        if entry is None:
            return None
        plan = entry[2]
    if type(plan) is tuple and isinstance(plan[1], type):
        return plan[1]
    return None
