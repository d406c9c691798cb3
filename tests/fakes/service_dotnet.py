"""A fake of the .NET surface system/windows_services.py reaches through `svc_net`.

Behaviour follows .NET's where the code depends on it:
- Registry: OpenSubKey -> None for a missing key; GetValue(name[, default[, options]]) ->
  default for a missing value; names case-insensitive; DWORDs are ints, REG_MULTI_SZ lists.
- ServiceController(name).Status -> a value whose str() is the status name; Start/Stop change
  it; WaitForStatus raises FakeTimeoutException when `timeouts` says so; GetServices() lists
  every service.
- WMI: ManagementObjectSearcher(ns, query).Get() -> rows from `wmi(ns, query)`.
- ACLs: DirectoryInfo(path).GetAccessControl() returns rules; NTAccount(n).Translate -> SID "S-n".

Every call is recorded in `.calls` as (name, args).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

DO_NOT_EXPAND = "DoNotExpandEnvironmentNames"
MODIFY = 0x301BF
FULL_CONTROL = 0x1F01FF
READ_EXECUTE = 0x200A9


class FakeTimeoutException(Exception):
    """Stands in for System.ServiceProcess.TimeoutException."""


class _Status:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return str(other) == self.name


class FakeKey:
    def __init__(self, net: "FakeServiceDotNet", path: str) -> None:
        self.net, self.path = net, path

    def _values(self) -> dict[str, Any]:
        return self.net.registry[self.path.lower()]

    def GetValue(self, name: str, default: Any = None, options: Any = None) -> Any:  # noqa: N802
        self.net.calls.append(("RegistryKey.GetValue", (self.path, name, options)))
        return next((v for k, v in self._values().items() if k.lower() == name.lower()), default)

    def SetValue(self, name: str, value: Any) -> None:  # noqa: N802
        self.net.calls.append(("RegistryKey.SetValue", (self.path, name, value)))
        values = self._values()
        for key in [k for k in values if k.lower() == name.lower()]:
            del values[key]
        values[name] = value

    def DeleteValue(self, name: str, throw: bool = True) -> None:  # noqa: N802
        self.net.calls.append(("RegistryKey.DeleteValue", (self.path, name)))
        values = self._values()
        for key in [k for k in values if k.lower() == name.lower()]:
            del values[key]

    def GetSubKeyNames(self) -> list[str]:  # noqa: N802
        prefix = self.path.lower() + "\\"
        return sorted({self.net.names[p][len(prefix):].split("\\")[0] for p in self.net.registry if p.startswith(prefix)})

    def OpenSubKey(self, name: str, writable: bool = False) -> Optional["FakeKey"]:  # noqa: N802
        return self.net.open(f"{self.path}\\{name}", writable)

    def Close(self) -> None:  # noqa: N802
        self.net.calls.append(("RegistryKey.Close", (self.path,)))


class _Hive:
    def __init__(self, net: "FakeServiceDotNet") -> None:
        self.net = net

    def OpenSubKey(self, path: str, writable: bool = False) -> Optional[FakeKey]:  # noqa: N802
        return self.net.open(path, writable)


class _Controller:
    def __init__(self, net: "FakeServiceDotNet", name: str) -> None:
        net.calls.append(("ServiceController", (name,)))
        if name.lower() not in net.statuses:
            raise RuntimeError(f"Service {name} was not found on computer '.'")  # InvalidOperationException
        self.net, self.ServiceName = net, next(n for n in net.statuses_names if n.lower() == name.lower())

    @property
    def Status(self) -> _Status:  # noqa: N802
        return _Status(self.net.statuses[self.ServiceName.lower()])

    def Refresh(self) -> None:  # noqa: N802
        self.net.calls.append(("ServiceController.Refresh", (self.ServiceName,)))

    def Start(self) -> None:  # noqa: N802
        self.net.calls.append(("ServiceController.Start", (self.ServiceName,)))
        self.net.statuses[self.ServiceName.lower()] = "Running"

    def Stop(self) -> None:  # noqa: N802
        self.net.calls.append(("ServiceController.Stop", (self.ServiceName,)))
        if not self.net.hang_on_stop:
            self.net.statuses[self.ServiceName.lower()] = "Stopped"

    def WaitForStatus(self, status: Any, timeout: Any) -> None:  # noqa: N802
        self.net.calls.append(("ServiceController.WaitForStatus", (self.ServiceName, str(status), timeout)))
        if self.net.statuses[self.ServiceName.lower()] != str(status):
            if self.net.on_timeout:
                self.net.on_timeout(self)
            if self.net.statuses[self.ServiceName.lower()] == str(status):
                return
            raise FakeTimeoutException("Time out has expired and the operation has not been completed.")


class _Rule(SimpleNamespace):
    pass


class _Security:
    def __init__(self, rules: list[_Rule]) -> None:
        self.rules = list(rules)
        #: SetAccessRuleProtection's (isProtected, preserveInheritance); None: never called
        self.protection: Optional[tuple[bool, bool]] = None

    def SetAccessRuleProtection(self, is_protected: bool, preserve_inheritance: bool) -> None:  # noqa: N802
        self.protection = (is_protected, preserve_inheritance)

    def GetAccessRules(self, explicit: bool, inherited: bool, kind: Any) -> list[_Rule]:  # noqa: N802
        return list(self.rules)

    def AddAccessRule(self, rule: _Rule) -> None:  # noqa: N802
        self.rules.append(rule)

    def RemoveAccessRule(self, rule: _Rule) -> bool:  # noqa: N802
        before = len(self.rules)
        self.rules = [r for r in self.rules if not (r.IdentityReference.Value == rule.IdentityReference.Value and r.FileSystemRights == rule.FileSystemRights)]
        return len(self.rules) < before


class FakeAdvapi32:
    """advapi32's service-configuration calls, through ctypes as windows_recovery makes them.
    ChangeServiceConfig2W writes FailureActions into the fake registry the way the SCM stores
    it, so a plan's read-back sees what was set."""

    def __init__(self, net: "FakeServiceDotNet") -> None:
        self.net = net
        self.handles: dict[int, str] = {}

    def OpenSCManagerW(self, machine: Any, database: Any, access: int) -> int:  # noqa: N802
        self.net.calls.append(("OpenSCManagerW", (access,)))
        return 1

    def OpenServiceW(self, manager: int, name: str, access: int) -> int:  # noqa: N802
        self.net.calls.append(("OpenServiceW", (name, access)))
        if f"system\\currentcontrolset\\services\\{name.lower()}" not in self.net.registry:
            return 0
        self.handles[2] = name
        return 2

    def ChangeServiceConfig2W(self, handle: int, level: int, info: Any) -> int:  # noqa: N802
        import struct

        data = info._obj
        actions = [(data.lpsaActions[i].Type, data.lpsaActions[i].Delay) for i in range(data.cActions)]
        self.net.calls.append(("ChangeServiceConfig2W", (self.handles[handle], level, data.dwResetPeriod, tuple(actions))))
        blob = struct.pack("<5I", data.dwResetPeriod, 0, 0, len(actions), 20 if actions else 0)
        blob += b"".join(struct.pack("<2I", kind, delay) for kind, delay in actions)
        FakeKey(self.net, self.net.names[f"system\\currentcontrolset\\services\\{self.handles[handle].lower()}"]).SetValue("FailureActions", list(blob))
        return 1

    def CloseServiceHandle(self, handle: int) -> int:  # noqa: N802
        return 1


def install_acl(net: Any) -> None:
    """The ACL part of the .NET surface (System.Security.AccessControl, DirectoryInfo), on any
    fake .NET that records `calls`: net.acl holds each folder's rules, net.security the last
    DirectorySecurity set on it."""
    net.acl = {}
    net.security = {}
    net.Enum = SimpleNamespace(Parse=lambda kind, text: (kind, text))
    net.InheritanceFlagsType = "InheritanceFlags"
    net.PropagationFlagsType = "PropagationFlags"
    net.SecurityIdentifierType = "SecurityIdentifier"
    net.FileSystemRights = SimpleNamespace(Modify=MODIFY, ReadAndExecute=READ_EXECUTE, FullControl=FULL_CONTROL)
    net.AccessControlType = SimpleNamespace(Allow="Allow")
    net.DirectorySecurity = lambda: _Security([])
    net.SecurityIdentifier = lambda sid: SimpleNamespace(Value=sid, Translate=lambda kind: SimpleNamespace(Value=sid))
    net.NTAccount = lambda name: SimpleNamespace(Value=name, Translate=lambda kind: SimpleNamespace(Value=f"S-{name.lower()}"))

    def rule(identity: Any, rights: int, inheritance: Any, propagation: Any, kind: str) -> _Rule:
        net.calls.append(("FileSystemAccessRule", (identity.Value, rights, inheritance, propagation, kind)))
        return _Rule(IdentityReference=identity.Translate(None), FileSystemRights=rights, AccessControlType=kind)

    def directory(path: str) -> Any:
        def set_access_control(security: _Security) -> None:
            net.calls.append(("DirectoryInfo.SetAccessControl", (path,)))
            net.acl[path] = security.rules
            net.security[path] = security

        return SimpleNamespace(GetAccessControl=lambda: _Security(net.acl.get(path, [])), SetAccessControl=set_access_control)

    net.FileSystemAccessRule = rule
    net.DirectoryInfo = directory


class FakeServiceDotNet:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        #: lower-cased key path (under HKLM) -> {value name: value}; `names` keeps the spelling
        self.registry: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        self.statuses: dict[str, str] = {}
        self.statuses_names: list[str] = []
        self.wmi: Callable[[str, str], list[dict]] = lambda namespace, query: []
        self.hang_on_stop = False
        self.on_timeout: Optional[Callable[[Any], None]] = None
        net = self

        self.Registry = SimpleNamespace(LocalMachine=_Hive(self))
        self.DoNotExpand = DO_NOT_EXPAND
        self.TimeSpan = SimpleNamespace(FromSeconds=lambda s: f"{s}s")
        install_acl(self)
        self.ServiceControllerStatus = SimpleNamespace(Running="Running", Stopped="Stopped")

        class ServiceController(_Controller):
            def __init__(self, name: str) -> None:
                super().__init__(net, name)

            @staticmethod
            def GetServices() -> list[_Controller]:  # noqa: N802
                net.calls.append(("ServiceController.GetServices", ()))
                return [_Controller(net, n) for n in net.statuses_names]

        self.ServiceController = ServiceController

        def searcher(namespace: str, query: str) -> Any:
            net.calls.append(("ManagementObjectSearcher", (namespace, query)))
            return SimpleNamespace(Get=lambda: list(net.wmi(namespace, query)))

        self.ManagementObjectSearcher = searcher
        self.Advapi32 = FakeAdvapi32(self)
        self.FileVersionInfo = SimpleNamespace(GetVersionInfo=lambda path: SimpleNamespace(FileVersion="2.24.101.0", ProductVersion=None))

        self.key("SYSTEM\\CurrentControlSet\\Services")

    # -- building the machine -------------------------------------------------------------------
    def key(self, path: str, **values: Any) -> None:
        self.registry.setdefault(path.lower(), {}).update(values)
        self.names[path.lower()] = path

    def service(self, name: str, status: str = "Stopped", parameters: Optional[dict] = None, app_exit: Optional[str] = None, **values: Any) -> None:
        base = f"SYSTEM\\CurrentControlSet\\Services\\{name}"
        self.key(base, **values)
        if parameters is not None:
            self.key(base + "\\Parameters", **parameters)
        if app_exit is not None:
            self.key(base + "\\Parameters\\AppExit", **{"": app_exit})
        self.statuses[name.lower()] = status
        self.statuses_names.append(name)

    def open(self, path: str, writable: bool) -> Optional[FakeKey]:
        self.calls.append(("Registry.OpenSubKey", (path, writable)))
        return FakeKey(self, self.names[path.lower()]) if path.lower() in self.registry else None

    def grant(self, path: str, principal: str, rights: int = MODIFY) -> None:
        self.acl.setdefault(path, []).append(_Rule(IdentityReference=SimpleNamespace(Value=f"S-{principal.lower()}"), FileSystemRights=rights, AccessControlType="Allow"))

    def names_called(self) -> list[str]:
        return [name for name, _ in self.calls]
