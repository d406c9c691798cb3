"""The repair planner: each failing or warning check that has a fix becomes a plan of actions,
or a reason why it is skipped (not Windows, not admin, nothing to do, ...). Pure: it reads the
diagnosis's CheckResults (and a few facts about the user's persistent environment) and never
touches the OS."""
from __future__ import annotations

import ntpath
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

from prefectwin.diagnosis.checks.base import CheckResult
from prefectwin.models import Result
from prefectwin.change.model import Action, Planned
from prefectwin.settings.plan import API_URL, EnvironmentAssignment

NOT_WINDOWS = "not Windows"
NOT_ADMIN = "not admin: run PowerShell as administrator"
NOTHING_TO_DO = "nothing to do"
UTF8 = "utf-8"
REMOTE_SIGNED = "RemoteSigned"

RepairStatus = Literal["Changed", "Planned", "Skipped", "Failed"]


@dataclass(frozen=True)
class RepairContext:
    """What the planner needs beyond the check results."""

    is_windows: bool
    is_admin: bool
    role: str = "Server"
    user_path: Optional[str] = None  # as stored, %VARIABLES% unexpanded
    user_path_expanded: Optional[str] = None
    user_pythonioencoding: Optional[str] = None
    process_path: str = ""
    path_separator: str = ";"


@dataclass
class FixPlan:
    actions: list[Action] = field(default_factory=list)
    skip: Optional[str] = None
    # Variables to set in the caller's session too, so a re-run there sees the fix at once.
    environment: dict[str, Optional[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Fix:
    check: str
    title: str
    windows_only: bool
    needs_admin: bool
    plan: Callable[[CheckResult, RepairContext], FixPlan]


class RepairResult(Result):
    check: str
    fix: Optional[str] = None
    status: RepairStatus
    reason: Optional[str] = None
    check_status: str
    after: Optional[str] = None
    actions: list[Action] = []


# -- helpers ------------------------------------------------------------------------------------
def _norm(path: str) -> str:
    return ntpath.normcase(ntpath.normpath(path.strip().strip('"'))).rstrip("\\")


def path_contains(path_value: Optional[str], directory: str, separator: str = ";") -> bool:
    wanted = _norm(directory)
    return any(_norm(p) == wanted for p in (path_value or "").split(separator) if p.strip())


def path_with(path_value: Optional[str], directory: str, separator: str = ";") -> str:
    kept = [p for p in (path_value or "").split(separator) if p.strip()]
    return separator.join([*kept, directory])


# -- the fixes, one per check -------------------------------------------------------------------
def _user_path(check: CheckResult, ctx: RepairContext) -> FixPlan:
    scripts = check.data.get("scriptsDir")
    if check.data.get("resolved"):
        return FixPlan(skip=f"no automatic fix: 'prefect' resolves to another Python; {check.remediation}")
    if not scripts:
        return FixPlan(skip="no automatic fix: the interpreter's Scripts directory is not known")
    session = {} if path_contains(ctx.process_path, scripts, ctx.path_separator) else {
        "PATH": path_with(ctx.process_path, scripts, ctx.path_separator)
    }
    if path_contains(ctx.user_path_expanded, scripts) or path_contains(ctx.user_path, scripts):
        return FixPlan(skip=f"{NOTHING_TO_DO}: {scripts} is already in the user PATH (new sessions see it)", environment=session)
    action = Action(
        kind="path.add",
        description=f"Add {scripts} to the user PATH",
        scope="User",
        target="PATH",
        data={"directory": scripts, "raw": path_with(ctx.user_path, scripts), "previous": ctx.user_path},
    )
    return FixPlan(actions=[action], environment=session)


def _user_encoding(check: CheckResult, ctx: RepairContext) -> FixPlan:
    session = {"PYTHONIOENCODING": UTF8}
    if (ctx.user_pythonioencoding or "").lower().replace("_", "-") in ("utf-8", "utf8"):
        return FixPlan(skip=f"{NOTHING_TO_DO}: PYTHONIOENCODING is already utf-8 for the user (new sessions see it)", environment=session)
    action = Action(
        kind="environment.set",
        description="Set the User environment variable PYTHONIOENCODING to 'utf-8'",
        scope="User",
        target="PYTHONIOENCODING",
        data={"name": "PYTHONIOENCODING", "value": UTF8, "previous": ctx.user_pythonioencoding},
    )
    return FixPlan(actions=[action], environment=session)


def _firewall(check: CheckResult, ctx: RepairContext) -> FixPlan:
    port = check.data.get("port")
    if port is None or "rules" in check.data:
        return FixPlan(skip=f"no automatic fix: {check.message}")
    from prefectwin.services import firewall

    name = f"Prefect server {port}"
    # No wider than Install-PrefectService's own rule: the local subnet, off public networks.
    remote, profiles = firewall.DEFAULT_REMOTE_ADDRESSES, firewall.DEFAULT_PROFILES
    return FixPlan(
        actions=[
            Action(
                kind="firewall.add",
                description=f"Create the inbound firewall rule '{name}' allowing TCP {port} {firewall.describe_scope(remote, profiles)}",
                scope="Machine",
                target=name,
                data={"name": name, "port": int(port), "remoteAddresses": list(remote), "profiles": list(profiles)},
            )
        ]
    )


def _execution_policy(check: CheckResult, ctx: RepairContext) -> FixPlan:
    scope = check.data.get("scope")
    if scope in ("MachinePolicy", "UserPolicy"):
        return FixPlan(skip="no automatic fix: the execution policy is set by Group Policy")
    if scope == "Process":
        return FixPlan(skip="no automatic fix: this session overrides the policy (PSExecutionPolicyPreference); start a new session")
    previous = (check.data.get("scopes") or {}).get("CurrentUser")
    return FixPlan(
        actions=[
            Action(
                kind="execution-policy.set",
                description=f"Set the CurrentUser execution policy to {REMOTE_SIGNED}",
                scope="User",
                target="ExecutionPolicy",
                data={"policy": REMOTE_SIGNED, "previous": previous},
            )
        ]
    )


def _defender(check: CheckResult, ctx: RepairContext) -> FixPlan:
    missing = check.data.get("missing")
    if not missing:
        return FixPlan(skip=f"no automatic fix: {check.message}")
    paths = list(dict.fromkeys(missing.values()))
    return FixPlan(
        actions=[
            Action(
                kind="defender.exclude",
                description=f"Exclude {', '.join(paths)} from Microsoft Defender scanning",
                scope="Machine",
                target="Defender",
                data={"paths": paths},
            )
        ]
    )


def _long_paths(check: CheckResult, ctx: RepairContext) -> FixPlan:
    return FixPlan(
        actions=[
            Action(
                kind="long-paths.enable",
                description=r"Enable Win32 long paths (HKLM\SYSTEM\CurrentControlSet\Control\FileSystem LongPathsEnabled = 1)",
                scope="Machine",
                target="LongPathsEnabled",
                data={"previous": False},
            )
        ]
    )


def _api_url(check: CheckResult, ctx: RepairContext) -> FixPlan:
    if ctx.role == "Worker":
        return FixPlan(skip="no automatic fix: a worker's PREFECT_API_URL must name its server; Set-PrefectSetting PREFECT_API_URL http://<server>:4200/api")
    source = check.data.get("source")
    if source not in (None, "profile", "defaults"):
        where = {".env file": "the .env file", "env": "an environment variable"}.get(source, source)
        return FixPlan(skip=f"no automatic fix: PREFECT_API_URL comes from {where}, which beats profiles; change it there (Set-PrefectSetting -Scope User/Machine/Process for variables)")
    url = check.data["suggestedUrl"]
    return FixPlan(
        actions=[
            Action(
                kind="profile.set",
                description=f"Set {API_URL} to '{url}' in the active profile",
                scope="Profile",
                target=API_URL,
                data={"name": API_URL, "value": url},
            )
        ]
    )


FIXES: dict[str, Fix] = {
    f.check: f
    for f in (
        Fix("prefect.cli-on-path", "Add the Python Scripts directory to the user PATH", True, False, _user_path),
        Fix("settings.api-url", "Sync PREFECT_API_URL with the server port", False, False, _api_url),
        Fix("encoding", "Set PYTHONIOENCODING=utf-8 for the user", True, False, _user_encoding),
        Fix("windows.execution-policy", "Set the CurrentUser execution policy to RemoteSigned", True, False, _execution_policy),
        Fix("windows.firewall", "Create the inbound firewall rule for the server port", True, True, _firewall),
        Fix("windows.defender", "Exclude PREFECT_HOME, the Python directory and TEMP from Defender", True, True, _defender),
        Fix("windows.long-paths", "Enable Win32 long paths", True, True, _long_paths),
    )
}
FIXABLE: tuple[str, ...] = tuple(FIXES)


def plan_repair(results: list[CheckResult], ctx: RepairContext) -> list[tuple[RepairResult, FixPlan]]:
    """One RepairResult per check considered, in the diagnosis's order, with its plan."""
    planned = []
    for result in results:
        fix = FIXES.get(result.check)
        base = dict(check=result.check, check_status=result.status, fix=fix.title if fix else None)
        if fix is None:
            if result.status in ("Fail", "Warning"):
                planned.append((RepairResult(status="Skipped", reason=f"no automatic fix: {result.remediation or result.message}", **base), FixPlan()))
            continue
        if fix.windows_only and not ctx.is_windows:
            plan = FixPlan(skip=NOT_WINDOWS)
        elif result.status in ("Pass", "Skipped"):
            plan = FixPlan(skip=f"{NOTHING_TO_DO}: {result.message}")
        elif fix.needs_admin and not ctx.is_admin:
            plan = FixPlan(skip=NOT_ADMIN)
        else:
            plan = fix.plan(result, ctx)
        status = "Skipped" if plan.skip else "Planned"
        planned.append((RepairResult(status=status, reason=plan.skip, actions=plan.actions, **base), plan))
    return planned


class RepairReport(Planned):
    changed: bool
    actions: list[Action]
    results: list[RepairResult]
    environment: list[EnvironmentAssignment] = []
