"""Real-server mode: replies written the way a real PortaBilling writes them, not as its WSDL says.

What `../shared/realdata/` shows a real server doing, applied to the simulator's own replies
(guided by the response type, so only where the bindings declare something else):
- 'Y'/'N' flags sent as the numbers 1/0 (SOAP::Lite then writes "1"/"0");
- datetimes at midnight sent as date-only text (`first_usage: "2023-05-11"`);
- an empty scalar list sent as `[null]` (`"values": [null]`);
- fields the WSDL does not declare in every record (`iso_639_1`, `is_active`, ...);
- a list under an undeclared name while the declared one is absent (`Account.get_subscriptions`
  answers `subscription_list`).
"""

from __future__ import annotations

from typing import Any

import msgspec

UNDECLARED = {"iso_639_1": "en", "is_active": 1, "out_date_format": "YYYY-MM-DD"}
# (service, method) -> (declared list field, the name the server uses instead, a sample item)
RENAMED: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {
    ("Account", "get_subscriptions"): (
        "subscriptions",
        "subscription_list",
        {"i_account_subscription": 700, "i_product": 89, "start_date": "2023-06-01"},
    ),
}


def realistic(data: Any, cls: type, service: str, method: str) -> Any:
    """`data` (a reply as the simulator would send it) as a real server would send it."""
    out = _value(data, msgspec.inspect.type_info(cls))
    renamed = RENAMED.get((service, method))
    if renamed is not None and isinstance(out, dict):
        declared, actual, sample = renamed
        items = out.pop(declared, None) or [dict(sample, **UNDECLARED)]
        out[actual] = items
    return out


def _value(v: Any, t: Any) -> Any:
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _value(v, inner[0]) if len(inner) == 1 and v is not None else v
    if isinstance(t, mi.StructType) and isinstance(v, dict):
        fields = {f.encode_name: f.type for f in t.fields}
        out = {k: _value(x, fields[k]) if k in fields else x for k, x in v.items()}
        if any(k.startswith("i_") for k in out):  # a record: the undeclared fields come along
            out.update({k: x for k, x in UNDECLARED.items() if k not in fields})
        return out
    if isinstance(t, mi.ListType) and isinstance(v, list):
        if not v and not isinstance(t.item_type, mi.StructType | mi.ListType):
            return [None]
        return [_value(x, t.item_type) for x in v]
    if isinstance(t, mi.EnumType) and {m.value for m in t.cls} >= {"Y", "N"} and v in ("Y", "N"):
        return 1 if v == "Y" else 0
    if isinstance(t, mi.DateTimeType) and isinstance(v, str) and v.endswith(" 00:00:00"):
        return v[:10]
    return v
