"""The event receiver wing: PortaBilling's ESPF event deliveries, received, authenticated,
stored once by `i_event` and handed to the user's handlers.

`types` (the events), `auth` (who may deliver), `app` (the ASGI receiver and its router),
`store` (what a store does), `sqlite` and `pg` (the two stores), `cli` (`python -m
PACKAGE.events`). It shares only the base modules of `_runtime` with the clients, never a client
module. `open_store(url)` picks the store a URL names.
"""

from __future__ import annotations

from ..redact import libpq_userinfo_end, mask_url
from .sqlite import SqliteStore
from .store import TABLE, EventStore


def open_store(url: str, *, table: str = TABLE) -> EventStore:
    """A store from a URL: `sqlite:///relative.db`, `sqlite:////absolute.db` (`?synchronous=full`
    to sync every commit), or `postgresql://user@host:5432/dbname` (password from PGPASSWORD or
    ~/.pgpass, or in the URL; `?synchronous_commit=on` to flush every mark; other parameters go
    to libpq)."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError(
                f"store URL {url!r}: write sqlite:///relative.db or sqlite:////abs.db"
            )
        path, _, query = rest[1:].partition("?")
        options = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ValueError(f"store URL {url!r}: unknown option(s) {', '.join(sorted(unknown))}")
        return SqliteStore(path, table=table, synchronous=options.get("synchronous", "NORMAL"))
    if scheme in ("postgresql", "postgres"):
        from .pg import PostgresStore  # psycopg is imported only for PostgreSQL

        # split as libpq reads it (never urllib: a '#' or '?' in a password is libpq's password)
        at = libpq_userinfo_end(rest)
        if rest.rfind("@") != at:
            raise ValueError(
                f"store URL {mask_url(url)!r}: percent-encode '@' and '/' in the user name and "
                "password (%40, %2F)"
            )
        head, question, query = rest[at + 1 :].partition("?")
        params = [p for p in query.split("&") if p] if question else []
        sync = [p.partition("=")[2] for p in params if p.partition("=")[0] == "synchronous_commit"]
        libpq = "&".join(p for p in params if p.partition("=")[0] != "synchronous_commit")
        rest = f"{scheme}://{rest[: at + 1]}{head}{'?' if libpq else ''}{libpq}"
        return PostgresStore(rest, table=table, synchronous_commit=(sync or ["off"])[-1])
    raise ValueError(f"store URL {mask_url(url)!r}: the scheme must be sqlite:// or postgresql://")
