"""`environment.*`: diagnose (and later repair) the machine Prefect runs on."""
from __future__ import annotations

import os
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from prefectwin.diagnosis.checks import CHECK_NAMES, CheckResult, needs_of, run_checks, select
from prefectwin.models import Params, not_blank
from prefectwin.registry import Context, command

CheckName = Literal[CHECK_NAMES]  # type: ignore[valid-type]
# Repair never diagnoses a service, so the service.* checks are no choice there.
RepairCheckName = Literal[tuple(n for n in CHECK_NAMES if not n.startswith("service."))]  # type: ignore[valid-type]
# services.spec.SERVICE_NAME_PATTERN, written out: importing the spec module costs this command
# a fifth of a second (tests/diagnosis/test_service.py holds the two equal).
SERVICE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$"


_SERVICE_OWNS = (("python_path", "pythonPath"), ("prefect_home", "prefectHome"), ("role", "role"), ("port", "port"))


class _DiagnosisParams(Params):
    python_path: Optional[str] = Field(None, description="The interpreter Prefect runs under; default: the backend's own.")
    port: Optional[int] = Field(None, ge=1, le=65535, description="Server port; default: the effective PREFECT_SERVER_API_PORT.")
    prefect_home: Optional[str] = Field(None, description="PREFECT_HOME to diagnose; default: the effective PREFECT_HOME.")
    role: Literal["Server", "Worker"] = Field("Server", description="What this machine runs as a service.")
    check: Optional[list[CheckName]] = Field(None, description="Run only these checks.")

    @field_validator("python_path", "prefect_home")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class EnvironmentTestParams(_DiagnosisParams):
    service_name: Optional[str] = Field(
        None,
        pattern=SERVICE_NAME_PATTERN,
        description="Diagnose this installed service as it runs: its interpreter, environment, working directory and account.",
    )

    @model_validator(mode="after")
    def _service_owns(self) -> "EnvironmentTestParams":
        # With serviceName these come from the service; giving them too would describe something
        # else. A request error (exit 2), as PowerShell's parameter sets refuse the pair.
        if self.service_name:
            given = [wire for field, wire in _SERVICE_OWNS if field in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]} cannot be combined with serviceName: the service's own is diagnosed; omit {given[0]}")
        return self




def diagnose(params: _DiagnosisParams, ctx: Context) -> list[CheckResult]:
    from prefectwin.diagnosis.gather import gather
    from prefectwin.system import get_adapter

    checks = select(params.check)
    if not getattr(params, "service_name", None) and not params.check:
        # The service.* checks describe an installed service; without -ServiceName they could
        # only say Skipped, nine times, on every diagnosis of the shell.
        checks = tuple(c for c in checks if not c.name.startswith("service."))
    adapter = get_adapter()
    if getattr(params, "service_name", None):
        # Each result names the service: piped services give one stream of results.
        return [r.model_copy(update={"service": params.service_name}) for r in run_checks(_diagnose_service(params, ctx, adapter, checks), checks)]
    facts = gather(
        role=params.role,
        needs=needs_of(checks),
        adapter=adapter,
        events=ctx.events,
        python_path=os.path.abspath(params.python_path) if params.python_path else None,
        port=params.port,
        prefect_home=params.prefect_home,
    )
    return run_checks(facts, checks)


def _diagnose_service(params: EnvironmentTestParams, ctx: Context, adapter, checks):
    from prefectwin.diagnosis.gather import gather
    from prefectwin.diagnosis.service import read_target
    from prefectwin.services.spec import normalize_account

    target = read_target(params.service_name, adapter, principal_of=lambda account: normalize_account(account)[1])
    ctx.events.verbose(f"Diagnosing service {target.facts.name} ({target.role}) with {target.python} in {target.cwd or 'no working directory'}.")
    return gather(
        role=target.role,
        needs=needs_of(checks),
        adapter=adapter,
        events=ctx.events,
        python_path=target.python,
        port=target.port,
        environment=target.environment,
        cwd=target.cwd,
        service=target.facts,
    )


@command("environment.test", params=EnvironmentTestParams, result=list[CheckResult])
def environment_test(params: EnvironmentTestParams, ctx: Context) -> list[CheckResult]:
    """Diagnose the interpreter, Prefect, its settings, port, database, encoding and Windows."""
    return diagnose(params, ctx)


from prefectwin.settings.repair import RepairReport  # noqa: E402 - kept next to the command it serves


class EnvironmentRepairParams(_DiagnosisParams):
    """The diagnosis's parameters, without serviceName (repair changes this shell's user
    settings, never a service's); `check` limits which checks are considered for repair."""

    check: Optional[list[RepairCheckName]] = Field(None, description="Run only these checks.")


@command("environment.repair", params=EnvironmentRepairParams, result=RepairReport, changes_state=True)
def environment_repair(params: EnvironmentRepairParams, ctx: Context) -> RepairReport:
    """Diagnose, then fix what has a fix: user PATH, PYTHONIOENCODING, firewall, execution policy, Defender, long paths, PREFECT_API_URL."""
    from prefectwin.settings.repair_apply import run_repair
    from prefectwin.system import get_adapter

    return run_repair(params, ctx, diagnose, get_adapter())
