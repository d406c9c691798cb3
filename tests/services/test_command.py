"""service.install / get / wait / uninstall through the real request handler, in-process, with
the stateful fake adapter standing in for Windows. Validation uses the real probe, real ports
and real paths; every refusal must name its parameter and change nothing.

The secrets test scans stdout, stderr (verbose, warning, progress lines), the plan's
descriptions and every returned object for two distinctive passwords."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import urllib.parse
from typing import Any

import pytest

from fakes.services import NSSM_PATH, FakeService
import prefectwin.system as system
from prefectwin.diagnosis import probe
from prefectwin.events import Events
from prefectwin.rpc import handle

DB_PASSWORD = "Quokka-Ünïq-9f3&:@/%x"
ACCOUNT_PASSWORD = "Wombat-Acct-7e1+=;"
SECRETS = (
    DB_PASSWORD,
    ACCOUNT_PASSWORD,
    urllib.parse.quote(DB_PASSWORD, safe=""),
    urllib.parse.quote(ACCOUNT_PASSWORD, safe=""),
    json.dumps(DB_PASSWORD)[1:-1],
    json.dumps(ACCOUNT_PASSWORD)[1:-1],
)


@pytest.fixture
def adapter(service_adapter):
    return service_adapter


class Call:
    def __init__(self, response: dict, stderr: str) -> None:
        self.response, self.stderr = response, stderr
        self.lines = [json.loads(line) for line in stderr.splitlines()]

    @property
    def ok(self) -> bool:
        return self.response["ok"]

    @property
    def result(self) -> Any:
        assert self.response["ok"], self.response
        return self.response["result"]

    @property
    def error(self) -> dict:
        assert not self.response["ok"], self.response
        return self.response["error"]

    def text(self) -> str:
        return json.dumps(self.response, ensure_ascii=False) + "\n" + self.stderr

    def verbose(self) -> list[str]:
        return [line["message"] for line in self.lines if line.get("level") == "verbose"]


def call(command: str, params: dict, what_if: bool = False) -> Call:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if}).encode(), Events(stream))
    return Call(response, stream.getvalue())


def server_params(tmp_path, free_port, **extra) -> dict:
    params = {"name": "PrefectServer", "role": "Server", "prefectHome": str(tmp_path / "home"), "port": free_port()}
    params.update(extra)
    return params


# -- what-if and apply -----------------------------------------------------------------------
def test_what_if_returns_the_plan_and_changes_nothing(adapter, tmp_path, free_port):
    result = call("service.install", server_params(tmp_path, free_port, start=True), what_if=True)
    plan = result.result
    assert plan["whatIf"] is True and plan["changed"] is True
    assert [a["kind"] for a in plan["actions"]][:3] == ["create-directory", "create-directory", "install-service"]
    assert all(set(a) == {"id", "kind", "description", "target", "dependsOn", "parameter", "scope", "impact"} for a in plan["actions"])
    assert adapter.changing_calls() == []


def test_what_if_leaves_no_prefect_home_behind_though_the_probed_prefect_makes_one(adapter, tmp_path, free_port, monkeypatch):
    """The validation asks the real target's Prefect, which creates a missing PREFECT_HOME when
    it starts; a -WhatIf must still change nothing, and the plan it shows must still apply."""
    from target_venvs import target_python

    from prefectwin.serve import answer
    from prefectwin.services import validate

    monkeypatch.setattr(validate.probe, "run_probe", probe.run_probe)  # not the module's cached probe: this one runs
    home = tmp_path / "new-home"
    params = {**server_params(tmp_path, free_port), "prefectHome": str(home), "pythonPath": target_python("3.9.1")}
    planned = answer(json.dumps({"id": 1, "protocol": 1, "command": "service.install", "params": params, "whatIf": True}).encode(), lambda event: None)
    assert planned["ok"], planned
    assert not home.exists(), "the -WhatIf left PREFECT_HOME behind"
    assert planned["result"]["actions"][0] == {**planned["result"]["actions"][0], "kind": "create-directory", "target": str(home)}
    applied = answer(json.dumps({"id": 2, "protocol": 1, "command": "service.install", "params": params, "apply": {"planId": planned["result"]["planId"]}}).encode(), lambda event: None)
    assert applied["ok"], applied
    assert str(home) in adapter.directories


def test_install_applies_then_a_second_install_changes_nothing(adapter, tmp_path, free_port):
    params = server_params(tmp_path, free_port, start=True, passThru=True)
    first = call("service.install", params)
    assert first.result["changed"] is True and first.result["service"]["status"] == "Running"
    assert [a["description"] for a in first.result["actions"]] == first.verbose()
    assert any("progress" in line for line in first.lines)
    again = call("service.install", params)
    assert again.result == {**again.result, "changed": False, "actions": []}
    assert call("service.install", params, what_if=True).result["actions"] == []


def test_a_worker_uses_the_local_server_by_default(adapter, tmp_path, free_port):
    port = free_port()
    call("service.install", server_params(tmp_path, free_port, port=port)).result
    worker = call("service.install", {"name": "PrefectWorker", "role": "Worker", "pool": "etl", "prefectHome": str(tmp_path / "home")})
    env = adapter.services["prefectworker"].parameters["AppEnvironmentExtra"]
    assert f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in env
    assert adapter.services["prefectworker"].parameters["DependOnService"] == ("PrefectServer",)
    assert worker.result["changed"]


# -- validation: refuse, name the parameter, change nothing -----------------------------------
def _refused(adapter, result: Call, code: str, target: str) -> dict:
    error = result.error
    assert (error["code"], error["target"]) == (code, target), error
    assert adapter.changing_calls() == []
    return error


def test_missing_nssm_names_winget_and_choco(adapter, tmp_path, free_port):
    adapter.nssm_found = (None, None)
    error = _refused(adapter, call("service.install", server_params(tmp_path, free_port)), "NotInstalled", "NssmPath")
    assert "winget install NSSM.NSSM" in error["remediation"] and "choco install nssm" in error["remediation"]
    error = _refused(adapter, call("service.install", server_params(tmp_path, free_port, nssmPath="C:\\nope\\nssm.exe")), "NotInstalled", "NssmPath")
    assert "C:\\nope\\nssm.exe" in error["message"]


def test_explicit_nssm_path_is_used(adapter, tmp_path, free_port):
    adapter.nssm_found = (None, None)
    adapter.nssm_found = ("D:\\bin\\nssm.exe", "2.24.101.0")
    call("service.install", server_params(tmp_path, free_port, nssmPath="D:\\bin\\nssm.exe")).result
    assert all(argv[0] == "D:\\bin\\nssm.exe" for argv in adapter.nssm_argv)


def test_old_nssm_gets_a_warning(adapter, tmp_path, free_port):
    adapter.nssm_found = (NSSM_PATH, "2.24.0.0")
    result = call("service.install", server_params(tmp_path, free_port), what_if=True)
    assert any(line.get("level") == "warning" and "paused" in line["message"] for line in result.lines)


def test_administrator_rights_are_required_to_apply_not_to_plan(adapter, tmp_path, free_port):
    adapter.admin = False
    _refused(adapter, call("service.install", server_params(tmp_path, free_port)), "PermissionDenied", "Administrator")
    plan = call("service.install", server_params(tmp_path, free_port), what_if=True)
    assert plan.result["actions"] and any(line.get("level") == "warning" for line in plan.lines)


def test_a_missing_interpreter_is_refused(adapter, tmp_path, free_port):
    error = _refused(adapter, call("service.install", server_params(tmp_path, free_port, pythonPath=str(tmp_path / "no" / "python"))), "NotFound", "PythonPath")
    assert "does not exist" in error["message"]


def test_an_interpreter_without_prefect_is_refused(adapter, tmp_path, free_port):
    # A venv of its own rather than the system python3, which can be this venv's own base.
    venv = tmp_path / "no-prefect"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
    error = _refused(adapter, call("service.install", server_params(tmp_path, free_port, pythonPath=python)), "NotInstalled", "PythonPath")
    assert "pip install" in error["remediation"]


def test_a_port_held_by_another_process_is_refused_with_its_pid(adapter, tmp_path, free_port):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        error = _refused(adapter, call("service.install", server_params(tmp_path, free_port, port=port)), "PortInUse", "Port")
    assert str(os.getpid()) in error["message"]


def test_a_port_held_by_this_very_service_is_fine(adapter, tmp_path, free_port):
    params = server_params(tmp_path, free_port)
    call("service.install", params).result
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", params["port"]))
        listener.listen()
        service = adapter.services["prefectserver"]
        service.status, service.pid, service.app_pids = "Running", 1, (os.getpid(),)
        assert call("service.install", params).result["actions"] == []
        service.app_pids = (1,)
        assert call("service.install", params).error["code"] == "PortInUse"


def test_prefect_home_on_a_mapped_drive_is_refused(adapter, tmp_path, free_port):
    mapped = str(tmp_path / "z")
    adapter.drives = {mapped: ("mapped", "\\\\fs01\\share")}
    error = _refused(adapter, call("service.install", server_params(tmp_path, free_port, prefectHome=mapped + "/prefect")), "InvalidArgument", "PrefectHome")
    assert "\\\\fs01\\share" in error["remediation"]
    adapter.drives = {str(tmp_path / "logs"): ("mapped", None)}
    _refused(adapter, call("service.install", server_params(tmp_path, free_port, logDirectory=str(tmp_path / "logs"))), "InvalidArgument", "LogDirectory")


def test_sqlite_on_a_share_is_refused_unless_forced(adapter, tmp_path, free_port):
    share = str(tmp_path / "share")
    adapter.drives = {share: ("unc", None)}
    params = server_params(tmp_path, free_port, prefectHome=share + "/prefect")
    error = _refused(adapter, call("service.install", params), "InvalidArgument", "DatabaseUrl")
    assert "PostgreSQL" in error["remediation"] and "-Force" in error["remediation"]
    assert call("service.install", {**params, "force": True}, what_if=True).result["actions"]
    postgres = {**params, "databaseUrl": "postgresql+asyncpg://prefect@db/prefect", "databaseCredential": {"userName": "prefect", "password": "x"}}
    assert call("service.install", postgres, what_if=True).ok


def test_parameter_problems_come_first_and_name_the_parameter(adapter):
    result = call("service.install", {"name": "W", "role": "Worker", "port": 4300, "pool": "p"})
    _refused(adapter, result, "InvalidArgument", "Port")
    assert adapter.calls == []  # not even a read: the parameters alone were wrong
    bad = call("service.install", {"name": "bad name!", "role": "Server"})
    assert (bad.error["code"], bad.error["target"]) == ("InvalidRequest", "params.name")


# -- get / wait / uninstall --------------------------------------------------------------------
def test_get_lists_managed_services_only_in_one_batch(adapter, tmp_path, free_port):
    call("service.install", server_params(tmp_path, free_port)).result
    adapter.services["foreign"] = FakeService(name="Foreign", parameters={"Application": ("C:\\x.exe",)})
    adapter.calls.clear()
    infos = call("service.get", {}).result
    assert [(i["name"], i["role"], i["health"]) for i in infos] == [("PrefectServer", "Server", "Stopped")]
    # One registry/SCM batch, and one query of NSSM's events for every service at once.
    assert [c.name for c in adapter.calls] == ["require_services", "read_managed_services", "read_service_events"]
    assert call("service.get", {"name": ["PrefectServer"]}).result[0]["name"] == "PrefectServer"
    missing = call("service.get", {"name": ["PrefectServer", "Nope"]}).error
    assert (missing["code"], missing["target"]) == ("NotFound", "Nope")
    assert "not managed" in call("service.get", {"name": ["Foreign"]}).error["message"]


def test_wait_times_out_with_progress_on_every_poll(adapter, tmp_path, free_port):
    call("service.install", server_params(tmp_path, free_port, start=True)).result  # "Running", nothing listens
    result = call("service.wait", {"name": ["PrefectServer"], "timeoutSec": 2})
    assert result.error["code"] == "Timeout" and "PrefectServer" in result.error["message"]
    polls = [line for line in result.lines if "progress" in line]
    assert len(polls) >= 2 and all(p["progress"]["activity"] for p in polls)


def test_uninstall_plans_then_removes_keeping_logs_and_database_unless_asked(adapter, tmp_path, free_port):
    installed = call("service.install", server_params(tmp_path, free_port, start=True, openFirewall=True)).result
    granted = [a for a in installed["actions"] if a["kind"] == "grant-access"]
    logs = tmp_path / "home" / "logs"
    logs.mkdir(parents=True)
    (logs / "PrefectServer.stdout.log").write_text("x")
    (logs / "PrefectServer.stdout-20240101T000000.000.log").write_text("rotated")
    (tmp_path / "home" / "prefect.db").write_text("db")
    plan = call("service.uninstall", {"name": "PrefectServer"}, what_if=True).result
    assert [a["kind"] for a in plan["actions"]] == ["stop-service", "remove-firewall-rule", *["revoke-access"] * len(granted), "remove-service"]
    assert adapter.services
    full = call("service.uninstall", {"name": "PrefectServer", "removeLogs": True, "removeDatabase": True}, what_if=True).result
    deleted = [a["target"] for a in full["actions"] if a["kind"] == "remove-path"]
    assert len(deleted) == 3 and deleted[-1].endswith("prefect.db")
    assert [a["impact"] for a in full["actions"]][-1] == "High"
    done = call("service.uninstall", {"name": "PrefectServer"})
    assert done.result["changed"] and adapter.services == {} and adapter.firewall == {} and adapter.tasks == {}
    assert call("service.uninstall", {"name": "PrefectServer"}).error["code"] == "NotFound"


def test_uninstall_hands_rights_another_service_of_the_account_needs_over_to_it(adapter, tmp_path, free_port):
    gmsa = "CONTOSO\\prefect-gmsa$"
    call("service.install", server_params(tmp_path, free_port, account=gmsa)).result
    call("service.install", server_params(tmp_path, free_port, name="PrefectOther", account=gmsa)).result
    held = set(adapter.access)
    plan = call("service.uninstall", {"name": "PrefectServer"}, what_if=True)
    kinds = [a["kind"] for a in plan.result["actions"]]
    assert "revoke-access" not in kinds and kinds.count("write-marker") == 1
    told = [line["message"] for line in plan.lines if line.get("level") == "information"]
    assert told and all("'PrefectOther'" in m for m in told)
    assert call("service.uninstall", {"name": "PrefectServer"}).result["changed"]
    assert adapter.access == held and list(adapter.services) == ["prefectother"]
    call("service.uninstall", {"name": "PrefectOther"}).result
    assert not any(who == gmsa for _, who in adapter.access | adapter.readable)


def test_uninstall_never_deletes_a_postgresql_database(adapter, tmp_path, free_port):
    params = server_params(tmp_path, free_port, databaseUrl="postgresql+asyncpg://u@db/prefect", databaseCredential={"password": "pw"})
    call("service.install", params).result
    before = adapter.snapshot()
    error = call("service.uninstall", {"name": "PrefectServer", "removeDatabase": True}).error
    assert (error["code"], error["target"]) == ("InvalidArgument", "RemoveDatabase")
    assert adapter.snapshot() == before


# -- secrets -----------------------------------------------------------------------------------
def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a password leaked: {text[:400]}"


def test_passwords_appear_in_no_output_plan_error_or_object(adapter, tmp_path, free_port, run_rpc):
    params = server_params(
        tmp_path,
        free_port,
        databaseUrl="postgresql://prefect@db.example.com:5432/prefect",
        databaseCredential={"userName": "prefect", "password": DB_PASSWORD},
        account="CONTOSO\\svc-prefect",
        credential={"password": ACCOUNT_PASSWORD},
        start=True,
        passThru=True,
        openFirewall=True,
    )
    seen: list[Call] = [call("service.install", params, what_if=True)]
    adapter.fail_at_change = 12  # an apply that fails and rolls back: its error and verbose lines
    seen.append(call("service.install", params))
    assert seen[-1].error["code"] == "ApplyFailed" and seen[-1].error["details"]
    adapter.fail_at_change = None
    adapter.fail_on["set_service_account"] = RuntimeError(f"echoed {DB_PASSWORD} and {ACCOUNT_PASSWORD}")
    seen.append(call("service.install", params))  # an adapter error that echoes both passwords
    assert "echoed" in seen[-1].error["message"]
    del adapter.fail_on["set_service_account"]
    seen.append(call("service.install", params))
    assert seen[-1].result["changed"]
    seen.append(call("service.install", {**params, "force": True}))  # sets the account password again
    seen.append(call("service.get", {}))
    seen.append(call("service.uninstall", {"name": "PrefectServer"}, what_if=True))
    # Uninstall knows the database URL (from the service's environment), not the account password.
    adapter.fail_on["remove_service"] = RuntimeError(f"boom {DB_PASSWORD}")
    seen.append(call("service.uninstall", {"name": "PrefectServer"}))
    assert "boom" in seen[-1].error["message"]
    seen.append(call("service.install", {**params, "databaseUrl": f"postgresql://u:{DB_PASSWORD}@h/db"}))
    seen.append(call("service.install", {**params, "databaseCredential": {"password": DB_PASSWORD, "extra": ACCOUNT_PASSWORD}}))
    seen.append(call("service.install", {**params, "credential": {"password": 12}}))
    for result in seen:
        payload = result.response.get("result")
        actions = payload.get("actions", []) if isinstance(payload, dict) else []
        _assert_no_secret(result.text(), *result.verbose(), *(a["description"] for a in actions))
    # The values really reached the (fake) machine: the masking is not a missing value.
    # It reached the service's secrets file, and not NSSM's environment.
    from prefectwin.services.secrets_file import file_values

    env = dict(e.partition("=")[::2] for e in adapter.services["prefectserver"].parameters["AppEnvironmentExtra"])
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env
    stored = file_values(adapter.secret_files[env["PREFECT_PROFILES_PATH"]])
    assert urllib.parse.unquote(urllib.parse.urlsplit(stored["PREFECT_SERVER_DATABASE_CONNECTION_URL"]).password) == DB_PASSWORD
    # And the real process: the pure validation passes, then this OS says NotSupported.
    real = run_rpc({"protocol": 1, "command": "service.install", "params": params, "whatIf": True})
    _assert_no_secret(real.stdout_text, real.stderr_text)
    assert real.response["ok"] is False


def test_an_install_planned_in_a_session_applies_by_id_when_nothing_changed(adapter, tmp_path, free_port):
    """The state an install plans from is read again at apply: only the machine may make it
    differ, never the clock (the retention's 'now' is no part of the fingerprint)."""
    import time

    from prefectwin.serve import answer

    params = server_params(tmp_path, free_port, start=True)

    def session_request(**extra) -> dict:
        return answer(json.dumps({"id": 1, "protocol": 1, "command": "service.install", "params": params, **extra}).encode(), lambda event: None)

    planned = session_request(whatIf=True)
    assert planned["ok"], planned
    time.sleep(0.05)
    applied = session_request(apply={"planId": planned["result"]["planId"]})
    assert applied["ok"], applied
    assert [a["id"] for a in applied["result"]["actions"]] == [a["id"] for a in planned["result"]["actions"]]
    assert adapter.changing_calls(), "the kept plan ran"
