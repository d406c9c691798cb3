"""The adapter interface. Both real adapters and the tests' fake implement it."""
from __future__ import annotations

from typing import Literal, Optional, Protocol

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
