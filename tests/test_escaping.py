"""Property tests of generator/escaping: any text a server wrote, through each output format,
stays data. No line it produces starts with `::` or holds `##[` (GitHub Actions would run it as
a workflow command); markdown rendered by GitHub's own renderer (cmark-gfm) holds no element of
the server's and reads as the server wrote it; annotations, JSON and XML give it back exactly."""

from __future__ import annotations

import html
import json
import re

import cmarkgfm
from cmarkgfm.cmark import Options
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from generator import escaping

_NASTY = [
    "::add-mask::hunter2",
    "  ::error file=x::forged",
    "a\n::set-output name=x::y",
    "x\r\n::warning::y",
    "##[set-output name=x;]y",
    "#",
    "#[",
    "<!-- hidden -->No changes.",
    "<img src=x onerror=alert(1)>",
    "@octocat and @org/team",
    "[click](http://evil.example) ![](http://evil.example/t.png)",
    "http://evil.example www.evil.example mail@evil.example",
    "| forged | cell |",
    "`code` *em* _em_ ~~del~~ $x$ \\*",
    "# heading",
    "1. item",
    "- item",
    "\u202egnp.exe\u2028next\x1b[31m\x00\x85",
    "&lt;b&gt; &amp; &#64;x",
]
# server text: anything, with the characters that matter for the formats drawn often
server_text = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from([*_NASTY, ":", "#", "[", "<", ">", "\n", "\r", " ", "\t", "@", "a", "_"]),
        max_size=12,
    ).map("".join),
)


def _command_lines(output: str) -> list[str]:
    """Lines GitHub Actions would run as workflow commands (V2 `::` after blanks, V1 `##[`)."""
    return [
        line
        for line in re.split(r"\r\n|\r|\n", output)
        if line.lstrip().startswith("::") or "##[" in line
    ]


def _shown(value: str, breaks: str = " ") -> str:
    """What a reader should see: line breaks as `breaks`, invisible characters as escapes."""
    value = re.sub("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]", breaks, value)
    return escaping._INVISIBLE.sub(lambda m: escaping._visible(m.group()), value)


@settings(max_examples=400)
@given(server_text, st.sampled_from(["", "error: ", "  ", "x"]))
@example("::add-mask::x", "")
@example("\n::error::x", "")
@example("#", "#")
def test_text_is_one_line_that_runs_nothing(value: str, prefix: str) -> None:
    line = escaping.text(value)
    assert len(line.splitlines()) <= 1 and "\n" not in line and "\r" not in line
    assert not _command_lines(line) and not _command_lines(escaping.text(prefix + line))
    assert escaping.text(line) == line  # idempotent: a writer may escape a whole line again
    ordinary = value.isprintable() and "##[" not in value and not value.lstrip().startswith("::")
    if ordinary:
        assert line == value  # ordinary text reads as it was


@settings(max_examples=400)
@given(server_text, server_text, server_text, st.integers(min_value=0, max_value=10**6))
def test_an_annotation_gives_back_exactly_what_the_server_wrote(
    message: str, file: str, title: str, line: int
) -> None:
    out = escaping.command("error", message, file=file, line=line, title=title)
    assert "\n" not in out and "\r" not in out and out.startswith("::error")
    # parsed as the runner parses a V2 command
    head, sep, data = out[2:].partition("::")
    assert sep
    name, _, props = head.partition(" ")
    assert name == "error"
    unescape = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}

    def back(text: str) -> str:
        text = re.sub("%25|%0D|%0A|%3A|%2C", lambda m: unescape[m.group()], text)
        return text.replace("##\u2060[", "##[")  # the one change: no `##[` in any line

    parsed = dict(p.split("=", 1) for p in props.split(",") if p)
    assert {k: back(v) for k, v in parsed.items()} == {
        k: v for k, v in {"file": file, "line": str(line), "title": title}.items() if v
    }
    assert "##[" not in out
    assert back(data) == message


_OURS = {"table", "thead", "tbody", "tr", "th", "td", "p", "ul", "li", "code"}


def _render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def _text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", fragment)).replace("\u2060", "")


@settings(max_examples=400)
@given(server_text)
@example("<!-- x -->No changes.")
@example("@octocat")
@example("http://evil.example")
def test_markdown_holds_no_element_of_the_servers_and_reads_as_it_was(value: str) -> None:
    cell, code = escaping.markdown(value), escaping.markdown(value, code=True)
    page = f"| a | b |\n|---|---|\n| {cell} | {code} |\n\n- x {cell}\n\nx {cell} {code}\n"
    rendered = _render(page)
    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", rendered))
    assert tags <= _OURS, (page, rendered)
    assert "<!--" not in rendered and not re.search(r"(?<![\w`])@[A-Za-z0-9]", _render(cell))
    assert rendered.count("<tr>") == 2 and rendered.count("<td>") == 2  # no forged cell or row
    td, code_td = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    assert _text_of(td) == _shown(value).strip(" \t")  # readable: what the server wrote
    assert _text_of(code_td) == (_shown(value) or " ")


@settings(max_examples=200)
@given(st.recursive(server_text, lambda kids: st.lists(kids) | st.dictionaries(server_text, kids)))
def test_json_gives_everything_back_and_runs_nothing(data: object) -> None:
    out = escaping.json_text(data, indent=1, ensure_ascii=False)
    assert json.loads(out) == data and not _command_lines(out)


@settings(max_examples=200)
@given(server_text)
def test_xml_is_well_formed_and_keeps_what_xml_can_hold(value: str) -> None:
    document = f"<r a={escaping.xml(value, attribute=True)}>{escaping.xml(value)}</r>"
    assert not _command_lines(document)
    element = etree.fromstring(document)
    legal = escaping._XML_ILLEGAL.sub(lambda m: escaping._visible(m.group()), value)
    assert (element.text or "") == legal and element.get("a") == legal  # line breaks as refs
