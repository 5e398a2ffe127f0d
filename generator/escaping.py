"""Text a server wrote, made data in each output format: one escaping function per format.

A server's documents reach our output (schema locations, release strings, type, field and enum
names, documentation, error replies). CI runs that output: GitHub Actions executes a stdout or
stderr line that starts with `::` (leading blanks ignored) or holds `##[` anywhere as a workflow
command (`::add-mask::`, `::error`, `##[set-output ...]`), and renders the markdown report as a
pull-request comment (raw HTML, `@mentions`, links). So every writer passes server text through
the function of its format, and none lets it start a line:

- `text`: a plain stdout/stderr line. Line breaks and other control characters become visible
  escapes (`\\n`, `\\x1b`, `\\u2028`), `##[` becomes `##\\[`, and a line that would start with `::`
  starts with `\\::`. Ordinary text is left as it is, and the function is idempotent, so a writer
  may pass a whole line that holds escaped fragments through it again.
- `command`: one GitHub workflow command (an annotation). Data and property values are escaped
  the way the runner unescapes them (`%25`, `%0D`, `%0A`; properties also `%3A`, `%2C`), so the
  annotation shows what the server wrote (`##[` with a word joiner, U+2060, inside) and nothing
  in it is read as a command.
- `markdown`: inline markdown (prose or a table cell; `code=True`: a code span). No HTML (`<`, `>`
  and `&` become entities), no links, images, emphasis or table cells of the server's (`\\`-escaped),
  no line break (a space), no `@mention` and no autolink (a word joiner, U+2060, after `@` and in
  `://` / `www.`): rendered, it reads as the server wrote it.
- `xml`: text or an attribute for XML 1.0 (JUnit): characters XML cannot hold are `\\uXXXX`, line
  breaks are `&#10;`, and `##[` is `##&#91;`.
- `json_text`: JSON, which escapes control characters already; `##[` inside strings is written
  `##\\u005b` so a JSON report printed in a CI log holds no command either.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _quoteattr

# line breaks (for Python, the runner or a browser) and characters that change how text is shown
_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: object) -> str:
    """`value` (server text) as part of one plain-text output line; see the module docstring."""
    out = _INVISIBLE.sub(lambda m: _visible(m.group()), str(value))
    out = out.replace("##[", "##\\[")
    body = out.lstrip()
    if body.startswith("::"):
        out = out[: len(out) - len(body)] + "\\" + body
    return out


def lines(value: str) -> str:
    """Every line of `value` passed through `text` (a block our code wrote, holding server text)."""
    return "".join(text(line) + "\n" for line in value.splitlines())


def _data(value: str) -> str:
    out = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    # the runner reads a valid `::` line as that command only, but `##[` gets a word joiner too
    # (the runner would show `%5B` as it is): no line of ours holds a second command
    return out.replace("##[", "##\u2060[")


def _property(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """One GitHub workflow command line, `::name k=v,...::message`, every value escaped."""
    if not re.fullmatch(r"[a-z][a-z-]*", name):
        raise ValueError(f"not a workflow command name: {name!r}")
    props = ",".join(
        f"{key}={_property(str(value))}" for key, value in properties.items() if value != ""
    )
    return f"::{name}{' ' + props if props else ''}::{_data(message)}"


_MD_BREAK = re.compile("\r\n|[" + _BREAKS + "]")
_MD_PUNCT = re.compile(r"[\\`*\[\]|~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_LINKISH = re.compile(r"(?i)(@)(?=\w)|(:)(?=//)|(www)(?=\.)")
_MD_BLOCK = re.compile(r"(\s*)([#+=-]|\d+(?=[.)]))")


def markdown(value: object, *, code: bool = False) -> str:
    """`value` (server text) as inline markdown, or with `code` as a whole code span."""
    out = _MD_BREAK.sub(" ", str(value))
    out = _INVISIBLE.sub(lambda m: _visible(m.group()), out)
    if code:  # a code span shows its content as is: only its fence and the table's `|` matter
        out = out.replace("|", "\\|").replace("##[", "##\u2060[")
        fence = "`" * (max((len(r) for r in re.findall("`+", out)), default=0) + 1)
        if not out:
            return "` `"
        # a space each side is stripped when both are there (and the content is not all spaces)
        edges = out[0] + out[-1]
        pad = " " if "`" in edges or (edges == "  " and out.strip(" ")) else ""
        return f"{fence}{pad}{out}{pad}{fence}"
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_PUNCT.sub(lambda m: "\\" + m.group(), out)
    out = _MD_LINKISH.sub(lambda m: m.group() + "\u2060", out)
    block = _MD_BLOCK.match(out)  # never a heading, list or rule where a line starts
    if block:
        lead, mark = block.groups()
        at = len(lead) + len(mark)
        out = f"{lead}{mark}\\{out[at:]}" if mark[0].isdigit() else f"{lead}\\{out[len(lead) :]}"
    return out


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml(value: object, *, attribute: bool = False) -> str:
    """`value` as XML 1.0 character data, or with `attribute` as a quoted attribute value.

    Line breaks are character references and `##[` is `##&#91;`: the same text to an XML reader,
    and no line or command of the server's in a CI log."""
    legal = _XML_ILLEGAL.sub(lambda m: _visible(m.group()), str(value))
    out = _quoteattr(legal) if attribute else _xml_escape(legal, {"\n": "&#10;", "\r": "&#13;"})
    return out.replace("##[", "##&#91;")


def json_text(data: Any, **options: Any) -> str:
    """`json.dumps(data, **options)` with `##[` never in the text (it is only ever in strings)."""
    return json.dumps(data, **options).replace("##[", "##\\u005b")


__all__ = ["command", "json_text", "lines", "markdown", "text", "xml"]
