"""`stack.*`: one command from a box with Python to a healthy, secured server and worker.

- `stack.install`  Install-PrefectStack  a venv with a pinned Prefect, NSSM, a server and a
                                         worker as services, a health wait, then the diagnosis

One plan of the one change engine: the interpreter's and NSSM's actions (stack/plan.py), then
each service's actions exactly as `service.install` plans them (commands/service.py spec_for,
plan_service), then a health wait; applied with stack/steps.py, which carries out the
services' kinds with services/steps.py. A failure anywhere rolls the whole plan back.

Where the target interpreter is asked: a service's install validation probes the interpreter
it will run. When the venv is already there, with the pinned Prefect, it is probed as
`service.install` probes it. When this plan creates the venv (or installs another release into
it), there is nothing to probe yet, at -WhatIf time or otherwise: the validation then takes
Python's facts from the base interpreter and Prefect's from the pinned release
(services/validate.py pending_facts), and the apply checks what pip installed before any
service step runs. The final diagnosis probes the real venv, as Test-PrefectEnvironment does.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Literal, Optional

from pydantic import Field, SecretStr, field_validator

from prefectwin.change.model import Action, Planned
from prefectwin.diagnosis.checks.base import CheckResult
from prefectwin.errors import InvalidArgument
from prefectwin.models import Params, Result, not_blank
from prefectwin.registry import Context, command
from prefectwin.services.health import ServiceInfo
from prefectwin.services.spec import SERVICE_NAME_PATTERN, Credential
from prefectwin.stack.plan import DEFAULT_TIMEOUT_SEC, PINNED_PREFECT, flavor_paths

DEFAULT_POOL = "default"
DEFAULT_SERVER_NAME = "PrefectServer"
DEFAULT_WORKER_NAME = "PrefectWorker"


class StackInstallParams(Params):
    # None defaults where a role's options are told apart from ones not given (_refuse_other_roles_options).
    server_name: Optional[str] = Field(None, pattern=SERVICE_NAME_PATTERN, description=f"The server's service name; default {DEFAULT_SERVER_NAME}.")
    worker_name: Optional[str] = Field(None, pattern=SERVICE_NAME_PATTERN, description=f"The worker's service name; default {DEFAULT_WORKER_NAME}.")
    role: Literal["Server", "Worker", "Both"] = Field("Both", description="What this machine runs; Worker alone needs apiUrl of a remote server.")
    python_path: Optional[str] = Field(None, description="The base Python the venv is made from; default: the py launcher's Python 3 (Windows), python3 on PATH (POSIX).")
    prefect_version: str = Field(PINNED_PREFECT, max_length=40, description=f"The Prefect release to install; default {PINNED_PREFECT}.")
    wheel_folder: Optional[str] = Field(None, description="Install from this folder of wheels only, with no package index (air-gapped hosts).")
    venv_path: Optional[str] = Field(None, description="The venv's folder; default: <PrefectWin data folder>/venvs/prefect-<version>.")
    nssm_path: Optional[str] = Field(None, description="nssm.exe; default: the one on PATH, else installed with winget or Chocolatey.")
    prefect_home: Optional[str] = Field(None, description="PREFECT_HOME and working directory of both services; default: %ProgramData%\\Prefect.")
    port: Optional[int] = Field(None, ge=1, le=65535, description="The server's API port; default 4200.")
    bind_address: Optional[str] = Field(None, description="The address the server listens on; default 127.0.0.1.")
    auth_credential: Optional[Credential] = Field(None, description="Basic auth, USER:PASSWORD: the server requires it and the worker sends it.")
    allow_anonymous: bool = Field(False, description="Let the server listen on a non-loopback address without authCredential.")
    open_firewall: bool = Field(False, description="Add an inbound firewall rule for the server's port.")
    allow_from: Optional[list[str]] = Field(None, description="With openFirewall: the remote addresses or subnets the rule allows; default LocalSubnet.")
    firewall_profile: Optional[list[str]] = Field(None, description="With openFirewall: the profiles the rule applies on; default Domain and Private.")
    api_url: Optional[str] = Field(None, description="Role Worker: the remote server's API URL.")
    pool: Optional[str] = Field(None, min_length=1, description=f"The work pool the worker polls; default '{DEFAULT_POOL}'.")
    worker_type: Optional[str] = Field(None, min_length=1, description="The worker type; default process.")
    database_url: Optional[SecretStr] = Field(None, description="The server's database URL, without its password; default SQLite under PREFECT_HOME.")
    database_credential: Optional[Credential] = Field(None, description="The database user and password.")
    account: Optional[str] = Field(None, description="The account both services run as; default: each its own virtual account NT SERVICE\\<name>.")
    credential: Optional[Credential] = Field(None, description="The password of a user account.")
    force: bool = Field(False, description="As service.install's force: take over a service of the same name PrefectWin does not manage, allow SQLite on a share, set credential again.")
    timeout_sec: int = Field(DEFAULT_TIMEOUT_SEC, ge=1, le=3600, description=f"How long the health wait waits; default {DEFAULT_TIMEOUT_SEC}.")

    @field_validator("python_path", "wheel_folder", "venv_path", "nssm_path", "prefect_home", "bind_address", "api_url", "account")
    @classmethod
    def _blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class StackPhase(Result):
    """One phase's seconds: reading and planning, plus applying."""

    name: Literal["interpreter", "nssm", "services", "health", "diagnosis"]
    seconds: float


PHASES = ("interpreter", "nssm", "services", "health", "diagnosis")


class StackResult(Planned):
    """PSTypeName PrefectWin.StackResult."""

    changed: bool
    what_if: bool
    actions: list[Action]
    python_path: str
    venv_path: str
    prefect_version: str
    nssm_path: Optional[str] = None
    services: list[ServiceInfo] = []
    diagnosis: list[CheckResult] = []
    #: every service Healthy (None: not asked, under -WhatIf)
    healthy: Optional[bool] = None
    #: healthy, and no check of the diagnosis failed (None under -WhatIf)
    green: Optional[bool] = None
    #: what is not green, one line each: "<service>: <check>: <status>: <message>"
    problems: list[str] = []
    #: the phases in order, each with its seconds
    phases: list[StackPhase] = []
    total_seconds: float = 0.0


def _check_params(params: StackInstallParams) -> Optional[str]:
    """Every problem the parameters alone show; the wheel folder, absolute."""
    from prefectwin.commands.service import check_wheel_path
    from prefectwin.services.upgrade import check_version

    check_version(None, params.prefect_version, "PrefectVersion")
    if params.role == "Worker" and not params.api_url:
        raise InvalidArgument(
            "-Role Worker installs a worker alone, which needs the API URL of the server it works for.",
            target="ApiUrl",
            remediation="Add -ApiUrl http://SERVER:4200/api (and -AuthCredential if that server requires it), or use -Role Both.",
        )
    if params.role != "Worker" and params.api_url:
        raise InvalidArgument(
            f"-ApiUrl names a remote server, but -Role {params.role} installs a server here.",
            target="ApiUrl",
            remediation="Omit -ApiUrl (the worker uses this server), or use -Role Worker.",
        )
    return check_wheel_path(params.wheel_folder, params.prefect_version, "WheelFolder")


def _service_params(params: StackInstallParams, python: str) -> list[Any]:
    """The `service.install` parameters of each service the stack installs, server first."""
    from prefectwin.commands.service import ServiceInstallParams

    common = dict(python_path=python, prefect_home=params.prefect_home, account=params.account, credential=params.credential, start=True, force=params.force)
    wanted = []
    if params.role != "Worker":
        wanted.append(
            ServiceInstallParams(
                name=params.server_name or DEFAULT_SERVER_NAME, role="Server", port=params.port, bind_address=params.bind_address, database_url=params.database_url,
                database_credential=params.database_credential, open_firewall=params.open_firewall, auth_credential=params.auth_credential,
                allow_anonymous=params.allow_anonymous, allow_from=params.allow_from, firewall_profile=params.firewall_profile, **common,
            )
        )
    if params.role != "Server":
        worker_only = params.role == "Worker"
        wanted.append(
            ServiceInstallParams(
                name=params.worker_name or DEFAULT_WORKER_NAME, role="Worker", api_url=params.api_url, pool=params.pool or DEFAULT_POOL, worker_type=params.worker_type,
                auth_credential=params.auth_credential if worker_only else None, **common,
            )
        )
    return wanted


def _refuse_other_roles_options(params: StackInstallParams) -> None:
    """An option of the service the role does not install would be dropped without a word."""
    if params.role == "Worker":
        server_only = {
            "ServerName": params.server_name, "Port": params.port, "BindAddress": params.bind_address, "DatabaseUrl": params.database_url,
            "DatabaseCredential": params.database_credential, "OpenFirewall": params.open_firewall, "AllowFrom": params.allow_from,
            "FirewallProfile": params.firewall_profile, "AllowAnonymous": params.allow_anonymous,
        }
        given = [name for name, value in server_only.items() if value]
        if given:
            raise InvalidArgument(f"-{given[0]} is a server option, and -Role Worker installs no server.", target=given[0], remediation=f"Omit -{given[0]}, or use -Role Both.")
    if params.role == "Server":
        worker_only = {"WorkerName": params.worker_name, "Pool": params.pool, "WorkerType": params.worker_type}
        given = [name for name, value in worker_only.items() if value]
        if given:
            raise InvalidArgument(f"-{given[0]} is a worker option, and -Role Server installs no worker.", target=given[0], remediation=f"Omit -{given[0]}, or use -Role Both.")


def _specs(wanted: list[Any], base_home: Optional[str]) -> list[Any]:
    """Each service's spec; the worker's with the server beside it as its local server, whose
    auth string it sends."""
    from prefectwin.commands.service import spec_for
    from prefectwin.services.auth import SERVER_AUTH_KEY

    specs: list[Any] = []
    for params in wanted:
        server = specs[0] if specs and specs[0].role == "Server" else None
        local = dict(local_server=(server.name, server.api_url), local_server_auth=server.secret_environment.get(SERVER_AUTH_KEY)) if server and params.role == "Worker" else {}
        specs.append(spec_for(params, base_home=base_home, **local))
    return specs


def _refuse_release_switch(states: list[Any], interpreter: Any, version: str, adapter: Any, flavor: str) -> None:
    """A service of the stack that runs another Prefect release is not switched over: the server
    migrates its database when it starts on a new release, and the stack takes no backup, so
    neither a rollback nor the old venv could bring the old release back. Update-PrefectService
    backs up, migrates and refuses downgrades."""
    from prefectwin.commands.service import _launches
    from prefectwin.services.upgrade import check_version
    from prefectwin.stack.plan import prefect_release

    records = [s.record for s in states if s.record is not None and s.record.managed is not None]
    launches = _launches(adapter, records) if records else {}
    for record in records:
        launch = launches.get(record.name.lower())
        python = launch.python if launch is not None and launch.application and not launch.unexpanded else None
        if not python:
            continue
        if python == interpreter.python:
            packages: Any = interpreter.packages
        elif adapter.path_exists(python):
            packages = adapter.pip_freeze(python)
        else:
            continue
        current = prefect_release(packages)
        if current is None or current == version:
            continue
        check_version(current, version, "PrefectVersion")
        paths = flavor_paths(flavor)
        venv = paths.dirname(paths.dirname(python))
        raise InvalidArgument(
            f"Service '{record.name}' runs Prefect {current} ('{python}'); -PrefectVersion {version} would switch it to another release "
            "without a database backup, and a server migrates its database when it starts on a new release, so no rollback could bring "
            f"Prefect {current} back.",
            target="PrefectVersion",
            remediation=f"Upgrade with Update-PrefectService -Name {record.name} -Version {version} (it backs up the database, migrates it and "
            f"refuses a downgrade), then run Install-PrefectStack -PrefectVersion {version} -VenvPath '{venv}'; or give -PrefectVersion {current}.",
        )


def _plan_service(spec: Any, params: Any, adapter: Any, events: Any, pending: Optional[tuple[str, str]]) -> Any:
    """service.install's planning, its errors in the stack's terms: the stack names its services
    with -ServerName and -WorkerName, where Install-PrefectService has -Name."""
    from prefectwin.commands.service import plan_service
    from prefectwin.errors import PrefectWinError

    try:
        return plan_service(spec, params, adapter, events, pending=pending)
    except PrefectWinError as error:
        if error.target == "Name":
            parameter = "ServerName" if spec.role == "Server" else "WorkerName"
            error.target = parameter
            error.remediation = error.remediation and error.remediation.replace("-Name", f"-{parameter}")
        raise


def _interpreter_facts(adapter: Any, params: StackInstallParams, flavor: str) -> Any:
    from prefectwin.change.journal import data_dir
    from prefectwin.stack.plan import InterpreterFacts, default_venv, venv_python

    import os

    venv = params.venv_path or default_venv(data_dir(), params.prefect_version, flavor)  # type: ignore[arg-type]
    if not flavor_paths(flavor).isabs(venv):
        venv = os.path.abspath(venv)  # the caller's location: rpc runs each request there
    python = venv_python(venv, flavor)  # type: ignore[arg-type]
    exists = adapter.path_exists(python)
    folder_exists = exists or adapter.path_exists(venv)
    return InterpreterFacts(
        base=adapter.find_base_python(os.path.abspath(params.python_path) if params.python_path and os.sep in params.python_path else params.python_path),
        explicit=params.python_path,
        venv=venv,
        python=python,
        exists=exists,
        folder_exists=folder_exists,
        folder_entries=tuple(adapter.directory_entries(venv)) if folder_exists and not exists else (),
        packages=tuple(adapter.pip_freeze(python)) if exists else (),
    )


def _nssm_facts(adapter: Any, explicit: Optional[str]) -> Any:
    from prefectwin.stack.plan import NssmFacts
    from prefectwin.system.posix_standin import STANDIN_NSSM

    path, version = adapter.find_nssm(explicit)
    installers = () if path and not explicit else tuple(name for name, _ in adapter.nssm_installers())
    return NssmFacts(explicit=explicit, path=path, version=version, installers=installers, versioned=path != STANDIN_NSSM)


def _diagnose(names: list[str], ctx: Context) -> list[CheckResult]:
    """Test-PrefectEnvironment -ServiceName for each service: the same checks, the same facts."""
    from prefectwin.commands.environment import EnvironmentTestParams, diagnose

    results: list[CheckResult] = []
    for name in names:
        results.extend(diagnose(EnvironmentTestParams(service_name=name), ctx))
    return results


def _final_health(names: list[str], timeout_sec: int, adapter: Any, events: Any) -> tuple[list[ServiceInfo], list[str]]:
    """(each service as it is, the services that are not there): the report's health. A wait
    that runs out, or a service not installed (declined under -Confirm), is what the report
    says, not an error: the plan's own waits keep their rollback, this one only reports."""
    from prefectwin.errors import NotFound, OperationTimeout
    from prefectwin.services.health import describe_all, wait_until_healthy

    try:
        return wait_until_healthy(names, timeout_sec, adapter, events), []
    except (OperationTimeout, NotFound) as reason:
        events.verbose(f"The stack is not healthy: {reason.message}")
    records = [r for r in adapter.read_managed_services(names) if r.managed is not None]
    found = {r.name.lower() for r in records}
    return describe_all(records, adapter=adapter), [f"{n}: not installed" for n in names if n.lower() not in found]


def _problems(services: list[ServiceInfo], diagnosis: list[CheckResult], missing: list[str]) -> list[str]:
    lines = list(missing)
    lines += [f"{s.name}: health: {s.health}" + (f" ({s.health_detail})" if s.health_detail else "") for s in services if s.health != "Healthy"]
    lines += [f"{r.service}: {r.check}: {r.status}: {r.message}" for r in diagnosis if r.status == "Fail"]
    return lines


@command("stack.install", params=StackInstallParams, result=StackResult, changes_state=True)
def stack_install(params: StackInstallParams, ctx: Context) -> StackResult:
    """Install a venv with a pinned Prefect, NSSM, a server and a worker as services; wait until they are healthy; diagnose them."""
    from prefectwin.change import engine, session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.commands.service import _carry_auth, _flavor, _worker_secrets, carried_state, check_admin, install_secrets, warn_exposure
    from prefectwin.services.grants import venv_home
    from prefectwin.services.plan import plan_install
    from prefectwin.services.state import read_state
    from prefectwin.stack import plan as stack_plan
    from prefectwin.stack.steps import STEPS, Runtime
    from prefectwin.system import get_adapter

    started = time.perf_counter()
    spent: dict[str, float] = {}

    def lap(phase: str, since: float) -> float:
        now = time.perf_counter()
        spent[phase] = spent.get(phase, 0.0) + now - since
        return now

    wheel_folder = _check_params(params)
    _refuse_other_roles_options(params)
    flavor = _flavor()
    # Every parameter problem of the services before the machine is asked anything: the specs
    # are built once with a stand-in interpreter path, and again once the venv's path is known.
    _specs(_service_params(params, sys.executable), None)
    adapter = get_adapter()
    adapter.require_services()

    mark = time.perf_counter()
    interpreter = _interpreter_facts(adapter, params, flavor)
    interpreter_actions = stack_plan.plan_interpreter(interpreter, params.prefect_version, wheel_folder, flavor)  # type: ignore[arg-type]
    mark = lap("interpreter", mark)

    nssm_facts = _nssm_facts(adapter, params.nssm_path)
    nssm_actions, nssm, notes = stack_plan.plan_nssm(nssm_facts)
    for note in notes:
        ctx.events.warning(note)
    mark = lap("nssm", mark)

    # The venv's base: pyvenv.cfg's home once it exists, until then the folder of the base
    # interpreter it is made from (what venv writes there), so both runs plan the same grants.
    base = interpreter.base[0] if interpreter.base else None
    base_home = (venv_home(interpreter.python) if interpreter.exists else None) or (flavor_paths(flavor).dirname(base) if base else None)
    wanted = _service_params(params, interpreter.python)
    specs = _specs(wanted, base_home)
    for spec in specs:
        warn_exposure(spec, ctx.events)
    check_admin(adapter, ctx)
    pending = (base, params.prefect_version) if interpreter_actions and base else None
    planned = [_plan_service(spec, p, adapter, ctx.events, pending) for spec, p in zip(specs, wanted)]
    _refuse_release_switch([state for state, _ in planned], interpreter, params.prefect_version, adapter, flavor)
    mark = lap("services", mark)

    # A server whose auth changes carries it to this computer's workers that send its string,
    # as Install-PrefectService does; the stack's own worker is planned with it already.
    def carry(states: list[Any], server_actions: Optional[list[Action]] = None) -> tuple[list[Any], list[Action], list[str]]:
        if specs[0].role != "Server":
            return [], [], []
        if server_actions is None:
            server_actions = plan_install(specs[0], states[0], start=True, force=wanted[0].force)
        return _carry_auth(specs[0], states[0], adapter, server_actions, exclude=frozenset(s.name.lower() for s in specs[1:]))

    served = [s for s, _ in planned]
    workers, carried, carry_notes = carry(served, planned[0][1])
    for note in carry_notes:
        ctx.events.warning(note)

    names = [spec.name for spec in specs]
    prerequisites = interpreter_actions + nssm_actions
    any_change = bool(prerequisites) or bool(carried) or any(actions for _, actions in planned)
    wait = stack_plan.wait_action(names, params.timeout_sec) if any_change else None
    groups = [actions for _, actions in planned]
    groups[0] = groups[0] + carried
    if len(specs) == 2:
        groups[0] = stack_plan.gate(groups[0], specs[0].name, params.timeout_sec)
    actions = stack_plan.compose(prerequisites, groups, wait)

    def state_now() -> dict[str, Any]:
        services = [read_state(spec, adapter) for spec in specs]
        return {
            "interpreter": _interpreter_facts(adapter, params, flavor),
            "nssm": _nssm_facts(adapter, params.nssm_path),
            "services": services,
            **carried_state(*carry(services)[:2]),
        }

    state = {"interpreter": interpreter, "nssm": nssm_facts, "services": served, **carried_state(workers, carried)}
    plan = new_plan(actions, state)
    secrets = tuple(s for spec, p in zip(specs, wanted) for s in install_secrets(p, spec)) + tuple(s for w in workers for s in _worker_secrets(w))

    def result(p: Any, ran: list[Action], applied: bool, **extra: Any) -> StackResult:
        phases = [StackPhase(name=name, seconds=round(spent.get(name, 0.0), 3)) for name in PHASES]  # type: ignore[arg-type]
        return StackResult(
            changed=bool(ran) if applied else bool(p.actions), what_if=not applied, actions=ran, python_path=interpreter.python,
            venv_path=interpreter.venv, prefect_version=params.prefect_version, plan_id=p.id, fingerprint=p.fingerprint,
            phases=phases, total_seconds=round(time.perf_counter() - started, 3), **{"nssm_path": nssm, **extra},
        )

    def execute(p: Any, confirm: Any, run_ctx: Context) -> StackResult:
        from prefectwin.services.validate import require_admin

        if p.actions:
            require_admin(adapter)
        runtime = Runtime(adapter, nssm, run_ctx.events)
        ran = engine.apply(
            p, steps=STEPS, runtime=runtime, events=run_ctx.events, confirm=confirm, command="stack.install",
            summary=f"Install-PrefectStack {', '.join(names)}", context={"nssm": nssm}, secrets=secrets,
            activity="Applying the PrefectWin stack plan",
        )
        for phase, seconds in runtime.phases.items():
            spent[phase] = spent.get(phase, 0.0) + seconds
        mark = time.perf_counter()
        # The plan's wait has proved health; without one (nothing to change) health is read now.
        services, missing = _final_health(names, params.timeout_sec, adapter, run_ctx.events)
        mark = lap("health", mark)
        present = [s.name for s in services]
        run_ctx.events.progress("Diagnosing the stack", f"Test-PrefectEnvironment for {', '.join(present)}", 0)
        diagnosis = _diagnose(present, run_ctx)
        run_ctx.events.progress("Diagnosing the stack", "Done", 100)
        lap("diagnosis", mark)
        problems = _problems(services, diagnosis, missing)
        if not ran:
            run_ctx.events.verbose("The stack already matches the requested configuration.")
        healthy = not missing and all(s.health == "Healthy" for s in services)
        return result(p, ran, True, services=services, diagnosis=diagnosis, healthy=healthy, green=not problems, problems=problems, nssm_path=runtime.nssm)

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(state_now()),
        show=lambda p: result(p, p.actions, False),
        execute=execute,
    )
    return session.offer(ctx, proposal)

