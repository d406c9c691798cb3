"""FakeDotNet that can also CHANGE Windows configuration, and remembers the change, so a
diagnosis run after a repair sees it (prefectwin/system/windows_config.py's surface).

    net = ConfigDotNet(is_admin=True, registry={"HKCU": {"Environment": {"Path": r"C:\\bin"}}})
    adapter = WindowsAdapter(net=net)

What it adds to tests/fakes/dotnet.FakeDotNet, following .NET's behaviour:
- Registry keys are live views of `net.registry` (writes persist): OpenSubKey(key[, writable]),
  CreateSubKey(key) (needs admin under HKLM: UnauthorizedAccessException otherwise),
  GetValue(name[, default[, options]]) (expands %VARS% unless DoNotExpandEnvironmentNames),
  SetValue(name, value, kind) (kinds kept in `net.value_kinds`), DeleteValue(name, throw).
- Environment.Get/SetEnvironmentVariable(name[, value], target): User is HKCU\\Environment and
  Machine is HKLM\\...\\Session Manager\\Environment in the fake registry (as on Windows);
  Machine writes need admin (SecurityException otherwise). ExpandEnvironmentVariables(text)
  uses `net.env` (the process environment) and then the User/Machine values.
- ManagementClass(r"\\\\.\\root\\Microsoft\\Windows\\Defender:MSFT_MpPreference") with
  GetMethodParameters("Add"|"Remove") and InvokeMethod(...), which change the ExclusionPath of
  the MSFT_MpPreference row that the diagnosis reads (admin only, ReturnValue 2 otherwise).

Calls are recorded in `.calls` like the base fake's, e.g.
    ("Environment.SetEnvironmentVariable", ("PYTHONIOENCODING", "utf-8", "User"))
    ("RegistryKey.SetValue", (r"HKCU\\Environment", "Path", r"C:\\bin;C:\\Py\\Scripts", "ExpandString"))
    ("ManagementClass.InvokeMethod", ("MSFT_MpPreference", "Add", ("C:\\ProgramData\\Prefect",)))
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Optional

from fakes.dotnet import HIVES, FakeDotNet

USER_ENV_KEY = "Environment"
MACHINE_ENV_KEY = r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
DEFENDER_NAMESPACE = r"root\Microsoft\Windows\Defender"
DO_NOT_EXPAND = "DoNotExpandEnvironmentNames"


class UnauthorizedAccessException(Exception):
    """Stands in for System.UnauthorizedAccessException."""


class SecurityException(Exception):
    """Stands in for System.Security.SecurityException."""


class _LiveKey:
    """A registry key whose values live in net.registry, so writes persist."""

    def __init__(self, net: "ConfigDotNet", hive: str, path: str, writable: bool) -> None:
        self._net, self._hive, self._path, self._writable = net, hive, path, writable
        self.closed = False

    @property
    def _label(self) -> str:
        return f"{self._hive}\\{self._path}"

    @property
    def _values(self) -> dict[str, Any]:
        return self._net.registry[self._hive][self._path]

    def _find(self, name: str) -> Optional[str]:
        return next((k for k in self._values if k.lower() == name.lower()), None)

    def GetValue(self, name: str, default: Any = None, options: Any = None) -> Any:  # noqa: N802
        self._net._call("RegistryKey.GetValue", self._label, name)
        found = self._find(name)
        value = default if found is None else self._values[found]
        if isinstance(value, str) and options != DO_NOT_EXPAND:
            value = self._net.expand(value)
        return value

    def SetValue(self, name: str, value: Any, kind: Any = None) -> None:  # noqa: N802
        self._net._call("RegistryKey.SetValue", self._label, name, value, kind)
        if not self._writable:
            raise UnauthorizedAccessException(f"Cannot write to the registry key {self._label}")
        self._values[self._find(name) or name] = value
        self._net.value_kinds[(self._hive, self._path.lower(), name.lower())] = kind

    def DeleteValue(self, name: str, throw: bool = True) -> None:  # noqa: N802
        self._net._call("RegistryKey.DeleteValue", self._label, name)
        if not self._writable:
            raise UnauthorizedAccessException(f"Cannot write to the registry key {self._label}")
        found = self._find(name)
        if found is None:
            if throw:
                raise KeyError(name)
            return
        del self._values[found]

    def Close(self) -> None:  # noqa: N802
        self._net._call("RegistryKey.Close", self._label)
        self.closed = True


class _LiveHive:
    def __init__(self, net: "ConfigDotNet", short: str) -> None:
        self._net, self._short = net, short

    def _existing(self, key: str) -> Optional[str]:
        return next((k for k in self._net.registry.get(self._short, {}) if k.lower() == key.lower()), None)

    def OpenSubKey(self, key: str, writable: bool = False) -> Optional[_LiveKey]:  # noqa: N802
        self._net._call(f"Registry.{HIVES[self._short]}.OpenSubKey", key)
        found = self._existing(key)
        if found is None:
            return None
        if writable and self._short == "HKLM" and not self._net.is_admin:
            raise SecurityException(f"Requested registry access is not allowed: {self._short}\\{key}")
        opened = _LiveKey(self._net, self._short, found, writable)
        self._net.opened_keys.append(opened)
        return opened

    def CreateSubKey(self, key: str) -> _LiveKey:  # noqa: N802
        self._net._call(f"Registry.{HIVES[self._short]}.CreateSubKey", key)
        if self._short == "HKLM" and not self._net.is_admin:
            raise UnauthorizedAccessException(f"Access to the registry key {self._short}\\{key} is denied.")
        found = self._existing(key)
        if found is None:
            self._net.registry.setdefault(self._short, {})[key] = {}
            found = key
        opened = _LiveKey(self._net, self._short, found, True)
        self._net.opened_keys.append(opened)
        return opened


class _Parameters(dict):
    """ManagementBaseObject of method parameters: indexable by name."""


class _DefenderClass:
    def __init__(self, net: "ConfigDotNet", path: str) -> None:
        net._call("ManagementClass", path)
        if not path.lower().endswith(":msft_mppreference"):
            raise NotImplementedError(f"the fake knows MSFT_MpPreference only, not {path}")
        self._net = net

    def GetMethodParameters(self, method: str) -> _Parameters:  # noqa: N802
        self._net._call("ManagementClass.GetMethodParameters", method)
        return _Parameters()

    def InvokeMethod(self, method: str, params: _Parameters, options: Any) -> dict[str, int]:  # noqa: N802
        paths = tuple(params.get("ExclusionPath") or ())
        self._net._call("ManagementClass.InvokeMethod", "MSFT_MpPreference", method, paths)
        if not self._net.is_admin:
            return {"ReturnValue": 2}  # access denied, as Defender's CIM provider reports it
        rows = self._net.wmi.setdefault((DEFENDER_NAMESPACE, "MSFT_MpPreference"), [{"ExclusionPath": None}])
        current = list(rows[0].get("ExclusionPath") or [])
        if method == "Add":
            current += [p for p in paths if p.lower() not in {c.lower() for c in current}]
        elif method == "Remove":
            current = [c for c in current if c.lower() not in {p.lower() for p in paths}]
        else:
            raise NotImplementedError(method)
        rows[0]["ExclusionPath"] = current or None
        return {"ReturnValue": 0}


class ConfigDotNet(FakeDotNet):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        net = self
        self.value_kinds: dict[tuple[str, str, str], Any] = {}
        self.Registry = SimpleNamespace(LocalMachine=_LiveHive(self, "HKLM"), CurrentUser=_LiveHive(self, "HKCU"))
        self.RegistryValueKind = SimpleNamespace(String="String", ExpandString="ExpandString", DWord="DWord")
        self.RegistryValueOptions = SimpleNamespace(None_="None", DoNotExpandEnvironmentNames=DO_NOT_EXPAND)
        self.EnvironmentVariableTarget = SimpleNamespace(Process="Process", User="User", Machine="Machine")
        self.ManagementClass = lambda path: _DefenderClass(net, path)
        self.StringArray = lambda items: list(items)
        from fakes.service_dotnet import install_acl

        install_acl(self)  # the journal folder's ACL (restrict_to_administrators)
        process_environment = self.Environment

        class Environment(process_environment):  # type: ignore[misc, valid-type]
            @staticmethod
            def GetEnvironmentVariable(name: str, target: Optional[str] = None) -> Optional[str]:  # noqa: N802
                if target in (None, "Process"):
                    return process_environment.GetEnvironmentVariable(name)
                net._call("Environment.GetEnvironmentVariable", name, target)
                return net._scoped(target).get(name)

            @staticmethod
            def SetEnvironmentVariable(name: str, value: Optional[str], target: str = "Process") -> None:  # noqa: N802
                net._call("Environment.SetEnvironmentVariable", name, value, target)
                if target == "Machine" and not net.is_admin:
                    raise SecurityException("Requested registry access is not allowed.")
                store = net._scoped(target)
                found = next((k for k in store if k.lower() == name.lower()), name)
                if value:
                    store[found] = value
                else:
                    store.pop(found, None)

            @staticmethod
            def ExpandEnvironmentVariables(text: str) -> str:  # noqa: N802
                net._call("Environment.ExpandEnvironmentVariables", text)
                return net.expand(text)

        self.Environment = Environment

    def _scoped(self, target: str) -> dict[str, Any]:
        hive, key = ("HKCU", USER_ENV_KEY) if target == "User" else ("HKLM", MACHINE_ENV_KEY)
        keys = self.registry.setdefault(hive, {})
        found = next((k for k in keys if k.lower() == key.lower()), None)
        if found is None:
            keys[key] = {}
            found = key
        return keys[found]

    def expand(self, text: str) -> str:
        def lookup(match: re.Match) -> str:
            name = match.group(1)
            for source in (self.env, self._scoped("User"), self._scoped("Machine")):
                value = next((v for k, v in source.items() if k.lower() == name.lower()), None)
                if value is not None:
                    return str(value)
            return match.group(0)

        return re.sub(r"%([^%]+)%", lookup, text)

    def user_environment(self) -> dict[str, Any]:
        return dict(self._scoped("User"))

    def machine_environment(self) -> dict[str, Any]:
        return dict(self._scoped("Machine"))

    def defender_exclusions(self) -> list[str]:
        rows = self.wmi.get((DEFENDER_NAMESPACE, "MSFT_MpPreference")) or [{}]
        return list(rows[0].get("ExclusionPath") or [])


# -- helpers shared by the settings and repair tests -------------------------------------------
def call(command: str, params: dict, *, what_if: bool = False) -> tuple[dict, int, list[dict]]:
    """Serve one request in-process (so an installed fake adapter is used); returns
    (response, exit code, stderr events)."""
    import io
    import json

    from prefectwin.events import Events
    from prefectwin.rpc import handle

    stream = io.StringIO()
    raw = json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if}).encode()
    response, code = handle(raw, Events(stream))
    json.dumps(response)  # it must be serialisable exactly as the bridge would send it
    return response, code, [json.loads(line) for line in stream.getvalue().splitlines()]


def prefect_config_view(*, cwd: Any = None, env: Optional[dict] = None) -> dict[str, dict]:
    """The oracle: `prefect config view --show-sources --show-defaults -o json`, run as its own
    process in `cwd` with the (isolated) environment plus `env`; settings keyed by name."""
    import json
    import os
    import subprocess
    import sys

    environment = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "config", "view", "--show-sources", "--show-defaults", "-o", "json"],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=True,
    )
    view = json.loads(done.stdout)
    return {"profile": view["profile"], **{s["name"]: s for s in view["settings"]}}
