"""What the diagnosis reads on Windows: admin rights, execution policies, firewall rules,
Defender exclusions, long paths, NSSM, the console code page and drive kinds.

A collaborator of WindowsAdapter. WMI (System.Management) is used for the firewall and
Defender because pythonnet has no late binding for the firewall's COM objects.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Optional

from prefectwin.diagnosis.facts import FirewallRule, WindowsFacts
from prefectwin.system.protocol import DriveKind
from prefectwin.system.windows_net import DotNet

POWERSHELL_SHELL_ID = r"SOFTWARE\Microsoft\PowerShell\1\ShellIds\Microsoft.PowerShell"
POWERSHELL_POLICY_KEY = r"SOFTWARE\Policies\Microsoft\Windows\PowerShell"
FILESYSTEM_KEY = r"SYSTEM\CurrentControlSet\Control\FileSystem"
FIREWALL_NAMESPACE = r"root\StandardCimv2"
DEFENDER_NAMESPACE = r"root\Microsoft\Windows\Defender"
DRIVE_TYPE_NETWORK = 4
# MSFT_NetFirewallRule enumerations, from the NetSecurity CIM schema.
WMI_ENABLED_TRUE = 1
WMI_DIRECTION_INBOUND = 1
WMI_ACTION_ALLOW = 2


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


class WindowsFactsReader:
    def __init__(self, dotnet: DotNet) -> None:
        self.dotnet = dotnet

    def is_admin(self) -> bool:
        net = self.dotnet.base
        principal = net.WindowsPrincipal(net.WindowsIdentity.GetCurrent())
        return bool(principal.IsInRole(net.WindowsBuiltInRole.Administrator))

    def execution_policies(self) -> dict[str, str]:
        """Each scope that defines a policy, as PowerShell's Get-ExecutionPolicy -List would."""
        reg = self.dotnet.base.Registry
        value = self.dotnet.registry_value
        found = {
            "MachinePolicy": value(reg.LocalMachine, POWERSHELL_POLICY_KEY, "ExecutionPolicy"),
            "UserPolicy": value(reg.CurrentUser, POWERSHELL_POLICY_KEY, "ExecutionPolicy"),
            "Process": os.environ.get("PSExecutionPolicyPreference"),
            "CurrentUser": value(reg.CurrentUser, POWERSHELL_SHELL_ID, "ExecutionPolicy"),
            "LocalMachine": value(reg.LocalMachine, POWERSHELL_SHELL_ID, "ExecutionPolicy"),
        }
        return {scope: str(v) for scope, v in found.items() if v}

    def _rule_scopes(self) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        """(instance -> remote addresses, instance -> profiles). Read apart from the rules and
        forgivingly: a system whose WMI lacks them still reports its rules, scope unknown."""
        from prefectwin.services.firewall import profiles_from_bits

        wmi = self.dotnet.wmi
        addresses: dict[str, tuple[str, ...]] = {}
        profiles: dict[str, tuple[str, ...]] = {}
        try:
            for item in wmi(FIREWALL_NAMESPACE, "SELECT InstanceID, RemoteAddress FROM MSFT_NetFirewallAddressFilter"):
                remote = item["RemoteAddress"]
                addresses[str(item["InstanceID"])] = (str(remote),) if isinstance(remote, str) else tuple(str(a) for a in (remote or ("Any",)))
        except Exception:  # noqa: BLE001 - the scope is then unknown, not a failure
            addresses = {}
        try:
            for item in wmi(FIREWALL_NAMESPACE, "SELECT InstanceID, Profile FROM MSFT_NetFirewallRule"):
                profiles[str(item["InstanceID"])] = profiles_from_bits(int(item["Profile"] or 0))
        except Exception:  # noqa: BLE001
            profiles = {}
        return addresses, profiles

    def firewall_rules(self) -> tuple[FirewallRule, ...]:
        wmi = self.dotnet.wmi
        ports: dict[str, tuple[str, str]] = {}
        for item in wmi(FIREWALL_NAMESPACE, "SELECT InstanceID, Protocol, LocalPort FROM MSFT_NetFirewallPortFilter"):
            local = item["LocalPort"]
            local_text = ",".join(str(p) for p in local) if local is not None and not isinstance(local, str) else _text(local) or "Any"
            ports[str(item["InstanceID"])] = (_text(item["Protocol"]) or "Any", local_text)
        rules = []
        query = "SELECT InstanceID, DisplayName, Enabled, Direction, Action FROM MSFT_NetFirewallRule"
        found = list(wmi(FIREWALL_NAMESPACE, query))
        addresses, profiles = self._rule_scopes() if found else ({}, {})
        for item in found:
            instance = str(item["InstanceID"])
            protocol, local_ports = ports.get(instance, ("Any", "Any"))
            rules.append(
                FirewallRule(
                    name=_text(item["DisplayName"]) or str(item["InstanceID"]),
                    enabled=int(item["Enabled"]) == WMI_ENABLED_TRUE,
                    inbound=int(item["Direction"]) == WMI_DIRECTION_INBOUND,
                    allow=int(item["Action"]) == WMI_ACTION_ALLOW,
                    protocol=protocol,
                    local_ports=local_ports,
                    # A rule without an address filter allows every address.
                    remote_addresses=addresses.get(instance, ("Any",)) if addresses else None,
                    profiles=profiles.get(instance),
                )
            )
        return tuple(rules)

    def defender_exclusions(self) -> tuple[str, ...]:
        paths: list[str] = []
        for item in self.dotnet.wmi(DEFENDER_NAMESPACE, "SELECT ExclusionPath FROM MSFT_MpPreference"):
            value = item["ExclusionPath"]
            if value is not None:
                paths.extend(str(v) for v in value)
        if any(p.startswith("N/A") for p in paths):
            # Recent Defender hides the list from non-administrators behind this marker.
            raise PermissionError("Defender shows its exclusions only to administrators")
        return tuple(paths)

    def long_paths_enabled(self) -> Optional[bool]:
        value = self.dotnet.registry_value(self.dotnet.base.Registry.LocalMachine, FILESYSTEM_KEY, "LongPathsEnabled")
        return None if value is None else int(value) == 1

    def nssm(self) -> tuple[Optional[str], Optional[str]]:
        path = shutil.which("nssm")
        if path is None:
            return None, None
        info = self.dotnet.base.FileVersionInfo.GetVersionInfo(path)
        return path, _text(info.FileVersion) or _text(info.ProductVersion)

    def windows_facts(self) -> WindowsFacts:
        firewall_rules = firewall_error = defender = defender_error = None
        try:
            firewall_rules = self.firewall_rules()
        except Exception as exc:  # noqa: BLE001 - reported as a fact, judged by the check
            firewall_error = f"{type(exc).__name__}: {exc}"
        try:
            defender = self.defender_exclusions()
        except Exception as exc:  # noqa: BLE001
            defender_error = f"{type(exc).__name__}: {exc}"
        nssm_path, nssm_version = self.nssm()
        return WindowsFacts(
            is_admin=self.is_admin(),
            execution_policies=self.execution_policies(),
            firewall_rules=firewall_rules,
            firewall_error=firewall_error,
            defender_exclusions=defender,
            defender_error=defender_error,
            long_paths_enabled=self.long_paths_enabled(),
            nssm_path=nssm_path,
            nssm_version=nssm_version,
            temp_dir=_text(self.dotnet.base.Environment.GetEnvironmentVariable("TEMP")) or tempfile.gettempdir(),
        )

    def console_code_page(self) -> Optional[int]:
        try:
            return int(self.dotnet.base.Console.OutputEncoding.CodePage)
        except Exception:  # noqa: BLE001 - no console attached (e.g. started by a service)
            return None

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        if path.startswith(("\\\\", "//")):
            return "unc", path
        if len(path) >= 2 and path[1] == ":" and path[0].isalpha():
            letter = path[0].upper()
            net = self.dotnet.base
            drive = net.DriveInfo(letter)
            if int(drive.DriveType) == DRIVE_TYPE_NETWORK:
                remote = self.dotnet.registry_value(net.Registry.CurrentUser, f"Network\\{letter}", "RemotePath")
                unc = None
                if remote:
                    unc = str(remote).rstrip("\\") + path[2:]
                return "mapped", unc
            return "local", None
        return "unknown", None
