"""A fake of the .NET surface that prefectwin.system.windows reaches through its `net` object.

Only what windows.py touches exists here, so new .NET use shows up as an AttributeError until
this fake learns it. Behaviour follows .NET's, not convenience:
- Registry: OpenSubKey returns None for a missing key, GetValue None for a missing value;
  key paths and value names are case-insensitive.
- WMI: ManagementObjectSearcher(namespace, "SELECT a, b FROM Class").Get() yields objects
  indexable by property name (case-insensitive); reading a property the query did not select
  raises FakeManagementException("Not found"), as WMI does; an unknown namespace or class
  raises from Get().
- DriveInfo(letter).DriveType is the DriveType enum value (3 Fixed, 4 Network; an unknown
  letter is 1 NoRootDirectory).
- FileVersionInfo.GetVersionInfo(path) raises FileNotFoundError for an unknown path.
- Console.OutputEncoding raises (no console attached) when code_page is None.

Every call is recorded in `.calls` as (name, args), e.g.
    ("Registry.LocalMachine.OpenSubKey", (r"SOFTWARE\\...",)), ("RegistryKey.GetValue", (r"HKLM\\SOFTWARE\\...", "ExecutionPolicy")),
    ("RegistryKey.Close", (r"HKLM\\SOFTWARE\\...",)), ("ManagementObjectSearcher", (namespace, query)),
    ("ManagementObjectSearcher.Get", (namespace, query)), ("WindowsIdentity.GetCurrent", ()),
    ("WindowsPrincipal", ("FAKE\\\\tester",)), ("WindowsPrincipal.IsInRole", ("Administrator",)),
    ("FileVersionInfo.GetVersionInfo", (path,)), ("DriveInfo", ("Z",)), ("DriveInfo.DriveType", ("Z",)),
    ("Console.OutputEncoding", ()), ("Console.OutputEncoding.CodePage", ()), ("Environment.GetEnvironmentVariable", ("TEMP",)).
`fail_on={"<call name>": exc}` raises exc at every such call (after recording it).
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Iterable, Optional

HIVES = {"HKLM": "LocalMachine", "HKCU": "CurrentUser"}
DRIVE_NO_ROOT_DIRECTORY = 1
DRIVE_FIXED = 3
DRIVE_NETWORK = 4
_QUERY = re.compile(r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<cls>\w+)\s*$", re.IGNORECASE)


class FakeManagementException(Exception):
    """Stands in for System.Management.ManagementException."""


class _Role:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"WindowsBuiltInRole.{self.name}"


class _Key:
    def __init__(self, net: "FakeDotNet", path: str, values: dict[str, Any]) -> None:
        self._net, self._path, self._values = net, path, {k.lower(): v for k, v in values.items()}
        self.closed = False

    def GetValue(self, name: str) -> Any:  # noqa: N802 - .NET name
        self._net._call("RegistryKey.GetValue", self._path, name)
        return self._values.get(name.lower())

    def Close(self) -> None:  # noqa: N802
        self._net._call("RegistryKey.Close", self._path)
        self.closed = True


class _Hive:
    def __init__(self, net: "FakeDotNet", short: str) -> None:
        self._net, self._short = net, short

    def OpenSubKey(self, key: str) -> Optional[_Key]:  # noqa: N802
        self._net._call(f"Registry.{HIVES[self._short]}.OpenSubKey", key)
        for known, values in self._net.registry.get(self._short, {}).items():
            if known.lower() == key.lower():
                subkey = _Key(self._net, f"{self._short}\\{key}", values)
                self._net.opened_keys.append(subkey)
                return subkey
        return None


class _ManagementObject:
    def __init__(self, row: dict[str, Any], selected: Optional[set[str]]) -> None:
        self._row = {k.lower(): v for k, v in row.items()}
        self._selected = selected

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        if (self._selected is not None and key not in self._selected) or key not in self._row:
            raise FakeManagementException("Not found")
        return self._row[key]


class _Searcher:
    def __init__(self, net: "FakeDotNet", namespace: str, query: str) -> None:
        net._call("ManagementObjectSearcher", namespace, query)
        self._net, self._namespace, self._query = net, namespace, query

    def Get(self) -> list[_ManagementObject]:  # noqa: N802
        self._net._call("ManagementObjectSearcher.Get", self._namespace, self._query)
        match = _QUERY.match(self._query)
        if not match:
            raise NotImplementedError(f"the fake WMI understands 'SELECT cols FROM Class' only, not {self._query!r}")
        classes = {cls.lower(): rows for (ns, cls), rows in self._net.wmi.items() if ns.lower() == self._namespace.lower()}
        if not classes:
            raise FakeManagementException("Invalid namespace")
        rows = classes.get(match["cls"].lower())
        if rows is None:
            raise FakeManagementException("Invalid class")
        cols = [c.strip().lower() for c in match["cols"].split(",")]
        selected = None if cols == ["*"] else set(cols)
        return [_ManagementObject(row, selected) for row in rows]


class FakeDotNet:
    def __init__(
        self,
        *,
        registry: Optional[dict[str, dict[str, dict[str, Any]]]] = None,
        is_admin: bool = False,
        user: str = "FAKE\\tester",
        wmi: Optional[dict[tuple[str, str], Iterable[dict[str, Any]]]] = None,
        file_versions: Optional[dict[str, tuple[Optional[str], Optional[str]]]] = None,
        drives: Optional[dict[str, int]] = None,
        code_page: Optional[int] = 65001,
        env: Optional[dict[str, str]] = None,
        fail_on: Optional[dict[str, BaseException]] = None,
    ) -> None:
        #: {"HKLM"|"HKCU": {key path: {value name: value}}}
        self.registry = registry or {}
        self.is_admin = is_admin
        self.user = user
        #: {(namespace, class): [row dicts]}
        self.wmi = {k: list(v) for k, v in (wmi or {}).items()}
        #: {path: (FileVersion, ProductVersion)}
        self.file_versions = file_versions or {}
        #: {"C": 3, "Z": 4}
        self.drives = {k.upper(): v for k, v in (drives or {}).items()}
        self.code_page = code_page
        self.env = env or {}
        self.fail_on = fail_on or {}
        self.calls: list[tuple[str, tuple]] = []
        self.opened_keys: list[_Key] = []

        net = self
        self.Registry = SimpleNamespace(LocalMachine=_Hive(self, "HKLM"), CurrentUser=_Hive(self, "HKCU"))
        self.WindowsBuiltInRole = SimpleNamespace(Administrator=_Role("Administrator"), User=_Role("User"))

        class WindowsIdentity:
            def __init__(self, name: str) -> None:
                self.Name = name

            @staticmethod
            def GetCurrent() -> "WindowsIdentity":  # noqa: N802
                net._call("WindowsIdentity.GetCurrent")
                return WindowsIdentity(net.user)

        class WindowsPrincipal:
            def __init__(self, identity: WindowsIdentity) -> None:
                net._call("WindowsPrincipal", identity.Name)

            def IsInRole(self, role: _Role) -> bool:  # noqa: N802
                net._call("WindowsPrincipal.IsInRole", role.name)
                return net.is_admin and role is net.WindowsBuiltInRole.Administrator

        class FileVersionInfo:
            @staticmethod
            def GetVersionInfo(path: str) -> SimpleNamespace:  # noqa: N802
                net._call("FileVersionInfo.GetVersionInfo", path)
                if path not in net.file_versions:
                    raise FileNotFoundError(path)
                file_version, product_version = net.file_versions[path]
                return SimpleNamespace(FileVersion=file_version, ProductVersion=product_version)

        class DriveInfo:
            def __init__(self, letter: str) -> None:
                net._call("DriveInfo", letter)
                self._letter = letter

            @property
            def DriveType(self) -> int:  # noqa: N802
                net._call("DriveInfo.DriveType", self._letter)
                return net.drives.get(self._letter.rstrip(":\\").upper(), DRIVE_NO_ROOT_DIRECTORY)

        class _Encoding:
            @property
            def CodePage(self) -> int:  # noqa: N802
                net._call("Console.OutputEncoding.CodePage")
                return net.code_page  # type: ignore[return-value]

        class Console:
            @property
            def OutputEncoding(self) -> _Encoding:  # noqa: N802
                net._call("Console.OutputEncoding")
                if net.code_page is None:
                    raise OSError("The handle is invalid (no console attached)")
                return _Encoding()

        class Environment:
            @staticmethod
            def GetEnvironmentVariable(name: str) -> Optional[str]:  # noqa: N802
                net._call("Environment.GetEnvironmentVariable", name)
                return next((v for k, v in net.env.items() if k.upper() == name.upper()), None)

        self.WindowsIdentity = WindowsIdentity
        self.WindowsPrincipal = WindowsPrincipal
        self.FileVersionInfo = FileVersionInfo
        self.DriveInfo = DriveInfo
        self.Console = Console()
        self.Environment = Environment
        self.ManagementObjectSearcher = lambda namespace, query: _Searcher(net, namespace, query)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail_on:
            raise self.fail_on[name]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def unclosed_keys(self) -> list[str]:
        """Registry keys opened and never closed (a handle leak on real Windows)."""
        return [k._path for k in self.opened_keys if not k.closed]
