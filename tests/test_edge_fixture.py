"""Generated code for the hand-written edge-case WSDL behaves as documented."""

from __future__ import annotations

import inspect
import typing
import warnings
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from .conftest import FIXTURES, generate

GOLDEN = Path(__file__).resolve().parent / "golden" / "edgepkg"


def test_golden_files_match(edge_pkg: Path) -> None:
    """The rendered package is exactly the reviewed golden copy (UPDATE_GOLDEN=1 to refresh)."""
    import os
    import shutil

    produced = {
        p.relative_to(edge_pkg).as_posix(): p.read_text()
        for p in sorted(edge_pkg.rglob("*"))
        if p.is_file()
        and "_runtime" not in p.parts
        and "__pycache__" not in p.parts
    }
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in produced.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text)
    golden = {
        p.relative_to(GOLDEN).as_posix(): p.read_text()
        for p in sorted(GOLDEN.rglob("*"))
        if p.is_file()
    }
    assert produced.keys() == golden.keys()
    for rel in produced:
        assert produced[rel] == golden[rel], f"{rel} differs from tests/golden"


def test_unset_null_and_wire_names(edge_pkg: Path, importer: Any) -> None:
    importer(edge_pkg.parent, "edgepkg")
    from edgepkg.types import Color, Level, OddInfo

    odd = OddInfo(
        from_="a", class_="b", type_="c", credit_limit=None, i_base=1, Name="N", name="n"
    )
    data = msgspec.json.decode(msgspec.json.encode(odd))
    assert data == {
        "i_base": 1,
        "from": "a",
        "class": "b",
        "type": "c",
        "Name": "N",
        "name": "n",
        "credit_limit": None,
    }
    assert "color" not in data  # unset is not sent; None is sent as null
    back = msgspec.json.decode(
        b'{"from":"a","x-ray.id":"x","color":"ultraviolet","level":7,"date":"2024-02-29",'
        b'"created":"2024-02-29 10:11:12","amount":1.25,"extra_from_newer_server":1}',
        type=OddInfo,
    )
    assert back.x_ray_id == "x" and back.date_ == date(2024, 2, 29)
    assert back.created == datetime(2024, 2, 29, 10, 11, 12) and back.amount == Decimal("1.25")
    assert back.color == "ultraviolet" and isinstance(back.color, Color)
    assert back.level == 7 and isinstance(back.level, Level)
    resent = msgspec.json.decode(msgspec.json.encode(back))
    assert resent["color"] == "ultraviolet" and resent["level"] == 7
    assert Level(-1) is Level.VALUE_MINUS_1 and Color("dark-blue") is Color.DARK_BLUE


def test_recursion_inheritance_and_arrays(edge_pkg: Path, importer: Any) -> None:
    importer(edge_pkg.parent, "edgepkg")
    from edgepkg.types import BaseInfo, Node, OddInfo

    assert issubclass(OddInfo, BaseInfo)
    tree = Node(name="root", children=[Node(name="leaf", children=[])])
    odd = OddInfo(tree=tree, grid=[[1, 2], [3, 4]], tags=["a"])
    assert msgspec.json.decode(msgspec.json.encode(odd), type=OddInfo) == odd
    with pytest.raises(TypeError):
        OddInfo(1)  # type: ignore[misc]  # keyword-only


class _Recorder:
    def __init__(self, pages: list[list[int]]) -> None:
        self.pages = pages
        self.requests: list[Any] = []

    def call(self, op: Any, request: Any, options: Any) -> Any:
        self.requests.append(request)
        from edgepkg.types import GetOddListResponse, OddInfo

        if op.name == "get_odd_list":
            index = len(self.requests) - 1
            ids = self.pages[index] if index < len(self.pages) else []
            return GetOddListResponse(odd_list=[OddInfo(i_base=i) for i in ids])
        return op.response(session_id="s")


def test_stub_request_forms_deprecation_and_paging(edge_pkg: Path, importer: Any) -> None:
    importer(edge_pkg.parent, "edgepkg")
    from edgepkg.admin.edge import EdgeService
    from edgepkg.types import EdgeOldLoginInput, GetOddListRequest

    rec = _Recorder([[1, 2], [3, 4], [5]])
    svc = EdgeService(rec)
    svc.get_odd_list(i_base=9)
    svc.get_odd_list(GetOddListRequest(i_base=9))
    assert rec.requests[0] == rec.requests[1] == GetOddListRequest(i_base=9)
    with pytest.raises(TypeError, match="not both"):
        svc.get_odd_list(GetOddListRequest(i_base=9), i_base=3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"Edge\.get_odd_list"):
        svc.get_odd_list(limit=3)  # type: ignore[call-overload]  # i_base is required
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = svc.old_login(login="u", password="p")
    assert out.session_id == "s" and rec.requests[-1] == EdgeOldLoginInput(login="u", password="p")
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [str(w.message) for w in deprecations] == ["Edge.old_login is deprecated"]
    assert deprecations[0].filename == __file__  # the runtime warns at the caller's line
    assert "Deprecated" in (EdgeService.old_login.__doc__ or "")

    rec = _Recorder([[1, 2], [3, 4], [5]])
    items = list(EdgeService(rec).iter_odd_list(i_base=9, page_size=2))
    assert [i.i_base for i in items] == [1, 2, 3, 4, 5]
    assert [(r.limit, r.offset) for r in rec.requests] == [(2, 0), (2, 2), (2, 4)]


def test_operation_specs_resolve_defaults_and_iterators_are_typed(
    edge_pkg: Path, importer: Any
) -> None:
    """Generated specs state only what differs; every attribute still reads in full."""
    importer(edge_pkg.parent, "edgepkg")
    from edgepkg.admin.edge import (
        GET_ODD_LIST,
        OLD_LOGIN,
        AsyncEdgeService,
        EdgeService,
        IterOddListKeywords,
    )

    ns = "http://portaone.com/Porta/SOAP/Edge"
    assert (GET_ODD_LIST.service, GET_ODD_LIST.namespace) == ("Edge", ns)
    assert GET_ODD_LIST.soap_action == f"{ns}#get_odd_list"
    assert GET_ODD_LIST.endpoint_path == "/Porta/SOAP/Edge"
    assert GET_ODD_LIST.parts == ("GetOddListRequest",)
    assert GET_ODD_LIST.auth_header == (
        "auth_info",
        "{http://schemas.portaone.com/soap}AuthInfoStructure",
    )
    assert GET_ODD_LIST.auth and not GET_ODD_LIST.deprecated
    assert OLD_LOGIN.parts == ("login", "password") and OLD_LOGIN.request_wrapped
    assert not OLD_LOGIN.auth and OLD_LOGIN.deprecated
    # the iterator's keywords, as type checkers see them (tests/test_stub_typing.py proves that a
    # misspelt filter is a type error, not a silent **kwarg)
    keywords = typing.get_type_hints(IterOddListKeywords, include_extras=True)
    assert {"page_size", "offset", "i_base"} <= set(keywords)
    assert "limit" not in keywords  # page_size sets it
    for cls in (EdgeService, AsyncEdgeService):
        params = inspect.signature(cls.iter_odd_list).parameters
        assert params["page_size"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["page_size"].default == 100


def test_single_file_input_names_interface(tmp_path: Path) -> None:
    pkg = generate(tmp_path, "single", "--wsdl", str(FIXTURES / "edge" / "EdgeAdminService.wsdl"))
    assert (pkg / "admin" / "edge.py").is_file()
