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

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from prefectwin.services.spec import PROFILES_PATH_KEY, SECRETS_FILE_SUFFIX, ServiceSpec, firewall_rule_name, launcher_arguments, log_task_name, parse_marker

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
    # The spec's secrets file as it is (None: absent), and what is wrong with its access list.
    # A fingerprint shows SecretStr as a mask, so `secrets_file_current` says whether it holds
    # what the spec wants.
    secrets_file: Optional[SecretStr] = None
    secrets_file_current: bool = False
    secrets_file_problems: tuple[str, ...] = ()
    # It exists but this session may not read it (-WhatIf without administrator rights).
    secrets_file_unreadable: bool = False
    # A secrets file PrefectWin wrote earlier that the service will no longer read (its
    # secrets are gone, or its working directory moved), with what it holds.
    stale_secrets_file: Optional[str] = None
    stale_secrets_content: Optional[SecretStr] = None
    stale_secrets_unreadable: bool = False
    # The same for the spec's launcher (spec.launcher_file), which holds no secret but must be
    # PrefectWin's own text, changeable by nobody but SYSTEM and Administrators.
    launcher_file: Optional[SecretStr] = None
    launcher_file_current: bool = False
    launcher_file_problems: tuple[str, ...] = ()
    launcher_file_unreadable: bool = False
    stale_launcher_file: Optional[str] = None
    stale_launcher_content: Optional[SecretStr] = None
    stale_launcher_unreadable: bool = False


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


def secrets_file_of(record: Optional[ServiceRecord]) -> Optional[str]:
    """The secrets file an installed service reads: its NSSM environment's PREFECT_PROFILES_PATH,
    when that names a file PrefectWin writes (<name>.secrets.toml)."""
    for entry in (record.parameters.get("AppEnvironmentExtra", ()) if record else ()):
        key, _, value = entry.partition("=")
        if key.upper() == PROFILES_PATH_KEY and value.lower().endswith(SECRETS_FILE_SUFFIX):
            return value
    return None


def launcher_of(record: Optional[ServiceRecord]) -> Optional[str]:
    """The launcher an installed service runs (its AppParameters' first argument, when that is
    a <name>.launcher.py followed by a secrets file)."""
    prefix = launcher_prefix(record)
    return prefix[0] if prefix else None


def launcher_prefix(record: Optional[ServiceRecord]) -> tuple[str, ...]:
    """(launcher, secrets file) that the service's python runs before `-m prefect`; () when it
    starts `-m prefect` directly."""
    from prefectwin.diagnosis.service import split_command_line

    if record is None:
        return ()
    launcher, secrets, _ = launcher_arguments(tuple(split_command_line(" ".join(record.parameters.get("AppParameters", ())))))
    return (launcher, secrets) if launcher and secrets else ()


def _restricted_state(prefix: str, path: Optional[str], wanted: Optional[SecretStr], old: Optional[str], principal: str, adapter: Any) -> dict[str, Any]:
    """`<prefix>_file`, `_current`, `_problems`, `_unreadable` of the file the spec wants, and
    `stale_<prefix>_file`, `_content`, `_unreadable` of the one the service used before."""
    from prefectwin.errors import PermissionDenied
    from prefectwin.services.secrets_file import access_problems

    found: dict[str, Any] = {}
    if path:
        try:
            current = adapter.read_restricted_file(path)
        except PermissionDenied:
            current = None
            found[f"{prefix}_file_unreadable"] = True
        else:
            found[f"{prefix}_file"] = current
            found[f"{prefix}_file_current"] = current is not None and wanted is not None and current.get_secret_value() == wanted.get_secret_value()
            if current is not None:
                access = adapter.file_access(path, principal)
                found[f"{prefix}_file_problems"] = tuple(access_problems(access, principal)) if access else ()
    if old and old != path:
        try:
            content = adapter.read_restricted_file(old)
        except PermissionDenied:
            # A non-elevated -WhatIf still plans the removal; without the old text it cannot be undone.
            found[f"stale_{prefix}_file"], found[f"stale_{prefix}_unreadable"] = old, True
        else:
            if content is not None:
                found[f"stale_{prefix}_file"], found[f"stale_{prefix}_content"] = old, content
    return found


def _secrets_state(spec: ServiceSpec, record: Optional[ServiceRecord], adapter: Any) -> dict[str, Any]:
    principal = spec.account_principal
    return {
        **_restricted_state("secrets", spec.secrets_file, spec.secrets_text(), secrets_file_of(record), principal, adapter),
        **_restricted_state("launcher", spec.launcher_file, spec.launcher_text(), launcher_of(record), principal, adapter),
    }


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
        **_secrets_state(spec, record, adapter),
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
