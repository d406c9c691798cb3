"""A stateful fake of the service half of the system adapter (system/windows_services.py).

FakeServiceAdapter extends the recording FakeAdapter with an in-memory machine: services
(NSSM parameters, marker, status), directories, ACL grants and firewall rules. Every call is
recorded (`.calls`), and `fail_on` / `fail_on_call` work as in FakeAdapter. In addition:

    adapter.fail_at_change = 3      the 3rd state-CHANGING call raises (once), before changing
                                    anything; reads never count, so "fail at step k" is exact
    adapter.snapshot()              the whole machine as plain data, to compare before/after

Restricted files (a service's secrets file) live in `secret_files` (path -> text) with the
access list Windows would give them in `file_acls` (path -> FileAccess); an account's SID is
"S-<account, lower case>", as in tests/fakes/service_dotnet.py.

`nssm_install` writes the defaults real NSSM 2.24 writes, so a plan's first apply and its
idempotency are tested against what a fresh NSSM service looks like.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pydantic import SecretStr

from fakes.adapter import FakeAdapter
from prefectwin.errors import ApplyFailed, NotFound
from prefectwin.services.state import ServiceRecord

NSSM_PATH = "C:\\Tools\\nssm\\nssm.exe"
NSSM_VERSION = "2.24.101.0"

CHANGING = frozenset(
    {
        "create_directory",
        "remove_path",
        "nssm_install",
        "nssm_set",
        "nssm_reset",
        "set_service_account",
        "write_marker",
        "start_service",
        "stop_service",
        "remove_service",
        "grant_modify",
        "revoke_modify",
        "grant_read_execute",
        "revoke_read_execute",
        "add_firewall_rule",
        "remove_firewall_rule",
        "pip_install",
        "pip_uninstall",
        "prefect_database_upgrade",
        "sqlite_backup",
        "sqlite_restore",
        "set_failure_actions",
        "register_scheduled_task",
        "remove_scheduled_task",
        "write_restricted_file",
        "create_venv",
        "install_nssm",
    }
)
BASE_PYTHON = ("C:\\Python312\\python.exe", "3.12.4")
# What each package manager installs, and where (tests/fakes: install_nssm).
NSSM_PACKAGES = {
    "winget": ("C:\\Program Files\\WinGet\\Links\\nssm.exe", "2.24.101.20180116"),
    "choco": ("C:\\ProgramData\\chocolatey\\bin\\nssm.exe", "2.24.101.20180116"),
}


def venv_python(venv: str) -> str:
    """The interpreter of a venv, as the fake's create_venv makes it (Windows' layout for a
    Windows path, POSIX's otherwise)."""
    return venv + "\\Scripts\\python.exe" if "\\" in venv else venv + "/bin/python"


class InjectedFailure(RuntimeError):
    """What a failing fake call raises."""


@dataclass
class FakeService:
    name: str
    parameters: dict[str, tuple[str, ...]]
    marker: Optional[str] = None
    status: str = "Stopped"
    pid: Optional[int] = None
    app_pids: tuple[int, ...] = ()
    started_at: Optional[float] = None
    password_set: bool = False

    def record(self) -> ServiceRecord:
        return ServiceRecord(
            name=self.name,
            status=self.status,
            pid=self.pid if self.status == "Running" else None,
            app_pids=self.app_pids if self.status == "Running" else (),
            started_at=self.started_at if self.status == "Running" else None,
            parameters=dict(self.parameters),
            marker=self.marker,
        )


def nssm_defaults(name: str, application: str) -> dict[str, tuple[str, ...]]:
    """What `nssm install NAME APP` leaves in the registry (NSSM 2.24)."""
    return {
        "Application": (application,),
        "AppDirectory": (application.rsplit("\\", 1)[0] if "\\" in application else os.path.dirname(application),),
        "AppExit": ("Default", "Restart"),
        "AppRestartDelay": ("0",),
        "AppStopMethodSkip": ("0",),
        "AppStopMethodConsole": ("1500",),
        "AppThrottle": ("1500",),
        "DisplayName": (name,),
        "ObjectName": ("LocalSystem",),
        "Start": ("SERVICE_AUTO_START",),
    }


def _plain(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in values)


class FakeServiceAdapter(FakeAdapter):
    def __init__(
        self,
        *,
        admin: bool = True,
        nssm: tuple[Optional[str], Optional[str]] = (NSSM_PATH, NSSM_VERSION),
        services: Sequence[FakeService] = (),
        directories: Sequence[str] = (),
        access: Sequence[tuple[str, str]] = (),
        firewall: Optional[dict[str, int]] = None,
        firewall_scopes: Optional[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = None,
        readable: Sequence[tuple[str, str]] = (),
        accounts: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.admin = admin
        self.nssm_found = nssm
        self.services: dict[str, FakeService] = {s.name.lower(): s for s in services}
        self.directories: set[str] = set(directories)
        self.access: set[tuple[str, str]] = set(access)
        self.firewall: dict[str, int] = dict(firewall or {})
        #: rule name -> (remote addresses, profiles); a rule without an entry is open to any
        #: address on every profile, as netsh makes it without remoteip and profile
        self.firewall_scopes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = dict(firewall_scopes or {})
        #: (path, principal) pairs that may read and execute (grant_read_execute adds to it)
        self.readable: set[tuple[str, str]] = set(readable)
        #: principal (case-insensitive) -> ServiceAccountFacts that service_account_facts returns;
        #: an unknown principal gets one with an empty environment and no policies
        self.accounts: dict[str, Any] = {k.lower(): v for k, v in (accounts or {}).items()}
        self.fail_at_change: Optional[int] = None
        self.changes = 0
        #: every nssm argument list, as the Windows adapter would run it
        self.nssm_argv: list[list[str]] = []
        #: interpreter -> {distribution: version}: what pip_freeze reports, pip_install changes
        self.packages: dict[str, dict[str, str]] = {}
        #: what a new release's pip_install adds besides itself (name -> version)
        self.brings: dict[str, dict[str, str]] = {}
        #: file -> its content: a database is its schema revision, a backup a copy of one
        self.files: dict[str, str] = {}
        #: database file -> the revision prefect_database_upgrade moves it to
        self.migrates_to = "new-revision"
        #: NSSM's Application-log events, as read_service_events reports them:
        #: {time (epoch), level, eventId, recordId, message, strings (insertion strings)}
        self.events: list[dict[str, Any]] = []
        #: scheduled tasks: name -> (command, arguments)
        self.tasks: dict[str, tuple[str, str]] = {}
        #: restricted files: path -> text, and path -> the FileAccess a write gave it
        self.secret_files: dict[str, str] = {}
        self.file_acls: dict[str, Any] = {}
        #: base interpreters find_base_python knows: path given (None: the launcher's) -> (executable, version)
        self.base_pythons: dict[Optional[str], tuple[str, str]] = {None: BASE_PYTHON, BASE_PYTHON[0]: BASE_PYTHON}
        #: interpreter files create_venv made (path_exists sees them; remove_path takes them away)
        self.interpreters: set[str] = set()
        #: package managers nssm_installers reports, by name (NSSM_PACKAGES says what each installs)
        self.installers: list[str] = []

    # -- recording and failing --------------------------------------------------------------
    def _record(self, name: str, args: tuple, kwargs: dict) -> None:
        super()._record(name, args, kwargs)
        if name in CHANGING:
            self.changes += 1
            if self.fail_at_change is not None and self.changes == self.fail_at_change:
                raise InjectedFailure(f"injected failure at change {self.changes} ({name})")

    def changing_calls(self) -> list[str]:
        return [c.name for c in self.calls if c.name in CHANGING]

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "services": {k: vars(v) for k, v in self.services.items()},
                "directories": sorted(self.directories),
                "access": sorted(self.access),
                "firewall": dict(self.firewall),
                "firewallScopes": dict(self.firewall_scopes),
                "readable": sorted(self.readable),
                "packages": self.packages,
                "files": self.files,
                "tasks": dict(self.tasks),
                "secret_files": dict(self.secret_files),
                "interpreters": sorted(self.interpreters),
                "nssm": self.nssm_found,
                "file_acls": {k: v.model_dump() for k, v in self.file_acls.items()},
            }
        )

    def _service(self, name: str) -> FakeService:
        service = self.services.get(name.lower())
        if service is None:
            raise NotFound(f"Service '{name}' does not exist.", target=name)
        return service

    # -- reading ----------------------------------------------------------------------------
    def require_services(self) -> None:
        self._record("require_services", (), {})

    def is_admin(self) -> bool:
        self._record("is_admin", (), {})
        return self.admin

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        self._record("find_nssm", (explicit,), {})
        if explicit:
            return (explicit, self.nssm_found[1]) if explicit == self.nssm_found[0] else (None, None)
        return self.nssm_found

    def read_service(self, name: str) -> Optional[ServiceRecord]:
        self._record("read_service", (name,), {})
        service = self.services.get(name.lower())
        return service.record() if service else None

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[ServiceRecord]:
        self._record("read_managed_services", (None if names is None else tuple(names),), {})
        from prefectwin.services.spec import parse_marker

        if names is None:
            return [s.record() for s in self.services.values() if parse_marker(s.marker)]
        return [self.services[n.lower()].record() for n in names if n.lower() in self.services]

    def service_account_facts(self, principal: str) -> Any:
        self._record("service_account_facts", (principal,), {})
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        return self.accounts.get(principal.lower()) or ServiceAccountFacts(principal=principal)

    def path_exists(self, path: str) -> bool:
        self._record("path_exists", (path,), {})
        return path in self.directories or path in self.secret_files or path in self.interpreters

    def directory_entries(self, path: str) -> list[str]:
        self._record("directory_entries", (path,), {})
        separator = "\\" if "\\" in path else "/"
        prefix = path.rstrip("\\/") + separator
        known = [*self.directories, *self.secret_files, *self.interpreters, *self.files]
        return sorted({p[len(prefix):].split(separator)[0] for p in known if p.startswith(prefix)})

    def has_modify(self, path: str, principal: str) -> bool:
        self._record("has_modify", (path, principal), {})
        return (path, principal) in self.access

    def firewall_rule_port(self, name: str) -> Optional[int]:
        self._record("firewall_rule_port", (name,), {})
        return self.firewall.get(name)

    def has_read_execute(self, path: str, principal: str) -> bool:
        self._record("has_read_execute", (path, principal), {})
        return (path, principal) in self.readable

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        self._record("firewall_rule_scope", (name,), {})
        if name not in self.firewall:
            return None
        return self.firewall_scopes.get(name, (("Any",), ("Domain", "Private", "Public")))

    # -- changing ---------------------------------------------------------------------------
    def create_directory(self, path: str) -> None:
        self._record("create_directory", (path,), {})
        self.directories.add(path)

    def remove_path(self, path: str) -> None:
        self._record("remove_path", (path,), {})
        self.directories = {d for d in self.directories if d != path and not d.startswith(path.rstrip("\\/") + ("\\" if "\\" in path else "/"))}
        self.access = {(p, who) for p, who in self.access if p in self.directories}
        for file in [f for f in self.secret_files if f == path or f.startswith(path.rstrip("\\/") + ("\\" if "\\" in path else "/"))]:
            self.secret_files.pop(file)
            self.file_acls.pop(file, None)
        for python in [p for p in self.interpreters if p.startswith(path.rstrip("\\/") + ("\\" if "\\" in path else "/"))]:
            self.interpreters.discard(python)
            self.packages.pop(python, None)

    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        self._record("nssm_install", (nssm, name, application), {})
        if name.lower() in self.services:
            raise ApplyFailed(f"'nssm install {name}' failed: the service exists.")
        self.nssm_argv.append([nssm or "nssm", "install", name, application])
        self.services[name.lower()] = FakeService(name=name, parameters=nssm_defaults(name, application))

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        self._record("nssm_set", (nssm, name, parameter, tuple(values)), {})
        self.nssm_argv.append([nssm or "nssm", "set", name, parameter, *_plain(values)])
        self._service(name).parameters[parameter] = _plain(values)

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        self._record("nssm_reset", (nssm, name, parameter), {})
        self.nssm_argv.append([nssm or "nssm", "reset", name, parameter])
        self._service(name).parameters.pop(parameter, None)

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Optional[SecretStr]) -> None:
        self._record("set_service_account", (nssm, name, account, password), {})
        service = self._service(name)
        service.parameters["ObjectName"] = (account,)
        service.password_set = password is not None

    def write_marker(self, name: str, text: Optional[str]) -> None:
        self._record("write_marker", (name, text), {})
        self._service(name).marker = text

    def start_service(self, name: str, timeout_sec: int) -> None:
        self._record("start_service", (name, timeout_sec), {})
        service = self._service(name)
        service.status = "Running"

    def stop_service(self, name: str, timeout_sec: int) -> None:
        self._record("stop_service", (name, timeout_sec), {})
        self._service(name).status = "Stopped"

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        self._record("remove_service", (nssm, name, timeout_sec), {})
        self.services.pop(name.lower(), None)

    def grant_modify(self, path: str, principal: str) -> None:
        self._record("grant_modify", (path, principal), {})
        self.access.add((path, principal))

    def revoke_modify(self, path: str, principal: str) -> None:
        self._record("revoke_modify", (path, principal), {})
        self.access.discard((path, principal))

    def grant_read_execute(self, path: str, principal: str) -> None:
        self._record("grant_read_execute", (path, principal), {})
        self.readable.add((path, principal))

    def revoke_read_execute(self, path: str, principal: str) -> None:
        self._record("revoke_read_execute", (path, principal), {})
        self.readable.discard((path, principal))

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        self._record("add_firewall_rule", (name, port), {"remote_addresses": tuple(remote_addresses), "profiles": tuple(profiles)})
        self.firewall[name] = port
        if remote_addresses or profiles:
            self.firewall_scopes[name] = (tuple(remote_addresses) or ("Any",), tuple(profiles) or ("Domain", "Private", "Public"))
        else:
            self.firewall_scopes.pop(name, None)

    def remove_firewall_rule(self, name: str) -> None:
        self._record("remove_firewall_rule", (name,), {})
        self.firewall.pop(name, None)
        self.firewall_scopes.pop(name, None)

    def write_restricted_file(self, path: str, content: SecretStr, reader: str) -> None:
        self._record("write_restricted_file", (path, content, reader), {})
        from prefectwin.services.secrets_file import ADMINISTRATORS_SID, SYSTEM_SID, AccessEntry, FileAccess

        # As Windows resolves the rule's account: NT SERVICE\<name> exists only with its service.
        if reader.lower().startswith("nt service\\") and reader.split("\\", 1)[1].lower() not in self.services:
            raise OSError(f"IdentityNotMappedException: some or all identity references could not be translated ({reader})")

        full, read = 0x1F01FF, 0x120089
        self.secret_files[path] = content.get_secret_value()
        self.file_acls[path] = FileAccess(
            owner="BUILTIN\\Administrators",
            owner_sid=ADMINISTRATORS_SID,
            inherits=False,
            entries=(
                AccessEntry(principal="NT AUTHORITY\\SYSTEM", sid=SYSTEM_SID, rights=full),
                AccessEntry(principal="BUILTIN\\Administrators", sid=ADMINISTRATORS_SID, rights=full),
                AccessEntry(principal=reader, sid=f"S-{reader.lower()}", rights=read),
            ),
        )

    def read_restricted_file(self, path: str) -> Optional[SecretStr]:
        self._record("read_restricted_file", (path,), {})
        return SecretStr(self.secret_files[path]) if path in self.secret_files else None

    def file_access(self, path: str, reader: str) -> Any:
        self._record("file_access", (path, reader), {})
        access = self.file_acls.get(path)
        return access.model_copy(update={"reader_sid": f"S-{reader.lower()}"}) if access is not None else None

    # -- the interpreter and its database (system/interpreter.py) -------------------------------
    def pip_freeze(self, python: str) -> list[str]:
        self._record("pip_freeze", (python,), {})
        return [f"{name}=={version}" for name, version in sorted(self.packages.get(python, {}).items())]

    def pip_install(self, python: str, requirements: Sequence[str], wheel_path: Optional[str], *, no_deps: bool = False) -> None:
        self._record("pip_install", (python, tuple(requirements), wheel_path), {"no_deps": no_deps})
        installed = self.packages.setdefault(python, {})
        for requirement in requirements:
            name, _, version = requirement.partition("==")
            installed[name] = version
            installed.update(self.brings.get(requirement, {}))

    def pip_uninstall(self, python: str, names: Sequence[str]) -> None:
        self._record("pip_uninstall", (python, tuple(names)), {})
        for name in names:
            self.packages.get(python, {}).pop(name, None)

    def prefect_database_upgrade(self, python: str, environment: dict[str, str], cwd: Optional[str], secrets: Sequence[str] = (), launcher: Sequence[str] = ()) -> None:
        self._record("prefect_database_upgrade", (python, cwd), {"environment": dict(environment), "launcher": tuple(launcher)})
        home = environment.get("PREFECT_HOME", "")
        default = home + ("\\" if "\\" in home else "/") + "prefect.db"
        database = environment.get("PREFECT_SERVER_DATABASE_CONNECTION_URL", "").rpartition("///")[2] or default
        if database in self.files:
            self.files[database] = self.migrates_to

    def sqlite_backup(self, source: str, destination: str) -> None:
        self._record("sqlite_backup", (source, destination), {})
        self.files[destination] = self.files[source]

    def sqlite_restore(self, backup: str, database: str) -> None:
        self._record("sqlite_restore", (backup, database), {})
        self.files[database] = self.files[backup]
    # -- a new interpreter and the service wrapper ----------------------------------------------
    def find_base_python(self, explicit: Optional[str]) -> Optional[tuple[str, str]]:
        self._record("find_base_python", (explicit,), {})
        return self.base_pythons.get(explicit)

    def create_venv(self, base_python: str, path: str) -> None:
        self._record("create_venv", (base_python, path), {})
        self.directories.add(path)
        python = venv_python(path)
        self.interpreters.add(python)
        self.packages[python] = {"pip": "24.0"}

    def nssm_installers(self) -> list[tuple[str, str]]:
        self._record("nssm_installers", (), {})
        return [(name, f"C:\\Tools\\{name}.exe") for name in self.installers]

    def install_nssm(self, installer: str) -> str:
        self._record("install_nssm", (installer,), {})
        self.nssm_found = NSSM_PACKAGES[installer]
        return self.nssm_found[0]

    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        self._record("set_failure_actions", (name, reset_sec, tuple(tuple(a) for a in actions)), {})
        from prefectwin.services.spec import failure_values

        service = self._service(name)
        if reset_sec == 0 and not actions:
            service.parameters.pop("FailureActions", None)
        else:
            service.parameters["FailureActions"] = failure_values(reset_sec, tuple(tuple(a) for a in actions))

    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        self._record("read_service_events", (name, after, max_events), {})
        mine = [
            e
            for e in self.events
            if (name is None or name.lower() in (s.lower() for s in e.get("strings", ()))) and (after is None or e["time"] > after)
        ]
        return sorted(mine, key=lambda e: e["time"])[-max_events:]

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        self._record("scheduled_task", (name,), {})
        return self.tasks.get(name)

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        self._record("register_scheduled_task", (name, command, arguments), {})
        self.tasks[name] = (command, arguments)

    def remove_scheduled_task(self, name: str) -> None:
        self._record("remove_scheduled_task", (name,), {})
        self.tasks.pop(name, None)
