"""Database facts: open the SQLite file or connect to PostgreSQL, for real, with a timeout."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import urllib.parse
from typing import Callable, Optional

from prefectwin.diagnosis.facts import DatabaseFacts
from prefectwin.secrets import mask_url, scrub

POSTGRES_TIMEOUT_SEC = 5.0


def database_kind(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}.get(scheme, "other")


def sqlite_path(url: str) -> Optional[str]:
    """The file behind a SQLAlchemy SQLite URL; None for an in-memory database."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    if rest in ("", ":memory:") or rest.startswith("file::memory:"):
        return None
    if rest.startswith("file:"):
        rest = rest[len("file:"):]
    return urllib.parse.unquote(rest)


def sqlite_facts(url: str, drive_kind: Callable[[str], tuple[str, Optional[str]]]) -> DatabaseFacts:
    path = sqlite_path(url)
    if path is None:
        return DatabaseFacts(kind="sqlite", url_masked=url, memory=True, opens=True)
    if any(not char.isprintable() for char in path):
        shown = path.encode("unicode_escape").decode("ascii")
        return DatabaseFacts(
            kind="sqlite",
            url_masked=url.encode("unicode_escape").decode("ascii"),
            path=shown,
            path_problem="the file name contains a control character (a line break or NUL copied along?)",
        )
    parent = os.path.dirname(os.path.abspath(path))
    kind, _ = drive_kind(parent)
    facts = dict(
        kind="sqlite",
        url_masked=url,
        path=path,
        exists=os.path.isfile(path),
        is_dir=os.path.isdir(path),
        parent_writable=os.path.isdir(parent) and os.access(parent, os.W_OK),
        on_network_share=kind in ("unc", "mapped"),
    )
    if facts["exists"]:
        # Prefect writes on every run: a file it can only read is as broken as a missing one.
        # (Access rights only: a write test would take a lock a running server may hold.)
        facts["writable"] = os.access(path, os.W_OK) and facts["parent_writable"]
        try:
            # Read-only: a diagnosis must never create or migrate the database.
            conn = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=2)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
            facts["opens"] = True
        except sqlite3.Error as exc:
            facts["opens"], facts["open_error"] = False, str(exc)
    return DatabaseFacts(**facts)


def _postgres_dsn(url: str) -> tuple[str, urllib.parse.SplitResult]:
    parts = urllib.parse.urlsplit(url)
    # asyncpg knows neither SQLAlchemy's "+asyncpg" driver suffix nor its query options.
    plain = parts._replace(scheme="postgresql", query="")
    return urllib.parse.urlunsplit(plain), parts


async def _connect(dsn: str, timeout: float) -> str:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def postgres_facts(url: str, timeout: float = POSTGRES_TIMEOUT_SEC) -> DatabaseFacts:
    try:
        dsn, parts = _postgres_dsn(url)
        password = urllib.parse.unquote(parts.password) if parts.password else None
        port = parts.port or 5432
        parts.hostname  # noqa: B018 - raises on a malformed [IPv6] host
    except ValueError:
        # An unencoded '/', '?' or '#' in the password ends the authority early, so what follows
        # the user's ':' is taken for a port. ValueError's message would quote that password text.
        return DatabaseFacts(
            kind="postgresql",
            url_masked=mask_url(url) or "",
            outcome="bad-url",
            error="the host and port cannot be read (a raw '/', '?' or '#' in the user or password, an unclosed '[', or a port that is not a number from 0 to 65535?)",
        )
    base = dict(
        kind="postgresql",
        url_masked=mask_url(url) or "",
        host=parts.hostname,
        port=port,
        database=parts.path.lstrip("/") or None,
    )
    if parts.netloc.count("@") > 1:
        # Prefect's URL parser and asyncpg both split at the first '@', so such a password never
        # works; connecting anyway would report a misleading "unreachable" for the password's tail.
        return DatabaseFacts(**base, outcome="bad-url", error="the user or password contains a raw '@'")
    import asyncpg

    try:
        version = asyncio.run(asyncio.wait_for(_connect(dsn, timeout), timeout + 1))
        return DatabaseFacts(**base, outcome="connected", server_version=version)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        outcome, error = "auth-failed", str(exc)
    except asyncpg.InvalidCatalogNameError as exc:
        outcome, error = "no-database", str(exc)
    except (OSError, asyncio.TimeoutError) as exc:
        outcome, error = "unreachable", str(exc) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - any other driver error is still a diagnosis
        outcome, error = "error", f"{type(exc).__name__}: {exc}"
    return DatabaseFacts(**base, outcome=outcome, error=scrub(error, password))


def database_facts(url: str, drive_kind: Callable[[str], tuple[str, Optional[str]]]) -> DatabaseFacts:
    kind = database_kind(url)
    if kind == "sqlite":
        return sqlite_facts(url, drive_kind)
    if kind == "postgresql":
        return postgres_facts(url)
    return DatabaseFacts(kind="other", url_masked=mask_url(url) or "")
