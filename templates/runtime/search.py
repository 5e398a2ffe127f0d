"""Typed search conditions: the fields of an extended search, their operators, and their wire form.

The generated `search` module names, for each entity a search's request filters (customers,
accounts, products...), a class whose attributes are that entity's filterable fields. An
attribute is a `Field` typed by its value: every field compares for equality and `in_`, a
number, date or datetime (`Ordered`) also for order, text (`Text`) also with `like`; `~` negates
any condition. The condition remembers its entity, so a search files it under that entity's
filter; `Condition[Customer]` is not `Condition[Product]`, so mypy refuses one where the other
is expected. Values become the strings PortaBilling reads (dates ISO, datetimes
`YYYY-MM-DD HH:MM:SS` UTC, decimals without exponent) when the request is built: a value of the
wrong type raises `EncodeError` naming the field, and nothing is sent.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from .errors import EncodeError
from .formats import server_datetime
from .redact import is_secret_name
from .struct import UnsetType

E = TypeVar("E", bound="Entity[Any]")
V = TypeVar("V")
C = TypeVar("C")
Req = TypeVar("Req")
T = TypeVar("T")

# the operators of PortaBilling's SearchCondition (`op`); `in` and `not` are fields of their own
_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "like": "like", "in": "in"}


class Condition(Generic[E]):
    """One condition on a field of entity `E`: `Customer.city == "Toronto"`, `~cond` negates."""

    __slots__ = ("entity", "field", "negated", "op", "values")

    def __init__(
        self,
        entity: type[E],
        field: Field[E, Any],
        op: str,
        values: tuple[Any, ...],
        negated: bool,
    ) -> None:
        self.entity = entity
        self.field = field
        self.op = op  # eq, ne, lt, gt, like, or in
        self.values = values  # as the caller gave them: encoded when the request is built
        self.negated = negated

    def __invert__(self) -> Condition[E]:
        return Condition(self.entity, self.field, self.op, self.values, not self.negated)

    def __bool__(self) -> bool:
        raise TypeError(
            "a search condition has no truth value: pass conditions to search() as separate "
            "arguments (they all must hold), and negate one with ~, not `not`"
        )

    def __repr__(self) -> str:
        shown = "..." if is_secret_name(self.field.wire) else ", ".join(map(repr, self.values))
        text = f"{self.entity.__name__}.{self.field.name} {_SYMBOLS[self.op]} {shown}"
        return f"Condition(~({text}))" if self.negated else f"Condition({text})"

    def encode(self, condition: type[C], operation: str) -> C:
        """The condition struct the request carries (`field`, `op`, `value` or `in`, `not`)."""
        strings = [self.field.to_wire(v, operation) for v in self.values]
        fields: dict[str, Any] = {"field": self.field.wire}
        if self.op == "in":
            fields["in"] = strings
        else:
            fields["op"] = self.op
            fields["value"] = strings
        if self.negated:
            fields["not"] = 1
        return _build(condition, fields)


def _build(condition: type[C], wire: Mapping[str, Any]) -> C:
    """A condition struct from its wire names (`in`, `not` are Python keywords)."""
    wire_names: tuple[str, ...] = getattr(condition, "__struct_encode_fields__", ())
    names = dict(zip(wire_names, getattr(condition, "__struct_fields__", ()), strict=True))
    return condition(**{names.get(k, k): v for k, v in wire.items()})


class Field(Generic[E, V]):
    """A filterable field of entity `E` holding values of type `V`: `==`, `!=`, `in_`."""

    __slots__ = ("entity", "kind", "name", "wire")

    def __init__(self, wire: str, kind: type[Any]) -> None:
        self.wire = wire  # the name the server knows
        self.kind = kind  # what a value must be at run time (str, int, Decimal, an enum...)
        self.name = wire  # the attribute name, set when the entity class is made
        self.entity: type[E] | None = None

    def __set_name__(self, owner: type[E], name: str) -> None:
        self.entity = owner
        self.name = name

    def _on(self, op: str, values: tuple[Any, ...], negated: bool = False) -> Condition[E]:
        if self.entity is None:
            raise TypeError(f"field {self.wire!r} belongs to no entity class")
        return Condition(self.entity, self, op, values, negated)

    def __eq__(self, value: V) -> Condition[E]:  # type: ignore[override]
        return self._on("eq", (value,))

    def __ne__(self, value: V) -> Condition[E]:  # type: ignore[override]
        return self._on("ne", (value,))

    __hash__ = object.__hash__  # fields stay usable as dict keys despite `==`

    def in_(self, values: Iterable[V]) -> Condition[E]:
        """The field is one of `values` (SQL IN; `~` for NOT IN)."""
        if isinstance(values, str | bytes):
            raise TypeError(f"{self.name}.in_() takes a list of values, not one string")
        return self._on("in", tuple(values))

    def __repr__(self) -> str:
        owner = self.entity.__name__ if self.entity is not None else "?"
        return f"<{type(self).__name__} {owner}.{self.name} ({self.kind.__name__})>"

    def to_wire(self, value: Any, operation: str) -> str:
        """`value` as PortaBilling reads it, or EncodeError naming the field (never the value)."""
        text = _wire(self.kind, value)
        if text is None:
            owner = self.entity.FILTER if self.entity is not None else "search"
            raise EncodeError(
                f"{owner} condition on {self.name!r} needs a {_kind_name(self.kind)}, "
                f"not {type(value).__name__}",
                operation=operation,
            )
        return text


class Ordered(Field[E, V]):
    """A number, date or datetime: also `<`, `>`, `<=` and `>=`."""

    __slots__ = ()

    def __lt__(self, value: V) -> Condition[E]:
        return self._on("lt", (value,))

    def __gt__(self, value: V) -> Condition[E]:
        return self._on("gt", (value,))

    def __le__(self, value: V) -> Condition[E]:
        return self._on("gt", (value,), negated=True)  # the server knows lt and gt only

    def __ge__(self, value: V) -> Condition[E]:
        return self._on("lt", (value,), negated=True)


class Text(Field[E, str]):
    """A text field: also `like` (SQL LIKE: `%` any run of characters, `_` one character)."""

    __slots__ = ()

    def __init__(self, wire: str) -> None:
        super().__init__(wire, str)

    def like(self, pattern: str) -> Condition[E]:
        return self._on("like", (pattern,))


def _wire(kind: type[Any], value: Any) -> str | None:
    """The wire string of `value` for a field of `kind`; None when it is not such a value."""
    if isinstance(value, bool) and kind is not bool:
        return None  # a bool is an int to Python, never a number to a filter
    if issubclass(kind, enum.Enum):
        return str(value.value) if isinstance(value, kind) else None
    if kind is str:
        return value if isinstance(value, str) else None
    if kind is int:
        return str(int(value)) if isinstance(value, int) else None
    if kind is float:
        if isinstance(value, int):
            return str(value)
        return repr(value) if isinstance(value, float) and math.isfinite(value) else None
    if kind is Decimal:
        if isinstance(value, int):
            return str(value)
        return format(value, "f") if isinstance(value, Decimal) and value.is_finite() else None
    if kind is datetime:
        return server_datetime(value) if isinstance(value, datetime) else None
    if kind is date:
        ok = isinstance(value, date) and not isinstance(value, datetime)
        return value.isoformat() if ok else None
    if kind is time:
        return value.isoformat() if isinstance(value, time) else None
    if kind is bool:
        return ("1" if value else "0") if isinstance(value, bool) else None
    return None


def _kind_name(kind: type[Any]) -> str:
    if kind is float:
        return "number (int or float)"
    if kind is Decimal:
        return "Decimal (or int)"
    if kind is date:
        return "date (not a datetime)"
    return kind.__name__


class Entity(Generic[C]):
    """The filterable fields of one entity, as class attributes; `C` is the condition struct.

    A generated subclass states the request field it filters and the struct that carries a
    condition: `class Customer(Entity[SearchCondition], filter="customer_filter",
    condition=SearchCondition)`."""

    FILTER: ClassVar[str] = ""
    _condition: ClassVar[type[Any]]

    def __init_subclass__(cls, *, filter: str, condition: type[Any], **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.FILTER = filter
        cls._condition = condition

    def __init__(self) -> None:
        raise TypeError(f"{type(self).__name__} is a namespace of fields; it has no instances")

    @classmethod
    def filter(cls, *conditions: Condition[Self], operation: str = "") -> list[C]:
        """The conditions as the request's filter list, for a request built by hand:
        `GetCustomerExtendedDataListRequest(customer_filter=Customer.filter(...))`."""
        out: list[C] = []
        for cond in conditions:
            if not isinstance(cond, Condition) or cond.entity is not cls:
                raise TypeError(
                    f"{cls.__name__}.filter() takes conditions on {cls.__name__} fields, "
                    f"not {_describe(cond)}"
                )
            out.append(cast(C, cond.encode(cls._condition, operation)))
        return out


def _describe(value: object) -> str:
    if isinstance(value, Condition):
        return f"a condition on {value.entity.__name__}.{value.field.name}"
    return f"a {type(value).__name__}"


class Search(Generic[Req]):
    """One extended-search operation: its request struct and the entities its filters take."""

    __slots__ = ("entities", "operation", "request_type")

    def __init__(
        self, operation: str, request_type: type[Req], entities: tuple[type[Entity[Any]], ...]
    ) -> None:
        self.operation = operation  # `Customer.get_extended_data_list`: names it in errors
        self.request_type = request_type
        self.entities = entities

    def request(self, where: Iterable[Condition[Any]], flags: Mapping[str, Any]) -> Req:
        """The request: each condition filed under its entity's filter, `flags` (the request's
        other fields: `include_addons`, `limit`, ...) as given. Values are checked and encoded
        here: EncodeError, naming the field, before anything is sent."""
        filters: dict[str, list[Any]] = {}
        for cond in where:
            if not isinstance(cond, Condition) or cond.entity not in self.entities:
                names = ", ".join(e.__name__ for e in self.entities)
                raise TypeError(
                    f"{self.operation}: conditions must be on fields of {names}, "
                    f"not {_describe(cond)}"
                )
            entity = cond.entity
            filters.setdefault(entity.FILTER, []).append(
                cond.encode(entity._condition, self.operation)
            )
        try:
            return self.request_type(**filters, **flags)
        except TypeError as exc:
            raise TypeError(f"{self.operation}: {exc}") from None


def items(value: list[T] | UnsetType | None) -> list[T]:
    """A reply's list field, `[]` when the server left it out or sent null."""
    return value if isinstance(value, list) else []
