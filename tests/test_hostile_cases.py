"""More of issue 13's cases over real sockets: multipart replies (HTTP status, boundary, parts),
XML depth on both SOAP parse paths, bad requests that never reach SOAP::Lite, and DEBUG logs
free of secrets.

Replies that PortaBilling's SOAP::Lite cannot produce (MIME parts, hostile nesting) come from
tests/hostile_server.py; requests go to the simulator's SOAP::Lite front (the `sim` fixture).
Limits are lowered in `Limits(...)` so that every payload stays small.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from .conftest import ROOT
from .hostile_server import Hostile, hostile, reply

SID = "sid-cases-0123456789"

_ENV = (
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
    'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{}</soap:Body></soap:Envelope>'
)
_INFO = _ENV.format(
    '<ns:get_account_infoResponse xmlns:ns="urn:x"><r><account_info><i_account>7</i_account>'
    "</account_info></r></ns:get_account_infoResponse>"
).encode()
_FAULT = _ENV.format(
    "<soap:Fault><faultcode>soap:Server.Account.get_account_info.not_found</faultcode>"
    "<faultstring>no such account</faultstring></soap:Fault>"
).encode()


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


@pytest.fixture
def server() -> Iterator[Hostile]:
    with hostile() as running:
        yield running


def _client(server: Hostile, transport: str = "soap", **kw: Any) -> Any:
    from portabilling import AdminClient

    kw.setdefault("session_id", SID)
    kw.setdefault("retries", 0)
    return AdminClient(server.url, transport=transport, **kw)


def _raw_reply(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """An HTTP/1.1 answer with header bytes exactly as given (not necessarily ASCII)."""
    lines = [b"HTTP/1.1 %d X" % status, b"Content-Length: %d" % len(body)]
    lines += [k + b": " + v for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _multipart(envelope: bytes, *attachments: bytes, boundary: bytes = b"b1") -> bytes:
    """A SOAP-with-Attachments body: the envelope, then one part per attachment (`<a0>`, ...)."""
    out = b"--" + boundary + b"\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n" + envelope
    for n, data in enumerate(attachments):
        out += (
            b"\r\n--" + boundary + b"\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\nContent-ID: <a%d>\r\n\r\n" % n + data
        )
    return out + b"\r\n--" + boundary + b"--\r\n"


_RELATED = b'multipart/related; boundary=b1; type="text/xml"; start="<root>"'


def _serve(server: Hostile, status: int, body: bytes, ctype: bytes = _RELATED) -> None:
    server.script = lambda request: [_raw_reply(status, [(b"Content-Type", ctype)], body)]


# ---- 1. a multipart reply with an HTTP error status is never a success -------------------------


@pytest.mark.parametrize("transport", ["soap", "json"])
def test_multipart_reply_with_http_500_is_never_a_success(server: Hostile, transport: str) -> None:
    from portabilling import DecodeError, Fault, NotFound, TransportError

    # the control: the same message with HTTP 200 is a success over SOAP
    _serve(server, 200, _multipart(_INFO, b"%PDF"))
    with _client(server, transport) as client:
        if transport == "soap":
            assert client.account.get_account_info(i_account=7).account_info.i_account == 7
        else:  # the JSON API never answers in MIME parts
            with pytest.raises(DecodeError):
                client.account.get_account_info(i_account=7)
    # HTTP 500 whose envelope is a success: not a fault, not a result either
    _serve(server, 500, _multipart(_INFO, b"%PDF"))
    with _client(server, transport) as client, pytest.raises(TransportError) as caught:
        client.account.get_account_info(i_account=7)
    assert caught.value.status == 500 and not isinstance(caught.value, Fault)
    # HTTP 500 whose envelope is a fault: that fault (the JSON API has no such reply: an error)
    _serve(server, 500, _multipart(_FAULT, b"%PDF"))
    with _client(server, transport) as client:
        if transport == "soap":
            with pytest.raises(NotFound) as fault:
                client.account.get_account_info(i_account=7)
            assert fault.value.faultcode == "Server.Account.get_account_info.not_found"
        else:
            with pytest.raises(TransportError) as caught:
                client.account.get_account_info(i_account=7)
            assert caught.value.status == 500
    # HTTP 200 carrying a fault (servers that send faults that way): still the fault
    if transport == "soap":
        _serve(server, 200, _multipart(_FAULT))
        with _client(server, transport) as client, pytest.raises(NotFound):
            client.account.get_account_info(i_account=7)
    # other error statuses never reach the decoder
    for status in (400, 503):
        _serve(server, status, _multipart(_INFO))
        with _client(server, transport) as client, pytest.raises(TransportError) as caught:
            client.account.get_account_info(i_account=7)
        assert caught.value.status == status and not isinstance(caught.value, Fault)


# ---- 2. a boundary that cannot be used -----------------------------------------------------------


@pytest.mark.parametrize(
    "ctype",
    [
        "multipart/related; boundary=bé".encode(),  # UTF-8
        "multipart/related; boundary=bé".encode("latin-1"),  # not even UTF-8
        b"multipart/related; boundary=b\x01",
        b'multipart/related; type="text/xml"',  # missing
        b'multipart/related; boundary=""',  # empty
        b"multipart/related; boundary=",
    ],
)
def test_multipart_boundary_that_cannot_be_used_is_a_decode_error(
    server: Hostile, ctype: bytes
) -> None:
    from portabilling import DecodeError

    boundary = ctype.partition(b"boundary=")[2].strip(b'"') or b"b1"
    _serve(server, 200, _multipart(_INFO, b"%PDF", boundary=boundary), ctype)
    with _client(server) as client, pytest.raises(DecodeError) as caught:
        client.account.get_account_info(i_account=7)
    assert "boundary" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_headers_that_are_not_ascii_reach_the_decoders(server: Hostile) -> None:
    """The reply is copied after it is read (decompressed, bounded): header values that are
    not ASCII must survive that copy, and media types match whatever their case."""
    # every byte value, line ends, and lines that nearly are delimiters
    pdf = bytes(range(256)) * 2 + b"\r\n--b\r\n\r" + b"\n--b1x\n"
    envelope = _ENV.format(
        '<get_invoice_pdfResponse xmlns="http://portaone.com/Porta/SOAP/Invoice"><s-gensym3>'
        '<file href="cid:a0"/></s-gensym3></get_invoice_pdfResponse>'
    ).encode()
    headers = [(b"Content-Type", b"Multipart/Related; boundary=b1"), (b"X-Note", "café".encode())]
    server.script = lambda request: [_raw_reply(200, headers, _multipart(envelope, pdf))]
    with _client(server) as client:
        assert client.invoice.get_invoice_pdf(i_invoice=1).file == pdf
    # the JSON API's download: a UTF-8 file name in Content-Disposition
    disposition = "attachment; filename*=UTF-8''rechnung-%C3%A4.pdf; x=ä".encode()
    headers = [
        (b"Content-Type", b"application/pdf"),
        (b"Content-Disposition", disposition),
        (b"Server", "PortaBilling ü".encode()),
    ]
    server.script = lambda request: [_raw_reply(200, headers, pdf)]
    with _client(server, "json") as client:
        result = client.invoice.get_invoice_pdf(i_invoice=1)
    assert result.file == pdf and result.file_name == "rechnung-ä.pdf"


# ---- 3. max_xml_depth and max_parts, each just under and just over -----------------------------


def _listing(chain: int, count: int = 3) -> bytes:
    """An account list whose second item holds an undeclared element nested `chain` deep:
    Envelope 1, Body 2, response 3, part 4, account_list 5, item 6, so the deepest element
    is at level 6 + chain. Enough bytes of it to be streamed once STREAM_ABOVE is lowered."""
    deep = "<x>" * chain + "</x>" * chain
    items = "".join(
        f"<item><i_account>{n}</i_account><id>a{n}</id>{deep if n == 1 else ''}</item>"
        for n in range(count)
    )
    return _ENV.format(
        '<ns:get_account_listResponse xmlns:ns="urn:x"><r>'
        f'<account_list soapenc:arrayType="ns:AccountInfo[{count}]" xsi:type="soapenc:Array">'
        f"{items}</account_list><total>{count}</total></r></ns:get_account_listResponse>"
    ).encode()


@pytest.mark.parametrize(("path", "count"), [("tree", 3), ("streaming", 3), ("streaming", 70)])
def test_max_xml_depth_on_both_parse_paths(
    server: Hostile, path: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed items leave the tree in batches of 64: the deep item is checked in the last
    (partial) batch of 3 items, and in the first full batch of 70."""
    from portabilling import DecodeError, Limits
    from portabilling._runtime.soap import stream as soap_stream

    streamed: list[int] = []
    real = soap_stream.parse_streaming

    def spy(*args: Any) -> Any:
        streamed.append(1)
        return real(*args)

    monkeypatch.setattr(soap_stream, "parse_streaming", spy)
    if path == "streaming":  # streamed from its first byte, not from 8 MB
        monkeypatch.setattr(soap_stream, "STREAM_ABOVE", 0)
    limits = Limits(max_xml_depth=20)
    at_limit, past = _listing(14, count), _listing(15, count)  # deepest at level 20, 21
    server.script = lambda request: [reply(at_limit, 200, "text/xml")]
    with _client(server, limits=limits) as client:
        result = client.account.get_account_list()
    assert [a.i_account for a in result.account_list] == list(range(count))
    server.script = lambda request: [reply(past, 200, "text/xml")]
    with _client(server, limits=limits) as client, pytest.raises(DecodeError) as caught:
        client.account.get_account_list()
    assert "max_xml_depth" in str(caught.value) and caught.value.__context__ is None
    assert len(streamed) == (2 if path == "streaming" else 0)


def test_max_parts_counts_the_parts_of_a_multipart_reply(server: Hostile) -> None:
    from portabilling import DecodeError, Limits

    envelope = _ENV.format(
        '<get_invoice_pdfResponse xmlns="http://portaone.com/Porta/SOAP/Invoice"><s-gensym3>'
        '<file href="cid:a1"/></s-gensym3></get_invoice_pdfResponse>'
    ).encode()
    limits = Limits(max_parts=3)
    _serve(server, 200, _multipart(envelope, b"zero", b"one"))  # three parts: the limit
    with _client(server, limits=limits) as client:
        assert client.invoice.get_invoice_pdf(i_invoice=1).file == b"one"
    _serve(server, 200, _multipart(envelope, b"zero", b"one", b"two"))
    with _client(server, limits=limits) as client, pytest.raises(DecodeError) as caught:
        client.invoice.get_invoice_pdf(i_invoice=1)
    assert "max_parts" in str(caught.value)
    # a part that is itself multipart is one part, its content kept as it came: its own parts
    # are neither counted nor parsed (a million tiny ones would cost minutes to parse)
    inner = b"".join(b"--in\r\nContent-Type: text/plain\r\n\r\n%d\r\n" % n for n in range(500))
    inner += b"--in--"
    nested = _multipart(envelope.replace(b"cid:a1", b"cid:n"), b"zero").replace(
        b"--b1--",
        b"--b1\r\nContent-Type: multipart/mixed; boundary=in\r\nContent-ID: <n>\r\n\r\n"
        + inner
        + b"\r\n--b1--",
    )
    _serve(server, 200, nested)
    with _client(server, limits=limits) as client:
        assert client.invoice.get_invoice_pdf(i_invoice=1).file == inner


# ---- 4. bad SOAP (and JSON) requests never leave the client --------------------------------------


def _bad_requests() -> list[tuple[str, str, dict[str, Any], str]]:
    from portabilling.types import AccountInfo, CustomerInfo

    overflow = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    return [
        (
            "account",
            "update_account",
            {"account_info": AccountInfo(credit_limit=float("nan"))},
            "NaN",
        ),
        (
            "account",
            "update_account",
            {"account_info": AccountInfo(balance=float("-inf"))},
            "infinity",
        ),
        ("account", "add_account", {"account_info": CustomerInfo(name="x")}, "got CustomerInfo"),
        ("account", "get_account_info", {"i_account": "1 OR 1=1"}, "expected int | None, got str"),
        ("account", "add_account", {"account_info": None}, "not nillable"),
        (
            "account",
            "update_account",
            {"account_info": AccountInfo(note="bell\x07")},
            "control characters",
        ),
        (
            "account",
            "update_account",
            {"account_info": AccountInfo(note="a\udc00")},
            "lone surrogate",
        ),
        (
            "currency",
            "convert_amount",
            {"amount": Decimal("NaN"), "from_": "USD", "to": "EUR"},
            "NaN",
        ),
        ("account", "update_account", {"account_info": AccountInfo(last_usage=overflow)}, "UTC"),
    ]


def _counting(sim: Any) -> list[str]:
    """Every request the simulator's front receives (SOAP goes through it to SOAP::Lite)."""
    seen: list[str] = []

    def inject(handler: Any, path: str, body: bytes) -> bool:
        seen.append(path)
        return False  # served as usual

    sim.server.inject = inject
    return seen


@pytest.mark.parametrize("transport", ["soap", "json"])
def test_bad_requests_never_leave_either_client(sim: Any, transport: str) -> None:
    """Not even the login goes out for a request that is refused: the client has credentials
    and no session, so the first call would log in."""
    from portabilling import AdminClient, AsyncAdminClient, EncodeError

    seen = _counting(sim)
    cases = _bad_requests()
    extra = {"note": float("nan")}  # undeclared parameters are checked the same way

    def check(error: EncodeError, method: str, words: str) -> None:
        assert str(error).split(": ")[0].endswith(f".{method}"), str(error)
        assert words in str(error), str(error)
        assert error.__context__ is None and error.__cause__ is None

    with AdminClient(sim.url, transport=transport, login="admin", password="secret") as client:
        for service, method, fields, words in cases:
            with pytest.raises(EncodeError) as caught:
                getattr(getattr(client, service), method)(**fields)
            check(caught.value, method, words)
        with pytest.raises(EncodeError) as caught:
            client.account.with_options(extra_params=extra).get_account_info(i_account=1)
        check(caught.value, "get_account_info", "extra parameter note: NaN")

    async def main() -> None:
        async with AsyncAdminClient(
            sim.url, transport=transport, login="admin", password="secret"
        ) as client:
            for service, method, fields, words in cases:
                with pytest.raises(EncodeError) as caught:
                    await getattr(getattr(client, service), method)(**fields)
                check(caught.value, method, words)

    asyncio.run(main())
    assert seen == [] and sim.sim.calls == []
    # the control: a good request from the same client goes out (login, call, logout)
    with AdminClient(sim.url, transport=transport, login="admin", password="secret") as client:
        assert client.customer.get_customer_list().customer_list == []
    assert [c.method for c in sim.sim.calls] == ["login", "get_customer_list", "logout"]
    assert all(c.transport == transport for c in sim.sim.calls)


def test_auth_values_json_cannot_carry_are_refused_before_sending(server: Hostile) -> None:
    """What SOAP refuses in auth_info, JSON refuses too; an access token that cannot go in an
    Authorization header is an EncodeError, not a raw UnicodeEncodeError or a failed connection."""
    from portabilling import EncodeError

    server.script = lambda request: [reply(b"{}")]
    for transport in ("soap", "json"):
        for session_id in ("s\x00x", "s\udc00"):
            with (
                _client(server, transport, session_id=session_id) as client,
                pytest.raises(EncodeError, match=r"session_id: contains characters XML 1\.0"),
            ):
                client.account.get_account_info(i_account=1)
    for token in ("tök-1", "a\r\nX-Injected: 1", "a b"):
        with (
            _client(server, "json", session_id=None, access_token=token, json_style="bearer") as c,
            pytest.raises(EncodeError, match="access_token: an Authorization header") as caught,
        ):
            c.account.get_account_info(i_account=1)
        assert token not in str(caught.value) and caught.value.__context__ is None
    assert server.requests == []


# ---- 5. DEBUG logs and exceptions free of secrets -----------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        formatter = logging.Formatter()
        for r in self.records:
            yield r.getMessage()
            yield str(r.msg)
            yield repr(r.args)
            if r.exc_info:
                yield formatter.formatException(r.exc_info)


@pytest.fixture
def debug_logs() -> Iterator[_Records]:
    handler = _Records()
    loggers = [logging.getLogger(n) for n in ("portabilling", "httpx", "httpcore")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.DEBUG)
        log.addHandler(handler)
    try:
        yield handler
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.removeHandler(handler)
            log.setLevel(level)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


@pytest.mark.parametrize(
    ("transport", "kind"),
    [
        ("json", "password"),
        ("soap", "password"),
        ("json", "token"),
        ("soap", "token"),
        ("json", "bearer"),
        ("soap", "async"),
        ("json", "async"),
    ],
)
def test_debug_logs_and_errors_carry_no_secret(
    sim: Any, debug_logs: _Records, transport: str, kind: str
) -> None:
    """A login, a call, a fault and a failed re-login, logged at DEBUG (ours, httpx, httpcore):
    no password, token, session id or Authorization value in any record or raised exception."""
    from portabilling import AdminClient, AsyncAdminClient, AuthError, NotFound

    password, token = "pw-Dbg-7f3a91", "tok-Dbg-c0ffee"
    sim.sim.users.entries["dbg"] = (password, token, None)
    url = sim.url.replace("http://", "http://proxy:URL-pw-5150@")  # a proxy's credentials
    creds: dict[str, Any] = {"login": "dbg"}
    creds.update({"token": token} if kind == "token" else {"password": password})
    if kind == "bearer":  # a session from an earlier login, sent as `Authorization: Bearer`
        with AdminClient(sim.url, transport="json", **creds) as first:
            first.customer.get_customer_list()
            access = first._session.session_id
        creds.update(access_token=access, json_style="bearer")
    errors: list[BaseException] = []

    def refuse_relogin() -> None:
        sim.sim.users.entries["dbg"] = ("pw-changed", "tok-changed", None)
        sim.sim.expire_sessions()

    def run() -> None:
        with AdminClient(url, transport=transport, **creds) as client:
            client.customer.get_customer_list()  # logs in first (bearer: already in)
            with pytest.raises(NotFound) as fault:
                client.account.get_account_info(i_account=424242)
            errors.append(fault.value)
            refuse_relogin()
            with pytest.raises(AuthError) as auth:
                client.customer.get_customer_list()
            errors.append(auth.value)

    async def run_async() -> None:
        async with AsyncAdminClient(url, transport=transport, **creds) as client:
            await client.customer.get_customer_list()
            with pytest.raises(NotFound) as fault:
                await client.account.get_account_info(i_account=424242)
            errors.append(fault.value)
            refuse_relogin()
            with pytest.raises(AuthError) as auth:
                await client.customer.get_customer_list()
            errors.append(auth.value)

    asyncio.run(run_async()) if kind == "async" else run()
    methods = [c.method for c in sim.sim.calls]
    assert methods.count("get_account_info") == 1 and "login" in methods
    sessions = {
        str(v) for c in sim.sim.calls for k, v in c.auth_info.items() if k != "login"
    } | set(sim.sim.sessions)
    assert sessions, "no session was used: the test would prove nothing"
    secrets = {password, token, "URL-pw-5150", *sessions}
    secrets |= {f"Bearer {s}" for s in sessions}
    assert len(debug_logs.records) > 10  # DEBUG logging was on (httpcore logs every step)
    texts = list(debug_logs.texts())
    for error in errors:
        for e in _chain(error):
            texts += [str(e), repr(e), repr(e.args)]
    leaks = sorted({s for s in secrets for text in texts if s in text})
    assert leaks == [], [t for t in texts if any(s in t for s in leaks)][:3]
