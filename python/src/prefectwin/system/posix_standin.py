"""A stand-in for the Windows Service Control Manager on Linux and macOS, so that what PrefectWin
does to services (restart in order, upgrade with rollback) runs for real off Windows.

It is NOT systemd or launchd, and nothing installs it by default: the POSIX adapter stays
`NotSupported` for services unless PREFECTWIN_POSIX_SERVICE_ROOT names a folder. With it:

- a service is `<root>/<name>.json`: the NSSM parameters (the same names and values that
  `nssm set` takes, e.g. from ServiceSpec.nssm_parameters()) and the PrefectWin marker, written
  by `nssm_install`, `nssm_set`, `nssm_reset` and `write_marker`;
- `start_service` runs it as NSSM would: Application with AppParameters (split by the MS C
  runtime rules NSSM's CreateProcess relies on), in AppDirectory, with the machine's environment
  minus PREFECT_* plus AppEnvironmentExtra, stdout/stderr appended to AppStdout/AppStderr, in a
  session of its own; its pid and start time go to `<root>/<name>.pid`;
- `stop_service` is NSSM's Ctrl-C: SIGINT to the process group, then SIGKILL to the group after
  AppStopMethodConsole (or the timeout, if shorter);
- status is Running while that pid lives with the recorded start time, else Stopped;
- each start and stop is appended to `<root>/history.jsonl` (time, service, event, pid), the
  record the SCM's event log would be, so tests can tell the order things happened in.

What it keeps only as records, so that Install-PrefectService's whole plan (and
Install-PrefectStack's) applies, rolls back and comes out empty the second time: the account a
service runs as (ObjectName; the process still runs as the user who started it), ACL grants
(`<root>/acl.records`; no file's mode changes) and firewall rules (`<root>/firewall.json`; no
packet filter changes). An account's environment block is the machine's environment minus
PREFECT_*, which is what a started service gets here.

What it does not have: a restart-on-exit loop (AppExit), log rotation, and start at boot.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any, Optional, Sequence

from prefectwin.diagnosis.service import split_command_line  # NSSM's AppParameters, split as python.exe would
from prefectwin.errors import ApplyFailed, NotFound, OperationTimeout

ROOT_VARIABLE = "PREFECTWIN_POSIX_SERVICE_ROOT"
STANDIN_NSSM = "posix-service-stand-in"


def _plain(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(v.get_secret_value() if hasattr(v, "get_secret_value") else str(v) for v in values)


class StandInServices:
    """The PosixAdapter's service collaborator when the stand-in is on (PosixAdapter(services=...))."""

    def __init__(self, root: str) -> None:
        self.root = root

    # -- storage ------------------------------------------------------------------------------
    def _file(self, name: str, ext: str = "json") -> str:
        return os.path.join(self.root, f"{name.lower()}.{ext}")

    def _load(self, name: str) -> Optional[dict[str, Any]]:
        try:
            with open(self._file(name), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def _save(self, name: str, data: dict[str, Any]) -> None:
        os.makedirs(self.root, exist_ok=True)
        temporary = self._file(name) + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        os.replace(temporary, self._file(name))

    def _require(self, name: str) -> dict[str, Any]:
        data = self._load(name)
        if data is None:
            raise NotFound(f"Service '{name}' does not exist.", target=name)
        return data

    def _record(self, name: str, event: str, pid: int) -> None:
        with open(os.path.join(self.root, "history.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": time.time(), "service": name, "event": event, "pid": pid}) + "\n")

    def _runtime(self, name: str) -> Optional[tuple[int, float]]:
        """(pid, start time) of the service's process while it runs, else None."""
        import psutil

        try:
            with open(self._file(name, "pid"), encoding="utf-8") as handle:
                state = json.load(handle)
            process = psutil.Process(int(state["pid"]))
            if abs(process.create_time() - float(state["startedAt"])) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
                return None
            return int(state["pid"]), float(state["startedAt"])
        except (FileNotFoundError, ValueError, KeyError, psutil.Error):
            return None

    # -- reading ------------------------------------------------------------------------------
    def require_services(self) -> None:
        return None

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        return STANDIN_NSSM, "stand-in"

    def read_service(self, name: str) -> Any:
        from prefectwin.services.state import RUNNING, STOPPED, ServiceRecord

        data = self._load(name)
        if data is None:
            return None
        running = self._runtime(name)
        return ServiceRecord(
            name=data["name"],
            status=RUNNING if running else STOPPED,
            pid=running[0] if running else None,
            app_pids=(running[0],) if running else (),
            started_at=running[1] if running else None,
            parameters={k: tuple(v) for k, v in data["parameters"].items()},
            marker=data.get("marker"),
        )

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[Any]:
        if names is None:
            found = sorted(f[: -len(".json")] for f in os.listdir(self.root) if f.endswith(".json")) if os.path.isdir(self.root) else []
            records = [self.read_service(n) for n in found]
            return [r for r in records if r is not None and r.managed is not None]
        return [r for r in (self.read_service(n) for n in names) if r is not None]

    # -- records of what Windows would enforce -------------------------------------------------
    def _records(self, kind: str) -> Any:
        try:
            with open(os.path.join(self.root, f"{kind}.records"), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {} if kind == "firewall" else []

    def _keep(self, kind: str, data: Any) -> None:
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, f"{kind}.records")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        os.replace(path + ".tmp", path)

    def _has(self, path: str, principal: str, rights: str) -> bool:
        return [path, principal.lower(), rights] in self._records("acl")

    def _change_grant(self, path: str, principal: str, rights: str, *, grant: bool) -> None:
        entry = [path, principal.lower(), rights]
        kept = [e for e in self._records("acl") if e != entry]
        self._keep("acl", kept + [entry] if grant else kept)

    def has_modify(self, path: str, principal: str) -> bool:
        return self._has(path, principal, "Modify")

    def has_read_execute(self, path: str, principal: str) -> bool:
        return self._has(path, principal, "ReadAndExecute")

    def grant_modify(self, path: str, principal: str) -> None:
        self._change_grant(path, principal, "Modify", grant=True)

    def revoke_modify(self, path: str, principal: str) -> None:
        self._change_grant(path, principal, "Modify", grant=False)

    def grant_read_execute(self, path: str, principal: str) -> None:
        self._change_grant(path, principal, "ReadAndExecute", grant=True)

    def revoke_read_execute(self, path: str, principal: str) -> None:
        self._change_grant(path, principal, "ReadAndExecute", grant=False)

    def firewall_rule_port(self, name: str) -> Optional[int]:
        rule = self._records("firewall").get(name)
        return int(rule["port"]) if rule else None

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        rule = self._records("firewall").get(name)
        if not rule:
            return None
        return tuple(rule["remote"]) or ("Any",), tuple(rule["profiles"]) or ("Domain", "Private", "Public")

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        rules = self._records("firewall")
        rules[name] = {"port": port, "remote": list(remote_addresses), "profiles": list(profiles)}
        self._keep("firewall", rules)

    def remove_firewall_rule(self, name: str) -> None:
        rules = self._records("firewall")
        rules.pop(name, None)
        self._keep("firewall", rules)

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Any) -> None:
        self.nssm_set(nssm, name, "ObjectName", (account,))

    def service_account_facts(self, principal: str) -> Any:
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        environment = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_") and k != ROOT_VARIABLE}
        return ServiceAccountFacts(principal=principal, environment=environment)

    # -- changing -----------------------------------------------------------------------------
    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        if self._load(name) is not None:
            raise ApplyFailed(f"Service '{name}' exists already.", target=name)
        self._save(name, {"name": name, "parameters": {"Application": [application]}, "marker": None})

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        data = self._require(name)
        data["parameters"][parameter] = list(_plain(values))
        self._save(name, data)

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        data = self._require(name)
        data["parameters"].pop(parameter, None)
        self._save(name, data)

    def write_marker(self, name: str, text: Optional[str]) -> None:
        data = self._require(name)
        data["marker"] = text
        self._save(name, data)

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        if self._runtime(name):
            self.stop_service(name, timeout_sec)
        for ext in ("json", "pid"):
            try:
                os.remove(self._file(name, ext))
            except FileNotFoundError:
                pass

    def start_service(self, name: str, timeout_sec: int) -> None:
        import psutil

        data = self._require(name)
        if self._runtime(name):
            return
        parameters = data["parameters"]
        first = lambda key: (parameters.get(key) or [None])[0]  # noqa: E731
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_") and k != ROOT_VARIABLE}
        for entry in parameters.get("AppEnvironmentExtra", []):
            key, _, value = entry.partition("=")
            env[key] = value
        argv = [first("Application"), *split_command_line(first("AppParameters") or "")]
        cwd = first("AppDirectory")
        streams = []
        try:
            for key in ("AppStdout", "AppStderr"):
                path = first(key)
                if path:
                    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                    streams.append(open(path, "ab"))
                else:
                    streams.append(open(os.devnull, "wb"))
            # Not processes.start: a service outlives the command that started it.
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=streams[0], stderr=streams[1], start_new_session=True
            )
        except OSError as exc:
            raise ApplyFailed(f"Service '{name}' could not start '{argv[0]}': {exc.strerror or exc}.", target=name) from None
        finally:
            for stream in streams:
                stream.close()
        with open(self._file(name, "pid"), "w", encoding="utf-8") as handle:
            json.dump({"pid": process.pid, "startedAt": psutil.Process(process.pid).create_time()}, handle)
        self._record(data["name"], "started", process.pid)
        # Like NSSM: Running once the application lives past its first moment.
        time.sleep(0.3)
        if process.poll() is not None:
            raise ApplyFailed(f"Service '{name}' exited at once (exit code {process.returncode}); see {first('AppStderr')}.", target=name)

    def stop_service(self, name: str, timeout_sec: int) -> None:
        self._require(name)
        running = self._runtime(name)
        if not running:
            return
        pid = running[0]
        data = self._require(name)
        console_ms = int((data["parameters"].get("AppStopMethodConsole") or ["15000"])[0])
        grace = min(timeout_sec, console_ms / 1000)
        self._record(data["name"], "stopping", pid)
        try:
            os.killpg(pid, signal.SIGINT)  # Ctrl-C reaches every process of the console
        except ProcessLookupError:
            return
        if not _ended(pid, grace):
            try:
                os.killpg(pid, signal.SIGKILL)  # AppKillProcessTree: what is left of the tree
            except (ProcessLookupError, PermissionError):
                pass
            if not _ended(pid, max(1.0, timeout_sec - grace)):
                raise OperationTimeout(f"Service '{name}' did not stop within {timeout_sec} s.", target=name)
        _end_group(pid)
        try:
            os.remove(self._file(name, "pid"))
        except FileNotFoundError:
            pass
        self._record(data["name"], "stopped", pid)


def _ended(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited. A service started by this very process is its child, and
    a child that exited stays a zombie until it is reaped: reap it, or count a zombie (whose
    parent reaps it) as ended."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass  # not ours
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _end_group(pgid: int) -> None:
    """What the application left in its process group goes too, as NSSM's AppKillProcessTree
    ends the tree once the application has exited."""
    import psutil

    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = []
        for process in psutil.process_iter(["status"]):
            try:
                if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        if not alive:
            return
        time.sleep(0.1)


def standin_root() -> Optional[str]:
    root = os.environ.get(ROOT_VARIABLE)
    return os.path.abspath(root) if root else None
