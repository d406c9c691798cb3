"""Point the diagnosis at an installed service: its interpreter, environment block, working
directory and account, read through the system adapter, so the same gathering and checks
describe the service as the Service Control Manager will start it, not the admin's shell.

The reading is split in two: `read_target` asks the adapter (and the file system, for the
.env and prefect.toml Prefect reads from the working directory); everything it derives from
those answers (command line, %VAR% expansion, the merged environment, which server a worker
belongs to) is a pure function here, tested without a machine.
"""
from __future__ import annotations

import ntpath
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from pydantic import SecretStr

from prefectwin.diagnosis.facts import PeerServerFacts, ServiceAccountFacts, ServiceFacts
from prefectwin.errors import InvalidArgument, NotFound

SERVER_AUTH_KEY = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_KEY = "PREFECT_API_AUTH_STRING"
DATABASE_KEYS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
DEFAULT_ACCOUNT = "LocalSystem"
DEFAULT_PORT = 4200
DEFAULT_HOST = "127.0.0.1"
_PERCENT_VAR = re.compile(r"%([^%=\r\n]+)%")


@dataclass(frozen=True)
class ServiceTarget:
    """What `gather` is given instead of the backend's own interpreter, environment and folder."""

    python: str
    environment: dict[str, str]
    cwd: Optional[str]
    role: str
    prefect_home: Optional[str]
    port: Optional[int]
    facts: ServiceFacts


# -- pure helpers -----------------------------------------------------------------------------
def lookup(env: dict[str, str], name: str) -> Optional[str]:
    """A variable of a Windows environment block: names compare without case."""
    if name in env:
        return env[name]
    upper = name.upper()
    return next((v for k, v in env.items() if k.upper() == upper), None)


def merge(env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """`extra` over `env`, replacing a variable whose name differs only in case."""
    merged = dict(env)
    for key, value in extra.items():
        for existing in [k for k in merged if k.upper() == key.upper()]:
            del merged[existing]
        merged[key] = value
    return merged


def expand(text: str, env: dict[str, str]) -> str:
    """%VAR% expansion as ExpandEnvironmentStrings does it: unknown names stay as written."""
    return _PERCENT_VAR.sub(lambda m: lookup(env, m.group(1)) if lookup(env, m.group(1)) is not None else m.group(0), text)


def split_command_line(text: str) -> list[str]:
    """The argument list python.exe sees for a command line (the MS C runtime's rules, the
    inverse of subprocess.list2cmdline, which is how PrefectWin writes AppParameters)."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    have_arg = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            start = i
            while i < len(text) and text[i] == "\\":
                i += 1
            count = i - start
            if i < len(text) and text[i] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * count)
            have_arg = True
            continue
        if ch == '"':
            if in_quotes and i + 1 < len(text) and text[i + 1] == '"':
                current.append('"')
                i += 2
                continue
            in_quotes = not in_quotes
            have_arg = True
        elif ch in " \t" and not in_quotes:
            if have_arg:
                args.append("".join(current))
                current, have_arg = [], False
        else:
            current.append(ch)
            have_arg = True
        i += 1
    if have_arg:
        args.append("".join(current))
    return args


def environment_entries(values: tuple[str, ...]) -> dict[str, str]:
    """NSSM's KEY=VALUE list as a dict (a name starting with '=' is a drive's current folder)."""
    env: dict[str, str] = {}
    for entry in values:
        key, sep, value = entry.partition("=")
        if sep and key:
            env[key] = value
    return env


def service_environment(parameters: dict[str, tuple[str, ...]], base: dict[str, str]) -> tuple[dict[str, str], bool]:
    """The environment NSSM starts the application with, and whether AppEnvironment replaced
    the account's block instead of adding to it."""
    replaced = "AppEnvironment" in parameters
    start = environment_entries(parameters["AppEnvironment"]) if replaced else base
    return merge(start, environment_entries(parameters.get("AppEnvironmentExtra", ()))), replaced


def role_of(managed: Optional[dict[str, Any]], arguments: list[str]) -> Optional[str]:
    role = (managed or {}).get("role")
    if role in ("Server", "Worker"):
        return role
    lowered = [a.lower() for a in arguments]
    for i, arg in enumerate(lowered[:-1]):
        if lowered[i + 1] == "start" and arg in ("server", "worker"):
            return arg.capitalize()
    return None


def option(arguments: list[str], name: str) -> Optional[str]:
    for i, arg in enumerate(arguments):
        if arg == name and i + 1 < len(arguments):
            return arguments[i + 1]
        if arg.startswith(name + "="):
            return arg.partition("=")[2]
    return None


def interpreter_of(application: str) -> str:
    """The python a service runs Prefect under: the application itself, or, when NSSM starts
    a venv's prefect launcher, the python beside it."""
    path = ntpath if "\\" in application else os.path
    base = path.basename(application).lower()
    if base.startswith("prefect"):
        return path.join(path.dirname(application), "python.exe" if base.endswith(".exe") else "python")
    return application


def read_dotenv(text: str) -> dict[str, str]:
    """The variables a .env file sets, as python-dotenv (which Prefect's settings use) reads
    the common forms: KEY=VALUE, `export KEY=VALUE`, quoted values, # comments."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            found[key] = value
    return found


def choose_server(worker_dependencies: tuple[str, ...], servers: list[Any]) -> tuple[Optional[Any], str]:
    """The managed server service a worker belongs to: the one it depends on, else the only one."""
    wanted = {d.lower() for d in worker_dependencies}
    named = [r for r in servers if r.name.lower() in wanted]
    if named:
        return named[0], f"the worker depends on service {named[0].name}"
    if len(servers) == 1:
        return servers[0], f"{servers[0].name} is the only PrefectWin server on this computer"
    if not servers:
        return None, "no PrefectWin server service is installed on this computer"
    return None, f"{len(servers)} PrefectWin servers are installed and the worker depends on none of them"


def network_identity(principal: str, computer_account: Optional[str]) -> Optional[str]:
    """Who an account is to a file server: system and virtual accounts are the computer
    account; LocalService is anonymous (None); a user account is itself."""
    lowered = principal.lower()
    if lowered in ("nt authority\\local service", "nt authority\\localservice"):
        return None
    if lowered in ("nt authority\\system", "localsystem", "nt authority\\network service", "nt authority\\networkservice") or lowered.startswith(
        "nt service\\"
    ):
        return computer_account
    return principal


# -- reading ----------------------------------------------------------------------------------
def _read_text(path: str) -> tuple[Optional[str], Optional[str]]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read(), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


def _working_files(cwd: Optional[str]) -> tuple[Optional[str], dict[str, str], Optional[str], Optional[str]]:
    """(.env path, what it sets, why it could not be read, prefect.toml path) in the folder."""
    if not cwd or not os.path.isdir(cwd):
        return None, {}, None, None
    env_path = os.path.join(cwd, ".env")
    toml_path = os.path.join(cwd, "prefect.toml")
    values: dict[str, str] = {}
    error = None
    if os.path.isfile(env_path):
        text, error = _read_text(env_path)
        values = read_dotenv(text) if text is not None else {}
    return (env_path if os.path.isfile(env_path) else None), values, error, (toml_path if os.path.isfile(toml_path) else None)


def _secrets_file(env: dict[str, str], adapter: Any, principal: str) -> tuple[Optional[str], dict[str, str], Optional[Any], Optional[str]]:
    """(the secrets file PrefectWin wrote for the service, what it sets, its access list, why it
    could not be read): the file NSSM's PREFECT_PROFILES_PATH names, when it is one of ours."""
    from prefectwin.services.secrets_file import file_values
    from prefectwin.services.spec import PROFILES_PATH_KEY, SECRETS_FILE_SUFFIX

    path = lookup(env, PROFILES_PATH_KEY)
    if not path or not path.lower().endswith(SECRETS_FILE_SUFFIX):
        return None, {}, None, None
    try:
        text = adapter.read_restricted_file(path)
        access = adapter.file_access(path, principal) if text is not None else None
    except Exception as exc:  # noqa: BLE001 - a fact the check reports, not a failed diagnosis
        return path, {}, None, f"{type(exc).__name__}: {exc}"
    return path, file_values(text.get_secret_value()) if text is not None else {}, access, None


def _launcher(arguments: list[str], adapter: Any, principal: str) -> tuple[Optional[str], Optional[Any]]:
    """(the launcher the service runs, its access list; None when it is missing or unreadable)."""
    from prefectwin.services.spec import launcher_arguments

    path = launcher_arguments(tuple(arguments))[0]
    if path is None:
        return None, None
    try:
        return path, adapter.file_access(path, principal)
    except Exception:  # noqa: BLE001 - judged as "cannot be checked" by the check
        return path, None


def _secret(value: Optional[str]) -> Optional[SecretStr]:
    return SecretStr(value) if value else None


def _peer(record: Any, base: dict[str, str], adapter: Any = None, principal: str = "") -> PeerServerFacts:
    env, _ = service_environment(record.parameters, base)
    arguments = split_command_line(expand(" ".join(record.parameters.get("AppParameters", ())), env))
    managed = record.managed or {}
    host = option(arguments, "--host") or lookup(env, "PREFECT_SERVER_API_HOST") or managed.get("bindAddress") or DEFAULT_HOST
    port_text = option(arguments, "--port") or lookup(env, "PREFECT_SERVER_API_PORT") or str(managed.get("port") or DEFAULT_PORT)
    cwd = expand((record.parameters.get("AppDirectory") or ("",))[0], env) or None
    _, dotenv, _, _ = _working_files(cwd)
    secrets = _secrets_file(env, adapter, principal)[1] if adapter is not None else {}
    # Prefect's order: the environment, then .env, then the profile (the secrets file).
    auth = lookup(env, SERVER_AUTH_KEY) or lookup(dotenv, SERVER_AUTH_KEY) or lookup(secrets, SERVER_AUTH_KEY)
    database, source = None, "default"
    for key in DATABASE_KEYS:
        found = next(((lookup(d, key), name) for d, name in ((env, "environment"), (dotenv, ".env"), (secrets, "secrets file")) if lookup(d, key)), None)
        if found:
            database, source = found
            break
    if database is None:
        home = lookup(env, "PREFECT_HOME") or managed.get("prefectHome")
        sqlite = managed.get("sqlitePath") or (os.path.join(home, "prefect.db") if home else None)
        database = f"sqlite+aiosqlite:///{sqlite}" if sqlite else None
    return PeerServerFacts(
        name=record.name,
        bind_host=host,
        port=int(port_text) if port_text.isdigit() else DEFAULT_PORT,
        api_url=managed.get("apiUrl"),
        auth_string=_secret(auth),
        database_url=_secret(database),
        database_source=source,
    )


def _account(adapter: Any, principal: str) -> ServiceAccountFacts:
    try:
        return adapter.service_account_facts(principal)
    except Exception as exc:  # noqa: BLE001 - a fact the checks report, not a failed diagnosis
        return ServiceAccountFacts(principal=principal, error=f"{type(exc).__name__}: {exc}")


def read_target(name: str, adapter: Any, *, principal_of: Callable[[str], str]) -> ServiceTarget:
    """Read service `name` through the adapter and derive what the diagnosis runs with."""
    record = adapter.read_service(name)
    if record is None:
        raise NotFound(
            f"Service '{name}' does not exist.",
            target=name,
            remediation="Run Get-PrefectService to list the Prefect services on this computer.",
        )
    if not record.is_nssm:
        raise InvalidArgument(
            f"Service '{name}' is not run by NSSM, so its interpreter and environment cannot be read.",
            target="ServiceName",
            remediation="Diagnose it with -PythonPath and -PrefectHome instead, or reinstall it with Install-PrefectService.",
        )
    parameters = record.parameters
    account = (parameters.get("ObjectName") or (DEFAULT_ACCOUNT,))[0]
    account_facts = _account(adapter, principal_of(account))
    env, replaced = service_environment(parameters, account_facts.environment)
    application = expand(parameters["Application"][0], env)
    arguments = split_command_line(expand(" ".join(parameters.get("AppParameters", ())), env))
    role = role_of(record.managed, arguments)
    if role is None:
        raise InvalidArgument(
            f"Service '{name}' runs neither 'prefect server start' nor 'prefect worker start'.",
            target="ServiceName",
            remediation="Give the name of a Prefect server or worker service (Get-PrefectService lists them).",
        )
    cwd = expand((parameters.get("AppDirectory") or ("",))[0], env) or None
    env_file, dotenv, dotenv_error, toml_file = _working_files(cwd)
    home = lookup(env, "PREFECT_HOME") or lookup(dotenv, "PREFECT_HOME") or (record.managed or {}).get("prefectHome")
    temp = lookup(env, "TEMP") or lookup(env, "TMP")
    path_entries = tuple(p for p in (lookup(env, "PATH") or "").split(os.pathsep) if p)
    mapped = tuple(p for p in path_entries if adapter.drive_kind(p)[0] == "mapped")
    home_kind = adapter.drive_kind(home)[0] if home else None
    home_access = home_error = None
    if home and home_kind == "unc":
        identity = account_facts.network_identity
        if identity is None:
            home_access, home_error = False, f"{account_facts.principal} reaches network shares anonymously"
        else:
            try:
                home_access = bool(adapter.has_modify(home, identity))
            except Exception as exc:  # noqa: BLE001 - the share may refuse even reading its ACL
                home_error = f"{type(exc).__name__}: {exc}"
    policies = dict(account_facts.execution_policies)
    process_policy = lookup(env, "PSExecutionPolicyPreference")
    if process_policy:
        policies["Process"] = process_policy
    server = lookup_note = None
    if role == "Worker":
        servers = [r for r in adapter.read_managed_services(None) if (r.managed or {}).get("role") == "Server"]
        chosen, lookup_note = choose_server(tuple(parameters.get("DependOnService", ())), servers)
        if chosen is not None:
            # The server's own account, whose block may differ from the worker's.
            server_account = (chosen.parameters.get("ObjectName") or (DEFAULT_ACCOUNT,))[0]
            same = principal_of(server_account) == account_facts.principal
            server = _peer(chosen, (account_facts if same else _account(adapter, principal_of(server_account))).environment, adapter, principal_of(server_account))
    port_text = option(arguments, "--port") if role == "Server" else None
    secrets_path, secrets, secrets_access, secrets_error = _secrets_file(env, adapter, account_facts.principal)
    launcher, launcher_access = _launcher(arguments, adapter, account_facts.principal)
    database_source = next(
        ("environment" if lookup(env, k) else ".env" if lookup(dotenv, k) else "secrets file" for k in DATABASE_KEYS if lookup(env, k) or lookup(dotenv, k) or lookup(secrets, k)),
        None,
    )
    facts = ServiceFacts(
        name=record.name,
        role=role,
        status=record.status,
        pids=tuple(p for p in (record.pid, *record.app_pids) if p is not None),
        account=account,
        application=application,
        arguments=tuple(arguments),
        working_directory=cwd,
        working_directory_exists=bool(cwd) and os.path.isdir(cwd),
        replaces_environment=replaced,
        nssm_environment_names=tuple(sorted(environment_entries(parameters.get("AppEnvironmentExtra", ())), key=str.upper)),
        env_file=env_file,
        env_file_names=tuple(sorted(dotenv, key=str.upper)),
        env_file_error=dotenv_error,
        toml_file=toml_file,
        temp_dir=temp,
        temp_exists=bool(temp) and os.path.isdir(temp),
        path_entries=path_entries,
        path_mapped=mapped,
        path_missing=tuple(p for p in path_entries if p not in mapped and not os.path.isdir(p)),
        account_facts=account_facts.model_copy(update={"execution_policies": policies, "environment": {}}),
        home=home,
        home_drive_kind=home_kind,
        home_access=home_access,
        home_access_error=home_error,
        secrets_file=secrets_path,
        secrets_file_exists=secrets_access is not None,
        secrets_file_names=tuple(sorted(secrets, key=str.upper)),
        secrets_file_access=secrets_access.model_dump() if secrets_access is not None else None,
        secrets_file_error=secrets_error,
        launcher_file=launcher,
        launcher_file_access=launcher_access.model_dump() if launcher_access is not None else None,
        auth_string=_secret(lookup(env, CLIENT_AUTH_KEY) or lookup(dotenv, CLIENT_AUTH_KEY) or lookup(secrets, CLIENT_AUTH_KEY)),
        database_url_source=database_source,
        server=server,
        server_lookup=lookup_note,
    )
    return ServiceTarget(
        python=interpreter_of(application),
        environment=env,
        cwd=cwd if facts.working_directory_exists else None,
        role=role,
        prefect_home=None,
        port=int(port_text) if port_text and port_text.isdigit() else None,
        facts=facts,
    )


def account_environment(
    machine: dict[str, str],
    user: Optional[dict[str, str]],
    *,
    system: dict[str, str],
    profile: Optional[str],
    user_name: str,
) -> dict[str, str]:
    """The block the Service Control Manager gives an account's service, built the way Windows
    builds a logon environment: the system's own variables, the machine's (expanded), the
    profile, then the account's own over them, except PATH, where the account's entries are
    appended to the machine's. Values arrive unexpanded (REG_EXPAND_SZ as stored), so
    %USERPROFILE% means the account's profile, not the admin's."""
    env = dict(system)
    for key, value in machine.items():
        env = merge(env, {key: expand(value, env)})
    if profile:
        env = merge(env, {"USERPROFILE": profile})
    env = merge(env, {"USERNAME": user_name})
    machine_path = lookup(env, "PATH")
    for key, value in (user or {}).items():
        expanded = expand(value, env)
        if key.upper() == "PATH" and machine_path:
            expanded = machine_path.rstrip(";") + ";" + expanded
        env = merge(env, {key: expanded})
    return env
