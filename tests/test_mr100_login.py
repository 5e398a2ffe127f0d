"""The mr100 release logs in with two plain parts and gets a bare string back; the client hides it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import RELEASES


@pytest.fixture(scope="module")
def mr100(generated_once: Any) -> Iterator[Any]:
    import importlib
    import sys

    out = generated_once("pb100", "--cache", str(RELEASES / "mr100")).parent
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    from generator.simulator.server import serve

    with serve("pb100", cache=RELEASES / "mr100") as running:
        yield running
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m.split(".")[0] == "pb100"]:
        del sys.modules[name]


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_two_part_login_and_bare_session_id(mr100: Any, transport: str) -> None:
    from pb100 import AdminClient  # type: ignore[import-not-found]
    from pb100.admin.session import LOGIN  # type: ignore[import-not-found]

    assert LOGIN.request_wrapped and LOGIN.response_wrapped
    mr100.sim.reset()
    with AdminClient(mr100.url, transport=transport, login="admin", password="secret") as c:
        assert c.customer.get_customer_list().total == 0
        mr100.sim.expire_sessions()
        assert c.customer.get_customer_list().total == 0
    login = [call for call in mr100.sim.calls if call.method == "login"]
    assert len(login) == 2
    if transport == "soap":
        assert login[0].params == ["admin", "secret"]  # two plain parts, by position
    else:
        assert login[0].params == {"login": "admin", "password": "secret"}


def test_soap_login_reply_is_a_bare_string(mr100: Any) -> None:
    import httpx
    from pb100 import AdminClient
    from pb100.admin.session import LOGIN

    client = AdminClient(mr100.url, transport="soap")
    request = client.build_request(LOGIN, LOGIN.request(login="admin", password="secret"))
    assert b'<login xsi:type="xsd:string">admin</login><password' in request.content
    reply = httpx.post(
        mr100.soap_url + request.url.path, content=request.content, headers=request.headers
    )
    assert b"<s-gensym" in reply.content and b"sess-" in reply.content
    assert client.decode_response(LOGIN, reply).session_id.startswith("sess-")
