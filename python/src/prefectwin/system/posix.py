"""Linux and macOS: what is real here.

Files and the drive kind are real. There is no persistent per-user or machine environment
store, execution policy, long-path switch, Defender, Service Control Manager, NSSM, Windows ACL
or Windows firewall, so those methods raise NotSupported, and a command fails with a clear
error before it changes anything. With the opt-in stand-in for the SCM (posix_standin.py), the
service methods go to it, accounts, ACL grants and firewall rules included, which it keeps as
records only.
"""
from __future__ import annotations

import os
import platform
from typing import Any, NoReturn, Optional, Sequence

from prefectwin.diagnosis.facts import WindowsFacts
from prefectwin.errors import NotSupported
from prefectwin.system.interpreter import InterpreterOps
from prefectwin.system.paths import LocalPaths
from prefectwin.system.protocol import DriveKind

# File systems on which SQLite's locking is unreliable: the Linux face of "PREFECT_HOME on SMB".
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "afs", "ceph", "glusterfs"})


def _windows_only(what: str) -> NoReturn:
    raise NotSupported(f"{what} exists on Windows only.", remediation="Run this on the Windows machine.")


def _no_services(what: str = "Windows services") -> NoReturn:
    raise NotSupported(
        f"{what} exist only on Windows; this machine runs {platform.system() or 'a non-Windows OS'}.",
        target="Service",
        remediation="Run this on Windows. On Linux and macOS, run the Prefect server or worker under systemd or launchd instead.",
    )


class PosixAdapter:
    name = "posix"

    def __init__(self, services: Optional[Any] = None) -> None:
        self.paths = LocalPaths()
        self.interpreter = InterpreterOps()
        # None: services are NotSupported here. The POSIX stand-in for the SCM, when asked for
        # (system/posix_standin.py), keeps them instead.
        self.standin = services

    # -- facts ------------------------------------------------------------------------------
    def windows_facts(self) -> Optional[WindowsFacts]:
        return None

    def console_code_page(self) -> Optional[int]:
        return None

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        if path.startswith(("\\\\", "//")):
            return "unc", path
        import psutil

        real = os.path.realpath(path)
        best = None
        for part in psutil.disk_partitions(all=True):
            mount = part.mountpoint
            if (real == mount or real.startswith(mount.rstrip("/") + "/")) and (
                best is None or len(mount) > len(best.mountpoint)
            ):
                best = part
        if best is not None and best.fstype in NETWORK_FILESYSTEMS:
            return "unc", best.device
        return "local", None

    def is_admin(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    # -- configuration ----------------------------------------------------------------------
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

    # -- files ------------------------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        return self.paths.path_exists(path)

    def directory_entries(self, path: str) -> list[str]:
        return self.paths.directory_entries(path)

    def create_directory(self, path: str) -> None:
        self.paths.create_directory(path)

    def remove_path(self, path: str) -> None:
        self.paths.remove_path(path)

    # -- restricted files -------------------------------------------------------------------
    def write_restricted_file(self, path: str, content: Any, reader: str) -> None:
        """Owner read only (0400), as Windows gives the service's account read only, and no
        wider than 0600 while it is written; owned by whoever writes it: the stand-in runs a
        service as that user, and POSIX has no Windows account to give it to. A rewrite and its
        undo rename a new file over it, which needs the folder's write bit, not the file's."""
        from prefectwin.system.windows_files import write_atomically

        write_atomically(path, content.get_secret_value().encode("utf-8"), lambda temp: os.chmod(temp, 0o600), lambda temp: os.chmod(temp, 0o400))

    def read_restricted_file(self, path: str) -> Optional[Any]:
        from prefectwin.system.windows_files import read_text

        return read_text(path)

    def file_access(self, path: str, reader: str) -> Optional[Any]:
        """The mode bits as entries: the owner (uid:N), the group (gid:N), everyone else."""
        import grp
        import pwd
        import stat

        from prefectwin.services.secrets_file import AccessEntry, FileAccess

        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None

        def name(lookup: Any, number: int) -> str:
            try:
                return lookup(number)[0]
            except KeyError:
                return str(number)

        def rights(read: int, write: int) -> int:
            return (0x1 if info.st_mode & read else 0) | (0x2 if info.st_mode & write else 0)

        owner = f"uid:{info.st_uid}"
        entries = [
            AccessEntry(principal=name(pwd.getpwuid, info.st_uid), sid=owner, rights=rights(stat.S_IRUSR, stat.S_IWUSR)),
            AccessEntry(principal=f"group {name(grp.getgrgid, info.st_gid)}", sid=f"gid:{info.st_gid}", rights=rights(stat.S_IRGRP, stat.S_IWGRP)),
            AccessEntry(principal="everyone", sid="S-1-1-0", rights=rights(stat.S_IROTH, stat.S_IWOTH)),
        ]
        try:
            reader_sid = f"uid:{pwd.getpwnam(reader).pw_uid}"
        except KeyError:
            reader_sid = f"uid:{os.geteuid()}"  # a Windows account name: the stand-in's own user runs it
        return FileAccess(owner=entries[0].principal, owner_sid=owner, entries=tuple(e for e in entries if e.rights), reader_sid=reader_sid)

    def restrict_to_administrators(self, path: str) -> None:
        # The owner only: root's folder for root, the user's own otherwise (journal.data_dir).
        os.chmod(path, 0o700)

    # -- services ---------------------------------------------------------------------------
    def require_services(self) -> None:
        if self.standin is not None:
            return self.standin.require_services()
        _no_services()

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        if self.standin is not None:
            return self.standin.find_nssm(explicit)
        _no_services("NSSM and Windows services")

    def read_service(self, name: str) -> Any:
        if self.standin is not None:
            return self.standin.read_service(name)
        _no_services()

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[Any]:
        if self.standin is not None:
            return self.standin.read_managed_services(names)
        _no_services()

    def has_modify(self, path: str, principal: str) -> bool:
        if self.standin is not None:
            return self.standin.has_modify(path, principal)
        _no_services("Windows ACLs")

    def firewall_rule_port(self, name: str) -> Optional[int]:
        if self.standin is not None:
            return self.standin.firewall_rule_port(name)
        _no_services("Windows firewall rules")

    def has_read_execute(self, path: str, principal: str) -> bool:
        if self.standin is not None:
            return self.standin.has_read_execute(path, principal)
        _no_services("Windows ACLs")

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        if self.standin is not None:
            return self.standin.firewall_rule_scope(name)
        _no_services("Windows firewall rules")

    def service_account_facts(self, principal: str) -> Any:
        if self.standin is not None:
            return self.standin.service_account_facts(principal)
        _no_services("Windows service accounts")

    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        if self.standin is not None:
            return self.standin.nssm_install(nssm, name, application)
        _no_services()

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        if self.standin is not None:
            return self.standin.nssm_set(nssm, name, parameter, values)
        _no_services()

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        if self.standin is not None:
            return self.standin.nssm_reset(nssm, name, parameter)
        _no_services()

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Any) -> None:
        if self.standin is not None:
            return self.standin.set_service_account(nssm, name, account, password)
        _no_services()

    def write_marker(self, name: str, text: Optional[str]) -> None:
        if self.standin is not None:
            return self.standin.write_marker(name, text)
        _no_services()

    def start_service(self, name: str, timeout_sec: int) -> None:
        if self.standin is not None:
            return self.standin.start_service(name, timeout_sec)
        _no_services()

    def stop_service(self, name: str, timeout_sec: int) -> None:
        if self.standin is not None:
            return self.standin.stop_service(name, timeout_sec)
        _no_services()

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        if self.standin is not None:
            return self.standin.remove_service(nssm, name, timeout_sec)
        _no_services()

    def grant_modify(self, path: str, principal: str) -> None:
        if self.standin is not None:
            return self.standin.grant_modify(path, principal)
        _no_services("Windows ACLs")

    def revoke_modify(self, path: str, principal: str) -> None:
        if self.standin is not None:
            return self.standin.revoke_modify(path, principal)
        _no_services("Windows ACLs")

    def grant_read_execute(self, path: str, principal: str) -> None:
        if self.standin is not None:
            return self.standin.grant_read_execute(path, principal)
        _no_services("Windows ACLs")

    def revoke_read_execute(self, path: str, principal: str) -> None:
        if self.standin is not None:
            return self.standin.revoke_read_execute(path, principal)
        _no_services("Windows ACLs")

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        if self.standin is not None:
            return self.standin.add_firewall_rule(name, port, remote_addresses, profiles)
        _no_services("Windows firewall rules")

    def remove_firewall_rule(self, name: str) -> None:
        if self.standin is not None:
            return self.standin.remove_firewall_rule(name)
        _no_services("Windows firewall rules")

    # -- the target interpreter and its database (system/interpreter.py) ----------------------
    def pip_freeze(self, python: str) -> list[str]:
        return self.interpreter.pip_freeze(python)

    def pip_install(self, python: str, requirements: Sequence[str], wheel_path: Optional[str], *, no_deps: bool = False) -> None:
        self.interpreter.pip_install(python, requirements, wheel_path, no_deps=no_deps)

    def pip_uninstall(self, python: str, names: Sequence[str]) -> None:
        self.interpreter.pip_uninstall(python, names)

    def prefect_database_upgrade(self, python: str, environment: dict[str, str], cwd: Optional[str], secrets: Sequence[str] = (), launcher: Sequence[str] = ()) -> None:
        self.interpreter.prefect_database_upgrade(python, environment, cwd, secrets, launcher)

    def sqlite_backup(self, source: str, destination: str) -> None:
        self.interpreter.sqlite_backup(source, destination)

    def sqlite_restore(self, backup: str, database: str) -> None:
        self.interpreter.sqlite_restore(backup, database)

    # -- a new interpreter and the service wrapper --------------------------------------------
    def find_base_python(self, explicit: Optional[str]) -> Optional[tuple[str, str]]:
        import shutil

        found = explicit or shutil.which("python3")
        return self.interpreter.describe_python([found]) if found else None

    def create_venv(self, base_python: str, path: str) -> None:
        self.interpreter.create_venv(base_python, path)

    def nssm_installers(self) -> list[tuple[str, str]]:
        # NSSM is Windows'; the stand-in needs none, and plain POSIX has no services at all.
        return []

    def install_nssm(self, installer: str) -> str:
        _no_services("NSSM and Windows services")

    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        _no_services("The Windows Application event log")

    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        _no_services()

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        _no_services("Windows scheduled tasks")

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        _no_services("Windows scheduled tasks")

    def remove_scheduled_task(self, name: str) -> None:
        _no_services("Windows scheduled tasks")
