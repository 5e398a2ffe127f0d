"""A PortaBilling simulator on loopback: one dispatcher behind both transports.

The JSON API (`POST /rest/{Service}/{method}`, form or `application/json` + Bearer) is served
here; SOAP is served by real SOAP::Lite (`soap_front.pl` beside this module), which forwards what Perl
deserialized to `/_dispatch` and serializes the answer itself. `/Porta/SOAP/...` on this server is
passed through to it, so one base URL serves both transports. The cache files are served at
`/wsdl/...`, `/xsd/...` and `/doc/api/...` for the fetch command.

State: sessions with expiry, customers, accounts, products and invoices with `i_*` ids, reseller
visibility, integrity faults, `limit`/`offset`/`total` paging, `get_extended_data_list` (JSON
only), an invoice PDF download, and a schema-valid default reply for every other operation.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib
import json
import os
import pkgutil
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import msgspec

from .realistic import realistic

PERL_FRONT = Path(__file__).parent / "soap_front.pl"
PERL_MODULES = ("SOAP::Lite", "SOAP::Transport::HTTP", "HTTP::Daemon", "JSON::PP")
SOAP_LITE_INSTALL = "apt-get install libsoap-lite-perl libhttp-daemon-perl"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class SimFault(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code = code
        self.text = text


@dataclass
class Call:
    """One request as the dispatcher received it (for assertions in tests)."""

    transport: str
    service: str
    method: str
    auth_info: dict[str, Any]
    params: Any
    content_type: str = ""


@dataclass
class Session:
    user: str
    expires: float
    reseller: int | None  # i_customer of the reseller, None for the administrator


@dataclass
class Users:
    """login -> (password, API token, reseller i_customer or None)."""

    entries: dict[str, tuple[str, str, int | None]] = field(
        default_factory=lambda: {"admin": ("secret", "tok-admin", None)}
    )


def _wire(value: Any) -> Any:
    """Server data as the JSON API writes it (datetimes without `T`)."""
    data = msgspec.to_builtins(value, builtin_types=(datetime, date, Decimal))
    return _fix(data)


def _fix(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fix(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix(v) for v in data]
    if isinstance(data, datetime):
        return data.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(data, date):
        return data.isoformat()
    if isinstance(data, Decimal):
        return str(data)
    if isinstance(data, bytes):
        return base64.b64encode(data).decode()
    return data


def _perl_strings(data: Any) -> Any:
    """What a Perl server holds: every scalar a string (bytes marked for base64)."""
    if isinstance(data, dict):
        return {k: _perl_strings(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_perl_strings(v) for v in data]
    if isinstance(data, bool):
        return "1" if data else "0"
    if isinstance(data, float):
        return repr(data)
    if data is None or isinstance(data, str):
        return data
    return str(data)


class Dispatcher:
    """The simulated server's logic, shared by both transports."""

    def __init__(self, package: str, session_ttl: float = 3600.0) -> None:
        self.package = package
        self.ops = _operations(package)
        self.session_ttl = session_ttl
        self.users = Users()
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.logins = 0
        # test hooks: a reply override per (service, method), and faults to inject
        self.replies: dict[tuple[str, str], Callable[[Call], Any]] = {}
        self.reply_all: Callable[[Call], Any] | None = None
        # replies as a real PortaBilling writes them (see realistic.py), on both transports
        self.real_server = False
        self.next_id = 100
        self.customers: dict[int, dict[str, Any]] = {}
        self.accounts: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}

    # ---- entry points --------------------------------------------------------------------------

    def handle(self, call: Call) -> Any:
        """The result as plain wire data, or raise SimFault."""
        with self.lock:
            self.calls.append(call)
        op = self.ops.get((call.service, call.method))
        if op is None:
            raise SimFault("Client.NoSuchMethod", f"{call.service}.{call.method} is not known")
        if op.json_only and call.transport != "json":
            raise SimFault("Client.NoSuchMethod", f"{call.service}.{call.method} is JSON only")
        params = self._params(op, call)
        session = None
        if op.auth:
            session = self._check_auth(call.auth_info)
        override = self.reply_all or self.replies.get((call.service, call.method))
        if override is not None:
            return override(call)
        handler = getattr(self, f"_{call.service}_{call.method}", None)
        with self.lock:
            if handler is not None:
                result = handler(params, session)
            else:
                result = default_instance(op.response) if op.response else None
        if result is not None and not isinstance(result, (dict, bytes, Download)):
            result = _wire(result)
        if self.real_server and isinstance(result, dict) and op.response is not None:
            result = realistic(result, op.response, call.service, call.method)
        return result

    def _params(self, op: Any, call: Call) -> Any:
        raw = call.params
        if call.transport == "soap":
            raw = _soap_params(op, raw)
        if op.request is None:
            return None
        try:
            return msgspec.convert(raw or {}, op.request, strict=False)
        except msgspec.ValidationError as exc:
            raise SimFault(
                f"Client.{call.service}.{call.method}.invalid_params", str(exc)
            ) from None

    # ---- sessions ------------------------------------------------------------------------------

    def _check_auth(self, auth: dict[str, Any] | None) -> Session:
        auth = auth or {}
        if not auth:
            raise SimFault("Client.check_auth.envelope_missed", "auth_info is missing")
        key = auth.get("session_id") or auth.get("access_token")
        if key:
            s = self.sessions.get(str(key))
            if s is None or s.expires < time.time():
                raise SimFault("Server.Session.check_auth.auth_failed", "Session expired")
            return s
        return self._authenticate(auth.get("login"), auth.get("password"), auth.get("token"))

    def _authenticate(self, login: Any, password: Any, token: Any) -> Session:
        entry = self.users.entries.get(str(login))
        if entry is None or not (
            (password and password == entry[0]) or (token and token == entry[1])
        ):
            raise SimFault("Server.Session.alert_You_must_change_password", "Invalid login")
        return Session(str(login), time.time() + self.session_ttl, entry[2])

    def reset(self) -> None:
        """A fresh server between tests (the processes stay up)."""
        with self.lock:
            self.users = Users()
            self.sessions.clear()
            self.calls.clear()
            self.replies.clear()
            self.reply_all = None
            self.real_server = False
            self.logins = 0
            for table in (self.customers, self.accounts, self.products, self.invoices):
                table.clear()

    def expire_sessions(self) -> None:
        with self.lock:
            for s in self.sessions.values():
                s.expires = 0

    def _Session_login(self, p: Any, _: Any) -> Any:
        s = self._authenticate(p.login, getattr(p, "password", None), getattr(p, "token", None))
        self.logins += 1
        sid = f"sess-{self.logins}-{os.urandom(4).hex()}"
        self.sessions[sid] = s
        result: dict[str, Any] = {"session_id": sid}
        fields = {
            f.encode_name for f in msgspec.structs.fields(_response_of(self, "Session", "login"))
        }
        if "access_token" in fields:
            result["access_token"] = sid
        return result

    def _Session_logout(self, p: Any, s: Session) -> Any:
        for sid, sess in list(self.sessions.items()):
            if sess is s:
                del self.sessions[sid]
        return {"success": 1}

    def _Session_ping(self, p: Any, s: Session) -> Any:
        return {"user_id": 1}

    # ---- customers, accounts, products ---------------------------------------------------------

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _visible_customer(self, i_customer: int, s: Session | None) -> dict[str, Any] | None:
        c = self.customers.get(i_customer)
        if c is None:
            return None
        if s is not None and s.reseller is not None and c.get("i_parent") != s.reseller:
            return None
        return c

    def _visible_customers(self, s: Session | None) -> list[dict[str, Any]]:
        return [c for i, c in sorted(self.customers.items()) if self._visible_customer(i, s)]

    def _Customer_add_customer(self, p: Any, s: Session) -> Any:
        info = _wire(p.customer_info)
        if not info.get("name"):
            raise SimFault("Client.Customer.add_customer.name_required", "name is required")
        if any(c["name"] == info["name"] for c in self.customers.values()):
            raise SimFault("Server.Customer.add_customer.duplicate_name", "name already used")
        i_customer = self._new_id()
        if s.reseller is not None:
            info["i_parent"] = s.reseller
        info.setdefault("balance", 0)
        info["i_customer"] = i_customer
        self.customers[i_customer] = info
        return {"i_customer": i_customer}

    def _Customer_get_customer_info(self, p: Any, s: Session) -> Any:
        c = None
        if isinstance(p.i_customer, int):
            c = self._visible_customer(p.i_customer, s)
        elif isinstance(p.name, str):
            c = next((x for x in self._visible_customers(s) if x["name"] == p.name), None)
        return {"customer_info": c} if c else {}

    def _Customer_update_customer(self, p: Any, s: Session) -> Any:
        info = _wire(p.customer_info)
        c = self._visible_customer(info.get("i_customer", -1), s)
        if c is None:
            raise SimFault("Server.Customer.update_customer.not_found", "no such customer")
        c.update(info)
        return {"i_customer": c["i_customer"]}

    def _Customer_delete_customer(self, p: Any, s: Session) -> Any:
        if self._visible_customer(p.i_customer, s) is None:
            raise SimFault("Server.Customer.delete_customer.not_found", "no such customer")
        if any(a["i_customer"] == p.i_customer for a in self.accounts.values()):
            raise SimFault(
                "Server.Customer.delete_customer.has_accounts", "the customer still has accounts"
            )
        del self.customers[p.i_customer]
        return {"success": 1}

    def _Customer_get_customer_list(self, p: Any, s: Session) -> Any:
        rows = self._visible_customers(s)
        if isinstance(p.name, str):
            rows = [c for c in rows if _like(c.get("name"), p.name)]
        return _page(rows, p, "customer_list")

    def _Account_add_account(self, p: Any, s: Session) -> Any:
        info = _wire(p.account_info)
        if self._visible_customer(info.get("i_customer", -1), s) is None:
            raise SimFault(
                "Server.Account.add_account.customer_not_found",
                f"customer {info.get('i_customer')} does not exist",
            )
        if "i_product" in info and info["i_product"] not in self.products:
            raise SimFault("Server.Account.add_account.product_not_found", "no such product")
        if any(a["id"] == info.get("id") for a in self.accounts.values()):
            raise SimFault("Server.Account.add_account.duplicate_id", "account id already used")
        i_account = self._new_id()
        info["i_account"] = i_account
        self.accounts[i_account] = info
        return {"i_account": i_account}

    def _visible_account(self, i_account: Any, s: Session) -> dict[str, Any] | None:
        a = self.accounts.get(i_account) if isinstance(i_account, int) else None
        if a is None or self._visible_customer(a["i_customer"], s) is None:
            return None
        return a

    def _Account_get_account_info(self, p: Any, s: Session) -> Any:
        a = self._visible_account(p.i_account, s)
        if a is None and isinstance(p.id, str):
            a = next(
                (
                    x
                    for x in self.accounts.values()
                    if x.get("id") == p.id and self._visible_account(x["i_account"], s)
                ),
                None,
            )
        if a is None:
            raise SimFault("Server.Account.get_account_info.not_found", "no such account")
        return {"account_info": a}

    def _Account_update_account(self, p: Any, s: Session) -> Any:
        info = _wire(p.account_info)
        a = self._visible_account(info.get("i_account"), s)
        if a is None:
            raise SimFault("Server.Account.update_account.not_found", "no such account")
        a.update(info)
        return {"i_account": a["i_account"]}

    def _Account_delete_account(self, p: Any, s: Session) -> Any:
        if self._visible_account(p.i_account, s) is None:
            raise SimFault("Server.Account.delete_account.not_found", "no such account")
        del self.accounts[p.i_account]
        return {"success": 1}

    def _Account_get_account_list(self, p: Any, s: Session) -> Any:
        rows = [a for i, a in sorted(self.accounts.items()) if self._visible_account(i, s)]
        if isinstance(p.i_customer, int):
            rows = [a for a in rows if a["i_customer"] == p.i_customer]
        if isinstance(p.id, str):
            rows = [a for a in rows if _like(a.get("id"), p.id)]
        return _page(rows, p, "account_list")

    def _Product_add_product(self, p: Any, s: Session) -> Any:
        info = _wire(p.product_info)
        i_product = self._new_id()
        info["i_product"] = i_product
        self.products[i_product] = info
        return {"i_product": i_product}

    def _Product_get_product_info(self, p: Any, s: Session) -> Any:
        prod = self.products.get(p.i_product) if isinstance(p.i_product, int) else None
        if prod is None:
            raise SimFault("Server.Product.get_product_info.not_found", "no such product")
        return {"product_info": prod}

    def _Product_get_product_list(self, p: Any, s: Session) -> Any:
        return _page([v for _, v in sorted(self.products.items())], p, "product_list")

    def add_invoice(self, i_customer: int, **fields: Any) -> int:
        """Invoices have no add method in the API; tests create them here."""
        i_invoice = self._new_id()
        self.invoices[i_invoice] = {"i_invoice": i_invoice, "i_customer": i_customer, **fields}
        return i_invoice

    def _Invoice_get_invoice_pdf(self, p: Any, s: Session) -> Any:
        inv = self.invoices.get(p.i_invoice)
        if inv is None or self._visible_customer(inv["i_customer"], s) is None:
            raise SimFault("Server.Invoice.get_invoice_pdf.not_found", "no such invoice")
        return Download(
            f"invoice_{p.i_invoice}.pdf", "application/pdf", PDF + str(p.i_invoice).encode()
        )

    def _Customer_get_extended_data_list(self, p: Any, s: Session) -> Any:
        records = []
        for c in self._visible_customers(s):
            accounts = [a for a in self.accounts.values() if a["i_customer"] == c["i_customer"]]
            products = [
                self.products[a["i_product"]]
                for a in accounts
                if a.get("i_product") in self.products
            ]
            invoices = [i for i in self.invoices.values() if i["i_customer"] == c["i_customer"]]
            if not _matches(c, p.customer_filter):
                continue
            if p.account_filter and not any(_matches(a, p.account_filter) for a in accounts):
                continue
            if p.product_filter and not any(_matches(x, p.product_filter) for x in products):
                continue
            if p.invoice_filter and not any(_matches(i, p.invoice_filter) for i in invoices):
                continue
            records.append(
                {
                    "customer_info": c,
                    "accounts": accounts,
                    "products": products,
                    "invoices": invoices,
                }
            )
        return _page(records, p, "records")


@dataclass
class Download:
    name: str
    content_type: str
    content: bytes


def _matches(row: dict[str, Any], conditions: Any) -> bool:
    if not isinstance(conditions, list):
        return True
    for cond in conditions:
        value: Any = row.get(cond.field_)
        op = cond.op if isinstance(cond.op, str) else "eq"
        wanted = list(cond.value) if isinstance(cond.value, list) else []
        if isinstance(cond.in_, list):
            ok = str(value) in [str(v) for v in cond.in_]
        elif op == "like":
            ok = any(_like(value, w) for w in wanted)
        elif op in ("lt", "gt"):
            try:
                ok = any(
                    (float(value) < float(w)) if op == "lt" else (float(value) > float(w))
                    for w in wanted
                )
            except (TypeError, ValueError):
                ok = False
        else:
            ok = any(str(value) == str(w) for w in wanted)
            ok = not ok if op == "ne" else ok
        if cond.not_ == 1:
            ok = not ok
        if not ok:
            return False
    return True


def _like(value: Any, pattern: str) -> bool:
    import fnmatch

    return isinstance(value, str) and fnmatch.fnmatchcase(
        value, pattern.replace("%", "*").replace("_", "?")
    )


def _page(rows: list[Any], p: Any, name: str) -> dict[str, Any]:
    offset = p.offset if isinstance(getattr(p, "offset", None), int) else 0
    limit = p.limit if isinstance(getattr(p, "limit", None), int) else None
    page = rows[offset : offset + limit if limit is not None else None]
    return {name: page, "total": len(rows)}


def _response_of(d: Dispatcher, service: str, method: str) -> Any:
    return d.ops[(service, method)].response


def _soap_params(op: Any, parts: Any) -> Any:
    """Parts by position, as SOAP::Lite hands them to a PortaBilling handler."""
    parts = [_unbytes(p) for p in (parts or [])]
    if op.request is None:
        return None
    if op.request_wrapped:
        names = [f.encode_name for f in msgspec.structs.fields(op.request)]
        data: Any = dict(zip(names, parts, strict=False))
    else:
        data = parts[0] if parts else {}
    return _listify(data, msgspec.inspect.type_info(op.request))


def _listify(data: Any, t: Any) -> Any:
    """A repeated element sent once reaches a Perl handler as a scalar, not a one-item list;
    PortaBilling's handlers read such fields by the schema, and so does this one."""
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _listify(data, inner[0]) if len(inner) == 1 else data
    if isinstance(t, mi.StructType) and isinstance(data, dict):
        kinds = {f.encode_name: f.type for f in t.fields}
        return {k: _listify(v, kinds[k]) if k in kinds else v for k, v in data.items()}
    if isinstance(t, (mi.ListType, mi.TupleType)) and data is not None:
        item = getattr(t, "item_type", mi.AnyType())
        items = data if isinstance(data, list) else [data]
        return [_listify(v, item) for v in items]
    return data


def _unbytes(data: Any) -> Any:
    """Perl marks decoded base64 as {"__bytes__": b64}; msgspec reads bytes from base64 text."""
    if isinstance(data, dict):
        if set(data) == {"__bytes__"}:
            return data["__bytes__"]
        return {k: _unbytes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unbytes(v) for v in data]
    return data


def default_instance(cls: Any) -> Any:
    """A schema-valid value of a response type: required fields filled, the rest unset."""
    return _default(msgspec.inspect.type_info(cls), set())


def _default(t: Any, seen: set[Any]) -> Any:
    mi = msgspec.inspect
    if isinstance(t, mi.UnionType):
        for x in t.types:
            if isinstance(x, mi.NoneType):
                return None
        return _default(t.types[0], seen)
    if isinstance(t, mi.StructType):
        if t.cls in seen:
            return None
        seen = seen | {t.cls}
        kwargs = {f.name: _default(f.type, seen) for f in t.fields if f.required}
        return t.cls(**kwargs)
    if isinstance(t, (mi.ListType, mi.TupleType)):
        return []
    if isinstance(t, mi.EnumType):
        return next(iter(t.cls))
    samples = {
        mi.IntType: 0,
        mi.FloatType: 0.0,
        mi.StrType: "",
        mi.BoolType: False,
        mi.BytesType: b"",
        mi.DecimalType: Decimal(0),
        mi.DateTimeType: datetime(2000, 1, 1),
        mi.DateType: date(2000, 1, 1),
    }
    for kind, value in samples.items():
        if isinstance(t, kind):
            return value
    return None


def _operations(package: str) -> dict[tuple[str, str], Any]:
    pkg = importlib.import_module(package)
    runtime = importlib.import_module(f"{package}._runtime.operation")
    ops: dict[tuple[str, str], Any] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "types" or not info.ispkg:
            continue
        iface = importlib.import_module(f"{package}.{info.name}")
        for mod in pkgutil.iter_modules(iface.__path__):
            if mod.name.startswith("_"):
                continue
            m = importlib.import_module(f"{package}.{info.name}.{mod.name}")
            for value in vars(m).values():
                if isinstance(value, runtime.Operation):
                    ops.setdefault((value.service, value.name), value)
    return ops


# ---- HTTP ---------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if self.server.inject is not None and self.server.inject(self, path, b""):
            return
        target = self.server.static_file(path)
        if target is None:
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, target.read_bytes(), "application/octet-stream")

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        body = self._body()
        sim = self.server.sim
        if self.server.inject is not None:
            injected = self.server.inject(self, path, body)
            if injected:
                return
        if path == "/_dispatch" and self.client_address[0] == "127.0.0.1":
            request = json.loads(body)
            call = Call(
                "soap",
                request["service"],
                request["method"],
                request["auth_info"] or {},
                request["params"],
            )
            try:
                result = sim.handle(call)
            except SimFault as f:
                self._json(200, {"fault": {"code": f.code, "string": f.text}})
                return
            if isinstance(result, Download):
                result = {
                    "file": {"__base64__": base64.b64encode(result.content).decode()},
                    "file_name": result.name,
                    "mime_type": result.content_type,
                }
            op = sim.ops[(call.service, call.method)]
            if op.response_wrapped and isinstance(result, dict):
                names = [f.encode_name for f in msgspec.structs.fields(op.response)]
                result = {"__parts__": [result.get(n) for n in names]}
            self._json(200, {"result": _perl_strings(result)})
            return
        if path.startswith("/Porta/SOAP/"):
            self._forward_soap(path, body)
            return
        if path.startswith("/rest/"):
            self._rest(path, body)
            return
        self._send(404, b"not found", "text/plain")

    def _rest(self, path: str, body: bytes) -> None:
        _, _, service, method = path.split("/", 3)
        ctype = self.headers.get("Content-Type", "")
        auth: dict[str, Any] = {}
        try:
            if ctype.startswith("application/json"):
                params = json.loads(body or b"{}").get("params", {})
                bearer = self.headers.get("Authorization", "")
                if bearer.startswith("Bearer "):
                    auth = {"access_token": bearer[7:]}
            elif ctype.startswith("multipart/form-data"):
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
                )
                form = {
                    p.get_param("name", header="content-disposition"): p.get_content()
                    for p in msg.iter_parts()
                }
                params = json.loads(form.get("params") or "{}")
                auth = json.loads(form.get("auth_info") or "{}")
            else:
                form = {
                    k: v[0]
                    for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()
                }
                params = json.loads(form.get("params") or "{}")
                auth = json.loads(form.get("auth_info") or "{}")
        except (ValueError, KeyError) as exc:
            self._json(500, {"faultcode": "Client.Request.bad_params", "faultstring": str(exc)})
            return
        call = Call("json", service, method, auth, params, ctype)
        try:
            result = self.server.sim.handle(call)
        except SimFault as f:
            self._json(500, {"faultcode": f.code, "faultstring": f.text})
            return
        if isinstance(result, Download):
            self.send_response(200)
            self.send_header("Content-Type", result.content_type)
            self.send_header("Content-Disposition", f'attachment; filename="{result.name}"')
            self.send_header("Content-Length", str(len(result.content)))
            self.end_headers()
            self.wfile.write(result.content)
            return
        self._json(200, result if result is not None else {})

    def _forward_soap(self, path: str, body: bytes) -> None:
        if not self.server.soap_port:
            text = b"SOAP is not served here: the simulator runs without SOAP::Lite"
            self._send(501, text, "text/plain")
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.server.soap_port, timeout=60)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() in ("content-type", "soapaction")
        }
        conn.request("POST", path, body, headers)
        reply = conn.getresponse()
        data = reply.read()
        self._send(reply.status, data, reply.getheader("Content-Type") or "text/xml")
        conn.close()

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sim: Dispatcher
    soap_port: int
    cache: Path | None
    inject: Callable[[_Handler, str, bytes], bool] | None = None

    def static_file(self, path: str) -> Path | None:
        if self.cache is None:
            return None
        if path.startswith("/doc/api/"):
            rel = Path("openapi") / path[len("/doc/api/") :]
        elif path.startswith("/wsdl/"):
            name = path[len("/wsdl/") :]
            rel = next(
                (
                    Path(d) / name
                    for d in ("admin", "customer", "reseller", "account")
                    if (self.cache / d / name).is_file()
                ),
                Path("wsdl") / name,
            )
        elif path.startswith("/xsd/"):
            rel = Path("xsd") / path[len("/xsd/") :]
        else:
            return None
        target = (self.cache / rel).resolve()
        if self.cache.resolve() not in target.parents or not target.is_file():
            return None
        return target


@dataclass
class Running:
    url: str  # JSON API, static files and SOAP (passed through) on one port
    soap_url: str  # SOAP::Lite itself ("" when served without SOAP)
    sim: Dispatcher
    server: _Server


def soap_lite_missing() -> str | None:
    """Why the SOAP::Lite front cannot start here (None when it can)."""
    if shutil.which("perl") is None:
        return f"perl is not installed ({SOAP_LITE_INSTALL})"
    probe = subprocess.run(
        ["perl", *(f"-M{m}" for m in PERL_MODULES), "-e", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        first = (probe.stderr.strip().splitlines() or ["perl modules missing"])[0]
        return f"SOAP::Lite is not usable ({first[:160]}); {SOAP_LITE_INSTALL}"
    return None


@contextlib.contextmanager
def serve(
    package: str,
    cache: Path | None = None,
    session_ttl: float = 3600.0,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    soap: bool = True,
) -> Iterator[Running]:
    """Start the simulator (Python dispatcher + SOAP::Lite front) on `host:port` (0: any free).

    With `soap=False` only the JSON API and the static files are served, and perl is not needed.
    """
    if soap and (why := soap_lite_missing()) is not None:
        raise RuntimeError(f"the SOAP side needs SOAP::Lite: {why}")
    sim = Dispatcher(package, session_ttl)
    server = _Server((host, port), _Handler)
    server.sim = sim
    server.cache = cache
    server.soap_port = 0
    bound = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    if not soap:
        try:
            yield Running(f"http://{_url_host(host)}:{bound}", "", sim, server)
        finally:
            server.shutdown()
            server.server_close()
        return
    perl = subprocess.Popen(
        ["perl", str(PERL_FRONT), f"http://127.0.0.1:{bound}/_dispatch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its per-connection children go down with it
    )
    try:
        assert perl.stdout is not None
        line = perl.stdout.readline()
        if not line.startswith("PORT "):
            err = perl.stderr.read() if perl.stderr else ""
            raise RuntimeError(f"SOAP::Lite front did not start: {line!r} {err}")
        server.soap_port = int(line.split()[1])
        yield Running(
            f"http://{_url_host(host)}:{bound}",
            f"http://127.0.0.1:{server.soap_port}",
            sim,
            server,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(perl.pid, signal.SIGTERM)
        perl.wait(timeout=10)
        server.shutdown()
        server.server_close()


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host
