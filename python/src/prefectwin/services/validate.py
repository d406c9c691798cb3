"""Pre-flight for `service.install`: every reason to refuse, found before anything changes.

It reuses the diagnosis: the same probe of the target interpreter (run in the environment
and working directory the service will have), the same port and path gatherers, and the
same pure checks, whose failures become errors that name the offending parameter.
"""
from __future__ import annotations

import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from prefectwin.diagnosis import network, paths, probe
from prefectwin.diagnosis.checks import select
from prefectwin.diagnosis.checks.windows import NSSM_FIXED, NSSM_INSTALL, nssm_version_tuple
from prefectwin.diagnosis.facts import CliFacts, DatabaseFacts, EncodingFacts, Facts, PortFacts
from prefectwin.errors import InvalidArgument, NotFound, NotInstalled, PermissionDenied, PortInUse, PrefectWinError
from prefectwin.events import Events
from prefectwin.services.spec import RESERVED_KEYS, ServiceSpec
from prefectwin.services.state import ServiceRecord

CHECKS = ("python.found", "python.version", "prefect.installed", "settings.home", "port.available")
# Which parameter, and which error, each failed check stands for.
_ERRORS: dict[str, tuple[type[PrefectWinError], str]] = {
    "python.found": (NotFound, "PythonPath"),
    "python.version": (InvalidArgument, "PythonPath"),
    "prefect.installed": (NotInstalled, "PythonPath"),
    "settings.home": (InvalidArgument, "PrefectHome"),
    "port.available": (PortInUse, "Port"),
}
NETWORK_KINDS = ("unc", "mapped")
# The PREFECT_* names a spec sets of its own accord; any other comes from -Environment.
OWN_KEYS = frozenset({*RESERVED_KEYS, "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_CLI_COLORS", "PREFECT_LOGGING_COLORS"})


def service_environment(spec: ServiceSpec, *, with_secrets: bool = False) -> dict[str, str]:
    """The environment the service process will see: the machine's, without the installing
    user's PREFECT_* settings (a service never sees those), plus the spec's variables. Its
    secrets come from its secrets file; `with_secrets` adds them, for asking the target before
    that file is written."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    env.update(spec.settings_environment() if with_secrets else spec.process_environment())
    return env


def require_admin(adapter: Any, what: str = "Installing or removing a service") -> None:
    if not adapter.is_admin():
        raise PermissionDenied(
            f"{what} needs administrator rights.",
            target="Administrator",
            remediation="Start PowerShell with 'Run as administrator' and run the command again.",
        )


def require_nssm(adapter: Any, explicit: Optional[str], events: Events) -> str:
    path, version = adapter.find_nssm(explicit)
    if path is None:
        where = f"at -NssmPath '{explicit}'" if explicit else "on PATH"
        raise NotInstalled(
            f"NSSM (the service wrapper) was not found {where}.",
            target="NssmPath",
            remediation=NSSM_INSTALL + " Or pass -NssmPath C:\\path\\to\\nssm.exe.",
        )
    parsed = nssm_version_tuple(version)
    if parsed is not None and parsed < NSSM_FIXED:
        events.warning(f"NSSM {version} at {path} leaves services 'paused' on Windows 10 and later. {NSSM_INSTALL}")
    return path


def _held_by_service(port: PortFacts, spec: ServiceSpec, record: Optional[ServiceRecord]) -> bool:
    if record is None or not record.running:
        return False
    if port.owners:
        return all(record.owns_pid(owner.pid) for owner in port.owners)
    # The owner is invisible to this account; it is ours if our running service holds that port.
    return (record.managed or {}).get("port") == spec.port


def pending_facts(pending: tuple[str, str], spec: ServiceSpec, cwd: Optional[str]) -> tuple[Any, Any]:
    """The facts of an interpreter the same plan creates (Install-PrefectStack's venv), before
    it exists: Python's from the base interpreter it is made from (a venv runs that Python),
    Prefect's from the release the plan pins, which is installed with its release pins."""
    from prefectwin.diagnosis.facts import PrefectFacts

    base, version = pending
    python_facts, _ = probe.run_probe(base, env=service_environment(spec, with_secrets=True), cwd=cwd)
    return python_facts, PrefectFacts(installed=True, version=version)


def validate_install(
    spec: ServiceSpec, record: Optional[ServiceRecord], adapter: Any, events: Events, *, force: bool, pending: Optional[tuple[str, str]] = None
) -> None:
    """Raise the first problem found, as an error naming its parameter. Changes nothing.
    `pending`: (base interpreter, Prefect release) when spec.application is a venv that the
    plan this install belongs to creates (pending_facts); its settings names are then not asked."""
    server = spec.role == "Server"
    existed = os.path.isdir(spec.prefect_home)
    cwd = spec.prefect_home if existed else None
    events.progress("Checking the service parameters", f"Asking {spec.application if pending is None else pending[0]} about Prefect", 10)
    # Read before the probe, whose Prefect import makes a missing PREFECT_HOME for a moment.
    home = paths.path_facts(spec.prefect_home, adapter.drive_kind)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="prefectwin-validate") as pool:
        if pending is None:
            probe_future = pool.submit(probe.run_probe, spec.application, env=service_environment(spec, with_secrets=True), cwd=cwd)
        else:
            probe_future = pool.submit(pending_facts, pending, spec, cwd)
        port_future = pool.submit(network.port_facts, spec.bind_address, spec.port) if server else None
        log_kind = pool.submit(adapter.drive_kind, spec.log_directory)
        db_dir = os.path.dirname(spec.sqlite_path) if spec.sqlite_path else None
        db_kind = pool.submit(adapter.drive_kind, db_dir) if db_dir else None
        python_facts, prefect_facts = probe_future.result()
        port = port_future.result() if port_future else None
        log_drive = log_kind.result()[0]
        db_drive = db_kind.result()[0] if db_kind else None
    events.progress("Checking the service parameters", "Done", 100)

    facts = Facts(
        role=spec.role,
        os_name=platform.system() or sys.platform,
        requested_port=spec.port,
        requested_home=spec.prefect_home,
        python=python_facts,
        prefect=prefect_facts,
        cli=CliFacts(),
        home=home,
        port=port,
        database=DatabaseFacts(kind=spec.database_kind, url_masked="", path=spec.sqlite_path, on_network_share=db_drive in NETWORK_KINDS),
        encoding=EncodingFacts(),
    )
    for check in select(CHECKS):
        result = check.run(facts)
        if result.status == "Fail" or (check.name == "port.available" and result.status == "Warning"):
            if check.name == "port.available" and port is not None and _held_by_service(port, spec, record):
                continue
            error, target = _ERRORS[check.name]
            raise error(result.message, target=target, remediation=result.remediation)
    ignored = sorted(set(prefect_facts.unknown_env) & {k.upper() for k in spec.settings_environment()})
    if ignored and prefect_facts.installed:
        raise InvalidArgument(
            f"Prefect {prefect_facts.version} in {spec.application} has no setting named {', '.join(ignored)}, which the service would set; it would ignore {'them' if len(ignored) > 1 else 'it'}.",
            target="PythonPath" if set(ignored) & OWN_KEYS else "Environment",
            remediation="Remove or correct the name in -Environment, or upgrade Prefect in that interpreter (Get-PrefectSetting -PythonPath ... lists the names it reads).",
        )
    if log_drive == "mapped":
        raise InvalidArgument(
            f"-LogDirectory {spec.log_directory} is on a mapped drive, which services cannot see.",
            target="LogDirectory",
            remediation="Use a local path or the UNC path.",
        )
    if not server:
        check_worker_access(spec, events)
    if spec.database_kind == "sqlite" and db_drive in NETWORK_KINDS and not force:
        raise InvalidArgument(
            f"The SQLite database {spec.sqlite_path} would be on a network share; SQLite locking over SMB causes 'database is locked' errors.",
            target="DatabaseUrl",
            remediation="Use PostgreSQL (-DatabaseUrl postgresql+asyncpg://... -DatabaseCredential ...), keep it on a local disk, or add -Force.",
        )


def check_worker_access(spec: ServiceSpec, events: Events, timeout: float = 3.0) -> None:
    """One authenticated call to the worker's server, with the credentials the worker will send:
    a server that refuses them is refused here, before a worker is installed whose every
    heartbeat would get 401. A server that does not answer (not started yet) is no reason."""
    from prefectwin.diagnosis.api_url import parse_api_url
    from prefectwin.diagnosis.network import client_authorization, http_get
    from prefectwin.services.auth import CLIENT_AUTH_KEY

    parsed = parse_api_url(spec.api_url)
    if parsed.problem:
        return
    secret = spec.secret_environment.get(CLIENT_AUTH_KEY)
    # An API key given in -Environment is a secret: the spec keeps it with the other secrets.
    key = spec.secret_environment.get("PREFECT_API_KEY")
    authorization, kind, _ = client_authorization(
        parsed.request_url,
        auth_string=secret.get_secret_value() if secret else None,
        api_key=key.get_secret_value() if key else spec.environment.get("PREFECT_API_KEY"),
        url_authorization=parsed.authorization,
    )
    probe = http_get(f"{parsed.request_url.rstrip('/')}/admin/version", timeout, authorization, f"{parsed.shown.rstrip('/')}/admin/version")
    if probe.status not in (401, 403):
        if not probe.ok:
            events.verbose(f"The worker's server at {parsed.shown} did not answer an authenticated call ({probe.error or probe.status}); installing anyway.")
        return
    if kind == "none":
        raise InvalidArgument(
            f"The server at {parsed.shown} requires authentication (HTTP {probe.status}), and the worker would send none.",
            target="AuthCredential",
            remediation="Add -AuthCredential with the server's user and password (its PREFECT_SERVER_API_AUTH_STRING, USER:PASSWORD).",
        )
    raise InvalidArgument(
        f"The server at {parsed.shown} refuses the worker's credentials (HTTP {probe.status}): authentication failed.",
        target="AuthCredential",
        remediation="Give -AuthCredential the user and password of the server's PREFECT_SERVER_API_AUTH_STRING.",
    )
