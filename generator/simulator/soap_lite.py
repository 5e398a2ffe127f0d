"""The SOAP front: real SOAP::Lite (`soap_front.pl`) deserializes a request, forwards it to the
dispatcher as JSON, and serializes the answer; this module starts it and translates both ways."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import msgspec

from .calls import Download

PERL_FRONT = Path(__file__).parent / "soap_front.pl"
PERL_MODULES = ("SOAP::Lite", "SOAP::Transport::HTTP", "HTTP::Daemon", "JSON::PP")
SOAP_LITE_INSTALL = "apt-get install libsoap-lite-perl libhttp-daemon-perl"


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


def start_front(dispatch_url: str) -> subprocess.Popen[str]:
    """Start the Perl front, forwarding what it deserializes to `dispatch_url`."""
    return subprocess.Popen(
        ["perl", str(PERL_FRONT), dispatch_url, str(os.getpid())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its per-connection children go down with it
    )


def front_port(perl: subprocess.Popen[str]) -> int:
    """The port the started front announced (RuntimeError when it did not start)."""
    assert perl.stdout is not None
    line = perl.stdout.readline()
    if not line.startswith("PORT "):
        err = perl.stderr.read() if perl.stderr else ""
        raise RuntimeError(f"SOAP::Lite front did not start: {line!r} {err}")
    return int(line.split()[1])


def stop_front(perl: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(perl.pid, signal.SIGTERM)
    perl.wait(timeout=10)


def soap_reply(op: Any, result: Any) -> Any:
    """A dispatcher's result as the Perl front serializes it (parts by position, strings)."""
    if isinstance(result, Download):
        result = {
            "file": {"__base64__": base64.b64encode(result.content).decode()},
            "file_name": result.name,
            "mime_type": result.content_type,
        }
    if op is not None and op.response_wrapped and isinstance(result, dict):
        names = [f.encode_name for f in msgspec.structs.fields(op.response)]
        result = {"__parts__": [result.get(n) for n in names]}
    return _perl_strings(result)


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


def soap_params(op: Any, parts: Any) -> Any:
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
