"""Windows configuration changes: persistent environment variables, the user PATH, the
CurrentUser execution policy, long paths and Defender exclusions.

A collaborator of WindowsAdapter. It reaches .NET only through the adapter's DotNet, whose
`config` view adds, on first use, the few types the diagnosis does not need; a fake .NET
surface simply provides them.
"""
from __future__ import annotations

import sys
from typing import Any, Optional

from prefectwin.errors import PermissionDenied
from prefectwin.system.windows_facts import FILESYSTEM_KEY, POWERSHELL_SHELL_ID
from prefectwin.system.windows_net import DotNet

USER_ENVIRONMENT_KEY = "Environment"
DEFENDER_CLASS_PATH = r"\\.\root\Microsoft\Windows\Defender:MSFT_MpPreference"
HWND_BROADCAST = 0xFFFF
WM_SETTINGCHANGE = 0x001A
SMTO_ABORTIFHUNG = 0x0002


def _broadcast_environment_change() -> None:  # pragma: no cover - Windows only
    """Tell Explorer (and so every program started from it) that the environment changed, as
    .NET's SetEnvironmentVariable does; writing the registry directly does not."""
    if sys.platform != "win32":
        return
    import ctypes
    from ctypes import wintypes

    result = wintypes.DWORD()
    ctypes.windll.user32.SendMessageTimeoutW(
        HWND_BROADCAST, WM_SETTINGCHANGE, 0, "Environment", SMTO_ABORTIFHUNG, 5000, ctypes.byref(result)
    )


def _denied(what: str, exc: BaseException) -> PermissionDenied:
    return PermissionDenied(
        f"Windows refused to {what}: {type(exc).__name__}.",
        remediation="Run PowerShell as administrator and try again.",
    )


# Well-known SIDs: LocalSystem and BUILTIN\Administrators.
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"


class WindowsConfig:
    def __init__(self, dotnet: DotNet) -> None:
        self.dotnet = dotnet

    @property
    def _config_net(self) -> Any:
        return self.dotnet.config

    def _target(self, scope: str) -> Any:
        return getattr(self._config_net.EnvironmentVariableTarget, scope)

    # -- environment variables -------------------------------------------------------------
    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        value = self._config_net.Environment.GetEnvironmentVariable(name, self._target(scope))
        return None if value is None else str(value)

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        """Set (or, with None, remove) a persistent User or Machine variable. .NET writes the
        registry and broadcasts WM_SETTINGCHANGE itself."""
        try:
            self._config_net.Environment.SetEnvironmentVariable(name, value, self._target(scope))
        except Exception as exc:  # noqa: BLE001 - SecurityException / UnauthorizedAccessException
            if "Security" in type(exc).__name__ or "UnauthorizedAccess" in type(exc).__name__:
                raise _denied(f"change the {scope} environment variable {name}", exc) from None
            raise

    # -- the user PATH ---------------------------------------------------------------------
    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        """The user PATH as stored (with %VARIABLES% unexpanded) and expanded."""
        net = self._config_net
        key = net.Registry.CurrentUser.OpenSubKey(USER_ENVIRONMENT_KEY, False)
        if key is None:
            return None, None
        try:
            raw = key.GetValue("Path", None, net.RegistryValueOptions.DoNotExpandEnvironmentNames)
        finally:
            key.Close()
        if raw is None:
            return None, None
        return str(raw), str(net.Environment.ExpandEnvironmentVariables(str(raw)))

    def _write_value(self, hive: str, key_path: str, name: str, value: Any, kind: str) -> None:
        """Set (or, with None, delete) one registry value, creating the key if needed."""
        net = self._config_net
        try:
            key = getattr(net.Registry, hive).CreateSubKey(key_path)
        except Exception as exc:  # noqa: BLE001 - UnauthorizedAccessException under HKLM
            raise _denied(f"open {hive}\\{key_path}", exc) from None
        try:
            if value is None:
                key.DeleteValue(name, False)
            else:
                key.SetValue(name, value, getattr(net.RegistryValueKind, kind))
        finally:
            key.Close()

    def set_user_path(self, raw: Optional[str]) -> None:
        """Write the user PATH as REG_EXPAND_SZ, so %USERPROFILE%-style entries keep working
        (Environment.SetEnvironmentVariable would store REG_SZ and break them)."""
        self._write_value("CurrentUser", USER_ENVIRONMENT_KEY, "Path", raw, "ExpandString")
        _broadcast_environment_change()

    # -- execution policy and long paths ---------------------------------------------------
    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        """What Set-ExecutionPolicy -Scope CurrentUser writes (None removes it)."""
        self._write_value("CurrentUser", POWERSHELL_SHELL_ID, "ExecutionPolicy", policy, "String")

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        """HKLM LongPathsEnabled (None removes the value). Needs administrator rights."""
        self._write_value("LocalMachine", FILESYSTEM_KEY, "LongPathsEnabled", None if enabled is None else int(enabled), "DWord")

    # -- Defender --------------------------------------------------------------------------
    def _defender(self, method: str, paths: list[str]) -> None:
        net = self._config_net
        preference = net.ManagementClass(DEFENDER_CLASS_PATH)
        params = preference.GetMethodParameters(method)
        params["ExclusionPath"] = net.StringArray(paths)
        out = preference.InvokeMethod(method, params, None)
        code = None if out is None else out["ReturnValue"]
        if code not in (None, 0):
            raise RuntimeError(f"MSFT_MpPreference.{method} returned {code}")

    def add_defender_exclusions(self, paths: list[str]) -> None:
        """Add-MpPreference -ExclusionPath, through WMI."""
        self._defender("Add", paths)

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        """Remove-MpPreference -ExclusionPath, through WMI (the undo of the above)."""
        self._defender("Remove", paths)

    # -- ACLs of PrefectWin's own folders ---------------------------------------------------
    def restrict_to_administrators(self, path: str) -> None:
        """A new DACL: Full Control for SYSTEM and Administrators (by SID, so a localized
        Windows names them too), inherited by what the folder holds, and protected, so nothing
        of %ProgramData%'s (where Users may read and create) comes through."""
        net = self.dotnet.acl
        security = net.DirectorySecurity()
        security.SetAccessRuleProtection(True, False)
        for sid in (SYSTEM_SID, ADMINISTRATORS_SID):
            security.AddAccessRule(
                net.FileSystemAccessRule(
                    net.SecurityIdentifier(sid),
                    net.FileSystemRights.FullControl,
                    net.Enum.Parse(net.InheritanceFlagsType, "ContainerInherit, ObjectInherit"),
                    net.Enum.Parse(net.PropagationFlagsType, "None"),
                    net.AccessControlType.Allow,
                )
            )
        net.DirectoryInfo(path).SetAccessControl(security)
