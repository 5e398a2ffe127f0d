"""The simulator's `Customer.get_extended_data_list` (JSON only): customers with their accounts,
products (add-ons too with `include_addons`), class and invoices, filtered by every entity's
conditions, as PortaBilling's CRM search. Every operator the typed search vocabulary offers is
evaluated here (see data.py's `matches`)."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from .calls import SimFault
from .data import FilterError, check_filter, field_kinds, matches, members, page


class State(Protocol):
    """What the search reads of the simulator's state."""

    ops: dict[tuple[str, str], Any]
    accounts: dict[int, dict[str, Any]]
    products: dict[int, dict[str, Any]]
    invoices: dict[int, dict[str, Any]]
    customer_classes: dict[int, dict[str, Any]]


def extended_data_list(state: State, p: Any, customers: list[dict[str, Any]]) -> Any:
    """Each of `customers` (those the caller sees) with its accounts, products, class and
    invoices, when every filter is met: the customer's by the customer, each other one by at
    least one of the customer's rows of that kind."""
    kinds = _record_kinds(state)
    filters = {
        "customer_info": p.customer_filter,
        "accounts": p.account_filter,
        "products": p.product_filter,
        "customer_class": p.customer_class_filter,
        "invoices": p.invoice_filter,
    }
    records = []
    try:
        for part, conditions in filters.items():
            check_filter(conditions, kinds[part])
        for c in customers:
            record = _extended_record(state, c, p.include_addons == 1)
            if all(
                _any(_as_rows(record.get(part)), conditions, kinds[part])
                for part, conditions in filters.items()
            ):
                records.append(record)
    except FilterError as exc:
        raise SimFault("Client.Customer.get_extended_data_list.bad_filter", str(exc)) from None
    return page(records, p, "records")


def _record_kinds(state: State) -> dict[str, dict[str, type]]:
    """The field types of each part of an extended-data record, by the record's field."""
    op = state.ops[("Customer", "get_extended_data_list")]
    records = msgspec.inspect.type_info(op.response)
    item = next(f for f in records.fields if f.encode_name == "records")  # type: ignore[attr-defined]
    record = next(t for t in members(item.type) if isinstance(t, msgspec.inspect.ListType))
    out: dict[str, dict[str, type]] = {}
    for f in record.item_type.fields:  # type: ignore[attr-defined]
        for t in members(f.type):
            t = t.item_type if isinstance(t, msgspec.inspect.ListType) else t
            if isinstance(t, msgspec.inspect.StructType):
                out[f.encode_name] = field_kinds(t.cls)
    return out


def _extended_record(state: State, c: dict[str, Any], addons: bool) -> dict[str, Any]:
    accounts = [a for a in state.accounts.values() if a["i_customer"] == c["i_customer"]]
    wanted = [a.get("i_product") for a in accounts]
    if addons:
        wanted += [x.get("i_product") for a in accounts for x in a.get("assigned_addons") or []]
    record = {
        "customer_info": c,
        "accounts": accounts,
        "products": [state.products[i] for i in dict.fromkeys(wanted) if i in state.products],
        "invoices": [i for i in state.invoices.values() if i["i_customer"] == c["i_customer"]],
    }
    klass = state.customer_classes.get(c.get("i_customer_class", -1))
    if klass is not None:
        record["customer_class"] = klass
    return record


def _as_rows(part: Any) -> list[dict[str, Any]]:
    """A record's part as rows: its list, its one struct, or none."""
    return part if isinstance(part, list) else [part] if isinstance(part, dict) else []


def _any(rows: list[dict[str, Any]], conditions: Any, kinds: dict[str, type]) -> bool:
    """No filter, or one of `rows` meets it (a customer with no such rows meets none)."""
    return not conditions or any(matches(r, conditions, kinds) for r in rows)
