"""Client CPU per call (issue 26): the calling process's user+system time divided by calls,
against a server that is not Python (nginx answering fixed bytes on loopback, keep-alive), so no
server speed enters the figure.

Floors: the standard library's `http.client` (sync) and asyncio streams (async, one keep-alive
connection per task) sending the bytes our client sends and parsing the reply the way our decoders
start (msgspec into the typed reply on JSON, lxml's parse on SOAP). nginx comes from Debian
(`apt-get install nginx-light` when root, as `make peers` installs SOAP::Lite); without it these
figures are skipped with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONCURRENCY = 20

_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log error;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  etag off;
  server_tokens off;
  server {{
    listen 127.0.0.1:{port};
    # a POST to a static file is a 405: answer it with the file instead (as a GET)
    location /Porta/ {{ error_page 405 =200 /reply.xml; return 405; }}
    location /rest/ {{ error_page 405 =200 /reply.json; return 405; }}
    location = /rest/Account/add_account {{ error_page 405 =200 /added.json; return 405; }}
    location = /reply.xml {{ internal; root {tmp}; types {{ }} default_type "text/xml; charset=utf-8"; }}
    location = /reply.json {{ internal; root {tmp}; types {{ }} default_type application/json; }}
    location = /added.json {{ internal; root {tmp}; types {{ }} default_type application/json; }}
  }}
}}
"""


def nginx_binary() -> str | None:
    """nginx from PATH or Debian's /usr/sbin, installed with apt-get when this runs as root."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "nginx-light"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
        )
    return found


@contextlib.contextmanager
def nginx(soap_reply: bytes, json_reply: bytes) -> Iterator[str]:
    """An nginx on loopback answering every POST under /Porta/ with `soap_reply` and under /rest/
    with `json_reply`; yields its base URL."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "reply.xml").write_bytes(soap_reply)
        Path(tmp, "reply.json").write_bytes(json_reply)
        Path(tmp, "added.json").write_bytes(b'{"i_account":1}')
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        conf = Path(tmp, "nginx.conf")
        conf.write_text(_CONFIG.format(tmp=tmp, port=port))
        proc = subprocess.Popen([binary, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"])
        try:
            for _ in range(200):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.02)
            else:
                raise RuntimeError("nginx did not start: " + Path(tmp, "error.log").read_text())
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait()


def wire_bytes(request: Any) -> tuple[str, str, dict[str, str], bytes]:
    """(method, target, headers, body) of an `httpx.Request`, as the floors send them."""
    headers = {k: v for k, v in request.headers.items()}
    return request.method, request.url.raw_path.decode(), headers, request.read()


def http_client_floor(url: str, request: Any, parse: Callable[[bytes], Any]) -> Callable[[], Any]:
    """One call through `http.client` on one keep-alive connection: the same bytes, the same parse."""
    method, target, headers, body = wire_bytes(request)
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def call() -> Any:
        conn.request(method, target, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        assert reply.status == 200
        return parse(data)

    return call


def streams_floor(url: str, request: Any, parse: Callable[[bytes], Any]) -> Callable[[int], Any]:
    """`calls` calls over CONCURRENCY asyncio-streams connections (keep-alive, one per task):
    the request written in one buffer, the head read to its blank line, the body by its length."""
    method, target, headers, body = wire_bytes(request)
    host, port = url.removeprefix("http://").split(":")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def task(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(n):
            writer.write(wire)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            parse(await reader.readexactly(length))
        writer.close()

    def run(calls: int) -> None:
        async def main() -> None:
            await asyncio.gather(*(task(calls // CONCURRENCY) for _ in range(CONCURRENCY)))

        asyncio.run(main())

    return run


def cpu_rounds(
    sides: dict[str, Callable[[], Any]], calls: int, rounds: int
) -> dict[str, list[float]]:
    """Per-call CPU seconds of each side (`time.process_time`: user+system of this process),
    the sides interleaved in every round."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for side in sides.values():
        side()  # warm
    import gc

    for _ in range(rounds):
        for name, side in sides.items():
            gc.collect()
            start = time.process_time()
            side()
            out[name].append((time.process_time() - start) / calls)
    return out


def measure(calls: int = 400, rounds: int = 7) -> dict[str, dict[str, list[float]]]:
    """Per-call CPU seconds: {"sync json" | "sync soap" | "async json" | "async soap": {side: samples}}."""
    import msgspec
    import requests  # zeep's transport
    import zeep
    from lxml import etree
    from portabilling import AdminClient, AsyncAdminClient
    from portabilling.admin.account import GET_ACCOUNT_INFO
    from portabilling.types import GetAccountInfoRequest, GetAccountInfoResponse

    from generator.offline import OfflineTransport
    from generator.simulator.data import to_wire
    from tests.bench.data import accounts
    from tests.bench.fixtures import load
    from tests.bench.run import ROOT, zeep_friendly

    soap_reply = zeep_friendly(load("account_info.xml.gz"), "GetAccountInfoResponse")
    json_reply = msgspec.json.encode({"account_info": to_wire(accounts(1)[0])})
    json_type = msgspec.json.Decoder(GetAccountInfoResponse, strict=False)
    parses: dict[str, Callable[[bytes], Any]] = {
        "json": json_type.decode,
        "soap": etree.fromstring,
    }
    out: dict[str, dict[str, list[float]]] = {}
    with nginx(soap_reply, json_reply) as url:
        out["validation"] = validation_share(url, calls, rounds)
        for kind in ("json", "soap"):
            ours = AdminClient(url, transport=kind, session_id="bench")  # type: ignore[arg-type]
            request = ours.build_request(GET_ACCOUNT_INFO, GetAccountInfoRequest(i_account=1))
            floor = http_client_floor(url, request, parses[kind])
            assert ours.account.get_account_info(i_account=1).account_info is not None

            def sync_ours(c: Any = ours) -> None:
                for _ in range(calls):
                    c.account.get_account_info(i_account=1)

            def sync_floor(f: Callable[[], Any] = floor) -> None:
                for _ in range(calls):
                    f()

            sides: dict[str, Callable[[], Any]] = {"ours": sync_ours, "floor": sync_floor}
            if kind == "soap":

                class Transport(OfflineTransport):
                    def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
                        return self.session.post(
                            url + "/Porta/SOAP/Account", data=message, headers=headers
                        )

                transport = Transport(str(ROOT / "wsdl_cache/mr105"))
                transport.session = requests.Session()
                theirs = zeep.Client(
                    str(ROOT / "wsdl_cache/mr105/admin/AccountAdminService.wsdl"),
                    transport=transport,
                )
                header = {"auth_info": {"session_id": "bench"}}

                def sync_zeep(theirs: Any = theirs, header: Any = header) -> None:
                    for _ in range(calls // 4):
                        theirs.service.get_account_info(
                            GetAccountInfoRequest={"i_account": 1}, _soapheaders=header
                        )

                sides["zeep"] = sync_zeep
            samples = cpu_rounds(sides, calls, rounds)
            if "zeep" in samples:
                samples["zeep"] = [x * 4 for x in samples["zeep"]]
            out[f"sync {kind}"] = samples
            ours.close()

            streams = streams_floor(url, request, parses[kind])

            def async_ours(k: str = kind) -> None:
                async def task(c: Any, n: int) -> None:
                    for _ in range(n):
                        await c.account.get_account_info(i_account=1)

                async def main() -> None:
                    async with AsyncAdminClient(url, transport=k, session_id="bench") as c:  # type: ignore[arg-type]
                        await asyncio.gather(
                            *(task(c, calls // CONCURRENCY) for _ in range(CONCURRENCY))
                        )

                asyncio.run(main())

            out[f"async {kind}"] = cpu_rounds(
                {"ours": async_ours, "floor": lambda s=streams: s(calls)}, calls, rounds
            )
    return out


def validation_share(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    """CPU per call of JSON request validation alone (`check_types` on the full add_account
    request) and of the whole add_account call it is part of."""
    from portabilling import AdminClient
    from portabilling._runtime.validate import check_types
    from portabilling.types import AddAccountRequest

    from tests.bench.data import accounts

    request = AddAccountRequest(account_info=accounts(1)[0])
    client = AdminClient(url, transport="json", session_id="bench")
    assert client.account.add_account(request).i_account == 1

    def validate() -> None:
        for _ in range(calls):
            check_types(request, "Account.add_account")

    def call() -> None:
        for _ in range(calls):
            client.account.add_account(request)

    try:
        return cpu_rounds({"validation": validate, "call": call}, calls, rounds)
    finally:
        client.close()


if __name__ == "__main__":
    import statistics
    import sys

    sys.path[:0] = [
        str(Path(__file__).resolve().parents[2] / "generated"),
        str(Path(__file__).resolve().parents[2]),
    ]
    for family, sides in measure(
        int(os.environ.get("CALLS", "400")), int(os.environ.get("ROUNDS", "5"))
    ).items():
        med = {k: statistics.median(v) for k, v in sides.items()}
        if family == "validation":
            print(family, {k: f"{v * 1e6:.1f} us" for k, v in med.items()})
            continue
        print(
            family,
            {k: f"{v * 1e6:.0f} us" for k, v in med.items()},
            f"ours/floor {med['ours'] / med['floor']:.2f}",
            f"zeep/ours {med['zeep'] / med['ours']:.2f}" if "zeep" in med else "",
        )
