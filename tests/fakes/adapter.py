"""A recording fake of prefectwin.system.protocol.SystemAdapter: it has every protocol method
and no other public one (tests/system/test_layout.py checks both).

    adapter = FakeAdapter(windows=WindowsFacts(is_admin=True), code_page=1252,
                          drives={"Z:": ("mapped", r"\\\\fs01\\share")})
    adapter.drive_kind(r"Z:\\prefect")   # -> ("mapped", r"\\\\fs01\\share\\prefect")
    adapter.calls                        # [Call(name="drive_kind", args=("Z:\\prefect",), kwargs={})]

Failing on demand:
    FakeAdapter(fail_on={"windows_facts": PermissionError("denied")})   every call to that method
    FakeAdapter(fail_on_call={3: OSError("boom")})                      the 3rd call overall (1-based)
A failing call is recorded too (before it raises).

windows_facts, console_code_page and drive_kind answer from the constructor's arguments. Every
other method answers what `returns` configures for it:
    FakeAdapter(returns={"is_admin": True})   adapter.is_admin() -> True
A value that is callable is called with the arguments and its result returned. Calling a method
that is not configured raises NotConfigured (an AttributeError) and is not recorded, so a test
cannot pass on an answer nobody chose. tests/fakes/services.py gives the service methods state.
"""
from __future__ import annotations

import ntpath
from typing import Any, NamedTuple, Optional, Sequence


class Call(NamedTuple):
    name: str
    args: tuple
    kwargs: dict


class NotConfigured(AttributeError):
    """A protocol method was called that the test gave no answer."""


class FakeAdapter:
    name = "fake"

    def __init__(
        self,
        *,
        windows: Any = None,
        code_page: Optional[int] = None,
        drives: Optional[dict[str, tuple[str, Optional[str]]]] = None,
        returns: Optional[dict[str, Any]] = None,
        fail_on: Optional[dict[str, BaseException]] = None,
        fail_on_call: Optional[dict[int, BaseException]] = None,
    ) -> None:
        #: WindowsFacts returned by windows_facts(); None means "not Windows" (like posix).
        self.windows = windows
        #: console_code_page() answer.
        self.code_page = code_page
        #: path prefix -> (kind, UNC root). The longest matching prefix wins (case-insensitive);
        #: for a UNC root the rest of the path is appended. Unmatched paths are ("local", None).
        self.drives = dict(drives or {})
        self.returns = dict(returns or {})
        self.fail_on = dict(fail_on or {})
        self.fail_on_call = dict(fail_on_call or {})
        self.calls: list[Call] = []

    # -- recording ------------------------------------------------------------------------
    def _record(self, name: str, args: tuple, kwargs: dict) -> None:
        self.calls.append(Call(name, args, dict(kwargs)))
        exc = self.fail_on_call.get(len(self.calls))
        if exc is None:
            exc = self.fail_on.get(name)
        if exc is not None:
            raise exc

    def names(self) -> list[str]:
        """The names of the calls made, in order."""
        return [c.name for c in self.calls]

    def calls_to(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    # -- the SystemAdapter protocol ----------------------------------------------------------
    def windows_facts(self):
        self._record("windows_facts", (), {})
        return self.windows

    def console_code_page(self) -> Optional[int]:
        self._record("console_code_page", (), {})
        return self.code_page

    def drive_kind(self, path: str) -> tuple[str, Optional[str]]:
        self._record("drive_kind", (path,), {})
        if "drive_kind" in self.returns:
            return self._configured("drive_kind", (path,), {})
        match = max(
            (p for p in self.drives if ntpath.normcase(path).startswith(ntpath.normcase(p))),
            key=len,
            default=None,
        )
        if match is None:
            return "local", None
        kind, unc_root = self.drives[match]
        if unc_root is None:
            return kind, None
        return kind, unc_root.rstrip("\\") + path[len(match):]

    def is_admin(self) -> bool:
        return self._answer("is_admin")

    # -- configuration ------------------------------------------------------------------------
    def get_environment_variable(self, name: str, scope: str) -> Optional[str]:
        return self._answer("get_environment_variable", name, scope)

    def set_environment_variable(self, name: str, value: Optional[str], scope: str) -> None:
        return self._answer("set_environment_variable", name, value, scope)

    def get_user_path(self) -> tuple[Optional[str], Optional[str]]:
        return self._answer("get_user_path")

    def set_user_path(self, raw: Optional[str]) -> None:
        return self._answer("set_user_path", raw)

    def set_current_user_execution_policy(self, policy: Optional[str]) -> None:
        return self._answer("set_current_user_execution_policy", policy)

    def set_long_paths_enabled(self, enabled: Optional[bool]) -> None:
        return self._answer("set_long_paths_enabled", enabled)

    def add_defender_exclusions(self, paths: list[str]) -> None:
        return self._answer("add_defender_exclusions", paths)

    def remove_defender_exclusions(self, paths: list[str]) -> None:
        return self._answer("remove_defender_exclusions", paths)

    # -- files --------------------------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        return self._answer("path_exists", path)

    def directory_entries(self, path: str) -> list[str]:
        return self._answer("directory_entries", path)

    def create_directory(self, path: str) -> None:
        return self._answer("create_directory", path)

    def remove_path(self, path: str) -> None:
        return self._answer("remove_path", path)

    # -- restricted files -----------------------------------------------------------------------
    def write_restricted_file(self, path: str, content: Any, reader: str) -> None:
        return self._answer("write_restricted_file", path, content, reader)

    def read_restricted_file(self, path: str) -> Any:
        return self._answer("read_restricted_file", path)

    def file_access(self, path: str, reader: str) -> Any:
        return self._answer("file_access", path, reader)

    def restrict_to_administrators(self, path: str) -> None:
        # Recorded, never a configured answer: every journalled apply asks for it.
        self._record("restrict_to_administrators", (path,), {})

    # -- services -----------------------------------------------------------------------------
    def require_services(self) -> None:
        return self._answer("require_services")

    def find_nssm(self, explicit: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        return self._answer("find_nssm", explicit)

    def read_service(self, name: str) -> Any:
        return self._answer("read_service", name)

    def read_managed_services(self, names: Optional[Sequence[str]] = None) -> list[Any]:
        return self._answer("read_managed_services", names)

    def has_modify(self, path: str, principal: str) -> bool:
        return self._answer("has_modify", path, principal)

    def firewall_rule_port(self, name: str) -> Optional[int]:
        return self._answer("firewall_rule_port", name)

    def has_read_execute(self, path: str, principal: str) -> bool:
        return self._answer("has_read_execute", path, principal)

    def firewall_rule_scope(self, name: str) -> Any:
        return self._answer("firewall_rule_scope", name)

    def service_account_facts(self, principal: str) -> Any:
        return self._answer("service_account_facts", principal)

    def nssm_install(self, nssm: Optional[str], name: str, application: str) -> None:
        return self._answer("nssm_install", nssm, name, application)

    def nssm_set(self, nssm: Optional[str], name: str, parameter: str, values: Sequence[Any]) -> None:
        return self._answer("nssm_set", nssm, name, parameter, values)

    def nssm_reset(self, nssm: Optional[str], name: str, parameter: str) -> None:
        return self._answer("nssm_reset", nssm, name, parameter)

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Any) -> None:
        return self._answer("set_service_account", nssm, name, account, password)

    def write_marker(self, name: str, text: Optional[str]) -> None:
        return self._answer("write_marker", name, text)

    def start_service(self, name: str, timeout_sec: int) -> None:
        return self._answer("start_service", name, timeout_sec)

    def stop_service(self, name: str, timeout_sec: int) -> None:
        return self._answer("stop_service", name, timeout_sec)

    def remove_service(self, nssm: Optional[str], name: str, timeout_sec: int) -> None:
        return self._answer("remove_service", nssm, name, timeout_sec)

    def grant_modify(self, path: str, principal: str) -> None:
        return self._answer("grant_modify", path, principal)

    def revoke_modify(self, path: str, principal: str) -> None:
        return self._answer("revoke_modify", path, principal)

    def grant_read_execute(self, path: str, principal: str) -> None:
        return self._answer("grant_read_execute", path, principal)

    def revoke_read_execute(self, path: str, principal: str) -> None:
        return self._answer("revoke_read_execute", path, principal)

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        return self._answer("add_firewall_rule", name, port, *((tuple(remote_addresses), tuple(profiles)) if remote_addresses or profiles else ()))

    def remove_firewall_rule(self, name: str) -> None:
        return self._answer("remove_firewall_rule", name)

    # -- the target interpreter and its database -------------------------------------------------
    def pip_freeze(self, python: str) -> list[str]:
        return self._answer("pip_freeze", python)

    def pip_install(self, python: str, requirements: Sequence[str], wheel_path: Optional[str], *, no_deps: bool = False) -> None:
        return self._answer("pip_install", python, requirements, wheel_path)

    def pip_uninstall(self, python: str, names: Sequence[str]) -> None:
        return self._answer("pip_uninstall", python, names)

    def prefect_database_upgrade(self, python: str, environment: dict[str, str], cwd: Optional[str], secrets: Sequence[str] = (), launcher: Sequence[str] = ()) -> None:
        return self._answer("prefect_database_upgrade", python, environment, cwd)

    def sqlite_backup(self, source: str, destination: str) -> None:
        return self._answer("sqlite_backup", source, destination)

    def sqlite_restore(self, backup: str, database: str) -> None:
        return self._answer("sqlite_restore", backup, database)

    def read_service_events(self, name: Optional[str], after: Optional[float], max_events: int) -> list[dict[str, Any]]:
        return self._answer("read_service_events", name, after, max_events)

    def set_failure_actions(self, name: str, reset_sec: int, actions: Sequence[tuple[str, int]]) -> None:
        return self._answer("set_failure_actions", name, reset_sec, actions)

    def scheduled_task(self, name: str) -> Optional[tuple[str, str]]:
        return self._answer("scheduled_task", name)

    def register_scheduled_task(self, name: str, command: str, arguments: str) -> None:
        return self._answer("register_scheduled_task", name, command, arguments)

    def remove_scheduled_task(self, name: str) -> None:
        return self._answer("remove_scheduled_task", name)

    # -- a new interpreter and the service wrapper ------------------------------------------------
    def find_base_python(self, explicit: Optional[str]) -> Optional[tuple[str, str]]:
        return self._answer("find_base_python", explicit)

    def create_venv(self, base_python: str, path: str) -> None:
        return self._answer("create_venv", base_python, path)

    def nssm_installers(self) -> list[tuple[str, str]]:
        return self._answer("nssm_installers")

    def install_nssm(self, installer: str) -> str:
        return self._answer("install_nssm", installer)

    # -- configured answers -------------------------------------------------------------------
    def _configured(self, name: str, args: tuple, kwargs: dict) -> Any:
        value = self.returns[name]
        return value(*args, **kwargs) if callable(value) else value

    def _answer(self, name: str, *args: Any) -> Any:
        if name not in self.returns:
            raise NotConfigured(f"FakeAdapter.{name} has no answer; configure it with returns={{{name!r}: ...}}")
        self._record(name, args, {})
        return self._configured(name, args, {})
