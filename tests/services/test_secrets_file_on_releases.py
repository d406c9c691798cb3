"""The secrets file, for real: every supported release reads it, and a real server runs on it.

1. Per release (real cached target venvs): the file ServiceSpec.secrets_text() writes, through
   the real POSIX adapter, is read by Prefect itself from the environment NSSM would give the
   service (which carries no secret): hostile characters come back exactly, and a variable in the
   process environment beats the file. Also why the file is a profile and not a `.env`: 3.1.15
   and 3.4.25 read no `.env` at all with the wheelhouse's pydantic-settings, 3.9.1 does.
2. A real `prefect server start` from a spec whose PostgreSQL password and auth string are only in
   its secrets file: its process environment and command line hold neither, it migrates and
   serves that PostgreSQL database (the row written through the API is there, and no SQLite file
   appears), and it refuses API calls without the auth string.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psutil
import pytest
from pydantic import SecretStr

from prefectwin.services.spec import build_spec
from prefectwin.services.validate import service_environment
from prefectwin.system.posix import PosixAdapter
from service_helpers import install_params
from service_payload import Payload, server_ready, wait_for
from target_venvs import target_python

HOSTILE = "Dingo-\"quoted\" \\back\\slash #hash =eq 'single' ä 𝄞 %41 $HOME"
RELEASES = ("3.1.15", "3.4.25", "3.9.1")
# Prints what Prefect resolved, as JSON: the settings the secrets file sets and their sources.
READ_SETTINGS = """
import json
from prefect.settings import get_current_settings
s = get_current_settings()
def reveal(v):
    return v.get_secret_value() if hasattr(v, "get_secret_value") else v
print(json.dumps({
    "database": reveal(s.server.database.connection_url),
    "server_auth": reveal(s.server.api.auth_string),
    "api_key": reveal(s.api.key),
    "logging_level": s.logging.level,
}))
"""


def _spec(home: str, python: str, **extra):
    params = install_params(
        name="SecretServer",
        prefect_home=home,
        port=4999,
        database_url=SecretStr("postgresql+asyncpg://prefect@db.invalid:5432/prefect"),
        database_credential={"user_name": "prefect", "password": HOSTILE},
        auth_credential={"user_name": "admin", "password": HOSTILE},
        environment={"PREFECT_API_KEY": HOSTILE, "PREFECT_LOGGING_LEVEL": "WARNING"},
        **extra,
    )
    return build_spec(params, python=python, default_home="/unused", host="box", flavor="posix")


def _read(python: str, spec, env: dict[str, str]) -> dict:
    done = subprocess.run([python, "-W", "ignore", "-c", READ_SETTINGS], env=env, cwd=spec.working_directory, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("release", RELEASES)
def test_every_release_reads_the_secrets_file_below_the_environment(release, tmp_path):
    python = target_python(release)
    home = str(tmp_path / "home ü")
    os.makedirs(home)
    spec = _spec(home, python)
    PosixAdapter().write_restricted_file(spec.secrets_file, spec.secrets_text(), spec.account_principal)
    env = service_environment(spec)
    assert not any(HOSTILE in v or urllib.parse.quote(HOSTILE, safe="") in v for v in env.values())  # nothing secret to read there
    seen = _read(python, spec, env)
    password = urllib.parse.unquote(urllib.parse.urlsplit(seen["database"]).password)
    assert password == HOSTILE and seen["api_key"] == HOSTILE and seen["server_auth"] == f"admin:{HOSTILE}"
    assert seen["logging_level"] == "WARNING"  # a plain -Environment variable, from NSSM's environment
    # The process environment beats the file (the order Prefect documents for env vs profile).
    assert _read(python, spec, {**env, "PREFECT_API_KEY": "from-the-environment"})["api_key"] == "from-the-environment"


@pytest.mark.parametrize("release, reads_dotenv", [("3.1.15", False), ("3.4.25", False), ("3.9.1", True)])
def test_why_a_profile_and_not_a_dotenv(release, reads_dotenv, tmp_path):
    python = target_python(release)
    home = str(tmp_path / "home")
    os.makedirs(home)
    spec = _spec(home, python)
    with open(os.path.join(home, ".env"), "w", encoding="utf-8") as handle:
        handle.write("PREFECT_API_KEY=from-dotenv\n")
    env = {k: v for k, v in service_environment(spec).items() if k != "PREFECT_PROFILES_PATH"}
    assert (_read(python, spec, env)["api_key"] == "from-dotenv") is reads_dotenv


# -- a real server on its secrets file ---------------------------------------------------------
async def _query(url: str, sql: str, *args):
    import asyncpg

    parts = urllib.parse.urlsplit(url)
    conn = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query="")), timeout=10)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _post(url: str, body: dict, auth: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def secret_database(postgres_url: str):
    parts = urllib.parse.urlsplit(postgres_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    name = f"prefectwin_secrets_{uuid.uuid4().hex[:8]}"
    asyncio.run(_query(admin, f'CREATE DATABASE "{name}"'))
    hostport = parts.netloc.rpartition("@")[2]
    yield {
        "url": f"postgresql+asyncpg://{parts.username}@{hostport}/{name}",
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
        "full": urllib.parse.urlunsplit(parts._replace(path=f"/{name}")),
    }
    asyncio.run(_query(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_real_server_reads_its_database_password_and_auth_string_from_the_file(secret_database, tmp_path, free_port, monkeypatch):
    # A service never sees the test's own URL of the database, which carries the password.
    monkeypatch.delenv("PREFECTWIN_TEST_POSTGRES_URL", raising=False)
    home = str(tmp_path / "prefect home")
    auth = "admin:Kowari-auth-1f2e"
    params = install_params(
        name="SecretServer",
        prefect_home=home,
        port=free_port(),
        database_url=SecretStr(secret_database["url"]),
        database_credential={"user_name": secret_database["user"], "password": secret_database["password"]},
        auth_credential={"user_name": "admin", "password": auth.partition(":")[2]},
    )
    spec = build_spec(params, python=sys.executable, default_home="/unused", host="box", flavor="posix")
    assert spec.secrets_file and set(spec.secret_environment) == {"PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING"}
    server = Payload(spec).start()
    try:
        wait_for(lambda: server_ready(spec.api_url), 120, "server /api/health and /api/ready", server)
        secrets = (secret_database["password"], urllib.parse.quote(secret_database["password"], safe=""), auth)
        process = psutil.Process(server.pid)
        started_with = json.dumps(process.environ()) + " ".join(process.cmdline())
        assert not any(s in started_with for s in secrets)
        assert process.environ()["PREFECT_PROFILES_PATH"] == spec.secrets_file
        # The auth string from the file is enforced; with it, the server writes to PostgreSQL.
        pool = f"secrets-{uuid.uuid4().hex[:6]}"
        assert _post(f"{spec.api_url}/work_pools/", {"name": pool, "type": "process"}, None) == 401
        assert _post(f"{spec.api_url}/work_pools/", {"name": pool, "type": "process"}, auth) == 201
        rows = asyncio.run(_query(secret_database["full"], "SELECT name FROM work_pool WHERE name = $1", pool))
        assert [r["name"] for r in rows] == [pool]
        assert not os.path.exists(os.path.join(home, "prefect.db"))  # not Prefect's default SQLite
    finally:
        stopped = server.stop()
    assert stopped.graceful, server.log_tail()
