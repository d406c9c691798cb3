"""Repair-PrefectEnvironment on a (fake) broken Windows box: the real diagnosis and the real
WindowsAdapter over a fake .NET surface that keeps state, so the exact calls are asserted and
a diagnosis run afterwards sees every fixed check passing."""
from __future__ import annotations

import os
import sys
import sysconfig

import pytest
from fakes.config import ConfigDotNet, call

import prefectwin.system as system
from prefectwin.system.windows import WindowsAdapter

FIREWALL_NS = r"root\StandardCimv2"
DEFENDER_NS = r"root\Microsoft\Windows\Defender"
SHELL_ID = r"SOFTWARE\Microsoft\PowerShell\1\ShellIds\Microsoft.PowerShell"
FILESYSTEM = r"SYSTEM\CurrentControlSet\Control\FileSystem"
SCRIPTS = sysconfig.get_path("scripts")
WINDOWS_CHECKS = ["prefect.cli-on-path", "encoding", "windows.execution-policy", "windows.defender", "windows.long-paths", "settings.api-url"]


def broken_box(is_admin: bool) -> ConfigDotNet:
    return ConfigDotNet(
        is_admin=is_admin,
        code_page=437,
        env={"TEMP": r"C:\Users\tester\AppData\Local\Temp", "USERPROFILE": r"C:\Users\tester"},
        registry={
            "HKCU": {"Environment": {"Path": r"%USERPROFILE%\bin"}},
            "HKLM": {SHELL_ID: {"ExecutionPolicy": "Restricted"}, FILESYSTEM: {"LongPathsEnabled": 0}},
        },
        wmi={
            (FIREWALL_NS, "MSFT_NetFirewallRule"): [],
            (FIREWALL_NS, "MSFT_NetFirewallPortFilter"): [],
            (DEFENDER_NS, "MSFT_MpPreference"): [{"ExclusionPath": None}],
        },
    )


@pytest.fixture
def box(request, monkeypatch):
    """A broken Windows box as the adapter; PATH without the Scripts dir, no PYTHONIOENCODING
    (both restored afterwards: the repair mirrors them into this process). The target's
    redirected output is really not UTF-8: the C locale with coercion and UTF-8 mode off
    gives Python an ASCII locale encoding, as cp1252 does on a Windows box."""
    net = broken_box(is_admin=getattr(request, "param", True))
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if os.path.normpath(p) != os.path.normpath(SCRIPTS)))
    monkeypatch.delenv("PYTHONIOENCODING", raising=False)
    for name, value in {"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}.items():
        monkeypatch.setenv(name, value)
    previous = system._override
    system.use_adapter(WindowsAdapter(net=net))
    yield net
    system.use_adapter(previous)


def repair(what_if=False, **params):
    response, code, events = call("environment.repair", {"check": WINDOWS_CHECKS, **params}, what_if=what_if)
    assert code == 0, response
    return response["result"], events


def diagnose():
    response, code, _ = call("environment.test", {"check": WINDOWS_CHECKS})
    return {r["check"]: r["status"] for r in response["result"]}


WRITES = ("SetValue", "DeleteValue", "SetEnvironmentVariable", "InvokeMethod", "CreateSubKey")


def writes(net):
    return [(name, args) for name, args in net.calls if name.endswith(WRITES)]


def test_what_if_lists_every_fix_and_changes_nothing(box):
    assert set(diagnose().values()) == {"Warning"}
    report, _ = repair(what_if=True)
    assert report["changed"] is False and writes(box) == []
    assert {r["check"]: r["status"] for r in report["results"]} == dict.fromkeys(WINDOWS_CHECKS, "Planned")
    assert [a["description"] for a in report["actions"]] == [
        f"Add {SCRIPTS} to the user PATH",
        "Set PREFECT_API_URL to 'http://127.0.0.1:4200/api' in the active profile",
        "Set the User environment variable PYTHONIOENCODING to 'utf-8'",
        "Set the CurrentUser execution policy to RemoteSigned",
        f"Exclude {os.environ['PREFECT_HOME']}, {sys.base_prefix}, C:\\Users\\tester\\AppData\\Local\\Temp from Microsoft Defender scanning",
        r"Enable Win32 long paths (HKLM\SYSTEM\CurrentControlSet\Control\FileSystem LongPathsEnabled = 1)",
    ]


def test_repair_makes_the_exact_calls_and_every_fixed_check_passes_afterwards(box):
    report, _ = repair()
    assert report["changed"] is True
    assert {r["check"]: (r["status"], r["after"]) for r in report["results"]} == dict.fromkeys(WINDOWS_CHECKS, ("Changed", "Pass"))
    assert writes(box) == [
        ("Registry.CurrentUser.CreateSubKey", ("Environment",)),
        ("RegistryKey.SetValue", (r"HKCU\Environment", "Path", rf"%USERPROFILE%\bin;{SCRIPTS}", "ExpandString")),
        ("Environment.SetEnvironmentVariable", ("PYTHONIOENCODING", "utf-8", "User")),
        ("Registry.CurrentUser.CreateSubKey", (SHELL_ID,)),
        ("RegistryKey.SetValue", (rf"HKCU\{SHELL_ID}", "ExecutionPolicy", "RemoteSigned", "String")),
        ("ManagementClass.InvokeMethod", ("MSFT_MpPreference", "Add", (os.environ["PREFECT_HOME"], sys.base_prefix, r"C:\Users\tester\AppData\Local\Temp"))),
        ("Registry.LocalMachine.CreateSubKey", (FILESYSTEM,)),
        ("RegistryKey.SetValue", (rf"HKLM\{FILESYSTEM}", "LongPathsEnabled", 1, "DWord")),
    ]
    assert box.unclosed_keys() == []
    # the session gets what a new one would see, for the caller's PowerShell to apply too
    assert {e["name"]: e["value"] for e in report["environment"]} == {"PATH": os.environ["PATH"], "PYTHONIOENCODING": "utf-8"}
    assert os.environ["PATH"].endswith(os.pathsep + SCRIPTS)
    # an independent diagnosis agrees, and a second repair has nothing to do (idempotent)
    assert diagnose() == dict.fromkeys(WINDOWS_CHECKS, "Pass")
    calls_before = len(writes(box))
    again, _ = repair()
    assert again["changed"] is False and len(writes(box)) == calls_before
    assert all(r["status"] == "Skipped" and r["reason"].startswith("nothing to do") for r in again["results"])


@pytest.mark.parametrize("box", [False], indirect=True)
def test_without_admin_rights_the_machine_fixes_are_skipped_and_the_rest_applied(box):
    report, _ = repair()
    results = {r["check"]: r for r in report["results"]}
    for check in ("windows.defender", "windows.long-paths"):
        assert (results[check]["status"], results[check]["reason"]) == ("Skipped", "not admin: run PowerShell as administrator")
    for check in ("prefect.cli-on-path", "encoding", "windows.execution-policy", "settings.api-url"):
        assert (results[check]["status"], results[check]["after"]) == ("Changed", "Pass")
    assert not any(name.startswith(("ManagementClass", "Registry.LocalMachine.CreateSubKey")) for name, _ in box.calls)


def test_a_failing_fix_is_reported_and_does_not_stop_the_others(box):
    original = box._call

    def defender_down(name, *args):
        original(name, *args)
        if name == "ManagementClass.InvokeMethod":
            raise OSError("Defender service is not running")

    box._call = defender_down
    report, _ = repair()
    results = {r["check"]: r for r in report["results"]}
    assert results["windows.defender"]["status"] == "Failed" and "Defender service is not running" in results["windows.defender"]["reason"]
    assert results["windows.long-paths"]["status"] == "Changed" and results["windows.long-paths"]["after"] == "Pass"


def test_check_limits_what_is_considered(box):
    report, _ = repair(check=["windows.long-paths"])
    assert [r["check"] for r in report["results"]] == ["windows.long-paths"]
    assert [name for name, _ in writes(box)] == ["Registry.LocalMachine.CreateSubKey", "RegistryKey.SetValue"]


def test_firewall_rule_for_a_server_listening_beyond_loopback(box, monkeypatch):
    """The rule is created through the services family's adapter method (netsh's argument
    list); the recorder below stands in for netsh and adds the rule where Windows would, in
    the firewall's WMI classes that the diagnosis reads."""
    monkeypatch.setenv("PREFECT_SERVER_API_HOST", "0.0.0.0")
    adapter = system._override
    runs = []

    def netsh(argv):
        runs.append(argv)
        fields = dict(a.split("=", 1) for a in argv if "=" in a)
        box.wmi[(FIREWALL_NS, "MSFT_NetFirewallRule")].append(
            {"InstanceID": "{1}", "DisplayName": fields["name"], "Enabled": 1, "Direction": 1, "Action": 2}
        )
        box.wmi[(FIREWALL_NS, "MSFT_NetFirewallPortFilter")].append({"InstanceID": "{1}", "Protocol": "TCP", "LocalPort": fields["localport"]})
        return 0, "Ok."

    monkeypatch.setattr(adapter, "_run", netsh)
    report, _ = repair(check=["windows.firewall"])
    result = report["results"][0]
    assert (result["checkStatus"], result["status"], result["after"]) == ("Warning", "Changed", "Pass")
    assert [argv[1:] for argv in runs] == [
        ["advfirewall", "firewall", "add", "rule", "name=Prefect server 4200", "dir=in", "action=allow", "protocol=TCP", "localport=4200", "remoteip=LocalSubnet", "profile=domain,private"]
    ]
    again, _ = repair(check=["windows.firewall"])
    assert again["results"][0]["status"] == "Skipped" and len(runs) == 1
