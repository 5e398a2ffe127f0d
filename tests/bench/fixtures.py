"""Benchmark fixtures: list replies as SOAP::Lite and the JSON API write them.

`python -m tests.bench.fixtures` starts the simulator and stores gzip'd replies of
get_account_list (10 and 1 000 accounts), Customer.get_customer_list (1 000 customers) and
Account.get_xdr_list (1 000 xDRs) under tests/bench/fixtures/ (committed, so `make bench` needs no
Perl). Larger payloads are built at run time by repeating the server's own item serialization.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "fixtures"
SIZES = (10, 1000)


def reply_data(n: int) -> dict[str, Any]:
    from generator.simulator.data import to_wire as _wire
    from tests.bench.data import accounts

    return {"account_list": [_wire(a) for a in accounts(n)], "total": n}


def _lists() -> list[tuple[str, str, str, str, Any]]:
    """(fixture stem, service, method, list field, records) beyond the account lists."""
    from tests.bench.data import customers, xdrs

    return [
        ("customer_list_1000", "Customer", "get_customer_list", "customer_list", customers(1000)),
        ("xdr_list_1000", "Account", "get_xdr_list", "xdr_list", xdrs(1000)),
    ]


def build() -> None:
    import httpx
    from portabilling import AdminClient
    from portabilling.admin import account, customer
    from portabilling.admin.account import GET_ACCOUNT_INFO, GET_ACCOUNT_LIST
    from portabilling.types import GetAccountInfoRequest, GetAccountListRequest

    from generator.simulator.calls import Session
    from generator.simulator.data import to_wire as _wire
    from generator.simulator.server import serve

    HERE.mkdir(exist_ok=True)
    ops = {"get_customer_list": customer.GET_CUSTOMER_LIST, "get_xdr_list": account.GET_XDR_LIST}
    with serve("portabilling") as running:
        running.sim.sessions["bench"] = Session("admin", 1e12, None)
        for stem, service, method, field, records in _lists():
            data = {field: [_wire(r) for r in records], "total": len(records)}
            running.sim.replies[(service, method)] = lambda call, d=data: d
            op = ops[method]
            for transport, url in (("soap", running.soap_url), ("json", running.url)):
                client = AdminClient(url, transport=transport, session_id="bench")
                required = {"i_account": 1} if "i_account" in op.request.__struct_fields__ else {}
                request = client.build_request(op, op.request(**required))
                body = httpx.Client(timeout=600).send(request).content
                ext = "xml" if transport == "soap" else "json"
                (HERE / f"{stem}.{ext}.gz").write_bytes(gzip.compress(body, 9, mtime=0))
        for n in SIZES:
            data = reply_data(n)
            running.sim.replies[("Account", "get_account_list")] = lambda call, d=data: d
            for transport, url in (("soap", running.soap_url), ("json", running.url)):
                client = AdminClient(url, transport=transport, session_id="bench")
                request = client.build_request(GET_ACCOUNT_LIST, GetAccountListRequest(limit=n))
                body = httpx.Client(timeout=600).send(request).content
                ext = "xml" if transport == "soap" else "json"
                (HERE / f"account_list_{n}.{ext}.gz").write_bytes(gzip.compress(body, 9, mtime=0))
        one = reply_data(1)["account_list"][0]
        running.sim.replies[("Account", "get_account_info")] = lambda call: {"account_info": one}
        client = AdminClient(running.soap_url, transport="soap", session_id="bench")
        request = client.build_request(GET_ACCOUNT_INFO, GetAccountInfoRequest(i_account=1))
        body = httpx.Client().send(request).content
        (HERE / "account_info.xml.gz").write_bytes(gzip.compress(body, 9, mtime=0))


def load(name: str) -> bytes:
    return gzip.decompress((HERE / name).read_bytes())


def soap_list(n_items: int, stem: str = "account_list_1000", field: str = "account_list") -> bytes:
    """A SOAP::Lite list reply of any size, made of the 1 000 items it serialized."""
    from lxml import etree

    body = load(f"{stem}.xml.gz")
    root = etree.fromstring(body)
    array = next(e for e in root.iter() if etree.QName(e).localname == field)
    items = [etree.tostring(e) for e in array]
    for e in list(array):
        array.remove(e)
    array.text = "ITEMS"
    head, _, tail = etree.tostring(root, xml_declaration=True, encoding="UTF-8").partition(
        b"ITEMS"
    )
    head = head.replace(b"xsd:anyType[1000]", f"xsd:anyType[{n_items}]".encode())
    return head + b"".join(items[k % len(items)] for k in range(n_items)) + tail


def json_list(n_items: int, stem: str = "account_list_1000", field: str = "account_list") -> bytes:
    """A JSON API list reply of any size, made of the 1 000 items the server wrote."""
    import json

    data = json.loads(load(f"{stem}.json.gz"))
    items = data[field]
    data[field] = [items[k % len(items)] for k in range(n_items)]
    data["total"] = n_items
    return json.dumps(data, separators=(",", ":")).encode()


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "generated"), str(ROOT)]
    build()
