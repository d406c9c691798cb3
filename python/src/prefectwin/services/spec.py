"""The ServiceSpec: everything about one Prefect service in one model, and how it is built.

`build_spec` is pure: the same parameters and the same few facts (the interpreter, the
default PREFECT_HOME, the host name) always give the same spec. Everything the service
wrapper needs is derived from the spec: NSSM's parameters (`nssm_parameters`), the process
environment (`process_environment`), and the marker that says PrefectWin manages it.

Every password is a `SecretStr` here. Secrets never reach NSSM: its registry values and its
command lines are readable by local users. They go into the service's secrets file instead
(`secrets_file`, `secrets_text`), a Prefect profiles file that only the service's account and
Administrators can read, which NSSM's environment points Prefect at (PREFECT_PROFILES_PATH).
A secret variable that is not a Prefect setting (AWS_SECRET_ACCESS_KEY, a password, a proxy URL
with credentials) cannot go into a profile: it goes into the same file's
`[prefectwin.environment]` table, and NSSM then runs PrefectWin's launcher (target/launcher.py,
written beside the file) instead of `-m prefect` directly, which sets those variables in the
process and runs Prefect in it.
`secrets_text()` and `settings_environment()` are the only places a password is revealed.
"""
from __future__ import annotations

import json
import ntpath
import posixpath
import re
import subprocess
import urllib.parse
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from prefectwin.diagnosis.database import database_kind, sqlite_path
from prefectwin.errors import InvalidArgument
from prefectwin.hosts import client_host
from prefectwin.models import Params
from prefectwin.secrets import looks_secret, mask_url
from prefectwin.services import auth, firewall, nssm_rules
from prefectwin.services.grants import VIRTUAL_ACCOUNT_PREFIX, is_own_virtual_account, runtime_directories, virtual_account

Role = Literal["Server", "Worker"]
StartupType = Literal["Automatic", "AutomaticDelayed", "Manual"]
Flavor = Literal["windows", "posix"]
Value = Union[str, SecretStr]

SERVICE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$"
# The registry value, under HKLM\SYSTEM\CurrentControlSet\Services\<name>, that marks a
# service as PrefectWin's. Its JSON also says what the service is (role, port, pool, ...).
MARKER_VALUE = "PrefectWin"
MARKER_FORMAT = 1

DEFAULT_PORT = 4200
DEFAULT_BIND_ADDRESS = "127.0.0.1"
DEFAULT_WORKER_TYPE = "process"
# What a service runs as when -Account is not given: its own virtual account, NT SERVICE\<name>
# (services/grants.py). LocalSystem is NSSM's (and the SCM's) default, and what a service
# whose ObjectName is not set runs as.
LOCAL_SYSTEM = "LocalSystem"
DEFAULT_ACCOUNT = LOCAL_SYSTEM
DEFAULT_ROTATE_BYTES = 10 * 1024 * 1024
# NSSM rotates by time only when it starts the application (a file older than this is
# rotated first); 0 turns that off. A day keeps one start's log per file for daily restarts.
DEFAULT_ROTATE_SECONDS = 86_400
# NSSM never deletes a rotated file. PrefectWin keeps this many per log, and none older than
# the days (0: no age limit); see services/retention.py for when it deletes.
DEFAULT_RETENTION_COUNT = 10
DEFAULT_RETENTION_DAYS = 30
# Service-manager failure actions, for when nssm.exe itself dies or gives up (NSSM restarts
# the application on its own): restart after 1 min, then after 2 min, then leave it stopped;
# the failure count goes back to zero after a day without failures. The last action is
# "none" because the Service Control Manager repeats the last action for every later failure.
FAILURE_RESET_SEC = 86_400
FAILURE_ACTIONS = (("restart", 60_000), ("restart", 120_000), ("none", 0))

# Stop timeouts, from measurements of the real payload on this project's Linux runner
# (tests/services/test_payload_*.py print them; see docs/protocol.md, service.*):
# - the server exits on Ctrl-C/SIGINT in 1.5-2.8 s;
# - a worker exits on Ctrl-C in about 0.2 s while its server is up, but takes about 7.3 s
#   when its server went first (its client retries before giving up).
# NSSM waits this long after Ctrl-C before it kills the process tree. About twice the worst
# case measured, so a slower Windows box still stops gracefully. Workers also depend on
# their server's service, so the Service Control Manager stops them first.
SERVER_STOP_TIMEOUT_MS = 10_000
WORKER_STOP_TIMEOUT_MS = 15_000
# Restart on any exit, after a pause; if the process dies within THROTTLE_MS of starting,
# NSSM backs off further. A server against a new database needs ~10 s for migrations.
RESTART_DELAY_MS = 5_000
THROTTLE_MS = 15_000
# NSSM's stop methods, as a bit field of methods to skip: 1 Ctrl-C, 2 WM_CLOSE, 4 WM_QUIT,
# 8 TerminateProcess. A console Python process has no windows and no message queue, so
# WM_CLOSE and WM_QUIT would only add 2 x 1.5 s before TerminateProcess. Keep Ctrl-C and
# TerminateProcess: Ctrl-C first, then the timeout, then kill the process tree.
STOP_METHOD_SKIP = 2 | 4
# AppNoConsole stays 0 (NSSM gives the application a console): Prefect cancels flow runs by
# sending CTRL_BREAK to the run's new process group, which needs a console, and NSSM's own
# Ctrl-C stop method needs one too. Setting it to 1 would make every stop a hard kill.
NO_CONSOLE = 0

START_TYPES = {
    "Automatic": "SERVICE_AUTO_START",
    "AutomaticDelayed": "SERVICE_DELAYED_AUTO_START",
    "Manual": "SERVICE_DEMAND_START",
}

DATABASE_URL_KEY = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
SECRET_KEYS = frozenset({DATABASE_URL_KEY, *auth.AUTH_KEYS})
# Environment keys that a dedicated parameter owns; -Environment may not set them.
RESERVED_KEYS = {
    "PREFECT_HOME": "-PrefectHome",
    "PREFECT_SERVER_API_HOST": "-BindAddress",
    "PREFECT_SERVER_API_PORT": "-Port",
    "PREFECT_API_URL": "-ApiUrl (workers) or -BindAddress and -Port (servers)",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL": "-DatabaseUrl",
    "PREFECT_API_DATABASE_CONNECTION_URL": "-DatabaseUrl",
    "PREFECT_SERVER_DATABASE_PASSWORD": "-DatabaseCredential",
    "PREFECT_API_DATABASE_PASSWORD": "-DatabaseCredential",
    "PREFECT_PROFILES_PATH": "the service's secrets file",
    "PREFECT_PROFILE": "the service's secrets file (its one profile)",
    **auth.RESERVED,
}

# Secret delivery. Prefect 3.1.15 and 3.4.25 do not read a .env with today's pydantic-settings
# (2.16 added a positional parameter that their DotEnvSettingsSource call shifts), but every
# supported release reads a profile from PREFECT_PROFILES_PATH, with one precedence: the process
# environment, then .env, prefect.toml and pyproject.toml in the working directory, then the
# profile (tests/test_secrets_file_releases.py shows both, release by release).
PROFILES_PATH_KEY = "PREFECT_PROFILES_PATH"
SECRETS_PROFILE = "prefectwin"
SECRETS_FILE_SUFFIX = ".secrets.toml"
# The table of the secrets file that the launcher reads; Prefect reads `active` and `profiles` only.
from prefectwin.target.launcher import ENVIRONMENT_TABLE  # noqa: E402 - beside the names it goes with
LAUNCHER_SUFFIX = ".launcher.py"
_BARE_TOML_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# Built-in service accounts: the SCM name, and the name an ACL knows them by.
BUILTIN_ACCOUNTS = {
    "localsystem": ("LocalSystem", "NT AUTHORITY\\SYSTEM"),
    ".\\localsystem": ("LocalSystem", "NT AUTHORITY\\SYSTEM"),
    "nt authority\\system": ("LocalSystem", "NT AUTHORITY\\SYSTEM"),
    "localservice": ("NT AUTHORITY\\LocalService", "NT AUTHORITY\\LOCAL SERVICE"),
    "nt authority\\localservice": ("NT AUTHORITY\\LocalService", "NT AUTHORITY\\LOCAL SERVICE"),
    "nt authority\\local service": ("NT AUTHORITY\\LocalService", "NT AUTHORITY\\LOCAL SERVICE"),
    "networkservice": ("NT AUTHORITY\\NetworkService", "NT AUTHORITY\\NETWORK SERVICE"),
    "nt authority\\networkservice": ("NT AUTHORITY\\NetworkService", "NT AUTHORITY\\NETWORK SERVICE"),
    "nt authority\\network service": ("NT AUTHORITY\\NetworkService", "NT AUTHORITY\\NETWORK SERVICE"),
}


class Credential(Params):
    """A PSCredential as PowerShell sends it: inside the request on stdin, never on argv."""

    user_name: Optional[str] = None
    password: SecretStr

    @field_validator("user_name")
    @classmethod
    def _no_empty_domain(cls, value: Optional[str]) -> Optional[str]:
        # Windows PowerShell's Get-Credential turns a bare "prefect" into "\prefect".
        return value[1:] if value and value.startswith("\\") and not value.startswith("\\\\") else value or None


class ServiceSpec(BaseModel):
    """Everything about one service. Frozen: a spec is a value, compared and planned against."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    display_name: str
    description: str
    application: str
    arguments: tuple[str, ...]
    working_directory: str
    prefect_home: str
    environment: dict[str, str]
    secret_environment: dict[str, SecretStr] = {}
    # Secret variables that are not Prefect settings: set by the launcher from the secrets file.
    secret_variables: dict[str, SecretStr] = {}
    log_directory: str
    stdout_log: str
    stderr_log: str
    rotate_bytes: int = DEFAULT_ROTATE_BYTES
    rotate_seconds: int = DEFAULT_ROTATE_SECONDS
    retention_count: int = DEFAULT_RETENTION_COUNT
    retention_days: int = DEFAULT_RETENTION_DAYS
    failure_reset_sec: int = FAILURE_RESET_SEC
    failure_actions: tuple[tuple[str, int], ...] = FAILURE_ACTIONS
    # The daily scheduled task that applies the retention while nobody runs PrefectWin:
    # (the backend's interpreter, its arguments). Empty: no task.
    prune_command: tuple[str, ...] = ()
    restart_delay_ms: int = RESTART_DELAY_MS
    throttle_ms: int = THROTTLE_MS
    stop_timeout_ms: int
    stop_method_skip: int = STOP_METHOD_SKIP
    kill_process_tree: bool = True
    no_console: bool = bool(NO_CONSOLE)
    start_type: StartupType = "Automatic"
    account: str = DEFAULT_ACCOUNT
    account_principal: str = "NT AUTHORITY\\SYSTEM"
    account_password: Optional[SecretStr] = None
    dependencies: tuple[str, ...] = ()
    port: Optional[int] = None
    bind_address: Optional[str] = None
    api_url: str
    pool: Optional[str] = None
    worker_type: Optional[str] = None
    work_queues: tuple[str, ...] = ()
    worker_name: Optional[str] = None
    # A worker that sends its local server's auth string (no -AuthCredential, no -ApiUrl): that
    # server's name, so that rotating the server's auth carries the new string to it.
    auth_from: Optional[str] = None
    database_kind: Literal["sqlite", "postgresql"] = "sqlite"
    sqlite_path: Optional[str] = None
    firewall_rule: Optional[str] = None
    # The rule's scope (services/firewall.py): remote addresses and profiles; empty without a rule.
    firewall_remote_addresses: tuple[str, ...] = ()
    firewall_profiles: tuple[str, ...] = ()
    # Folders the account needs Modify on, and read and execute on (services/grants.py).
    modify_directories: tuple[str, ...] = ()
    runtime_directories: tuple[str, ...] = ()

    # -- derived ------------------------------------------------------------------------------
    @property
    def command_line(self) -> str:
        """AppParameters: NSSM hands this string to CreateProcess after the application, so it
        is quoted by the MS C runtime rules, which python.exe parses back into `arguments`."""
        return subprocess.list2cmdline(self.arguments)

    @property
    def log_paths(self) -> tuple[str, ...]:
        return (self.stdout_log, self.stderr_log)

    # -- secret delivery ----------------------------------------------------------------------
    @property
    def secrets_file(self) -> Optional[str]:
        """The service's secrets file in its working directory; None when it has no secret."""
        if not self.secret_environment and not self.secret_variables:
            return None
        return secrets_file_path(self.working_directory, self.name)

    @property
    def launcher_file(self) -> Optional[str]:
        """The launcher beside the secrets file; None when no secret variable needs it."""
        if not self.secret_variables:
            return None
        return launcher_file_path(self.working_directory, self.name)

    def secrets_text(self) -> Optional[SecretStr]:
        """The secrets file: one Prefect profile with the secret settings, made active, and the
        table of secret variables the launcher sets (when there are any)."""
        if not self.secrets_file:
            return None
        return render_secrets_text(
            self.name,
            {k: v.get_secret_value() for k, v in self.secret_environment.items()},
            {k: v.get_secret_value() for k, v in self.secret_variables.items()},
        )

    def launcher_text(self) -> Optional[SecretStr]:
        """The launcher's source (a SecretStr only because restricted files are written as one)."""
        return SecretStr(launcher_source()) if self.launcher_file else None

    def nssm_environment(self) -> dict[str, str]:
        """The variables NSSM holds (AppEnvironmentExtra): no secret, only where the secrets are."""
        env = dict(self.environment)
        if self.secrets_file:
            env[PROFILES_PATH_KEY] = self.secrets_file
        return env

    def environment_entries(self) -> tuple[str, ...]:
        """One KEY=VALUE per NSSM variable, sorted by key."""
        return tuple(f"{key}={value}" for key, value in sorted(self.nssm_environment().items()))

    def process_environment(self) -> dict[str, str]:
        """The variables the service process starts with, on top of the system's: no secret."""
        return self.nssm_environment()

    def settings_environment(self) -> dict[str, str]:
        """What the service's Prefect ends up with once it has read its secrets file (and the
        launcher has set its variables), secrets revealed: for asking the target about the
        service before that file is written."""
        env = self.process_environment()
        env.update({k: v.get_secret_value() for k, v in self.secret_environment.items()})
        env.update({k: v.get_secret_value() for k, v in self.secret_variables.items()})
        return env

    def nssm_parameters(self) -> dict[str, tuple[Value, ...]]:
        """NSSM's parameters, in the order they are set, each as the values `nssm set NAME
        PARAMETER` takes. An empty tuple means the parameter should be absent (reset)."""
        return {
            "Application": (self.application,),
            "AppParameters": (self.command_line,),
            "AppDirectory": (self.working_directory,),
            "AppEnvironmentExtra": self.environment_entries(),
            "DisplayName": (self.display_name,),
            "Description": (self.description,),
            "Start": (START_TYPES[self.start_type],),
            "DependOnService": self.dependencies,
            "AppStdout": (self.stdout_log,),
            "AppStderr": (self.stderr_log,),
            "AppRotateFiles": ("1",),
            "AppRotateOnline": ("1",),
            "AppRotateBytes": (str(self.rotate_bytes),),
            "AppRotateSeconds": (str(self.rotate_seconds),),
            "AppExit": ("Default", "Restart"),
            "AppRestartDelay": (str(self.restart_delay_ms),),
            "AppThrottle": (str(self.throttle_ms),),
            "AppStopMethodSkip": (str(self.stop_method_skip),),
            "AppStopMethodConsole": (str(self.stop_timeout_ms),),
            "AppKillProcessTree": ("1" if self.kill_process_tree else "0",),
            "AppNoConsole": ("1" if self.no_console else "0",),
        }

    def marker_data(self) -> dict[str, Any]:
        return {
            "managedBy": "PrefectWin",
            "format": MARKER_FORMAT,
            "role": self.role,
            "prefectHome": self.prefect_home,
            "logPaths": list(self.log_paths),
            "port": self.port,
            "bindAddress": self.bind_address,
            "apiUrl": self.api_url,
            "pool": self.pool,
            "workerName": self.worker_name,
            "database": self.database_kind,
            "sqlitePath": self.sqlite_path,
            "firewallRule": self.firewall_rule,
            "stopTimeoutMs": self.stop_timeout_ms,
            "logRetention": {"count": self.retention_count, "days": self.retention_days},
            # Only when set: a marker without it is what every earlier install wrote.
            **({"authFrom": self.auth_from} if self.auth_from else {}),
        }

    def failure_values(self) -> tuple[str, ...]:
        """The failure actions as ServiceRecord.parameters["FailureActions"] holds them."""
        return failure_values(self.failure_reset_sec, self.failure_actions)

    def marker(self) -> str:
        return json.dumps(self.marker_data(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render_secrets_text(name: str, settings: dict[str, str], variables: Optional[dict[str, str]] = None) -> SecretStr:
    """Service `name`'s secrets file: its secret Prefect `settings` in the active profile, and
    the secret `variables` the launcher sets in a table of their own (what
    secrets_file.file_values reads back, table by table), so that a file rewritten for one
    setting is the file the service's own install writes."""
    lines = [
        f"# Written by PrefectWin for service '{name}'; Install-PrefectService rewrites it.",
        # Unchanged since the first release of this file, so a reinstall does not rewrite it.
        "# The service's secret Prefect settings: only its account and Administrators may read this file.",
        f"active = {toml_string(SECRETS_PROFILE)}",
        "",
        f"[profiles.{SECRETS_PROFILE}]",
        *_toml_lines(settings),
    ]
    if variables:
        lines += ["", "# Not Prefect settings: the launcher puts these into the process environment.", f"[{ENVIRONMENT_TABLE}]", *_toml_lines(variables)]
    return SecretStr("\n".join(lines) + "\n")


def secrets_file_path(working_directory: str, name: str) -> str:
    """`<working directory>/<service>.secrets.toml`, in the working directory's own path flavour."""
    return _in_folder(working_directory, name + SECRETS_FILE_SUFFIX)


def launcher_file_path(working_directory: str, name: str) -> str:
    """`<working directory>/<service>.launcher.py`, beside the secrets file."""
    return _in_folder(working_directory, name + LAUNCHER_SUFFIX)


def _in_folder(folder: str, leaf: str) -> str:
    paths = ntpath if ("\\" in folder or re.match(r"^[A-Za-z]:", folder)) else posixpath
    return paths.join(folder, leaf)


def launcher_source() -> str:
    from importlib import resources

    return resources.files("prefectwin.target").joinpath("launcher.py").read_text(encoding="utf-8")


def launcher_arguments(arguments: tuple[str, ...]) -> tuple[Optional[str], Optional[str], tuple[str, ...]]:
    """(launcher, secrets file, Prefect's own arguments) of a service's argument list; the
    first two are None when the service starts `-m prefect` directly."""
    if len(arguments) >= 3 and arguments[0].lower().endswith(LAUNCHER_SUFFIX) and arguments[1].lower().endswith(SECRETS_FILE_SUFFIX):
        return arguments[0], arguments[1], tuple(arguments[2:])
    return None, None, tuple(arguments)


def _toml_lines(values: dict[str, str]) -> list[str]:
    return [f"{key if _BARE_TOML_KEY.match(key) else toml_string(key)} = {toml_string(value)}" for key, value in sorted(values.items())]


def toml_string(value: str) -> str:
    """A TOML basic string that every TOML reader of the supported releases (toml, tomllib) reads
    back exactly: quotes, backslashes and control characters escaped, and everything outside
    printable ASCII escaped too, so the file's encoding cannot matter."""
    out = []
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise _bad("A secret value contains a lone UTF-16 surrogate, which no file can hold.", "Environment", "Check the value for a broken character.")
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    return '"' + "".join(out) + '"'


def split_secret_environment(
    extra: dict[str, str], marked: Optional[dict[str, SecretStr]] = None
) -> tuple[dict[str, str], dict[str, SecretStr], dict[str, SecretStr]]:
    """-Environment's and -SecretEnvironment's variables as (plain, secret Prefect settings,
    other secret variables). Secret: every -SecretEnvironment variable, and an -Environment one
    whose name looks secret or whose value carries URL credentials. A Prefect setting goes into
    the secrets file's profile, any other secret variable into its launcher table; only the
    plain ones reach NSSM."""
    plain: dict[str, str] = {}
    settings: dict[str, SecretStr] = {}
    variables: dict[str, SecretStr] = {}
    given = [(key, SecretStr(value), bool(value) and (looks_secret(key) or mask_url(value) != value)) for key, value in extra.items()]
    given += [(key, value, True) for key, value in (marked or {}).items()]
    for key, value, secret in given:
        if not secret:
            plain[key] = value.get_secret_value()
        elif key.upper().startswith("PREFECT_"):
            settings[key] = value
        else:
            variables[key] = value
    return plain, settings, variables


def _check_secret_environment(marked: dict[str, SecretStr], extra: dict[str, str]) -> dict[str, SecretStr]:
    """-SecretEnvironment: the names -Environment allows, none given in both, no empty value,
    and no variable the interpreter reads as it starts (the launcher sets them too late)."""
    _check_environment({key: value.get_secret_value() for key, value in marked.items()}, "SecretEnvironment")
    both = sorted({k.upper() for k in extra} & {k.upper() for k in marked})
    if both:
        raise _bad(f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} given in both -Environment and -SecretEnvironment.", "SecretEnvironment", "Give each variable once: in -SecretEnvironment if its value is secret.")
    for key, value in marked.items():
        if not value.get_secret_value():
            raise _bad(f"-SecretEnvironment {key} has an empty value.", "SecretEnvironment", f"Give {key} its secret value, or move it to -Environment.")
        if key.upper().startswith("PYTHON"):
            raise _bad(
                f"-SecretEnvironment may not hold {key}: Python reads it as the interpreter starts, before the service's secrets are loaded.",
                "SecretEnvironment",
                f"Give {key} in -Environment.",
            )
    return marked


def failure_values(reset_sec: int, actions: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return (f"reset={reset_sec}", *(f"{kind}/{delay}" for kind, delay in actions))


def parse_failure_values(values: tuple[str, ...]) -> tuple[int, tuple[tuple[str, int], ...]]:
    """The inverse of failure_values; nothing (no actions, no reset period) for ()."""
    reset, steps = 0, []
    for value in values:
        if value.startswith("reset="):
            reset = int(value[len("reset=") :])
        else:
            kind, _, delay = value.partition("/")
            steps.append((kind, int(delay or 0)))
    return reset, tuple(steps)


def log_task_name(service: str) -> str:
    """The scheduled task that prunes a service's rotated logs, in Task Scheduler's PrefectWin folder."""
    return f"\\PrefectWin\\{service}-logs"


def prune_command(backend_python: str, service: str) -> tuple[str, ...]:
    """What the task runs: the backend's interpreter, never anything from the request but the
    service name (which SERVICE_NAME_PATTERN limits to letters, digits, '.', '_', '-')."""
    return (backend_python, "-X", "utf8", "-m", "prefectwin", "prune-logs", service)


def firewall_rule_name(service: str) -> str:
    """The inbound rule PrefectWin creates for a server service, and removes with it."""
    return f"PrefectWin-{service}"


def parse_marker(text: Optional[str]) -> Optional[dict[str, Any]]:
    """The marker's data, or None when the text is not a PrefectWin marker."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("managedBy") != "PrefectWin":
        return None
    return data


def _bad(message: str, target: str, remediation: Optional[str] = None) -> InvalidArgument:
    return InvalidArgument(message, target=target, remediation=remediation)


def normalize_account(account: Optional[str], service: Optional[str] = None) -> tuple[str, str, bool]:
    """(the SCM account name, the name an ACL knows it by, whether it needs a password).

    No account: the service's own virtual account when the service is named (what Install
    gives a new service), else LocalSystem (what a service whose ObjectName is unset runs as)."""
    name = (account or (virtual_account(service) if service else LOCAL_SYSTEM)).strip()
    if name.lower().startswith(VIRTUAL_ACCOUNT_PREFIX.lower()):
        # The SCM and ACLs both know it as NT SERVICE\<name>; keep the service name's case.
        name = VIRTUAL_ACCOUNT_PREFIX + name[len(VIRTUAL_ACCOUNT_PREFIX):]
        return name, name, False
    builtin = BUILTIN_ACCOUNTS.get(name.lower())
    if builtin:
        return builtin[0], builtin[1], False
    if "\\" not in name and "@" not in name:
        name = ".\\" + name
    principal = name[2:] if name.startswith(".\\") else name
    # gMSAs (DOMAIN\name$) and virtual accounts (NT SERVICE\name) have no password to give.
    needs_password = not (name.endswith("$") or name.lower().startswith("nt service\\"))
    return name, principal, needs_password


def _api_url(host: str, port: int) -> str:
    connect = client_host(host)
    if ":" in connect:
        connect = f"[{connect}]"
    return f"http://{connect}:{port}/api"


def _check_environment(extra: dict[str, str], parameter: str = "Environment") -> dict[str, str]:
    upper_reserved = {k.upper(): v for k, v in RESERVED_KEYS.items()}
    for key, value in extra.items():
        if not key or "=" in key or "\x00" in key or key != key.strip():
            raise _bad(f"Environment variable name '{key}' is not valid.", parameter, "Names are non-empty and contain no '=' or spaces at either end.")
        if "\x00" in value:
            raise _bad(f"The value of environment variable {key} contains a NUL character.", parameter)
        hint = upper_reserved.get(key.upper())
        if hint:
            raise _bad(
                f"-{parameter} may not set {key}: PrefectWin derives it from {hint}.",
                parameter,
                f"Remove {key} from -{parameter} and use {hint}.",
            )
    return extra


def merge_database_credential(url: str, user: Optional[str], password: Optional[str]) -> str:
    """Put the credential's user and password into a database URL, quoted for a URL."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        raise _bad("-DatabaseUrl has no host.", "DatabaseUrl", "Use e.g. postgresql+asyncpg://prefect@db.example.com:5432/prefect.")
    if parts.password is not None and password is not None:
        raise _bad(
            "-DatabaseUrl already contains a password, and -DatabaseCredential gives another.",
            "DatabaseUrl",
            "Remove the password from -DatabaseUrl; pass it only through -DatabaseCredential.",
        )
    username = user or (urllib.parse.unquote(parts.username) if parts.username else None)
    if password is None:
        return url
    if not username:
        raise _bad("-DatabaseCredential has no user name, and -DatabaseUrl names none.", "DatabaseCredential")
    hostport = parts.netloc.rpartition("@")[2]
    netloc = f"{urllib.parse.quote(username, safe='')}:{urllib.parse.quote(password, safe='')}@{hostport}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _database(params: Any, home: str, paths: Any) -> tuple[Optional[str], str, Optional[str]]:
    """(the database URL with its password, or None for Prefect's default; kind; SQLite file)."""
    raw = params.database_url.get_secret_value().strip() if params.database_url else None
    credential = params.database_credential
    if not raw:
        if credential is not None:
            raise _bad("-DatabaseCredential needs -DatabaseUrl.", "DatabaseCredential", "Give -DatabaseUrl postgresql+asyncpg://USER@HOST:5432/DB.")
        return None, "sqlite", paths.join(home, "prefect.db")
    kind = database_kind(raw)
    if kind == "sqlite":
        if credential is not None:
            raise _bad("SQLite takes no credential.", "DatabaseCredential", "Omit -DatabaseCredential for a SQLite -DatabaseUrl.")
        return raw, "sqlite", sqlite_path(raw)
    if kind != "postgresql":
        raise _bad(
            "-DatabaseUrl must be a PostgreSQL or SQLite URL.",
            "DatabaseUrl",
            "Use postgresql+asyncpg://USER@HOST:5432/DB (with -DatabaseCredential) or sqlite+aiosqlite:///PATH.",
        )
    scheme, _, rest = raw.partition("://")
    if "+" not in scheme:
        # Prefect's server talks to PostgreSQL through asyncpg only.
        raw = f"postgresql+asyncpg://{rest}"
    password = credential.password.get_secret_value() if credential else None
    return merge_database_credential(raw, credential.user_name if credential else None, password), "postgresql", None


def build_spec(
    params: Any,
    *,
    python: str,
    default_home: str,
    host: str,
    flavor: Flavor = "windows",
    local_server: Optional[tuple[str, str]] = None,
    backend_python: Optional[str] = None,
    local_server_auth: Optional[SecretStr] = None,
    base_home: Optional[str] = None,
) -> ServiceSpec:
    """The spec for `service.install` parameters.

    python: the absolute interpreter when -PythonPath is not given; default_home: PREFECT_HOME
    when -PrefectHome is not given; host: this computer's name (it names the worker);
    local_server: (service name, API URL) of the PrefectWin server on this computer, if any,
    which a worker uses by default; local_server_auth: that server's auth string, which such a
    worker sends unless -AuthCredential gives another (services/auth.py); base_home: the base
    Python of a venv interpreter (pyvenv.cfg's home), which the account must be able to read too.
    """
    paths = ntpath if flavor == "windows" else posixpath
    role = params.role
    server = role == "Server"
    _check_role_params(params, server)

    application = params.python_path or python
    if not paths.isabs(application):
        raise _bad(f"-PythonPath must be an absolute path to python{'.exe' if flavor == 'windows' else ''}.", "PythonPath")
    home = params.prefect_home or default_home
    if not paths.isabs(home):
        raise _bad(f"-PrefectHome must be an absolute path, not '{home}'.", "PrefectHome", "A service has no current directory of yours to resolve it against.")
    log_dir = params.log_directory or paths.join(home, "logs")
    if not paths.isabs(log_dir):
        raise _bad(f"-LogDirectory must be an absolute path, not '{log_dir}'.", "LogDirectory")

    account, principal, needs_password = _account(params)
    extra = _check_environment(dict(params.environment or {}))
    marked = _check_secret_environment(dict(getattr(params, "secret_environment", None) or {}), extra)

    environment = {
        "PREFECT_HOME": home,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUTF8": "1",
        "PYTHONUNBUFFERED": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_LOGGING_COLORS": "false",
        "NO_COLOR": "1",
    }
    secret_environment: dict[str, SecretStr] = {}
    dependencies = tuple(params.depends_on or ())
    database, kind, sqlite_file = None, "sqlite", None
    # Where a worker's auth string comes from, for its marker (services/rotation.py).
    auth_from: Optional[str] = None
    if server:
        port = params.port or DEFAULT_PORT
        bind = params.bind_address or DEFAULT_BIND_ADDRESS
        api_url = _api_url(bind, port)
        arguments = ("-m", "prefect", "server", "start", "--host", bind, "--port", str(port))
        environment.update({"PREFECT_SERVER_API_HOST": bind, "PREFECT_SERVER_API_PORT": str(port), "PREFECT_API_URL": api_url})
        database, kind, sqlite_file = _database(params, home, paths)
        if database is not None:
            secret_environment[DATABASE_URL_KEY] = SecretStr(database)
        secret_environment.update(auth.server_auth(params, bind, port))
        worker_name = pool = worker_type = None
        queues: tuple[str, ...] = ()
        description = "Prefect 3 server, managed by PrefectWin."
    else:
        port, bind = None, None
        api_url = params.api_url or (local_server[1] if local_server else _api_url(DEFAULT_BIND_ADDRESS, DEFAULT_PORT))
        if not dependencies and local_server and not params.api_url:
            dependencies = (local_server[0],)
        pool = params.pool
        worker_type = params.worker_type or DEFAULT_WORKER_TYPE
        queues = tuple(params.work_queue or ())
        # A stable name: the worker's heartbeat rows stay one per service across restarts.
        worker_name = f"{params.name}@{host}"
        arguments = ("-m", "prefect", "worker", "start", "--pool", pool, "--type", worker_type, "--name", worker_name)
        for queue in queues:
            arguments += ("--work-queue", queue)
        environment["PREFECT_API_URL"] = api_url
        client = auth.worker_auth(params, local_server_auth if local_server else None)
        secret_environment.update(client)
        if params.auth_credential is not None:
            auth_from = auth.GIVEN_AUTH
        elif local_server and client:
            auth_from = local_server[0]
        description = f"Prefect 3 worker for work pool '{pool}', managed by PrefectWin."
    plain_extra, secret_extra, secret_variables = split_secret_environment(extra, marked)
    environment.update(plain_extra)
    secret_environment.update(secret_extra)
    if secret_variables:
        arguments = (launcher_file_path(home, params.name), secrets_file_path(home, params.name), *arguments)
    if any(d.lower() == params.name.lower() for d in dependencies):
        raise _bad(f"Service '{params.name}' cannot depend on itself.", "DependsOn")

    name = params.name
    spec = ServiceSpec(
        name=name,
        role=role,
        display_name=f"Prefect {role.lower()} ({name})",
        description=description,
        application=application,
        arguments=arguments,
        working_directory=home,
        prefect_home=home,
        environment=environment,
        secret_environment=secret_environment,
        secret_variables=secret_variables,
        log_directory=log_dir,
        stdout_log=paths.join(log_dir, f"{name}.stdout.log"),
        stderr_log=paths.join(log_dir, f"{name}.stderr.log"),
        rotate_bytes=params.log_rotate_bytes or DEFAULT_ROTATE_BYTES,
        rotate_seconds=_given(params, "log_rotate_seconds", DEFAULT_ROTATE_SECONDS),
        retention_count=_given(params, "log_retention_count", DEFAULT_RETENTION_COUNT),
        retention_days=_given(params, "log_retention_days", DEFAULT_RETENTION_DAYS),
        # Windows only: the Service Control Manager's failure actions and Task Scheduler.
        failure_actions=FAILURE_ACTIONS if flavor == "windows" else (),
        prune_command=prune_command(backend_python, params.name) if backend_python and flavor == "windows" else (),
        stop_timeout_ms=SERVER_STOP_TIMEOUT_MS if server else WORKER_STOP_TIMEOUT_MS,
        start_type=params.startup_type,
        account=account,
        account_principal=principal,
        account_password=params.credential.password if (params.credential and needs_password) else None,
        dependencies=tuple(sorted(set(dependencies), key=str.lower)),
        port=port,
        bind_address=bind,
        api_url=api_url,
        pool=pool,
        worker_type=worker_type,
        work_queues=queues,
        worker_name=worker_name,
        auth_from=auth_from,
        database_kind=kind,
        sqlite_path=sqlite_file,
        **_firewall_fields(params, server, name),
        **_grant_fields(home, log_dir, sqlite_file, application, base_home, paths),
    )
    nssm_rules.check(_nssm_values(spec, params, {**extra, **{k: v.get_secret_value() for k, v in marked.items()}}))
    return spec


def _given(params: Any, field: str, default: int) -> int:
    """An optional integer parameter where 0 is a real value, not 'use the default'."""
    value = getattr(params, field, None)
    return default if value is None else value


def _nssm_values(spec: ServiceSpec, params: Any, extra: dict[str, str]) -> list[tuple[str, Optional[str], "nssm_rules.Rule"]]:
    """Every value that reaches NSSM, with the parameter it came from."""
    # Secrets go to the secrets file, not to NSSM; the file's TOML escapes any character.
    credential = params.credential
    values: list[tuple[str, Optional[str], nssm_rules.Rule]] = [
        ("PythonPath", spec.application, "path"),
        ("PrefectHome", spec.prefect_home, "path"),
        ("LogDirectory", spec.log_directory, "path"),
        ("LogDirectory", spec.stdout_log, "path"),
        ("LogDirectory", spec.stderr_log, "path"),
        ("BindAddress", spec.bind_address, "host"),
        ("ApiUrl", spec.api_url, "url"),
        ("Pool", spec.pool, "argument"),
        ("WorkerType", spec.worker_type, "argument"),
        *(("WorkQueue", queue, "argument") for queue in spec.work_queues),
        *(("DependsOn", dependency, "service") for dependency in spec.dependencies),
        ("Account", spec.account, "text"),
        ("Credential", credential.user_name if credential else None, "text"),
    ]
    for key, value in extra.items():
        parameter = "SecretEnvironment" if key in (getattr(params, "secret_environment", None) or {}) else "Environment"
        values.append((parameter, key, "env-name"))
        if key not in spec.secret_environment and key not in spec.secret_variables:
            values.append((f"Environment[{key}]", value, "secret"))
    return values


_SERVER_ONLY = (("port", "Port"), ("bind_address", "BindAddress"), ("database_url", "DatabaseUrl"), ("database_credential", "DatabaseCredential"))
_WORKER_ONLY = (("api_url", "ApiUrl"), ("pool", "Pool"), ("worker_type", "WorkerType"), ("work_queue", "WorkQueue"))


def _check_role_params(params: Any, server: bool) -> None:
    wrong = _WORKER_ONLY if server else _SERVER_ONLY
    for field, name in wrong:
        if getattr(params, field, None):
            raise _bad(f"-{name} applies to {'workers' if server else 'servers'} only.", name, f"Omit -{name} for -Role {params.role}.")
    if not server:
        if getattr(params, "open_firewall", False):
            raise _bad("-OpenFirewall applies to servers only: workers make outbound connections.", "OpenFirewall")
        for field, name in (("allow_from", "AllowFrom"), ("firewall_profile", "FirewallProfile")):
            if getattr(params, field, None):
                raise _bad(f"-{name} applies to servers only: workers make outbound connections.", name, f"Omit -{name} for -Role Worker.")
        if not params.pool:
            raise _bad("A worker needs -Pool: the work pool it polls.", "Pool", "Give -Pool NAME (it is created with -WorkerType if it does not exist).")
    if params.api_url:
        parts = urllib.parse.urlsplit(params.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _bad(f"-ApiUrl '{mask_url(params.api_url)}' is not an http(s) URL.", "ApiUrl", "Use e.g. http://prefect-server:4200/api.")


def _account(params: Any) -> tuple[str, str, bool]:
    credential = params.credential
    requested = params.account or (credential.user_name if credential and credential.user_name else None)
    account, principal, needs_password = normalize_account(requested, params.name)
    if account.lower().startswith(VIRTUAL_ACCOUNT_PREFIX.lower()) and not is_own_virtual_account(account, params.name):
        raise _bad(
            f"{account} is another service's virtual account; Windows gives each service only its own.",
            "Account",
            f"Omit -Account (service '{params.name}' then runs as {virtual_account(params.name)}), or give a user, a gMSA (DOMAIN\\name$) or LocalSystem.",
        )
    if credential is not None and not needs_password:
        raise _bad(
            f"-Credential is for user accounts; {account} has no password.",
            "Credential",
            "Omit -Credential for LocalSystem, LocalService, NetworkService, gMSAs (DOMAIN\\name$) and NT SERVICE\\ accounts.",
        )
    if needs_password and credential is None:
        raise _bad(f"Account {account} needs -Credential with its password.", "Credential", f"Add -Credential (Get-Credential '{account}').")
    if credential is not None and credential.user_name and params.account:
        given, _, _ = normalize_account(credential.user_name)
        if given.lower() != account.lower():
            raise _bad(f"-Account {account} and -Credential for {given} disagree.", "Credential", "Give the credential of the -Account, or omit -Account.")
    return account, principal, needs_password


def _firewall_fields(params: Any, server: bool, name: str) -> dict[str, Any]:
    """The rule and its scope: -AllowFrom (default LocalSubnet), -FirewallProfile (default
    Domain and Private), each checked; both need -OpenFirewall."""
    allow_from, chosen = getattr(params, "allow_from", None), getattr(params, "firewall_profile", None)
    opened = bool(server and getattr(params, "open_firewall", False))
    if not opened:
        for given, parameter in ((allow_from, "AllowFrom"), (chosen, "FirewallProfile")):
            if given:
                raise _bad(f"-{parameter} scopes the rule -OpenFirewall adds; without -OpenFirewall there is no rule.", parameter, f"Add -OpenFirewall, or omit -{parameter}.")
        return {}
    return {
        "firewall_rule": firewall_rule_name(name),
        "firewall_remote_addresses": firewall.remote_addresses(allow_from),
        "firewall_profiles": firewall.profiles(chosen),
    }


def _grant_fields(home: str, log_dir: str, sqlite_file: Optional[str], application: str, base_home: Optional[str], paths: Any) -> dict[str, Any]:
    """The folders the account needs: Modify on PREFECT_HOME, the logs and a SQLite database's
    folder; read and execute on the interpreter's folders."""
    modify = [home, log_dir]
    if sqlite_file:
        modify.append(paths.dirname(sqlite_file))
    return {"modify_directories": tuple(dict.fromkeys(modify)), "runtime_directories": runtime_directories(application, base_home)}
