"""The adapter interface. Both real adapters and the tests' fake implement it."""
from __future__ import annotations

from typing import Any, Literal, Optional, Protocol, Sequence

from prefectwin.diagnosis.facts import WindowsFacts

DriveKind = Literal["local", "mapped", "unc", "unknown"]


class SystemAdapter(Protocol):
    name: str

    def windows_facts(self) -> Optional[WindowsFacts]:
        """Admin rights, execution policy, firewall, Defender, long paths, NSSM; None off Windows."""

    def console_code_page(self) -> Optional[int]:
        """The console's output code page, where the OS has such a thing."""

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        """Whether a path is local, on a mapped drive or a UNC share, and the UNC it maps to."""

    # -- configuration changes (system/windows_config.py, system/posix_config.py) -----------
    def is_admin(self) -> bool:
        """Administrator (Windows) or root (POSIX)."""

    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        """A persistent 'User' or 'Machine' environment variable; Windows only."""

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        """Set, or with None remove, a persistent 'User' or 'Machine' variable; Windows only."""

    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        """The persistent user PATH as stored (unexpanded) and expanded; Windows only."""

    def set_user_path(self, raw: Optional[str]) -> None:
        """Write the persistent user PATH (REG_EXPAND_SZ); None removes it; Windows only."""

    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        """Set-ExecutionPolicy -Scope CurrentUser; None removes it; Windows only."""

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        """HKLM LongPathsEnabled; None removes the value; Windows only, needs admin."""

    def add_defender_exclusions(self, paths: list[str]) -> None:
        """Add Defender exclusion paths; Windows only, needs admin."""

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        """Remove Defender exclusion paths (the undo of add); Windows only, needs admin."""

    # -- services (system/windows_services.py, system/posix_services.py) ---------------------
    # Reading: require_services (NotSupported off Windows), find_nssm(explicit) -> (path,
    # version), read_service(name) and read_managed_services(names) -> ServiceRecord(s),
    # path_exists, has_modify(path, principal), firewall_rule_port(name).
    # Changing: create_directory, remove_path, nssm_install, nssm_set, nssm_reset,
    # set_service_account, write_marker, start_service, stop_service, remove_service,
    # grant_modify, revoke_modify, add_firewall_rule, remove_firewall_rule.
    def require_services(self) -> None:
        """Raise NotSupported where there is no Windows Service Control Manager."""

    def read_service(self, name: str) -> Any:
        """One service as a services.state.ServiceRecord, managed or not; None if absent."""

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[Any]:
        """Every service with PrefectWin's marker (or those named), in one batch."""

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        """nssm set NAME PARAMETER VALUE...: an argument list, one argument per value."""

    def start_service(self, name: str, timeout_sec: int) -> None:
        """Start through the SCM and wait until Running."""

    def stop_service(self, name: str, timeout_sec: int) -> None:
        """Stop through the SCM (Ctrl-C, then NSSM kills); kill the tree after the timeout."""
