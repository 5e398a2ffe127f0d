"""Every wire name maps to a valid, unique, non-reserved Python name, and msgspec maps it back."""

from __future__ import annotations

import keyword

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.naming import (
    RESERVED_ATTRS,
    SOFT_KEYWORDS,
    attr_name,
    class_name,
    constant_name,
    member_name_from_doc,
    module_name,
)

# Names an XML document or JSON key can carry; the generator rejects the rest (see analyze).
wire_names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='\\"'),
    min_size=1,
    max_size=30,
)


@given(st.lists(wire_names, min_size=1, max_size=25, unique=True))
@settings(max_examples=300)
def test_attr_names_valid_unique_and_round_trip(names: list[str]) -> None:
    taken: set[str] = set()
    py = [attr_name(n, taken) for n in names]
    assert len(set(py)) == len(py)
    for p in py:
        assert p.isidentifier() and p.isascii()
        assert not keyword.iskeyword(p) and p not in SOFT_KEYWORDS and p not in RESERVED_ATTRS
        assert not p.startswith("__")
    # the wire name survives: msgspec encodes each attribute under its exact wire name
    cls = msgspec.defstruct(
        "T",
        [(p, int, msgspec.field(default=0, name=n)) for p, n in zip(py, names, strict=True)],
        kw_only=True,
    )
    obj = cls(**{p: i for i, p in enumerate(py)})
    assert msgspec.json.decode(msgspec.json.encode(obj)) == {n: i for i, n in enumerate(names)}
    assert msgspec.json.decode(msgspec.json.encode(obj), type=cls) == obj


@given(st.lists(wire_names, min_size=1, max_size=25, unique=True))
def test_class_and_module_names_valid_and_unique(names: list[str]) -> None:
    classes: set[str] = set()
    modules: set[str] = set()
    for n in names:
        c = class_name(n, classes)
        m = module_name(n, modules)
        assert c.isidentifier() and not keyword.iskeyword(c) and c[0].isupper()
        assert m.isidentifier() and not keyword.iskeyword(m) and m == m.lower()
    assert len(classes) == len(names) and len(modules) == len(names)


@given(wire_names)
def test_enum_constant_is_identifier(value: str) -> None:
    name = constant_name(value)
    assert name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def test_readable_names() -> None:
    assert [attr_name(n) for n in ("from", "class", "type", "global", "lambda", "async")] == [
        "from_",
        "class_",
        "type_",
        "global_",
        "lambda_",
        "async_",
    ]
    assert attr_name("i_account") == "i_account"
    assert attr_name("id") == "id"
    assert attr_name("3pcc_enabled") == "field_3pcc_enabled"
    assert attr_name("x-ray.id") == "x_ray_id"
    taken: set[str] = set()
    assert [attr_name(n, taken) for n in ("Name", "name", "NAME")] == ["Name", "name", "NAME"]
    assert module_name("SIMCard") == "sim_card" and module_name("CustomFields") == "custom_fields"
    assert constant_name("-1") == "VALUE_MINUS_1" and constant_name("dark-blue") == "DARK_BLUE"


@pytest.mark.parametrize(
    ("doc", "name"),
    [
        ("debit account", "DEBIT_ACCOUNT"),
        ("Yes / enabled", "YES"),
        ("closed", "CLOSED"),
        ("suspended (by the administrator)", "SUSPENDED"),
        ("", None),
        ("The account is used by one customer only and must not be shared", None),
        ("24 hours", None),
        ("été", None),
        ("x" * 41, None),
    ],
)
def test_a_short_documentation_names_an_enum_member(doc: str, name: str | None) -> None:
    assert member_name_from_doc(doc) == name


def test_the_generated_enums_carry_their_documented_names() -> None:
    from portabilling.types import BillingModel, YesNo

    assert BillingModel(-1) is BillingModel.DEBIT_ACCOUNT and BillingModel.CREDIT_ACCOUNT == 1
    assert YesNo("N") is YesNo.NO and YesNo.YES.value == "Y"


def test_services_cannot_shadow_a_client_member() -> None:
    """A service becomes an attribute of the generated client; every public member of the
    runtime's clients (methods, properties, what `__init__` sets) is reserved from it."""
    from portabilling._runtime.client.clients import AsyncClient, Client

    from generator.naming import CLIENT_ATTRS

    for cls in (Client, AsyncClient):
        client = cls("https://pb.example.com", session_id="s")
        public = {name for name in (*dir(cls), *vars(client)) if not name.startswith("_")}
        assert public <= CLIENT_ATTRS, f"{cls.__name__}: {sorted(public - CLIENT_ATTRS)}"
