"""Windows services: the SCM through .NET where it can, NSSM where it must.

- Reading is in-process and costs no process per service: the service's registry key (where
  NSSM keeps its parameters) through Microsoft.Win32.Registry, statuses through
  ServiceController.GetServices(), PIDs through one WMI query, and the Prefect process tree
  through psutil.
- Start and stop go through System.ServiceProcess.ServiceController. Stop() stops dependent
  services first, so a worker that depends on its server stops before it.
- Install, set, reset and remove go through nssm.exe, always as an argument list (no shell,
  no string concatenation). NSSM also grants a user account "Log on as a service" when it
  sets ObjectName, which .NET cannot do.
- ACLs through System.Security.AccessControl; the firewall rule through netsh's argument
  list (pythonnet has no late binding for the firewall's COM objects), read back via WMI.

A collaborator of WindowsAdapter. Every .NET type comes from the adapter's DotNet (its
`services` view), which tests replace with a fake .NET surface, and every process runs through
the `run` callable it is given, which tests replace with a recorder.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

from pydantic import SecretStr

from prefectwin.errors import ApplyFailed, NotFound, OperationTimeout, PermissionDenied
from prefectwin.secrets import scrub
from prefectwin.services.spec import MARKER_VALUE, parse_marker
from prefectwin.services.state import ServiceRecord
from prefectwin.system import processes
from prefectwin.system.windows_facts import WindowsFactsReader
from prefectwin.system.windows_net import DotNet
from prefectwin.system.windows_recovery import decode_failure_actions

SERVICES_KEY = r"SYSTEM\CurrentControlSet\Services"
STRING_VALUES = ("Application", "AppParameters", "AppDirectory", "AppStdout", "AppStderr")
DWORD_VALUES = (
    "AppRotateFiles",
    "AppRotateOnline",
    "AppRotateBytes",
    "AppRotateSeconds",
    "AppRestartDelay",
    "AppThrottle",
    "AppStopMethodSkip",
    "AppStopMethodConsole",
    "AppKillProcessTree",
    "AppNoConsole",
)
MULTI_VALUES = ("AppEnvironmentExtra",)
START_NAMES = {0: "SERVICE_BOOT_START", 1: "SERVICE_SYSTEM_START", 2: "SERVICE_AUTO_START", 3: "SERVICE_DEMAND_START", 4: "SERVICE_DISABLED"}
NSSM_TIMEOUT_SEC = 60
# Groups in every service account's token (virtual, built-in, gMSA or user run as a service):
# Everyone, Authenticated Users, Users, SERVICE. Rights given to them reach the account too.
SERVICE_TOKEN_GROUPS = ("S-1-1-0", "S-1-5-11", "S-1-5-32-545", "S-1-5-6")
ADMINISTRATORS_SID = "S-1-5-32-544"
CREATE_NO_WINDOW = 0x08000000


def decode_output(raw: bytes) -> str:
    """NSSM writes UTF-16LE when its output is redirected; other tools write the ANSI code page."""
    if not raw:
        return ""
    if b"\x00" in raw:
        return raw.decode("utf-16-le", "replace").lstrip("\ufeff")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("mbcs" if os.name == "nt" else "latin-1", "replace")


def _wql(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _bytes(value: Any) -> Optional[bytes]:
    """A REG_BINARY value (a .NET byte[] under pythonnet, a list in the fake) as bytes."""
    return None if value is None else bytes(bytearray(int(b) & 0xFF for b in value))


def _plain(values: Sequence[Any]) -> list[str]:
    return [v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in values]


def run_child(argv: list[str]) -> tuple[int, str]:  # pragma: no cover - replaced in tests
    """Run nssm.exe or netsh.exe without a console window: (exit code, decoded output)."""
    completed = processes.run(argv, timeout=NSSM_TIMEOUT_SEC, creationflags=CREATE_NO_WINDOW)
    return completed.returncode, (decode_output(completed.stdout) + decode_output(completed.stderr)).strip()


class WindowsServiceControl:
    def __init__(self, dotnet: DotNet, facts: WindowsFactsReader, run: Callable[[list[str]], tuple[int, str]]) -> None:
        self.dotnet = dotnet
        self.facts = facts
        self._run = run

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def svc_net(self) -> Any:
        return self.dotnet.services

    def _wmi(self, namespace: str, query: str) -> list[Any]:
        return self.dotnet.wmi(namespace, query)

    def _nssm(self, nssm: Optional[str], *args: Any, tolerate: tuple[int, ...] = ()) -> str:
        """Run nssm.exe with an argument list. Errors name the verb, service and parameter,
        never the values, which may hold a password."""
        argv = [nssm or "nssm", *_plain(args)]
        code, output = self._run(argv)
        if code != 0 and code not in tolerate:
            shown = " ".join(argv[1:4]) if args and args[0] in ("set", "reset") else " ".join(argv[1:3])
            text = scrub(output, *argv[4:]) if len(argv) > 4 else output
            error = PermissionDenied if "access is denied" in output.lower() else ApplyFailed
            raise error(f"'nssm {shown}' failed with exit code {code}: {text.strip() or 'no output'}.", target=str(args[1]) if len(args) > 1 else None)
        return output

    # -- reading ----------------------------------------------------------------------------
    def require_services(self) -> None:
        return None

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        if not explicit:
            return self.facts.nssm()
        if not os.path.isfile(explicit):
            return None, None
        info = self.dotnet.base.FileVersionInfo.GetVersionInfo(explicit)
        version = info.FileVersion or info.ProductVersion
        return explicit, None if version is None else str(version)

    def _value(self, key: Any, name: str) -> Any:
        return key.GetValue(name, None, self.svc_net.DoNotExpand)

    def _parameters(self, key: Any) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        start = key.GetValue("Start")
        if start is not None:
            name = START_NAMES.get(int(start), str(int(start)))
            delayed = key.GetValue("DelayedAutostart")
            if int(start) == 2 and delayed is not None and int(delayed) == 1:
                name = "SERVICE_DELAYED_AUTO_START"
            found["Start"] = (name,)
        for value in ("ObjectName", "DisplayName", "Description"):
            text = self._value(key, value)
            if text is not None:
                found[value] = (str(text),)
        failure = decode_failure_actions(_bytes(key.GetValue("FailureActions")))
        if failure is not None:
            found["FailureActions"] = failure
        depends = key.GetValue("DependOnService")
        if depends is not None:
            found["DependOnService"] = tuple(str(d) for d in depends)
        params = key.OpenSubKey("Parameters")
        if params is None:
            return found
        try:
            for value in STRING_VALUES:
                text = self._value(params, value)
                if text is not None:
                    found[value] = (str(text),)
            for value in DWORD_VALUES:
                number = params.GetValue(value)
                if number is not None:
                    found[value] = (str(int(number)),)
            for value in MULTI_VALUES:
                entries = params.GetValue(value)
                if entries is not None:
                    found[value] = tuple(str(e) for e in entries)
            exits = params.OpenSubKey("AppExit")
            if exits is not None:
                try:
                    default = exits.GetValue("")
                    if default is not None:
                        found["AppExit"] = ("Default", str(default))
                finally:
                    exits.Close()
        finally:
            params.Close()
        return found

    def _statuses(self) -> dict[str, str]:
        return {str(sc.ServiceName).lower(): str(sc.Status) for sc in self.svc_net.ServiceController.GetServices()}

    def _pids(self, names: Optional[Sequence[str]] = None) -> dict[str, int]:
        query = "SELECT Name, ProcessId FROM Win32_Service"
        if names is not None:
            if not names:
                return {}
            query += " WHERE " + " OR ".join(f"Name='{_wql(n)}'" for n in names)
        return {str(row["Name"]).lower(): int(row["ProcessId"]) for row in self._wmi("root\\cimv2", query) if row["ProcessId"]}

    @staticmethod
    def _app_tree(pid: Optional[int]) -> tuple[tuple[int, ...], Optional[float]]:
        if not pid:
            return (), None
        import psutil

        try:
            wrapper = psutil.Process(pid)
            direct = wrapper.children()
            # NSSM's own child (python.exe) first: it is the service's Pid.
            children = direct + [c for c in wrapper.children(recursive=True) if c not in direct]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return (), None
        started = None
        for child in children:
            try:
                started = child.create_time() if started is None else min(started, child.create_time())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return tuple(c.pid for c in children), started

    def _record(self, root: Any, name: str, statuses: dict[str, str], pids: dict[str, int], managed_only: bool) -> Optional[ServiceRecord]:
        key = root.OpenSubKey(name)
        if key is None:
            return None
        try:
            marker = key.GetValue(MARKER_VALUE)
            if managed_only and parse_marker(None if marker is None else str(marker)) is None:
                return None
            parameters = self._parameters(key)
        finally:
            key.Close()
        status = statuses.get(name.lower())
        if status is None:
            return None  # a registry key without a service behind it (left over, or a driver group)
        pid = pids.get(name.lower())
        app_pids, started = self._app_tree(pid)
        return ServiceRecord(
            name=name,
            status=status,
            pid=pid,
            app_pids=app_pids,
            started_at=started,
            parameters=parameters,
            marker=None if marker is None else str(marker),
        )

    def read_service(self, name: str) -> Optional[ServiceRecord]:
        records = self._read(names=[name], managed_only=False)
        return records[0] if records else None

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[ServiceRecord]:
        """The services with PrefectWin's marker (all of them, or those named, managed or not).
        One registry walk, one SCM enumeration and one WMI query, however many services."""
        return self._read(names=names, managed_only=names is None)

    def _read(self, names: Optional[Sequence[str]], managed_only: bool) -> list[ServiceRecord]:
        root = self.svc_net.Registry.LocalMachine.OpenSubKey(SERVICES_KEY)
        try:
            candidates = list(names) if names is not None else [str(n) for n in root.GetSubKeyNames()]
            statuses = self._statuses()
            if names is None:
                candidates = [c for c in candidates if c.lower() in statuses]
            pids = self._pids(None if names is None else candidates)
            records = [self._record(root, n, statuses, pids, managed_only) for n in candidates]
        finally:
            root.Close()
        return [r for r in records if r is not None]

    # -- changing: NSSM -----------------------------------------------------------------------
    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        self._nssm(nssm, "install", name, application)

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        self._nssm(nssm, "set", name, parameter, *values)

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        self._nssm(nssm, "reset", name, parameter)

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Optional[SecretStr]) -> None:
        # The password is an argument of nssm.exe, a process this elevated session starts and
        # waits for; only administrators can read an elevated process's command line.
        self._nssm(nssm, "set", name, "ObjectName", account, *((password,) if password is not None else ()))

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        if self.read_service(name) is None:
            return
        self.stop_service(name, timeout_sec)
        self._nssm(nssm, "remove", name, "confirm")

    def write_marker(self, name: str, text: Optional[str]) -> None:
        key = self.svc_net.Registry.LocalMachine.OpenSubKey(f"{SERVICES_KEY}\\{name}", True)
        if key is None:
            raise NotFound(f"Service '{name}' does not exist.", target=name)
        try:
            if text is None:
                key.DeleteValue(MARKER_VALUE, False)
            else:
                key.SetValue(MARKER_VALUE, text)
        finally:
            key.Close()

    # -- changing: the SCM through ServiceController -----------------------------------------
    def _controller(self, name: str) -> Any:
        controller = self.svc_net.ServiceController(name)
        controller.Refresh()
        return controller

    def _wait(self, controller: Any, status: str, timeout_sec: int) -> bool:
        net = self.svc_net
        try:
            controller.WaitForStatus(getattr(net.ServiceControllerStatus, status), net.TimeSpan.FromSeconds(timeout_sec))
            return True
        except Exception as exc:  # noqa: BLE001 - System.ServiceProcess.TimeoutException
            if "Timeout" in type(exc).__name__ or "timeout" in str(exc).lower():
                return False
            raise

    def start_service(self, name: str, timeout_sec: int) -> None:
        controller = self._controller(name)
        status = str(controller.Status)
        if status == "Running":
            return
        if status == "Paused":
            raise ApplyFailed(
                f"Service '{name}' is paused, which NSSM 2.24 does on Windows 10 and later.",
                target=name,
                remediation="Install NSSM 2.24-101 or later ('winget install NSSM.NSSM' or 'choco install nssm').",
            )
        if status != "StartPending":
            controller.Start()
        if not self._wait(controller, "Running", timeout_sec):
            raise OperationTimeout(f"Service '{name}' did not reach Running within {timeout_sec} s.", target=name)

    def stop_service(self, name: str, timeout_sec: int) -> None:
        """Ask the SCM to stop (NSSM sends Ctrl-C, waits, then kills the tree); if the service is
        still not stopped after `timeout_sec`, kill NSSM's process tree ourselves."""
        controller = self._controller(name)
        if str(controller.Status) == "Stopped":
            return
        if str(controller.Status) != "StopPending":
            controller.Stop()
        if self._wait(controller, "Stopped", timeout_sec):
            return
        pid = self._pids([name]).get(name.lower())
        if pid:
            import psutil

            try:
                process = psutil.Process(pid)
                for child in process.children(recursive=True) + [process]:
                    child.kill()
            except psutil.NoSuchProcess:
                pass
        if not self._wait(controller, "Stopped", 30):
            raise OperationTimeout(f"Service '{name}' did not stop within {timeout_sec} s, even after its processes were killed.", target=name)

    # -- ACLs ---------------------------------------------------------------------------------
    def _access_rule(self, principal: str, rights: str) -> Any:
        net = self.svc_net
        return net.FileSystemAccessRule(
            net.NTAccount(principal),
            getattr(net.FileSystemRights, rights),
            net.Enum.Parse(net.InheritanceFlagsType, "ContainerInherit, ObjectInherit"),
            net.Enum.Parse(net.PropagationFlagsType, "None"),
            net.AccessControlType.Allow,
        )

    def _holds(self, path: str, sids: set[str], rights: str) -> bool:
        """Whether an Allow rule (explicit or inherited) for one of the SIDs carries every bit
        of the rights. Deny rules are not weighed: this decides whether to grant, never
        whether access is safe."""
        net = self.svc_net
        if not os.path.isdir(path):
            return False
        wanted = int(getattr(net.FileSystemRights, rights))
        rules = net.DirectoryInfo(path).GetAccessControl().GetAccessRules(True, True, net.SecurityIdentifierType)
        return any(
            str(rule.IdentityReference.Value) in sids and str(rule.AccessControlType) == "Allow" and int(rule.FileSystemRights) & wanted == wanted
            for rule in rules
        )

    def _sid(self, principal: str) -> str:
        net = self.svc_net
        return str(net.NTAccount(principal).Translate(net.SecurityIdentifierType).Value)

    def has_modify(self, path: str, principal: str) -> bool:
        # The account's own SID only: Modify is what PrefectWin grants and records by account.
        if not os.path.isdir(path):
            return False
        return self._holds(path, {self._sid(principal)}, "Modify")

    def has_read_execute(self, path: str, principal: str) -> bool:
        # Through the groups every service account's token carries, too (Users usually may
        # read C:\Program Files; nobody else may read a folder under another user's profile).
        if not os.path.isdir(path):
            return False
        sids = {self._sid(principal), *SERVICE_TOKEN_GROUPS}
        if principal.lower() == "nt authority\\system":
            sids.add(ADMINISTRATORS_SID)
        return self._holds(path, sids, "ReadAndExecute")

    def _change_acl(self, path: str, principal: str, rights: str, add: bool) -> None:
        directory = self.svc_net.DirectoryInfo(path)
        security = directory.GetAccessControl()
        rule = self._access_rule(principal, rights)
        if add:
            security.AddAccessRule(rule)
        else:
            security.RemoveAccessRule(rule)
        directory.SetAccessControl(security)

    def grant_modify(self, path: str, principal: str) -> None:
        self._change_acl(path, principal, "Modify", add=True)

    def revoke_modify(self, path: str, principal: str) -> None:
        if os.path.isdir(path):
            self._change_acl(path, principal, "Modify", add=False)

    def grant_read_execute(self, path: str, principal: str) -> None:
        self._change_acl(path, principal, "ReadAndExecute", add=True)

    def revoke_read_execute(self, path: str, principal: str) -> None:
        if os.path.isdir(path):
            self._change_acl(path, principal, "ReadAndExecute", add=False)

    # -- firewall -----------------------------------------------------------------------------
    @staticmethod
    def _netsh() -> str:
        return os.path.join(os.environ.get("SystemRoot", "C:\\Windows"), "System32", "netsh.exe")

    def _rule_instance(self, name: str) -> Optional[Any]:
        rules = self._wmi("root\\StandardCimv2", f"SELECT InstanceID, Profile FROM MSFT_NetFirewallRule WHERE DisplayName='{_wql(name)}'")
        return rules[0] if rules else None

    def firewall_rule_port(self, name: str) -> Optional[int]:
        """The TCP port of the inbound rule with this display name; None when there is none."""
        rule = self._rule_instance(name)
        if rule is None:
            return None
        instance = str(rule["InstanceID"])
        filters = self._wmi("root\\StandardCimv2", f"SELECT LocalPort FROM MSFT_NetFirewallPortFilter WHERE InstanceID='{_wql(instance)}'")
        ports = filters[0]["LocalPort"] if filters else None
        first = ports if isinstance(ports, str) or ports is None else next(iter(ports), None)
        return int(first) if first is not None and str(first).isdigit() else 0

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(remote addresses, profiles) of the rule with this display name, as Windows reports
        them (an address filter of 'Any', or none, is every address)."""
        from prefectwin.services.firewall import profiles_from_bits

        rule = self._rule_instance(name)
        if rule is None:
            return None
        instance = str(rule["InstanceID"])
        filters = self._wmi("root\\StandardCimv2", f"SELECT RemoteAddress FROM MSFT_NetFirewallAddressFilter WHERE InstanceID='{_wql(instance)}'")
        remote = filters[0]["RemoteAddress"] if filters else None
        addresses = (remote,) if isinstance(remote, str) else tuple(str(a) for a in (remote or ("Any",)))
        return addresses, profiles_from_bits(int(rule["Profile"] or 0))

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        """An inbound TCP rule; empty remote addresses or profiles are netsh's defaults (any)."""
        argv = [self._netsh(), "advfirewall", "firewall", "add", "rule", f"name={name}", "dir=in", "action=allow", "protocol=TCP", f"localport={port}"]
        if remote_addresses:
            argv.append("remoteip=" + ",".join(remote_addresses))
        if profiles:
            argv.append("profile=" + ",".join(p.lower() for p in profiles))
        code, output = self._run(argv)
        if code != 0:
            raise ApplyFailed(f"netsh could not add firewall rule '{name}' (exit code {code}): {output or 'no output'}.", target=name)

    def remove_firewall_rule(self, name: str) -> None:
        code, output = self._run([self._netsh(), "advfirewall", "firewall", "delete", "rule", f"name={name}"])
        if code != 0 and self.firewall_rule_port(name) is not None:
            raise ApplyFailed(f"netsh could not remove firewall rule '{name}' (exit code {code}): {output or 'no output'}.", target=name)

    # -- crash loops and logs (system/windows_recovery.py) ----------------------------------
    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        from prefectwin.system import windows_recovery

        windows_recovery.set_failure_actions(name, reset_sec, actions, api=getattr(self.svc_net, "Advapi32", None))

    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        """NSSM's Application-log events for one service (all with None): {time, level,
        eventId, recordId, message, strings}, oldest first, newer than `after` (epoch s)."""
        from prefectwin.system import windows_recovery

        net = getattr(self, "_eventing", None)
        if net is None:
            injected = self.svc_net
            net = injected if hasattr(injected, "EventLogQuery") else windows_recovery.load_eventing()
            self._eventing = net
        return windows_recovery.read_events(net, name, after, max_events)

    # -- the retention task (Task Scheduler through schtasks.exe's argument list) -----------
    @staticmethod
    def _schtasks() -> str:
        return os.path.join(os.environ.get("SystemRoot", "C:\\Windows"), "System32", "schtasks.exe")

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        """(command, arguments) of a task's first Exec action; None when there is no such task."""
        from prefectwin.system.windows_recovery import task_action

        code, output = self._run([self._schtasks(), "/Query", "/TN", name, "/XML"])
        return task_action(output) if code == 0 else None

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        """Daily, as SYSTEM (which may delete in every log folder), replacing a task of that name."""
        import subprocess

        line = subprocess.list2cmdline([command]) + " " + arguments
        argv = [self._schtasks(), "/Create", "/F", "/TN", name, "/SC", "DAILY", "/ST", "03:17", "/RU", "SYSTEM", "/RL", "HIGHEST", "/TR", line]
        code, output = self._run(argv)
        if code != 0:
            raise ApplyFailed(f"schtasks could not register task '{name}' (exit code {code}): {output or 'no output'}.", target=name)

    def remove_scheduled_task(self, name: str) -> None:
        code, output = self._run([self._schtasks(), "/Delete", "/TN", name, "/F"])
        if code != 0 and self.scheduled_task(name) is not None:
            raise ApplyFailed(f"schtasks could not remove task '{name}' (exit code {code}): {output or 'no output'}.", target=name)
