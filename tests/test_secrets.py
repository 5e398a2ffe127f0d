"""Secrets stay out of reprs, messages, excerpts and chained exceptions (the runtime's own parts).

End-to-end cases over real sockets (a client's repr, an echoed password in an error page, the
chained exception of a failed call) are in tests/test_hostile.py.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from .conftest import ROOT


@pytest.fixture(autouse=True)
def _pkg(importer: Any) -> None:
    importer(ROOT / "generated", "portabilling")


def test_struct_reprs_mask_secret_fields() -> None:
    from portabilling.types import AccountInfo, AddAccountRequest, LoginRequest, LoginResponse

    login = LoginRequest(login="api", password="hunter2-pw", token="tok-123456")
    assert repr(login) == "LoginRequest(login='api', password='***', token='***')"
    assert str(login) == repr(login)
    assert "s3ss10n" not in repr(LoginResponse(session_id="s3ss10n"))
    info = AccountInfo(i_account=7, password="pw-secret", h323_password="h323-secret")
    text = repr(AddAccountRequest(account_info=info))
    assert text == (
        "AddAccountRequest(account_info=AccountInfo(i_account=7, password='***', "
        "h323_password='***'))"
    )
    # None is no secret; unset fields stay out as before; equality and encoding are unchanged
    assert repr(AccountInfo(password=None)) == "AccountInfo(password=None)"
    assert repr(AccountInfo(i_account=7)) == "AccountInfo(i_account=7)"
    assert msgspec.json.decode(msgspec.json.encode(info))["password"] == "pw-secret"
    shown = {k: repr(v) for k, v in login.__rich_repr__()}  # rich's pretty printer
    assert shown == {"login": "'api'", "password": "'***'", "token": "'***'"}


def test_the_secret_name_rule() -> None:
    from portabilling._runtime.redact import is_secret_name

    secret = [
        "password",
        "new_password",
        "h323_password",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "x-signature-key",
        "session_id",
        "SessionId",
        "pin",
        "host_pin",
        "cvv",
        "ki",
        "client_secret",
        "Authorization",
        "{urn:x}session_id",
        "ns1:password",
    ]
    plain = ["i_api_token", "i_user_session", "pinned", "session", "login", "id", "tokenize"]
    assert [n for n in secret if not is_secret_name(n)] == []
    assert [n for n in plain if is_secret_name(n)] == []


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ('{"session_id": "abc123456", "x": 1}', ["abc123456"]),
        ('{"session_id":"abc1234', ["abc1234"]),  # cut by the excerpt's end
        ("<ns1:session_id xsi:type='xsd:string'>sid-9876</ns1:session_id>", ["sid-9876"]),
        ("login=api&password=hunter22&x=1", ["hunter22"]),
        ("Authorization: Bearer eyJhbGciOi.abc.def", ["eyJhbGciOi"]),
        ("see https://api:PW-in-url@pbx.example.com/rest", ["PW-in-url"]),
        ("<p>wrong token 'tok'</p><password>p4ss</password>", ["p4ss"]),
    ],
)
def test_excerpts_are_redacted_by_name(text: str, leaks: list[str]) -> None:
    from portabilling._runtime.errors import DecodeError, TransportError

    for error in (
        TransportError("bad reply", operation="X.y", status=400, excerpt=text),
        DecodeError("bad reply", operation="X.y", excerpt=text),
    ):
        for leak in leaks:
            assert leak not in str(error) and leak not in error.excerpt
            assert leak not in repr(error.args)
        assert "***" in error.excerpt


def test_faults_mask_secret_detail_and_echoed_values() -> None:
    from portabilling._runtime.errors import Fault

    fault = Fault(
        "Server.Session.login.failed",
        "login failed for password=hunter22",
        operation="Session.login",
        detail={"password": "hunter22", "nested": [{"token": "t0k3n!"}], "login": "api"},
    )
    assert "hunter22" not in str(fault) and "hunter22" not in fault.faultstring
    assert fault.detail == {"password": "***", "nested": [{"token": "***"}], "login": "api"}


def test_scrub_exception_drops_chains_and_known_secrets() -> None:
    from portabilling._runtime.errors import TransportError
    from portabilling._runtime.redact import scrub_exception

    def fail() -> None:
        try:
            raise ValueError("body: hunter22-secret")
        except ValueError:
            raise TransportError(
                "page echoed hunter22-secret", operation="X.y", excerpt="<p>hunter22-secret</p>"
            ) from None

    with pytest.raises(TransportError) as caught:
        fail()
    assert caught.value.__context__ is not None  # what Python keeps despite `from None`
    error = scrub_exception(caught.value, ["hunter22-secret", ""])
    assert error.__context__ is None and error.__cause__ is None
    assert "hunter22" not in str(error) and "hunter22" not in caught.value.excerpt


def test_urls_with_credentials_are_masked() -> None:
    from portabilling._runtime.redact import mask_url

    assert mask_url("https://api:PW@pbx.example.com:8444/x") == (
        "https://api:***@pbx.example.com:8444/x"
    )
    assert mask_url("https://pbx.example.com/x") == "https://pbx.example.com/x"
    assert mask_url("https://tok@pbx.example.com") == "https://***@pbx.example.com"
