"""environment.test with serviceName: the diagnosis of an installed service as it runs.

The service is a record in the stateful fake adapter (tests/fakes/services.py), but everything
it points at is real: its interpreter is this test run's own venv python (with Prefect), its
working directory and PREFECT_HOME are temp folders holding a real .env, and the probe really
runs that interpreter there with the service's environment, so Prefect itself reads the .env.
Only the Windows-only facts (the account's environment block, execution policies, network
identity, ACLs) come from the fake. Nothing here ran on Windows.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest

import prefectwin.system as system
from fakes.services import FakeService, FakeServiceAdapter
from prefectwin.diagnosis import service as svc
from prefectwin.diagnosis.facts import ServiceAccountFacts
from prefectwin.events import Events
from prefectwin.rpc import handle

PYTHON = sys.executable
SERVER_AUTH = "admin:Numbat-Srv-Auth-4c1!"
OTHER_AUTH = "admin:Bilby-Wrong-Auth-8d2?"
DB_PASSWORD = "Dingo-Db-Pw-6a0#"
SECRETS = (SERVER_AUTH, OTHER_AUTH, DB_PASSWORD, SERVER_AUTH.split(":")[1], OTHER_AUTH.split(":")[1])
SYSTEM = "NT AUTHORITY\\SYSTEM"


def _marker(**data: Any) -> str:
    return json.dumps({"managedBy": "PrefectWin", "format": 1, **data})


def _params(args: list[str], cwd: Path, env: dict[str, str], **more: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {
        "Application": (PYTHON,),
        "AppParameters": (subprocess.list2cmdline(args),),
        "AppDirectory": (str(cwd),),
        "AppEnvironmentExtra": tuple(f"{k}={v}" for k, v in env.items()),
        "ObjectName": ("LocalSystem",),
        **more,
    }


class Machine(SimpleNamespace):
    adapter: FakeServiceAdapter
    server_dir: Path
    worker_dir: Path
    temp: Path
    port: int


def _machine(tmp_path: Path, port: int, *, worker_dotenv: str = "", worker_env: Optional[dict[str, str]] = None, **adapter_args: Any) -> Machine:
    server_dir, worker_dir, temp = tmp_path / "server", tmp_path / "worker", tmp_path / "temp"
    for folder in (server_dir, worker_dir, temp):
        folder.mkdir()
    (worker_dir / ".env").write_text(worker_dotenv, encoding="utf-8")
    database = f"postgresql+asyncpg://prefect:{DB_PASSWORD}@db01:5432/prefect"
    server = FakeService(
        name="PrefectServer",
        marker=_marker(role="Server", port=port, bindAddress="127.0.0.1", apiUrl=f"http://127.0.0.1:{port}/api", prefectHome=str(server_dir)),
        parameters=_params(
            ["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            server_dir,
            {"PREFECT_HOME": str(server_dir), "PREFECT_SERVER_API_AUTH_STRING": SERVER_AUTH, "PREFECT_SERVER_DATABASE_CONNECTION_URL": database},
        ),
    )
    env = {"PREFECT_HOME": str(worker_dir), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PYTHONUTF8": "1"}
    env.update(worker_env or {})
    worker = FakeService(
        name="PrefectWorker",
        marker=_marker(role="Worker", apiUrl=f"http://127.0.0.1:{port}/api", prefectHome=str(worker_dir), pool="etl"),
        parameters=_params(
            ["-m", "prefect", "worker", "start", "--pool", "etl", "--name", "PrefectWorker@host"],
            worker_dir,
            {k: v for k, v in env.items() if v is not None},
            DependOnService=("PrefectServer",),
        ),
    )
    account = ServiceAccountFacts(
        principal=SYSTEM,
        sid="S-1-5-18",
        environment={"PATH": str(Path(PYTHON).parent), "TEMP": str(temp), "Path_Unused": "x"},
        execution_policies={"LocalMachine": "RemoteSigned"},
        network_identity="CONTOSO\\HOST01$",
    )
    adapter = FakeServiceAdapter(services=[server, worker], accounts={SYSTEM: account}, **adapter_args)
    return Machine(adapter=adapter, server_dir=server_dir, worker_dir=worker_dir, temp=temp, port=port)


@pytest.fixture
def installed():
    previous = system._override
    yield lambda machine: system.use_adapter(machine.adapter)
    system.use_adapter(previous)


def diagnose(params: dict) -> tuple[dict, str]:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": "environment.test", "params": params}).encode(), Events(stream))
    return response, stream.getvalue()


def by_check(response: dict) -> dict[str, dict]:
    assert response["ok"], response
    return {r["check"]: r for r in response["result"]}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# -- the diagnosis runs as the service --------------------------------------------------------
def test_a_worker_is_diagnosed_with_its_own_interpreter_environment_and_folder(tmp_path, free_port, installed, monkeypatch):
    # The admin's shell points elsewhere: none of it may leak into the service's diagnosis.
    monkeypatch.setenv("PREFECT_API_URL", "http://admin-shell.invalid:1/api")
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", OTHER_AUTH)
    machine = _machine(tmp_path, free_port(), worker_dotenv=f"PREFECT_API_AUTH_STRING={SERVER_AUTH}\nPREFECT_LOGGING_LEVEL=DEBUG\n")
    (machine.worker_dir / "prefect.toml").write_text("", encoding="utf-8")
    installed(machine)
    response, events = diagnose({"serviceName": "PrefectWorker"})
    results = by_check(response)

    assert results["python.found"]["status"] == "Pass" and PYTHON in results["python.found"]["message"]
    assert results["settings.api-url"]["message"] == f"PREFECT_API_URL is http://127.0.0.1:{machine.port}/api."
    assert results["settings.home"]["data"]["path"] == str(machine.worker_dir)
    assert results["service.working-directory"]["status"] == "Pass"
    assert results["service.working-directory"]["data"] == {
        "path": str(machine.worker_dir),
        "envFile": str(machine.worker_dir / ".env"),
        "prefectToml": str(machine.worker_dir / "prefect.toml"),
    }
    environment = results["service.environment"]
    assert environment["status"] == "Pass"
    assert environment["data"]["envFileNames"] == ["PREFECT_API_AUTH_STRING", "PREFECT_LOGGING_LEVEL"]
    assert results["service.temp"]["status"] == "Pass" and results["service.temp"]["data"]["temp"] == str(machine.temp)
    assert results["service.path"]["status"] == "Pass"
    assert results["service.execution-policy"]["data"]["effective"] == "RemoteSigned"
    assert results["service.api-url-match"]["status"] == "Pass"
    # The worker's auth string comes from its .env, and it is the server's.
    assert results["service.auth-match"]["status"] == "Pass", results["service.auth-match"]
    assert results["service.database-match"]["status"] == "Pass"
    assert {r["service"] for r in response["result"]} == {"PrefectWorker"}
    assert f"Diagnosing service PrefectWorker (Worker) with {PYTHON}" in events
    # The probe ran the service's interpreter: the adapter was asked about the account.
    assert machine.adapter.calls_to("service_account_facts")[0].args == (SYSTEM,)
    assert_no_secret(json.dumps(response), events)


def test_a_worker_whose_dotenv_points_elsewhere_fails_the_comparison(tmp_path, free_port, installed):
    # No PREFECT_API_URL in NSSM's environment: Prefect takes the .env's, read from the
    # working directory by the real interpreter.
    machine = _machine(
        tmp_path,
        free_port(),
        worker_dotenv=f"PREFECT_API_URL=http://127.0.0.1:1/api\nPREFECT_API_AUTH_STRING={OTHER_AUTH}\n",
        worker_env={"PREFECT_API_URL": None},
    )
    machine.adapter.services["prefectworker"].parameters["AppEnvironmentExtra"] = (f"PREFECT_HOME={machine.worker_dir}",)
    installed(machine)
    response, events = diagnose({"serviceName": "PrefectWorker", "check": ["service.api-url-match", "service.auth-match", "service.database-match"]})
    results = by_check(response)

    api = results["service.api-url-match"]
    assert api["status"] == "Fail"
    assert api["message"] == (
        f"Worker PrefectWorker talks to http://127.0.0.1:1/api (from .env file), but server PrefectServer listens on port {machine.port}."
    )
    assert f"-ApiUrl http://127.0.0.1:{machine.port}/api" in api["remediation"] and "remove PREFECT_API_URL from its .env file" in api["remediation"]
    auth = results["service.auth-match"]
    assert auth["status"] == "Fail" and auth["data"]["match"] is False
    assert "PREFECT_API_AUTH_STRING" in auth["remediation"]
    assert results["service.database-match"]["status"] == "Pass"
    assert results["service.database-match"]["data"]["serverDatabase"] == "postgresql+asyncpg://prefect:********@db01:5432/prefect"
    assert_no_secret(json.dumps(response), events)


def test_a_worker_without_an_auth_string_against_a_server_that_wants_one(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port())
    installed(machine)
    results = by_check(diagnose({"serviceName": "PrefectWorker", "check": ["service.auth-match"]})[0])
    assert results["service.auth-match"]["status"] == "Fail"
    assert results["service.auth-match"]["data"] == {"server": "PrefectServer", "serverRequiresAuth": True, "workerSendsAuth": False}


def test_the_account_facts_are_judged(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port(), drives={str(tmp_path / "worker"): ("unc", "\\\\fs01\\prefect")})
    account = machine.adapter.accounts[SYSTEM.lower()]
    machine.adapter.accounts[SYSTEM.lower()] = account.model_copy(
        update={
            "environment": {"PATH": f"{Path(PYTHON).parent}:{tmp_path / 'gone'}", "TEMP": str(tmp_path / "no-temp")},
            "execution_policies": {"LocalMachine": "Restricted", "CurrentUser": "AllSigned"},
        }
    )
    installed(machine)
    checks = ["service.temp", "service.path", "service.execution-policy", "service.home-access"]
    results = by_check(diagnose({"serviceName": "PrefectWorker", "check": checks})[0])
    assert results["service.temp"]["status"] == "Fail" and str(tmp_path / "no-temp") in results["service.temp"]["message"]
    assert results["service.path"]["status"] == "Warning" and results["service.path"]["data"]["missing"] == [str(tmp_path / "gone")]
    policy = results["service.execution-policy"]
    assert (policy["status"], policy["data"]["effective"], policy["data"]["scope"]) == ("Warning", "AllSigned", "CurrentUser")
    # PREFECT_HOME is on a share (the fake says so): the computer account has no Modify there.
    access = results["service.home-access"]
    assert (access["status"], access["data"]["networkIdentity"]) == ("Fail", "CONTOSO\\HOST01$")
    assert "Grant CONTOSO\\HOST01$ Modify" in access["remediation"]
    assert machine.adapter.calls_to("has_modify")[0].args == (str(machine.worker_dir), "CONTOSO\\HOST01$")

    machine.adapter.access.add((str(machine.worker_dir), "CONTOSO\\HOST01$"))
    assert by_check(diagnose({"serviceName": "PrefectWorker", "check": ["service.home-access"]})[0])["service.home-access"]["status"] == "Pass"


def test_a_process_policy_in_the_service_environment_wins(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port(), worker_env={"PSExecutionPolicyPreference": "Bypass"})
    installed(machine)
    policy = by_check(diagnose({"serviceName": "PrefectWorker", "check": ["service.execution-policy"]})[0])["service.execution-policy"]
    assert (policy["status"], policy["data"]["scope"]) == ("Pass", "Process")


def test_a_running_server_service_holds_its_own_port(tmp_path, free_port, installed):
    import os
    import socket

    machine = _machine(tmp_path, free_port())
    # This test process stands in for the service's python: it listens on the service's port.
    server = machine.adapter.services["prefectserver"]
    server.status, server.pid = "Running", os.getpid()
    installed(machine)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", machine.port))
        listener.listen()
        results = by_check(diagnose({"serviceName": "PrefectServer", "check": ["port.available", "service.api-url-match", "service.environment"]})[0])
    # The port came from the service's command line (--port), through the real listener table.
    assert results["port.available"]["status"] == "Pass", results["port.available"]
    assert "held by service PrefectServer itself" in results["port.available"]["message"]
    assert results["service.api-url-match"]["status"] == "Skipped"
    assert results["service.environment"]["status"] == "Pass"


def test_dotenv_and_nssm_both_setting_a_watched_name_warns(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port(), worker_dotenv="PREFECT_API_URL=http://127.0.0.1:1/api\n")
    installed(machine)
    result = by_check(diagnose({"serviceName": "PrefectWorker", "check": ["service.environment"]})[0])["service.environment"]
    assert result["status"] == "Warning" and result["data"]["overridden"] == ["PREFECT_API_URL"]


def test_app_environment_replaces_the_block_and_a_missing_folder_fails(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port())
    params = machine.adapter.services["prefectworker"].parameters
    params["AppEnvironment"] = (f"PREFECT_HOME={machine.worker_dir}",)
    params["AppDirectory"] = (str(tmp_path / "missing"),)
    installed(machine)
    results = by_check(diagnose({"serviceName": "PrefectWorker", "check": ["service.environment", "service.working-directory", "service.temp"]})[0])
    assert results["service.environment"]["status"] == "Warning" and results["service.environment"]["data"]["replacesEnvironment"] is True
    assert results["service.working-directory"]["status"] == "Fail"
    # The replaced block has no TEMP: the account's is not there any more.
    assert results["service.temp"]["status"] == "Fail"


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "code", "target"),
    [
        ({"serviceName": "NoSuchService"}, "NotFound", "NoSuchService"),
        ({"serviceName": "PrefectWorker", "pythonPath": PYTHON}, "InvalidRequest", "params"),
        ({"serviceName": "PrefectWorker", "role": "Server"}, "InvalidRequest", "params"),
        ({"serviceName": "PrefectWorker", "port": 4200}, "InvalidRequest", "params"),
        ({"serviceName": "bad name"}, "InvalidRequest", "params.serviceName"),
    ],
)
def test_refusals_name_the_parameter(tmp_path, free_port, installed, params, code, target):
    installed(_machine(tmp_path, free_port()))
    response, _ = diagnose(params)
    assert not response["ok"]
    assert (response["error"]["code"], response["error"]["target"]) == (code, target), response["error"]
    assert response["error"]["remediation"]
    if target == "params":
        wire = next(k for k in params if k != "serviceName")
        assert f"{wire} cannot be combined with serviceName" in response["error"]["message"]


def test_a_service_not_run_by_nssm_is_refused(installed):
    machine = SimpleNamespace(adapter=FakeServiceAdapter(services=[FakeService(name="Spooler", parameters={"ObjectName": ("LocalSystem",)})]))
    installed(machine)
    response, _ = diagnose({"serviceName": "Spooler"})
    assert (response["error"]["code"], response["error"]["target"]) == ("InvalidArgument", "ServiceName")


def test_repair_refuses_a_service(installed, tmp_path, free_port):
    installed(_machine(tmp_path, free_port()))
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": "environment.repair", "params": {"serviceName": "PrefectWorker"}, "whatIf": True}).encode(), Events(stream))
    # Repair has no serviceName: it changes this shell's user settings, never a service's.
    assert (response["error"]["code"], response["error"]["target"]) == ("InvalidRequest", "params.serviceName")


def test_the_command_checks_service_names_as_install_does():
    from prefectwin.commands.environment import SERVICE_NAME_PATTERN
    from prefectwin.services.spec import SERVICE_NAME_PATTERN as INSTALLED

    assert SERVICE_NAME_PATTERN == INSTALLED


def test_posix_adapter_says_services_are_windows_only():
    from prefectwin.system.posix import PosixAdapter

    previous = system._override
    system.use_adapter(PosixAdapter())
    try:
        response, _ = diagnose({"serviceName": "PrefectWorker"})
    finally:
        system.use_adapter(previous)
    assert response["error"]["code"] == "NotSupported"


def _worker_facts(bind: str, url: Optional[str], **service: Any):
    from fakes.facts import make_facts
    from prefectwin.diagnosis.facts import PeerServerFacts, ServiceFacts

    peer = PeerServerFacts(name="PrefectServer", bind_host=bind, port=4200, **service.pop("peer", {}))
    facts = ServiceFacts(name="PrefectWorker", role="Worker", status="Running", account="LocalSystem", application=PYTHON, server=peer, **service)
    return make_facts(role="Worker", prefect={"api_url": url}, service=facts)


@pytest.mark.parametrize(
    ("bind", "url", "status"),
    [
        ("127.0.0.1", "http://127.0.0.1:4200/api", "Pass"),
        ("127.0.0.1", "http://prefect01:4200/api", "Fail"),
        ("0.0.0.0", "http://prefect01:4200/api", "Pass"),
        ("10.0.0.5", "http://10.0.0.6:4200/api", "Warning"),
        ("0.0.0.0", "http://prefect01:4201/api", "Fail"),
        ("0.0.0.0", None, "Fail"),
    ],
)
def test_api_url_match_rules(bind, url, status):
    from prefectwin.diagnosis.checks import run_checks, select

    (result,) = run_checks(_worker_facts(bind, url), select(["service.api-url-match"]))
    assert result.status == status, result
    assert (result.remediation is None) == (status == "Pass")


def test_an_open_server_without_auth_warns_and_checks_skip_without_a_service():
    from pydantic import SecretStr

    from fakes.facts import make_facts
    from prefectwin.diagnosis.checks import run_checks, select

    (open_server,) = run_checks(_worker_facts("0.0.0.0", "http://prefect01:4200/api"), select(["service.auth-match"]))
    assert open_server.status == "Warning" and "PREFECT_SERVER_API_AUTH_STRING" in open_server.remediation
    (extra,) = run_checks(_worker_facts("0.0.0.0", "http://h:4200/api", auth_string=SecretStr(SERVER_AUTH)), select(["service.auth-match"]))
    assert extra.status == "Warning" and SERVER_AUTH not in extra.model_dump_json()
    results = run_checks(make_facts(), select([c for c in ("service.temp", "service.auth-match", "service.working-directory")]))
    assert {r.status for r in results} == {"Skipped"}


# -- the pure parts ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["-m", "prefect", "worker", "start", "--pool", "etl"],
        ["C:\\Program Files\\x", 'say "hi"', "trailing\\", "a\\\\b", "", "tab\there", 'back\\"quote'],
    ],
)
def test_split_command_line_inverts_list2cmdline(args):
    assert svc.split_command_line(subprocess.list2cmdline(args)) == args


def test_expand_leaves_unknown_names_and_ignores_case():
    assert svc.expand("%SystemRoot%\\x;%nope%;%%", {"SYSTEMROOT": "C:\\Windows"}) == "C:\\Windows\\x;%nope%;%%"


def test_account_environment_expands_against_the_account_and_appends_path():
    env = svc.account_environment(
        {"Path": "%SystemRoot%\\system32", "TEMP": "%SystemRoot%\\TEMP"},
        {"TEMP": "%USERPROFILE%\\AppData\\Local\\Temp", "Path": "%USERPROFILE%\\bin"},
        system={"SystemRoot": "C:\\Windows"},
        profile="C:\\Windows\\system32\\config\\systemprofile",
        user_name="SYSTEM",
    )
    assert env["TEMP"] == "C:\\Windows\\system32\\config\\systemprofile\\AppData\\Local\\Temp"
    assert env["Path"] == "C:\\Windows\\system32;C:\\Windows\\system32\\config\\systemprofile\\bin"
    assert env["USERNAME"] == "SYSTEM"


def test_read_dotenv_forms():
    text = "# c\nexport A=1\nB='two words'\nC=\"x\" \nD=v # note\n\nnot a line\nE=a=b\n"
    assert svc.read_dotenv(text) == {"A": "1", "B": "two words", "C": "x", "D": "v", "E": "a=b"}


def test_network_identity():
    assert svc.network_identity("NT SERVICE\\PrefectWorker", "CONTOSO\\H$") == "CONTOSO\\H$"
    assert svc.network_identity("NT AUTHORITY\\LOCAL SERVICE", "CONTOSO\\H$") is None
    assert svc.network_identity("CONTOSO\\svc", "CONTOSO\\H$") == "CONTOSO\\svc"


def test_interpreter_of_a_prefect_launcher_is_the_python_beside_it():
    assert svc.interpreter_of("C:\\venv\\Scripts\\prefect.exe") == "C:\\venv\\Scripts\\python.exe"
    assert svc.interpreter_of("C:\\venv\\Scripts\\python.exe") == "C:\\venv\\Scripts\\python.exe"


# -- the Windows adapter's reading, against a fake .NET registry --------------------------------
class _Key:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def GetValueNames(self):  # noqa: N802 - .NET name
        return list(self.values)

    def GetValue(self, name, default=None, options=None):  # noqa: N802
        # Unexpanded only when asked: what .NET's RegistryKey does with REG_EXPAND_SZ.
        value = self.values.get(name, default)
        return value if options == "DoNotExpand" or value is None else value.replace("%USERPROFILE%", "C:\\Users\\admin")

    def Close(self):  # noqa: N802
        pass


class _Hive:
    def __init__(self, keys: dict[str, dict[str, str]]) -> None:
        self.keys = {k.lower(): v for k, v in keys.items()}

    def OpenSubKey(self, path):  # noqa: N802
        values = self.keys.get(path.lower())
        return None if values is None else _Key(values)


def test_windows_adapter_reads_the_accounts_hive_not_the_admins(monkeypatch):
    from prefectwin.system import windows_account as wa
    from prefectwin.system.windows import WindowsAdapter

    sid = "S-1-5-20"
    registry = SimpleNamespace(
        LocalMachine=_Hive(
            {
                wa.MACHINE_ENVIRONMENT_KEY: {"Path": "%SystemRoot%\\system32", "TEMP": "%SystemRoot%\\TEMP"},
                f"{wa.PROFILE_LIST_KEY}\\{sid}": {"ProfileImagePath": "C:\\Windows\\ServiceProfiles\\NetworkService"},
                wa.SHELL_ID_KEY: {"ExecutionPolicy": "Restricted"},
            }
        ),
        Users=_Hive({f"{sid}\\Environment": {"TEMP": "%USERPROFILE%\\AppData\\Local\\Temp"}, f"{sid}\\{wa.SHELL_ID_KEY}": {"ExecutionPolicy": "RemoteSigned"}}),
    )
    computer = {"Name": "host01", "Domain": "contoso.example", "PartOfDomain": True}

    class Searcher:
        def __init__(self, namespace, query):
            assert "Win32_ComputerSystem" in query

        def Get(self):  # noqa: N802
            return [computer]

    # ServiceControllerStatus marks a fake that also serves the services' .NET surface.
    net = SimpleNamespace(Registry=registry, ManagementObjectSearcher=Searcher, ServiceControllerStatus=None, DoNotExpand="DoNotExpand")
    adapter = WindowsAdapter(net=net)
    monkeypatch.setenv("SystemRoot", "C:\\Windows")
    facts = adapter.service_account_facts("NT AUTHORITY\\NETWORK SERVICE")
    assert facts.sid == sid and facts.hive_loaded
    assert facts.environment["TEMP"] == "C:\\Windows\\ServiceProfiles\\NetworkService\\AppData\\Local\\Temp"
    assert facts.execution_policies == {"CurrentUser": "RemoteSigned", "LocalMachine": "Restricted"}
    assert facts.network_identity == "CONTOSO\\HOST01$"


def test_the_server_is_read_with_its_own_accounts_environment(tmp_path, free_port, installed):
    machine = _machine(tmp_path, free_port())
    server = machine.adapter.services["prefectserver"]
    server.parameters["ObjectName"] = ("NT SERVICE\\PrefectServer",)
    server.parameters["AppEnvironmentExtra"] = tuple(e for e in server.parameters["AppEnvironmentExtra"] if "AUTH" not in e)
    machine.adapter.accounts["nt service\\prefectserver"] = ServiceAccountFacts(
        principal="NT SERVICE\\PrefectServer", sid="S-1-5-80-1", environment={"PREFECT_SERVER_API_AUTH_STRING": SERVER_AUTH}
    )
    installed(machine)
    response, events = diagnose({"serviceName": "PrefectWorker", "check": ["service.auth-match"]})
    result = by_check(response)["service.auth-match"]
    assert result["data"]["serverRequiresAuth"] is True and result["status"] == "Fail"
    assert [c.args for c in machine.adapter.calls_to("service_account_facts")] == [(SYSTEM,), ("NT SERVICE\\PrefectServer",)]
    assert_no_secret(json.dumps(response), events)
