"""The Windows adapter's diagnosis facts, on a fake .NET surface (tests/fakes/dotnet.py):
what it asks .NET (exactly), and what it makes of the answers. Then environment.test in-process
with that adapter, so the windows.* checks judge those facts instead of being Skipped."""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile

import pytest
from fakes.dotnet import DRIVE_FIXED, DRIVE_NETWORK, FakeDotNet, FakeManagementException

import prefectwin.system as system
from prefectwin.diagnosis.facts import FirewallRule
from prefectwin.events import Events
from prefectwin.rpc import handle
from prefectwin.system.windows import WindowsAdapter
from prefectwin.system.windows_facts import (
    DEFENDER_NAMESPACE,
    FILESYSTEM_KEY,
    FIREWALL_NAMESPACE,
    POWERSHELL_POLICY_KEY,
    POWERSHELL_SHELL_ID,
)

PORT_FILTER_QUERY = "SELECT InstanceID, Protocol, LocalPort FROM MSFT_NetFirewallPortFilter"
RULE_QUERY = "SELECT InstanceID, DisplayName, Enabled, Direction, Action FROM MSFT_NetFirewallRule"
ADDRESS_FILTER_QUERY = "SELECT InstanceID, RemoteAddress FROM MSFT_NetFirewallAddressFilter"
PROFILE_QUERY = "SELECT InstanceID, Profile FROM MSFT_NetFirewallRule"
DEFENDER_QUERY = "SELECT ExclusionPath FROM MSFT_MpPreference"
NSSM = r"C:\Tools\nssm\win64\nssm.exe"
NOT_ADMIN_MARKER = "N/A: Must be an administrator to view exclusions"


def registry_read(hive: str, key: str, name: str, found: bool = True) -> list[tuple]:
    """The calls one _registry_value makes: open, (read, close) when the key exists."""
    opened = [(f"Registry.{'LocalMachine' if hive == 'HKLM' else 'CurrentUser'}.OpenSubKey", (key,))]
    if not found:
        return opened
    return opened + [("RegistryKey.GetValue", (f"{hive}\\{key}", name)), ("RegistryKey.Close", (f"{hive}\\{key}",))]


def wmi(namespace: str, query: str) -> list[tuple]:
    return [("ManagementObjectSearcher", (namespace, query)), ("ManagementObjectSearcher.Get", (namespace, query))]


@pytest.fixture(autouse=True)
def _in_an_empty_folder(monkeypatch, neutral_cwd):
    """In-process diagnoses and doctor runs probe Prefect in the working directory."""
    monkeypatch.chdir(neutral_cwd)


# ------------------------------------------------------------------------------------------
# administrator
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("admin", [True, False])
def test_is_admin(admin):
    net = FakeDotNet(is_admin=admin)
    assert WindowsAdapter(net=net).is_admin() is admin
    assert net.calls == [
        ("WindowsIdentity.GetCurrent", ()),
        ("WindowsPrincipal", ("FAKE\\tester",)),
        ("WindowsPrincipal.IsInRole", ("Administrator",)),
    ]


# ------------------------------------------------------------------------------------------
# execution policy: every scope, as Get-ExecutionPolicy -List would read it
# ------------------------------------------------------------------------------------------
def test_execution_policies_from_every_scope(monkeypatch):
    monkeypatch.setenv("PSExecutionPolicyPreference", "Bypass")
    net = FakeDotNet(
        registry={
            "HKLM": {POWERSHELL_POLICY_KEY: {"ExecutionPolicy": "AllSigned"}, POWERSHELL_SHELL_ID: {"ExecutionPolicy": "Restricted"}},
            "HKCU": {POWERSHELL_POLICY_KEY: {"ExecutionPolicy": "RemoteSigned"}, POWERSHELL_SHELL_ID: {"ExecutionPolicy": "Unrestricted"}},
        }
    )
    assert WindowsAdapter(net=net).facts.execution_policies() == {
        "MachinePolicy": "AllSigned",
        "UserPolicy": "RemoteSigned",
        "Process": "Bypass",
        "CurrentUser": "Unrestricted",
        "LocalMachine": "Restricted",
    }
    assert net.calls == [
        *registry_read("HKLM", POWERSHELL_POLICY_KEY, "ExecutionPolicy"),
        *registry_read("HKCU", POWERSHELL_POLICY_KEY, "ExecutionPolicy"),
        *registry_read("HKCU", POWERSHELL_SHELL_ID, "ExecutionPolicy"),
        *registry_read("HKLM", POWERSHELL_SHELL_ID, "ExecutionPolicy"),
    ]
    assert net.unclosed_keys() == []


def test_execution_policies_only_defined_scopes(monkeypatch):
    monkeypatch.delenv("PSExecutionPolicyPreference", raising=False)
    # No policy keys at all (no Group Policy), and a ShellIds key without the value.
    net = FakeDotNet(registry={"HKLM": {POWERSHELL_SHELL_ID.upper(): {"ExecutionPolicy": "RemoteSigned"}}, "HKCU": {POWERSHELL_SHELL_ID: {"Path": "x"}}})
    assert WindowsAdapter(net=net).facts.execution_policies() == {"LocalMachine": "RemoteSigned"}
    assert net.calls == [
        *registry_read("HKLM", POWERSHELL_POLICY_KEY, "ExecutionPolicy", found=False),
        *registry_read("HKCU", POWERSHELL_POLICY_KEY, "ExecutionPolicy", found=False),
        *registry_read("HKCU", POWERSHELL_SHELL_ID, "ExecutionPolicy"),
        *registry_read("HKLM", POWERSHELL_SHELL_ID, "ExecutionPolicy"),
    ]
    assert net.unclosed_keys() == []


def test_registry_key_is_closed_even_when_reading_fails():
    net = FakeDotNet(registry={"HKLM": {FILESYSTEM_KEY: {"LongPathsEnabled": 1}}}, fail_on={"RegistryKey.GetValue": PermissionError("denied")})
    with pytest.raises(PermissionError):
        WindowsAdapter(net=net).facts.long_paths_enabled()
    assert net.unclosed_keys() == []


# ------------------------------------------------------------------------------------------
# firewall: rules joined with their port filters
# ------------------------------------------------------------------------------------------
FIREWALL_WMI = {
    (FIREWALL_NAMESPACE, "MSFT_NetFirewallPortFilter"): [
        {"InstanceID": "{prefect}", "Protocol": "TCP", "LocalPort": ["4200"]},
        {"InstanceID": "{web}", "Protocol": "TCP", "LocalPort": ["80", "443", "8000-8100"]},
        {"InstanceID": "{any}", "Protocol": "Any", "LocalPort": "Any"},
        {"InstanceID": "{null}", "Protocol": None, "LocalPort": None},
    ],
    (FIREWALL_NAMESPACE, "MSFT_NetFirewallRule"): [
        {"InstanceID": "{prefect}", "DisplayName": "Prefect server 4200", "Enabled": 1, "Direction": 1, "Action": 2},
        {"InstanceID": "{web}", "DisplayName": "Web", "Enabled": 2, "Direction": 2, "Action": 4},
        {"InstanceID": "{any}", "DisplayName": None, "Enabled": 1, "Direction": 1, "Action": 2},
        {"InstanceID": "{null}", "DisplayName": "Null ports", "Enabled": 1, "Direction": 1, "Action": 2},
        {"InstanceID": "{nofilter}", "DisplayName": "No filter", "Enabled": 1, "Direction": 1, "Action": 2},
    ],
}


def test_firewall_rules_joined_from_wmi_port_filters():
    net = FakeDotNet(wmi=FIREWALL_WMI)
    rules = WindowsAdapter(net=net).facts.firewall_rules()
    assert rules == (
        FirewallRule(name="Prefect server 4200", enabled=True, inbound=True, allow=True, protocol="TCP", local_ports="4200"),
        FirewallRule(name="Web", enabled=False, inbound=False, allow=False, protocol="TCP", local_ports="80,443,8000-8100"),
        FirewallRule(name="{any}", enabled=True, inbound=True, allow=True, protocol="Any", local_ports="Any"),
        FirewallRule(name="Null ports", enabled=True, inbound=True, allow=True, protocol="Any", local_ports="Any"),
        FirewallRule(name="No filter", enabled=True, inbound=True, allow=True, protocol="Any", local_ports="Any"),
    )
    # Each query selects every property read (the fake raises "Not found" otherwise). The
    # scope (remote addresses, profiles) is read apart, and forgivingly: this machine has no
    # address filters and no Profile, so the rules come back with their scope unknown (None).
    assert net.calls == [
        *wmi(FIREWALL_NAMESPACE, PORT_FILTER_QUERY),
        *wmi(FIREWALL_NAMESPACE, RULE_QUERY),
        *wmi(FIREWALL_NAMESPACE, ADDRESS_FILTER_QUERY),
        *wmi(FIREWALL_NAMESPACE, PROFILE_QUERY),
    ]


# ------------------------------------------------------------------------------------------
# Defender
# ------------------------------------------------------------------------------------------
def test_defender_exclusions():
    paths = [r"C:\ProgramData\Prefect", r"C:\Python312"]
    net = FakeDotNet(wmi={(DEFENDER_NAMESPACE, "MSFT_MpPreference"): [{"ExclusionPath": paths}]})
    assert WindowsAdapter(net=net).facts.defender_exclusions() == tuple(paths)
    assert net.calls == wmi(DEFENDER_NAMESPACE, DEFENDER_QUERY)


def test_defender_without_exclusions():
    net = FakeDotNet(wmi={(DEFENDER_NAMESPACE, "MSFT_MpPreference"): [{"ExclusionPath": None}]})
    assert WindowsAdapter(net=net).facts.defender_exclusions() == ()


def test_defender_hides_exclusions_from_non_admins():
    net = FakeDotNet(wmi={(DEFENDER_NAMESPACE, "MSFT_MpPreference"): [{"ExclusionPath": [NOT_ADMIN_MARKER]}]})
    with pytest.raises(PermissionError, match="administrators"):
        WindowsAdapter(net=net).facts.defender_exclusions()


# ------------------------------------------------------------------------------------------
# long paths, NSSM, console, drives
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [(1, True), (0, False), (None, None)])
def test_long_paths(value, expected):
    values = {} if value is None else {"LongPathsEnabled": value}
    net = FakeDotNet(registry={"HKLM": {FILESYSTEM_KEY: values}})
    assert WindowsAdapter(net=net).facts.long_paths_enabled() is expected
    assert net.calls == registry_read("HKLM", FILESYSTEM_KEY, "LongPathsEnabled")


def test_long_paths_key_missing():
    net = FakeDotNet()
    assert WindowsAdapter(net=net).facts.long_paths_enabled() is None
    assert net.calls == registry_read("HKLM", FILESYSTEM_KEY, "LongPathsEnabled", found=False)


@pytest.fixture
def nssm_on_path(monkeypatch):
    """shutil.which answers NSSM for 'nssm' only; records what was looked up."""
    looked_up = []

    def which(name, *args, **kwargs):
        looked_up.append(name)
        return NSSM if name == "nssm" else None

    monkeypatch.setattr(shutil, "which", which)
    return looked_up


@pytest.mark.parametrize(
    "versions, expected",
    [(("2.24.101.0", "2.24-101"), "2.24.101.0"), ((None, "2.24"), "2.24"), (("", "2.24-101"), "2.24-101"), ((None, None), None)],
)
def test_nssm_version_from_file_version_info(nssm_on_path, versions, expected):
    net = FakeDotNet(file_versions={NSSM: versions})
    assert WindowsAdapter(net=net).facts.nssm() == (NSSM, expected)
    assert nssm_on_path == ["nssm"]
    assert net.calls == [("FileVersionInfo.GetVersionInfo", (NSSM,))]


def test_nssm_not_on_path(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    net = FakeDotNet()
    assert WindowsAdapter(net=net).facts.nssm() == (None, None)
    assert net.calls == []


@pytest.mark.parametrize("code_page", [65001, 1252, 437])
def test_console_code_page(code_page):
    net = FakeDotNet(code_page=code_page)
    assert WindowsAdapter(net=net).console_code_page() == code_page
    assert net.calls == [("Console.OutputEncoding", ()), ("Console.OutputEncoding.CodePage", ())]


def test_no_console_means_no_code_page():
    assert WindowsAdapter(net=FakeDotNet(code_page=None)).console_code_page() is None


def test_mapped_drive_resolves_to_its_unc_path():
    net = FakeDotNet(drives={"Z": DRIVE_NETWORK}, registry={"HKCU": {"Network\\Z": {"RemotePath": "\\\\fs01\\share\\"}}})
    assert WindowsAdapter(net=net).drive_kind(r"z:\prefect\home") == ("mapped", r"\\fs01\share\prefect\home")
    assert net.calls == [
        ("DriveInfo", ("Z",)),
        ("DriveInfo.DriveType", ("Z",)),
        *registry_read("HKCU", "Network\\Z", "RemotePath"),
    ]
    assert net.unclosed_keys() == []


def test_mapped_drive_without_a_remembered_connection():
    net = FakeDotNet(drives={"Y": DRIVE_NETWORK})
    assert WindowsAdapter(net=net).drive_kind(r"Y:\prefect") == ("mapped", None)


def test_local_drive_reads_no_registry():
    net = FakeDotNet(drives={"C": DRIVE_FIXED})
    assert WindowsAdapter(net=net).drive_kind(r"C:\ProgramData\Prefect") == ("local", None)
    assert net.names() == ["DriveInfo", "DriveInfo.DriveType"]


@pytest.mark.parametrize("path, expected", [(r"\\fs01\share\prefect", ("unc", r"\\fs01\share\prefect")), ("//fs01/share", ("unc", "//fs01/share")), ("prefect", ("unknown", None)), ("/var/lib/prefect", ("unknown", None))])
def test_paths_without_a_drive_letter_ask_nothing(path, expected):
    net = FakeDotNet()
    assert WindowsAdapter(net=net).drive_kind(path) == expected
    assert net.calls == []


# ------------------------------------------------------------------------------------------
# windows_facts: everything together, and failures as facts
# ------------------------------------------------------------------------------------------
# Just the Prefect 4200 rule and a disabled outbound block rule.
NARROW_FIREWALL_WMI = {key: rows[:2] for key, rows in FIREWALL_WMI.items()}


def machine(**overrides) -> FakeDotNet:
    config = dict(
        is_admin=False,
        registry={
            "HKLM": {POWERSHELL_SHELL_ID: {"ExecutionPolicy": "Restricted"}, FILESYSTEM_KEY: {"LongPathsEnabled": 0}},
            "HKCU": {"Network\\Z": {"RemotePath": r"\\fs01\share"}},
        },
        wmi={
            **NARROW_FIREWALL_WMI,
            (DEFENDER_NAMESPACE, "MSFT_MpPreference"): [{"ExclusionPath": [NOT_ADMIN_MARKER]}],
        },
        file_versions={NSSM: ("2.24.0.0", "2.24")},
        drives={"C": DRIVE_FIXED, "Z": DRIVE_NETWORK},
        code_page=1252,
        env={"TEMP": r"C:\Users\svc\AppData\Local\Temp"},
    )
    config.update(overrides)
    return FakeDotNet(**config)


def test_windows_facts(nssm_on_path, monkeypatch):
    monkeypatch.delenv("PSExecutionPolicyPreference", raising=False)
    net = machine()
    facts = WindowsAdapter(net=net).windows_facts()
    assert facts.is_admin is False
    assert facts.execution_policies == {"LocalMachine": "Restricted"}
    assert facts.firewall_rules[0].name == "Prefect server 4200" and facts.firewall_error is None
    assert facts.defender_exclusions is None and "administrators" in facts.defender_error
    assert facts.long_paths_enabled is False
    assert (facts.nssm_path, facts.nssm_version) == (NSSM, "2.24.0.0")
    assert facts.temp_dir == r"C:\Users\svc\AppData\Local\Temp"
    assert net.calls[-1] == ("Environment.GetEnvironmentVariable", ("TEMP",))
    assert net.unclosed_keys() == []


def test_windows_facts_report_unreadable_firewall_as_a_fact(nssm_on_path):
    net = machine(wmi={(DEFENDER_NAMESPACE, "MSFT_MpPreference"): [{"ExclusionPath": []}]})  # no firewall namespace
    facts = WindowsAdapter(net=net).windows_facts()
    assert facts.firewall_rules is None and facts.firewall_error == "FakeManagementException: Invalid namespace"
    assert facts.defender_exclusions == () and facts.defender_error is None


def test_windows_facts_defender_failure_is_a_fact(nssm_on_path):
    net = machine(wmi=NARROW_FIREWALL_WMI)  # Defender not installed: its namespace is missing
    facts = WindowsAdapter(net=net).windows_facts()
    assert facts.defender_exclusions is None and "Invalid namespace" in facts.defender_error
    assert facts.firewall_rules is not None


def test_windows_facts_temp_falls_back(nssm_on_path):
    facts = WindowsAdapter(net=machine(env={})).windows_facts()
    assert facts.temp_dir == tempfile.gettempdir()


def test_a_wmi_query_must_select_what_it_reads():
    # The fake is strict like WMI: reading an unselected property fails. (Guards the fake itself.)
    net = FakeDotNet(wmi={("root\\x", "C"): [{"A": 1, "B": 2}]})
    (item,) = net.ManagementObjectSearcher("root\\x", "SELECT A FROM C").Get()
    assert item["a"] == 1
    with pytest.raises(FakeManagementException, match="Not found"):
        item["B"]


# ------------------------------------------------------------------------------------------
# environment.test in-process with the Windows adapter on the fake .NET
# ------------------------------------------------------------------------------------------
@pytest.fixture
def windows_adapter(nssm_on_path):
    net = machine(registry={
        "HKLM": {
            POWERSHELL_POLICY_KEY: {"ExecutionPolicy": "AllSigned"},
            POWERSHELL_SHELL_ID: {"ExecutionPolicy": "RemoteSigned"},
            FILESYSTEM_KEY: {"LongPathsEnabled": 0},
        },
        "HKCU": {"Network\\Z": {"RemotePath": r"\\fs01\share"}},
    })
    previous = system._override
    system.use_adapter(WindowsAdapter(net=net))
    try:
        yield net
    finally:
        system.use_adapter(previous)


def diagnose(**params) -> dict:
    stream = io.StringIO()
    response, code = handle(json.dumps({"protocol": 1, "command": "environment.test", "params": params}).encode(), Events(stream))
    assert code == 0, response
    for line in stream.getvalue().splitlines():
        json.loads(line)
    return {r["check"]: r for r in response["result"]}


def test_environment_test_judges_the_windows_facts(windows_adapter, monkeypatch, free_port):
    port = free_port()
    monkeypatch.setenv("PREFECT_SERVER_API_HOST", "0.0.0.0")  # reachable from other machines: needs a rule
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", str(port))
    monkeypatch.delenv("PSExecutionPolicyPreference", raising=False)
    got = diagnose()

    assert {n: r["status"] for n, r in got.items() if n.startswith("windows.")} == {
        "windows.admin": "Warning",
        "windows.execution-policy": "Warning",
        "windows.firewall": "Warning",
        "windows.firewall-scope": "Pass",  # no rule for the port at all: nothing open to everyone
        "windows.defender": "Warning",
        "windows.long-paths": "Warning",
        "windows.nssm": "Warning",
    }
    assert "Not running as administrator" in got["windows.admin"]["message"]
    policy = got["windows.execution-policy"]
    assert policy["data"]["effective"] == "AllSigned" and policy["data"]["scope"] == "MachinePolicy" and "Group Policy" in policy["remediation"]
    assert f"TCP {port}" in got["windows.firewall"]["message"]
    assert "could not be read" in got["windows.defender"]["message"]
    assert "paused" in got["windows.nssm"]["message"] and got["windows.nssm"]["data"]["path"] == NSSM
    enc = got["encoding"]
    # The console code page is reported from .NET, but redirected output (a service's log) is
    # decided by the target's locale, which is UTF-8 for this Linux target interpreter.
    assert (enc["status"], enc["data"]["decidedBy"], enc["data"]["consoleCodePage"]) == ("Pass", "locale", 1252)
    # The adapter was asked, through .NET, for everything above.
    for name in ("WindowsPrincipal.IsInRole", "ManagementObjectSearcher.Get", "FileVersionInfo.GetVersionInfo", "Console.OutputEncoding.CodePage"):
        assert name in windows_adapter.names()


def test_environment_test_firewall_rule_allows_the_port(windows_adapter, monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_API_HOST", "0.0.0.0")
    got = diagnose(port=4200, check=["windows.firewall"])
    assert got["windows.firewall"]["status"] == "Pass" and got["windows.firewall"]["data"]["rules"] == ["Prefect server 4200"]


def test_environment_test_mapped_prefect_home_fails_with_the_unc_path(windows_adapter):
    got = diagnose(prefectHome=r"Z:\prefect", check=["settings.home"])
    home = got["settings.home"]
    assert home["status"] == "Fail"
    assert home["data"]["driveKind"] == "mapped" and home["data"]["uncTarget"] == r"\\fs01\share\prefect"
    assert r"-PrefectHome '\\fs01\share\prefect'" in home["remediation"]


def test_environment_test_windows_checks_skip_with_the_posix_adapter():
    if os.name == "nt":
        pytest.skip("this is the non-Windows default")
    got = diagnose(check=["windows.admin", "windows.nssm"])
    assert {r["status"] for r in got.values()} == {"Skipped"}


# ------------------------------------------------------------------------------------------
# the adapter seam itself: a recording FakeAdapter (tests/fakes/adapter.py)
# ------------------------------------------------------------------------------------------
def test_environment_test_asks_the_installed_adapter(fake_adapter):
    from fakes.facts import windows_facts

    fake_adapter.windows = windows_facts(is_admin=False, nssm_path=None, nssm_version=None)
    fake_adapter.code_page = 65001
    fake_adapter.drives = {"Z:": ("mapped", r"\\fs01\share")}
    got = diagnose(prefectHome=r"Z:\prefect", check=["windows.admin", "windows.nssm", "encoding", "settings.home"])
    assert got["windows.admin"]["status"] == "Warning" and got["windows.nssm"]["status"] == "Warning"
    assert got["encoding"]["data"]["consoleCodePage"] == 65001
    assert got["settings.home"]["data"]["uncTarget"] == r"\\fs01\share\prefect"
    assert sorted(fake_adapter.names()) == ["console_code_page", "drive_kind", "windows_facts"]
    assert fake_adapter.calls_to("drive_kind")[0].args == (r"Z:\prefect",)


def test_only_the_needed_facts_are_gathered(fake_adapter):
    diagnose(check=["python.found"])
    assert fake_adapter.calls == []


def test_an_adapter_failure_is_an_internal_error_not_a_crash(fake_adapter):
    fake_adapter.fail_on["windows_facts"] = RuntimeError("WMI exploded")
    stream = io.StringIO()
    response, code = handle(json.dumps({"protocol": 1, "command": "environment.test", "params": {"check": ["windows.admin"]}}).encode(), Events(stream))
    assert code == 1 and response["error"]["code"] == "InternalError"
    assert "WMI exploded" not in json.dumps(response)
    assert any("WMI exploded" in json.loads(line).get("message", "") for line in stream.getvalue().splitlines())


def test_fake_adapter_fails_on_the_kth_call():
    from fakes.adapter import FakeAdapter

    adapter = FakeAdapter(fail_on_call={2: OSError("second")}, returns={"read_service": lambda name: f"{name}:Running"})
    assert adapter.read_service("a") == "a:Running"
    with pytest.raises(OSError, match="second"):
        adapter.drive_kind("C:\\x")
    assert adapter.drive_kind("C:\\x") == ("local", None)
    assert adapter.names() == ["read_service", "drive_kind", "drive_kind"]
    # A protocol method with no configured answer refuses, and the refusal is not a call.
    with pytest.raises(AttributeError, match="returns="):
        adapter.start_service("a", 5)
    assert adapter.names() == ["read_service", "drive_kind", "drive_kind"]
    with pytest.raises(AttributeError):
        adapter.service_status("a")  # not in the protocol: no fake can offer it
