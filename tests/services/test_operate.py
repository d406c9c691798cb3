"""service.restart and service.update through the real request handler, in-process, with the
stateful fake adapter standing in for Windows (the SCM, pip and the database files are its
in-memory machine). What is checked: the order of every change, -WhatIf changing nothing, and
a failure anywhere putting back the version, the database and the running services.

The same steps run for real on Linux in tests/services/test_upgrade.py."""
from __future__ import annotations

import io
import json
import subprocess
from typing import Any

import pytest
from fakes.services import FakeService, FakeServiceAdapter
from service_helpers import windows_spec

import prefectwin.system as system
from prefectwin.events import Events
from prefectwin.rpc import handle
from prefectwin.services import health
from prefectwin.services.plan import reveal
from prefectwin.system.posix_standin import split_command_line

PY_A = "C:\\Prefect\\venv\\Scripts\\python.exe"
PY_B = "C:\\Prefect\\venv-b\\Scripts\\python.exe"
SERVER_DB = "C:\\ProgramData\\Prefect\\prefect.db"


def service_from(spec: Any, status: str = "Running") -> FakeService:
    return FakeService(
        name=spec.name,
        parameters={k: reveal(v) for k, v in spec.nssm_parameters().items() if v},
        marker=spec.marker(),
        status=status,
        pid=100,
        app_pids=(101,),
    )


def machine(worker_status: str = "Running", **fake: Any) -> FakeServiceAdapter:
    """A server on PY_A (SQLite), a worker of it on PY_B, a second worker of it on PY_A, and a
    server elsewhere with its own worker: only what belongs to PrefectServer may move."""
    server = windows_spec(python_path=PY_A)
    worker = windows_spec(name="PrefectWorker", role="Worker", pool="default", python_path=PY_B, local_server=("PrefectServer", server.api_url))
    shared = windows_spec(name="PrefectWorker2", role="Worker", pool="other", python_path=PY_A, api_url=server.api_url)
    other = windows_spec(name="OtherServer", port=4300, prefect_home="D:\\Other", python_path=PY_B)
    other_worker = windows_spec(name="OtherWorker", role="Worker", pool="x", python_path=PY_B, api_url=other.api_url)
    adapter = FakeServiceAdapter(
        services=[service_from(server), service_from(worker, worker_status), service_from(shared), service_from(other), service_from(other_worker)],
        directories=[PY_A, PY_B],
        **fake,
    )
    adapter.packages = {PY_A: {"prefect": "3.6.29", "fastapi": "0.115.14"}, PY_B: {"prefect": "3.9.1"}}
    adapter.brings = {"prefect==3.9.1": {"fastapi": "0.150.0", "cyclopts": "4.8.0"}}
    adapter.files = {SERVER_DB: "old-revision"}
    return adapter


@pytest.fixture
def use(monkeypatch):
    """Install a fake adapter; health comes from the fake's status (no HTTP to a fake URL)."""
    installed: list[Any] = []

    def describe(record, *, check_health: bool = True, **_: Any):
        info = health.ServiceInfo(name=record.name, role=(record.managed or {}).get("role"), status=record.status)
        return info.model_copy(update={"health": "Healthy" if record.running else "Stopped"})

    monkeypatch.setattr(health, "describe", describe)
    monkeypatch.setattr(health, "prefect_version", lambda python: installed[0].packages.get(python, {}).get("prefect"))

    def install(adapter: FakeServiceAdapter) -> FakeServiceAdapter:
        installed.append(adapter)
        system.use_adapter(adapter)
        return adapter

    yield install
    system.use_adapter(None)


def call(command: str, params: dict, what_if: bool = False) -> tuple[dict, list[dict]]:
    err = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if}).encode(), Events(err))
    return response, [json.loads(line) for line in err.getvalue().splitlines()]


def changes(adapter: FakeServiceAdapter) -> list[tuple]:
    """The state-changing calls, with the service or file each one touched."""
    shown = []
    for c in adapter.calls:
        if c.name in ("start_service", "stop_service"):
            shown.append((c.name, c.args[0]))
        elif c.name in ("pip_install", "pip_uninstall"):
            shown.append((c.name, c.args[1]))
        elif c.name in ("sqlite_backup", "sqlite_restore", "prefect_database_upgrade"):
            shown.append((c.name,))
    return shown


# -- restart ----------------------------------------------------------------------------------
def test_restarting_a_server_stops_its_workers_first_and_starts_them_after_its_health_gate(use):
    adapter = use(machine())
    response, events = call("service.restart", {"name": ["PrefectServer"]})
    assert response["ok"], response
    assert changes(adapter) == [
        ("stop_service", "PrefectWorker"),
        ("stop_service", "PrefectWorker2"),
        ("stop_service", "PrefectServer"),
        ("start_service", "PrefectServer"),
        ("start_service", "PrefectWorker"),
        ("start_service", "PrefectWorker2"),
    ]
    kinds = [a["kind"] for a in response["result"]["actions"]]
    assert kinds == ["stop-service", "stop-service", "stop-service", "start-service", "wait-healthy", "start-service", "start-service", "wait-healthy"]
    # The servers' gate comes between the server's start and the workers' starts.
    gate = response["result"]["actions"][4]
    assert gate["target"] == "PrefectServer" and "healthy" in gate["description"]
    assert {s["name"]: s["health"] for s in response["result"]["services"]} == {"PrefectServer": "Healthy", "PrefectWorker": "Healthy", "PrefectWorker2": "Healthy"}
    assert any("progress" in e and "healthy" in e["progress"]["activity"] for e in events), events


def test_restarting_a_worker_touches_only_that_worker(use):
    adapter = use(machine())
    response, _ = call("service.restart", {"name": ["PrefectWorker"]})
    assert response["ok"], response
    assert changes(adapter) == [("stop_service", "PrefectWorker"), ("start_service", "PrefectWorker")]


def test_a_stopped_worker_of_a_restarted_server_stays_stopped(use):
    adapter = use(machine(worker_status="Stopped"))
    response, _ = call("service.restart", {"name": ["PrefectServer"]})
    assert response["ok"], response
    assert ("start_service", "PrefectWorker") not in changes(adapter)
    assert ("start_service", "PrefectWorker2") in changes(adapter)


def test_restart_what_if_lists_the_order_and_changes_nothing(use):
    adapter = use(machine())
    before = adapter.snapshot()
    response, _ = call("service.restart", {"name": ["PrefectServer"]}, what_if=True)
    assert response["ok"] and response["result"]["whatIf"] is True
    assert [a["target"] for a in response["result"]["actions"] if a["kind"] != "wait-healthy"] == [
        "PrefectWorker", "PrefectWorker2", "PrefectServer", "PrefectServer", "PrefectWorker", "PrefectWorker2",
    ]
    assert adapter.changing_calls() == [] and adapter.snapshot() == before


def test_a_failed_start_during_a_restart_starts_everything_again(use):
    adapter = use(machine())
    adapter.fail_at_change = 4  # three stops, then the server's start
    before = {n: s.status for n, s in adapter.services.items()}
    response, _ = call("service.restart", {"name": ["PrefectServer"]})
    assert not response["ok"] and response["error"]["code"] == "ApplyFailed"
    assert "Start service 'PrefectServer'" in response["error"]["message"]
    assert {n: s.status for n, s in adapter.services.items()} == before


def test_declining_a_workers_stop_under_confirm_skips_everything_after_it(use):
    """Each restart step depends on the one before: a server must not be stopped under a
    worker that was left running, nor workers started without their server's gate."""
    from prefectwin.serve import answer

    adapter = use(machine())

    def session_request(**extra) -> dict:
        document = {"id": 1, "protocol": 1, "command": "service.restart", "params": {"name": ["PrefectServer"]}, **extra}
        return answer(json.dumps(document).encode(), lambda event: None)

    planned = session_request(whatIf=True)
    actions = planned["result"]["actions"]
    assert all(a["dependsOn"] == [actions[i - 1]["id"]] for i, a in enumerate(actions) if i)
    confirmed = [a["id"] for a in actions if a["target"] != "PrefectWorker2" or a["kind"] != "stop-service"]
    applied = session_request(apply={"planId": planned["result"]["planId"], "confirm": confirmed})
    assert applied["ok"], applied
    assert changes(adapter) == [("stop_service", "PrefectWorker")]


def test_a_restart_without_names_restarts_what_runs_and_leaves_stopped_services_stopped(use):
    adapter = use(machine(worker_status="Stopped"))
    response, _ = call("service.restart", {})
    assert response["ok"], response
    assert ("start_service", "PrefectWorker") not in changes(adapter)
    assert {("stop_service", "OtherServer"), ("start_service", "OtherServer")} <= set(changes(adapter))


def test_restart_of_an_unknown_service_is_not_found_and_changes_nothing(use):
    adapter = use(machine())
    response, _ = call("service.restart", {"name": ["Nope"]})
    assert response["error"]["code"] == "NotFound" and response["error"]["target"] == "Nope"
    assert adapter.changing_calls() == []


# -- update -----------------------------------------------------------------------------------
def _update(**params: Any) -> dict:
    return {"name": "PrefectServer", "version": "3.9.1", **params}


def test_update_what_if_shows_every_step_in_order_and_changes_nothing(use):
    adapter = use(machine())
    before = adapter.snapshot()
    response, _ = call("service.update", _update(), what_if=True)
    assert response["ok"], response
    result = response["result"]
    assert (result["fromVersion"], result["toVersion"], result["pythonPath"]) == ("3.6.29", "3.9.1", PY_A)
    assert [(a["kind"], a["target"]) for a in result["actions"]] == [
        ("stop-service", "PrefectWorker"),
        ("stop-service", "PrefectWorker2"),
        ("stop-service", "PrefectServer"),
        ("backup-database", result["backups"][0]),
        ("pip-install", PY_A),
        ("migrate-database", "PrefectServer"),
        ("start-service", "PrefectServer"),
        ("wait-healthy", "PrefectServer"),
        ("start-service", "PrefectWorker"),
        ("start-service", "PrefectWorker2"),
        ("wait-healthy", "PrefectWorker, PrefectWorker2"),
    ]
    assert result["backups"][0].startswith("C:\\ProgramData\\Prefect\\backups\\prefect-before-3.6.29-upgrade-")
    assert any("PrefectWorker2" in n and "upgraded together" in n for n in result["notes"])
    assert adapter.changing_calls() == [] and adapter.snapshot() == before


def test_update_migrates_a_launcher_server_through_its_launcher_with_no_secret_in_sight(use):
    # A server whose database password is a variable only its launcher sets (PGPASSWORD).
    server = windows_spec(python_path=PY_A, database_url="postgresql+asyncpg://prefect@db01:5432/prefect", environment={"PGPASSWORD": "Dibbler-pg-3"})
    adapter = FakeServiceAdapter(services=[service_from(server)], directories=[PY_A])
    adapter.packages = {PY_A: {"prefect": "3.6.29"}}
    adapter.secret_files = {server.secrets_file: server.secrets_text().get_secret_value(), server.launcher_file: server.launcher_text().get_secret_value()}
    use(adapter)
    response, events = call("service.update", _update(backupAcknowledged=True))  # PostgreSQL: its own backup
    assert response["ok"], response
    [migrate] = adapter.calls_to("prefect_database_upgrade")
    assert migrate.kwargs["launcher"] == (server.launcher_file, server.secrets_file)
    assert "Dibbler-pg-3" not in json.dumps(response) + json.dumps(events) + json.dumps(migrate.kwargs["environment"])


def test_update_backs_up_installs_migrates_then_restarts_in_order(use):
    adapter = use(machine())
    response, _ = call("service.update", _update())
    assert response["ok"], response
    assert changes(adapter) == [
        ("stop_service", "PrefectWorker"),
        ("stop_service", "PrefectWorker2"),
        ("stop_service", "PrefectServer"),
        ("sqlite_backup",),
        ("pip_install", ("prefect==3.9.1",)),
        ("prefect_database_upgrade",),
        ("start_service", "PrefectServer"),
        ("start_service", "PrefectWorker"),
        ("start_service", "PrefectWorker2"),
    ]
    assert adapter.packages[PY_A]["prefect"] == "3.9.1" and adapter.files[SERVER_DB] == "new-revision"
    backup = response["result"]["backups"][0]
    assert adapter.files[backup] == "old-revision"
    # The migration ran in the server's own environment (its PREFECT_HOME), not the caller's.
    [migrate] = adapter.calls_to("prefect_database_upgrade")
    assert migrate.kwargs["environment"]["PREFECT_HOME"] == "C:\\ProgramData\\Prefect"
    assert adapter.services["otherserver"].status == "Running" and ("stop_service", "OtherServer") not in changes(adapter)


@pytest.mark.parametrize("failing", ["prefect_database_upgrade", "wait-healthy", "pip_install"])
def test_a_failed_upgrade_puts_back_the_version_the_database_and_the_running_services(use, monkeypatch, failing):
    adapter = use(machine())
    params = _update()
    if failing == "wait-healthy":
        # The new release never becomes healthy: the server's interpreter answers as unhealthy
        # while it holds 3.9.1, as a server that cannot start on its new version would.
        healthy_when_running = health.describe

        def describe(record, **kwargs: Any):
            info = healthy_when_running(record, **kwargs)
            if record.name == "PrefectServer" and adapter.packages[PY_A]["prefect"] == "3.9.1":
                return info.model_copy(update={"health": "Unhealthy", "health_detail": "no answer from /api/health"})
            return info

        monkeypatch.setattr(health, "describe", describe)
        params = _update(timeoutSec=1)
    else:
        adapter.fail_on[failing] = RuntimeError(f"{failing} broke")
        if failing == "pip_install":
            # the first install fails; the rollback's install of the old pins must still work
            calls = {"n": 0}
            real = FakeServiceAdapter.pip_install

            def flaky(self, python, requirements, wheel_path, **kwargs):
                calls["n"] += 1
                if calls["n"] == 1:
                    self.packages[python]["prefect"] = "3.9.1"  # half done
                    raise RuntimeError("pip install broke")
                return real(self, python, requirements, wheel_path, **kwargs)

            adapter.fail_on.pop(failing)
            monkeypatch.setattr(FakeServiceAdapter, "pip_install", flaky)
    before_packages = json.dumps(adapter.packages, sort_keys=True)
    before_status = {n: s.status for n, s in adapter.services.items()}
    response, _ = call("service.update", params)
    assert not response["ok"] and response["error"]["code"] == "ApplyFailed", response
    message = response["error"]["message"]
    if failing == "wait-healthy":
        assert "Not healthy after 1 s: PrefectServer: no answer from /api/health" in message, message
    assert "Prefect 3.6.29 is installed again" in message and "healthy" in message, message
    assert json.dumps(adapter.packages, sort_keys=True) == before_packages
    assert adapter.files[SERVER_DB] == "old-revision"
    assert {n: s.status for n, s in adapter.services.items()} == before_status
    # The rollback installs the recorded set as it was: complete, so without resolving again.
    assert adapter.calls_to("pip_install")[-1].kwargs == {"no_deps": True}
    undone = [d for d in response["error"]["details"] if "rolledBack" in d]
    assert undone and all(d["rolledBack"] for d in undone), undone
    # Starts come last in the rollback: the server before its workers.
    starts = [c for c in changes(adapter) if c[0] == "start_service"]
    assert starts[-3] == ("start_service", "PrefectServer")
    assert sorted(starts[-2:]) == [("start_service", "PrefectWorker"), ("start_service", "PrefectWorker2")]


def test_update_to_the_installed_version_is_an_empty_plan(use):
    adapter = use(machine())
    response, _ = call("service.update", {"name": "PrefectWorker", "version": "3.9.1"})
    assert response["ok"] and response["result"]["changed"] is False and response["result"]["actions"] == []
    assert adapter.changing_calls() == []


@pytest.mark.parametrize(
    ("params", "target", "words"),
    [
        ({"version": "3.9.1; os_name=='posix'"}, "Version", "not a Prefect 3 release"),
        ({"version": "2.20.0"}, "Version", "not a Prefect 3 release"),
        ({"version": "3.0.11"}, "Version", "older than PrefectWin supports"),
        ({"version": "3.4.25"}, "Version", "older than the installed 3.6.29"),
        ({"wheelPath": "/no/such/folder"}, "WheelPath", "does not exist"),
    ],
)
def test_bad_update_parameters_are_refused_naming_the_parameter_and_change_nothing(use, tmp_path, params, target, words):
    adapter = use(machine())
    response, _ = call("service.update", _update(**params))
    assert response["error"]["target"] == target and words in response["error"]["message"], response
    assert adapter.changing_calls() == []


def test_a_wheel_folder_without_the_release_is_refused(use, tmp_path):
    adapter = use(machine())
    (tmp_path / "prefect-3.6.29-py3-none-any.whl").write_bytes(b"")
    response, _ = call("service.update", _update(wheelPath=str(tmp_path)))
    assert response["error"]["target"] == "WheelPath" and "prefect-3.9.1-*.whl" in response["error"]["message"]
    assert adapter.changing_calls() == []


def test_a_postgresql_server_gets_a_note_on_what_to_back_up_and_no_sqlite_step(use):
    adapter = use(machine())
    spec = windows_spec(python_path=PY_A, database_url="postgresql+asyncpg://prefect@db01:5432/prefect")
    adapter.services["prefectserver"] = service_from(spec)
    response, events = call("service.update", _update(), what_if=True)
    assert response["ok"], response
    kinds = [a["kind"] for a in response["result"]["actions"]]
    assert "backup-database" not in kinds and "migrate-database" in kinds
    [note] = [n for n in response["result"]["notes"] if "PostgreSQL" in n]
    assert "pg_dump" in note and any(e.get("level") == "warning" and "pg_dump" in e["message"] for e in events)


def _postgres_machine() -> FakeServiceAdapter:
    adapter = machine()
    spec = windows_spec(python_path=PY_A, database_url="postgresql+asyncpg://prefect@db01:5432/prefect")
    adapter.services["prefectserver"] = service_from(spec)
    return adapter


def test_a_postgresql_upgrade_is_refused_without_backup_acknowledged_before_any_change(use):
    adapter = use(_postgres_machine())
    before = adapter.snapshot()
    shown, events = call("service.update", _update(), what_if=True)
    assert shown["ok"] and any("-BackupAcknowledged" in n for n in shown["result"]["notes"]), shown
    response, _ = call("service.update", _update())
    error = response["error"]
    assert (error["code"], error["category"], error["target"]) == ("InvalidArgument", "InvalidArgument", "BackupAcknowledged"), error
    assert "PrefectServer" in error["message"] and "nothing was changed" in error["message"]
    assert "pg_dump" in error["remediation"] and "-BackupAcknowledged" in error["remediation"]
    assert adapter.changing_calls() == [] and adapter.snapshot() == before


def test_a_postgresql_upgrade_runs_once_the_backup_is_acknowledged(use):
    adapter = use(_postgres_machine())
    response, _ = call("service.update", _update(backupAcknowledged=True))
    assert response["ok"], response
    assert adapter.packages[PY_A]["prefect"] == "3.9.1"
    assert ("prefect_database_upgrade",) in changes(adapter) and ("sqlite_backup",) not in changes(adapter)


def test_a_sqlite_upgrade_needs_no_acknowledgement(use):
    adapter = use(machine())
    shown, _ = call("service.update", _update(), what_if=True)
    assert not any("BackupAcknowledged" in n for n in shown["result"]["notes"])


# -- which interpreter: the one NSSM really starts (%VAR% expanded, a prefect launcher's python) --
SCRIPTS_A = "C:\\Prefect\\venv\\Scripts"


def _reapplication(adapter: FakeServiceAdapter, name: str, application: str, **parameters: tuple[str, ...]) -> None:
    service = adapter.services[name.lower()]
    service.parameters["Application"] = (application,)
    service.parameters.update(parameters)


def _account_with(environment: dict[str, str]) -> dict[str, Any]:
    from prefectwin.diagnosis.facts import ServiceAccountFacts

    return {"NT AUTHORITY\\SYSTEM": ServiceAccountFacts(principal="NT AUTHORITY\\SYSTEM", environment=environment)}


def test_update_expands_percent_variables_of_the_application_in_the_service_environment(use):
    adapter = use(machine(accounts=_account_with({"PrefectRoot": "C:\\Prefect"})))
    _reapplication(adapter, "PrefectServer", "%PREFECTROOT%\\venv\\Scripts\\python.exe")
    response, _ = call("service.update", _update())
    assert response["ok"], response
    assert response["result"]["pythonPath"] == PY_A
    assert [c.args[0] for c in adapter.calls_to("pip_install")] == [PY_A]
    assert adapter.packages[PY_A]["prefect"] == "3.9.1"
    # PrefectWorker2 runs the same interpreter, written without a variable: upgraded (and restarted) with it.
    assert ("stop_service", "PrefectWorker2") in changes(adapter) and ("start_service", "PrefectWorker2") in changes(adapter)


def test_a_variable_from_the_services_own_environment_counts_too(use):
    adapter = use(machine())
    server = adapter.services["prefectserver"]
    extra = (*server.parameters.get("AppEnvironmentExtra", ()), "VENV=C:\\Prefect\\venv")
    _reapplication(adapter, "PrefectServer", "%VENV%\\Scripts\\python.exe", AppEnvironmentExtra=extra)
    response, _ = call("service.update", _update(), what_if=True)
    assert response["ok"] and response["result"]["pythonPath"] == PY_A, response


def test_update_of_a_prefect_exe_launcher_upgrades_the_python_beside_it(use):
    adapter = use(machine())
    _reapplication(adapter, "PrefectWorker2", f"{SCRIPTS_A}\\prefect.exe", AppParameters=("worker start --pool other",))
    response, _ = call("service.update", _update(name="PrefectWorker2"))
    assert response["ok"], response
    assert response["result"]["pythonPath"] == PY_A
    assert [c.args[0] for c in adapter.calls_to("pip_install")] == [PY_A]
    # The launcher's venv is the server's: the server is upgraded and migrated with it.
    assert ("prefect_database_upgrade",) in changes(adapter) and ("stop_service", "PrefectServer") in changes(adapter)


@pytest.mark.parametrize(
    ("application", "words", "target"),
    [
        ("%NOSUCHROOT%\\venv\\Scripts\\python.exe", "names %NOSUCHROOT%, which the service's environment does not set", "PrefectServer"),
        ("C:\\Gone\\venv\\Scripts\\prefect.exe", "that is 'C:\\Gone\\venv\\Scripts\\python.exe') does not exist", "C:\\Gone\\venv\\Scripts\\python.exe"),
    ],
    ids=["unset-variable", "launcher-without-python"],
)
def test_an_interpreter_that_cannot_be_found_is_a_structured_error_before_any_change(use, application, words, target):
    adapter = use(machine())
    _reapplication(adapter, "PrefectServer", application)
    before = adapter.snapshot()
    for what_if in (True, False):
        response, _ = call("service.update", _update(), what_if=what_if)
        error = response["error"]
        # The target is what was not found: the service's interpreter, or the service whose
        # Application cannot be resolved.
        assert (error["code"], error["target"]) == ("NotFound", target) and words in error["message"], error
        assert "nothing was changed" in error["message"] and error["remediation"]
    assert adapter.changing_calls() == [] and adapter.snapshot() == before
    assert adapter.calls_to("pip_freeze") == []


# -- the stand-in's command-line split is the MS C runtime's ----------------------------------
@pytest.mark.parametrize(
    "argv",
    [["-m", "prefect", "server", "start"], ["a b", "", 'q"uote', "back\\slash\\", 'tail\\"', "\\\\x y\\\\"], ["--name", "w@HOST", "--work-queue", "a b"]],
)
def test_the_stand_in_splits_appparameters_as_python_exe_would(argv):
    assert split_command_line(subprocess.list2cmdline(argv)) == argv


def test_a_failed_migration_never_shows_the_database_password(use):
    adapter = use(machine())
    password = "Numbat-Pw-4c2&x"
    spec = windows_spec(
        python_path=PY_A,
        database_url="postgresql+asyncpg://prefect@db01:5432/prefect",
        database_credential={"user_name": "prefect", "password": password},
    )
    adapter.services["prefectserver"] = service_from(spec)
    adapter.fail_on["prefect_database_upgrade"] = RuntimeError(f"could not connect to postgresql+asyncpg://prefect:{password}@db01:5432/prefect")
    response, events = call("service.update", _update(backupAcknowledged=True))
    assert response["error"]["code"] == "ApplyFailed", response
    text = json.dumps(response) + json.dumps(events)
    assert password not in text and "could not connect" in text
    # A PostgreSQL migration is not undone, and the error says so.
    assert any(d.get("rolledBack") is False and "pg_dump" in d.get("reason", "") for d in response["error"]["details"]), response["error"]["details"]
