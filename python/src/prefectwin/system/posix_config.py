"""Linux and macOS face of the configuration methods: they have no persistent per-user or
machine environment store, execution policy, long-path switch or Defender, so these raise
NotSupported (callers check `adapter.name` first and report "not Windows")."""
from __future__ import annotations

import os
from typing import NoReturn, Optional

from prefectwin.errors import NotSupported


def _windows_only(what: str) -> NoReturn:
    raise NotSupported(f"{what} exists on Windows only.", remediation="Run this on the Windows machine.")


class PosixConfigMixin:
    def is_admin(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        _windows_only(f"A persistent {scope} environment variable")

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        _windows_only(f"A persistent {scope} environment variable")

    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        _windows_only("The persistent user PATH")

    def set_user_path(self, raw: Optional[str]) -> None:
        _windows_only("The persistent user PATH")

    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        _windows_only("The PowerShell execution policy")

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        _windows_only("The LongPathsEnabled switch")

    def add_defender_exclusions(self, paths: list[str]) -> None:
        _windows_only("Microsoft Defender")

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        _windows_only("Microsoft Defender")
