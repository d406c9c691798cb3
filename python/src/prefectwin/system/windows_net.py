"""The .NET surface the Windows adapter reaches through pythonnet, loaded on first use.

Every .NET type is reached through one `net` object, so the tests hand in a fake .NET surface
that records calls, and the real one is loaded only on Windows. The diagnosis needs the base
types; configuration changes and services add a few more, loaded only when first needed.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional


def load_dotnet() -> SimpleNamespace:  # pragma: no cover - needs Windows and pythonnet
    import clr  # noqa: F401 - loading pythonnet makes the .NET namespaces importable

    clr.AddReference("System.Management")
    clr.AddReference("System.ServiceProcess")
    from Microsoft.Win32 import Registry
    from System import Activator, Console, Environment, EnvironmentVariableTarget, Type
    from System.Diagnostics import FileVersionInfo
    from System.IO import DriveInfo
    from System.Management import ManagementObjectSearcher
    from System.Security.Principal import WindowsBuiltInRole, WindowsIdentity, WindowsPrincipal
    from System.ServiceProcess import ServiceController

    return SimpleNamespace(
        Registry=Registry,
        Activator=Activator,
        Console=Console,
        Environment=Environment,
        EnvironmentVariableTarget=EnvironmentVariableTarget,
        Type=Type,
        FileVersionInfo=FileVersionInfo,
        DriveInfo=DriveInfo,
        ManagementObjectSearcher=ManagementObjectSearcher,
        WindowsBuiltInRole=WindowsBuiltInRole,
        WindowsIdentity=WindowsIdentity,
        WindowsPrincipal=WindowsPrincipal,
        ServiceController=ServiceController,
    )


def load_config_types(net: Any) -> None:  # pragma: no cover - needs Windows and pythonnet
    """Add to `net` what configuration changes need beyond the diagnosis."""
    import clr  # noqa: F401

    clr.AddReference("System.Management")
    from Microsoft.Win32 import RegistryValueKind, RegistryValueOptions
    from System import Array, String
    from System.Management import ManagementClass

    net.RegistryValueKind = RegistryValueKind
    net.RegistryValueOptions = RegistryValueOptions
    net.ManagementClass = ManagementClass
    net.StringArray = lambda items: Array[String](list(items))


def load_acl_types(net: Any) -> None:  # pragma: no cover - needs Windows and pythonnet
    """Add to `net` what setting a folder's ACL needs (PrefectWin's own folders)."""
    import clr

    from System import Enum
    from System.IO import DirectoryInfo
    from System.Security.AccessControl import AccessControlType, DirectorySecurity, FileSystemAccessRule, FileSystemRights, InheritanceFlags, PropagationFlags
    from System.Security.Principal import SecurityIdentifier

    net.Enum = Enum
    net.DirectoryInfo = DirectoryInfo
    net.AccessControlType = AccessControlType
    net.DirectorySecurity = DirectorySecurity
    net.FileSystemAccessRule = FileSystemAccessRule
    net.FileSystemRights = FileSystemRights
    net.InheritanceFlagsType = clr.GetClrType(InheritanceFlags)
    net.PropagationFlagsType = clr.GetClrType(PropagationFlags)
    net.SecurityIdentifier = SecurityIdentifier


def load_service_dotnet() -> SimpleNamespace:  # pragma: no cover - needs Windows and pythonnet
    """load_dotnet()'s namespace plus what services need: ACLs, TimeSpan, registry options."""
    import clr

    base = load_dotnet()  # references System.Management and System.ServiceProcess
    from Microsoft.Win32 import RegistryValueOptions
    from System import Enum, TimeSpan
    from System.IO import DirectoryInfo
    from System.Security.AccessControl import AccessControlType, FileSystemAccessRule, FileSystemRights, InheritanceFlags, PropagationFlags
    from System.Security.Principal import NTAccount, SecurityIdentifier
    from System.ServiceProcess import ServiceControllerStatus

    return SimpleNamespace(
        **vars(base),
        DoNotExpand=RegistryValueOptions.DoNotExpandEnvironmentNames,
        Enum=Enum,
        TimeSpan=TimeSpan,
        DirectoryInfo=DirectoryInfo,
        AccessControlType=AccessControlType,
        FileSystemAccessRule=FileSystemAccessRule,
        FileSystemRights=FileSystemRights,
        InheritanceFlagsType=clr.GetClrType(InheritanceFlags),
        PropagationFlagsType=clr.GetClrType(PropagationFlags),
        NTAccount=NTAccount,
        SecurityIdentifierType=clr.GetClrType(SecurityIdentifier),
        ServiceControllerStatus=ServiceControllerStatus,
    )


def load_file_dotnet() -> SimpleNamespace:  # pragma: no cover - needs Windows and pythonnet
    """What restricted files need: a file's security descriptor, its rules and principals."""
    import clr

    from System.IO import FileInfo
    from System.Security.AccessControl import AccessControlType, FileSecurity, FileSystemAccessRule, FileSystemRights
    from System.Security.Principal import NTAccount, SecurityIdentifier

    return SimpleNamespace(
        FileInfo=FileInfo,
        FileSecurity=FileSecurity,
        FileSystemAccessRule=FileSystemAccessRule,
        FileSystemRights=FileSystemRights,
        AccessControlType=AccessControlType,
        NTAccount=NTAccount,
        SecurityIdentifier=SecurityIdentifier,
        SecurityIdentifierType=clr.GetClrType(SecurityIdentifier),
        NTAccountType=clr.GetClrType(NTAccount),
    )


class DotNet:
    """One adapter's .NET surface: the injected fake, or the real one loaded on first use."""

    def __init__(self, net: Optional[Any] = None) -> None:
        self._net = net
        self._services: Optional[Any] = None
        self._files: Optional[Any] = None

    @property
    def base(self) -> Any:
        if self._net is None:
            self._net = load_dotnet()
        return self._net

    @property
    def config(self) -> Any:
        net = self.base
        if not hasattr(net, "ManagementClass"):
            load_config_types(net)
        return net

    @property
    def acl(self) -> Any:
        net = self.base
        if not hasattr(net, "DirectorySecurity"):
            load_acl_types(net)
        return net

    @property
    def services(self) -> Any:
        if self._services is None:
            candidate = self._net
            self._services = candidate if candidate is not None and hasattr(candidate, "ServiceControllerStatus") else load_service_dotnet()
        return self._services

    @property
    def files(self) -> Any:
        if self._files is None:
            candidate = self._net
            self._files = candidate if candidate is not None and hasattr(candidate, "FileSecurity") else load_file_dotnet()
        return self._files

    def registry_value(self, hive: Any, key: str, name: str) -> Any:
        subkey = hive.OpenSubKey(key)
        if subkey is None:
            return None
        try:
            return subkey.GetValue(name)
        finally:
            subkey.Close()

    def wmi(self, namespace: str, query: str) -> list[Any]:
        return list(self.base.ManagementObjectSearcher(namespace, query).Get())
