"""stack.install through the real request handler, in-process, against the stateful fake adapter
standing in for Windows (tests/fakes/services.py): the whole plan under whatIf, an apply, the
second run's empty plan, a changed option, the rollback from a failure at every step, NSSM from
winget, and refusals that name their parameter and change nothing.

Health and the final diagnosis ask real servers, which the fake does not run: health answers
are patched in (services/health.py), and the diagnosis is the one tests/stack/test_real.py runs
for real; here it is replaced to show how its results become the result's green and problems."""
from __future__ import annotations

import io
import json
from typing import Any

import pytest

from fakes.services import NSSM_PACKAGES
from prefectwin.diagnosis.checks.base import CheckResult
from prefectwin.events import Events
from prefectwin.rpc import handle

AUTH_PASSWORD = "Numbat-Auth-5c2#:@"


def call(params: dict, what_if: bool = False) -> tuple[dict, str]:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": "stack.install", "params": params, "whatIf": what_if}).encode(), Events(stream))
    return response, stream.getvalue()


def ok(params: dict, what_if: bool = False) -> dict:
    response, _ = call(params, what_if)
    assert response["ok"], response
    return response["result"]


@pytest.fixture
def machine(stack_adapter, monkeypatch):
    """The fake machine, with healthy services and a diagnosis that answers `machine.diagnosis`."""
    from prefectwin.commands import stack
    from prefectwin.services import health

    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Healthy", "answers"))
    monkeypatch.setattr(health, "worker_health", lambda *args, **kwargs: ("Healthy", "ONLINE", None))
    stack_adapter.diagnosis = []
    stack_adapter.diagnosed = []

    def diagnose(names, ctx):
        stack_adapter.diagnosed.append(list(names))
        return list(stack_adapter.diagnosis)

    monkeypatch.setattr(stack, "_diagnose", diagnose)
    return stack_adapter


@pytest.fixture
def params(tmp_path, free_port) -> dict:
    return {"prefectHome": str(tmp_path / "home"), "port": free_port()}


def kinds(result: dict) -> list[str]:
    return [a["kind"] for a in result["actions"]]


def test_what_if_shows_the_whole_plan_as_one_plan_and_changes_nothing(machine, params):
    before = machine.snapshot()
    plan = ok(params, what_if=True)
    assert plan["whatIf"] is True and plan["changed"] is True and plan["green"] is None
    assert kinds(plan)[:2] == ["create-venv", "install-prefect"] and kinds(plan)[-1] == "wait-healthy"
    targets = {a["target"] for a in plan["actions"]}
    assert {"PrefectServer", "PrefectWorker"} <= targets
    assert kinds(plan).count("install-service") == 2 and kinds(plan).count("start-service") == 2
    # One plan: ids a1..aN, every dependency an earlier action of it.
    ids = [a["id"] for a in plan["actions"]]
    assert ids == [f"a{i}" for i in range(1, len(ids) + 1)]
    assert all(set(a["dependsOn"]) <= set(ids[: ids.index(a["id"])]) for a in plan["actions"])
    assert plan["pythonPath"].startswith(plan["venvPath"]) and "venvs" in plan["venvPath"]
    assert machine.changing_calls() == [] and machine.snapshot() == before
    assert machine.diagnosed == []


def test_apply_then_a_second_run_changes_nothing_and_still_reports(machine, params):
    first = ok(params)
    assert first["changed"] is True and first["green"] is True and first["problems"] == []
    assert [s["name"] for s in first["services"]] == ["PrefectServer", "PrefectWorker"]
    assert all(s["health"] == "Healthy" for s in first["services"])
    venv_python = first["pythonPath"]
    assert machine.packages[venv_python]["prefect"] == "3.9.1"
    assert machine.services["prefectserver"].parameters["Application"] == (venv_python,)
    assert machine.services["prefectworker"].parameters["DependOnService"] == ("PrefectServer",)
    phases = {p["name"]: p["seconds"] for p in first["phases"]}
    assert list(phases) == ["interpreter", "nssm", "services", "health", "diagnosis"]
    assert first["totalSeconds"] >= phases["services"] > 0 and first["healthy"] is True
    calls = len(machine.changing_calls())
    again = ok(params)
    assert again["actions"] == [] and again["changed"] is False and again["green"] is True
    assert len(machine.changing_calls()) == calls
    assert ok(params, what_if=True)["actions"] == []
    assert machine.diagnosed == [["PrefectServer", "PrefectWorker"]] * 2


def test_a_changed_port_changes_only_what_it_must(machine, params, free_port):
    ok(params)
    changed = ok({**params, "port": free_port()}, what_if=True)
    touched = {(a["kind"], a["target"], a.get("parameter")) for a in changed["actions"]}
    assert ("create-venv", changed["venvPath"], None) not in touched
    assert not any(kind in ("install-service", "install-prefect", "grant-access") for kind, _, _ in touched)
    assert ("set-parameter", "PrefectServer", "AppParameters") in touched
    assert ("set-parameter", "PrefectWorker", "AppEnvironmentExtra") in touched
    assert {k for k, _, _ in touched} <= {"set-parameter", "write-marker", "restart-service", "wait-healthy"}


def test_the_worker_sends_the_servers_auth_and_no_secret_shows(machine, params):
    response, stderr = call({**params, "bindAddress": "0.0.0.0", "authCredential": {"userName": "admin", "password": AUTH_PASSWORD}})
    assert response["ok"], response
    files = machine.secret_files
    server = next(text for path, text in files.items() if path.endswith("PrefectServer.secrets.toml"))
    worker = next(text for path, text in files.items() if path.endswith("PrefectWorker.secrets.toml"))
    assert "PREFECT_SERVER_API_AUTH_STRING" in server and f"admin:{AUTH_PASSWORD}" in server
    assert f"admin:{AUTH_PASSWORD}" in worker and "PREFECT_API_AUTH_STRING" in worker
    assert AUTH_PASSWORD not in json.dumps(response) + stderr


def test_a_non_loopback_server_without_auth_is_refused_before_anything_changes(machine, params):
    response, _ = call({**params, "bindAddress": "0.0.0.0"})
    assert (response["error"]["code"], response["error"]["target"]) == ("InvalidArgument", "AuthCredential")
    assert machine.changing_calls() == []


def test_a_diagnosis_failure_makes_the_result_say_exactly_what_is_not_green(machine, params):
    machine.diagnosis = [
        CheckResult(check="settings.home", status="Pass", message="fine", service="PrefectServer"),
        CheckResult(check="service.temp", status="Fail", message="no TEMP", service="PrefectWorker"),
    ]
    result = ok(params)
    assert result["green"] is False and result["healthy"] is True
    assert result["problems"] == ["PrefectWorker: service.temp: Fail: no TEMP"]
    assert [r["check"] for r in result["diagnosis"]] == ["settings.home", "service.temp"]


def test_missing_nssm_is_installed_with_winget_and_used_by_the_service_steps(machine, params):
    machine.nssm_found = (None, None)
    machine.installers = ["winget", "choco"]
    plan = ok(params, what_if=True)
    assert kinds(plan)[2] == "install-nssm" and "winget" in plan["actions"][2]["description"]
    result = ok(params)
    assert machine.calls_to("install_nssm")[0].args == ("winget",)
    assert result["nssmPath"] == NSSM_PACKAGES["winget"][0]
    assert {argv[0] for argv in machine.nssm_argv} == {NSSM_PACKAGES["winget"][0]}


def test_no_nssm_and_no_package_manager_is_refused_naming_nssm_path(machine, params):
    machine.nssm_found = (None, None)
    response, _ = call(params, what_if=True)
    assert (response["error"]["code"], response["error"]["target"]) == ("NotInstalled", "NssmPath")


def _fresh(machine: Any) -> None:
    """The machine as the fixture made it: nothing installed, this Python as the base."""
    base = machine.base_pythons
    machine.__init__()
    machine.base_pythons = base


def test_a_failure_at_any_step_rolls_the_whole_stack_back(machine, params):
    ok(params)
    total = len(machine.changing_calls())
    assert total > 40  # the venv, pip, and two services' every NSSM parameter, grant and start
    for index in sorted({1, 2, 3, 4, 5, total // 3, total // 2, total - 1, total}):
        _fresh(machine)
        before = machine.snapshot()
        machine.fail_at_change = index
        response, _ = call(params)
        assert not response["ok"], index
        failed = machine.changing_calls()[index - 1]
        assert machine.snapshot() == before, (index, failed)
        if index > 1:
            assert response["error"]["code"] == "ApplyFailed" and "Rolled back" in response["error"]["message"], response


def test_unhealthy_services_roll_everything_back(machine, params, monkeypatch):
    from prefectwin.services import health

    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Unhealthy", "no answer"))
    response, _ = call({**params, "timeoutSec": 1})
    error = response["error"]
    assert error["code"] == "ApplyFailed" and "healthy" in error["message"]
    assert "Remove the venv" in json.dumps(error["details"])
    assert machine.services == {} and machine.interpreters == set()


@pytest.mark.parametrize("declined", ["gate", "server"])
def test_declining_the_server_or_its_gate_under_confirm_installs_no_worker(machine, params, declined):
    from prefectwin.serve import answer

    def session_request(**extra: Any) -> dict:
        return answer(json.dumps({"id": 1, "protocol": 1, "command": "stack.install", "params": params, **extra}).encode(), lambda event: None)

    planned = session_request(whatIf=True)["result"]
    actions = planned["actions"]
    gate = next(a for a in actions if a["kind"] == "wait-healthy" and a["target"] == "PrefectServer")
    server = next(a for a in actions if a["kind"] == "install-service" and a["target"] == "PrefectServer")
    no = (gate if declined == "gate" else server)["id"]
    applied = session_request(apply={"planId": planned["planId"], "confirm": [a["id"] for a in actions if a["id"] != no]})
    assert applied["ok"], applied
    assert "prefectworker" not in machine.services
    assert not any(a["target"] == "PrefectWorker" for a in applied["result"]["actions"])
    result = applied["result"]
    assert result["healthy"] is False and "PrefectWorker: not installed" in result["problems"]


def test_a_re_run_over_an_unhealthy_stack_reports_what_is_not_healthy_instead_of_failing(machine, params, monkeypatch):
    from prefectwin.services import health

    ok(params)
    machine.diagnosis = [CheckResult(check="service.log", status="Fail", message="crashed", service="PrefectServer")]
    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Unhealthy", "no answer"))
    calls = len(machine.changing_calls())
    result = ok({**params, "timeoutSec": 1})
    assert result["actions"] == [] and result["healthy"] is False and result["green"] is False
    assert result["problems"][0].startswith("PrefectServer: health: Unhealthy") and "no answer" in result["problems"][0]
    assert "PrefectServer: service.log: Fail: crashed" in result["problems"]
    assert [s["name"] for s in result["services"]] == ["PrefectServer", "PrefectWorker"]
    assert machine.diagnosed[-1] == ["PrefectServer", "PrefectWorker"]
    assert len(machine.changing_calls()) == calls


@pytest.mark.parametrize(
    "change, target",
    [
        ({"role": "Worker"}, "ApiUrl"),
        ({"apiUrl": "http://prefect01:4200/api"}, "ApiUrl"),
        ({"prefectVersion": "3.0.11"}, "PrefectVersion"),
        ({"prefectVersion": "latest"}, "PrefectVersion"),
        ({"wheelFolder": "/no/such/folder"}, "WheelFolder"),
        ({"role": "Worker", "apiUrl": "http://prefect01:4200/api"}, "Port"),  # params gives a server port
        ({"allowFrom": ["10.0.0.0/8"]}, "AllowFrom"),
    ],
)
def test_bad_input_is_refused_naming_its_parameter(machine, params, change, target):
    response, _ = call({**params, **change}, what_if=True)
    assert not response["ok"] and response["error"]["target"] == target, response
    assert response["error"]["remediation"]
    assert machine.changing_calls() == []


def test_a_wheel_folder_without_the_release_is_refused(machine, params, tmp_path):
    (tmp_path / "wheels").mkdir()
    response, _ = call({**params, "wheelFolder": str(tmp_path / "wheels")}, what_if=True)
    assert response["error"]["target"] == "WheelFolder" and "prefect-3.9.1" in response["error"]["message"]


def test_a_journal_of_a_stack_apply_gets_its_runtime_back_in_a_new_process(machine):
    """recovery.py rebuilds a killed apply's runtime from its journal's context; an NSSM the
    apply installed itself is not in that context, and is found where it now is."""
    from fakes.services import NSSM_PATH
    from prefectwin.stack import steps

    assert steps.runtime({"nssm": "D:\\nssm.exe"}).nssm == "D:\\nssm.exe"
    assert steps.runtime({"nssm": None}).nssm == NSSM_PATH
    assert steps.STEPS.module == "prefectwin.stack.steps"


def test_an_existing_empty_venv_is_rolled_back_to_empty(machine, params, tmp_path, monkeypatch):
    """A venv that holds no distribution at all records an empty package list; that list is a
    record, and the rollback puts the venv back to it."""
    from fakes.services import venv_python
    from prefectwin.services import health

    venv = str(tmp_path / "empty-venv")
    python = venv_python(venv)
    machine.directories.add(venv)
    machine.interpreters.add(python)
    machine.packages[python] = {}
    before = machine.snapshot()
    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Unhealthy", "no answer"))
    response, _ = call({**params, "venvPath": venv, "timeoutSec": 1})
    assert response["error"]["code"] == "ApplyFailed" and "Rolled back" in response["error"]["message"], response
    assert machine.packages[python] == {} and machine.snapshot() == before


def test_a_venv_made_in_an_empty_folder_that_was_there_is_undone_without_removing_the_folder(machine, params, tmp_path, monkeypatch):
    from prefectwin.services import health

    venv = str(tmp_path / "made-by-hand")
    machine.directories.add(venv)
    before = machine.snapshot()
    plan = ok({**params, "venvPath": venv}, what_if=True)
    assert plan["actions"][0]["kind"] == "create-venv" and "empty folder" in plan["actions"][0]["description"]
    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Unhealthy", "no answer"))
    response, _ = call({**params, "venvPath": venv, "timeoutSec": 1})
    assert response["error"]["code"] == "ApplyFailed", response
    assert venv in machine.directories and machine.snapshot() == before
    assert [c.args for c in machine.calls_to("remove_path") if c.args[0] == venv] == []


def test_a_real_folder_with_a_file_and_no_interpreter_is_refused_as_the_venv(tmp_path, monkeypatch, free_port):
    """The real POSIX adapter on a real folder: the plan refuses it, so no rollback can delete it."""
    import prefectwin.system as system

    monkeypatch.setenv("PREFECTWIN_POSIX_SERVICE_ROOT", str(tmp_path / "services"))
    monkeypatch.setenv("PREFECTWIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(system, "_override", None)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    for what_if in (True, False):
        response, _ = call({"prefectHome": str(tmp_path / "home"), "port": free_port(), "venvPath": str(folder)}, what_if=what_if)
        error = response["error"]
        assert (error["code"], error["target"]) == ("InvalidArgument", "VenvPath") and "notes.txt" in error["message"], response
    assert [p.name for p in folder.iterdir()] == ["notes.txt"] and (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"


WORKER_ALONE = {"role": "Worker", "apiUrl": "http://prefect01:4200/api"}


@pytest.mark.parametrize(
    "option, target",
    [
        ({"serverName": "MyServer"}, "ServerName"),
        ({"bindAddress": "0.0.0.0"}, "BindAddress"),
        ({"databaseUrl": "postgresql+asyncpg://prefect@db01:5432/prefect"}, "DatabaseUrl"),
        ({"databaseCredential": {"userName": "prefect", "password": "Quoll-Db-9!"}}, "DatabaseCredential"),
        ({"openFirewall": True}, "OpenFirewall"),
        ({"allowFrom": ["10.0.0.0/8"]}, "AllowFrom"),
        ({"firewallProfile": ["Domain"]}, "FirewallProfile"),
        ({"allowAnonymous": True}, "AllowAnonymous"),
    ],
)
def test_a_server_option_with_role_worker_is_refused_not_dropped(machine, params, option, target):
    worker = {k: v for k, v in params.items() if k != "port"}
    response, stderr = call({**worker, **WORKER_ALONE, **option}, what_if=True)
    error = response["error"]
    assert (error["code"], error["target"]) == ("InvalidArgument", target), response
    assert "-Role Worker installs no server" in error["message"] and error["remediation"]
    assert "Quoll-Db-9!" not in json.dumps(response) + stderr
    assert machine.changing_calls() == []


@pytest.mark.parametrize("option, target", [({"workerName": "MyWorker"}, "WorkerName"), ({"pool": "etl"}, "Pool"), ({"workerType": "process"}, "WorkerType")])
def test_a_worker_option_with_role_server_is_refused_not_dropped(machine, params, option, target):
    response, _ = call({**params, "role": "Server", **option}, what_if=True)
    error = response["error"]
    assert (error["code"], error["target"]) == ("InvalidArgument", target), response
    assert "-Role Server installs no worker" in error["message"] and error["remediation"]


def test_each_role_takes_its_own_options_and_the_defaults_it_needs(machine, params):
    server = ok({**params, "role": "Server", "serverName": "EtlServer", "allowAnonymous": False}, what_if=True)
    assert {a["target"] for a in server["actions"] if a["kind"] == "install-service"} == {"EtlServer"}
    worker = ok({"prefectHome": params["prefectHome"], **WORKER_ALONE, "workerName": "EtlWorker", "pool": "etl"}, what_if=True)
    installs = [a for a in worker["actions"] if a["kind"] == "install-service"]
    assert [a["target"] for a in installs] == ["EtlWorker"]
    both = ok(params, what_if=True)
    assert {a["target"] for a in both["actions"] if a["kind"] == "install-service"} == {"PrefectServer", "PrefectWorker"}
    assert any("--pool default" in json.dumps(a).replace('", "', " ") for a in both["actions"])


@pytest.mark.parametrize("version, said", [("3.9.2", "Update-PrefectService -Name PrefectServer -Version 3.9.2"), ("3.6.29", "Restore-PrefectDatabase")])
def test_services_on_another_release_are_not_switched_over_without_a_backup(machine, params, version, said):
    """A server migrates its database when it starts on a new release; the stack takes no
    backup, so it leaves a release change to Update-PrefectService, and a downgrade to nobody."""
    first = ok(params)
    before = machine.snapshot()
    calls = len(machine.changing_calls())
    for what_if in (True, False):
        response, _ = call({**params, "prefectVersion": version}, what_if=what_if)
        error = response["error"]
        assert (error["code"], error["target"]) == ("InvalidArgument", "PrefectVersion"), response
        assert "3.9.1" in error["message"] and said in error["remediation"]
    assert len(machine.changing_calls()) == calls and machine.snapshot() == before
    # The same venv, asked for another release in place, is the same switch.
    response, _ = call({**params, "prefectVersion": "3.9.2", "venvPath": first["venvPath"]}, what_if=True)
    assert response["error"]["target"] == "PrefectVersion", response
    assert ok(params, what_if=True)["actions"] == []


@pytest.mark.parametrize("name, parameter", [("PrefectServer", "ServerName"), ("PrefectWorker", "WorkerName")])
def test_a_hand_made_service_of_the_same_name_is_refused_in_the_stacks_terms_and_taken_over_with_force(machine, params, name, parameter):
    from fakes.services import FakeService, nssm_defaults

    machine.services[name.lower()] = FakeService(name=name, parameters=nssm_defaults(name, "C:\\hand\\python.exe"))
    response, _ = call(params, what_if=True)
    error = response["error"]
    assert (error["code"], error["target"]) == ("InvalidArgument", parameter), response
    assert f"another -{parameter}" in error["remediation"] and "-Force" in error["remediation"] and "-Name" not in error["remediation"]
    taken = ok({**params, "force": True}, what_if=True)
    assert any(a["target"] == name and a["kind"] == "set-parameter" for a in taken["actions"])
    assert not any(a["target"] == name and a["kind"] == "install-service" for a in taken["actions"])
