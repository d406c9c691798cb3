"""The Windows service adapter (system/windows_services.py) on a fake .NET surface and a
recording process runner: what it reads from the registry and the SCM, the exact argument
lists it gives nssm.exe and netsh.exe, and that no password reaches an error message."""
from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
from pydantic import SecretStr

from fakes.service_dotnet import DO_NOT_EXPAND, MODIFY, FakeServiceDotNet
from prefectwin.errors import ApplyFailed, OperationTimeout, PermissionDenied
from prefectwin.events import SilentEvents
from prefectwin.services.plan import plan_install
from prefectwin.services.spec import MARKER_VALUE
from prefectwin.services.state import ServiceState
from prefectwin.system.windows import WindowsAdapter
from prefectwin.system.windows_services import decode_output
from service_helpers import apply_plan, windows_spec

NSSM = "C:\\Tools\\nssm.exe"
SERVICES = "SYSTEM\\CurrentControlSet\\Services"


class Runner:
    def __init__(self, results=None) -> None:
        self.argv: list[list[str]] = []
        self.results = results or {}

    def __call__(self, argv: list[str]) -> tuple[int, str]:
        self.argv.append(list(argv))
        for prefix, result in self.results.items():
            if tuple(argv[1 : 1 + len(prefix)]) == prefix:
                return result
        return 0, ""


@pytest.fixture
def net() -> FakeServiceDotNet:
    return FakeServiceDotNet()


@pytest.fixture
def adapter(net) -> WindowsAdapter:
    windows = WindowsAdapter(net=net)
    windows._run = Runner()
    return windows


def managed(net: FakeServiceDotNet, name: str, status: str = "Running", role: str = "Server") -> None:
    net.service(
        name,
        status=status,
        parameters={"Application": "C:\\Python312\\python.exe", "AppEnvironmentExtra": ["A=1", "B=%TEMP%"], "AppStopMethodSkip": 6},
        app_exit="Restart",
        Start=2,
        DelayedAutostart=1,
        ObjectName="LocalSystem",
        DependOnService=["PrefectServer"],
        **{MARKER_VALUE: f'{{"managedBy":"PrefectWin","role":"{role}"}}'},
    )


# -- reading -------------------------------------------------------------------------------
def test_read_service_turns_the_registry_into_nssm_parameters(adapter, net):
    managed(net, "PrefectWorker")
    record = adapter.read_service("PrefectWorker")
    assert record.parameters == {
        "Start": ("SERVICE_DELAYED_AUTO_START",),
        "ObjectName": ("LocalSystem",),
        "DependOnService": ("PrefectServer",),
        "Application": ("C:\\Python312\\python.exe",),
        "AppStopMethodSkip": ("6",),
        "AppEnvironmentExtra": ("A=1", "B=%TEMP%"),
        "AppExit": ("Default", "Restart"),
    }
    assert record.status == "Running" and record.managed["role"] == "Server"
    # Strings are read unexpanded, so %VAR% compares with the spec as written.
    reads = [args for name, args in net.calls if name == "RegistryKey.GetValue" and args[1] == "Application"]
    assert reads and all(args[2] == DO_NOT_EXPAND for args in reads)
    assert adapter.read_service("Nope") is None


def test_listing_managed_services_costs_the_same_however_many_there_are(adapter, net):
    for index in range(40):
        net.service(f"Other{index}", parameters={"Application": "x.exe"})
    for name in ("PrefectServer", "PrefectWorker", "PrefectWorker2"):
        managed(net, name)
    net.wmi = lambda ns, query: [{"Name": "PrefectServer", "ProcessId": 0}]
    records = adapter.read_managed_services()
    assert [r.name for r in records] == ["PrefectServer", "PrefectWorker", "PrefectWorker2"]
    called = net.names_called()
    assert called.count("ServiceController.GetServices") == 1 and called.count("ManagementObjectSearcher") == 1
    adapter.read_managed_services(["Prefect'Server"])
    queries = [args[1] for name, args in net.calls if name == "ManagementObjectSearcher"]
    assert queries[-1].endswith("WHERE Name='Prefect\\'Server'")


# -- NSSM argument lists (a %NAME% would be expanded, so tests/services/test_nssm_rules.py expects it refused) --
QUOTING = ["C:\\Program Files\\Python 3.12\\python.exe", "C:\\Users\\José\\prefect", "D:\\数据\\prefect", 'C:\\a "b" & 100% $(x)\\y']


def test_a_whole_plan_reaches_nssm_as_argument_lists_with_values_unchanged(adapter, net):
    runner = adapter._run

    def run(argv):
        if argv[1] == "install":
            net.service(argv[2], parameters={"Application": argv[3]})
        return runner(argv)

    adapter._run = run
    spec = windows_spec(python_path=QUOTING[0], prefect_home=QUOTING[1], log_directory=QUOTING[2], environment={"ODD": QUOTING[3]})
    actions = plan_install(spec, ServiceState(directories={QUOTING[1]: True, QUOTING[2]: True}, access={QUOTING[1]: True, QUOTING[2]: True}))
    apply_plan(actions, adapter, nssm=NSSM, events=SilentEvents())
    argv = runner.argv
    assert argv[0] == [NSSM, "install", "PrefectServer", QUOTING[0]]
    by_parameter = {a[3]: a[4:] for a in argv if a[1] == "set"}
    assert by_parameter["AppDirectory"] == [QUOTING[1]]
    assert by_parameter["AppStdout"] == [QUOTING[2] + "\\PrefectServer.stdout.log"]
    assert f"ODD={QUOTING[3]}" in by_parameter["AppEnvironmentExtra"]
    assert f"PREFECT_HOME={QUOTING[1]}" in by_parameter["AppEnvironmentExtra"]
    assert len(by_parameter["AppEnvironmentExtra"]) == len(spec.process_environment())  # one argument per variable
    assert by_parameter["AppExit"] == ["Default", "Restart"]
    assert all(isinstance(a, list) and all(isinstance(x, str) for x in a) for a in argv)


def test_secret_values_are_revealed_only_inside_the_argument_list(adapter):
    adapter.nssm_set(NSSM, "S", "AppEnvironmentExtra", ("A=1", SecretStr("URL=postgresql://u:pw@h/db")))
    assert adapter._run.argv[-1] == [NSSM, "set", "S", "AppEnvironmentExtra", "A=1", "URL=postgresql://u:pw@h/db"]
    adapter.set_service_account(NSSM, "S", "CONTOSO\\svc", SecretStr("hunter2"))
    assert adapter._run.argv[-1] == [NSSM, "set", "S", "ObjectName", "CONTOSO\\svc", "hunter2"]
    adapter.set_service_account(NSSM, "S", "LocalSystem", None)
    assert adapter._run.argv[-1] == [NSSM, "set", "S", "ObjectName", "LocalSystem"]


def test_nssm_errors_name_the_step_never_the_values(adapter):
    adapter._run = Runner({("set", "S", "ObjectName"): (1, "Error setting ObjectName to CONTOSO\\svc hunter2!")})
    with pytest.raises(ApplyFailed) as raised:
        adapter.set_service_account(NSSM, "S", "CONTOSO\\svc", SecretStr("hunter2"))
    message = raised.value.message
    assert "'nssm set S ObjectName'" in message and "exit code 1" in message and "hunter2" not in message
    adapter._run = Runner({("install",): (5, "OpenSCManager(): Access is denied.")})
    with pytest.raises(PermissionDenied):
        adapter.nssm_install(NSSM, "S", "C:\\p.exe")


def test_nssm_output_in_utf16_is_decoded():
    assert decode_output("SERVICE_RUNNING\r\n".encode("utf-16-le")) == "SERVICE_RUNNING\r\n"
    assert decode_output("Données".encode("utf-8")) == "Données"


def test_remove_stops_first_and_tolerates_a_missing_service(adapter, net):
    adapter.remove_service(NSSM, "Nope", 10)
    assert adapter._run.argv == []
    managed(net, "PrefectServer")
    adapter.remove_service(NSSM, "PrefectServer", 10)
    assert "ServiceController.Stop" in net.names_called()
    assert adapter._run.argv == [[NSSM, "remove", "PrefectServer", "confirm"]]


def test_the_marker_is_a_registry_value_of_the_service(adapter, net):
    managed(net, "PrefectServer")
    adapter.write_marker("PrefectServer", '{"managedBy":"PrefectWin"}')
    assert net.registry[f"{SERVICES}\\PrefectServer".lower()][MARKER_VALUE] == '{"managedBy":"PrefectWin"}'
    adapter.write_marker("PrefectServer", None)
    assert MARKER_VALUE not in net.registry[f"{SERVICES}\\PrefectServer".lower()]


# -- the SCM through ServiceController -------------------------------------------------------
def test_start_and_stop_go_through_service_controller(adapter, net):
    managed(net, "PrefectServer", status="Stopped")
    adapter.start_service("PrefectServer", 30)
    assert ("ServiceController.WaitForStatus", ("PrefectServer", "Running", "30s")) in net.calls
    adapter.start_service("PrefectServer", 30)
    assert net.names_called().count("ServiceController.Start") == 1
    adapter.stop_service("PrefectServer", 25)
    assert ("ServiceController.WaitForStatus", ("PrefectServer", "Stopped", "25s")) in net.calls
    net.statuses["prefectserver"] = "Paused"
    with pytest.raises(ApplyFailed, match="paused") as raised:
        adapter.start_service("PrefectServer", 5)
    assert "2.24-101" in raised.value.remediation


def test_stop_kills_the_process_tree_after_the_timeout(adapter, net):
    managed(net, "PrefectServer", status="Running")
    net.hang_on_stop = True
    wrapper = subprocess.Popen([sys.executable, "-c", "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); time.sleep(60)"])
    try:
        for _ in range(100):
            if psutil.Process(wrapper.pid).children():
                break
            time.sleep(0.1)
        child = psutil.Process(wrapper.pid).children()[0]
        net.wmi = lambda ns, query: [{"Name": "PrefectServer", "ProcessId": wrapper.pid}]

        waits = []

        def killed(controller):
            waits.append(1)
            if len(waits) > 1:  # the first wait is the graceful one, which times out
                wrapper.wait(5)  # the SCM sees the service stop once NSSM's process is gone
                net.statuses["prefectserver"] = "Stopped"

        net.on_timeout = killed
        adapter.stop_service("PrefectServer", 1)
        assert wrapper.wait(5) is not None
        child.wait(5)
        assert not child.is_running()
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    net.on_timeout = None
    net.statuses["prefectserver"] = "Running"
    net.wmi = lambda ns, query: []
    with pytest.raises(OperationTimeout):
        adapter.stop_service("PrefectServer", 1)


# -- ACLs and the firewall -------------------------------------------------------------------
def test_modify_rights_are_checked_granted_and_revoked(adapter, net, tmp_path):
    path = str(tmp_path)
    assert adapter.has_modify(path, "CONTOSO\\svc") is False
    adapter.grant_modify(path, "CONTOSO\\svc")
    assert adapter.has_modify(path, "CONTOSO\\svc") is True
    rule = next(args for name, args in net.calls if name == "FileSystemAccessRule")
    assert rule == ("CONTOSO\\svc", MODIFY, ("InheritanceFlags", "ContainerInherit, ObjectInherit"), ("PropagationFlags", "None"), "Allow")
    adapter.revoke_modify(path, "CONTOSO\\svc")
    assert adapter.has_modify(path, "CONTOSO\\svc") is False
    net.grant(path, "NT AUTHORITY\\SYSTEM", rights=0x1F01FF)
    assert adapter.has_modify(path, "NT AUTHORITY\\SYSTEM") is True
    assert adapter.has_modify(str(tmp_path / "missing"), "x") is False


def test_a_folder_is_restricted_to_system_and_administrators_by_sid_with_nothing_inherited(adapter, net, tmp_path):
    from fakes.service_dotnet import FULL_CONTROL

    path = str(tmp_path)
    net.grant(path, "BUILTIN\\Users")  # what %ProgramData% hands down
    adapter.restrict_to_administrators(path)
    security = net.security[path]
    assert security.protection == (True, False)  # inheritance off, inherited entries not kept
    rules = [args for name, args in net.calls if name == "FileSystemAccessRule"]
    inherit = (("InheritanceFlags", "ContainerInherit, ObjectInherit"), ("PropagationFlags", "None"), "Allow")
    assert rules == [("S-1-5-18", FULL_CONTROL, *inherit), ("S-1-5-32-544", FULL_CONTROL, *inherit)]
    assert sorted(r.IdentityReference.Value for r in net.acl[path]) == ["S-1-5-18", "S-1-5-32-544"]
    assert adapter.has_modify(path, "BUILTIN\\Users") is False


def test_firewall_rule_by_argument_list_and_read_back_through_wmi(adapter, net, monkeypatch):
    monkeypatch.setenv("SystemRoot", "C:\\Windows")
    adapter.add_firewall_rule("PrefectWin-PrefectServer", 4200)
    assert adapter._run.argv[-1][0].endswith("netsh.exe") and adapter._run.argv[-1][0].startswith("C:\\Windows")
    assert adapter._run.argv[-1][1:] == ["advfirewall", "firewall", "add", "rule", "name=PrefectWin-PrefectServer", "dir=in", "action=allow", "protocol=TCP", "localport=4200"]

    def wmi(ns, query):
        if "MSFT_NetFirewallRule" in query:
            return [{"InstanceID": "{abc}"}] if "PrefectWin-PrefectServer" in query else []
        return [{"LocalPort": ["4200"]}]

    net.wmi = wmi
    assert adapter.firewall_rule_port("PrefectWin-PrefectServer") == 4200
    assert adapter.firewall_rule_port("PrefectWin-Other") is None
    adapter._run = Runner({("advfirewall", "firewall", "delete"): (1, "No rules match the specified criteria.")})
    net.wmi = lambda ns, query: []
    adapter.remove_firewall_rule("PrefectWin-PrefectServer")  # already gone: not an error


def test_find_nssm_prefers_the_explicit_path(adapter, tmp_path):
    exe = tmp_path / "nssm.exe"
    exe.write_bytes(b"MZ")
    assert adapter.find_nssm(str(exe)) == (str(exe), "2.24.101.0")
    assert adapter.find_nssm(str(tmp_path / "none.exe")) == (None, None)


def test_the_pid_is_nssms_own_child_and_the_tree_is_known(adapter, net):
    managed(net, "PrefectServer", status="Running")
    code = "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import subprocess,sys,time; subprocess.Popen([sys.executable,\"-c\",\"import time; time.sleep(30)\"]); time.sleep(30)']); time.sleep(30)"
    wrapper = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            if len(psutil.Process(wrapper.pid).children(recursive=True)) >= 2:
                break
            time.sleep(0.1)
        net.wmi = lambda ns, query: [{"Name": "PrefectServer", "ProcessId": wrapper.pid}]
        record = adapter.read_service("PrefectServer")
        direct = psutil.Process(wrapper.pid).children()
        assert record.pid == wrapper.pid and len(record.app_pids) == 2
        assert record.app_pids[0] == direct[0].pid
        assert record.started_at == pytest.approx(direct[0].create_time(), abs=0.05)
        assert record.owns_pid(record.app_pids[1]) and not record.owns_pid(1)
    finally:
        for process in psutil.Process(wrapper.pid).children(recursive=True) + [psutil.Process(wrapper.pid)]:
            process.kill()
        wrapper.wait(5)
