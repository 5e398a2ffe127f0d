"""Generate both bundled releases (wsdl_cache/mr100, mr105), import every module, build every struct, round-trip it."""

from __future__ import annotations

import enum
import importlib
import pkgutil
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from .conftest import RELEASES


def sample(t: mi.Type, depth: int = 0) -> Any:
    """A value of type `t`; optional parts are filled until depth 3, then left unset."""
    if isinstance(t, mi.UnionType):
        real = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return sample(real[0], depth) if real else None
    if isinstance(t, mi.StructType):
        kwargs = {}
        for f in t.fields:
            if f.required or depth < 3:
                kwargs[f.name] = sample(f.type, depth + 1)
        return t.cls(**kwargs)
    if isinstance(t, mi.ListType):
        return [] if depth >= 3 else [sample(t.item_type, depth + 1)]
    if isinstance(t, mi.EnumType):
        return next(iter(t.cls))
    if isinstance(t, mi.DictType):  # e.g. the variables of a provisioning event
        return {} if depth >= 3 else {"k": sample(t.value_type, depth + 1)}
    simple: dict[type, Any] = {
        mi.IntType: 42,
        mi.FloatType: 1.5,
        mi.StrType: "x<&>'\"",
        mi.BoolType: True,
        mi.BytesType: b"\x00\xff",
        mi.DecimalType: Decimal("12.34"),
        mi.DateType: date(2024, 2, 29),
        mi.DateTimeType: datetime(2024, 2, 29, 23, 59, 58),
        mi.TimeType: time(8, 30),
        mi.AnyType: "any",
    }
    for cls, value in simple.items():
        if isinstance(t, cls):
            return value
    raise AssertionError(f"no sample for {t!r}")


@pytest.mark.parametrize("release", ["mr100", "mr105"])
def test_release_generates_imports_and_round_trips(
    release: str, generated_once: Any, importer: Any
) -> None:
    source = RELEASES / release
    package = "pb" + release[2:]
    pkg = generated_once(package, "--cache", str(source))
    root = importer(pkg.parent, package)
    modules = [
        m.name
        for m in pkgutil.walk_packages([str(pkg)], prefix=package + ".")
        if "._runtime" not in m.name
    ]
    assert len(modules) > 60
    structs = 0
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            cls = getattr(module, attr)
            if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
                value = sample(mi.type_info(cls))
                encoded = msgspec.json.encode(value)
                assert msgspec.json.decode(encoded, type=cls) == value, name + "." + attr
                structs += 1
            elif isinstance(cls, type) and issubclass(cls, enum.Enum):
                for member in cls:
                    assert cls(member.value) is member
    assert structs > 1000
    assert release == root.RELEASE  # type: ignore[attr-defined]


def test_mr100_login_takes_two_parts(generated_once: Any, importer: Any) -> None:
    pkg = generated_once("pb100", "--cache", str(RELEASES / "mr100"))
    importer(pkg.parent, "pb100")
    from pb100.admin import session

    assert session.LOGIN.request_wrapped and session.LOGIN.response_wrapped
    assert session.LOGIN.request.__struct_fields__ == ("login", "password")  # type: ignore[union-attr]
    assert "session_id" in session.LOGIN.response.__struct_fields__  # type: ignore[union-attr]
