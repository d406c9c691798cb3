"""`service.*`: Prefect server and workers as Windows services (NSSM), planned and reversible.

- `service.install`   Install-PrefectService    build a ServiceSpec, validate, plan, apply
- `service.get`       Get-PrefectService        the services PrefectWin manages, with health
- `service.wait`      Wait-PrefectService       until healthy or the timeout, with progress
- `service.uninstall` Uninstall-PrefectService  stop, remove, and only the files asked for
- `service.log`       Get-PrefectServiceLog     stdout/stderr log entries (and NSSM's events)

install and uninstall change state: with whatIf they return the plan and touch nothing.
Passwords (-DatabaseCredential, -Credential) arrive inside the request on stdin, stay
SecretStr, and are scrubbed from every message.
"""
from __future__ import annotations

import ntpath
import os
import posixpath
import socket
import sys
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, SecretStr, WithJsonSchema, field_validator

from prefectwin.errors import InvalidArgument, NotFound
from prefectwin.models import Params, Result, not_blank
from prefectwin.registry import Context, command
from prefectwin.services.health import ServiceInfo
from prefectwin.change.model import Action, Planned
from prefectwin.services.logs import ServiceLog
from prefectwin.services.spec import SERVICE_NAME_PATTERN, Credential, StartupType

ServiceName = Field(pattern=SERVICE_NAME_PATTERN, description="The Windows service name (letters, digits, '.', '_', '-').")


class ServiceInstallParams(Params):
    name: str = ServiceName
    role: Literal["Server", "Worker"] = Field(description="Run a Prefect server or a worker.")
    python_path: Optional[str] = Field(None, description="Absolute python.exe Prefect runs under; default: the backend's own.")
    prefect_home: Optional[str] = Field(None, description="PREFECT_HOME and working directory; default: %ProgramData%\\Prefect.")
    port: Optional[int] = Field(None, ge=1, le=65535, description="Server only: the API port; default 4200.")
    bind_address: Optional[str] = Field(None, description="Server only: the address to listen on; default 127.0.0.1.")
    database_url: Optional[SecretStr] = Field(None, description="Server only: the database URL, without its password.")
    database_credential: Optional[Credential] = Field(None, description="Server only: the database user and password.")
    open_firewall: bool = Field(False, description="Server only: add an inbound firewall rule for the port.")
    auth_credential: Optional[Credential] = Field(None, description="Prefect's basic auth, USER:PASSWORD: a server requires it, a worker sends it.")
    allow_anonymous: bool = Field(False, description="Server only: listen on a non-loopback address without -AuthCredential.")
    allow_from: Optional[list[str]] = Field(None, description="With openFirewall: the remote addresses, subnets, ranges or keywords the rule allows; default LocalSubnet.")
    firewall_profile: Optional[list[str]] = Field(None, description="With openFirewall: the firewall profiles (Domain, Private, Public) the rule applies on; default Domain and Private.")
    api_url: Optional[str] = Field(None, description="Worker only: the server's API URL; default: the local server's.")
    pool: Optional[str] = Field(None, min_length=1, description="Worker only: the work pool to poll.")
    worker_type: Optional[str] = Field(None, min_length=1, description="Worker only: the worker type; default process.")
    work_queue: Optional[list[str]] = Field(None, description="Worker only: the work queues to poll; default: all.")
    depends_on: Optional[list[str]] = Field(None, description="Services that must run first; a worker defaults to the local server.")
    environment: Optional[dict[str, str]] = Field(None, description="More environment variables for the service.")
    secret_environment: Optional[dict[str, SecretStr]] = Field(
        None, description="Environment variables whose values are secret: kept in the service's secrets file, never in NSSM's registry values."
    )
    account: Optional[str] = Field(None, description="Default: the service's own virtual account NT SERVICE\\<name>; or LocalSystem, LocalService, NetworkService, DOMAIN\\user (with credential) or a gMSA DOMAIN\\name$.")
    credential: Optional[Credential] = Field(None, description="The password of a user -Account.")
    startup_type: StartupType = Field("Automatic", description="How the service starts at boot.")
    log_directory: Optional[str] = Field(None, description="Where stdout and stderr logs go; default: PREFECT_HOME\\logs.")
    log_rotate_bytes: Optional[int] = Field(None, ge=1024, description="Rotate a log once it is this large; default 10 MiB.")
    log_rotate_seconds: Optional[int] = Field(None, ge=0, le=31_536_000, description="At start, rotate a log older than this; 0: never; default 1 day.")
    log_retention_count: Optional[int] = Field(None, ge=1, le=10_000, description="Keep this many rotated files per log; default 10.")
    log_retention_days: Optional[int] = Field(None, ge=0, le=36_500, description="Delete rotated files older than this; 0: no age limit; default 30.")
    nssm_path: Optional[str] = Field(None, description="nssm.exe; default: the one on PATH.")
    start: bool = Field(False, description="Start the service after installing it.")
    wait: bool = Field(False, description="Start it and wait until it is healthy.")
    timeout_sec: int = Field(120, ge=1, le=3600, description="How long -Wait waits.")
    force: bool = Field(False, description="Take over an existing service, allow SQLite on a share, set -Credential again.")
    pass_thru: bool = Field(False, description="Return the service's ServiceInfo.")

    @field_validator("python_path", "prefect_home", "bind_address", "api_url", "account", "log_directory", "nssm_path")
    @classmethod
    def _blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class ServiceGetParams(Params):
    name: Optional[list[str]] = Field(None, description="Service names; default: every service PrefectWin manages.")

    @field_validator("name")
    @classmethod
    def _names(cls, names: Optional[list[str]]) -> Optional[list[str]]:
        return _check_names(names)


class ServiceWaitParams(Params):
    name: list[str] = Field(min_length=1, description="The services to wait for.")
    timeout_sec: int = Field(120, ge=1, le=3600, description="Give up after this many seconds.")

    @field_validator("name")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return _check_names(names)


class ServiceUninstallParams(Params):
    name: str = ServiceName
    remove_logs: bool = Field(False, description="Also delete the service's log files.")
    remove_database: bool = Field(False, description="Also delete its SQLite database (never a PostgreSQL one).")
    timeout_sec: Optional[int] = Field(None, ge=1, le=3600, description="Kill the service if it has not stopped after this; default: its stop timeout.")
    nssm_path: Optional[str] = Field(None, description="nssm.exe; default: the one on PATH.")
    force: bool = Field(False, description="Remove a service PrefectWin does not manage.")


class ServiceLogParams(Params):
    name: Optional[list[str]] = Field(None, min_length=1, description="The services whose logs to read (Windows), merged by time.")
    path: Optional[list[str]] = Field(None, min_length=1, description="Log files to read instead of a service's (any OS).")
    stream: Optional[list[Literal["Stdout", "Stderr", "EventLog"]]] = Field(None, min_length=1, description="Which logs; default all.")
    tail: Optional[int] = Field(None, ge=0, le=1000000, description="Only the last N entries.")
    # A string on the wire (PowerShell sends DateTime.ToString('o')), parsed by services/logs.py.
    since: Optional[Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]] = Field(None, description="Only entries at or after this time (ISO 8601).")
    level: Optional[Literal["Debug", "Info", "Warning", "Error", "Critical"]] = Field(None, description="Only entries at or above this level.")
    cursor: Optional[str] = Field(None, min_length=1, max_length=65536, description="Carry on after a previous answer's cursor (-Wait).")

    @field_validator("name")
    @classmethod
    def _names(cls, names: Optional[list[str]]) -> Optional[list[str]]:
        return _check_names(names)


class ServicePlan(Planned):
    """PSTypeName PrefectWin.ServicePlan."""

    name: str
    changed: bool
    what_if: bool
    actions: list[Action]
    service: Optional[ServiceInfo] = None


def _check_names(names: Optional[list[str]]) -> Optional[list[str]]:
    import re

    for name in names or []:
        if not re.match(SERVICE_NAME_PATTERN, name):
            raise ValueError(f"'{name}' is not a service name (letters, digits, '.', '_', '-')")
    return names


# -- helpers ---------------------------------------------------------------------------------
def _flavor() -> Literal["windows", "posix"]:
    return "windows" if sys.platform == "win32" else "posix"


def default_home(flavor: str) -> str:
    if flavor == "windows":
        return ntpath.join(os.environ.get("ProgramData") or "C:\\ProgramData", "Prefect")
    return posixpath.join("/var/lib", "prefect")


def install_secrets(params: ServiceInstallParams, spec: Any) -> tuple[str, ...]:
    found = [v.get_secret_value() for v in (*spec.secret_environment.values(), *spec.secret_variables.values())]
    for credential in (params.database_credential, params.credential, params.auth_credential):
        if credential is not None:
            found.append(credential.password.get_secret_value())
    return tuple(s for s in found if s)


def _local_server(adapter: Any, exclude: str) -> Optional[tuple[str, str]]:
    servers = [
        r for r in adapter.read_managed_services(None) if (r.managed or {}).get("role") == "Server" and r.name.lower() != exclude.lower()
    ]
    if len(servers) > 1:
        raise InvalidArgument(
            f"This computer has {len(servers)} PrefectWin servers ({', '.join(r.name for r in servers)}); which one should the worker use?",
            target="ApiUrl",
            remediation="Give -ApiUrl (and -DependsOn for a server on this computer).",
        )
    return (servers[0].name, servers[0].managed["apiUrl"]) if servers else None


def _local_server_auth(adapter: Any, name: str) -> Optional[SecretStr]:
    """The auth string the local server requires, which its workers send by default."""
    from prefectwin.services.auth import SERVER_AUTH_KEY, SecretsFileUnreadable, service_secret

    record = adapter.read_service(name)
    try:
        return service_secret(record, SERVER_AUTH_KEY, adapter) if record is not None else None
    except SecretsFileUnreadable as denied:
        # Not "the server has no auth": a worker installed without its string would get 401s.
        raise SecretsFileUnreadable(
            f"Cannot tell whether server '{name}' requires authentication: this session cannot read its secrets file '{denied.target}'. "
            "Nothing was changed.",
            target=denied.target,
            remediation=f"{denied.remediation} Or give the worker -ApiUrl and -AuthCredential.",
        ) from denied


def _secrets_text(adapter: Any, path: Optional[str]) -> Optional[SecretStr]:
    """The secrets file's text, for the undo of its deletion; None when there is none or this
    process may not read it (a -WhatIf without elevation: the plan then says it cannot be undone)."""
    from prefectwin.errors import PermissionDenied

    if path is None:
        return None
    try:
        return adapter.read_restricted_file(path)
    except (OSError, PermissionDenied):
        return None


def _grants_to_revoke(record: Any, adapter: Any, events: Any) -> list[Any]:
    """The grants Install made, as the marker records them. A service installed before grants
    were recorded: its own virtual account's Modify grants on PREFECT_HOME and the log folder
    (that account is this service's alone); any other account's rights are left, with a warning."""
    from prefectwin.services import grants
    from prefectwin.services.spec import normalize_account

    marker = record.managed
    recorded = grants.recorded_grants(marker)
    if recorded is not None:
        return list(recorded)
    if marker is None:
        return []
    principal = normalize_account((record.parameters.get("ObjectName") or (None,))[0])[1]
    folders = grants.unrecorded_folders(marker)
    if not grants.is_own_virtual_account(principal, record.name):
        shown = ", ".join(f"'{f}'" for f in folders)
        if folders and principal.lower() != "nt authority\\system":
            events.warning(
                f"Service '{record.name}' was installed before PrefectWin recorded its ACL grants, so Uninstall leaves any Modify rights of "
                f"{principal} on {shown}; remove them with icacls <folder> /remove \"{principal}\" if nothing else needs them."
            )
        return []
    held = [f for f in folders if adapter.has_modify(f, principal)]
    return list(grants.unrecorded_owned((grants.Grant(path=f, principal=principal, rights="Modify") for f in held), record.name))


def _other_needs(record: Any, adapter: Any) -> list[Any]:
    """What every other managed service's account relies on (see grants.need_of)."""
    from prefectwin.services import grants
    from prefectwin.services.spec import normalize_account

    needs = []
    for other in adapter.read_managed_services(None):
        if other.name.lower() == record.name.lower() or other.managed is None:
            continue
        principal = normalize_account((other.parameters.get("ObjectName") or (None,))[0])[1]
        application = (other.parameters.get("Application") or (None,))[0]
        base_home = grants.venv_home(application) if application else None
        needs.append(grants.need_of(other.name, principal, other.managed, application, base_home))
    return needs


def _release_grants(record: Any, adapter: Any, events: Any) -> tuple[list[Any], list[Action], list[str]]:
    """(the grants Uninstall revokes, the marker writes that hand the others over, the
    services whose markers that plan depends on). A grant another service of the same account still needs is
    kept: recorded in that service's marker when it records grants, else left and reported."""
    from prefectwin.services import grants
    from prefectwin.services.plan import handover_action

    release = _grants_to_revoke(record, adapter, events)
    if not release:
        return [], [], []
    needs = _other_needs(record, adapter)
    revoke, kept = grants.release_plan(release, needs)
    by_service: dict[str, list[Any]] = {}
    for grant, need in kept:
        by_service.setdefault(need.service, []).append(grant)
        events.information(
            f"Uninstall keeps the {'Modify' if grant.rights == 'Modify' else 'read and execute'} rights of {grant.principal} on "
            f"'{grant.path}': service '{need.service}' runs as that account and still needs them."
        )
    writes: list[Action] = []
    for service, granted in by_service.items():
        other = adapter.read_service(service)
        changed = grants.handed_over(other.managed, granted) if other is not None and other.managed else None
        if changed is not None:
            writes.append(handover_action(other.name, other.marker, changed, granted))
    return list(revoke), writes, list(by_service)


# -- commands --------------------------------------------------------------------------------
def spec_for(
    params: ServiceInstallParams,
    *,
    local_server: Optional[tuple[str, str]] = None,
    local_server_auth: Optional[SecretStr] = None,
    base_home: Optional[str] = None,
) -> Any:
    """The ServiceSpec of `service.install` parameters on this machine: every parameter problem,
    before anything is asked of the machine. `local_server`: (name, API URL) of the server a
    worker without -ApiUrl uses, and `local_server_auth` the auth string it requires;
    `base_home`: the venv's base interpreter folder, when the venv is not there yet to say it."""
    from prefectwin.services.grants import venv_home
    from prefectwin.services.spec import build_spec

    flavor = _flavor()
    python_path = params.python_path
    if python_path and not os.path.isabs(python_path) and flavor == ("windows" if os.name == "nt" else "posix"):
        python_path = os.path.abspath(python_path)
        params = params.model_copy(update={"python_path": python_path})
    return build_spec(
        params,
        python=sys.executable,
        default_home=default_home(flavor),
        host=socket.gethostname(),
        flavor=flavor,
        backend_python=sys.executable,
        base_home=base_home or venv_home(python_path or sys.executable),
        local_server=local_server,
        local_server_auth=local_server_auth,
    )


def warn_exposure(spec: Any, events: Any) -> None:
    from prefectwin.services.auth import exposure_warning

    from prefectwin.services.firewall import scope_warning

    for warning in (exposure_warning(spec), scope_warning(spec)):
        if warning:
            events.warning(warning)


def check_admin(adapter: Any, ctx: Context) -> None:
    """A plan may be shown to anyone; applying one needs administrator rights."""
    from prefectwin.services.validate import require_admin

    if ctx.what_if:
        if not adapter.is_admin():
            ctx.events.warning("Not running as administrator: applying this plan will need 'Run as administrator'.")
    else:
        require_admin(adapter)


def plan_service(spec: Any, params: ServiceInstallParams, adapter: Any, events: Any, *, pending: Optional[tuple[str, str]] = None) -> tuple[Any, list[Action]]:
    """(the service's state, the actions that install or update it): validated first
    (services/validate.py; `pending` as validate_install takes it), then planned."""
    from prefectwin.services.plan import plan_install
    from prefectwin.services.state import read_state
    from prefectwin.services.validate import validate_install

    state = read_state(spec, adapter)
    validate_install(spec, state.record, adapter, events, force=params.force, pending=pending)
    return state, plan_install(spec, state, start=params.start or params.wait, force=params.force)


@command("service.install", params=ServiceInstallParams, result=ServicePlan, changes_state=True)
def service_install(params: ServiceInstallParams, ctx: Context) -> ServicePlan:
    """Install or update a Prefect server or worker as a Windows service (NSSM)."""
    from prefectwin.change import session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.services.health import describe, wait_until_healthy
    from prefectwin.services.plan import plan_install
    from prefectwin.services.state import read_state
    from prefectwin.services.validate import require_nssm
    from prefectwin.system import get_adapter

    spec = spec_for(params)
    adapter = get_adapter()
    adapter.require_services()
    if params.role == "Worker" and not params.api_url:
        local = _local_server(adapter, exclude=params.name)
        if local is not None:
            spec = spec_for(params, local_server=local, local_server_auth=_local_server_auth(adapter, local[0]))
    warn_exposure(spec, ctx.events)
    nssm = require_nssm(adapter, params.nssm_path, ctx.events)
    check_admin(adapter, ctx)
    state, actions = plan_service(spec, params, adapter, ctx.events)
    workers, carried, notes = _carry_auth(spec, state, adapter, actions)
    for note in notes:
        ctx.events.warning(note)
    start = params.start or params.wait

    def with_workers(current: Any, found: list[Any], carry: list[Action]) -> Any:
        return {"service": current, **carried_state(found, carry)} if workers else current

    def now() -> Any:
        current = read_state(spec, adapter)
        return with_workers(current, *_carry_auth(spec, current, adapter, plan_install(spec, current, start=start, force=params.force))[:2])

    plan = new_plan(actions + carried, with_workers(state, workers, carried))
    secrets = install_secrets(params, spec) + tuple(s for w in workers for s in _worker_secrets(w))

    def result(p, ran, applied, service=None) -> ServicePlan:
        return ServicePlan(name=spec.name, changed=bool(ran), what_if=not applied, actions=ran, service=service, plan_id=p.id, fingerprint=p.fingerprint)

    def execute(p, confirm, run_ctx) -> ServicePlan:
        ran = _apply_service_plan(p, confirm, run_ctx, adapter, "service.install", f"Install-PrefectService {spec.name}", secrets, nssm=nssm)
        if not p.actions:
            run_ctx.events.verbose(f"Service '{spec.name}' already matches the requested configuration.")
        service = None
        if params.wait:
            service = wait_until_healthy([spec.name], params.timeout_sec, adapter, run_ctx.events)[0]
        elif params.pass_thru:
            service = describe(adapter.read_service(spec.name), adapter=adapter)
        return result(p, ran, True, service if params.pass_thru else None)

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(now()),
        show=lambda p: result(p, p.actions, False),
        execute=execute,
    )
    return session.offer(ctx, proposal)


def carried_state(workers: list[Any], carried: list[Action]) -> dict[str, Any]:
    """The followers of a server's auth and what the plan carries to them, as fingerprinted
    state. A fingerprint masks the workers' secrets, so what their files need is in it as the
    carried actions."""
    return {"workers": workers, "carried": [(a.kind, a.target, a.description) for a in carried]}


def _carry_auth(spec: Any, state: Any, adapter: Any, actions: list[Action], exclude: frozenset[str] = frozenset()) -> tuple[list[Any], list[Action], list[str]]:
    """(this computer's other workers as services/rotation.py sees them, the actions that carry a
    server's new auth to those that follow it, the warnings). Nothing for a worker or a new server.
    `exclude`: lower-case names of workers the same plan installs itself (Install-PrefectStack)."""
    from prefectwin.services.auth import SERVER_AUTH_KEY, SecretsFileUnreadable, service_secret
    from prefectwin.services.rotation import plan_rotation

    if spec.role != "Server" or state.record is None:
        return [], [], []
    try:
        old, known = service_secret(state.record, SERVER_AUTH_KEY, adapter), True
    except SecretsFileUnreadable:
        old, known = None, False
    marker = state.record.managed or {}
    workers = [
        _local_worker(r, adapter) for r in adapter.read_managed_services(None) if (r.managed or {}).get("role") == "Worker" and r.name.lower() not in exclude
    ]
    carried, notes = plan_rotation(
        spec, old_auth=old, old_known=known, old_bind=marker.get("bindAddress"), old_api_url=marker.get("apiUrl"), workers=workers, server_actions=actions
    )
    return workers, carried, notes


def _local_worker(record: Any, adapter: Any) -> Any:
    """A worker record as services/rotation.py needs it: its secrets file read, if this session may."""
    from prefectwin.errors import PermissionDenied
    from prefectwin.services.auth import CLIENT_AUTH_KEY, SecretsFileUnreadable, service_secret
    from prefectwin.services.rotation import LocalWorker
    from prefectwin.services.secrets_file import file_values
    from prefectwin.services.spec import ENVIRONMENT_TABLE, SECRETS_PROFILE, normalize_account
    from prefectwin.services.state import secrets_file_of

    marker = record.managed or {}
    path = secrets_file_of(record)
    content, unreadable = None, False
    if path:
        try:
            content = adapter.read_restricted_file(path)
        except (OSError, PermissionDenied):
            unreadable = True
    try:
        sends = service_secret(record, CLIENT_AUTH_KEY, adapter) if not unreadable else None
    except SecretsFileUnreadable:
        sends, unreadable = None, True
    text = content.get_secret_value() if content is not None else None
    values = {k: SecretStr(v) for k, v in file_values(text, f"profiles.{SECRETS_PROFILE}").items()} if text is not None else None
    variables = {k: SecretStr(v) for k, v in file_values(text, ENVIRONMENT_TABLE).items()} if text is not None else {}
    return LocalWorker(
        name=record.name,
        running=record.running,
        api_url=marker.get("apiUrl"),
        pool=marker.get("pool"),
        auth_from=marker.get("authFrom"),
        secrets_file=path,
        values=values,
        variables=variables,
        content=content,
        unreadable=unreadable,
        sends=sends,
        reader=normalize_account((record.parameters.get("ObjectName") or (None,))[0])[1],
        stop_timeout_sec=int(marker.get("stopTimeoutMs", 15_000)) // 1000 + 30,
    )


def _worker_secrets(worker: Any) -> tuple[str, ...]:
    """What a follower's file and string hold, scrubbed from every message of the plan."""
    found = [v.get_secret_value() for v in (*(worker.values or {}).values(), *worker.variables.values())]
    if worker.sends is not None:
        found.append(worker.sends.get_secret_value())
    found += [part for value in found for part in value.split(":", 1)[1:]]
    return tuple(v for v in found if v)


def _records(adapter: Any, names: Optional[list[str]]) -> list[Any]:
    records = adapter.read_managed_services(names)
    if names:
        found = {r.name.lower() for r in records if r.managed is not None}
        missing = [n for n in names if n.lower() not in found]
        if missing:
            unmanaged = [r.name for r in records if r.managed is None]
            what = "not managed by PrefectWin" if set(unmanaged) >= set(missing) else "not found"
            raise NotFound(
                f"Service {', '.join(repr(m) for m in missing)} {what}.",
                target=", ".join(missing),
                remediation="Get-PrefectService without -Name lists the services PrefectWin manages.",
            )
    return records


@command("service.get", params=ServiceGetParams, result=list[ServiceInfo])
def service_get(params: ServiceGetParams, ctx: Context) -> list[ServiceInfo]:
    """The Prefect services PrefectWin manages, with their status and health."""
    from prefectwin.services.health import describe_all
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    adapter.require_services()
    return describe_all(_records(adapter, params.name), adapter=adapter)


@command("service.wait", params=ServiceWaitParams, result=list[ServiceInfo])
def service_wait(params: ServiceWaitParams, ctx: Context) -> list[ServiceInfo]:
    """Wait until services are healthy, reporting progress on every poll."""
    from prefectwin.services.health import wait_until_healthy
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    adapter.require_services()
    _records(adapter, params.name)
    return wait_until_healthy(params.name, params.timeout_sec, adapter, ctx.events)


@command("service.uninstall", params=ServiceUninstallParams, result=ServicePlan, changes_state=True)
def service_uninstall(params: ServiceUninstallParams, ctx: Context) -> ServicePlan:
    """Stop and remove a Prefect service, its firewall rule, and (if asked) its logs and SQLite database."""
    from prefectwin.change import session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.services.health import secret_values
    from prefectwin.services.plan import plan_uninstall
    from prefectwin.services.spec import firewall_rule_name, log_task_name
    from prefectwin.services.state import launcher_of, log_files, secrets_file_of, sqlite_files
    from prefectwin.services.validate import require_nssm
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    adapter.require_services()
    record = adapter.read_service(params.name)
    if record is None:
        raise NotFound(f"Service '{params.name}' does not exist.", target=params.name, remediation="Get-PrefectService lists the services PrefectWin manages.")
    marker = record.managed or {}
    if params.remove_database and marker.get("database") == "postgresql":
        raise InvalidArgument(
            f"Service '{params.name}' uses PostgreSQL; PrefectWin deletes only SQLite databases.",
            target="RemoveDatabase",
            remediation="Omit -RemoveDatabase, and drop the PostgreSQL database with your database tools if you mean to.",
        )
    stop_timeout = params.timeout_sec or int(marker.get("stopTimeoutMs", 15_000)) // 1000 + 15
    logs = marker.get("logPaths") or [v[0] for p in ("AppStdout", "AppStderr") if (v := record.parameters.get(p))]
    rule = firewall_rule_name(record.name)

    revoke, hand_over, others = _release_grants(record, adapter, ctx.events)

    def state_now():
        current = adapter.read_service(params.name)
        files = (log_files(logs) if params.remove_logs else []) + (sqlite_files(marker.get("sqlitePath")) if params.remove_database else [])
        secrets = secrets_file_of(current)
        launcher = launcher_of(current)
        port = adapter.firewall_rule_port(rule)
        scope = adapter.firewall_rule_scope(rule) if port is not None else None
        return {
            "service": current,
            "firewall": port,
            "firewallScope": scope,
            "files": files,
            "secretsFile": secrets if secrets and adapter.path_exists(secrets) else None,
            "launcherFile": launcher if launcher and adapter.path_exists(launcher) else None,
            # The markers a hand-over rewrites: a change to them since the plan voids it.
            **({"handOver": {n: getattr(adapter.read_service(n), "marker", None) for n in others}} if others else {}),
        }

    state = state_now()
    actions = plan_uninstall(
        record,
        firewall_port=state["firewall"],
        firewall_scope=state["firewallScope"],
        stop_timeout_sec=stop_timeout,
        log_files=log_files(logs) if params.remove_logs else [],
        database_files=sqlite_files(marker.get("sqlitePath")) if params.remove_database else [],
        force=params.force,
        log_task=log_task_name(record.name) if adapter.name != "posix" and adapter.scheduled_task(log_task_name(record.name)) is not None else None,
        secrets_file=state["secretsFile"],
        secrets_previous=_secrets_text(adapter, state["secretsFile"]),
        launcher_file=state["launcherFile"],
        launcher_previous=_secrets_text(adapter, state["launcherFile"]),
        revoke=revoke,
        hand_over=hand_over,
    )
    nssm = require_nssm(adapter, params.nssm_path, ctx.events)
    plan = new_plan(actions, state)

    def result(p, ran, applied) -> ServicePlan:
        return ServicePlan(name=record.name, changed=bool(ran) if applied else True, what_if=not applied, actions=ran, plan_id=p.id, fingerprint=p.fingerprint)

    def execute(p, confirm, run_ctx) -> ServicePlan:
        ran = _apply_service_plan(p, confirm, run_ctx, adapter, "service.uninstall", f"Uninstall-PrefectService {record.name}", secret_values(record, adapter), nssm=nssm)
        return result(p, ran, True)

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(state_now()),
        show=lambda p: result(p, p.actions, False),
        execute=execute,
    )
    return session.offer(ctx, proposal)


# -- operating what is installed: restart in order, upgrade with rollback --------------------
class ServiceRestartParams(Params):
    name: Optional[list[str]] = Field(None, description="The services to restart; default: every service PrefectWin manages.")
    timeout_sec: int = Field(120, ge=1, le=3600, description="How long each health gate waits after a start.")

    @field_validator("name")
    @classmethod
    def _names(cls, names: Optional[list[str]]) -> Optional[list[str]]:
        return _check_names(names)


class ServiceRestart(Planned):
    """PSTypeName PrefectWin.ServiceRestart."""

    names: list[str]
    changed: bool
    what_if: bool
    actions: list[Action]
    services: list[ServiceInfo] = []


class ServiceUpdateParams(Params):
    name: str = ServiceName
    version: str = Field(min_length=1, max_length=40, description="The Prefect release to install, e.g. 3.9.1.")
    wheel_path: Optional[str] = Field(None, description="A folder of wheels to install from, with no package index (air-gapped hosts).")
    timeout_sec: int = Field(120, ge=1, le=3600, description="How long each health gate waits after a start.")
    backup_acknowledged: bool = Field(
        False, description="A server on PostgreSQL: you have taken a pg_dump of its database (PrefectWin cannot, and a failed upgrade does not undo its migration)."
    )

    @field_validator("wheel_path")
    @classmethod
    def _blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class ServiceUpdate(Planned):
    """PSTypeName PrefectWin.ServiceUpdate."""

    name: str
    changed: bool
    what_if: bool
    actions: list[Action]
    python_path: Optional[str] = None
    from_version: Optional[str] = None
    to_version: str
    backups: list[str] = []
    notes: list[str] = []
    services: list[ServiceInfo] = []


def _all_secrets(records: list[Any]) -> tuple[str, ...]:
    """Every database URL and password of these services: a migration's error text may quote one."""
    from prefectwin.services.health import secret_values

    adapter = _adapter_or_none()
    return tuple(secret for record in records for secret in secret_values(record, adapter))


def _adapter_or_none() -> Any:
    from prefectwin.system import get_adapter

    return get_adapter()


def _services_after(adapter: Any, names: list[str]) -> list[ServiceInfo]:
    from prefectwin.services.health import describe_all

    return describe_all(adapter.read_managed_services(names)) if names else []


@command("service.restart", params=ServiceRestartParams, result=ServiceRestart, changes_state=True)
def service_restart(params: ServiceRestartParams, ctx: Context) -> ServiceRestart:
    """Restart Prefect services in order: workers stop before their server and start after it, each start behind a health gate."""
    from prefectwin.change import session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.services.restart import plan_restart
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    adapter.require_services()
    _records(adapter, params.name)

    def managed() -> list[Any]:
        return [r for r in adapter.read_managed_services(None) if r.managed is not None]

    records = managed()
    # Without -Name, what runs: a service an admin stopped (or disabled) stays stopped.
    names = params.name or [r.name for r in records if r.running]
    # In order, each step after the one before: declining a worker's stop must not stop its
    # server under it, nor declining a server's start start its workers.
    plan = new_plan(_chained(plan_restart(records, names, health_timeout_sec=params.timeout_sec)), records)

    def touched(actions: list[Action]) -> list[str]:
        return list(dict.fromkeys(a.target for a in actions if a.kind in ("stop-service", "start-service")))

    def execute(p, confirm, run_ctx) -> ServiceRestart:
        ran = _apply_service_plan(p, confirm, run_ctx, adapter, "service.restart", f"Restart-PrefectService {', '.join(names)}", _all_secrets(records), "Restarting a service")
        return ServiceRestart(names=touched(ran), changed=bool(ran), what_if=False, actions=ran, services=_services_after(adapter, touched(ran)), plan_id=p.id, fingerprint=p.fingerprint)

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(managed()),
        show=lambda p: ServiceRestart(names=touched(p.actions), changed=bool(p.actions), what_if=True, actions=p.actions, plan_id=p.id, fingerprint=p.fingerprint),
        execute=execute,
    )
    return session.offer(ctx, proposal)


def _chained(actions: list[Action]) -> list[Action]:
    """The actions numbered, each depending on the one before it."""
    from prefectwin.change.model import number

    ordered = number(actions)
    return [a.model_copy(update={"depends_on": [ordered[i - 1].id]}) if i else a for i, a in enumerate(ordered)]


def _apply_service_plan(
    plan: Any,
    confirm: Any,
    run_ctx: Context,
    adapter: Any,
    command: str,
    summary: str,
    secrets: tuple[str, ...],
    what: Optional[str] = None,
    *,
    nssm: Optional[str] = None,
) -> list[Action]:
    """Every service command's apply: administrator rights, then the change engine, journalled,
    with the service steps (`nssm`: install and uninstall run nssm.exe; restart and update do not)."""
    from prefectwin.change import engine
    from prefectwin.services.steps import STEPS, Runtime
    from prefectwin.services.validate import require_admin

    if what is None:
        require_admin(adapter)
    else:
        require_admin(adapter, what)
    return engine.apply(
        plan,
        steps=STEPS,
        runtime=Runtime(adapter, nssm, run_ctx.events),
        events=run_ctx.events,
        confirm=confirm,
        command=command,
        summary=summary,
        context={"nssm": nssm},
        secrets=secrets,
        activity="Applying the PrefectWin service plan",
    )


def check_wheel_path(path: Optional[str], version: str, parameter: str = "WheelPath") -> Optional[str]:
    """The absolute wheel folder, refused (naming `parameter`) unless it holds that Prefect's wheel."""
    if path is None:
        return None
    import glob

    folder = os.path.abspath(path)
    if not os.path.isdir(folder):
        raise InvalidArgument(f"The wheel folder '{folder}' does not exist.", target=parameter, remediation="Give the folder that holds the Prefect wheel and its dependencies.")
    if not glob.glob(os.path.join(glob.escape(folder), f"prefect-{glob.escape(version)}-*.whl")):
        raise InvalidArgument(
            f"'{folder}' holds no wheel of Prefect {version} (prefect-{version}-*.whl).",
            target=parameter,
            remediation=f"On a machine with PyPI: pip download prefect=={version} --dest <folder>, then copy the folder here.",
        )
    return folder


def _launches(adapter: Any, records: list[Any]) -> dict[str, Any]:
    """How NSSM really starts each service (services/upgrade.py Launch), by lower-case name. The
    account's environment block is read only for a service whose paths name a %VAR%."""
    from prefectwin.services.spec import normalize_account
    from prefectwin.services.upgrade import launch_of

    blocks: dict[str, dict[str, str]] = {}

    def block(record: Any) -> dict[str, str]:
        written = " ".join((record.parameters.get("Application") or ("",))[:1] + (record.parameters.get("AppDirectory") or ("",))[:1])
        if "%" not in written:
            return {}
        account = (record.parameters.get("ObjectName") or ("LocalSystem",))[0]
        if account.lower() not in blocks:
            try:
                blocks[account.lower()] = dict(adapter.service_account_facts(normalize_account(account)[1]).environment)
            except Exception:  # noqa: BLE001 - no block (POSIX, an unreadable account): NSSM's own variables still count
                blocks[account.lower()] = {}
        return blocks[account.lower()]

    return {r.name.lower(): launch_of(r, block(r)) for r in records}


def _require_interpreter(adapter: Any, name: str, launch: Any) -> str:
    """The python that service `name` runs Prefect under, or a NotFound saying why there is none."""
    if launch is None or not launch.application:
        raise NotFound(f"Service '{name}' has no Application: PrefectWin cannot tell which interpreter to upgrade.", target=name, remediation="Install the service again with Install-PrefectService -Force.")
    shown = f"'{launch.application}'" + ("" if launch.application == launch.python else f", that is '{launch.python}'")
    if launch.unexpanded:
        raise NotFound(
            f"The interpreter of service '{name}' cannot be found: its Application {shown} names {', '.join(launch.unexpanded)}, "
            "which the service's environment does not set; nothing was changed.",
            target=name,
            remediation="Set the variable for the service (machine environment, or AppEnvironmentExtra), or install the service again with an absolute -PythonPath.",
        )
    if not adapter.path_exists(launch.python):
        raise NotFound(
            f"The interpreter of service '{name}' ({shown}) does not exist; nothing was changed.",
            target=launch.python,
            remediation="Install the service again with a -PythonPath that exists (Install-PrefectService -Force).",
        )
    return launch.python


@command("service.update", params=ServiceUpdateParams, result=ServiceUpdate, changes_state=True)
def service_update(params: ServiceUpdateParams, ctx: Context) -> ServiceUpdate:
    """Upgrade Prefect in a service's interpreter: back up, pip install, migrate, restart in order behind a health gate; roll back on failure."""
    import datetime as _dt

    from prefectwin.change import session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.errors import ApplyFailed, PrefectWinError
    from prefectwin.services.health import prefect_version, wait_until_healthy
    from prefectwin.services.upgrade import check_version, plan_update
    from prefectwin.system import get_adapter

    check_version(None, params.version)  # parameter problems first, on every OS
    wheel_path = check_wheel_path(params.wheel_path, params.version)
    adapter = get_adapter()
    adapter.require_services()
    [record] = [r for r in _records(adapter, [params.name]) if r.name.lower() == params.name.lower()][:1] or [None]

    def managed() -> list[Any]:
        return [r for r in adapter.read_managed_services(None) if r.managed is not None]

    records = managed()
    launches = _launches(adapter, records)
    python = _require_interpreter(adapter, params.name, launches.get(record.name.lower()) if record else None)
    current = prefect_version(python)
    check_version(current, params.version)
    # Recorded when planning, so that the plan that is shown is the plan that runs, undo included.
    previous = adapter.pip_freeze(python) if current != params.version else []
    actions, notes = plan_update(
        records,
        params.name,
        launches=launches,
        current_version=current,
        version=params.version,
        wheel_path=wheel_path,
        previous_packages=previous,
        now=_dt.datetime.now(_dt.timezone.utc),
        health_timeout_sec=params.timeout_sec,
    )
    # Each step needs the one before it (no migration without the backup, no start without the
    # migration), so declining one under -Confirm skips the rest of the upgrade.
    plan = new_plan(_chained(actions), records)
    # Servers whose database PrefectWin cannot back up, nor put back if the upgrade fails.
    unbacked = [a.target for a in actions if a.kind == "migrate-database" and not a.data.get("backup")]
    if unbacked and not params.backup_acknowledged:
        notes = [*notes, f"Applying this needs -BackupAcknowledged: say that you have taken the pg_dump of {', '.join(unbacked)}'s database."]
    for note in notes:
        ctx.events.warning(note)

    def result(p, ran, applied) -> ServiceUpdate:
        backups = [a.data["destination"] for a in p.actions if a.kind == "backup-database"]
        return ServiceUpdate(
            name=record.name, changed=bool(ran), what_if=not applied, actions=ran, python_path=python,
            from_version=current, to_version=params.version, backups=backups, notes=notes, plan_id=p.id, fingerprint=p.fingerprint,
        )

    def execute(p, confirm, run_ctx) -> ServiceUpdate:
        if not p.actions:
            return result(p, [], True)
        if unbacked and not params.backup_acknowledged:
            raise InvalidArgument(
                f"Service {', '.join(repr(n) for n in unbacked)} uses PostgreSQL, which PrefectWin does not back up, and a failed upgrade "
                "does not undo its migration; nothing was changed.",
                target="BackupAcknowledged",
                remediation="Take a pg_dump of the database (pg_dump --format=custom --file=prefect-before-upgrade.dump DBNAME) and keep it, "
                "then run Update-PrefectService again with -BackupAcknowledged.",
            )
        running = list(dict.fromkeys(a.target for a in p.actions if a.kind == "stop-service"))
        try:
            ran = _apply_service_plan(p, confirm, run_ctx, adapter, "service.update", f"Update-PrefectService {record.name} -Version {params.version}", _all_secrets(records), "Upgrading a service's Prefect")
        except ApplyFailed as failure:
            # The engine has put the old version and database back and started the services
            # again; say whether they are healthy, which is what the admin needs to know now.
            after = prefect_version(python)
            try:
                if running:
                    wait_until_healthy(running, params.timeout_sec, adapter, run_ctx.events)
                state = f"Prefect {after} is installed again" + (f" and {', '.join(running)} {'is' if len(running) == 1 else 'are'} healthy." if running else ".")
            except PrefectWinError as still:
                state = f"Prefect {after} is installed again, but the services are not healthy: {still.message}"
            failure.message = f"{failure.message} {state}"
            failure.details = [*(failure.details or []), {"rolledBackTo": after, "backups": result(p, [], False).backups}]
            raise
        touched = list(dict.fromkeys(a.target for a in ran if a.kind == "start-service"))
        return result(p, ran, True).model_copy(update={"services": _services_after(adapter, touched)})

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(managed()),
        show=lambda p: result(p, p.actions, False),
        execute=execute,
    )
    return session.offer(ctx, proposal)


@command("service.log", params=ServiceLogParams, result=ServiceLog)
def service_log(params: ServiceLogParams, ctx: Context) -> ServiceLog:
    """A service's stdout and stderr log entries, parsed, with NSSM's events on Windows."""
    from prefectwin.secrets import scrub
    from prefectwin.services import logs
    from prefectwin.services.health import secret_values

    if (params.name is None) == (params.path is None):
        raise InvalidArgument("Give either -Name (a service) or -Path (log files).", target="Name", remediation="Get-PrefectServiceLog -Name PrefectServer, or -Path C:\\ProgramData\\Prefect\\logs\\PrefectServer.stderr.log.")
    since = logs.parse_since(params.since)
    events = {}
    secrets: dict[str, tuple[str, ...]] = {}
    if params.path is not None:
        targets = logs.log_targets(logs.check_paths(params.path, params.cursor is not None), params.stream)
    else:
        from prefectwin.system import get_adapter

        adapter = get_adapter()
        adapter.require_services()
        records = {r.name.lower(): r for r in _records(adapter, params.name) if r.managed is not None}
        targets = []
        for record in records.values():
            targets.extend(logs.service_logs(record, params.stream))
            reader = logs.event_reader(adapter, record.name, params.stream)
            if reader is not None:
                events[record.name] = reader
        secrets = {r.name: secret_values(r, adapter) for r in records.values()}
    answer = logs.read_log(targets, tail=params.tail, since=since, level=params.level, cursor=params.cursor, events=events)
    # A service's log may quote its secrets (a traceback with its connection URL or auth string):
    # masked here, for a tail and every -Wait poll alike (-Path: URL passwords only).
    entries = []
    for entry in answer.entries:
        known = secrets.get(entry.service or "", ())
        entries.append(entry.model_copy(update={"message": scrub(entry.message, *known), "raw": scrub(entry.raw, *known) if entry.raw else entry.raw}))
    return answer.model_copy(update={"entries": entries})
