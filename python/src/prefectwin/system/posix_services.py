"""Service operations on Linux and macOS: there is no Windows Service Control Manager here.

Plain file operations are real (they are the same on every OS, and the Windows adapter
uses them too). Everything that needs the SCM, NSSM, Windows ACLs or the Windows firewall
raises NotSupported, so a command fails with a clear error before it changes anything.
"""
from __future__ import annotations

import os
import shutil
from typing import Any, NoReturn, Optional, Sequence

from prefectwin.errors import NotSupported


class LocalPaths:
    """Directories and files: create, test, delete."""

    def path_exists(self, path: str) -> bool:
        return os.path.exists(path)

    def create_directory(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def remove_path(self, path: str) -> None:
        """Delete a file, or a directory with everything in it; a missing path is no error."""
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def _unsupported(what: str = "Windows services") -> NoReturn:
    import platform

    raise NotSupported(
        f"{what} exist only on Windows; this machine runs {platform.system() or 'a non-Windows OS'}.",
        target="Service",
        remediation="Run this on Windows. On Linux and macOS, run the Prefect server or worker under systemd or launchd instead.",
    )


class PosixServices(LocalPaths):
    def require_services(self) -> None:
        _unsupported()

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        _unsupported("NSSM and Windows services")

    def read_service(self, name: str) -> Any:
        _unsupported()

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[Any]:
        _unsupported()

    def has_modify(self, path: str, principal: str) -> bool:
        _unsupported("Windows ACLs")

    def grant_modify(self, path: str, principal: str) -> None:
        _unsupported("Windows ACLs")

    def revoke_modify(self, path: str, principal: str) -> None:
        _unsupported("Windows ACLs")

    def firewall_rule_port(self, name: str) -> Optional[int]:
        _unsupported("Windows firewall rules")

    def add_firewall_rule(self, name: str, port: int) -> None:
        _unsupported("Windows firewall rules")

    def remove_firewall_rule(self, name: str) -> None:
        _unsupported("Windows firewall rules")

    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        _unsupported()

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        _unsupported()

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        _unsupported()

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Any) -> None:
        _unsupported()

    def write_marker(self, name: str, text: Optional[str]) -> None:
        _unsupported()

    def start_service(self, name: str, timeout_sec: int) -> None:
        _unsupported()

    def stop_service(self, name: str, timeout_sec: int) -> None:
        _unsupported()

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        _unsupported()
