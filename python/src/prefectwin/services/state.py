"""What the machine has now, as plain data: read through the system adapter, judged elsewhere.

`ServiceRecord` is what an adapter reports about one installed service. `ServiceState` adds
what a plan also depends on: which directories exist, whether the account may modify them,
and the firewall rule. Planners take these models, never the adapter.
"""
from __future__ import annotations

import glob
import os
import time
from typing import Any, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from prefectwin.services.spec import ServiceSpec, firewall_rule_name, log_task_name, parse_marker

RUNNING = "Running"
STOPPED = "Stopped"


class ServiceRecord(BaseModel):
    """One installed service, as the Service Control Manager and NSSM's registry keys say.

    `parameters` holds each NSSM and SCM setting as `nssm get` would print it, split into the
    values `nssm set` takes: ("SERVICE_AUTO_START",), ("Default", "Restart"), one KEY=VALUE per
    environment variable. A parameter that is not set is absent.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    status: str = STOPPED
    pid: Optional[int] = None
    app_pids: tuple[int, ...] = ()
    started_at: Optional[float] = None
    parameters: dict[str, tuple[str, ...]] = {}
    marker: Optional[str] = None

    @property
    def managed(self) -> Optional[dict[str, Any]]:
        return parse_marker(self.marker)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def is_nssm(self) -> bool:
        return bool(self.parameters.get("Application"))

    def owns_pid(self, pid: Optional[int]) -> bool:
        return pid is not None and (pid == self.pid or pid in self.app_pids)


class ServiceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    record: Optional[ServiceRecord] = None
    directories: dict[str, bool] = {}
    access: dict[str, bool] = {}
    firewall_port: Optional[int] = None
    # The rule's (remote addresses, profiles) as Windows reports them; None without a rule.
    firewall_scope: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None
    # Whether the account may read and execute each interpreter folder (spec.runtime_directories).
    read_access: dict[str, bool] = {}
    # NSSM's rotated copies of each log: log path -> [(copy, modification time)].
    rotated_logs: dict[str, tuple[tuple[str, float], ...]] = {}
    # When the state was read, for the retention's ages; not part of the state itself, so the
    # plan's fingerprint (model_dump) leaves it out and a re-check minutes later still matches.
    now: float = Field(0.0, exclude=True)
    # The retention task's (command, arguments) as registered; None when there is none.
    log_task: Optional[tuple[str, str]] = None


def rotated_logs(log_paths: Sequence[str]) -> dict[str, tuple[tuple[str, float], ...]]:
    from prefectwin.services.logfiles import rotated_copies

    found: dict[str, tuple[tuple[str, float], ...]] = {}
    for path in log_paths:
        copies = []
        for copy in rotated_copies(path):
            try:
                copies.append((copy, os.stat(copy).st_mtime))
            except FileNotFoundError:
                continue
        found[path] = tuple(copies)
    return found


def read_state(spec: ServiceSpec, adapter: Any) -> ServiceState:
    """Everything `plan_install` needs to know about the machine, for this spec."""
    record = adapter.read_service(spec.name)
    directories = {path: adapter.path_exists(path) for path in dict.fromkeys((spec.prefect_home, spec.log_directory, *spec.modify_directories))}
    access = {path: adapter.has_modify(path, spec.account_principal) for path, exists in directories.items() if exists}
    rule = firewall_rule_name(spec.name)
    port = adapter.firewall_rule_port(rule)
    return ServiceState(
        record=record,
        directories=directories,
        access=access,
        read_access={path: adapter.has_read_execute(path, spec.account_principal) for path in spec.runtime_directories},
        firewall_port=port,
        firewall_scope=adapter.firewall_rule_scope(rule) if port is not None else None,
        rotated_logs=rotated_logs(spec.log_paths),
        now=time.time(),
        log_task=adapter.scheduled_task(log_task_name(spec.name)) if spec.prune_command else None,
    )


def log_files(log_paths: list[str]) -> list[str]:
    """The service's log files and NSSM's rotated copies of them (NAME-<timestamp>.EXT)."""
    found: list[str] = []
    for path in log_paths:
        stem, ext = os.path.splitext(path)
        for candidate in [path, *sorted(glob.glob(glob.escape(stem) + "-*" + glob.escape(ext)))]:
            if os.path.isfile(candidate) and candidate not in found:
                found.append(candidate)
    return found


def sqlite_files(path: Optional[str]) -> list[str]:
    """A SQLite database and the journal files SQLite keeps beside it."""
    if not path:
        return []
    return [p for p in (path, path + "-wal", path + "-shm", path + "-journal") if os.path.isfile(p)]
