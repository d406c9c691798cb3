"""Upgrade a real Prefect server from 3.6.29 to 3.9.1 on Linux, end to end, and roll it back.

The "service" is a real `prefect server start` kept by the POSIX stand-in for the Service
Control Manager (prefectwin/system/posix_standin.py): installed from a real ServiceSpec's NSSM
parameters and marker, started and stopped as NSSM would (Ctrl-C to its process group, then
the tree killed). Its interpreter is a COPY of the cached 3.6.29 target venv (tests/target_venvs.py),
run as `<copy>/bin/python -m ...` (the copy's console scripts point at the original). Its
SQLite database holds a flow run created through the 3.6.29 server's API. Packages come from
the wheelhouse via -WheelPath, as on an air-gapped host.

1. With the health gate failing for a real reason (something else holds the server's port when
   the upgraded server starts, so 3.9.1 never answers; the port is free again once it is
   stopped): the rollback reinstalls 3.6.29 (`python -m prefect version` says so), puts the
   database back byte for byte (its SHA-256 when the old server starts again is the backup's,
   and its content is the stopped original's), and the old server is healthy again with the
   flow run. Nothing in the shipped code knows it is being tested.
2. With the port free, through the real `python -m prefectwin rpc`: 3.9.1 is installed, the
   database is migrated (a new Alembic revision), the server is healthy and is 3.9.1, and the
   flow run is still there.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest
from service_helpers import install_params
from service_payload import http
from target_venvs import WHEELHOUSE, target_python

import prefectwin.system as system
from prefectwin.events import SilentEvents
from prefectwin.services import health
from prefectwin.services.plan import reveal
from prefectwin.services.spec import build_spec
from prefectwin.system.posix import PosixAdapter
from prefectwin.system.posix_standin import ROOT_VARIABLE, StandInServices

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the POSIX stand-in for the SCM; Windows has the real one")

OLD, NEW = "3.6.29", "3.9.1"
NAME = "PrefectUpgradeServer"
# How long the failing health gate waits (and the rollback's old server has to become healthy).
GATE_SEC = 60


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dump(path: str) -> list[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def revision(path: str) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        connection.close()


def prefect_version(python: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([python, "-m", "prefect", "version"], env=env, capture_output=True, text=True, timeout=120)
    line = next((l for l in done.stdout.splitlines() if l.strip().lower().startswith("version:")), "")
    return line.partition(":")[2].strip()


class Observing(StandInServices):
    """The real stand-in, plus what the test needs to see at the moments in between: the
    database's hash and content right after each stop and right before each start. With
    `occupy`, the first start finds that (host, port) taken by a listener of the test's own,
    which goes away at the next stop: the upgraded server cannot serve, the old one can."""

    def __init__(self, root: str, database: str, occupy: Optional[tuple[str, int]] = None) -> None:
        super().__init__(root)
        self.database = database
        self.occupy = occupy
        self.squatter: Optional[socket.socket] = None
        self.seen: list[tuple[str, str, list[str]]] = []

    def stop_service(self, name: str, timeout_sec: int) -> None:
        super().stop_service(name, timeout_sec)
        if self.squatter is not None:
            self.squatter.close()
            self.squatter = None
        self.seen.append(("stopped", sha256(self.database), dump(self.database)))

    def start_service(self, name: str, timeout_sec: int) -> None:
        self.seen.append(("starting", sha256(self.database), dump(self.database)))
        if self.occupy is not None:
            self.squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the old server's TIME_WAIT
            self.squatter.bind(self.occupy)
            self.squatter.listen(1)
            self.occupy = None
        super().start_service(name, timeout_sec)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, free_port) -> Any:
    if not WHEELHOUSE.is_dir():
        pytest.skip("no wheelhouse: an upgrade from -WheelPath needs one")
    base = tmp_path_factory.mktemp("upgrade")
    venv = base / "venv"
    # A copy, so the cached target stays 3.6.29; symlinks kept (bin/python is one).
    shutil.copytree(Path(target_python(OLD)).parent.parent, venv, symlinks=True)
    python = str(venv / "bin" / "python")
    root = str(base / "services")
    home = str(base / "home")
    spec = build_spec(
        install_params(name=NAME, prefect_home=home, port=free_port(), python_path=python),
        python=python, default_home="/unused", host="testhost", flavor="posix",
    )
    adapter = PosixAdapter(services=StandInServices(root))
    adapter.nssm_install(None, NAME, spec.application)
    for parameter, values in spec.nssm_parameters().items():
        if values:
            adapter.nssm_set(None, NAME, parameter, reveal(values))
    adapter.write_marker(NAME, spec.marker())
    saved = os.environ.get(ROOT_VARIABLE)
    os.environ[ROOT_VARIABLE] = root
    try:
        adapter.start_service(NAME, 60)
        health.wait_until_healthy([NAME], 240, adapter, SilentEvents())
        status, flow = http(f"{spec.api_url}/flows/", {"name": f"upgrade-probe-{uuid.uuid4().hex[:6]}"})
        assert status in (200, 201), status
        status, run = http(f"{spec.api_url}/flow_runs/", {"flow_id": flow["id"], "name": "before-the-upgrade"})
        assert status in (200, 201), status
        yield {"spec": spec, "python": python, "root": root, "database": spec.sqlite_path, "flow_run": run["id"], "adapter": adapter}
    finally:
        adapter.stop_service(NAME, 30)
        if saved is None:
            os.environ.pop(ROOT_VARIABLE, None)
        else:
            os.environ[ROOT_VARIABLE] = saved


def _flow_run_named(api_url: str, run_id: str) -> Any:
    status, body = http(f"{api_url}/flow_runs/{run_id}")
    return body["name"] if status == 200 else (status, body)


def test_a_failed_health_gate_restores_the_old_version_and_the_database_byte_for_byte(service, monkeypatch):
    from prefectwin.commands.service import ServiceUpdateParams, service_update
    from prefectwin.errors import ApplyFailed
    from prefectwin.registry import Context

    spec, database = service["spec"], service["database"]
    old_revision = revision(database)
    observer = Observing(service["root"], database, occupy=(spec.bind_address or "127.0.0.1", spec.port))
    system.use_adapter(PosixAdapter(services=observer))
    monkeypatch.setenv("PIP_NO_COMPILE", "1")  # test time: bytecode is written at first import instead
    try:
        with pytest.raises(ApplyFailed) as failed:
            params = ServiceUpdateParams(name=NAME, version=NEW, wheel_path=str(WHEELHOUSE), timeout_sec=GATE_SEC)
            service_update(params, Context(what_if=False, events=SilentEvents()))
    finally:
        system.use_adapter(None)
        if observer.squatter is not None:
            observer.squatter.close()
    message = failed.value.message
    assert f"Not healthy after {GATE_SEC} s" in message and f"Prefect {OLD} is installed again and {NAME} is healthy" in message, message
    assert prefect_version(service["python"]) == OLD

    [backup] = [d["backups"] for d in failed.value.details if "backups" in d][0]
    moments = [m for m, _, _ in observer.seen]
    assert moments == ["stopped", "starting", "stopped", "starting"], moments  # old stop, new start, new stop, old start
    (_, original_hash, original), (_, migrated_hash, _), _, (_, restored_hash, restored) = observer.seen
    assert migrated_hash != original_hash  # 3.9.1's migration really changed the file
    assert restored_hash == sha256(backup)  # byte for byte the backup taken before the upgrade
    assert restored == original  # and that backup holds exactly what the stopped old server left
    assert revision(backup) == old_revision

    # The old server is back, healthy, with the flow run.
    assert http(f"{spec.api_url}/admin/version")[1] == OLD
    assert _flow_run_named(spec.api_url, service["flow_run"]) == "before-the-upgrade"


def test_the_upgrade_installs_3_9_1_migrates_the_database_and_reaches_a_healthy_server(service, run_rpc):
    spec, database = service["spec"], service["database"]
    old_revision = revision(database)
    result = run_rpc(
        {"protocol": 1, "command": "service.update", "params": {"name": NAME, "version": NEW, "wheelPath": str(WHEELHOUSE)}},
        env={ROOT_VARIABLE: service["root"], "PIP_NO_COMPILE": "1"},
        timeout=900,
    )
    code, response, events = result
    assert code == 0 and response["ok"], (response, service["adapter"].read_service(NAME), Path(spec.stderr_log).read_text()[-3000:])
    upgrade = response["result"]
    assert (upgrade["fromVersion"], upgrade["toVersion"]) == (OLD, NEW)
    assert [a["kind"] for a in upgrade["actions"]] == ["stop-service", "backup-database", "pip-install", "migrate-database", "start-service", "wait-healthy"]
    assert [(s["name"], s["health"], s["version"]) for s in upgrade["services"]] == [(NAME, "Healthy", NEW)]
    assert any("progress" in e and "healthy" in e["progress"]["activity"] for e in events)
    assert prefect_version(service["python"]) == NEW
    assert revision(database) != old_revision
    assert http(f"{spec.api_url}/admin/version")[1] == NEW
    assert _flow_run_named(spec.api_url, service["flow_run"]) == "before-the-upgrade"
    # The backup of the 3.6.29 database stays, at the old revision: the way back by hand.
    [backup] = upgrade["backups"]
    assert revision(backup) == old_revision
