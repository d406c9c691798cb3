"""Windows: .NET through pythonnet, never PowerShell or a shell.

WindowsAdapter is the protocol's Windows face, composed of collaborators that share one
.NET surface (windows_net.DotNet, which tests replace with a fake):
- windows_facts.WindowsFactsReader: what the diagnosis reads;
- windows_config.WindowsConfig: persistent variables, the user PATH, policy, long paths, Defender;
- windows_services.WindowsServiceControl: the SCM, NSSM, ACLs and the firewall;
- windows_account.WindowsServiceAccounts: a service account's environment block and policies;
- windows_files.WindowsRestrictedFiles: a service's secrets file and its access list;
- paths.LocalPaths: plain file operations.
Every child process (nssm.exe, netsh.exe) runs through `_run`, which tests replace with a recorder.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from pydantic import SecretStr

from prefectwin.diagnosis.facts import ServiceAccountFacts, WindowsFacts
from prefectwin.services.secrets_file import FileAccess
from prefectwin.services.state import ServiceRecord
from prefectwin.system.interpreter import InterpreterOps
from prefectwin.system.paths import LocalPaths
from prefectwin.system.protocol import DriveKind
from prefectwin.system.windows_account import WindowsServiceAccounts
from prefectwin.system.windows_config import WindowsConfig
from prefectwin.system.windows_facts import WindowsFactsReader
from prefectwin.system.windows_files import WindowsRestrictedFiles
from prefectwin.system.windows_net import DotNet
from prefectwin.system.windows_packages import NssmPackages
from prefectwin.system.windows_services import WindowsServiceControl, run_child


class WindowsAdapter:
    name = "windows"

    def __init__(self, net: Optional[Any] = None) -> None:
        self.dotnet = DotNet(net)
        self.facts = WindowsFactsReader(self.dotnet)
        self.config = WindowsConfig(self.dotnet)
        # Late-bound, so a test that replaces the adapter's _run reaches every child process.
        self.services = WindowsServiceControl(self.dotnet, self.facts, lambda argv: self._run(argv))
        self.paths = LocalPaths()
        self.accounts = WindowsServiceAccounts(self.dotnet)
        self.files = WindowsRestrictedFiles(self.dotnet)
        self.interpreter = InterpreterOps()
        self.packages = NssmPackages(self.config, lambda argv: self._run(argv))

    def _run(self, argv: list[str]) -> tuple[int, str]:  # pragma: no cover - replaced in tests
        return run_child(argv)

    # -- facts ------------------------------------------------------------------------------
    def windows_facts(self) -> Optional[WindowsFacts]:
        return self.facts.windows_facts()

    def console_code_page(self) -> Optional[int]:
        return self.facts.console_code_page()

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        return self.facts.drive_kind(path)

    def is_admin(self) -> bool:
        return self.facts.is_admin()

    # -- configuration ----------------------------------------------------------------------
    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        return self.config.get_environment_variable(name, scope)

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        self.config.set_environment_variable(name, value, scope)

    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        return self.config.get_user_path()

    def set_user_path(self, raw: Optional[str]) -> None:
        self.config.set_user_path(raw)

    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        self.config.set_current_user_execution_policy(policy)

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        self.config.set_long_paths_enabled(enabled)

    def add_defender_exclusions(self, paths: list[str]) -> None:
        self.config.add_defender_exclusions(paths)

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        self.config.remove_defender_exclusions(paths)

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
    def write_restricted_file(self, path: str, content: SecretStr, reader: str) -> None:
        self.files.write_restricted_file(path, content, reader)

    def read_restricted_file(self, path: str) -> Optional[SecretStr]:
        return self.files.read_restricted_file(path)

    def file_access(self, path: str, reader: str) -> Optional[FileAccess]:
        return self.files.file_access(path, reader)

    def restrict_to_administrators(self, path: str) -> None:
        self.config.restrict_to_administrators(path)

    # -- services ---------------------------------------------------------------------------
    def require_services(self) -> None:
        self.services.require_services()

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        return self.services.find_nssm(explicit)

    def read_service(self, name: str) -> Optional[ServiceRecord]:
        return self.services.read_service(name)

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[ServiceRecord]:
        return self.services.read_managed_services(names)

    def has_modify(self, path: str, principal: str) -> bool:
        return self.services.has_modify(path, principal)

    def firewall_rule_port(self, name: str) -> Optional[int]:
        return self.services.firewall_rule_port(name)

    def has_read_execute(self, path: str, principal: str) -> bool:
        return self.services.has_read_execute(path, principal)

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        return self.services.firewall_rule_scope(name)

    def service_account_facts(self, principal: str) -> ServiceAccountFacts:
        return self.accounts.service_account_facts(principal)

    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        self.services.nssm_install(nssm, name, application)

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        self.services.nssm_set(nssm, name, parameter, values)

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        self.services.nssm_reset(nssm, name, parameter)

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Optional[SecretStr]) -> None:
        self.services.set_service_account(nssm, name, account, password)

    def write_marker(self, name: str, text: Optional[str]) -> None:
        self.services.write_marker(name, text)

    def start_service(self, name: str, timeout_sec: int) -> None:
        self.services.start_service(name, timeout_sec)

    def stop_service(self, name: str, timeout_sec: int) -> None:
        self.services.stop_service(name, timeout_sec)

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        self.services.remove_service(nssm, name, timeout_sec)

    def grant_modify(self, path: str, principal: str) -> None:
        self.services.grant_modify(path, principal)

    def revoke_modify(self, path: str, principal: str) -> None:
        self.services.revoke_modify(path, principal)

    def grant_read_execute(self, path: str, principal: str) -> None:
        self.services.grant_read_execute(path, principal)

    def revoke_read_execute(self, path: str, principal: str) -> None:
        self.services.revoke_read_execute(path, principal)

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        self.services.add_firewall_rule(name, port, remote_addresses, profiles)

    def remove_firewall_rule(self, name: str) -> None:
        self.services.remove_firewall_rule(name)

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

        if explicit:
            return self.interpreter.describe_python([explicit])
        # The py launcher first: python.exe on PATH is often the Store's WindowsApps stub.
        launcher = shutil.which("py")
        return self.interpreter.describe_python([launcher, "-3"]) if launcher else None

    def create_venv(self, base_python: str, path: str) -> None:
        self.interpreter.create_venv(base_python, path)

    def nssm_installers(self) -> list[tuple[str, str]]:
        return self.packages.installers()

    def install_nssm(self, installer: str) -> str:
        return self.packages.install(installer)

    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        return self.services.read_service_events(name, after, max_events)

    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        self.services.set_failure_actions(name, reset_sec, actions)

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        return self.services.scheduled_task(name)

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        self.services.register_scheduled_task(name, command, arguments)

    def remove_scheduled_task(self, name: str) -> None:
        self.services.remove_scheduled_task(name)
