"""Service specs that the target release understands, proven with real servers: the oldest
supported release, 3.4.25 and the newest (tests/target_venvs.py), each started ONCE for this module as its
spec's payload with a PostgreSQL URL (password merged from a credential, as build_spec does),
against a new, empty database of its own.

Each server must have migrated that database and use it, not a SQLite file in its
PREFECT_HOME; a worker-side diagnosis of the newest release against an older server must warn
about the version skew, naming both versions, and one of the server's own release must pass.
"""
from __future__ import annotations

import asyncio
import io
import os
import urllib.parse
import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from service_helpers import install_params
from service_payload import Payload, http, server_ready, wait_for
from target_venvs import NEWEST, OLDEST, PINS, target_python

from prefectwin.errors import InvalidArgument
from prefectwin.events import Events
from prefectwin.services.spec import DATABASE_URL_KEY, build_spec
from prefectwin.services.validate import validate_install

# 3.4.25 too: its pins differ from the wheelhouse README's, and only a server proves them.
RELEASES = (OLDEST, "3.4.25", NEWEST)


async def _fetch(url: str, sql: str) -> list[Any]:
    import asyncpg

    parts = urllib.parse.urlsplit(url)
    conn = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query="")), timeout=10)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


def fetch(url: str, sql: str) -> list[Any]:
    return asyncio.run(_fetch(url, sql))


def create_database(admin_url: str, name: str) -> None:
    import asyncpg

    try:
        fetch(admin_url, f'CREATE DATABASE "{name}"')
    except asyncpg.exceptions.InsufficientPrivilegeError:
        # Not a skip: without it the releases' server specs go unproven.
        pytest.fail(
            "the PREFECTWIN_TEST_POSTGRES_URL role may not create databases; each release's server "
            "must migrate an empty database of its own, so give it CREATEDB (as .ci/run does)",
            pytrace=False,
        )


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def _spec(version: str, home: str, port: int, postgres_url: str, database: str, **extra: Any):
    parts = urllib.parse.urlsplit(postgres_url)
    hostport = parts.netloc.rpartition("@")[2]
    params = install_params(
        name=f"PrefectServer{version.replace('.', '')}",
        prefect_home=home,
        port=port,
        database_url=SecretStr(f"postgresql+asyncpg://{parts.username}@{hostport}/{database}"),
        database_credential={"user_name": urllib.parse.unquote(parts.username or ""), "password": urllib.parse.unquote(parts.password or "")},
        **extra,
    )
    return build_spec(params, python=target_python(version), default_home="/unused", host="testhost", flavor="posix")


@pytest.fixture(scope="module")
def servers(postgres_url: str, tmp_path_factory: pytest.TempPathFactory, free_port) -> Any:
    """{version: (spec, payload, database URL)}, both servers started together, then awaited."""
    admin = _with_database(postgres_url, "postgres")
    started: dict[str, Any] = {}
    created: list[str] = []
    try:
        for version in RELEASES:
            database = f"prefectwin_release_{version.replace('.', '_')}_{uuid.uuid4().hex[:6]}"
            create_database(admin, database)
            created.append(database)
            spec = _spec(version, str(tmp_path_factory.mktemp(f"home-{version}")), free_port(), postgres_url, database)
            started[version] = (spec, Payload(spec).start(), _with_database(postgres_url, database))
        for version, (spec, payload, _) in started.items():
            wait_for(lambda spec=spec: server_ready(spec.api_url), 240, f"Prefect {version} server /api/health and /api/ready", payload)
        yield started
    finally:
        for spec, payload, _ in started.values():
            if payload.alive():
                stopped = payload.stop()
                if not stopped.graceful:
                    payload.kill()
        for database in created:
            fetch(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.parametrize("version", RELEASES)
def test_the_server_migrated_and_uses_the_postgresql_database_not_sqlite(servers, version):
    spec, payload, database_url = servers[version]
    # The name the spec writes, into the secrets file the release reads; not into the environment.
    assert DATABASE_URL_KEY in spec.secret_environment and DATABASE_URL_KEY not in spec.process_environment()
    assert http(f"{spec.api_url}/admin/version")[1] == version  # it really is that release
    # Migrated: Alembic's revision is recorded and Prefect's tables exist in that database.
    assert fetch(database_url, "SELECT version_num FROM alembic_version"), "no Alembic revision: not migrated"
    assert fetch(database_url, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('flow', 'flow_run', 'work_pool')") == [(3,)]
    # Used: a flow created through the API is a row there.
    name = f"release-probe-{uuid.uuid4().hex[:8]}"
    status, body = http(f"{spec.api_url}/flows/", {"name": name})
    assert status in (200, 201), (status, body, payload.log_tail())
    assert fetch(database_url, f"SELECT name FROM flow WHERE name = '{name}'") == [(name,)]
    # And no SQLite database beside it.
    assert not any(entry.endswith(".db") for entry in os.listdir(spec.prefect_home)), os.listdir(spec.prefect_home)
    assert spec.sqlite_path is None


@pytest.mark.parametrize("version", RELEASES)
def test_every_setting_name_the_spec_writes_is_one_the_release_reads(servers, version, postgres_url, tmp_path, free_port):
    from fakes.services import FakeServiceAdapter

    spec = _spec(version, str(tmp_path / "home"), free_port(), postgres_url, "unused")
    validate_install(spec, None, FakeServiceAdapter(), Events(io.StringIO()), force=False)  # raises on any problem
    typo = _spec(version, str(tmp_path / "home"), free_port(), postgres_url, "unused", environment={"PREFECT_SERVER_API_KEEPALIVE_TIMEOUTT": "5"})
    with pytest.raises(InvalidArgument) as refused:
        validate_install(typo, None, FakeServiceAdapter(), Events(io.StringIO()), force=False)
    assert refused.value.target == "Environment"
    assert f"Prefect {version}" in refused.value.message and "PREFECT_SERVER_API_KEEPALIVE_TIMEOUTT" in refused.value.message


@pytest.mark.parametrize("server_version", RELEASES[:-1])
def test_a_worker_newer_than_its_server_warns_naming_both_versions(servers, run_rpc, server_version):
    old_server = servers[server_version][0].api_url
    newer = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"role": "Worker", "pythonPath": target_python(NEWEST), "check": ["server.health", "server.version"]}},
        env={"PREFECT_API_URL": old_server},
    ).checks
    assert newer["server.health"]["status"] == "Pass", newer
    skew = newer["server.version"]
    assert skew["status"] == "Warning" and f"Prefect {NEWEST} (this worker's) is newer than the server's Prefect {server_version}" in skew["message"], skew
    assert (skew["data"]["clientVersion"], skew["data"]["serverVersion"]) == (NEWEST, server_version)
    # The fix it offers installs the server's release with the pins of the venv that server runs from.
    offered = skew["remediation"].partition(" -m pip install ")[2].replace('"', "").split()
    assert sorted(offered) == sorted(PINS[server_version]), skew["remediation"]
    older = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"role": "Worker", "pythonPath": target_python(server_version), "check": ["server.version"]}},
        env={"PREFECT_API_URL": servers[NEWEST][0].api_url},
    ).checks["server.version"]
    assert older["status"] == "Pass", older


@pytest.mark.parametrize("version", RELEASES)
def test_a_worker_of_the_server_s_own_release_passes(servers, run_rpc, version):
    spec = servers[version][0]
    same = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"role": "Worker", "pythonPath": target_python(version), "check": ["server.version"]}},
        env={"PREFECT_API_URL": spec.api_url},
    ).checks["server.version"]
    assert same["status"] == "Pass" and f"Prefect {version} here and {version} on the server" in same["message"], same
