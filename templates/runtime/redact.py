"""What counts as a secret, and how it is kept out of reprs, messages and excerpts.

The rule goes by name, so it covers every release's types without a list to keep up to date. A
field, JSON key, XML element or form field is secret when its name, split into words at `_`,
`-` and `.`, is not an id (`i_...`) and

- contains one of the words password, passwd, passphrase, secret, token, pin, puk, cvv, cvc,
  ki, opc, hash, key, apikey, signature, credential(s), jwt, cookie, otp, or
- is `session_id` / `sessionid` (or ends with one of them), or `authorization`.

So `password`, `new_password`, `h323_password`, `token`, `access_token`, `api_key`,
`x-signature-key`, `session_id`, `pin`, `cvv` are masked; `i_api_token` (an id), `pinned`,
`session` and `api_token_info` (a struct whose own secret fields are masked) are not.
Masked values show as `'***'`; unset fields stay out of reprs as before, and `None` shows as
`None` (a missing secret is no secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

MASK = "***"

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "pin",
        "puk",
        "cvv",
        "cvc",
        "ki",
        "opc",
        "hash",
        "key",
        "apikey",
        "signature",
        "credential",
        "credentials",
        "jwt",
        "cookie",
        "otp",
        "authorization",
    }
)
_WORDS = re.compile(r"[_.\-]+")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True for names whose values must never be shown (see the module docstring)."""
    lowered = name.rpartition("}")[2].rpartition(":")[2].lower()
    if lowered.startswith("i_"):
        return False  # ids of secrets (i_api_token) are ids
    words = [w for w in _WORDS.split(lowered) if w]
    if not words:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    joined = "_".join(words)
    return joined.endswith(("session_id", "sessionid")) or words[-1] == "sessionid"


_LIBPQ_SCHEMES = ("postgresql", "postgres")
_LIBPQ_SECRETS = frozenset({"password", "sslpassword"})
# libpq's key=value conninfo: `key = value`, the value 'quoted' (with \\ escapes) or up to a space
_CONNINFO = re.compile(r"""([A-Za-z_]\w*)(\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.?)*)""")


def libpq_userinfo_end(rest: str) -> int:
    """Where the user info of a libpq URI (the text after `postgresql://`) ends: the index of
    its `@`, or -1. libpq takes the first `@` before any `/` (`#`, `?` and `:` inside a password
    are its own); a password with a raw `@` or `/` makes libpq read part of it as a host, port or
    database name, so the redactor masks up to the last `@` anywhere (`open_store` refuses such
    URLs: percent-encode them)."""
    slash = rest.find("/")
    return rest.find("@", 0, len(rest) if slash < 0 else slash)


def _mask_secret_params(query: str) -> str:
    return "&".join(
        f"{key}={MASK}"
        if eq and (key.lower() in _LIBPQ_SECRETS or is_secret_name(key))
        else f"{key}{eq}{value}"
        for key, eq, value in (pair.partition("=") for pair in query.split("&"))
    )


def mask_url(url: object) -> str:
    """A URL as text with the password of its user info replaced (`https://api:***@host`), or
    all of a user info without one (`https://***@host`), and secret-named query parameters
    (`?password=***`). PostgreSQL URIs are read as libpq reads them, never less (see
    `libpq_userinfo_end`); a libpq `key=value` conninfo string gets its password masked."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme.replace("+", "").isalnum():
        if _CONNINFO.search(text):
            return _CONNINFO.sub(_conninfo_pair, text)
        return text if "@" not in text else MASK
    if scheme.lower() in _LIBPQ_SCHEMES:
        at = rest.rfind("@")  # never less than libpq's own first '@' before any '/'
    else:  # the authority ends at the first '/' (RFC 3986); its user info at its last '@'
        slash = rest.find("/")
        at = rest.rfind("@", 0, len(rest) if slash < 0 else slash)
    userinfo, after = (rest[:at], rest[at + 1 :]) if at >= 0 else (None, rest)
    path, question, query = after.partition("?")
    if question:
        fragment_at = query.find("#") if scheme.lower() not in _LIBPQ_SCHEMES else -1
        fragment = query[fragment_at:] if fragment_at >= 0 else ""
        query = _mask_secret_params(query[: len(query) - len(fragment)]) + fragment
    tail = f"{path}{question}{query}"
    if userinfo is None:
        return f"{scheme}://{tail}"
    user, colon, _ = userinfo.partition(":")
    if not colon:  # a lone user info may itself be a token
        return f"{scheme}://{MASK}@{tail}"
    return f"{scheme}://{user}:{MASK}@{tail}"


def _conninfo_pair(m: re.Match[str]) -> str:
    key = m.group(1)
    if key.lower() in _LIBPQ_SECRETS or is_secret_name(key):
        return f"{key}{m.group(2)}{MASK}"
    return m.group(0)


# `"name": "value"`, `'name': 'value'`, `name=value`, `name: value` (JSON, form data, headers, text):
# names are found without consuming what follows, so `request: password=x` still finds `password`
_NAME_SEP = re.compile(r"""(["']?)([A-Za-z][\w.\-]*)\1(\s*[:=]\s*)""")
_VALUE = re.compile(r""""(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s&,;<>"'}\]]+""")
# `<ns:name attr="...">value` (SOAP, XML error pages); the value may be cut by the excerpt's end
_ELEMENTS = re.compile(r"<(?P<name>[\w.\-]+(?::[\w.\-]+)?)(?P<attrs>\s[^<>]*)?>(?P<value>[^<]+)")
# an `auth_info` or `Authorization` sent as one opaque value: `Bearer ...`, `Basic ...`
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^/@\s:]*):[^/@\s]*@")


def _mask_pairs(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _NAME_SEP.finditer(text):
        if m.start() < pos or not is_secret_name(m.group(2)):
            continue
        value = _VALUE.match(text, m.end())
        if value is None or not value.group(0):
            continue
        quote = value.group(0)[0] if value.group(0)[0] in "\"'" else ""
        out += [text[pos : m.end()], f"{quote}{MASK}{quote}"]
        pos = value.end()
    out.append(text[pos:])
    return "".join(out)


def _element(m: re.Match[str]) -> str:
    if not is_secret_name(m.group("name")) or not m.group("value").strip():
        return m.group(0)
    return f"<{m.group('name')}{m.group('attrs') or ''}>{MASK}"


def redact_text(text: str, known: Iterable[str] = (), *, by_name: bool = True) -> str:
    """`text` with every `known` secret (the client's own password, token and session id),
    credentials in URLs and bearer tokens replaced by `***`; with `by_name`, also the values of
    secret-named JSON keys, form fields and XML elements (for text a server sent)."""
    for secret in sorted({k for k in known if k and len(k) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    if by_name:
        text = _mask_pairs(_ELEMENTS.sub(_element, text))
    return text


def scrub_exception(exc: BaseException, known: Iterable[str] = ()) -> BaseException:
    """Make `exc` safe to log: chained exceptions dropped (they hold requests, replies and the
    bytes that failed to decode), and its message and excerpt redacted of `known` secrets."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    secrets = tuple(k for k in known if k)
    if not secrets:
        return exc
    faultcode = getattr(exc, "faultcode", None)
    if isinstance(faultcode, str):  # a code is no secret: only the server's text is redacted
        text = redact_text(str(getattr(exc, "faultstring", "")), secrets, by_name=False)
        exc.faultstring = text  # type: ignore[attr-defined]
        exc.args = (f"{getattr(exc, 'operation', '')}: {faultcode}: {text}",)
    else:
        exc.args = tuple(
            redact_text(a, secrets, by_name=False) if isinstance(a, str) else a for a in exc.args
        )
    excerpt = getattr(exc, "excerpt", None)
    if isinstance(excerpt, str):
        exc.excerpt = redact_text(excerpt, secrets, by_name=False)  # type: ignore[attr-defined]
    detail = getattr(exc, "detail", None)
    if detail is not None:
        exc.detail = redact_data(detail, secrets)  # type: ignore[attr-defined]
    return exc


def redact_data(data: object, known: tuple[str, ...] = ()) -> object:
    """A fault's decoded `<detail>`: secret-named entries and known secrets masked."""
    if isinstance(data, dict):
        return {
            k: (MASK if is_secret_name(str(k)) and v is not None else redact_data(v, known))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_data(v, known) for v in data]
    if isinstance(data, str):
        return redact_text(data, known, by_name=False) if known else data
    return data
