"""Characters a request string may carry, on either transport.

XML 1.0 cannot carry some characters at all, even escaped (control characters, lone surrogates,
noncharacters): such a string cannot go over SOAP. The JSON API refuses them too, so that the same
request is sendable, or refused, alike on both transports: the request checks (`validate`), the
SOAP encoder and the JSON transport's `auth_info` all ask here.
"""

from __future__ import annotations

import re

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def not_xml(value: str) -> str:
    """Why `value` cannot go over XML 1.0, for an error message ("" when it can)."""
    found = NOT_XML.search(value)
    if found is None:
        return ""
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        kind = "a lone surrogate"
    elif char in "\ufffe\uffff":
        kind = "a noncharacter"
    else:
        kind = "control characters"
    return f"contains characters XML 1.0 cannot carry ({kind})"
