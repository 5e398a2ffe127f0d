"""The SOAP reply path: an HTTP response (plain, or multipart with attachments) -> typed result.

`decode_reply` is the one entry the client calls. It takes the envelope out of a SOAP with
Attachments message if need be, parses it (`stream`), raises the `Fault` it carries, decodes
the parts by position, as SOAP::Lite names them `s-gensym3` (`decode`), and converts the
plain data into the operation's response type.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from email.message import Message
from typing import Any

import msgspec
from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from .. import tolerant
from ..deviations import log
from ..errors import DecodeError, Fault, TransportError, fault_class
from ..files import add_unreferenced
from ..http_reply import Reply, header
from ..limits import LimitExceeded, Limits
from ..operation import Operation
from ..xmlparse import DEFAULT_LIMITS, XmlRefused, parse
from . import gcpause
from .decode import Doc, decode, generic, keep
from .plan import SOAP12_ENV, SOAP_ENV, plan_for
from .stream import parse_reply

Attachments = dict[str, tuple[bytes, str | None, str]]  # content id -> (bytes, name, MIME type)


def decode_reply(
    op: Operation[Any, Any], response: Reply, limits: Limits, strict: bool = False
) -> tuple[Any, tolerant.DecodeReport | None]:
    """The typed response of `op`, or the `Fault` it carries (SOAP faults come with HTTP 500);
    anything that is not a SOAP envelope is a transport error, and an HTTP error status never
    decodes as a success (a 500 must carry a fault). `strict`: see `decode_envelope`."""
    status = response.status_code
    if "multipart/related" in header(response, "content-type").lower():
        if status not in (200, 500):
            raise TransportError(
                "unexpected HTTP reply", operation=op.qualified_name, status=status
            )
        envelope, attachments = _split_multipart(op, response, limits)
        return _success_only(op, status, envelope, limits, attachments, strict)
    content = response.content
    looks_xml = content.lstrip()[:1] == b"<" and b"Envelope" in content[:2048]
    if status in (200, 500) and looks_xml:
        return _success_only(op, status, content, limits, None, strict)
    raise TransportError(
        "unexpected HTTP reply",
        operation=op.qualified_name,
        status=status,
        excerpt=_excerpt(content),
    )


def _success_only(
    op: Operation[Any, Any],
    status: int,
    content: bytes,
    limits: Limits,
    attachments: Attachments | None,
    strict: bool,
) -> tuple[Any, tolerant.DecodeReport | None]:
    decoded = decode_envelope(op, content, limits, attachments, strict)  # raises its Fault
    if status != 200:
        raise TransportError(
            "HTTP 500 with a reply that is not a SOAP fault",
            operation=op.qualified_name,
            status=status,
            excerpt=_excerpt(content),
        )
    return decoded


def _split_multipart(
    op: Operation[Any, Any], response: Reply, limits: Limits
) -> tuple[bytes, Attachments]:
    """SOAP with Attachments: the root part is the envelope; `cid:` hrefs name the other parts.

    The top level is split here (RFC 2046 delimiter lines), at most `limits.max_parts` parts;
    only each part's headers go to the MIME parser, so a part that is itself multipart stays
    one opaque part instead of being parsed part by part (a nested multipart of a million tiny
    parts would otherwise cost minutes under any `max_parts`). Anything the parser cannot make
    sense of is a DecodeError."""
    where = op.qualified_name
    ctype = response.headers.get("content-type", "")
    mime = Message()
    mime["content-type"] = ctype
    boundary = mime.get_boundary()
    if not boundary or not boundary.isascii() or not boundary.isprintable():
        raise DecodeError(
            "multipart reply without a usable boundary (missing, empty or not ASCII)",
            operation=where,
            excerpt=ctype,
        )
    raw_parts = _mime_parts(response.content, boundary.encode("ascii"), limits.max_parts)
    if raw_parts is None:
        raise DecodeError(
            f"multipart reply with more than {limits.max_parts} parts (limit max_parts)",
            operation=where,
        )
    if not raw_parts:
        raise DecodeError("multipart reply without parts", operation=where)
    try:
        parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
        parts = [parser.parsebytes(raw) for raw in raw_parts]
        envelope = parts[0].get_payload(decode=True)
        attachments: Attachments = {}
        for part in parts[1:]:
            cid = (part.get("content-id") or "").strip().strip("<>")
            payload = part.get_payload(decode=True)
            if cid and isinstance(payload, bytes):
                attachments[cid] = (payload, part.get_filename(), part.get_content_type())
    except (ValueError, LookupError, TypeError, IndexError, UnicodeError) as exc:
        error = DecodeError(f"malformed multipart reply ({type(exc).__name__})", operation=where)
    else:
        if not isinstance(envelope, bytes) or not envelope.strip():
            raise DecodeError("multipart reply without a SOAP envelope", operation=where)
        return envelope, attachments
    raise error  # outside the handler: the reply is not chained to it


def _mime_parts(content: bytes, boundary: bytes, max_parts: int) -> list[bytes] | None:
    """The top-level parts of a multipart body (headers and content each), or None when there
    are more than `max_parts`. A delimiter is `--boundary` at the start of a line, followed by
    optional blanks and the line end; `--boundary--` closes the body (a body left unclosed ends
    where the bytes do). The CRLF before a delimiter belongs to it, not to the part."""
    marker = re.compile(b"--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[bytes] = []
    begun = -1  # where the current part's bytes begin (-1: still in the preamble)
    for found in marker.finditer(content):
        at = found.start()
        if at > 0 and content[at - 1 : at] != b"\n":
            continue  # the boundary text inside a line is no delimiter
        if begun >= 0:
            stop = at - 2 if content[at - 2 : at] == b"\r\n" else max(at - 1, begun)
            parts.append(content[begun:stop])
            if len(parts) > max_parts:
                return None
        if found.group(1):
            return parts
        begun = found.end()
    if begun >= 0:
        parts.append(content[begun:])
    return parts if len(parts) <= max_parts else None


def decode_envelope(
    op: Operation[Any, Any],
    content: bytes,
    limits: Limits = DEFAULT_LIMITS,
    attachments: Attachments | None = None,
    strict: bool = False,
) -> tuple[Any, tolerant.DecodeReport | None]:
    """The typed response of `op` from a SOAP envelope, or the `Fault` it carries. A reply that
    does not fit its types is repaired (see `tolerant`), or refused when `strict`."""
    if len(content) <= gcpause.PAUSE_ABOVE:
        return _decode_envelope(op, content, limits, attachments, strict)
    with gcpause.paused():  # a large reply's records all survive it: see gcpause
        return _decode_envelope(op, content, limits, attachments, strict)


def _decode_envelope(
    op: Operation[Any, Any],
    content: bytes,
    limits: Limits,
    attachments: Attachments | None,
    strict: bool,
) -> tuple[Any, tolerant.DecodeReport | None]:
    where = op.qualified_name
    item_deviations: list[Any] = []
    try:
        root, streamed = parse_reply(op, content, limits, None if strict else item_deviations)
    except XmlRefused as exc:
        error = DecodeError(str(exc), operation=where, excerpt=_excerpt(content))
    except (msgspec.ValidationError, ValueError, TypeError, RecursionError) as exc:
        error = _mismatch(op, exc, content)
    else:
        return _decode_tree(
            op, root, streamed, content, limits, attachments, strict, item_deviations
        )
    raise error  # outside the handler: the reply's bytes are not chained to it


def _decode_tree(
    op: Operation[Any, Any],
    root: etree._Element,
    streamed: dict[Any, list[Any]],
    content: bytes,
    limits: Limits,
    attachments: Attachments | None,
    strict: bool,
    item_deviations: list[Any],
) -> tuple[Any, tolerant.DecodeReport | None]:
    where = op.qualified_name
    body = _body(root, where, content)
    first = next(body.iterchildren(etree.Element), None)
    if first is None:
        raise DecodeError("the SOAP Body is empty", operation=where, excerpt=_excerpt(content))
    tag = first.tag  # tags, not QName objects: this runs once per call
    if tag in _FAULTS:
        raise _fault(first, body, where, limits)
    cls = op.response
    if cls is None:
        return None, None
    name = tag.rpartition("}")[2]
    if (
        op.soap_style != "document/literal"
        and name.endswith("Response")
        and name.lower() != f"{op.name}Response".lower()
    ):
        raise DecodeError(
            f"the reply is {name}, not {op.name}Response (a reply to another method)",
            operation=where,
            excerpt=_excerpt(content),
        )

    def fail(message: str) -> DecodeError:
        return DecodeError(message, operation=where, status=200, excerpt=_excerpt(content))

    def data_of(body: etree._Element, keep_unknown: bool) -> Any:
        try:
            doc = Doc(body, attachments, scan_base64=b"base64" in content, limits=limits)
            doc.streamed = {} if keep_unknown else streamed
            doc.keep_unknown = keep_unknown
            return _reply_data(op, body, doc)
        except (msgspec.ValidationError, ValueError, TypeError, RecursionError) as exc:
            raise _mismatch(op, exc, content) from None

    def plain() -> Any:
        # every field, undeclared ones included, from the bytes again: a report kept for later
        # holds the reply's bytes, not its tree (several times as big; any element keeps it)
        try:
            return data_of(_body(parse(content, limits), where, content), True)
        except XmlRefused as exc:
            raise fail(str(exc)) from None

    data = data_of(body, False)
    del body, root, first  # only `plain` outlives this call, and it holds no element
    streamed = {}
    result, report = tolerant.decode(
        where, cls, lambda: msgspec.convert(data, cls, strict=False), plain, fail, strict=strict
    )
    if item_deviations:
        log(item_deviations)
        report = tolerant.DecodeReport(where, cls, (*item_deviations, *report.deviations), plain)
    return result, report


def _reply_data(op: Operation[Any, Any], body: etree._Element, doc: Doc) -> Any:
    """The reply's plain data: the response part(s) decoded by the schema, attachments added."""
    assert op.response is not None
    first = next(body.iterchildren(etree.Element))
    parts = list(first.iterchildren(etree.Element))
    if op.soap_style == "document/literal":
        data: Any = decode(first, None, op.response, doc)  # the part's element itself
    elif op.response_wrapped:
        fields = plan_for(op.response)
        data = {}
        for (wire, spec, plan), part in zip(fields.decode.values(), parts, strict=False):
            data[wire] = decode(part, spec, plan, doc)
        if doc.keep_unknown:  # parts beyond the declared ones
            for part in parts[len(fields.decode) :]:
                keep(data, etree.QName(part).localname, generic(part, doc))
    elif parts:
        data = decode(parts[0], None, op.response, doc)
    else:
        data = {}
    unused = [a for cid, a in doc.attachments.items() if cid not in doc.used]
    if unused:
        data = add_unreferenced(op, data, unused[0])
    return data


def _mismatch(op: Operation[Any, Any], exc: BaseException, content: bytes) -> DecodeError:
    if isinstance(exc, LimitExceeded):
        message = str(exc)
    elif isinstance(exc, RecursionError):
        message = "the reply nests or refers too deep to decode"
    else:
        name = op.response.__name__ if op.response else "None"
        message = f"reply does not match {name}: {exc}"
    return DecodeError(message, operation=op.qualified_name, status=200, excerpt=_excerpt(content))


_FAULTS = frozenset(f"{{{ns}}}Fault" for ns in (SOAP_ENV, SOAP12_ENV))
_BODY_OF = {f"{{{ns}}}Envelope": f"{{{ns}}}Body" for ns in (SOAP_ENV, SOAP12_ENV)}


def _body(root: etree._Element, where: str, content: bytes) -> etree._Element:
    body_tag = _BODY_OF.get(root.tag)
    if body_tag is None:
        raise DecodeError(
            "the reply is not a SOAP envelope", operation=where, excerpt=_excerpt(content)
        )
    body = next(root.iterchildren(body_tag), None)  # in C: `find` walks its path in Python
    if body is None:
        raise DecodeError(
            "the SOAP envelope has no Body", operation=where, excerpt=_excerpt(content)
        )
    return body


def _fault(el: etree._Element, body: etree._Element, where: str, limits: Limits) -> Fault:
    """A SOAP 1.1 (or 1.2) fault with PortaBilling's dotted code, the envelope prefix dropped.

    The `<detail>` is decoded inside the error handling: one that cannot be (a dangling or
    circular reference, bad base64, too many multi-refs) leaves `detail` None, and the fault
    is raised all the same."""
    ns = etree.QName(el).namespace
    if ns == SOAP12_ENV:
        code = el.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        text = el.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        detail_el = el.find(f"{{{ns}}}Detail")
    else:
        code = el.findtext("faultcode") or el.findtext(f"{{{ns}}}faultcode") or ""
        text = el.findtext("faultstring") or el.findtext(f"{{{ns}}}faultstring") or ""
        detail_el = el.find("detail")
    code = code.strip()
    if ":" in code:
        code = code.split(":", 1)[1]
    detail = None
    if detail_el is not None:
        try:
            detail = generic(detail_el, Doc(body, limits=limits))
        except (ValueError, TypeError, RecursionError):
            detail = None
    return fault_class(code)(code, text.strip(), operation=where, detail=detail)


def _excerpt(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")
