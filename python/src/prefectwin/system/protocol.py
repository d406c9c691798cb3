"""The one adapter protocol: every method any system adapter offers, with its types.

WindowsAdapter, PosixAdapter and the tests' fakes each implement all of it (tests/system/test_layout.py
checks that, and that no adapter offers a public method outside it). Callers check
`adapter.name` before asking for something only Windows has; the POSIX adapter answers such a
call with NotSupported rather than a wrong value.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    from pydantic import SecretStr

    from prefectwin.diagnosis.facts import ServiceAccountFacts, WindowsFacts
    from prefectwin.services.secrets_file import FileAccess
    from prefectwin.services.state import ServiceRecord

DriveKind = Literal["local", "mapped", "unc", "unknown"]


@runtime_checkable
class SystemAdapter(Protocol):
    #: "windows", "posix", or a fake's own name
    name: str

    # -- facts for the diagnosis --------------------------------------------------------------
    def windows_facts(self) -> Optional[WindowsFacts]:
        """Admin rights, execution policy, firewall, Defender, long paths, NSSM; None off Windows."""

    def console_code_page(self) -> Optional[int]:
        """The console's output code page, where the OS has such a thing."""

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        """Whether a path is local, on a mapped drive or a UNC share, and the UNC it maps to."""

    def is_admin(self) -> bool:
        """Administrator (Windows) or root (POSIX)."""

    # -- configuration: Windows only ------------------------------------------------------------
    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        """A persistent 'User' or 'Machine' environment variable."""

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        """Set, or with None remove, a persistent 'User' or 'Machine' variable."""

    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        """The persistent user PATH as stored (unexpanded) and expanded."""

    def set_user_path(self, raw: Optional[str]) -> None:
        """Write the persistent user PATH (REG_EXPAND_SZ); None removes it."""

    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        """Set-ExecutionPolicy -Scope CurrentUser; None removes it."""

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        """HKLM LongPathsEnabled; None removes the value; needs admin."""

    def add_defender_exclusions(self, paths: list[str]) -> None:
        """Add Defender exclusion paths; needs admin."""

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        """Remove Defender exclusion paths (the undo of add); needs admin."""

    # -- files: the same on every OS ------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        """Whether a file or directory exists."""

    def directory_entries(self, path: str) -> list[str]:
        """The names in a directory, sorted; none for a missing path or a file."""

    def create_directory(self, path: str) -> None:
        """Create a directory and its parents; an existing one is no error."""

    def remove_path(self, path: str) -> None:
        """Delete a file, or a directory with everything in it; a missing path is no error."""

    # -- restricted files: a service's secrets (system/windows_files.py; POSIX: mode 0400) -----
    def write_restricted_file(self, path: str, content: SecretStr, reader: str) -> None:
        """Replace the file atomically with `content` (UTF-8), readable by `reader` (an ACL
        principal) and changeable only by SYSTEM and Administrators, inheritance off."""

    def read_restricted_file(self, path: str) -> Optional[SecretStr]:
        """The file's text; None when there is no such file."""

    def file_access(self, path: str, reader: str) -> Optional[FileAccess]:
        """Who may read and change the file, with `reader` resolved to its SID; None if absent."""

    def restrict_to_administrators(self, path: str) -> None:
        """Let only SYSTEM and Administrators into the folder `path` (PrefectWin's own records,
        such as the change journal, which can hold service specs): on Windows a protected DACL
        with Full Control for those two and nothing inherited; on POSIX mode 0700."""

    # -- services: reading (Windows only) -------------------------------------------------------
    def require_services(self) -> None:
        """Raise NotSupported where there is no Windows Service Control Manager."""

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        """NSSM's path and version: the one given, else the one on PATH; (None, None) if absent."""

    def read_service(self, name: str) -> Optional[ServiceRecord]:
        """One service, managed or not; None if absent."""

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[ServiceRecord]:
        """Every service with PrefectWin's marker (or those named), in one batch."""

    def has_modify(self, path: str, principal: str) -> bool:
        """Whether the principal holds Modify on the directory."""

    def firewall_rule_port(self, name: str) -> Optional[int]:
        """The TCP port of the inbound rule with this display name; None when there is none."""

    def has_read_execute(self, path: str, principal: str) -> bool:
        """Whether the principal may read and execute in the directory, itself or through the
        groups every service account belongs to (Users, Authenticated Users, ...)."""

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(remote addresses, profiles) of the inbound rule with this display name, as Windows
        reports them; None when there is none."""

    def service_account_facts(self, principal: str) -> ServiceAccountFacts:
        """The environment block, execution policies and network identity of a service account
        (an ACL principal such as NT AUTHORITY\\SYSTEM), as its service sees them."""

    # -- services: changing (Windows only) ------------------------------------------------------
    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        """nssm install NAME APPLICATION."""

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        """nssm set NAME PARAMETER VALUE...: an argument list, one argument per value."""

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        """nssm reset NAME PARAMETER."""

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Optional[SecretStr]) -> None:
        """The account the service runs as (NSSM grants it 'Log on as a service')."""

    def write_marker(self, name: str, text: Optional[str]) -> None:
        """Write (or with None delete) PrefectWin's marker value on the service's key."""

    def start_service(self, name: str, timeout_sec: int) -> None:
        """Start through the SCM and wait until Running."""

    def stop_service(self, name: str, timeout_sec: int) -> None:
        """Stop through the SCM (Ctrl-C, then NSSM kills); kill the tree after the timeout."""

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        """Stop and remove the service; an absent one is no error."""

    def grant_modify(self, path: str, principal: str) -> None:
        """Give the principal Modify on the directory, inherited by what is in it."""

    def revoke_modify(self, path: str, principal: str) -> None:
        """Take back what grant_modify gave."""

    def grant_read_execute(self, path: str, principal: str) -> None:
        """Give the principal read and execute on the directory, inherited by what is in it."""

    def revoke_read_execute(self, path: str, principal: str) -> None:
        """Take back what grant_read_execute gave."""

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        """An inbound rule allowing TCP on the port, from the remote addresses on the profiles
        given (services/firewall.py); an empty one is Windows' default: any."""

    def remove_firewall_rule(self, name: str) -> None:
        """Delete the rule with this display name."""

    # -- crash loops and log retention (Windows only) -------------------------------------------
    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        """NSSM's Application-log events for one service (every service with None), newer than
        `after` (epoch s), oldest first: {time, level, eventId, recordId, message, strings}."""

    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        """The Service Control Manager's failure actions ((kind, delay ms)...) and reset period."""

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        """A scheduled task's (command, arguments); None when there is no such task."""

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        """Register (or replace) a daily task that runs as SYSTEM."""

    def remove_scheduled_task(self, name: str) -> None:
        """Delete a scheduled task; an absent one is no error."""


    # -- the target interpreter and its database (system/interpreter.py; the same on every OS) --
    def pip_freeze(self, python: str) -> list[str]:
        """The interpreter's distributions as name==version (editable and URL installs left out)."""

    def pip_install(self, python: str, requirements: Sequence[str], wheel_path: Optional[str], *, no_deps: bool = False) -> None:
        """python -m pip install; with wheel_path only from that folder, never an index."""

    def pip_uninstall(self, python: str, names: Sequence[str]) -> None:
        """python -m pip uninstall --yes."""

    def prefect_database_upgrade(self, python: str, environment: dict[str, str], cwd: Optional[str], secrets: Sequence[str] = (), launcher: Sequence[str] = ()) -> None:
        """python -m prefect server database upgrade --yes, in the service's environment; through
        `launcher` (the service's launcher and secrets file) when the service starts that way."""

    def sqlite_backup(self, source: str, destination: str) -> None:
        """A consistent copy through SQLite's online backup API."""

    def sqlite_restore(self, backup: str, database: str) -> None:
        """Replace an unused database with an exact copy of the backup."""

    # -- a new interpreter and the service wrapper (Install-PrefectStack) -----------------------
    def find_base_python(self, explicit: Optional[str]) -> Optional[tuple[str, str]]:
        """(executable, X.Y.Z) of the Python a venv is made from: the one given, else the py
        launcher's Python 3 (Windows) or python3 on PATH (POSIX); None when there is none."""

    def create_venv(self, base_python: str, path: str) -> None:
        """base_python -m venv PATH."""

    def nssm_installers(self) -> list[tuple[str, str]]:
        """The package managers that can install NSSM here, preferred first, as (name, path):
        winget, then Chocolatey (choco); empty off Windows."""

    def install_nssm(self, installer: str) -> str:
        """Install NSSM with that package manager; the nssm.exe it installed."""


def protocol_methods() -> tuple[str, ...]:
    """The names of the protocol's methods, in the order above."""
    return tuple(n for n, v in vars(SystemAdapter).items() if callable(v) and not n.startswith("_"))
