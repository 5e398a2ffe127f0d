"""`portabilling-gen simulate`: a cache served on a port, over the JSON API and SOAP::Lite."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MR105 = ROOT / "wsdl_cache" / "mr105"


def small_server(folder: Path, services: tuple[str, ...] = ("Session", "Customer")) -> Path:
    """A plain WSDL folder with a few admin services of the bundled mr105 set."""
    (folder / "admin").mkdir(parents=True)
    for name in services:
        wsdl = f"{name}AdminService.wsdl"
        shutil.copy(MR105 / "admin" / wsdl, folder / "admin" / wsdl)
    shutil.copytree(MR105 / "xsd", folder / "xsd")
    return folder


def test_simulate_serves_json_soap_and_wsdls(tmp_path: Path) -> None:
    cache = small_server(tmp_path / "server")
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator", "simulate", str(cache), "--port", "0", "--soap"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("PortaBilling simulator on http://127.0.0.1:"), first + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = first.split()[3]
        with httpx.Client(base_url=url, timeout=30) as http:
            wsdl = http.get("/wsdl/CustomerAdminService.wsdl")
            assert wsdl.status_code == 200
            assert wsdl.content == (cache / "admin" / "CustomerAdminService.wsdl").read_bytes()
            login = http.post(
                "/rest/Session/login", data={"params": '{"login":"admin","password":"secret"}'}
            )
            assert login.status_code == 200, login.text
            session = login.json()["session_id"]
            added = http.post(
                "/rest/Customer/add_customer",
                data={
                    "auth_info": f'{{"session_id":"{session}"}}',
                    "params": '{"customer_info":{"name":"acme"}}',
                },
            )
            assert added.status_code == 200, added.text
            i_customer = added.json()["i_customer"]
            envelope = (
                '<?xml version="1.0"?><soap:Envelope'
                ' xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
                ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
                ' xmlns:porta="http://schemas.portaone.com/soap">'
                "<soap:Header><auth_info><login>admin</login><password>secret</password>"
                "</auth_info></soap:Header><soap:Body>"
                '<m:get_customer_info xmlns:m="http://portaone.com/Porta/SOAP/Customer">'
                f'<GetCustomerInfoRequest><i_customer xsi:type="xsd:int">{i_customer}</i_customer>'
                "</GetCustomerInfoRequest></m:get_customer_info></soap:Body></soap:Envelope>"
            )
            soap = http.post(
                "/Porta/SOAP/Customer",
                content=envelope,
                headers={
                    "Content-Type": "text/xml",
                    "SOAPAction": "http://portaone.com/Porta/SOAP/Customer#get_customer_info",
                },
            )
            assert soap.status_code == 200, soap.text
            assert "<name" in soap.text and "acme" in soap.text  # SOAP::Lite's serialization
            wrong = http.post(
                "/rest/Session/login", data={"params": '{"login":"admin","password":"nope"}'}
            )
            assert wrong.status_code == 500
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "simulator stopped" in err


def test_simulate_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "generator", "simulate", str(tmp_path / "nope"), "--port", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "not a directory" in result.stderr


def _start(cache: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator", "simulate", str(cache), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def test_a_busy_port_is_one_line_and_the_real_server_mode_is_announced(tmp_path: Path) -> None:
    cache = small_server(tmp_path / "server")
    first, banner = _start(cache, "--port", "0", "--no-soap", "--real-server")
    try:
        assert banner.startswith("PortaBilling simulator on http://127.0.0.1:"), banner
        port = banner.split()[3].rsplit(":", 1)[1]
        rest = "".join(first.stdout.readline() for _ in range(6))  # type: ignore[union-attr]
        assert "mode:     real-server replies" in rest, rest
        second = subprocess.run(
            [sys.executable, "-m", "generator", "simulate", str(cache), "--port", port, "--no-soap"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: cannot listen on 127.0.0.1:{port}: Address already in use (give another "
            "--port, or --port 0 for any free one)"
        ], second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)


def _fronts(parent: int | None = None) -> set[int]:
    """pids of soap_front.pl processes (whose parent is `parent`, when given)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = stat.read_bytes().split(b"\0")
            ppid = int((stat.parent / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if any(part.endswith(b"soap_front.pl") for part in cmd) and parent in (None, ppid):
            found.add(int(stat.parent.name))
    return found


def test_a_killed_simulator_leaves_no_perl_behind(tmp_path: Path) -> None:
    """SIGKILL runs no cleanup: the SOAP::Lite front notices its parent is gone and exits."""
    cache = small_server(tmp_path / "server")
    proc, banner = _start(cache, "--port", "0", "--soap")
    assert banner.startswith("PortaBilling simulator"), banner
    fronts = _fronts(parent=proc.pid)
    assert fronts, "the SOAP::Lite front should be running"
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while fronts & _fronts() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not fronts & _fronts(), "the orphaned SOAP::Lite front is still running"
