"""The simulator's HTTP server: the JSON API, the SOAP front's `/_dispatch`, static cache files.

The JSON API (`POST /rest/{Service}/{method}`, form or `application/json` + Bearer) is served
here; SOAP is served by real SOAP::Lite (see `soap_lite`), which forwards what Perl
deserialized to `/_dispatch` and serializes the answer itself. `/Porta/SOAP/...` on this server is
passed through to it, so one base URL serves both transports. The cache files are served at
`/wsdl/...`, `/xsd/...` and `/doc/api/...` for the fetch command. From loopback only,
`POST /_sim/inject` applies fault specs (`{"specs": ["Account.*:drop"]}`, see `faults`) and
`GET /_sim/deliveries` lists the events sent so far, `GET /_sim/counters` the logins and token
refreshes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..interfaces import INTERFACES
from .calls import Call, Download, SimFault
from .churn import Churn
from .dispatch import Dispatcher
from .espf import Delivery, EventSender
from .faults import Faults, parse_spec
from .seed import seed_data
from .soap_lite import front_port, soap_lite_missing, soap_reply, start_front, stop_front


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
        if path == "/_sim/counters" and self._loopback():
            sim = self.server.sim
            self._json(200, {"logins": sim.logins, "refreshes": sim.tokens.refreshes})
            return
        if path == "/_sim/deliveries" and self._loopback():
            events = self.server.sim.events
            listed = list(events.deliveries) if events is not None else []
            self._json(200, [_delivery(d) for d in listed])
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
        if path == "/_sim/inject" and self._loopback():
            self._inject(body)
            return
        if path == "/_dispatch" and self._loopback():
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
            op = sim.ops.get((call.service, call.method))  # None: refresh_access_token
            self._json(200, {"result": soap_reply(op, result)})
            return
        if path.startswith("/Porta/SOAP/"):
            self._forward_soap(path, body)
            return
        if path.startswith("/rest/"):
            self._rest(path, body)
            return
        self._send(404, b"not found", "text/plain")

    def _loopback(self) -> bool:
        return self.client_address[0] == "127.0.0.1"

    def _inject(self, body: bytes) -> None:
        try:
            specs = [parse_spec(text) for text in json.loads(body)["specs"]]
            done = [self.server.sim.apply(spec) for spec in specs]
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": str(exc)})
            return
        self._json(200, {"done": done})

    def _dropped(self, service: str, method: str) -> bool:
        """An injected drop: the connection is closed without an answer."""
        if self.server.sim.faults.take(service, method, ("drop",)) is None:
            return False
        self.close_connection = True
        return True

    def _rest(self, path: str, body: bytes) -> None:
        _, _, service, method = path.split("/", 3)
        if self._dropped(service, method):
            return
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
        action = self.headers.get("SOAPAction", "").strip('"')
        if self._dropped(path.rstrip("/").rsplit("/", 1)[-1], re.split("[#/]", action)[-1]):
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
    # socketserver's default listen queue is 5: fifty clients connecting at once overflow it and
    # wait out SYN retransmits (1 s, 3 s, 7 s...); a real server's queue is in the hundreds
    request_queue_size = 128
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
                (Path(d) / name for d in INTERFACES if (self.cache / d / name).is_file()),
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

    @property
    def faults(self) -> Faults:
        """Faults on demand: `running.faults.fault("Account.get_account_info", code)`, ..."""
        return self.sim.faults

    @property
    def events(self) -> EventSender | None:
        """The ESPF sender (its `deliveries`, `failed()`, `fail_next(...)`), when attached."""
        return self.sim.events

    def expire_sessions(self) -> None:
        self.sim.expire_sessions()

    @property
    def logins(self) -> int:
        """Successful Session.login calls so far."""
        return self.sim.logins

    @property
    def refreshes(self) -> int:
        """Session.refresh_access_token calls that renewed a token."""
        return self.sim.tokens.refreshes

    def use_tokens(self, lifetime: float | None) -> None:
        """Logins hand out access tokens living `lifetime` seconds (None: session ids only)."""
        self.sim.use_tokens(lifetime)

    def churn_accounts(self, inserts: int, closes: int, per_page: int = 10) -> None:
        """Between the pages of Account.get_account_list, add `inserts` accounts and close
        `closes`, `per_page` of each after every page, at random places of the list."""
        with self.sim.lock:
            self.sim.churn = Churn(inserts, closes, per_page)

    def seed(self, *, customers: int, accounts: int, seed: int = 1) -> None:
        seed_data(self.sim, customers=customers, accounts=accounts, seed=seed)


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
            _stop(server)
        return
    perl = start_front(f"http://127.0.0.1:{bound}/_dispatch")
    try:
        server.soap_port = front_port(perl)
        yield Running(
            f"http://{_url_host(host)}:{bound}",
            f"http://127.0.0.1:{server.soap_port}",
            sim,
            server,
        )
    finally:
        stop_front(perl)
        _stop(server)


def _stop(server: _Server) -> None:
    if server.sim.events is not None:
        server.sim.events.close()
    server.shutdown()
    server.server_close()


def _delivery(d: Delivery) -> dict[str, Any]:
    return {
        "i_event": d.i_event,
        "event_type": d.event_type,
        "variables": d.variables,
        "state": d.state,
        "attempts": [{"at": a.at, "status": a.status, "answer": a.answer} for a in d.attempts],
    }


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host
