"""The simulated server's state and business logic, one dispatcher behind both transports.

State: sessions with expiry (and access tokens with refresh, see `tokens`), customers, accounts, products, DIDs and invoices with `i_*` ids,
reseller visibility, integrity faults, `limit`/`offset`/`total` paging (`limit` capped at 1000 in
real-server mode; accounts added and closed between pages with `churn`), `get_extended_data_list`
(JSON only), an invoice PDF download, and a schema-valid default reply for every other operation.
Each change of a customer, account, DID or invoice is handed to `events` (an ESPF sender, when
one is attached) as the provisioning event PortaBilling would post; `faults` holds the faults
and delays tests inject.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ..introspect import operations_by_key
from .calls import PDF, Call, Download, Session, SimFault, Users
from .churn import Churn
from .data import like, page, to_wire
from .defaults import default_instance
from .espf import DeliveryFault, EventSender
from .extended import extended_data_list
from .faults import Faults, Spec
from .realistic import realistic
from .soap_lite import soap_params
from .tokens import Tokens

# PortaBilling's cap on `limit` in list methods (WebTrit's adapter: MAX_API_LIMIT = 1000)
MAX_LIMIT = 1000


class Dispatcher:
    """The simulated server's logic, shared by both transports."""

    def __init__(self, package: str, session_ttl: float = 3600.0) -> None:
        self.package = package
        self.ops = operations_by_key(package)
        self.session_ttl = session_ttl
        self.users = Users()
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.logins = 0  # successful Session.login calls: what session reuse saves
        self.tokens = Tokens(self.sessions)
        self.churn: Churn | None = None  # accounts added and closed between list pages
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
        self.customer_classes: dict[int, dict[str, Any]] = {}
        self.dids: dict[int, dict[str, Any]] = {}
        self.faults = Faults()
        self.events: EventSender | None = None  # where changes are posted as ESPF events

    # ---- entry points --------------------------------------------------------------------------

    def handle(self, call: Call) -> Any:
        """The result as plain wire data, or raise SimFault."""
        with self.lock:
            self.calls.append(call)
        op = self.ops.get((call.service, call.method))
        if op is None and (call.service, call.method) == ("Session", "refresh_access_token"):
            return self._refresh(call)  # undeclared in the bundled releases' bindings
        if op is None:
            raise SimFault("Client.NoSuchMethod", f"{call.service}.{call.method} is not known")
        if op.json_only and call.transport != "json":
            raise SimFault("Client.NoSuchMethod", f"{call.service}.{call.method} is JSON only")
        params = self._params(op, call)
        self._injected(call)
        limit = getattr(params, "limit", None)
        if self.real_server and isinstance(limit, int) and limit > MAX_LIMIT:
            raise SimFault(
                f"Client.{call.service}.{call.method}.limit_exceeded",
                f"limit {limit} is above the maximum of {MAX_LIMIT} records per request",
            )
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
            result = to_wire(result)
        if self.real_server and isinstance(result, dict) and op.response is not None:
            result = realistic(result, op.response, call.service, call.method)
        return result

    def _injected(self, call: Call) -> None:
        rule = self.faults.take(call.service, call.method, ("fault", "delay"))
        if rule is not None and rule.kind == "fault":
            raise SimFault(rule.code, rule.text)
        if rule is not None:
            time.sleep(rule.seconds)

    def _refresh(self, call: Call) -> Any:
        if self.tokens.lifetime is None:
            raise SimFault("Client.NoSuchMethod", "Session.refresh_access_token is not known")
        self._injected(call)
        with self.lock:
            return self.tokens.refresh(call.params)

    def use_tokens(self, lifetime: float | None) -> None:
        """Logins hand out access tokens living `lifetime` seconds (None: session ids only)."""
        if lifetime is not None and lifetime <= 0:
            raise ValueError("a token lifetime must be positive")
        with self.lock:
            self.tokens.lifetime = lifetime

    def _params(self, op: Any, call: Call) -> Any:
        raw = call.params
        if call.transport == "soap":
            raw = soap_params(op, raw)
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
        """A fresh server between tests (the processes stay up); an attached event sender is
        closed and detached."""
        if self.events is not None:
            self.events.close()
            self.events = None
        self.faults.clear()
        with self.lock:
            self.users = Users()
            self.sessions.clear()
            self.calls.clear()
            self.replies.clear()
            self.reply_all = None
            self.real_server = False
            self.logins = 0
            self.tokens.clear()
            self.churn = None
            for table in (
                self.customers,
                self.accounts,
                self.products,
                self.invoices,
                self.customer_classes,
                self.dids,
            ):
                table.clear()

    def expire_sessions(self) -> None:
        with self.lock:
            for s in self.sessions.values():
                s.expires = 0
            self.tokens.invalidate()

    def emit(self, event_type: str, **ids: object) -> None:
        """The ESPF event of a change, when a sender is attached."""
        if self.events is not None:
            self.events.emit(event_type, **ids)

    def apply(self, spec: Spec) -> str:
        """Carry out a command-line fault spec (see `faults`); returns what was done."""
        if spec.target == "sessions":
            self.expire_sessions()
            return "every session expired"
        if spec.target == "tokens":
            self.use_tokens(float(spec.value) if spec.kind == "lifetime" else None)
            return f"access tokens {'off' if spec.kind == 'off' else f'for {spec.value} s'}"
        if spec.target == "accounts":
            inserts, _, closes = spec.value.partition(",")
            with self.lock:
                self.churn = Churn(int(inserts), int(closes or 0))
            return f"accounts churn: {inserts} added, {closes or 0} closed between list pages"
        if spec.target == "real-server":
            self.real_server = spec.kind == "on"
            return f"real-server replies {spec.kind}"
        if spec.target == "events":
            if self.events is None:
                raise ValueError("events:... needs the simulator to send events (--events-to)")
            how: DeliveryFault = (
                "refused"
                if spec.kind == "refused"
                else ("timeout" if spec.kind == "timeout" else "500")
            )
            self.events.fail_next(spec.count, how)
            return f"the next {spec.count} event deliveries: {spec.kind}"
        if spec.kind == "fault":
            self.faults.fault(spec.target, spec.value, count=spec.count)
        elif spec.kind == "delay":
            self.faults.delay(spec.target, float(spec.value), count=spec.count)
        else:
            self.faults.drop(spec.target, count=spec.count)
        return f"the next {spec.count} calls of {spec.target}: {spec.kind} {spec.value}".rstrip()

    def _Session_login(self, p: Any, _: Any) -> Any:
        s = self._authenticate(p.login, getattr(p, "password", None), getattr(p, "token", None))
        self.logins += 1
        sid = f"sess-{self.logins}-{os.urandom(4).hex()}"
        self.sessions[sid] = s
        if self.tokens.lifetime is not None:
            return self.tokens.grant(s, sid)
        result: dict[str, Any] = {"session_id": sid}
        fields = {
            f.encode_name for f in msgspec.structs.fields(self.ops[("Session", "login")].response)
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

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _visible_customer(self, i_customer: int, s: Session | None) -> dict[str, Any] | None:
        c = self.customers.get(i_customer)
        if c is None:
            return None
        if s is not None and s.reseller is not None and c.get("i_parent") != s.reseller:
            return None
        return c

    def visible_customers(self, s: Session | None) -> list[dict[str, Any]]:
        return [c for i, c in sorted(self.customers.items()) if self._visible_customer(i, s)]

    def _Customer_add_customer(self, p: Any, s: Session) -> Any:
        info = to_wire(p.customer_info)
        if not info.get("name"):
            raise SimFault("Client.Customer.add_customer.name_required", "name is required")
        if any(c["name"] == info["name"] for c in self.customers.values()):
            raise SimFault("Server.Customer.add_customer.duplicate_name", "name already used")
        i_customer = self.new_id()
        if s.reseller is not None:
            info["i_parent"] = s.reseller
        info.setdefault("balance", 0)
        info["i_customer"] = i_customer
        self.customers[i_customer] = info
        self.emit("Customer/Created", i_customer=i_customer)
        return {"i_customer": i_customer}

    def _Customer_get_customer_info(self, p: Any, s: Session) -> Any:
        c = None
        if isinstance(p.i_customer, int):
            c = self._visible_customer(p.i_customer, s)
        elif isinstance(p.name, str):
            c = next((x for x in self.visible_customers(s) if x["name"] == p.name), None)
        return {"customer_info": c} if c else {}

    def _Customer_update_customer(self, p: Any, s: Session) -> Any:
        info = to_wire(p.customer_info)
        c = self._visible_customer(info.get("i_customer", -1), s)
        if c is None:
            raise SimFault("Server.Customer.update_customer.not_found", "no such customer")
        c.update(info)
        self.emit("Customer/Updated", i_customer=c["i_customer"])
        return {"i_customer": c["i_customer"]}

    def _Customer_delete_customer(self, p: Any, s: Session) -> Any:
        if self._visible_customer(p.i_customer, s) is None:
            raise SimFault("Server.Customer.delete_customer.not_found", "no such customer")
        if any(a["i_customer"] == p.i_customer for a in self.accounts.values()):
            raise SimFault(
                "Server.Customer.delete_customer.has_accounts", "the customer still has accounts"
            )
        del self.customers[p.i_customer]
        self.emit("Customer/Deleted", i_customer=p.i_customer)
        return {"success": 1}

    def _Customer_get_customer_list(self, p: Any, s: Session) -> Any:
        rows = self.visible_customers(s)
        if isinstance(p.name, str):
            rows = [c for c in rows if like(c.get("name"), p.name)]
        return page(rows, p, "customer_list")

    def _Account_add_account(self, p: Any, s: Session) -> Any:
        info = to_wire(p.account_info)
        if self._visible_customer(info.get("i_customer", -1), s) is None:
            raise SimFault(
                "Server.Account.add_account.customer_not_found",
                f"customer {info.get('i_customer')} does not exist",
            )
        if "i_product" in info and info["i_product"] not in self.products:
            raise SimFault("Server.Account.add_account.product_not_found", "no such product")
        if any(a["id"] == info.get("id") for a in self.accounts.values()):
            raise SimFault("Server.Account.add_account.duplicate_id", "account id already used")
        i_account = self.new_id()
        info["i_account"] = i_account
        self.accounts[i_account] = info
        self.emit("Subscriber/Created", i_account=i_account)
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
        info = to_wire(p.account_info)
        a = self._visible_account(info.get("i_account"), s)
        if a is None:
            raise SimFault("Server.Account.update_account.not_found", "no such account")
        a.update(info)
        self.emit("Subscriber/Updated", i_account=a["i_account"])
        return {"i_account": a["i_account"]}

    def _Account_delete_account(self, p: Any, s: Session) -> Any:
        if self._visible_account(p.i_account, s) is None:
            raise SimFault("Server.Account.delete_account.not_found", "no such account")
        del self.accounts[p.i_account]
        self.emit("Subscriber/Deleted", i_account=p.i_account)
        return {"success": 1}

    def _Account_get_account_list(self, p: Any, s: Session) -> Any:
        # the table's order (ids only grow, so id order, unless `churn` inserts elsewhere); the
        # administrator sees every row
        rows = list(self.accounts.values())
        if s.reseller is not None:
            rows = [a for a in rows if self._visible_account(a["i_account"], s)]
        if isinstance(p.i_customer, int):
            rows = [a for a in rows if a["i_customer"] == p.i_customer]
        if isinstance(p.id, str):
            rows = [a for a in rows if like(a.get("id"), p.id)]
        served = page(rows, p, "account_list")
        if self.churn is not None:
            self.churn.after_page(self)
        return served

    def _Product_add_product(self, p: Any, s: Session) -> Any:
        info = to_wire(p.product_info)
        i_product = self.new_id()
        info["i_product"] = i_product
        self.products[i_product] = info
        return {"i_product": i_product}

    def _Product_get_product_info(self, p: Any, s: Session) -> Any:
        prod = self.products.get(p.i_product) if isinstance(p.i_product, int) else None
        if prod is None:
            raise SimFault("Server.Product.get_product_info.not_found", "no such product")
        return {"product_info": prod}

    def _Product_get_product_list(self, p: Any, s: Session) -> Any:
        return page([v for _, v in sorted(self.products.items())], p, "product_list")

    def add_invoice(self, i_customer: int, **fields: Any) -> int:
        """Invoices have no add method in the API; tests create them here."""
        with self.lock:
            i_invoice = self.new_id()
            self.invoices[i_invoice] = {"i_invoice": i_invoice, "i_customer": i_customer, **fields}
            self.emit("Invoice/Created", i_customer=i_customer, i_invoice=i_invoice)
        return i_invoice

    def _visible_invoice(self, i_invoice: Any, s: Session, method: str) -> dict[str, Any]:
        inv = self.invoices.get(i_invoice)
        if inv is None or self._visible_customer(inv["i_customer"], s) is None:
            raise SimFault(f"Server.Invoice.{method}.not_found", "no such invoice")
        return inv

    def _Invoice_get_invoice_info(self, p: Any, s: Session) -> Any:
        inv = self._visible_invoice(p.i_invoice, s, "get_invoice_info")
        return {"invoice_info": inv, "iso_4217": inv.get("iso_4217", "USD")}

    def _Invoice_mark_invoice_paid(self, p: Any, s: Session) -> Any:
        inv = self._visible_invoice(p.i_invoice, s, "mark_invoice_paid")
        inv["amount_paid"] = inv.get("amount_net", 0)
        self.emit("Invoice/Updated", i_customer=inv["i_customer"], i_invoice=p.i_invoice)
        return {"success": 1}

    # ---- DIDs ----------------------------------------------------------------------------------

    def _DID_add_number(self, p: Any, s: Session) -> Any:
        info = to_wire(p.number_info)
        if not info.get("number"):
            raise SimFault("Client.DID.add_number.number_required", "number is required")
        if any(d["number"] == info["number"] for d in self.dids.values()):
            raise SimFault("Server.DID.add_number.duplicate_number", "number already exists")
        info["i_did_number"] = i_did = self.new_id()
        self.dids[i_did] = info
        self.emit("DID/Created", number=info["number"])
        return {"i_did_number": i_did}

    def _did(self, i_did: Any, method: str) -> dict[str, Any]:
        did = self.dids.get(i_did) if isinstance(i_did, int) else None
        if did is None:
            raise SimFault(f"Server.DID.{method}.not_found", "no such DID number")
        return did

    def _DID_get_number_info(self, p: Any, s: Session) -> Any:
        if isinstance(p.number, str) and not isinstance(p.i_did_number, int):
            found = next((d for d in self.dids.values() if d["number"] == p.number), None)
            return {"number_info": found} if found else {}
        return {"number_info": self._did(p.i_did_number, "get_number_info")}

    def _DID_update_number(self, p: Any, s: Session) -> Any:
        info = to_wire(p.number_info)
        did = self._did(info.get("i_did_number"), "update_number")
        did.update(info)
        self.emit("DID/Updated", number=did["number"])
        return {"i_did_number": did["i_did_number"]}

    def _DID_assign_did_to_account(self, p: Any, s: Session) -> Any:
        did = self._did(p.i_did_number, "assign_did_to_account")
        if self._visible_account(p.i_master_account, s) is None:
            raise SimFault("Server.DID.assign_did_to_account.account_not_found", "no such account")
        did["i_master_account"] = p.i_master_account
        self.emit("DID/Updated", number=did["number"])
        return {"success": 1}

    def _DID_delete_number(self, p: Any, s: Session) -> Any:
        did = self._did(p.i_did_number, "delete_number")
        del self.dids[p.i_did_number]
        self.emit("DID/Deleted", number=did["number"])
        return {"success": 1}

    def _Invoice_get_invoice_pdf(self, p: Any, s: Session) -> Any:
        inv = self.invoices.get(p.i_invoice)
        if inv is None or self._visible_customer(inv["i_customer"], s) is None:
            raise SimFault("Server.Invoice.get_invoice_pdf.not_found", "no such invoice")
        return Download(
            f"invoice_{p.i_invoice}.pdf", "application/pdf", PDF + str(p.i_invoice).encode()
        )

    def _CustomerClass_add_customer_class(self, p: Any, s: Session) -> Any:
        info = to_wire(p.customer_class_info)
        i_customer_class = self.new_id()
        info["i_customer_class"] = i_customer_class
        self.customer_classes[i_customer_class] = info
        return {"i_customer_class": i_customer_class}

    def _Customer_get_extended_data_list(self, p: Any, s: Session) -> Any:
        return extended_data_list(self, p, self.visible_customers(s))
