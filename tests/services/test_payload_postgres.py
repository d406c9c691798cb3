"""The service payload for real, with PostgreSQL: the database URL without its password plus a
credential, merged by build_spec, against a new, empty database (so Prefect migrates it).
The cases are in service_payload_cases.py; this module starts ONE server."""
from __future__ import annotations

import asyncio
import urllib.parse
import uuid

import pytest
from pydantic import SecretStr

from service_payload_cases import *  # noqa: F401,F403 - the shared cases and their fixtures


async def _execute(url: str, sql: str) -> None:
    import asyncpg

    parts = urllib.parse.urlsplit(url)
    conn = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query="")), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _execute_sync(url: str, sql: str) -> None:
    asyncio.run(_execute(url, sql))


@pytest.fixture(scope="module")
def payload_database(postgres_url: str):
    parts = urllib.parse.urlsplit(postgres_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    name = f"prefectwin_payload_{uuid.uuid4().hex[:8]}"
    try:
        _execute_sync(admin, f'CREATE DATABASE "{name}"')
        created = True
    except Exception:  # noqa: BLE001 - no CREATEDB right: use the database we were given
        created, name = False, parts.path.lstrip("/")
    hostport = parts.netloc.rpartition("@")[2]
    url = f"postgresql+asyncpg://{parts.username}@{hostport}/{name}"
    credential = {"user_name": urllib.parse.unquote(parts.username or ""), "password": urllib.parse.unquote(parts.password or "")}
    yield {"label": "PostgreSQL", "params": {"database_url": SecretStr(url), "database_credential": credential}}
    if created:
        _execute_sync(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
