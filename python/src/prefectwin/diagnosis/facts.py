"""What the diagnosis knows about a machine. Gathered once, judged by pure checks.

Every field is plain data so a check can be unit-tested by building Facts by hand.
"""
from __future__ import annotations

import re

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel


_RELEASE_NUMBER = re.compile(r"\d+(\.\d+){1,3}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")

class _Facts(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


Role = Literal["Server", "Worker"]


class PythonFacts(_Facts):
    requested_path: Optional[str] = None
    executable: Optional[str] = None
    version: Optional[tuple[int, int, int]] = None
    prefix: Optional[str] = None
    base_prefix: Optional[str] = None
    scripts_dir: Optional[str] = None
    platform: Optional[str] = None
    utf8_mode: bool = False
    preferred_encoding: Optional[str] = None
    error: Optional[str] = None

    @property
    def found(self) -> bool:
        return self.executable is not None

    @property
    def in_venv(self) -> bool:
        return self.prefix is not None and self.prefix != self.base_prefix


class SettingEntry(_Facts):
    name: str
    value: str
    source: str


class PrefectFacts(_Facts):
    installed: bool = False
    version: Optional[str] = None
    requires_python: Optional[str] = None
    # Installed versions of the distributions that decide whether a release works (None: absent).
    dependencies: dict[str, Optional[str]] = Field(default_factory=dict)
    # Why Prefect's settings could not be read: the exception, and whether a setting is to blame
    # ("settings"), a module is missing ("missing-module", with its name), a file or folder it
    # reads could not be ("filesystem"), or the install is otherwise broken ("broken").
    settings_error: Optional[str] = None
    settings_error_kind: Optional[Literal["settings", "missing-module", "filesystem", "broken"]] = None
    missing_module: Optional[str] = None
    # What the `prefect` console script dies of at import, if it does.
    cli_error: Optional[str] = None
    cli_missing_module: Optional[str] = None
    profile: Optional[str] = None
    profiles_path: Optional[str] = None
    home: Optional[str] = None
    api_url: Optional[str] = None
    server_host: Optional[str] = None
    server_port: Optional[int] = None
    ephemeral_enabled: bool = False
    database_url: Optional[SecretStr] = None
    # The client credentials this interpreter's Prefect sends (PREFECT_API_AUTH_STRING, or
    # PREFECT_API_KEY), and the Prefect Cloud API URL it tells Cloud apart by.
    api_auth_string: Optional[SecretStr] = None
    api_key: Optional[SecretStr] = None
    cloud_api_url: Optional[str] = None
    entries: tuple[SettingEntry, ...] = ()
    # PREFECT_* variables in the probed environment that this release has no setting for.
    unknown_env: tuple[str, ...] = ()

    def source_of(self, name: str) -> Optional[str]:
        return next((e.source for e in self.entries if e.name == name), None)


class CliFacts(_Facts):
    """Where `prefect` resolves on PATH, as the caller's shell would resolve it."""

    resolved: Optional[str] = None
    scripts_dir_launcher: Optional[str] = None


class PathFacts(_Facts):
    path: str
    exists: bool = False
    is_dir: bool = False
    creatable: bool = False
    writable: bool = False
    drive_kind: Literal["local", "mapped", "unc", "unknown"] = "local"
    unc_target: Optional[str] = None


class Listener(_Facts):
    address: str
    port: int
    pid: Optional[int] = None
    process_name: Optional[str] = None
    cmdline: tuple[str, ...] = ()


class PortFacts(_Facts):
    host: str
    port: int
    bindable: bool
    bind_error: Optional[str] = None
    owners: tuple[Listener, ...] = ()
    next_free: Optional[int] = None


class DatabaseFacts(_Facts):
    kind: Literal["sqlite", "postgresql", "other"]
    url_masked: str
    # SQLite
    path: Optional[str] = None
    memory: bool = False
    exists: bool = False
    parent_writable: bool = False
    opens: Optional[bool] = None
    open_error: Optional[str] = None
    #: the path is there but is a directory, not a database file
    is_dir: bool = False
    #: this account may write the file (and its folder, where SQLite keeps its journal)
    writable: Optional[bool] = None
    #: why the file name itself cannot be used (a NUL, a line break), before touching the disk
    path_problem: Optional[str] = None
    on_network_share: bool = False
    # PostgreSQL
    host: Optional[str] = None
    port: Optional[int] = None
    database: Optional[str] = None
    outcome: Optional[Literal["connected", "auth-failed", "unreachable", "no-database", "bad-url", "error"]] = None
    server_version: Optional[str] = None
    error: Optional[str] = None


class EncodingFacts(_Facts):
    pythonioencoding: Optional[str] = None
    pythonutf8: Optional[str] = None
    console_code_page: Optional[int] = None
    locale_encoding: Optional[str] = None


class HttpProbe(_Facts):
    url: str
    status: Optional[int] = None
    ok: bool = False
    error: Optional[str] = None
    body: Optional[str] = None


class HealthFacts(_Facts):
    api_url: str
    health: HttpProbe
    ready: HttpProbe
    # GET /api/admin/version: the server's Prefect version (a JSON string), what Prefect's own
    # client compares with its version.
    version: Optional[HttpProbe] = None
    # The one call that needs the client's credentials (Prefect leaves /health and /ready open):
    # GET /admin/version of a self-hosted server (the same probe as `version`), GET /me/workspaces
    # of Prefect Cloud. `auth` says what the call sent: "basic" (PREFECT_API_AUTH_STRING),
    # "bearer" (PREFECT_API_KEY), "url" (user info in PREFECT_API_URL) or "none".
    access: Optional[HttpProbe] = None
    auth: Literal["basic", "bearer", "url", "none"] = "none"
    cloud: bool = False

    @property
    def access_refused(self) -> bool:
        return self.access is not None and self.access.status in (401, 403)

    @property
    def server_version(self) -> Optional[str]:
        import json

        if self.version is None or not self.version.ok or not self.version.body:
            return None
        try:
            value = json.loads(self.version.body)
        except ValueError:
            return None
        # The body is the server's word, and it ends up in messages and in a pip command an
        # admin may paste: only a plain release number (PEP 440's public form) is taken.
        if not isinstance(value, str) or not _RELEASE_NUMBER.fullmatch(value):
            return None
        return value


class FirewallRule(_Facts):
    name: str
    enabled: bool
    inbound: bool
    allow: bool
    protocol: str
    local_ports: str
    # Who may connect, as Windows reports it ("Any", "LocalSubnet", "10.0.0.0/255.255.255.0"),
    # and on which profiles; None where that could not be read.
    remote_addresses: Optional[tuple[str, ...]] = None
    profiles: Optional[tuple[str, ...]] = None


class WindowsFacts(_Facts):
    is_admin: bool = False
    execution_policies: dict[str, str] = Field(default_factory=dict)
    firewall_rules: Optional[tuple[FirewallRule, ...]] = None
    firewall_error: Optional[str] = None
    defender_exclusions: Optional[tuple[str, ...]] = None
    defender_error: Optional[str] = None
    long_paths_enabled: Optional[bool] = None
    nssm_path: Optional[str] = None
    nssm_version: Optional[str] = None
    temp_dir: Optional[str] = None


class ServiceAccountFacts(_Facts):
    """What the system adapter knows about the account a service runs as (Windows only).

    `environment` is the block the Service Control Manager starts the service with, before
    NSSM adds AppEnvironmentExtra: the machine's variables and the account's own, expanded
    against the account's profile, not the admin's. `execution_policies` are PowerShell's
    scopes as that account sees them (its own hive for UserPolicy and CurrentUser); Process
    is added from the service's environment by the gatherer. `network_identity` is who the
    account is to a file server (a virtual or system account reaches a share as the computer
    account); None when it reaches shares anonymously or that is not known.
    """

    principal: str
    sid: Optional[str] = None
    profile: Optional[str] = None
    environment: dict[str, str] = Field(default_factory=dict)
    execution_policies: dict[str, str] = Field(default_factory=dict)
    network_identity: Optional[str] = None
    # A user account's hive is loaded only while it is logged on or its service runs: without
    # it, its own variables and CurrentUser/UserPolicy scopes are unknown.
    hive_loaded: bool = True
    error: Optional[str] = None


class PeerServerFacts(_Facts):
    """The PrefectWin server service a worker service belongs to, read from its NSSM settings."""

    name: str
    bind_host: str
    port: int
    api_url: Optional[str] = None
    # PREFECT_SERVER_API_AUTH_STRING from its NSSM environment or its working folder's .env.
    auth_string: Optional[SecretStr] = None
    database_url: Optional[SecretStr] = None
    database_source: str = "default"


class ServiceFacts(_Facts):
    """An installed service, as it runs: what the diagnosis was pointed at, and why."""

    name: str
    role: Role
    status: str
    pids: tuple[int, ...] = ()
    account: str
    application: str
    arguments: tuple[str, ...] = ()
    working_directory: Optional[str] = None
    working_directory_exists: bool = False
    # NSSM's AppEnvironment replaces the whole environment (AppEnvironmentExtra adds to it).
    replaces_environment: bool = False
    nssm_environment_names: tuple[str, ...] = ()
    # Files Prefect reads from the working directory, and the names the .env sets.
    env_file: Optional[str] = None
    env_file_names: tuple[str, ...] = ()
    env_file_error: Optional[str] = None
    toml_file: Optional[str] = None
    temp_dir: Optional[str] = None
    temp_exists: bool = False
    path_entries: tuple[str, ...] = ()
    # PATH entries on a mapped drive or missing, as the service account would see them.
    path_mapped: tuple[str, ...] = ()
    path_missing: tuple[str, ...] = ()
    account_facts: Optional[ServiceAccountFacts] = None
    home: Optional[str] = None
    home_drive_kind: Optional[str] = None
    # Whether the account's network identity has Modify on a UNC PREFECT_HOME (None: not asked).
    home_access: Optional[bool] = None
    home_access_error: Optional[str] = None
    # The secrets file PrefectWin wrote (NSSM's PREFECT_PROFILES_PATH), whether it exists, the
    # names it sets, and its access list (services.secrets_file.FileAccess, as plain data).
    secrets_file: Optional[str] = None
    secrets_file_exists: bool = False
    secrets_file_names: tuple[str, ...] = ()
    secrets_file_access: Optional[dict] = None
    secrets_file_error: Optional[str] = None
    # The launcher NSSM runs before Prefect (services/spec.py), when it does, and its access list.
    launcher_file: Optional[str] = None
    launcher_file_access: Optional[dict] = None
    # The auth string the service sends (its environment, .env or secrets file), and the peer it talks to.
    auth_string: Optional[SecretStr] = None
    database_url_source: Optional[str] = None
    server: Optional[PeerServerFacts] = None
    server_lookup: Optional[str] = None


class Facts(_Facts):
    role: Role
    os_name: str
    requested_port: Optional[int] = None
    requested_home: Optional[str] = None
    python: PythonFacts
    prefect: PrefectFacts
    cli: CliFacts
    home: Optional[PathFacts] = None
    port: Optional[PortFacts] = None
    database: Optional[DatabaseFacts] = None
    encoding: EncodingFacts
    health: Optional[HealthFacts] = None
    windows: Optional[WindowsFacts] = None
    service: Optional[ServiceFacts] = None
