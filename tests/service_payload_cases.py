"""The service payload, for real: shared by tests/services/test_payload_sqlite.py and
tests/services/test_payload_postgres.py, which each provide `payload_database` and so start ONE
server each.

One module-scoped scenario runs the specs exactly as built (application = this venv's
python, arguments, environment, working directory = a PREFECT_HOME with a space and
non-ASCII in its path, log files), and the tests below assert on what it saw:

  server up -> /api/health and /api/ready -> a work pool through the API -> the worker spec
  -> the worker ONLINE in that pool -> service.get / service.wait report both Healthy ->
  worker stopped (Ctrl-C) -> worker started again -> server stopped first -> worker stopped.

The stop figures are printed at the end (run with -s, or read the test's output), and are
what spec.SERVER_STOP_TIMEOUT_MS and WORKER_STOP_TIMEOUT_MS are set from.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sys
import time
from typing import Any, Callable

import pytest

from prefectwin.services.spec import build_spec
from service_helpers import install_params
from service_payload import Payload, Stopped, http, server_ready, wait_for, worker_row

POOL = "payload-pool"
# A worker stops in ~0.2 s on Ctrl-C at any time while its server is up. Once it has been
# running for ~6 s (its first poll and heartbeat done), a worker whose server went first
# takes ~7.3 s instead; before that, ~0.2 s. Both stops happen in that steady state.
STEADY_SEC = 8.0


def _steady(payload: Payload) -> None:
    remaining = STEADY_SEC - (time.time() - payload.started_at)
    if remaining > 0:
        time.sleep(remaining)


def _online_since(api_url: str, worker: Payload) -> Callable[[], bool]:
    from prefectwin.services.health import _parse_time

    def check() -> bool:
        row = worker_row(api_url, POOL, worker.spec.worker_name)
        beat = _parse_time(row.get("last_heartbeat_time")) if row else None
        return bool(row and row.get("status") == "ONLINE" and beat and beat >= worker.started_at - 1)

    return check


def _fake_services(*payloads: Payload) -> Any:
    from fakes.services import FakeService, FakeServiceAdapter

    services = [
        FakeService(
            name=p.spec.name,
            parameters={"Application": (p.spec.application,), "Start": ("SERVICE_AUTO_START",), "ObjectName": ("LocalSystem",)},
            marker=p.spec.marker(),
            status="Running",
            pid=p.pid,
            app_pids=tuple(proc.pid for proc in p.tree()),
            started_at=p.started_at,
        )
        for p in payloads
    ]
    return FakeServiceAdapter(services=services)


def _call(command: str, params: dict, adapter: Any) -> tuple[dict, list[dict]]:
    """The real request handler, in-process, with `adapter` as the system adapter."""
    import prefectwin.system as system
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    stream = io.StringIO()
    previous = system._override
    system.use_adapter(adapter)
    try:
        response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params}).encode(), Events(stream))
    finally:
        system.use_adapter(previous)
    return response, [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(scope="module")
def scenario(payload_database: dict, tmp_path_factory: pytest.TempPathFactory, _prefect_db_template: Callable[[], Any], free_port) -> Any:
    home = str(tmp_path_factory.mktemp("prefect home ü") / "data dir")
    host = socket.gethostname()
    build = dict(python=sys.executable, default_home="/unused", host=host, flavor="posix")
    server_spec = build_spec(
        install_params(name="PrefectServer", prefect_home=home, port=free_port(), **payload_database["params"]), **build
    )
    worker_spec = build_spec(
        install_params(name="PrefectWorker", role="Worker", pool=POOL, prefect_home=home, api_url=server_spec.api_url, depends_on=["PrefectServer"]),
        **build,
    )
    if server_spec.database_kind == "sqlite":
        template = _prefect_db_template()
        if template is not None:  # skip ~7 s of migrations; a new database is tested with PostgreSQL
            os.makedirs(home, exist_ok=True)
            shutil.copyfile(template, server_spec.sqlite_path)
    api = server_spec.api_url
    seen: dict[str, Any] = {"server_spec": server_spec, "worker_spec": worker_spec, "database": payload_database["label"]}
    server = Payload(server_spec).start()
    workers: list[Payload] = []
    try:
        seen["server_healthy_s"] = wait_for(lambda: server_ready(api), 120, "server /api/health and /api/ready", server)
        seen["pool_status"], seen["pool"] = http(f"{api}/work_pools/", {"name": POOL, "type": "process"})
        worker = Payload(worker_spec).start()
        workers.append(worker)
        seen["worker_visible_s"] = wait_for(_online_since(api, worker), 60, "worker ONLINE in its pool", worker)
        seen["worker_row"] = worker_row(api, POOL, worker_spec.worker_name)
        seen["server_tree"] = [p.pid for p in server.tree()]
        adapter = _fake_services(server, worker)
        seen["get"] = _call("service.get", {}, adapter)
        seen["wait"] = _call("service.wait", {"name": ["PrefectServer", "PrefectWorker"], "timeoutSec": 30}, adapter)
        seen["read_calls"] = [c.name for c in adapter.calls if c.name.startswith("read_")]
        _steady(worker)
        seen["worker_stop"] = worker.stop()
        again = Payload(worker_spec).start()
        workers.append(again)
        seen["worker_again_visible_s"] = wait_for(_online_since(api, again), 60, "restarted worker ONLINE", again)
        _steady(again)
        seen["server_stop"] = server.stop()
        seen["worker_stop_after_server"] = again.stop()
        seen["alive_after"] = [p.pid for p in (server, *workers) if p.alive()]
    finally:
        for payload in (server, *workers):
            payload.kill()
    return seen


def test_server_payload_becomes_healthy_and_ready(scenario):
    spec = scenario["server_spec"]
    assert scenario["server_healthy_s"] < 120
    assert spec.working_directory == spec.prefect_home and " " in spec.prefect_home and "ü" in spec.prefect_home
    assert scenario["pool_status"] == 201 and scenario["pool"]["type"] == "process"


def test_worker_payload_shows_up_in_its_pool_through_the_api(scenario):
    row = scenario["worker_row"]
    assert row["name"] == scenario["worker_spec"].worker_name and row["status"] == "ONLINE"


def test_get_and_wait_report_health_from_the_real_api(scenario):
    response, _ = scenario["get"]
    assert response["ok"], response
    by_name = {s["name"]: s for s in response["result"]}
    server, worker = by_name["PrefectServer"], by_name["PrefectWorker"]
    assert (server["role"], server["health"], server["port"]) == ("Server", "Healthy", scenario["server_spec"].port)
    assert (worker["role"], worker["health"], worker["pool"]) == ("Worker", "Healthy", POOL)
    assert worker["lastHeartbeat"] and worker["apiUrl"] == scenario["server_spec"].api_url
    from importlib.metadata import version

    assert server["version"] == worker["version"] == version("prefect")
    assert server["logPaths"] == list(scenario["server_spec"].log_paths)
    # One batch read per command, however many services.
    assert scenario["read_calls"].count("read_managed_services") == 3
    wait_response, events = scenario["wait"]
    assert wait_response["ok"], wait_response
    assert all(s["health"] == "Healthy" for s in wait_response["result"])
    assert any("progress" in e and e["progress"]["percent"] == 100 for e in events)


def test_log_files_are_the_specs(scenario):
    for spec in (scenario["server_spec"], scenario["worker_spec"]):
        assert all(os.path.isfile(p) for p in spec.log_paths)
    with open(scenario["server_spec"].stderr_log, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    assert "Traceback" not in text, text[-3000:]
    assert "\x1b[" not in text  # colours off


def _report(scenario, capsys) -> None:
    fields = ("worker_stop", "server_stop", "worker_stop_after_server")
    line = ", ".join(f"{f}={scenario[f].seconds:.2f}s{'' if scenario[f].graceful else ' (KILLED)'}" for f in fields)
    with capsys.disabled():
        sys.stderr.write(f"\n[service payload, {scenario['database']}] server healthy in {scenario['server_healthy_s']:.1f}s; {line}\n")


def test_stopping_like_the_wrapper_leaves_nothing_behind(scenario, capsys):
    _report(scenario, capsys)
    server_spec, worker_spec = scenario["server_spec"], scenario["worker_spec"]
    for key, spec in (("worker_stop", worker_spec), ("server_stop", server_spec), ("worker_stop_after_server", worker_spec)):
        stopped: Stopped = scenario[key]
        assert stopped.graceful, f"{key}: Ctrl-C did not stop it within {spec.stop_timeout_ms} ms"
        assert stopped.seconds <= spec.stop_timeout_ms / 1000
        assert stopped.orphans == [], f"{key}: processes left behind: {stopped.orphans}"
    assert len(scenario["server_tree"]) >= 1
    assert scenario["alive_after"] == []


def test_the_worker_depends_on_the_server_so_it_stops_first(scenario):
    assert scenario["worker_spec"].dependencies == ("PrefectServer",)
    # Measured: a worker whose server went first takes far longer to stop; stopping it first
    # (the SCM stops dependents first) keeps every stop short.
    assert scenario["worker_stop"].seconds < scenario["worker_stop_after_server"].seconds
