"""Files the server sends back (invoice PDFs, call recordings) on either transport.

The JSON API answers a download with the bytes themselves (`Content-Disposition: attachment`);
SOAP either inlines them as base64 or sends a MIME multipart/related message whose envelope points
at the part by `href="cid:..."` (`soap.reply` takes it apart). Both end up in the operation's typed
response: its bytes field holds the content, and its file-name and MIME-type fields (when it has
them) the metadata.
"""

from __future__ import annotations

from email.message import Message
from typing import Any

import msgspec

from .errors import DecodeError
from .http_reply import Reply, header
from .operation import Operation

_NAME_FIELDS = ("file_name", "filename", "name")
_TYPE_FIELDS = ("mime_type", "content_type", "file_type")


def is_attachment(response: Reply) -> bool:
    return header(response, "content-disposition").lower().startswith("attachment")


def file_response(op: Operation[Any, Any], response: Reply) -> Any:
    """The typed response of a download answered with the file itself."""
    message = Message()
    message["content-disposition"] = response.headers.get("content-disposition", "")
    name = message.get_filename()
    ctype = response.headers.get("content-type", "application/octet-stream").split(";")[0]
    return _fill(op, response.content, name, ctype.strip())


def _fill(op: Operation[Any, Any], content: bytes, name: str | None, ctype: str) -> Any:
    if op.response is None:
        raise DecodeError(
            "the server sent a file to an operation without a result", operation=op.qualified_name
        )
    data = add_unreferenced(op, {}, (content, name, ctype))
    if not any(isinstance(v, bytes) for v in data.values()):
        raise DecodeError(
            f"the server sent a file but {op.response.__name__} has no field to hold it",
            operation=op.qualified_name,
        )
    return msgspec.convert(data, op.response, strict=False)


def _holds_bytes(t: Any) -> bool:
    return t is bytes or bytes in getattr(t, "__args__", ())


def add_unreferenced(
    op: Operation[Any, Any], data: Any, attachment: tuple[bytes, str | None, str]
) -> Any:
    """An attachment the envelope did not point at fills the response's empty file fields."""
    if not isinstance(data, dict) or op.response is None:
        return data
    content, name, ctype = attachment
    for f in msgspec.structs.fields(op.response):
        if f.encode_name in data:
            continue
        if _holds_bytes(f.type) and not any(isinstance(v, bytes) for v in data.values()):
            data[f.encode_name] = content
        elif f.encode_name in _NAME_FIELDS and name is not None:
            data[f.encode_name] = name
        elif f.encode_name in _TYPE_FIELDS:
            data[f.encode_name] = ctype
    return data
