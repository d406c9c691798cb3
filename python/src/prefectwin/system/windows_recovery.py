"""Service-manager failure actions and NSSM's Application-log events, on Windows.

Failure actions are set with ChangeServiceConfig2W (SERVICE_CONFIG_FAILURE_ACTIONS) through
ctypes: sc.exe has no argument for "take no action" that every Windows release accepts, and
the SCM repeats the last action for every later failure, so the last one must be "none".
They are read back from the service's registry value FailureActions, where the SCM keeps a
SERVICE_FAILURE_ACTIONS with its pointers stored as offsets: reset period, reboot message,
command, action count, actions offset (five DWORDs), then (type, delay) per action.

Events are read with EventLogReader and an XPath query on the provider 'nssm'; NSSM puts the
service name in the event's insertion strings, so filtering on them is exact.
"""
from __future__ import annotations

import datetime as dt
import struct
from typing import Any, Optional, Sequence

SC_ACTION = {"none": 0, "restart": 1, "reboot": 2, "run": 3}
SC_ACTION_NAMES = {v: k for k, v in SC_ACTION.items()}
SERVICE_CONFIG_FAILURE_ACTIONS = 2
EVENT_LEVELS = {1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 0: "Information"}


def decode_failure_actions(blob: Optional[bytes]) -> Optional[tuple[str, ...]]:
    """The registry's FailureActions value as ('reset=N', 'restart/60000', ...); None if absent."""
    if not blob or len(blob) < 20:
        return None
    reset, _, _, count, _ = struct.unpack_from("<5I", blob, 0)
    values = [f"reset={reset}"]
    for index in range(count):
        offset = 20 + 8 * index
        if offset + 8 > len(blob):
            break
        kind, delay = struct.unpack_from("<2I", blob, offset)
        values.append(f"{SC_ACTION_NAMES.get(kind, str(kind))}/{delay}")
    return tuple(values)


def set_failure_actions(name: str, reset_sec: int, actions: Sequence[tuple[str, int]], api: Any = None) -> None:
    """ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS). `api` replaces advapi32 in tests."""
    import ctypes
    from ctypes import wintypes

    class ScAction(ctypes.Structure):
        _fields_ = [("Type", wintypes.DWORD), ("Delay", wintypes.DWORD)]

    class FailureActions(ctypes.Structure):
        _fields_ = [
            ("dwResetPeriod", wintypes.DWORD),
            ("lpRebootMsg", wintypes.LPWSTR),
            ("lpCommand", wintypes.LPWSTR),
            ("cActions", wintypes.DWORD),
            ("lpsaActions", ctypes.POINTER(ScAction)),
        ]

    advapi = api
    if advapi is None:  # pragma: no cover - Windows only
        advapi = ctypes.WinDLL("advapi32", use_last_error=True)
        # Handles are pointers: the default int return type would cut them to 32 bits.
        advapi.OpenSCManagerW.restype = wintypes.HANDLE
        advapi.OpenSCManagerW.argtypes = (wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD)
        advapi.OpenServiceW.restype = wintypes.HANDLE
        advapi.OpenServiceW.argtypes = (wintypes.HANDLE, wintypes.LPCWSTR, wintypes.DWORD)
        advapi.ChangeServiceConfig2W.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p)
        advapi.ChangeServiceConfig2W.restype = wintypes.BOOL
        advapi.CloseServiceHandle.argtypes = (wintypes.HANDLE,)
    items = (ScAction * max(1, len(actions)))(*[ScAction(SC_ACTION[kind], delay) for kind, delay in actions])
    info = FailureActions(reset_sec, None, None, len(actions), items if actions else None)
    SC_MANAGER_CONNECT, SERVICE_CHANGE_CONFIG, SERVICE_START = 0x0001, 0x0002, 0x0010
    manager = advapi.OpenSCManagerW(None, None, SC_MANAGER_CONNECT)
    if not manager:
        raise _error("OpenSCManager", name)
    try:
        # A restart action needs SERVICE_START on the handle as well.
        service = advapi.OpenServiceW(manager, name, SERVICE_CHANGE_CONFIG | SERVICE_START)
        if not service:
            raise _error("OpenService", name)
        try:
            if not advapi.ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, ctypes.byref(info)):
                raise _error("ChangeServiceConfig2", name)
        finally:
            advapi.CloseServiceHandle(service)
    finally:
        advapi.CloseServiceHandle(manager)


def _error(call: str, name: str) -> Exception:
    import ctypes

    from prefectwin.errors import ApplyFailed, PermissionDenied

    code = ctypes.get_last_error() if hasattr(ctypes, "get_last_error") else 0
    error = PermissionDenied if code == 5 else ApplyFailed
    return error(f"{call} failed for service '{name}' (Windows error {code}).", target=name)


def event_query(after: Optional[float]) -> str:
    """The XPath of NSSM's events, newer than `after` (epoch seconds) when given."""
    condition = "Provider[@Name='nssm']"
    if after is not None:
        stamp = dt.datetime.fromtimestamp(after, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        condition += f" and TimeCreated[@SystemTime>'{stamp}']"
    return f"*[System[{condition}]]"


def read_events(net: Any, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
    """NSSM's events for one service (every service with None), oldest first, at most
    `max_events` (the newest ones).
    `net` provides EventLogQuery, EventLogReader and PathType (the real .NET types or a fake)."""
    query = net.EventLogQuery("Application", net.PathType.LogName, event_query(after))
    query.ReverseDirection = True
    reader = net.EventLogReader(query)
    found: list[dict[str, Any]] = []
    try:
        while len(found) < max_events:
            record = reader.ReadEvent()
            if record is None:
                break
            try:
                strings = [str(p.Value) for p in record.Properties]
                if name is not None and name.lower() not in (s.lower() for s in strings):
                    continue
                try:
                    message = record.FormatDescription()
                except Exception:  # noqa: BLE001 - a missing message DLL: fall back to the strings
                    message = None
                created = record.TimeCreated
                found.append(
                    {
                        "time": float(created.ToUniversalTime().Subtract(net.Epoch).TotalSeconds),
                        "level": EVENT_LEVELS.get(int(record.Level or 0), "Information"),
                        "eventId": int(record.Id),
                        "recordId": int(record.RecordId or 0),
                        "message": str(message) if message else " ".join(strings),
                        "strings": strings,
                    }
                )
            finally:
                record.Dispose()
    finally:
        reader.Dispose()
    return list(reversed(found))


def load_eventing() -> Any:  # pragma: no cover - needs Windows and pythonnet
    from types import SimpleNamespace

    import clr

    try:
        clr.AddReference("System.Core")  # .NET Framework keeps Eventing.Reader there
    except Exception:  # noqa: BLE001 - .NET (Core) has it in System.Diagnostics.EventLog
        clr.AddReference("System.Diagnostics.EventLog")
    from System import DateTime, DateTimeKind
    from System.Diagnostics.Eventing.Reader import EventLogQuery, EventLogReader, PathType

    return SimpleNamespace(EventLogQuery=EventLogQuery, EventLogReader=EventLogReader, PathType=PathType, Epoch=DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc))


def task_action(xml_text: str) -> Optional[tuple[str, str]]:
    """(Command, Arguments) of the first Exec action in `schtasks /Query /XML` output."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(xml_text.lstrip("\ufeff").strip())
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Exec":
            fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
            return fields.get("Command", "").strip('"'), fields.get("Arguments", "")
    return None
