"""What a service account's own session looks like on Windows, read from the registry (the
account's hive under HKEY_USERS, which Windows keeps loaded for the built-in service accounts
and for a user while it is logged on or its service runs) and WMI.

A collaborator of WindowsAdapter. It only reads; the assembly of the environment block is pure
(diagnosis.service.account_environment).
"""
from __future__ import annotations

import os
from typing import Any, Optional

from prefectwin.diagnosis.facts import ServiceAccountFacts
from prefectwin.diagnosis.service import account_environment, network_identity
from prefectwin.system.windows_net import DotNet

MACHINE_ENVIRONMENT_KEY = r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
PROFILE_LIST_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
SHELL_ID_KEY = r"SOFTWARE\Microsoft\PowerShell\1\ShellIds\Microsoft.PowerShell"
POLICY_KEY = r"SOFTWARE\Policies\Microsoft\Windows\PowerShell"
WELL_KNOWN_SIDS = {
    "nt authority\\system": "S-1-5-18",
    "nt authority\\local service": "S-1-5-19",
    "nt authority\\network service": "S-1-5-20",
}
# Variables Windows puts in every block itself (they are not stored with the machine's).
SYSTEM_VARIABLES = (
    "SystemRoot", "windir", "SystemDrive", "COMPUTERNAME", "ALLUSERSPROFILE", "ProgramData",
    "ProgramFiles", "ProgramFiles(x86)", "CommonProgramFiles", "PUBLIC",
)


class WindowsServiceAccounts:
    def __init__(self, dotnet: DotNet) -> None:
        self.dotnet = dotnet

    def _raw_values(self, hive: Any, key: str) -> Optional[dict[str, str]]:
        """Every value of a key with REG_EXPAND_SZ left unexpanded (expanding here would use the
        admin's %USERPROFILE%); None if the key is absent."""
        net = self.dotnet.services
        subkey = hive.OpenSubKey(key)
        if subkey is None:
            return None
        try:
            return {str(name): str(subkey.GetValue(name, None, net.DoNotExpand)) for name in subkey.GetValueNames()}
        finally:
            subkey.Close()

    def _sid(self, principal: str) -> str:
        known = WELL_KNOWN_SIDS.get(principal.lower())
        if known:
            return known
        net = self.dotnet.services
        return str(net.NTAccount(principal).Translate(net.SecurityIdentifierType).Value)

    def _computer_account(self) -> Optional[str]:
        rows = self.dotnet.wmi(r"root\cimv2", "SELECT Name, Domain, PartOfDomain FROM Win32_ComputerSystem")
        if not rows or not bool(rows[0]["PartOfDomain"]):
            return None  # a workgroup computer has no account on another machine
        domain = str(rows[0]["Domain"]).split(".")[0].upper()
        return f"{domain}\\{str(rows[0]['Name']).upper()}$"

    def service_account_facts(self, principal: str) -> ServiceAccountFacts:
        reg = self.dotnet.base.Registry
        value = self.dotnet.registry_value
        sid = self._sid(principal)
        system = {name: os.environ[name] for name in SYSTEM_VARIABLES if name in os.environ}
        machine = self._raw_values(reg.LocalMachine, MACHINE_ENVIRONMENT_KEY) or {}
        profile_raw = value(reg.LocalMachine, f"{PROFILE_LIST_KEY}\\{sid}", "ProfileImagePath")
        profile = os.path.expandvars(str(profile_raw)) if profile_raw else None
        user = self._raw_values(reg.Users, f"{sid}\\Environment")
        found = {
            "MachinePolicy": value(reg.LocalMachine, POLICY_KEY, "ExecutionPolicy"),
            "UserPolicy": value(reg.Users, f"{sid}\\{POLICY_KEY}", "ExecutionPolicy"),
            "CurrentUser": value(reg.Users, f"{sid}\\{SHELL_ID_KEY}", "ExecutionPolicy"),
            "LocalMachine": value(reg.LocalMachine, SHELL_ID_KEY, "ExecutionPolicy"),
        }
        return ServiceAccountFacts(
            principal=principal,
            sid=sid,
            profile=profile,
            environment=account_environment(machine, user, system=system, profile=profile, user_name=principal.rpartition("\\")[2]),
            execution_policies={scope: str(v) for scope, v in found.items() if v},
            network_identity=network_identity(principal, self._computer_account()),
            hive_loaded=user is not None,
        )
