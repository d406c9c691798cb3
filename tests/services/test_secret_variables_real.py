"""A real worker, started from its spec by the POSIX stand-in for NSSM, really has a secret
variable that is not a Prefect setting, while the stand-in's registry (its NSSM parameters), the
process's command line and the environment it was started with hold none of it.

1. A worker: HTTP_PROXY with credentials in its URL (secret by meaning), or given through
   -SecretEnvironment. Prefect's client sends its requests through that proxy, so a recording
   proxy on loopback sees the worker's Proxy-Authorization header: proof from the running
   process itself, without a flow run.
2. A server whose database URL has no password: the password is PGPASSWORD (secret by its name),
   which asyncpg reads from the process environment. The server migrates and serves that
   PostgreSQL database (our own throwaway cluster), so it really had it.

The plan is the real install plan (plan_install) carried out by the real steps through the POSIX
adapter, less what only Windows has (ACL grants, accounts).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr

from prefectwin.events import SilentEvents
from prefectwin.services.plan import plan_install
from prefectwin.services.spec import build_spec
from prefectwin.services.state import ServiceState
from prefectwin.system.posix import PosixAdapter
from prefectwin.system.posix_standin import StandInServices
from service_helpers import apply_plan, install_params
from service_payload import http, server_ready, wait_for
from target_venvs import target_python

PROXY_PASSWORD = "Bandicoot-pr0xy-5e"
WINDOWS_ONLY = {"grant-access", "revoke-access", "set-account", "set-failure-actions", "register-task"}


class RecordingProxy:
    """A loopback 'proxy' that keeps each request's Proxy-Authorization header and answers 502."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.headers: list[str] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    head = conn.recv(65536).decode("latin-1")
                except OSError:
                    continue
                for line in head.split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "proxy-authorization":
                        self.headers.append(value.strip())
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.listener.close()


def install_and_start(spec, root: str) -> PosixAdapter:
    """The install plan for a new service, run by the real steps through the stand-in."""
    adapter = PosixAdapter(services=StandInServices(root))
    planned = plan_install(spec, ServiceState(), start=True)
    kept = [a for a in planned if a.kind not in WINDOWS_ONLY]
    ids = {a.id for a in kept}
    kept = [a.model_copy(update={"depends_on": [d for d in a.depends_on if d in ids]}) for a in kept]
    assert {"write-secrets-file", "write-launcher", "start-service"} <= {a.kind for a in kept}
    apply_plan(kept, adapter, nssm=None, events=SilentEvents())
    return adapter


def assert_nowhere_but_the_file(spec, root: str, pid: int, secret: str, name: str) -> None:
    """The stand-in's registry, the process's command line and starting environment, and the
    service's logs hold no part of it; the files are the account's alone."""
    stored = "".join(p.read_text(encoding="utf-8") for p in Path(root).iterdir() if p.is_file())
    assert secret not in stored and name not in stored
    process = psutil.Process(pid)
    assert process.cmdline()[1:4] == [spec.launcher_file, spec.secrets_file, "-m"]
    started_with = json.dumps(process.environ()) + " ".join(process.cmdline())
    assert secret not in started_with and name not in process.environ()
    for log in spec.log_paths:
        assert not os.path.exists(log) or secret not in Path(log).read_text(encoding="utf-8", errors="replace")
    for path in (spec.secrets_file, spec.launcher_file):
        assert os.stat(path).st_mode & 0o077 == 0


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("release, given", [("3.1.15", "environment"), ("3.9.1", "environment"), ("3.9.1", "secret_environment")])
def test_a_real_worker_has_the_secret_variable_that_only_its_secrets_file_holds(release, given, tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)  # the stand-in passes the test's own environment on
    proxy = RecordingProxy()
    url = f"http://svc:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    python = target_python(release)
    params = install_params(
        name="EnvSecretWorker",
        role="Worker",
        pool="envsecrets",
        api_url=f"http://127.0.0.1:{_unused_port()}/api",  # nobody there: the proxy answers first
        prefect_home=str(tmp_path / "home"),
        python_path=python,
        account="LocalSystem",
        **{given: {"HTTP_PROXY": url}},
    )
    spec = build_spec(params, python=python, default_home="/unused", host="testhost", flavor="posix")
    assert set(spec.secret_variables) == {"HTTP_PROXY"} and spec.launcher_file
    root = str(tmp_path / "services")
    adapter = PosixAdapter(services=StandInServices(root))
    try:
        adapter = install_and_start(spec, root)
        deadline = time.monotonic() + 90
        record = adapter.read_service("EnvSecretWorker")
        while not proxy.headers and time.monotonic() < deadline and record.running:
            time.sleep(0.2)
            record = adapter.read_service("EnvSecretWorker")
        stderr = Path(spec.stderr_log).read_text(encoding="utf-8", errors="replace")[-3000:] if os.path.exists(spec.stderr_log) else ""
        assert proxy.headers, f"the worker sent nothing through the proxy; its stderr: {stderr}"
        assert proxy.headers[0] == "Basic " + base64.b64encode(f"svc:{PROXY_PASSWORD}".encode()).decode()
        assert_nowhere_but_the_file(spec, root, record.pid, PROXY_PASSWORD, "HTTP_PROXY")
    finally:
        adapter.stop_service("EnvSecretWorker", 30)
        proxy.close()


def test_a_real_server_logs_in_to_postgresql_with_the_pgpassword_only_its_secrets_file_holds(throwaway_postgres, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PREFECTWIN_TEST_POSTGRES_URL", raising=False)
    cluster = throwaway_postgres
    password = "Potoroo-pg-" + uuid.uuid4().hex[:8]
    role = database = "envsecret_" + uuid.uuid4().hex[:8]
    cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    cluster.execute(f"CREATE DATABASE {database} OWNER {role}")
    python = target_python("3.9.1")
    params = install_params(
        name="EnvSecretServer",
        prefect_home=str(tmp_path / "home"),
        port=_unused_port(),
        python_path=python,
        account="LocalSystem",
        database_url=SecretStr(f"postgresql+asyncpg://{role}@{cluster.host}:{cluster.port}/{database}"),  # no password
        environment={"PGPASSWORD": password},
    )
    spec = build_spec(params, python=python, default_home="/unused", host="testhost", flavor="posix")
    assert set(spec.secret_variables) == {"PGPASSWORD"}
    root = str(tmp_path / "services")
    adapter = PosixAdapter(services=StandInServices(root))
    try:
        adapter = install_and_start(spec, root)
        record = adapter.read_service("EnvSecretServer")
        wait_for(lambda: server_ready(spec.api_url), 180, "server /api/health and /api/ready")
        # It migrated the database that only PGPASSWORD opens, and serves from it.
        status, _ = http(f"{spec.api_url}/work_pools/", {"name": "envsecret-pool", "type": "process"})
        assert status == 201
        rows = asyncio.run(_query(cluster.url(database=database), "SELECT name FROM work_pool"))
        assert [r["name"] for r in rows] == ["envsecret-pool"]
        assert not os.path.exists(os.path.join(spec.prefect_home, "prefect.db"))
        assert_nowhere_but_the_file(spec, root, record.pid, password, "PGPASSWORD")
    finally:
        adapter.stop_service("EnvSecretServer", 30)


async def _query(url: str, sql: str):
    import asyncpg

    parts = urllib.parse.urlsplit(url)
    conn = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(scheme="postgresql")), timeout=10)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()
